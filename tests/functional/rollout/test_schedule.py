"""Scheduled rollouts through the real command line on the simulator: a
planned rollout started at a time (by the command that waits, or by
rollout run-scheduled, never both), and a recurring schedule re-planning
for each occurrence."""

import datetime
import json
import os
import signal
import subprocess

from tests.fixtures.config import BIN


def _in(seconds):
    return (datetime.datetime.now(datetime.timezone.utc)
            + datetime.timedelta(seconds=seconds)).isoformat()


def _schedules(op):
    return json.loads(op.ok('rollout', 'schedule-list', '--format',
                            'json').stdout)


def _all_upgraded_once(op):
    report = op.sim.report()
    assert report['instances_killed'] == 0
    assert report['violations']['total'] == 0, report['violations']
    assert report['migrations']['per_instance_max'] == 1
    assert {h['reboots'] for h in report['hosts'].values()} == {1}


def test_start_at_waits_and_only_one_process_starts_it(operator):
    op = operator()
    op.plan()
    at = _in(4)
    runner = subprocess.Popen(
        [os.path.join(BIN, 'upgrader-manage'), '--config-file', op.config,
         'rollout', 'start', 'r1', '--at', at, '--wait'], stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True)
    # A second process acting on schedules races it for the same start.
    rival = subprocess.Popen(
        [os.path.join(BIN, 'upgrader-manage'), '--config-file', op.config,
         'rollout', 'run-scheduled', '--wait'], stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True)
    try:
        output, _ = runner.communicate(timeout=300)
    finally:
        runner.kill()
        rival.send_signal(signal.SIGINT)
        rival_output, _ = rival.communicate(timeout=60)
    assert runner.returncode == 0, output + rival_output
    assert 'Rollout r1 starts at %s' % at[:19] in output
    assert 'Rollout r1 succeeded' in output     # ran it or followed it
    status = op.status()
    assert status['state'] == 'succeeded'
    started = datetime.datetime.fromisoformat(status['started_at'])
    assert started >= datetime.datetime.fromisoformat(at).replace(
        tzinfo=None)
    _all_upgraded_once(op)
    [schedule] = _schedules(op)
    assert (schedule['state'], schedule['rollout'],
            schedule['last_rollout']) == ('done', 'r1', status['uuid'])
    # Nothing more to do for anyone.
    again = op.ok('rollout', 'run-scheduled')
    assert 'Nothing more is due.' in again.stdout


def test_recurring_schedule_replans_each_occurrence_once(operator):
    op = operator()
    first = _in(-1)
    created = op.ok('rollout', 'schedule', '--template',
                    'compute-rolling-reboot', '--every', '1 hour', '--at',
                    first, '--max-parallel', '2', '--name', 'monthly-ish',
                    '--hosts', 'cmp001,cmp002')
    assert 'Schedule monthly-ish: every 1 hour' in created.stdout
    ran = op.manage('rollout', 'run-scheduled', timeout=300)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    rollouts = json.loads(op.ok('rollout', 'list', '--format',
                                'json').stdout)
    assert len(rollouts) == 1
    assert rollouts[0]['name'].startswith('monthly-ish-')
    assert rollouts[0]['state'] == 'succeeded'
    assert rollouts[0]['template_name'] == 'compute-rolling-reboot'
    assert {r['host'] for r in op.query('SELECT host FROM host_runs')} \
        == {'cmp001', 'cmp002'}
    [schedule] = _schedules(op)
    assert schedule['state'] == 'scheduled'
    assert schedule['last_rollout'] == rollouts[0]['uuid']
    due = datetime.datetime.fromisoformat(first).replace(tzinfo=None)
    assert datetime.datetime.fromisoformat(schedule['next_run_at']) == \
        due + datetime.timedelta(hours=1)
    # The occurrence is taken: running again starts nothing.
    again = op.ok('rollout', 'run-scheduled')
    assert 'Nothing more is due.' in again.stdout
    assert len(json.loads(op.ok('rollout', 'list', '--format',
                                'json').stdout)) == 1
    op.ok('rollout', 'unschedule', 'monthly-ish')
    assert _schedules(op)[0]['state'] == 'cancelled'


def test_bad_schedules_are_refused_in_one_line(operator):
    op = operator()
    op.plan()
    for argv, message in [
            (('rollout', 'start', 'r1', '--at', 'tomorrow'), 'ISO 8601'),
            (('rollout', 'schedule', '--template', 'compute-rolling-reboot',
              '--every', 'fortnight', '--at', _in(60)), '--every'),
            (('rollout', 'schedule', '--template', 'no-such-template',
              '--every', 'month', '--at', _in(60)), 'no-such-template')]:
        result = op.manage(*argv)
        assert result.returncode == 2, result.stdout + result.stderr
        assert message in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    assert _schedules(op) == []
    op.ok('rollout', 'start', 'r1', '--at', _in(3600))
    twice = op.manage('rollout', 'start', 'r1', '--at', _in(60))
    assert twice.returncode == 2 and 'already scheduled' in twice.stderr
