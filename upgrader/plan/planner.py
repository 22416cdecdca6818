"""The planner: inventory + policy -> waves of hosts and instance moves.

Pure and deterministic: no I/O, no clock, no randomness; the same inputs give
the same plan. Hosts are drained onto hosts that are already upgraded (or that
this rollout does not touch), so each instance is live-migrated once. Only
when no such host has room does an instance go to a host that will itself be
drained later; the plan marks that move and says why.
"""

import bisect
import collections

from upgrader.common import exception
from upgrader.common import inventory as inv
from upgrader.plan import models

ANTI_AFFINITY = frozenset(['anti-affinity', 'soft-anti-affinity'])


class _Placement:
    """Where every instance is, and each host's load, as moves are planned."""

    def __init__(self, inventory):
        self.hosts = {h.name: h for h in inventory.hosts}
        self.load = {h.name: h.used for h in inventory.hosts}
        # Per host, its instances by uuid: moving one is O(1).
        self.on_host = collections.defaultdict(dict)
        # What the instances themselves use: the reported ``used`` may also
        # count overhead that does not move with them.
        self.placed = collections.defaultdict(inv.Resources)
        for instance in inventory.instances:
            self.on_host[instance.host][instance.uuid] = instance
            self.placed[instance.host] += instance.flavor
        anti = {g.uuid for g in inventory.server_groups
                if g.policy in ANTI_AFFINITY}
        self.anti_groups = {i.uuid: [g for g in i.server_groups if g in anti]
                            for i in inventory.instances}
        self.group_count = collections.defaultdict(collections.Counter)
        for instance in inventory.instances:
            self.group_count[instance.host].update(
                self.anti_groups[instance.uuid])

    def zone(self, host):
        return self.hosts[host].availability_zone

    def free(self, host):
        return self.hosts[host].capacity - self.load[host]

    def fits(self, instance, dest):
        if not instance.flavor.fits_in(self.free(dest)):
            return False
        return not any(self.group_count[dest][g]
                       for g in self.anti_groups[instance.uuid])

    def move(self, instance, source, dest):
        self.load[source] = self.load[source] - instance.flavor
        self.load[dest] = self.load[dest] + instance.flavor
        self.placed[source] = self.placed[source] - instance.flavor
        self.placed[dest] = self.placed[dest] + instance.flavor
        del self.on_host[source][instance.uuid]
        self.on_host[dest][instance.uuid] = instance
        self.group_count[source].subtract(self.anti_groups[instance.uuid])
        self.group_count[dest].update(self.anti_groups[instance.uuid])

    def drain_order(self, source):
        """Biggest first: they are the hardest to place once room is spent."""
        return sorted(self.on_host[source].values(),
                      key=lambda i: (-i.flavor.memory_mb, -i.flavor.vcpus,
                                     i.uuid))

    def drain(self, source, pool, temporaries=None):
        """Plan moves emptying ``source``; all-or-nothing.

        Each instance goes to the best host of ``pool`` (a
        :class:`_Destinations`) if one fits, else to the best of
        ``temporaries`` (and will move again). Returns the moves, or None
        (nothing changed) when some instance fits nowhere.
        """
        zone = self.zone(source)
        pools = [p for p in (pool, temporaries) if p is not None]
        done = []
        for instance in self.drain_order(source):
            dest = pool.best(instance, zone)
            again = dest is None
            if again and temporaries is not None:
                dest = temporaries.best(instance, zone)
            if dest is None:
                for undo_instance, undo_dest, _ in reversed(done):
                    self._shift(undo_instance, undo_dest, source, pools)
                return None
            self._shift(instance, source, dest, pools)
            done.append((instance, dest, again))
        return done

    def _shift(self, instance, source, dest, pools):
        self.move(instance, source, dest)
        for pool in pools:
            pool.refresh(source)
            pool.refresh(dest)


