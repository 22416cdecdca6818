"""Host agent, admin API, faults and the referee, over HTTP."""

import time

from keystoneauth1 import exceptions as ks_exc
from openstack import exceptions as os_exc
import pytest

from tests.fixtures.simulator import wait_for

# openstacksdk's own deprecations (e.g. the pre-2.88 hypervisor fields).
pytestmark = [pytest.mark.filterwarnings('ignore::DeprecationWarning'),
              pytest.mark.filterwarnings(
                  'ignore::PendingDeprecationWarning')]


def _host(sim, conn, name):
    resp = sim.api(conn, 'GET', 'host-agent', '/hosts/' + name)
    assert resp.status_code == 200, resp.text
    return resp.json()['host']


def _job_done(sim, conn, job_id):
    def done():
        job = sim.api(conn, 'GET', 'host-agent',
                      '/jobs/' + job_id).json()['job']
        return job if job['status'] != 'running' else None
    return wait_for(done)


def _service(conn, host):
    return list(conn.compute.services(binary='nova-compute', host=host))[0]


def _servers_on(conn, host):
    return list(conn.compute.servers(details=True, all_projects=True,
                                     compute_host=host))


def _add_fault(sim, conn, **spec):
    resp = sim.api(conn, 'POST', 'simulator-admin', '/faults',
                   json={'fault': spec})
    assert resp.status_code == 201, resp.text
    return resp.json()['fault']


@pytest.fixture
def sparse(simulator_factory):
    """Four hosts, two instances: at least two hosts are empty."""
    return simulator_factory(hosts=4, instances=2, anti_affinity_groups=0,
                             non_live_migratable_fraction=0.0)


def _empty_host(conn):
    for svc in sorted(conn.compute.services(binary='nova-compute'),
                      key=lambda s: s.host):
        if not _servers_on(conn, svc.host):
            return svc.host
    pytest.fail('no empty host')


def test_install_packages(simulator):
    conn = simulator.connect()
    before = _host(simulator, conn, 'cmp002')
    assert before['reachable'] and before['packages']['nova-compute']
    resp = simulator.api(conn, 'POST', 'host-agent', '/hosts/cmp002/packages',
                         json={'packages': {'nova-compute': '30.0.0',
                                            'linux-image': '6.2.0'}})
    assert resp.status_code == 202
    job = resp.json()['job']
    assert resp.headers['Location'].endswith('/jobs/' + job['id'])
    assert _host(simulator, conn, 'cmp002')['state'] == 'installing'
    busy = simulator.api(conn, 'POST', 'host-agent', '/hosts/cmp002/reboot')
    assert busy.status_code == 409
    assert _job_done(simulator, conn, job['id'])['status'] == 'succeeded'
    after = _host(simulator, conn, 'cmp002')
    assert after['packages']['nova-compute'] == '30.0.0'
    assert after['packages']['linux-image'] == '6.2.0'
    # A new kernel only runs after a reboot.
    assert after['running_packages']['linux-image'] == \
        before['packages']['linux-image']
    assert after['reboot_required'] is True
    report = simulator.report()
    assert report['package_versions']['nova-compute'] == {
        '29.0.0': 5, '30.0.0': 1}
    # nova-compute restarted under running instances: flagged.
    assert report['violations']['by_kind'][
        'instances_on_restarted_service'] == (
            1 if _servers_on(conn, 'cmp002') else 0)
    bad = simulator.api(conn, 'POST', 'host-agent', '/hosts/cmp002/packages',
                        json={'packages': {}})
    assert bad.status_code == 400
    assert simulator.api(conn, 'GET', 'host-agent',
                         '/hosts/nope').status_code == 404


