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

    :func:`ramp` bounds how many hosts can be done after each wave; given
    those counts, the cheapest way to group the hosts' durations into waves
    is found exactly (:func:`_cheapest_waves`). Relaxed (so still a bound):
    pinned hosts, aggregates, server groups, vCPU and disk, and the packing
    of instances onto hosts. None when no plan can move each instance
    once.
    """
    if not plan.hosts:
        return 0.0
    done = ramp(inventory, plan)
    if done is None:
        return None
    durations = sorted(host_seconds(inventory, plan).values())
    return _cheapest_waves(durations, done, plan.policy.max_parallel)


def ramp(inventory, plan):
    """Upper bounds on the hosts of ``plan`` done after waves 1, 2, ...

    A wave may drain into the free RAM of hosts upgraded before it and of
    hosts outside the rollout, no more. Per zone, hosts holding nothing to
    move cost nothing; the others cost their RAM, counted as if the
    lightest went first, and free as much room as if the roomiest had gone
    before. In a zone where nothing can land (no empty host, none outside
    the rollout), the one host that spills (see
    ``planner._lower_bound``) is taken as empty. None if the counts stall.
    """
    policy = plan.policy
    wave_cap = 1 if policy.canary else policy.max_parallel
    zones = _zones(inventory, plan)
    per_az = {}
    if policy.max_unavailable_per_az is not None:
        per_az = {zone: plan_limits.allowance(
            'max_unavailable_per_az', policy.max_unavailable_per_az, total)
            for zone, total in collections.Counter(
                h.availability_zone for h in inventory.hosts).items()}
    counts = []
    for name, choices in zones.items():
        cap = min(policy.max_parallel, per_az.get(name, policy.max_parallel))
        seqs = [z.counts(cap, min(cap, wave_cap)) for z in choices]
        if None in seqs:
            return None
        # Whichever host spills: the most any choice allows.
        counts.append([max(c) for c in itertools.zip_longest(
            *seqs, fillvalue=max(s[-1] for s in seqs))])
    total = sum(c[-1] for c in counts)
    done = []
    while not done or done[-1] < total:
        j = len(done)
        cap = policy.max_parallel if done else wave_cap
        reached = sum(c[min(j, len(c) - 1)] for c in counts)
        done.append(min(reached, (done[-1] if done else 0) + cap))
    return done


class _Zone:
    """One zone's hosts for :func:`ramp`: RAM to drain and room freed."""

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

    def counts(self, cap, first_cap):
        """Hosts done after each wave until all are; None if stalled."""
        total = len(self.costs) + len(self.gains_free)
        done = [min(first_cap, self.wave(0, first_cap))]
        while done[-1] < total:
            more = self.wave(done[-1], cap)
            if not more:
                return None
            done.append(done[-1] + more)
        return done

    def wave(self, done, cap):
        """The most hosts one wave can add once ``done`` hosts are."""
        best = 0
        n_free, n_loaded = len(self.gains_free), len(self.costs)
        for k in range(max(0, done - n_loaded), min(n_free, done) + 1):
            room = (self.room + self.cum_free[k]
                    + self.cum_gains[done - k])
            # Cheapest loaded hosts are counted even if done: a bound.
            fit = bisect.bisect_right(self.cum_costs, room) - 1
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


def _cheapest_waves(durations, done, max_parallel):
    """min over wave sizes of the sum of each wave's longest host.

    Any plan's waves, smallest first, have prefix sums no greater than its
    own (nor than ``done``); given the sizes, giving the shortest hosts to
    the smallest wave is cheapest. So over prefix sums a_1 < a_2 < ... = n
    with a_j <= done[j] (then done[-1] + max_parallel per wave) and steps
    of at most max_parallel, the cost is sum of durations[a_j - 1].
    """
    n = len(durations)
    inf = float('inf')
    # cost[a]: cheapest j waves ending with a hosts done.
    cost = [0.0] + [inf] * n
    best = inf
    j = 0
    while j <= n and j * durations[0] < best:
        limit = done[j] if j < len(done) else n
        new = [inf] * (n + 1)
        window = collections.deque()   # indices of cost, increasing values
        for a in range(1, min(limit, n) + 1):
            prev = a - 1
            while window and cost[window[-1]] >= cost[prev]:
                window.pop()
            window.append(prev)
            while window[0] < a - max_parallel:
                window.popleft()
            if cost[window[0]] < inf:
                new[a] = cost[window[0]] + durations[a - 1]
        cost = new
        best = min(best, cost[n])
        j += 1
    return best
