"""The simulated control plane: controller hosts running API and worker
services behind a load balancer, and the databases they share.

The model (what a rollout of a control-plane service must respect):

- Each service instance (one service on one controller host) runs a code
  version; its **schema generation** is the version's major number
  (keystone 27.0.1 is generation 27), so a patch release needs no schema
  change and a major one does.
- Each database (keystone, nova, glance) has an ``expanded`` and a
  ``contracted`` generation (``contracted <= expanded``). Code of
  generation ``g`` runs on it iff ``contracted <= g <= expanded``: new code
  needs the expand migrations, old code runs on an expanded schema, and old
  code fails once the schema is contracted past it.
- The online data migrations of a generation (``migrate_data``) move the
  rows to the new layout once every service runs the new code; contracting
  to a generation whose data migrations did not run is refused (Conflict).
- Each successful API request through the balancer writes to the
  service's database (``writes`` counts them). A backup keeps a database's
  generations and write count; restoring it says how many writes are lost
  (the ones since the backup) and puts the generations back, so the
  referee judges the code running on the restored schema as on any other.
- A running instance whose code cannot use its schema is an outage: the
  referee records ``incompatible_schema`` for every such pairing.
- API services sit behind the load balancer; the balancer sends requests to
  every backend it holds, so a backend in it that is stopped or cannot use
  its schema fails requests, and so does a service with no healthy backend.
- Nova's compute RPC pin (``[upgrade_levels] compute``): the control plane
  may pin the RPC version it sends to the computes (a nova-compute version,
  or none). The nova control services (nova-api, nova-conductor,
  nova-scheduler) talk to the compute hosts' nova-compute (the package the
  host agent installs, the code it runs) over RPC, and a generation reads
  messages of its own and older generations only. So the referee records
  ``rpc_incompatible`` for a running nova control service newer than the
  oldest compute while the pin is missing or newer than that compute (new
  code sends what old computes cannot read), and for a compute newer than
  the oldest running nova-conductor (computes go last). Each such pairing
  is recorded once (a control instance and the oldest compute generation;
  a compute and the oldest conductor generation), judged after every
  change of the control plane, of a pin and of a compute's nova-compute.
  A control plane created newer than its oldest compute is created pinned
  to that compute's version, as a cloud in the middle of an upgrade is. A
  nova-compute version that is not MAJOR.MINOR.PATCH (after an epoch) is
  not judged.

The referee's probes: the control plane only changes through the calls
below, and it stays the same between two of them, so probing every API
through the load balancer right after each change sees every state it went
through (one probe per API service per change). ``GET /controlplane/v1/lb/
<service>`` is a probe too, the one health checks use. The counts and the
failed probes are in the referee's report under ``control_plane``.
Starting a service is immediate here (no start-up time is modelled yet).
"""

import json

from upgrader.common import exception
from upgrader.common import versions
from upgrader.simulator import referee

API = 'api'
WORKER = 'worker'
# The services of a full control plane: kind and database.
SERVICES = {
    'keystone': (API, 'keystone'),
    'glance-api': (API, 'glance'),
    'nova-api': (API, 'nova'),
    'nova-conductor': (WORKER, 'nova'),
    'nova-scheduler': (WORKER, 'nova'),
}
RUNNING = 'running'
STOPPED = 'stopped'

