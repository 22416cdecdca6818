"""Properties every plan keeps, over small generated clouds (hypothesis).

Each plan is replayed wave by wave (``clouds.replay``): capacity,
anti-affinity, AZs, empty drained hosts, honest move counts and the lower
bound are checked after every wave, whatever the cloud looks like.
"""

import collections

from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from tests.unit.plan import clouds
from upgrader.common import exception
from upgrader.plan import models
from upgrader.plan import planner

EXAMPLES = settings(max_examples=150, deadline=None)


@EXAMPLES
@given(clouds.clouds(), st.integers(1, 4), st.data())
def test_every_plan_is_safe_and_counts_honestly(inventory, max_parallel,
                                                data):
    names = [h.name for h in inventory.hosts]
    scope = data.draw(st.none() | st.lists(st.sampled_from(names),
                                           min_size=1, unique=True))
    policy = models.Policy(max_parallel=max_parallel)
    try:
        plan = planner.make_plan(inventory, policy, hosts=scope)
    except exception.PlanError as e:
        assert 'cannot be drained' in str(e)
        return
    clouds.replay(inventory, plan)
    clouds.check_counts(inventory, plan)
    assert set(plan.hosts) | set(plan.skipped_hosts) == set(scope or names)
    assert planner.make_plan(inventory, policy, hosts=scope) == plan


@EXAMPLES
@given(clouds.clouds(spare_per_zone=True, uniform=True, all_usable=True),
       st.integers(1, 4))
def test_a_spare_host_per_zone_moves_each_instance_once(inventory,
                                                        max_parallel):
    # Every host has the same capacity, so a drained host can always take
    # the whole content of the next one: nothing ever needs to move twice.
    plan = planner.make_plan(inventory, models.Policy(
        max_parallel=max_parallel))
    clouds.replay(inventory, plan)
    clouds.check_counts(inventory, plan)
    assert set(plan.migrations_per_instance().values()) <= {1}
    assert plan.migrations == plan.lower_bound_migrations == len(
        inventory.instances)


@EXAMPLES
@given(clouds.clouds(uniform=True, all_usable=True), st.integers(1, 4))
def test_without_spare_host_one_host_per_zone_moves_twice(inventory,
                                                         max_parallel):
    # No host may start empty: one host per zone spills onto hosts drained
    # later, then drains of hosts alike always fit. When that host is the
    # one with fewest instances, the plan meets the lower bound.
    try:
        plan = planner.make_plan(inventory, models.Policy(
            max_parallel=max_parallel))
    except exception.PlanError:
        return
    clouds.replay(inventory, plan)
    clouds.check_counts(inventory, plan)
    zone = {h.name: h.availability_zone for h in inventory.hosts}
    spilled = {m.source for m in plan.moves if m.moves_again}
    assert len(spilled) == len({zone[h] for h in spilled})
    origin = {i.uuid: i.host for i in inventory.instances}
    assert all(origin[u] in spilled for u, n in
               plan.migrations_per_instance().items() if n > 1)
    assert max(plan.migrations_per_instance().values(), default=0) <= 2
    count = collections.Counter(i.host for i in inventory.instances)
    if all(count[h] == min(count[o] for o in plan.hosts
                           if zone[o] == zone[h]) for h in spilled):
        assert plan.migrations == plan.lower_bound_migrations


@EXAMPLES
@given(clouds.clouds(spare_per_zone=True, uniform=True, all_usable=True),
       st.integers(1, 4), st.data())
def test_limits_per_zone_and_aggregate_cost_no_second_move(inventory,
                                                           max_parallel,
                                                           data):
    # Limits narrow the waves (an empty host may wait for a later one);
    # with a spare host per zone, no instance moves twice for them.
    for host in inventory.hosts:
        host.aggregates = data.draw(st.lists(
            st.sampled_from(clouds.AGGREGATES), unique=True, max_size=2))
    limit = st.none() | st.integers(1, 2) | st.sampled_from(['34%', '50%'])
    policy = models.Policy(
        max_parallel=max_parallel,
        max_unavailable_per_az=data.draw(limit),
        max_unavailable_per_aggregate=data.draw(limit))
    plan = planner.make_plan(inventory, policy)
    clouds.replay(inventory, plan)
    assert set(plan.migrations_per_instance().values()) <= {1}
    assert plan.migrations == plan.lower_bound_migrations
