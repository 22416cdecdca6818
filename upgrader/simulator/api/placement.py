"""Placement subset (1.0-1.39): resource providers, inventories, usages.

One resource provider per compute node, its uuid the hypervisor id (as in
Nova since 2.53). Usages include incoming live migrations, as Placement's
allocations do while a migration is in flight.
"""

from upgrader.simulator.api import base
from upgrader.simulator.cloud import RESOURCES

MIN_VERSION = (1, 0)
MAX_VERSION = (1, 39)


class PlacementService(base.Service):
    prefix = '/placement'
    name = 'placement'

    def negotiate(self, request):
        # The root too: Placement answers its version document with the
        # negotiated microversion header, as every other path.
        request.version = base.parse_microversion(
            request, 'placement', None, MIN_VERSION, MAX_VERSION, MIN_VERSION)
        return {'OpenStack-API-Version': 'placement '
                + base.vstr(request.version),
                'Vary': 'OpenStack-API-Version'}

    def error_body(self, status, message):
        return {'errors': [{'status': status, 'title': base.title(status),
                            'detail': message}]}


SERVICE = PlacementService()
route = SERVICE.route
RP = '/resource_providers/(?P<rp_uuid>[0-9a-f-]+)'


@route('GET', '', auth=False)
def versions(request, cloud):
    return 200, {'versions': [{
        'id': 'v1.0', 'status': 'CURRENT',
        'max_version': base.vstr(MAX_VERSION),
        'min_version': base.vstr(MIN_VERSION),
        'links': [{'rel': 'self', 'href': request.base_url + '/placement/'}]}]}


def _generation(cloud, host):
    # Allocations change with every migration touching the provider.
    return 1 + cloud.conn.execute(
        'SELECT COUNT(*) FROM migrations WHERE source_compute = ? OR '
        'dest_compute = ?', (host['name'], host['name'])).fetchone()[0]


def _provider_view(request, cloud, host):
    base_path = '/resource_providers/' + host['node_uuid']
    view = {'uuid': host['node_uuid'], 'name': host['name'],
            'generation': _generation(cloud, host),
            'links': [{'rel': 'self', 'href': base_path},
                      {'rel': 'inventories',
                       'href': base_path + '/inventories'},
                      {'rel': 'usages', 'href': base_path + '/usages'}]}
    if request.version >= (1, 14):
        view['parent_provider_uuid'] = None
        view['root_provider_uuid'] = host['node_uuid']
    return view


def _provider(cloud, rp_uuid):
    for h in cloud.hosts():
        if h['node_uuid'] == rp_uuid:
            return h
    raise base.ApiError(404, 'No resource provider with uuid %s found'
                        % rp_uuid)


@route('GET', '/resource_providers')
def list_providers(request, cloud):
    name, uuid_ = request.arg('name'), request.arg('uuid')
    return 200, {'resource_providers': [
        _provider_view(request, cloud, h) for h in cloud.hosts()
        if (not name or h['name'] == name)
        and (not uuid_ or h['node_uuid'] == uuid_)]}


@route('GET', RP)
def show_provider(request, cloud, rp_uuid):
    return 200, _provider_view(request, cloud, _provider(cloud, rp_uuid))


def _inventories(host):
    totals = {'VCPU': (host['vcpus'], host['reserved_vcpus'],
                       host['vcpu_ratio']),
              'MEMORY_MB': (host['memory_mb'], host['reserved_memory_mb'],
                            host['ram_ratio']),
              'DISK_GB': (host['disk_gb'], host['reserved_disk_gb'],
                          host['disk_ratio'])}
    return {rc: {'total': total, 'reserved': reserved,
                 'allocation_ratio': ratio, 'min_unit': 1,
                 'max_unit': total, 'step_size': 1}
            for rc, (total, reserved, ratio) in totals.items()}


@route('GET', RP + '/inventories')
def list_inventories(request, cloud, rp_uuid):
    host = _provider(cloud, rp_uuid)
    return 200, {'inventories': _inventories(host),
                 'resource_provider_generation': _generation(cloud, host)}


@route('GET', RP + '/inventories/(?P<rc>[A-Z0-9_]+)')
def show_inventory(request, cloud, rp_uuid, rc):
    host = _provider(cloud, rp_uuid)
    inventories = _inventories(host)
    if rc not in inventories:
        raise base.ApiError(404, 'No inventory of class %s for %s'
                            % (rc, rp_uuid))
    return 200, dict(inventories[rc],
                     resource_provider_generation=_generation(cloud, host))


@route('GET', RP + '/usages')
def show_usages(request, cloud, rp_uuid):
    host = _provider(cloud, rp_uuid)
    usage = cloud.usage(host['name'])
    return 200, {'usages': {rc: usage[rc] for rc in RESOURCES},
                 'resource_provider_generation': _generation(cloud, host)}


@route('GET', RP + '/aggregates')
def show_aggregates(request, cloud, rp_uuid):
    host = _provider(cloud, rp_uuid)
    aggs = [r['uuid'] for r in cloud.conn.execute(
        'SELECT a.uuid FROM aggregates a JOIN aggregate_hosts ah ON '
        'ah.aggregate_id = a.id WHERE ah.host = ? ORDER BY a.uuid',
        (host['name'],))]
    body = {'aggregates': aggs}
    if request.version >= (1, 19):
        body['resource_provider_generation'] = _generation(cloud, host)
    return 200, body


@route('GET', '/allocations/(?P<consumer>[0-9a-f-]+)')
def show_allocations(request, cloud, consumer):
    """An instance's allocations (on its destination while migrating);
    a migration's (its source) under the migration uuid."""
    allocations = {}
    hosts = {h['name']: h for h in cloud.hosts()}
    inst = cloud.conn.execute(
        'SELECT i.host, i.flavor_id FROM instances i WHERE uuid = ?',
        (consumer,)).fetchone()
    mig = cloud.conn.execute(
        "SELECT * FROM migrations WHERE status IN ('queued', 'preparing', "
        "'running') AND (instance_uuid = ? OR uuid = ?)",
        (consumer, consumer)).fetchone()
    where = None
    if mig is not None:
        where = (mig['dest_compute'] if mig['instance_uuid'] == consumer
                 else mig['source_compute'], mig['flavor_id'])
    elif inst is not None:
        where = (inst['host'], inst['flavor_id'])
    if where is not None:
        host, flavor = hosts[where[0]], cloud.flavor(where[1])
        allocations[host['node_uuid']] = {
            'generation': _generation(cloud, host),
            'resources': {'VCPU': flavor['vcpus'], 'MEMORY_MB': flavor['ram'],
                          'DISK_GB': flavor['disk'] + flavor['ephemeral']}}
    return 200, {'allocations': allocations}
