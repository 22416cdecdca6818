"""Flow factories: module level, JSON-friendly arguments only.

A conductor on another machine rebuilds exactly the same graph from the
factory's dotted name and arguments (the template's content is one of them,
so a template edited since the rollout started changes nothing).
"""

from taskflow.patterns import linear_flow

from upgrader.common import keys
from upgrader import tasks
from upgrader.tasks import lifecycle
from upgrader.workflow import templates


def host_flow(host, template_content):
    """The flow of one host: the template's steps between two lifecycle steps.

    Its store needs ``rollout_id``, ``host``, ``moves`` and ``versions``
    (see :func:`host_store`).
    """
    template = templates.parse(template_content, 'template of host %s' % host)
    library = tasks.library()
    flow = linear_flow.Flow('%s.%s' % (host, template.name))
    flow.add(lifecycle.MarkHostRunning(host))
    for step in template.steps:
        flow.add(library[step.task](host, **step.args))
    flow.add(lifecycle.MarkHostDone(host))
    return flow


def host_store(rollout_id, host, moves, versions):
    """The values a host flow requires, all JSON-serialisable."""
    return {keys.ROLLOUT_ID: rollout_id, keys.HOST: host,
            keys.MOVES: [dict(m) for m in moves],
            keys.VERSIONS: dict(versions)}
