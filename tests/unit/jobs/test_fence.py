"""The fence stops a conductor dead before a side effect it no longer owns.

Fakes stand in for the board and the kazoo client here; the real thing is
tests/functional/jobs/test_conductors.py (SIGSTOP past the session).
"""

import queue

from kazoo.protocol import states as kazoo_states
import pytest

from upgrader.jobs import fence


class Board:
    def __init__(self, owner=None, error=None):
        self.owner, self.error = owner, error

    def find_owner(self, job):
        if self.error:
            raise self.error
        return self.owner


class Client:
    state = kazoo_states.KazooState.CONNECTED


class Job:
    name = 'rollout/r/host/cmp001'


class Exited(Exception):
    pass


def _exit(code):
    raise Exited(code)


def _fence(board, client=None):
    f = fence.ConductorFence(board, client or Client(), 'me-1', exit=_exit)
    f.running(Job())
    return f


def test_owner_acts():
    _fence(Board(owner='me-1')).check('reboot')


@pytest.mark.parametrize('board, client_state', [
    (Board(owner='other-2'), kazoo_states.KazooState.CONNECTED),
    (Board(owner=None), kazoo_states.KazooState.CONNECTED),
    (Board(error=RuntimeError('down')), kazoo_states.KazooState.CONNECTED),
    (Board(owner='me-1'), kazoo_states.KazooState.LOST),
])
def test_anything_else_stops_the_process(board, client_state):
    client = Client()
    client.state = client_state
    with pytest.raises(Exited) as info:
        _fence(board, client).check('reboot')
    assert info.value.args == (fence.FENCED_EXIT,)


class Reconnecting(Client):
    """SUSPENDED for the first ``outage`` looks at its state."""

    def __init__(self, outage, then):
        self.outage, self.then = outage, then

    @property
    def state(self):
        self.outage -= 1
        return (kazoo_states.KazooState.SUSPENDED if self.outage >= 0
                else self.then)


def test_a_suspended_connection_is_waited_for_past_the_patience():
    # The session survives a ZooKeeper restart: the check waits for the
    # reconnection however long it takes, then acts.
    f = fence.ConductorFence(Board(owner='me-1'), Reconnecting(
        50, kazoo_states.KazooState.CONNECTED), 'me-1', exit=_exit,
        patience=0.0, poll=0.001)
    f.running(Job())
    f.check('reboot')


@pytest.mark.parametrize('then', [kazoo_states.KazooState.LOST,
                                  kazoo_states.KazooState.CONNECTED])
def test_a_session_that_expired_in_the_outage_stops_the_process(then):
    # Expired: kazoo says LOST, then connects a new session that holds no
    # claim.
    f = fence.ConductorFence(Board(owner=None), Reconnecting(5, then),
                             'me-1', exit=_exit, patience=60.0, poll=0.001)
    f.running(Job())
    with pytest.raises(Exited):
        f.check('reboot')


def test_stopping_ends_the_wait_for_a_suspended_connection():
    client = Client()
    client.state = kazoo_states.KazooState.SUSPENDED
    f = fence.ConductorFence(Board(owner='me-1'), client, 'me-1',
                             exit=_exit, patience=60.0)
    f.running(Job())
    f.stop()
    with pytest.raises(Exited) as info:
        f.check('reboot')
    assert info.value.args == (fence.FENCED_EXIT,)


@pytest.mark.parametrize('state, stops', [
    (kazoo_states.KazooState.SUSPENDED, True),
    (kazoo_states.KazooState.LOST, True),
    (kazoo_states.KazooState.CONNECTED, False)])
def test_a_stopping_conductor_cut_off_for_the_patience_stops_dead(state,
                                                                  stops):
    # Its jobs cannot be handed over, and an engine waiting for the board
    # would hold the process up until it is killed.
    exits = queue.SimpleQueue()
    client = Client()
    client.state = state
    f = fence.ConductorFence(Board(owner='me-1'), client, 'me-1',
                             exit=exits.put, patience=0.05, poll=0.01)
    f.stop()
    try:
        code = exits.get(timeout=1.0)
    except queue.Empty:
        code = None
    assert code == (fence.FENCED_EXIT if stops else None)
    client.state = kazoo_states.KazooState.SUSPENDED     # ends its thread


def test_threads_without_a_job_are_not_fenced():
    f = fence.ConductorFence(Board(owner='other'), Client(), 'me-1',
                             exit=_exit)
    f.check('reboot')          # not running a job: nothing to fence
    f.running(Job())
    f.running(None)
    f.check('reboot')


class CountingBoard(Board):
    reads = 0

    def find_owner(self, job):
        self.reads += 1
        return super().find_owner(job)


def test_a_claim_read_as_ours_is_trusted_for_the_lease(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(fence, '_uptime', lambda: now[0])
    board = CountingBoard(owner='me-1')
    client = Client()
    f = fence.ConductorFence(board, client, 'me-1', exit=_exit, lease=2.0)
    f.running(Job())
    f.check('posting a')
    now[0] += 1.9
    f.check('posting b')
    assert board.reads == 1
    # Past the lease (a process frozen meanwhile, say): read again, and
    # another owner now stops the process.
    now[0] += 0.2
    board.owner = 'other-2'
    with pytest.raises(Exited):
        f.check('posting c')
    assert board.reads == 2


def test_the_lease_ends_with_the_connection():
    board = CountingBoard(owner='me-1')
    client = Client()
    f = fence.ConductorFence(board, client, 'me-1', exit=_exit, lease=60.0)
    f.running(Job())
    f.check('reboot')
    client.state = kazoo_states.KazooState.LOST
    with pytest.raises(Exited):
        f.check('reboot')


def test_a_new_claim_is_read_again():
    board = CountingBoard(owner='me-1')
    f = fence.ConductorFence(board, Client(), 'me-1', exit=_exit, lease=60.0)
    job = Job()
    f.running(job)
    f.check('reboot')
    f.running(None)
    f.running(job)          # the same job, claimed again
    f.check('reboot')
    assert board.reads == 2
