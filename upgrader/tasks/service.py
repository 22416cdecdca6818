"""Steps on the control-plane services of one controller host, in the order
``service-update`` runs them: out of the load balancer, stop, install,
start, health check, back into the load balancer.

Each step acts on the services of ``versions`` (the rollout's release, or
one service for a per-service rollout) that run on the host, reads their
real state before acting, and undoes only what it did. The versions before
the install are remembered through the recorder before anything is
installed, so a revert (or a resumed run) installs them again.
"""

from upgrader.common import exception
from upgrader.common import keys
from upgrader.tasks import base

NUMBER = (int, float)
# The version documents the host's services answered with before the change.
PREVIOUS_DOCUMENTS = 'previous_api_documents'


def named_services(task, versions):
    """{service: view} of the host's services named in ``versions``."""
    found = task.runtime.controlplane.host_services(task.host)
    return {s: v for s, v in sorted(found.items()) if s in versions}


class TakeOutOfLoadBalancer(base.HostTask):
    """Take the host's API backends out of the load balancer; revert puts
    back the ones it took out."""

    step = 'lb_out'

    def execute(self, rollout_id, host, versions):
        services = named_services(self, versions)
        rt = self.runtime
        if rt.recorder.recall(rollout_id, host, PREVIOUS_DOCUMENTS) is None:
            # The API contract before the change, for the compatibility
            # gate (only while the services still answer).
            rt.recorder.remember(rollout_id, host, PREVIOUS_DOCUMENTS, {
                s: v['document'] for s, v in services.items()
                if v['document'] is not None})
        taken = []
        for service, view in services.items():
            if view['kind'] == 'api' and view['in_lb']:
                self.act('taking %s out of the load balancer' % service)
                self.runtime.controlplane.set_in_lb(host, service, False)
                taken.append(service)
        if taken:
            self.event(rollout_id, 'out of the load balancer: %s'
                       % ', '.join(taken))
        return taken

    @base.never_raises
    def revert(self, rollout_id, host, result, **kwargs):
        if base.is_failure(result):
            return
        for service in result:
            self.act('putting %s back into the load balancer' % service)
            self.runtime.controlplane.set_in_lb(host, service, True)


class StopServices(base.HostTask):
    """Stop the services; revert starts the ones it stopped."""

    step = 'stop_service'

    def execute(self, rollout_id, host, versions):
        stopped = []
        for service, view in named_services(self, versions).items():
            if view['status'] == 'running':
                self.act('stopping %s' % service)
                self.runtime.controlplane.stop(host, service)
                stopped.append(service)
        return stopped

    @base.never_raises
    def revert(self, rollout_id, host, result, **kwargs):
        if base.is_failure(result):
            return
        for service in result:
            self.act('starting %s' % service)
            self.runtime.controlplane.start(host, service)


class InstallServices(base.HostTask):
    """Install the new code of the stopped services; revert installs the
    remembered versions again."""

    step = 'install_service'

    def execute(self, rollout_id, host, versions):
        rt = self.runtime
        services = named_services(self, versions)
        previous = rt.recorder.recall(rollout_id, host,
                                      keys.PREVIOUS_SERVICE_VERSIONS)
        if previous is None:
            previous = {s: v['version'] for s, v in services.items()}
            rt.recorder.remember(rollout_id, host,
                                 keys.PREVIOUS_SERVICE_VERSIONS, previous)
        for service, view in services.items():
            if view['version'] != versions[service]:
                self.act('installing %s' % service)
                rt.controlplane.install(host, service, versions[service])
                self.event(rollout_id, 'installed %s %s'
                           % (service, versions[service]))
        return previous

    @base.never_raises
    def revert(self, rollout_id, host, result, **kwargs):
        rt = self.runtime
        previous = (rt.recorder.recall(rollout_id, host,
                                       keys.PREVIOUS_SERVICE_VERSIONS)
                    if base.is_failure(result) else result) or {}
        services = named_services(self, previous)
        for service, version in sorted(previous.items()):
            if services.get(service, {}).get('version') not in (None,
                                                                version):
                self.act('reinstalling %s' % service)
                rt.controlplane.install(host, service, version)
                self.event(rollout_id, 'reinstalled %s %s'
                           % (service, version))


