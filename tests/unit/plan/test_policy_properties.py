"""Properties of plans under any policy, over generated clouds (hypothesis).

Each plan is replayed wave by wave (``clouds.replay``): besides capacity,
anti-affinity and honest counts, hosts down per AZ and per aggregate never
exceed the policy, no two members of an anti-affinity group go down in one
wave, the canary wave holds one host, pinned hosts keep their order, and
every instance of a drained host has its action in the plan.
"""

import json

from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from tests.unit.plan import clouds
from upgrader.common import exception
from upgrader.plan import actions
from upgrader.plan import models
from upgrader.plan import planner

EXAMPLES = settings(max_examples=200, deadline=None)
LIMITS = st.none() | st.integers(1, 3) | st.sampled_from(
    ['1%', '34%', '50%', '100%'])


@st.composite
def policies(draw, inventory, pins=True):
    """A policy with any limits, canary, budget and unmovable action; with
    ``pins``, some enabled hosts pinned first and last."""
    names = [h.name for h in inventory.hosts if h.enabled]
    pinned = draw(st.lists(st.sampled_from(names), unique=True,
                           max_size=4)) if pins and names else []
    cut = draw(st.integers(0, len(pinned)))
    return models.Policy(
        max_parallel=draw(st.integers(1, 4)),
        max_unavailable_per_az=draw(LIMITS),
        max_unavailable_per_aggregate=draw(LIMITS),
        canary=draw(st.booleans()),
        first_hosts=pinned[:cut], last_hosts=pinned[cut:],
        max_group_disruption=draw(LIMITS),
        unmovable=draw(st.sampled_from(models.UNMOVABLE_ACTIONS)))


def _expected_action(instance, policy):
    """The action the docs promise, worked out apart from the planner."""
    asked = instance.metadata.get(actions.ACTION_KEY)
    for tag in instance.tags:
        if asked is None and tag.startswith(actions.ACTION_KEY + '='):
            asked = tag.split('=', 1)[1]
    if asked in models.INSTANCE_ACTIONS and asked != models.LIVE_MIGRATE:
        return asked
    if instance.live_migratable:
        return models.LIVE_MIGRATE
    return policy.unmovable


def _plan_or_reason(inventory, policy):
    try:
        return planner.make_plan(inventory, policy), None
    except exception.PlanError as e:
        return None, str(e)


@EXAMPLES
@given(st.data())
def test_every_plan_keeps_the_policy(data):
    spare = data.draw(st.booleans())
    inventory = data.draw(clouds.clouds(extras=True, spare_per_zone=spare))
    policy = data.draw(policies(inventory))
    plan, reason = _plan_or_reason(inventory, policy)
    if plan is None:
        # Only a host that fits nowhere, an instance the policy says must
        # fail the plan, or a pinned host the rollout cannot upgrade.
        assert any(why in reason for why in (
            'cannot be drained', 'cannot be live-migrated',
            'pinned host(s) cannot be upgraded')), reason
        return
    clouds.replay(inventory, plan)
    clouds.check_counts(inventory, plan)
    by_uuid = {i.uuid: i for i in inventory.instances}
    for wave in plan.waves:
        for host in wave.hosts:
            for uuid, action in wave.actions_on(host).items():
                assert action == _expected_action(by_uuid[uuid], policy)
    assert planner.make_plan(inventory, policy) == plan
    assert models.Plan.from_dict(json.loads(json.dumps(
        plan.to_dict()))) == plan


@EXAMPLES
@given(st.data())
def test_empty_hosts_go_first(data):
    # No pins and no zone or aggregate limits: nothing stops an empty host
    # from going before every host with instances.
    spare = data.draw(st.booleans())
    inventory = data.draw(clouds.clouds(extras=True, spare_per_zone=spare))
    policy = data.draw(policies(inventory, pins=False))
    policy.max_unavailable_per_az = None
    policy.max_unavailable_per_aggregate = None
    plan, _ = _plan_or_reason(inventory, policy)
    if plan is None:
        return
    clouds.replay(inventory, plan)
    held = {i.host for i in inventory.instances}
    waves = {h: w.index for w in plan.waves for h in w.hosts}
    empty = [waves[h] for h in plan.hosts if h not in held]
    busy = [waves[h] for h in plan.hosts if h in held]
    assert max(empty, default=0) <= min(busy, default=len(plan.waves))
