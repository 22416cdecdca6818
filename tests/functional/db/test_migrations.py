"""Walk the migrations up, down and up again on SQLite, PostgreSQL and MariaDB.

After the walk the schema must be exactly the models (alembic's
compare_metadata finds nothing).
"""

import contextlib

from alembic import autogenerate
from alembic import migration as alembic_migration
import sqlalchemy as sa

from upgrader.db import migration
from upgrader.db.sqlalchemy import engine
from upgrader.db.sqlalchemy import models

OUR_TABLES = {'releases', 'release_components', 'deployments', 'rollouts',
              'host_runs', 'instance_moves', 'events', 'schedules'}


def _tables():
    with engine.connect() as connection:
        return set(sa.inspect(connection).get_table_names())


def _diff():
    with engine.connect() as connection:
        context = alembic_migration.MigrationContext.configure(
            connection, opts={'compare_type': True,
                              'version_table': migration.VERSION_TABLE})
        return autogenerate.compare_metadata(context, models.Base.metadata)


def test_walk_and_compare(configured_db):
    assert migration.version() is None
    assert migration.upgrade() == migration.head()
    assert OUR_TABLES | {migration.VERSION_TABLE} == _tables()
    assert _diff() == []

    assert migration.downgrade('base') is None
    assert _tables() == {migration.VERSION_TABLE}

    assert migration.upgrade() == migration.head()
    assert migration.check_current() == migration.head()
    assert _diff() == []


def test_shares_database_with_taskflow(configured_db):
    # TaskFlow's persistence uses alembic's default version table; both
    # schemas live side by side in one database.
    from taskflow.persistence.backends import impl_sqlalchemy

    backend = impl_sqlalchemy.SQLAlchemyBackend(
        {'connection': configured_db})
    try:
        with contextlib.closing(backend.get_connection()) as connection:
            connection.upgrade()
        migration.upgrade()
        tables = _tables()
        assert {'logbooks', migration.VERSION_TABLE} <= tables
        if not configured_db.startswith('sqlite'):
            # (On SQLite TaskFlow creates its tables without alembic.)
            assert 'alembic_version' in tables
        assert OUR_TABLES <= tables
        assert migration.check_current() == migration.head()
    finally:
        backend.close()
