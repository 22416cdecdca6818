"""A rollout scheduled with rollout start --at and the job board enabled:
started by the conductors at its time, by exactly one of them, and its
notifications sent by the conductors that ran it."""

import datetime
import json

from tests.fixtures.conductors import Conductors
from tests.fixtures.simulator import wait_for
from tests.fixtures import webhooks


def test_conductors_start_a_scheduled_rollout_once(operator, zookeeper,
                                                   tmp_path):
    with webhooks.Receiver() as hook:
        _run_scheduled_on_board(operator, zookeeper, tmp_path, hook)


def _run_scheduled_on_board(operator, zookeeper, tmp_path, hook):
    op = operator(time_scale=200.0, config={
        'notifications': {'webhook_urls': hook.url},
        'jobboard': {'enabled': 'true', 'hosts': zookeeper.hosts,
                     'path': zookeeper.path('board'),
                     'session_timeout': '10'},
        'scheduler': {'poll_interval': '0.2'}})
    conductors = Conductors(op.config, str(tmp_path))
    try:
        conductors.start(2)
        op.plan()
        at = (datetime.datetime.now(datetime.timezone.utc)
              + datetime.timedelta(seconds=3))
        scheduled = op.ok('rollout', 'start', 'r1', '--at', at.isoformat())
        assert 'Rollout r1 starts at' in scheduled.stdout
        wait_for(lambda: op.query("SELECT 1 FROM rollouts WHERE state = "
                                  "'succeeded'"), timeout=300, interval=0.5)
        logs = [open(p.log.name).read() for p in conductors.procs]
    finally:
        conductors.stop()
    posted = sum(log.count('Schedule due: posting rollout r1')
                 for log in logs)
    assert posted == 1, logs
    status = op.status()
    started = datetime.datetime.fromisoformat(status['started_at'])
    assert started >= at.replace(tzinfo=None)
    [schedule] = json.loads(op.ok('rollout', 'schedule-list', '--format',
                                  'json').stdout)
    assert (schedule['state'], schedule['last_rollout']) == (
        'done', status['uuid'])
    report = op.sim.report()
    assert report['violations']['total'] == 0, report['violations']
    assert {h['reboots'] for h in report['hosts'].values()} == {1}
    waves = status['summary']['waves']
    assert hook.event_types() == (['upgrader.rollout.start']
                                  + ['upgrader.wave.end'] * waves
                                  + ['upgrader.rollout.end'])
