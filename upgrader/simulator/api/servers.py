"""Nova servers: list and show, os-migrateLive, os-start/os-stop, and the
migrations (os-migrations, server migrations and their abort).

Registered on the compute service of :mod:`upgrader.simulator.api.compute`.
"""

import hashlib
import json
import re
import urllib.parse

from upgrader.common import exception
from upgrader.simulator.api import base
from upgrader.simulator.api import compute
from upgrader.simulator import generate

MAX_LIMIT = 1000
V = compute.V
SERVER = V + '/servers/(?P<server_id>[^/]+)'
MIGRATION = SERVER + '/migrations/(?P<mig_id>\\d+)'
admin_project = compute.admin_project
at_least = compute.at_least
link = compute.link
require = compute.require
route = compute.route


def _flavor_view(request, flavor):
    if at_least(request, 47):
        return {'vcpus': flavor['vcpus'], 'ram': flavor['ram'],
                'disk': flavor['disk'], 'ephemeral': flavor['ephemeral'],
                'swap': flavor['swap'], 'original_name': flavor['name'],
                'extra_specs': json.loads(flavor['extra_specs'])}
    return {'id': flavor['id'],
            'links': link(request, 'flavors', flavor['id'])[1:]}


def _server_view(request, cloud, inst, flavors, hosts, groups=None):
    host = hosts[inst['host']]
    seq = inst['seq']
    server = {
        'id': inst['uuid'], 'name': inst['name'], 'status': inst['status'],
        'tenant_id': inst['project_id'], 'user_id': inst['user_id'],
        'metadata': json.loads(inst['metadata']),
        'hostId': hashlib.sha224((inst['project_id'] + inst['host'])
                                 .encode()).hexdigest(),
        'image': {'id': generate.derived_uuid(cloud.seed, 'image'),
                  'links': link(request, 'images', generate.derived_uuid(
                      cloud.seed, 'image'))[1:]},
        'flavor': _flavor_view(request, flavors[inst['flavor_id']]),
        'created': base.iso(inst['created_at'], zulu=True, micro=False),
        'updated': base.iso(inst['updated_at'], zulu=True, micro=False),
        'addresses': {'private': [{
            'version': 4, 'addr': '192.168.%d.%d' % (seq // 250,
                                                     seq % 250 + 2),
            'OS-EXT-IPS:type': 'fixed',
            'OS-EXT-IPS-MAC:mac_addr': 'fa:16:3e:%s:%s:%s' % (
                inst['uuid'][0:2], inst['uuid'][2:4], inst['uuid'][4:6])}]},
        'accessIPv4': '', 'accessIPv6': '',
        'links': link(request, 'servers', inst['uuid']),
        'OS-DCF:diskConfig': 'MANUAL', 'progress': 0,
        'OS-EXT-AZ:availability_zone': inst['az'],
        'config_drive': '', 'key_name': None,
        'OS-SRV-USG:launched_at': base.iso(inst['created_at']),
        'OS-SRV-USG:terminated_at': None,
        'OS-EXT-SRV-ATTR:host': inst['host'],
        'OS-EXT-SRV-ATTR:instance_name': 'instance-%08x' % (seq + 1),
        'OS-EXT-SRV-ATTR:hypervisor_hostname': inst['host'],
        'OS-EXT-STS:task_state': inst['task_state'],
        'OS-EXT-STS:vm_state': inst['vm_state'],
        'OS-EXT-STS:power_state': inst['power_state'],
        'os-extended-volumes:volumes_attached': [],
        'security_groups': [{'name': 'default'}],
    }
    if at_least(request, 3):
        server.update({
            'OS-EXT-SRV-ATTR:hostname': inst['name'],
            'OS-EXT-SRV-ATTR:reservation_id': 'r-%08x' % (seq + 1),
            'OS-EXT-SRV-ATTR:launch_index': 0,
            'OS-EXT-SRV-ATTR:kernel_id': '', 'OS-EXT-SRV-ATTR:ramdisk_id': '',
            'OS-EXT-SRV-ATTR:root_device_name': '/dev/vda',
            'OS-EXT-SRV-ATTR:user_data': None})
    if at_least(request, 9):
        server['locked'] = False
    if at_least(request, 16):
        server['host_status'] = (
            'DOWN' if not cloud.is_up(host) else
            'MAINTENANCE' if host['status'] == 'disabled' else 'UP')
    if at_least(request, 19):
        server['description'] = None
    if at_least(request, 26):
        server['tags'] = []
    if at_least(request, 63):
        server['trusted_image_certificates'] = None
    if at_least(request, 71) and groups is not None:
        server['server_groups'] = groups
    if at_least(request, 73):
        server['locked_reason'] = None
    return server


