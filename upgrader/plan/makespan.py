"""Lower bounds on a rollout's makespan (the sum of its waves' durations).

A wave lasts as long as its slowest host (its steps plus its migrations, as
the planner predicts them). The naive bound, max(total work / max_parallel,
the longest host), ignores that a plan moving each instance at most once
can only drain a wave onto hosts already upgraded (or outside the
rollout): the first wave holds only hosts that start empty, the next ones
only as many hosts as the room freed so far takes. :func:`lower_bound`
counts that ramp too, so it holds for every plan that makes no more
migrations than ``Plan.lower_bound_migrations``.
"""

import bisect
import collections
import itertools

from upgrader.plan import limits as plan_limits


def host_seconds(inventory, plan):
    """{host: predicted seconds of its steps and of migrating what it holds
    when the rollout starts}, for every host of ``plan``."""
    policy = plan.policy
    steps = sum(policy.step_seconds.values())
    stays = {s.instance for w in plan.waves for s in w.stays}
    seconds = dict.fromkeys(plan.hosts, steps)
    for i in inventory.instances:
        if i.host in seconds and i.uuid not in stays:
            seconds[i.host] += policy.migration_seconds(i.flavor)
    return seconds


def naive_bound(inventory, plan):
    """max(total work / max_parallel, the longest host)."""
    seconds = list(host_seconds(inventory, plan).values()) or [0.0]
    return max(sum(seconds) / plan.policy.max_parallel, max(seconds))


def lower_bound(inventory, plan):
    """The fewest seconds any plan with the fewest migrations can take.

    Given how many hosts a wave can add once some are done
    (:func:`_most_per_wave`), the cheapest grouping of the hosts' durations
    into waves is found exactly (:func:`_cheapest_waves`). Relaxed (so
    still a bound): pinned hosts, aggregates, server groups, vCPU and disk,
    and the packing of instances onto hosts. None when no plan can move
    each instance once.
    """
    if not plan.hosts:
        return 0.0
    most = _most_per_wave(inventory, plan)
    durations = sorted(host_seconds(inventory, plan).values())
    best = _cheapest_waves(durations, most)
    return None if best == float('inf') else best


def ramp(inventory, plan):
    """Upper bounds on the hosts of ``plan`` done after waves 1, 2, ...
    if each wave takes as many as it can; None if they stall."""
    most = _most_per_wave(inventory, plan)
    done = [0]
    while done[-1] < len(most):
        if not most[done[-1]]:
            return None
        done.append(min(len(most), done[-1] + most[done[-1]]))
    return done[1:]


def _most_per_wave(inventory, plan):
    """[c]: the most hosts one wave can add once c hosts of ``plan`` are
    done (c < hosts in the plan), never fewer for a greater c.

    A wave may drain into the free RAM of hosts upgraded before it and of
    hosts outside the rollout, no more. Per zone, hosts holding nothing to
    move cost nothing; the others cost their RAM, counted as if the
    lightest went next, and free as much room as if the roomiest had gone
    before. In a zone where nothing can land (no empty host, none outside
    the rollout), the one host that spills (see
    ``planner._lower_bound``) is taken as empty, whichever it is.
    """
    policy = plan.policy
    cap = policy.max_parallel
    per_az = {}
    if policy.max_unavailable_per_az is not None:
        per_az = {zone: plan_limits.allowance(
            'max_unavailable_per_az', policy.max_unavailable_per_az, total)
            for zone, total in collections.Counter(
                h.availability_zone for h in inventory.hosts).items()}
    most = [0]
    for name, choices in _zones(inventory, plan).items():
        zone_cap = min(cap, per_az.get(name, cap))
        per_zone = [max(c) for c in zip(*(
            [z.wave(done, zone_cap) for done in range(z.hosts + 1)]
            for z in choices))]
        most = _combine(most, list(itertools.accumulate(per_zone, max)),
                        cap)
    most = list(itertools.accumulate(most[:-1], max))
    if policy.canary:
        most[0] = min(1, most[0])
    return most


