"""The simulator's state: one SQLite file shared by every process using it.

WAL and a busy timeout let several server processes and the command line
read and write the same cloud; every change runs in one IMMEDIATE transaction.
"""

import contextlib
import json
import os
import sqlite3

from upgrader.common import exception

SCHEMA_VERSION = 2
BUSY_TIMEOUT_MS = 30000

SCHEMA = """
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL            -- JSON
);
CREATE TABLE hosts (
    name TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    service_id INTEGER NOT NULL,   -- legacy integer id (< 2.53)
    service_uuid TEXT NOT NULL UNIQUE,
    node_uuid TEXT NOT NULL UNIQUE, -- hypervisor id = resource provider uuid
    az TEXT NOT NULL,
    host_ip TEXT NOT NULL,
    vcpus INTEGER NOT NULL,
    memory_mb INTEGER NOT NULL,
    disk_gb INTEGER NOT NULL,
    vcpu_ratio REAL NOT NULL,
    ram_ratio REAL NOT NULL,
    disk_ratio REAL NOT NULL,
    reserved_vcpus INTEGER NOT NULL,
    reserved_memory_mb INTEGER NOT NULL,
    reserved_disk_gb INTEGER NOT NULL,
    status TEXT NOT NULL,          -- enabled | disabled
    disabled_reason TEXT,
    forced_down INTEGER NOT NULL DEFAULT 0,
    service_broken INTEGER NOT NULL DEFAULT 0, -- nova-compute fails to start
    initially_enabled INTEGER NOT NULL,
    power TEXT NOT NULL,           -- up | rebooting
    boot_id TEXT NOT NULL,
    booted_at REAL NOT NULL,
    reboots INTEGER NOT NULL DEFAULT 0,
    updated_at REAL NOT NULL
);
CREATE TABLE packages (
    host TEXT NOT NULL REFERENCES hosts(name),
    name TEXT NOT NULL,
    version TEXT NOT NULL,         -- installed
    running_version TEXT NOT NULL, -- in use until the next reboot
    PRIMARY KEY (host, name)
);
CREATE TABLE flavors (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    vcpus INTEGER NOT NULL,
    ram INTEGER NOT NULL,
    disk INTEGER NOT NULL,
    ephemeral INTEGER NOT NULL DEFAULT 0,
    swap INTEGER NOT NULL DEFAULT 0,
    extra_specs TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE instances (
    uuid TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    name TEXT NOT NULL,
    project_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    flavor_id TEXT NOT NULL REFERENCES flavors(id),
    host TEXT NOT NULL REFERENCES hosts(name),
    az TEXT NOT NULL,
    status TEXT NOT NULL,
    vm_state TEXT NOT NULL,
    task_state TEXT,
    power_state INTEGER NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{}',
    tags TEXT NOT NULL DEFAULT '[]',  -- JSON list, in the order added
    live_migratable INTEGER NOT NULL DEFAULT 1,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX instances_host ON instances(host);
CREATE TABLE server_groups (
    uuid TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    policy TEXT NOT NULL,
    project_id TEXT NOT NULL,
    user_id TEXT NOT NULL
);
CREATE TABLE server_group_members (
    group_uuid TEXT NOT NULL REFERENCES server_groups(uuid),
    instance_uuid TEXT NOT NULL REFERENCES instances(uuid),
    PRIMARY KEY (group_uuid, instance_uuid)
);
CREATE TABLE aggregates (
    id INTEGER PRIMARY KEY,
    uuid TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL UNIQUE,
    az TEXT,
    metadata TEXT NOT NULL DEFAULT '{}',
    created_at REAL NOT NULL
);
CREATE TABLE aggregate_hosts (
    aggregate_id INTEGER NOT NULL REFERENCES aggregates(id),
    host TEXT NOT NULL REFERENCES hosts(name),
    PRIMARY KEY (aggregate_id, host)
);
CREATE TABLE migrations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    uuid TEXT NOT NULL UNIQUE,
    instance_uuid TEXT NOT NULL REFERENCES instances(uuid),
    migration_type TEXT NOT NULL,  -- live-migration | migration (cold)
    old_vm_state TEXT,             -- cold: active | stopped, restored after
    source_compute TEXT NOT NULL,
    dest_compute TEXT NOT NULL,
    status TEXT NOT NULL,
    outcome TEXT NOT NULL,         -- completed | error, decided at start
    stuck INTEGER NOT NULL DEFAULT 0,
    started_at REAL NOT NULL,
    ends_at REAL NOT NULL,         -- wall time; ignored when stuck
    flavor_id TEXT NOT NULL,
    project_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    error TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX migrations_instance ON migrations(instance_uuid);
CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    host TEXT NOT NULL REFERENCES hosts(name),
    kind TEXT NOT NULL,            -- install | reboot
    status TEXT NOT NULL,          -- running | succeeded | failed
    params TEXT NOT NULL DEFAULT '{}',
    outcome TEXT NOT NULL,         -- succeeded | failed | never
    error TEXT,
    started_at REAL NOT NULL,
    ends_at REAL NOT NULL,
    finished_at REAL
);
CREATE TABLE faults (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    host TEXT,
    instance TEXT,
    package TEXT,
    path TEXT,
    method TEXT,
    status INTEGER,
    delay REAL,
    probability REAL,
    remaining INTEGER,             -- NULL: unlimited
    hits INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL
);
CREATE TABLE violations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    at REAL NOT NULL,
    host TEXT,
    instance_uuid TEXT,
    message TEXT NOT NULL,
    details TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    kind TEXT NOT NULL,
    host TEXT,
    instance_uuid TEXT,
    message TEXT NOT NULL
);
CREATE TABLE tokens (
    digest TEXT PRIMARY KEY,       -- sha256 of the token, never the token
    issued_at REAL NOT NULL,
    expires_at REAL NOT NULL
);
"""


