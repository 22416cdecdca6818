"""The cloud model with an explicit clock: time, faults and the referee."""

import json

import pytest

from upgrader.common import exception
from upgrader.simulator import cloud as sim_cloud
from upgrader.simulator import faults
from upgrader.simulator import generate
from upgrader.simulator import referee
from upgrader.simulator import state

T0 = 1_700_000_000.0
SCALE = 1000.0


@pytest.fixture
def path(tmp_path):
    path = str(tmp_path / 'cloud.db')
    generate.create_cloud(path, hosts=4, instances=10, azs=2,
                          anti_affinity_groups=1, group_size=3,
                          non_live_migratable_fraction=0.2, seed=11,
                          time_scale=SCALE, max_hosts_out_of_service=1)
    return path


class Clock:
    """Runs each step in its own transaction at a chosen time."""

    def __init__(self, path):
        self.path = path

    def at(self, offset, func):
        with sim_cloud.open_cloud(self.path, now=T0 + offset) as cloud:
            return func(cloud)

    def report(self, offset=0.0):
        return self.at(offset, lambda c: referee.report(c.conn, c.now))


@pytest.fixture
def clock(path):
    return Clock(path)


def _movable(cloud):
    grouped = {r[0] for r in cloud.conn.execute(
        'SELECT instance_uuid FROM server_group_members')}
    return [i for i in cloud.conn.execute(
        'SELECT * FROM instances WHERE live_migratable = 1 ORDER BY seq')
        if i['uuid'] not in grouped]


def _empty_target(cloud, inst):
    for h in cloud.hosts():
        if h['name'] != inst['host'] and not cloud._shortfall(
                h, cloud.flavor(inst['flavor_id'])):
            return h['name']


def _wall(cloud, inst):
    ram = cloud.flavor(inst['flavor_id'])['ram']
    d = generate.DEFAULT_DURATIONS
    return (d['live_migration_base']
            + d['live_migration_per_gb'] * ram / 1024.0) / SCALE


def test_live_migration_completes_after_its_duration(clock):
    inst, target, duration = clock.at(0, lambda c: (
        lambda i: (i, _empty_target(c, i), _wall(c, i)))(_movable(c)[0]))
    before = clock.at(0, lambda c: c.usage(target)['MEMORY_MB'])
    clock.at(0, lambda c: c.live_migrate(inst['uuid'], target))
    half = clock.at(duration / 2, lambda c: (
        c.instance(inst['uuid'])['status'],
        c.migrations(instance_uuid=inst['uuid'])[0]['status'],
        c.usage(target)['MEMORY_MB']))
    assert half[:2] == ('MIGRATING', 'running')
    # Placement holds the destination while the migration runs.
    assert half[2] == before + clock.at(0, lambda c: c.flavor(
        inst['flavor_id'])['ram'])
    done = clock.at(duration * 1.01, lambda c: (
        c.instance(inst['uuid']),
        c.migrations(instance_uuid=inst['uuid'])[0]['status']))
    assert (done[0]['status'], done[0]['host'], done[1]) == (
        'ACTIVE', target, 'completed')
    assert clock.report(duration * 2)['migrations']['per_instance'] == {
        inst['uuid']: 1}


def test_migration_phases(clock):
    inst, duration = clock.at(0, lambda c: (
        lambda i: (i, _wall(c, i)))(_movable(c)[0]))
    clock.at(0, lambda c: c.live_migrate(inst['uuid']))
    phases = [clock.at(duration * f, lambda c: c.migrations(
        instance_uuid=inst['uuid'])[0]['status'])
        for f in (0.01, 0.1, 0.5, 1.0)]
    assert phases == ['queued', 'preparing', 'running', 'completed']


def test_refusals(clock):
    def check(cloud):
        inst = _movable(cloud)[0]
        with pytest.raises(exception.InvalidInput, match='current host'):
            cloud.live_migrate(inst['uuid'], inst['host'])
        with pytest.raises(exception.InvalidInput, match='could not be'):
            cloud.live_migrate(inst['uuid'], 'cmp999')
        pinned = cloud.conn.execute('SELECT uuid FROM instances WHERE '
                                    'live_migratable = 0').fetchone()
        with pytest.raises(exception.InvalidInput, match='pre-check'):
            cloud.live_migrate(pinned['uuid'])
        cloud.live_migrate(inst['uuid'])
        with pytest.raises(exception.Conflict):
            cloud.live_migrate(inst['uuid'])
    clock.at(0, check)


