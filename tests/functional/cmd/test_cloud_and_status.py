"""upgrader-manage cloud inventory and upgrader-status, as operators run them,
against the simulator over HTTP."""

import json

import pytest

from tests.fixtures.config import run
from tests.fixtures.config import write_config


@pytest.fixture
def config(simulator, tmp_path):
    return write_config(tmp_path / 'upgrader.conf', simulator)


def _one_line_error(result, text):
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith('ERROR: ') and text in lines[0], lines[0]


def test_inventory_table_and_json(simulator, config):
    table = run('upgrader-manage', config, 'cloud', 'inventory',
                '--instances')
    assert table.returncode == 0, table.stderr
    assert '6 hosts, 24 instances' in table.stdout
    assert 'no: ' in table.stdout           # non-live-migratable shown
    result = run('upgrader-manage', config, 'cloud', 'inventory',
                 '--format', 'json', '--instances')
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert len(data['hosts']) == 6 and len(data['instances']) == 24
    for host in data['hosts']:
        assert host['name'] in table.stdout
        assert host['instance_count'] == sum(
            1 for i in data['instances'] if i['host'] == host['name'])


def test_inventory_never_prints_the_password(simulator, config):
    result = run('upgrader-manage', config, '--debug', 'cloud', 'inventory')
    assert result.returncode == 0, result.stderr
    secret = simulator.credentials['password']
    assert secret not in result.stdout + result.stderr


def test_unknown_cloud_name(simulator, tmp_path):
    config = write_config(tmp_path / 'x.conf', simulator,
                          cloud={'cloud': 'nosuch'})
    _one_line_error(run('upgrader-manage', config, 'cloud', 'inventory'),
                    'nosuch')


def test_wrong_credentials(simulator, tmp_path):
    bad = tmp_path / 'clouds-bad.yaml'
    bad.write_text(open(simulator.clouds_yaml).read().replace(
        simulator.credentials['password'], 'not-the-password'))
    config = write_config(tmp_path / 'x.conf', simulator,
                          cloud={'clouds_file': str(bad)})
    result = run('upgrader-manage', config, 'cloud', 'inventory')
    _one_line_error(result, 'Authentication')
    assert 'not-the-password' not in result.stderr


def test_unreachable_cloud(simulator, config):
    simulator.server.stop()
    _one_line_error(run('upgrader-manage', config, 'cloud', 'inventory'),
                    'unreachable')


def test_status_check_passes_once_synced(simulator, config):
    before = run('upgrader-status', config, 'upgrade', 'check')
    assert before.returncode == 2
    assert 'db sync' in before.stdout
    for category in ('db', 'persistence'):
        sync = run('upgrader-manage', config, category, 'sync')
        assert sync.returncode == 0, sync.stderr
    after = run('upgrader-status', config, 'upgrade', 'check', '--json')
    assert after.returncode == 0, after.stdout + after.stderr
    checks = json.loads(after.stdout)['checks']
    assert [c['check'] for c in checks] == [
        'Database schema', 'TaskFlow persistence', 'Job board', 'Cloud']
    assert all(c['result'] == 0 for c in checks)


def test_status_check_fails_on_unreachable_cloud(simulator, config):
    for category in ('db', 'persistence'):
        assert run('upgrader-manage', config, category, 'sync').returncode == 0
    simulator.server.stop()
    result = run('upgrader-status', config, 'upgrade', 'check')
    assert result.returncode == 2
    assert 'unreachable' in result.stdout


def test_status_checks_the_job_board(simulator, zookeeper, tmp_path):
    config = write_config(tmp_path / 'x.conf', simulator, jobboard={
        'enabled': 'true', 'hosts': zookeeper.hosts,
        'session_timeout': '10'})
    for category in ('db', 'persistence'):
        assert run('upgrader-manage', config, category, 'sync').returncode == 0
    result = run('upgrader-status', config, 'upgrade', 'check', '--json')
    assert result.returncode == 0, result.stdout + result.stderr
    board = [c for c in json.loads(result.stdout)['checks']
             if c['check'] == 'Job board'][0]
    assert board['result'] == 0 and 'ZooKeeper 3.' in board['details']
    down = write_config(tmp_path / 'y.conf', simulator, jobboard={
        'enabled': 'true', 'hosts': '127.0.0.1:1', 'session_timeout': '2'})
    result = run('upgrader-status', down, 'upgrade', 'check')
    assert result.returncode == 2
    assert '127.0.0.1:1 unavailable' in result.stdout
