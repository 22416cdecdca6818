"""A rollout's live progress in the terminal: rollout start, resume, watch.

Fed by :mod:`upgrader.api` only (status and events), so it shows a rollout
run anywhere: in this process, in another one, or by the conductors. On a
terminal the screen is redrawn in place (ANSI sequences, no curses);
elsewhere plain lines are printed, for what changed only: each new event,
each host that changes state, each finished migration and the counts.
"""

import collections
import datetime
import shutil
import sys
import threading

from oslo_log import log as logging
from oslo_utils import timeutils

from upgrader import api
from upgrader.common import events as event_names
from upgrader.common import states

LOG = logging.getLogger(__name__)

HOST_FINISHED = frozenset([states.HOST_DONE, states.HOST_ERROR,
                           states.HOST_SKIPPED])
MOVE_FINAL = frozenset(['completed', 'failed', 'aborted'])
# Counted after "done", in this order, when there are any.
OTHER_HOST_STATES = ((states.HOST_ERROR, 'failed'),
                     (states.HOST_RUNNING, 'running'),
                     (states.HOST_SUSPENDED, 'suspended'),
                     (states.HOST_PENDING, 'pending'),
                     (states.HOST_SKIPPED, 'skipped'))
RECENT_EVENTS = 6

# ANSI: cursor up N lines to column 1, clear to the end of the screen,
# hide and show the cursor.
CURSOR_UP = '\x1b[%dF'
CLEAR_DOWN = '\x1b[J'
HIDE_CURSOR = '\x1b[?25l'
SHOW_CURSOR = '\x1b[?25h'


def duration(seconds):
    seconds = int(round(seconds or 0))
    return '%dh%02dm%02ds' % (seconds // 3600, seconds // 60 % 60,
                              seconds % 60)


def _time(value):
    return datetime.datetime.fromisoformat(value) if value else None


def elapsed(status, now=None):
    """Seconds since the rollout started (to its end once it ended)."""
    started = _time(status['started_at'])
    if started is None:
        return 0.0
    end = now or timeutils.utcnow()
    if status['state'] not in states.ROLLOUT_ACTIVE:
        end = _time(status['finished_at'] or status['updated_at']) or end
    return max((end - started).total_seconds(), 0.0)


def waves(status):
    """[(index, [host dicts])] in wave order."""
    by_wave = collections.defaultdict(list)
    for host in status['hosts']:
        by_wave[host['wave']].append(host)
    return sorted(by_wave.items())


def done_fraction(status):
    """How far the rollout is, 0 to 1: each wave weighs its predicted
    duration; a finished host counts whole, a running one half."""
    predicted = status['summary'].get('wave_predicted_seconds') or []
    weights, done = 0.0, 0.0
    for index, hosts in waves(status):
        weight = (predicted[index - 1] if index <= len(predicted) else 0) \
            or 1.0
        finished = sum(1.0 if h['state'] in HOST_FINISHED else
                       0.5 if h['state'] == states.HOST_RUNNING else 0.0
                       for h in hosts)
        weights += weight
        done += weight * finished / len(hosts)
    return done / weights if weights else 1.0


def remaining(status, now=None):
    """Predicted seconds left: the plan's prediction until the first host
    progresses, then the pace observed so far over what is left."""
    if status['state'] not in states.ROLLOUT_ACTIVE | {states.PLANNED}:
        return 0.0
    fraction = done_fraction(status)
    spent = elapsed(status, now)
    if fraction >= 1.0:
        return 0.0
    if fraction <= 0.0 or spent <= 0.0:
        return float(status['summary'].get('predicted_seconds') or 0)
    return spent * (1.0 - fraction) / fraction


def host_counts(hosts):
    """'3/6 done, 1 failed, 2 running' for a list of host dicts."""
    counts = collections.Counter(h['state'] for h in hosts)
    parts = ['%d/%d done' % (counts[states.HOST_DONE], len(hosts))]
    parts += ['%d %s' % (counts[state], label)
              for state, label in OTHER_HOST_STATES if counts[state]]
    return ', '.join(parts)


def overall(status, now=None):
    """One line: hosts, migrations, elapsed and remaining time."""
    summary = status['summary']
    return 'hosts %s | migrations %d/%d | elapsed %s, remaining ~%s' % (
        host_counts(status['hosts']),
        summary['migrations'].get('completed', 0),
        summary['migrations_planned'], duration(elapsed(status, now)),
        duration(remaining(status, now)))


def event_line(event):
    return '%s%s: %s' % (event['host'] or 'rollout',
                         ' %s' % event['step'] if event['step'] else '',
                         event['message'])


def screen(status, recent, now=None):
    """The lines of the live screen."""
    lines = ['Rollout %s (%s): %s, template %s, release %s' % (
        status['name'], status['uuid'], status['state'],
        status['template_name'], status['to_release']),
        'Overall: ' + overall(status, now)]
    for index, hosts in waves(status):
        lines.append('  wave %d: %s' % (index, host_counts(hosts)))
        lines += ['      %s: %s' % (h['host'], h['step'] or 'starting')
                  for h in hosts if h['state'] == states.HOST_RUNNING]
    if status['paused_reason'] and status['state'] == states.PAUSED:
        lines.append('Paused: %s' % status['paused_reason'])
    if status['error']:
        lines.append('Error: %s' % status['error'])
    if recent:
        lines.append('Recent events:')
        lines += ['  %s %s' % (e['created_at'][11:19], event_line(e))
                  for e in recent]
    return lines


