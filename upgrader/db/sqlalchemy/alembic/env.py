"""Alembic environment of our tables, in our own version table.

TaskFlow's persistence may share the database and uses alembic's default
``alembic_version`` table: ours is ``upgrader_alembic_version``.
"""

from alembic import context

from upgrader.db import migration
from upgrader.db.sqlalchemy import engine
from upgrader.db.sqlalchemy import models


def _run(connection):
    context.configure(connection=connection,
                      target_metadata=models.Base.metadata,
                      version_table=migration.VERSION_TABLE,
                      render_as_batch=True,
                      compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    connection = context.config.attributes.get('connection')
    if connection is not None:
        _run(connection)
        return
    with engine.get_engine().begin() as connection:
        _run(connection)


run_migrations_online()
