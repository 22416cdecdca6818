"""Nova v2.1 subset with microversions 2.1-2.95, as openstacksdk drives it.

Version discovery, os-services, os-hypervisors, os-server-groups,
os-availability-zone, os-aggregates and flavors here; servers and migrations
in :mod:`upgrader.simulator.api.servers`. Field names follow Nova.
"""

import json

from upgrader.simulator.api import base
from upgrader.simulator import generate
from upgrader.simulator import state

MIN_VERSION = (2, 1)
MAX_VERSION = (2, 95)
V = '/v2.1'
CONTROLLER = 'ctl001'
CONTROL_SERVICES = ('nova-conductor', 'nova-scheduler')
FAULT_NAMES = {400: 'badRequest', 401: 'unauthorized', 403: 'forbidden',
               404: 'itemNotFound', 405: 'badMethod',
               409: 'conflictingRequest', 413: 'overLimit',
               429: 'overLimit', 501: 'notImplemented',
               503: 'serviceUnavailable'}


class ComputeService(base.Service):
    prefix = '/compute'
    name = 'compute'

    def negotiate(self, request):
        if not request.path.startswith(self.prefix + V):
            return {}
        request.version = base.parse_microversion(
            request, 'compute', 'X-OpenStack-Nova-API-Version',
            MIN_VERSION, MAX_VERSION, MIN_VERSION)
        text = base.vstr(request.version)
        return {'OpenStack-API-Version': 'compute ' + text,
                'X-OpenStack-Nova-API-Version': text,
                'Vary': 'OpenStack-API-Version, X-OpenStack-Nova-API-Version'}

    def error_body(self, status, message):
        return {FAULT_NAMES.get(status, 'computeFault'): {
            'code': status, 'message': message}}


SERVICE = ComputeService()
route = SERVICE.route


def at_least(request, minor):
    return request.version >= (2, minor)


def require(request, minor):
    if not at_least(request, minor):
        raise base.ApiError(404, 'The resource could not be found.')


def link(request, *parts):
    path = '/'.join(str(p) for p in parts)
    return [{'rel': 'self', 'href': '%s/compute%s/%s'
             % (request.base_url, V, path)},
            {'rel': 'bookmark', 'href': '%s/compute/%s'
             % (request.base_url, path)}]


# -- version discovery ------------------------------------------------------

def _version_doc(request):
    return {'id': 'v2.1', 'status': 'CURRENT',
            'version': base.vstr(MAX_VERSION),
            'min_version': base.vstr(MIN_VERSION),
            'updated': '2013-07-23T11:33:21Z',
            'links': [{'rel': 'self',
                       'href': request.base_url + '/compute/v2.1/'},
                      {'rel': 'describedby', 'type': 'text/html',
                       'href': 'https://docs.openstack.org/'}],
            'media-types': [{
                'base': 'application/json',
                'type': 'application/vnd.openstack.compute+json;version=2.1'}]}


@route('GET', '', auth=False)
def versions(request, cloud):
    return 200, {'versions': [_version_doc(request)]}


@route('GET', V, auth=False)
def version(request, cloud):
    return 200, {'version': _version_doc(request)}


# -- os-services -------------------------------------------------------------

def _service_view(request, host, state_, updated_at):
    svc = {'binary': 'nova-compute', 'host': host['name'],
           'zone': host['az'], 'status': host['status'], 'state': state_,
           'updated_at': base.iso(updated_at),
           'disabled_reason': host['disabled_reason'],
           'id': (host['service_uuid'] if at_least(request, 53)
                  else host['service_id'])}
    if at_least(request, 11):
        svc['forced_down'] = bool(host['forced_down'])
    return svc


def _compute_services(request, cloud):
    for h in cloud.hosts():
        up = cloud.is_up(h)
        yield _service_view(request, h, 'up' if up else 'down',
                            cloud.now if up else h['updated_at'])


def _control_services(request, cloud):
    seed = cloud.seed
    for n, binary in enumerate(CONTROL_SERVICES, start=1):
        svc = {'binary': binary, 'host': CONTROLLER, 'zone': 'internal',
               'status': 'enabled', 'state': 'up',
               'updated_at': base.iso(cloud.now), 'disabled_reason': None,
               'id': (generate.derived_uuid(seed, 'service', binary)
                      if at_least(request, 53) else n)}
        if at_least(request, 11):
            svc['forced_down'] = False
        yield svc


