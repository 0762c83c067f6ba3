"""Customer metrics and risk levels from per-customer deal aggregates.

Pure pandas/numpy (no Odoo): the ORM layer aggregates deals in SQL and hands
a frame here, one row per customer, then writes the result back in bulk.

    >>> import datetime as dt, pandas as pd
    >>> frame = pd.DataFrame({
    ...     "partner_id": [1, 2], "opportunity_count": [1, 3], "won_count": [0, 3],
    ...     "deal_days": [0, 3], "first_deal_date": [None, dt.date(2024, 1, 1)],
    ...     "last_deal_date": [None, dt.date(2024, 7, 1)],
    ...     "prev_deal_date": [None, dt.date(2024, 4, 1)], "won_revenue": [0, 300.0]})
    >>> out = compute_metrics(frame, today=dt.date(2024, 8, 1), params=None,
    ...                       typical_interval_days=90, settings=DEFAULTS)
    >>> out[["partner_id", "avg_deal_amount", "risk_level"]].values.tolist()
    [[1, 0.0, 'low'], [2, 100.0, 'low']]

Time runs in weeks inside the churn model (``TIME_UNIT_DAYS``): BG/NBD's
frequency is the number of repeat deal *days*, recency the weeks between
the first and the last deal, T the weeks since the first deal.

Risk level (drives the default At risk / Lost stage rules):

* ``high`` when the churn probability reaches ``lost_probability``, or the
  customer is ``lost_overdue_ratio`` times late against its own purchase
  rhythm, or no deal for ``lost_after_days``;
* ``medium`` when the churn probability reaches ``at_risk_probability`` or
  the customer is ``at_risk_overdue_ratio`` times late;
* ``low`` otherwise.

The churn probability counts only once the customer is due (past its
expected next purchase, ``overdue_ratio`` >= 1). In BG/NBD a customer may
drop out right after any purchase, so P(alive) on the day of a repeat
purchase is (b + x - 1) / (a + b + x - 1), below 1: with a fit where a is
large next to b, a second purchase would otherwise make a customer At risk
the very day it bought again.

BG/NBD gives P(alive) = 1 to a customer who never bought twice, so the
rhythm test is what moves one-time buyers: their expected interval is the
company's typical repeat interval (median over repeat buyers).

Why, by when and how much (what a salesperson acts on):

* ``risk_reason_code`` (``RISK_REASONS``): the rule that explains the risk
  level, the plainest first: no deal for ``lost_after_days``, late against
  the customer's own rhythm, the model's churn probability; "on track"
  otherwise. The profile turns it into a sentence with the figures;
* ``act_before_date``: the day the customer turns at risk if it buys
  nothing (the first of: ``at_risk_overdue_ratio`` times its interval after
  the last deal, P(alive) falling below ``1 - at_risk_probability`` (a
  bisection: with no new deal P(alive) only falls) but not before the
  customer is due, ``lost_after_days``);
  in the past for a customer already at risk;
* ``p_alive_expected``: P(alive) on the expected date of the next deal,
  ``p_alive_if_deal``: P(alive) if the customer bought again today (for
  repeat buyers: BG/NBD holds a one-time buyer surely alive);
* ``value_if_retained``: the discounted 12-month value *given* the customer
  is still active (``predicted_clv`` without its P(alive) factor, which
  makes customers at risk look worthless), ``value_at_risk`` =
  (1 - P(alive)) x that: what the company stands to lose.
"""

import numpy as np
import pandas as pd

from . import clv, survival

TIME_UNIT_DAYS = 7.0
# the horizon of the expected remaining active time (``outlook``): 10 years
# (its plain mean is infinite when the model's a <= 1)
ACTIVE_HORIZON_DAYS = 3652.5

# the per-customer deal aggregates ``compute_metrics`` reads (besides
# partner_id): the frame of the recompute's aggregate, what a profile stores
# of it, and the state of a point of the history rebuild
AGGREGATE_COLUMNS = [
    "opportunity_count",
    "won_count",
    "deal_days",
    "first_deal_date",
    "last_deal_date",
    "prev_deal_date",
    "won_revenue",
]
AGGREGATE_DATES = ("first_deal_date", "last_deal_date", "prev_deal_date")