def test_reboot_empty_host(sparse):
    conn = sparse.connect()
    name = _empty_host(conn)
    before = _host(sparse, conn, name)
    resp = sparse.api(conn, 'POST', 'host-agent', '/hosts/%s/reboot' % name)
    assert resp.status_code == 202
    down = _host(sparse, conn, name)
    assert (down['reachable'], down['boot_id']) == (False, None)
    assert _service(conn, name).state == 'down'
    job = _job_done(sparse, conn, resp.json()['job']['id'])
    assert job['status'] == 'succeeded'
    up = _host(sparse, conn, name)
    assert up['reachable'] and up['boot_id'] != before['boot_id']
    assert _service(conn, name).state == 'up'
    report = sparse.report()
    assert report['hosts_rebooted'] == 1
    assert report['instances_killed'] == 0


def test_reboot_with_instances_kills_them(sparse):
    conn = sparse.connect()
    victims = list(conn.compute.servers(details=True, all_projects=True))[:1]
    host = victims[0].compute_host
    on_host = _servers_on(conn, host)
    resp = sparse.api(conn, 'POST', 'host-agent', '/hosts/%s/reboot' % host)
    assert resp.status_code == 202
    report = sparse.report()
    assert report['instances_killed'] == len(on_host)
    assert set(report['killed_instances']) == {s.id for s in on_host}
    assert report['violations']['by_kind']['instance_killed'] == len(on_host)
    assert not report['ok']
    assert conn.compute.get_server(on_host[0].id).status == 'SHUTOFF'


def test_too_many_hosts_out_of_service_and_left_disabled(simulator):
    conn = simulator.connect()
    policy = simulator.api(conn, 'PUT', 'simulator-admin', '/policy',
                           json={'policy': {'max_hosts_out_of_service': 1}})
    assert policy.status_code == 200
    conn.compute.disable_service(_service(conn, 'cmp001'),
                                 disabled_reason='upgrade')
    assert simulator.report()['violations']['by_kind'][
        'too_many_hosts_out_of_service'] == 0
    conn.compute.disable_service(_service(conn, 'cmp002'),
                                 disabled_reason='upgrade')
    report = simulator.report()
    by_kind = report['violations']['by_kind']
    assert by_kind['too_many_hosts_out_of_service'] == 1
    assert by_kind['host_left_disabled'] == 2
    conn.compute.enable_service(_service(conn, 'cmp001'))
    conn.compute.enable_service(_service(conn, 'cmp002'))
    assert simulator.report()['violations']['by_kind'][
        'host_left_disabled'] == 0
    resp = simulator.api(conn, 'PUT', 'simulator-admin', '/policy',
                         json={'policy': {'max_hosts_out_of_service': -1}})
    assert resp.status_code == 400


def test_stuck_migration_is_abortable(simulator):
    conn = simulator.connect()
    server = [s for s in conn.compute.servers(details=True, all_projects=True)
              if s.status == 'ACTIVE' and not s.metadata][0]
    _add_fault(simulator, conn, kind='migration_stuck', instance=server.id)
    conn.compute.live_migrate_server(server, block_migration='auto')
    migration = wait_for(lambda: [
        m for m in conn.compute.server_migrations(server)
        if m.status == 'running'])[0]
    # Well past its nominal duration, it is still running.
    time.sleep(1.0)
    assert conn.compute.get_server(server.id).status == 'MIGRATING'
    conn.compute.abort_server_migration(migration, server)
    after = conn.compute.get_server(server.id)
    assert (after.status, after.compute_host) == ('ACTIVE',
                                                 server.compute_host)
    statuses = [m.status for m in
                conn.compute.migrations(instance_uuid=server.id)]
    assert statuses == ['cancelled']
    with pytest.raises(os_exc.ConflictException):
        conn.compute.abort_server_migration(migration, server,
                                            ignore_missing=False)


