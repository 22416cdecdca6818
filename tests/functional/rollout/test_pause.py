"""Pausing a rollout between waves, as an operator does it: upgrader-manage
subprocesses on SQLite, the simulator over real HTTP."""

import subprocess

from tests.fixtures.simulator import wait_for


def _started_waves(op):
    return {r['wave'] for r in op.host_runs().values()
            if r['state'] != 'pending'}


def test_pause_finishes_the_wave_then_resume_goes_on(operator):
    op = operator(time_scale=50.0)
    plan = op.plan()
    assert len(plan['waves']) >= 3
    proc = op.start_in_background(stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True)
    try:
        wait_for(lambda: 'running' in {r['state'] for r in
                                       op.host_runs().values()},
                 timeout=60, interval=0.05)
        paused = op.manage('rollout', 'pause', 'r1')
        assert paused.returncode == 0 and 'paused' in paused.stdout
        again = op.manage('rollout', 'pause', 'r1')
        assert again.returncode == 2 and 'paused' in again.stderr
        wait_for(lambda: any(e['message'].startswith('paused before wave')
                             for e in op.events()), timeout=120,
                 interval=0.1)
        # The wave in flight finished, cleanly; the next one waits.
        runs = op.host_runs().values()
        started = _started_waves(op)
        assert {r['state'] for r in runs if r['wave'] in started} == {'done'}
        assert len(started) < len(plan['waves'])
        status = op.status()
        assert status['state'] == 'paused'
        assert status['paused_reason'] == 'paused by the operator'
        report = op.sim.report()
        assert all(h['status'] == 'enabled' for h in report['hosts'].values())
        assert proc.poll() is None          # its controller is waiting
        resumed = op.manage('rollout', 'resume', 'r1', timeout=300)
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        output, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, output
    report = op.sim.report()
    assert report['violations']['total'] == 0, report['violations']
    assert {h['reboots'] for h in report['hosts'].values()} == {1}
    assert {h['state'] for h in op.hosts().values()} == {'done'}


def test_abort_a_paused_rollout(operator):
    op = operator(time_scale=50.0)
    op.plan()
    proc = op.start_in_background(stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True)
    try:
        wait_for(lambda: 'running' in {r['state'] for r in
                                       op.host_runs().values()},
                 timeout=60, interval=0.05)
        assert op.manage('rollout', 'pause', 'r1').returncode == 0
        wait_for(lambda: any(e['message'].startswith('paused before wave')
                             for e in op.events()), timeout=120,
                 interval=0.1)
        aborted = op.manage('rollout', 'abort', 'r1')
        assert aborted.returncode == 0 and 'aborting' in aborted.stdout
        output, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 1, output
    assert op.status()['state'] == 'aborted'
    assert 'suspended' not in {h['state'] for h in op.hosts().values()}
