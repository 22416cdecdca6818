"""The ``simulator`` host-access driver: the simulator's host-agent API.

It reaches the ``host-agent`` service of the cloud's catalog through the same
connection and credentials as the ``openstack`` compute driver (``[cloud]``).
"""

import time

from keystoneauth1 import adapter as ks_adapter
from oslo_log import log as logging

from upgrader.common import exception
from upgrader.drivers.compute import impl_openstack
from upgrader.drivers.host import base
from upgrader.drivers.host import output

LOG = logging.getLogger(__name__)

SERVICE_TYPE = 'host-agent'
# Against the simulator (time scale 200-1000) a job lasts well under a second.
DEFAULT_POLL_INTERVAL = 0.05
# An install job the agent never finishes must not block a task for ever.
DEFAULT_INSTALL_TIMEOUT = 1800.0

INSTALL = 'install packages'
REBOOT = 'reboot'
WAIT_FOR_BOOT = 'wait for boot'


class SimulatorHostDriver(base.HostDriver):
    """Packages, reboots and boot ids through the simulator's host agent."""

    def __init__(self, conf, poll_interval=None, install_timeout=None,
                 sleep=time.sleep):
        super().__init__(conf)
        options = getattr(conf, 'host_access', None)
        self.poll_interval = (
            poll_interval if poll_interval is not None
            else getattr(options, 'poll_interval', DEFAULT_POLL_INTERVAL))
        self.install_timeout = (
            install_timeout if install_timeout is not None
            else getattr(options, 'install_timeout', DEFAULT_INSTALL_TIMEOUT))
        self.sleep = sleep
        # The compute driver owns the connection code: same cloud, same auth.
        self._cloud = impl_openstack.OpenStackComputeDriver(conf)
        self._agent = None

    @property
    def agent(self):
        if self._agent is None:
            conn = self._cloud.conn
            self._agent = ks_adapter.Adapter(
                conn.session, service_type=SERVICE_TYPE, interface='public',
                region_name=conn.config.get_region_name())
        return self._agent

    # -- HTTP --------------------------------------------------------------

    def _request(self, method, path, host=None, **kwargs):
        """One call to the agent; 2xx answers (and 409 to a POST: the host
        is busy or unreachable) are returned, others raised."""
        with impl_openstack._translated_errors(lambda: self._cloud.auth_url):
            resp = self.agent.request(path, method, raise_exc=False, **kwargs)
        if resp.status_code < 300 or (resp.status_code == 409
                                      and method == 'POST'):
            return resp
        if resp.status_code == 404 and host is not None:
            raise exception.HostNotFound(host=host)
        raise exception.CloudError(reason='host agent: %s %s answered %d: %s'
                                   % (method, path, resp.status_code,
                                      _message(resp)))

    def _host(self, host):
        return self._request('GET', '/hosts/%s' % host, host=host).json()[
            'host']

    def _job(self, job_id):
        return self._request('GET', '/jobs/%s' % job_id).json()['job']

    # -- the contract ------------------------------------------------------

    def status(self, host, packages=()):
        """Reachability, boot id and versions; all packages if none named."""
        view = self._host(host)
        if not view['reachable']:
            return base.HostStatus(reachable=False, activity=view['state'])
        installed = view['packages'] or {}
        if packages:
            installed = {p: installed[p] for p in packages if p in installed}
        return base.HostStatus(
            reachable=True, boot_id=view['boot_id'], packages=dict(installed),
            activity=view['state'] if view['state'] != 'up' else None)

    def install_packages(self, host, versions, downgrade=False):
        versions = dict(versions)
        if not versions:
            return
        view = self._host(host)
        if _has(view, versions):
            LOG.debug('Packages already installed on %(host)s: %(pkgs)s',
                      {'host': host, 'pkgs': output.pairs(versions)})
            return
        job = self._same_install(view, versions)
        if job is None:
            job = self._start_install(host, versions)
        else:
            LOG.info('Host %(host)s is already installing %(pkgs)s (job '
                     '%(job)s): waiting for it',
                     {'host': host, 'pkgs': output.pairs(versions),
                      'job': job['id']})
        job = self._wait_for_job(host, INSTALL, job, self.install_timeout)
        if job['status'] != 'succeeded':
            raise exception.HostActionFailed(
                host=host, action=INSTALL,
                reason=job.get('error') or 'job %s %s' % (job['id'],
                                                          job['status']))
        LOG.info('Installed %(pkgs)s on %(host)s',
                 {'host': host, 'pkgs': output.pairs(versions)})

    def _start_install(self, host, versions):
        LOG.info('Installing %(pkgs)s on %(host)s',
                 {'host': host, 'pkgs': output.pairs(versions)})
        resp = self._request('POST', '/hosts/%s/packages' % host, host=host,
                             json={'packages': versions})
        if resp.status_code != 409:
            return resp.json()['job']
        # Busy or unreachable. A crashed run may have started this very
        # install: then it is ours to wait for.
        job = self._same_install(self._host(host), versions)
        if job is None:
            raise exception.HostActionFailed(host=host, action=INSTALL,
                                             reason=_message(resp))
        return job

    def _same_install(self, view, versions):
        """The host's running install job if it installs exactly these."""
        if not view['reachable'] or not view.get('job'):
            return None
        job = self._job(view['job'])
        if (job['kind'] == 'install' and job['status'] == 'running'
                and job.get('packages') == versions):
            return job
        return None

    def _wait_for_job(self, host, action, job, timeout):
        deadline = time.monotonic() + timeout
        while job['status'] == 'running':
            if time.monotonic() >= deadline:
                raise exception.HostActionFailed(
                    host=host, action=action,
                    reason='job %s still running after %ss'
                    % (job['id'], timeout))
            self.sleep(self.poll_interval)
            job = self._job(job['id'])
        return job

    def reboot(self, host):
        LOG.info('Rebooting %s', host)
        resp = self._request('POST', '/hosts/%s/reboot' % host, host=host)
        if resp.status_code != 409:
            return
        state = self._host(host)['state']
        if state == 'rebooting':
            LOG.info('Host %s was already rebooting', host)
            return
        raise exception.HostActionFailed(host=host, action=REBOOT,
                                         reason=_message(resp))

    def wait_for_boot(self, host, old_boot_id, timeout):
        deadline = time.monotonic() + timeout
        while True:
            view = self._host(host)
            if view['reachable'] and view['boot_id'] not in (None,
                                                              old_boot_id):
                LOG.info('Host %(host)s is back with boot id %(boot)s',
                         {'host': host, 'boot': view['boot_id']})
                return view['boot_id']
            left = deadline - time.monotonic()
            if left <= 0:
                raise exception.HostActionFailed(
                    host=host, action=WAIT_FOR_BOOT,
                    reason='not back with a new boot id after %ss (state %s)'
                    % (timeout, view['state']))
            self.sleep(min(self.poll_interval, left))


def _has(view, versions):
    installed = view['packages'] or {}
    return view['reachable'] and all(installed.get(p) == v
                                     for p, v in versions.items())


def _message(resp):
    try:
        return resp.json()['error']['message']
    except (ValueError, KeyError, TypeError):
        return (resp.text or '').strip()[:200] or 'HTTP %d' % resp.status_code