# why a customer is (or is not) at risk, the plainest explanation first
RISK_REASONS = [
    ("none", "No purchase yet"),
    ("on_track", "On track"),
    ("silent", "Silent too long"),
    ("overdue", "Late against its rhythm"),
    ("model", "Likely to have left"),
]

# the longest wait (days after the last deal) searched for a crossing of a
# churn threshold: a customer not crossing it within a century never does
MAX_GAP_DAYS = 36500

DEFAULTS = {
    "at_risk_probability": 0.5,
    "lost_probability": 0.8,
    "at_risk_overdue_ratio": 1.5,
    "lost_overdue_ratio": 3.0,
    "lost_after_days": 730,
    "min_repeat_customers": 20,
    "monthly_discount_rate": 0.01,
    # L2 penalty on log-parameters: keeps fits on small customer bases from
    # drifting to degenerate corners (a, b -> infinity); negligible on large ones
    "fit_penalizer": 0.001,
    "default_interval_days": 90.0,
    "batch_size": 50000,
    # batches of a full recompute applied at once (one transaction and one
    # PostgreSQL process each), at most the number of cores
    "parallel_batches": 2,
    # the nightly run reads every deal at least once in this many days; in
    # between, the profiles' stored aggregates and the changed customers'
    # deals (1: every night)
    "full_aggregate_days": 7,
}

# The settings each company sets for itself (``res.company.retention_<key>``,
# the Settings page); the others tune the machine running the recompute and
# stay database-wide (``crm_retention.<key>`` system parameters).
COMPANY_SETTINGS = (
    "at_risk_probability",
    "lost_probability",
    "at_risk_overdue_ratio",
    "lost_overdue_ratio",
    "lost_after_days",
    "min_repeat_customers",
    "monthly_discount_rate",
    "fit_penalizer",
    "default_interval_days",
)
# ... of which these have no field on the Settings page (set on the company)
COMPANY_ONLY_SETTINGS = ("fit_penalizer", "default_interval_days")

# Allowed range (inclusive) of each setting: the settings form refuses a value
# outside it and the recompute refuses to run with one (a parameter written
# directly). Probabilities are probabilities; a negative day count or
# discount rate would mark every customer Lost with an absurd CLV.
BOUNDS = {
    "at_risk_probability": (0.0, 1.0),
    "lost_probability": (0.0, 1.0),
    "at_risk_overdue_ratio": (0.1, 100.0),
    "lost_overdue_ratio": (0.1, 100.0),
    "lost_after_days": (1, 36500),
    "min_repeat_customers": (1, 10_000_000),
    "monthly_discount_rate": (0.0, 0.5),
    "fit_penalizer": (0.0, 100.0),
    "default_interval_days": (1.0, 3650.0),
    "batch_size": (1, 10_000_000),
    "parallel_batches": (1, 64),
    "full_aggregate_days": (1, 366),
}

# Allowed range of the values a stage rule compares these profile fields to.
RULE_FIELD_BOUNDS = {
    "p_alive": (0.0, 1.0),
    "churn_probability": (0.0, 1.0),
}


def setting_errors(settings):
    """``[(key, value, low, high)]`` for the settings out of their range
    (``BOUNDS``), or not a finite number; also, an "at risk" threshold
    above the "lost" one is reported on the "at risk" key (low/high None).

    >>> setting_errors({"lost_probability": 5, "lost_after_days": 730})
    [('lost_probability', 5, 0.0, 1.0)]
    >>> setting_errors({"at_risk_probability": 0.9, "lost_probability": 0.8})
    [('at_risk_probability', 0.9, None, None)]
    """
    errors = []
    for key, value in settings.items():
        if key not in BOUNDS:
            continue
        low, high = BOUNDS[key]
        try:
            ok = low <= float(value) <= high
        except (TypeError, ValueError):
            ok = False
        if not ok:
            errors.append((key, value, low, high))
    if not errors:
        for at_risk, lost in (
            ("at_risk_probability", "lost_probability"),
            ("at_risk_overdue_ratio", "lost_overdue_ratio"),
        ):
            if at_risk in settings and lost in settings and settings[at_risk] > settings[lost]:
                errors.append((at_risk, settings[at_risk], None, None))
    return errors


