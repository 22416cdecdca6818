"""Code versions of control-plane services, and the schema generations
they need: one rule, shared by the drivers and the simulator's model."""

from upgrader.common import exception


def schema_generation(version):
    """The schema generation code of ``version`` needs: its major number
    (keystone 27.0.1 needs generation 27, as 27.0.0 does). A package
    version's epoch is not part of it (nova-compute 2:30.0.0-0ubuntu1 is
    generation 30)."""
    head = str(version).split(':', 1)[-1].split('.', 1)[0]
    if not head.isdigit():
        raise exception.InvalidInput(
            reason='version %r: expected MAJOR.MINOR.PATCH' % (version,))
    return int(head)
