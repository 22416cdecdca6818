"""The ZooKeeper test fixture against a real kazoo client.

What the job board tests rely on: a path per test, ``server_version()``
(the ``envi`` command), 10 s sessions, restarts that keep data and sessions,
crashes clients notice, and no java process left behind.
"""

import logging
import os
import subprocess
import sys
import textwrap
import threading
import time
import uuid

from kazoo import client as kazoo_client
from kazoo.protocol import states
import pytest

from tests.fixtures import zookeeper as zk_fixture

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))


def _alive(pid):
    """True if pid is still a ZooKeeper server (not a reused pid)."""
    try:
        with open('/proc/%d/cmdline' % pid, 'rb') as f:
            return zk_fixture.MAIN_CLASS.encode() in f.read()
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True


def _wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


class _Handshakes(logging.Handler):
    """The session timeouts the server granted (kazoo's BLATHER log)."""

    def __init__(self):
        super().__init__(level=1)
        self.timeouts = []

    def emit(self, record):
        if record.msg.startswith('Session created'):
            self.timeouts.append(record.args[2])


def _negotiated_timeout(zookeeper, timeout):
    """The session timeout (ms) the server grants when timeout is asked."""
    logger = logging.getLogger('upgrader.tests.kazoo.%s' % uuid.uuid4().hex)
    logger.setLevel(1)
    logger.propagate = False
    handshakes = _Handshakes()
    logger.addHandler(handshakes)
    zookeeper.client(timeout=timeout, logger=logger)
    return handshakes.timeouts[0]


class _StateRecorder(object):
    def __init__(self, client):
        self.states = []
        self.changed = threading.Condition()
        client.add_listener(self)

    def __call__(self, state):
        with self.changed:
            self.states.append(state)
            self.changed.notify_all()

    def wait_for(self, *wanted, timeout=10.0):
        with self.changed:
            return self.changed.wait_for(
                lambda: any(s in wanted for s in self.states), timeout)


def _client(server):
    client = kazoo_client.KazooClient(hosts=server.hosts, timeout=10)
    client.start(timeout=15)
    return client


@pytest.fixture(scope='module')
def own_server():
    """A server of this module only: the tests below crash it."""
    zk_fixture.require_zookeeper()
    with zk_fixture.ZooKeeperServer() as server:
        yield server


def test_node_under_own_path(zookeeper):
    client = zookeeper.client()
    client.create(zookeeper.path('a', 'b'), b'value', makepath=True)
    assert client.get(zookeeper.path('a', 'b'))[0] == b'value'
    # Through the chroot the same node is at /a/b.
    chrooted = zookeeper.client(chroot=True)
    assert chrooted.get('/a/b')[0] == b'value'
    assert zookeeper.root.startswith('/upgrader-test-')


def test_paths_are_unique_and_cleaned(zookeeper_server, zookeeper):
    others = zookeeper.client().get_children('/')
    # The roots of earlier tests on this worker are gone.
    assert [n for n in others if n.startswith('upgrader-test-')] == [
        zookeeper.root.lstrip('/')]


def test_server_version_uses_envi(zookeeper):
    assert 'zookeeper.version=' in zookeeper.server.command('envi')
    version = zookeeper.client().server_version()
    assert version[:2] == (3, 8)


def test_session_timeouts_of_10_to_20_s(zookeeper):
    server = zookeeper.server
    assert server.min_session_timeout <= 10 <= 20 <= server.max_session_timeout
    assert _negotiated_timeout(zookeeper, 10) == 10000
    assert _negotiated_timeout(zookeeper, 20) == 20000
    # Beyond 20 ticks the server clamps.
    assert _negotiated_timeout(zookeeper, 60) == 20000


def test_restart_keeps_data_and_session(own_server):
    client = _client(own_server)
    session = client.client_id
    client.create('/restart/persistent', b'kept', makepath=True)
    client.create('/restart/ephemeral', ephemeral=True)
    recorder = _StateRecorder(client)
    port, pid = own_server.port, own_server.pid

    own_server.restart()

    assert (own_server.port, own_server.running) == (port, True)
    assert own_server.pid != pid and not _alive(pid)
    assert recorder.wait_for(states.KazooState.SUSPENDED)
    # Well within the session timeout (see _Relay in the fixture).
    assert _wait_for(lambda: client.state == states.KazooState.CONNECTED,
                     timeout=5)
    assert client.get('/restart/persistent')[0] == b'kept'
    # Same session: its ephemeral node outlived the restart.
    assert client.client_id == session
    assert client.exists('/restart/ephemeral') is not None
    client.stop()
    client.close()


def test_kill_suspends_clients(own_server):
    client = _client(own_server)
    recorder = _StateRecorder(client)
    pid = own_server.pid

    own_server.kill()

    assert not own_server.running and not _alive(pid)
    assert recorder.wait_for(states.KazooState.SUSPENDED,
                             states.KazooState.LOST)
    own_server.start()
    assert _wait_for(lambda: client.state == states.KazooState.CONNECTED)
    client.stop()
    client.close()
    assert recorder.wait_for(states.KazooState.LOST)


def _run(code_or_args, tmp_path, timeout=60):
    env = dict(os.environ, PYTHONPATH=REPO)
    for name in list(env):
        if name.startswith(('PYTEST_', 'COV_')):
            env.pop(name)
    return subprocess.run([sys.executable] + code_or_args, cwd=str(tmp_path),
                          env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_session_server_stopped_even_if_a_test_fails(tmp_path):
    zk_fixture.require_zookeeper()
    pid_file = tmp_path / 'pid'
    (tmp_path / 'test_inner.py').write_text(textwrap.dedent("""\
        def test_fails(zookeeper_server, zookeeper):
            with open(%r, 'w') as f:
                f.write('%%d %%s' %% (zookeeper_server.pid,
                                      zookeeper_server.directory))
            assert False, 'on purpose'
        """ % str(pid_file)))
    result = _run(['-m', 'pytest', '-q', '-p', 'no:cacheprovider',
                   '-p', 'tests.fixtures.zookeeper', 'test_inner.py'],
                  tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert '1 failed' in result.stdout
    pid, directory = pid_file.read_text().split()
    assert not _alive(int(pid))
    assert not os.path.exists(directory)


def test_atexit_stops_forgotten_servers(tmp_path):
    zk_fixture.require_zookeeper()
    result = _run(['-c', textwrap.dedent("""\
        from tests.fixtures import zookeeper
        server = zookeeper.ZooKeeperServer().start()
        print(server.pid, server.directory)
        """)], tmp_path)
    assert result.returncode == 0, result.stderr
    pid, directory = result.stdout.split()
    assert not _alive(int(pid))
    assert not os.path.exists(directory)