def _lookups(cloud):
    flavors = {f['id']: f for f in cloud.conn.execute('SELECT * FROM flavors')}
    hosts = {h['name']: h for h in cloud.hosts()}
    return flavors, hosts


def _filtered_servers(request, cloud):
    sql, args = 'SELECT * FROM instances WHERE 1 = 1', []
    if not base.flag(request.arg('all_tenants', 'false')):
        sql += ' AND project_id = ?'
        args.append(admin_project(cloud))
    else:
        project = request.arg('project_id') or request.arg('tenant_id')
        if project:
            sql += ' AND project_id = ?'
            args.append(project)
    for param, column in (('host', 'host'), ('node', 'host'),
                          ('availability_zone', 'az'), ('uuid', 'uuid')):
        if request.arg(param):
            sql += ' AND %s = ?' % column
            args.append(request.arg(param))
    if request.arg('status'):
        sql += ' AND status = ?'
        args.append(request.arg('status').upper())
    rows = cloud.conn.execute(sql + ' ORDER BY seq DESC', args).fetchall()
    name = request.arg('name')
    if name:
        try:
            regex = re.compile(name)
        except re.error:
            raise base.ApiError(400, 'Invalid name filter %s.' % name)
        rows = [r for r in rows if regex.search(r['name'])]
    return _paginate(request, rows, 'uuid')


def _paginate(request, rows, key):
    marker = request.arg('marker')
    if marker is not None:
        for n, row in enumerate(rows):
            if str(row[key]) == marker:
                rows = rows[n + 1:]
                break
        else:
            raise base.ApiError(400, 'marker [%s] not found' % marker)
    try:
        limit = min(int(request.arg('limit', MAX_LIMIT)), MAX_LIMIT)
    except ValueError:
        raise base.ApiError(400, 'limit must be an integer')
    if limit < 0:
        raise base.ApiError(400, 'limit must be >= 0')
    return rows[:limit], len(rows) > limit or (
        request.arg('limit') is not None and len(rows) == limit > 0)


def _next_link(request, collection, rows, key):
    last = rows[-1][key]
    query = {k: v[-1] for k, v in request.query.items() if k != 'marker'}
    query['marker'] = last
    return [{'rel': 'next', 'href': '%s%s?%s' % (
        request.base_url, request.path, urllib.parse.urlencode(query))}]


@route('GET', V + '/servers')
def list_servers(request, cloud):
    rows, more = _filtered_servers(request, cloud)
    body = {'servers': [{'id': r['uuid'], 'name': r['name'],
                         'links': link(request, 'servers', r['uuid'])}
                        for r in rows]}
    if more and rows:
        body['servers_links'] = _next_link(request, 'servers', rows, 'uuid')
    return 200, body


@route('GET', V + '/servers/detail')
def list_servers_detail(request, cloud):
    rows, more = _filtered_servers(request, cloud)
    flavors, hosts = _lookups(cloud)
    body = {'servers': [_server_view(request, cloud, r, flavors, hosts)
                        for r in rows]}
    if more and rows:
        body['servers_links'] = _next_link(request, 'servers', rows, 'uuid')
    return 200, body