# The nova control services that talk to the computes over RPC, the one
# whose generation the computes must not pass, and the RPC versions a
# control plane can pin (the package of the compute hosts).
NOVA_CONTROL = ('nova-api', 'nova-conductor', 'nova-scheduler')
CONDUCTOR = 'nova-conductor'
COMPUTE = 'nova-compute'
RPC_PINNABLE = (COMPUTE,)
# Apart from SCHEMA: a control plane created before the pins were modelled
# gets this table when first pinned.
RPC_PINS_SCHEMA = """
CREATE TABLE IF NOT EXISTS cp_rpc_pins (
    service TEXT PRIMARY KEY,      -- whose RPC is pinned: nova-compute
    version TEXT NOT NULL          -- the version sent (no row: not pinned)
)
"""
SCHEMA = """
CREATE TABLE IF NOT EXISTS cp_databases (
    name TEXT PRIMARY KEY,
    expanded INTEGER NOT NULL,     -- newest generation the schema serves
    contracted INTEGER NOT NULL,   -- oldest generation it still serves
    migrated INTEGER NOT NULL,     -- data migrations ran up to this one
    writes INTEGER NOT NULL DEFAULT 0  -- rows written by API requests
);
CREATE TABLE IF NOT EXISTS cp_backups (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    db TEXT NOT NULL REFERENCES cp_databases(name),
    at REAL NOT NULL,
    label TEXT,                    -- who took it, e.g. a rollout's id
    expanded INTEGER NOT NULL,
    contracted INTEGER NOT NULL,
    migrated INTEGER NOT NULL,
    writes INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS cp_restores (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    backup INTEGER NOT NULL REFERENCES cp_backups(id),
    writes_lost INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS cp_services (
    name TEXT PRIMARY KEY,
    kind TEXT NOT NULL,            -- api | worker
    db TEXT NOT NULL REFERENCES cp_databases(name),
    -- {version: {"versions": [major API versions], "min": "2.1",
    --  "max": "2.96"}}: the version document each code version serves.
    documents TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS cp_instances (
    host TEXT NOT NULL,
    service TEXT NOT NULL REFERENCES cp_services(name),
    version TEXT NOT NULL,
    status TEXT NOT NULL,          -- running | stopped
    in_lb INTEGER NOT NULL,        -- api services: a backend of the balancer
    PRIMARY KEY (host, service)
);
CREATE TABLE IF NOT EXISTS cp_probes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    service TEXT NOT NULL,
    ok INTEGER NOT NULL,
    reason TEXT
);
""" + RPC_PINS_SCHEMA


def generation(version):
    """The schema generation of a code version: its major number."""
    return versions.schema_generation(version)


def create(conn, now, controllers, versions, documents=None):
    """Add a control plane: ``controllers`` hosts (ctl001...) each running
    every service of ``versions`` ({service: version}), in the balancer,
    on databases at the services' generation.

    :param documents: {service: {version: document}} (see the schema).
    """
    if controllers < 1:
        raise exception.InvalidInput(reason='at least one controller')
    # One statement at a time: executescript would commit the caller's
    # transaction.
    for statement in SCHEMA.split(';'):
        if statement.strip():
            conn.execute(statement)
    if conn.execute('SELECT 1 FROM cp_services').fetchone():
        raise exception.Conflict(reason='the cloud has a control plane')
    for service, version in sorted(versions.items()):
        if service not in SERVICES:
            raise exception.InvalidInput(
                reason='unknown service %s (one of %s)'
                       % (service, ', '.join(sorted(SERVICES))))
        kind, db = SERVICES[service]
        gen = generation(version)
        row = conn.execute('SELECT * FROM cp_databases WHERE name = ?',
                           (db,)).fetchone()
        if row is None:
            conn.execute('INSERT INTO cp_databases (name, expanded, '
                         'contracted, migrated) VALUES (?, ?, ?, ?)',
                         (db, gen, gen, gen))
        elif row['expanded'] != gen:
            raise exception.InvalidInput(
                reason='%s %s is not of generation %d, as the other %s '
                       'services' % (service, version, row['expanded'], db))
        conn.execute('INSERT INTO cp_services VALUES (?, ?, ?, ?)',
                     (service, kind, db, json.dumps(
                         (documents or {}).get(service, {}),
                         sort_keys=True)))
        for index in range(1, controllers + 1):
            conn.execute('INSERT INTO cp_instances VALUES (?, ?, ?, ?, ?)',
                         (host_name(index), service, version, RUNNING,
                          int(kind == API)))
    computes = _computes(conn)
    if computes and any(generation(v) > generation(computes[0][1])
                        for s, v in versions.items() if s in NOVA_CONTROL):
        # In the middle of an upgrade: the computes are not there yet.
        _pin(conn, COMPUTE, computes[0][1])
    _changed(conn, now, 'control plane created')


def host_name(index):
    return 'ctl%03d' % index


