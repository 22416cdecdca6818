"""The real openstacksdk drives the simulator: Keystone, Nova, Placement."""

import uuid

from keystoneauth1 import exceptions as ks_exc
import openstack
from openstack import exceptions as os_exc
import pytest
import requests

from tests.fixtures.simulator import wait_for

# openstacksdk's own deprecations (e.g. the pre-2.88 hypervisor fields).
pytestmark = [pytest.mark.filterwarnings('ignore::DeprecationWarning'),
              pytest.mark.filterwarnings(
                  'ignore::PendingDeprecationWarning')]
NO_LM = 'upgrader:no-live-migration'


def _computes(conn):
    return sorted(conn.compute.services(binary='nova-compute'),
                  key=lambda s: s.host)


def _servers(conn, **query):
    return list(conn.compute.servers(details=True, all_projects=True,
                                     **query))


def _movable(conn, in_group):
    """ACTIVE live-migratable servers, excluding server group members."""
    members = {m for g in conn.compute.server_groups(all_projects=True)
               for m in g.member_ids}
    return [s for s in _servers(conn)
            if s.status == 'ACTIVE' and NO_LM not in (s.metadata or {})
            and (s.id in members) == in_group]


def _free(conn):
    """Free resources per host, from Placement."""
    free = {}
    for hv in conn.compute.hypervisors(details=True):
        cap = {i.resource_class: (i.total - i.reserved) * i.allocation_ratio
               for i in conn.placement.resource_provider_inventories(hv.id)}
        used = conn.placement.fetch_resource_provider_usages(hv.id).usages
        free[hv.service_details['host']] = {
            rc: cap[rc] - used[rc] for rc in cap}
    return free


def _target_for(conn, server):
    free = _free(conn)
    for svc in _computes(conn):
        f = free[svc.host]
        if (svc.host != server.compute_host and svc.status == 'enabled'
                and f['VCPU'] >= server.flavor.vcpus
                and f['MEMORY_MB'] >= server.flavor.ram):
            return svc.host
    pytest.fail('no target host')


def test_list_services(simulator):
    conn = simulator.connect()
    computes = _computes(conn)
    assert [s.host for s in computes] == ['cmp%03d' % i for i in range(1, 7)]
    for svc in computes:
        assert uuid.UUID(svc.id)
        assert (svc.status, svc.state, svc.is_forced_down) == (
            'enabled', 'up', False)
        assert svc.availability_zone in ('az1', 'az2')
    everything = list(conn.compute.services())
    assert {s.binary for s in everything} == {
        'nova-compute', 'nova-conductor', 'nova-scheduler'}
    only = list(conn.compute.services(binary='nova-compute', host='cmp003'))
    assert [s.host for s in only] == ['cmp003']


def test_disable_with_reason_then_enable(simulator):
    conn = simulator.connect()
    svc = _computes(conn)[2]
    conn.compute.disable_service(svc, disabled_reason='upgrade to 30.0.0')
    got = list(conn.compute.services(binary='nova-compute', host=svc.host))[0]
    assert (got.status, got.disabled_reason) == ('disabled',
                                                 'upgrade to 30.0.0')
    conn.compute.enable_service(svc)
    got = list(conn.compute.services(binary='nova-compute', host=svc.host))[0]
    assert (got.status, got.disabled_reason) == ('enabled', None)
    # Nova refuses a reason when enabling.
    resp = simulator.api(conn, 'PUT', 'compute', '/os-services/' + svc.id,
                         json={'status': 'enabled', 'disabled_reason': 'x'},
                         microversion='2.53')
    assert resp.status_code == 400
    assert 'badRequest' in resp.json()


def test_hypervisors_and_placement(simulator):
    conn = simulator.connect()
    hypervisors = list(conn.compute.hypervisors(details=True))
    providers = {rp.id: rp.name
                 for rp in conn.placement.resource_providers()}
    assert {hv.id: hv.service_details['host'] for hv in hypervisors} == \
        providers
    # Nova dropped capacity fields from hypervisors at 2.88.
    assert hypervisors[0].vcpus is None
    old = {hv.name: hv for hv in simulator.connect(
        compute_api_version='2.87').compute.hypervisors(details=True)}
    for hv in hypervisors:
        host = hv.service_details['host']
        inventories = {i.resource_class: i for i in
                       conn.placement.resource_provider_inventories(hv.id)}
        assert set(inventories) == {'VCPU', 'MEMORY_MB', 'DISK_GB'}
        assert inventories['VCPU'].total == old[hv.name].vcpus
        usages = conn.placement.fetch_resource_provider_usages(hv.id).usages
        servers = _servers(conn, compute_host=host)
        assert usages['VCPU'] == sum(s.flavor.vcpus for s in servers)
        assert usages['MEMORY_MB'] == sum(s.flavor.ram for s in servers)
        assert old[hv.name].vcpus_used == usages['VCPU']
        assert old[hv.name].running_vms == len(servers)


