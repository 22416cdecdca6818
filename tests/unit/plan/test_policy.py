"""Policy: hosts down per AZ and aggregate, canary, host order, checks."""

import json

import pytest

from tests.unit.plan import clouds
from upgrader.common import exception
from upgrader.plan import limits
from upgrader.plan import models
from upgrader.plan import planner


def _waves(plan):
    return [w.hosts for w in plan.waves]


@pytest.mark.parametrize('value, total, allowed', [
    (2, 10, 2), (12, 10, 12), ('25%', 10, 2), ('25%', 4, 1),
    ('1%', 10, 1), ('100%', 7, 7), ('50%', 0, 1),
])
def test_allowance_is_a_count_or_a_share_rounded_down_at_least_one(
        value, total, allowed):
    assert limits.allowance('x', value, total) == allowed


@pytest.mark.parametrize('value', [0, -1, True, 1.5, '0%', '101%', '2.5%',
                                   '25', 'a%', '%', [1]])
def test_bad_allowance_is_refused_by_name(value):
    with pytest.raises(exception.PlanError, match='max_unavailable_per_az'):
        planner.make_plan(clouds.cloud([1, 1]), models.Policy(
            max_unavailable_per_az=value))


@pytest.mark.parametrize('kwargs, message', [
    ({'max_parallel': 0}, 'max_parallel'),
    ({'unmovable': 'reboot'}, 'unmovable must be one of'),
    ({'canary': 'yes'}, 'canary'),
    ({'first_hosts': 'cmp000'}, 'first_hosts must be a list'),
    ({'max_unavailable_per_aggregate': '0%'},
     'max_unavailable_per_aggregate'),
    ({'max_group_disruption': 0}, 'max_group_disruption'),
])
def test_policy_values_the_planner_cannot_follow_are_refused(kwargs,
                                                              message):
    with pytest.raises(exception.PlanError, match=message):
        planner.make_plan(clouds.cloud([1, 1]), models.Policy(**kwargs))


def test_hosts_down_per_availability_zone_are_limited():
    inventory = clouds.cloud([3] * 8, azs=2, empty=2)
    wide = planner.make_plan(inventory, models.Policy(max_parallel=4))
    narrow = planner.make_plan(inventory, models.Policy(
        max_parallel=4, max_unavailable_per_az=1))
    clouds.replay(inventory, narrow)
    assert max(len(w) for w in _waves(wide)) == 4
    assert _waves(narrow) == [['cmp008', 'cmp009'], ['cmp000', 'cmp001'],
                              ['cmp002', 'cmp003'], ['cmp004', 'cmp005'],
                              ['cmp006', 'cmp007']]
    assert narrow.migrations == wide.migrations == len(inventory.instances)


def test_a_share_of_an_availability_zone_counts_its_hosts():
    # 10 hosts per zone: 25% lets 2 of each zone down at once.
    inventory = clouds.cloud([2] * 18, azs=2, empty=2)
    plan = planner.make_plan(inventory, models.Policy(
        max_parallel=10, max_unavailable_per_az='25%'))
    clouds.replay(inventory, plan)
    assert [len(w) for w in _waves(plan)] == [2] + [4] * 4 + [2]


def test_hosts_down_per_aggregate_are_limited():
    inventory = clouds.cloud([2] * 6, empty=2)
    for host in inventory.hosts[:4]:
        host.aggregates = ['ssd']
    plan = planner.make_plan(inventory, models.Policy(
        max_parallel=4, max_unavailable_per_aggregate=1))
    clouds.replay(inventory, plan)
    assert _waves(plan) == [['cmp006', 'cmp007'],
                            ['cmp000', 'cmp004', 'cmp005'],
                            ['cmp001'], ['cmp002'], ['cmp003']]


def test_an_empty_host_kept_waiting_by_a_limit_saves_a_second_move():
    # Zones az0 (even hosts) and az1 (odd); the empty hosts cmp006 (az0)
    # and cmp007 (az1) share the aggregate 'spare', so they go in two
    # waves. az1 waits for cmp007 rather than spill onto hosts drained
    # later: every instance moves once, as the lower bound says.
    inventory = clouds.cloud([2] * 6, azs=2, empty=2)
    for host in inventory.hosts[6:]:
        host.aggregates = ['spare']
    plan = planner.make_plan(inventory, models.Policy(
        max_parallel=4, max_unavailable_per_aggregate=1))
    clouds.replay(inventory, plan)
    assert not any(m.moves_again for m in plan.moves)
    assert plan.migrations == plan.lower_bound_migrations == 12
    assert _waves(plan)[0] == ['cmp006']
    assert 'cmp007' in _waves(plan)[1]


def test_canary_wave_holds_the_best_first_host_alone():
    inventory = clouds.cloud([3] * 8, azs=2, empty=2)
    plan = planner.make_plan(inventory, models.Policy(max_parallel=4,
                                                      canary=True))
    clouds.replay(inventory, plan)
    assert [w.canary for w in plan.waves] == [True] + [False] * (
        len(plan.waves) - 1)
    assert plan.waves[0].hosts == ['cmp008']   # empty: the cheapest first
    plain = planner.make_plan(inventory, models.Policy(max_parallel=4))
    assert not any(w.canary for w in plain.waves)


