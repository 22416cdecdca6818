"""Durations learned from past rollouts' records."""

import datetime

import pytest

from upgrader.common import events
from upgrader.plan import history

T0 = datetime.datetime(2026, 11, 22, 10, 0, 0)


def _at(seconds):
    return T0 + datetime.timedelta(seconds=seconds)


def _step(host, step, start, end, message=events.STEP_DONE):
    return [{'host': host, 'step': step, 'message': events.STEP_STARTED,
             'created_at': _at(start)},
            {'host': host, 'step': step, 'message': message,
             'created_at': _at(end)}]


def _record(reboots, migrations=()):
    """reboots: seconds of each host's reboot; migrations: (GiB, s)."""
    evts = []
    for i, seconds in enumerate(reboots):
        evts += _step('cmp%d' % i, 'reboot', 0, seconds)
        evts += _step('cmp%d' % i, 'evacuate', 0, 999)
    moves, planned = [], []
    for i, (gib, seconds) in enumerate(migrations):
        moves.append({'instance_uuid': 'vm%d' % i, 'state': 'completed',
                      'started_at': _at(0), 'finished_at': _at(seconds)})
        planned.append({'instance': 'vm%d' % i,
                        'resources': {'memory_mb': gib * 1024}})
    return {'events': evts, 'moves': moves,
            'plan': {'waves': [{'moves': planned}]}}


def test_nothing_to_learn_from_nothing():
    assert history.learn([], 4.0) == {}
    assert history.learn([_record([60, 70])], 4.0) == {}   # 2 < 3 samples


def test_median_step_time_but_not_the_evacuation():
    learned = history.learn([_record([60, 90]), _record([75, 1000])], 4.0)
    assert learned['step_seconds'] == {'reboot': 82.5}


def test_a_failed_step_teaches_nothing():
    evts = _step('cmp1', 'reboot', 0, 500, message=events.STEP_FAILED)
    record = dict(_record([60, 60, 60]))
    record['events'] = record['events'] + evts
    assert history.learn([record], 4.0)['step_seconds'] == {'reboot': 60}


def test_migration_rate_fitted_over_guest_sizes():
    learned = history.learn(
        [_record([], [(1, 7), (2, 9), (4, 13), (8, 21)])], 4.0)
    assert learned['migration_base_seconds'] == pytest.approx(5.0)
    assert learned['migration_seconds_per_gib'] == pytest.approx(2.0)


def test_one_guest_size_keeps_the_rate_and_learns_the_base():
    learned = history.learn([_record([], [(2, 10), (2, 12), (2, 14)])], 3.0)
    assert learned['migration_seconds_per_gib'] == 3.0
    assert learned['migration_base_seconds'] == pytest.approx(6.0)
