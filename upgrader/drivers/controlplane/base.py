"""The contract of a control-plane driver."""

import abc


class ControlPlaneDriver(metaclass=abc.ABCMeta):
    """Services on controller hosts, and the load balancer's backends."""

    def __init__(self, conf):
        self.conf = conf

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
