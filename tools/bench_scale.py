#!/usr/bin/env python3
"""Scale: what one host flow of a rollout costs, from 250 to 1,000 hosts.

Runs, for a database (SQLite files; PostgreSQL, in throwaway databases
dropped at the end) and a number of hosts N:

  taskflow bare     flows of the 6 steps as no-op tasks, one after the
                    other in a process of its own, on taskflow's own
                    SQLAlchemy persistence (a logbook per flow, as
                    bench_persistence.py: each flow's own cost). It does
                    not depend on N: min(N, --bare-flows) flows, run
                    before the rollouts and after them (the mean of
                    both: the machine's speed drifts meanwhile).
  embedded, no-op   ``upgrader-manage rollout start`` of N hosts without the
                    job board: the rollout controller runs the waves, each
                    wave's host flows on a thread pool, all in that process.
                    The 6 steps do nothing (task plugins of this script), so
                    this is upgrader's orchestration alone: the controller,
                    our persistence wrapper, our records (host states, an
                    event per step) and the 2 lifecycle tasks of every host
                    flow.
  board, no-op      the same rollout on a ZooKeeper job board, run by two
                    upgrader-conductor processes: adds posting and claiming
                    the jobs and the controller waiting for each wave.
  board, simulator  the same with the real steps against the simulator: no
                    instances, time scale 1e6 (a 120 s reboot takes 0.1 ms),
                    so what it adds is the steps' HTTP calls to the simulator
                    (served by this process) through the compute driver.

Columns: ms/flow is wall time per host flow: for taskflow bare, its flows;
for the rollouts, the rollout's start to its end as recorded in our tables,
divided by N. CPU ms/flow: CPU time of the processes that run the flows (the
bare process; the rollout command, start-up included; both conductors) per
flow. x bare: taskflow bare's ms/flow over this row's, same database (and
size, where bare ran at it), same run. Peak RSS: maximum resident set of
each process running flows. Growth: ms/flow at a run's largest N over its
smallest.

By default (about 10 minutes) the no-op runs are at the smallest size on
each database, and the board no-op rollout (with taskflow bare beside it)
also at every other size on SQLite; --simulator adds the simulator
rollout at the smallest size on SQLite (it grows faster than linearly:
the compute driver reads every host for each host it looks at), --full
runs everything everywhere.

    tools/bench_scale.py [--hosts 250,1000] [--backends sqlite,postgresql]
                         [--max-parallel 10] [--bare-flows 100]
                         [--simulator] [--full | --quick]

This module is also the plugin of the no-op steps: rollout processes import it
(on PYTHONPATH) through the entry points :func:`write_noop_plugin` declares.
"""

import argparse
import contextlib
import datetime
import json
import multiprocessing
import os
import resource
import subprocess
import sys
import tempfile
import time
import types
import uuid

import yaml

import bench_persistence
from upgrader import tasks
from upgrader.tasks import base

TOOLS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TOOLS)
BIN = os.path.dirname(sys.executable)
# The name rollout processes import this module by (not __main__).
MODULE = os.path.splitext(os.path.basename(__file__))[0]
STEPS = bench_persistence.STEPS
NOOP_TEMPLATE = 'bench-noop'
REAL_TEMPLATE = 'compute-rolling-upgrade'
RELEASE = {'nova-compute': '30.0.0'}


class NoopStep(base.HostTask):
    """A host step that does nothing: its flow costs orchestration alone."""

    def execute(self):
        pass


# A template names each task once: one class per step it stands for.
NOOP = types.SimpleNamespace(**{
    step: type('Noop_%s' % step, (NoopStep,), {'step': step})
    for step in STEPS})


