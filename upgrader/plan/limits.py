"""How much one wave may take out at once, beyond ``max_parallel``.

Hosts per availability zone and per host aggregate, and members per server
group (disruption budgets), from a policy over one inventory.
"""

import collections

from upgrader.common import exception
from upgrader.plan import models


def allowance(name, value, total):
    """The count a policy value allows out of ``total``.

    :param value: an int of at least 1, or a whole percentage of ``total``
        as a string such as ``'25%'`` (rounded down, at least 1).
    :raises: PlanError naming ``name`` for any other value.
    """
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    if isinstance(value, str) and value.endswith('%'):
        percent = value[:-1]
        if percent.isdigit() and 0 < int(percent) <= 100:
            return max(1, total * int(percent) // 100)
    raise exception.PlanError(
        reason='%s must be a count of at least 1 or a percentage between '
               '1%% and 100%% such as "25%%", not %r' % (name, value))


def failure_budget(value, hosts):
    """How many of ``hosts`` may fail: ``value`` is a count (0 or more) or
    a percentage such as '10%' (rounded down)."""
    if isinstance(value, str) and value.endswith('%') and \
            value[:-1].isdigit() and int(value[:-1]) <= 100:
        return hosts * int(value[:-1]) // 100
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise exception.PlanError(
        reason='max_failed_hosts must be a count of 0 or more or a '
               'percentage such as "10%%", not %r' % (value,))


def _allowances(name, value, totals):
    if value is None:
        return {}
    allowance(name, value, 0)   # refused even if nothing would use it
    return {key: allowance(name, value, total)
            for key, total in totals.items()}


class Limits:
    """A policy's limits over one inventory; :meth:`wave` counts one wave.

    Checked when built: a bad value raises PlanError before any planning.
    """

    def __init__(self, inventory, policy):
        self.zone = {h.name: h.availability_zone for h in inventory.hosts}
        self.aggregates = {h.name: h.aggregates for h in inventory.hosts}
        self.per_zone = _allowances(
            'max_unavailable_per_az', policy.max_unavailable_per_az,
            collections.Counter(self.zone.values()))
        self.per_aggregate = _allowances(
            'max_unavailable_per_aggregate',
            policy.max_unavailable_per_aggregate,
            collections.Counter(a for h in inventory.hosts
                                for a in h.aggregates))
        if policy.max_group_disruption is None:
            self.per_group = {g.uuid: 1 for g in inventory.server_groups
                              if g.policy in models.ANTI_AFFINITY}
        else:
            self.per_group = _allowances(
                'max_group_disruption', policy.max_group_disruption,
                {g.uuid: len(g.members) for g in inventory.server_groups})

    def wave(self):
        return WaveCount(self)


class WaveCount:
    """What one wave has taken so far, against the limits."""

    def __init__(self, limits):
        self.limits = limits
        self.zones = collections.Counter()
        self.aggregates = collections.Counter()
        self.groups = collections.Counter()

    def hosts_allow(self, host):
        """True when ``host`` fits its zone's and aggregates' allowances."""
        cap = self.limits.per_zone.get(self.limits.zone[host])
        if cap is not None and self.zones[self.limits.zone[host]] >= cap:
            return False
        return all(self.aggregates[a] < self.limits.per_aggregate[a]
                   for a in self.limits.aggregates[host]
                   if a in self.limits.per_aggregate)

    def over_budget(self, members):
        """The server groups whose budget a host holding ``members`` (a
        Counter of group uuids) would exceed; empty when it may go.

        A host whose own members exceed a budget may still go, alone among
        that group's members: no wave can do better.
        """
        per_group = self.limits.per_group
        return sorted(g for g, n in members.items()
                      if n > 0 and g in per_group and self.groups[g]
                      and self.groups[g] + n > per_group[g])

    def take(self, host, members):
        """Count ``host`` in; returns the groups whose budget it alone
        exceeds, as (group, members on the host, budget)."""
        self.zones[self.limits.zone[host]] += 1
        self.aggregates.update(self.limits.aggregates[host])
        per_group = self.limits.per_group
        over = [(g, n, per_group[g]) for g, n in sorted(members.items())
                if g in per_group and n > per_group[g]]
        self.groups.update(+members)
        return over
