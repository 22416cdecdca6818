"""What a rollout's record says: a bar per step run or revert, the window of
each wave, and the referee's counts.

Pure functions of the dict :func:`upgrader.api.report` builds
(times are ISO strings, naive UTC), so that any report format shares them.
"""

import collections
import dataclasses
import datetime
import re

from upgrader.common import states
from upgrader.common import events

# How a bar ends.
DONE = 'done'
FAILED = 'failed'
REVERTED = 'reverted'          # the revert of a step, after a later failure
RUNNING = 'running'            # no outcome yet, the rollout still runs
INTERRUPTED = 'interrupted'    # no outcome: its process stopped or died
OUTCOMES = (DONE, FAILED, REVERTED, RUNNING, INTERRUPTED)

# The messages upgrader.jobs.records writes for a host's steps and a wave.
STEP_STARTED = events.STEP_STARTED
STEP_OUTCOMES = ((events.STEP_DONE, DONE),
                 (events.STEP_FAILED, FAILED),
                 (events.STEP_REVERTED, REVERTED))
# What events.WAVE_STARTS reads like.
WAVE_STARTS = re.compile(r'^wave (\d+) starts: ')

MOVE_COMPLETED = 'completed'
MOVES_DISRUPTING = frozenset(['failed', 'aborted'])

# How a wave stands.
WAVE_NOT_STARTED = 'not started'
WAVE_RUNNING = 'running'
WAVE_DONE = 'done'
WAVE_STOPPED = 'stopped'       # some hosts never finished, the rollout ended


def parse_time(value):
    """A naive UTC datetime from an ISO string; None stays None."""
    if value is None or isinstance(value, datetime.datetime):
        return value
    return datetime.datetime.fromisoformat(value)


def seconds_between(start, end):
    """Seconds from start to end, or None if either is unknown."""
    if start is None or end is None:
        return None
    return (end - start).total_seconds()


@dataclasses.dataclass
class Bar:
    """One step of one host, or the revert of one."""

    host: str
    step: str
    outcome: str
    start: datetime.datetime
    end: datetime.datetime
    # The text of the event that ended it (a failure's error).
    message: str | None = None

    @property
    def seconds(self):
        return seconds_between(self.start, self.end)


@dataclasses.dataclass
class WaveWindow:
    """A wave of the plan beside what happened to it."""

    index: int
    hosts: list
    predicted_seconds: float | None
    planned_migrations: int | None
    status: str
    start: datetime.datetime | None = None
    end: datetime.datetime | None = None

    @property
    def seconds(self):
        return seconds_between(self.start, self.end)


@dataclasses.dataclass
class Analysis:
    """Everything a report draws, derived once."""

    start: datetime.datetime
    end: datetime.datetime
    active: bool
    bars: dict          # host -> [Bar], in time order
    waves: list         # [WaveWindow], by index
    summary: dict

    @property
    def seconds(self):
        return seconds_between(self.start, self.end)


def analyse(data):
    """The Analysis of a collected rollout."""
    active = data['state'] in states.ROLLOUT_ACTIVE
    start, end = timespan(data, active)
    return Analysis(start=start, end=end, active=active,
                    bars=step_bars(data['events'], end, active),
                    waves=wave_windows(data, end, active),
                    summary=summary(data))


def timespan(data, active):
    """When the rollout started, and when it ended (or the report's time
    while it runs). Only a success records ``finished_at``: a rollout that
    stopped ended at its last update or event."""
    times = [parse_time(e['created_at']) for e in data['events']]
    start = (parse_time(data['started_at']) or min(times, default=None)
             or parse_time(data['created_at']))
    if data['finished_at'] is not None:
        end = parse_time(data['finished_at'])
    elif active:
        end = parse_time(data['generated_at'])
    else:
        end = max(times + [parse_time(data['updated_at']) or start])
    return start, max(start, end)


def _outcome_of(message):
    for prefix, outcome in STEP_OUTCOMES:
        if message.startswith(prefix):
            return outcome
    return None


