"""upgrader-manage db and release, run as the real console script."""

import json
import os
import socket
import subprocess
import sys
import time

import pytest

BIN = os.path.dirname(sys.executable)


def _manage(config, *argv):
    return subprocess.run(
        [os.path.join(BIN, 'upgrader-manage'), '--config-file', str(config)]
        + list(argv), capture_output=True, text=True, timeout=60)


def _config(tmp_path, connection):
    path = tmp_path / 'upgrader.conf'
    path.write_text('[DEFAULT]\nstate_path = %s\n[database]\n'
                    'connection = %s\nmax_retries = 0\n'
                    % (tmp_path, connection))
    return path


def _one_line_error(result, text, code=2):
    assert result.returncode == code, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith('ERROR: ') and text in lines[0], lines[0]


@pytest.fixture
def db_file(tmp_path):
    return tmp_path / 'db' / 'upgrader.sqlite'


@pytest.fixture
def conf(tmp_path, db_file):
    return _config(tmp_path, 'sqlite:///%s' % db_file)


@pytest.fixture
def synced_conf(conf):
    assert _manage(conf, 'db', 'sync').returncode == 0
    return conf


def _releases(conf):
    result = _manage(conf, 'release', 'list', '--format', 'json')
    assert result.returncode == 0, result
    return json.loads(result.stdout)


def test_db_sync_and_version(conf, db_file):
    result = _manage(conf, 'db', 'version')
    assert (result.returncode, result.stdout) == (1, 'none\n')
    assert 'db sync' in result.stderr
    assert not db_file.parent.exists()  # nothing created

    result = _manage(conf, 'db', 'sync')
    assert result.returncode == 0, result
    assert 'upgraded from nothing to revision' in result.stdout
    result = _manage(conf, 'db', 'version')
    assert result.returncode == 0, result
    assert len(result.stdout.strip()) == 12
    _one_line_error(_manage(conf, 'db', 'sync', '--version', 'nope'), 'nope')


def test_release_create_list_show(synced_conf):
    result = _manage(synced_conf, 'release', 'create', '2024.1',
                     '--component', 'nova=29.1.0',
                     '--component', 'keystone=25.0.1',
                     '--description', 'first one')
    assert result.returncode == 0, result
    assert 'nova' in result.stdout and '29.1.0' in result.stdout
    result = _manage(synced_conf, 'release', 'create', '2024.1-r2',
                     '--parent', '2024.1', '--component', 'nova=29.2.0',
                     '--format', 'json')
    assert result.returncode == 0, result
    child = json.loads(result.stdout)
    assert child['components'] == {'nova': '29.2.0', 'keystone': '25.0.1'}
    assert child['parent'] == '2024.1'

    _one_line_error(_manage(synced_conf, 'release', 'create', '2024.1',
                            '--component', 'nova=29.3.0'),
                    'Release 2024.1 already exists')
    _one_line_error(_manage(synced_conf, 'release', 'show', 'nope'),
                    'Release nope does not exist')

    releases = _releases(synced_conf)
    assert [r['name'] for r in releases] == ['2024.1', '2024.1-r2']
    assert releases[0]['description'] == 'first one'
    assert releases[0]['components'] == {'nova': '29.1.0',
                                         'keystone': '25.0.1'}
    table = _manage(synced_conf, 'release', 'list').stdout
    assert 'keystone=25.0.1, nova=29.1.0' in table

    result = _manage(synced_conf, 'release', 'show', child['uuid'],
                     '--format', 'json')
    assert result.returncode == 0, result
    assert json.loads(result.stdout) == child


def test_release_diff_and_current(synced_conf):
    for argv in (['2026.1', '--component', 'keystone=26.0.0',
                  '--component', 'nova-api=30.0.0', '--component',
                  'qemu=8.0.0'],
                 # One component changed: a release that differs only there.
                 ['2026.1-ks', '--parent', '2026.1', '--component',
                  'keystone=27.0.1']):
        assert _manage(synced_conf, 'release', 'create',
                       *argv).returncode == 0
    result = _manage(synced_conf, 'release', 'diff', '2026.1', '2026.1-ks',
                     '--format', 'json')
    assert result.returncode == 0, result
    assert json.loads(result.stdout) == {
        'from': '2026.1', 'to': '2026.1-ks', 'added': {}, 'removed': {},
        'changed': {'keystone': {'from': '26.0.0', 'to': '27.0.1'}},
        'unchanged': ['nova-api', 'qemu']}
    table = _manage(synced_conf, 'release', 'diff', '2026.1-ks', '2026.1')
    assert table.returncode == 0, table
    assert '1 changed, 0 added, 0 removed, 2 unchanged' in table.stdout
    same = _manage(synced_conf, 'release', 'diff', '2026.1', '2026.1')
    assert same.returncode == 1 and '0 changed' in same.stdout
    _one_line_error(_manage(synced_conf, 'release', 'diff', '2026.1',
                            'nope'), 'Release nope does not exist')

    unknown = _manage(synced_conf, 'release', 'current', '--format', 'json')
    assert unknown.returncode == 1
    assert json.loads(unknown.stdout) == {'current': None, 'history': []}
    _one_line_error(_manage(synced_conf, 'release', 'set-current', 'nope'),
                    'Release nope does not exist')
    result = _manage(synced_conf, 'release', 'set-current', '2026.1',
                     '--note', 'as installed')
    assert result.returncode == 0, result
    assert 'runs release 2026.1' in result.stdout
    result = _manage(synced_conf, 'release', 'current', '--format', 'json')
    assert result.returncode == 0, result
    current = json.loads(result.stdout)
    assert current['current']['name'] == '2026.1'
    assert [(d['release'], d['rollout'], d['note'])
            for d in current['history']] == [('2026.1', None,
                                              'as installed')]


@pytest.mark.parametrize('components,text', [
    (['nova'], "'nova': expected NAME=VERSION"),
    (['nova=29.1.0', 'nova=29.2.0'], 'component nova given twice'),
    ([], 'at least one --component'),
])
def test_release_create_bad_components(conf, db_file, components, text):
    argv = ['release', 'create', 'r1']
    for component in components:
        argv += ['--component', component]
    _one_line_error(_manage(conf, *argv), text)
    # Rejected before the database is even opened.
    assert not db_file.parent.exists()


def test_not_synced(conf, db_file):
    _one_line_error(_manage(conf, 'release', 'create', 'r1', '--component',
                            'nova=1'), "not current (no schema, expected")
    assert not db_file.parent.exists()
    # An existing, empty database is left as it was.
    db_file.parent.mkdir()
    db_file.write_bytes(b'')
    _one_line_error(_manage(conf, 'release', 'show', 'r1'),
                    "run 'upgrader-manage db sync'")
    assert db_file.read_bytes() == b''


def _closed_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.mark.parametrize('argv', [['release', 'list'], ['db', 'sync']])
def test_database_unreachable(tmp_path, argv):
    conf = _config(tmp_path, 'mysql+pymysql://root:hunter2@127.0.0.1:%d/u'
                   % _closed_port())
    start = time.monotonic()
    result = _manage(conf, *argv)
    assert time.monotonic() - start < 20
    _one_line_error(result, 'Database unavailable: mysql+pymysql://root:***@')
    assert 'hunter2' not in result.stderr + result.stdout
