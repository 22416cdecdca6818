"""Nova servers: list and show, their metadata and tags (2.26+), the actions
os-migrateLive, migrate (cold, a host from 2.56), confirmResize,
revertResize, os-start and os-stop, and the migrations (os-migrations,
server migrations and their abort).

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
# Nova's limits on server tags.
MAX_TAGS = 50
MAX_TAG_LENGTH = 60
MAX_META_LENGTH = 255
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
        server['tags'] = json.loads(inst['tags'])
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
    if action == 'migrate':
        return _cold_migrate(request, cloud, server_id, args)
    if action == 'confirmResize':
        cloud.confirm_resize(server_id)
        return 204, None
    if action == 'revertResize':
        cloud.revert_resize(server_id)
        return 202, None
    if action in ('os-start', 'os-stop'):
        cloud.set_power(server_id, action == 'os-start')
        return 202, None
    raise base.ApiError(400, 'There is no such action: %s' % action)


def _cold_migrate(request, cloud, server_id, args):
    args = args or {}
    allowed = {'host'} if at_least(request, 56) else set()
    if not isinstance(args, dict) or set(args) - allowed:
        raise base.ApiError(400, 'Invalid input for field/attribute '
                            'migrate. Additional properties are not allowed '
                            '(%s unexpected)' % ', '.join(sorted(
                                set(args) - allowed if isinstance(args, dict)
                                else ['?'])))
    host = args.get('host')
    if host is not None and not isinstance(host, str):
        raise base.ApiError(400, 'Invalid input for field/attribute host.')
    cloud.cold_migrate(server_id, host or None)
    return 202, None


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


# -- metadata and tags --------------------------------------------------------

def _metadata(cloud, server_id):
    return json.loads(_instance(cloud, server_id)['metadata'])


def _save(cloud, server_id, column, value):
    cloud.conn.execute('UPDATE instances SET %s = ?, updated_at = ? WHERE '
                       'uuid = ?' % column,
                       (json.dumps(value, sort_keys=column == 'metadata'),
                        cloud.now, server_id))


def _valid_metadata(body, name='metadata'):
    items = body.get(name)
    if not isinstance(items, dict):
        raise base.ApiError(400, "Invalid input for field/attribute %s. "
                            "'%s' is a required property" % (name, name))
    for key, value in items.items():
        if not (1 <= len(key) <= MAX_META_LENGTH and isinstance(value, str)
                and len(value) <= MAX_META_LENGTH):
            raise base.ApiError(400, 'Invalid input for field/attribute '
                                '%s: keys of 1 to 255 characters, values '
                                'strings of at most 255.' % name)
    return items


@route('GET', SERVER + '/metadata')
def show_metadata(request, cloud, server_id):
    return 200, {'metadata': _metadata(cloud, server_id)}


@route('PUT', SERVER + '/metadata')
def replace_metadata(request, cloud, server_id):
    _instance(cloud, server_id)
    items = _valid_metadata(request.json())
    _save(cloud, server_id, 'metadata', items)
    return 200, {'metadata': items}


@route('POST', SERVER + '/metadata')
def update_metadata(request, cloud, server_id):
    items = dict(_metadata(cloud, server_id),
                 **_valid_metadata(request.json()))
    _save(cloud, server_id, 'metadata', items)
    return 200, {'metadata': items}


@route('GET', SERVER + '/metadata/(?P<key>[^/]+)')
def show_metadata_item(request, cloud, server_id, key):
    key = urllib.parse.unquote(key)
    items = _metadata(cloud, server_id)
    if key not in items:
        raise base.ApiError(404, 'Metadata item was not found')
    return 200, {'meta': {key: items[key]}}


@route('PUT', SERVER + '/metadata/(?P<key>[^/]+)')
def set_metadata_item(request, cloud, server_id, key):
    key = urllib.parse.unquote(key)
    meta = _valid_metadata(request.json(), 'meta')
    if list(meta) != [key]:
        raise base.ApiError(400, 'Request body and URI mismatch')
    items = dict(_metadata(cloud, server_id), **meta)
    _save(cloud, server_id, 'metadata', items)
    return 200, {'meta': meta}


@route('DELETE', SERVER + '/metadata/(?P<key>[^/]+)')
def delete_metadata_item(request, cloud, server_id, key):
    key = urllib.parse.unquote(key)
    items = _metadata(cloud, server_id)
    if items.pop(key, None) is None:
        raise base.ApiError(404, 'Metadata item was not found')
    _save(cloud, server_id, 'metadata', items)
    return 204, None


def _tags(request, cloud, server_id):
    require(request, 26)
    return json.loads(_instance(cloud, server_id)['tags'])


def _valid_tags(tags):
    if not isinstance(tags, list) or len(tags) > MAX_TAGS:
        raise base.ApiError(400, 'Invalid input for field/attribute tags: '
                            'a list of at most %d tags.' % MAX_TAGS)
    for tag in tags:
        if not (isinstance(tag, str) and 1 <= len(tag) <= MAX_TAG_LENGTH
                and '/' not in tag and ',' not in tag):
            raise base.ApiError(400, "Invalid input for field/attribute "
                                "tag. Value: %s. Tags are 1 to %d "
                                "characters, without '/' or ','."
                                % (tag, MAX_TAG_LENGTH))
    return list(dict.fromkeys(tags))


@route('GET', SERVER + '/tags')
def list_tags(request, cloud, server_id):
    return 200, {'tags': _tags(request, cloud, server_id)}


@route('PUT', SERVER + '/tags')
def replace_tags(request, cloud, server_id):
    _tags(request, cloud, server_id)
    tags = _valid_tags(request.json().get('tags'))
    _save(cloud, server_id, 'tags', tags)
    return 200, {'tags': tags}


@route('DELETE', SERVER + '/tags')
def delete_tags(request, cloud, server_id):
    _tags(request, cloud, server_id)
    _save(cloud, server_id, 'tags', [])
    return 204, None


@route('GET', SERVER + '/tags/(?P<tag>[^/]+)')
def check_tag(request, cloud, server_id, tag):
    if urllib.parse.unquote(tag) not in _tags(request, cloud, server_id):
        raise base.ApiError(404, 'Tag %s could not be found.' % tag)
    return 204, None


@route('PUT', SERVER + '/tags/(?P<tag>[^/]+)')
def add_tag(request, cloud, server_id, tag):
    tag = urllib.parse.unquote(tag)
    tags = _tags(request, cloud, server_id)
    if tag in tags:
        return 204, None
    _save(cloud, server_id, 'tags', _valid_tags(tags + [tag]))
    return 201, None, {'Location': '%s%s' % (request.base_url,
                                             request.path)}


@route('DELETE', SERVER + '/tags/(?P<tag>[^/]+)')
def delete_tag(request, cloud, server_id, tag):
    tag = urllib.parse.unquote(tag)
    tags = _tags(request, cloud, server_id)
    if tag not in tags:
        raise base.ApiError(404, 'Tag %s could not be found.' % tag)
    _save(cloud, server_id, 'tags', [t for t in tags if t != tag])
    return 204, None


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
