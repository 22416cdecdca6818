"""Recurring schedules: ``--every`` values and their next occurrence.

An occurrence is the first time plus a whole number of periods (a month
later on the same day, or the month's last day when it is shorter), so a
schedule never drifts. Times are naive UTC.
"""

import calendar
import datetime
import re

from upgrader.common import exception

EVERY_RE = re.compile(r'^(?:(\d+)\s*)?(hour|day|week|month)s?$')
STEP = {'hour': datetime.timedelta(hours=1),
        'day': datetime.timedelta(days=1),
        'week': datetime.timedelta(weeks=1)}


def parse_every(text):
    """'month', '2 weeks', '12 hours' -> (count, unit); InvalidInput else."""
    match = EVERY_RE.match((text or '').strip().lower())
    if not match or match.group(1) == '0':
        raise exception.InvalidInput(
            reason='--every %r: [N] hour(s), day(s), week(s) or month(s), '
                   'e.g. "month" or "2 weeks"' % (text,))
    return int(match.group(1) or 1), match.group(2)


def _add_months(when, months):
    month = when.month - 1 + months
    year, month = when.year + month // 12, month % 12 + 1
    day = min(when.day, calendar.monthrange(year, month)[1])
    return when.replace(year=year, month=month, day=day)


def occurrence(first, every, index):
    """The ``index``-th occurrence (0 is ``first``)."""
    count, unit = parse_every(every)
    if unit == 'month':
        return _add_months(first, count * index)
    return first + STEP[unit] * count * index


def next_after(first, every, after):
    """The first occurrence later than ``after``."""
    count, unit = parse_every(every)
    index = 0
    if unit != 'month' and after > first:
        # Jump close, then step: no loop over years of hours.
        index = int((after - first) / (STEP[unit] * count))
    while occurrence(first, every, index) <= after:
        index += 1
    return occurrence(first, every, index)
