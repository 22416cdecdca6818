"""Nova's compute RPC pin in the control-plane model: the referee's
``rpc_incompatible`` when the nova control services send what the oldest
compute cannot read, or a compute passes the conductors."""

import pytest

from upgrader.common import exception
from upgrader.common import versions
from upgrader.simulator import cloud as sim_cloud
from upgrader.simulator import controlplane as cp
from upgrader.simulator import generate
from upgrader.simulator import referee

T0 = 1_700_000_000.0
NOVA = ('nova-api', 'nova-conductor', 'nova-scheduler')
CONTROLLERS = ('ctl001', 'ctl002')
COMPUTES = ('cmp001', 'cmp002', 'cmp003')


@pytest.fixture
def make(tmp_path):
    """make(nova_version) -> run: a cloud of three computes running
    nova-compute 29.0.0 and two controllers running the nova control
    services at ``nova_version``. run(func) calls func(cloud) in one
    transaction, a second later each time (an install job of the host
    agent ends within it)."""
    def make(nova_version='29.0.0'):
        path = str(tmp_path / 'cloud.db')
        generate.create_cloud(path, hosts=len(COMPUTES), instances=0,
                              anti_affinity_groups=0, seed=3)
        clock = [T0]

        def run(func):
            clock[0] += 1
            with sim_cloud.open_cloud(path, now=clock[0]) as cloud:
                return func(cloud)

        run(lambda c: cp.create(c.conn, c.now, len(CONTROLLERS),
                                dict.fromkeys(NOVA, nova_version)))
        return run
    return make


def _rpc(run):
    """The rpc_incompatible violations: [(host, details)]."""
    report = run(lambda c: referee.report(c.conn, c.now))
    found = [(v['host'], v['details']) for v in report['violations'][
        'details'] if v['kind'] == referee.RPC_INCOMPATIBLE]
    assert report['control_plane']['rpc_incompatible'] == len(found)
    assert report['violations']['by_kind'][referee.RPC_INCOMPATIBLE] == len(
        found)
    return found


def _pin(run):
    return run(lambda c: cp.rpc_pin(c.conn, cp.COMPUTE))


def _upgrade(run, host, service, version):
    api = cp.SERVICES[service][0] == cp.API
    if api:
        run(lambda c: cp.set_in_lb(c.conn, c.now, host, service, False))
    run(lambda c: cp.stop(c.conn, c.now, host, service))
    run(lambda c: cp.install(c.conn, c.now, host, service, version))
    run(lambda c: cp.start(c.conn, c.now, host, service))
    if api:
        run(lambda c: cp.set_in_lb(c.conn, c.now, host, service, True))


def _upgrade_compute(run, host, version):
    run(lambda c: c.install_packages(host, {cp.COMPUTE: version}))
    # Done by the next transaction.
    assert run(lambda c: c.packages(host))[cp.COMPUTE] == (version,
                                                           version)


def _upgrade_control_plane(run, version):
    run(lambda c: cp.migrate(c.conn, c.now, 'nova', 'expand',
                             cp.generation(version)))
    for service in ('nova-conductor', 'nova-scheduler', 'nova-api'):
        for host in CONTROLLERS:
            _upgrade(run, host, service, version)


def test_created_at_the_computes_generation_unpinned(make):
    run = make('29.1.0')
    assert _pin(run) is None
    described = run(lambda c: cp.describe(c.conn))
    assert described['rpc_pins'] == {'nova-compute': None}
    assert _rpc(run) == []


def test_created_newer_than_the_computes_pinned_to_them(make):
    run = make('30.0.0')
    assert _pin(run) == '29.0.0'
    report = run(lambda c: referee.report(c.conn, c.now))
    assert report['control_plane']['rpc_pins'] == {'nova-compute': '29.0.0'}
    assert report['ok']


def test_conductor_upgraded_unpinned_sends_what_old_computes_cannot_read(
        make):
    run = make()
    run(lambda c: cp.migrate(c.conn, c.now, 'nova', 'expand', 30))
    _upgrade(run, 'ctl001', 'nova-conductor', '30.0.0')
    expected = [('ctl001', {'service': 'nova-conductor', 'host': 'ctl001',
                            'version': '30.0.0', 'compute_generation': 29})]
    assert _rpc(run) == expected
    # The same pairing, judged after every later change: recorded once.
    run(lambda c: cp.set_in_lb(c.conn, c.now, 'ctl002', 'nova-api', False))
    run(lambda c: cp.set_in_lb(c.conn, c.now, 'ctl002', 'nova-api', True))
    assert _rpc(run) == expected
    _upgrade(run, 'ctl002', 'nova-conductor', '30.0.0')
    assert [h for h, _ in _rpc(run)] == ['ctl001', 'ctl002']
    [message] = [v['message'] for v in run(
        lambda c: referee.report(c.conn, c.now))['violations']['details']
        if v['host'] == 'ctl001']
    assert 'cmp001 (29.0.0)' in message and 'not pinned' in message


def test_pinned_the_whole_release_goes_by_without_a_violation(make):
    run = make()
    run(lambda c: cp.pin_rpc(c.conn, c.now, cp.COMPUTE, '29.0.0'))
    _upgrade_control_plane(run, '30.0.0')
    for host in COMPUTES:
        _upgrade_compute(run, host, '30.0.0')
    assert _pin(run) == '29.0.0'
    run(lambda c: cp.unpin_rpc(c.conn, c.now, cp.COMPUTE))
    run(lambda c: cp.unpin_rpc(c.conn, c.now, cp.COMPUTE))   # idempotent
    assert _pin(run) is None
    report = run(lambda c: referee.report(c.conn, c.now))
    assert report['ok'], report['violations']['details']
    assert report['control_plane']['rpc_pins'] == {'nova-compute': None}