def to_dates(values):
    """datetime64[D] array (NaT where missing) from dates, ISO strings or
    numbers of days since 1970-01-01 (how the recompute reads them: numpy
    takes integers much faster than it parses dates)."""
    values = pd.Series(values)
    if pd.api.types.is_numeric_dtype(values.dtype):
        days = values.to_numpy(dtype=float)
        known = ~np.isnan(days)
        out = np.full(len(days), np.datetime64("NaT"), dtype="datetime64[D]")
        out[known] = days[known].astype(np.int64).astype("datetime64[D]")
        return out
    return pd.to_datetime(values, format="ISO8601").to_numpy(dtype="datetime64[D]")


def sample_order(partner_ids):
    """Positions of the customers in a deterministic pseudo-random order (a
    multiplicative hash of the partner id): the first K are a sample of K
    customers, the same ones from one run to the next."""
    keys = (np.asarray(partner_ids, dtype=np.uint64) * np.uint64(2654435761)) % np.uint64(2**32)
    return np.argsort(keys, kind="stable")


def _days(later, earlier):
    """Whole days between two datetime64[D] arrays (NaN where missing)."""
    return (later - earlier) / np.timedelta64(1, "D")


def purchase_rhythm(deal_days, span_days, default_days):
    """Per customer: the average days between its purchase days (0 for a
    one-time buyer) and the interval its next purchase is expected in (that
    average, at least a day; ``default_days``, the company's typical
    interval, for a one-time buyer). The risk level, the history rebuild's
    points and the backtest measure "late" and "due" against it.

    >>> [a.tolist() for a in purchase_rhythm([3, 1, 2], [60, 0, 0], 45.0)]
    [[30.0, 0.0, 0.0], [30.0, 45.0, 1.0]]
    """
    deal_days = np.asarray(deal_days)
    span_days = np.asarray(span_days, dtype=float)
    repeat = deal_days > 1
    average = np.divide(span_days, deal_days - 1, out=np.zeros(span_days.shape), where=repeat)
    return average, np.where(repeat, np.maximum(average, 1.0), float(default_days or 1.0))


def churn_after_gap(bgnbd, deal_days, span_days, gap_days):
    """Churn probability (1 - P(alive)) of customers with ``deal_days``
    purchase days spread over ``span_days`` (first to last), ``gap_days``
    after their last deal (arrays or scalars)."""
    deal_days, span_days, gap_days = np.broadcast_arrays(
        np.atleast_1d(deal_days), np.atleast_1d(span_days).astype(float), gap_days
    )
    frequency = np.maximum(deal_days - 1, 0).astype(float)
    recency = span_days / TIME_UNIT_DAYS
    age = (span_days + gap_days) / TIME_UNIT_DAYS
    alive = clv.p_alive(bgnbd, frequency, recency, age)
    return 1.0 - np.clip(np.nan_to_num(alive, nan=1.0), 0.0, 1.0)


