"""The db API on the real servers: what differs between SQLite, PostgreSQL and
MariaDB (duplicates, cascades, microseconds, large texts, utf8mb4)."""

import pytest
import sqlalchemy as sa

from upgrader.common import exception
from upgrader.db import api
from upgrader.db.sqlalchemy import engine


def test_duplicate_release(dbapi_any_backend):
    dbapi_any_backend.release_create('r1', {'nova': '29.1.0'})
    with pytest.raises(exception.ReleaseExists):
        dbapi_any_backend.release_create('r1', {'nova': '29.2.0'})
    assert [r.name for r in dbapi_any_backend.release_list()] == ['r1']


def test_unicode_and_large_plan(dbapi_any_backend):
    release = dbapi_any_backend.release_create(
        'r1', {'nova': '29.1.0'}, description='caf\u00e9 \U0001f680')
    plan = {'moves': ['x' * 100] * 2000}  # ~200 KB: more than MySQL's TEXT
    rollout = dbapi_any_backend.rollout_create(to_release=release.uuid,
                                               plan=plan)
    assert dbapi_any_backend.rollout_get(rollout.uuid).plan == plan
    assert (dbapi_any_backend.release_get('r1').description
            == 'caf\u00e9 \U0001f680')


def test_event_microseconds(dbapi_any_backend):
    added = [dbapi_any_backend.event_add('e%d' % i) for i in range(3)]
    listed = dbapi_any_backend.event_list()
    assert [e.created_at for e in listed] == [e.created_at for e in added]
    assert [e.message for e in listed] == ['e0', 'e1', 'e2']


def test_rollout_delete_cascades(dbapi_any_backend):
    rollout = dbapi_any_backend.rollout_create()
    dbapi_any_backend.host_run_create(rollout.uuid, 'cmp1', 0)
    dbapi_any_backend.instance_move_create(
        rollout.uuid, '6f1a9c3e-1d2b-4c5d-8e9f-0a1b2c3d4e5f', 'cmp1')
    dbapi_any_backend.event_add('started', rollout=rollout.uuid)
    dbapi_any_backend.event_add('not of a rollout')
    with engine.connect(begin=True) as connection:
        connection.execute(sa.text('DELETE FROM rollouts WHERE id = :id'),
                           {'id': rollout.id})
    with engine.connect() as connection:
        for table in ('host_runs', 'instance_moves'):
            assert connection.execute(
                sa.text('SELECT COUNT(*) FROM %s' % table)).scalar() == 0
    assert [e.message for e in dbapi_any_backend.event_list()] == [
        'not of a rollout']


def test_not_synced(configured_db):
    with pytest.raises(exception.DatabaseNotSynced):
        api.get_instance().release_list()