def test_unpinned_while_an_old_compute_remains(make):
    run = make()
    run(lambda c: cp.pin_rpc(c.conn, c.now, cp.COMPUTE, '29.0.0'))
    _upgrade_control_plane(run, '30.0.0')
    _upgrade_compute(run, 'cmp001', '30.0.0')
    _upgrade_compute(run, 'cmp002', '30.0.0')
    assert _rpc(run) == []
    run(lambda c: cp.unpin_rpc(c.conn, c.now, cp.COMPUTE))
    # Every running nova control service, against cmp003's generation.
    found = _rpc(run)
    assert sorted((h, d['service']) for h, d in found) == sorted(
        (h, s) for h in CONTROLLERS for s in NOVA)
    assert {d['compute_generation'] for _, d in found} == {29}
    # Pinned again, then the last compute, then unpinned: nothing more.
    run(lambda c: cp.pin_rpc(c.conn, c.now, cp.COMPUTE, '29.0.0'))
    _upgrade_compute(run, 'cmp003', '30.0.0')
    run(lambda c: cp.unpin_rpc(c.conn, c.now, cp.COMPUTE))
    assert len(_rpc(run)) == len(found)


def test_a_pin_newer_than_the_oldest_compute_does_not_help(make):
    run = make()
    run(lambda c: cp.pin_rpc(c.conn, c.now, cp.COMPUTE, '30.0.0'))
    assert _rpc(run) == []           # nothing of generation 30 runs yet
    run(lambda c: cp.migrate(c.conn, c.now, 'nova', 'expand', 30))
    _upgrade(run, 'ctl001', 'nova-scheduler', '30.0.0')
    assert [(h, d['service']) for h, d in _rpc(run)] == [
        ('ctl001', 'nova-scheduler')]


def test_computes_before_the_conductors(make):
    run = make()
    _upgrade_compute(run, 'cmp002', '30.0.0')
    assert _rpc(run) == [('cmp002', {
        'service': 'nova-compute', 'host': 'cmp002', 'version': '30.0.0',
        'conductor_generation': 29})]
    # One conductor upgraded is not enough: the oldest one judges.
    run(lambda c: cp.migrate(c.conn, c.now, 'nova', 'expand', 30))
    run(lambda c: cp.pin_rpc(c.conn, c.now, cp.COMPUTE, '29.0.0'))
    _upgrade(run, 'ctl001', 'nova-conductor', '30.0.0')
    _upgrade_compute(run, 'cmp003', '30.0.0')
    assert [h for h, _ in _rpc(run)] == ['cmp002', 'cmp003']


def test_a_stopped_conductor_is_not_judged(make):
    run = make()
    run(lambda c: cp.migrate(c.conn, c.now, 'nova', 'expand', 30))
    run(lambda c: cp.pin_rpc(c.conn, c.now, cp.COMPUTE, '29.0.0'))
    _upgrade(run, 'ctl001', 'nova-conductor', '30.0.0')
    run(lambda c: cp.stop(c.conn, c.now, 'ctl002', 'nova-conductor'))
    _upgrade_compute(run, 'cmp001', '30.0.0')
    assert _rpc(run) == []
    # It starts again, old, below a newer compute.
    run(lambda c: cp.start(c.conn, c.now, 'ctl002', 'nova-conductor'))
    assert [h for h, _ in _rpc(run)] == ['cmp001']


def test_a_package_epoch_is_not_a_generation(make):
    assert versions.schema_generation('2:30.0.0-0ubuntu1') == 30
    run = make()
    _upgrade_compute(run, 'cmp001', '2:30.0.0-0ubuntu1')
    assert [d['version'] for _, d in _rpc(run)] == ['2:30.0.0-0ubuntu1']


def test_refusals(make):
    run = make()
    with pytest.raises(exception.NotFound, match='only nova-compute'):
        run(lambda c: cp.pin_rpc(c.conn, c.now, 'glance-api', '29.0.0'))
    with pytest.raises(exception.NotFound, match='only nova-compute'):
        run(lambda c: cp.rpc_pin(c.conn, 'nova-conductor'))
    with pytest.raises(exception.InvalidInput, match='MAJOR'):
        run(lambda c: cp.pin_rpc(c.conn, c.now, cp.COMPUTE, 'latest'))
    assert _pin(run) is None


def test_a_cloud_without_a_control_plane(tmp_path):
    path = str(tmp_path / 'cloud.db')
    generate.create_cloud(path, hosts=2, instances=0,
                          anti_affinity_groups=0, seed=3)
    with sim_cloud.open_cloud(path, now=T0) as cloud:
        with pytest.raises(exception.NotFound, match='control plane'):
            cp.pin_rpc(cloud.conn, cloud.now, cp.COMPUTE, '29.0.0')
        cloud.install_packages('cmp001', {cp.COMPUTE: '31.0.0'})
    with sim_cloud.open_cloud(path, now=T0 + 1) as cloud:
        assert cp.rpc_pin(cloud.conn, cp.COMPUTE) is None
        report = referee.report(cloud.conn, cloud.now)
    assert report['ok'] and report['control_plane']['rpc_incompatible'] == 0


def test_a_control_plane_from_before_the_pins(make):
    """A state file whose control plane has no table of pins yet."""
    run = make()
    run(lambda c: c.conn.execute('DROP TABLE cp_rpc_pins'))
    assert _pin(run) is None
    assert run(lambda c: cp.describe(c.conn))['rpc_pins'] == {
        'nova-compute': None}
    _upgrade_compute(run, 'cmp001', '29.0.1')
    run(lambda c: cp.pin_rpc(c.conn, c.now, cp.COMPUTE, '29.0.0'))
    assert _pin(run) == '29.0.0'
    assert _rpc(run) == []
