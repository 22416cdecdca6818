"""Flow factories: module level, JSON-friendly arguments only.

A conductor on another machine rebuilds exactly the same graph from the
factory's dotted name and arguments (the template's content is one of them,
so a template edited since the rollout started changes nothing).
"""

import functools

from taskflow.patterns import linear_flow

from upgrader.common import keys
from upgrader import tasks
from upgrader.tasks import lifecycle
from upgrader.workflow import templates

# Templates whose steps a process keeps (a rollout has one, a release
# train one per stage).
TEMPLATE_CACHE_SIZE = 32


def host_flow(host, template_content):
    """The flow of one host: the template's steps between two lifecycle steps.

    Its store needs ``rollout_id``, ``host``, ``moves`` and ``versions``
    (see :func:`host_store`).
    """
    name, steps = _steps(template_content)
    flow = linear_flow.Flow('%s.%s' % (host, name))
    flow.add(lifecycle.MarkHostRunning(host))
    for task_class, args in steps:
        flow.add(task_class(host, **args))
    flow.add(lifecycle.MarkHostDone(host))
    return flow


@functools.lru_cache(maxsize=TEMPLATE_CACHE_SIZE)
def _steps(template_content):
    """(name, ((task class, arguments), ...)) of a template's content.

    Parsed and its task plugins loaded once per process, not for every
    host (a conductor builds a flow per host job it claims); the content
    is the key, so an edited template is parsed afresh.
    """
    template = templates.parse(template_content, 'a host flow\'s template')
    library = tasks.library()
    return template.name, tuple((library[step.task], dict(step.args))
                                for step in template.steps)


def host_store(rollout_id, host, moves, versions):
    """The values a host flow requires, all JSON-serialisable."""
    return {keys.ROLLOUT_ID: rollout_id, keys.HOST: host,
            keys.MOVES: [dict(m) for m in moves],
            keys.VERSIONS: dict(versions)}
