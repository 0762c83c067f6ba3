"""The past of each customer, rebuilt from its purchases: on which days the
stage rules would have moved it, had they run every day since its first deal.

Pure pandas/numpy (no Odoo). The ORM layer reads each customer's deal days,
hands them here to place the *points* (the days a stage can change), computes
the metrics of every point at once (``lifecycle.compute_metrics`` with one
"today" per row), has the company's rules evaluated on them in SQL (the same
rules the nightly run applies), and gives the stages back to ``resolve``,
which walks each customer's points in order and returns its stage changes.

Where a stage can change. Between two purchases a customer's deal counts and
dates are fixed, so the stock rules (deal counts, ``risk_level``, deals since
the lapse) can only move when ``risk_level`` does; and for a fixed history
risk only grows with time: days since the last deal and the overdue ratio
grow, P(alive) only falls (BG/NBD). The days a threshold is crossed are
therefore computed, not simulated day by day:

* the overdue ratio reaches ``r`` on ``last + ceil(r * interval)``;
* no deal for ``lost_after_days`` is plain arithmetic;
* churn probability reaches ``c``: a vectorised bisection over the days of
  the gap, with the model fitted today; it counts from the day the customer
  is due (``last + ceil(interval)``, see ``lifecycle``), itself a point.

A rule that reads a field moving every day (``p_alive``, ``overdue_ratio``,
``days_since_last_deal``...) directly, with thresholds of its own, is also
evaluated on a weekly grid (``grid_days``): its crossings are then dated to
the week. Fields that are not metrics (the salesperson, tags, a custom field)
have no past: their current value is used on every day.

    >>> import pandas as pd
    >>> deals = pd.DataFrame({"partner_id": [7, 7], "day": [100, 130],
    ...                       "n": [1, 1], "amount": [10.0, 20.0]})
    >>> customers = pd.DataFrame({"partner_id": [7], "opportunity_count": [2],
    ...                           "seen_day": [90]})
    >>> pts = points(deals, customers, today=400, interval=30.0, params=None,
    ...              settings=dict(lifecycle.DEFAULTS))
    >>> pts["day"].tolist()
    [90, 100, 130, 175, 176, 220, 221, 400]
"""

import numpy as np
import pandas as pd

from . import lifecycle

# what a point carries: the aggregate frame of lifecycle.compute_metrics
STATE_COLUMNS = lifecycle.AGGREGATE_COLUMNS
# the point's deal dates as day numbers (NaN: none), for deals_since_lapse
_LAST, _PREV = "last_day", "prev_day"
# the stage kinds of a lapsed customer: entering one dates the lapse
LAPSED_KINDS = ("at_risk", "lost")


def _states(deals):
    """Per deal row (sorted by partner, day): the customer's aggregates up
    to and including that day, as ``compute_metrics`` reads them."""
    pid = deals["partner_id"].to_numpy()
    day = deals["day"].to_numpy(dtype=float)
    n = deals["n"].to_numpy(dtype=np.int64)
    bought = n > 0
    frame = pd.DataFrame({"partner_id": pid, "day": day.astype(np.int64)})
    grouped = pd.Series(n).groupby(pid)
    frame["won_count"] = grouped.cumsum().to_numpy()
    frame["deal_days"] = pd.Series(bought.astype(np.int64)).groupby(pid).cumsum().to_numpy()
    frame["won_revenue"] = (
        pd.Series(deals["amount"].to_numpy(dtype=float)).groupby(pid).cumsum().to_numpy()
    )
    purchase = pd.Series(np.where(bought, day, np.nan))
    # (cummin leaves the rows without a purchase NaN: carried forward)
    frame["first_day"] = purchase.groupby(pid).cummin().groupby(pid).ffill().to_numpy()
    frame[_LAST] = purchase.groupby(pid).ffill().to_numpy()
    # the purchase before the last one: shifted among purchase rows only
    prev = pd.Series(np.nan, index=frame.index)
    rows = np.flatnonzero(bought)
    prev.iloc[rows] = pd.Series(day[rows]).groupby(pid[rows]).shift(1).to_numpy()
    prev = prev.where(bought)
    frame[_PREV] = prev.groupby(pid).ffill().to_numpy()
    return frame


def _first_churn_day(bgnbd, state, lo, hi, threshold):
    """Per row of ``state`` (with purchase aggregates): the first day in
    (``lo``, ``hi``] on which churn reaches ``threshold``, NaN when it does
    not (``lifecycle.first_gap_reaching``, the bisection the recompute's
    "act before" date uses too)."""
    first, last = state["first_day"].to_numpy(), state[_LAST].to_numpy()
    gap = lifecycle.first_gap_reaching(
        bgnbd, state["deal_days"].to_numpy(), last - first, threshold, lo=lo - last, hi=hi - last
    )
    return last + gap


