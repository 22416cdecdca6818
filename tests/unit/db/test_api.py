"""The db API on SQLite: the contract of upgrader.db.api.Connection."""

import datetime

import pytest

from upgrader.common import exception
from upgrader.common import states
from upgrader.db import api
from upgrader.db import migration
from upgrader.db.sqlalchemy import engine

UUID1 = '6f1a9c3e-1d2b-4c5d-8e9f-0a1b2c3d4e5f'


# Releases.

def test_release_create_get_list(dbapi):
    created = dbapi.release_create('2024.1', {'nova': '29.1.0',
                                              'keystone': '25.0.1'},
                                   description='first')
    assert created.versions == {'nova': '29.1.0', 'keystone': '25.0.1'}
    for ident in ('2024.1', created.uuid):
        got = dbapi.release_get(ident)
        assert got.uuid == created.uuid
        assert got.to_dict() == {
            'uuid': created.uuid, 'name': '2024.1', 'description': 'first',
            'parent': None, 'created_at': created.created_at.isoformat(),
            'components': {'keystone': '25.0.1', 'nova': '29.1.0'}}
    second = dbapi.release_create(None, {'nova': '29.2.0'})
    assert second.name == 'release-' + second.uuid[:8]
    assert [r.name for r in dbapi.release_list()] == ['2024.1', second.name]


def test_release_parent_inherits_components(dbapi):
    dbapi.release_create('r1', {'nova': '29.1.0', 'keystone': '25.0.1'})
    child = dbapi.release_create('r2', {'nova': '29.2.0'}, parent='r1')
    got = dbapi.release_get('r2')
    assert got.versions == {'nova': '29.2.0', 'keystone': '25.0.1'}
    assert got.parent_name == 'r1' == child.to_dict()['parent']
    with pytest.raises(exception.ReleaseNotFound):
        dbapi.release_create('r3', {'nova': '1'}, parent='nope')


def test_release_duplicate_name(dbapi):
    dbapi.release_create('r1', {'nova': '29.1.0'})
    with pytest.raises(exception.ReleaseExists, match='r1'):
        dbapi.release_create('r1', {'nova': '29.2.0'})
    assert dbapi.release_get('r1').versions == {'nova': '29.1.0'}


@pytest.mark.parametrize('name,components', [
    ('', {'nova': '1'}),
    ('has space', {'nova': '1'}),
    (UUID1, {'nova': '1'}),
    ('x' * 256, {'nova': '1'}),
    ('r1', {}),
    ('r1', {'no va': '1'}),
    ('r1', {'nova': ''}),
    ('r1', {'nova': '1 2'}),
    ('r1', {'': '1'}),
    ('r1', ['nova=1']),
])
def test_release_invalid(dbapi, name, components):
    with pytest.raises(exception.InvalidInput):
        dbapi.release_create(name, components)
    assert dbapi.release_list() == []


def test_release_debian_versions(dbapi):
    versions = {'python3-nova': '2:29.1.0-0ubuntu1~cloud0'}
    assert dbapi.release_create('r1', versions).versions == versions


def test_release_not_found(dbapi):
    for ident in ('nope', UUID1):
        with pytest.raises(exception.ReleaseNotFound, match=ident):
            dbapi.release_get(ident)


# Deployments.

def test_deployments_track_the_current_release(dbapi):
    assert dbapi.current_release() is None
    assert dbapi.deployment_list() == []
    dbapi.release_create('r1', {'nova': '29.1.0'})
    dbapi.release_create('r2', {'nova': '29.2.0'})
    first = dbapi.deployment_add('r1', note='as found')
    assert first.to_dict() == {'id': first.id, 'note': 'as found',
                               'created_at': first.created_at.isoformat(),
                               'release': 'r1', 'rollout': None}
    rollout = dbapi.rollout_create(name='up', from_release='r1',
                                   to_release='r2')
    dbapi.deployment_add('r2', rollout=rollout.uuid)
    assert dbapi.current_release().name == 'r2'
    assert [(d.release.name, d.rollout.name if d.rollout else None)
            for d in dbapi.deployment_list()] == [('r1', None),
                                                   ('r2', 'up')]
    dbapi.deployment_add('r1', rollout='up', note='rolled back')
    assert dbapi.current_release().versions == {'nova': '29.1.0'}
    with pytest.raises(exception.ReleaseNotFound):
        dbapi.deployment_add('nope')
    with pytest.raises(exception.RolloutNotFound):
        dbapi.deployment_add('r1', rollout='nope')
    assert len(dbapi.deployment_list()) == 3