def test_failed_migration_fault(simulator):
    conn = simulator.connect()
    server = [s for s in conn.compute.servers(details=True, all_projects=True)
              if s.status == 'ACTIVE' and not s.metadata][0]
    fault = _add_fault(simulator, conn, kind='migration_fail',
                       host=server.compute_host, count=1)
    conn.compute.live_migrate_server(server, block_migration='auto')
    wait_for(lambda: conn.compute.get_server(server.id).status == 'ACTIVE')
    assert conn.compute.get_server(server.id).compute_host == \
        server.compute_host
    assert [m.status for m in conn.compute.migrations(
        instance_uuid=server.id)] == ['error']
    faults = simulator.api(conn, 'GET', 'simulator-admin',
                           '/faults').json()['faults']
    assert [(f['id'], f['hits'], f['active']) for f in faults] == [
        (fault['id'], 1, False)]
    # Used up: the next migration completes.
    conn.compute.live_migrate_server(server, block_migration='auto')
    moved = wait_for(lambda: (lambda s: s if s.status == 'ACTIVE' else None)(
        conn.compute.get_server(server.id)))
    assert moved.compute_host != server.compute_host


def test_package_failure_fault(simulator):
    conn = simulator.connect()
    _add_fault(simulator, conn, kind='package_fail', host='cmp004',
               package='qemu')
    resp = simulator.api(conn, 'POST', 'host-agent', '/hosts/cmp004/packages',
                         json={'packages': {'qemu': '9.0.0',
                                            'libvirt': '10.0.0'}})
    job = _job_done(simulator, conn, resp.json()['job']['id'])
    assert job['status'] == 'failed'
    assert 'qemu' in job['error']
    packages = _host(simulator, conn, 'cmp004')['packages']
    assert (packages['qemu'], packages['libvirt']) == ('8.0.0', '9.0.0')


def test_host_never_comes_back(sparse):
    conn = sparse.connect()
    name = _empty_host(conn)
    _add_fault(sparse, conn, kind='reboot_no_return', host=name)
    sparse.api(conn, 'POST', 'host-agent', '/hosts/%s/reboot' % name)
    time.sleep(1.0)  # boot takes 0.6 s at the fixture's time scale
    host = _host(sparse, conn, name)
    assert (host['reachable'], host['state']) == (False, 'rebooting')
    assert _service(conn, name).state == 'down'


def test_api_error_and_slow_faults(simulator):
    conn = simulator.connect()
    expected = len(list(conn.compute.services()))
    _add_fault(simulator, conn, kind='api_error', path='/os-services$',
               status=503, count=1)
    with pytest.raises(os_exc.HttpException) as err:
        list(conn.compute.services())
    assert err.value.status_code == 503
    assert len(list(conn.compute.services())) == expected
    _add_fault(simulator, conn, kind='api_slow', path='/os-hypervisors',
               delay=1.0, count=1)
    hasty = simulator.connect(api_timeout=0.2)
    list(hasty.compute.services())
    with pytest.raises((ks_exc.ConnectTimeout, ks_exc.ConnectFailure,
                        os_exc.SDKException)):
        list(hasty.compute.hypervisors())
    assert len(list(hasty.compute.hypervisors())) == 6
    resp = simulator.api(conn, 'POST', 'simulator-admin', '/faults',
                         json={'fault': {'kind': 'api_error'}})
    assert resp.status_code == 400


def test_state_survives_restart(simulator):
    conn = simulator.connect()
    conn.compute.disable_service(_service(conn, 'cmp005'),
                                 disabled_reason='kept')
    server = [s for s in conn.compute.servers(details=True, all_projects=True)
              if s.status == 'ACTIVE' and not s.metadata][0]
    conn.compute.live_migrate_server(server, block_migration='auto')
    simulator.restart()
    conn = simulator.connect()
    svc = _service(conn, 'cmp005')
    assert (svc.status, svc.disabled_reason) == ('disabled', 'kept')
    moved = wait_for(lambda: (lambda s: s if s.status == 'ACTIVE' else None)(
        conn.compute.get_server(server.id)))
    assert moved.compute_host != server.compute_host
    assert simulator.report()['migrations']['per_instance'] == {server.id: 1}
