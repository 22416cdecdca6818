"""rollout watch and rollout start's live display, through the real command
line against the simulator: plain lines into a pipe, and a screen redrawn
in place on a real pseudo-terminal (read back through the pyte terminal
emulator)."""

import fcntl
import os
import pty
import re
import struct
import subprocess
import termios

import pyte

from tests.fixtures.config import BIN
from tests.fixtures.simulator import wait_for

ANSI = re.compile(r'\x1b\[')
COLUMNS, ROWS = 150, 50


def _watch(op, timeout=300):
    return op.manage('rollout', 'watch', 'r1', '--interval', '0.2',
                     timeout=timeout)


def test_watch_follows_a_rollout_run_elsewhere_in_plain_lines(operator):
    op = operator(time_scale=100.0)
    plan = op.plan()
    migrations = sum(len(w['moves']) for w in plan['waves'])
    proc = op.start_in_background()
    try:
        wait_for(lambda: op.query("SELECT 1 FROM rollouts WHERE state = "
                                  "'running'"), timeout=60, interval=0.1)
        watched = _watch(op)
        output, _ = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 0, output
    assert watched.returncode == 0, watched.stdout + watched.stderr
    lines = watched.stdout.splitlines()
    assert not ANSI.search(watched.stdout)          # not a terminal
    assert all(re.match(r'\[\d+h\d\dm\d\ds\] ', line) for line in lines[:-1])
    # The steps each host is on, per wave counts, the overall counts.
    assert any(re.search(r'cmp\d+ evacuate: step started', line)
               for line in lines)
    waves = len(plan['waves'])
    for index in range(1, waves + 1):
        assert any(line.endswith('wave %d: 2/2 done' % index)
                   for line in lines), watched.stdout
    assert ('succeeded: hosts 6/6 done | migrations %d/%d'
            % (migrations, migrations)) in watched.stdout
    # A line only when something changed: no two progress lines alike.
    progress = [line.split('] ', 1)[1].split(' | elapsed')[0]
                for line in lines if ' | migrations ' in line]
    assert len(progress) == len(set(progress)) > 2
    assert 'remaining ~' in watched.stdout
    assert lines[-1].startswith('Rollout r1 succeeded: hosts done 6')
    # rollout start showed the same display.
    assert 'succeeded: hosts 6/6 done' in output


def test_watch_exit_code_is_the_rollouts_outcome(operator):
    op = operator()
    op.plan('--max-failed-hosts', '1')
    planned = _watch(op)
    assert planned.returncode == 2
    assert 'planned' in planned.stderr
    assert len(planned.stderr.strip().splitlines()) == 1
    bad = op.host_runs()
    bad = sorted(h for h, r in bad.items() if r['wave'] == 2)[0]
    op.sim.api(op.sim.connect(), 'POST', 'simulator-admin', '/faults',
               json={'fault': {'kind': 'package_fail', 'host': bad,
                               'count': 10}})
    started = op.manage('rollout', 'start', 'r1', timeout=300)
    assert started.returncode == 1, started.stdout + started.stderr
    assert '%s: error' % bad in started.stdout
    # An ended rollout: watch shows it once and gives its outcome.
    watched = _watch(op)
    assert watched.returncode == 1, watched.stdout + watched.stderr
    assert 'succeeded: hosts 5/6 done, 1 failed' in watched.stdout


def _read_all(fd):
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:             # EIO: the other end closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b''.join(chunks).decode('utf-8')


def test_start_redraws_in_place_on_a_terminal(operator):
    op = operator(time_scale=100.0)
    plan = op.plan()
    migrations = sum(len(w['moves']) for w in plan['waves'])
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ,
                struct.pack('HHHH', ROWS, COLUMNS, 0, 0))
    proc = subprocess.Popen(
        [os.path.join(BIN, 'upgrader-manage'), '--config-file', op.config,
         'rollout', 'start', 'r1'], stdin=slave, stdout=slave,
        stderr=subprocess.PIPE, close_fds=True)
    os.close(slave)
    try:
        output = _read_all(master)
        proc.wait(timeout=120)
    finally:
        proc.kill()
        os.close(master)
    assert proc.returncode == 0, proc.stderr.read()
    assert output.startswith('\x1b[?25l')           # cursor hidden
    redraws = re.findall(r'\x1b\[(\d+)F\x1b\[J', output)
    assert len(redraws) >= 3, output
    assert '\x1b[?25h' in output[-200:]             # and shown again
    screen = pyte.Screen(COLUMNS, ROWS)
    pyte.Stream(screen).feed(output)
    shown = [line.rstrip() for line in screen.display if line.strip()]
    # Redrawn in place: one screen, not one per look.
    assert [line.startswith('Rollout r1 (') for line in shown].count(
        True) == 1, shown
    assert shown[1].startswith('Overall: hosts 6/6 done | migrations '
                               '%d/%d' % (migrations, migrations)), shown
    for index in range(1, len(plan['waves']) + 1):
        assert '  wave %d: 2/2 done' % index in shown
    assert 'succeeded' in shown[0]
    assert shown[-1].startswith('Rollout r1 succeeded: hosts done 6')
    # While it ran, the screen showed hosts at their steps.
    assert re.search(r'\n      cmp\d+: (evacuate|reboot|upgrade_packages)',
                     output.replace('\r', ''))


def test_watch_returns_when_the_rollout_waits_for_the_operator(operator):
    op = operator()
    op.plan('--canary')
    proc = op.start_in_background()
    try:
        wait_for(lambda: op.query("SELECT 1 FROM rollouts WHERE state = "
                                  "'running'"), timeout=60, interval=0.1)
        watched = _watch(op)
        aborted = op.manage('rollout', 'abort', 'r1')
        output, _ = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert watched.returncode == 1, watched.stdout + watched.stderr
    assert 'paused: hosts 1/6 done' in watched.stdout
    assert 'Rollout r1 paused' in watched.stdout
    assert aborted.returncode == 0
    assert proc.returncode == 1, output
