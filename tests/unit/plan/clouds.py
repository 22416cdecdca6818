"""Clouds for the planner tests, and the replay that checks a plan.

``cloud`` builds a small example cloud; ``clouds`` is the hypothesis
strategy; ``replay`` applies a plan wave by wave and checks every invariant
the plan promises, reading the limits from the plan's own policy.
"""

import collections
import random

from hypothesis import strategies as st

from upgrader.common import inventory as inv
from upgrader.plan import actions
from upgrader.plan import models

CAP = inv.Resources(32, 65536, 1000)
SMALL = inv.Resources(2, 4096, 20)

CAPACITIES = [inv.Resources(8, 16384, 200), inv.Resources(16, 32768, 400),
              inv.Resources(4, 16384, 100)]
FLAVORS = [inv.Resources(1, 2048, 20), inv.Resources(2, 4096, 40),
           inv.Resources(4, 8192, 40), inv.Resources(1, 1024, 10),
           inv.Resources(0.5, 1536.5, 5)]
AGGREGATES = ['agg0', 'agg1', 'agg2']


def cloud(per_host, azs=1, groups=(), empty=0, seed=1):
    """per_host instances of SMALL on each host of capacity CAP; ``empty``
    extra empty hosts; ``groups``: member uuids of anti-affinity groups."""
    rng = random.Random(seed)
    hosts, instances = [], []
    n = len(per_host) + empty
    for i in range(n):
        name = 'cmp%03d' % i
        count = per_host[i] if i < len(per_host) else 0
        hosts.append(inv.Host(name=name, service_id=str(i), status='enabled',
                              state='up', availability_zone='az%d' % (i % azs),
                              capacity=CAP,
                              used=inv.Resources(SMALL.vcpus * count,
                                                 SMALL.memory_mb * count,
                                                 SMALL.disk_gb * count)))
        for j in range(count):
            instances.append(inv.Instance(
                uuid='%s-vm%02d' % (name, j), name='vm', host=name,
                status='ACTIVE', flavor=SMALL))
    server_groups = []
    for g, members in enumerate(groups):
        server_groups.append(inv.ServerGroup(uuid='g%d' % g, name='g',
                                             policy='anti-affinity',
                                             members=members))
        for inst in instances:
            if inst.uuid in members:
                inst.server_groups.append('g%d' % g)
    rng.shuffle(instances)
    return inv.Inventory(hosts=hosts, instances=instances,
                         server_groups=server_groups)


