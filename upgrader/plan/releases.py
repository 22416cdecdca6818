"""What changes between two releases: pure functions on their component
versions (``{component: version}``), no I/O.

A rollout of a full release will order its services from this diff; today
``release diff`` prints it and rollbacks say what they take back.
"""


def diff(old, new):
    """The components ``new`` adds, removes and changes against ``old``.

    :returns: ``{'added': {c: version}, 'removed': {c: version},
        'changed': {c: {'from': old version, 'to': new version}},
        'unchanged': [c, ...]}``, every part sorted by component.
    """
    return {
        'added': {c: new[c] for c in sorted(set(new) - set(old))},
        'removed': {c: old[c] for c in sorted(set(old) - set(new))},
        'changed': {c: {'from': old[c], 'to': new[c]}
                    for c in sorted(set(old) & set(new))
                    if old[c] != new[c]},
        'unchanged': sorted(c for c in set(old) & set(new)
                            if old[c] == new[c]),
    }


def is_empty(changes):
    """Whether a :func:`diff` found nothing to change."""
    return not (changes['added'] or changes['removed'] or changes['changed'])
