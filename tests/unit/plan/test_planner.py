"""The planner: capacity, anti-affinity, AZs, migrate-once, errors."""

import json

import pytest

from tests.unit.plan import clouds
from upgrader.common import exception
from upgrader.common import inventory as inv
from upgrader.plan import models
from upgrader.plan import planner

def test_spare_host_means_every_instance_moves_once():
    inventory = clouds.cloud([6, 5, 7, 4, 6, 3], empty=1)
    plan = planner.make_plan(inventory, models.Policy(max_parallel=2))
    clouds.replay(inventory, plan)
    counts = plan.migrations_per_instance()
    assert set(counts.values()) == {1}
    assert len(counts) == len(inventory.instances)
    assert plan.migrations == plan.lower_bound_migrations
    assert plan.waves[0].hosts == ['cmp006'] and plan.waves[0].moves == []
    assert sorted(plan.hosts) == sorted(h.name for h in inventory.hosts)


def test_no_empty_host_moves_the_smallest_host_twice():
    inventory = clouds.cloud([6, 5, 2, 4])
    plan = planner.make_plan(inventory, models.Policy(max_parallel=1))
    clouds.replay(inventory, plan)
    twice = [m for m in plan.moves if m.moves_again]
    assert plan.waves[0].hosts == ['cmp002']
    assert len(twice) == 2 and all(m.reason for m in twice)
    assert plan.migrations == plan.lower_bound_migrations == 17 + 2
    assert any('move twice' in w for w in plan.warnings)


def test_waves_respect_max_parallel_and_azs():
    inventory = clouds.cloud([3] * 8, azs=2, empty=2)
    plan = planner.make_plan(inventory, models.Policy(max_parallel=3))
    clouds.replay(inventory, plan)
    assert all(len(w.hosts) <= 3 for w in plan.waves)
    assert set(plan.migrations_per_instance().values()) == {1}


def test_anti_affinity_members_never_share_a_host():
    members = [['cmp000-vm00', 'cmp001-vm00', 'cmp002-vm00']]
    inventory = clouds.cloud([2, 2, 2], groups=members, empty=1)
    plan = planner.make_plan(inventory, models.Policy(max_parallel=1))
    clouds.replay(inventory, plan)


def test_capacity_is_proven_per_wave():
    inventory = clouds.cloud([14, 14, 14], empty=1)
    plan = planner.make_plan(inventory, models.Policy(max_parallel=2))
    clouds.replay(inventory, plan)
    for wave in plan.waves:
        for load in wave.loads:
            assert load.used.fits_in(load.capacity)


def test_host_that_fits_nowhere_is_refused():
    inventory = clouds.cloud([16, 16])   # each host full: nothing can move
    with pytest.raises(exception.PlanError, match='cannot be drained'):
        planner.make_plan(inventory, models.Policy())


def test_unmovable_instance_skips_its_host_or_fails():
    inventory = clouds.cloud([2, 2], empty=1)
    stuck = [i for i in inventory.instances if i.host == 'cmp001'][0]
    stuck.live_migration_blockers = ['flavor requests a virtual GPU']
    plan = planner.make_plan(inventory, models.Policy())
    assert 'cmp001' in plan.skipped_hosts
    assert 'cmp001' not in plan.hosts
    assert any('virtual GPU' in w for w in plan.warnings)
    with pytest.raises(exception.PlanError, match='virtual GPU'):
        planner.make_plan(inventory, models.Policy(unmovable='fail'))


def test_disabled_and_down_hosts_are_skipped_and_not_destinations():
    inventory = clouds.cloud([2, 2], empty=2)
    inventory.hosts[2].status = 'disabled'
    inventory.hosts[3].state = 'down'
    plan = planner.make_plan(inventory, models.Policy())
    assert set(plan.skipped_hosts) == {'cmp002', 'cmp003'}
    assert not {m.destination for m in plan.moves} & {'cmp002', 'cmp003'}


@pytest.mark.parametrize('kwargs, message', [
    ({'hosts': ['cmp000', 'nosuch']}, 'unknown host'),
    ({'availability_zones': ['az9']}, 'unknown availability zone'),
])
def test_bad_selection(kwargs, message):
    with pytest.raises(exception.PlanError, match=message):
        planner.make_plan(clouds.cloud([1, 1]), models.Policy(), **kwargs)


