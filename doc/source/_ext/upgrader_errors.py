"""Sphinx directive ``.. upgrader-errors::``: every error the commands can
print, generated from :mod:`upgrader.common.exception`.

For each exception class: the line the command prints (its ``_msg_fmt``,
placeholders shown as ``<name>``), the exit code, the class it derives from,
and its docstring, which says what the error means and what to do. A class
without a docstring of its own is a build warning (and a test failure).
"""

import inspect
import re

from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

LOG = logging.getLogger(__name__)


def error_classes():
    """UpgraderException and its subclasses, each parent before its
    children, siblings in the order the module defines them."""
    from upgrader.common import exception

    defined = [c for c in vars(exception).values()
               if inspect.isclass(c)
               and issubclass(c, exception.UpgraderException)]
    ordered = []

    def visit(parent):
        ordered.append(parent)
        for cls in defined:
            if cls.__bases__[0] is parent:
                visit(cls)

    visit(exception.UpgraderException)
    return ordered


def printed(cls):
    """The line a command prints for ``cls``, placeholders as <name>."""
    return 'ERROR: ' + re.sub(r'%\((\w+)\)s', r'<\1>', cls._msg_fmt)


def own_doc(cls):
    doc = cls.__dict__.get('__doc__')
    return inspect.cleandoc(doc) if doc else None


class UpgraderErrorsDirective(SphinxDirective):
    """``.. upgrader-errors::``"""

    def run(self):
        lines = []
        for cls in error_classes():
            doc = own_doc(cls)
            if doc is None:
                LOG.warning('%s has no docstring: say what it means and '
                            'what to do', cls.__name__,
                            location=self.get_location())
                doc = ''
            lines += [cls.__name__, '-' * len(cls.__name__), '',
                      '.. code-block:: none', '',
                      '   ' + printed(cls), '',
                      ':Exit code: %d' % cls.exit_code]
            if cls.__bases__[0] is not Exception:
                lines.append(':Kind of: `%s`_' % cls.__bases__[0].__name__)
            lines += ['', doc.replace('What to do:', '**What to do:**'), '']
        return self.parse_text_to_nodes('\n'.join(lines),
                                        allow_section_headings=True)


def setup(app):
    app.add_directive('upgrader-errors', UpgraderErrorsDirective)
    return {'parallel_read_safe': True, 'parallel_write_safe': True}