def test_reboot_kills_instances_and_host_comes_back(clock):
    host, victims = clock.at(0, lambda c: (lambda h: (h, [
        r['uuid'] for r in c.conn.execute(
            'SELECT uuid FROM instances WHERE host = ?', (h,))]))(
        c.hosts()[0]['name']))
    assert victims
    boot = clock.at(0, lambda c: c.host(host)['boot_id'])
    job = clock.at(0, lambda c: c.reboot(host))
    reboot = generate.DEFAULT_DURATIONS['reboot'] / SCALE
    down = clock.at(reboot / 2, lambda c: (c.host(host)['power'],
                                           c.job(job['id'])['status']))
    assert down == ('rebooting', 'running')
    up = clock.at(reboot * 1.01, lambda c: c.host(host))
    assert up['power'] == 'up' and up['boot_id'] != boot
    report = clock.report(reboot * 2)
    assert report['instances_killed'] == len(victims)
    assert sorted(report['killed_instances']) == sorted(victims)
    statuses = clock.at(reboot * 2, lambda c: {
        c.instance(v)['status'] for v in victims})
    assert statuses == {'SHUTOFF'}
    # The boot id is derived from the seed: same run, same ids.
    assert up['boot_id'] == generate.derived_uuid(11, 'boot', host, 1)


def test_install_then_reboot_for_kernel(clock):
    job = clock.at(0, lambda c: c.install_packages(
        'cmp002', {'linux-image': '6.5.0', 'nova-compute': '30.0.0'}))
    install = 2 * generate.DEFAULT_DURATIONS['package_install'] / SCALE
    assert clock.at(install * 0.9, lambda c: c.packages('cmp002'))[
        'nova-compute'] == ('29.0.0', '29.0.0')
    after = clock.at(install, lambda c: c.packages('cmp002'))
    assert after['nova-compute'] == ('30.0.0', '30.0.0')
    assert after['linux-image'] == ('6.5.0', '6.1.0')
    assert clock.at(install, lambda c: c.job(job['id'])['status']) == \
        'succeeded'
    on_host = clock.at(install, lambda c: c.conn.execute(
        "SELECT COUNT(*) FROM instances WHERE host = 'cmp002'").fetchone()[0])
    restarted = clock.report(install)['violations']['details']
    assert [v['details']['instances'] for v in restarted
            if v['kind'] == referee.SERVICE_RESTARTED] == (
        [clock.at(install, lambda c: [r[0] for r in c.conn.execute(
            "SELECT uuid FROM instances WHERE host = 'cmp002' ORDER BY seq")])]
        if on_host else [])


def test_out_of_service_policy(clock):
    clock.at(0, lambda c: c.set_service('cmp001', False, 'a'))
    assert clock.report()['violations']['by_kind'][referee.TOO_MANY_OUT] == 0
    clock.at(1, lambda c: c.set_service('cmp002', False, 'b'))
    report = clock.report(2)
    assert report['violations']['by_kind'][referee.TOO_MANY_OUT] == 1
    detail = [v for v in report['violations']['details']
              if v['kind'] == referee.TOO_MANY_OUT][0]
    assert detail['details']['hosts'] == ['cmp001', 'cmp002']
    # Per-zone limit: cmp001 and cmp002 are both in az1.
    clock.at(3, lambda c: referee.set_policy(c.conn, {
        'max_hosts_out_of_service': 10,
        'max_hosts_out_of_service_per_az': 0}))
    clock.at(4, lambda c: c.set_service('cmp003', False, 'c'))
    scopes = [v['details']['scope'] for v in clock.report(5)['violations'][
        'details'] if v['kind'] == referee.TOO_MANY_OUT]
    assert scopes == ['cloud', 'az:az2']
    assert clock.report()['violations']['by_kind'][referee.LEFT_DISABLED] == 3


