"""Plans of control-plane service rollouts: pure, no I/O.

A service's controllers go in waves of ``max_parallel`` hosts, never all of
them at once, so the load balancer always keeps a backend: at most all but
one controller per wave. Nothing migrates; each host's prediction is the sum
of the policy's step durations for the template's steps.
"""

from upgrader.common import exception
from upgrader.plan import models


def make_plan(hosts, policy, steps):
    """A Plan for the controllers ``hosts`` (in name order).

    :param policy: a :class:`upgrader.plan.models.Policy`.
    :param steps: the template's step names (for the predictions).
    """
    if not hosts:
        raise exception.PlanError(reason='no controller to change')
    per_wave = max(1, min(policy.max_parallel, len(hosts) - 1))
    seconds = sum(policy.step_seconds.get(s, 0) for s in steps)
    ordered = sorted(hosts)
    waves = [models.Wave(index=i // per_wave + 1,
                         hosts=ordered[i:i + per_wave],
                         predicted_seconds=seconds)
             for i in range(0, len(ordered), per_wave)]
    warnings = []
    if len(hosts) == 1:
        warnings.append('only one controller (%s): its API is down while '
                        'it is changed' % ordered[0])
    return models.Plan(policy=policy, waves=waves, warnings=warnings,
                       predicted_seconds=seconds * len(waves))
