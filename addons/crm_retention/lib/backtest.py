"""Does the churn model predict *this* company's customers? The figures of a
backtest, computed from a calibration / holdout split of the past.

Pure numpy/pandas (no Odoo). A backtest fits the model on the deals up to a
calibration end, predicts each customer's repeat purchases in the holdout
that follows (distinct deal days, as the model counts them) and compares
with what happened. Usage (time unit: weeks, as ``clv``)::

    params = clv.fit_bgnbd(frequency, recency, T)
    predicted = clv.expected_purchases(params, holdout_weeks, frequency, recency, T)
    table = by_frequency(frequency, predicted, actual)          # the classic plot
    alive = clv.p_alive(params, frequency, recency, T)
    p_buy = buy_probability(params, holdout_weeks, frequency, T, alive)
    deciles, brier = reliability(alive, p_buy, actual > 0)
    stages = stage_table(kinds_at_cut, actual > 0)
    curve = threshold_curve(alive, value, actual > 0, uplift=0.05, cost=2.0)

The calibration / holdout table of Fader, Hardie & Lee (2005) on the CDNOW
sample, as lifetimes computes it (see tests/test_backtest.py)::

    >>> import numpy as np
    >>> t = by_frequency(np.array([0, 0, 1, 9]), np.array([0.2, 0.3, 0.5, 6.0]),
    ...                  np.array([0, 1, 1, 5]), top=7)
    >>> t[["label", "customers", "predicted", "actual"]].to_dict("records")[-1]
    {'label': '7+', 'customers': 1, 'predicted': 6.0, 'actual': 5.0}

Why P(buy) and not P(alive) in the Brier score: an alive customer may still
not buy within a short holdout, so "bought again" is the event the model can
be scored on; P(X(t) > 0) = P(alive) * (1 - ((alpha+T)/(alpha+T+t))^(r+x))
(dropouts happen at purchases, so a customer alive now who buys nothing
for t is alive throughout and drew no Poisson event of rate lambda, whose
posterior given alive is Gamma(r + x, alpha + T)).
"""

import numpy as np
import pandas as pd

from . import lifecycle

# stage kinds whose customers the rules say are leaving (crm.lifecycle.stage.kind)
LAPSE_KINDS = ("at_risk", "lost")
# the P(alive) cuts a threshold suggestion is chosen among
THRESHOLD_GRID = np.round(np.arange(0.05, 0.951, 0.05), 2)


def by_frequency(frequency, predicted, actual, top=7):
    """Predicted against actual holdout purchases per number of repeat
    purchases in the calibration period (0, 1, ..., ``top``+).

    :returns: DataFrame, one row per bin: ``bin`` (0..top), ``label``,
        ``customers``, ``predicted`` and ``actual`` (means per customer),
        ``predicted_total``, ``actual_total``
    """
    frame = pd.DataFrame(
        {
            "bin": np.minimum(np.asarray(frequency, dtype=float), top).astype(int),
            "predicted": np.asarray(predicted, dtype=float),
            "actual": np.asarray(actual, dtype=float),
        }
    )
    grouped = frame.groupby("bin").agg(
        customers=("predicted", "size"),
        predicted=("predicted", "mean"),
        actual=("actual", "mean"),
        predicted_total=("predicted", "sum"),
        actual_total=("actual", "sum"),
    )
    grouped = grouped.reindex(range(top + 1)).fillna(0).reset_index()
    grouped["customers"] = grouped["customers"].astype(int)
    grouped["label"] = [f"{b}+" if b == top else str(b) for b in grouped["bin"]]
    return grouped[
        ["bin", "label", "customers", "predicted", "actual", "predicted_total", "actual_total"]
    ]