def exists(conn):
    return _table(conn, 'cp_services')


def _table(conn, name):
    return conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
        (name,)).fetchone() is not None


def _instance(conn, host, service):
    row = conn.execute('SELECT * FROM cp_instances WHERE host = ? AND '
                       'service = ?', (host, service)).fetchone()
    if row is None:
        raise exception.NotFound(what='service %s on controller %s'
                                      % (service, host))
    return row


def _service(conn, service):
    row = conn.execute('SELECT * FROM cp_services WHERE name = ?',
                       (service,)).fetchone()
    if row is None:
        raise exception.NotFound(what='control-plane service %s' % service)
    return row


def _database(conn, name):
    return conn.execute('SELECT * FROM cp_databases WHERE name = ?',
                        (name,)).fetchone()


def usable(conn, instance):
    """Whether this instance's code can use its database's schema."""
    db = _database(conn, _service(conn, instance['service'])['db'])
    return db['contracted'] <= generation(instance['version']) <= \
        db['expanded']


def healthy(conn, instance):
    return instance['status'] == RUNNING and usable(conn, instance)


# -- the operations a rollout uses ------------------------------------------

def stop(conn, now, host, service):
    _instance(conn, host, service)
    _set(conn, host, service, status=STOPPED)
    _changed(conn, now, 'stopped %s on %s' % (service, host), host)


def start(conn, now, host, service):
    _instance(conn, host, service)
    _set(conn, host, service, status=RUNNING)
    _changed(conn, now, 'started %s on %s' % (service, host), host)


def install(conn, now, host, service, version):
    """Install a code version; a running service keeps the old code until
    it restarts, so installing needs a stopped service."""
    generation(version)
    if _instance(conn, host, service)['status'] == RUNNING:
        raise exception.Conflict(reason='stop %s on %s before installing'
                                        % (service, host))
    _set(conn, host, service, version=version)
    _changed(conn, now, 'installed %s %s on %s' % (service, version, host),
             host)


def set_in_lb(conn, now, host, service, in_lb):
    if _service(conn, service)['kind'] != API:
        raise exception.InvalidInput(reason='%s is not behind the load '
                                            'balancer' % service)
    _instance(conn, host, service)
    _set(conn, host, service, in_lb=int(bool(in_lb)))
    _changed(conn, now, '%s %s on %s' % (
        'added to the load balancer:' if in_lb else
        'taken out of the load balancer:', service, host), host)


def rpc_pin(conn, service):
    """The version the control plane pins ``service``'s RPC to, or None."""
    _pinnable(service)
    if not _table(conn, 'cp_rpc_pins'):
        return None            # a state file from before the pins
    row = conn.execute('SELECT version FROM cp_rpc_pins WHERE service = ?',
                       (service,)).fetchone()
    return row['version'] if row else None


def pin_rpc(conn, now, service, version):
    """Pin the RPC version the control plane sends to ``service``."""
    _pinnable(service)
    generation(version)
    _pin(conn, service, version)
    _changed(conn, now, '%s RPC pinned to %s' % (service, version))


def unpin_rpc(conn, now, service):
    """Send ``service`` the RPC version of the code again (idempotent)."""
    if rpc_pin(conn, service) is None:
        return
    conn.execute('DELETE FROM cp_rpc_pins WHERE service = ?', (service,))
    _changed(conn, now, '%s RPC unpinned' % service)


def _pinnable(service):
    if service not in RPC_PINNABLE:
        raise exception.NotFound(what='RPC pin of %s (only %s)' % (
            service, ', '.join(RPC_PINNABLE)))


def _pin(conn, service, version):
    if not exists(conn):
        raise exception.NotFound(what='control plane')
    conn.execute(RPC_PINS_SCHEMA)
    conn.execute('INSERT OR REPLACE INTO cp_rpc_pins (service, version) '
                 'VALUES (?, ?)', (service, version))