def write_noop_plugin(directory):
    """Declare the no-op steps as task plugins for processes that have
    ``directory`` and this script's folder on PYTHONPATH (a distribution's
    metadata with an entry point per step), and write the template of the
    no-op host flow there too (a template directory)."""
    info = os.path.join(directory, 'upgrader_bench_noop-1.0.dist-info')
    os.makedirs(info)
    with open(os.path.join(info, 'METADATA'), 'w') as f:
        f.write('Metadata-Version: 2.1\nName: upgrader-bench-noop\n'
                'Version: 1.0\n')
    with open(os.path.join(info, 'entry_points.txt'), 'w') as f:
        f.write('[%s]\n' % tasks.NAMESPACE)
        for step in STEPS:
            f.write('noop_%s = %s:NOOP.%s\n' % (step, MODULE, step))
    with open(os.path.join(directory, NOOP_TEMPLATE + '.yaml'), 'w') as f:
        yaml.safe_dump({
            'name': NOOP_TEMPLATE,
            'description': 'The six steps of compute-rolling-upgrade, '
                           'doing nothing.',
            'steps': [{'task': 'noop_%s' % step} for step in STEPS]}, f)


def fixtures():
    """The test fixtures that run real servers and databases.

    Imported on first use: rollout processes import this module as the
    no-op plugin and must not carry pytest in their memory.
    """
    sys.path.insert(0, ROOT)
    from tests.fixtures import conductors
    from tests.fixtures import config
    from tests.fixtures import databases
    from tests.fixtures import simulator
    from tests.fixtures import zookeeper
    return types.SimpleNamespace(conductors=conductors, config=config,
                                 databases=databases,
                                 simulator=simulator, zookeeper=zookeeper)


def proc_usage(pid):
    """(CPU seconds, peak resident set in MiB) of a live process."""
    with open('/proc/%d/stat' % pid) as f:
        fields = f.read().rsplit(')', 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')
    with open('/proc/%d/status' % pid) as f:
        peak = next(int(line.split()[1]) for line in f
                    if line.startswith('VmHWM:'))
    return cpu, peak / 1024.0


def wait_with_usage(proc, interval=0.1):
    """Wait for a Popen; (CPU seconds, peak resident set in MiB).

    The peak is read from /proc while it runs: a child's ru_maxrss also
    counts the memory of the parent it was forked from.
    """
    def cpu():
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime

    before, peak = cpu(), 0.0
    while proc.poll() is None:
        with contextlib.suppress(OSError, StopIteration):
            peak = max(peak, proc_usage(proc.pid)[1])
        time.sleep(interval)
    return cpu() - before, peak


class Workspace:
    """Everything a run sets up, torn down by close(): a temporary folder,
    a ZooKeeper server, the no-op plugin, databases (dropped) and
    simulated clouds."""

    def __init__(self):
        self.fx = fixtures()
        self.stack = contextlib.ExitStack()
        self.dir = self.stack.enter_context(tempfile.TemporaryDirectory(
            prefix='upgrader-bench-'))
        self.plugin = os.path.join(self.dir, 'plugin')
        write_noop_plugin(self.plugin)
        self.env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            [TOOLS, self.plugin] + [p for p in [
                os.environ.get('PYTHONPATH')] if p]))
        self.zookeeper = self.stack.enter_context(
            self.fx.zookeeper.ZooKeeperServer())
        self._count = 0

    def close(self):
        self.stack.close()

    def subdir(self, name):
        self._count += 1
        path = os.path.join(self.dir, '%s-%d' % (name, self._count))
        os.makedirs(path)
        return path

    def simulator(self, hosts, max_parallel, time_scale=1e6):
        """A served cloud of ``hosts`` empty hosts (a context manager); at
        the default time scale their steps take no time."""
        return self.fx.simulator.running_simulator(
            self.subdir('cloud'), hosts=hosts, instances=0,
            anti_affinity_groups=0, non_live_migratable_fraction=0.0,
            time_scale=time_scale, max_hosts_out_of_service=max_parallel)

    @contextlib.contextmanager
    def database(self, backend, prefix='upgrader_bench'):
        """The URL of a new empty database, dropped after the block."""
        url = self.fx.databases.create_database(backend, self.subdir('db'),
                                                prefix=prefix)
        try:
            yield url
        finally:
            self.fx.databases.drop_database(url)

    @contextlib.contextmanager
    def rollout_config(self, sim, backend, board, **groups):
        """Rollouts against ``sim``: new databases (synced), the release,
        the no-op plugin, the job board if ``board``, and any extra
        {group: {option: value}}. Yields the config file, its folder and
        the URL of our database."""
        directory = self.subdir('rollout')
        with self.database(backend) as ours, \
                self.database(backend, 'upgrader_bench_tf') as logbooks:
            sections = {
                'database': {'connection': ours, 'max_retries': '0'},
                'persistence': {'connection': logbooks},
                'workflow': {'template_dirs': self.plugin,
                             'poll_interval': '0.01'},
            }
            if board:
                sections['jobboard'] = {
                    'enabled': 'true', 'hosts': self.zookeeper.hosts,
                    'path': '/bench-%s' % uuid.uuid4().hex[:12],
                    'session_timeout': '10'}
            for group, values in groups.items():
                sections.setdefault(group, {}).update(values)
            config = self.fx.config.write_config(
                os.path.join(directory, 'upgrader.conf'), sim, **sections)
            self.manage(config, 'db', 'sync')
            self.manage(config, 'persistence', 'sync')
            self.manage(config, 'release', 'create', 'new', *[
                arg for name, version in sorted(RELEASE.items())
                for arg in ('--component', '%s=%s' % (name, version))])
            yield types.SimpleNamespace(config=config, directory=directory,
                                        database=ours)

    def manage(self, config, *argv):
        """Run upgrader-manage; its standard output (fails loudly)."""
        result = subprocess.run(
            [os.path.join(BIN, 'upgrader-manage'), '--config-file', config]
            + list(argv), capture_output=True, text=True, env=self.env)
        if result.returncode != 0:
            raise RuntimeError('upgrader-manage %s exited %d:\n%s%s' % (
                ' '.join(argv), result.returncode, result.stdout[-2000:],
                result.stderr[-2000:]))
        return result.stdout

    def plan(self, config, template, max_parallel, name='r1', *extra):
        self.manage(config, 'rollout', 'plan', '--template', template,
                    '--to', 'new', '--max-parallel', str(max_parallel),
                    '--name', name, *extra)

    def start(self, config, name='r1'):
        """``rollout start`` in the background; its output goes to the
        file ``proc.log`` (see :meth:`check_exit`)."""
        path = os.path.join(os.path.dirname(config), 'start-%s.log' % name)
        with open(path, 'w') as log:
            proc = subprocess.Popen(
                [os.path.join(BIN, 'upgrader-manage'), '--config-file',
                 config, 'rollout', 'start', name], stdout=log,
                stderr=subprocess.STDOUT, env=self.env)
        proc.log = path
        return proc

    @staticmethod
    def check_exit(proc):
        """Raise, with the end of its output, if ``rollout start`` failed."""
        if proc.returncode != 0:
            with open(proc.log) as f:
                raise RuntimeError('rollout start exited %d:\n%s'
                                   % (proc.returncode, f.read()[-2000:]))

    def status(self, config, name='r1'):
        return json.loads(self.manage(config, 'rollout', 'status', name,
                                      '--format', 'json'))


