"""Revenue retention per period, apart from any database: the calendar
periods ("grains") the snapshot measures it for, and which one a pivot cell
is.

Definitions (readme/USAGE.md, KPI reference). ``W(c, X)`` is customer
``c``'s revenue in the 12 months before day ``X``: its deals dated from
``X - 12 months`` (calendar months, as PostgreSQL's ``interval '12
months'``) to the day before ``X``. For a period from ``S`` to ``E``
(inclusive) the *base* is the customers with ``W(c, S) > 0``; then

* revenue at start = sum of ``W(c, S)`` over the base;
* NRR = sum of ``W(c, E + 1)`` over the base / revenue at start x 100;
* GRR = sum of ``min(max(W(c, E + 1), 0), W(c, S))`` over the base /
  revenue at start x 100.

Why grains: the base is fixed at the period's start, so a period's
figures are not sums of its days' figures. The snapshot stores, per day
``E`` and grain, how the base of the grain's period containing ``E``
changes that day (``change_columns``); summed over the days of a cell that
is one period of a grain from its first day (a whole day, week, month,
quarter or year, or its part up to the last day snapshotted), they give
the exact change since the start. ``grain_of`` names such a grain for a
cell (any one that fits gives the same figures); other cells have no
figure.

>>> from datetime import date
>>> grain_of(date(2025, 3, 1), date(2025, 3, 31))
'month'
>>> grain_of(date(2025, 3, 1), date(2025, 4, 2)) is None
True
>>> grain_of(date(2025, 3, 12), date(2025, 3, 12))
'day'
"""

from datetime import timedelta

from dateutil.relativedelta import relativedelta

# the calendar periods, smallest first; weeks start on Monday (ISO, the
# PostgreSQL date_trunc week) or on Sunday, as the user's language has it
GRAINS = ("day", "week", "week_sun", "month", "quarter", "year")

# pseudo-measures of the report: the change of the base's revenue since the
# cell's start, net (NRR) or capped at each customer's start revenue (GRR),
# stored per grain in the snapshot columns "<prefix>_<grain>"
PERIOD_CHANGES = {
    "base_revenue_change": "revenue_change",
    "base_revenue_kept_change": "revenue_kept_change",
}

WINDOW = relativedelta(months=12)


def change_columns(prefix):
    """The snapshot columns of a period change, one per grain.

    >>> change_columns("revenue_change")[:2]
    ['revenue_change_day', 'revenue_change_week']
    """
    return [f"{prefix}_{grain}" for grain in GRAINS]


def grain_start(grain, day):
    """First day of the ``grain`` period containing ``day``.

    >>> from datetime import date
    >>> [grain_start(g, date(2025, 5, 14)).isoformat() for g in GRAINS]
    ['2025-05-14', '2025-05-12', '2025-05-11', '2025-05-01', '2025-04-01', '2025-01-01']
    """
    if grain == "day":
        return day
    if grain == "week":
        return day - timedelta(days=day.weekday())
    if grain == "week_sun":
        return day - timedelta(days=(day.weekday() + 1) % 7)
    if grain == "month":
        return day.replace(day=1)
    if grain == "quarter":
        return day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)
    if grain == "year":
        return day.replace(month=1, day=1)
    raise ValueError(grain)


def grain_of(first, last):
    """The grain whose period starts on ``first`` and contains ``last``, or
    None: the figures of a cell from ``first`` to ``last`` are exact for
    that grain only.

    >>> from datetime import date
    >>> grain_of(date(2025, 5, 12), date(2025, 5, 18)), grain_of(date(2025, 5, 11), date(2025, 5, 14))
    ('week', 'week_sun')
    >>> grain_of(date(2025, 1, 1), date(2025, 12, 31)), grain_of(date(2025, 4, 1), date(2025, 5, 2))
    ('year', 'quarter')
    >>> grain_of(None, None) is None
    True
    """
    if not first or not last or last < first:
        return None
    for grain in GRAINS:
        if grain_start(grain, first) == first and grain_start(grain, last) == first:
            return grain
    return None


def earliest_start(day):
    """The earliest period start of any grain for ``day``: the revenue
    windows a snapshot of ``day`` (or of a period from it) reads begin 12
    months before it.

    >>> from datetime import date
    >>> earliest_start(date(2027, 1, 2)).isoformat()  # a Saturday: its weeks start in 2026
    '2026-12-27'
    """
    return min(grain_start(grain, day) for grain in GRAINS)


def period_change(prefix, measure):
    """The change (``PERIOD_CHANGES`` prefix) of a group's base since its
    first day, from its folded ``measure`` (the per-grain sums and the
    group's ``FIRST_DAY``/``LAST_DAY``), or None when the group is no
    single period of a grain.

    >>> from datetime import date
    >>> m = {"revenue_change_month": -40.0, "revenue_change_day": 5.0,
    ...      FIRST_DAY: date(2025, 3, 1), LAST_DAY: date(2025, 3, 31)}
    >>> period_change("revenue_change", m)
    -40.0
    """
    grain = grain_of(measure.get(FIRST_DAY), measure.get(LAST_DAY))
    if grain is None:
        return None
    return measure.get(f"{prefix}_{grain}") or 0.0


# keys of a folded group's first and last day (lib.kpi.fold_days)
FIRST_DAY = "__first_day"
LAST_DAY = "__last_day"