def test_forced_migration_can_overcommit(tmp_path):
    path = str(tmp_path / 'tight.db')
    generate.create_cloud(path, hosts=2, instances=8, host_vcpus=8,
                          cpu_allocation_ratio=1.0, anti_affinity_groups=0,
                          non_live_migratable_fraction=0.0, seed=3)
    clock = Clock(path)

    def fill(cloud):
        moved = 0
        for inst in cloud.conn.execute(
                "SELECT * FROM instances WHERE host = 'cmp001'").fetchall():
            cloud.live_migrate(inst['uuid'], 'cmp002', force=True)
            moved += 1
        return moved
    assert clock.at(0, fill) > 0
    report = clock.report(10)
    assert report['violations']['by_kind'][referee.OVERCOMMITTED] > 0


def test_fault_probability_is_seeded(tmp_path):
    def draws(name, seed):
        path = str(tmp_path / name)
        generate.create_cloud(path, hosts=2, instances=2, seed=seed,
                              anti_affinity_groups=0)
        conn = state.connect(path)
        with state.transaction(conn):
            faults.add(conn, {'kind': 'migration_fail', 'probability': 0.5},
                       T0)
            hits = [bool(faults.trigger(conn, 'migration_fail', 'm:%d' % n))
                    for n in range(40)]
        conn.close()
        return hits
    first = draws('a.db', 1)
    assert 5 < sum(first) < 35
    assert draws('b.db', 1) == first
    assert draws('c.db', 2) != first


def test_fault_count_and_matching(path):
    conn = state.connect(path)
    with state.transaction(conn):
        faults.add(conn, {'kind': 'package_fail', 'host': 'cmp001',
                          'package': 'qemu', 'count': 1}, T0)
        assert faults.trigger(conn, 'package_fail', 'x', hosts=('cmp002',),
                              package='qemu') is None
        assert faults.trigger(conn, 'package_fail', 'x', hosts=('cmp001',),
                              package='libvirt') is None
        assert faults.trigger(conn, 'package_fail', 'x', hosts=('cmp001',),
                              package='qemu') is not None
        assert faults.trigger(conn, 'package_fail', 'x', hosts=('cmp001',),
                              package='qemu') is None
        faults.add(conn, {'kind': 'api_slow', 'path': '^/compute',
                          'delay': 0.5}, T0)
        faults.add(conn, {'kind': 'api_error', 'path': 'servers',
                          'method': 'GET', 'status': 502}, T0)
        assert faults.trigger_api(conn, 'GET', '/compute/v2.1/servers') == (
            0.5, 502)
        assert faults.trigger_api(conn, 'POST', '/compute/v2.1/servers') == (
            0.5, None)
        listed = faults.list_faults(conn)
    conn.close()
    assert [f['hits'] for f in listed] == [1, 2, 1]
    assert json.dumps(listed)


@pytest.mark.parametrize('spec, message', [
    ({'kind': 'api_error'}, 'needs path'),
    ({'kind': 'api_error', 'path': '('}, 'regular expression'),
    ({'kind': 'reboot_no_return', 'path': 'x'}, 'does not take'),
    ({'kind': 'migration_fail', 'probability': 2}, 'probability'),
    ({'kind': 'migration_fail', 'count': 0}, 'count'),
    ({'kind': 'api_error', 'path': 'x', 'status': 200}, 'status'),
])
def test_fault_validation(spec, message):
    with pytest.raises(exception.InvalidInput, match=message):
        faults.validate(spec)


def test_per_aggregate_out_of_service_policy(clock):
    # Aggregates agg1 (cmp001, cmp003) and agg2 (cmp002, cmp004), beside
    # one per zone (az1: cmp001-2, az2: cmp003-4).
    clock.at(0, lambda c: referee.set_policy(c.conn, {
        'max_hosts_out_of_service': 10,
        'max_hosts_out_of_service_per_aggregate': 1}))
    clock.at(1, lambda c: c.set_service('cmp001', False, 'a'))
    clock.at(2, lambda c: c.set_service('cmp004', False, 'b'))
    assert clock.report(3)['violations']['by_kind'][referee.TOO_MANY_OUT] \
        == 0
    clock.at(4, lambda c: c.set_service('cmp003', False, 'c'))
    found = [v for v in clock.report(5)['violations']['details']
             if v['kind'] == referee.TOO_MANY_OUT]
    assert sorted(v['details']['scope'] for v in found) == [
        'aggregate:agg1', 'aggregate:az2']
    assert all(v['details']['max'] == 1 for v in found)
    assert {tuple(v['details']['hosts']) for v in found} == {
        ('cmp001', 'cmp003'), ('cmp003', 'cmp004')}