class _Destinations:
    """Hosts that may receive instances, per AZ, best first.

    Each zone's hosts are kept sorted by (most free RAM, vCPUs, disk, name):
    the best fitting host is the first that fits when walking from the top,
    and the walk stops at the first host with too little RAM, since no host
    after it has more. Planning 1,000 hosts then costs about one look per
    instance instead of a scan of every host.

    The index only sees load changes it is told about (:meth:`refresh`);
    :meth:`_Placement.drain` tells every index it uses.
    """

    def __init__(self, placement, hosts=()):
        self._placement = placement
        self._keys = {}
        self._zones = collections.defaultdict(list)
        # Sum of free room per zone: a host whose load exceeds it cannot be
        # drained, which rules most hosts out of a wave in O(1).
        self._room = collections.defaultdict(inv.Resources)
        for host in hosts:
            self.add(host)

    def zones(self):
        """The zones holding at least one of these hosts."""
        return {z for z, keys in self._zones.items() if keys}

    def _key(self, host):
        free = self._placement.free(host)
        return (-free.memory_mb, -free.vcpus, -free.disk_gb, host)

    def add(self, host):
        key = self._key(host)
        zone = self._placement.zone(host)
        self._keys[host] = key
        bisect.insort(self._zones[zone], key)
        self._room[zone] = self._room[zone] + _free_of(key)

    def refresh(self, host):
        """Re-sort ``host`` after its load changed (no-op if not indexed)."""
        old = self._keys.get(host)
        if old is None:
            return
        zone = self._placement.zone(host)
        keys = self._zones[zone]
        del keys[bisect.bisect_left(keys, old)]
        self._room[zone] = self._room[zone] - _free_of(old)
        self.add(host)

    def best(self, instance, zone):
        """The fitting host of ``zone`` with most free RAM, or None."""
        need = instance.flavor.memory_mb
        for key in self._zones.get(zone, ()):
            if -key[0] < need:
                return None
            if self._placement.fits(instance, key[-1]):
                return key[-1]
        return None

    def may_take(self, load, zone):
        """False when ``load`` surely exceeds the zone's free room.

        The room is a running sum of floats: allow for rounding so that a
        host is only ruled out when it could not fit anyway.
        """
        room = self._room.get(zone)
        if room is None:
            return False
        slack = inv.Resources(*(abs(v) * 1e-9 + 1e-6 for v in
                                (room.vcpus, room.memory_mb, room.disk_gb)))
        return load.fits_in(room + slack)


def _free_of(key):
    # An overcommitted host (used > capacity, e.g. after an allocation ratio
    # was lowered) takes nothing, but must not shrink the zone's room either.
    return inv.Resources(max(0, -key[1]), max(0, -key[0]), max(0, -key[2]))


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
    :raises: PlanError when the selection is invalid or a host cannot be
        drained anywhere.
    """
    if policy.max_parallel < 1:
        raise exception.PlanError(reason='max_parallel must be at least 1')
    plan = models.Plan(policy=policy)
    placement = _Placement(inventory)
    scope = set(_scope(inventory, hosts, availability_zones))
    candidates = _candidates(inventory, placement, policy, scope, plan)
    # Hosts this rollout does not drain take instances for good.
    settled = sorted(h.name for h in inventory.hosts
                     if h.name not in scope and _usable(h))
    plan.lower_bound_migrations = _lower_bound(placement, candidates,
                                               settled)
    # Lightest hosts first: each one drained frees a whole host for the
    # price of its RAM, so the room on upgraded hosts, and with it the width
    # of the waves, grows fastest; similar hosts also share a wave and finish
    # together.
    remaining = sorted(candidates, key=lambda h: (
        placement.placed[h].memory_mb, len(placement.on_host[h]), h))
    final = _Destinations(placement, settled)
    zones = {placement.zone(h) for h in candidates}
    while remaining:
        wave = _next_wave(placement, policy, remaining, zones, final,
                          len(plan.waves) + 1)
        plan.waves.append(wave)
        for host in wave.hosts:
            final.add(host)
        drained = set(wave.hosts)
        remaining = [h for h in remaining if h not in drained]
    plan.predicted_seconds = sum(w.predicted_seconds for w in plan.waves)
    twice = sum(1 for n in plan.migrations_per_instance().values() if n > 1)
    if twice:
        plan.warnings.append(
            '%d instance(s) move twice: see the moves marked moves_again'
            % twice)
    return plan


def _candidates(inventory, placement, policy, scope, plan):
    """Hosts of the scope the rollout can drain; the others are skipped."""
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
        stuck = [i for i in placement.on_host[host.name].values()
                 if not i.live_migratable]
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
    return candidates


def _lower_bound(placement, candidates, settled):
    """Fewest migrations any plan can make.

    Every instance on a drained host moves at least once. Instances never
    leave their AZ, so in an AZ where no host starts empty and no host
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


