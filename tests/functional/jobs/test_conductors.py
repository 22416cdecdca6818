"""Rollouts on the ZooKeeper job board, run by upgrader-conductor processes:
a real ZooKeeper, real conductor subprocesses, the simulator over HTTP."""

import collections
import json
import os
import signal
import time

from kazoo import exceptions as kazoo_exc
import pytest
import sqlalchemy as sa

from tests.fixtures.conductors import Conductors
from tests.fixtures.databases import SERVER_URLS
from tests.fixtures.operator import FAST
from tests.fixtures.simulator import wait_for
from tests.fixtures.zookeeper import ZooKeeperServer
from tests.functional.rollout import test_release_train as trains
from upgrader.jobs import fence

# The simulator's time scale where a test acts in the middle of a step:
# a migration takes about 0.4 s, a reboot about 0.8 s.
MID_STEP = 150.0
# Seconds: a conductor that stops answering loses its jobs this long after.
SESSION_TIMEOUT = 6


def _board_config(hosts, path, **databases):
    return dict(databases, jobboard={
        'enabled': 'true', 'hosts': hosts, 'path': path,
        'session_timeout': str(SESSION_TIMEOUT),
        # One job each: the controller holds one conductor, and the two
        # hosts of a wave must go to the two others.
        'max_simultaneous_jobs': '1'})


@pytest.fixture
def on_board(operator, zookeeper, tmp_path, request, make_database):
    """An operator whose rollouts go to the job board, and the conductors.

    Parametrize indirectly with (simulator time scale, database backend);
    default (200, 'sqlite').
    """
    time_scale, backend = getattr(request, 'param', (200.0, 'sqlite'))
    databases = {}
    if backend != 'sqlite':
        databases = {
            'database': {'connection': make_database(backend)},
            'persistence': {'connection': make_database(
                backend, prefix='upgrader_test_tf')}}
    op = operator(time_scale=time_scale, config=_board_config(
        zookeeper.hosts, zookeeper.path('board'), **databases))
    conductors = Conductors(op.config, str(tmp_path))
    yield op, conductors
    conductors.stop()


@pytest.mark.parametrize('on_board', [(200.0, 'sqlite'),
                                      (200.0, 'postgresql'),
                                      (200.0, 'mysql')], indirect=True,
                         ids=['sqlite', 'postgresql', 'mariadb'])
