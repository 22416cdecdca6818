"""Schema of our tables: sync (alembic upgrade), version, head and check.

Our alembic version table is ``upgrader_alembic_version`` so that TaskFlow's
persistence (default ``alembic_version``) can share the database.

Every command checks the schema before its first query: that check reads the
version table with SQLAlchemy and compares it with :data:`HEAD`, without
alembic, which is slow to import (about 150 ms); only sync and downgrade
load it.
"""

import os

import sqlalchemy as sa

from upgrader.common import exception
from upgrader.db.sqlalchemy import engine as db_engine

VERSION_TABLE = 'upgrader_alembic_version'
SCRIPT_LOCATION = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                               'sqlalchemy', 'alembic')
# The head of alembic/versions: a new migration changes it (a unit test
# compares it with alembic's).
HEAD = '5e8c1f4a7d23'

_VERSIONS = sa.table(VERSION_TABLE, sa.column('version_num'))


def _config(connection=None):
    from alembic import config as alembic_config
    config = alembic_config.Config()
    config.set_main_option('script_location', SCRIPT_LOCATION)
    config.attributes['connection'] = connection
    return config


def head():
    """The revision this code expects."""
    return HEAD


def version():
    """The database's current revision; None if the schema is missing.

    Never creates a missing SQLite file. Several revisions (a branched
    history, not this code's) are returned joined by commas.
    """
    path = db_engine.sqlite_path()
    if path is not None and not os.path.exists(path):
        return None
    with db_engine.connect() as connection:
        if not sa.inspect(connection).has_table(VERSION_TABLE):
            return None
        found = connection.execute(sa.select(_VERSIONS.c.version_num))
        return ','.join(sorted(found.scalars())) or None


def _run(fn, revision):
    from alembic import util as alembic_util
    db_engine.check_sqlite_directory(create=True)
    try:
        with db_engine.connect(begin=True) as connection:
            fn(_config(connection), revision)
        if db_engine.sqlite_path() is not None:
            with db_engine.connect() as connection:
                db_engine.set_wal(connection.connection.cursor())
            # Pooled connections opened on the empty file lack the
            # pragmas of WAL mode (synchronous=NORMAL): open new ones.
            db_engine.get_context_manager().dispose_pool()
    except alembic_util.CommandError as e:
        raise exception.InvalidInput(
            reason='revision %s: %s' % (revision, e)) from e
    # The schema changed under any cached check.
    db_engine.set_schema_checked(False)


def upgrade(revision=None):
    """Upgrade the schema to revision (default: head). Returns the new one."""
    from alembic import command  # slow to import; only db sync needs it
    _run(command.upgrade, revision or 'head')
    return version()


def downgrade(revision):
    """Downgrade the schema to revision ('base' drops every table)."""
    from alembic import command
    _run(command.downgrade, revision)
    return version()


def check_current():
    """Return the current revision if it is head.

    :raises DatabaseNotSynced: the schema is missing, behind, or unknown to
        this code (newer).
    :raises DatabaseUnavailable: the database cannot be reached.
    """
    current = version()
    expected = head()
    if current != expected:
        raise exception.DatabaseNotSynced(current=current or 'no schema',
                                          expected=expected)
    return current
