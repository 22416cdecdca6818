"""Durations learned from rollouts already run on this cloud.

A plan predicts each wave from step durations and a live-migration rate
(fixed seconds plus seconds per GiB of guest RAM). The defaults are guesses;
once rollouts have run here, what they recorded is better: the median time
of each step, and the migration rate fitted to every completed migration.

Pure functions over plain records, one per past rollout::

    {'events': [{'host', 'step', 'message', 'created_at'}, ...],
     'moves': [{'instance_uuid', 'state', 'started_at', 'finished_at'}, ...],
     'plan': the rollout's stored plan (for each instance's RAM)}
"""

import statistics

from upgrader.common import events

# Steps whose duration is the migrations' (predicted from the rate).
MIGRATING_STEPS = frozenset(['evacuate'])
# Fewer samples than this teach nothing.
MIN_SAMPLES = 3


def learn(past, migration_seconds_per_gib):
    """What the past rollouts teach, as Policy overrides.

    :param migration_seconds_per_gib: the rate to keep when the migrations
        seen cannot tell it (every guest the same size).
    :returns: a dict with ``step_seconds`` (step -> median seconds, for the
        steps seen often enough) and ``migration_base_seconds`` /
        ``migration_seconds_per_gib`` when enough migrations completed;
        empty when there is nothing to learn from.
    """
    learned = {}
    steps = _step_durations(past)
    step_seconds = {step: round(statistics.median(seconds), 3)
                    for step, seconds in sorted(steps.items())
                    if len(seconds) >= MIN_SAMPLES
                    and step not in MIGRATING_STEPS}
    if step_seconds:
        learned['step_seconds'] = step_seconds
    samples = _migrations(past)
    if len(samples) >= MIN_SAMPLES:
        base, per_gib = _fit(samples, migration_seconds_per_gib)
        learned['migration_base_seconds'] = round(base, 3)
        learned['migration_seconds_per_gib'] = round(per_gib, 3)
    return learned


def _step_durations(past):
    """step -> seconds of every step that started and finished."""
    durations = {}
    for record in past:
        started = {}
        for event in record['events']:
            key = (event['host'], event['step'])
            if event['message'] == events.STEP_STARTED:
                started[key] = event['created_at']
            elif event['message'] == events.STEP_DONE and key in started:
                seconds = (event['created_at']
                           - started.pop(key)).total_seconds()
                durations.setdefault(event['step'], []).append(seconds)
    return durations


def _migrations(past):
    """(GiB of RAM, seconds) of every completed migration."""
    samples = []
    for record in past:
        ram = {move['instance']: move['resources']['memory_mb'] / 1024
               for wave in (record['plan'] or {}).get('waves', [])
               for move in wave['moves']}
        for move in record['moves']:
            if (move['state'] == 'completed' and move['started_at']
                    and move['finished_at']
                    and move['instance_uuid'] in ram):
                samples.append((ram[move['instance_uuid']],
                                (move['finished_at']
                                 - move['started_at']).total_seconds()))
    return samples


def _fit(samples, per_gib):
    """Least squares base + per_gib * GiB; with one guest size (or a
    negative slope), only the base, at the given rate."""
    sizes = [gib for gib, _ in samples]
    if len(set(sizes)) > 1:
        mean_gib = statistics.fmean(sizes)
        mean_s = statistics.fmean(s for _, s in samples)
        slope = (sum((g - mean_gib) * (s - mean_s) for g, s in samples)
                 / sum((g - mean_gib) ** 2 for g in sizes))
        if slope >= 0:
            return max(mean_s - slope * mean_gib, 0.0), slope
    return max(statistics.median(s - per_gib * g for g, s in samples),
               0.0), per_gib