def first_gap_reaching(bgnbd, deal_days, span_days, threshold, lo=None, hi=None):
    """Per customer: the first whole number of days after its last deal on
    which its churn probability reaches ``threshold`` if it buys nothing,
    searched in (``lo``, ``hi``] (default: from the last deal day, included,
    to ``MAX_GAP_DAYS``); NaN when it is not reached there. With no new deal
    P(alive) only falls, so a bisection finds it; customers of the same
    purchase days and span share the answer and are searched once.

    >>> params = clv.BGNBDParams(0.24, 4.41, 0.79, 2.43)
    >>> gap = first_gap_reaching(params, np.array([5]), np.array([200]), 0.5)
    >>> int(gap[0]), bool(churn_after_gap(params, 5, 200, gap[0]) >= 0.5)
    (133, True)
    >>> bool(churn_after_gap(params, 5, 200, gap[0] - 1) < 0.5)
    True
    """
    deal_days = np.asarray(deal_days, dtype=np.int64)
    span_days = np.asarray(span_days, dtype=np.int64)
    n = len(deal_days)
    lo = np.full(n, -1.0) if lo is None else np.asarray(lo, dtype=float)
    hi = np.full(n, float(MAX_GAP_DAYS)) if hi is None else np.asarray(hi, dtype=float)
    out = np.full(n, np.nan)
    if not n:
        return out
    # customers of one shape and one search range share the answer
    keys = np.stack([deal_days, span_days, lo, hi], axis=1)
    shapes, of_shape = np.unique(keys, axis=0, return_inverse=True)
    of_shape = np.asarray(of_shape).reshape(-1)
    x, span, lo_s, hi_s = shapes[:, 0], shapes[:, 1], shapes[:, 2].copy(), shapes[:, 3].copy()
    reached = churn_after_gap(bgnbd, x, span, hi_s) >= threshold
    not_yet = (lo_s < 0) | (churn_after_gap(bgnbd, x, span, np.maximum(lo_s, 0)) < threshold)
    todo = np.flatnonzero(reached & not_yet & (hi_s > lo_s))
    lo_t, hi_t, x_t, span_t = lo_s[todo], hi_s[todo], x[todo], span[todo]
    while True:
        open_ = hi_t - lo_t > 1
        if not open_.any():
            break
        mid = np.floor((lo_t + hi_t) / 2)
        above = churn_after_gap(bgnbd, x_t, span_t, np.maximum(mid, 0)) >= threshold
        hi_t = np.where(open_ & above, mid, hi_t)
        lo_t = np.where(open_ & ~above, mid, lo_t)
    found = np.full(len(shapes), np.nan)
    found[todo] = np.maximum(hi_t, 0)
    out[:] = found[of_shape]
    return out


def outlook(bgnbd, deal_days, first_dates, last_dates, today, threshold=0.5):
    """How long a customer is likely to stay, from its purchase days.

    :param bgnbd: the company's ``clv.BGNBDParams`` or None (no model)
    :param deal_days: distinct purchase days per customer (0: none)
    :param first_dates, last_dates: first and last purchase day
        (datetime64[D] or dates; NaT / None without purchase)
    :param today: the day the figures are read on (a date)
    :return: ``(below_date, active_days)``: the first day P(alive) is at or
        below ``threshold`` if the customer buys nothing more (NaT when that
        day is not after ``today``, or never comes: a one-time buyer, no
        model, no purchase), and the expected number of days it stays
        active within the next ``ACTIVE_HORIZON_DAYS`` (its purchases, and
        the dropouts after them, going on; see ``survival``; 0 without a
        model or a purchase).

    >>> import datetime as dt
    >>> params = clv.BGNBDParams(0.24, 4.41, 0.79, 2.43)
    >>> below, days = outlook(params, [5, 1, 0], ["2025-01-01", "2025-06-01", None],
    ...                       ["2025-07-20", "2025-06-01", None], dt.date(2025, 8, 1))
    >>> [str(d) for d in below], [round(float(v)) for v in days]
    (['2025-11-30', 'NaT', 'NaT'], [1063, 2685, 0])

    (``first_gap_reaching``'s doctest: 5 purchase days over 200 days reach
    a churn of 0.5 133 days after the last one: 2025-07-20 + 133 days. The
    one-time buyer never falls below: BG/NBD holds it alive until it buys
    again, and a customer who buys rarely has few occasions to leave, hence
    its long expected stay. ``today`` may be one date per customer.)
    """
    deal_days = np.asarray(deal_days, dtype=np.int64)
    n = len(deal_days)
    first, last = to_dates(first_dates), to_dates(last_dates)
    today64 = np.broadcast_to(np.asarray(today, dtype="datetime64[D]"), (n,))
    below = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    active = np.zeros(n)
    bought = (deal_days > 0) & ~np.isnat(first) & ~np.isnat(last)
    if bgnbd is None or not bought.any():
        return below, active
    idx = np.flatnonzero(bought)
    span = _days(last[idx], first[idx]).astype(np.int64)
    age = np.maximum(_days(today64[idx], first[idx]), span).astype(np.int64)
    gap = first_gap_reaching(bgnbd, deal_days[idx], span, threshold)
    day = last[idx] + np.nan_to_num(gap).astype("timedelta64[D]")
    below[idx] = np.where(~np.isnan(gap) & (day > today64[idx]), day, np.datetime64("NaT"))
    # customers of the same deal days, span and age share the answer
    shapes, of_shape = np.unique(
        np.stack([deal_days[idx], span, age], axis=1), axis=0, return_inverse=True
    )
    weeks = survival.restricted_mean(
        bgnbd,
        ACTIVE_HORIZON_DAYS / TIME_UNIT_DAYS,
        np.maximum(shapes[:, 0] - 1, 0).astype(float),
        shapes[:, 1] / TIME_UNIT_DAYS,
        shapes[:, 2] / TIME_UNIT_DAYS,
    )
    active[idx] = np.nan_to_num(weeks * TIME_UNIT_DAYS)[np.asarray(of_shape).reshape(-1)]
    return below, active


