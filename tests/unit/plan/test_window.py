"""Maintenance windows: parsing, and when a wave may start."""

import datetime

import pytest

from upgrader.common import exception
from upgrader.plan import window

UTC = datetime.timezone.utc


def _at(text):
    return datetime.datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize('text, days, seconds', [
    ('22:00-06:00', set(range(7)), 8 * 3600),
    ('sat,sun 01:00-05:00 Europe/Berlin', {5, 6}, 4 * 3600),
    ('mon-fri 20:00-23:30 UTC', {0, 1, 2, 3, 4}, 3.5 * 3600),
    ('fri-mon 10:00:30-10:00:40', {4, 5, 6, 0}, 10),
])
def test_parse(text, days, seconds):
    win = window.parse(text)
    assert win.days == frozenset(days)
    assert win.seconds == seconds


@pytest.mark.parametrize('text, message', [
    ('25:00-26:00', 'HH:MM'),
    ('someday 01:00-02:00', 'unknown day'),
    ('01:00-02:00 Mars/Olympus', 'unknown time zone'),
    ('01:00-01:00', 'same time'),
    ('sat 01:00-02:00 UTC extra', 'expected'),
])
def test_bad_windows_say_why(text, message):
    with pytest.raises(exception.InvalidInput, match=message):
        window.parse(text)


def test_a_wave_that_ends_inside_the_open_window_starts_now():
    win = window.parse('22:00-06:00')
    now = _at('2026-11-22T23:00:00')
    assert window.next_start(win, now, 3600) == now


def test_a_wave_that_would_overrun_waits_for_the_next_window():
    win = window.parse('22:00-06:00')
    start = window.next_start(win, _at('2026-11-22T05:30:00'), 3600)
    assert start == _at('2026-11-22T22:00:00')


def test_only_on_its_days_and_in_its_time_zone():
    win = window.parse('sat 01:00-05:00 Europe/Berlin')
    # Sunday 2026-11-22, 12:00 UTC: next Saturday 01:00 in Berlin (UTC+1).
    start = window.next_start(win, _at('2026-11-22T12:00:00'), 600)
    assert start == _at('2026-11-28T00:00:00')
    assert start.astimezone(datetime.timezone(
        datetime.timedelta(hours=1))).hour == 1


def test_a_window_opened_yesterday_is_still_open_after_midnight():
    win = window.parse('sun 22:00-06:00')
    now = _at('2026-11-23T02:00:00')              # Monday
    assert window.next_start(win, now, 3600) == now


def test_a_wave_longer_than_the_window_never_fits():
    with pytest.raises(exception.InvalidInput, match='does not fit'):
        window.next_start(window.parse('01:00-02:00'),
                          _at('2026-11-22T00:00:00'), 7200)