def test_rollback_of_and_target_versions(dbapi):
    dbapi.rollout_create(name='up')
    back = dbapi.rollout_create(name='back', rollback_of='up')
    dbapi.host_run_create('back', 'cmp1', 1,
                          target_versions={'qemu': '8.0.0'})
    assert dbapi.rollout_get(back.uuid).to_dict()['rollback_of'] == 'up'
    assert dbapi.rollout_get('up').to_dict()['rollback_of'] is None
    run = dbapi.host_run_get('back', 'cmp1')
    assert run.target_versions == {'qemu': '8.0.0'}
    assert run.to_dict()['target_versions'] == {'qemu': '8.0.0'}
    with pytest.raises(exception.RolloutNotFound):
        dbapi.rollout_create(name='x', rollback_of='nope')


# Rollouts.

def test_rollout_create_get_list(dbapi):
    dbapi.release_create('r1', {'nova': '29.1.0'})
    dbapi.release_create('r2', {'nova': '29.2.0'})
    rollout = dbapi.rollout_create(
        name='up', from_release='r1', to_release='r2',
        template_name='compute-rolling-upgrade', template_content='steps: []',
        policy={'max_unavailable': 1}, plan={'waves': [['cmp1']]})
    assert rollout.state == states.PLANNED
    assert len(rollout.template_digest) == 64
    for ident in (rollout.id, rollout.uuid, 'up'):
        got = dbapi.rollout_get(ident)
        assert got.to_dict() == rollout.to_dict()
    data = rollout.to_dict()
    assert (data['from_release'], data['to_release']) == ('r1', 'r2')
    assert data['policy'] == {'max_unavailable': 1}
    other = dbapi.rollout_create(state=states.RUNNING)
    assert other.name.startswith('rollout-')
    assert [r.name for r in dbapi.rollout_list()] == ['up', other.name]
    assert [r.name for r in dbapi.rollout_list(state=states.RUNNING)] == [
        other.name]
    with pytest.raises(exception.RolloutExists):
        dbapi.rollout_create(name='up')
    with pytest.raises(exception.ReleaseNotFound):
        dbapi.rollout_create(to_release='nope')
    with pytest.raises(exception.RolloutNotFound):
        dbapi.rollout_get('nope')


def test_rollout_update(dbapi):
    rollout = dbapi.rollout_create()
    now = datetime.datetime(2025, 1, 2, 3, 4, 5, 678901)
    updated = dbapi.rollout_update(
        rollout.uuid, {'state': states.RUNNING, 'started_at': now},
        expected_state=states.PLANNED)
    assert updated.state == states.RUNNING
    assert updated.started_at == now
    assert updated.updated_at is not None
    with pytest.raises(exception.StateConflict, match='running'):
        dbapi.rollout_update(rollout.id, {'state': states.FAILED},
                             expected_state=states.PLANNED)
    with pytest.raises(exception.InvalidInput, match='uuid'):
        dbapi.rollout_update(rollout.id, {'uuid': UUID1})
    with pytest.raises(exception.RolloutNotFound):
        dbapi.rollout_update('nope', {'state': states.FAILED})
    failed = dbapi.rollout_update(
        rollout.id, {'state': states.FAILED,
                     'error': 'ssh: password=hunter2 refused'})
    assert 'hunter2' not in failed.error
    assert dbapi.rollout_get(rollout.id).state == states.FAILED


# Host runs.

