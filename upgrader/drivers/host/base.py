"""The contract every host-access driver fulfils.

Calls are idempotent where the operation is: installing versions that are
already installed does nothing. Long operations (package installs, reboots)
are started by one call and observed by others, so a task can re-check real
state after a crash instead of trusting what it started.
"""

import abc
import dataclasses


@dataclasses.dataclass
class HostStatus:
    """What a host says about itself."""

    reachable: bool
    boot_id: str | None = None
    # Package name -> installed version, for the packages asked about.
    packages: dict = dataclasses.field(default_factory=dict)
    # Free text from the driver: 'installing', 'rebooting', 'failed: ...'.
    activity: str | None = None


class HostDriver(abc.ABC):

    def __init__(self, conf):
        self.conf = conf

    @abc.abstractmethod
    def status(self, host, packages=()):
        """The host's reachability, boot id and installed versions.

        An unreachable host is not an error: ``reachable`` is False.
        """

    def unknown_hosts(self, hosts):
        """The hosts, in the order given, this driver has no way to reach
        (not in its inventory). Asked at plan time.

        :raises: ConfigInvalid if the driver's inventory is unreadable.
        """
        return []

    @abc.abstractmethod
    def install_packages(self, host, versions, downgrade=False):
        """Install exactly these versions (name -> version); wait for it.

        ``downgrade`` says the versions are the ones recorded before an
        upgrade, being put back (a revert).

        :returns: the last lines of what the tool printed, secrets masked,
            for the host's event log (None if nothing ran).
        :raises: HostActionFailed with the tool's last lines on failure.
        """

    @abc.abstractmethod
    def reboot(self, host):
        """Ask the host to reboot; returns once asked (see wait_for_boot).

        :returns: as install_packages.
        """

    @abc.abstractmethod
    def wait_for_boot(self, host, old_boot_id, timeout):
        """Wait until the host answers with a boot id other than old_boot_id.

        :returns: the new boot id.
        :raises: HostActionFailed on timeout.
        """