def _combine(first, second, cap):
    """[c]: the most of first[i] + second[c - i], at most ``cap``."""
    combined = []
    for c in range(len(first) + len(second) - 1):
        best = 0
        for i in range(max(0, c - len(second) + 1), min(c, len(first) - 1)
                       + 1):
            best = max(best, first[i] + second[c - i])
            if best >= cap:
                break
        combined.append(min(best, cap))
    return combined


class _Zone:
    """One zone's hosts for :func:`_most_per_wave`: RAM to drain, room
    freed."""

    def __init__(self, settled_room, free, loaded):
        self.room = settled_room
        # Room freed by hosts with nothing to move, most first.
        self.gains_free = sorted(free, reverse=True)
        self.costs = sorted(cost for cost, _ in loaded)
        self.gains = sorted((gain for _, gain in loaded), reverse=True)
        self.cum_costs = list(itertools.accumulate(self.costs, initial=0))
        self.cum_free = list(itertools.accumulate(self.gains_free,
                                                  initial=0))
        self.cum_gains = list(itertools.accumulate(self.gains, initial=0))
        self.hosts = len(self.costs) + len(self.gains_free)

    def wave(self, done, cap):
        """The most hosts one wave can add once ``done`` hosts are."""
        best = 0
        n_free, n_loaded = len(self.gains_free), len(self.costs)
        for k in range(max(0, done - n_loaded), min(n_free, done) + 1):
            room = (self.room + self.cum_free[k]
                    + self.cum_gains[done - k])
            # Cheapest loaded hosts are counted even if done: a bound. The
            # sums are of floats: a tie must still fit.
            fit = bisect.bisect_right(self.cum_costs,
                                      room * (1 + 1e-9) + 1e-6) - 1
            fit = min(fit, n_loaded - (done - k))
            best = max(best, min(cap, n_free - k + fit))
        return best


def _zones(inventory, plan):
    """{zone: _Zone} over the hosts of ``plan`` and the usable hosts
    outside it."""
    in_plan = set(plan.hosts)
    stays = {s.instance for w in plan.waves for s in w.stays}
    placed, count = collections.Counter(), collections.Counter()
    for i in inventory.instances:
        if i.host in in_plan and i.uuid not in stays:
            placed[i.host] += i.flavor.memory_mb
            count[i.host] += 1
    room = collections.Counter()
    hosts = collections.defaultdict(list)
    for h in inventory.hosts:
        free = max(0.0, h.capacity.memory_mb - h.used.memory_mb)
        if h.name in in_plan:
            hosts[h.availability_zone].append((h.name, placed[h.name], free))
        elif (h.name not in plan.skipped_hosts and h.enabled
              and h.state == 'up'):
            room[h.availability_zone] += free
    zones = {}
    for name, members in hosts.items():
        choices = [members]
        if not room[name] and all(p for _, p, _ in members):
            # One host of fewest instances spills, then counts as empty.
            fewest = min(count[h] for h, _, _ in members)
            choices = [[m for m in members if m is not spill]
                       + [(spill[0], 0, spill[1] + spill[2])]
                       for spill in members if count[spill[0]] == fewest]
        zones[name] = [_Zone(room[name], [g for _, p, g in c if not p],
                             [(p, g) for _, p, g in c if p])
                       for c in choices]
    return zones


def _cheapest_waves(durations, most):
    """min over wave sizes of the sum of each wave's longest host.

    Any plan's waves, taken smallest first, still respect ``most`` (the
    smallest waves done first leave no fewer hosts done before each of
    the others, and ``most`` never falls as more are done); given the
    sizes, giving the shortest hosts to the smallest waves is cheapest. So
    the cost of a plan whose waves, smallest first, reach a_1 < a_2 < ...
    < a_J = n hosts, with a_j - a_(j-1) <= most[a_(j-1)], is at least the
    sum of durations[a_j - 1] (durations sorted).
    """
    n = len(durations)
    cost = [0.0] + [float('inf')] * n
    for before in range(n):
        for a in range(before + 1, min(n, before + most[before]) + 1):
            cost[a] = min(cost[a], cost[before] + durations[a - 1])
    return cost[n]
