"""Steps on a host's compute service: disable, evacuate, check, enable.

What evacuate does to each instance is in :mod:`upgrader.tasks.instances`.

Each step first looks at the real state (is the service already disabled? is
the instance already on its destination?) so that a resumed conductor can run
it again from the start.
"""

import collections

from oslo_log import log as logging

from upgrader.common import exception
from upgrader.common import keys
from upgrader.plan import models as plan_models
from upgrader.tasks import base
from upgrader.tasks import host as host_tasks
from upgrader.tasks import instances

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
    """Leave no running instance on the host, each as the plan says.

    Owners of notify-and-wait instances are told first (so they have the
    longest time), then instances migrate to their planned destinations
    (a move is done when the instance is at rest on the destination and
    its migration completed; a cold migration is confirmed), then
    stop-start instances are stopped (as late as possible: they stay here,
    SHUTOFF, while the host reboots), then the step waits for the owners,
    at most ``owner_timeout`` seconds (counted again from a resume).

    Revert moves nothing back (the instances are safe where they are); it
    confirms a cold migration left unconfirmed and starts the instances it
    stopped (later steps reverted first: the host is back).
    """

    step = 'evacuate'
    parameters = {'migration_timeout': NUMBER, 'owner_timeout': NUMBER,
                  'power_timeout': NUMBER}

    def execute(self, rollout_id, host, moves):
        do = instances.Actions(self, rollout_id, host)
        by_action = collections.defaultdict(list)
        for move in moves:
            by_action[instances.action_of(move)].append(move)
        owner_timeout = self.arg('owner_timeout', 3600)
        for move in by_action[plan_models.NOTIFY_AND_WAIT]:
            do.notify(move, owner_timeout)
        for action in plan_models.MOVE_ACTIONS:
            for move in by_action[action]:
                do.migrate(move, self.arg('migration_timeout', 900))
        for move in by_action[plan_models.STOP_START]:
            do.stop(move, self.arg('power_timeout', 300))
        for move in by_action[plan_models.NOTIFY_AND_WAIT]:
            do.wait_for_owner(move, owner_timeout)
        self._check_left(host, moves)

    def _check_left(self, host, moves):
        """Only planned stays may be left, and only SHUTOFF."""
        stays = {m['instance'] for m in moves if instances.is_stay(m)}
        left = self.runtime.compute.list_instances(host=host)
        unplanned = [i.uuid for i in left if i.uuid not in stays]
        if unplanned:
            raise exception.Conflict(
                reason='%d instance(s) not in the plan are still on %s: %s '
                       '(plan the rollout again)' % (
                           len(unplanned), host, ', '.join(unplanned[:5])))
        running = [i.uuid for i in left if i.status != 'SHUTOFF']
        if running:
            raise exception.Conflict(
                reason='instance(s) still running on %s: %s'
                       % (host, ', '.join(running[:5])))

    @base.never_raises
    def revert(self, rollout_id, host, moves, **kwargs):
        do = instances.Actions(self, rollout_id, host)
        for move in moves:
            if instances.action_of(move) == plan_models.COLD_MIGRATE:
                do.confirm_landed(move)
        do.start_stopped(self.arg('power_timeout', 300))
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
    """Enable nova-compute: the host takes instances again; start the
    instances the evacuate step stopped here (stop-start).

    An instance that does not start is an ERROR event, not a failure of
    the host: a revert would reboot the host beside those already started.
    """

    step = 'enable_service'
    parameters = {'power_timeout': NUMBER}

    def execute(self, rollout_id, host):
        compute = self.runtime.compute
        if not compute.get_host(host).enabled:
            self.act('enable')
            compute.enable_service(host)
            self.event(rollout_id, 'nova-compute enabled')
        instances.Actions(self, rollout_id, host).start_stopped(
            self.arg('power_timeout', 300))