def migrate(conn, now, db, phase, to):
    """Run a database's expand or contract migrations up to generation
    ``to``; contract never past what is expanded."""
    row = _existing_database(conn, db)
    if phase == 'expand':
        values = {'expanded': max(row['expanded'], to)}
    elif phase == 'contract':
        if to > row['expanded']:
            raise exception.Conflict(
                reason='cannot contract %s to %d: expanded only to %d'
                       % (db, to, row['expanded']))
        if to > row['migrated']:
            raise exception.Conflict(
                reason='cannot contract %s to %d: its data migrations ran '
                       'only to %d' % (db, to, row['migrated']))
        values = {'contracted': max(row['contracted'], to)}
    else:
        raise exception.InvalidInput(reason='phase is expand or contract')
    conn.execute('UPDATE cp_databases SET %s WHERE name = ?' % ', '.join(
        '%s = ?' % k for k in values), (*values.values(), db))
    _changed(conn, now, '%s migrations of %s to generation %d'
             % (phase, db, to))


def migrate_data(conn, now, db, to):
    """Run a database's online data migrations up to generation ``to``
    (its schema must be expanded that far); idempotent."""
    row = _existing_database(conn, db)
    if to > row['expanded']:
        raise exception.Conflict(
            reason='cannot migrate the data of %s to %d: expanded only to %d'
                   % (db, to, row['expanded']))
    conn.execute('UPDATE cp_databases SET migrated = ? WHERE name = ?',
                 (max(row['migrated'], to), db))
    _changed(conn, now, 'data migrations of %s to generation %d' % (db, to))


def backup(conn, now, db, label=None):
    """Back a database up; :returns: the backup (see :func:`backups`)."""
    row = _existing_database(conn, db)
    cursor = conn.execute(
        'INSERT INTO cp_backups (db, at, label, expanded, contracted, '
        'migrated, writes) VALUES (?, ?, ?, ?, ?, ?, ?)',
        (db, now, label, row['expanded'], row['contracted'],
         row['migrated'], row['writes']))
    referee.event(conn, now, 'control_plane', 'backup %d of %s taken'
                  % (cursor.lastrowid, db))
    return _backup(conn, db, cursor.lastrowid)


def backups(conn, db):
    """The backups of a database, oldest first: [{id, db, at, label,
    expanded, contracted, migrated, writes}]."""
    _existing_database(conn, db)
    return [dict(r) for r in conn.execute(
        'SELECT * FROM cp_backups WHERE db = ? ORDER BY id', (db,))]


def restore(conn, now, db, backup_id):
    """Put a database back as it was at a backup: what was written since
    is lost. :returns: {backup, writes_lost}."""
    found = _backup(conn, db, backup_id)
    lost = _existing_database(conn, db)['writes'] - found['writes']
    conn.execute('UPDATE cp_databases SET expanded = ?, contracted = ?, '
                 'migrated = ?, writes = ? WHERE name = ?',
                 (found['expanded'], found['contracted'], found['migrated'],
                  found['writes'], db))
    conn.execute('INSERT INTO cp_restores (at, backup, writes_lost) VALUES '
                 '(?, ?, ?)', (now, found['id'], lost))
    _changed(conn, now, 'restored %s from backup %d (%d writes lost)'
             % (db, found['id'], lost))
    return {'backup': found, 'writes_lost': lost}


def _backup(conn, db, backup_id):
    row = conn.execute('SELECT * FROM cp_backups WHERE id = ? AND db = ?',
                       (backup_id, db)).fetchone()
    if row is None:
        raise exception.NotFound(what='backup %s of database %s'
                                      % (backup_id, db))
    return dict(row)


def _existing_database(conn, db):
    row = _database(conn, db)
    if row is None:
        raise exception.NotFound(what='database %s' % db)
    return row


def _set(conn, host, service, **values):
    conn.execute('UPDATE cp_instances SET %s WHERE host = ? AND service = ?'
                 % ', '.join('%s = ?' % k for k in values),
                 (*values.values(), host, service))


