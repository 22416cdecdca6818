"""SQLite as a database several threads and processes write at once.

In WAL mode a transaction that reads then writes fails at once with
"database is locked" when another writer got in between (its snapshot
cannot be upgraded), whatever the busy timeout. Starting every transaction
with BEGIN IMMEDIATE makes it wait for the writer instead.
"""

import sqlalchemy as sa


def serialise_writers(engine):
    """Open every transaction of ``engine`` with BEGIN IMMEDIATE."""

    @sa.event.listens_for(engine, 'connect')
    def _on_connect(dbapi_conn, _record):
        # Let the begin event below, not pysqlite, open transactions.
        dbapi_conn.isolation_level = None

    # First in line: oslo.db's own begin listener (which emits a plain
    # BEGIN) sees the marker it uses and does nothing.
    @sa.event.listens_for(engine, 'begin', insert=True)
    def _on_begin(conn):
        if 'in_transaction' not in conn.info:
            conn.exec_driver_sql('BEGIN IMMEDIATE')
            conn.info['in_transaction'] = True

    @sa.event.listens_for(engine, 'commit')
    @sa.event.listens_for(engine, 'rollback')
    def _on_end(conn):
        conn.info.pop('in_transaction', None)
