"""Steps on a host's compute service: disable, evacuate, check, enable.

Each step first looks at the real state (is the service already disabled? is
the instance already on its destination?) so that a resumed conductor can run
it again from the start.
"""

from oslo_log import log as logging

from upgrader.common import exception
from upgrader.common import keys
from upgrader.tasks import base
from upgrader.tasks import host as host_tasks

LOG = logging.getLogger(__name__)

NUMBER = (int, float)


class DisableService(base.HostTask):
    """Disable nova-compute so the scheduler sends nothing new here.

    Revert enables it again, but only if it is still disabled by this rollout.
    """

    step = 'disable_service'

    def execute(self, rollout_id, host):
        compute = self.runtime.compute
        reason = keys.disabled_reason(rollout_id)
        current = compute.get_host(host)
        if current.enabled:
            self.act('disable')
            compute.disable_service(host, reason)
            self.event(rollout_id, 'nova-compute disabled: %s' % reason)
        elif current.disabled_reason != reason:
            raise exception.Conflict(
                reason='nova-compute on %s was disabled by someone else (%s)'
                % (host, current.disabled_reason))

    @base.never_raises
    def revert(self, rollout_id, host, **kwargs):
        compute = self.runtime.compute
        current = compute.get_host(host)
        if not current.enabled and (current.disabled_reason
                                    == keys.disabled_reason(rollout_id)):
            self.act('enable')
            compute.enable_service(host)
            self.event(rollout_id, 'nova-compute re-enabled (revert)')


class EvacuateHost(base.HostTask):
    """Live-migrate every instance to its planned destination.

    A move is done when the instance is ACTIVE on the destination and its
    migration record says completed. Revert moves nothing back: the
    instances are safe where they are.
    """

    step = 'evacuate'
    parameters = {'migration_timeout': NUMBER}

    def execute(self, rollout_id, host, moves):
        for move in moves:
            self._move(rollout_id, host, move)
        left = self.runtime.compute.list_instances(host=host)
        if left:
            raise exception.Conflict(
                reason='%d instance(s) not in the plan are still on %s: %s '
                       '(plan the rollout again)' % (
                           len(left), host,
                           ', '.join(i.uuid for i in left[:5])))

    def _move(self, rollout_id, host, move):
        rt = self.runtime
        uuid, dest = move['instance'], move['destination']
        record = lambda state, error=None: rt.recorder.move(  # noqa: E731
            rollout_id, uuid, move.get('name'), host, dest, state, error)
        instance = rt.compute.get_instance(uuid)
        if instance is None:
            self.event(rollout_id, 'instance %s is gone; nothing to move'
                       % uuid)
            return
        if instance.host == dest and instance.status == 'ACTIVE':
            if self._completed(uuid, host, dest):
                record('completed')
                return
        elif instance.host != host:
            self.event(rollout_id, 'instance %s is on %s, not here; left '
                       'alone' % (uuid, instance.host), level='WARNING')
            return
        elif instance.status != 'MIGRATING':
            # Not started yet (or started by a crashed run that never got
            # through to Nova): ask for it now.
            self.act('live migration of %s' % uuid)
            rt.compute.live_migrate(uuid, dest)
            record('running')
        self._wait(rollout_id, uuid, host, dest, record)

    def _completed(self, uuid, source, dest):
        migration = self._latest(uuid, source, dest)
        return migration is not None and migration.finished

    def _latest(self, uuid, source, dest):
        found = [m for m in self.runtime.compute.list_migrations(uuid)
                 if m.source_host == source and m.dest_host == dest]
        return found[-1] if found else None

    def _wait(self, rollout_id, uuid, source, dest, record):
        rt = self.runtime
        state = {}

        def landed():
            migration = self._latest(uuid, source, dest)
            state['migration'] = migration
            if migration is not None and migration.failed:
                raise exception.MigrationFailed(instance=uuid, destination=dest,
                                      reason='Nova says %s'
                                      % migration.status)
            instance = rt.compute.get_instance(uuid)
            return (migration is not None and migration.finished
                    and instance is not None and instance.host == dest
                    and instance.status == 'ACTIVE')

        timeout = self.arg('migration_timeout', 900)
        try:
            rt.wait_for('live migration of %s' % uuid, landed, timeout)
        except TimeoutError:
            migration = state.get('migration')
            if migration is not None:
                self.act('abort of the migration of %s' % uuid)
                rt.compute.abort_migration(uuid, migration)
            record('aborted', 'not finished after %ss' % timeout)
            raise exception.MigrationFailed(instance=uuid, destination=dest,
                                  reason='not finished after %ss, aborted'
                                  % timeout)
        except exception.MigrationFailed as e:
            record('failed', str(e))
            raise
        record('completed')

    @base.never_raises
    def revert(self, rollout_id, host, **kwargs):
        self.event(rollout_id, 'instances stay where they are (revert moves '
                   'nothing back)')


class HealthCheck(base.HostTask):
    """The host answers, nova-compute is up, packages are at the release."""

    step = 'health_check'
    parameters = {'timeout': NUMBER}

    def execute(self, rollout_id, host, versions):
        rt = self.runtime
        problems = []

        def healthy():
            problems[:] = _problems(rt, host, versions)
            return not problems

        try:
            rt.wait_for('health of %s' % host, healthy,
                        self.arg('timeout', 300))
        except TimeoutError:
            raise exception.HostNotReady(host=host, reason='; '.join(problems))
        self.event(rollout_id, 'healthy')


def _problems(rt, host, versions):
    status = rt.hosts.status(host, packages=sorted(versions))
    if not status.reachable:
        return ['host unreachable']
    problems = []
    if rt.compute.get_host(host).state != 'up':
        problems.append('nova-compute is down')
    wanted = host_tasks.host_versions(versions, status.packages)
    wrong = {p: status.packages.get(p) for p, v in wanted.items()
             if status.packages.get(p) != v}
    if wrong:
        problems.append('packages not at the release: %s' % ', '.join(
            '%s=%s (want %s)' % (p, have, versions[p])
            for p, have in sorted(wrong.items())))
    return problems


class EnableService(base.HostTask):
    """Enable nova-compute: the host takes instances again."""

    step = 'enable_service'

    def execute(self, rollout_id, host):
        compute = self.runtime.compute
        if not compute.get_host(host).enabled:
            self.act('enable')
            compute.enable_service(host)
            self.event(rollout_id, 'nova-compute enabled')
