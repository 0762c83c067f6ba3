"""Did the campaign keep customers it would otherwise have lost?

Treated and control retention rates, their difference (the uplift, in
percentage points) and a 95 % confidence interval for it, plus the money
side. Pure Python, no Odoo, so the figures can be checked by hand:

    >>> r = two_proportion(treated_n=400, treated_k=100, control_n=100, control_k=15)
    >>> round(r["treated_rate"], 3), round(r["control_rate"], 3), round(r["uplift_pp"], 1)
    (0.25, 0.15, 10.0)
    >>> round(r["ci_low_pp"], 1), round(r["ci_high_pp"], 1), r["significance"]
    (0.8, 17.2, 'significant')

**Which interval.** Newcombe's hybrid score interval (method 10 of
R. G. Newcombe, *Interval estimation for the difference between independent
proportions: comparison of eleven methods*, Stat. Med. 17, 1998): the
Wilson score interval ``[l, u]`` of each rate, combined as

    low  = d - sqrt((p1 - l1)^2 + (u2 - p2)^2)
    high = d + sqrt((u1 - p1)^2 + (p2 - l2)^2)

with ``d = p1 - p2``. It reproduces Newcombe's worked examples (his table
II, 95 %): 56/70 against 48/80, and 5/56 against 0/29 (a control group that
kept nobody, the usual case of a win-back campaign):

    >>> r = two_proportion(70, 56, 80, 48, min_group_size=0)
    >>> [round(r[k] / 100, 4) for k in ("uplift_pp", "ci_low_pp", "ci_high_pp")]
    [0.2, 0.0524, 0.3339]
    >>> r = two_proportion(56, 5, 29, 0, min_group_size=0)
    >>> [round(r[k] / 100, 4) for k in ("uplift_pp", "ci_low_pp", "ci_high_pp")], r["significance"]
    ([0.0893, -0.0381, 0.1926], 'not_significant')

The unpooled Wald interval ``d ± z·sqrt(p1(1-p1)/n1 + p2(1-p2)/n2)`` used
before calls this last campaign significant (1.5 to 16.4 pp): with no
retained control customer it takes the control rate for exactly 0 and its
interval shrinks. Wald's coverage falls well under 95 % for small control
groups and rates near 0 or 1 - which is what win-back campaigns have (87 %
at 40 control members and a 5 % rate, see
``tests/test_campaign_lib.py``) - while Newcombe's stays at or above
nominal there and equals Wald for large groups with middling rates.

Why not Agresti-Caffo (Wald after adding one success and one failure to
each group)? It covers about as well, but its interval is centred on the
shifted estimate, not on the uplift we show, and it can leave [-100, 100]
pp; Newcombe's is built from the per-group Wilson intervals (which stay
inside [0, 1]), is the reference method in the literature and in
statistical packages, and costs nothing more. Neither has a closed-form
sample size, so ``required_group_size`` keeps the classic formula (an
approximation of what the interval will need; it slightly underestimates
it for rates near 0).

Below ``min_group_size`` in either group the interval is still computed but
flagged ``too_small`` rather than hidden, so that a manager sees why a small
pilot proves nothing yet.
"""

import math

Z_95 = 1.959963984540054
Z_80 = 0.8416212335729143  # one-sided quantile of an 80 % power


def wilson(k, n, z=Z_95):
    """Wilson score interval ``(low, high)`` of a proportion ``k / n``
    (``n > 0``): the rates ``p`` the score test does not reject,
    ``(k/n - p)^2 <= z^2 p (1 - p) / n``. Stays inside [0, 1] and is not
    empty for ``k = 0``.

    >>> [round(b, 4) for b in wilson(0, 29)]
    [0.0, 0.117]
    """
    p = k / n
    centre = (k + z * z / 2) / (n + z * z)
    half = z * math.sqrt(n) / (n + z * z) * math.sqrt(p * (1 - p) + z * z / (4 * n))
    return max(centre - half, 0.0), min(centre + half, 1.0)


