"""A control-plane service rolled out and rolled back as an operator does
it: upgrader-manage subprocesses, the simulator's control plane over HTTP,
its referee probing every API through the load balancer."""

import json

CONTROL_PLANE = {'keystone': '26.0.0', 'nova-api': '30.0.0',
                 'nova-conductor': '30.0.0'}
DOCS = {'keystone': {v: {'versions': ['v3.14']}
                     for v in ('26.0.0', '26.0.1')}}


def _services(op, conn):
    described = op.sim.api(conn, 'GET', 'control-plane', '/').json()
    return {s: {h: (i['version'], i['in_lb'], i['healthy'])
                for h, i in d['instances'].items()}
            for s, d in described['services'].items()}


def _current(op):
    return json.loads(op.ok('release', 'current', '--format',
                            'json').stdout)['current']['name']


def _cloud(operator):
    op = operator(hosts=4, instances=4, anti_affinity_groups=0)
    return op, op.control_plane(CONTROL_PLANE, DOCS)


def test_keystone_alone_upgraded_then_rolled_back(operator):
    op, conn = _cloud(operator)
    op.ok('release', 'create', 'cp-ks', '--parent', 'cp', '--component',
          'keystone=26.0.1')
    before = _services(op, conn)
    computes = op.sim.report()['hosts']

    plan = json.loads(op.ok('rollout', 'plan', '--template',
                            'service-update', '--service', 'keystone', '--to',
                            'cp-ks', '--name', 'ks', '--format',
                            'json').stdout)['plan']
    # One controller at a time (the template's max_parallel), no moves.
    assert [w['hosts'] for w in plan['waves']] == [['ctl001'], ['ctl002'],
                                                   ['ctl003']]
    result = op.manage('rollout', 'start', 'ks')
    assert result.returncode == 0, result.stdout + result.stderr
    after = _services(op, conn)
    assert after['keystone'] == dict.fromkeys(
        ('ctl001', 'ctl002', 'ctl003'), ('26.0.1', True, True))
    assert {s: v for s, v in after.items() if s != 'keystone'} == {
        s: v for s, v in before.items() if s != 'keystone'}
    report = op.sim.report()
    assert report['control_plane']['failed_probes'] == 0
    assert report['control_plane']['probes'] > 0
    assert report['violations']['total'] == 0, report['violations']
    assert _current(op) == 'cp-ks'

    result = op.manage('rollout', 'rollback', 'ks', '--service', 'keystone',
                       '--name', 'ks-back')
    assert result.returncode == 0, result.stdout + result.stderr
    assert _services(op, conn) == before
    report = op.sim.report()
    assert report['control_plane']['failed_probes'] == 0
    assert report['control_plane']['incompatible'] == 0
    assert report['violations']['total'] == 0, report['violations']
    # Nothing else touched: the compute hosts are as they were.
    assert report['hosts'] == computes
    assert _current(op) == 'cp'
    back = json.loads(op.ok('rollout', 'status', 'ks-back', '--format',
                            'json').stdout)
    assert (back['rollback_of'], back['to_release']) == ('ks', 'cp')
    assert [h['target_versions'] for h in back['hosts']] == [
        {'keystone': '26.0.0'}] * 3

    again = op.manage('rollout', 'rollback', 'ks', '--service', 'keystone')
    assert again.returncode == 2 and 'nothing to roll back' in again.stderr
    done = op.manage('rollout', 'plan', '--template', 'service-update',
                     '--service', 'keystone', '--to', 'cp')
    assert done.returncode == 2 and 'already runs' in done.stderr


def test_a_release_breaking_the_api_stops_after_the_first_host(operator):
    op, conn = _cloud(operator)
    op.ok('release', 'create', 'cp-bad', '--parent', 'cp', '--component',
          'keystone=26.0.2')
    before = _services(op, conn)
    op.ok('rollout', 'plan', '--template', 'service-update', '--service',
          'keystone', '--to', 'cp-bad', '--name', 'bad')
    result = op.manage('rollout', 'start', 'bad')
    assert result.returncode == 2, result.stdout + result.stderr
    hosts = {h['host']: h for h in json.loads(op.ok(
        'rollout', 'status', 'bad', '--format', 'json').stdout)['hosts']}
    assert hosts['ctl001']['state'] == 'error'
    assert 'v3.14 dropped' in hosts['ctl001']['error']
    assert (hosts['ctl002']['state'], hosts['ctl003']['state']) == (
        'pending', 'pending')
    # Reverted there: every controller on the old code, in the balancer.
    assert _services(op, conn) == before
    report = op.sim.report()['control_plane']
    assert (report['failed_probes'], report['incompatible']) == (0, 0)
    assert _current(op) == 'cp'