def rollout_seconds(status, hosts):
    """Start to end of a rollout that upgraded every host, from our
    tables; raises if it did not."""
    states = {h['state'] for h in status['hosts']}
    if status['state'] != 'succeeded' or states != {'done'} or len(
            status['hosts']) != hosts:
        raise RuntimeError('rollout ended %s (%s), hosts %s' % (
            status['state'], status['error'], status['summary']['hosts']))
    started, finished = (datetime.datetime.fromisoformat(status[key])
                         for key in ('started_at', 'finished_at'))
    return (finished - started).total_seconds()


class Result:
    """One row: ms/flow, CPU ms/flow, peak RSS (MiB) of each process."""

    def __init__(self, seconds, cpu_seconds, flows, peaks=()):
        self.ms = seconds * 1000.0 / flows
        self.cpu_ms = cpu_seconds * 1000.0 / flows
        self.peaks = list(peaks)

    @classmethod
    def mean(cls, results):
        """The mean of runs of the same flows (peak RSS: the largest)."""
        mean = cls(0.0, 0.0, 1)
        mean.ms = sum(r.ms for r in results) / len(results)
        mean.cpu_ms = sum(r.cpu_ms for r in results) / len(results)
        mean.peaks = [max(p for r in results for p in r.peaks)]
        return mean


