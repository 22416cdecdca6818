"""Schema version, sync and check on SQLite."""

import pytest

from upgrader.common import exception
from upgrader.db import migration
from tests.fixtures.databases import use_database


def test_version_sync_check(sqlite_url, tmp_path):
    with use_database(sqlite_url):
        assert migration.version() is None
        assert list(tmp_path.iterdir()) == []  # version() created nothing
        with pytest.raises(exception.DatabaseNotSynced) as info:
            migration.check_current()
        assert info.value.kwargs == {'current': 'no schema',
                                     'expected': migration.head()}
        assert migration.upgrade() == migration.head()
        assert migration.upgrade() == migration.head()  # idempotent
        assert migration.check_current() == migration.head()


def test_unknown_revision(sqlite_url):
    with use_database(sqlite_url):
        with pytest.raises(exception.InvalidInput, match='nope'):
            migration.upgrade('nope')


def test_single_head():
    from alembic import script as alembic_script
    script = alembic_script.ScriptDirectory.from_config(migration._config())
    assert script.get_heads() == [migration.HEAD], (
        'a new migration: set upgrader.db.migration.HEAD to its revision')
