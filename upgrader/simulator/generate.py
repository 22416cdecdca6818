"""Generation of a simulated cloud from a few parameters and a seed.

The same parameters and seed give the same hosts, instances (uuids included),
flavors, zones, aggregates and server groups, in a new SQLite state file.
"""

import hashlib
import json
import os
import random
import secrets
import time
import uuid

from upgrader.common import exception
from upgrader.simulator import faults as sim_faults
from upgrader.simulator import state

# Server metadata key marking an instance that cannot be live-migrated; its
# value is the reason. The openstack compute driver reads the same key.
NO_LIVE_MIGRATION_KEY = 'upgrader:no-live-migration'
# Flavor extra spec of the PCI passthrough flavor: Nova refuses to
# live-migrate such instances.
PCI_EXTRA_SPEC = 'pci_passthrough:alias'

DEFAULT_PACKAGES = {
    'nova-compute': '29.0.0',
    'qemu': '8.0.0',
    'libvirt': '9.0.0',
    'openvswitch': '3.1.0',
    'linux-image': '6.1.0',
}
# (id, name, vcpus, ram MB, disk GB, weight when drawing a flavor)
FLAVORS = [
    ('1', 'm1.small', 1, 2048, 20, 4),
    ('2', 'm1.medium', 2, 4096, 40, 4),
    ('3', 'm1.large', 4, 8192, 80, 2),
    ('4', 'm1.xlarge', 8, 16384, 160, 1),
    ('6', 'c1.large', 8, 8192, 40, 1),
    ('7', 'r1.large', 2, 16384, 80, 1),
]
PCI_FLAVOR = ('5', 'g1.pci', 4, 8192, 80, 0)

# Simulated seconds; divided by the time scale to get wall seconds.
DEFAULT_DURATIONS = {
    'live_migration_base': 20.0,     # plus per GB of RAM
    'live_migration_per_gb': 10.0,   # 4 GB -> 60 s
    'reboot': 120.0,
    'package_install': 30.0,         # per package
    'cold_migration_base': 30.0,     # plus per GB of disk copied
    'cold_migration_per_gb': 0.5,    # 80 GB -> 70 s
}
DEFAULT_POLICY = {
    'max_hosts_out_of_service': 1,
    'max_hosts_out_of_service_per_az': None,
    'max_hosts_out_of_service_per_aggregate': None,
}
ADMIN_USER = 'admin'
ADMIN_PROJECT = 'admin'
DOMAIN = 'Default'
REGION = 'RegionOne'
RESERVED_MEMORY_MB = 4096


