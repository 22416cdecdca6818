"""An operator's controls over a rollout (pause, resume, abort, retry-host,
skip-host): upgrader-manage subprocesses on SQLite, the simulator over real
HTTP, its referee as judge."""

import datetime
import json

import pytest

from tests.fixtures.operator import FAST
from tests.fixtures.simulator import wait_for


def _started_waves(op):
    return {r['wave'] for r in op.host_runs().values()
            if r['state'] != 'pending'}


def test_pause_finishes_the_wave_then_resume_goes_on(operator):
    op = operator(time_scale=50.0)
    plan = op.plan()
    assert len(plan['waves']) >= 3
    proc = op.start_in_background()
    try:
        wait_for(lambda: 'running' in {r['state'] for r in
                                       op.host_runs().values()},
                 timeout=60, interval=0.05)
        paused = op.manage('rollout', 'pause', 'r1')
        assert paused.returncode == 0 and 'paused' in paused.stdout
        again = op.manage('rollout', 'pause', 'r1')
        assert again.returncode == 2 and 'paused' in again.stderr
        op.sim.set_time_scale(FAST)     # paused mid-wave: the rest can fly
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
    proc = op.start_in_background()
    try:
        wait_for(lambda: 'running' in {r['state'] for r in
                                       op.host_runs().values()},
                 timeout=60, interval=0.05)
        assert op.manage('rollout', 'pause', 'r1').returncode == 0
        op.sim.set_time_scale(FAST)
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


def _fault(op, host):
    op.sim.api(op.sim.connect(), 'POST', 'simulator-admin', '/faults',
               json={'fault': {'kind': 'package_fail', 'host': host,
                               'package': 'qemu', 'count': 1}})


def _start_until_paused(op):
    proc = op.start_in_background()
    paused = wait_for(lambda: op.query(
        "SELECT paused_reason FROM rollouts WHERE state = 'paused'"),
        timeout=120, interval=0.1)
    return proc, paused[0]['paused_reason']


def _resume_to_the_end(op, proc):
    """rollout resume; the background start's output once it ended well."""
    resumed = op.manage('rollout', 'resume', 'r1', timeout=300)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, output
    return output


def _each_host_upgraded_once(op, hosts=None):
    report = op.sim.report()
    assert report['violations']['total'] == 0, report['violations']
    assert {report['hosts'][h]['reboots']
            for h in hosts or report['hosts']} == {1}
    assert {h['state'] for h in op.hosts().values()} == {'done'}


def _fail_once(op, plan):
    """Make a host of wave 2 fail its package install once; its name."""
    bad = next(h for w in plan['waves'][1:] for h in w['hosts']
               if any(m['source'] == h for m in w['moves']))
    _fault(op, bad)
    return bad


def test_retry_a_failed_host_then_resume(operator):
    op = operator()
    plan = op.plan()
    bad = _fail_once(op, plan)
    failed = op.manage('rollout', 'start', 'r1')
    assert failed.returncode == 2, failed.stdout + failed.stderr
    assert op.hosts()[bad]['state'] == 'error'
    running = op.manage('rollout', 'retry-host', 'r1', 'cmp-nosuch')
    assert running.returncode == 2 and 'cmp-nosuch' in running.stderr
    done = next(h for h, r in op.hosts().items() if r['state'] == 'done')
    refused = op.manage('rollout', 'retry-host', 'r1', done)
    assert refused.returncode == 2 and 'is done' in refused.stderr
    retried = op.manage('rollout', 'retry-host', 'r1', bad)
    assert retried.returncode == 0, retried.stderr
    assert op.hosts()[bad]['state'] == 'pending'
    resumed = op.manage('rollout', 'resume', 'r1', timeout=300)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    report = op.sim.report()
    assert report['violations']['total'] == 0, report['violations']
    assert report['instances_killed'] == 0
    # Its first attempt reverted before the reboot: one reboot in all.
    assert {h['reboots'] for h in report['hosts'].values()} == {1}
    assert {h['state'] for h in op.hosts().values()} == {'done'}


