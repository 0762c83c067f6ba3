"""Kaplan–Meier survival curves with Greenwood variance and log-log bands.

Pure numpy / pandas, no Odoo import. ``crm.kpi.survival`` feeds it one row
per customer (a duration in months since its first deal and whether it was
Lost, else censored at today) and a group key (cohort, channel, tag), and
stores the curves on a monthly grid (``km_grid``).

How it works, for every group at once (no loop over groups or customers):
the rows are counted per group and distinct time (``d`` events, ``c``
censored); the number at risk ``n`` at a time is the group size minus what
left before it (a customer censored at ``t`` is still at risk at ``t``, as
usual); ``S(t)`` is the running product of ``1 - d/n`` and Greenwood's sum
the running sum of ``d / (n (n - d))``, both per group. The 95 % band is
the log-log ("exponential Greenwood", Kalbfleisch & Prentice) one, which
stays within [0, 1]: ``S ** exp(±z σ)`` with
``σ = sqrt(greenwood) / |log S|``. Before the first event (``S = 1``) the
band is [1, 1]; once everybody is lost (``S = 0``) it is [0, 0].

Checked against the published figures of the Freireich et al. 6-MP
leukemia trial (Gehan 1965; Kleinbaum & Klein, *Survival Analysis*, 3rd ed.
ch. 2; Collett, *Modelling Survival Data*; the log-log bands as R's
``survfit(conf.type = "log-log")`` and Stata's ``sts list`` print them),
remission weeks of the 21 treated patients, ``+`` censored:

>>> weeks = [6, 6, 6, 6, 7, 9, 10, 10, 11, 13, 16, 17, 19, 20, 22, 23, 25, 32, 32, 34, 35]
>>> relapse = [1, 1, 1, 0, 1, 0, 1, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0]
>>> table = kaplan_meier(weeks, relapse)
>>> table = table[table["events"] > 0]
>>> table[["time", "at_risk", "events"]].to_numpy().tolist()
[[6.0, 21.0, 3.0], [7.0, 17.0, 1.0], [10.0, 15.0, 1.0], [13.0, 12.0, 1.0], [16.0, 11.0, 1.0], \
[22.0, 7.0, 1.0], [23.0, 6.0, 1.0]]
>>> table["survival"].round(3).tolist()
[0.857, 0.807, 0.753, 0.69, 0.627, 0.538, 0.448]
>>> table["se"].round(3).tolist()
[0.076, 0.087, 0.096, 0.107, 0.114, 0.128, 0.135]
>>> table["lower"].round(3).tolist()
[0.62, 0.563, 0.503, 0.432, 0.368, 0.268, 0.188]
>>> table["upper"].round(3).tolist()
[0.952, 0.923, 0.889, 0.849, 0.805, 0.747, 0.68]

On a grid (here every 10 weeks): the curve at each point is the last step
at or before it; ``at_risk`` counts who is still followed at that point and
``events`` the events since the previous point:

>>> import pandas as pd
>>> grid = km_grid(pd.DataFrame({"duration": weeks, "event": relapse}), step=10)
>>> grid[["time", "at_risk", "events"]].to_numpy().tolist()
[[0.0, 21.0, 0.0], [10.0, 15.0, 5.0], [20.0, 8.0, 2.0], [30.0, 4.0, 2.0]]
>>> grid["survival"].round(3).tolist()
[1.0, 0.753, 0.627, 0.448]
"""

import numpy as np
import pandas as pd

#: the two-sided 95 % normal quantile
Z95 = 1.959963984540054
#: a month of tenure, in days (a calendar year / 12)
DAYS_PER_MONTH = 365.25 / 12

_ALL = "_all"


def _keys(frame, by):
    """The group columns, and the frame with a constant one when there are none."""
    keys = list(by)
    if keys:
        return frame, keys
    return frame.assign(**{_ALL: 0}), [_ALL]


