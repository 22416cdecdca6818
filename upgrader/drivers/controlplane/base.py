"""The contract of a control-plane driver."""

import abc

from upgrader.common import versions


class ControlPlaneDriver(metaclass=abc.ABCMeta):
    """Services on controller hosts, and the load balancer's backends."""

    def __init__(self, conf):
        self.conf = conf

    def generation(self, version):
        """The schema generation code of ``version`` needs (by default its
        major number; a driver for a cloud that numbers otherwise says)."""
        return versions.schema_generation(version)

    @abc.abstractmethod
    def host_services(self, host):
        """{service: {'version', 'status' (running|stopped), 'in_lb',
        'healthy', 'kind' (api|worker), 'document'}} of one controller,
        asked of the host itself. ``document`` is the version document the
        service answers with (None when it does not answer).

        :raises NotFound: no such controller.
        """

    @abc.abstractmethod
    def service_hosts(self, service):
        """{host: {'version', 'status', 'in_lb', 'healthy'}} of every
        controller running ``service``.

        :raises NotFound: no controller runs it.
        """

    @abc.abstractmethod
    def set_in_lb(self, host, service, in_lb):
        """Add the host's backend of an API service to the load balancer,
        or take it out (idempotent)."""

    @abc.abstractmethod
    def stop(self, host, service):
        """Stop the service on the host (idempotent)."""

    @abc.abstractmethod
    def start(self, host, service):
        """Start the service on the host (idempotent)."""

    @abc.abstractmethod
    def install(self, host, service, version):
        """Install this code version of a stopped service."""

    # -- RPC version pins ----------------------------------------------------

    @abc.abstractmethod
    def rpc_pin(self, service):
        """The RPC version the control plane pins ``service`` to (Nova's
        ``[upgrade_levels] compute`` for ``nova-compute``), or None.

        :raises NotFound: ``service``'s RPC cannot be pinned.
        """

    @abc.abstractmethod
    def pin_rpc(self, service, version):
        """Pin the RPC the control plane sends to ``service`` to what
        ``version`` reads, e.g. while computes older than the control
        plane remain (idempotent)."""

    @abc.abstractmethod
    def unpin_rpc(self, service):
        """Send ``service`` the RPC version of the running code again, once
        every host runs the new one (idempotent)."""

    # -- the databases of the services ---------------------------------------

    @abc.abstractmethod
    def database(self, service):
        """{'name', 'expanded', 'contracted', 'migrated', 'writes'} of the
        database ``service`` uses: the newest and oldest schema generations
        it serves, how far its online data migrations ran, and how many
        writes it holds.

        :raises NotFound: no such service.
        """

    @abc.abstractmethod
    def migrate(self, db, phase, to):
        """Run the ``expand`` or ``contract`` schema migrations of database
        ``db`` up to generation ``to`` (idempotent).

        :raises Conflict: contract past what is expanded, or past what the
            data migrations reached.
        """

    @abc.abstractmethod
    def migrate_data(self, db, to):
        """Run the online data migrations of ``db`` up to generation ``to``
        (idempotent)."""

    @abc.abstractmethod
    def backup(self, db, label=None):
        """Back ``db`` up. :returns: {'id', 'db', 'at', 'label', 'expanded',
        'contracted', 'migrated', 'writes'}: the generations and the count
        of writes it holds."""

    @abc.abstractmethod
    def backups(self, db):
        """The backups of ``db``, oldest first (as :meth:`backup`)."""

    @abc.abstractmethod
    def restore(self, db, backup_id):
        """Put ``db`` back as it was at the backup; what was written since
        is lost. :returns: {'backup': ..., 'writes_lost': n}."""