class StartServices(base.HostTask):
    """Start the services; revert stops them again (the old code is
    reinstalled next, on a stopped service)."""

    step = 'start_service'

    def execute(self, rollout_id, host, versions):
        for service, view in named_services(self, versions).items():
            if view['status'] != 'running':
                self.act('starting %s' % service)
                self.runtime.controlplane.start(host, service)

    @base.never_raises
    def revert(self, rollout_id, host, versions, result, **kwargs):
        for service, view in named_services(self, versions).items():
            if view['status'] == 'running':
                self.act('stopping %s' % service)
                self.runtime.controlplane.stop(host, service)


class CheckServices(base.HostTask):
    """Wait until each service answers on this host and reports the new
    version in its version document."""

    step = 'check_service'
    parameters = {'timeout': NUMBER}

    def execute(self, rollout_id, host, versions):
        rt = self.runtime

        def answering():
            services = named_services(self, versions)
            return all((v['document'] or {}).get('version') == versions[s]
                       for s, v in services.items())

        try:
            rt.wait_for('services of %s answering' % host, answering,
                        self.arg('timeout', 300))
        except TimeoutError as e:
            raise exception.HostNotReady(host=host, reason=str(e))
        self.event(rollout_id, 'answering: %s' % ', '.join(
            '%s %s' % (s, versions[s]) for s in named_services(self, versions)))


def _microversion(text):
    major, _, minor = str(text).partition('.')
    return int(major), int(minor or 0)


def broken_promises(old, new):
    """What clients of version document ``old`` can no longer use in
    ``new``: a major API version dropped, the minimum microversion raised,
    the maximum lowered. Documents: ``{'versions': [...], 'min': '2.1',
    'max': '2.96'}`` (min and max optional)."""
    problems = ['API version %s dropped' % v for v in old.get('versions', ())
                if v not in new.get('versions', ())]
    if old.get('min') and new.get('min') and (
            _microversion(new['min']) > _microversion(old['min'])):
        problems.append('minimum microversion raised from %s to %s'
                        % (old['min'], new['min']))
    if old.get('max') and (not new.get('max') or _microversion(
            new['max']) < _microversion(old['max'])):
        problems.append('maximum microversion lowered from %s to %s'
                        % (old['max'], new.get('max')))
    return problems


class CheckApiCompatibility(base.HostTask):
    """The API compatibility gate: each updated service still serves
    every API version and microversion its previous version did. It fails
    on the first host that breaks the contract: that host reverts (old
    code, back in the balancer) and, with no failure budget, the rollout
    stops before the next one."""

    step = 'check_api_compatibility'

    def execute(self, rollout_id, host, versions):
        before = self.runtime.recorder.recall(rollout_id, host,
                                              PREVIOUS_DOCUMENTS) or {}
        problems = []
        for service, view in named_services(self, versions).items():
            if service in before:
                problems += ['%s %s: %s' % (service, versions[service], p)
                             for p in broken_promises(
                                 before[service], view['document'] or {})]
        if problems:
            raise exception.Conflict(
                reason='API contract broken on %s: %s'
                       % (host, '; '.join(problems)))


class PutBackIntoLoadBalancer(base.HostTask):
    """Put the host's API backends (healthy now) back into the balancer."""

    step = 'lb_in'

    def execute(self, rollout_id, host, versions):
        for service, view in named_services(self, versions).items():
            if view['kind'] == 'api' and not view['in_lb']:
                self.act('putting %s back into the load balancer' % service)
                self.runtime.controlplane.set_in_lb(host, service, True)
