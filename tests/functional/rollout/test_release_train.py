"""A full release rolled out as a train (rollout plan-release): the control
plane service by service in the upstream order, then the computes, as an
operator runs it (upgrader-manage subprocesses, the simulator's referee
probing every API through the load balancer and watching every host)."""

import collections
import json

from tests.fixtures.operator import NEW
from tests.fixtures.operator import OLD

SERVICES_OLD = {'keystone': '26.0.0', 'glance-api': '28.0.0',
                'nova-conductor': '29.0.0', 'nova-api': '29.0.0'}
SERVICES_NEW = {'keystone': '27.0.0', 'glance-api': '28.0.1',
                'nova-conductor': '30.0.0', 'nova-api': '30.0.0'}


def _components(versions):
    return [a for c, v in sorted(versions.items())
            for a in ('--component', '%s=%s' % (c, v))]


NEW_VERSIONS = {c: {v} for c, v in dict(SERVICES_NEW, **NEW).items()}


def cloud(op):
    """Put ``op``'s cloud on release 'old' (a control plane of two
    controllers, and the computes), and make release 'full' that changes
    every component; returns a connection to the simulator's state."""
    conn = op.control_plane(SERVICES_OLD, {}, controllers=2)
    op.ok('release', 'create', 'old', *_components(dict(SERVICES_OLD,
                                                        **OLD)))
    op.ok('release', 'set-current', 'old')
    op.ok('release', 'create', 'full', *_components(dict(SERVICES_NEW,
                                                         **NEW)))
    return conn


def _stage_names(op, train):
    return [r['name'] for r in op.query(
        "SELECT s.name FROM rollouts s JOIN rollouts t ON s.train_id = t.id "
        "WHERE t.name = '%s' ORDER BY s.id" % train)]


def versions(op, conn):
    """{component: {versions the controllers or computes run}}."""
    described = op.sim.api(conn, 'GET', 'control-plane', '/').json()
    found = {s: {i['version'] for i in described['services'][s][
        'instances'].values()} for s in SERVICES_OLD}
    for host in op.sim.report()['hosts'].values():
        for package in OLD:
            found.setdefault(package, set()).add(host['packages'][package])
    return found


def _moves_per_instance(op, rollout):
    rows = op.query("SELECT m.instance_uuid FROM instance_moves m JOIN "
                    "rollouts r ON r.id = m.rollout_id WHERE r.name = '%s' "
                    "AND m.state = 'completed'" % rollout)
    return collections.Counter(r['instance_uuid'] for r in rows)


def test_full_release_control_plane_then_computes_and_back(operator):
    op = operator(hosts=4, instances=6, anti_affinity_groups=1)
    conn = cloud(op)
    planned = json.loads(op.ok('rollout', 'plan-release', '--to', 'full',
                               '--name', 't', '--max-parallel', '2',
                               '--format', 'json').stdout)
    kinds = [(s['kind'], s.get('service')) for s in planned['stages']]
    assert kinds == [
        ('expand', None), ('service', 'keystone'), ('service', 'glance-api'),
        ('pin', 'nova-compute'), ('service', 'nova-conductor'),
        ('service', 'nova-api'), ('computes', None),
        ('unpin', 'nova-compute')]
    templates = {s.get('service'): s.get('template')
                 for s in planned['stages']}
    assert templates['glance-api'] == 'service-update'    # a patch release
    assert templates['keystone'] == 'service-rolling-upgrade'
    assert _stage_names(op, 't') == [
        't.2-keystone', 't.3-glance-api', 't.5-nova-conductor',
        't.6-nova-api', 't.7-computes']
    # A stage is the train's to run.
    refused = op.manage('rollout', 'start', 't.2-keystone')
    assert refused.returncode == 2
    assert 'stage of release train t' in refused.stderr

    result = op.manage('rollout', 'start', 't', timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    report = op.sim.report()
    cp = report['control_plane']
    assert cp['failed_probes'] == 0, cp
    assert cp['incompatible'] == 0, cp
    # New Nova services never talked to old computes unpinned, and no
    # compute got ahead of the conductors; the pin is lifted at the end.
    assert cp['rpc_incompatible'] == 0, cp
    assert cp['rpc_pins'].get('nova-compute') is None, cp
    assert report['instances_killed'] == 0
    assert report['violations']['total'] == 0, report['violations']
    assert report['migrations']['per_instance_max'] == 1
    assert versions(op, conn) == NEW_VERSIONS
    # Each stage moved the cloud one release on; it is on 'full' now.
    current = json.loads(op.ok('release', 'current', '--format',
                               'json').stdout)
    assert current['current']['name'] == 'full'
    moved = [d['release'] for d in current['history'] if d['rollout']]
    assert sorted(moved) == ['full', 't-2-keystone', 't-3-glance-api',
                             't-5-nova-conductor', 't-6-nova-api']
    status = json.loads(op.ok('rollout', 'status', 't', '--format',
                              'json').stdout)
    assert status['state'] == 'succeeded'
    assert [s['state'] for s in status['stages']] == [
        None, 'succeeded', 'succeeded', None, 'succeeded', 'succeeded',
        'succeeded', None]
    assert status['stage'] == 't.7-computes'
    assert {h['state'] for h in status['hosts']} == {'done'}
    assert 'Stage t.7-computes:' in op.ok('rollout', 'status', 't').stdout

    # Committed: each stage that changed a schema contracts it.
    op.ok('rollout', 'commit', 't')
    databases = op.sim.api(conn, 'GET', 'control-plane', '/').json()[
        'databases']
    assert {d: (v['expanded'], v['contracted'])
            for d, v in databases.items()} == {'keystone': (27, 27),
                                              'nova': (30, 30),
                                              'glance': (28, 28)}

    # The way back: the stages' rollbacks, last first, the computes pinned
    # while they go back before the Nova services; the contracted
    # databases restored from the backups the stages took after expand.
    result = op.manage('rollout', 'rollback', 't', '--name', 'back',
                       '--yes', timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    # Once per database (nova's from the later of its stages' backups).
    assert sorted(line.split()[5] for line in result.stderr.splitlines()
                  if 'will be restored' in line) == ['keystone', 'nova']
    assert _stage_names(op, 'back') == [
        'back.2-computes', 'back.3-nova-api', 'back.4-nova-conductor',
        'back.6-glance-api', 'back.7-keystone']
    assert versions(op, conn) == {c: {v} for c, v in dict(
        SERVICES_OLD, **OLD).items()}
    report = op.sim.report()
    cp = report['control_plane']
    assert (cp['failed_probes'], cp['incompatible'], cp['rpc_incompatible'],
            cp['rpc_pins'].get('nova-compute')) == (0, 0, 0, None), cp
    assert cp['restores'] == 2, cp            # keystone's and nova's
    assert report['instances_killed'] == 0
    assert report['violations']['total'] == 0, report['violations']
    assert max(_moves_per_instance(op, 'back.2-computes').values()) == 1
    current = json.loads(op.ok('release', 'current', '--format',
                               'json').stdout)
    assert current['current']['name'] == 'old'