def test_skip_a_failed_host_then_resume(operator):
    op = operator()
    plan = op.plan()
    bad = _fail_once(op, plan)
    assert op.manage('rollout', 'start', 'r1').returncode == 2
    skipped = op.manage('rollout', 'skip-host', 'r1', bad)
    assert skipped.returncode == 0, skipped.stderr
    resumed = op.manage('rollout', 'resume', 'r1', timeout=300)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    hosts = op.hosts()
    assert hosts[bad]['state'] == 'skipped'
    assert {r['state'] for h, r in hosts.items() if h != bad} == {'done'}
    report = op.sim.report()
    assert report['violations']['total'] == 0, report['violations']
    assert report['hosts'][bad]['status'] == 'enabled'
    assert report['hosts'][bad]['reboots'] == 0


def test_canary_waits_for_approval(operator):
    op = operator()
    plan = op.plan('--canary', '--max-failed-hosts', '20%')
    assert len(plan['waves'][0]['hosts']) == 1 and plan['waves'][0]['canary']
    canary = plan['waves'][0]['hosts'][0]
    proc = op.start_in_background()
    try:
        wait_for(lambda: op.query("SELECT 1 FROM rollouts WHERE state = "
                                  "'paused'"), timeout=120, interval=0.1)
        status = op.status()
        assert 'canary' in status['paused_reason']
        assert {h['host']: h['state'] for h in status['hosts']
                if h['state'] != 'pending'} == {canary: 'done'}
        assert status['policy']['max_failed_hosts'] == '20%'
        resumed = op.manage('rollout', 'resume', 'r1', timeout=300)
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        output, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, output
    assert {h['state'] for h in op.hosts().values()} == {'done'}
    assert op.sim.report()['violations']['total'] == 0