@route('GET', V + '/os-services')
def list_services(request, cloud):
    binary, host = request.arg('binary'), request.arg('host')
    services = [s for s in list(_control_services(request, cloud))
                + list(_compute_services(request, cloud))
                if (not binary or s['binary'] == binary)
                and (not host or s['host'] == host)]
    return 200, {'services': services}


@route('PUT', V + '/os-services/(?P<service_id>[^/]+)')
def update_service(request, cloud, service_id):
    body = request.json()
    if service_id in ('enable', 'disable', 'disable-log-reason',
                      'force-down') and not at_least(request, 53):
        return _legacy_service_action(request, cloud, service_id, body)
    if not at_least(request, 53):
        raise base.ApiError(404, 'Unknown action %s.' % service_id)
    host = _host_of_service(request, cloud, service_id)
    extra = set(body) - {'status', 'disabled_reason', 'forced_down'}
    if extra:
        raise base.ApiError(400, 'Invalid input for field/attribute: '
                            'Additional properties are not allowed (%s '
                            'unexpected)' % ', '.join(sorted(extra)))
    status = body.get('status')
    if status not in (None, 'enabled', 'disabled'):
        raise base.ApiError(400, "Invalid input for field/attribute status."
                            " Value: %s. '%s' is not one of ['enabled', "
                            "'disabled']" % (status, status))
    reason = body.get('disabled_reason')
    if reason is not None and status != 'disabled':
        raise base.ApiError(400, "Specifying 'disabled_reason' with status "
                            "other than 'disabled' is invalid.")
    if reason is not None and (not isinstance(reason, str)
                               or not 1 <= len(reason) <= 255):
        raise base.ApiError(400, 'disabled_reason must be 1 to 255 '
                            'characters.')
    forced = body.get('forced_down')
    if status is None and forced is None:
        raise base.ApiError(400, "No updates were requested. Fields "
                            "'status' or 'forced_down' should be specified.")
    if forced is not None and not isinstance(forced, bool):
        raise base.ApiError(400, 'forced_down must be a boolean.')
    row = cloud.set_service(
        host, None if status is None else status == 'enabled', reason,
        forced_down=forced)
    up = cloud.is_up(row)
    return 200, {'service': _service_view(
        request, row, 'up' if up else 'down',
        cloud.now if up else row['updated_at'])}


def _host_of_service(request, cloud, service_id):
    for h in cloud.hosts():
        if service_id == h['service_uuid']:
            return h['name']
    if any(service_id == generate.derived_uuid(cloud.seed, 'service', b)
           for b in CONTROL_SERVICES):
        raise base.ApiError(400, 'The simulator only updates nova-compute '
                            'services.')
    if len(service_id) != 36:
        raise base.ApiError(400, 'Invalid uuid %s' % service_id)
    raise base.ApiError(404, 'Service %s could not be found.' % service_id)


def _legacy_service_action(request, cloud, action, body):
    host, binary = body.get('host'), body.get('binary')
    if binary != 'nova-compute':
        raise base.ApiError(400, 'The simulator only updates nova-compute '
                            'services.')
    if action == 'force-down':
        require(request, 11)
        forced = body.get('forced_down')
        if not isinstance(forced, bool):
            raise base.ApiError(400, 'forced_down must be a boolean.')
        cloud.set_service(host, None, forced_down=forced)
        return 200, {'service': {'host': host, 'binary': binary,
                                 'forced_down': forced}}
    enabled = action == 'enable'
    reason = body.get('disabled_reason') if action == 'disable-log-reason' \
        else None
    row = cloud.set_service(host, enabled, reason)
    view = {'host': host, 'binary': binary, 'status': row['status']}
    if reason:
        view['disabled_reason'] = reason
    return 200, {'service': view}


# -- os-hypervisors ----------------------------------------------------------

