"""The algebra of the customer KPIs, apart from any database: which figures
are flows and which are stocks, how a period's figures fold out of its
days, and how the ratios follow. ``crm.kpi.customer.report`` fetches rows
(per group and day) and calls these; its SQL path builds the same ratios
from ``RATIOS``.

Flows (acquired, lost, deals, revenue...) add up over the days of a
period. Stocks do not: "customers at start" of a period is the stock of
its first day, "at end" the stock of its last day (``STOCKS``).

>>> rows = [  # (group, day, flows, stocks)
...     ("A", 1, {"acquired_count": 2}, {"customers_start": 10, "customers_end": 11}),
...     ("A", 2, {"acquired_count": 1}, {"customers_start": 11, "customers_end": 12}),
... ]
>>> folded = fold_days(rows)
>>> folded["A"]["acquired_count"], folded["A"]["customers_start"], folded["A"]["customers_end"]
(3, 10, 12)
>>> kpi_value("acquired_rate", folded["A"])
30.0
>>> kpi_value("churn_rate", {"lost_count": 1, "customers_start": 0}) is None
True
"""

from . import revenue

# stock -> the edge day of the period whose value it takes
STOCKS = {
    "customers_start": "min",
    "customers_end": "max",
    "active_end": "max",
    "clv_end": "max",
    "value_at_risk_end": "max",
    "revenue_base_start": "min",
    "revenue_base_end": "max",
}

# ratio -> (numerator terms, denominator, scale); a term is a measure, "-x"
# subtracts it; no denominator (0) gives no value, not 0 %
RATIOS = {
    "acquired_rate": (("acquired_count",), "customers_start", 100.0),
    "churn_rate": (("lost_count",), "customers_start", 100.0),
    "retention_rate": (
        ("customers_end", "-acquired_count", "-won_back_count", "-reclassified_count"),
        "customers_start",
        100.0,
    ),
    "deal_frequency": (("deal_count",), "active_end", 1.0),
    "avg_deal_amount": (("revenue",), "deal_count", 1.0),
    "avg_clv": (("clv_end",), "customers_end", 1.0),
    "revenue_churn_rate": (("revenue_churn",), "revenue_base_start", 100.0),
    # a period change (lib/revenue.py) is None when the cell is no single
    # calendar period: the ratio is then empty
    "nrr": (("revenue_base_start", "base_revenue_change"), "revenue_base_start", 100.0),
    "grr": (("revenue_base_start", "base_revenue_kept_change"), "revenue_base_start", 100.0),
}

KPIS = set(STOCKS) | set(RATIOS)


def _closure(wanted):
    """The KPIs of ``wanted`` and every measure their ratios use."""
    needed, todo = set(), [name for name in wanted if name in KPIS]
    while todo:
        name = todo.pop()
        needed.add(name)
        if name in RATIOS:
            terms, den, _scale = RATIOS[name]
            todo += [t.lstrip("-") for t in (*terms, den) if t.lstrip("-") not in needed]
    return needed


def needed_measures(wanted):
    """``(stocks, flows)`` every KPI of ``wanted`` needs, ratios resolved
    to their terms; measures of ``wanted`` that are no KPI are left out.

    >>> needed_measures(["retention_rate"])
    (['customers_start', 'customers_end'], ['acquired_count', 'reclassified_count', 'won_back_count'])
    >>> needed_measures(["revenue", "avg_clv"])
    (['customers_end', 'clv_end'], [])

    A period change (``revenue.PERIOD_CHANGES``) needs its per-grain
    columns, and the group's first and last day (``fold_days(days=True)``):

    >>> needed_measures(["grr"])[1][:2]
    ['revenue_kept_change_day', 'revenue_kept_change_month']
    """
    needed = _closure(wanted)
    stocks = [name for name in STOCKS if name in needed]
    flows = set()
    for name in needed - KPIS:
        prefix = revenue.PERIOD_CHANGES.get(name)
        flows.update(revenue.change_columns(prefix) if prefix else [name])
    return stocks, sorted(flows)


