"""The simulator as processes: upgrader-simulator serve, CLI commands, one
state file shared by a subprocess server, an in-process server and the CLI."""

import json
import os
import subprocess
import sys

import pytest
import yaml

from tests.fixtures.simulator import SimulatedCloud
from tests.fixtures.simulator import wait_for
from upgrader.cmd import simulator as simulator_cmd
from upgrader.simulator import generate
from upgrader.simulator import server as sim_server

# openstacksdk's own deprecations (e.g. the pre-2.88 hypervisor fields).
pytestmark = [pytest.mark.filterwarnings('ignore::DeprecationWarning'),
              pytest.mark.filterwarnings(
                  'ignore::PendingDeprecationWarning')]
BIN = os.path.dirname(sys.executable)


def _cli(*argv):
    return subprocess.run([os.path.join(BIN, 'upgrader-simulator')]
                          + list(argv), capture_output=True, text=True,
                          timeout=60)


@pytest.fixture
def cli(capsys):
    """upgrader-simulator run in-process (a subprocess costs 0.5 s)."""
    def run(*argv):
        try:
            code = simulator_cmd.run(list(argv))
        except SystemExit as e:
            code = e.code
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(argv, code, out, err)
    return run


def _one_line_error(result, text):
    assert result.returncode == 2, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('ERROR: '), result.stderr
    assert text in lines[0]


def test_subprocess_and_thread_share_one_state(tmp_path):
    state_file = str(tmp_path / 'cloud.db')
    generate.create_cloud(state_file, hosts=4, instances=8,
                          anti_affinity_groups=1, seed=3)
    with sim_server.start_subprocess(state_file) as child, \
            sim_server.SimulatorServer(state_file) as local:
        clouds = str(tmp_path / 'clouds.yaml')
        child.write_clouds_yaml(clouds, 'child')
        local.write_clouds_yaml(clouds, 'local')
        assert set(yaml.safe_load(open(clouds))['clouds']) == {'child',
                                                               'local'}
        via_child = SimulatedCloud(state_file, clouds, 'child', child)
        via_local = SimulatedCloud(state_file, clouds, 'local', local)
        a, b = via_child.connect(), via_local.connect()
        svc = list(a.compute.services(binary='nova-compute',
                                      host='cmp002'))[0]
        a.compute.disable_service(svc, disabled_reason='from the child')
        seen = list(b.compute.services(binary='nova-compute',
                                       host='cmp002'))[0]
        assert seen.disabled_reason == 'from the child'
        # A live migration started through one server ends seen by the other.
        server = [s for s in b.compute.servers(details=True,
                                               all_projects=True)
                  if not s.metadata][0]
        a.compute.live_migrate_server(server.id, block_migration='auto')
        wait_for(lambda: b.compute.get_server(server.id).status == 'ACTIVE')
        report = _cli('report', '--state', state_file, '--format', 'json')
    assert child.process.returncode is not None
    data = json.loads(report.stdout)
    assert data['migrations']['per_instance'] == {server.id: 1}
    assert data['violations']['by_kind']['host_left_disabled'] == 1
    assert report.returncode == 1


def test_cli_create_fault_policy_report(tmp_path, cli):
    state_file = str(tmp_path / 'c.db')
    created = cli('create', '--state', state_file, '--hosts', '5',
                   '--instances', '12', '--azs', '1', '--seed', '9',
                   '--password', 'pw', '--package', 'nova-compute=28.0.0',
                   '--fault', '{"kind": "reboot_no_return", "host": "cmp001"}',
                   '--format', 'json')
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)['hosts'] == 5
    _one_line_error(cli('create', '--state', state_file), 'already exists')
    added = cli('fault', 'add', '--state', state_file, '--kind',
                 'api_error', '--path', 'servers', '--count', '2',
                 '--format', 'json')
    assert added.returncode == 0, added.stderr
    listed = json.loads(cli('fault', 'list', '--state', state_file,
                             '--format', 'json').stdout)
    assert [f['kind'] for f in listed] == ['reboot_no_return', 'api_error']
    _one_line_error(cli('fault', 'add', '--state', state_file, '--kind',
                         'api_slow', '--path', 'x'), 'needs delay')
    assert cli('fault', 'delete', '--state', state_file,
                str(json.loads(added.stdout)['id'])).returncode == 0
    _one_line_error(cli('fault', 'delete', '--state', state_file, '99'),
                    'fault 99')
    policy = cli('policy', '--state', state_file,
                  '--max-hosts-out-of-service', '2',
                  '--max-hosts-out-of-service-per-aggregate', '1')
    assert json.loads(policy.stdout)['max_hosts_out_of_service'] == 2
    assert json.loads(policy.stdout)[
        'max_hosts_out_of_service_per_aggregate'] == 1
    report = cli('report', '--state', state_file, '--format', 'json')
    data = json.loads(report.stdout)
    assert report.returncode == 0 and data['ok']
    assert data['package_versions'] == {'nova-compute': {'28.0.0': 5}}
    table = cli('report', '--state', state_file)
    assert 'Referee report' in table.stdout and 'cmp005' in table.stdout
    clouds = cli('clouds-yaml', '--state', state_file, '--url',
                  'http://127.0.0.1:5000')
    entry = yaml.safe_load(clouds.stdout)['clouds']['upgrader-simulator']
    assert entry['auth']['auth_url'] == \
        'http://127.0.0.1:5000/identity/v3'
    assert entry['auth']['password'] == 'pw'


def test_cli_bad_input_changes_nothing(tmp_path, cli):
    state_file = str(tmp_path / 'c.db')
    _one_line_error(cli('create', '--state', state_file, '--hosts', '3',
                         '--instances', '500'), 'cannot hold')
    assert not os.path.exists(state_file)
    _one_line_error(cli('create', '--state', state_file, '--azs', 'x'),
                    'invalid int value')
    _one_line_error(cli('report', '--state', state_file), 'c.db')
    not_a_state = tmp_path / 'other.db'
    not_a_state.write_text('hello')
    _one_line_error(cli('report', '--state', str(not_a_state)),
                    'not a simulator state file')
    helped = _cli('--help')
    assert helped.returncode == 0 and 'serve' in helped.stdout


def test_serve_prints_url_and_writes_clouds_yaml(tmp_path):
    state_file = str(tmp_path / 'c.db')
    generate.create_cloud(state_file, hosts=2, instances=2,
                          anti_affinity_groups=0)
    clouds = str(tmp_path / 'clouds.yaml')
    proc = subprocess.Popen(
        [os.path.join(BIN, 'upgrader-simulator'), 'serve', '--state',
         state_file, '--clouds-yaml', clouds, '--cloud-name', 'demo'],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith('http://127.0.0.1:')
        assert url.endswith('/identity/v3')
        entry = yaml.safe_load(open(clouds))['clouds']['demo']
        assert entry['auth']['auth_url'] == url
    finally:
        proc.terminate()
        assert proc.wait(10) == 0
        proc.stdout.close()
        proc.stderr.close()
