"""Maintenance windows: when a wave may start.

A window is written ``[DAYS ]HH:MM-HH:MM[ TIMEZONE]``, for example
``22:00-06:00``, ``sat,sun 01:00-05:00 Europe/Berlin`` or
``mon-fri 20:00-23:30 UTC``. Days name the day a window opens (``mon`` to
``sun``, lists and ranges; all days when left out); a window whose end is
before its start ends the next day. Times are wall-clock times of the time
zone (UTC when left out).

Pure functions: the controller asks :func:`next_start` before each wave with
the wave's predicted duration, and waits when the wave would not end inside
the window.
"""

import dataclasses
import datetime
import zoneinfo

from upgrader.common import exception

DAYS = ('mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun')
# How far ahead a window is looked for (a window opens at least weekly).
_HORIZON_DAYS = 8


@dataclasses.dataclass(frozen=True)
class Window:
    days: frozenset          # weekday numbers, Monday = 0
    start: datetime.time
    end: datetime.time
    tz: str

    @property
    def seconds(self):
        """How long the window stays open."""
        day = datetime.date(2000, 1, 3)
        opens = datetime.datetime.combine(day, self.start)
        closes = datetime.datetime.combine(day, self.end)
        if closes <= opens:
            closes += datetime.timedelta(days=1)
        return (closes - opens).total_seconds()

    def openings(self, after):
        """(opens, closes) of each window that closes after ``after`` (an
        aware datetime), earliest first."""
        zone = zoneinfo.ZoneInfo(self.tz)
        local = after.astimezone(zone)
        for offset in range(-1, _HORIZON_DAYS):
            day = local.date() + datetime.timedelta(days=offset)
            if day.weekday() not in self.days:
                continue
            opens = datetime.datetime.combine(day, self.start, tzinfo=zone)
            closes = opens + datetime.timedelta(seconds=self.seconds)
            if closes > after:
                yield opens, closes


def parse(text):
    """A :class:`Window` from its text; InvalidInput saying what is wrong."""
    def invalid(why):
        return exception.InvalidInput(
            reason='maintenance window %r: %s (write it like "sat,sun '
                   '01:00-05:00 Europe/Berlin")' % (text, why))

    parts = str(text).split()
    days = frozenset(range(7))
    if parts and not parts[0][:1].isdigit():
        days = _days(parts.pop(0), invalid)
    if len(parts) not in (1, 2):
        raise invalid('expected days, HH:MM-HH:MM and a time zone')
    try:
        start, end = (datetime.time.fromisoformat(t)
                      for t in parts[0].split('-'))
    except ValueError:
        raise invalid('times are HH:MM-HH:MM') from None
    tz = parts[1] if len(parts) == 2 else 'UTC'
    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise invalid('unknown time zone %s' % tz) from None
    if start == end:
        raise invalid('it opens and closes at the same time')
    return Window(days=days, start=start, end=end, tz=tz)


def _days(text, invalid):
    days = set()
    for item in text.lower().split(','):
        first, _, last = item.partition('-')
        if first not in DAYS or (last and last not in DAYS):
            raise invalid('unknown day in %s (days are %s)'
                          % (text, ','.join(DAYS)))
        a, b = DAYS.index(first), DAYS.index(last or first)
        days.update(range(a, b + 1) if a <= b
                    else list(range(a, 7)) + list(range(0, b + 1)))
    return frozenset(days)


def next_start(window, now, seconds):
    """When a wave of ``seconds`` may start: ``now`` if it ends inside an
    open window, else the opening of the first window it fits in.

    :param now: an aware datetime.
    :raises InvalidInput: the wave is longer than the window.
    """
    if seconds > window.seconds:
        raise exception.InvalidInput(
            reason='a wave predicted to take %d s does not fit the %d s '
                   'maintenance window' % (seconds, window.seconds))
    for opens, closes in window.openings(now):
        start = max(opens, now)
        if start + datetime.timedelta(seconds=seconds) <= closes:
            return start
    raise exception.InvalidInput(reason='the maintenance window never '
                                        'opens')
