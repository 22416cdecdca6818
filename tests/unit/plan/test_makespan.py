"""The makespan bounds: below every plan that makes the fewest migrations
(hypothesis over generated clouds), and the ramp forced by empty hosts."""

from hypothesis import event
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from tests.unit.plan import clouds
from upgrader.common import exception
from upgrader.plan import makespan
from upgrader.plan import models
from upgrader.plan import planner


@settings(max_examples=300, deadline=None)
@given(st.booleans().flatmap(lambda extras: clouds.clouds(extras=extras)),
       st.integers(1, 4), st.booleans(),
       st.none() | st.integers(1, 2) | st.just('50%'))
def test_no_plan_with_fewest_migrations_beats_the_bound(
        inventory, max_parallel, canary, per_az):
    policy = models.Policy(max_parallel=max_parallel, canary=canary,
                           max_unavailable_per_az=per_az)
    try:
        plan = planner.make_plan(inventory, policy)
    except exception.PlanError:
        return
    naive = makespan.naive_bound(inventory, plan)
    bound = makespan.lower_bound(inventory, plan)
    if plan.migrations == plan.lower_bound_migrations:
        assert bound is not None
    if bound is not None:
        assert naive <= bound + 1e-6
        if plan.migrations == plan.lower_bound_migrations:
            event('checked against the plan')
            assert bound <= plan.predicted_seconds + 1e-6


def test_the_first_wave_holds_only_the_empty_hosts():
    # One empty host, three alike: wave 1 upgrades the empty one, wave 2
    # drains one host onto it (no room for two), then the room doubles.
    inventory = clouds.cloud(per_host=[0, 10, 10, 10])
    plan = planner.make_plan(inventory, models.Policy(max_parallel=3))
    assert makespan.ramp(inventory, plan) == [1, 2, 4]
    seconds = makespan.host_seconds(inventory, plan)
    empty, loaded = min(seconds.values()), max(seconds.values())
    assert makespan.naive_bound(inventory, plan) == (empty + 3 * loaded) / 3
    # Three waves at least: the empty host's, then one loaded host, then
    # the other two together.
    assert makespan.lower_bound(inventory, plan) == empty + 2 * loaded
    assert plan.predicted_seconds == empty + 2 * loaded