def run_bare(ws, backend, flows):
    """taskflow bare: ``flows`` flows of 6 no-op tasks, one after another,
    in a process of its own (its memory is its own)."""
    with ws.database(backend, 'upgrader_bench_bare') as url:
        context = multiprocessing.get_context('spawn')
        with context.Pool(1) as pool:
            seconds, cpu, peak = pool.apply(_bare_flows, (url, flows))
    return Result(seconds, cpu, flows, [peak])


def _bare_flows(url, flows):
    """(seconds, CPU seconds, peak RSS MiB) of the bare flows, measured
    in the process that runs them."""
    from taskflow.persistence.backends import impl_sqlalchemy

    backend = impl_sqlalchemy.SQLAlchemyBackend({'connection': url})
    try:
        with contextlib.closing(backend.get_connection()) as conn:
            conn.upgrade()
        cpu = time.process_time()
        ms = bench_persistence.run_flows(backend, flows)
        cpu = time.process_time() - cpu
    finally:
        backend.close()
    return ms * flows / 1000.0, cpu, proc_usage(os.getpid())[1]


def run_rollout(ws, sim, backend, hosts, max_parallel, template, board):
    """A rollout of every host of ``sim``: embedded, or on the board with
    two conductors."""
    with ws.rollout_config(sim, backend, board) as rollout:
        config = rollout.config
        ws.plan(config, template, max_parallel)
        with fixtures().conductors.Conductors(
                config, rollout.directory, ws.env) as conductors:
            procs = conductors.start(2) if board else []
            before = [proc_usage(p.pid)[0] for p in procs]
            command = ws.start(config)
            cpu, peak = wait_with_usage(command)
            ws.check_exit(command)
            if board:
                usage = [proc_usage(p.pid) for p in procs]
                cpu = sum(u[0] for u in usage) - sum(before)
                peaks = [u[1] for u in usage]
            else:
                peaks = [peak]
        seconds = rollout_seconds(ws.status(config), hosts)
    return Result(seconds, cpu, hosts, peaks)


BARE = 'taskflow bare'
EMBEDDED = 'embedded, no-op'
BOARD = 'board, no-op'
SIMULATOR = 'board, simulator'
RUNS = (BARE, EMBEDDED, BOARD, SIMULATOR)
GOAL_MS = 50
GOAL_RATIO = 7
ROLLOUTS = {EMBEDDED: (NOOP_TEMPLATE, False), BOARD: (NOOP_TEMPLATE, True),
            SIMULATOR: (REAL_TEMPLATE, True)}


def selection(backends, sizes, full, simulator):
    """[(database, hosts, [runs])] to measure, in order.

    Everything when ``full``. Otherwise (about 10 minutes): the no-op runs
    at the smallest size, and the board no-op rollout (the orchestration
    figure) with taskflow bare beside it at every size on SQLite; with
    ``simulator``, the simulator rollout on SQLite at the smallest size
    too.
    """
    chosen = []
    for backend in backends:
        for hosts in sizes:
            if full:
                runs = list(RUNS)
            elif hosts != sizes[0]:
                # bare too: its figure drifts with the machine's speed.
                runs = [BARE, BOARD] if backend == 'sqlite' else []
            else:
                runs = [BARE, EMBEDDED, BOARD]
                if simulator and backend == 'sqlite':
                    runs.append(SIMULATOR)
            if runs:
                chosen.append((backend, hosts, runs))
    return chosen


def measure(ws, backend, hosts, runs, max_parallel, bare_flows):
    """{run: Result} for one database and number of hosts.

    taskflow bare runs before the rollouts and again after them, and its
    figure is the mean of both: this machine's speed drifts within minutes
    (the same run's ms/flow by up to a quarter), and a ratio to one bare
    run taken before moved with it.
    """
    results = {}
    bare = []
    if BARE in runs:
        bare.append(run_bare(ws, backend, bare_flows))
    with ws.simulator(hosts, max_parallel) as sim:
        for run in runs:
            if run in ROLLOUTS:
                template, board = ROLLOUTS[run]
                results[run] = run_rollout(ws, sim, backend, hosts,
                                           max_parallel, template, board)
    if BARE in runs:
        bare.append(run_bare(ws, backend, bare_flows))
        results = dict({BARE: Result.mean(bare)}, **results)
    return results