def test_host_runs(dbapi):
    rollout = dbapi.rollout_create()
    dbapi.host_run_create(rollout.uuid, 'cmp2', 1)
    dbapi.host_run_create(rollout.uuid, 'cmp1', 1,
                          facts={'nova-compute': '29.1.0'})
    dbapi.host_run_create(rollout.id, 'cmp0', 0)
    with pytest.raises(exception.HostRunExists):
        dbapi.host_run_create(rollout.id, 'cmp0', 2)
    with pytest.raises(exception.RolloutNotFound):
        dbapi.host_run_create('nope', 'cmp0', 0)
    assert [r.host for r in dbapi.host_run_list(rollout.id)] == [
        'cmp0', 'cmp1', 'cmp2']
    assert [r.host for r in dbapi.host_run_list(rollout.id, wave=1)] == [
        'cmp1', 'cmp2']
    run = dbapi.host_run_get(rollout.name, 'cmp1')
    assert run.state == states.HOST_PENDING
    assert run.facts == {'nova-compute': '29.1.0'}

    run = dbapi.host_run_update(rollout.uuid, 'cmp1', {
        'state': states.HOST_RUNNING, 'step': 'cmp1.evacuate'},
        expected_state=states.HOST_PENDING)
    assert (run.state, run.step) == (states.HOST_RUNNING, 'cmp1.evacuate')
    with pytest.raises(exception.StateConflict):
        dbapi.host_run_update(rollout.uuid, 'cmp1',
                              {'state': states.HOST_RUNNING},
                              expected_state=states.HOST_PENDING)
    with pytest.raises(exception.HostRunNotFound):
        dbapi.host_run_update(rollout.uuid, 'cmp9', {'state': 'x'})
    with pytest.raises(exception.HostRunNotFound):
        dbapi.host_run_get(rollout.uuid, 'cmp9')
    assert [r.host for r in dbapi.host_run_list(
        rollout.id, state=[states.HOST_RUNNING])] == ['cmp1']


def test_host_run_record(dbapi):
    rollout = dbapi.rollout_create()
    dbapi.host_run_create(rollout.uuid, 'cmp1', 0, facts={'kept': 1})
    # An update and its events in one call; nothing returned.
    assert dbapi.host_run_record(rollout.uuid, 'cmp1', {'step': 'reboot'}, [
        {'message': 'step started', 'step': 'reboot'},
        {'message': 'token=hunter2', 'level': 'warning'}]) is None
    assert dbapi.host_run_get(rollout.uuid, 'cmp1').step == 'reboot'
    assert [(e.host, e.step, e.level, e.message) for e in dbapi.event_list(
        rollout=rollout.id)] == [
        ('cmp1', 'reboot', 'info', 'step started'),
        ('cmp1', None, 'warning', 'token=***')]
    # A counting fact: incremented, the other facts kept.
    assert dbapi.host_run_record(rollout.uuid, 'cmp1',
                                 count_fact='claims') == 1
    assert dbapi.host_run_record(rollout.id, 'cmp1',
                                 count_fact='claims') == 2
    assert dbapi.host_run_get(rollout.uuid, 'cmp1').facts == {
        'kept': 1, 'claims': 2}
    for values, count in (({'step': 'x'}, None), (None, 'claims')):
        with pytest.raises(exception.HostRunNotFound):
            dbapi.host_run_record(rollout.uuid, 'cmp9', values,
                                  count_fact=count)
    with pytest.raises(exception.InvalidInput):
        dbapi.host_run_record(rollout.uuid, 'cmp1', {'host': 'cmp2'})
    with pytest.raises(exception.InvalidInput):
        dbapi.host_run_record(rollout.uuid, 'cmp1',
                              events=[{'message': 'x', 'level': 'loud'}])
    with pytest.raises(exception.RolloutNotFound):
        dbapi.host_run_record(UUID1, 'cmp1', events=[{'message': 'x'}])
    # Nothing half-written by the calls that failed.
    assert len(dbapi.event_list()) == 2


def test_rollout_state(dbapi):
    rollout = dbapi.rollout_create()
    assert dbapi.rollout_state(rollout.uuid) == rollout.state
    dbapi.rollout_update(rollout.id, {'state': states.ABORTING})
    # Read afresh: the rollout's id is cached, never its state.
    assert dbapi.rollout_state(rollout.uuid) == states.ABORTING
    assert dbapi.rollout_state(rollout.name) == states.ABORTING
    with pytest.raises(exception.RolloutNotFound):
        dbapi.rollout_state(UUID1)


def test_rollout_values_reads_the_columns_asked_for(dbapi):
    rollout = dbapi.rollout_create(policy={'max_parallel': 3},
                                   plan={'waves': []})
    dbapi.rollout_update(rollout.id, {'state': states.PAUSED,
                                      'paused_reason': 'canary'})
    assert dbapi.rollout_values(rollout.name, 'state', 'paused_reason',
                                'policy') == (states.PAUSED, 'canary',
                                              {'max_parallel': 3})
    with pytest.raises(exception.RolloutNotFound):
        dbapi.rollout_values(UUID1, 'policy')


# Instance moves.

