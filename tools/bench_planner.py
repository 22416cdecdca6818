#!/usr/bin/env python3
"""Benchmark the planner on generated clouds: speed, migrations, makespan.

Prints, in one run (well under two minutes):
  (a) planning time for 250, 500 and 1,000 hosts (20 instances per host,
      2 AZs), with a spare empty host per AZ and without, and the growth
      ratio from one size to the next;
  (b) migrations per instance: upgrader against the lower bound and against
      a naive baseline in which "the scheduler" sends each instance to the
      enabled host with most free RAM that is not being drained (Nova's
      spread weigher, as host-evacuate-live or Watcher's host maintenance
      would), draining the same waves of hosts as upgrader, and draining
      upgrader's host order max_parallel hosts at a time;
  (c) makespan (sum of the waves' predicted durations) against two lower
      bounds: the naive max(total drain work / max_parallel, the longest
      single host), and the bound for plans that migrate no more than the
      fewest migrations (upgrader/plan/makespan.py): a wave drains only
      into room already upgraded, so the first wave holds only the empty
      hosts (or the one host that spills, per AZ) and the next ones only
      what the room freed so far takes;
  (d) the same comparison carried out on the simulator: a cloud made by its
      generator (upgrader/simulator/generate.py), read by the openstack
      compute driver over HTTP, planned, then upgrader's moves and a
      host-evacuate-live style drain (Nova's scheduler, here the
      simulator's, picks each destination among all enabled hosts) run
      side by side on two copies of it; the simulator's referee counts the
      completed live migrations per instance and any violation.

Clouds are generated from a seed, so every run measures the same clouds.
Hosts sit in racks of 20, each rack a host aggregate. The policy options
measure the cost of the rollout limits (e.g. ``--max-unavailable-per-aggregate
1`` takes one host per rack at a time); by default only max_parallel limits.

    tools/bench_planner.py [--sizes 250,500,1000] [--max-parallel 10]
                           [--per-host 20] [--seed 1] [--repeat 3]
                           [--max-unavailable-per-az N|P%]
                           [--max-unavailable-per-aggregate N|P%]
                           [--max-group-disruption N|P%] [--canary]
                           [--sim-hosts 64]
"""

import argparse
import bisect
import collections
import os
import random
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))

from upgrader.common import inventory as inv  # noqa: E402
from upgrader.plan import makespan  # noqa: E402
from upgrader.plan import models  # noqa: E402
from upgrader.plan import planner  # noqa: E402
from upgrader.common import exception  # noqa: E402
from upgrader.simulator import cloud as sim_cloud  # noqa: E402
from upgrader.simulator import generate as sim_generate  # noqa: E402
from upgrader.simulator import server as sim_server  # noqa: E402

GIB = 1024
# A hypervisor after allocation ratios: 64 cores x 4, 320 GiB, 4 TB of disk;
# the flavors below fill its RAM to about 73%.
CAPACITY = inv.Resources(vcpus=256, memory_mb=320 * GIB, disk_gb=4000)
# (name, vcpus, RAM GiB, disk GB, weight): mostly small, a few big guests.
FLAVORS = [('m1.small', 1, 2, 20, 30), ('m1.medium', 2, 4, 40, 30),
           ('m1.large', 4, 8, 80, 20), ('m1.xlarge', 8, 16, 160, 12),
           ('r1.2xlarge', 8, 64, 160, 6), ('r1.4xlarge', 16, 128, 160, 2)]
ZONES = 2
RACK = 20                   # hosts per rack aggregate
ANTI_AFFINITY_SHARE = 0.1   # of instances, in groups of 2 to 5


