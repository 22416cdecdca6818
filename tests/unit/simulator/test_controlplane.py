"""The control-plane model: code and schema generations, the load balancer,
and the referee's probes after every change."""

import pytest

from upgrader.common import exception
from upgrader.simulator import cloud as sim_cloud
from upgrader.simulator import controlplane as cp
from upgrader.simulator import generate
from upgrader.simulator import referee

T0 = 1_700_000_000.0
OLD = {'keystone': '26.0.0', 'glance-api': '29.0.0', 'nova-api': '30.0.0',
       'nova-conductor': '30.0.0', 'nova-scheduler': '30.0.0'}
HOSTS = ('ctl001', 'ctl002', 'ctl003')


@pytest.fixture
def run(tmp_path):
    """run(func) calls func(conn, now) in one transaction; the cloud has a
    control plane of three controllers."""
    path = str(tmp_path / 'cloud.db')
    generate.create_cloud(path, hosts=4, instances=4, anti_affinity_groups=0,
                          seed=3)
    clock = [T0]

    def run(func):
        clock[0] += 1
        with sim_cloud.open_cloud(path, now=clock[0]) as cloud:
            return func(cloud.conn, cloud.now)

    run(lambda c, now: cp.create(c, now, 3, OLD, documents={
        'keystone': {'26.0.0': {'versions': ['v3'], 'min': None,
                                'max': None}}}))
    return run


def _report(run):
    return run(lambda c, now: referee.report(c, now))


def _failed(run):
    return _report(run)['control_plane']['failed_probes']


def test_created_healthy_and_probed(run):
    described = run(lambda c, now: cp.describe(c))
    assert set(described['services']) == set(OLD)
    assert described['databases'] == {
        # One successful probe each (a write) after the creation.
        'glance': {'expanded': 29, 'contracted': 29, 'migrated': 29,
                   'writes': 1},
        'keystone': {'expanded': 26, 'contracted': 26, 'migrated': 26,
                     'writes': 1},
        'nova': {'expanded': 30, 'contracted': 30, 'migrated': 30,
                 'writes': 1}}
    keystone = described['services']['keystone']['instances']
    assert sorted(keystone) == list(HOSTS)
    assert all(i['in_lb'] and i['healthy'] for i in keystone.values())
    worker = described['services']['nova-conductor']['instances']
    assert not any(i['in_lb'] for i in worker.values())
    report = _report(run)
    # One probe per API service after the creation, none failed. Nova 30
    # over computes of 29: created pinned to them.
    assert report['control_plane'] == {'probes': 3, 'failed_probes': 0,
                                       'failed_by_service': {},
                                       'incompatible': 0,
                                       'rpc_incompatible': 0,
                                       'rpc_pins': {'nova-compute':
                                                    '29.0.0'},
                                       'restores': 0, 'writes_lost': 0}
    assert report['ok']
    ok, document, _ = run(lambda c, now: cp.probe(c, now, 'keystone'))
    assert ok and document == {'versions': ['v3'], 'min': None,
                               'max': None, 'service': 'keystone',
                               'version': '26.0.0'}


def test_stopping_a_backend_in_the_balancer_fails_requests(run):
    run(lambda c, now: cp.stop(c, now, 'ctl001', 'keystone'))
    report = _report(run)
    assert report['control_plane']['failed_by_service'] == {'keystone': 1}
    assert report['violations']['by_kind'][referee.API_REQUEST_FAILED] == 1
    ok, _, reason = run(lambda c, now: cp.probe(c, now, 'keystone'))
    assert not ok and 'ctl001' in reason


def test_a_drained_host_upgraded_with_expand_first_fails_nothing(run):
    run(lambda c, now: cp.migrate(c, now, 'keystone', 'expand', 27))
    for host in HOSTS:
        run(lambda c, now: cp.set_in_lb(c, now, host, 'keystone', False))
        run(lambda c, now: cp.stop(c, now, host, 'keystone'))
        run(lambda c, now: cp.install(c, now, host, 'keystone', '27.0.1'))
        run(lambda c, now: cp.start(c, now, host, 'keystone'))
        run(lambda c, now: cp.set_in_lb(c, now, host, 'keystone', True))
    run(lambda c, now: cp.migrate_data(c, now, 'keystone', 27))
    run(lambda c, now: cp.migrate(c, now, 'keystone', 'contract', 27))
    report = _report(run)
    assert report['control_plane']['failed_probes'] == 0
    assert report['control_plane']['incompatible'] == 0
    assert report['control_plane']['probes'] == 3 * (1 + 3 + 5 * 3)
    versions = {h: i['version'] for h, i in run(lambda c, now: cp.describe(
        c))['services']['keystone']['instances'].items()}
    assert versions == dict.fromkeys(HOSTS, '27.0.1')


