"""The openstack compute driver over real HTTP, against the simulator.

The same driver runs against a real Nova; here it must read and drive the
simulated cloud through openstacksdk exactly as it would there.
"""

import pytest

from upgrader.common import exception
from upgrader.drivers import compute
from upgrader.drivers.compute import impl_openstack

from tests.fixtures.simulator import wait_for


@pytest.fixture
def cloud(simulator):
    return simulator


@pytest.fixture
def driver(cloud, conf_for):
    return compute.fetch(conf_for(cloud))


def test_check_returns_the_compute_endpoint(driver, cloud):
    assert driver.check().startswith(cloud.base_url)


def test_inventory_matches_what_nova_and_placement_say(driver, cloud):
    inventory = driver.get_inventory()
    conn = cloud.connect()
    services = {s.host: s for s in conn.compute.services(
        binary='nova-compute')}
    assert sorted(h.name for h in inventory.hosts) == sorted(services)
    servers = list(conn.compute.servers(all_projects=True))
    assert len(inventory.instances) == len(servers) == 24
    per_host = {}
    for server in servers:
        per_host[server.compute_host] = per_host.get(server.compute_host,
                                                     0) + 1
    for host in inventory.hosts:
        assert host.instance_count == per_host.get(host.name, 0)
        assert host.availability_zone == services[host.name].availability_zone
        assert host.capacity.vcpus > 0 and host.capacity.memory_mb > 0
        # Used resources are the flavors of the instances on the host.
        on_host = inventory.instances_on(host.name)
        assert host.used.memory_mb == sum(i.flavor.memory_mb
                                          for i in on_host)
        assert host.used.fits_in(host.capacity)
    assert len({h.availability_zone for h in inventory.hosts}) == 2
    assert any(h.aggregates for h in inventory.hosts)
    groups = [g for g in inventory.server_groups
              if g.policy == 'anti-affinity']
    assert groups and all(len(g.members) >= 2 for g in groups)
    for group in groups:
        hosts = [i.host for i in inventory.instances
                 if i.uuid in group.members]
        assert len(hosts) == len(set(hosts))
        assert all(group.uuid in i.server_groups for i in inventory.instances
                   if i.uuid in group.members)
    stuck = [i for i in inventory.instances if not i.live_migratable]
    assert stuck, 'the simulator marks some instances non-live-migratable'
    assert all(i.live_migration_blockers for i in stuck)


def test_disable_with_reason_and_enable(driver, cloud):
    host = driver.get_inventory().hosts[0].name
    driver.disable_service(host, 'upgrader rollout r-1')
    disabled = driver.get_host(host)
    assert (disabled.status, disabled.disabled_reason) == (
        'disabled', 'upgrader rollout r-1')
    driver.enable_service(host)
    assert driver.get_host(host).enabled


def test_live_migration_to_a_target_host(driver, cloud):
    inventory = driver.get_inventory()
    instance = next(i for i in inventory.instances if i.live_migratable)
    source = next(h for h in inventory.hosts if h.name == instance.host)
    target = next(h for h in inventory.hosts
                  if h.name != source.name
                  and h.availability_zone == source.availability_zone
                  and not any(m in h.name for m in instance.server_groups)
                  and instance.flavor.fits_in(h.free))
    driver.live_migrate(instance.uuid, target.name)

    def landed():
        migrations = driver.list_migrations(instance.uuid)
        current = driver.get_instance(instance.uuid)
        return (migrations and migrations[-1].finished
                and current.host == target.name
                and current.status == 'ACTIVE') and migrations
    migrations = wait_for(landed)
    assert migrations[-1].source_host == source.name
    assert migrations[-1].dest_host == target.name
    assert [i.uuid for i in driver.list_instances(host=target.name)].count(
        instance.uuid) == 1
    report = cloud.report()
    assert report['instances_killed'] == 0
    assert report['violations']['total'] == 0
    assert report['migrations']['per_instance'][instance.uuid] == 1


def test_unknown_host(driver):
    with pytest.raises(exception.HostNotFound):
        driver.get_host('nosuch')


def test_wrong_password_is_a_clear_auth_error(cloud, conf_for, tmp_path):
    text = open(cloud.clouds_yaml).read()
    bad = tmp_path / 'clouds-bad.yaml'
    bad.write_text(text.replace(cloud.credentials['password'], 'wrong'))
    conf = conf_for(cloud)
    conf.set_override('clouds_file', str(bad), 'cloud')
    driver = impl_openstack.OpenStackComputeDriver(conf)
    with pytest.raises(exception.CloudAuthFailed) as info:
        driver.check()
    assert 'wrong' not in str(info.value)
    assert cloud.credentials['password'] not in str(info.value)


def test_unknown_cloud_name(cloud, conf_for):
    conf = conf_for(cloud)
    conf.set_override('cloud', 'nosuch', 'cloud')
    with pytest.raises(exception.CloudNotFound, match='nosuch'):
        impl_openstack.OpenStackComputeDriver(conf).check()


def test_unreachable_cloud(cloud, conf_for):
    conf = conf_for(cloud)
    url = cloud.url
    cloud.server.stop()
    with pytest.raises(exception.CloudUnreachable) as info:
        impl_openstack.OpenStackComputeDriver(conf).check()
    assert url.split('/identity')[0] in str(info.value)


def test_keystoneauth_options_without_clouds_yaml(cloud, conf_for):
    creds = cloud.credentials
    conf = conf_for(None, cloud={
        'auth_type': 'password', 'auth_url': cloud.url,
        'username': creds['username'], 'password': creds['password'],
        'project_name': creds['project_name'],
        'user_domain_name': creds.get('user_domain_name', 'Default'),
        'project_domain_name': creds.get('project_domain_name', 'Default')})
    driver = compute.fetch(conf)
    assert len(driver.get_inventory().hosts) == 6