def _crossings(state, ends, interval, params, settings):
    """The days in each state's gap (its day, ``ends``] on which the risk
    level can rise: the overdue thresholds (and the day after each, against
    rounding), no deal for ``lost_after_days``, with a model the day the
    customer is due (the same) and the churn thresholds."""
    deal_days = state["deal_days"].to_numpy()
    first, last = state["first_day"].to_numpy(), state[_LAST].to_numpy()
    _average, expected = lifecycle.purchase_rhythm(deal_days, last - first, interval)
    candidates = []
    for ratio in (settings["at_risk_overdue_ratio"], settings["lost_overdue_ratio"]):
        day = last + np.ceil(ratio * expected - 1e-9)
        candidates += [day, day + 1]
    candidates.append(last + settings["lost_after_days"])
    bgnbd = params and params.get("bgnbd")
    if bgnbd is not None:
        # the day the customer is due, from which its churn probability
        # counts: a point only where that churn is then past the at-risk
        # threshold (else the churn crossings below are the points; never
        # for a one-time buyer, whom BG/NBD holds alive)
        gap = np.ceil(expected - 1e-9)
        counts = lifecycle.churn_after_gap(bgnbd, deal_days, last - first, gap + 1)
        due = np.where(counts >= settings["at_risk_probability"], last + gap, np.nan)
        candidates += [due, due + 1]
        start = state["day"].to_numpy(dtype=float)
        for threshold in (settings["at_risk_probability"], settings["lost_probability"]):
            candidates.append(_first_churn_day(bgnbd, state, start, ends, threshold))
    return candidates


