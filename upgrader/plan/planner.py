"""The planner: inventory + policy -> waves of hosts and instance moves.

Pure and deterministic: no I/O, no clock, no randomness; the same inputs give
the same plan. Hosts are drained onto hosts that are already upgraded (or that
this rollout does not touch), so each instance is migrated once. Only when no
such host has room does an instance go to a host that will itself be drained
later; the plan marks that move and says why.

Waves follow the policy: pinned first hosts, empty hosts, then the drain
order, pinned last hosts; never more hosts per wave, per availability zone or
per aggregate, nor more members of a server group, than the policy allows
(:mod:`upgrader.plan.limits`). What happens to each instance is decided here
too (:mod:`upgrader.plan.actions`).
"""

import collections
import itertools

from upgrader.common import exception
from upgrader.common import inventory as inv
from upgrader.plan import actions
from upgrader.plan import limits as plan_limits
from upgrader.plan import models
from upgrader.plan import placement as plan_placement


def _scope(inventory, hosts, availability_zones):
    """The hosts this rollout upgrades, by name; errors for unknown names."""
    if not inventory.hosts:
        raise exception.PlanError(reason='the cloud has no compute hosts')
    known = {h.name for h in inventory.hosts}
    if hosts:
        unknown = sorted(set(hosts) - known)
        if unknown:
            raise exception.PlanError(
                reason='unknown host(s): %s' % ', '.join(unknown))
    zones = {h.availability_zone for h in inventory.hosts}
    if availability_zones:
        unknown = sorted(set(availability_zones) - zones)
        if unknown:
            raise exception.PlanError(
                reason='unknown availability zone(s): %s' % ', '.join(unknown))
    scope = [h.name for h in inventory.hosts
             if (not hosts or h.name in hosts)
             and (not availability_zones
                  or h.availability_zone in availability_zones)]
    if not scope:
        raise exception.PlanError(reason='no host matches the selection')
    return scope


def _usable(host):
    return host.enabled and host.state == 'up'


def _host_seconds(policy, moves):
    return (sum(policy.step_seconds.values())
            + sum(policy.migration_seconds(m.resources) for m in moves))


def make_plan(inventory, policy, hosts=None, availability_zones=None):
    """Plan a rollout over the selected hosts (default: every compute host).

    :param inventory: :class:`upgrader.common.inventory.Inventory`
    :param policy: :class:`upgrader.plan.models.Policy`
    :param hosts: host names to upgrade (default: all)
    :param availability_zones: only hosts in these zones (default: all)
    :returns: :class:`upgrader.plan.models.Plan`
    :raises: PlanError when the policy or the selection is invalid, or a
        host cannot be drained anywhere.
    """
    _check_policy(policy)
    plan = models.Plan(policy=policy)
    scope = set(_scope(inventory, hosts, availability_zones))
    limits = plan_limits.Limits(inventory, policy)
    placement = plan_placement.Placement(inventory)
    candidates = _candidates(inventory, placement, policy, scope, plan)
    first, last = _pinned(inventory, policy, scope, plan)
    # Hosts this rollout does not drain take instances for good.
    settled = sorted(h.name for h in inventory.hosts
                     if h.name not in scope and _usable(h))
    plan.lower_bound_migrations = _lower_bound(placement, candidates,
                                               settled)
    # Empty hosts, then the lightest: each one drained frees a whole host
    # for the price of its RAM, so the room on upgraded hosts, and with it
    # the width of the waves, grows fastest; similar hosts also share a wave
    # and finish together.
    pinned = set(first) | set(last)
    middle = sorted((h for h in candidates if h not in pinned), key=lambda h: (
        placement.placed[h].memory_mb, len(placement.on_host[h]),
        len(placement.stays_on[h]), h))
    waves = _Waves(placement, policy, limits,
                   plan_placement.Destinations(placement, settled),
                   {placement.zone(h) for h in candidates})
    plan.waves = waves.build([first, middle, last])
    plan.warnings.extend(waves.warnings)
    plan.predicted_seconds = sum(w.predicted_seconds for w in plan.waves)
    twice = sum(1 for n in plan.migrations_per_instance().values() if n > 1)
    if twice:
        plan.warnings.append(
            '%d instance(s) move twice: see the moves marked moves_again'
            % twice)
    return plan