def two_proportion(treated_n, treated_k, control_n, control_k, z=Z_95, min_group_size=30):
    """Uplift of the treated retention rate over the control one, with
    Newcombe's hybrid score interval (see the module docstring).

    :return: dict with treated_rate, control_rate (fractions), uplift_pp,
        ci_low_pp, ci_high_pp (percentage points, None without data) and
        significance: ``no_data`` (a group is empty), ``too_small`` (a group
        under ``min_group_size``), ``significant`` (the interval excludes 0)
        or ``not_significant``.
    """
    result = {
        "treated_rate": treated_k / treated_n if treated_n else 0.0,
        "control_rate": control_k / control_n if control_n else 0.0,
        "uplift_pp": None,
        "ci_low_pp": None,
        "ci_high_pp": None,
        "significance": "no_data",
    }
    if not treated_n or not control_n:
        return result
    p1, p2 = result["treated_rate"], result["control_rate"]
    l1, u1 = wilson(treated_k, treated_n, z)
    l2, u2 = wilson(control_k, control_n, z)
    diff = p1 - p2
    low = max(diff - math.hypot(p1 - l1, u2 - p2), -1.0)
    high = min(diff + math.hypot(u1 - p1, p2 - l2), 1.0)
    result.update(uplift_pp=diff * 100, ci_low_pp=low * 100, ci_high_pp=high * 100)
    if min(treated_n, control_n) < min_group_size:
        result["significance"] = "too_small"
    elif low > 0 or high < 0:
        result["significance"] = "significant"
    else:
        result["significance"] = "not_significant"
    return result


def economics(treated_n, treated_revenue, control_n, control_revenue, cost, uplift_pp):
    """Money side of a campaign.

    The campaign's revenue is the *incremental* one: what treated customers
    brought over what they would have brought at the control group's
    revenue per customer. ROI compares it with the cost; the cost per
    incremental retained customer divides the cost by the customers the
    uplift stands for (None when the uplift is not positive).

    >>> e = economics(400, 60000.0, 100, 9000.0, 6000.0, uplift_pp=10.0)
    >>> e["incremental_revenue"], round(e["roi"], 2), e["cost_per_incremental"]
    (24000.0, 3.0, 150.0)
    """
    per_control = control_revenue / control_n if control_n else 0.0
    incremental = treated_revenue - per_control * treated_n if control_n else None
    roi = (incremental - cost) / cost if cost and incremental is not None else None
    incremental_customers = (uplift_pp or 0.0) / 100 * treated_n
    cost_per_incremental = (
        cost / incremental_customers if uplift_pp and incremental_customers > 0 else None
    )
    return {
        "incremental_revenue": incremental,
        "roi": roi,
        "incremental_customers": incremental_customers,
        "cost_per_incremental": cost_per_incremental,
    }


def required_group_size(control_rate, uplift_pp, z_alpha=Z_95, z_power=Z_80):
    """Customers needed in *each* group for an uplift of ``uplift_pp`` over
    ``control_rate`` to show as significant (two-sided 5 %, power 80 %), by
    the classic two-proportion sample size; None for no uplift.

    >>> required_group_size(0.15, 10.0)
    250
    """
    p2 = control_rate
    p1 = min(max(p2 + (uplift_pp or 0.0) / 100, 0.0), 1.0)
    diff = abs(p1 - p2)
    if diff < 1e-9:
        return None
    pbar = (p1 + p2) / 2
    root = z_alpha * math.sqrt(2 * pbar * (1 - pbar)) + z_power * math.sqrt(
        p1 * (1 - p1) + p2 * (1 - p2)
    )
    return math.ceil(round(root**2 / diff**2, 6))


def verdict(test, treated_n, control_n):
    """The one-line reading of ``two_proportion``'s result for a manager.

    :return: dict with ``kind``: ``proven`` (significant gain), ``harmful``
        (significant loss), ``not_proven`` or ``no_data``; ``uplift_pp``;
        ``kept``: customers the uplift stands for among the treated;
        ``needed``: customers per group the observed uplift would need to be
        proven (None for no uplift); ``smaller``: the smaller group's size.

    >>> v = verdict(two_proportion(400, 100, 48, 8), 400, 48)
    >>> v["kind"], v["smaller"], v["needed"]
    ('not_proven', 48, 372)
    """
    uplift_pp = test["uplift_pp"]
    result = {
        "kind": "no_data",
        "uplift_pp": uplift_pp,
        "kept": round((uplift_pp or 0.0) / 100 * treated_n),
        "needed": None,
        "smaller": min(treated_n, control_n),
    }
    if test["significance"] == "no_data":
        return result
    if test["significance"] == "significant":
        result["kind"] = "proven" if uplift_pp > 0 else "harmful"
        return result
    result["kind"] = "not_proven"
    result["needed"] = required_group_size(test["control_rate"], uplift_pp)
    return result
