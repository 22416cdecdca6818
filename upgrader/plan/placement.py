"""Where instances are and where they may go, as a plan is made.

:class:`Placement` tracks every instance and each host's load while moves are
planned; :class:`Destinations` finds, per availability zone, the best host
that can take an instance. Both are used by :mod:`upgrader.plan.planner`.
"""

import bisect
import collections

from upgrader.common import inventory as inv
from upgrader.plan import models


class Placement:
    """Where every instance is, and each host's load, as moves are planned.

    Instances that stay on their host (``models.STAY_ACTIONS``) are in the
    host's load and server group counts, never in what it has to drain.
    """

    def __init__(self, inventory):
        self.hosts = {h.name: h for h in inventory.hosts}
        self.load = {h.name: h.used for h in inventory.hosts}
        # Per instance not plainly live-migrated, its action (:meth:`assign`).
        self.action = {}
        # Per host, the instances it drains by uuid: moving one is O(1).
        self.on_host = collections.defaultdict(dict)
        self.stays_on = collections.defaultdict(list)
        # What the instances to drain use: the reported ``used`` also counts
        # overhead and instances that do not move.
        self.placed = collections.defaultdict(inv.Resources)
        anti = {g.uuid for g in inventory.server_groups
                if g.policy in models.ANTI_AFFINITY}
        self.anti_groups = {i.uuid: [g for g in i.server_groups if g in anti]
                            for i in inventory.instances}
        # Per host, members of every server group it holds.
        self.group_count = collections.defaultdict(collections.Counter)
        for instance in inventory.instances:
            self.group_count[instance.host].update(instance.server_groups)
            self.on_host[instance.host][instance.uuid] = instance
            self.placed[instance.host] += instance.flavor

    def assign(self, instance, action, reason):
        """Record ``action`` for ``instance``: one that stays leaves what its
        host has to drain."""
        self.action[instance.uuid] = action
        if action in models.STAY_ACTIONS:
            del self.on_host[instance.host][instance.uuid]
            self.placed[instance.host] -= instance.flavor
            self.stays_on[instance.host].append(models.Stay(
                instance=instance.uuid, name=instance.name,
                host=instance.host, action=action, reason=reason))

    def empty(self, host):
        """True when ``host`` holds no instance."""
        return not self.on_host[host] and not self.stays_on[host]

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
        self.group_count[source].subtract(instance.server_groups)
        self.group_count[dest].update(instance.server_groups)

    def drain_order(self, source):
        """Biggest first: they are the hardest to place once room is spent."""
        return sorted(self.on_host[source].values(),
                      key=lambda i: (-i.flavor.memory_mb, -i.flavor.vcpus,
                                     i.uuid))

    def drain(self, source, pool, temporaries=None):
        """Plan moves emptying ``source``; all-or-nothing.

        Each instance goes to the best host of ``pool`` (a
        :class:`Destinations`) if one fits, else to the best of
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
                self.undo(source, done, pools)
                return None
            self._shift(instance, source, dest, pools)
            done.append((instance, dest, again))
        return done

    def undo(self, source, done, pools):
        """Move back what :meth:`drain` moved out of ``source``."""
        for instance, dest, _ in reversed(done):
            self._shift(instance, dest, source, pools)

    def _shift(self, instance, source, dest, pools):
        self.move(instance, source, dest)
        for pool in pools:
            pool.refresh(source)
            pool.refresh(dest)


class Destinations:
    """Hosts that may receive instances, per AZ, best first.

    Each zone's hosts are kept sorted by (most free RAM, vCPUs, disk, name):
    the best fitting host is the first that fits when walking from the top,
    and the walk stops at the first host with too little RAM, since no host
    after it has more. Planning 1,000 hosts then costs about one look per
    instance instead of a scan of every host.

    The index only sees load changes it is told about (:meth:`refresh`);
    :meth:`Placement.drain` tells every index it uses.
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