def _instance(cloud, server_id):
    try:
        return cloud.instance(server_id)
    except exception.NotFound:
        raise base.ApiError(404, 'Instance %s could not be found.'
                            % server_id)


@route('GET', SERVER)
def show_server(request, cloud, server_id):
    inst = _instance(cloud, server_id)
    flavors, hosts = _lookups(cloud)
    groups = [g['uuid'] for g in cloud.groups_of(server_id)]
    return 200, {'server': _server_view(request, cloud, inst, flavors, hosts,
                                        groups)}


@route('POST', SERVER + '/action')
def server_action(request, cloud, server_id):
    body = request.json()
    _instance(cloud, server_id)
    if len(body) != 1:
        raise base.ApiError(400, 'There is no such action: %s'
                            % ', '.join(sorted(body)))
    action, args = next(iter(body.items()))
    if action == 'os-migrateLive':
        return _live_migrate(request, cloud, server_id, args)
    if action in ('os-start', 'os-stop'):
        return _power(cloud, server_id, action == 'os-start')
    raise base.ApiError(400, 'There is no such action: %s' % action)


def _live_migrate(request, cloud, server_id, args):
    if not isinstance(args, dict):
        raise base.ApiError(400, 'Invalid input for os-migrateLive.')
    allowed = {'host', 'block_migration'}
    if not at_least(request, 25):
        allowed.add('disk_over_commit')
    if (2, 30) <= request.version < (2, 68):
        allowed.add('force')
    extra = set(args) - allowed
    if extra:
        raise base.ApiError(400, 'Invalid input for field/attribute '
                            'os-migrateLive. Additional properties are not '
                            'allowed (%s unexpected)'
                            % ', '.join(sorted(extra)))
    required = {'host', 'block_migration'} | (
        set() if at_least(request, 25) else {'disk_over_commit'})
    missing = required - set(args)
    if missing:
        raise base.ApiError(400, "Invalid input for field/attribute "
                            "os-migrateLive. '%s' is a required property"
                            % sorted(missing)[0])
    block = args['block_migration']
    if not (isinstance(block, bool) or (
            at_least(request, 25) and block == 'auto')):
        raise base.ApiError(400, 'Invalid input for field/attribute '
                            'block_migration. Value: %s.' % block)
    host = args.get('host')
    if host is not None and not isinstance(host, str):
        raise base.ApiError(400, 'Invalid input for field/attribute host.')
    cloud.live_migrate(server_id, host or None,
                       force=bool(args.get('force', False)))
    return 202, None


def _power(cloud, server_id, start):
    inst = cloud.instance(server_id)
    wanted_from = 'SHUTOFF' if start else 'ACTIVE'
    if inst['status'] != wanted_from or inst['task_state']:
        raise base.ApiError(409, "Cannot '%s' instance %s while it is in "
                            "vm_state %s" % ('start' if start else 'stop',
                                             server_id, inst['vm_state']))
    if start and not cloud.is_up(cloud.host(inst['host'])):
        raise base.ApiError(409, 'Compute service of %s is unavailable at '
                            'this time.' % inst['host'])
    cloud.conn.execute(
        'UPDATE instances SET status = ?, vm_state = ?, power_state = ?, '
        'updated_at = ? WHERE uuid = ?',
        ('ACTIVE', 'active', 1, cloud.now, server_id) if start else
        ('SHUTOFF', 'stopped', 4, cloud.now, server_id))
    return 202, None


# -- migrations --------------------------------------------------------------

