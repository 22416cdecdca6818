"""Shared machinery of the *-manage style commands (after nova/cmd/common.py).

A command is a dict of categories, one class each; every public method of a
category is an action, its ``@args`` declare its options and its docstring is
its help. Actions return an exit code: 0 ok, 1 finished with warnings or work
remaining, 2 failed; an unexpected exception gives 255.
"""

import contextlib
import functools
import json
import os
import sys

from oslo_config import cfg
from oslo_log import log as logging

from upgrader.common import exception
from upgrader import conf as upgrader_conf

CONF = upgrader_conf.CONF
LOG = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_WARNING = 1
EXIT_FAILED = 2
EXIT_UNEXPECTED = 255


def args(*args, **kwargs):
    """Declare one command-line argument of an action."""
    def _decorator(func):
        func.__dict__.setdefault('args', []).insert(0, (args, kwargs))
        return func
    return _decorator


def format_arg(choices=('table', 'json'), default='table'):
    """The ``--format`` argument shared by actions with parseable output."""
    return args('--format', dest='output_format', choices=choices,
                default=default, help='Output format (default: %(default)s).')


def methods_of(obj):
    """Public methods of a category object, as (name, bound method) pairs."""
    return [(name, getattr(obj, name)) for name in sorted(dir(obj))
            if callable(getattr(obj, name)) and not name.startswith('_')]


def _add_command_parsers(categories, subparsers):
    for category, cls in categories.items():
        command_object = cls()
        parser = subparsers.add_parser(category, help=cls.__doc__,
                                       description=cls.__doc__)
        parser.set_defaults(command_object=command_object)
        action_subparsers = parser.add_subparsers(dest='action')
        action_subparsers.required = True
        for action, action_fn in methods_of(command_object):
            doc = (action_fn.__doc__ or '').strip()
            action_parser = action_subparsers.add_parser(
                action.replace('_', '-'), help=doc.split('\n')[0],
                description=doc)
            for a_args, a_kwargs in getattr(action_fn, 'args', []):
                action_parser.add_argument(*a_args, **a_kwargs)
            action_parser.set_defaults(action_fn=action_fn)
            action_parser.set_defaults(action_kwargs=[
                a_kwargs.get('dest') or a_args[0].lstrip('-').replace('-', '_')
                for a_args, a_kwargs in getattr(action_fn, 'args', [])])


def error(message):
    """Print a one-line error for the operator."""
    lines = str(message).strip().splitlines()
    print('ERROR: %s' % (lines[0] if lines else 'unknown error'),
          file=sys.stderr)


def write_file(path, text):
    """Write ``text`` to ``path`` whole or not at all (through a temporary
    file beside it); an unwritable path is a one-line error."""
    tmp = '%s.tmp-%d' % (path, os.getpid())
    try:
        with open(tmp, 'w', encoding='utf-8') as f:
            f.write(text)
        os.replace(tmp, path)
    except OSError as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise exception.InvalidInput(reason='cannot write %s: %s'
                                     % (path, e.strerror or e))


def print_json(data):
    print(json.dumps(data, indent=2, sort_keys=True, default=str))


def print_table(headers, rows):
    """Print rows under headers as an aligned plain-text table."""
    rows = [['' if v is None else str(v) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in rows])
              for i, h in enumerate(headers)]
    line = '+' + '+'.join('-' * (w + 2) for w in widths) + '+'
    fmt = '| ' + ' | '.join('%%-%ds' % w for w in widths) + ' |'
    print(line)
    print(fmt % tuple(headers))
    print(line)
    for row in rows:
        print(fmt % tuple(row))
    print(line)


def parse_config(argv, categories=None, description=None, service=False):
    """Parse argv and config files; set up logging. Raises cfg.Error.

    A command (not a ``service``) shows its own progress, so upgrader's INFO
    logs are hidden unless --debug.
    """
    if categories is not None:
        CONF.register_cli_opt(cfg.SubCommandOpt(
            'category', title='Command categories',
            help='Available categories',
            handler=functools.partial(_add_command_parsers, categories)))
    logging.register_options(CONF)
    # Commands print their results on stdout; logs go to stderr.
    logging.set_defaults(default_log_levels=logging.get_default_log_levels()
                         + ['stevedore=ERROR', 'alembic=WARN',
                            'oslo_db=ERROR', 'keystoneauth=ERROR',
                            'oslo_service=WARN'])
    CONF.set_default('use_stderr', True)
    CONF(argv, project='upgrader', description=description)
    if not CONF.debug and not service:
        CONF.set_default('default_log_levels',
                         CONF.default_log_levels + ['upgrader=WARN'])
    logging.setup(CONF, 'upgrader')


def run(categories, argv=None, description=None):
    """Parse the command line, run the chosen action, return its exit code."""
    argv = sys.argv[1:] if argv is None else argv
    try:
        parse_config(argv, categories, description)
    except cfg.Error as e:
        error(e)
        return EXIT_FAILED
    fn = CONF.category.action_fn
    kwargs = {k: getattr(CONF.category, k) for k in CONF.category.action_kwargs}
    try:
        ret = fn(**kwargs)
    except exception.UpgraderException as e:
        error(e)
        return e.exit_code
    except cfg.Error as e:
        # Option values are checked when first read, so inside the action.
        error(e)
        return EXIT_FAILED
    except KeyboardInterrupt:
        error('interrupted')
        return EXIT_UNEXPECTED
    except Exception as e:
        LOG.exception('Unexpected error')
        error('unexpected error: %s' % e)
        return EXIT_UNEXPECTED
    return EXIT_OK if ret is None else ret
