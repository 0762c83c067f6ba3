"""The health score: P(alive) and the customer's service experience,
weighted by what predicted lapses in the company's own past.

Pure numpy/scipy. A customer's features are the logit of its P(alive)
``HORIZON_DAYS`` ahead if it buys nothing until then (the churn model's own
forecast: a customer active today but about to fall silent shows there) and
the log of one plus each service signal count (low ratings, missed calls
without callback, SLA breaches, escalations, complaints) over the window
before the day; the label is whether it lapsed (entered At risk or Lost)
within the next ``HORIZON_DAYS``. A logistic regression with a small L2
penalty (standardised features, intercept free) gives the weights and, from
the inverse Hessian, their 95 % intervals; the health score is
``100 x (1 - P(lapse))``.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> p = rng.uniform(0.05, 0.95, 4000)
    >>> complaints = rng.poisson(0.3, 4000)
    >>> x = features(p, np.column_stack([np.zeros((4000, 4)), complaints]))
    >>> risk = 1 / (1 + np.exp(-(-1.0 - 1.2 * x[:, 1] + 1.5 * x[:, 6])))
    >>> lapsed = rng.random(4000) < risk
    >>> fit = fit_logistic(x, lapsed, monotone=True)
    >>> np.round(fit.coef[[0, 1, 6]], 1).tolist()
    [-1.0, -1.2, 1.5]
    >>> bool(fit.low[6] < 1.5 < fit.high[6]), fit.coef[2:6].tolist() == DEFAULT_COEF[2:6].tolist()
    (True, True)
    >>> calm, upset = features([0.9, 0.9], [[0, 0, 0, 0, 0], [0, 0, 0, 0, 3]])
    >>> bool(score(calm, fit.coef) > 95 > 90 > score(upset, fit.coef))
    True
"""

from dataclasses import dataclass

import numpy as np
from scipy import optimize, special

HORIZON_DAYS = 90
SIGNALS = ["low_ratings", "missed_calls", "sla_breaches", "escalations", "complaints"]
NAMES = ["intercept", "logit_p_alive", *SIGNALS, "one_time_buyer"]
# when the company's past has too few lapses to fit: P(alive) carries the
# risk, each kind of bad experience adds to it (log-odds per log(1 + count))
DEFAULT_COEF = np.array([-1.0, -0.5, 0.8, 0.6, 0.6, 1.0, 1.2, 0.0])
# the weights whose sign is not fixed by the monotone fit (see fit_logistic)
FREE = {0, 7}
MIN_LAPSES = 30
P_CLIP = (0.01, 0.99)
Z_95 = 1.959963984540054


@dataclass
class Fit:
    coef: np.ndarray
    low: np.ndarray
    high: np.ndarray
    rows: int
    lapses: int
    fitted: bool


def features(p_alive, signals, one_time=None):
    """Design matrix: a column of ones, logit(P(alive)) (clipped to
    [0.01, 0.99]: a customer the model holds surely alive, such as a
    one-time buyer, must not drown its service signals) and log1p of each
    signal count (``signals``: one column per ``SIGNALS``), then 1 for a
    one-time buyer (``one_time``; BG/NBD holds one who never bought twice
    surely alive, so its P(alive) says nothing: the rhythm rules move it)."""
    p = np.clip(np.asarray(p_alive, dtype=float), P_CLIP[0], P_CLIP[1])
    counts = np.log1p(np.maximum(np.asarray(signals, dtype=float).reshape(len(p), -1), 0))
    once = np.zeros(len(p)) if one_time is None else np.asarray(one_time, dtype=float)
    return np.column_stack([np.ones(len(p)), special.logit(p), counts, once])


def fit_logistic(x, y, penalty=1e-3, monotone=False):
    """L2-penalised logistic regression of ``y`` (0/1) on ``x`` (with its
    column of ones first, not penalised). Features are standardised for the
    fit and the coefficients returned on the original scale, with 95 %
    Wald intervals from the inverse Hessian. ``penalty`` 0 is the plain
    maximum likelihood (what statsmodels' Logit gives).

    With ``monotone`` (the product's fit), the signs are those of
    ``DEFAULT_COEF``: a higher P(alive) never raises the risk, a bad
    experience never lowers it (a bound reached gives a weight of 0); a
    feature the past never shows varying (no complaint in the data, say)
    cannot be estimated and keeps its default weight, with no interval.

    >>> x = features([0.5, 0.6, 0.7, 0.8] * 50, np.zeros((200, 5)))
    >>> fit = fit_logistic(x, np.arange(200) % 3 == 0, monotone=True)
    >>> fit.coef[2:].tolist() == DEFAULT_COEF[2:].tolist(), bool(np.isnan(fit.low[6]))
    (True, True)
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    mean = x[:, 1:].mean(axis=0)
    std = x[:, 1:].std(axis=0)
    constant = np.r_[False, std == 0]
    std[std == 0] = 1.0
    z = np.column_stack([x[:, 0], (x[:, 1:] - mean) / std])
    n = len(y)
    mask = np.r_[0.0, np.ones(z.shape[1] - 1)]

    def objective(beta):
        eta = z @ beta
        ll = y @ eta - np.logaddexp(0, eta).sum()
        grad = z.T @ (y - special.expit(eta))
        return -ll / n + penalty * (mask * beta) @ beta / 2, -grad / n + penalty * mask * beta

    if monotone:
        bounds = [
            (0.0, 0.0) if fixed else (None, None) if j in FREE else
            (None, 0.0) if DEFAULT_COEF[j] < 0 else (0.0, None)
            for j, fixed in enumerate(constant)
        ]  # fmt: skip
        res = optimize.minimize(
            objective,
            np.zeros(z.shape[1]),
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            options={"gtol": 1e-10, "ftol": 1e-14},
        )
    else:
        res = optimize.minimize(
            objective, np.zeros(z.shape[1]), jac=True, method="BFGS", options={"gtol": 1e-10}
        )
    beta = res.x
    w = special.expit(z @ beta)
    hessian = (z * (w * (1 - w))[:, None]).T @ z + n * penalty * np.diag(mask)
    cov_z = np.linalg.pinv(hessian)
    # back to the original scale: b_j = beta_j / std_j, b_0 = beta_0 - sum
    transform = np.eye(len(beta))
    transform[1:, 1:] = np.diag(1 / std)
    transform[0, 1:] = -mean / std
    coef = transform @ beta
    se = np.sqrt(np.diag(transform @ cov_z @ transform.T))
    low, high = coef - Z_95 * se, coef + Z_95 * se
    if monotone and constant.any():
        coef[constant] = DEFAULT_COEF[constant]
        low[constant] = high[constant] = np.nan
    return Fit(coef, low, high, n, int(y.sum()), True)


def default_fit(rows=0, lapses=0):
    """The documented default weights (no interval), for a past with fewer
    than ``MIN_LAPSES`` lapses."""
    return Fit(DEFAULT_COEF.copy(), DEFAULT_COEF.copy(), DEFAULT_COEF.copy(), rows, lapses, False)


def score(x, coef):
    """Health 0-100: 100 x (1 - P(lapse within the horizon))."""
    return 100.0 * (1.0 - special.expit(np.asarray(x, dtype=float) @ np.asarray(coef)))