def km_table(frame, by=(), duration="duration", event="event", z=Z95):
    """The Kaplan–Meier estimate of every group of ``frame`` at each of its
    distinct times.

    ``frame``: one row per subject with ``duration`` (time from the origin
    to the event or the censoring, >= 0) and ``event`` (true: the event
    happened at ``duration``; false: censored then) and the group columns
    ``by`` (none: a single group). Ties are handled the usual way (events
    before censorings at the same time).

    Returns one row per group and distinct time, sorted, with ``*by,
    time, at_risk, events, censored, survival`` (S(t), right-continuous:
    the events at ``t`` included), ``se`` (Greenwood's standard error of
    S(t)), ``lower`` and ``upper`` (the log-log band at confidence ``z``)
    and ``cum_events`` / ``cum_out`` (events / subjects gone up to ``t``
    included, for ``km_grid``).
    """
    grouped = bool(list(by))
    frame, keys = _keys(frame, by)
    if (frame[duration] < 0).any():
        raise ValueError("durations must be >= 0")
    happened = frame[event].astype(bool).to_numpy()
    counts = (
        pd.DataFrame(
            {
                **{k: frame[k].to_numpy() for k in keys},
                "time": frame[duration].to_numpy(dtype=float),
                "events": happened.astype(np.int64),
                "censored": (~happened).astype(np.int64),
            }
        )
        .groupby([*keys, "time"], sort=True, dropna=False)[["events", "censored"]]
        .sum()
        .reset_index()
    )
    by_group = counts.groupby(keys, sort=False, dropna=False)
    gone = counts["events"] + counts["censored"]
    size = by_group["events"].transform("sum") + by_group["censored"].transform("sum")
    counts["cum_out"] = gone.groupby([counts[k] for k in keys], dropna=False).cumsum()
    counts["cum_events"] = by_group["events"].cumsum()
    n = (size - counts["cum_out"] + gone).to_numpy(dtype=float)
    d = counts["events"].to_numpy(dtype=float)
    counts["at_risk"] = n
    factor = pd.Series(1.0 - d / n, index=counts.index)
    survival = factor.groupby([counts[k] for k in keys], dropna=False).cumprod().to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        # n == d (everybody left at risk fails): an infinite term, S is 0 from there
        term = np.where(d > 0, d / (n * (n - d)), 0.0)
        greenwood = (
            pd.Series(term, index=counts.index)
            .groupby([counts[k] for k in keys], dropna=False)
            .cumsum()
            .to_numpy()
        )
        se = np.where(survival > 0, survival * np.sqrt(greenwood), 0.0)
        log_s = np.log(survival)
        sigma = np.sqrt(greenwood) / np.abs(log_s)
        lower = survival ** np.exp(z * sigma)
        upper = survival ** np.exp(-z * sigma)
    inside = (survival > 0) & (survival < 1)
    counts["survival"] = survival
    counts["se"] = se
    counts["lower"] = np.where(inside, lower, survival)
    counts["upper"] = np.where(inside, upper, survival)
    columns = [*keys, "time", "at_risk", "events", "censored", "survival", "se", "lower", "upper"]
    columns += ["cum_events", "cum_out"]
    table = counts[columns]
    return table if grouped else table.drop(columns=[_ALL])


def kaplan_meier(durations, events, z=Z95):
    """``km_table`` of a single sample given as two sequences (see the
    module's doctest)."""
    frame = pd.DataFrame({"duration": np.asarray(durations, dtype=float), "event": events})
    return km_table(frame, z=z).drop(columns=["cum_events", "cum_out"])


def km_grid(frame, by=(), duration="duration", event="event", step=1.0, z=Z95):
    """The Kaplan–Meier curves of ``km_table`` read on a grid ``0, step,
    2 step ...`` up to each group's longest follow-up, plus one point when
    events happen after its last full step (that point is then partly
    observed: nobody is followed up to it, ``at_risk`` is 0, and it shows
    the estimate at the end of the follow-up).

    Returns one row per group and grid point with ``*by, period`` (0, 1,
    2 ...), ``time`` (``period * step``), ``customers`` (the group's size),
    ``at_risk`` (subjects whose duration is >= ``time``: still followed
    then), ``events`` (events in ``(time - step, time]``; at 0: at 0),
    ``survival``, ``se``, ``lower``, ``upper`` (the estimate at ``time``:
    its last step at or before it; 1 before the first event).
    """
    grouped = bool(list(by))
    frame, keys = _keys(frame, by)
    columns = [*keys, "period", "time", "customers", "at_risk", "events"]
    columns += ["survival", "se", "lower", "upper"]
    if frame.empty:
        result = pd.DataFrame(columns=columns)
        return result if grouped else result.drop(columns=[_ALL])
    if step <= 0:
        raise ValueError("the grid step must be positive")
    table = km_table(frame, keys, duration, event, z)
    spans = frame[[*keys, duration]].assign(
        _event_time=frame[duration].where(frame[event].astype(bool))
    )
    groups = spans.groupby(keys, sort=True, dropna=False).agg(
        max=(duration, "max"), size=(duration, "size"), last_event=("_event_time", "max")
    )
    groups = groups.reset_index()
    full = np.floor(groups["max"].to_numpy(dtype=float) / step)
    # one more point when events happen after the last full step: shown, not lost
    partial = groups["last_event"].fillna(-1).to_numpy(dtype=float) > full * step
    span = full.astype(np.int64) + 1 + partial.astype(np.int64)
    grid = groups.loc[groups.index.repeat(span), [*keys, "size"]].reset_index(drop=True)
    grid["period"] = grid.groupby(keys, sort=False, dropna=False).cumcount()
    grid["time"] = grid["period"] * float(step)
    grid = grid.rename(columns={"size": "customers"}).sort_values("time", kind="stable")
    steps = table.sort_values("time", kind="stable")
    # the estimate at a grid point: the last distinct time at or before it
    at = pd.merge_asof(
        grid,
        steps[[*keys, "time", "survival", "se", "lower", "upper", "cum_events"]],
        on="time",
        by=keys,
        direction="backward",
    )
    # those still followed at a grid point: all but who left strictly before it
    before = pd.merge_asof(
        grid[[*keys, "time"]],
        steps[[*keys, "time", "cum_out"]],
        on="time",
        by=keys,
        direction="backward",
        allow_exact_matches=False,
    )
    at = at.fillna({"survival": 1.0, "se": 0.0, "lower": 1.0, "upper": 1.0, "cum_events": 0})
    at["at_risk"] = at["customers"] - before["cum_out"].fillna(0).to_numpy()
    at = at.sort_values([*keys, "period"]).reset_index(drop=True)
    at["events"] = at.groupby(keys, sort=False, dropna=False)["cum_events"].diff()
    at["events"] = at["events"].fillna(at["cum_events"])
    for column in ("customers", "at_risk", "events"):
        at[column] = at[column].astype(float)
    result = at[columns]
    return result if grouped else result.drop(columns=[_ALL])