def test_new_code_without_expand_is_an_outage(run):
    run(lambda c, now: cp.set_in_lb(c, now, 'ctl001', 'keystone', False))
    run(lambda c, now: cp.stop(c, now, 'ctl001', 'keystone'))
    run(lambda c, now: cp.install(c, now, 'ctl001', 'keystone', '27.0.0'))
    assert _failed(run) == 0
    run(lambda c, now: cp.start(c, now, 'ctl001', 'keystone'))
    assert _report(run)['control_plane']['incompatible'] == 1
    # Back in the balancer, its requests fail.
    run(lambda c, now: cp.set_in_lb(c, now, 'ctl001', 'keystone', True))
    assert _failed(run) == 1


def test_contract_breaks_old_code_still_running(run):
    run(lambda c, now: cp.migrate(c, now, 'nova', 'expand', 31))
    run(lambda c, now: cp.migrate_data(c, now, 'nova', 31))
    assert _report(run)['control_plane']['incompatible'] == 0
    run(lambda c, now: cp.migrate(c, now, 'nova', 'contract', 31))
    report = _report(run)['control_plane']
    # nova-api, nova-conductor, nova-scheduler on three hosts each.
    assert report['incompatible'] == 9
    assert report['failed_by_service'] == {'nova-api': 1}


def test_no_backend_in_the_balancer_is_an_outage(run):
    for host in HOSTS:
        run(lambda c, now: cp.set_in_lb(c, now, host, 'glance-api', False))
    assert _report(run)['control_plane']['failed_by_service'] == {
        'glance-api': 1}


def test_refusals(run):
    with pytest.raises(exception.Conflict, match='stop keystone'):
        run(lambda c, now: cp.install(c, now, 'ctl001', 'keystone',
                                      '27.0.0'))
    with pytest.raises(exception.Conflict, match='expanded only to 26'):
        run(lambda c, now: cp.migrate(c, now, 'keystone', 'contract', 27))
    with pytest.raises(exception.InvalidInput, match='load balancer'):
        run(lambda c, now: cp.set_in_lb(c, now, 'ctl001', 'nova-conductor',
                                        False))
    with pytest.raises(exception.NotFound):
        run(lambda c, now: cp.stop(c, now, 'ctl009', 'keystone'))
    with pytest.raises(exception.Conflict, match='has a control plane'):
        run(lambda c, now: cp.create(c, now, 1, OLD))
    with pytest.raises(exception.InvalidInput, match='MAJOR'):
        cp.generation('latest')
    assert cp.generation('27.0.1') == 27
    assert _failed(run) == 0


def _keystone_db(run):
    return run(lambda c, now: cp.describe(c))['databases']['keystone']


def test_contract_needs_the_data_migrations(run):
    run(lambda c, now: cp.migrate(c, now, 'keystone', 'expand', 27))
    with pytest.raises(exception.Conflict, match='data migrations ran only '
                                                 'to 26'):
        run(lambda c, now: cp.migrate(c, now, 'keystone', 'contract', 27))
    with pytest.raises(exception.Conflict, match='expanded only to 27'):
        run(lambda c, now: cp.migrate_data(c, now, 'keystone', 28))
    run(lambda c, now: cp.migrate_data(c, now, 'keystone', 27))
    run(lambda c, now: cp.migrate_data(c, now, 'keystone', 27))
    assert _keystone_db(run)['migrated'] == 27


def test_a_restore_says_how_many_writes_it_loses(run):
    run(lambda c, now: cp.migrate(c, now, 'keystone', 'expand', 27))
    taken = run(lambda c, now: cp.backup(c, now, 'keystone', label='r1'))
    assert (taken['expanded'], taken['contracted'], taken['label']) == (
        27, 26, 'r1')
    before = _keystone_db(run)['writes']
    assert taken['writes'] == before
    # Two successful keystone requests since: two writes.
    run(lambda c, now: cp.migrate_data(c, now, 'keystone', 27))
    run(lambda c, now: cp.probe(c, now, 'keystone'))
    assert _keystone_db(run)['writes'] == before + 2
    restored = run(lambda c, now: cp.restore(c, now, 'keystone',
                                             taken['id']))
    assert restored['writes_lost'] == 2
    db = _keystone_db(run)
    assert (db['expanded'], db['contracted'], db['migrated']) == (27, 26, 26)
    # The restore itself was judged as a change: one successful write.
    assert db['writes'] == before + 1
    report = _report(run)['control_plane']
    assert (report['restores'], report['writes_lost']) == (1, 2)
    assert report['failed_probes'] == 0
    assert run(lambda c, now: cp.backups(c, 'keystone')) == [taken]
    with pytest.raises(exception.NotFound, match='backup 99'):
        run(lambda c, now: cp.restore(c, now, 'keystone', 99))
