"""The manage command framework: parsing, exit codes, one-line errors."""

import os
import subprocess
import sys

import pytest

BIN = os.path.dirname(sys.executable)


def _manage(*argv, config=None):
    cmd = [os.path.join(BIN, 'upgrader-manage')]
    if config is not None:
        cmd += ['--config-file', str(config)]
    return subprocess.run(cmd + list(argv), capture_output=True, text=True,
                          timeout=60)


def _assert_one_line_error(result, expected_text):
    assert result.returncode == 2, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith('ERROR: ')
    assert expected_text in lines[0]


def test_help_lists_categories():
    result = _manage('--help')
    assert result.returncode == 0
    assert 'cloud' in result.stdout


def test_missing_config_file(tmp_path):
    result = _manage('cloud', 'inventory', config=tmp_path / 'nope.conf')
    _assert_one_line_error(result, 'nope.conf')


def test_malformed_config_file(tmp_path):
    conf = tmp_path / 'bad.conf'
    conf.write_text('[cloud\ncompute_driver = openstack\n')
    result = _manage('cloud', 'inventory', config=conf)
    _assert_one_line_error(result, 'bad.conf')


def test_bad_option_value(tmp_path):
    conf = tmp_path / 'bad.conf'
    conf.write_text('[cloud]\napi_timeout = soon\n')
    result = _manage('cloud', 'inventory', config=conf)
    _assert_one_line_error(result, 'api_timeout')


def test_unknown_compute_driver(tmp_path):
    conf = tmp_path / 'bad.conf'
    conf.write_text('[cloud]\ncompute_driver = vmware-magic\n')
    result = _manage('cloud', 'inventory', config=conf)
    _assert_one_line_error(result, 'vmware-magic')


def test_no_credentials(tmp_path):
    conf = tmp_path / 'empty.conf'
    conf.write_text('[cloud]\n')
    result = _manage('cloud', 'inventory', config=conf)
    _assert_one_line_error(result, 'no cloud credentials')


@pytest.mark.parametrize('argv', [['nosuch'], ['cloud', 'nosuch']])
def test_unknown_category_or_action(argv):
    result = _manage(*argv)
    assert result.returncode == 2
    assert 'invalid choice' in result.stderr