def points(deals, customers, *, today, interval, params, settings, grid_days=None):
    """The days each customer's stage is evaluated on, with its aggregates
    on that day: a DataFrame sorted by (partner_id, day) of ``partner_id``,
    ``day`` (days since 1970-01-01), ``STATE_COLUMNS`` (dates as day
    numbers) and the purchase days ``last_day`` / ``prev_day``.

    :param deals: one row per customer and deal day (``partner_id``, ``day``,
        ``n`` the deals that day that are not refunds, ``amount`` in the
        company currency, refunds negative), sorted by partner and day
    :param customers: one row per customer to rebuild (``partner_id``,
        ``opportunity_count``, ``seen_day`` the day of its first lead or
        deal, NaN when unknown), those without deals included
    :param today: the last day (day number), evaluated for everyone
    :param interval: the company's typical repeat interval (days)
    :param params: the churn model (see ``compute_metrics``) or None
    :param grid_days: also evaluate every ``grid_days`` days of each gap
    """
    today = int(today)
    customers = customers.drop_duplicates("partner_id")
    deals = deals[deals["day"] <= today]
    state = _states(deals)
    pid = state["partner_id"].to_numpy()
    day = state["day"].to_numpy(dtype=float)
    # a state lasts until the customer's next deal day, the last one until today
    same_next = np.append(pid[1:] == pid[:-1], False)
    ends = np.where(same_next, np.append(day[1:], 0) - 1, today).astype(float)
    parts = [state]
    bought = state["deal_days"].to_numpy() > 0
    stateful = state[bought]
    state_ends = ends[bought]
    extra = _crossings(stateful, state_ends, interval, params, settings)
    if grid_days:
        span = np.maximum(state_ends - stateful["day"].to_numpy(), 0)
        steps = (span // grid_days).astype(np.int64)
        rows = np.repeat(np.arange(len(stateful)), steps)
        offsets = np.arange(len(rows)) - np.repeat(np.cumsum(steps) - steps, steps) + 1
        extra_grid = stateful["day"].to_numpy()[rows] + offsets * grid_days
        parts.append(stateful.iloc[rows].assign(day=extra_grid.astype(np.int64)))
    start = stateful["day"].to_numpy(dtype=float)
    for candidate in extra:
        keep = np.flatnonzero(
            ~np.isnan(candidate) & (candidate > start) & (candidate <= state_ends)
        )
        if len(keep):
            parts.append(stateful.iloc[keep].assign(day=candidate[keep].astype(np.int64)))
    # before the first deal (a lead first) and today: the customer's last
    # state, or none
    last_state = state.drop_duplicates("partner_id", keep="last").set_index("partner_id")
    base = customers.set_index("partner_id")
    today_rows = last_state.reindex(base.index).reset_index()
    today_rows["day"] = today
    parts.append(today_rows)
    seen = base["seen_day"].to_numpy(dtype=float)
    first_buy = last_state["first_day"].reindex(base.index).to_numpy(dtype=float)
    before = ~np.isnan(seen) & (seen < np.nan_to_num(first_buy, nan=np.inf)) & (seen <= today)
    if before.any():
        parts.append(
            pd.DataFrame({"partner_id": base.index[before], "day": seen[before].astype(np.int64)})
        )
    out = pd.concat(parts, ignore_index=True)
    out = out.sort_values(["partner_id", "day"], kind="stable")
    out = out.drop_duplicates(["partner_id", "day"], keep="first").reset_index(drop=True)
    for column in ("won_count", "deal_days", "won_revenue"):
        out[column] = out[column].fillna(0)
    out["won_count"] = out["won_count"].astype(np.int64)
    out["deal_days"] = out["deal_days"].astype(np.int64)
    out["opportunity_count"] = (
        base["opportunity_count"].reindex(out["partner_id"]).fillna(0).to_numpy(dtype=np.int64)
    )
    out["first_deal_date"] = out["first_day"]
    out["last_deal_date"] = out[_LAST]
    out["prev_deal_date"] = out[_PREV]
    return out[["partner_id", "day", *STATE_COLUMNS, _LAST, _PREV]]


def metrics(pts, *, interval, params, settings):
    """``lifecycle.compute_metrics`` of every point on its own day."""
    days = pts["day"].to_numpy(dtype=np.int64).astype("datetime64[D]")
    return lifecycle.compute_metrics(
        pts, today=days, params=params, typical_interval_days=interval, settings=settings
    )


def deals_since_lapse(last, prev, lapsed):
    """The profile's ``deals_since_lapse`` (0, 1, 2 = "2 or more") from the
    point's purchase days and the lapse day (NaN: none), as the nightly
    writer derives it."""
    with np.errstate(invalid="ignore"):
        none = np.isnan(lapsed) | np.isnan(last) | (last < lapsed)
        two = ~np.isnan(prev) & (prev >= lapsed)
    return np.where(none, 0, np.where(two, 2, 1))


def resolve(pts, stages, kinds):
    """Walk every customer's points in day order and return its path.

    :param pts: the points (``points``), sorted by (partner_id, day)
    :param stages: int array (n_points, 3): the stage the rules give each
        point if its ``deals_since_lapse`` were 0, 1, 2 (0: no rule matched,
        the customer keeps its stage)
    :param kinds: {stage id: kind}
    :returns: (changes, final): ``changes`` a DataFrame of partner_id, day,
        from_stage (0: none), stage_id, duration_days; ``final`` one row per
        customer with its last stage_id, stage_day, lapsed_day (NaN: never),
        deals_since_lapse and start_day (its first change)
    """
    pid = pts["partner_id"].to_numpy()
    day = pts["day"].to_numpy(dtype=float)
    last = pts[_LAST].to_numpy(dtype=float)
    prev = pts[_PREV].to_numpy(dtype=float)
    n = len(pts)
    codes, uniques = pd.factorize(pid, sort=False)
    order = pd.Series(np.arange(n)).groupby(codes).cumcount().to_numpy()
    lapsed_kind = np.zeros(max(stages.max(initial=0), max(kinds, default=0)) + 1, dtype=bool)
    for stage_id, kind in kinds.items():
        lapsed_kind[stage_id] = kind in LAPSED_KINDS
    m = len(uniques)
    lapsed = np.full(m, np.nan)
    current = np.zeros(m, dtype=np.int64)
    dsl_now = np.zeros(m, dtype=np.int64)
    chosen = np.zeros(n, dtype=np.int64)
    by_step = np.argsort(order, kind="stable")
    bounds = np.searchsorted(order[by_step], np.arange(order.max(initial=-1) + 2))
    for k in range(len(bounds) - 1):
        rows = by_step[bounds[k] : bounds[k + 1]]
        who = codes[rows]
        dsl = deals_since_lapse(last[rows], prev[rows], lapsed[who])
        stage = stages[rows, dsl]
        stage = np.where(stage > 0, stage, current[who])
        enters = lapsed_kind[stage] & ~lapsed_kind[current[who]]
        lapsed[who] = np.where(enters, day[rows], lapsed[who])
        current[who] = stage
        dsl_now[who] = deals_since_lapse(last[rows], prev[rows], lapsed[who])
        chosen[rows] = stage
    previous = np.where(order > 0, np.roll(chosen, 1), 0)
    moved = (chosen != previous) & (chosen > 0)
    changes = pd.DataFrame(
        {
            "partner_id": pid[moved],
            "day": day[moved].astype(np.int64),
            "from_stage": previous[moved],
            "stage_id": chosen[moved],
        }
    )
    change_pid = changes["partner_id"].to_numpy()
    change_day = changes["day"].to_numpy()
    same = np.append(False, change_pid[1:] == change_pid[:-1])
    changes["duration_days"] = np.where(same, change_day - np.roll(change_day, 1), 0)
    stage_day = changes.drop_duplicates("partner_id", keep="last").set_index("partner_id")["day"]
    start_day = changes.drop_duplicates("partner_id", keep="first").set_index("partner_id")["day"]
    final = pd.DataFrame(
        {
            "partner_id": uniques,
            "stage_id": current,
            "lapsed_day": lapsed,
            "deals_since_lapse": dsl_now,
        }
    )
    final["stage_day"] = stage_day.reindex(final["partner_id"]).to_numpy(dtype=float)
    final["start_day"] = start_day.reindex(final["partner_id"]).to_numpy(dtype=float)
    return changes, final