def _check_policy(policy):
    """Refuse policy values the planner cannot follow (limits: see
    :class:`upgrader.plan.limits.Limits`)."""
    def refuse(reason):
        raise exception.PlanError(reason=reason)

    if policy.max_parallel < 1:
        refuse('max_parallel must be at least 1')
    if policy.unmovable not in models.UNMOVABLE_ACTIONS:
        refuse('unmovable must be one of %s, not %r'
               % (', '.join(models.UNMOVABLE_ACTIONS), policy.unmovable))
    if not isinstance(policy.canary, bool):
        refuse('canary must be true or false, not %r' % (policy.canary,))
    for name in ('first_hosts', 'last_hosts'):
        value = getattr(policy, name)
        if not (isinstance(value, list)
                and all(isinstance(h, str) for h in value)):
            refuse('%s must be a list of host names, not %r' % (name, value))


def _pinned(inventory, policy, scope, plan):
    """The pinned first and last hosts; every one must be upgraded."""
    names = policy.first_hosts + policy.last_hosts
    checks = [
        ('unknown pinned host(s)',
         set(names) - {h.name for h in inventory.hosts}),
        ('host(s) pinned more than once',
         {h for h, n in collections.Counter(names).items() if n > 1}),
        ('pinned host(s) outside the selection', set(names) - scope),
    ]
    for what, bad in checks:
        if bad:
            raise exception.PlanError(
                reason='%s: %s' % (what, ', '.join(sorted(bad))))
    skipped = [h for h in names if h in plan.skipped_hosts]
    if skipped:
        raise exception.PlanError(
            reason='pinned host(s) cannot be upgraded: %s' % '; '.join(
                '%s %s' % (h, plan.skipped_hosts[h]) for h in skipped))
    return list(policy.first_hosts), list(policy.last_hosts)


def _candidates(inventory, placement, policy, scope, plan):
    """Hosts of the scope the rollout can drain; the others are skipped.

    Assigns to ``placement`` the action of every instance of these hosts
    that is not plainly live-migrated.
    """
    candidates = []
    for host in inventory.hosts:
        if host.name not in scope:
            continue
        if not host.enabled:
            plan.skipped_hosts[host.name] = (
                'nova-compute is disabled (%s)'
                % (host.disabled_reason or 'no reason given'))
            continue
        if host.state != 'up':
            plan.skipped_hosts[host.name] = 'nova-compute is down'
            continue
        chosen = actions.choose(placement.on_host[host.name].values(),
                                policy, plan.warnings)
        stuck = [i for i, action, _ in chosen if action in (
            models.UNMOVABLE_SKIP_HOST, models.UNMOVABLE_FAIL)]
        if stuck:
            what = '; '.join('%s (%s)' % (i.name, ', '.join(
                i.live_migration_blockers)) for i in stuck)
            if policy.unmovable == models.UNMOVABLE_FAIL:
                raise exception.PlanError(
                    reason='host %s has instances that cannot be '
                           'live-migrated: %s' % (host.name, what))
            plan.skipped_hosts[host.name] = (
                'holds instances that cannot be live-migrated: %s' % what)
            plan.warnings.append(
                'host %s is skipped: %s' % (host.name, what))
            continue
        candidates.append(host.name)
        for instance, action, reason in chosen:
            placement.assign(instance, action, reason)
    return candidates


def _lower_bound(placement, candidates, settled):
    """Fewest migrations any plan can make.

    Every instance to move on a drained host moves at least once. Instances
    never leave their AZ, so in an AZ where no host starts empty and no host
    outside the rollout can take instances, whichever host goes first moves
    its instances onto hosts drained later: at least the smallest host's
    instances move twice.
    """
    counts = collections.defaultdict(list)
    for host in candidates:
        counts[placement.zone(host)].append(len(placement.on_host[host]))
    landing = {placement.zone(h) for h in settled}
    return sum(sum(c) + (0 if zone in landing else min(c))
               for zone, c in counts.items())


class _Forming:
    """One wave being filled: its room, what it has taken out, and the
    hosts a server group budget kept out of it."""

    def __init__(self, wave, size, count, landing):
        self.wave = wave
        self.size = size
        self.count = count
        # Zones where instances land for good: known when the wave starts.
        self.landing = landing
        # {host: server groups whose budget kept it out}
        self.kept_out = {}
        # Hosts drained later that this wave spills instances onto: they
        # cannot go down in this wave.
        self.receiving = set()

    def full(self):
        return len(self.wave.hosts) >= self.size


