"""Recurring schedules' arithmetic."""

import datetime

import pytest

from upgrader.common import exception
from upgrader.common import recurrence

T = datetime.datetime


@pytest.mark.parametrize('text, parsed', [
    ('month', (1, 'month')), ('2 weeks', (2, 'week')),
    ('12hours', (12, 'hour')), (' Day ', (1, 'day'))])
def test_parse_every(text, parsed):
    assert recurrence.parse_every(text) == parsed


@pytest.mark.parametrize('text', ['', 'fortnight', '0 days', '-1 day',
                                  'month 2', None])
def test_bad_every_is_refused(text):
    with pytest.raises(exception.InvalidInput):
        recurrence.parse_every(text)


def test_months_keep_the_day_or_take_the_months_last():
    first = T(2026, 1, 31, 2, 0)
    assert [recurrence.occurrence(first, 'month', i) for i in range(4)] == [
        first, T(2026, 2, 28, 2, 0), T(2026, 3, 31, 2, 0),
        T(2026, 4, 30, 2, 0)]
    assert recurrence.occurrence(first, '12 months', 1) == T(2027, 1, 31, 2)


def test_next_after_never_drifts_and_is_strictly_later():
    first = T(2026, 1, 1, 3, 0)
    assert recurrence.next_after(first, 'week', first) == T(2026, 1, 8, 3)
    assert recurrence.next_after(first, 'week', T(2025, 1, 1)) == first
    assert recurrence.next_after(first, '6 hours', T(2030, 1, 1, 4)) == \
        T(2030, 1, 1, 9)
    assert recurrence.next_after(first, 'month', T(2026, 5, 1, 3)) == \
        T(2026, 6, 1, 3)
