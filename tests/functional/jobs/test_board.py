"""Looking jobs up on a real ZooKeeper job board: a name is posted once, and
never on the word of an incomplete listing."""

import time

from kazoo.protocol import states as kazoo_states
import pytest
from taskflow import exceptions as tf_exc

from tests.fixtures.simulator import wait_for
from tests.fixtures.zookeeper import ZooKeeperServer
from upgrader.jobs import board
from upgrader.jobs import conductor
from upgrader.jobs import persistence


@pytest.fixture
def job_board(conf_for, zookeeper, tmp_path):
    conf = conf_for(jobboard={'enabled': 'true', 'hosts': zookeeper.hosts,
                              'path': zookeeper.path('board')},
                    persistence={'connection': 'sqlite:///%s'
                                 % (tmp_path / 'tf.sqlite')})
    persistence.upgrade(conf)
    backend = persistence.get_backend(conf)
    the_board = board.get_board(conf, backend)
    yield the_board, backend
    the_board.close()
    board.close_client()
    backend.close()


def _post(the_board, backend, name):
    book = persistence.logbook_for(backend, 'r', 'r-uuid')
    detail = persistence.create_flow_detail(
        backend, book, name, flow_factory=_flow, uuid=None)
    return board.post_once(the_board, name, book, detail, rollout='r')


def _flow():
    raise NotImplementedError     # never run: only posted


def test_a_name_is_posted_once(job_board):
    the_board, backend = job_board
    first = _post(the_board, backend, 'rollout/r/host/a')
    again = _post(the_board, backend, 'rollout/r/host/a')
    assert again.uuid == first.uuid
    assert [j.name for j in the_board.iterjobs(ensure_fresh=True)] == [
        'rollout/r/host/a']


def test_an_incomplete_listing_posts_nothing(job_board, monkeypatch):
    # taskflow's listing leaves out a job whose state it failed to read
    # (its iterator logs and skips it): with that job really on ZooKeeper,
    # the lookup refuses to say "not there" rather than post it again.
    the_board, backend = job_board
    _post(the_board, backend, 'rollout/r/host/a')
    monkeypatch.setattr(the_board, 'iterjobs',
                        lambda ensure_fresh=False: iter([]))
    with pytest.raises(tf_exc.JobFailure, match='listing incomplete'):
        _post(the_board, backend, 'rollout/r/host/a')


def test_one_listing_for_a_wave(job_board):
    # The names of a wave are looked up in one listing; a post given that
    # listing trusts it once, and a post tried again lists afresh.
    the_board, backend = job_board
    first = _post(the_board, backend, 'rollout/r/host/a')
    names = ['rollout/r/host/a', 'rollout/r/host/b']
    listing = board.find_all(the_board, names)
    assert listing['rollout/r/host/a'].uuid == first.uuid
    assert listing['rollout/r/host/b'] is None
    book = persistence.logbook_for(backend, 'r', 'r-uuid')
    detail = persistence.create_flow_detail(backend, book, 'b',
                                            flow_factory=_flow)
    posted = board.post_once(the_board, 'rollout/r/host/b', book, detail,
                             listing=listing, rollout='r')
    assert 'rollout/r/host/b' not in listing
    # The stale listing is gone: the same post again finds the job.
    again = board.post_once(the_board, 'rollout/r/host/b', book, detail,
                            listing=listing, rollout='r')
    assert again.uuid == posted.uuid
    assert sorted(j.name for j in the_board.iterjobs(ensure_fresh=True)) \
        == names


def test_a_posted_job_wakes_the_conductor(job_board):
    # The conductor looks at the board as soon as a job is posted, not only
    # when its wait between two looks ends.
    the_board, backend = job_board
    waiter = conductor.Conductor('c-1', the_board, board._CLIENT['client'],
                                 fence=None, max_claims=3, wait_timeout=30,
                                 persistence=backend)
    assert not waiter._wait_timeout._wake.is_set()
    _post(the_board, backend, 'rollout/r/host/a')
    wait_for(waiter._wait_timeout._wake.is_set, timeout=10)


def test_the_conductor_lists_only_unclaimed_jobs_without_reading_them(
        job_board, monkeypatch):
    # What the conductor's loop claims from comes from the board's watch
    # (lock nodes included), with no read of each job.
    the_board, backend = job_board
    a = _post(the_board, backend, 'rollout/r/host/a')
    b = _post(the_board, backend, 'rollout/r/host/b')
    looking = conductor._LookingForWork(the_board)

    def names():
        # Each conductor tries the jobs in an order of its own.
        return sorted(job.name for job in looking.iterjobs())
    wait_for(lambda: names() == [a.name, b.name], timeout=10)
    the_board.claim(a, 'c-1')
    wait_for(lambda: names() == [b.name], timeout=10)
    client = board._CLIENT['client']
    reads = []
    for verb in ('get', 'exists', 'sync', 'get_children'):
        monkeypatch.setattr(client, verb, lambda *a, verb=verb, **k:
                            reads.append(verb))
    assert names() == [b.name]
    assert reads == []
    monkeypatch.undo()
    the_board.abandon(a, 'c-1')
    wait_for(lambda: names() == [a.name, b.name], timeout=10)
    # A fresh look (taskflow's, now and then) reads the board itself.
    assert [j.name for j in looking.iterjobs(ensure_fresh=True)] == [
        a.name, b.name]


def test_a_claim_is_one_round_trip(job_board, monkeypatch):
    the_board, backend = job_board
    job = _post(the_board, backend, 'rollout/r/host/a')
    client = board._CLIENT['client']
    calls = []
    for verb in ('get', 'exists', 'sync', 'transaction'):
        real = getattr(client, verb)
        monkeypatch.setattr(client, verb, lambda *a, real=real, verb=verb,
                            **k: calls.append(verb) or real(*a, **k))
    the_board.claim(job, 'c-1')
    assert calls == ['transaction']
    assert the_board.find_owner(job) == 'c-1'
    calls.clear()
    with pytest.raises(tf_exc.UnclaimableJob):
        the_board.claim(job, 'c-2')
    assert calls == ['transaction']
    assert the_board.find_owner(job) == 'c-1'
    the_board.consume(job, 'c-1')
    with pytest.raises(tf_exc.NotFound):
        the_board.claim(job, 'c-2')


def test_the_session_outlives_a_long_outage(conf_for):
    # A restarted server gives its sessions a whole timeout to come back.
    # kazoo's own pause between attempts doubles without a useful bound:
    # after 16 s down it would try again about 10 s later, when a 4 s
    # session (and every claim of the conductor) has expired. Ours tries
    # again within a third of the session timeout.
    with ZooKeeperServer() as server:
        conf = conf_for(jobboard={'enabled': 'true', 'hosts': server.hosts,
                                  'session_timeout': '4'})
        client = board.make_client(conf)
        client.start(timeout=10)
        try:
            session = client.client_id[0]
            server.kill()
            time.sleep(16)
            server.start()
            wait_for(lambda: client.state == kazoo_states.KazooState.CONNECTED,
                     timeout=board.reconnect_delay(4) + 1.5)
            assert client.client_id[0] == session
        finally:
            client.stop()
            client.close()