def buy_probability(params, t, frequency, T, alive):
    """P(at least one purchase in the next ``t``) given the history:
    ``alive * (1 - ((alpha+T)/(alpha+T+t))^(r+x))``.

    >>> from types import SimpleNamespace as P
    >>> float(buy_probability(P(r=1.0, alpha=1.0, a=1, b=1), 1.0, 0, 0.0, 1.0))
    0.5
    """
    x = np.asarray(frequency, dtype=float)
    T = np.asarray(T, dtype=float)
    stay_quiet = np.exp((params.r + x) * (np.log(params.alpha + T) - np.log(params.alpha + T + t)))
    return np.asarray(alive, dtype=float) * (1.0 - stay_quiet)


def reliability(alive, p_buy, bought, bins=10):
    """Customers in P(alive) deciles (equal counts; ties split by order)
    against the share that bought in the holdout, next to the share the
    model expected; and the Brier score of ``p_buy``.

    :returns: (DataFrame with ``bin``, ``label`` (the decile's P(alive)
        range), ``customers``, ``p_alive`` (mean), ``predicted`` (mean
        P(buy)) and ``actual`` (share that bought); Brier score)

    >>> t, brier = reliability([0.1, 0.2, 0.8, 0.9], [0.1, 0.2, 0.7, 0.8],
    ...                        [False, False, True, True], bins=2)
    >>> t[["label", "customers", "actual"]].to_dict("records")
    [{'label': '0.10-0.20', 'customers': 2, 'actual': 0.0}, {'label': '0.80-0.90', 'customers': 2, 'actual': 1.0}]
    >>> round(brier, 3)
    0.045
    """
    alive = np.asarray(alive, dtype=float)
    p_buy = np.asarray(p_buy, dtype=float)
    bought = np.asarray(bought, dtype=float)
    n = len(alive)
    if not n:
        return pd.DataFrame(
            columns=["bin", "label", "customers", "p_alive", "predicted", "actual"]
        ), float("nan")
    order = np.argsort(alive, kind="stable")
    rank = np.empty(n, dtype=int)
    rank[order] = np.arange(n)
    bins = min(bins, n)
    decile = rank * bins // n
    frame = pd.DataFrame({"bin": decile, "p_alive": alive, "predicted": p_buy, "actual": bought})
    table = (
        frame.groupby("bin")
        .agg(
            customers=("p_alive", "size"),
            low=("p_alive", "min"),
            high=("p_alive", "max"),
            p_alive=("p_alive", "mean"),
            predicted=("predicted", "mean"),
            actual=("actual", "mean"),
        )
        .reset_index()
    )
    table["label"] = [
        f"{lo:.2f}-{hi:.2f}" for lo, hi in zip(table["low"], table["high"], strict=False)
    ]
    brier = float(np.mean((p_buy - bought) ** 2))
    return table[["bin", "label", "customers", "p_alive", "predicted", "actual"]], brier


def stage_table(kinds, bought):
    """The stage rules against reality: per stage kind at the calibration
    end, the customers, those who bought again in the holdout and those who
    did not; for the lapse kinds (At risk, Lost, and both together) the
    precision (of the customers the rule flagged, the share that indeed
    did not buy) and the recall (of all customers who did not buy, the
    share the rule flagged).

    :param kinds: the stage kind of each customer at the calibration end
        (None: no stage then)
    :returns: DataFrame with ``kind``, ``customers``, ``bought``, ``lapsed``,
        ``precision``, ``recall`` (NaN for the other kinds)

    >>> t = stage_table(["active", "at_risk", "at_risk", "lost", "lost"],
    ...                 [True, True, False, False, False])
    >>> t.set_index("kind").loc[["at_risk", "lapse"], ["precision", "recall"]].round(3).values.tolist()
    [[0.5, 0.333], [0.75, 1.0]]
    """
    frame = pd.DataFrame(
        {"kind": pd.Series(kinds, dtype=object).fillna("none"), "bought": np.asarray(bought, bool)}
    )
    frame["lapsed"] = ~frame["bought"]
    table = frame.groupby("kind").agg(
        customers=("bought", "size"), bought=("bought", "sum"), lapsed=("lapsed", "sum")
    )
    flagged = frame[frame["kind"].isin(LAPSE_KINDS)]
    table.loc["lapse"] = [len(flagged), int(flagged["bought"].sum()), int(flagged["lapsed"].sum())]
    table = table.reset_index()
    all_lapsed = int(frame["lapsed"].sum())
    is_lapse = table["kind"].isin([*LAPSE_KINDS, "lapse"])
    with np.errstate(invalid="ignore", divide="ignore"):
        table["precision"] = np.where(
            is_lapse & (table["customers"] > 0), table["lapsed"] / table["customers"], np.nan
        )
        table["recall"] = np.where(
            is_lapse & (all_lapsed > 0), table["lapsed"] / max(all_lapsed, 1), np.nan
        )
    for column in ("customers", "bought", "lapsed"):
        table[column] = table[column].astype(int)
    return table


