"""max_unavailable per availability zone and per host aggregate, end to end:
the planner's waves keep the limits, and the simulator's referee, told the
same limits, finds no moment with more hosts out of service in a zone or an
aggregate; without them in the plan, it does."""

import collections
import json

from tests.fixtures.simulator import wait_for

# 8 hosts in 2 zones (cmp001-004, cmp005-008) and 2 aggregates besides the
# zones' own (agg1: cmp001, 003, 005, 007; agg2: the others); the last host
# of each zone starts empty.
CLOUD = dict(hosts=8, instances=16, azs=2, aggregates=2)


def _aggregates(op):
    inventory = json.loads(op.ok('cloud', 'inventory', '--format',
                                 'json').stdout)
    return {h['name']: h['aggregates'] for h in inventory['hosts']}


def _most_out(plan, groups_of):
    """Per zone or aggregate, the most hosts one wave takes out."""
    most = collections.Counter()
    for wave in plan['waves']:
        counts = collections.Counter(g for h in wave['hosts']
                                     for g in groups_of[h])
        for group, n in counts.items():
            most[group] = max(most[group], n)
    return most


def _referee_limits(op, **policy):
    answer = op.sim.api(op.sim.connect(), 'PUT', 'simulator-admin',
                        '/policy', json={'policy': policy})
    assert answer.status_code == 200, answer.text


def _plan(op, *options):
    """The plan, with its warnings (exit 1) allowed."""
    result = op.manage('rollout', 'plan', '--template',
                       'compute-rolling-upgrade', '--to', 'new', '--name',
                       'r1', '--format', 'json', *options)
    assert result.returncode in (0, 1), result.stdout + result.stderr
    return json.loads(result.stdout)['plan']


def _too_many_out(report):
    return [v for v in report['violations']['details']
            if v['kind'] == 'too_many_hosts_out_of_service']


def test_per_zone_and_per_aggregate_limits_hold_on_the_cloud(operator):
    op = operator(**CLOUD)
    groups_of = _aggregates(op)
    # Zones are aggregates too (Nova's availability zones are).
    assert groups_of['cmp001'] == ['agg1', 'az1']
    _referee_limits(op, max_hosts_out_of_service=4,
                    max_hosts_out_of_service_per_az=1,
                    max_hosts_out_of_service_per_aggregate=1)
    plan = _plan(op, '--max-parallel', '4', '--max-unavailable-per-az', '1',
                   '--max-unavailable-per-aggregate', '1')
    assert set(_most_out(plan, groups_of).values()) == {1}
    # The empty hosts share agg2, so they go in two waves; every instance
    # still moves once.
    assert plan['warnings'] == []
    assert plan['migrations'] == plan['lower_bound_migrations'] == 16
    # The limits bind, yet waves still take a host per zone.
    assert max(len(w['hosts']) for w in plan['waves']) == 2
    result = op.manage('rollout', 'start', 'r1', timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    report = op.sim.report()
    assert report['policy']['max_hosts_out_of_service_per_aggregate'] == 1
    assert report['violations']['total'] == 0, report['violations']
    assert {h['reboots'] for h in report['hosts'].values()} == {1}
    assert {h['state'] for h in op.hosts().values()} == {'done'}


def test_the_referee_sees_an_aggregate_over_its_limit(operator):
    op = operator(**CLOUD)
    groups_of = _aggregates(op)
    _referee_limits(op, max_hosts_out_of_service=4,
                    max_hosts_out_of_service_per_aggregate=1)
    plan = _plan(op, '--max-parallel', '2')
    over = {g for g, n in _most_out(plan, groups_of).items() if n > 1}
    assert over, plan['waves']
    proc = op.start_in_background()
    try:
        # Seen as it happens: no need to let the rollout finish.
        found = wait_for(lambda: _too_many_out(op.sim.report()),
                         timeout=120, interval=0.2)
    finally:
        proc.kill()
        proc.communicate()
    assert {v['details']['scope'] for v in found} <= {
        'aggregate:%s' % g for g in over}
    assert all(v['details']['max'] == 1 and len(v['details']['hosts']) == 2
               for v in found)
