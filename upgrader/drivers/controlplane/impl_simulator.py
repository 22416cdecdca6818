"""The ``simulator`` control-plane driver: the simulator's control-plane API
(catalog type ``control-plane``), reached through the same connection and
credentials as the ``openstack`` compute driver (``[cloud]``)."""

from keystoneauth1 import adapter as ks_adapter

from upgrader.common import exception
from upgrader.drivers.compute import impl_openstack
from upgrader.drivers.controlplane import base

SERVICE_TYPE = 'control-plane'


class SimulatorControlPlaneDriver(base.ControlPlaneDriver):

    def __init__(self, conf):
        super().__init__(conf)
        self._cloud = impl_openstack.OpenStackComputeDriver(conf)
        self._api = None

    @property
    def api(self):
        if self._api is None:
            conn = self._cloud.conn
            self._api = ks_adapter.Adapter(
                conn.session, service_type=SERVICE_TYPE, interface='public',
                region_name=conn.config.get_region_name())
        return self._api

    def _request(self, method, path, **kwargs):
        with impl_openstack._translated_errors(lambda: self._cloud.auth_url):
            resp = self.api.request(path, method, raise_exc=False, **kwargs)
        if resp.status_code < 300:
            return resp
        try:
            message = resp.json()['error']['message']
        except (ValueError, KeyError, TypeError):
            message = (resp.text or '').strip()[:200]
        if resp.status_code == 404:
            raise exception.NotFound(what=message)
        if resp.status_code == 409:
            raise exception.Conflict(reason='control plane: %s' % message)
        raise exception.CloudError(reason='control plane: %s %s answered '
                                   '%d: %s' % (method, path,
                                               resp.status_code, message))

    def host_services(self, host):
        return self._request('GET', '/hosts/%s' % host).json()['services']

    def service_hosts(self, service):
        services = self._request('GET', '/').json()['services']
        if service not in services:
            raise exception.NotFound(what='control-plane service %s'
                                          % service)
        return services[service]['instances']

    def _instance(self, host, service):
        return '/hosts/%s/services/%s' % (host, service)

    def set_in_lb(self, host, service, in_lb):
        self._request('PUT', self._instance(host, service) + '/lb',
                      json={'in_lb': bool(in_lb)})

    def stop(self, host, service):
        self._request('POST', self._instance(host, service) + '/stop')

    def start(self, host, service):
        self._request('POST', self._instance(host, service) + '/start')

    def install(self, host, service, version):
        self._request('PUT', self._instance(host, service) + '/version',
                      json={'version': version})

    def _pin(self, service):
        return '/rpc-pins/%s' % service

    def rpc_pin(self, service):
        return self._request('GET', self._pin(service)).json()['rpc_pin'][
            'version']

    def pin_rpc(self, service, version):
        self._request('PUT', self._pin(service), json={'version': version})

    def unpin_rpc(self, service):
        self._request('DELETE', self._pin(service))

    def database(self, service):
        described = self._request('GET', '/').json()
        if service not in described['services']:
            raise exception.NotFound(what='control-plane service %s'
                                          % service)
        name = described['services'][service]['database']
        return dict(described['databases'][name], name=name)

    def _database(self, db):
        return '/databases/%s' % db

    def migrate(self, db, phase, to):
        self._request('POST', self._database(db) + '/migrate',
                      json={'phase': phase, 'to': to})

    def migrate_data(self, db, to):
        self._request('POST', self._database(db) + '/migrate-data',
                      json={'to': to})

    def backup(self, db, label=None):
        return self._request('POST', self._database(db) + '/backups',
                             json={'label': label}).json()['backup']

    def backups(self, db):
        return self._request('GET', self._database(db) +
                             '/backups').json()['backups']

    def restore(self, db, backup_id):
        return self._request('POST', self._database(db) + '/backups/%s/'
                             'restore' % backup_id, json={}).json()