def _hypervisor_view(request, cloud, host, usage, servers, detail):
    up = cloud.is_up(host)
    hv = {'id': (host['node_uuid'] if at_least(request, 53)
                 else host['seq'] + 1),
          'hypervisor_hostname': host['name'],
          'state': 'up' if up else 'down', 'status': host['status']}
    if detail:
        hv.update({
            'host_ip': host['host_ip'], 'hypervisor_type': 'QEMU',
            'hypervisor_version': 8000000,
            'service': {'host': host['name'],
                        'id': (host['service_uuid'] if at_least(request, 53)
                               else host['service_id']),
                        'disabled_reason': host['disabled_reason']}})
        if at_least(request, 88):
            hv['uptime'] = None if not up else (
                'up %d sec' % int(cloud.now - host['booted_at']))
        else:
            used_ram = usage['MEMORY_MB'] + host['reserved_memory_mb']
            hv.update({
                'vcpus': host['vcpus'], 'memory_mb': host['memory_mb'],
                'local_gb': host['disk_gb'], 'vcpus_used': usage['VCPU'],
                'memory_mb_used': used_ram,
                'local_gb_used': usage['DISK_GB'],
                'free_ram_mb': host['memory_mb'] - used_ram,
                'free_disk_gb': host['disk_gb'] - usage['DISK_GB'],
                'current_workload': 0, 'running_vms': len(servers),
                'disk_available_least': host['disk_gb'] - usage['DISK_GB'],
                'cpu_info': json.dumps({'arch': 'x86_64', 'model': 'Skylake',
                                        'vendor': 'Intel'})})
    if servers and at_least(request, 53) and base.flag(
            request.arg('with_servers', 'false')):
        hv['servers'] = [{'name': s['name'], 'uuid': s['uuid']}
                         for s in servers]
    return hv


def _hypervisors(request, cloud, detail, only=None):
    usage = cloud.usage()
    servers = {}
    for inst in cloud.conn.execute(
            'SELECT uuid, name, host FROM instances ORDER BY seq'):
        servers.setdefault(inst['host'], []).append(inst)
    pattern = request.arg('hypervisor_hostname_pattern')
    result = []
    for h in cloud.hosts():
        if only is not None and only not in (h['node_uuid'],
                                             str(h['seq'] + 1)):
            continue
        if pattern and pattern not in h['name']:
            continue
        result.append(_hypervisor_view(request, cloud, h, usage[h['name']],
                                       servers.get(h['name'], []), detail))
    if pattern and not result:
        raise base.ApiError(404, 'Hypervisor matching %s could not be found.'
                            % pattern)
    return result


@route('GET', V + '/os-hypervisors')
def list_hypervisors(request, cloud):
    return 200, {'hypervisors': _hypervisors(request, cloud, False)}


@route('GET', V + '/os-hypervisors/detail')
def list_hypervisors_detail(request, cloud):
    return 200, {'hypervisors': _hypervisors(request, cloud, True)}


@route('GET', V + '/os-hypervisors/(?P<hv_id>[^/]+)')
def show_hypervisor(request, cloud, hv_id):
    found = _hypervisors(request, cloud, True, only=hv_id)
    if not found:
        raise base.ApiError(404, 'Hypervisor with ID %s could not be found.'
                            % hv_id)
    return 200, {'hypervisor': found[0]}


def admin_project(cloud):
    return state.get_meta(cloud.conn, 'credentials')['project_id']


# -- server groups, zones, aggregates, flavors -------------------------------

def _group_view(request, cloud, group):
    members = [r['instance_uuid'] for r in cloud.conn.execute(
        'SELECT instance_uuid FROM server_group_members WHERE group_uuid = ? '
        'ORDER BY instance_uuid', (group['uuid'],))]
    view = {'id': group['uuid'], 'name': group['name'], 'members': members}
    if at_least(request, 64):
        view['policy'] = group['policy']
        view['rules'] = {}
    else:
        view['policies'] = [group['policy']]
        view['metadata'] = {}
    if at_least(request, 13):
        view['project_id'] = group['project_id']
        view['user_id'] = group['user_id']
    return view


@route('GET', V + '/os-server-groups')
def list_server_groups(request, cloud):
    rows = cloud.conn.execute('SELECT * FROM server_groups ORDER BY name')
    everything = base.flag(request.arg('all_projects', 'false'))
    admin = admin_project(cloud)
    return 200, {'server_groups': [
        _group_view(request, cloud, g) for g in rows
        if everything or g['project_id'] == admin]}


@route('GET', V + '/os-server-groups/(?P<group_id>[^/]+)')
def show_server_group(request, cloud, group_id):
    row = cloud.conn.execute('SELECT * FROM server_groups WHERE uuid = ?',
                             (group_id,)).fetchone()
    if row is None:
        raise base.ApiError(404, 'Instance group %s could not be found.'
                            % group_id)
    return 200, {'server_group': _group_view(request, cloud, row)}


