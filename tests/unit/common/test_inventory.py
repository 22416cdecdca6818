import json

from upgrader.common import inventory as inv


def _inventory():
    return inv.Inventory(
        hosts=[inv.Host(name='cmp001', service_id='s1', status='enabled',
                        state='up', availability_zone='az1',
                        aggregates=['agg1'],
                        capacity=inv.Resources(64, 131072, 1000),
                        used=inv.Resources(4, 8192, 40), instance_count=1)],
        instances=[inv.Instance(uuid='u1', name='vm1', host='cmp001',
                                status='ACTIVE',
                                flavor=inv.Resources(4, 8192, 40),
                                flavor_name='m1.large',
                                server_groups=['g1'],
                                live_migration_blockers=['status is ERROR'])],
        server_groups=[inv.ServerGroup(uuid='g1', name='db',
                                       policy='anti-affinity',
                                       members=['u1'])])


def test_json_round_trip_is_lossless():
    original = _inventory()
    data = json.loads(json.dumps(original.to_dict()))
    again = inv.Inventory.from_dict(data)
    assert again == original
    assert again.hosts[0].free == inv.Resources(60, 122880, 960)
    assert not again.instances[0].live_migratable


def test_resources_arithmetic_and_fit():
    small, big = inv.Resources(1, 512, 1), inv.Resources(2, 1024, 10)
    assert small.fits_in(big)
    assert not big.fits_in(small)
    assert (big - small) + small == big
    assert not inv.Resources(1, 2048, 1).fits_in(big)


def test_instances_on_host():
    inventory = _inventory()
    assert [i.uuid for i in inventory.instances_on('cmp001')] == ['u1']
    assert inventory.instances_on('cmp002') == []
