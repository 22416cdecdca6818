"""rollout rollback end to end: upgrader-manage subprocesses on SQLite, the
simulator over real HTTP, its referee as judge.

The referee counts migrations over the cloud's whole life; a rollback's own
count is the referee's after it minus before it.
"""

import collections
import json

from tests.fixtures.operator import NEW
from tests.fixtures.operator import OLD


def _versions(report, host):
    packages = report['hosts'][host]['packages']
    return {p: packages[p] for p in NEW}


def _with_old_release(op):
    op.ok('release', 'create', 'old', *[
        a for p, v in sorted(OLD.items())
        for a in ('--component', '%s=%s' % (p, v))])
    op.ok('release', 'set-current', 'old')


def _current(op):
    return json.loads(op.ok('release', 'current', '--format',
                            'json').stdout)


def _moves_per_instance(op, rollout):
    rows = op.query("SELECT m.instance_uuid FROM instance_moves m JOIN "
                    "rollouts r ON r.id = m.rollout_id WHERE r.name = '%s' "
                    "AND m.state = 'completed'" % rollout)
    return collections.Counter(r['instance_uuid'] for r in rows)


def _rollout(op, name):
    return json.loads(op.ok('rollout', 'status', name, '--format',
                            'json').stdout)


def test_rollback_of_an_upgrade_restores_every_host(operator):
    op = operator()
    _with_old_release(op)
    op.plan()
    result = op.manage('rollout', 'start', 'r1')
    assert result.returncode == 0, result.stdout + result.stderr
    assert _current(op)['current']['name'] == 'new'
    assert _rollout(op, 'r1')['from_release'] == 'old'
    before = op.sim.report()
    assert all(_versions(before, h) == NEW for h in before['hosts'])

    result = op.manage('rollout', 'rollback', 'r1', '--name', 'back')
    assert result.returncode == 0, result.stdout + result.stderr
    report = op.sim.report()
    assert report['instances_killed'] == 0
    assert report['violations']['total'] == 0, report['violations']
    for host, info in report['hosts'].items():
        assert _versions(report, host) == OLD, host
        assert info['status'] == 'enabled'
        assert info['reboots'] == 2     # into the new, then the old
    # Each instance migrated at most once by the rollback (the referee's
    # count and ours), and the rollback did drain hosts.
    done = before['migrations']['per_instance']
    by_rollback = {i: n - done.get(i, 0) for i, n in
                   report['migrations']['per_instance'].items()}
    assert max(by_rollback.values()) == 1
    ours = _moves_per_instance(op, 'back')
    assert ours and max(ours.values()) == 1
    assert dict(ours) == {i: n for i, n in by_rollback.items() if n}
    back = _rollout(op, 'back')
    assert (back['state'], back['rollback_of'], back['from_release'],
            back['to_release']) == ('succeeded', 'r1', 'new', 'old')
    assert {h['state'] for h in back['hosts']} == {'done'}
    assert all(h['target_versions'] == OLD for h in back['hosts'])
    current = _current(op)
    assert current['current']['name'] == 'old'
    assert [(d['release'], d['rollout']) for d in current['history']] == [
        ('old', None), ('new', 'r1'), ('old', 'back')]

    # Nothing is left to take back; a planned rollout cannot be.
    again = op.manage('rollout', 'rollback', 'r1', '--name', 'again')
    assert again.returncode == 2
    assert 'nothing to roll back' in again.stderr
    op.ok('rollout', 'plan', '--template', 'compute-rolling-upgrade', '--to',
          'new', '--name', 'r2')
    planned = op.manage('rollout', 'rollback', 'r2')
    assert planned.returncode == 2 and 'is planned' in planned.stderr


def test_rollback_of_a_failed_rollout_leaves_reverted_hosts_alone(operator):
    op = operator()
    _with_old_release(op)
    plan = op.plan()
    bad = next(h for w in plan['waves'][1:] for h in w['hosts']
               if any(m for m in w['moves']))
    op.sim.api(op.sim.connect(), 'POST', 'simulator-admin', '/faults',
               json={'fault': {'kind': 'package_fail', 'host': bad,
                               'package': 'qemu'}})
    result = op.manage('rollout', 'start', 'r1')
    assert result.returncode == 2, result.stdout + result.stderr
    # A failed rollout does not move the cloud.
    assert _current(op)['current']['name'] == 'old'
    upgraded = sorted(h for h, r in op.hosts().items()
                      if r['state'] == 'done')
    assert upgraded and bad not in upgraded

    result = op.manage('rollout', 'rollback', 'r1', '--name', 'back',
                       '--plan-only', '--format', 'json')
    assert result.returncode == 0, result.stdout + result.stderr
    planned = json.loads(result.stdout)['plan']
    assert sorted(h for w in planned['waves'] for h in w['hosts']) == \
        upgraded
    result = op.manage('rollout', 'start', 'back')
    assert result.returncode == 0, result.stdout + result.stderr
    report = op.sim.report()
    assert report['instances_killed'] == 0
    assert report['violations']['total'] == 0, report['violations']
    for host in report['hosts']:
        assert _versions(report, host) == OLD, host
    assert report['hosts'][bad]['reboots'] == 0
    assert max(_moves_per_instance(op, 'back').values()) == 1
    assert _current(op)['current']['name'] == 'old'
