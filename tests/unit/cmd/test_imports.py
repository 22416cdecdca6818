"""Commands that only read our tables start without the heavy libraries.

Each test suite and operator pays a command's start-up on every call:
taskflow (and networkx under it), alembic and kazoo are imported by the
commands that run, sync or post something, keystoneauth by those that talk
to the cloud, when they run.
"""

import json
import os
import subprocess
import sys

import pytest

from tests.fixtures import config
from tests.fixtures.databases import use_database
from upgrader.db import api as db_api
from upgrader.db import migration

HEAVY = ('alembic', 'kazoo', 'keystoneauth1', 'networkx', 'taskflow')

# Runs a console script's main() in a fresh interpreter, then prints
# its exit code and the heavy packages it imported, as JSON on stderr.
SCRIPT = '''
import json, sys
from upgrader.cmd import {module} as command
sys.argv = ['upgrader'] + sys.argv[1:]
try:
    code = command.main()
except SystemExit as e:
    code = e.code
print(json.dumps({{'code': code, 'heavy': sorted(
    {{m.split('.')[0] for m in sys.modules}} & set({heavy!r}))}}),
    file=sys.stderr)
'''


@pytest.fixture(scope='module')
def conf_file(tmp_path_factory):
    """A config file whose database holds two releases and a rollout."""
    base = tmp_path_factory.mktemp('imports')
    path = config.write_config(base / 'upgrader.conf')
    with use_database('sqlite:///%s/upgrader.sqlite' % base):
        migration.upgrade()
        dbapi = db_api.get_instance()
        dbapi.release_create('r1', {'nova': '1'})
        dbapi.release_create('r2', {'nova': '2'})
        dbapi.rollout_create(name='demo', template_name='compute-reboot',
                             policy={}, plan={'waves': []})
    return path


def _imported(module, *argv):
    """(exit code, heavy packages imported) of a command, run here."""
    result = subprocess.run(
        [sys.executable, '-c', SCRIPT.format(module=module, heavy=HEAVY)]
        + list(argv), capture_output=True, text=True, timeout=120,
        env=dict(os.environ, PYTHONWARNINGS='ignore'))
    found = json.loads(result.stderr.strip().splitlines()[-1])
    return found['code'], found['heavy']


@pytest.mark.parametrize('argv', [
    ['--help'],
    ['release', 'list'],
    ['release', 'show', 'r1'],
    ['release', 'diff', 'r1', 'r2'],
    ['rollout', 'list'],
    ['rollout', 'status', 'demo'],
    ['db', 'version'],
])
def test_light_manage_commands(conf_file, argv):
    code, heavy = _imported('manage', '--config-file', conf_file, *argv)
    assert (code, heavy) == (0, [])


def test_status_help():
    assert _imported('status', '--help') == (0, [])


def test_commands_that_need_them_import_them(conf_file):
    # The check above sees an import when there is one.
    assert _imported('manage', '--config-file', conf_file,
                     'persistence', 'sync') == (0, ['alembic', 'taskflow'])


# A tool calls api.start() in a thread of its own (see
# tests/functional/test_api.py): the job modules are imported there.
IN_A_THREAD = '''
import threading
from upgrader import api
thread = threading.Thread(target=__import__, args=('upgrader.jobs.runner',),
                          daemon=True)
thread.start()
thread.join(30)
print('joined' if not thread.is_alive() else 'never ends')
'''


def test_job_modules_imported_in_a_thread():
    # eventlet (under taskflow's engines) imported first in a thread made
    # that thread impossible to join.
    result = subprocess.run([sys.executable, '-c', IN_A_THREAD],
                            capture_output=True, text=True, timeout=120)
    assert result.stdout.split() == ['joined'], result.stderr