def connect(path, create=False):
    """Open the state file; raise NotFound unless it exists or create is set.

    The connection is in autocommit mode: callers group their statements with
    :func:`transaction`.
    """
    path = os.fspath(path)
    if not create and not os.path.exists(path):
        raise exception.NotFound(what='simulator state file %s' % path)
    try:
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000.0,
                               isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute('PRAGMA busy_timeout = %d' % BUSY_TIMEOUT_MS)
        conn.execute('PRAGMA journal_mode = WAL')
        conn.execute('PRAGMA synchronous = NORMAL')
        conn.execute('PRAGMA foreign_keys = ON')
    except sqlite3.DatabaseError as e:
        raise exception.InvalidInput(
            reason='%s is not a simulator state file: %s' % (path, e))
    if not create:
        check_schema(conn, path)
    return conn


def check_schema(conn, path):
    try:
        row = conn.execute(
            "SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    except sqlite3.DatabaseError:
        row = None
    if row is None or json.loads(row['value']) != SCHEMA_VERSION:
        raise exception.InvalidInput(
            reason='%s is not a simulator state file (schema %s expected)'
                   % (path, SCHEMA_VERSION))


def create_schema(conn):
    conn.executescript(SCHEMA)
    set_meta(conn, 'schema_version', SCHEMA_VERSION)


@contextlib.contextmanager
def transaction(conn):
    """An IMMEDIATE transaction: one writer at a time across processes."""
    conn.execute('BEGIN IMMEDIATE')
    try:
        yield conn
    except BaseException:
        conn.execute('ROLLBACK')
        raise
    conn.execute('COMMIT')


def get_meta(conn, key, default=None):
    row = conn.execute('SELECT value FROM meta WHERE key = ?',
                       (key,)).fetchone()
    return default if row is None else json.loads(row['value'])


def set_meta(conn, key, value):
    conn.execute('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)',
                 (key, json.dumps(value, sort_keys=True)))
