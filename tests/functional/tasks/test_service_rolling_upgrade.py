"""The service-rolling-upgrade template's host flows against the
simulator's control plane over real HTTP, one controller after another as
the rollout's waves run them: expand and the backup on the first
controller only, the data migrations on the last one only, and the
referee's probes after every change."""

import os

import pytest
from taskflow import engines

from upgrader.common import exception
from upgrader.common import keys
from upgrader.tasks import base
from upgrader.workflow import flows
from upgrader.workflow import templates

from tests.functional.tasks.test_service_update import cloud  # noqa: F401
from tests.functional.tasks.test_service_update import HOSTS


class Keeping(base.Recorder):
    """Keeps the events the tasks record: (host, step, message)."""

    def __init__(self):
        self.events = []

    def event(self, rollout_id, host, step, message, level='INFO'):
        self.events.append((host, step, message))


def _template():
    with open(os.path.join(templates.shipped_dir(),
                           'service-rolling-upgrade.yaml')) as f:
        return f.read()


def _run(host, versions, rollout='r1'):
    engines.run(flows.host_flow(host, _template()),
                store=flows.host_store(rollout, host, [], versions))


def _steps(recorder, step):
    return [(h, m) for h, s, m in recorder.events if s == step]


def test_keystone_across_three_controllers(cloud):  # noqa: F811
    simulator, driver = cloud
    recorder = base.get_runtime().recorder = Keeping()
    target = {'keystone': '27.0.0', 'qemu': '8.2.2'}
    for index, host in enumerate(HOSTS):
        _run(host, target)
        db = driver.database('keystone')
        # The schema serves both generations while the roll goes on; the
        # data migrations wait for the last controller.
        assert (db['expanded'], db['contracted']) == (27, 26)
        assert db['migrated'] == (27 if index == len(HOSTS) - 1 else 26)
    assert {h: (s['version'], s['in_lb'], s['healthy'])
            for h, s in ((h, driver.host_services(h)['keystone'])
                         for h in HOSTS)} == dict.fromkeys(
                             HOSTS, ('27.0.0', True, True))
    # Once each, on the first and the last controller.
    assert _steps(recorder, 'expand_schema') == [
        ('ctl001', 'expanded database keystone to generation 27')]
    [(host, message)] = _steps(recorder, 'backup_database')
    assert host == 'ctl001' and message.startswith('backup 1 of database '
                                                   'keystone taken')
    assert _steps(recorder, 'migrate_data') == [
        ('ctl003', 'data of database keystone migrated to generation 27')]
    # Every host remembers the one backup, for a rollback after contract.
    assert [recorder.recall('r1', h, keys.SERVICE_BACKUPS)
            for h in HOSTS] == [{'keystone': 1}] * len(HOSTS)
    assert [b['label'] for b in driver.backups('keystone')] == ['r1']
    # Nova's database was not touched.
    assert driver.database('nova-api')['expanded'] == 30
    report = simulator.report()
    assert report['control_plane']['failed_probes'] == 0
    assert report['control_plane']['incompatible'] == 0
    assert report['violations']['total'] == 0

    # Run again (a resumed rollout): nothing more is done.
    _run('ctl003', target)
    assert len(_steps(recorder, 'migrate_data')) == 1
    assert len(driver.backups('keystone')) == 1


def test_preflight_refuses_a_skew_of_two_generations(cloud):  # noqa: F811
    simulator, driver = cloud
    with pytest.raises(exception.Conflict, match='2 schema generation'):
        _run('ctl001', {'keystone': '28.0.0'})
    db = driver.database('keystone')
    assert (db['expanded'], db['contracted']) == (26, 26)
    assert driver.backups('keystone') == []
    assert driver.host_services('ctl001')['keystone']['version'] == '26.0.0'
