"""The evacuate step's per-instance actions against an in-memory cloud:
each is safe to run again after a crash at any point (the real cloud's
runs are in tests/functional/rollout/test_actions.py)."""

import dataclasses
import itertools

import pytest

from upgrader.common import exception
from upgrader.drivers.compute import base as compute_base
from upgrader.tasks import base
from upgrader.tasks import compute as compute_tasks
from upgrader.tasks import instances

HOST, DEST = 'cmp001', 'cmp002'


@dataclasses.dataclass
class Server:
    uuid: str
    host: str
    status: str = 'ACTIVE'
    project_id: str = 'p1'


@dataclasses.dataclass
class Host:
    enabled: bool = True


class Cloud:
    """Nova in a few lines: every action lands at once, and is logged."""

    def __init__(self, *servers):
        self.servers = {s.uuid: s for s in servers}
        self.migrations = []
        self.calls = []
        self.broken_start = False

    def get_instance(self, uuid):
        found = self.servers.get(uuid)
        return None if found is None else dataclasses.replace(found)

    def get_host(self, host):
        return Host()

    def list_instances(self, host=None):
        return [dataclasses.replace(s) for s in self.servers.values()
                if host is None or s.host == host]

    def stop_instance(self, uuid):
        self.calls.append(('stop', uuid))
        self.servers[uuid].status = 'SHUTOFF'

    def start_instance(self, uuid):
        self.calls.append(('start', uuid))
        if self.broken_start:
            raise exception.CloudError(reason='no valid host')
        self.servers[uuid].status = 'ACTIVE'

    def cold_migrate(self, uuid, host):
        self.calls.append(('migrate', uuid))
        server = self.servers[uuid]
        self.migrations.append(compute_base.Migration(
            uuid=None, instance_uuid=uuid, source_host=server.host,
            dest_host=host, status='finished', migration_type='migration',
            id=len(self.migrations) + 1))
        server.host, server.status = host, 'VERIFY_RESIZE'

    def confirm_resize(self, uuid):
        self.calls.append(('confirm', uuid))
        self.servers[uuid].status = 'ACTIVE'
        self.migrations[-1].status = 'confirmed'

    def list_migrations(self, uuid):
        return [m for m in self.migrations if m.instance_uuid == uuid]


class Events(base.Recorder):
    def __init__(self):
        self.events = []
        self.moves = []

    def event(self, rollout_id, host, step, message, level='INFO'):
        self.events.append((level, message))

    def move(self, rollout_id, instance, name, source, destination, state,
             error=None):
        self.moves.append((instance, state))


@pytest.fixture
def cloud():
    return Cloud(Server('a', HOST), Server('b', HOST), Server('c', HOST))


@pytest.fixture
def recorder(cloud):
    ticks = itertools.count()
    runtime = base.Runtime(cloud, None, recorder=Events(), poll_interval=1,
                           sleep=lambda s: None,
                           clock=lambda: next(ticks))
    base.set_runtime(runtime)
    yield runtime.recorder
    base.set_runtime(None)


def _moves(**actions):
    return [{'instance': uuid, 'name': uuid, 'action': action,
             'destination': DEST if action == 'cold-migrate' else None}
            for uuid, action in sorted(actions.items())]


def _evacuate(**args):
    return compute_tasks.EvacuateHost(HOST, **args)


def test_stop_start_stops_once_and_starts_only_what_it_stopped(cloud,
                                                               recorder):
    cloud.servers['b'].status = 'SHUTOFF'      # off before the rollout
    cloud.servers['c'].host = DEST             # not ours to stop
    moves = _moves(a='stop-start', b='stop-start')
    _evacuate().execute('r', HOST, moves)
    _evacuate().execute('r', HOST, moves)       # a resumed run
    assert cloud.calls == [('stop', 'a')]
    assert any('already SHUTOFF' in m for _, m in recorder.events)
    enable = compute_tasks.EnableService(HOST)
    enable.execute('r', HOST)
    enable.execute('r', HOST)
    assert cloud.calls == [('stop', 'a'), ('start', 'a')]
    assert cloud.servers['b'].status == 'SHUTOFF'


def test_a_crash_between_remembering_and_stopping_is_resumed(cloud,
                                                             recorder):
    recorder.remember('r', HOST, instances.STOPPED, ['a'])
    _evacuate().execute('r', HOST, _moves(a='stop-start', b='stop-start',
                                          c='stop-start'))
    assert sorted(cloud.calls) == [('stop', 'a'), ('stop', 'b'),
                                   ('stop', 'c')]
    assert recorder.recall('r', HOST, instances.STOPPED) == ['a', 'b', 'c']


def test_a_start_that_fails_is_an_error_event_not_a_failed_host(cloud,
                                                                 recorder):
    _evacuate().execute('r', HOST, _moves(a='stop-start', b='stop-start',
                                          c='stop-start'))
    cloud.broken_start = True
    do = instances.Actions(_evacuate(), 'r', HOST)
    assert do.start_stopped(timeout=5) == ['a', 'b', 'c']
    assert [lvl for lvl, m in recorder.events if 'did not start' in m] == [
        'ERROR'] * 3


def test_cold_migration_resumed_after_it_landed_is_only_confirmed(
        cloud, recorder):
    del cloud.servers['b'], cloud.servers['c']
    cloud.cold_migrate('a', DEST)               # by the crashed run
    cloud.calls.clear()
    _evacuate().execute('r', HOST, _moves(a='cold-migrate'))
    assert cloud.calls == [('confirm', 'a')]
    assert recorder.moves[-1] == ('a', 'completed')
    _evacuate().execute('r', HOST, _moves(a='cold-migrate'))
    assert cloud.calls == [('confirm', 'a')]


def test_evacuate_refuses_a_running_stay_or_an_unplanned_instance(
        cloud, recorder):
    with pytest.raises(exception.Conflict, match='not in the plan'):
        _evacuate().execute('r', HOST, _moves(a='stop-start'))
    cloud.servers['b'].host = cloud.servers['c'].host = DEST
    cloud.servers['a'].status = 'PAUSED'
    cloud.stop_instance = lambda uuid: None     # a stop Nova ignores
    with pytest.raises(exception.HostActionFailed, match='not SHUTOFF'):
        _evacuate(power_timeout=3).execute('r', HOST,
                                           _moves(a='stop-start'))


def test_notify_and_wait_tells_once_and_times_out_cleanly(cloud, recorder):
    del cloud.servers['b'], cloud.servers['c']
    moves = _moves(a='notify-and-wait')
    for _ in range(2):
        with pytest.raises(exception.HostActionFailed,
                           match='neither moved it nor shut it down'):
            _evacuate(owner_timeout=3).execute('r', HOST, moves)
    told = [(lvl, m) for lvl, m in recorder.events if 'must move' in m]
    assert len(told) == 1 and told[0][0] == 'WARNING'
    assert 'a' in told[0][1] and 'project p1' in told[0][1]
    cloud.servers['a'].status = 'SHUTOFF'       # the owner's answer
    _evacuate(owner_timeout=3).execute('r', HOST, moves)
    assert cloud.calls == []                     # never touched by us
