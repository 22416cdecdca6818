"""Sphinx directive ``.. upgrader-cli:: <console script>``: a command's
reference, generated from its real argparse parser.

Every sub-command (category and action for the nova-manage style commands),
argument and help text is read from the parser the command builds, so a new
action or option appears in the documentation without touching it. The
options are ``.. program::`` / ``.. option::`` entries of Sphinx's standard
domain: :option:`upgrader-manage rollout plan --canary` links to them, and
a link to an option that no longer exists fails the build (sphinx-argparse
renders plain lists, which nothing can link to). argparse has no public
introspection API, so this reads its actions as sphinx-argparse does.
"""

import argparse
import contextlib
import functools
import inspect
import io
import re

from docutils.parsers.rst import directives
from oslo_config import cfg
from oslo_log import log
from oslo_upgradecheck import upgradecheck
from sphinx.util.docutils import SphinxDirective

# argparse wraps usage lines at the terminal width; the page has its own.
USAGE_WIDTH = 79
# Title underlines by depth below the directive (sub-command, action...).
UNDERLINES = '-~^"'


def _oslo_parser(prog, description, register, argv):
    """The argparse parser oslo.config builds for a command that registers
    its command-line options with ``register(conf)``.

    ``argv`` is any valid command line of it: oslo.config adds its
    arguments to the parser when it parses.
    """
    conf = cfg.ConfigOpts()
    register(conf)
    log.register_options(conf)
    conf(argv, project='upgrader', prog=prog, description=description,
         default_config_files=[], default_config_dirs=[])
    # oslo.config keeps the parser it built; nothing public hands it out.
    return conf._oparser


def manage_parser():
    from upgrader.cmd import common
    from upgrader.cmd import manage

    def register(conf):
        # As upgrader.cmd.common.parse_config registers it.
        conf.register_cli_opt(cfg.SubCommandOpt(
            'category', title='Command categories',
            help='Available categories',
            handler=functools.partial(common._add_command_parsers,
                                      manage.CATEGORIES)))

    category, cls = next(iter(manage.CATEGORIES.items()))
    action = common.methods_of(cls())[0][0].replace('_', '-')
    return _oslo_parser('upgrader-manage', manage.__doc__, register,
                        [category, action])


def status_parser():
    from upgrader.cmd import status

    def register(conf):
        upgradecheck.register_cli_options(conf, status.Checks())

    return _oslo_parser('upgrader-status', status.__doc__, register,
                        ['upgrade', 'check'])


def conductor_parser():
    from upgrader.cmd import conductor
    return _oslo_parser('upgrader-conductor', conductor.__doc__,
                        lambda conf: None, [])


def simulator_parser():
    from upgrader.cmd import simulator
    return simulator.build_parser()


# One entry per console script of setup.cfg (a test checks they match).
PARSERS = {
    'upgrader-conductor': conductor_parser,
    'upgrader-manage': manage_parser,
    'upgrader-simulator': simulator_parser,
    'upgrader-status': status_parser,
}


def escape(text):
    """Plain text as reST: no markup characters interpreted."""
    return re.sub(r'([\\`*_|])', r'\\\1', text)


def paragraphs(text):
    """reST lines for a docstring or description: indented paragraphs
    (command synopses) as literal blocks, the rest as escaped text."""
    lines = []
    for para in re.split(r'\n\s*\n', inspect.cleandoc(text or '')):
        para_lines = para.splitlines()
        if not para_lines:
            continue
        if all(line.startswith(' ') for line in para_lines):
            lines += ['.. code-block:: none', '']
            lines += ['   ' + line for line in para_lines]
        else:
            lines.append(escape(' '.join(line.strip()
                                         for line in para_lines)))
        lines.append('')
    return lines


def _formatter(parser):
    return argparse.HelpFormatter(parser.prog, width=USAGE_WIDTH)


def _usage(parser):
    formatter = _formatter(parser)
    formatter.add_usage(parser.usage, parser._actions,
                        parser._mutually_exclusive_groups, prefix='')
    return formatter.format_help().strip()


def _arguments(parser):
    """The documented arguments (not -h) and the sub-command action."""
    documented, subcommands = [], None
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            subcommands = action
        elif (not isinstance(action, argparse._HelpAction)
              and action.help != argparse.SUPPRESS):
            documented.append(action)
    return documented, subcommands


def render(parser, name, depth=0):
    """reST lines documenting ``parser`` (program ``name``) and, in
    sections below, each of its sub-commands."""
    formatter = _formatter(parser)
    lines = ['.. program:: %s' % name, '', '.. code-block:: none', '']
    lines += ['   ' + line for line in _usage(parser).splitlines()]
    lines.append('')
    if depth:
        lines += paragraphs(parser.description)
    arguments, subcommands = _arguments(parser)
    if not depth and arguments:
        title = 'Global options' if subcommands else 'Options'
        lines += [title, UNDERLINES[0] * len(title), '']
    for action in arguments:
        lines += ['.. option:: %s' % formatter._format_action_invocation(
            action), '']
        help_text = formatter._expand_help(action) if action.help else (
            'No help text.' if action.default in (None, argparse.SUPPRESS)
            else 'Default: %s.' % action.default)
        lines += ['   ' + line for line in paragraphs(help_text)]
    if subcommands is None:
        return lines
    helps = {a.dest: a.help for a in subcommands._choices_actions}
    seen = set()
    for sub_name, sub_parser in subcommands.choices.items():
        if id(sub_parser) in seen:      # an alias
            continue
        seen.add(id(sub_parser))
        title = '%s %s' % (name, sub_name)
        lines += [title, UNDERLINES[depth] * len(title), '']
        if sub_parser.description is None and helps.get(sub_name):
            lines += paragraphs(helps[sub_name])
        lines += render(sub_parser, title, depth + 1)
    return lines


class UpgraderCLIDirective(SphinxDirective):
    """``.. upgrader-cli:: upgrader-manage``"""

    required_arguments = 1
    option_spec = {'description': directives.flag}

    def run(self):
        name = self.arguments[0]
        with contextlib.redirect_stderr(io.StringIO()):
            parser = PARSERS[name]()
        lines = []
        if 'description' in self.options:
            lines += paragraphs(parser.description)
        lines += render(parser, name)
        return self.parse_text_to_nodes('\n'.join(lines),
                                        allow_section_headings=True)


def setup(app):
    app.add_directive('upgrader-cli', UpgraderCLIDirective)
    return {'parallel_read_safe': True, 'parallel_write_safe': True}
