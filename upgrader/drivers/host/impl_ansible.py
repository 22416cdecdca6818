"""The ``ansible`` host-access driver: the operator's playbooks, one per step.

Each action runs one playbook through ansible-runner against the operator's
Ansible inventory (``[host_access] ansible_inventory``: the one their
deployment tool, OpenStack-Ansible or kolla-ansible, already keeps), limited
to the one host, which the inventory names as Nova does. Extra vars:

``upgrader_host``
    the host (the run is also ``--limit``-ed to it);
``upgrader_packages``
    upgrade and downgrade playbooks: name -> exact version to install;
``upgrader_package_names``
    status playbook: the packages whose versions it reports.

Reading state is a playbook too (``ansible_status_playbook``): it must set
the facts ``upgrader_boot_id`` (an id that changes at every boot) and
``upgrader_packages`` (name -> installed version, packages not installed left
out), with ``ansible.builtin.set_fact``. A reboot playbook may wait for the
host to come back (``ansible.builtin.reboot`` does) or not: the driver then
runs the status playbook until the boot id changes. Samples:
etc/upgrader/playbooks/.

A failed, unreachable or timed-out run, or one that did not run on the host,
is a HostActionFailed quoting the last lines of ansible's output; a
successful one returns them, for the host's event log. Secrets are masked.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import ansible_runner
from oslo_log import log as logging

from upgrader.common import exception
from upgrader.drivers.host import base
from upgrader.drivers.host import output

LOG = logging.getLogger(__name__)

UPGRADE = 'upgrade'
DOWNGRADE = 'downgrade'
REBOOT = 'reboot'
STATUS = 'status'
# What each playbook run is called in errors.
ACTIONS = {UPGRADE: 'install packages', DOWNGRADE: 'install packages',
           REBOOT: 'reboot', STATUS: 'status'}
# Plain text output; no retry files or host key prompts of ansible's own.
ENV = {'ANSIBLE_NOCOLOR': '1', 'ANSIBLE_RETRY_FILES_ENABLED': '0',
       'ANSIBLE_HOST_KEY_CHECKING': 'True'}


# Events of a task's end on a host, and what the transcript calls them.
TASK_EVENTS = {'runner_on_ok': 'ok', 'runner_on_failed': 'failed',
               'runner_on_unreachable': 'unreachable'}


class _Run:
    """How one playbook run ended, as seen on one host."""

    def __init__(self, runner, host):
        self.status = runner.status
        self.rc = runner.rc
        stats = runner.stats or {}
        self.ran = host in stats.get('processed', {})
        self.unreachable = host in stats.get('dark', {})
        self.failed = host in stats.get('failures', {})
        self.facts = {}
        lines = []
        for event in runner.host_events(host):
            outcome = TASK_EVENTS.get(event.get('event'))
            if outcome is None:
                continue
            data = event['event_data']
            res = data.get('res') or {}
            if outcome == 'ok':
                self.facts.update(res.get('ansible_facts') or {})
            lines.append('%s: %s' % (data.get('task', '?'), outcome))
            lines.extend(res.get(k) for k in ('msg', 'stdout', 'stderr')
                         if isinstance(res.get(k), str))
        with runner.stdout as f:
            # What the tasks printed; ansible's own words if none ran.
            self.text = '\n'.join(lines) if lines else f.read()

    @property
    def ok(self):
        return (self.status == 'successful' and self.ran
                and not (self.unreachable or self.failed))

    def tail(self):
        return output.tail(self.text)


class AnsibleHostDriver(base.HostDriver):
    """Packages and reboots of one host through the operator's playbooks."""

    def __init__(self, conf):
        super().__init__(conf)
        self.options = conf.host_access
        if not self.options.ansible_inventory:
            raise exception.ConfigInvalid(
                reason='[host_access] ansible_inventory is not set; the '
                       'ansible driver needs the Ansible inventory')
        self.playbooks = {
            STATUS: self.options.ansible_status_playbook,
            UPGRADE: self.options.ansible_upgrade_playbook,
            DOWNGRADE: (self.options.ansible_downgrade_playbook
                        or self.options.ansible_upgrade_playbook),
            REBOOT: self.options.ansible_reboot_playbook}
        for step, path in self.playbooks.items():
            if not path or not os.path.isfile(path):
                raise exception.ConfigInvalid(
                    reason='[host_access] ansible_%s_playbook: %s is not a '
                           'file' % (step, path))
        self.work_dir = (self.options.ansible_work_dir
                         or os.path.join(conf.state_path, 'ansible'))
        self._runs = threading.BoundedSemaphore(self.options.max_sessions)

    # -- the contract ------------------------------------------------------

    def unknown_hosts(self, hosts):
        known = self._inventory_hosts()
        return [h for h in hosts if h not in known]

    def status(self, host, packages=()):
        run = self._run(host, STATUS,
                        {'upgrader_package_names': sorted(packages)},
                        self.options.command_timeout, unreachable_ok=True)
        if run.unreachable:
            LOG.debug('Host %(host)s is unreachable: %(why)s',
                      {'host': host, 'why': run.tail()})
            return base.HostStatus(reachable=False,
                                   activity='unreachable: %s' % run.tail())
        boot_id = run.facts.get('upgrader_boot_id')
        installed = run.facts.get('upgrader_packages')
        if not boot_id or not isinstance(installed, dict):
            raise self._failed(host, STATUS, 'the playbook %s set no '
                               'upgrader_boot_id or upgrader_packages fact'
                               % self.playbooks[STATUS])
        return base.HostStatus(
            reachable=True, boot_id=str(boot_id).strip(),
            packages={str(p): str(v) for p, v in installed.items()
                      if p in packages and v is not None})

    def install_packages(self, host, versions, downgrade=False):
        versions = dict(versions)
        if not versions:
            return None
        if self.status(host, versions).packages == versions:
            LOG.debug('Packages already installed on %(host)s: %(pkgs)s',
                      {'host': host, 'pkgs': output.pairs(versions)})
            return None
        step = DOWNGRADE if downgrade else UPGRADE
        LOG.info('Installing %(pkgs)s on %(host)s (%(playbook)s)',
                 {'host': host, 'pkgs': output.pairs(versions),
                  'playbook': self.playbooks[step]})
        run = self._run(host, step, {'upgrader_packages': versions},
                        self.options.ansible_timeout)
        installed = self.status(host, versions).packages
        wrong = output.mismatches(versions, installed)
        if wrong:
            raise self._failed(host, step, 'the playbook succeeded but '
                               + wrong)
        LOG.info('Installed %(pkgs)s on %(host)s',
                 {'host': host, 'pkgs': output.pairs(versions)})
        return run.tail()

    def reboot(self, host):
        LOG.info('Rebooting %s (%s)', host, self.playbooks[REBOOT])
        return self._run(host, REBOOT, {}, self.options.ansible_timeout,
                         unreachable_ok=True).tail() or None

    def wait_for_boot(self, host, old_boot_id, timeout):
        """Run the status playbook until the boot id changes."""
        deadline = time.monotonic() + timeout
        while True:
            status = self.status(host)
            if status.reachable and status.boot_id != old_boot_id:
                LOG.info('Host %(host)s is back with boot id %(boot)s',
                         {'host': host, 'boot': status.boot_id})
                return status.boot_id
            seen = status.activity or 'boot id still %s' % status.boot_id
            left = deadline - time.monotonic()
            if left <= 0:
                raise self._failed(host, 'wait for boot',
                                   'not back with a new boot id after %ss '
                                   '(last seen: %s)' % (timeout, seen))
            time.sleep(min(self.options.boot_poll_interval, left))

    # -- ansible-runner ----------------------------------------------------

    def _run(self, host, step, extravars, timeout, unreachable_ok=False):
        """Run step's playbook on host alone.

        :returns: a _Run that succeeded (or found the host unreachable, if
            unreachable_ok).
        :raises: HostActionFailed otherwise.
        """
        os.makedirs(self.work_dir, mode=0o700, exist_ok=True)
        # A directory per run: ansible-runner writes the extra vars there.
        data_dir = tempfile.mkdtemp(prefix='%s.%s.' % (host, step),
                                    dir=self.work_dir)
        try:
            with self._runs:
                runner = ansible_runner.run(
                    private_data_dir=data_dir,
                    playbook=os.path.abspath(self.playbooks[step]),
                    inventory=[os.path.abspath(i) for i in
                               self.options.ansible_inventory],
                    limit=host, extravars=dict(extravars, upgrader_host=host),
                    envvars=_env(), timeout=int(max(timeout, 1)), quiet=True)
            run = _Run(runner, host)
        finally:
            shutil.rmtree(data_dir, ignore_errors=True)
        LOG.debug('Host %(host)s: playbook %(playbook)s -> %(status)s\n'
                  '%(output)s', {'host': host, 'playbook':
                                 self.playbooks[step], 'status': run.status,
                                 'output': output.masked(run.text)})
        if run.ok or (unreachable_ok and run.unreachable):
            return run
        if run.status == 'timeout':
            why = 'still running after %ss' % timeout
        elif not run.ran:
            why = ('it did not run on the host (is %s in the Ansible '
                   'inventory %s?)' % (host, ', '.join(
                       self.options.ansible_inventory)))
        elif run.unreachable:
            why = 'the host is unreachable'
        else:
            why = 'exited %s' % run.rc
        tail = run.tail()
        raise self._failed(host, step, why + (': ' + tail if tail else ''))

    def _inventory_hosts(self):
        """Every host name of the Ansible inventory."""
        inventories = self.options.ansible_inventory
        command = ['ansible-inventory', '--list']
        for path in inventories:
            command += ['-i', os.path.abspath(path)]
        try:
            done = subprocess.run(command, capture_output=True, text=True,
                                  env=dict(os.environ, **_env()),
                                  timeout=self.options.command_timeout)
            listing = json.loads(done.stdout) if done.returncode == 0 else None
        except (OSError, subprocess.TimeoutExpired, ValueError) as e:
            done, listing = None, None
            problem = str(e)
        if not isinstance(listing, dict):
            if done is not None:
                problem = output.tail(done.stderr or done.stdout, lines=3)
            raise exception.ConfigInvalid(
                reason='Ansible inventory %s: %s'
                % (', '.join(inventories), problem))
        # Hosts without variables are only in their groups' lists.
        known = set((listing.get('_meta') or {}).get('hostvars') or {})
        for group in listing.values():
            if isinstance(group, dict):
                known.update(group.get('hosts') or ())
        return known

    def _failed(self, host, step, reason):
        action = ACTIONS.get(step, step)
        if step in self.playbooks:
            action += ' (playbook %s)' % os.path.basename(self.playbooks[step])
        return exception.HostActionFailed(host=host, action=action,
                                          reason=reason)


def _env():
    """ENV, and ansible's commands found first next to our interpreter (in
    a virtualenv's bin/, which a service's PATH may lack)."""
    path = os.pathsep.join([os.path.dirname(sys.executable),
                            os.environ.get('PATH', os.defpath)])
    return dict(ENV, PATH=path)