def test_rollout_split_across_conductors(on_board):
    op, conductors = on_board
    conductors.start(3)
    op.plan()
    result = op.manage('rollout', 'start', 'r1', timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    report = op.sim.report()
    assert report['instances_killed'] == 0
    assert report['violations']['total'] == 0, report['violations']
    assert report['migrations']['per_instance_max'] == 1
    assert {h['state'] for h in op.hosts().values()} == {'done'}
    ran_on = collections.defaultdict(set)
    for line in result.stdout.splitlines():
        if ': running on conductor' in line:
            host = line.split('] ', 1)[1].split(' ', 1)[0]
            ran_on[line.rsplit(' ', 1)[1]].add(host)
    assert len(ran_on) == 2, result.stdout      # both conductors worked
    assert sum(len(h) for h in ran_on.values()) == len(op.hosts())


@pytest.mark.parametrize('on_board', [(MID_STEP, 'sqlite')], indirect=True,
                         ids=['sqlite'])
@pytest.mark.parametrize('victim, sig', [
    ('host', signal.SIGKILL), ('controller', signal.SIGKILL),
    ('host', signal.SIGTERM)], ids=['kill-host', 'kill-controller',
                                    'term-host'])
def test_losing_a_conductor_mid_step_costs_nothing(on_board, victim, sig):
    # SIGKILL: its jobs are claimed again once its session expires.
    # SIGTERM: a graceful hand-off, the engine suspends after its step.
    op, conductors = on_board
    conductors.start(4)
    op.plan()
    watcher = op.start_in_background()
    try:
        _host, pid = wait_for(lambda: _busy_conductor(
            op, 2, ('evacuate', 'upgrade_packages', 'reboot'),
            controller=victim == 'controller'), timeout=120, interval=0.1)
        claims_before = _claims(op)
        os.kill(pid, sig)
        op.sim.set_time_scale(FAST)
        output, _ = watcher.communicate(timeout=300)
    finally:
        watcher.kill()
    _assert_every_host_upgraded_once(op, watcher, output)
    # The killed conductor's job was taken over by another conductor.
    taken_over = [job for job, names in _claims(op).items()
                  if any(n.endswith('-%d' % pid) for n in names)
                  and len(names) > 1]
    assert taken_over, (pid, claims_before, _claims(op))


def _busy_conductor(op, wave, steps=None, controller=False):
    """(host, pid) of a conductor running a host job of ``wave`` at one of
    ``steps`` (any step if None), or, with ``controller``, (None, pid) of
    the one running the controller while wave ``wave`` runs; else None."""
    runs = op.host_runs()
    for event in op.events():
        message, run = event['message'], runs.get(event['host'])
        pid = int(message.rsplit('-', 1)[1]) \
            if 'running on conductor' in message else None
        if controller and message.startswith('controller running on'):
            if any(r['state'] == 'running' and r['wave'] == wave
                   for r in runs.values()):
                return None, pid
        elif (not controller and run
                and message.startswith('running on conductor')
                and run['wave'] == wave and run['state'] == 'running'
                and (steps is None or run['step'] in steps)):
            return event['host'], pid
    return None


def _assert_every_host_upgraded_once(op, watcher, output):
    assert watcher.returncode == 0, output
    report = op.sim.report()
    assert report['instances_killed'] == 0
    assert report['violations']['total'] == 0, report['violations']
    assert report['migrations']['per_instance_max'] == 1
    for name, info in report['hosts'].items():
        # No finished step ran again: each host rebooted exactly once.
        assert info['reboots'] == 1, name
    assert {h['state'] for h in op.hosts().values()} == {'done'}


def _owner(client, board_path, host):
    """The conductor holding the host job's lock on the board, or None."""
    try:
        for node in client.get_children(board_path):
            if node.endswith('.lock'):
                continue
            data, _ = client.get('%s/%s' % (board_path, node))
            if json.loads(data)['name'].endswith('/host/' + host):
                lock, _ = client.get('%s/%s.lock' % (board_path, node))
                return json.loads(lock)['owner']
    except kazoo_exc.NoNodeError:
        pass
    return None


def _claims(op):
    """Job (a host, or None for the controller) -> conductors that ran it."""
    claims = collections.defaultdict(set)
    for event in op.events():
        if 'running on conductor' in event['message']:
            claims[event['host']].add(event['message'].rsplit(' ', 1)[1])
    return dict(claims)


@pytest.mark.parametrize('on_board', [(MID_STEP, 'sqlite')], indirect=True,
                         ids=['sqlite'])
def test_frozen_conductor_never_acts_twice(on_board, zookeeper):
    # SIGSTOP a conductor mid-step past its session timeout: another conductor
    # takes its job over. On SIGCONT the frozen one must not act again.
    op, conductors = on_board
    conductors.start(4)
    op.plan()
    watcher = op.start_in_background()
    try:
        host, pid = wait_for(lambda: _busy_conductor(
            op, 2, ('evacuate', 'upgrade_packages')), timeout=120,
            interval=0.05)
        frozen = next(p for p in conductors.procs if p.pid == pid)
        frozen_name = _claims(op)[host].pop()
        os.kill(pid, signal.SIGSTOP)
        try:
            # Taken over on the board (not in our tables: the frozen process
            # may hold SQLite's lock, stopped inside a transaction).
            client = zookeeper.client()
            wait_for(lambda: _owner(client, zookeeper.path('board'), host)
                     not in (None, frozen_name), timeout=150, interval=0.2)
        finally:
            os.kill(pid, signal.SIGCONT)
        op.sim.set_time_scale(FAST)
        output, _ = watcher.communicate(timeout=300)
    finally:
        watcher.kill()
    _assert_every_host_upgraded_once(op, watcher, output)
    assert len(_claims(op)[host]) > 1, _claims(op)
    # Woken up, the frozen conductor saw its session gone (claim guard) and
    # stopped dead before its next side effect (fence), or suspended.
    frozen.log.seek(0)
    log = frozen.log.read()
    assert 'Fenced off before' in log or 'suspending' in log, log[-3000:]
    assert frozen.poll() in (None, 75), log[-3000:]


@pytest.mark.parametrize('on_board', [(MID_STEP, 'sqlite')], indirect=True,
                         ids=['sqlite'])
@pytest.mark.parametrize('victim', ['host', 'controller'])
def test_job_claimed_too_often_goes_to_a_visible_error(on_board, victim):
    op, conductors = on_board
    with open(op.config, 'a') as f:
        f.write('[jobboard]\nmax_claims = 1\n')
    conductors.start(4)
    op.plan()
    watcher = op.start_in_background()
    try:
        host, pid = wait_for(lambda: _busy_conductor(
            op, 1, controller=victim == 'controller'), timeout=120,
            interval=0.05)
        os.kill(pid, signal.SIGKILL)
        op.sim.set_time_scale(FAST)
        output, _ = watcher.communicate(timeout=300)
    finally:
        watcher.kill()
    assert watcher.returncode == 2, output
    status = op.status()
    assert status['state'] == 'failed'
    assert 'claimed 2 times' in status['error'] if victim == 'controller' \
        else 'claimed 2 times' in op.hosts()[host]['error']
    assert op.sim.report()['instances_killed'] == 0
    if victim == 'host':
        assert op.hosts()[host]['state'] == 'error'
        return
    # The failed attempt ended: resume starts a new controller attempt,
    # which finds the host jobs of the wave and finishes the rollout.
    result = op.manage('rollout', 'resume', 'r1', timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    report = op.sim.report()
    assert report['violations']['total'] == 0, report['violations']
    assert {h['reboots'] for h in report['hosts'].values()} == {1}
    assert {h['state'] for h in op.hosts().values()} == {'done'}


# Slower: the abort (an upgrader-manage process) must land while wave 1 is
# still mid-flow.
@pytest.mark.parametrize('on_board', [(50.0, 'sqlite')], indirect=True,
                         ids=['sqlite'])
def test_abort_on_the_board_then_resume(on_board):
    # Conductors suspend host flows after their current step and consume
    # the jobs; the controller records the rollout aborted.
    op, conductors = on_board
    conductors.start(3)
    op.plan()
    watcher = op.start_in_background()
    try:
        wait_for(lambda: _busy_conductor(op, 1, ('evacuate',
                                                 'upgrade_packages')),
                 timeout=120, interval=0.05)
        aborted = op.manage('rollout', 'abort', 'r1')
        assert aborted.returncode == 0 and 'aborting' in aborted.stdout
        output, _ = watcher.communicate(timeout=120)
    finally:
        watcher.kill()
    assert watcher.returncode == 1, output
    status = op.status()
    assert status['state'] == 'aborted'
    states = {h['host']: h['state'] for h in status['hosts']}
    assert 'suspended' in states.values(), states
    assert 'pending' in states.values(), states   # later waves not started
    assert 'running' not in states.values(), states
    report = op.sim.report()
    assert report['instances_killed'] == 0
    for host, state in states.items():
        if state == 'suspended':
            assert report['hosts'][host]['status'] == 'disabled'
    op.sim.set_time_scale(FAST)
    result = op.manage('rollout', 'resume', 'r1', timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    report = op.sim.report()
    assert report['violations']['total'] == 0, report['violations']
    assert report['migrations']['per_instance_max'] == 1
    assert {h['reboots'] for h in report['hosts'].values()} == {1}
    assert {h['state'] for h in op.hosts().values()} == {'done'}


def test_zookeeper_restarted_mid_rollout(operator, tmp_path):
    # A server of its own, killed as a crash would (data kept) while the
    # hosts of wave 2 are mid-step, and back after longer than the session
    # timeout (a restarted server keeps its sessions): engines suspend
    # (claim guard), the fence waits for the connection instead of
    # stopping every conductor, the jobs are handed over once the board
    # answers, and the rollout completes. The conductor of the controller
    # is told to stop (SIGTERM) in the outage: it cannot hand its job over,
    # so it stops dead once cut off for the session timeout instead of
    # waiting for the board until it is killed; another one resumes the
    # controller.
    with ZooKeeperServer() as server:
        op = operator(time_scale=MID_STEP, config=_board_config(
            server.hosts, '/upgrader/board'))
        conductors = Conductors(op.config, str(tmp_path))
        try:
            conductors.start(3)
            op.plan()
            watcher = op.start_in_background()
            try:
                wait_for(lambda: _busy_conductor(
                    op, 2, ('evacuate', 'upgrade_packages')), timeout=120,
                    interval=0.05)
                _, pid = _busy_conductor(op, 2, controller=True)
                controller, = [p for p in conductors.procs if p.pid == pid]
                server.kill()
                controller.send_signal(signal.SIGTERM)
                started = time.monotonic()
                assert controller.wait(timeout=SESSION_TIMEOUT + 10) == \
                    fence.FENCED_EXIT
                assert time.monotonic() - started >= SESSION_TIMEOUT - 1
                time.sleep(max(0.0, SESSION_TIMEOUT + 2 - (
                    time.monotonic() - started)))
                server.start()
                op.sim.set_time_scale(FAST)
                output, _ = watcher.communicate(timeout=300)
            finally:
                watcher.kill()
        finally:
            conductors.stop()
    _assert_every_host_upgraded_once(op, watcher, output)


@pytest.mark.parametrize('on_board', [(MID_STEP, 'postgresql')],
                         indirect=True, ids=['postgresql'])
def test_database_connections_dropped_mid_rollout(on_board):
    # Every PostgreSQL backend of our database and of the logbooks is
    # terminated while hosts of wave 2 are mid-step: the conductors and
    # the watching upgrader-manage reconnect and the rollout completes.
    op, conductors = on_board
    conductors.start(3)
    op.plan()
    watcher = op.start_in_background()
    try:
        wait_for(lambda: _busy_conductor(
            op, 2, ('evacuate', 'upgrade_packages')), timeout=120,
            interval=0.05)
        assert _terminate_backends(op) > 0
        op.sim.set_time_scale(FAST)
        output, _ = watcher.communicate(timeout=300)
    finally:
        watcher.kill()
    _assert_every_host_upgraded_once(op, watcher, output)


def _terminate_backends(op):
    names = [sa.engine.make_url(op.groups[group]['connection']).database
             for group in ('database', 'persistence')]
    admin = sa.create_engine(SERVER_URLS['postgresql'],
                             isolation_level='AUTOCOMMIT',
                             poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        return len(conn.execute(sa.text(
            'SELECT pg_terminate_backend(pid) FROM pg_stat_activity '
            'WHERE datname = ANY(:names) AND pid <> pg_backend_pid()'),
            {'names': names}).all())


def test_release_train_on_the_board(on_board):
    # The train's controller runs its stages on a conductor; their host
    # jobs go to the others.
    op, conductors = on_board
    conn = trains.cloud(op)
    conductors.start(3)
    op.ok('rollout', 'plan-release', '--to', 'full', '--name', 't',
          '--max-parallel', '2')
    result = op.manage('rollout', 'start', 't', timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    report = op.sim.report()
    assert report['violations']['total'] == 0, report['violations']
    assert report['instances_killed'] == 0
    assert trains.versions(op, conn) == trains.NEW_VERSIONS
    claims = _claims(op)
    [controller] = claims.pop(None)            # the train's, stages inline
    ran_hosts = set().union(*claims.values())
    assert ran_hosts and controller not in ran_hosts, claims
