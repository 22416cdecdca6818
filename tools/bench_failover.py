#!/usr/bin/env python3
"""Failover: how long a host job waits after its conductor is SIGKILLed.

For each ZooKeeper session timeout (``[jobboard] session_timeout``; the
server allows 2 to 20 s here) and each repetition, one rollout of one host
runs on the job board of a throwaway ZooKeeper with three upgrader-conductor
processes taking one job each: one runs the rollout controller, one the host
job, the third waits. Once the host job is in its upgrade_packages or reboot
step, its conductor gets SIGKILL. Failover is the time from the kill to the
event 'running on conductor NAME' that the third conductor records in our
tables when it takes the job (its claim count, written just after the
claim, before the flow is loaded from the logbook), by the event's own
timestamp.
The killed conductor's claim lasts until ZooKeeper expires its session;
the goal is failover <= session timeout + 2 s. The rollout then finishes
(checked). Each repetition has its own databases, board and conductors.

    tools/bench_failover.py [--timeouts 4,8,15] [--repeat 3]
"""

import argparse
import contextlib
import datetime
import os
import signal
import sqlite3
import statistics
import sys
import time

import sqlalchemy as sa

import bench_scale

# Time scale of the simulated cloud: a 120 s reboot takes 4 s, so the
# host job is still running when its conductor dies.
TIME_SCALE = 30.0
KILL_STEPS = ('upgrade_packages', 'reboot')
GOAL_MARGIN = 2.0
WAIT = 120.0


class Events:
    """Reads our SQLite tables while conductors write them."""

    def __init__(self, url):
        self.path = sa.engine.make_url(url).database

    def query(self, sql, *args):
        conn = sqlite3.connect('file:%s?mode=ro' % self.path, uri=True,
                               timeout=30)
        try:
            return conn.execute(sql, args).fetchall()
        finally:
            conn.close()

    def runner(self, host, after=None):
        """(conductor name, event time) of the last conductor that started
        running ``host``'s job (after ``after``, a UTC datetime), or None."""
        rows = self.query(
            "SELECT message, created_at FROM events WHERE host = ? AND "
            "message LIKE 'running on conductor %' ORDER BY id DESC LIMIT 1",
            host)
        if not rows:
            return None
        message, created = rows[0]
        created = datetime.datetime.fromisoformat(created)
        if after is not None and created <= after:
            return None
        return message.rsplit(' ', 1)[1], created

    def step(self, host):
        rows = self.query('SELECT step FROM host_runs WHERE host = ?', host)
        return rows[0][0] if rows else None


def wait_for(what, predicate, timeout=WAIT, interval=0.02):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise RuntimeError('%s: not after %s s' % (what, timeout))
        time.sleep(interval)


def failover_once(ws, rollout, host):
    """Kill the conductor running ``host``'s job mid-step; seconds until
    another conductor runs it."""
    events = Events(rollout.database)
    ws.plan(rollout.config, bench_scale.REAL_TEMPLATE, 1, 'r1',
            '--hosts', host)
    watcher = ws.start(rollout.config)
    try:
        victim, _ = wait_for('host job of %s claimed' % host,
                             lambda: events.runner(host))
        wait_for('%s in %s' % (host, ' or '.join(KILL_STEPS)),
                 lambda: events.step(host) in KILL_STEPS)
        pid = int(victim.rsplit('-', 1)[1])
        os.kill(pid, signal.SIGKILL)
        killed = datetime.datetime.now(datetime.timezone.utc).replace(
            tzinfo=None)     # naive UTC, as our tables store it
        successor, resumed = wait_for(
            'host job of %s running again' % host,
            lambda: events.runner(host, after=killed))
        if successor == victim:
            raise RuntimeError('%s resumed by its killed conductor' % host)
        watcher.wait(timeout=WAIT)
        ws.check_exit(watcher)
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.wait()
    return (resumed - killed).total_seconds()


def measure(ws, timeout, repeat):
    """Failover seconds of ``repeat`` kills with ``timeout`` s sessions."""
    seconds = []
    with ws.simulator(repeat + 1, 1, time_scale=TIME_SCALE) as sim:
        for i in range(repeat):
            # Each kill on fresh databases, board and conductors.
            with ws.rollout_config(sim, 'sqlite', True, jobboard={
                    'session_timeout': str(timeout),
                    'conductor_name': 'bench',
                    'max_simultaneous_jobs': '1'}) as rollout, \
                    bench_scale.fixtures().conductors.Conductors(
                        rollout.config, rollout.directory,
                        ws.env) as conductors:
                conductors.start(3)
                seconds.append(failover_once(ws, rollout,
                                             'cmp%03d' % (i + 1)))
    return seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--timeouts', default='4,8,15',
                        help='session timeouts in seconds, comma-separated '
                             '(2 to 20; default: %(default)s)')
    parser.add_argument('--repeat', type=int, default=3,
                        help='kills per session timeout (default: '
                             '%(default)s)')
    args = parser.parse_args(argv)
    timeouts = [float(t) for t in args.timeouts.split(',')]

    results = {}
    ws = bench_scale.Workspace()
    with contextlib.closing(ws):
        for timeout in timeouts:
            print('session timeout %g s...' % timeout, file=sys.stderr,
                  flush=True)
            results[timeout] = measure(ws, timeout, args.repeat)
    print('SIGKILL of the conductor running a host job, until another '
          'conductor runs it (s)\n')
    print('%8s %5s %8s %8s %8s %14s  %s' % (
        'timeout', 'runs', 'min', 'median', 'max', 'max - timeout',
        'goal: <= timeout + %g s' % GOAL_MARGIN))
    for timeout, seconds in results.items():
        worst = max(seconds)
        print('%8g %5d %8.2f %8.2f %8.2f %14.2f  %s' % (
            timeout, len(seconds), min(seconds), statistics.median(seconds),
            worst, worst - timeout,
            'met' if worst <= timeout + GOAL_MARGIN else 'MISSED'))
    return 0


if __name__ == '__main__':
    sys.exit(main())
