"""Sphinx directive ``.. upgrader-tasks::``: the task library, generated
from the ``upgrader.tasks`` entry point namespace.

For each step name a template can use: the task class, the arguments a
template may give it (``with:``) and their types, and the class's
docstring. A task installed by another package appears here too.
"""

from sphinx.util.docutils import SphinxDirective

import upgrader_cli


def _type_name(kind):
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return ' or '.join(k.__name__ for k in kinds)


class UpgraderTasksDirective(SphinxDirective):
    """``.. upgrader-tasks::``"""

    def run(self):
        from upgrader import tasks

        lines = []
        for name, cls in sorted(tasks.library().items()):
            title = '``%s``' % name
            lines += [title, '-' * len(title), '',
                      ':Class: ``%s.%s``' % (cls.__module__, cls.__name__)]
            if cls.parameters:
                lines.append(':Arguments: %s' % ', '.join(
                    '``%s`` (%s)' % (arg, _type_name(kind))
                    for arg, kind in sorted(cls.parameters.items())))
            else:
                lines.append(':Arguments: none')
            lines.append('')
            lines += upgrader_cli.paragraphs(cls.__doc__)
        return self.parse_text_to_nodes('\n'.join(lines),
                                        allow_section_headings=True)


def setup(app):
    app.add_directive('upgrader-tasks', UpgraderTasksDirective)
    return {'parallel_read_safe': True, 'parallel_write_safe': True}
