"""Properties every plan keeps, over small generated clouds (hypothesis).

Each plan is replayed wave by wave: capacity, anti-affinity, AZs, empty
drained hosts, honest move counts and the lower bound are checked after
every wave, whatever the cloud looks like.
"""

import collections

from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from upgrader.common import exception
from upgrader.common import inventory as inv
from upgrader.plan import models
from upgrader.plan import planner

CAPACITIES = [inv.Resources(8, 16384, 200), inv.Resources(16, 32768, 400),
              inv.Resources(4, 16384, 100)]
FLAVORS = [inv.Resources(1, 2048, 20), inv.Resources(2, 4096, 40),
           inv.Resources(4, 8192, 40), inv.Resources(1, 1024, 10),
           inv.Resources(0.5, 1536.5, 5)]

EXAMPLES = settings(max_examples=150, deadline=None)


@st.composite
def clouds(draw, spare_per_zone=False, uniform=False, all_usable=False):
    """An inventory: hosts in 1-3 AZs, instances that fit, anti-affinity.

    ``spare_per_zone`` adds an empty host to every zone; ``uniform`` gives
    every host the same capacity; ``all_usable`` keeps every host enabled
    and up.
    """
    zones = ['az%d' % z for z in range(draw(st.integers(1, 3)))]
    n_hosts = draw(st.integers(1, 9))
    capacity = draw(st.sampled_from(CAPACITIES))
    hosts, instances = [], []
    for h in range(n_hosts + (len(zones) if spare_per_zone else 0)):
        name = 'cmp%02d' % h
        spare = h >= n_hosts
        cap = capacity if uniform else draw(st.sampled_from(CAPACITIES))
        used = inv.Resources()
        flavors = [] if spare else draw(st.lists(st.sampled_from(FLAVORS),
                                                 max_size=8))
        for j, flavor in enumerate(flavors):
            if (used + flavor).fits_in(cap):
                used = used + flavor
                instances.append(inv.Instance(
                    uuid='%s-vm%d' % (name, j), name='vm%d' % j, host=name,
                    status='ACTIVE', flavor=flavor))
        usable = all_usable or spare or draw(st.integers(0, 9)) > 0
        hosts.append(inv.Host(
            name=name, service_id=str(h),
            status='enabled' if usable else 'disabled', state='up',
            availability_zone=(zones[h - n_hosts] if spare
                               else draw(st.sampled_from(zones))),
            capacity=cap, used=used))
    groups = _anti_affinity(draw, instances)
    return inv.Inventory(hosts=hosts, instances=instances,
                         server_groups=groups)


def _anti_affinity(draw, instances):
    """Up to 3 groups, each with members on distinct hosts (as Nova)."""
    groups = []
    for g in range(draw(st.integers(0, 3))):
        if not instances:
            break
        picked = draw(st.lists(st.sampled_from(instances), max_size=4))
        members = {}
        for i in picked:
            members.setdefault(i.host, i)
        uuid = 'g%d' % g
        policy = draw(st.sampled_from(['anti-affinity', 'soft-anti-affinity',
                                       'affinity']))
        for i in members.values():
            i.server_groups.append(uuid)
        groups.append(inv.ServerGroup(uuid=uuid, name=uuid, policy=policy,
                                      members=[i.uuid for i in
                                               members.values()]))
    return groups


def _replay(inventory, plan, max_parallel):
    """Apply the moves wave by wave, checking every invariant on the way."""
    hosts = {h.name: h for h in inventory.hosts}
    flavor = {i.uuid: i.flavor for i in inventory.instances}
    where = {i.uuid: i.host for i in inventory.instances}
    anti = [set(g.members) for g in inventory.server_groups
            if g.policy in planner.ANTI_AFFINITY]
    drained_at = {h: w.index for w in plan.waves for h in w.hosts}
    assert len(drained_at) == len(plan.hosts), 'a host is drained twice'
    for wave in plan.waves:
        assert 1 <= len(wave.hosts) <= max_parallel
        for move in wave.moves:
            assert where[move.instance] == move.source
            assert move.source in wave.hosts
            dest = hosts[move.destination]
            assert move.destination not in wave.hosts
            assert dest.enabled and dest.state == 'up'
            assert (dest.availability_zone
                    == hosts[move.source].availability_zone)
            # moves_again is true exactly when the destination is drained
            # later: the plan announces every extra migration it makes.
            assert move.moves_again == (move.destination in drained_at
                                        and drained_at[move.destination]
                                        > wave.index)
            where[move.instance] = move.destination
        load = collections.defaultdict(inv.Resources)
        for uuid, host in where.items():
            load[host] = load[host] + flavor[uuid]
        for host in wave.hosts:
            assert host not in load, '%s not empty in its wave' % host
        for host, used in load.items():
            assert used.fits_in(hosts[host].capacity), (
                '%s overcommitted after wave %d' % (host, wave.index))
        for members in anti:
            on = [where[m] for m in members]
            assert len(on) == len(set(on)), 'anti-affinity broken'
    return where


def _check_counts(inventory, plan):
    counts = plan.migrations_per_instance()
    assert plan.migrations == len(plan.moves) == sum(counts.values())
    assert plan.to_dict()['migrations'] == plan.migrations
    assert plan.migrations >= plan.lower_bound_migrations
    # Each move beyond an instance's first is announced as moves_again.
    extra = sum(n - 1 for n in counts.values())
    assert extra == sum(1 for m in plan.moves if m.moves_again)
    twice = sum(1 for n in counts.values() if n > 1)
    if twice:
        assert any('%d instance(s) move twice' % twice in w
                   for w in plan.warnings)
    # Everything on a drained host moved; nothing else did.
    drained = set(plan.hosts)
    assert set(counts) == {i.uuid for i in inventory.instances
                           if i.host in drained}


@EXAMPLES
@given(clouds(), st.integers(1, 4), st.data())
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
    _replay(inventory, plan, max_parallel)
    _check_counts(inventory, plan)
    assert set(plan.hosts) | set(plan.skipped_hosts) == set(scope or names)
    assert planner.make_plan(inventory, policy, hosts=scope) == plan


@EXAMPLES
@given(clouds(spare_per_zone=True, uniform=True, all_usable=True),
       st.integers(1, 4))
def test_a_spare_host_per_zone_moves_each_instance_once(inventory,
                                                        max_parallel):
    # Every host has the same capacity, so a drained host can always take
    # the whole content of the next one: nothing ever needs to move twice.
    plan = planner.make_plan(inventory, models.Policy(
        max_parallel=max_parallel))
    _replay(inventory, plan, max_parallel)
    _check_counts(inventory, plan)
    assert set(plan.migrations_per_instance().values()) <= {1}
    assert plan.migrations == plan.lower_bound_migrations == len(
        inventory.instances)


@EXAMPLES
@given(clouds(uniform=True, all_usable=True), st.integers(1, 4))
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
    _replay(inventory, plan, max_parallel)
    _check_counts(inventory, plan)
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