def _migration_view(request, cloud, mig, hosts):
    view = {'id': mig['id'], 'source_node': mig['source_compute'],
            'dest_node': mig['dest_compute'],
            'source_compute': mig['source_compute'],
            'dest_compute': mig['dest_compute'],
            'dest_host': hosts[mig['dest_compute']]['host_ip'],
            'status': mig['status'], 'instance_uuid': mig['instance_uuid'],
            'old_instance_type_id': int(mig['flavor_id']),
            'new_instance_type_id': int(mig['flavor_id']),
            'created_at': base.iso(mig['created_at']),
            'updated_at': base.iso(mig['updated_at'])}
    if at_least(request, 23):
        view['migration_type'] = mig['migration_type']
        if mig['status'] in ('queued', 'preparing', 'running'):
            view['links'] = link(request, 'servers', mig['instance_uuid'],
                                  'migrations', mig['id'])
    if at_least(request, 59):
        view['uuid'] = mig['uuid']
    if at_least(request, 80):
        view['user_id'] = mig['user_id']
        view['project_id'] = mig['project_id']
    return view


@route('GET', V + '/os-migrations')
def list_migrations(request, cloud):
    rows = cloud.migrations(
        instance_uuid=request.arg('instance_uuid'), host=request.arg('host'),
        status=request.arg('status'),
        migration_type=request.arg('migration_type'))
    source = request.arg('source_compute')
    if source:
        rows = [r for r in rows if r['source_compute'] == source]
    hosts = {h['name']: h for h in cloud.hosts()}
    more = False
    if at_least(request, 59):
        rows, more = _paginate(request, rows, 'uuid')
    body = {'migrations': [_migration_view(request, cloud, m, hosts)
                           for m in rows]}
    if more and rows:
        body['migrations_links'] = _next_link(request, 'migrations', rows,
                                              'uuid')
    return 200, body


def _server_migration_view(request, cloud, mig, hosts):
    flavor = cloud.flavor(mig['flavor_id'])
    total = flavor['ram'] * 1024 * 1024
    span = max(mig['ends_at'] - mig['started_at'], 1e-9)
    done = 0.0 if mig['stuck'] else min(
        max((cloud.now - mig['started_at']) / span, 0.0), 1.0)
    view = {'id': mig['id'], 'server_uuid': mig['instance_uuid'],
            'source_compute': mig['source_compute'],
            'dest_compute': mig['dest_compute'],
            'source_node': mig['source_compute'],
            'dest_node': mig['dest_compute'],
            'dest_host': hosts[mig['dest_compute']]['host_ip'],
            'status': mig['status'],
            'created_at': base.iso(mig['created_at']),
            'updated_at': base.iso(mig['updated_at']),
            'memory_total_bytes': total,
            'memory_processed_bytes': int(total * done),
            'memory_remaining_bytes': total - int(total * done),
            'disk_total_bytes': 0, 'disk_processed_bytes': 0,
            'disk_remaining_bytes': 0}
    if at_least(request, 59):
        view['uuid'] = mig['uuid']
    if at_least(request, 80):
        view['user_id'] = mig['user_id']
        view['project_id'] = mig['project_id']
    return view


@route('GET', SERVER + '/migrations')
def list_server_migrations(request, cloud, server_id):
    require(request, 23)
    _instance(cloud, server_id)
    hosts = {h['name']: h for h in cloud.hosts()}
    rows = cloud.migrations(instance_uuid=server_id, active_only=True,
                            migration_type='live-migration')
    return 200, {'migrations': [
        _server_migration_view(request, cloud, m, hosts) for m in rows]}


@route('GET', MIGRATION)
def show_server_migration(request, cloud, server_id, mig_id):
    require(request, 23)
    _instance(cloud, server_id)
    for m in cloud.migrations(instance_uuid=server_id, active_only=True):
        if m['id'] == int(mig_id):
            hosts = {h['name']: h for h in cloud.hosts()}
            return 200, {'migration': _server_migration_view(
                request, cloud, m, hosts)}
    raise base.ApiError(404, 'In-progress live migration %s is not found '
                        'for server %s.' % (mig_id, server_id))


@route('DELETE', MIGRATION)
def abort_server_migration(request, cloud, server_id, mig_id):
    require(request, 24)
    _instance(cloud, server_id)
    cloud.abort_migration(server_id, int(mig_id))
    return 202, None
