"""Rollout and host states, and the legal transitions between them (declared once)."""

from upgrader.common import exception

# A rollout.
PLANNED = 'planned'            # plan stored, nothing touched yet
RUNNING = 'running'
PAUSED = 'paused'              # waits before its next wave for a resume
ABORTING = 'aborting'          # in-flight steps finish, nothing new starts
ABORTED = 'aborted'            # stopped by the operator; resumable
SUCCEEDED = 'succeeded'
FAILED = 'failed'              # the failure policy stopped it

ROLLOUT_TRANSITIONS = {
    PLANNED: {RUNNING, ABORTED},
    RUNNING: {SUCCEEDED, FAILED, ABORTING, RUNNING, PAUSED},
    PAUSED: {RUNNING, ABORTING, ABORTED, FAILED},
    ABORTING: {ABORTED, FAILED, SUCCEEDED},
    ABORTED: {RUNNING},
    FAILED: {RUNNING},
    SUCCEEDED: set(),
}
ROLLOUT_FINAL = frozenset([SUCCEEDED])
ROLLOUT_ACTIVE = frozenset([RUNNING, PAUSED, ABORTING])

# A host within a rollout.
HOST_PENDING = 'pending'
HOST_RUNNING = 'running'
HOST_SUSPENDED = 'suspended'   # the rollout was aborted while it ran
HOST_DONE = 'done'             # upgraded and enabled
HOST_ERROR = 'error'           # reverted (enabled, old packages) or stuck
HOST_SKIPPED = 'skipped'       # left alone by the operator (rollout skip-host)

HOST_TRANSITIONS = {
    HOST_PENDING: {HOST_RUNNING, HOST_SKIPPED},
    HOST_RUNNING: {HOST_RUNNING, HOST_DONE, HOST_ERROR, HOST_SUSPENDED},
    HOST_SUSPENDED: {HOST_RUNNING},
    HOST_ERROR: {HOST_RUNNING, HOST_PENDING, HOST_SKIPPED},
    HOST_DONE: set(),
    HOST_SKIPPED: set(),
}
HOST_FINAL = frozenset([HOST_DONE, HOST_ERROR, HOST_SKIPPED])


def check_rollout_transition(rollout, current, new):
    if new not in ROLLOUT_TRANSITIONS.get(current, ()):
        raise exception.Conflict(
            reason='rollout %s is %s; it cannot become %s'
            % (rollout, current, new))

# A schedule (upgrader-manage rollout start --at, rollout schedule).
SCHEDULED = 'scheduled'        # waits for its next run
SCHEDULE_DONE = 'done'         # its one run started
SCHEDULE_CANCELLED = 'cancelled'