def compute_metrics(frame, *, today, params, typical_interval_days, settings):
    """Return a frame with ``partner_id`` and every stored profile metric.

    :param frame: per-customer aggregates with columns partner_id,
        opportunity_count, won_count, deal_days, first_deal_date,
        last_deal_date, prev_deal_date, won_revenue
    :param today: the date metrics are computed at (a ``datetime.date``), or
        one date per row (an array: the history rebuild evaluates each
        customer on several past days at once)
    :param params: ``{"bgnbd": BGNBDParams, "gg": GammaGammaParams or None}``
        or None when no model could be fitted (rhythm rules only)
    :param typical_interval_days: expected interval of one-time buyers
    :param settings: thresholds, see ``DEFAULTS``
    """
    n = len(frame)
    out = pd.DataFrame({"partner_id": frame["partner_id"].to_numpy(dtype=np.int64)})
    today64 = np.asarray(today, dtype="datetime64[D]")
    first = to_dates(frame["first_deal_date"])
    last = to_dates(frame["last_deal_date"])
    prev = to_dates(frame["prev_deal_date"])
    won = frame["won_count"].to_numpy(dtype=np.int64)
    days_n = frame["deal_days"].to_numpy(dtype=np.int64)
    revenue = frame["won_revenue"].to_numpy(dtype=float)
    has_deal = won > 0

    out["opportunity_count"] = frame["opportunity_count"].to_numpy(dtype=np.int64)
    out["won_count"] = won
    out["deal_days"] = days_n
    out["won_revenue"] = np.round(revenue, 2)
    out["avg_deal_amount"] = np.round(np.divide(revenue, won, out=np.zeros(n), where=has_deal), 2)

    span_days = np.nan_to_num(_days(last, first))
    since_last = np.nan_to_num(_days(today64, last))
    avg_between, expected_interval = purchase_rhythm(days_n, span_days, typical_interval_days)
    expected_interval = np.where(has_deal, expected_interval, 0.0)
    overdue = np.divide(since_last, expected_interval, out=np.zeros(n), where=expected_interval > 0)
    out["avg_days_between_deals"] = np.round(avg_between, 1)
    out["days_since_last_deal"] = since_last.astype(np.int64)
    out["expected_interval_days"] = np.round(expected_interval, 1)
    out["overdue_ratio"] = np.round(overdue, 2)
    next_deal = last + np.round(expected_interval).astype("timedelta64[D]")
    out["expected_next_deal_date"] = pd.Series(next_deal).where(has_deal)

    # churn model
    frequency = np.maximum(days_n - 1, 0).astype(float)
    recency = span_days / TIME_UNIT_DAYS
    age_days = np.broadcast_to(np.nan_to_num(_days(today64, first)), (n,))
    age = age_days / TIME_UNIT_DAYS
    p_alive = np.ones(n)
    expected_90 = np.zeros(n)
    predicted_clv = np.zeros(n)
    value_if_retained = np.zeros(n)
    p_if_deal = np.where(has_deal, 1.0, 0.0)
    p_expected = np.where(has_deal, 1.0, 0.0)
    churn_gap = np.full(n, np.nan)
    bgnbd = params and params.get("bgnbd")
    if bgnbd is not None and has_deal.any():
        idx = np.flatnonzero(has_deal)
        # customers of the same deal days, span and age share every model
        # output but the spend: each distinct shape is evaluated once (about
        # half the customers of a large base)
        shape = (
            (days_n[idx] << 42)
            | (span_days[idx].astype(np.int64) << 21)
            | age_days[idx].astype(np.int64)
        )
        _shapes, first_of_shape, of_shape = np.unique(shape, return_index=True, return_inverse=True)
        one = idx[first_of_shape]
        f, r, t = frequency[one], recency[one], age[one]
        alive_of_shape = clv.p_alive(bgnbd, f, r, t)
        p_alive[idx] = alive_of_shape[of_shape]
        expected_90[idx] = clv.expected_purchases(bgnbd, 90.0 / TIME_UNIT_DAYS, f, r, t)[of_shape]
        gg = params.get("gg")
        if gg is not None:
            monetary = np.maximum(np.divide(revenue[idx], days_n[idx]), 0.0)
            spend = clv.expected_average_value(gg, frequency[idx], monetary)
            # eq. 10 is P(alive) x E[Y(t) | alive] at every horizon: the
            # value if kept is evaluated once and the CLV follows from it
            if_kept = clv.discounted_expected_purchases(
                bgnbd,
                f,
                r,
                t,
                horizon_months=12,
                monthly_discount_rate=settings["monthly_discount_rate"],
                time_unit_days=TIME_UNIT_DAYS,
                given_alive=True,
            )
            value_if_retained[idx] = if_kept[of_shape] * spend
            predicted_clv[idx] = (if_kept * alive_of_shape)[of_shape] * spend
        # what-ifs: one more deal today (none more when it bought today), and
        # nothing bought until the expected date of the next deal
        again = frequency[idx] + (since_last[idx] > 0)
        p_if_deal[idx] = clv.p_alive(bgnbd, again, age[idx], age[idx])
        # BG/NBD holds a customer who never bought twice surely alive (its
        # P(alive) of 1 would "fall" with a second deal): no what-if for them
        p_if_deal[idx] = np.where(days_n[idx] > 1, p_if_deal[idx], 1.0)
        at_expected = (span_days[idx] + expected_interval[idx]) / TIME_UNIT_DAYS
        p_expected[idx] = clv.p_alive(bgnbd, frequency[idx], recency[idx], at_expected)
        churn_gap[idx] = first_gap_reaching(
            bgnbd, days_n[idx], span_days[idx], settings["at_risk_probability"]
        )
    p_alive = np.where(has_deal, np.clip(np.nan_to_num(p_alive, nan=1.0), 0.0, 1.0), 0.0)
    churn = np.where(has_deal, 1.0 - p_alive, 0.0)
    out["p_alive"] = np.round(p_alive, 4)
    out["churn_probability"] = np.round(churn, 4)
    out["expected_deals_90d"] = np.round(np.nan_to_num(expected_90), 3)
    out["predicted_clv"] = np.round(np.nan_to_num(predicted_clv), 2)

    # the model's churn probability counts once the customer is due, past
    # its expected next purchase: BG/NBD lets a customer drop out right after
    # any purchase, so P(alive) on the day of a repeat purchase is below 1
    # (with a fit where a is large next to b, below the at-risk threshold),
    # and a customer who has just bought again is not at risk
    due = has_deal & (overdue >= 1.0)
    high = has_deal & (
        (due & (churn >= settings["lost_probability"]))
        | (overdue >= settings["lost_overdue_ratio"])
        | (since_last >= settings["lost_after_days"])
    )
    medium = (
        has_deal
        & ~high
        & (
            (due & (churn >= settings["at_risk_probability"]))
            | (overdue >= settings["at_risk_overdue_ratio"])
        )
    )
    out["risk_level"] = np.where(high, "high", np.where(medium, "medium", "low"))

    # why: the plainest rule that explains the level (see RISK_REASONS)
    silent = since_last >= settings["lost_after_days"]
    late = overdue >= settings["at_risk_overdue_ratio"]
    likely_gone = due & (churn >= settings["at_risk_probability"])
    out["risk_reason_code"] = np.select(
        [~has_deal, silent, late, likely_gone],
        ["none", "silent", "overdue", "model"],
        "on_track",
    )
    # by when: the first day the customer turns at risk if it buys nothing
    # (whole days after the last deal; overdue is compared unrounded); the
    # churn threshold counts from the day the customer is due
    due_gap = np.ceil(expected_interval - 1e-9)
    churn_gap = np.where(np.isnan(churn_gap), np.nan, np.maximum(churn_gap, due_gap))
    gaps = np.fmin(
        np.fmin(
            np.ceil(settings["at_risk_overdue_ratio"] * expected_interval - 1e-9),
            float(settings["lost_after_days"]),
        ),
        churn_gap,
    )
    at_risk_day = last + np.nan_to_num(gaps).astype("timedelta64[D]")
    out["act_before_date"] = pd.Series(at_risk_day).where(has_deal)
    out["p_alive_expected"] = np.round(np.clip(np.nan_to_num(p_expected, nan=1.0), 0, 1), 4)
    out["p_alive_if_deal"] = np.round(np.clip(np.nan_to_num(p_if_deal, nan=1.0), 0, 1), 4)
    # how much: the value if kept, and the part of it the company stands to lose
    value_if_retained = np.where(has_deal, np.nan_to_num(value_if_retained), 0.0)
    out["value_if_retained"] = np.round(value_if_retained, 2)
    out["value_at_risk"] = np.round(churn * value_if_retained, 2)

    # dates stay datetime64 (NaT for none): the caller writes them in bulk
    out["first_deal_date"] = pd.Series(first).where(has_deal)
    out["last_deal_date"] = pd.Series(last).where(has_deal)
    out["prev_deal_date"] = pd.Series(prev).where(~np.isnat(prev))
    out["metrics_date"] = today64 if today64.ndim else np.datetime64(today, "D")
    return out