def _changed(conn, now, message, host=None):
    """Log a change, then judge the state it left: incompatible pairings
    and a probe of every API through the balancer."""
    referee.event(conn, now, 'control_plane', message, host=host)
    for instance in conn.execute("SELECT * FROM cp_instances WHERE status "
                                 "= 'running' ORDER BY host, service"):
        if not usable(conn, instance):
            db = _database(conn, _service(conn, instance['service'])['db'])
            referee.record(
                conn, referee.INCOMPATIBLE_SCHEMA, now,
                '%s %s on %s runs on schema %s (generations %d-%d) it '
                'cannot use (after: %s)' % (
                    instance['service'], instance['version'],
                    instance['host'], db['name'], db['contracted'],
                    db['expanded'], message),
                host=instance['host'],
                details={'service': instance['service'],
                         'version': instance['version']})
    check_rpc(conn, now, message)
    for service in conn.execute("SELECT name FROM cp_services WHERE kind "
                                "= 'api' ORDER BY name"):
        probe(conn, now, service['name'], after=message)


def _computes(conn):
    """[(host, the nova-compute version it runs)] of the compute hosts,
    oldest generation first (a version that does not parse is left out)."""
    found = []
    for row in conn.execute('SELECT host, running_version FROM packages '
                            'WHERE name = ?', (COMPUTE,)):
        try:
            gen = generation(row['running_version'])
        except exception.InvalidInput:
            continue
        found.append((gen, row['host'], row['running_version']))
    return [(host, version) for _, host, version in sorted(found)]


def check_rpc(conn, now, after):
    """Judge the RPC between the nova control services and the computes
    (the rules are in this module's docstring); each pairing that breaks
    them is recorded once. Called after every change of either side."""
    computes = _computes(conn) if exists(conn) else []
    if not computes:
        return
    oldest = generation(computes[0][1])
    pin = rpc_pin(conn, COMPUTE)
    control = conn.execute(
        "SELECT * FROM cp_instances WHERE status = 'running' AND service IN "
        "(%s) ORDER BY host, service" % ', '.join('?' * len(NOVA_CONTROL)),
        NOVA_CONTROL).fetchall()
    if pin is None or generation(pin) > oldest:
        old = ', '.join('%s (%s)' % c for c in computes
                        if generation(c[1]) == oldest)
        for i in control:
            if generation(i['version']) > oldest:
                referee.record_once(
                    conn, referee.RPC_INCOMPATIBLE, now,
                    '%s %s on %s sends RPC the nova-compute of %s cannot '
                    'read (%s; after: %s)' % (
                        i['service'], i['version'], i['host'], old,
                        'not pinned' if pin is None else
                        'pinned to %s' % pin, after),
                    host=i['host'],
                    details={'service': i['service'], 'host': i['host'],
                             'version': i['version'],
                             'compute_generation': oldest})
    conductors = [generation(i['version']) for i in control
                  if i['service'] == CONDUCTOR]
    for host, version in computes:
        if conductors and generation(version) > min(conductors):
            referee.record_once(
                conn, referee.RPC_INCOMPATIBLE, now,
                '%s %s on %s is newer than nova-conductor of generation %d '
                '(computes go last; after: %s)' % (
                    COMPUTE, version, host, min(conductors), after),
                host=host,
                details={'service': COMPUTE, 'host': host,
                         'version': version,
                         'conductor_generation': min(conductors)})


def probe(conn, now, service, after=None):
    """One request to ``service`` through the load balancer.

    :returns: (ok, the version document of a healthy backend or None,
        reason). A failure is counted and recorded by the referee.
    """
    svc = _service(conn, service)
    backends = conn.execute('SELECT * FROM cp_instances WHERE service = ? '
                            'AND in_lb = 1 ORDER BY host',
                            (service,)).fetchall()
    bad = [b['host'] for b in backends if not healthy(conn, b)]
    good = [b for b in backends if healthy(conn, b)]
    reason = None
    if not good:
        reason = 'no healthy backend behind the load balancer'
    elif bad:
        # The balancer sends requests to every backend it holds.
        reason = 'backend(s) %s in the load balancer do not answer' % (
            ', '.join(bad))
    conn.execute('INSERT INTO cp_probes (at, service, ok, reason) VALUES '
                 '(?, ?, ?, ?)', (now, service, int(reason is None),
                                  reason))
    if reason is None:
        # A request that succeeds writes (a token, an image record...).
        conn.execute('UPDATE cp_databases SET writes = writes + 1 WHERE '
                     'name = ?', (svc['db'],))
    if reason is not None:
        referee.record(conn, referee.API_REQUEST_FAILED, now, '%s: %s%s' % (
            service, reason, ' (after: %s)' % after if after else ''),
            details={'service': service})
    document = None
    if good:
        version = good[0]['version']
        document = dict(json.loads(svc['documents']).get(version, {}),
                        service=service, version=version)
    return reason is None, document, reason


