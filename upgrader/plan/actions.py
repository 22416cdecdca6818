"""What happens to each instance of a host the rollout upgrades.

Decided at plan time, so nothing is discovered mid-roll: an instance is
live-migrated, unless it asks for another action through its server metadata
key or tag ``upgrader:action`` (``upgrader:action=stop-start``), or cannot be
live-migrated, when ``Policy.unmovable`` decides.
"""

from upgrader.plan import models

ACTION_KEY = 'upgrader:action'
_TAG_PREFIX = ACTION_KEY + '='


def requested(instance):
    """The action ``instance`` asks for, or None.

    The metadata key wins over a tag; with several tags, the first.
    """
    value = instance.metadata.get(ACTION_KEY)
    if value is None:
        value = next((t[len(_TAG_PREFIX):] for t in instance.tags
                      if t.startswith(_TAG_PREFIX)), None)
    return value


def choose(instances, policy, warnings):
    """(instance, action, reason) for those of ``instances`` not plainly
    live-migrated.

    An instance may ask for any of ``models.INSTANCE_ACTIONS``: owners can
    usually write their server's metadata, so it may not skip its host or
    stop the plan (``skip-host`` and ``fail`` are the operator's, through
    ``Policy.unmovable``). Other values are ignored with a warning. Asking
    to live-migrate an instance that cannot be changes nothing: the policy
    decides.
    """
    chosen = []
    for instance in instances:
        # The usual case, kept cheap: a cloud has tens of thousands.
        if instance.live_migratable and not (instance.metadata
                                             or instance.tags):
            continue
        action, reason = _choose(instance, policy, warnings)
        if action != models.LIVE_MIGRATE:
            chosen.append((instance, action, reason))
    return chosen


def _choose(instance, policy, warnings):
    asked = requested(instance)
    if asked is not None and asked not in models.INSTANCE_ACTIONS:
        warnings.append('instance %s (%s) asks for %s=%s, which is not an '
                        'action (known: %s): ignored'
                        % (instance.name, instance.uuid, ACTION_KEY, asked,
                           ', '.join(models.INSTANCE_ACTIONS)))
        asked = None
    if asked not in (None, models.LIVE_MIGRATE):
        return asked, 'asked for by its %s' % ACTION_KEY
    if instance.live_migratable:
        return models.LIVE_MIGRATE, None
    return policy.unmovable, 'cannot be live-migrated: %s' % ', '.join(
        instance.live_migration_blockers)
