"""Schedules on SQLite, PostgreSQL and MariaDB: an occurrence is taken by
one caller only (compare and swap on its next run), to the microsecond."""

import datetime

import pytest

from upgrader.common import exception
from upgrader.common import states


def test_an_occurrence_is_taken_once(dbapi_any_backend):
    dbapi = dbapi_any_backend
    due = datetime.datetime(2026, 12, 1, 2, 0, 0, 123456)
    rollout = dbapi.rollout_create(name='r1')
    once = dbapi.schedule_create(due, rollout=rollout.uuid, name='r1-start')
    recurring = dbapi.schedule_create(due, spec={'template': 't'},
                                      every='month', name='monthly')
    assert [s.name for s in dbapi.schedule_list(
        state=states.SCHEDULED, due_before=due)] == ['r1-start', 'monthly']
    assert dbapi.schedule_list(due_before=due - datetime.timedelta(
        microseconds=1)) == []
    assert [s.name for s in dbapi.schedule_list(rollout='r1')] == [
        'r1-start']
    later = datetime.datetime(2027, 1, 1, 2, 0, 0, 123456)
    moved = dbapi.schedule_update(recurring.uuid, {'next_run_at': later},
                                  expected_state=states.SCHEDULED,
                                  expected_next_run_at=due)
    assert moved.next_run_at == later
    with pytest.raises(exception.StateConflict):      # a second taker
        dbapi.schedule_update(recurring.uuid, {'next_run_at': later},
                              expected_state=states.SCHEDULED,
                              expected_next_run_at=due)
    dbapi.schedule_update(once.uuid, {'state': states.SCHEDULE_DONE},
                          expected_state=states.SCHEDULED,
                          expected_next_run_at=due)
    with pytest.raises(exception.StateConflict):
        dbapi.schedule_update(once.uuid, {'state': states.SCHEDULE_DONE},
                              expected_state=states.SCHEDULED,
                              expected_next_run_at=due)
    assert dbapi.schedule_get('r1-start').to_dict()['rollout'] == 'r1'
    with pytest.raises(exception.ScheduleExists):
        dbapi.schedule_create(due, name='monthly')
    with pytest.raises(exception.ScheduleNotFound):
        dbapi.schedule_get('nosuch')
