"""Plans of control-plane service rollouts."""

from upgrader.plan import models
from upgrader.plan import services


def test_service_plan_keeps_a_backend_in_the_balancer():
    policy = models.Policy(max_parallel=3,
                           step_seconds={'lb_out': 2, 'start_service': 5})
    plan = services.make_plan(['ctl003', 'ctl001', 'ctl002'], policy,
                              ['lb_out', 'stop_service', 'start_service'])
    assert [w.hosts for w in plan.waves] == [['ctl001', 'ctl002'],
                                             ['ctl003']]
    assert [w.index for w in plan.waves] == [1, 2]
    assert plan.predicted_seconds == 14 and plan.migrations == 0
    assert plan.warnings == []
    assert models.Plan.from_dict(plan.to_dict()).to_dict() == plan.to_dict()
    alone = services.make_plan(['ctl001'], policy, [])
    assert [w.hosts for w in alone.waves] == [['ctl001']]
    assert 'only one controller' in alone.warnings[0]