def test_canary_soak_goes_on_by_itself(operator):
    op = operator()
    op.plan('--canary', '--canary-soak', '1', '--pause-between-waves', '0.5')
    result = op.manage('rollout', 'start', 'r1', timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert 'soaking 1.0 s after the canary wave' in result.stdout
    assert 'soaking 0.5 s before wave 3' in result.stdout
    assert {h['state'] for h in op.hosts().values()} == {'done'}


@pytest.mark.parametrize('option, value, message', [
    ('--max-failed-hosts', '120%', 'max_failed_hosts'),
    ('--max-unavailable-per-az', '0', 'max_unavailable_per_az'),
    ('--first-hosts', 'cmp-nosuch', 'cmp-nosuch'),
    ('--canary-soak', '-1', 'canary_soak_seconds'),
])
def test_bad_policy_is_refused_and_stores_nothing(operator, option, value,
                                                  message):
    op = operator()
    result = op.manage('rollout', 'plan', '--template',
                       'compute-rolling-upgrade', '--to', 'new', option,
                       value)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert op.manage('rollout', 'list', '--format',
                     'json').stdout.strip() == '[]'


def test_waits_for_the_maintenance_window_then_goes_on(operator):
    op = operator()
    # Planning and starting must both happen before the window opens: two
    # CLI starts, up to 3 s each on a loaded machine.
    opens = datetime.datetime.now(datetime.timezone.utc) + \
        datetime.timedelta(seconds=15)
    closes = opens + datetime.timedelta(hours=2)
    op.plan('--window', '%s-%s UTC' % (opens.strftime('%H:%M:%S'),
                                        closes.strftime('%H:%M:%S')))
    proc = op.start_in_background()
    try:
        paused = wait_for(lambda: op.query(
            "SELECT paused_reason FROM rollouts WHERE state = 'paused'"),
            timeout=60, interval=0.1)
        assert 'maintenance window' in paused[0]['paused_reason']
        output, _ = proc.communicate(timeout=300)
    finally:
        proc.kill()
    assert proc.returncode == 0, output
    assert 'maintenance window open' in output
    started = min(r['started_at'] for r in op.query(
        'SELECT started_at FROM host_runs'))
    assert started >= opens.strftime('%Y-%m-%d %H:%M:%S')
    assert {h['state'] for h in op.hosts().values()} == {'done'}


def test_a_wave_longer_than_the_window_is_refused_at_plan_time(operator):
    op = operator()
    result = op.manage('rollout', 'plan', '--template',
                       'compute-rolling-upgrade', '--to', 'new', '--window',
                       '01:00-01:05')
    assert result.returncode == 2, result.stdout + result.stderr
    assert 'longer than the 300 s maintenance window' in result.stderr


def test_the_next_plan_learns_durations_from_this_cloud(operator):
    op = operator()
    first = op.plan()
    assert op.manage('rollout', 'start', 'r1', timeout=300).returncode == 0
    second = json.loads(op.ok(
        'rollout', 'plan', '--template', 'compute-rolling-upgrade', '--to',
        'new', '--max-parallel', '2', '--name', 'r2', '--format',
        'json').stdout)
    assert second['policy']['learned_from'] == ['r1']
    learned = second['policy']['step_seconds']
    # The simulator runs 1000 times faster than the defaults assume.
    assert learned['reboot'] < 10
    assert second['plan']['predicted_seconds'] < \
        first['predicted_seconds'] / 10


def test_over_the_failure_budget_pauses_then_retry_in_place(operator):
    op = operator()
    plan = op.plan('--on-failure', 'pause')
    bad = _fail_once(op, plan)
    proc, reason = _start_until_paused(op)
    try:
        assert bad in reason
        assert op.hosts()[bad]['state'] == 'error'
        assert op.manage('rollout', 'retry-host', 'r1', bad).returncode == 0
        _resume_to_the_end(op, proc)
    finally:
        proc.kill()
    _each_host_upgraded_once(op)


def test_a_host_of_an_earlier_wave_retried_during_a_pause_runs_on_resume(
        operator):
    op = operator()
    # Zone az2's empty cmp006 goes first; nothing lands on it later (the
    # other hosts are in az1), so it can be retried in place.
    plan = op.plan('--on-failure', 'pause', '--max-failed-hosts', '1',
                   '--hosts', 'cmp001,cmp002,cmp003,cmp006',
                   '--first-hosts', 'cmp006')
    assert plan['waves'][0]['hosts'][0] == 'cmp006'
    late = plan['waves'][1]['hosts'][0]
    for host in ('cmp006', late):
        _fault(op, host)
    proc, reason = _start_until_paused(op)
    try:
        # wave 1's failure is within the budget; wave 2's is one too many.
        assert 'cmp006' in reason and late in reason
        for host in ('cmp006', late):
            assert op.manage('rollout', 'retry-host', 'r1',
                             host).returncode == 0
        _resume_to_the_end(op, proc)
    finally:
        proc.kill()
    _each_host_upgraded_once(op, ['cmp001', 'cmp002', 'cmp003', 'cmp006'])


def test_a_failed_host_later_waves_moved_instances_onto_is_not_retried(
        operator):
    op = operator()
    plan = op.plan('--on-failure', 'pause', '--max-failed-hosts', '1')
    early = plan['waves'][0]['hosts'][0]
    assert any(m['destination'] == early for m in plan['waves'][1]['moves'])
    late = plan['waves'][1]['hosts'][0]
    for host in (early, late):
        _fault(op, host)
    proc, reason = _start_until_paused(op)
    try:
        refused = op.manage('rollout', 'retry-host', 'r1', early)
        assert refused.returncode == 2
        assert 'its plan does not drain' in refused.stderr
        assert op.hosts()[early]['state'] == 'error'    # nothing changed
        assert op.manage('rollout', 'skip-host', 'r1',
                         early).returncode == 0
        assert op.manage('rollout', 'retry-host', 'r1', late).returncode == 0
        _resume_to_the_end(op, proc)
    finally:
        proc.kill()
    hosts = op.hosts()
    assert hosts[early]['state'] == 'skipped'
    assert {r['state'] for h, r in hosts.items() if h != early} == {'done'}
    assert op.sim.report()['violations']['total'] == 0