def derived_uuid(seed, *parts):
    """A version-4 shaped uuid derived from the seed and a name."""
    digest = hashlib.sha256(
        ':'.join(str(p) for p in (seed,) + parts).encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def create_cloud(state_file, hosts=16, instances=100, azs=2, aggregates=2,
                 anti_affinity_groups=4, group_size=3,
                 non_live_migratable_fraction=0.05, seed=42, password=None,
                 time_scale=1000.0, max_hosts_out_of_service=1,
                 host_vcpus=64, host_memory_mb=262144, host_disk_gb=2000,
                 cpu_allocation_ratio=4.0, ram_allocation_ratio=1.0,
                 disk_allocation_ratio=1.0, packages=None, durations=None,
                 faults=None, overwrite=False, spare_hosts_per_az=0):
    """Generate a cloud into a new state file; return its summary.

    ``spare_hosts_per_az`` hosts of each zone start empty, as operators
    keep spare capacity for maintenance.

    Raises InvalidInput for bad parameters or a cloud too small for its
    instances, Conflict if the file exists and ``overwrite`` is false; the
    file is then left untouched.
    """
    params = dict(hosts=hosts, instances=instances, azs=azs,
                  aggregates=aggregates,
                  anti_affinity_groups=anti_affinity_groups,
                  group_size=group_size,
                  non_live_migratable_fraction=non_live_migratable_fraction,
                  seed=seed, host_vcpus=host_vcpus,
                  host_memory_mb=host_memory_mb, host_disk_gb=host_disk_gb,
                  cpu_allocation_ratio=cpu_allocation_ratio,
                  ram_allocation_ratio=ram_allocation_ratio,
                  disk_allocation_ratio=disk_allocation_ratio,
                  spare_hosts_per_az=spare_hosts_per_az)
    _validate(params, time_scale, max_hosts_out_of_service)
    durations = dict(DEFAULT_DURATIONS, **(durations or {}))
    packages = dict(DEFAULT_PACKAGES if packages is None else packages)
    for fault in faults or []:
        sim_faults.validate(fault)
    state_file = os.fspath(state_file)
    if os.path.exists(state_file) and not overwrite:
        raise exception.Conflict(reason='state file %s already exists'
                                        % state_file)
    # Build everything in memory first so a failure leaves no file behind.
    cloud = _generate(params, packages)
    tmp = state_file + '.tmp-%d' % os.getpid()
    _remove(tmp)
    conn = state.connect(tmp, create=True)
    try:
        # executescript commits on its own: the schema comes first.
        state.create_schema(conn)
        with state.transaction(conn):
            _store(conn, cloud, params, packages, durations, time_scale,
                   max_hosts_out_of_service, password, time.time())
            for fault in faults or []:
                sim_faults.add(conn, fault, time.time())
        conn.execute('PRAGMA wal_checkpoint(TRUNCATE)')
    except BaseException:
        conn.close()
        _remove(tmp)
        raise
    conn.close()
    _remove(state_file)
    _remove(tmp, main=False)
    os.replace(tmp, state_file)
    return {'state_file': state_file, 'hosts': hosts,
            'instances': instances, 'seed': seed}


def _remove(path, main=True):
    for name in ([path] if main else []) + [path + '-wal', path + '-shm']:
        if os.path.exists(name):
            os.unlink(name)


def _validate(p, time_scale, max_out):
    def bad(reason):
        raise exception.InvalidInput(reason=reason)
    for key in ('hosts', 'instances', 'azs', 'aggregates',
                'anti_affinity_groups', 'group_size', 'host_vcpus',
                'host_memory_mb', 'host_disk_gb', 'seed'):
        if not isinstance(p[key], int) or isinstance(p[key], bool):
            bad('%s must be an integer' % key)
    if not 1 <= p['hosts'] <= 9999:
        bad('hosts must be between 1 and 9999')
    if p['instances'] < 0:
        bad('instances must not be negative')
    if not 1 <= p['azs'] <= p['hosts']:
        bad('azs must be between 1 and the number of hosts')
    if p['aggregates'] < 0 or p['anti_affinity_groups'] < 0:
        bad('aggregates and anti-affinity groups must not be negative')
    if p['anti_affinity_groups'] and not 2 <= p['group_size'] <= p['hosts']:
        bad('group size must be between 2 and the number of hosts')
    if p['anti_affinity_groups'] * p['group_size'] > p['instances']:
        bad('anti-affinity groups need %d instances, only %d requested'
            % (p['anti_affinity_groups'] * p['group_size'], p['instances']))
    if not 0 <= p['spare_hosts_per_az'] < p['hosts'] // max(p['azs'], 1):
        bad('spare hosts per zone must leave each zone a host for instances')
    if not 0.0 <= p['non_live_migratable_fraction'] <= 1.0:
        bad('non-live-migratable fraction must be between 0 and 1')
    for key in ('host_vcpus', 'host_memory_mb', 'host_disk_gb'):
        if p[key] <= 0:
            bad('%s must be positive' % key)
    for key in ('cpu_allocation_ratio', 'ram_allocation_ratio',
                'disk_allocation_ratio'):
        if not p[key] > 0:
            bad('%s must be positive' % key)
    if not time_scale > 0:
        bad('time scale must be positive')
    if not isinstance(max_out, int) or max_out < 0:
        bad('max hosts out of service must be a non-negative integer')


class _Cloud:
    def __init__(self):
        self.hosts = []
        self.instances = []
        self.groups = []
        self.aggregates = []
        self.projects = []


def _generate(p, packages):
    seed = p['seed']
    rng = random.Random(seed)
    cloud = _Cloud()
    cloud.projects = [derived_uuid(seed, 'project', name).replace('-', '')
                      for name in (ADMIN_PROJECT, 'tenant-a', 'tenant-b')]
    n = p['hosts']
    for i in range(n):
        cloud.hosts.append({
            'name': 'cmp%03d' % (i + 1), 'seq': i,
            'az': 'az%d' % (i * p['azs'] // n + 1),
            'host_ip': '10.0.%d.%d' % (i // 200, 10 + i % 200),
            'service_uuid': derived_uuid(seed, 'service', i),
            'node_uuid': derived_uuid(seed, 'node', i),
            'used': [0, 0, 0], 'members': set()})
    capacity = [p['host_vcpus'] * p['cpu_allocation_ratio'],
                p['host_memory_mb'] * p['ram_allocation_ratio']
                - RESERVED_MEMORY_MB,
                p['host_disk_gb'] * p['disk_allocation_ratio']]
    m = p['instances']
    pinned = set(rng.sample(range(m),
                            round(m * p['non_live_migratable_fraction'])))
    grouped = p['anti_affinity_groups'] * p['group_size']
    for g in range(p['anti_affinity_groups']):
        cloud.groups.append({
            'uuid': derived_uuid(seed, 'group', g),
            'name': 'anti-affinity-%d' % (g + 1), 'policy': 'anti-affinity',
            'project_id': cloud.projects[g % len(cloud.projects)],
            'members': []})
    weights = [f[5] for f in FLAVORS]
    spare = set()
    for zone in sorted({h['az'] for h in cloud.hosts}):
        in_zone = [h['name'] for h in cloud.hosts if h['az'] == zone]
        spare.update(in_zone[len(in_zone) - p['spare_hosts_per_az']:]
                     if p['spare_hosts_per_az'] else [])
    used_hosts = [h for h in cloud.hosts if h['name'] not in spare]
    for i in range(m):
        group = cloud.groups[i // p['group_size']] if i < grouped else None
        metadata = {}
        if i in pinned and i % 2 == 0:
            flavor = PCI_FLAVOR
            metadata[NO_LIVE_MIGRATION_KEY] = 'PCI passthrough device'
        else:
            flavor = rng.choices(FLAVORS, weights=weights)[0]
            if i in pinned:
                metadata[NO_LIVE_MIGRATION_KEY] = 'local scratch disk'
        need = [flavor[2], flavor[3], flavor[4]]
        host = _pick_host(used_hosts, need, capacity, group, rng)
        if host is None:
            raise exception.InvalidInput(
                reason='%d hosts cannot hold %d instances (instance %d does '
                       'not fit)' % (n, m, i + 1))
        host['used'] = [u + x for u, x in zip(host['used'], need)]
        instance = {
            'uuid': derived_uuid(seed, 'instance', i), 'seq': i,
            'name': 'vm-%04d' % (i + 1),
            'project_id': (group['project_id'] if group
                           else rng.choice(cloud.projects)),
            'flavor_id': flavor[0], 'host': host['name'], 'az': host['az'],
            'metadata': metadata, 'live_migratable': i not in pinned}
        if group is not None:
            group['members'].append(instance['uuid'])
            host['members'].add(group['uuid'])
        cloud.instances.append(instance)
    for a in range(p['aggregates']):
        cloud.aggregates.append({
            'name': 'agg%d' % (a + 1), 'az': None,
            'metadata': {'group': 'agg%d' % (a + 1)},
            'hosts': [h['name'] for h in cloud.hosts
                      if h['seq'] % p['aggregates'] == a]})
    return cloud



def _pick_host(hosts, need, capacity, group, rng):
    """The least loaded host (by RAM share) that fits, spread like Nova."""
    best = None
    for host in hosts:
        if group is not None and group['uuid'] in host['members']:
            continue
        if any(u + x > c for u, x, c in zip(host['used'], need, capacity)):
            continue
        key = (host['used'][1] / capacity[1], rng.random())
        if best is None or key < best[0]:
            best = (key, host)
    return None if best is None else best[1]


def _store(conn, cloud, p, packages, durations, time_scale, max_out,
           password, now):
    seed = p['seed']
    for h in cloud.hosts:
        conn.execute(
            'INSERT INTO hosts (name, seq, service_id, service_uuid, '
            'node_uuid, az, host_ip, vcpus, memory_mb, disk_gb, vcpu_ratio, '
            'ram_ratio, disk_ratio, reserved_vcpus, reserved_memory_mb, '
            'reserved_disk_gb, status, initially_enabled, power, boot_id, '
            'booted_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '
            '?, ?, 0, ?, 0, ?, 1, ?, ?, ?, ?)',
            (h['name'], h['seq'], h['seq'] + 10, h['service_uuid'],
             h['node_uuid'], h['az'], h['host_ip'], p['host_vcpus'],
             p['host_memory_mb'], p['host_disk_gb'],
             p['cpu_allocation_ratio'], p['ram_allocation_ratio'],
             p['disk_allocation_ratio'], RESERVED_MEMORY_MB, 'enabled', 'up',
             derived_uuid(seed, 'boot', h['name'], 0), now, now))
        for name, version in sorted(packages.items()):
            conn.execute('INSERT INTO packages VALUES (?, ?, ?, ?)',
                         (h['name'], name, version, version))
    for f in FLAVORS + [PCI_FLAVOR]:
        specs = {PCI_EXTRA_SPEC: 'a1:1'} if f is PCI_FLAVOR else {}
        conn.execute(
            'INSERT INTO flavors (id, name, vcpus, ram, disk, extra_specs) '
            'VALUES (?, ?, ?, ?, ?, ?)',
            (f[0], f[1], f[2], f[3], f[4], _json(specs)))
    user_id = derived_uuid(seed, 'user', ADMIN_USER).replace('-', '')
    m = len(cloud.instances)
    for i in cloud.instances:
        created = now - (m - i['seq']) * 60
        conn.execute(
            'INSERT INTO instances (uuid, seq, name, project_id, user_id, '
            'flavor_id, host, az, status, vm_state, task_state, power_state, '
            'metadata, live_migratable, created_at, updated_at) VALUES '
            '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, 1, ?, ?, ?, ?)',
            (i['uuid'], i['seq'], i['name'], i['project_id'], user_id,
             i['flavor_id'], i['host'], i['az'], 'ACTIVE', 'active',
             _json(i['metadata']), int(i['live_migratable']), created,
             created))
    for g in cloud.groups:
        conn.execute('INSERT INTO server_groups VALUES (?, ?, ?, ?, ?)',
                     (g['uuid'], g['name'], g['policy'], g['project_id'],
                      user_id))
        for member in g['members']:
            conn.execute('INSERT INTO server_group_members VALUES (?, ?)',
                         (g['uuid'], member))
    azs = sorted({h['az'] for h in cloud.hosts})
    aggregates = [{'name': az, 'az': az, 'metadata': {'availability_zone': az},
                   'hosts': [h['name'] for h in cloud.hosts if h['az'] == az]}
                  for az in azs] + cloud.aggregates
    for n, agg in enumerate(aggregates, start=1):
        conn.execute('INSERT INTO aggregates VALUES (?, ?, ?, ?, ?, ?)',
                     (n, derived_uuid(seed, 'aggregate', agg['name']),
                      agg['name'], agg['az'], _json(agg['metadata']), now))
        for host in agg['hosts']:
            conn.execute('INSERT INTO aggregate_hosts VALUES (?, ?)',
                         (n, host))
    state.set_meta(conn, 'params', p)
    state.set_meta(conn, 'seed', seed)
    state.set_meta(conn, 'created_at', now)
    state.set_meta(conn, 'time_scale', float(time_scale))
    state.set_meta(conn, 'durations', durations)
    state.set_meta(conn, 'policy', dict(DEFAULT_POLICY,
                                        max_hosts_out_of_service=max_out))
    state.set_meta(conn, 'projects', cloud.projects)
    state.set_meta(conn, 'credentials', {
        'username': ADMIN_USER, 'user_id': user_id,
        'password': password or secrets.token_urlsafe(16),
        'project_name': ADMIN_PROJECT, 'project_id': cloud.projects[0],
        'user_domain_name': DOMAIN, 'project_domain_name': DOMAIN,
        'region_name': REGION})


def _json(value):
    return json.dumps(value, sort_keys=True)
