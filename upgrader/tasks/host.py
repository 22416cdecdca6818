"""Steps on the host itself: packages and reboots, through host access.

Facts a revert or a resumed run needs (the versions before the upgrade, the
boot id before a reboot) are remembered through the recorder *before* acting.
"""

from oslo_log import log as logging

from upgrader.common import exception
from upgrader.common import keys
from upgrader.drivers.host import output
from upgrader.tasks import base

LOG = logging.getLogger(__name__)

NUMBER = (int, float)
PRE_REBOOT_BOOT_ID = 'pre_reboot_boot_id'


def _wait_until_back(task, host, old_boot_id, timeout):
    """Wait for a new boot id, then for nova-compute to report up."""
    rt = task.runtime
    new_boot_id = rt.hosts.wait_for_boot(host, old_boot_id, timeout)
    try:
        rt.wait_for('nova-compute on %s up' % host,
                    lambda: rt.compute.get_host(host).state == 'up', timeout)
    except TimeoutError as e:
        raise exception.HostNotReady(host=host, reason=str(e))
    return new_boot_id


class UpgradePackages(base.HostTask):
    """Install the release's package versions, remembering the old ones.

    Revert installs the remembered versions again and, if the host has
    rebooted into the new ones since, boots it into the old ones, while it is
    still drained and disabled.
    """

    step = 'upgrade_packages'
    parameters = {'reboot_timeout': NUMBER}

    def execute(self, rollout_id, host, versions):
        rt = self.runtime
        status = rt.hosts.status(host, packages=sorted(versions))
        previous = rt.recorder.recall(rollout_id, host,
                                      keys.PREVIOUS_VERSIONS)
        if previous is None:
            previous = {p: v for p, v in sorted(status.packages.items())
                        if v is not None and p in versions}
            rt.recorder.remember(rollout_id, host, keys.PREVIOUS_VERSIONS,
                                 previous)
        wanted = host_versions(versions, previous)
        if versions and not wanted:
            # Wrong host, wrong package names or a query that reads
            # nothing: upgrading nothing would pass for success.
            raise exception.HostActionFailed(
                host=host, action='package query',
                reason='none of the release\'s packages (%s) is installed '
                       'there' % ', '.join(sorted(versions)))
        if any(status.packages.get(p) != v for p, v in wanted.items()):
            self.act('package upgrade')
            out = rt.hosts.install_packages(host, wanted)
            self.event(rollout_id, 'packages upgraded: %s%s'
                       % (output.pairs(wanted), _output(out)))
        return {'versions': previous, 'boot_id': status.boot_id}

    @base.never_raises
    def revert(self, rollout_id, host, result, **kwargs):
        rt = self.runtime
        if base.is_failure(result):
            previous = rt.recorder.recall(rollout_id, host,
                                          keys.PREVIOUS_VERSIONS)
            boot_id = None
        else:
            previous, boot_id = result['versions'], result['boot_id']
        wanted = {p: v for p, v in (previous or {}).items() if v is not None}
        if not wanted:
            return
        status = rt.hosts.status(host, packages=sorted(wanted))
        if any(status.packages.get(p) != v for p, v in wanted.items()):
            self.act('package restore')
            out = rt.hosts.install_packages(host, wanted, downgrade=True)
            self.event(rollout_id, 'packages restored: %s%s'
                       % (output.pairs(wanted), _output(out)))
        if boot_id is not None and status.boot_id != boot_id:
            # The host already booted into the new versions: boot it into
            # the old ones. It is still drained, so this kills nothing.
            self.act('reboot')
            rt.hosts.reboot(host)
            _wait_until_back(self, host, status.boot_id,
                             self.arg('reboot_timeout', 900))
            self.event(rollout_id, 'rebooted into the restored packages')


class RebootHost(base.HostTask):
    """Reboot the drained host and wait until it and nova-compute are back."""

    step = 'reboot'
    parameters = {'timeout': NUMBER}

    def execute(self, rollout_id, host):
        rt = self.runtime
        running = [i for i in rt.compute.list_instances(host=host)
                   if i.status != 'SHUTOFF']
        if running:
            # Invariant 1: never reboot a host with a running instance on
            # it (a SHUTOFF one, stopped by stop-start, is not killed).
            raise exception.Conflict(
                reason='refusing to reboot %s: %d running instance(s) still '
                       'on it' % (host, len(running)))
        old = rt.recorder.recall(rollout_id, host, PRE_REBOOT_BOOT_ID)
        status = rt.hosts.status(host)
        if old is None:
            old = status.boot_id
            rt.recorder.remember(rollout_id, host, PRE_REBOOT_BOOT_ID, old)
        if status.reachable and status.boot_id == old:
            self.act('reboot')
            out = rt.hosts.reboot(host)
            self.event(rollout_id, 'rebooting' + _output(out))
        _wait_until_back(self, host, old, self.arg('timeout', 900))
        self.event(rollout_id, 'back up')


def host_versions(versions, installed):
    """The release's versions of the packages this host has.

    A release records every component of the cloud (keystone, nova-compute,
    qemu...); a host is upgraded only in the ones it runs.
    """
    return {p: v for p, v in versions.items() if installed.get(p) is not None}


def _output(text):
    """What the host printed, for an event (drivers masked it)."""
    return ' (output: %s)' % text if text else ''
