"""What the evacuate step does to one instance, one function per action.

The plan decided each instance's action (:mod:`upgrader.plan.actions`):
live-migrate or cold-migrate it to its planned destination, stop it here and
start it once the host is back (stop-start), or tell its owner and wait for
them to move it or shut it down (notify-and-wait). Every function first reads
the instance's real state, so a resumed step runs it again safely; facts a
later run needs (which instances this rollout stopped, whose owners it told)
are remembered before acting.
"""

from upgrader.common import exception
from upgrader.plan import models as plan_models

# Facts remembered on the host's run: instance uuids.
STOPPED = 'stopped_instances'
NOTIFIED = 'notified_instances'
# Statuses of an instance at rest (not migrating, not awaiting a confirm).
AT_REST = ('ACTIVE', 'SHUTOFF')
LIVE_TYPE = 'live-migration'
COLD_TYPE = 'migration'


def action_of(move):
    """A stored move's action (plans stored before actions: live)."""
    return move.get('action') or plan_models.LIVE_MIGRATE


class Actions:
    """The per-instance actions of one host task (``task``: a HostTask)."""

    def __init__(self, task, rollout_id, host):
        self.task = task
        self.rt = task.runtime
        self.rollout_id = rollout_id
        self.host = host

    def event(self, message, level='INFO'):
        self.task.event(self.rollout_id, message, level=level)

    def _facts(self, key):
        return list(self.rt.recorder.recall(self.rollout_id, self.host, key)
                    or [])

    def _remember(self, key, uuid):
        known = self._facts(key)
        if uuid not in known:
            self.rt.recorder.remember(self.rollout_id, self.host, key,
                                      known + [uuid])

    def _here(self, uuid):
        """The instance if it is still on this host, else None (said why)."""
        instance = self.rt.compute.get_instance(uuid)
        if instance is None:
            self.event('instance %s is gone; nothing to do' % uuid)
        elif instance.host != self.host:
            self.event('instance %s is on %s, not here; left alone'
                       % (uuid, instance.host))
            return None
        return instance

    # -- migrations ----------------------------------------------------------

    def migrate(self, move, timeout):
        """Live- or cold-migrate to the planned destination."""
        uuid, dest = move['instance'], move['destination']
        cold = action_of(move) == plan_models.COLD_MIGRATE
        kind = COLD_TYPE if cold else LIVE_TYPE
        record = lambda state, error=None: self.rt.recorder.move(  # noqa
            self.rollout_id, uuid, move.get('name'), self.host, dest, state,
            error)
        instance = self.rt.compute.get_instance(uuid)
        if instance is None:
            self.event('instance %s is gone; nothing to move' % uuid)
            return
        if instance.host == dest and instance.status in AT_REST:
            if self._finished(uuid, dest, kind, confirmed=True):
                record('completed')
                return
        elif instance.host == dest and instance.status == 'VERIFY_RESIZE':
            pass                # landed: confirmed below
        elif instance.host != self.host:
            self.event('instance %s is on %s, not here; left alone'
                       % (uuid, instance.host), level='WARNING')
            return
        elif instance.status not in ('MIGRATING', 'RESIZE'):
            # Not started yet (or started by a crashed run that never got
            # through to Nova): ask for it now.
            self.task.act('%s of %s' % (move_word(cold), uuid))
            if cold:
                self.rt.compute.cold_migrate(uuid, dest)
            else:
                self.rt.compute.live_migrate(uuid, dest)
            record('running')
        self._wait_landed(uuid, dest, kind, timeout, record)
        if cold:
            self._confirm(uuid, dest, timeout, record)
        record('completed')

    def _latest(self, uuid, dest, kind):
        found = [m for m in self.rt.compute.list_migrations(uuid)
                 if m.source_host == self.host and m.dest_host == dest
                 and (m.migration_type or LIVE_TYPE) == kind]
        return found[-1] if found else None

    def _finished(self, uuid, dest, kind, confirmed=False):
        migration = self._latest(uuid, dest, kind)
        if migration is None or not migration.finished:
            return False
        # A cold migration is 'finished' until confirmed.
        return not (confirmed and kind == COLD_TYPE
                    and migration.status == 'finished')

    def _wait_landed(self, uuid, dest, kind, timeout, record):
        state = {}
        landed_as = 'VERIFY_RESIZE' if kind == COLD_TYPE else 'ACTIVE'

        def landed():
            migration = self._latest(uuid, dest, kind)
            state['migration'] = migration
            if migration is not None and migration.failed:
                raise exception.MigrationFailed(
                    instance=uuid, destination=dest,
                    reason='Nova says %s' % migration.status)
            instance = self.rt.compute.get_instance(uuid)
            return (migration is not None and migration.finished
                    and instance is not None and instance.host == dest
                    and instance.status in (landed_as,) + AT_REST)

        try:
            self.rt.wait_for('migration of %s' % uuid, landed, timeout)
        except TimeoutError:
            migration = state.get('migration')
            if migration is not None and kind == LIVE_TYPE:
                self.task.act('abort of the migration of %s' % uuid)
                self.rt.compute.abort_migration(uuid, migration)
                record('aborted', 'not finished after %ss' % timeout)
                reason = 'not finished after %ss, aborted' % timeout
            else:
                # Nova cannot abort a cold migration: it goes on, visibly.
                record('failed', 'not finished after %ss' % timeout)
                reason = 'not finished after %ss' % timeout
            raise exception.MigrationFailed(instance=uuid, destination=dest,
                                            reason=reason)
        except exception.MigrationFailed as e:
            record('failed', str(e))
            raise

    def _confirm(self, uuid, dest, timeout, record):
        instance = self.rt.compute.get_instance(uuid)
        if instance is not None and instance.status == 'VERIFY_RESIZE':
            self.task.act('confirm of the migration of %s' % uuid)
            self.rt.compute.confirm_resize(uuid)
        try:
            self.rt.wait_for(
                'confirm of the migration of %s' % uuid,
                lambda: self._at_rest(uuid), timeout)
        except TimeoutError:
            record('failed', 'not confirmed after %ss' % timeout)
            raise exception.MigrationFailed(
                instance=uuid, destination=dest,
                reason='not confirmed after %ss' % timeout)

    def _at_rest(self, uuid):
        instance = self.rt.compute.get_instance(uuid)
        return instance is None or instance.status in AT_REST

    def confirm_landed(self, move):
        """Confirm a cold migration that landed but was never confirmed
        (revert: the instance is safe there; an unconfirmed one blocks it)."""
        uuid = move['instance']
        instance = self.rt.compute.get_instance(uuid)
        if (instance is not None and instance.host == move['destination']
                and instance.status == 'VERIFY_RESIZE'):
            self.task.act('confirm of the migration of %s' % uuid)
            self.rt.compute.confirm_resize(uuid)
            self.event('cold migration of %s to %s confirmed'
                       % (uuid, move['destination']))

    # -- stop-start ----------------------------------------------------------

    def stop(self, move, timeout):
        """Power the instance off; it stays on this host while it reboots."""
        uuid = move['instance']
        instance = self._here(uuid)
        if instance is None:
            return
        if instance.status == 'SHUTOFF':
            if uuid not in self._facts(STOPPED):
                self.event('instance %s (%s) was already SHUTOFF: it stays '
                           'off' % (uuid, move.get('name')))
            return
        self._remember(STOPPED, uuid)
        self.task.act('stop of %s' % uuid)
        self.rt.compute.stop_instance(uuid)
        self._wait_status(uuid, 'SHUTOFF', 'stop', timeout)
        self.event('instance %s (%s) stopped; it is started again once the '
                   'host is back' % (uuid, move.get('name')))

    def start_stopped(self, timeout):
        """Start every instance this rollout stopped on this host.

        :returns: the uuids that did not start, each said in an ERROR
            event: a caller must not fail the host for them (its revert
            would reboot the host beside the instances already started).
        """
        failed = []
        for uuid in self._facts(STOPPED):
            instance = self.rt.compute.get_instance(uuid)
            if instance is None or instance.status != 'SHUTOFF':
                continue
            try:
                self.task.act('start of %s' % uuid)
                self.rt.compute.start_instance(uuid)
                self._wait_status(uuid, 'ACTIVE', 'start', timeout)
            except (exception.UpgraderException, TimeoutError) as e:
                self.event('instance %s stopped for the upgrade did not '
                           'start: %s' % (uuid, e), level='ERROR')
                failed.append(uuid)
                continue
            self.event('instance %s started again' % uuid)
        return failed

    def _wait_status(self, uuid, status, what, timeout):
        def reached():
            instance = self.rt.compute.get_instance(uuid)
            return instance is None or instance.status == status
        try:
            self.rt.wait_for('%s of %s' % (what, uuid), reached, timeout)
        except TimeoutError:
            raise exception.HostActionFailed(
                host=self.host, action='%s of instance %s' % (what, uuid),
                reason='not %s after %ss' % (status, timeout))

    # -- notify-and-wait -----------------------------------------------------

    def notify(self, move, timeout):
        """Tell the owner (a WARNING event naming the instance), once."""
        uuid = move['instance']
        instance = self._here(uuid)
        if (instance is None or instance.status == 'SHUTOFF'
                or uuid in self._facts(NOTIFIED)):
            return
        self._remember(NOTIFIED, uuid)
        self.event('owner of instance %s (%s, project %s) must move it off '
                   '%s or shut it down: the host is upgraded after that, '
                   'waiting up to %ss' % (
                       uuid, move.get('name'), instance.project_id or '?',
                       self.host, timeout), level='WARNING')

    def wait_for_owner(self, move, timeout):
        """Until the instance left this host or is SHUTOFF, or fail."""
        uuid = move['instance']

        def done():
            instance = self.rt.compute.get_instance(uuid)
            return (instance is None or instance.host != self.host
                    or instance.status == 'SHUTOFF')
        try:
            self.rt.wait_for('owner of %s' % uuid, done, timeout)
        except TimeoutError:
            raise exception.HostActionFailed(
                host=self.host, action='notify-and-wait of instance %s'
                % uuid, reason='its owner neither moved it nor shut it down '
                               'within %ss' % timeout)
        self.event('instance %s (%s) is off this host or shut down by its '
                   'owner' % (uuid, move.get('name')))


def move_word(cold):
    return 'cold migration' if cold else 'live migration'


def is_stay(move):
    return action_of(move) in plan_models.STAY_ACTIONS
