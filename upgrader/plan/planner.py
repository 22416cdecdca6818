"""The planner: inventory + policy -> waves of hosts and instance moves.

Pure and deterministic: no I/O, no clock, no randomness; the same inputs give
the same plan. Hosts are drained onto hosts that are already upgraded (or that
this rollout does not touch), so each instance is live-migrated once. Only
when no such host has room does an instance go to a host that will itself be
drained later; the plan marks that move and says why.
"""

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
        self.on_host = collections.defaultdict(list)
        for instance in inventory.instances:
            self.on_host[instance.host].append(instance)
        anti = {g.uuid for g in inventory.server_groups
                if g.policy in ANTI_AFFINITY}
        self.anti_groups = {i.uuid: [g for g in i.server_groups if g in anti]
                            for i in inventory.instances}
        self.group_count = collections.defaultdict(collections.Counter)
        for instance in inventory.instances:
            self.group_count[instance.host].update(
                self.anti_groups[instance.uuid])

    def fits(self, instance, dest):
        free = self.hosts[dest].capacity - self.load[dest]
        if not instance.flavor.fits_in(free):
            return False
        return not any(self.group_count[dest][g]
                       for g in self.anti_groups[instance.uuid])

    def move(self, instance, source, dest):
        self.load[source] = self.load[source] - instance.flavor
        self.load[dest] = self.load[dest] + instance.flavor
        self.on_host[source].remove(instance)
        self.on_host[dest].append(instance)
        self.group_count[source].subtract(self.anti_groups[instance.uuid])
        self.group_count[dest].update(self.anti_groups[instance.uuid])

    def best_destination(self, instance, source, pool):
        """The fitting host of ``pool`` in the source's AZ with most free RAM."""
        zone = self.hosts[source].availability_zone
        best, best_key = None, None
        for dest in pool:
            if (dest == source or self.hosts[dest].availability_zone != zone
                    or not self.fits(instance, dest)):
                continue
            free = self.hosts[dest].capacity - self.load[dest]
            key = (free.memory_mb, free.vcpus, free.disk_gb)
            if best_key is None or key > best_key or (
                    key == best_key and dest < best):
                best, best_key = dest, key
        return best

    def drain(self, source, pool, temporaries=()):
        """Plan moves emptying ``source``; all-or-nothing.

        Each instance goes to a host of ``pool`` if one fits, else to one of
        ``temporaries`` (and will move again). Returns the moves, or None
        (nothing changed) when some instance fits nowhere.
        """
        done = []
        for instance in sorted(self.on_host[source],
                               key=lambda i: (-i.flavor.memory_mb,
                                              -i.flavor.vcpus, i.uuid)):
            dest = self.best_destination(instance, source, pool)
            again = dest is None
            if again:
                dest = self.best_destination(instance, source, temporaries)
            if dest is None:
                for undo_instance, undo_dest, _ in reversed(done):
                    self.move(undo_instance, undo_dest, source)
                return None
            self.move(instance, source, dest)
            done.append((instance, dest, again))
        return done


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
    remaining = sorted(candidates, key=lambda h: (
        len(placement.on_host[h]), placement.load[h].memory_mb, h))
    upgraded = []
    while remaining:
        wave = _next_wave(placement, policy, remaining, settled + upgraded,
                          len(plan.waves) + 1)
        plan.waves.append(wave)
        upgraded.extend(wave.hosts)
        remaining = [h for h in remaining if h not in wave.hosts]
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
        stuck = [i for i in placement.on_host[host.name]
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
    """Fewest migrations any plan can make: every instance on a drained host
    moves once; if no host starts empty and nothing outside the rollout can
    take instances, the first host's instances must move twice.
    """
    counts = [len(placement.on_host[h]) for h in candidates]
    if not counts:
        return 0
    extra = 0 if (settled or min(counts) == 0) else min(counts)
    return sum(counts) + extra


def _next_wave(placement, policy, remaining, final_pool, index):
    """Greedily fill one wave with hosts whose instances fit on final hosts.

    If not even one host fits, the first host still goes alone, spilling what
    does not fit onto hosts drained later (those instances move twice).
    """
    wave = models.Wave(index=index, hosts=[])
    for host in remaining:
        if len(wave.hosts) >= policy.max_parallel:
            break
        done = placement.drain(host, final_pool)
        if done is None and not wave.hosts:
            temporaries = [h for h in remaining if h != host]
            done = placement.drain(host, final_pool, temporaries)
            if done is None:
                raise exception.PlanError(
                    reason='host %s cannot be drained: its instances fit on '
                           'no other host of its availability zone' % host)
            wave.hosts.append(host)
            wave.moves.extend(_moves(host, done, bool(final_pool)))
            break
        if done is not None:
            wave.hosts.append(host)
            wave.moves.extend(_moves(host, done, bool(final_pool)))
    by_host = collections.defaultdict(list)
    for move in wave.moves:
        by_host[move.source].append(move)
    wave.predicted_seconds = max(_host_seconds(policy, by_host[h])
                                 for h in wave.hosts)
    wave.loads = [models.HostLoad(host=d, used=placement.load[d],
                                  capacity=placement.hosts[d].capacity)
                  for d in sorted({m.destination for m in wave.moves})]
    return wave


def _moves(source, done, have_final_hosts):
    reason = ('upgraded hosts lack room for it' if have_final_hosts
              else 'no host is upgraded yet and none starts empty')
    return [models.Move(instance=i.uuid, name=i.name, source=source,
                        destination=dest,
                        resources=inv.Resources(**vars(i.flavor)),
                        moves_again=again, reason=reason if again else None)
            for i, dest, again in done]