def test_empty_cloud_is_refused():
    with pytest.raises(exception.PlanError, match='no compute hosts'):
        planner.make_plan(inv.Inventory(), models.Policy())


def test_selection_drains_onto_hosts_outside_it_once():
    inventory = clouds.cloud([4, 4, 4, 4])
    plan = planner.make_plan(inventory, models.Policy(),
                             hosts=['cmp000', 'cmp001'])
    clouds.replay(inventory, plan)
    assert sorted(plan.hosts) == ['cmp000', 'cmp001']
    assert set(plan.migrations_per_instance().values()) == {1}


def test_deterministic_and_json_round_trip():
    inventory = clouds.cloud([5, 3, 4, 6, 2], azs=2, empty=1)
    policy = models.Policy(max_parallel=2)
    first = planner.make_plan(inventory, policy)
    again = planner.make_plan(inventory, policy)
    assert first == again
    data = json.loads(json.dumps(first.to_dict()))
    assert models.Plan.from_dict(data) == first
    assert data['migrations'] == first.migrations


def test_predicted_duration_counts_steps_and_migrations():
    inventory = clouds.cloud([2], empty=1)
    policy = models.Policy(migration_base_seconds=10,
                           migration_seconds_per_gib=5)
    plan = planner.make_plan(inventory, policy)
    steps = sum(policy.step_seconds.values())
    per_migration = 10 + 5 * clouds.SMALL.memory_mb / 1024
    assert plan.predicted_seconds == pytest.approx(
        steps + (steps + 2 * per_migration))


def test_each_zone_without_room_spills_its_smallest_host_at_once():
    # az0: cmp000 (6), cmp002 (2), cmp004 (3); az1: cmp001 (5), cmp003 (4),
    # cmp005 (7). No host is empty: each zone must move one host twice.
    inventory = clouds.cloud([6, 5, 2, 4, 3, 7], azs=2)
    plan = planner.make_plan(inventory, models.Policy(max_parallel=2))
    clouds.replay(inventory, plan)
    assert plan.waves[0].hosts == ['cmp002', 'cmp003']
    assert plan.lower_bound_migrations == 27 + 2 + 4
    assert plan.migrations == plan.lower_bound_migrations


def test_a_host_that_fits_goes_before_one_that_would_spill():
    # cmp000 is the lightest, but its instance may not join the other
    # member of its anti-affinity group on cmp002, the only host outside
    # the rollout; cmp001 fits there, then cmp000 drains onto cmp001.
    inventory = clouds.cloud([1, 2, 14],
                             groups=[['cmp000-vm00', 'cmp002-vm00']])
    plan = planner.make_plan(inventory, models.Policy(),
                             hosts=['cmp000', 'cmp001'])
    clouds.replay(inventory, plan)
    assert [w.hosts for w in plan.waves] == [['cmp001'], ['cmp000']]
    assert set(plan.migrations_per_instance().values()) == {1}


def test_when_nothing_fits_the_host_with_fewest_instances_spills():
    # cmp002 stays out of the rollout but is full: nothing lands for good
    # until one host of the rollout has moved its instances twice.
    inventory = clouds.cloud([5, 3, 16])
    plan = planner.make_plan(inventory, models.Policy(),
                             hosts=['cmp000', 'cmp001'])
    clouds.replay(inventory, plan)
    assert [w.hosts for w in plan.waves] == [['cmp001'], ['cmp000']]
    assert plan.migrations == 3 + 8
    assert sum(m.moves_again for m in plan.moves) == 3
    assert all('lack room' in m.reason for m in plan.moves if m.moves_again)


def test_lightest_hosts_go_first_so_waves_widen_fast():
    # With one spare host, draining the light hosts first frees room for
    # several hosts per wave sooner than draining the full ones first.
    inventory = clouds.cloud([14, 14, 2, 2, 2, 2], empty=1)
    plan = planner.make_plan(inventory, models.Policy(max_parallel=4))
    clouds.replay(inventory, plan)
    assert [w.hosts for w in plan.waves] == [
        ['cmp006'], ['cmp002', 'cmp003', 'cmp004', 'cmp005'],
        ['cmp000', 'cmp001']]
