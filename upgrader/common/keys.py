"""Names shared by flows: store keys, requires and provides (one place)."""

# Store of every host flow.
ROLLOUT_ID = 'rollout_id'
HOST = 'host'
# What happens to each instance of this host: [{'instance', 'name',
# 'destination', 'action'}]; stop-start and notify-and-wait instances
# stay (destination None).
MOVES = 'moves'
# The release's package versions: {package: version}.
VERSIONS = 'versions'

# Provided by tasks.
PREVIOUS_VERSIONS = 'previous_versions'
UPGRADE_BOOT_ID = 'upgrade_boot_id'

# Remembered by the control-plane steps (upgrader.tasks.service and
# schema), read back by a rollback: {service: version} before the install,
# and {database: backup id} taken by the rollout.
PREVIOUS_SERVICE_VERSIONS = 'previous_service_versions'
SERVICE_BACKUPS = 'service_backups'


def disabled_reason(rollout_id):
    """The reason given to Nova when a rollout disables a compute service.

    Revert re-enables only a service disabled with this exact reason, so a
    service an operator disabled for something else is never touched.
    """
    return 'upgrader rollout %s' % rollout_id
