"""The referee: every invariant violation the simulator sees, and the report.

Violations are recorded as they happen (an instance killed by a reboot, too
many hosts out of service cloud-wide, in a zone or in an aggregate, capacity
overcommitted or anti-affinity broken where a migration lands); a host left
disabled is judged when reporting.

An instance is killed when its host reboots while its guest runs: a SHUTOFF
instance (stopped through the API, as the stop-start action does) is not,
nor is a stopped one being cold-migrated. It is listed under
``instances_shutoff`` in the report, so a run can check that everything
stopped for a reboot was started again.
"""

import collections
import json

from upgrader.simulator import controlplane
from upgrader.simulator import state

INSTANCE_KILLED = 'instance_killed'
TOO_MANY_OUT = 'too_many_hosts_out_of_service'
OVERCOMMITTED = 'capacity_overcommitted'
ANTI_AFFINITY = 'anti_affinity_broken'
LEFT_DISABLED = 'host_left_disabled'
# nova-compute restarted (package install) with instances on its host: they
# keep running, but the design's invariant 1 forbids it.
SERVICE_RESTARTED = 'instances_on_restarted_service'
# The control plane (upgrader.simulator.controlplane): a running service
# whose code cannot use its database schema; a request through the load
# balancer that failed.
INCOMPATIBLE_SCHEMA = 'incompatible_schema'
API_REQUEST_FAILED = 'api_request_failed'
# Nova's RPC between its control services and the computes: one side sends
# what the other cannot read (the compute RPC pin, computes upgraded last).
RPC_INCOMPATIBLE = 'rpc_incompatible'
KINDS = (INSTANCE_KILLED, TOO_MANY_OUT, OVERCOMMITTED, ANTI_AFFINITY,
         LEFT_DISABLED, SERVICE_RESTARTED, INCOMPATIBLE_SCHEMA,
         API_REQUEST_FAILED, RPC_INCOMPATIBLE)

OUT_OF_SERVICE_SQL = ("SELECT name, az, status, power, forced_down FROM hosts "
                      "WHERE status = 'disabled' OR power != 'up' "
                      "OR forced_down = 1 ORDER BY name")


def record(conn, kind, now, message, host=None, instance=None, details=None):
    conn.execute('INSERT INTO violations (kind, at, host, instance_uuid, '
                 'message, details) VALUES (?, ?, ?, ?, ?, ?)',
                 (kind, now, host, instance, message,
                  json.dumps(details or {}, sort_keys=True)))


def record_once(conn, kind, now, message, host=None, details=None):
    """Record a violation unless one of this kind with these details (the
    pairing it is about) is recorded already: a state that stays wrong
    across several changes is one violation."""
    found = conn.execute('SELECT 1 FROM violations WHERE kind = ? AND '
                         'details = ?', (kind, json.dumps(
                             details or {}, sort_keys=True))).fetchone()
    if found is None:
        record(conn, kind, now, message, host=host, details=details)


def event(conn, now, kind, message, host=None, instance=None):
    conn.execute('INSERT INTO events (at, kind, host, instance_uuid, message) '
                 'VALUES (?, ?, ?, ?, ?)',
                 (now, kind, host, instance, message))


def get_policy(conn):
    return state.get_meta(conn, 'policy', {})


def set_policy(conn, policy):
    current = get_policy(conn)
    current.update(policy)
    state.set_meta(conn, 'policy', current)
    return current


def check_out_of_service(conn, now, host):
    """Called when ``host`` has just left service (disabled or down).

    Judged cloud-wide, in the host's availability zone and in each of its
    host aggregates, against the policy's limits (None: no limit).
    """
    out = conn.execute(OUT_OF_SERVICE_SQL).fetchall()
    policy = get_policy(conn)
    az = conn.execute('SELECT az FROM hosts WHERE name = ?',
                      (host,)).fetchone()['az']
    scopes = [('cloud', None, policy.get('max_hosts_out_of_service'),
               [r['name'] for r in out])]
    scopes.append(('az', az, policy.get('max_hosts_out_of_service_per_az'),
                   [r['name'] for r in out if r['az'] == az]))
    agg_limit = policy.get('max_hosts_out_of_service_per_aggregate')
    if agg_limit is not None:
        down = {r['name'] for r in out}
        for agg in conn.execute(
                'SELECT a.id, a.name FROM aggregates a JOIN aggregate_hosts '
                'h ON h.aggregate_id = a.id WHERE h.host = ? ORDER BY a.name',
                (host,)).fetchall():
            members = [r['host'] for r in conn.execute(
                'SELECT host FROM aggregate_hosts WHERE aggregate_id = ? '
                'ORDER BY host', (agg['id'],))]
            scopes.append(('aggregate', agg['name'], agg_limit,
                           [m for m in members if m in down]))
    for scope, name, limit, names in scopes:
        if limit is None or len(names) <= limit:
            continue
        where = '' if name is None else ' in %s %s' % (
            'zone' if scope == 'az' else scope, name)
        record(conn, TOO_MANY_OUT, now,
               '%d hosts out of service at once%s (max %d) when %s left '
               'service: %s' % (len(names), where, limit, host,
                                ', '.join(names)),
               host=host, details={'hosts': names, 'max': limit,
                                   'scope': scope if name is None
                                   else '%s:%s' % (scope, name)})