class PlainDisplay:
    """Plain lines, only for what changed (logs, pipes, CI)."""

    def __init__(self, out=None):
        self.out = out or sys.stdout
        self.hosts = None
        self.moves = None
        self.waves = {}
        self.last = None
        self.stage = None

    def _print(self, status, line):
        print('[%s] %s' % (duration(elapsed(status)), line), file=self.out,
              flush=True)

    def update(self, status, new_events):
        for event in new_events:
            self._print(status, event_line(event))
        if status.get('stage') != self.stage:
            # A release train's next stage: other hosts, other waves.
            self.stage, self.hosts, self.moves, self.waves = (
                status.get('stage'), None, None, {})
        hosts = {h['host']: h for h in status['hosts']}
        moves = {m['id']: m for m in status['moves']}
        if self.hosts is not None:
            for name, host in hosts.items():
                if host['state'] != self.hosts[name]['state']:
                    self._print(status, '%s: %s%s' % (
                        name, host['state'],
                        ' (%s)' % host['error'] if host['error'] else ''))
            for ident, move in moves.items():
                old = self.moves.get(ident, {}).get('state')
                if move['state'] in MOVE_FINAL and old != move['state']:
                    self._print(status, '%s: %s %s -> %s %s' % (
                        move['source_host'],
                        move['instance_name'] or move['instance_uuid'],
                        move['source_host'],
                        move['dest_host'] or move['planned_host'],
                        move['state']))
        self.hosts, self.moves = hosts, moves
        for index, wave_hosts in waves(status):
            line = 'wave %d: %s' % (index, host_counts(wave_hosts))
            if self.waves.get(index) != line:
                if index in self.waves or any(
                        h['state'] != states.HOST_PENDING
                        for h in wave_hosts):
                    self._print(status, line)
                self.waves[index] = line
        line = '%s: %s' % (status['state'], overall(status))
        # Only the counts decide whether to print: not the clock.
        key = (status['state'], line.split(' | elapsed')[0])
        if key != self.last:
            self.last = key
            self._print(status, line)

    def close(self):
        pass


class TerminalDisplay:
    """A screen redrawn in place on a terminal."""

    def __init__(self, out=None):
        self.out = out or sys.stdout
        self.recent = collections.deque(maxlen=RECENT_EVENTS)
        self.drawn = 0

    def update(self, status, new_events):
        self.recent.extend(new_events)
        width = shutil.get_terminal_size().columns
        # Cut to the width: a wrapped line would throw the redraw off.
        lines = [line[:max(width - 1, 10)]
                 for line in screen(status, list(self.recent))]
        text = (CURSOR_UP % self.drawn if self.drawn else HIDE_CURSOR)
        text += CLEAR_DOWN + '\n'.join(lines) + '\n'
        self.out.write(text)
        self.out.flush()
        self.drawn = len(lines)

    def close(self):
        self.out.write(SHOW_CURSOR)
        self.out.flush()


def make_display(out=None):
    out = out or sys.stdout
    return TerminalDisplay(out) if out.isatty() else PlainDisplay(out)


class Follower:
    """Feeds a display from the API, one look at a time."""

    def __init__(self, conf, rollout, display):
        self.conf = conf
        self.rollout = rollout
        self.display = display
        self.last_event = None

    def look(self):
        """Update the display once; return the status shown."""
        status = api.status(self.conf, self.rollout)
        new = api.events(self.conf, self.rollout, after_id=self.last_event)
        if new:
            self.last_event = new[-1]['id']
        self.display.update(status, new)
        return status


def waits_for_operator(status):
    """Whether only an operator moves the rollout on: ended, or paused
    for anything but its maintenance window (which opens by itself)."""
    if status['state'] == states.PAUSED:
        return not (status['paused_reason'] or '').startswith(
            event_names.WINDOW_WAIT)
    return status['state'] not in states.ROLLOUT_ACTIVE


def watch(conf, rollout, display, interval=0.5, until=waits_for_operator):
    """Show the rollout until ``until(status)``; return the last status."""
    follower = Follower(conf, rollout, display)
    stop = threading.Event()
    try:
        while True:
            status = follower.look()
            if until(status):
                return status
            stop.wait(interval)
    finally:
        display.close()


def while_running(conf, rollout, display, call, interval=0.5):
    """Run ``call()`` (which drives the rollout) while a thread shows its
    progress; return what it returns. The display never stops the call."""
    follower = Follower(conf, rollout, display)
    stop = threading.Event()

    def show():
        while not stop.wait(interval):
            try:
                follower.look()
            except Exception:
                LOG.exception('Progress display failed')

    thread = threading.Thread(target=show, name='progress', daemon=True)
    thread.start()
    failed = True
    try:
        result = call()
        failed = False
    finally:
        stop.set()
        thread.join()
        if failed:
            display.close()     # the error says the rest
    try:
        follower.look()             # the last events, the final counts
    finally:
        display.close()
    return result
