"""The task library: the steps a workflow template can name.

Tasks are stevedore plugins in the ``upgrader.tasks`` namespace; the name in
the namespace is the step name a template uses.
"""

from stevedore import extension

NAMESPACE = 'upgrader.tasks'


def library():
    """Step name -> task class, for every installed task."""
    mgr = extension.ExtensionManager(NAMESPACE, invoke_on_load=False)
    return {ext.name: ext.plugin for ext in mgr}