def test_instance_moves(dbapi):
    rollout = dbapi.rollout_create()
    move = dbapi.instance_move_create(rollout.uuid, UUID1, 'cmp1',
                                      planned_host='cmp2', instance_name='vm')
    dbapi.instance_move_create(rollout.uuid, UUID1.replace('6', '7'), 'cmp2')
    assert move.state == 'pending'
    moved = dbapi.instance_move_update(
        move.id, {'state': 'done', 'dest_host': 'cmp3', 'migration_id': '42'},
        expected_state='pending')
    assert (moved.dest_host, moved.planned_host) == ('cmp3', 'cmp2')
    with pytest.raises(exception.StateConflict):
        dbapi.instance_move_update(move.id, {'state': 'done'},
                                   expected_state='pending')
    with pytest.raises(exception.InstanceMoveNotFound):
        dbapi.instance_move_update(9999, {'state': 'done'})
    assert [m.id for m in dbapi.instance_move_list(
        rollout.id, instance_uuid=UUID1)] == [move.id]
    assert len(dbapi.instance_move_list(rollout.id)) == 2
    assert [m.source_host for m in dbapi.instance_move_list(
        rollout.id, state='pending')] == ['cmp2']


# Events.

def test_events(dbapi):
    rollout = dbapi.rollout_create()
    first = dbapi.event_add('rollout started', rollout=rollout.uuid)
    dbapi.event_add('disabled', rollout=rollout.uuid, host='cmp1',
                    step='cmp1.disable_service')
    dbapi.event_add('connect with password=hunter2', level='error')
    assert [e.message for e in dbapi.event_list(rollout=rollout.id)] == [
        'rollout started', 'disabled']
    assert [e.host for e in dbapi.event_list(host='cmp1')] == ['cmp1']
    after = dbapi.event_list(after_id=first.id)
    assert len(after) == 2
    assert 'hunter2' not in after[-1].message
    assert len(dbapi.event_list(limit=1)) == 1
    assert first.created_at == dbapi.event_list()[0].created_at
    with pytest.raises(exception.InvalidInput):
        dbapi.event_add('x', level='loud')
    with pytest.raises(exception.RolloutNotFound):
        dbapi.event_add('x', rollout='nope')


# An un-synced database.

CALLS = [
    ('release_create', ('r1', {'nova': '1'})),
    ('release_get', ('r1',)),
    ('release_list', ()),
    ('deployment_add', ('r1',)),
    ('deployment_list', ()),
    ('current_release', ()),
    ('rollout_create', ()),
    ('rollout_get', ('x',)),
    ('rollout_state', ('x',)),
    ('rollout_values', ('x', 'policy')),
    ('rollout_list', ()),
    ('rollout_update', ('x', {'state': 'running'})),
    ('host_run_create', ('x', 'cmp1', 0)),
    ('host_run_get', ('x', 'cmp1')),
    ('host_run_list', ('x',)),
    ('host_run_update', ('x', 'cmp1', {'state': 'running'})),
    ('host_run_record', ('x', 'cmp1', {'state': 'running'})),
    ('instance_move_create', ('x', UUID1, 'cmp1')),
    ('instance_move_list', ('x',)),
    ('instance_move_update', (1, {'state': 'done'})),
    ('event_add', ('x',)),
    ('event_list', ()),
    ('schedule_create', (datetime.datetime(2026, 1, 1),)),
    ('schedule_get', ('s1',)),
    ('schedule_list', ()),
    ('schedule_update', ('s1', {'state': 'cancelled'})),
]


def test_every_call_covered():
    abstract = {name for name in dir(api.Connection)
                if not name.startswith('_')}
    assert abstract == {name for name, _ in CALLS}


@pytest.mark.parametrize('method,args', CALLS)
def test_not_synced(sqlite_url, tmp_path, method, args):
    from tests.fixtures.databases import use_database
    with use_database(sqlite_url):
        with pytest.raises(exception.DatabaseNotSynced,
                           match='no schema, expected'):
            getattr(api.get_instance(), method)(*args)
    # Nothing was created, not even the SQLite file.
    assert list(tmp_path.iterdir()) == []


def test_behind_then_synced(sqlite_url):
    from tests.fixtures.databases import use_database
    with use_database(sqlite_url):
        migration.upgrade()
        with engine.connect(begin=True) as connection:
            connection.exec_driver_sql(
                "UPDATE upgrader_alembic_version SET version_num = 'old'")
        engine.set_schema_checked(False)
        with pytest.raises(exception.DatabaseNotSynced, match='old'):
            api.get_instance().release_list()
