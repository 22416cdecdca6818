"""The openstack compute driver's per-instance calls over real HTTP, against
the simulator: metadata and tags read into the inventory, cold migration and
its confirm, stop and start, with Nova's statuses and refusals."""

from openstack import exceptions as os_exc
import pytest

from upgrader.common import exception
from upgrader.drivers import compute

from tests.fixtures.simulator import wait_for

pytestmark = [pytest.mark.filterwarnings('ignore::DeprecationWarning')]


@pytest.fixture
def cloud(simulator_factory):
    return simulator_factory(hosts=4, instances=6, azs=1, aggregates=0,
                             anti_affinity_groups=0,
                             non_live_migratable_fraction=0.0,
                             spare_hosts_per_az=1)


@pytest.fixture
def driver(cloud, conf_for):
    return compute.fetch(conf_for(cloud))


def _first(driver):
    return driver.get_inventory().instances[0]


def test_metadata_and_tags_reach_the_inventory(driver, cloud):
    instance = _first(driver)
    conn = cloud.connect()
    conn.compute.set_server_metadata(instance.uuid,
                                     **{'upgrader:action': 'stop-start'})
    server = conn.compute.get_server(instance.uuid)
    server.add_tag(conn.compute, 'upgrader:action=cold-migrate')
    server.add_tag(conn.compute, 'db')
    found = driver.get_instance(instance.uuid)
    assert found.metadata == {'upgrader:action': 'stop-start'}
    assert found.tags == ['upgrader:action=cold-migrate', 'db']
    assert found.project_id
    # Nova's tag rules: no '/' or ','; 2.26 or later.
    bad = cloud.api(conn, 'PUT', 'compute', '/servers/%s/tags/a,b'
                    % instance.uuid, microversion='2.26')
    assert bad.status_code == 400
    old = cloud.api(conn, 'GET', 'compute', '/servers/%s/tags'
                    % instance.uuid, microversion='2.25')
    assert old.status_code == 404
    conn.compute.delete_server_metadata(instance.uuid, ['upgrader:action'])
    server.remove_tag(conn.compute, 'upgrader:action=cold-migrate')
    again = driver.get_instance(instance.uuid)
    assert (again.metadata, again.tags) == ({}, ['db'])


def test_cold_migration_to_a_target_then_confirm(driver, cloud):
    inventory = driver.get_inventory()
    spare = next(h.name for h in inventory.hosts if h.instance_count == 0)
    instance = inventory.instances[0]
    driver.cold_migrate(instance.uuid, spare)
    assert driver.get_instance(instance.uuid).status == 'RESIZE'
    landed = wait_for(lambda: driver.get_instance(instance.uuid).status
                      == 'VERIFY_RESIZE', timeout=30)
    assert landed
    migration = driver.list_migrations(instance.uuid)[-1]
    assert (migration.migration_type, migration.status,
            migration.source_host, migration.dest_host) == (
        'migration', 'finished', instance.host, spare)
    # Placement: both hosts hold the instance until the confirm.
    hosts = {h.name: h for h in driver.get_inventory().hosts}
    assert hosts[instance.host].used.memory_mb == sum(
        i.flavor.memory_mb for i in inventory.instances_on(instance.host))
    driver.confirm_resize(instance.uuid)
    current = driver.get_instance(instance.uuid)
    assert (current.status, current.host) == ('ACTIVE', spare)
    assert driver.list_migrations(instance.uuid)[-1].status == 'confirmed'
    with pytest.raises(exception.CloudError, match='confirmResize'):
        driver.confirm_resize(instance.uuid)
    report = cloud.report()
    assert report['violations']['total'] == 0
    assert report['migrations']['by_status'] == {'confirmed': 1}


def test_cold_migration_needs_2_56_for_a_host(cloud):
    conn = cloud.connect(compute_api_version='2.55')
    server = next(iter(conn.compute.servers(all_projects=True)))
    answer = cloud.api(conn, 'POST', 'compute', '/servers/%s/action'
                       % server.id, json={'migrate': {'host': 'cmp004'}},
                       microversion='2.55')
    assert answer.status_code == 400
    assert 'Additional properties' in answer.text


def test_stop_then_start(driver, cloud):
    instance = _first(driver)
    driver.stop_instance(instance.uuid)
    assert driver.get_instance(instance.uuid).status == 'SHUTOFF'
    with pytest.raises(exception.CloudError, match="'stop'"):
        driver.stop_instance(instance.uuid)
    assert not driver.get_instance(instance.uuid).live_migratable
    driver.start_instance(instance.uuid)
    assert driver.get_instance(instance.uuid).status == 'ACTIVE'
    conn = cloud.connect()
    with pytest.raises(os_exc.ConflictException):
        conn.compute.start_server(instance.uuid)