def summarise_for_fit(frame_or_rows, today):
    """(frequency, recency, T) in weeks for the model fit, from aggregates
    with deal_days, first_deal_date, last_deal_date (customers with a deal)."""
    frame = pd.DataFrame(frame_or_rows)
    today64 = np.asarray(today, dtype="datetime64[D]")
    first = to_dates(frame["first_deal_date"])
    last = to_dates(frame["last_deal_date"])
    frequency = np.maximum(frame["deal_days"].to_numpy(dtype=float) - 1, 0)
    recency = _days(last, first) / TIME_UNIT_DAYS
    age = _days(today64, first) / TIME_UNIT_DAYS
    return frequency, recency, age


def typical_interval(deal_days, first_dates, last_dates, weights, default):
    """Median average interval (days) between deals of repeat buyers.

    Inputs are distinct customer shapes with ``weights`` customers each (as
    the model fit reads them); ``default`` when nobody bought twice.
    """
    deal_days = np.asarray(deal_days, dtype=float)
    repeat = deal_days > 1
    if not repeat.any():
        return float(default)
    expanded = np.repeat(np.flatnonzero(repeat), np.asarray(weights)[repeat].astype(int))
    first = np.array(first_dates, dtype="datetime64[D]")[expanded]
    last = np.array(last_dates, dtype="datetime64[D]")[expanded]
    return float(np.median(_days(last, first) / (deal_days[expanded] - 1)))