def generate(n_hosts, per_host, spare, seed):
    """A cloud of ``n_hosts`` loaded hosts (+ ``spare`` empty ones per AZ).

    Each loaded host gets ``per_host`` instances, at most as much as it holds
    (flavors are redrawn until one fits); a tenth of the instances sit in
    anti-affinity groups whose members are on distinct hosts of one AZ.
    """
    rng = random.Random(seed)
    flavors = [inv.Resources(v, r * GIB, d) for _, v, r, d, _ in FLAVORS]
    names = [f[0] for f in FLAVORS]
    weights = [f[4] for f in FLAVORS]
    hosts, instances = [], []
    total = n_hosts + spare * ZONES
    for h in range(total):
        name = 'cmp%04d' % h
        used = inv.Resources()
        count = per_host if h < n_hosts else 0
        for j in range(count):
            for _ in range(20):
                k = rng.choices(range(len(flavors)), weights)[0]
                if (used + flavors[k]).fits_in(CAPACITY):
                    break
            else:
                break
            used = used + flavors[k]
            instances.append(inv.Instance(
                uuid='%s-vm%03d' % (name, j), name='vm%03d' % j, host=name,
                status='ACTIVE', flavor=flavors[k], flavor_name=names[k]))
        hosts.append(inv.Host(name=name, service_id=str(h), status='enabled',
                              state='up', availability_zone='az%d' % (h % ZONES),
                              aggregates=['rack%03d' % (h // RACK)],
                              capacity=CAPACITY, used=used,
                              instance_count=count))
    groups = _anti_affinity_groups(rng, hosts, instances)
    return inv.Inventory(hosts=hosts, instances=instances,
                         server_groups=groups)


def _anti_affinity_groups(rng, hosts, instances):
    """Groups of 2-5 instances of one AZ, each on a different host."""
    zone = {h.name: h.availability_zone for h in hosts}
    by_zone = collections.defaultdict(list)
    for i in instances:
        by_zone[zone[i.host]].append(i)
    groups, budget = [], int(len(instances) * ANTI_AFFINITY_SHARE)
    while budget > 0:
        members = {}
        pool = by_zone[rng.choice(sorted(by_zone))]
        for i in rng.sample(pool, min(len(pool), rng.randint(2, 5))):
            if i.host not in members and not i.server_groups:
                members[i.host] = i
        if len(members) < 2:
            continue
        uuid = 'g%05d' % len(groups)
        for i in members.values():
            i.server_groups.append(uuid)
        groups.append(inv.ServerGroup(uuid=uuid, name=uuid,
                                      policy='anti-affinity',
                                      members=[i.uuid for i in
                                               members.values()]))
        budget -= len(members)
    return groups


# --- (b) the naive baseline -------------------------------------------------

def baseline_migrations(inventory, waves):
    """Drain the same waves of hosts as upgrader, Nova-scheduler style.

    Each instance goes to the enabled, up host of its AZ not being drained
    with most free RAM that fits it (vCPU, RAM, disk, anti-affinity): an
    instance landing on a host drained later moves again. Returns
    ({instance uuid: migrations}, instances that found no valid host).
    """
    cloud = _Scheduler(inventory)
    counts, stuck = collections.Counter(), 0
    for wave in waves:
        for host in wave:
            cloud.withdraw(host)
        for source in wave:
            for i in sorted(cloud.on[source].values(),
                            key=lambda i: i.uuid):
                if cloud.migrate(i, source):
                    counts[i.uuid] += 1
                else:
                    stuck += 1  # "No valid host": the host stays loaded
        for host in wave:
            cloud.offer(host)
    return counts, stuck


class _Scheduler:
    """A minimal Nova scheduler: filters, then the most free RAM wins.

    Candidates are kept per AZ in a list sorted by free RAM, so placing
    20,000 instances does not scan 1,000 hosts each time.
    """

    def __init__(self, inventory):
        self.zone = {h.name: h.availability_zone for h in inventory.hosts}
        self.free = {h.name: h.capacity - h.used for h in inventory.hosts}
        self.on = collections.defaultdict(dict)
        anti = {g.uuid for g in inventory.server_groups
                if g.policy in models.ANTI_AFFINITY}
        self.groups = {i.uuid: [g for g in i.server_groups if g in anti]
                       for i in inventory.instances}
        self.groups_on = collections.defaultdict(collections.Counter)
        for i in inventory.instances:
            self.on[i.host][i.uuid] = i
            self.groups_on[i.host].update(self.groups[i.uuid])
        self.ranked = collections.defaultdict(list)
        for h in inventory.hosts:
            if h.enabled and h.state == 'up':
                self.offer(h.name)

    def _key(self, host):
        return (-self.free[host].memory_mb, host)

    def offer(self, host):
        bisect.insort(self.ranked[self.zone[host]], self._key(host))

    def withdraw(self, host):
        ranked = self.ranked[self.zone[host]]
        del ranked[bisect.bisect_left(ranked, self._key(host))]

    def migrate(self, instance, source):
        for neg_free, dest in self.ranked[self.zone[source]]:
            if -neg_free < instance.flavor.memory_mb:
                return False
            if (instance.flavor.fits_in(self.free[dest]) and not any(
                    self.groups_on[dest][g] for g in
                    self.groups[instance.uuid])):
                break
        else:
            return False
        self.withdraw(dest)
        self.free[source] = self.free[source] + instance.flavor
        self.free[dest] = self.free[dest] - instance.flavor
        self.offer(dest)
        del self.on[source][instance.uuid]
        self.on[dest][instance.uuid] = instance
        self.groups_on[source].subtract(self.groups[instance.uuid])
        self.groups_on[dest].update(self.groups[instance.uuid])
        return True


# --- (d) on the simulator ---------------------------------------------------

def simulator_comparison(directory, n_hosts, per_host, policy, seed):
    """Plan a generated simulator cloud and drain it both ways on copies.

    Returns (inventory, plan, {label: (referee report, stuck)}).
    """
    path = os.path.join(directory, 'cloud.sqlite')
    instances = n_hosts * per_host
    sim_generate.create_cloud(
        path, hosts=n_hosts + ZONES, instances=instances, azs=ZONES,
        aggregates=max(1, n_hosts // RACK), spare_hosts_per_az=1,
        anti_affinity_groups=instances // 30, group_size=3,
        non_live_migratable_fraction=0.0, seed=seed,
        max_hosts_out_of_service=policy.max_parallel)
    inventory = _read_inventory(directory, path)
    plan = planner.make_plan(inventory, policy)
    results = {}
    for label, drain in (('upgrader', _drain_planned),
                         ('naive', _drain_by_scheduler)):
        copy = os.path.join(directory, '%s.sqlite' % label)
        shutil.copyfile(path, copy)
        stuck = drain(copy, plan)
        results[label] = (sim_cloud.read_report(copy), stuck)
    return inventory, plan, results


def _read_inventory(directory, path):
    """The inventory as upgrader reads a real cloud: the openstack driver,
    openstacksdk, HTTP."""
    from oslo_config import cfg
    from upgrader import conf as upgrader_conf
    from upgrader.drivers import compute
    with sim_server.SimulatorServer(path) as server:
        clouds_yaml = server.write_clouds_yaml(
            os.path.join(directory, 'clouds.yaml'))
        conf = cfg.ConfigOpts()
        upgrader_conf.register_opts(conf)
        conf([], project='upgrader', default_config_files=[])
        conf.set_override('cloud', sim_server.DEFAULT_CLOUD_NAME, 'cloud')
        conf.set_override('clouds_file', clouds_yaml, 'cloud')
        return compute.fetch(conf).get_inventory()


class _Clock:
    """Simulated time for the drains: every wave's migrations end before
    the next wave starts (an hour later)."""

    def __init__(self, path):
        self.path = path
        self.now = time.time()

    def run(self, func):
        with sim_cloud.open_cloud(self.path, now=self.now) as cloud:
            return func(cloud)

    def next_wave(self):
        self.now += 3600.0


def _drain(path, plan, start_moves):
    clock = _Clock(path)
    stuck = 0
    for wave in plan.waves:
        def out(cloud):
            for host in wave.hosts:
                cloud.set_service(host, False, 'bench')
            return start_moves(cloud, wave)
        stuck += clock.run(out)
        clock.next_wave()
        clock.run(lambda cloud: [cloud.set_service(h, True)
                                 for h in wave.hosts])
    return stuck


def _drain_planned(path, plan):
    def start(cloud, wave):
        for move in wave.moves:
            cloud.live_migrate(move.instance, move.destination)
        return 0
    return _drain(path, plan, start)


def _drain_by_scheduler(path, plan):
    """host-evacuate-live on each host of the same waves: no target host,
    the scheduler picks among every enabled host (upgraded or not)."""
    def start(cloud, wave):
        stuck = 0
        for host in wave.hosts:
            for row in cloud.conn.execute(
                    'SELECT uuid FROM instances WHERE host = ? ORDER BY '
                    'seq', (host,)).fetchall():
                try:
                    cloud.live_migrate(row['uuid'])
                except exception.UpgraderException:
                    stuck += 1          # "No valid host was found"
        return stuck
    return _drain(path, plan, start)


def print_simulator_comparison(args, policy):
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix='bench-planner-') as directory:
        inventory, plan, results = simulator_comparison(
            directory, args.sim_hosts, args.per_host, policy, args.seed)
    took = time.perf_counter() - began
    print('\n(d) on the simulator (%d loaded hosts + %d empty, %d '
          'instances, %d anti-affinity groups, its generator and its '
          'scheduler; %.0f s): completed live migrations counted by the '
          'referee' % (args.sim_hosts, ZONES, len(inventory.instances),
                       len(inventory.server_groups), took))
    print('%-9s %7s %6s %4s %5s %10s | %6s' % (
        'drain', 'migr', 'twice+', 'max', 'stuck', 'violations',
        'per instance'))
    print('%-9s %7d %6s %4s %5s %10s | %6.3f' % (
        'lower', plan.lower_bound_migrations, '-', '-', '-', '-',
        plan.lower_bound_migrations / len(inventory.instances)))
    for label, (report, stuck) in results.items():
        counts = report['migrations']['per_instance']
        total, twice, most = _stats(counts)
        print('%-9s %7d %6d %4d %5d %10d | %6.3f' % (
            label, total, twice, most, stuck,
            report['violations']['total'],
            total / len(inventory.instances)))
    print('makespan (predicted), hours, as in (c); the first wave upgrades '
          'only the empty hosts, the next ones only what they make room for')
    print('%8s %8s %6s %8s %6s %5s' % ('upgr', 'naive', 'ratio', 'bound',
                                       'ratio', 'ramp'))
    print(_makespan_columns(inventory, plan))


def _makespan_columns(inventory, plan):
    """upgrader's makespan, the naive bound, the migrate-once bound (with
    their ratios) and the waves that capacity forces."""
    naive = makespan.naive_bound(inventory, plan)
    bound = makespan.lower_bound(inventory, plan)
    done = makespan.ramp(inventory, plan) or []
    # Waves before the last that capacity keeps below max_parallel.
    forced = sum(1 for a, b in zip([0] + done, done[:-1])
                 if b - a < plan.policy.max_parallel)
    mine = plan.predicted_seconds
    return '%8.1f %8.1f %5.2fx %8s %6s %5s' % (
        mine / 3600, naive / 3600, mine / naive,
        '%.1f' % (bound / 3600) if bound else '-',
        '%.2fx' % (mine / bound) if bound else '-', forced)


def _stats(counts):
    moved = list(counts.values())
    return (sum(moved), sum(1 for n in moved if n > 1), max(moved, default=0))


def _limit(text):
    """A policy limit from the command line: a count or a percentage."""
    return text if text.endswith('%') else int(text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--sizes', default='250,500,1000')
    parser.add_argument('--per-host', type=int, default=20)
    parser.add_argument('--max-parallel', type=int, default=10)
    parser.add_argument('--seed', type=int, default=1)
    parser.add_argument('--repeat', type=int, default=3,
                        help='plan each cloud this many times, keep the best')
    parser.add_argument('--max-unavailable-per-az', type=_limit)
    parser.add_argument('--max-unavailable-per-aggregate', type=_limit)
    parser.add_argument('--max-group-disruption', type=_limit)
    parser.add_argument('--canary', action='store_true')
    parser.add_argument('--sim-hosts', type=int, default=64,
                        help='loaded hosts of the simulated cloud of (d); '
                             '0 leaves (d) out')
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(',')]
    policy = models.Policy(
        max_parallel=args.max_parallel,
        max_unavailable_per_az=args.max_unavailable_per_az,
        max_unavailable_per_aggregate=args.max_unavailable_per_aggregate,
        max_group_disruption=args.max_group_disruption, canary=args.canary)
    rows = []
    for spare in (1, 0):
        for n in sizes:
            cloud = generate(n, args.per_host, spare, args.seed)
            took = []
            for _ in range(args.repeat):
                began = time.perf_counter()
                plan = planner.make_plan(cloud, policy)
                took.append(time.perf_counter() - began)
            rows.append((spare, n, cloud, plan, min(took)))

    limits = ''.join(', %s %s' % (name, value) for name, value in (
        ('max_unavailable_per_az', policy.max_unavailable_per_az),
        ('max_unavailable_per_aggregate',
         policy.max_unavailable_per_aggregate),
        ('max_group_disruption', policy.max_group_disruption),
        ('canary', policy.canary or None)) if value is not None)
    print('(a) planning time (best of %d), %d instances per host, %d AZs, '
          'max_parallel %d%s' % (args.repeat, args.per_host, ZONES,
                                 args.max_parallel, limits))
    print('%-8s %6s %9s %6s %9s %7s' % ('spare/AZ', 'hosts', 'instances',
                                        'waves', 'seconds', 'growth'))
    previous = {}
    for spare, n, cloud, plan, took in rows:
        growth = ('%.2fx' % (took / previous[spare])
                  if spare in previous else '-')
        previous[spare] = took
        print('%-8d %6d %9d %6d %9.3f %7s' % (
            spare, n, len(cloud.instances), len(plan.waves), took, growth))

    print('\n(b) migrations: upgrader vs lower bound vs naive scheduler '
          'baseline, draining upgrader\'s waves ("same waves") or its host '
          'order %d at a time ("full waves"); stuck = found no valid host'
          % args.max_parallel)
    print('%-8s %6s %9s | %7s %7s %6s %4s | %-10s %7s %6s %4s %5s | %6s' % (
        'spare/AZ', 'hosts', 'instances', 'lower', 'upgr', 'twice+', 'max',
        'baseline', 'naive', 'twice+', 'max', 'stuck', 'naive/upgr'))
    for spare, n, cloud, plan, _ in rows:
        mine = _stats(plan.migrations_per_instance())
        order = plan.hosts
        for label, waves in (
                ('same waves', [w.hosts for w in plan.waves]),
                ('full waves', [order[i:i + args.max_parallel] for i in
                                range(0, len(order), args.max_parallel)])):
            naive, stuck = baseline_migrations(cloud, waves)
            theirs = _stats(naive)
            print('%-8d %6d %9d | %7d %7d %6d %4d | %-10s %7d %6d %4d %5d '
                  '| %6.2fx' % (spare, n, len(cloud.instances),
                                plan.lower_bound_migrations, *mine, label,
                                *theirs, stuck, theirs[0] / mine[0]))

    print('\n(c) makespan (sum of wave durations), hours, vs the naive bound '
          'max(work / max_parallel, longest host) and vs the bound of plans '
          'that migrate each instance once (empty hosts first, then only '
          'as many hosts per wave as the upgraded room takes; "ramp" = '
          'waves that room keeps below max_parallel)')
    print('%-8s %6s %6s %8s %8s %6s %8s %6s %5s' % (
        'spare/AZ', 'hosts', 'waves', 'upgr', 'naive', 'ratio', 'bound',
        'ratio', 'ramp'))
    for spare, n, cloud, plan, _ in rows:
        print('%-8d %6d %6d %s' % (spare, n, len(plan.waves),
                                    _makespan_columns(cloud, plan)))
    if args.sim_hosts:
        print_simulator_comparison(args, policy)


if __name__ == '__main__':
    main()
