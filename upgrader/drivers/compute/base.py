"""The contract every compute driver fulfils.

A driver answers in the value objects of :mod:`upgrader.common.inventory` and
raises the :class:`~upgrader.common.exception.CloudError` family, never a
client library's exceptions.
"""

import abc
import dataclasses


@dataclasses.dataclass
class Migration:
    """One migration of one instance, as the compute service records it."""

    uuid: str | None
    instance_uuid: str
    source_host: str | None
    dest_host: str | None
    # Nova's: queued, preparing, running, completed (live); pre-migrating,
    # migrating, post-migrating, finished (awaiting confirmResize),
    # confirmed (cold)...
    status: str
    migration_type: str | None = None
    id: int | None = None

    # Nova's statuses after which nothing more happens to a migration.
    DONE = frozenset(['completed', 'done', 'finished', 'confirmed'])
    FAILED = frozenset(['failed', 'error', 'cancelled', 'aborted',
                        'reverted'])

    @property
    def finished(self):
        return self.status in self.DONE

    @property
    def failed(self):
        return self.status in self.FAILED


class ComputeDriver(abc.ABC):
    """Reads the inventory and acts on compute services and instances."""

    def __init__(self, conf):
        self.conf = conf

    @abc.abstractmethod
    def check(self):
        """Authenticate and reach the compute API.

        :returns: a short description of the endpoint (for operators).
        :raises: CloudUnreachable, CloudAuthFailed, CloudError
        """

    @abc.abstractmethod
    def get_inventory(self):
        """Every compute host, instance and server group.

        :returns: :class:`upgrader.common.inventory.Inventory`
        """

    @abc.abstractmethod
    def get_host(self, host):
        """One compute host, fresh from the cloud.

        :returns: :class:`upgrader.common.inventory.Host`
        :raises: HostNotFound
        """

    @abc.abstractmethod
    def list_instances(self, host=None):
        """Instances of every project, optionally only those on ``host``."""

    @abc.abstractmethod
    def get_instance(self, uuid):
        """One instance, fresh from the cloud (None if it is gone)."""

    @abc.abstractmethod
    def disable_service(self, host, reason):
        """Disable the host's nova-compute service, giving ``reason``."""

    @abc.abstractmethod
    def enable_service(self, host):
        """Enable the host's nova-compute service."""

    @abc.abstractmethod
    def live_migrate(self, instance_uuid, target_host):
        """Ask for a live migration of an instance to ``target_host``."""

    @abc.abstractmethod
    def cold_migrate(self, instance_uuid, target_host):
        """Ask for a cold migration to ``target_host``; the instance ends
        in VERIFY_RESIZE there, until :meth:`confirm_resize`."""

    @abc.abstractmethod
    def confirm_resize(self, instance_uuid):
        """Confirm an instance's finished cold migration."""

    @abc.abstractmethod
    def stop_instance(self, instance_uuid):
        """Power an instance off (it stays on its host, SHUTOFF)."""

    @abc.abstractmethod
    def start_instance(self, instance_uuid):
        """Power a SHUTOFF instance on."""

    @abc.abstractmethod
    def list_migrations(self, instance_uuid):
        """Every migration of an instance, oldest first (:class:`Migration`)."""

    @abc.abstractmethod
    def abort_migration(self, instance_uuid, migration):
        """Abort an in-progress live migration; no error if already over."""