@st.composite
def clouds(draw, spare_per_zone=False, uniform=False, all_usable=False,
           extras=False):
    """An inventory: hosts in 1-3 AZs, instances that fit, server groups.

    ``spare_per_zone`` adds an empty host to every zone; ``uniform`` gives
    every host the same capacity; ``all_usable`` keeps every host enabled
    and up; ``extras`` adds host aggregates, instances that cannot
    live-migrate and instances asking for an action.
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
                instance = inv.Instance(
                    uuid='%s-vm%d' % (name, j), name='vm%d' % j, host=name,
                    status='ACTIVE', flavor=flavor)
                if extras:
                    _instance_extras(draw, instance)
                instances.append(instance)
        usable = all_usable or spare or draw(st.integers(0, 9)) > 0
        hosts.append(inv.Host(
            name=name, service_id=str(h),
            status='enabled' if usable else 'disabled', state='up',
            availability_zone=(zones[h - n_hosts] if spare
                               else draw(st.sampled_from(zones))),
            aggregates=(draw(st.lists(st.sampled_from(AGGREGATES),
                                      unique=True)) if extras else []),
            capacity=cap, used=used))
    groups = _server_groups(draw, instances)
    return inv.Inventory(hosts=hosts, instances=instances,
                         server_groups=groups)


def _instance_extras(draw, instance):
    """Sometimes a live migration blocker, sometimes an action asked for
    through metadata or a tag (rarely one that is no action)."""
    if draw(st.integers(0, 9)) == 0:
        instance.live_migration_blockers = ['PCI passthrough device']
    asked = draw(st.sampled_from([None] * 6 + list(models.INSTANCE_ACTIONS)
                                 + ['reboot']))
    if asked is not None:
        if draw(st.booleans()):
            instance.metadata[actions.ACTION_KEY] = asked
        else:
            instance.tags.append('%s=%s' % (actions.ACTION_KEY, asked))


def _server_groups(draw, instances):
    """Up to 3 groups; anti-affinity members on distinct hosts (as Nova)."""
    groups = []
    for g in range(draw(st.integers(0, 3))):
        if not instances:
            break
        picked = draw(st.lists(st.sampled_from(instances), max_size=4))
        policy = draw(st.sampled_from(['anti-affinity', 'soft-anti-affinity',
                                       'affinity']))
        members = {}
        for i in picked:
            if policy in models.ANTI_AFFINITY:
                members.setdefault(i.host, i)
            else:
                members.setdefault(i.uuid, i)
        uuid = 'g%d' % g
        for i in members.values():
            i.server_groups.append(uuid)
        groups.append(inv.ServerGroup(uuid=uuid, name=uuid, policy=policy,
                                      members=[i.uuid for i in
                                               members.values()]))
    return groups


def replay(inventory, plan):
    """Apply the moves wave by wave, checking every invariant on the way.

    Capacity, anti-affinity, AZs, honest moves_again, every instance of a
    drained host either moved or staying, and the policy's limits and host
    order (see :func:`check_wave_limits` and :func:`check_order`).
    Returns {instance uuid: host} after the last wave.
    """
    hosts = {h.name: h for h in inventory.hosts}
    flavor = {i.uuid: i.flavor for i in inventory.instances}
    where = {i.uuid: i.host for i in inventory.instances}
    anti = collections.defaultdict(set)   # instance: its anti-affinity peers
    for group in inventory.server_groups:
        if group.policy in models.ANTI_AFFINITY:
            for member in group.members:
                anti[member].update(set(group.members) - {member})
    drained_at = {h: w.index for w in plan.waves for h in w.hosts}
    assert len(drained_at) == len(plan.hosts), 'a host is drained twice'
    assert [w.index for w in plan.waves] == list(range(1, len(plan.waves)
                                                       + 1))
    for wave in plan.waves:
        check_wave_limits(inventory, plan.policy, wave, where)
        for host in wave.hosts:
            held = {u for u, at in where.items() if at == host}
            assert set(wave.actions_on(host)) == held, (
                'the plan does not say what happens to every instance of '
                '%s' % host)
        for stay in wave.stays:
            assert stay.action in models.STAY_ACTIONS and stay.reason
            assert stay.host in wave.hosts
        for move in wave.moves:
            assert move.action in models.MOVE_ACTIONS
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
            assert not any(where[p] == move.destination
                           for p in anti[move.instance]), (
                'anti-affinity broken')
            where[move.instance] = move.destination
        staying = {s.instance for s in wave.stays}
        load = collections.defaultdict(inv.Resources)
        for uuid, host in where.items():
            load[host] = load[host] + flavor[uuid]
            assert host not in wave.hosts or uuid in staying, (
                '%s not drained in its wave' % host)
        for host, used in load.items():
            assert used.fits_in(hosts[host].capacity), (
                '%s overcommitted after wave %d' % (host, wave.index))
    check_order(plan)
    return where


def allowance(value, total):
    """What a policy limit allows out of ``total`` (None: no limit)."""
    if isinstance(value, str):
        return max(1, total * int(value.rstrip('%')) // 100)
    return value


def check_wave_limits(inventory, policy, wave, where):
    """Wave size, canary, hosts per AZ and aggregate, group budgets.

    ``where``: {instance uuid: host} when the wave starts.
    """
    canary = policy.canary and wave.index == 1
    assert wave.canary == canary
    assert 1 <= len(wave.hosts) <= (1 if canary else policy.max_parallel)
    zone = {h.name: h.availability_zone for h in inventory.hosts}
    in_zone = collections.Counter(zone.values())
    for z, n in collections.Counter(zone[h] for h in wave.hosts).items():
        cap = allowance(policy.max_unavailable_per_az, in_zone[z])
        assert cap is None or n <= cap, 'too many hosts of %s down' % z
    aggregates = {h.name: h.aggregates for h in inventory.hosts}
    in_agg = collections.Counter(a for h in inventory.hosts
                                 for a in h.aggregates)
    for a, n in collections.Counter(a for h in wave.hosts
                                    for a in aggregates[h]).items():
        cap = allowance(policy.max_unavailable_per_aggregate, in_agg[a])
        assert cap is None or n <= cap, 'too many hosts of %s down' % a
    for group in inventory.server_groups:
        if policy.max_group_disruption is not None:
            budget = allowance(policy.max_group_disruption,
                               len(group.members))
        elif group.policy in models.ANTI_AFFINITY:
            budget = 1
        else:
            continue
        on = collections.Counter(where[m] for m in group.members
                                 if where[m] in wave.hosts)
        # More than the budget only when one host alone holds them.
        assert sum(on.values()) <= budget or len(on) == 1, (
            'server group %s: %d members down in wave %d'
            % (group.uuid, sum(on.values()), wave.index))


def check_order(plan):
    """Pinned first hosts before the others and in order; last ones after
    them and in order."""
    wave_of = {h: w.index for w in plan.waves for h in w.hosts}
    policy = plan.policy
    first = [wave_of[h] for h in policy.first_hosts]
    last = [wave_of[h] for h in policy.last_hosts]
    pinned = set(policy.first_hosts) | set(policy.last_hosts)
    others = [wave_of[h] for h in plan.hosts if h not in pinned]
    assert first == sorted(first) and last == sorted(last)
    assert max(first, default=0) <= min(others + last, default=len(wave_of))
    assert min(last, default=len(wave_of)) >= max(others + first, default=0)


def check_counts(inventory, plan):
    """Migration counts are honest and every instance that must move moved."""
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
    # Everything on a drained host moved or stayed; nothing else moved.
    drained = set(plan.hosts)
    staying = {s.instance for w in plan.waves for s in w.stays}
    assert set(counts) == {i.uuid for i in inventory.instances
                           if i.host in drained and i.uuid not in staying}
