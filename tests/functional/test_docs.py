"""The documentation builds without a warning, and its generated references
cover every command, action, argument, option and error of the code.

One ``sphinx-build -W`` into a temporary directory (a few seconds); the
references are checked against the code directly, not against the
extensions that generate them.
"""

import argparse
import configparser
import inspect
import os
import subprocess
import sys

import pytest

from upgrader.cmd import common
from upgrader.cmd import manage
from upgrader.cmd import simulator
from upgrader.common import exception
from upgrader.conf import opts as conf_opts
from upgrader import tasks

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
SOURCE = os.path.join(ROOT, 'doc', 'source')


@pytest.fixture(scope='module')
def html(tmp_path_factory):
    """Build the HTML once; return a function reading one built page."""
    out = tmp_path_factory.mktemp('doc')
    result = subprocess.run(
        [sys.executable, '-m', 'sphinx', '-W', '--keep-going', '-q',
         '-b', 'html', '-d', str(out / 'doctrees'), SOURCE,
         str(out / 'html')],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr + result.stdout
    assert 'WARNING' not in result.stderr, result.stderr

    def page(name):
        with open(out / 'html' / (name + '.html'), encoding='utf-8') as f:
            return f.read()
    return page


def _option_id(program, a_args, a_kwargs):
    """The anchor Sphinx gives ``.. option::`` of an argparse argument."""
    if a_args[0].startswith('-'):
        name = next((a for a in a_args if a.startswith('--')), a_args[0])
        return 'cmdoption-%s-%s' % (program.replace(' ', '-'),
                                    name.lstrip('-'))
    return 'cmdoption-%s-arg-%s' % (program.replace(' ', '-'),
                                    a_kwargs.get('metavar') or a_args[0])


def test_manage_reference_has_every_action_and_argument(html):
    page = html('cli/upgrader-manage')
    for category, cls in manage.CATEGORIES.items():
        assert 'id="upgrader-manage-%s"' % category in page
        for action, fn in common.methods_of(cls()):
            program = 'upgrader-manage %s %s' % (category,
                                                 action.replace('_', '-'))
            assert 'id="%s"' % program.replace(' ', '-') in page, program
            for a_args, a_kwargs in getattr(fn, 'args', []):
                anchor = _option_id(program, a_args, a_kwargs)
                assert 'id="%s"' % anchor in page, anchor
    # oslo.config's own command-line options are there too.
    assert 'id="cmdoption-upgrader-manage-config-file"' in page


def _subcommands(parser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices.items()
    return ()


def test_simulator_reference_has_every_command_and_argument(html):
    page = html('cli/upgrader-simulator')
    todo = [('upgrader-simulator', simulator.build_parser())]
    checked = 0
    while todo:
        program, parser = todo.pop()
        for action in parser._actions:
            if isinstance(action, (argparse._HelpAction,
                                   argparse._SubParsersAction)):
                continue
            anchor = _option_id(program, action.option_strings
                                or [action.dest],
                                {'metavar': action.metavar})
            assert 'id="%s"' % anchor in page, anchor
            checked += 1
        todo += [('%s %s' % (program, name), sub)
                 for name, sub in _subcommands(parser)]
    assert checked > 40


def test_status_and_conductor_references(html):
    assert 'id="upgrader-status-upgrade"' in html('cli/upgrader-status')
    assert 'id="cmdoption-upgrader-status-upgrade-json"' in html(
        'cli/upgrader-status')
    assert 'id="cmdoption-upgrader-conductor-config-file"' in html(
        'cli/upgrader-conductor')


def test_every_console_script_has_a_reference():
    sys.path.insert(0, os.path.join(SOURCE, '_ext'))
    try:
        import upgrader_cli
    finally:
        sys.path.remove(os.path.join(SOURCE, '_ext'))
    setup_cfg = configparser.ConfigParser()
    setup_cfg.read(os.path.join(ROOT, 'setup.cfg'))
    scripts = {line.split('=')[0].strip() for line in setup_cfg[
        'entry_points']['console_scripts'].strip().splitlines()}
    assert scripts == set(upgrader_cli.PARSERS)
    for script in scripts:
        assert os.path.exists(os.path.join(SOURCE, 'cli', script + '.rst'))


def test_configuration_reference_has_every_option(html):
    page = html('configuration/config')
    for group, options in conf_opts.list_opts():
        for opt in options:
            assert 'id="%s.%s"' % (group, opt.dest) in page, (group, opt)
    sample = html('configuration/sample-config')
    assert 'session_timeout' in sample and '[jobboard]' in sample


def _error_classes():
    return [c for c in vars(exception).values() if inspect.isclass(c)
            and issubclass(c, exception.UpgraderException)]


def test_every_error_says_what_it_means_and_what_to_do():
    for cls in _error_classes():
        doc = cls.__dict__.get('__doc__') or ''
        assert 'What to do:' in doc, cls.__name__


def test_troubleshooting_lists_every_error(html):
    page = html('admin/troubleshooting')
    for cls in _error_classes():
        assert 'id="%s"' % cls.__name__.lower() in page, cls.__name__
    assert 'ERROR: Release &lt;release&gt; does not exist.' in page


def test_templates_page_lists_the_task_library(html):
    page = html('admin/templates')
    for name in tasks.library():
        assert 'id="%s"' % name.replace('_', '-') in page, name


def test_api_reference_documents_the_api(html):
    from upgrader import api
    page = html('reference/api')
    for name in ('plan_rollout', 'start', 'status', 'abort', 'pause',
                 'resume', 'watch', 'retry_host', 'skip_host', 'report'):
        assert callable(getattr(api, name))
        assert 'id="upgrader.api.%s"' % name in page, name
