"""What to offer a customer at risk: the next best action, from the
company's own randomised campaigns.

Each finished campaign with a control group is an experiment: among its
members of one *segment* (risk band x value band when they were enrolled),
the treated kept ``k1 / n1``, the control ``k0 / n0``; the difference is the
offer's uplift there. An *offer* is what a campaign proposed: its objective
and offer type (``"retain:percentage"``); campaigns of the same offer pool
their members.

Small segments are noisy, so each segment's uplift is shrunk toward the
offer's overall uplift (all its segments pooled) by how much the segments
really differ (an empirical-Bayes estimate, DerSimonian-Laird's between-
segment variance): a segment of a few dozen members says little and gets
close to the overall effect, a large one keeps its own::

    >>> cells = [Cell("retain:percentage", "high", "high", 400, 160, 100, 20),
    ...          Cell("retain:percentage", "low", "low", 400, 84, 100, 20)]
    >>> est = {(e.offer, e.risk_band): e for e in estimate(cells)}
    >>> h, l = est["retain:percentage", "high"], est["retain:percentage", "low"]
    >>> round(h.uplift, 3), round(l.uplift, 3), round(h.shrunk, 3) > round(l.shrunk, 3)
    (0.2, 0.01, True)

A customer is offered what pays: the offer of highest expected incremental
margin ``uplift x value at risk - cost per member`` in its segment, or no
action when none is positive; without an experiment that covers it, the
advice is to run one (with a control group)::

    >>> pick = recommend([("high", "high", 5000.0), ("low", "low", 5000.0)],
    ...                  estimate(cells), {"retain:percentage": 150.0})
    >>> [(p.action, p.offer) for p in pick]
    [('offer', 'retain:percentage'), ('no_action', None)]
"""

import math
from dataclasses import dataclass

Z_95 = 1.959963984540054
# members per group below which a segment is not evidence on its own (it
# still counts in its offer's pooled effect)
MIN_GROUP = 10


@dataclass(frozen=True)
class Cell:
    """The members of one offer in one segment, summed over campaigns."""

    offer: str
    risk_band: str
    value_band: str
    treated_n: int
    treated_k: int
    control_n: int
    control_k: int
    campaigns: int = 1


@dataclass(frozen=True)
class Estimate:
    offer: str
    risk_band: str
    value_band: str
    uplift: float  # the segment's own difference of retention rates
    shrunk: float  # shrunk toward the offer's pooled uplift
    low: float  # 95 % interval of the shrunk uplift
    high: float
    treated_n: int
    control_n: int
    campaigns: int


@dataclass(frozen=True)
class Pick:
    action: str  # "offer", "no_action" or "experiment"
    offer: str | None
    margin: float
    estimate: Estimate | None


def _rates(cell):
    p1 = cell.treated_k / cell.treated_n
    p0 = cell.control_k / cell.control_n
    # a rate of 0 or 1 has no variance: half a member either way (Haldane)
    var = (
        max(p1 * (1 - p1), 0.25 / cell.treated_n) / cell.treated_n
        + max(p0 * (1 - p0), 0.25 / cell.control_n) / cell.control_n
    )
    return p1 - p0, var


def estimate(cells):
    """Shrunk uplift of each (offer, segment) with enough members in both
    groups (``MIN_GROUP``): a list of ``Estimate``."""
    by_offer = {}
    for cell in cells:
        if cell.treated_n and cell.control_n:
            by_offer.setdefault(cell.offer, []).append(cell)
    out = []
    for offer, group in by_offer.items():
        stats = [(c, *_rates(c)) for c in group]
        weights = [1 / var for _c, _d, var in stats]
        pooled = sum(w * d for w, (_c, d, _v) in zip(weights, stats, strict=True)) / sum(weights)
        # DerSimonian-Laird: the segments' spread beyond their own noise
        q = sum(w * (d - pooled) ** 2 for w, (_c, d, _v) in zip(weights, stats, strict=True))
        spread = sum(weights) - sum(w * w for w in weights) / sum(weights)
        tau2 = max(0.0, (q - (len(stats) - 1)) / spread) if spread > 0 else 0.0
        for cell, diff, var in stats:
            if min(cell.treated_n, cell.control_n) < MIN_GROUP:
                continue
            keep = tau2 / (tau2 + var) if tau2 + var > 0 else 0.0
            shrunk = keep * diff + (1 - keep) * pooled
            sd = math.sqrt(keep * var + (1 - keep) ** 2 / sum(weights))
            out.append(
                Estimate(
                    offer,
                    cell.risk_band,
                    cell.value_band,
                    diff,
                    shrunk,
                    shrunk - Z_95 * sd,
                    shrunk + Z_95 * sd,
                    cell.treated_n,
                    cell.control_n,
                    cell.campaigns,
                )
            )
    return out


def recommend(customers, estimates, costs):
    """The next best action of each customer ``(risk_band, value_band,
    value_at_risk)``: the offer of highest ``shrunk uplift x value at risk -
    costs[offer]`` among the estimates of its segment when positive
    (``offer``), ``no_action`` when none pays, ``experiment`` when no
    estimate covers its segment. A list of ``Pick``, in order."""
    by_segment = {}
    for est in estimates:
        by_segment.setdefault((est.risk_band, est.value_band), []).append(est)
    picks = []
    for risk_band, value_band, value_at_risk in customers:
        options = by_segment.get((risk_band, value_band))
        if not options:
            picks.append(Pick("experiment", None, 0.0, None))
            continue
        best = max(
            options,
            key=lambda e: (e.shrunk * value_at_risk - costs.get(e.offer, 0.0), e.offer),
        )
        margin = best.shrunk * value_at_risk - costs.get(best.offer, 0.0)
        if margin > 0:
            picks.append(Pick("offer", best.offer, margin, best))
        else:
            picks.append(Pick("no_action", None, margin, best))
    return picks


def value_band(value, bounds):
    """``low``, ``mid`` or ``high`` for a value at risk, given the company's
    tercile ``bounds`` (two values, ascending).

    >>> [value_band(v, (100.0, 1000.0)) for v in (50, 100, 500, 5000)]
    ['low', 'mid', 'mid', 'high']
    """
    if value < bounds[0]:
        return "low"
    return "mid" if value < bounds[1] else "high"
