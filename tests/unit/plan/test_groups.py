"""Server group disruption budgets: how many members one wave takes down."""

import pytest

from tests.unit.plan import clouds
from upgrader.plan import models
from upgrader.plan import planner


def _pair(policy='anti-affinity'):
    """Two spare hosts; cmp000 and cmp001 each hold one member of g0.

    Without a budget, cmp000-cmp003 fit in one wave after the spares.
    """
    inventory = clouds.cloud([2, 2, 2, 2], empty=2,
                             groups=[['cmp000-vm00', 'cmp001-vm00']])
    inventory.server_groups[0].policy = policy
    return inventory


def _waves(plan):
    return [w.hosts for w in plan.waves]


@pytest.mark.parametrize('group_policy', ['anti-affinity',
                                          'soft-anti-affinity'])
def test_anti_affinity_members_never_go_down_together_by_default(
        group_policy):
    inventory = _pair(group_policy)
    plan = planner.make_plan(inventory, models.Policy(max_parallel=4))
    clouds.replay(inventory, plan)
    assert _waves(plan) == [['cmp004', 'cmp005'],
                            ['cmp000', 'cmp002', 'cmp003'], ['cmp001']]
    assert any('kept 1 host(s) out of 1 wave(s) with room for them '
               '(waves 2; server groups g0)' in w for w in plan.warnings)


def test_a_larger_budget_lets_members_go_down_together():
    inventory = _pair()
    plan = planner.make_plan(inventory, models.Policy(
        max_parallel=4, max_group_disruption=2))
    clouds.replay(inventory, plan)
    assert _waves(plan) == [['cmp004', 'cmp005'],
                            ['cmp000', 'cmp001', 'cmp002', 'cmp003']]
    assert not plan.warnings


def test_other_groups_have_no_budget_unless_set():
    inventory = _pair('affinity')
    plan = planner.make_plan(inventory, models.Policy(max_parallel=4))
    assert len(plan.waves) == 2
    plan = planner.make_plan(inventory, models.Policy(
        max_parallel=4, max_group_disruption='50%'))
    clouds.replay(inventory, plan)
    assert _waves(plan)[2] == ['cmp001']
    assert any('server groups g0' in w for w in plan.warnings)


def test_a_host_holding_more_members_than_the_budget_goes_alone():
    # Soft anti-affinity let Nova put two members on cmp000: they can only
    # go down together, but with no third member.
    inventory = clouds.cloud([2, 2, 2], empty=2, groups=[
        ['cmp000-vm00', 'cmp000-vm01', 'cmp001-vm00']])
    inventory.server_groups[0].policy = 'soft-anti-affinity'
    plan = planner.make_plan(inventory, models.Policy(max_parallel=4))
    clouds.replay(inventory, plan)
    assert plan.wave_of('cmp000') is not plan.wave_of('cmp001')
    assert any('host cmp000 holds 2 members of server group g0, more than '
               'its disruption budget of 1' in w for w in plan.warnings)


def test_budget_counts_members_where_they_are_when_the_wave_starts():
    # g0's member on cmp000 lands on a spare host; both spares are drained
    # first and empty, so it meets no other member in a wave later.
    inventory = _pair()
    plan = planner.make_plan(inventory, models.Policy(max_parallel=1))
    where = clouds.replay(inventory, plan)
    assert where['cmp000-vm00'] != where['cmp001-vm00']
    assert all(len(w) == 1 for w in _waves(plan))
    assert not any('disruption' in w for w in plan.warnings)