class _Waves:
    """Forms the waves one after the other (see :meth:`build`)."""

    def __init__(self, placement, policy, limits, final, zones):
        self.placement = placement
        self.policy = policy
        self.limits = limits
        # Hosts instances land on for good: grows wave by wave.
        self.final = final
        self.zones = zones
        # [pinned first, the others, pinned last] not in a wave yet
        self.phases = []
        self.empty = set()
        self.warnings = []
        # (wave index, hosts a budget kept out though the wave had room)
        self.kept_out = []

    def build(self, phases):
        """Waves for ``phases``: [pinned first, the others, pinned last].

        While pinned first hosts remain, a wave holds only them, in order;
        pinned last hosts join once every other host has a wave.
        """
        self.empty = {h for h in phases[1] if self.placement.empty(h)}
        self.phases = phases
        waves = []
        while any(self.phases):
            wave = self._next(len(waves) + 1, *self.phases)
            waves.append(wave)
            for host in wave.hosts:
                self.final.add(host)
            placed = set(wave.hosts)
            self.phases = [[h for h in p if h not in placed]
                           for p in self.phases]
        self._warn_kept_out()
        return waves

    def _next(self, index, first, middle, last):
        canary = self.policy.canary and index == 1
        wave = models.Wave(index=index, hosts=[], canary=canary)
        forming = _Forming(wave, 1 if canary else self.policy.max_parallel,
                           self.limits.wave(), self.final.zones())
        if (self._in_order(forming, first)
                and self._fill(forming, middle)):
            self._in_order(forming, last)
        self._note_kept_out(forming)
        by_host = collections.defaultdict(list)
        for move in wave.moves:
            by_host[move.source].append(move)
        wave.predicted_seconds = max(_host_seconds(self.policy, by_host[h])
                                     for h in wave.hosts)
        placement = self.placement
        wave.loads = [models.HostLoad(host=d, used=placement.load[d],
                                      capacity=placement.hosts[d].capacity)
                      for d in sorted({m.destination for m in wave.moves})]
        return wave

    def _in_order(self, forming, hosts):
        """Add pinned ``hosts`` in order until one must wait; True when
        all joined. A pinned host spills onto hosts drained later if it
        must, and the plan fails if even that cannot drain it."""
        for host in hosts:
            members = None if forming.full() else self._admit(forming, host)
            if members is None:
                return False
            done = self._drain(host, forming.wave, spill=True)
            if done is None:
                raise _undrainable(host)
            self._add(forming, host, members, done)
        return True

    def _fill(self, forming, hosts):
        """Add unpinned ``hosts``; True when all joined.

        Empty hosts first; then in each zone where nothing lands for good
        yet (no host started empty or is outside the rollout) and none of
        this wave is (nor an empty host a limit made wait), its smallest
        host spills onto hosts drained later:
        those instances move twice, as few as any plan must (see
        :func:`_lower_bound`); then every host that drains onto final
        hosts. If no host fits at all, the smallest host spills the same
        way rather than stopping the rollout.
        """
        wave = forming.wave
        before = len(wave.hosts)
        for host in itertools.takewhile(self.empty.__contains__, hosts):
            if not forming.full():
                self._join(forming, host)
        # A zone whose empty host waits for a later wave (a limit kept it
        # out of this one) gets a landing place then: spilling now would
        # move instances twice for nothing.
        handled = forming.landing | {self.placement.zone(h) for h in
                                     wave.hosts} | {
            self.placement.zone(h) for h in hosts if h in self.empty}
        for zone_hosts in _zones_without_landing(self.placement, hosts,
                                                 self.zones, handled):
            if not forming.full():
                self._spill_smallest(forming, zone_hosts)
        for host in hosts:
            if forming.full():
                break
            if host not in wave.hosts:
                self._join(forming, host)
        if not wave.hosts and hosts:
            self._spill_smallest(forming, hosts)
        return len(wave.hosts) - before == len(hosts)

    def _join(self, forming, host, spill=False):
        """Add ``host`` if the limits allow and it drains onto final hosts
        (or, with ``spill``, onto hosts drained later); True if it did."""
        placement = self.placement
        # Most hosts tried late in a busy rollout cannot fit: the zone's
        # total free room rules them out without trying each instance.
        if not spill and placement.on_host[host] and not self.final.may_take(
                placement.placed[host], placement.zone(host)):
            return False
        members = self._admit(forming, host)
        if members is None:
            return False
        done = self._drain(host, forming.wave, spill)
        if done is None:
            return False
        self._add(forming, host, members, done)
        return True

    def _admit(self, forming, host):
        """The server group members of ``host`` if the wave's limits let
        it in, else None."""
        count = forming.count
        if host in forming.receiving or not count.hosts_allow(host):
            return None
        members = self.placement.group_count[host]
        over = count.over_budget(members)
        if over:
            forming.kept_out[host] = over
            return None
        return +members

    def _drain(self, host, wave, spill):
        """Plan the moves emptying ``host`` onto final hosts, with ``spill``
        the rest onto hosts drained later (not in this wave: they are being
        drained too); None if it cannot."""
        temporaries = None
        if spill:
            temporaries = plan_placement.Destinations(self.placement, [
                h for phase in self.phases for h in phase
                if h != host and h not in wave.hosts])
        return self.placement.drain(host, self.final, temporaries)

    def _add(self, forming, host, members, done):
        wave = forming.wave
        wave.hosts.append(host)
        forming.receiving.update(dest for _, dest, again in done if again)
        wave.moves.extend(_moves(self.placement, host, done,
                                 self.placement.zone(host) in forming.landing))
        wave.stays.extend(self.placement.stays_on[host])
        for group, n, budget in forming.count.take(host, members):
            self.warnings.append(
                'host %s holds %d members of server group %s, more than '
                'its disruption budget of %d: they are disrupted together'
                % (host, n, group, budget))

    def _spill_smallest(self, forming, hosts):
        """Add the smallest of ``hosts`` the limits allow and that can spill
        (usually the smallest: a bigger one only if its instances fit
        nowhere else)."""
        ordered = sorted(hosts, key=lambda h: _size(self.placement, h))
        for host in ordered:
            if (host not in forming.wave.hosts
                    and self._join(forming, host, spill=True)):
                return
        if not forming.wave.hosts:
            raise _undrainable(ordered[0])

    def _note_kept_out(self, forming):
        """Record the hosts a budget kept out of a wave with room for them,
        that would have drained onto final hosts."""
        room = forming.size - len(forming.wave.hosts)
        fitting = []
        for host, groups in forming.kept_out.items():
            if len(fitting) >= room:
                break
            done = self.placement.drain(host, self.final)
            if done is not None:
                self.placement.undo(host, done, [self.final])
                fitting.append((host, groups))
        if fitting:
            self.kept_out.append((forming.wave.index, fitting))

    def _warn_kept_out(self):
        if not self.kept_out:
            return
        hosts = sum(len(f) for _, f in self.kept_out)
        groups = sorted({g for _, f in self.kept_out for _, gs in f
                         for g in gs})
        self.warnings.append(
            'server group disruption budgets (max_group_disruption) kept %d '
            'host(s) out of %d wave(s) with room for them (waves %s; server '
            'groups %s): the rollout takes more waves than max_parallel '
            'alone needs' % (hosts, len(self.kept_out),
                             _some([str(i) for i, _ in self.kept_out]),
                             _some(groups)))