def step_bars(events, end, active):
    """Each host's bars: a step from its 'step started' event to its
    outcome event; a revert from the host's previous step event to its
    'step reverted' (TaskFlow does not report when a revert starts).

    A step without an outcome is interrupted where the host starts a step
    again (a resume re-runs it), else it lasts until ``end``: running if
    the rollout is active, interrupted if not.
    """
    found = collections.defaultdict(list)
    open_bars = {}
    last_mark = {}
    for event in events:
        host, step = event['host'], event['step']
        outcome = (None if host is None
                   else RUNNING if event['message'] == STEP_STARTED
                   else _outcome_of(event['message']))
        if outcome is None:
            continue
        at = parse_time(event['created_at'])
        bar = open_bars.get(host)
        if outcome == RUNNING:
            if bar is not None:
                bar.outcome, bar.end = INTERRUPTED, at
            bar = open_bars[host] = Bar(host, step, RUNNING, at, end)
            found[host].append(bar)
        elif bar is not None and bar.step == step:
            del open_bars[host]
            bar.outcome, bar.end, bar.message = outcome, at, event['message']
        else:
            found[host].append(Bar(host, step, outcome,
                                   last_mark.get(host, at), at,
                                   event['message']))
        last_mark[host] = at
    if not active:
        for bar in open_bars.values():
            bar.outcome = INTERRUPTED
    return dict(found)


def wave_windows(data, end, active):
    """Each wave: its hosts (the host runs' wave numbers), its predicted
    duration, and its window from its first 'wave N starts' event to the
    last of its hosts finishing."""
    planned = {w['index']: w for w in data['plan']['waves']}
    runs = collections.defaultdict(list)
    for run in data['hosts']:
        runs[run['wave']].append(run)
    starts, last_seen = {}, {}
    for event in data['events']:
        at = parse_time(event['created_at'])
        match = WAVE_STARTS.match(event['message'])
        if match and event['host'] is None:
            starts.setdefault(int(match.group(1)), at)
        if event['host'] is not None:
            last_seen[event['host']] = at
    windows = []
    for index in sorted(set(planned) | set(runs)):
        plan = planned.get(index, {})
        hosts = sorted(r['host'] for r in runs[index]) or plan.get('hosts', [])
        window = WaveWindow(index=index, hosts=hosts,
                            predicted_seconds=plan.get('predicted_seconds'),
                            planned_migrations=plan.get('migrations'),
                            status=WAVE_NOT_STARTED)
        window.start = starts.get(index) or min(
            filter(None, (parse_time(r['started_at']) for r in runs[index])),
            default=None)
        if window.start is not None:
            window.status, window.end = _wave_end(
                window, runs[index], [last_seen[h] for h in hosts
                                      if h in last_seen], end, active)
        windows.append(window)
    return windows


def _wave_end(window, runs, host_events, end, active):
    """How a started wave stands, and when it ended."""
    if runs and all(r['state'] in states.HOST_FINAL for r in runs):
        return WAVE_DONE, max(parse_time(r['finished_at']) for r in runs)
    if active:
        return WAVE_RUNNING, end
    return WAVE_STOPPED, max([window.start] + host_events)


def summary(data):
    """The referee's counts, from our record: hosts by state, hosts
    reverted, instances disrupted (a move failed or aborted), migrations
    per instance."""
    moves = data['moves']
    per_instance = collections.Counter(
        m['instance_uuid'] for m in moves if m['state'] == MOVE_COMPLETED)
    hosts = collections.Counter(h['state'] for h in data['hosts'])
    return {
        'hosts': len(data['hosts']),
        'hosts_by_state': dict(sorted(hosts.items())),
        'hosts_done': hosts[states.HOST_DONE],
        'hosts_failed': hosts[states.HOST_ERROR],
        'hosts_reverted': sorted({
            e['host'] for e in data['events']
            if e['host'] is not None and _outcome_of(e['message']) == REVERTED
        }),
        'instances_disrupted': sorted({
            m['instance_name'] or m['instance_uuid'] for m in moves
            if m['state'] in MOVES_DISRUPTING}),
        'migrations': sum(per_instance.values()),
        'migrations_planned': data['plan']['migrations'],
        'migrations_lower_bound': data['plan']['lower_bound_migrations'],
        'migrations_per_instance_max': max(per_instance.values(), default=0),
        'instances_moved_more_than_once': sum(
            1 for count in per_instance.values() if count > 1),
    }
