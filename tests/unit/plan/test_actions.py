"""Per-instance actions, decided at plan time from policy, metadata, tags."""

import json

import pytest

from tests.unit.plan import clouds
from upgrader.common import exception
from upgrader.common import inventory as inv
from upgrader.plan import actions
from upgrader.plan import models
from upgrader.plan import planner

BLOCKER = 'flavor requests a virtual GPU'


def _stuck_cloud():
    """cmp001's vm00 cannot be live-migrated; cmp002 is a spare host."""
    inventory = clouds.cloud([2, 2], empty=1)
    _instance(inventory, 'cmp001-vm00').live_migration_blockers = [BLOCKER]
    return inventory


def _instance(inventory, uuid):
    return next(i for i in inventory.instances if i.uuid == uuid)


def test_requested_action_metadata_wins_over_a_tag():
    instance = inv.Instance(uuid='u', name='vm', host='h', status='ACTIVE')
    assert actions.requested(instance) is None
    instance.tags = ['db', 'upgrader:action=stop-start']
    assert actions.requested(instance) == 'stop-start'
    instance.metadata = {'upgrader:action': 'notify-and-wait'}
    assert actions.requested(instance) == 'notify-and-wait'


def test_metadata_and_tags_round_trip_with_the_inventory():
    inventory = _stuck_cloud()
    instance = _instance(inventory, 'cmp000-vm00')
    instance.metadata = {'upgrader:action': 'stop-start', 'owner': 'db'}
    instance.tags = ['upgrader:action=cold-migrate']
    data = json.loads(json.dumps(inventory.to_dict()))
    assert inv.Inventory.from_dict(data) == inventory
    for d in data['instances']:
        del d['metadata'], d['tags']   # an inventory stored before them
    older = inv.Inventory.from_dict(data)
    assert all(i.metadata == {} and i.tags == [] for i in older.instances)


def test_unmovable_instance_can_be_cold_migrated():
    inventory = _stuck_cloud()
    plan = planner.make_plan(inventory, models.Policy(
        unmovable='cold-migrate'))
    clouds.replay(inventory, plan)
    wave = plan.wave_of('cmp001')
    assert wave.actions_on('cmp001') == {'cmp001-vm00': 'cold-migrate',
                                         'cmp001-vm01': 'live-migrate'}
    assert not plan.skipped_hosts and not wave.stays
    assert plan.migrations == plan.lower_bound_migrations == 4


@pytest.mark.parametrize('unmovable', ['stop-start', 'notify-and-wait'])
def test_unmovable_instance_can_stay_on_its_host(unmovable):
    inventory = _stuck_cloud()
    plan = planner.make_plan(inventory, models.Policy(unmovable=unmovable))
    where = clouds.replay(inventory, plan)
    wave = plan.wave_of('cmp001')
    assert wave.stays == [models.Stay(
        instance='cmp001-vm00', name='vm', host='cmp001', action=unmovable,
        reason='cannot be live-migrated: %s' % BLOCKER)]
    assert wave.actions_on('cmp001') == {'cmp001-vm00': unmovable,
                                         'cmp001-vm01': 'live-migrate'}
    assert where['cmp001-vm00'] == 'cmp001'
    assert plan.migrations == plan.lower_bound_migrations == 3


def test_a_staying_instance_keeps_its_room_on_the_host():
    # cmp000's 14 instances stay: upgraded first (it has nothing to move),
    # it then has room for two more beside them, not three.
    def plan(per_host):
        inventory = clouds.cloud(per_host)
        for instance in inventory.instances:
            if instance.host == 'cmp000':
                instance.metadata['upgrader:action'] = 'stop-start'
        return inventory, planner.make_plan(inventory, models.Policy())

    inventory, fits = plan([14, 2])
    clouds.replay(inventory, fits)
    assert fits.hosts == ['cmp000', 'cmp001']
    assert len(fits.waves[0].stays) == 14 and not fits.waves[0].moves
    assert {m.destination for m in fits.moves} == {'cmp000'}
    with pytest.raises(exception.PlanError, match='cmp001 cannot be drained'):
        plan([14, 3])


@pytest.mark.parametrize('where', ['metadata', 'tags'])
@pytest.mark.parametrize('action', ['cold-migrate', 'stop-start',
                                    'notify-and-wait'])
def test_an_instance_may_ask_for_its_action(where, action):
    inventory = _stuck_cloud()
    instance = _instance(inventory, 'cmp000-vm01')
    if where == 'metadata':
        instance.metadata['upgrader:action'] = action
    else:
        instance.tags.append('upgrader:action=%s' % action)
    plan = planner.make_plan(inventory, models.Policy())
    clouds.replay(inventory, plan)
    assert plan.wave_of('cmp000').actions_on('cmp000')[
        'cmp000-vm01'] == action
    if action in models.STAY_ACTIONS:
        assert plan.wave_of('cmp000').stays[0].reason == (
            'asked for by its upgrader:action')


@pytest.mark.parametrize('asked', ['skip-host', 'fail', 'reboot'])
def test_an_instance_cannot_skip_its_host_or_stop_the_plan(asked):
    inventory = _stuck_cloud()
    _instance(inventory, 'cmp000-vm00').metadata['upgrader:action'] = asked
    plan = planner.make_plan(inventory, models.Policy())
    assert 'cmp000' in plan.hosts
    assert plan.wave_of('cmp000').actions_on('cmp000')[
        'cmp000-vm00'] == 'live-migrate'
    assert any('asks for upgrader:action=%s, which is not an action'
               % asked in w for w in plan.warnings)


def test_asking_to_live_migrate_does_not_lift_a_blocker():
    inventory = _stuck_cloud()
    _instance(inventory, 'cmp001-vm00').tags.append(
        'upgrader:action=live-migrate')
    plan = planner.make_plan(inventory, models.Policy())
    assert 'cmp001' in plan.skipped_hosts
    with pytest.raises(exception.PlanError, match=BLOCKER):
        planner.make_plan(inventory, models.Policy(unmovable='fail'))
    plan = planner.make_plan(inventory, models.Policy(
        unmovable='stop-start'))
    assert plan.wave_of('cmp001').actions_on('cmp001')[
        'cmp001-vm00'] == 'stop-start'


def test_an_instance_asking_to_stay_unblocks_its_host():
    inventory = _stuck_cloud()
    _instance(inventory, 'cmp001-vm00').metadata[
        'upgrader:action'] = 'notify-and-wait'
    plan = planner.make_plan(inventory, models.Policy(unmovable='fail'))
    assert plan.wave_of('cmp001').stays[0].action == 'notify-and-wait'
