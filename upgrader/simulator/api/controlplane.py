"""The control-plane API (catalog type ``control-plane``): controller hosts,
their services and the load balancer, as a deployment tool would drive them.

The model and its rules are in :mod:`upgrader.simulator.controlplane`;
``GET /v1/lb/<service>`` is a request to the service through the load
balancer (its version document, or 503), counted as a probe.
``/v1/rpc-pins/nova-compute`` is Nova's compute RPC pin: GET it (a version
or null), PUT ``{"version": ...}``, DELETE to unpin.
"""

from upgrader.simulator.api import base
from upgrader.simulator import controlplane as model

V = '/v1'
INSTANCE = V + '/hosts/(?P<host>[^/]+)/services/(?P<service>[^/]+)'
PIN = V + '/rpc-pins/(?P<service>[^/]+)'


class ControlPlaneService(base.Service):
    prefix = '/controlplane'
    name = 'control-plane'


SERVICE = ControlPlaneService()


@SERVICE.route('GET', V)
def show(request, cloud):
    return 200, model.describe(cloud.conn)


@SERVICE.route('POST', V)
def create(request, cloud):
    body = request.json()
    controllers = body.get('controllers', 3)
    versions = body.get('versions')
    if not isinstance(controllers, int) or not isinstance(versions, dict):
        raise base.ApiError(400, 'controllers (an integer) and versions '
                            '(service: version) are required.')
    model.create(cloud.conn, cloud.now, controllers, versions,
                 documents=body.get('documents'))
    return 201, model.describe(cloud.conn)


@SERVICE.route('GET', V + '/lb/(?P<service>[^/]+)')
def through_lb(request, cloud, service):
    ok, document, reason = model.probe(cloud.conn, cloud.now, service)
    if not ok:
        return 503, {'error': {'code': 503, 'title': 'Service Unavailable',
                               'message': '%s: %s' % (service, reason)}}
    return 200, {'version': document}


@SERVICE.route('GET', V + '/hosts/(?P<host>[^/]+)')
def show_host(request, cloud, host):
    return 200, {'services': model.host_services(cloud.conn, host)}


@SERVICE.route('POST', INSTANCE + '/stop')
def stop(request, cloud, host, service):
    model.stop(cloud.conn, cloud.now, host, service)
    return 204, None


@SERVICE.route('POST', INSTANCE + '/start')
def start(request, cloud, host, service):
    model.start(cloud.conn, cloud.now, host, service)
    return 204, None


@SERVICE.route('PUT', INSTANCE + '/version')
def install(request, cloud, host, service):
    model.install(cloud.conn, cloud.now, host, service,
                  request.json().get('version'))
    return 204, None


@SERVICE.route('PUT', INSTANCE + '/lb')
def set_in_lb(request, cloud, host, service):
    in_lb = request.json().get('in_lb')
    if not isinstance(in_lb, bool):
        raise base.ApiError(400, 'in_lb must be true or false.')
    model.set_in_lb(cloud.conn, cloud.now, host, service, in_lb)
    return 204, None


@SERVICE.route('POST', V + '/databases/(?P<db>[^/]+)/migrate')
def migrate(request, cloud, db):
    body = request.json()
    if body.get('phase') not in ('expand', 'contract') or not isinstance(
            body.get('to'), int):
        raise base.ApiError(400, 'phase (expand or contract) and to (a '
                            'schema generation) are required.')
    model.migrate(cloud.conn, cloud.now, db, body['phase'], body['to'])
    return 204, None


@SERVICE.route('POST', V + '/databases/(?P<db>[^/]+)/migrate-data')
def migrate_data(request, cloud, db):
    to = request.json().get('to')
    if not isinstance(to, int):
        raise base.ApiError(400, 'to (a schema generation) is required.')
    model.migrate_data(cloud.conn, cloud.now, db, to)
    return 204, None


@SERVICE.route('GET', V + '/databases/(?P<db>[^/]+)/backups')
def list_backups(request, cloud, db):
    return 200, {'backups': model.backups(cloud.conn, db)}


@SERVICE.route('POST', V + '/databases/(?P<db>[^/]+)/backups')
def take_backup(request, cloud, db):
    label = request.json().get('label')
    if label is not None and not isinstance(label, str):
        raise base.ApiError(400, 'label must be a string.')
    return 201, {'backup': model.backup(cloud.conn, cloud.now, db, label)}


@SERVICE.route('POST', V + '/databases/(?P<db>[^/]+)/backups/'
               '(?P<backup_id>[0-9]+)/restore')
def restore(request, cloud, db, backup_id):
    return 200, model.restore(cloud.conn, cloud.now, db, int(backup_id))


@SERVICE.route('GET', PIN)
def show_rpc_pin(request, cloud, service):
    return 200, {'rpc_pin': {'service': service, 'version': model.rpc_pin(
        cloud.conn, service)}}


@SERVICE.route('PUT', PIN)
def pin_rpc(request, cloud, service):
    version = request.json().get('version')
    if not isinstance(version, str):
        raise base.ApiError(400, 'version (a string) is required.')
    model.pin_rpc(cloud.conn, cloud.now, service, version)
    return 204, None


@SERVICE.route('DELETE', PIN)
def unpin_rpc(request, cloud, service):
    model.unpin_rpc(cloud.conn, cloud.now, service)
    return 204, None