def _usage_of(cloud, host):
    return cloud.usage(host)['MEMORY_MB']


def test_cold_migration_holds_both_hosts_until_confirmed(clock):
    inst = clock.at(0, lambda c: _movable(c)[0])
    target = clock.at(0, lambda c: _empty_target(c, inst))
    ram = clock.at(0, lambda c: c.flavor(inst['flavor_id'])['ram'])
    before = clock.at(0, lambda c: (_usage_of(c, inst['host']),
                                    _usage_of(c, target)))
    mig = clock.at(0, lambda c: c.cold_migrate(inst['uuid'], target))
    assert mig['migration_type'] == 'migration'
    assert mig['status'] == 'pre-migrating'
    moving = clock.at(0.001, lambda c: c.instance(inst['uuid']))
    assert (moving['status'], moving['host']) == ('RESIZE', inst['host'])
    with pytest.raises(exception.InvalidInput, match='not a live'):
        clock.at(0.001, lambda c: c.abort_migration(inst['uuid'],
                                                    mig['id']))
    landed = clock.at(60, lambda c: c.instance(inst['uuid']))
    assert (landed['status'], landed['host']) == ('VERIFY_RESIZE', target)
    assert clock.at(60, lambda c: c.migration(mig['id'])['status']) == \
        'finished'
    # Like Placement: the source keeps its share until the confirm.
    assert clock.at(60, lambda c: (_usage_of(c, inst['host']),
                                   _usage_of(c, target))) == (
        before[0], before[1] + ram)
    with pytest.raises(exception.Conflict):
        clock.at(61, lambda c: c.live_migrate(inst['uuid'], inst['host']))
    clock.at(61, lambda c: c.confirm_resize(inst['uuid']))
    done = clock.at(62, lambda c: c.instance(inst['uuid']))
    assert (done['status'], done['vm_state'], done['host']) == (
        'ACTIVE', 'active', target)
    assert clock.at(62, lambda c: (_usage_of(c, inst['host']),
                                   _usage_of(c, target))) == (
        before[0] - ram, before[1] + ram)
    with pytest.raises(exception.Conflict, match='confirmResize'):
        clock.at(63, lambda c: c.confirm_resize(inst['uuid']))
    assert clock.report(64)['violations']['total'] == 0


def test_a_stopped_instance_cold_migrates_and_stays_off(clock):
    inst = clock.at(0, lambda c: _movable(c)[0])
    target = clock.at(0, lambda c: _empty_target(c, inst))
    clock.at(0, lambda c: c.set_power(inst['uuid'], False))
    with pytest.raises(exception.Conflict, match="'stop'"):
        clock.at(0, lambda c: c.set_power(inst['uuid'], False))
    clock.at(1, lambda c: c.cold_migrate(inst['uuid'], target))
    clock.at(60, lambda c: c.revert_resize(inst['uuid']))
    back = clock.at(61, lambda c: c.instance(inst['uuid']))
    assert (back['status'], back['host']) == ('SHUTOFF', inst['host'])
    clock.at(62, lambda c: c.cold_migrate(inst['uuid'], target))
    clock.at(120, lambda c: c.confirm_resize(inst['uuid']))
    off = clock.at(121, lambda c: c.instance(inst['uuid']))
    assert (off['status'], off['host']) == ('SHUTOFF', target)


def test_a_reboot_kills_running_instances_not_stopped_ones(clock):
    host = 'cmp001'
    on_host = clock.at(0, lambda c: [r['uuid'] for r in c.conn.execute(
        'SELECT uuid FROM instances WHERE host = ? ORDER BY seq',
        (host,))])
    assert len(on_host) >= 2
    for uuid in on_host[1:]:
        clock.at(0, lambda c, u=uuid: c.set_power(u, False))
    clock.at(1, lambda c: c.reboot(host))
    report = clock.report(1.01)
    assert report['killed_instances'] == [on_host[0]]
    assert set(on_host[1:]) <= set(report['instances_shutoff'])
    # Not up yet (a reboot takes 0.12 s here): a start waits for the host.
    with pytest.raises(exception.Conflict, match='unavailable'):
        clock.at(1.02, lambda c: c.set_power(on_host[1], True))
    clock.at(1000, lambda c: c.set_power(on_host[1], True))
    assert clock.at(1000, lambda c: c.instance(on_host[1])['status']) == \
        'ACTIVE'