def _some(names, shown=5):
    """``names`` joined, at most ``shown`` of them."""
    more = len(names) - shown
    return ', '.join(names[:shown]) + (' and %d more' % more
                                       if more > 0 else '')


def _undrainable(host):
    return exception.PlanError(
        reason='host %s cannot be drained: its instances fit on no other '
               'host of its availability zone' % host)


def _size(placement, host):
    """Spill order: fewest instances (each moves twice), then least RAM."""
    return (len(placement.on_host[host]), placement.placed[host].memory_mb,
            host)


def _zones_without_landing(placement, remaining, zones, landing):
    """Per zone no instance can land in for good, its remaining hosts."""
    if landing >= zones:
        return []   # the usual case after the first waves: no scan needed
    hosts = collections.defaultdict(list)
    for host in remaining:
        if placement.zone(host) not in landing:
            hosts[placement.zone(host)].append(host)
    return sorted(hosts.values(),
                  key=lambda hs: min(_size(placement, h) for h in hs))


def _moves(placement, source, done, have_final_hosts):
    reason = ('upgraded hosts lack room for it' if have_final_hosts
              else 'no host of its availability zone is upgraded yet, '
                   'starts empty or stays out of the rollout')
    return [models.Move(instance=i.uuid, name=i.name, source=source,
                        destination=dest,
                        resources=inv.Resources(**vars(i.flavor)),
                        moves_again=again, reason=reason if again else None,
                        action=placement.action.get(i.uuid,
                                                    models.LIVE_MIGRATE))
            for i, dest, again in done]
