"""Fault injection: what can go wrong in the simulated cloud, and when.

A fault is a row of the state file, added at creation, by ``upgrader-simulator
fault add`` or by the admin API; it triggers on matching operations, ``count``
times (unlimited when not given), with an optional seeded ``probability``.
"""

import hashlib
import re

from upgrader.common import exception
from upgrader.simulator import state

# kind -> (allowed fields, required fields)
KINDS = {
    # A live migration ends in status 'error'; the instance stays on its
    # source. Matches the instance, or a host (source or destination).
    'migration_fail': ({'host', 'instance', 'probability', 'count'}, set()),
    # A live migration never completes (until aborted).
    'migration_stuck': ({'host', 'instance', 'probability', 'count'}, set()),
    # A package installation fails on a host (for one package or any).
    'package_fail': ({'host', 'package', 'count'}, set()),
    # A host that reboots never comes back.
    'reboot_no_return': ({'host', 'count'}, set()),
    # A host that reboots comes back, but its nova-compute does not start
    # (down) until the next reboot: a new release that breaks the service.
    'service_no_start': ({'host', 'count'}, set()),
    # An API request whose path matches the regex answers this status.
    'api_error': ({'path', 'method', 'status', 'count'}, {'path'}),
    # An API request whose path matches the regex answers late (wall seconds).
    'api_slow': ({'path', 'method', 'delay', 'count'}, {'path', 'delay'}),
}
API_KINDS = ('api_error', 'api_slow')
FIELDS = ('kind', 'host', 'instance', 'package', 'path', 'method', 'status',
          'delay', 'probability', 'count')


def validate(spec):
    """Check a fault specification (a dict); raise InvalidInput if bad."""
    def bad(reason):
        raise exception.InvalidInput(reason='fault %s' % reason)
    if not isinstance(spec, dict):
        bad('must be an object')
    kind = spec.get('kind')
    if kind not in KINDS:
        bad('kind must be one of %s' % ', '.join(sorted(KINDS)))
    allowed, required = KINDS[kind]
    given = {k for k, v in spec.items() if k != 'kind' and v is not None}
    if given - allowed:
        bad('%s does not take %s' % (kind, ', '.join(sorted(given - allowed))))
    if required - given:
        bad('%s needs %s' % (kind, ', '.join(sorted(required - given))))
    for key in ('host', 'instance', 'package', 'path', 'method'):
        if spec.get(key) is not None and not isinstance(spec[key], str):
            bad('%s must be a string' % key)
    if spec.get('path') is not None:
        try:
            re.compile(spec['path'])
        except re.error as e:
            bad('path is not a regular expression: %s' % e)
    count = spec.get('count')
    if count is not None and (not isinstance(count, int)
                              or isinstance(count, bool) or count < 1):
        bad('count must be a positive integer')
    status = spec.get('status')
    if status is not None and (not isinstance(status, int)
                               or not 400 <= status <= 599):
        bad('status must be an HTTP error status (400-599)')
    for key, low, high in (('probability', 0.0, 1.0),
                           ('delay', 0.0, 3600.0)):
        value = spec.get(key)
        if value is not None and (not isinstance(value, (int, float))
                                  or not low <= value <= high):
            bad('%s must be between %s and %s' % (key, low, high))


def add(conn, spec, now):
    """Store a validated fault; return its id."""
    validate(spec)
    values = [spec.get(k) for k in FIELDS if k != 'count']
    if spec['kind'] == 'api_error' and spec.get('status') is None:
        values[FIELDS.index('status')] = 500
    cur = conn.execute(
        'INSERT INTO faults (kind, host, instance, package, path, method, '
        'status, delay, probability, remaining, created_at) '
        'VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
        values + [spec.get('count'), now])
    return cur.lastrowid


def to_dict(row):
    data = {k: row[k] for k in ('id', 'kind', 'host', 'instance', 'package',
                                'path', 'method', 'status', 'delay',
                                'probability', 'remaining', 'hits')}
    data['active'] = row['remaining'] is None or row['remaining'] > 0
    return {k: v for k, v in data.items() if v is not None}


def list_faults(conn):
    rows = conn.execute('SELECT * FROM faults ORDER BY id')
    return [to_dict(r) for r in rows]


def delete(conn, fault_id):
    """Remove one fault; return whether it existed."""
    return conn.execute('DELETE FROM faults WHERE id = ?',
                        (fault_id,)).rowcount > 0


def clear(conn):
    return conn.execute('DELETE FROM faults').rowcount


def _active(conn, kinds):
    marks = ','.join('?' * len(kinds))
    return conn.execute(
        'SELECT * FROM faults WHERE kind IN (%s) AND '
        '(remaining IS NULL OR remaining > 0) ORDER BY id' % marks,
        list(kinds)).fetchall()


def _consume(conn, fault):
    conn.execute('UPDATE faults SET hits = hits + 1, remaining = CASE WHEN '
                 'remaining IS NULL THEN NULL ELSE remaining - 1 END '
                 'WHERE id = ?', (fault['id'],))


def _draw(conn, fault, key):
    """A deterministic number in [0, 1) for this fault and operation."""
    seed = state.get_meta(conn, 'seed', 0)
    digest = hashlib.sha256(('%s:%s:%s' % (seed, fault['id'], key)).encode())
    return int.from_bytes(digest.digest()[:8], 'big') / 2.0 ** 64


def trigger(conn, kind, key, hosts=(), instance=None, package=None):
    """The first active fault of this kind matching the operation, consumed.

    ``hosts`` are the hosts the operation touches, ``key`` a stable name of
    the operation for probability draws.
    """
    for fault in _active(conn, [kind]):
        if fault['host'] is not None and fault['host'] not in hosts:
            continue
        if fault['instance'] is not None and fault['instance'] != instance:
            continue
        if fault['package'] is not None and fault['package'] != package:
            continue
        if (fault['probability'] is not None
                and _draw(conn, fault, key) >= fault['probability']):
            continue
        _consume(conn, fault)
        return fault
    return None


def any_api_fault(conn):
    """Whether an API fault is active (a read: no write lock taken)."""
    return conn.execute(
        "SELECT 1 FROM faults WHERE kind IN ('api_error', 'api_slow') AND "
        "(remaining IS NULL OR remaining > 0) LIMIT 1").fetchone() is not None


def trigger_api(conn, method, path):
    """(delay in seconds, error status or None) for an API request."""
    delay, status = 0.0, None
    for fault in _active(conn, API_KINDS):
        if fault['method'] and fault['method'].upper() != method:
            continue
        if not re.search(fault['path'], path):
            continue
        if fault['kind'] == 'api_slow':
            delay += fault['delay']
        elif status is None:
            status = fault['status']
        else:
            continue
        _consume(conn, fault)
    return delay, status
