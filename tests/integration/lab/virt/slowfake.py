"""Nova's fake virt driver with live migrations that take time.

A live migration lasts the number of seconds written in the file named by
``NOVA_LAB_MIGRATION_SECONDS_FILE`` (read at each migration, so a test can
change it while the computes run; 2 s if absent). Until then it can be
aborted like a libvirt migration: Nova's abort API reaches
``live_migration_abort``, the instance stays on its source and the
migration ends ``cancelled``. Loaded as ``slowfake.SlowMigrationDriver``
through the lab launcher (nova.virt.__path__).
"""

import os
import threading

from oslo_log import log as logging

from nova.virt import fake

LOG = logging.getLogger(__name__)
DEFAULT_SECONDS = 2.0


def migration_seconds():
    path = os.environ.get('NOVA_LAB_MIGRATION_SECONDS_FILE')
    try:
        with open(path) as f:
            return float(f.read().strip())
    except (TypeError, OSError, ValueError):
        return DEFAULT_SECONDS


class SlowMigrationDriver(fake.FakeDriverWithoutFakeNodes):
    """A stable single node (restartable) whose migrations take seconds."""

    def __init__(self, virtapi, read_only=False):
        super().__init__(virtapi, read_only)
        self._aborts = {}

    def live_migration(self, context, instance, dest, post_method,
                       recover_method, block_migration=False,
                       migrate_data=None):
        seconds = migration_seconds()
        aborted = threading.Event()
        self._aborts[instance.uuid] = aborted
        LOG.info('Live migration of %s to %s: %ss', instance.uuid, dest,
                 seconds)
        try:
            aborted.wait(seconds)
        finally:
            self._aborts.pop(instance.uuid, None)
        if aborted.is_set():
            LOG.info('Live migration of %s aborted', instance.uuid)
            recover_method(context, instance, dest, migrate_data,
                           migration_status='cancelled')
            return
        post_method(context, instance, dest, block_migration, migrate_data)

    def live_migration_abort(self, instance):
        aborted = self._aborts.get(instance.uuid)
        if aborted is not None:
            aborted.set()