def due(frequency, recency, age):
    """Whether each customer is due at the calibration end: past its
    expected next purchase (``lifecycle.purchase_rhythm``;
    ``compute_metrics``' ``overdue_ratio`` >= 1), from which its churn
    probability counts. Never a one-time buyer (``frequency`` 0; BG/NBD
    holds it alive). In weeks, as the fit reads them.

    >>> due([0, 2, 2], [0.0, 4.0, 4.0], [10.0, 5.0, 6.0]).tolist()
    [False, False, True]
    """
    frequency = np.asarray(frequency, dtype=float)
    week = lifecycle.TIME_UNIT_DAYS
    recency_days = np.asarray(recency, dtype=float) * week
    since_days = np.asarray(age, dtype=float) * week - recency_days
    _average, interval = lifecycle.purchase_rhythm(frequency + 1, recency_days, 1.0)
    return (frequency > 0) & (since_days >= interval - 1e-9)


def threshold_curve(alive, value, bought, *, uplift, cost, grid=THRESHOLD_GRID):
    """Expected net value of contacting every customer whose P(alive) at
    the calibration end was below each cut of ``grid``.

    A contact costs ``cost``; it keeps a customer who in fact did not come
    back with probability ``uplift`` (the campaigns' measured uplift, a
    fraction), which is then worth its ``value`` (what it would have bought
    in the holdout had it stayed). Customers who came back anyway bring no
    gain, only the cost. So for a cut ``t``:
    ``net(t) = sum over P(alive) < t of (uplift * value * not bought - cost)``.

    :returns: DataFrame with ``threshold``, ``contacted``, ``saved_value``
        (the expected gain), ``cost`` and ``net``

    >>> c = threshold_curve([0.1, 0.3, 0.6], [100.0, 50.0, 80.0], [False, True, False],
    ...                     uplift=0.1, cost=2.0, grid=[0.2, 0.5, 0.7])
    >>> c["net"].tolist()
    [8.0, 6.0, 12.0]
    """
    alive = np.asarray(alive, dtype=float)
    gain = uplift * np.asarray(value, dtype=float) * ~np.asarray(bought, bool)
    order = np.argsort(alive, kind="stable")
    cum_gain = np.concatenate([[0.0], np.cumsum(gain[order])])
    grid = np.asarray(grid, dtype=float)
    contacted = np.searchsorted(alive[order], grid, side="left")
    saved = cum_gain[contacted]
    spent = contacted * float(cost)
    return pd.DataFrame(
        {
            "threshold": grid,
            "contacted": contacted.astype(int),
            "saved_value": saved,
            "cost": spent,
            "net": saved - spent,
        }
    )


def best_threshold(curve):
    """The row of ``curve`` with the highest net value (the lowest cut among
    equals: fewer contacts for the same money), or None when no cut gains
    anything."""
    if curve.empty or not (curve["net"] > 0).any():
        return None
    return curve.loc[curve["net"].idxmax()]