def print_tables(table):
    """The figures, then each run's growth from its smallest size to its
    largest."""
    bare = {}       # a database's first bare figure, for sizes without
    for (backend, _hosts), results in table.items():
        if BARE in results:
            bare.setdefault(backend, results[BARE].ms)
    print('%-11s %6s  %-17s %9s %12s %7s  %s' % (
        'database', 'hosts', 'run', 'ms/flow', 'CPU ms/flow', 'x bare',
        'peak RSS MiB'))
    for (backend, hosts), results in table.items():
        reference = results[BARE].ms if BARE in results else bare[backend]
        for run, r in results.items():
            print('%-11s %6d  %-17s %9.1f %12.1f %7.2f  %s' % (
                backend, hosts, run, r.ms, r.cpu_ms, reference / r.ms,
                ' '.join('%.0f' % p for p in r.peaks)))
    print('\nGoal: a host flow through the board (%s) costs at most %d ms '
          'on SQLite, %dx less than bare taskflow or better:'
          % (BOARD, GOAL_MS, GOAL_RATIO))
    for (backend, hosts), results in table.items():
        if BOARD in results:
            reference = results[BARE].ms if BARE in results else bare[backend]
            ms = results[BOARD].ms
            met = backend != 'sqlite' or (ms <= GOAL_MS and
                                          reference / ms >= GOAL_RATIO)
            print('%-11s %6d hosts: %.1f ms/flow, bare %.1f, %.2fx%s' % (
                backend, hosts, ms, reference, reference / ms,
                '' if backend != 'sqlite' else
                '  met' if met else '  missed'))
    print('\nGrowth of ms/flow (1.00 = linear):')
    for backend in dict.fromkeys(b for b, _h in table):
        for run in RUNS[1:]:
            sizes = [h for (b, h), results in table.items()
                     if b == backend and run in results]
            if len(sizes) > 1:
                first, last = (table[backend, n][run].ms
                               for n in (sizes[0], sizes[-1]))
                print('%-11s %-17s %d -> %d hosts: %.2f' % (
                    backend, run, sizes[0], sizes[-1], last / first))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--hosts', default='250,1000',
                        help='numbers of hosts, comma-separated '
                             '(default: %(default)s)')
    parser.add_argument('--backends', default='sqlite,postgresql',
                        help='databases, comma-separated: sqlite, '
                             'postgresql (default: %(default)s)')
    parser.add_argument('--max-parallel', type=int, default=10,
                        help='hosts per wave (default: %(default)s)')
    parser.add_argument('--bare-flows', type=int, default=100,
                        help='flows of the taskflow bare run (0: as many '
                             'as hosts; default: %(default)s)')
    parser.add_argument('--simulator', action='store_true',
                        help='also the simulator rollout, on SQLite at the '
                             'smallest size (3 to 4 more minutes)')
    parser.add_argument('--full', action='store_true',
                        help='every run at every size on every database '
                             '(more than an hour at 250,500,1000 hosts)')
    parser.add_argument('--quick', action='store_true',
                        help='a small full run: 20 and 40 hosts')
    args = parser.parse_args(argv)
    sizes = [20, 40] if args.quick else sorted(
        int(n) for n in args.hosts.split(','))
    chosen = selection(args.backends.split(','), sizes,
                       args.full or args.quick, args.simulator)

    table = {}
    ws = Workspace()
    with contextlib.closing(ws):
        for backend, hosts, runs in chosen:
            print('%s, %d hosts: %s...' % (backend, hosts, ', '.join(runs)),
                  file=sys.stderr, flush=True)
            table[backend, hosts] = measure(
                ws, backend, hosts, runs, args.max_parallel,
                min(args.bare_flows or hosts, hosts))
    print('Host flows of %d steps (and 2 lifecycle tasks in rollouts), '
          'waves of %d hosts, %d CPUs; taskflow bare: %s flows\n' % (
              len(STEPS), args.max_parallel, os.cpu_count(),
              'min(hosts, %d)' % args.bare_flows if args.bare_flows
              else 'as many as hosts'))
    print_tables(table)
    return 0


if __name__ == '__main__':
    sys.exit(main())
