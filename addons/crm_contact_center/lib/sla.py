"""Service-level deadlines counted in working time.

No ``odoo`` import. ``resource.calendar.plan_hours`` answers "when are
``hours`` working hours done, starting at ``start``" for one date, reading
the calendar (attendances, then leaves) once per 14 days it walks: a batch
of requests would read it once per request. Here the calendar's working
intervals are read once for the whole batch
(``resource.calendar._work_intervals_batch``, leaves and public holidays
already taken out) and each request walks them, the way ``plan_hours``
walks its windows: same rule, same result (a test compares both).

Usage::

    >>> from datetime import datetime as dt
    >>> # Friday 5 June 2026 8-12 and 13-17, then Tuesday 9 (Monday is a holiday)
    >>> week = WorkingTime([(dt(2026, 6, 5, 8), dt(2026, 6, 5, 12)),
    ...                     (dt(2026, 6, 5, 13), dt(2026, 6, 5, 17)),
    ...                     (dt(2026, 6, 9, 8), dt(2026, 6, 9, 12))])
    >>> week.plan(dt(2026, 6, 5, 15), 4)      # 2 hours on Friday, 2 on Tuesday
    (datetime.datetime(2026, 6, 9, 10, 0), 0.0)
    >>> week.plan(dt(2026, 6, 5, 12, 30), 1)  # asked during lunch: counted from 13:00
    (datetime.datetime(2026, 6, 5, 14, 0), 0.0)
    >>> week.plan(dt(2026, 6, 5, 15), 2)      # exactly the end of the day, as plan_hours
    (datetime.datetime(2026, 6, 5, 17, 0), 0.0)
    >>> week.plan(dt(2026, 6, 5, 15), 10)     # past the intervals: the hours still to plan
    (None, 4.0)

A deadline the intervals read do not reach comes back as ``(None, hours
left)``: plan them on the next window, from its start (``next_windows``
gives windows that grow, so a long target or a long closure costs a few
reads, not one per fortnight).
"""

from bisect import bisect_right
from datetime import timedelta

# the first window read after the latest request, in days (plan_hours' step)
WINDOW_DAYS = 14
# windows read at most, each twice the last: 14 + 28 + ... + 1792 days, about
# ten years, past any response target (the channel allows a year of hours)
MAX_WINDOWS = 8


def next_windows(start):
    """The windows ``(from, to)`` to read one after the other from ``start``
    (any type that adds a ``timedelta``), each twice as long as the last.

    >>> from datetime import datetime as dt
    >>> windows = list(next_windows(dt(2026, 1, 1)))
    >>> len(windows), windows[0][1] - windows[0][0], windows[1][0] == windows[0][1]
    (8, datetime.timedelta(days=14), True)
    """
    length = timedelta(days=WINDOW_DAYS)
    for _window in range(MAX_WINDOWS):
        yield start, start + length
        start, length = start + length, length * 2


class WorkingTime:
    """Sorted, non-overlapping working intervals ``(start, stop)`` of one
    calendar over a window, on which many deadlines are planned.

    ``plan(start, hours)`` returns ``(deadline, 0.0)`` or, when the
    intervals end first, ``(None, hours left)``. Times may be naive or
    aware, as long as the intervals and the starts agree.
    """

    def __init__(self, intervals):
        intervals = sorted(intervals)
        self.starts = [start for start, _stop in intervals]
        self.stops = [stop for _start, stop in intervals]

    def plan(self, start, hours):
        left = hours
        # the first interval that ends after the start
        first = bisect_right(self.stops, start)
        for begin, stop in zip(self.starts[first:], self.stops[first:], strict=True):
            begin = max(begin, start)
            available = (stop - begin).total_seconds() / 3600
            if left <= available:
                return begin + timedelta(hours=left), 0.0
            left -= available
        return None, left