def report(conn, now):
    """The referee's summary of the whole run, as a JSON-friendly dict."""
    violations = [_violation(r) for r in conn.execute(
        'SELECT * FROM violations ORDER BY id')]
    for h in conn.execute("SELECT name, disabled_reason FROM hosts WHERE "
                          "status = 'disabled' AND initially_enabled = 1 "
                          "ORDER BY name"):
        violations.append({
            'kind': LEFT_DISABLED, 'at': now, 'host': h['name'],
            'instance': None,
            'message': 'host %s is disabled (%s) but was enabled when the '
                       'cloud was created' % (h['name'], h['disabled_reason']),
            'details': {'disabled_reason': h['disabled_reason']}})
    by_kind = collections.Counter(v['kind'] for v in violations)
    killed = sorted({v['instance'] for v in violations
                     if v['kind'] == INSTANCE_KILLED})
    return {
        'ok': not violations,
        'instances_total': conn.execute(
            'SELECT COUNT(*) FROM instances').fetchone()[0],
        'instances_killed': len(killed),
        'killed_instances': killed,
        'instances_shutoff': [r['uuid'] for r in conn.execute(
            "SELECT uuid FROM instances WHERE status = 'SHUTOFF' ORDER BY "
            'seq')],
        'violations': {'total': len(violations),
                       'by_kind': {k: by_kind.get(k, 0) for k in KINDS},
                       'details': violations},
        'migrations': _migrations(conn),
        'hosts': _hosts(conn),
        'hosts_rebooted': conn.execute(
            'SELECT COUNT(*) FROM hosts WHERE reboots > 0').fetchone()[0],
        'hosts_down': [r['name'] for r in conn.execute(
            "SELECT name FROM hosts WHERE power != 'up' OR forced_down = 1 "
            'ORDER BY name')],
        'hosts_disabled': [r['name'] for r in conn.execute(
            "SELECT name FROM hosts WHERE status = 'disabled' ORDER BY "
            'name')],
        'package_versions': _package_versions(conn),
        'control_plane': controlplane.report(conn),
        'policy': get_policy(conn),
    }


def _violation(row):
    return {'kind': row['kind'], 'at': row['at'], 'host': row['host'],
            'instance': row['instance_uuid'], 'message': row['message'],
            'details': json.loads(row['details'])}


def _migrations(conn):
    statuses = collections.Counter()
    completed = collections.Counter()
    attempts = collections.Counter()
    for m in conn.execute('SELECT instance_uuid, status FROM migrations'):
        statuses[m['status']] += 1
        attempts[m['instance_uuid']] += 1
        if m['status'] == 'completed':
            completed[m['instance_uuid']] += 1
    total_instances = conn.execute(
        'SELECT COUNT(*) FROM instances').fetchone()[0]
    histogram = collections.Counter(completed.values())
    histogram[0] = total_instances - len(completed)
    return {
        'total': sum(statuses.values()),
        'by_status': dict(sorted(statuses.items())),
        'per_instance_max': max(completed.values(), default=0),
        'attempts_per_instance_max': max(attempts.values(), default=0),
        # completed live migrations per instance -> number of instances
        'histogram': {str(k): v for k, v in sorted(histogram.items())},
        'per_instance': dict(sorted(completed.items())),
    }


def _hosts(conn):
    packages = collections.defaultdict(dict)
    for p in conn.execute('SELECT * FROM packages ORDER BY host, name'):
        packages[p['host']][p['name']] = p['version']
    counts = collections.Counter(
        r['host'] for r in conn.execute('SELECT host FROM instances'))
    hosts = {}
    for h in conn.execute('SELECT * FROM hosts ORDER BY name'):
        hosts[h['name']] = {
            'az': h['az'], 'status': h['status'],
            'disabled_reason': h['disabled_reason'],
            'state': 'up' if (h['power'] == 'up' and not h['forced_down']
                              and not h['service_broken'])
            else 'down',
            'power': h['power'], 'reboots': h['reboots'],
            'boot_id': h['boot_id'], 'instances': counts.get(h['name'], 0),
            'packages': packages[h['name']]}
    return hosts


def _package_versions(conn):
    versions = collections.defaultdict(collections.Counter)
    for p in conn.execute('SELECT name, version FROM packages'):
        versions[p['name']][p['version']] += 1
    return {name: dict(sorted(c.items()))
            for name, c in sorted(versions.items())}