def test_canary_is_the_first_pinned_host():
    inventory = clouds.cloud([3] * 4, empty=1)
    plan = planner.make_plan(inventory, models.Policy(
        max_parallel=3, canary=True, first_hosts=['cmp002', 'cmp000']))
    clouds.replay(inventory, plan)
    assert _waves(plan)[0] == ['cmp002'] and plan.hosts[1] == 'cmp000'
    assert plan.waves[0].canary and plan.waves[0].moves


def test_empty_hosts_go_first_in_every_zone():
    # cmp004, cmp005, cmp006 start empty; one host per wave.
    inventory = clouds.cloud([3, 2, 4, 5], azs=2, empty=3)
    plan = planner.make_plan(inventory, models.Policy(max_parallel=1))
    clouds.replay(inventory, plan)
    assert _waves(plan)[:3] == [['cmp004'], ['cmp005'], ['cmp006']]
    assert plan.migrations == plan.lower_bound_migrations


def test_pinned_hosts_go_first_and_last_in_their_order():
    inventory = clouds.cloud([3] * 8, azs=2, empty=2)
    policy = models.Policy(max_parallel=4, first_hosts=['cmp003', 'cmp001'],
                           last_hosts=['cmp009', 'cmp002'])
    plan = planner.make_plan(inventory, policy)
    clouds.replay(inventory, plan)
    assert plan.hosts[:2] == ['cmp003', 'cmp001']
    assert plan.hosts[-2:] == ['cmp009', 'cmp002']
    # Pinning costs migrations: the first hosts spill onto hosts that are
    # drained later, and the plan says so.
    assert plan.migrations > plan.lower_bound_migrations
    assert any('move twice' in w for w in plan.warnings)


def test_a_pinned_host_waits_rather_than_let_a_later_one_pass():
    # cmp000 and cmp002 share az0, one host of a zone at a time: cmp002
    # waits for wave 2 and no unpinned host goes before it.
    inventory = clouds.cloud([2] * 4, azs=2, empty=2)
    plan = planner.make_plan(inventory, models.Policy(
        max_parallel=4, max_unavailable_per_az=1,
        first_hosts=['cmp000', 'cmp002']))
    clouds.replay(inventory, plan)
    assert _waves(plan)[0] == ['cmp000']
    assert _waves(plan)[1][0] == 'cmp002'


@pytest.mark.parametrize('kwargs, message', [
    ({'first_hosts': ['cmp000', 'nosuch'], 'last_hosts': ['other']},
     'unknown pinned host.*: nosuch, other'),
    ({'first_hosts': ['cmp000'], 'last_hosts': ['cmp000']},
     'pinned more than once: cmp000'),
    ({'first_hosts': ['cmp001', 'cmp001']}, 'pinned more than once: cmp001'),
])
def test_bad_pins_are_refused(kwargs, message):
    with pytest.raises(exception.PlanError, match=message):
        planner.make_plan(clouds.cloud([1, 1]), models.Policy(**kwargs))


def test_a_pinned_host_outside_the_selection_or_skipped_is_refused():
    inventory = clouds.cloud([1, 1, 1])
    inventory.hosts[2].status = 'disabled'
    with pytest.raises(exception.PlanError, match='outside the selection: '
                                                  'cmp001'):
        planner.make_plan(inventory, models.Policy(first_hosts=['cmp001']),
                          hosts=['cmp000'])
    with pytest.raises(exception.PlanError,
                       match='cannot be upgraded: cmp002 nova-compute is '
                             'disabled'):
        planner.make_plan(inventory, models.Policy(last_hosts=['cmp002']))


def test_new_policy_fields_and_waves_round_trip_through_json():
    inventory = clouds.cloud([3, 2, 4, 1], azs=2, empty=1)
    inventory.instances[0].metadata['upgrader:action'] = 'stop-start'
    inventory.instances[1].tags.append('upgrader:action=cold-migrate')
    policy = models.Policy(
        max_parallel=3, max_unavailable_per_az='50%',
        max_unavailable_per_aggregate=2, canary=True,
        first_hosts=['cmp001'], last_hosts=['cmp000'],
        max_group_disruption='50%', unmovable='notify-and-wait')
    plan = planner.make_plan(inventory, policy)
    assert any(w.stays for w in plan.waves)
    assert any(m.action == 'cold-migrate' for m in plan.moves)
    data = json.loads(json.dumps(plan.to_dict()))
    again = models.Plan.from_dict(data)
    assert again == plan and again.policy == policy


def test_plans_stored_before_these_fields_still_load():
    plan = planner.make_plan(clouds.cloud([2, 1], empty=1), models.Policy())
    data = json.loads(json.dumps(plan.to_dict()))
    for key in ('max_unavailable_per_az', 'max_unavailable_per_aggregate',
                'canary', 'first_hosts', 'last_hosts',
                'max_group_disruption'):
        del data['policy'][key]
    for wave in data['waves']:
        del wave['canary'], wave['stays']
        for move in wave['moves']:
            del move['action']
    assert models.Plan.from_dict(data) == plan
