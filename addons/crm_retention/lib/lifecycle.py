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
    ...                       typical_interval_days=90, lapsed_dates={}, settings=DEFAULTS)
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

BG/NBD gives P(alive) = 1 to a customer who never bought twice, so the
rhythm test is what moves one-time buyers: their expected interval is the
company's typical repeat interval (median over repeat buyers).
"""

import numpy as np
import pandas as pd

from . import clv

TIME_UNIT_DAYS = 7.0

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
}


def _days(later, earlier):
    """Whole days between two datetime64[D] arrays (NaN where missing)."""
    return (later - earlier) / np.timedelta64(1, "D")


def compute_metrics(frame, *, today, params, typical_interval_days, lapsed_dates, settings):
    """Return a frame with ``partner_id`` and every stored profile metric.

    :param frame: per-customer aggregates with columns partner_id,
        opportunity_count, won_count, deal_days, first_deal_date,
        last_deal_date, prev_deal_date, won_revenue
    :param today: the date metrics are computed at (a ``datetime.date``)
    :param params: ``{"bgnbd": BGNBDParams, "gg": GammaGammaParams or None}``
        or None when no model could be fitted (rhythm rules only)
    :param typical_interval_days: expected interval of one-time buyers
    :param lapsed_dates: {partner_id: date the customer last lapsed}
    :param settings: thresholds, see ``DEFAULTS``
    """
    n = len(frame)
    out = pd.DataFrame({"partner_id": frame["partner_id"].to_numpy(dtype=np.int64)})
    today64 = np.datetime64(today, "D")
    first = pd.to_datetime(frame["first_deal_date"]).to_numpy(dtype="datetime64[D]")
    last = pd.to_datetime(frame["last_deal_date"]).to_numpy(dtype="datetime64[D]")
    prev = pd.to_datetime(frame["prev_deal_date"]).to_numpy(dtype="datetime64[D]")
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
    repeat = days_n > 1
    avg_between = np.divide(span_days, days_n - 1, out=np.zeros(n), where=repeat)
    expected_interval = np.where(
        repeat, np.maximum(avg_between, 1.0), float(typical_interval_days or 1.0)
    )
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
    age = np.nan_to_num(_days(today64, first)) / TIME_UNIT_DAYS
    p_alive = np.ones(n)
    expected_90 = np.zeros(n)
    predicted_clv = np.zeros(n)
    bgnbd = params and params.get("bgnbd")
    if bgnbd is not None and has_deal.any():
        idx = np.flatnonzero(has_deal)
        f, r, t = frequency[idx], recency[idx], age[idx]
        p_alive[idx] = clv.p_alive(bgnbd, f, r, t)
        expected_90[idx] = clv.expected_purchases(bgnbd, 90.0 / TIME_UNIT_DAYS, f, r, t)
        gg = params.get("gg")
        if gg is not None:
            monetary = np.maximum(np.divide(revenue[idx], days_n[idx]), 0.0)
            predicted_clv[idx] = clv.clv(
                bgnbd,
                gg,
                f,
                r,
                t,
                monetary,
                horizon_months=12,
                monthly_discount_rate=settings["monthly_discount_rate"],
                time_unit_days=TIME_UNIT_DAYS,
            )
    p_alive = np.where(has_deal, np.clip(np.nan_to_num(p_alive, nan=1.0), 0.0, 1.0), 0.0)
    churn = np.where(has_deal, 1.0 - p_alive, 0.0)
    out["p_alive"] = np.round(p_alive, 4)
    out["churn_probability"] = np.round(churn, 4)
    out["expected_deals_90d"] = np.round(np.nan_to_num(expected_90), 3)
    out["predicted_clv"] = np.round(np.nan_to_num(predicted_clv), 2)

    high = has_deal & (
        (churn >= settings["lost_probability"])
        | (overdue >= settings["lost_overdue_ratio"])
        | (since_last >= settings["lost_after_days"])
    )
    medium = (
        has_deal
        & ~high
        & (
            (churn >= settings["at_risk_probability"])
            | (overdue >= settings["at_risk_overdue_ratio"])
        )
    )
    out["risk_level"] = np.where(high, "high", np.where(medium, "medium", "low"))

    # deal days since the customer last lapsed (0, 1, or 2 meaning "2 or more")
    lapsed = (
        pd.to_datetime(frame["partner_id"].map(lapsed_dates)).to_numpy(dtype="datetime64[D]")
        if lapsed_dates
        else np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    )
    known = ~np.isnat(lapsed)
    # >=: the nightly run may mark a lapse the same day the customer buys again
    after_last = known & has_deal & (last >= lapsed)
    after_prev = after_last & ~np.isnat(prev) & (prev >= lapsed)
    out["deals_since_lapse"] = np.where(after_prev, 2, np.where(after_last, 1, 0))

    # dates stay datetime64 (NaT for none): the caller writes them in bulk
    out["first_deal_date"] = pd.Series(first).where(has_deal)
    out["last_deal_date"] = pd.Series(last).where(has_deal)
    out["prev_deal_date"] = pd.Series(prev).where(~np.isnat(prev))
    out["metrics_date"] = today64
    return out


def summarise_for_fit(frame_or_rows, today):
    """(frequency, recency, T) in weeks for the model fit, from aggregates
    with deal_days, first_deal_date, last_deal_date (customers with a deal)."""
    frame = pd.DataFrame(frame_or_rows)
    today64 = np.datetime64(today, "D")
    first = pd.to_datetime(frame["first_deal_date"]).to_numpy(dtype="datetime64[D]")
    last = pd.to_datetime(frame["last_deal_date"]).to_numpy(dtype="datetime64[D]")
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
