"""A control-plane service upgraded across a schema change as an operator
does it (upgrader-manage subprocesses, the simulator's control plane over
HTTP, its referee probing every API through the load balancer): expand,
the rolling update, data migrations, contract only on rollout commit, and
rollbacks before and after it."""

import json
import subprocess

CONTROL_PLANE = {'keystone': '26.0.0', 'nova-api': '30.0.0',
                 'nova-conductor': '30.0.0'}
DOCS = {'keystone': {v: {'versions': ['v3.14']}
                     for v in ('26.0.0', '27.0.0')}}
HOSTS = ('ctl001', 'ctl002', 'ctl003')


def _upgraded(operator, *plan_args):
    """keystone 26.0.0 -> 27.0.0 on three controllers, rollout 'ks'."""
    op = operator(hosts=4, instances=4, anti_affinity_groups=0)
    conn = op.control_plane(CONTROL_PLANE, DOCS)
    op.ok('release', 'create', 'cp-ks', '--parent', 'cp', '--component',
          'keystone=27.0.0')
    op.ok('rollout', 'plan', '--template', 'service-rolling-upgrade',
          '--service', 'keystone', '--to', 'cp-ks', '--name', 'ks',
          *plan_args)
    result = op.manage('rollout', 'start', 'ks')
    assert result.returncode == 0, result.stdout + result.stderr
    assert _keystone(op, conn) == dict.fromkeys(HOSTS, ('27.0.0', True,
                                                        True))
    return op, conn


def _described(op, conn):
    return op.sim.api(conn, 'GET', 'control-plane', '/').json()


def _keystone(op, conn):
    return {h: (i['version'], i['in_lb'], i['healthy']) for h, i in
            _described(op, conn)['services']['keystone']['instances']
            .items()}


def _db(op, conn):
    return _described(op, conn)['databases']['keystone']


def _messages(op, rollout):
    return [r['message'] for r in op.query(
        "SELECT e.message FROM events e JOIN rollouts r ON r.id = "
        "e.rollout_id WHERE r.name = '%s' ORDER BY e.id" % rollout)]


def _clean(report):
    cp = report['control_plane']
    return (cp['failed_probes'], cp['incompatible'],
            report['violations']['total'])


def test_upgrade_then_code_only_rollback_before_contract(operator):
    op, conn = _upgraded(operator, '--commit-after', '3600')
    # Its soak time is not over: nothing to commit yet.
    assert 'committed' not in op.ok('rollout', 'run-scheduled').stdout
    db = _db(op, conn)
    # Expanded and migrated, not contracted: the old code still runs.
    assert (db['expanded'], db['contracted'], db['migrated']) == (27, 26,
                                                                  27)
    events = _messages(op, 'ks')
    assert [m for m in events if m.startswith('expanded')] == [
        'expanded database keystone to generation 27']
    assert [m for m in events if m.startswith('data of')] == [
        'data of database keystone migrated to generation 27']
    assert len([m for m in events if m.startswith('backup')]) == 1
    assert _clean(op.sim.report()) == (0, 0, 0)

    written = db['writes']
    result = op.manage('rollout', 'rollback', 'ks', '--name', 'back',
                       stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stdout + result.stderr
    assert 'will be lost' not in result.stderr
    assert _keystone(op, conn) == dict.fromkeys(HOSTS, ('26.0.0', True,
                                                        True))
    report = op.sim.report()
    assert _clean(report) == (0, 0, 0)
    # Code only: nothing restored, every write kept (and more made).
    assert (report['control_plane']['restores'],
            report['control_plane']['writes_lost']) == (0, 0)
    assert _db(op, conn)['writes'] > written


def test_commit_then_rollback_restores_the_backup(operator):
    op, conn = _upgraded(operator, '--commit-after', '0')
    refused = op.manage('rollout', 'commit', 'nope')
    assert refused.returncode == 2
    # Its soak time (none) is over: committed where schedules start.
    assert 'Rollout ks: committed' in op.ok('rollout',
                                            'run-scheduled').stdout
    op.ok('rollout', 'commit', 'ks')               # idempotent
    db = _db(op, conn)
    assert (db['expanded'], db['contracted']) == (27, 27)
    assert [m for m in _messages(op, 'ks') if m.startswith('contracted')] \
        == ['contracted database keystone to generation 27 (rollout commit)']
    status = json.loads(op.ok('rollout', 'status', 'ks', '--format',
                              'json').stdout)
    assert status['committed_at']

    # No terminal, no --yes: one line, exit 2, nothing changed.
    before = (_db(op, conn), _keystone(op, conn))
    result = op.manage('rollout', 'rollback', 'ks', '--name', 'back',
                       stdin=subprocess.DEVNULL)
    assert result.returncode == 2, result.stdout + result.stderr
    assert 'will be lost' in result.stderr
    assert result.stderr.strip().splitlines()[-1].endswith(
        'confirm with --yes (no terminal to ask on)')
    assert op.query("SELECT name FROM rollouts WHERE name = 'back'") == []
    assert (_db(op, conn), _keystone(op, conn)) == before
    assert op.sim.report()['control_plane']['restores'] == 0
    # A plan-only run changes nothing, so it cannot restore.
    result = op.manage('rollout', 'rollback', 'ks', '--name', 'back',
                       '--plan-only', '--yes', stdin=subprocess.DEVNULL)
    assert result.returncode == 2, result.stdout + result.stderr
    assert 'cannot be only planned' in result.stderr
    assert op.query("SELECT name FROM rollouts WHERE name = 'back'") == []
    assert op.sim.report()['control_plane']['restores'] == 0

    result = op.manage('rollout', 'rollback', 'ks', '--name', 'back',
                       '--yes', stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stdout + result.stderr
    assert 'Data written since then will be lost' in result.stderr
    assert 'the API stays up' in result.stderr
    assert _keystone(op, conn) == dict.fromkeys(HOSTS, ('26.0.0', True,
                                                        True))
    report = op.sim.report()
    cp = report['control_plane']
    assert cp['restores'] == 1 and cp['writes_lost'] > 0
    # The backup was taken after expand: it serves both generations.
    assert _clean(report) == (0, 0, 0)
    db = _db(op, conn)
    assert (db['expanded'], db['contracted'], db['migrated']) == (27, 26,
                                                                  26)
    [restored] = [m for m in _messages(op, 'back')
                  if m.startswith('restored')]
    assert restored.endswith('%d write(s) lost' % cp['writes_lost'])