def _next_wave(placement, policy, remaining, zones, final, index):
    """Fill one wave with hosts whose instances fit on final hosts.

    A zone where no host can take instances for good yet (none started empty
    or is outside the rollout) first drains its smallest host onto hosts
    drained later: those instances move twice, as few as any plan must (see
    :func:`_lower_bound`). If no host fits at all, the smallest host spills
    the same way rather than stopping the rollout.
    """
    wave = models.Wave(index=index, hosts=[])
    landing = final.zones()
    for hosts in _zones_without_landing(placement, remaining, zones, landing):
        if len(wave.hosts) < policy.max_parallel:
            _spill_smallest(placement, wave, hosts, remaining, final, landing)
    for host in remaining:
        if len(wave.hosts) >= policy.max_parallel:
            break
        if host in wave.hosts:
            continue
        done = _try_drain(placement, host, final)
        if done is not None:
            _add(wave, placement, host, done, landing)
    if not wave.hosts:
        _spill_smallest(placement, wave, remaining, remaining, final, landing)
    by_host = collections.defaultdict(list)
    for move in wave.moves:
        by_host[move.source].append(move)
    wave.predicted_seconds = max(_host_seconds(policy, by_host[h])
                                 for h in wave.hosts)
    wave.loads = [models.HostLoad(host=d, used=placement.load[d],
                                  capacity=placement.hosts[d].capacity)
                  for d in sorted({m.destination for m in wave.moves})]
    return wave


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


def _spill_smallest(placement, wave, hosts, remaining, final, landing):
    """Add to ``wave`` the smallest of ``hosts`` that can spill (usually the
    smallest: a bigger one only if its instances fit nowhere else)."""
    ordered = sorted(hosts, key=lambda h: _size(placement, h))
    for host in ordered:
        done = _spill(placement, host, remaining, final, wave)
        if done is not None:
            _add(wave, placement, host, done, landing)
            return
    raise exception.PlanError(
        reason='host %s cannot be drained: its instances fit on no other '
               'host of its availability zone' % ordered[0])


def _add(wave, placement, host, done, landing):
    wave.hosts.append(host)
    wave.moves.extend(_moves(host, done, placement.zone(host) in landing))


def _try_drain(placement, host, final):
    """Drain ``host`` onto final hosts, or None if it does not fit now.

    Most hosts tried late in a busy rollout cannot fit: the zone's total free
    room rules them out without trying each instance.
    """
    if placement.on_host[host] and not final.may_take(
            placement.placed[host], placement.zone(host)):
        return None
    return placement.drain(host, final)


def _spill(placement, host, remaining, final, wave):
    """Drain ``host`` onto final hosts, the rest onto hosts drained later
    (not in this wave: they are being drained too); None if it cannot."""
    temporaries = _Destinations(placement, [
        h for h in remaining if h != host and h not in wave.hosts])
    return placement.drain(host, final, temporaries)


def _moves(source, done, have_final_hosts):
    reason = ('upgraded hosts lack room for it' if have_final_hosts
              else 'no host of its availability zone is upgraded yet, '
                   'starts empty or stays out of the rollout')
    return [models.Move(instance=i.uuid, name=i.name, source=source,
                        destination=dest,
                        resources=inv.Resources(**vars(i.flavor)),
                        moves_again=again, reason=reason if again else None)
            for i, dest, again in done]