def test_servers_all_projects_and_host_filter(simulator):
    conn = simulator.connect()
    everything = _servers(conn)
    assert len(everything) == 24
    own = list(conn.compute.servers(details=True))
    assert 0 < len(own) < len(everything)
    by_host = {}
    for svc in _computes(conn):
        found = _servers(conn, compute_host=svc.host)
        assert {s.compute_host for s in found} <= {svc.host}
        by_host[svc.host] = {s.id for s in found}
    assert set().union(*by_host.values()) == {s.id for s in everything}
    server = everything[0]
    assert server.hypervisor_hostname == server.compute_host
    assert server.availability_zone in ('az1', 'az2')
    assert server.flavor.original_name.startswith(('m1.', 'g1.'))
    pinned = [s for s in everything if NO_LM in s.metadata]
    assert len(pinned) == round(24 * 0.1)
    assert any(s.flavor.extra_specs.get('pci_passthrough:alias')
               for s in pinned)


def test_live_migration_to_target(simulator):
    conn = simulator.connect()
    server = _movable(conn, in_group=False)[0]
    source = server.compute_host
    target = _target_for(conn, server)
    conn.compute.live_migrate_server(server, host=target,
                                     block_migration='auto')
    moving = conn.compute.get_server(server.id)
    assert moving.status == 'MIGRATING'
    assert moving.task_state == 'migrating'
    done = wait_for(lambda: (lambda s: s if s.status == 'ACTIVE' else None)(
        conn.compute.get_server(server.id)))
    assert done.compute_host == target
    assert done.task_state is None
    migrations = list(conn.compute.migrations(instance_uuid=server.id))
    assert [(m.status, m.source_compute, m.dest_compute, m.migration_type)
            for m in migrations] == [('completed', source, target,
                                      'live-migration')]
    report = simulator.report()
    assert report['migrations']['per_instance'] == {server.id: 1}
    assert report['ok']


def test_live_migration_refusals(simulator):
    conn = simulator.connect()
    server = _movable(conn, in_group=False)[0]
    with pytest.raises(os_exc.BadRequestException):
        conn.compute.live_migrate_server(server, host=server.compute_host,
                                         block_migration='auto')
    target = _target_for(conn, server)
    svc = list(conn.compute.services(binary='nova-compute', host=target))[0]
    conn.compute.disable_service(svc, disabled_reason='maintenance')
    with pytest.raises(os_exc.BadRequestException):
        conn.compute.live_migrate_server(server, host=target,
                                         block_migration='auto')
    conn.compute.enable_service(svc)
    pinned = [s for s in _servers(conn) if NO_LM in s.metadata][0]
    with pytest.raises(os_exc.BadRequestException):
        conn.compute.live_migrate_server(pinned, block_migration='auto')
    conn.compute.live_migrate_server(server, host=target,
                                     block_migration='auto')
    with pytest.raises(os_exc.ConflictException):
        conn.compute.live_migrate_server(server, host=target,
                                         block_migration='auto')


def test_anti_affinity_groups(simulator):
    conn = simulator.connect()
    groups = list(conn.compute.server_groups(all_projects=True))
    assert len(groups) == 2
    hosts = {s.id: s.compute_host for s in _servers(conn)}
    for group in groups:
        assert group.policy == 'anti-affinity'
        assert len(group.member_ids) == 3
        members_hosts = [hosts[m] for m in group.member_ids]
        assert len(set(members_hosts)) == len(members_hosts)
    # The scheduler keeps members apart.
    member, other = groups[0].member_ids[:2]
    resp = simulator.api(conn, 'POST', 'compute',
                         '/servers/%s/action' % member,
                         json={'os-migrateLive': {
                             'host': hosts[other], 'block_migration': 'auto'}},
                         microversion='2.95')
    assert resp.status_code == 400


def test_zones_and_aggregates(simulator):
    conn = simulator.connect()
    zones = {z.name: z for z in conn.compute.availability_zones(details=True)}
    assert set(zones) == {'internal', 'az1', 'az2'}
    zone_of = {s.host: s.availability_zone for s in _computes(conn)}
    for name in ('az1', 'az2'):
        assert set(zones[name].hosts) == {h for h, z in zone_of.items()
                                          if z == name}
    aggregates = {a.name: a for a in conn.compute.aggregates()}
    assert set(aggregates) == {'az1', 'az2', 'agg1', 'agg2'}
    assert aggregates['az1'].availability_zone == 'az1'
    assert sorted(aggregates['agg1'].hosts + aggregates['agg2'].hosts) == \
        sorted(zone_of)


def test_wrong_password_is_401(simulator):
    creds = dict(simulator.credentials, password='wrong')
    conn = openstack.connect(**creds)
    with pytest.raises(ks_exc.Unauthorized):
        list(conn.compute.services())
    resp = requests.get(simulator.base_url + '/compute/v2.1/os-services',
                        headers={'X-Auth-Token': 'not-a-token'}, timeout=5)
    assert resp.status_code == 401


def test_microversion_headers(simulator):
    conn = simulator.connect()
    resp = simulator.api(conn, 'GET', 'compute', '/os-services',
                         microversion='2.60')
    assert resp.headers['OpenStack-API-Version'] == 'compute 2.60'
    assert resp.headers['X-OpenStack-Nova-API-Version'] == '2.60'
    assert isinstance(resp.json()['services'][0]['id'], str)
    resp = simulator.api(conn, 'GET', 'compute', '/os-services',
                         microversion='2.52')
    assert isinstance(resp.json()['services'][0]['id'], int)
    resp = simulator.api(conn, 'GET', 'compute', '/os-services',
                         headers={'OpenStack-API-Version': 'compute 2.200'})
    assert resp.status_code == 406