# -- reading ------------------------------------------------------------------

def host_services(conn, host):
    """The services of one controller, as seen on the host itself (not
    through the balancer, so not a probe): {service: {version, status,
    in_lb, healthy, kind, document}}."""
    found = {}
    for i in conn.execute('SELECT * FROM cp_instances WHERE host = ? ORDER '
                          'BY service', (host,)):
        svc = _service(conn, i['service'])
        up = healthy(conn, i)
        found[i['service']] = {
            'version': i['version'], 'status': i['status'],
            'in_lb': bool(i['in_lb']), 'healthy': up, 'kind': svc['kind'],
            'document': (dict(json.loads(svc['documents']).get(
                i['version'], {}), service=i['service'],
                version=i['version']) if up else None)}
    if not found:
        raise exception.NotFound(what='controller %s' % host)
    return found


def describe(conn):
    """Every service, its instances and database, as a JSON-friendly dict."""
    pins = {service: rpc_pin(conn, service) for service in RPC_PINNABLE}
    if not exists(conn):
        return {'services': {}, 'databases': {}, 'rpc_pins': pins}
    services = {}
    for svc in conn.execute('SELECT * FROM cp_services ORDER BY name'):
        services[svc['name']] = {
            'kind': svc['kind'], 'database': svc['db'],
            'instances': {
                i['host']: {'version': i['version'], 'status': i['status'],
                            'in_lb': bool(i['in_lb']),
                            'healthy': healthy(conn, i)}
                for i in conn.execute('SELECT * FROM cp_instances WHERE '
                                      'service = ? ORDER BY host',
                                      (svc['name'],))}}
    databases = {d['name']: {'expanded': d['expanded'],
                             'contracted': d['contracted'],
                             'migrated': d['migrated'],
                             'writes': d['writes']}
                 for d in conn.execute('SELECT * FROM cp_databases '
                                       'ORDER BY name')}
    return {'services': services, 'databases': databases, 'rpc_pins': pins}


def report(conn):
    """The referee's control-plane counts: probes, failed probes (the API
    downtime), incompatible code/schema pairings, incompatible RPC pairings
    (and the pins), restores and the writes they lost."""
    pins = {service: rpc_pin(conn, service) for service in RPC_PINNABLE}
    rpc = conn.execute('SELECT COUNT(*) FROM violations WHERE kind = ?',
                       (referee.RPC_INCOMPATIBLE,)).fetchone()[0]
    if not exists(conn):
        return {'probes': 0, 'failed_probes': 0, 'failed_by_service': {},
                'incompatible': 0, 'rpc_incompatible': rpc,
                'rpc_pins': pins, 'restores': 0, 'writes_lost': 0}
    restores = conn.execute('SELECT COUNT(*), COALESCE(SUM(writes_lost), 0) '
                            'FROM cp_restores').fetchone()
    failed = {r['service']: r['n'] for r in conn.execute(
        'SELECT service, COUNT(*) AS n FROM cp_probes WHERE ok = 0 '
        'GROUP BY service ORDER BY service')}
    return {
        'probes': conn.execute('SELECT COUNT(*) FROM cp_probes')
        .fetchone()[0],
        'failed_probes': sum(failed.values()),
        'failed_by_service': failed,
        'incompatible': conn.execute(
            'SELECT COUNT(*) FROM violations WHERE kind = ?',
            (referee.INCOMPATIBLE_SCHEMA,)).fetchone()[0],
        'rpc_incompatible': rpc,
        'rpc_pins': pins,
        'restores': restores[0],
        'writes_lost': restores[1],
    }
