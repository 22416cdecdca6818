"""Event messages that are read back: reports draw timelines from them and
plans learn step durations from them (written by upgrader.jobs.records)."""

STEP_STARTED = 'step started'
STEP_DONE = 'step done'
STEP_FAILED = 'step failed'
STEP_REVERTED = 'step reverted'
WAVE_STARTS = 'wave %d starts: %s'
# The paused_reason of a rollout waiting for its maintenance window: it goes
# on by itself (rollout watch keeps following it).
WINDOW_WAIT = 'outside the maintenance window'
