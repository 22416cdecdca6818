"""Release trains: the order in which a full release reaches the cloud.
Pure, no I/O.

A release that changes several components is rolled out as the upstream
upgrade guides say, one stage after the other:

1. ``expand``: the expand migrations of every database the new code needs
   (the "db sync" first), while the old code runs on;
2. one rolling stage per control-plane service, identity and image first,
   then Nova's conductors before its schedulers and APIs (a service whose
   schema generation changes takes ``service-rolling-upgrade``, a patch
   release ``service-update``);
3. before the first Nova service changes, the compute RPC version is
   pinned to what the computes run (``[upgrade_levels] compute``), so that
   new conductors still talk to old computes;
4. the compute hosts last (``compute-rolling-upgrade``), then the pin is
   lifted (computes must not be newer than the conductors).
"""

from upgrader.common import exception

# Control-plane services in the upstream order; others go after them, in
# name order, before the computes.
SERVICE_ORDER = ('keystone', 'glance-api', 'placement-api', 'cinder-api',
                 'cinder-scheduler', 'cinder-volume', 'neutron-server',
                 'nova-conductor', 'nova-scheduler', 'nova-api')
# The compute service whose RPC version the Nova services pin.
COMPUTE = 'nova-compute'
NOVA_PREFIX = 'nova-'

# The template name a train's rollout records (it has no template file).
TEMPLATE = 'release-train'

EXPAND = 'expand'
SERVICE = 'service'
COMPUTES = 'computes'
PIN = 'pin'
UNPIN = 'unpin'

SERVICE_UPGRADE = 'service-rolling-upgrade'
SERVICE_UPDATE = 'service-update'
COMPUTE_UPGRADE = 'compute-rolling-upgrade'


def stages(current, target, control_plane, generation):
    """The stages that take the cloud from ``current`` to ``target``.

    :param current: {component: version} the cloud runs.
    :param target: {component: version} of the release to roll out.
    :param control_plane: names of the services controllers run; every
        other component changed is a package of the compute hosts.
    :param generation: version -> schema generation.
    :raises PlanError: the release would make the computes newer than
        the conductors.
    :returns: [{'kind', ...}]: ``expand`` {'versions'}, ``service``
        {'service', 'version', 'template'}, ``pin`` {'service', 'version'},
        ``computes`` {'versions', 'template'}, ``unpin`` {'service'}; an
        empty list when nothing changes.
    """
    changed = {c: v for c, v in target.items() if current.get(c) != v}
    services = sorted((c for c in changed if c in control_plane),
                      key=_service_rank)
    packages = {c: v for c, v in changed.items() if c not in control_plane}
    schema = {s: changed[s] for s in services
              if s in current and generation(changed[s])
              != generation(current[s])}
    compute_now = current.get(COMPUTE)
    conductor = target.get('nova-conductor', current.get('nova-conductor'))
    if COMPUTE in packages and conductor is not None and generation(
            packages[COMPUTE]) > generation(conductor):
        raise exception.PlanError(
            reason='%s %s would be newer than nova-conductor %s: the '
                   'release must upgrade the conductors too (computes go '
                   'last)' % (COMPUTE, packages[COMPUTE], conductor))
    # New Nova services talk to old computes only with the RPC pinned.
    pin = compute_now is not None and any(
        s.startswith(NOVA_PREFIX) and generation(changed[s])
        > generation(compute_now) for s in services)
    found = []
    if schema:
        found.append({'kind': EXPAND, 'versions': schema})
    for service in services:
        if pin and service.startswith(NOVA_PREFIX):
            found.append({'kind': PIN, 'service': COMPUTE,
                          'version': compute_now})
            pin = False
        found.append({'kind': SERVICE, 'service': service,
                      'version': changed[service],
                      'template': SERVICE_UPGRADE if service in schema
                      else SERVICE_UPDATE})
    if packages:
        found.append({'kind': COMPUTES, 'versions': packages,
                      'template': COMPUTE_UPGRADE})
    if COMPUTE in packages and any(s['kind'] == PIN for s in found):
        found.append({'kind': UNPIN, 'service': COMPUTE})
    return found


def _service_rank(service):
    if service in SERVICE_ORDER:
        return (SERVICE_ORDER.index(service), service)
    return (len(SERVICE_ORDER), service)


def describe(stage):
    """One line for an operator."""
    kind = stage['kind']
    if kind == EXPAND:
        return 'expand the databases of %s' % ', '.join(
            '%s %s' % sv for sv in sorted(stage['versions'].items()))
    if kind == SERVICE:
        return '%s to %s (%s)' % (stage['service'], stage['version'],
                                  stage['template'])
    if kind == PIN:
        return 'pin the %s RPC version to %s' % (stage['service'],
                                                 stage['version'])
    if kind == UNPIN:
        return 'unpin the %s RPC version' % stage['service']
    return 'compute hosts to %s (%s)' % (', '.join(
        '%s %s' % cv for cv in sorted(stage['versions'].items())),
        stage['template'])