def period_changes(wanted):
    """The period changes (pseudo-measures of ``revenue.PERIOD_CHANGES``)
    the KPIs of ``wanted`` need.

    >>> period_changes(["nrr", "churn_rate"])
    ['base_revenue_change']
    """
    return sorted(_closure(wanted) & set(revenue.PERIOD_CHANGES))


def resolve_period_changes(measure, names):
    """Set the period changes ``names`` in a group's folded ``measure``
    (which has the per-grain sums and the group's first and last day).

    >>> from datetime import date
    >>> m = {"revenue_change_day": 3.0, revenue.FIRST_DAY: date(2025, 3, 4),
    ...      revenue.LAST_DAY: date(2025, 3, 4), "revenue_base_start": 100.0}
    >>> kpi_value("nrr", resolve_period_changes(m, ["base_revenue_change"]))
    103.0
    """
    for name in names:
        measure[name] = revenue.period_change(revenue.PERIOD_CHANGES[name], measure)
    return measure


def kpi_value(name, measure):
    """KPI ``name`` from a group's flows and stocks ``measure`` (a dict):
    the measure itself, or a ratio of ``RATIOS`` (None without
    denominator).

    >>> kpi_value("retention_rate", {"customers_end": 97, "acquired_count": 10,
    ...                              "won_back_count": 5, "reclassified_count": 2,
    ...                              "customers_start": 100})
    80.0
    >>> kpi_value("avg_deal_amount", {"revenue": 900.0, "deal_count": 3})
    300.0
    """
    if name in measure:
        return measure[name]
    terms, den, scale = RATIOS[name]
    values = [kpi_value(t.lstrip("-"), measure) for t in terms]
    if any(value is None for value in values):
        # a term without a value (a period change of no single period)
        return None
    num = sum(-v if t.startswith("-") else v for t, v in zip(terms, values, strict=True))
    den = kpi_value(den, measure)
    return scale * num / den if den else None


def add(known, value):
    """Sum of two read_group values where None or False means "no row"
    (and stays so when both are).

    >>> add(None, 3), add(2, None), add(2, 3), add(None, False)
    (3, 2, 5, False)
    """
    if known is None or known is False:
        return value
    if value is None or value is False:
        return known
    return known + value


def fold_days(rows, days=False):
    """Fold ``rows`` of ``(group, day, flows, stocks)`` (dicts of sums per
    group and day, in any order) into ``{group: measure}``: each flow summed
    over the days, each stock taken on the group's first (``min``) or last
    (``max``) day (0 when the group has no row that day). With ``days``,
    each measure also has the group's first and last day
    (``revenue.FIRST_DAY``, ``revenue.LAST_DAY``), which the period changes
    need.

    >>> fold_days([("g", 5, {}, {"active_end": 7}), ("g", 3, {}, {"active_end": 4})])
    {'g': {'active_end': 7}}
    >>> fold_days([("g", 5, {}, {}), ("g", 3, {}, {})], days=True)["g"][revenue.FIRST_DAY]
    3
    """
    totals, edges = {}, {}
    for group, day, flows, stocks in rows:
        known = totals.setdefault(group, {})
        for name, value in flows.items():
            known[name] = add(known.get(name), value)
        edge = edges.setdefault(group, [day, stocks, day, stocks])
        if day < edge[0]:
            edge[0], edge[1] = day, stocks
        if day > edge[2]:
            edge[2], edge[3] = day, stocks
    for group, (first_day, first, last_day, last) in edges.items():
        for name in {*first, *last}:
            totals[group][name] = (first if STOCKS[name] == "min" else last).get(name) or 0
        if days:
            totals[group][revenue.FIRST_DAY] = first_day
            totals[group][revenue.LAST_DAY] = last_day
    return totals
