"""The engine: SQLite pragmas, missing directories, errors with the password
masked."""

import pytest
import sqlalchemy as sa

from upgrader.common import exception
from upgrader.db import migration
from upgrader.db.sqlalchemy import engine
from tests.fixtures.databases import use_database


def test_sqlite_pragmas(sqlite_url):
    with use_database(sqlite_url):
        migration.upgrade()
        with engine.connect() as connection:
            pragma = connection.exec_driver_sql
            assert pragma('PRAGMA foreign_keys').scalar() == 1
            assert pragma('PRAGMA journal_mode').scalar() == 'wal'
            assert pragma('PRAGMA busy_timeout').scalar() == (
                engine.SQLITE_BUSY_TIMEOUT_MS)
            assert pragma('PRAGMA synchronous').scalar() == 1   # NORMAL


def test_sqlite_file_pooled(sqlite_url):
    # One connection reused, not a new one (and a WAL checkpoint when it
    # closes) per transaction.
    with use_database(sqlite_url):
        migration.upgrade()
        seen = set()
        for _ in range(3):
            with engine.connect() as connection:
                seen.add(id(connection.connection.dbapi_connection))
        assert len(seen) == 1
        assert isinstance(engine.get_engine().pool, sa.pool.QueuePool)


def test_sqlite_directory_missing(tmp_path):
    url = 'sqlite:///%s/missing/dir/x.sqlite' % tmp_path
    with use_database(url):
        with pytest.raises(exception.DatabaseUnavailable,
                           match='missing/dir of the SQLite'):
            engine.get_engine()
        # db sync creates it.
        assert migration.upgrade() == migration.head()
    assert (tmp_path / 'missing' / 'dir' / 'x.sqlite').exists()


def test_sqlite_path():
    assert engine.sqlite_path('sqlite://') is None
    assert engine.sqlite_path('sqlite:///:memory:') is None
    assert engine.sqlite_path('sqlite:////a/b.sqlite') == '/a/b.sqlite'
    assert engine.sqlite_path('mysql+pymysql://u:p@h/db') is None


def test_unreachable_masks_password():
    url = 'mysql+pymysql://root:hunter2@127.0.0.1:1/upgrader'
    with use_database(url):
        with pytest.raises(exception.DatabaseUnavailable) as info:
            migration.version()
    message = str(info.value)
    assert 'hunter2' not in message
    assert 'root:***@127.0.0.1:1' in message
    assert len(message.splitlines()) == 1


def test_bad_url():
    with use_database('nosuchdb://x/y'):
        with pytest.raises(exception.ConfigInvalid, match='nosuchdb'):
            migration.version()


def test_masked_url():
    assert engine.masked_url('postgresql://u:secret@h/db') == (
        'postgresql://u:***@h/db')
    assert engine.masked_url('not a url') == '<invalid URL>'
