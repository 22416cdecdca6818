"""SQLite as a database several threads and processes write at once.

In WAL mode a transaction that reads then writes fails at once with
"database is locked" when another writer got in between (its snapshot
cannot be upgraded), whatever the busy timeout. Starting every transaction
with BEGIN IMMEDIATE makes it wait for the writer instead.
"""

import sqlalchemy as sa


def serialise_writers(engine):
    """Open every transaction of ``engine`` with BEGIN IMMEDIATE.

    oslo.db's engines already emit their own BEGIN (marking it in
    ``conn.info['in_transaction']``); this does the same for the others,
    and turns either BEGIN into BEGIN IMMEDIATE on its way to SQLite.
    """

    @sa.event.listens_for(engine, 'connect')
    def _on_connect(dbapi_conn, _record):
        # Let the begin event below, not pysqlite, open transactions.
        dbapi_conn.isolation_level = None

    @sa.event.listens_for(engine, 'begin')
    def _on_begin(conn):
        if 'in_transaction' not in conn.info:
            conn.exec_driver_sql('BEGIN')
            conn.info['in_transaction'] = True

    @sa.event.listens_for(engine, 'commit')
    @sa.event.listens_for(engine, 'rollback')
    def _on_end(conn):
        conn.info.pop('in_transaction', None)

    @sa.event.listens_for(engine, 'before_cursor_execute', retval=True)
    def _immediate(conn, cursor, statement, parameters, context, many):
        if statement == 'BEGIN':
            statement = 'BEGIN IMMEDIATE'
        return statement, parameters