def _zones(cloud, detail):
    zones = {}
    for h in cloud.hosts():
        up = cloud.is_up(h)
        zone = zones.setdefault(h['az'], {'zoneName': h['az'], 'zoneState': {
            'available': False}, 'hosts': {}})
        zone['zoneState']['available'] |= up and h['status'] == 'enabled'
        zone['hosts'][h['name']] = {'nova-compute': {
            'available': up, 'active': h['status'] == 'enabled',
            'updated_at': base.iso(cloud.now if up else h['updated_at'])}}
    result = [zones[name] for name in sorted(zones)]
    if not detail:
        return [{'zoneName': z['zoneName'], 'zoneState': z['zoneState'],
                 'hosts': None} for z in result
                if z['zoneState']['available']]
    internal = {'zoneName': 'internal', 'zoneState': {'available': True},
                'hosts': {CONTROLLER: {b: {
                    'available': True, 'active': True,
                    'updated_at': base.iso(cloud.now)}
                    for b in CONTROL_SERVICES}}}
    return [internal] + result


@route('GET', V + '/os-availability-zone')
def list_zones(request, cloud):
    return 200, {'availabilityZoneInfo': _zones(cloud, False)}


@route('GET', V + '/os-availability-zone/detail')
def list_zones_detail(request, cloud):
    return 200, {'availabilityZoneInfo': _zones(cloud, True)}


def _aggregate_view(request, cloud, agg):
    hosts = [r['host'] for r in cloud.conn.execute(
        'SELECT host FROM aggregate_hosts WHERE aggregate_id = ? ORDER BY '
        'host', (agg['id'],))]
    view = {'id': agg['id'], 'name': agg['name'],
            'availability_zone': agg['az'], 'hosts': hosts,
            'metadata': json.loads(agg['metadata']),
            'created_at': base.iso(agg['created_at']), 'updated_at': None,
            'deleted_at': None, 'deleted': False}
    if at_least(request, 41):
        view['uuid'] = agg['uuid']
    return view


@route('GET', V + '/os-aggregates')
def list_aggregates(request, cloud):
    rows = cloud.conn.execute('SELECT * FROM aggregates ORDER BY id')
    return 200, {'aggregates': [_aggregate_view(request, cloud, a)
                                for a in rows]}


@route('GET', V + '/os-aggregates/(?P<agg_id>\\d+)')
def show_aggregate(request, cloud, agg_id):
    row = cloud.conn.execute('SELECT * FROM aggregates WHERE id = ?',
                             (int(agg_id),)).fetchone()
    if row is None:
        raise base.ApiError(404, 'Aggregate %s could not be found.' % agg_id)
    return 200, {'aggregate': _aggregate_view(request, cloud, row)}


def _flavor_full(request, f):
    view = {'id': f['id'], 'name': f['name'], 'vcpus': f['vcpus'],
            'ram': f['ram'], 'disk': f['disk'],
            'OS-FLV-EXT-DATA:ephemeral': f['ephemeral'],
            'swap': f['swap'] if at_least(request, 75) else (
                f['swap'] or ''),
            'rxtx_factor': 1.0, 'os-flavor-access:is_public': True,
            'OS-FLV-DISABLED:disabled': False,
            'links': link(request, 'flavors', f['id'])}
    if at_least(request, 55):
        view['description'] = None
    if at_least(request, 61):
        view['extra_specs'] = json.loads(f['extra_specs'])
    return view


@route('GET', V + '/flavors/detail')
def list_flavors_detail(request, cloud):
    rows = cloud.conn.execute('SELECT * FROM flavors ORDER BY id')
    return 200, {'flavors': [_flavor_full(request, f) for f in rows]}


@route('GET', V + '/flavors/(?P<flavor_id>[^/]+)')
def show_flavor(request, cloud, flavor_id):
    row = cloud.flavor(flavor_id)
    if row is None:
        raise base.ApiError(404, 'Flavor %s could not be found.' % flavor_id)
    return 200, {'flavor': _flavor_full(request, row)}


@route('GET', V + '/flavors/(?P<flavor_id>[^/]+)/os-extra_specs')
def show_flavor_extra_specs(request, cloud, flavor_id):
    row = cloud.flavor(flavor_id)
    if row is None:
        raise base.ApiError(404, 'Flavor %s could not be found.' % flavor_id)
    return 200, {'extra_specs': json.loads(row['extra_specs'])}
