"""BG/NBD churn model and Gamma-Gamma spend model: P(alive), forecasts, CLV.

Pure numpy/scipy/pandas (no Odoo). Usage (time unit: weeks)::

    from odoo.addons.crm_retention.lib import clv

    s = clv.summary_from_transactions(ids, dates, amounts, "2024-12-31", time_unit_days=7)
    bg = clv.fit_bgnbd(s.frequency, s.recency, s.T)
    gg = clv.fit_gamma_gamma(s.frequency, s.monetary_value)
    alive = clv.p_alive(bg, s.frequency, s.recency, s.T)
    next_quarter = clv.expected_purchases(bg, 13, s.frequency, s.recency, s.T)
    value = clv.clv(bg, gg, s.frequency, s.recency, s.T, s.monetary_value,
                    horizon_months=12, monthly_discount_rate=0.01, time_unit_days=7)

Per customer: ``frequency`` x = number of *repeat* purchase days (purchases on
the same day count once, the first day is not counted), ``recency`` t_x = time
from the first to the last purchase, ``T`` = time from the first purchase to
the end of observation, ``recency`` and ``T`` in one time unit chosen by the
caller (weeks in the CDNOW paper; ``time_unit_days`` tells :func:`clv` which).

How it works. BG/NBD (Fader, Hardie & Lee 2005, "Counting your customers the
easy way"): while alive a customer buys as a Poisson process of rate
lambda ~ Gamma(r, alpha); after each purchase he drops out with probability
p ~ Beta(a, b). The likelihood of (x, t_x, T) is (paper eq. 6)

    L = B(a, b+x)/B(a, b) * G(r+x) alpha^r / (G(r) (alpha+T)^(r+x))
      + [x > 0] B(a+1, b+x-1)/B(a, b) * G(r+x) alpha^r / (G(r) (alpha+t_x)^(r+x))

evaluated in log space (gammaln, betaln, logaddexp), so that x = 1000 does
not overflow, and maximised over the log-parameters with L-BFGS-B and its
analytic gradient. Identical (x, t_x, T) rows can be fitted once with
``weights`` = their counts: 1M customers fit in ~20 s row by row, in ~1 s as
~100k weighted unique rows (2-core dev machine). P(alive) is a logistic of a
log-odds; the forecast (eq. 10) uses scipy.special.hyp2f1 where it is
accurate and series / numerical integration elsewhere (e.g. huge a and b),
see :func:`expected_purchases`.

Gamma-Gamma (Fader, Hardie & Lee 2005, "RFM and CLV: using iso-value
curves"): a customer's spends are Gamma(p, nu), nu ~ Gamma(q, v), independent
of the purchase process; the mean m_x of x repeat spends has density
G(px+q)/(G(px)G(q)) v^q m^(px-1) x^(px) / (v + m x)^(px+q).
"""

import dataclasses

import numpy as np
import pandas as pd
from scipy import optimize, special

DAYS_PER_MONTH = 30.4375  # 365.25 / 12
_A_NEAR_ONE = 1e-4  # the Euler form of eq. 10 has a removable singularity at a = 1
_A_MOMENTS = 100.0  # moment series tried first from this a on (shrinks by <= 1/sqrt(a) a term)
_EULER_MAX_COND = 1e4  # Euler form used while it loses at most ~4 digits to cancellation


class ModelFitError(ValueError):
    """Invalid input to a fit, or a fit that did not converge."""


@dataclasses.dataclass(frozen=True)
class BGNBDParams:
    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float = float("nan")
    converged: bool = True
    n: int = 0


@dataclasses.dataclass(frozen=True)
class GammaGammaParams:
    p: float
    q: float
    v: float
    log_likelihood: float = float("nan")
    converged: bool = True
    n: int = 0


# ---------------------------------------------------------------- inputs
def _arrays(*values, names):
    out = []
    for value, name in zip(values, names, strict=False):
        arr = np.asarray(value, dtype=float).ravel()
        if not np.isfinite(arr).all():
            raise ModelFitError(f"{name} contains NaN or infinite values")
        if (arr < 0).any():
            raise ModelFitError(f"{name} contains negative values")
        out.append(arr)
    if len({len(arr) for arr in out}) > 1:
        lengths = ", ".join(f"{n}={len(a)}" for n, a in zip(names, out, strict=False))
        raise ModelFitError(f"length mismatch: {lengths}")
    return out


def _customers(frequency, recency, T):
    x, t_x, T = _arrays(frequency, recency, T, names=("frequency", "recency", "T"))
    if (t_x > T + 1e-9).any():
        raise ModelFitError("recency is greater than T for some customers")
    if (x != np.round(x)).any():
        raise ModelFitError("frequency must be whole numbers (repeat purchase days)")
    return x, t_x, T


def _weights(weights, n):
    if weights is None:
        return np.ones(n)
    (w,) = _arrays(weights, names=("weights",))
    if len(w) != n:
        raise ModelFitError(f"length mismatch: weights={len(w)}, customers={n}")
    if w.sum() <= 0:
        raise ModelFitError("weights sum to zero")
    return w


def _minimize(fun, x0, n_params, what):
    """Minimise fun (value, gradient) over log-parameters; return the parameters."""
    res = optimize.minimize(fun, x0, jac=True, method="L-BFGS-B", bounds=[(-20, 20)] * n_params)
    grad = fun(res.x)[1]
    if not res.success and np.abs(grad).max() > 1e-4:
        # restart from a derivative-free search, then polish
        nm = optimize.minimize(
            lambda z: fun(z)[0],
            res.x,
            method="Nelder-Mead",
            options={"maxiter": 4000, "xatol": 1e-8, "fatol": 1e-12},
        )
        res = optimize.minimize(
            fun, nm.x, jac=True, method="L-BFGS-B", bounds=[(-20, 20)] * n_params
        )
        grad = fun(res.x)[1]
    if not (np.isfinite(res.x).all() and np.isfinite(res.fun)):
        raise ModelFitError(f"{what} fit gave non-finite values")
    if not (res.success or np.abs(grad).max() <= 1e-4):
        raise ModelFitError(f"{what} fit did not converge: {res.message}")
    return np.exp(res.x)


# ---------------------------------------------------------------- BG/NBD
def _bgnbd_loglik(params, x, t_x, T, grad=False):
    """Per-customer log-likelihood (paper eq. 6) and optionally d/d(log-params)."""
    r, alpha, a, b = params
    repeat = x > 0
    common = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    term1 = special.betaln(a, b + x) - special.betaln(a, b) - (r + x) * np.log(alpha + T)
    with np.errstate(invalid="ignore", divide="ignore"):
        term2 = (
            special.betaln(a + 1, b + x - 1) - special.betaln(a, b) - (r + x) * np.log(alpha + t_x)
        )
    term2 = np.where(repeat, term2, -np.inf)
    ll = common + np.logaddexp(term1, term2)
    if not grad:
        return ll
    w1 = np.exp(term1 + common - ll)  # share of each term in the likelihood
    w2 = 1.0 - w1
    psi = special.digamma
    log_t, log_tx = np.log(alpha + T), np.log(alpha + t_x)
    d_r = psi(r + x) - psi(r) + np.log(alpha) - w1 * log_t - w2 * log_tx
    d_alpha = r / alpha - (r + x) * (w1 / (alpha + T) + w2 / (alpha + t_x))
    base_a, base_b = psi(a + b) - psi(a), psi(a + b) - psi(b)
    with np.errstate(invalid="ignore"):
        d2_b = np.where(repeat, psi(np.where(repeat, b + x - 1, 1.0)), 0.0)
    d_a = base_a + w1 * psi(a) + w2 * psi(a + 1) - psi(a + b + x)
    d_b = base_b + w1 * psi(b + x) + w2 * d2_b - psi(a + b + x)
    return ll, np.stack([d_r * r, d_alpha * alpha, d_a * a, d_b * b])


def fit_bgnbd(frequency, recency, T, *, weights=None, penalizer=0.0, initial=None):
    """Maximum-likelihood BG/NBD parameters.

    ``weights`` (optional) counts customers per row: pass unique
    (frequency, recency, T) rows with their counts to fit large bases fast.
    ``penalizer`` adds ``penalizer * sum(log(param)**2)`` to the mean negative
    log-likelihood (shrinks parameters toward 1; 0 = plain MLE). ``initial`` is
    a (r, alpha, a, b) starting point. Raises :class:`ModelFitError`.
    """
    x, t_x, T = _customers(frequency, recency, T)
    if not len(x):
        raise ModelFitError("no customers to fit")
    w = _weights(weights, len(x))
    if not (x[w > 0] > 0).any():
        raise ModelFitError("no customer with a repeat purchase (frequency > 0): nothing to fit")
    total = w.sum()
    if initial is None:
        initial = (1.0, max(float(np.average(T, weights=w)), 1e-3), 1.0, 1.0)
    initial = np.asarray(initial, dtype=float)
    if initial.shape != (4,) or not (initial > 0).all():
        raise ModelFitError("initial must be 4 positive numbers (r, alpha, a, b)")

    def objective(log_params):
        with np.errstate(over="ignore"):
            ll, grad = _bgnbd_loglik(np.exp(log_params), x, t_x, T, grad=True)
        value = -(w @ ll) / total + penalizer * (log_params @ log_params)
        gradient = -(grad @ w) / total + 2 * penalizer * log_params
        if not np.isfinite(value):
            return np.inf, np.zeros(4)
        return value, gradient

    r, alpha, a, b = _minimize(objective, np.log(initial), 4, "BG/NBD")
    ll = float(w @ _bgnbd_loglik((r, alpha, a, b), x, t_x, T))
    if not np.isfinite(ll):
        raise ModelFitError("BG/NBD fit gave a non-finite log-likelihood")
    return BGNBDParams(float(r), float(alpha), float(a), float(b), ll, True, int(round(total)))


def p_alive(params, frequency, recency, T):
    """P(customer still alive | x, t_x, T) (paper eq. 13); 1 when frequency is 0."""
    x, t_x, T = _customers(frequency, recency, T)
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    with np.errstate(invalid="ignore", divide="ignore"):
        log_odds = np.log(a) - np.log(b + x - 1) + (r + x) * np.log((alpha + T) / (alpha + t_x))
    return special.expit(-np.where(x > 0, log_odds, -np.inf))


def _euler_form(r, alpha, a, b, t, x, T):
    """Eq. 10 without its P(alive) factor, by scipy's hyp2f1; returns (value, cond).

    (a+b+x-1)/(a-1) * [1 - ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; z)]
    with z = t/(alpha+T+t). Euler's transformation 2F1(A,B;C;z) =
    (1-z)^(C-A-B) 2F1(C-A, C-B; C; z) turns the bracket into
    1 - (1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z): no parameter grows with x
    except C, so the series converges fast and nothing overflows for large x.
    ``cond`` = |subtracted term| / |bracket|: the factor by which rounding
    errors are amplified (large when the bracket is tiny, e.g. b >> 1). For
    large a the two factors of the subtracted term over/underflow (NaN).
    """
    z = t / (alpha + T + t)
    hyp = special.hyp2f1(a + b - 1 - r, a - 1, a + b + x - 1, z)
    subtracted = np.exp((a - 1) * np.log1p(-z)) * hyp
    bracket = 1.0 - subtracted
    return (a + b + x - 1) / (a - 1) * bracket, np.abs(subtracted) / np.abs(bracket)


def _euler_form_near_one(r, alpha, a, b, t, x, T):
    """:func:`_euler_form` for |a - 1| < h, a removable singularity of it.

    Cubic interpolation through a = 1 + h * (-2, -1, 1, 2), h = 1e-4 (the
    linear one through 1 -/+ h was off by 6e-7 at t/(alpha+T) = 1e9).
    """
    offsets = (-2.0, -1.0, 1.0, 2.0)
    delta = (a - 1) / _A_NEAR_ONE
    value, cond = 0.0, 0.0
    for d_j in offsets:
        weight = np.prod([(delta - d) / (d_j - d) for d in offsets if d != d_j])
        v_j, c_j = _euler_form(r, alpha, 1 + d_j * _A_NEAR_ONE, b, t, x, T)
        value = value + weight * v_j
        cond = np.maximum(cond, c_j)
    return value, cond


def _power_series(r, alpha, a, b, t, x, T, terms=60):
    """Eq. 10 without P(alive) as a series in c = t/(alpha+T); returns (value, ok).

    Surely alive, E[Y(t)] = E[(1 - (1 + p c)^-(r+x)) / p] over p ~ Beta(a, b+x)
    (lambda integrated out); expanding in powers of p c and E[p^k] =
    (a)_k / (a+b+x)_k gives sum_k (-c)^k c (r+x)_(k+1) / (k+1)! (a)_k / (a+b+x)_k.
    Exact and cancellation-free while the terms shrink from the first one
    (short horizons, or p small: b >> a), i.e. where the Euler form cancels.
    ``ok`` marks rows that converged without terms larger than 100x the sum.
    """
    n, B = r + x, b + x
    c = t / (alpha + T)
    term = n * c
    total = term.copy()
    largest = np.abs(term)
    done = np.zeros(term.shape, dtype=bool)
    for k in range(1, terms):
        term = term * (-c) * (n + k) / (k + 1) * (a + k - 1) / (a + B + k - 1)
        active = ~done
        total = np.where(active, total + term, total)
        largest = np.where(active, np.maximum(largest, np.abs(term)), largest)
        done |= np.isfinite(total) & (np.abs(term) <= 1e-17 * np.abs(total))
        if done.all() or not np.isfinite(term[~done]).any():
            break
    return total, done & (largest <= 100 * np.abs(total))


def _moment_series(r, alpha, a, b, t, x, T, terms=40):
    """Eq. 10 without P(alive) for a concentrated dropout distribution; returns (value, ok).

    With mu = a/(a+B), B = b+x, eps = p/mu - 1 and theta = mu c/(1 + mu c),
    expanding (1 - (1+pc)^-n)/p around p = mu gives
    E = (1/mu) sum_k (-1)^k P(J > k) E[eps^k], J ~ NegBin(n, theta) (the
    Taylor coefficients are negative-binomial tail probabilities, all in
    [0, 1]) and E[eps^k] from the Beta central-moment recurrence
    E[eps^(k+1)] = k (B E[eps^(k-1)] + (B-a) E[eps^k]) / (a (a+B+k)).
    E[eps^k] ~ (k-1)!! (B/(a(a+B)))^(k/2): fast for large a (<= 1/sqrt(a) per
    order), e.g. a, b -> infinity (nearly constant dropout) where the Euler
    form overflows. An asymptotic series: ``ok`` marks rows whose terms fell
    below 1e-17 of the sum before growing.
    """
    n, B = r + x, b + x
    c = t / (alpha + T)
    mu = a / (a + B)
    mc = mu * c
    theta = mc / (1 + mc)
    log_pmf0 = -n * np.log1p(mc)
    tail = -np.expm1(log_pmf0)  # P(J > 0)
    pmf = np.exp(log_pmf0)  # P(J = 0)
    total = tail.copy()
    largest = np.abs(tail)
    previous = np.zeros_like(total)  # |last term| (odd moments vanish for a = B)
    done = np.zeros(total.shape, dtype=bool)
    e_prev, e_cur = np.ones_like(total), np.zeros_like(total)  # E[eps^0], E[eps^1]
    for k in range(1, terms):
        pmf = pmf * (n + k - 1) / k * theta  # P(J = k)
        tail = tail - pmf  # P(J > k)
        e_prev, e_cur = e_cur, k * (B * e_prev + (B - a) * e_cur) / (a * (a + B + k))
        term = (-1) ** (k + 1) * (tail - pmf * (n + k) / (k + 1) * theta) * e_cur
        active = ~done
        total = np.where(active, total + term, total)
        largest = np.where(active, np.maximum(largest, np.abs(term)), largest)
        done |= np.isfinite(total) & (np.abs(term) + previous <= 1e-17 * np.abs(total))
        previous = np.abs(term)
        if done.all():
            break
    return total / mu, done & (largest <= 100 * np.abs(total))


def _log_h(y, n, log_c):
    """log((1 - (1 + p c)^-n) / p) at p = expit(y), without under/overflow."""
    log_q = log_c - np.logaddexp(0.0, -y)  # log(p c)
    q = np.exp(log_q)
    small = n * q < 1e-5
    q_safe = np.where(small, 1.0, q)
    direct = np.log(-np.expm1(-n * np.log1p(q_safe)) / q_safe)
    series = np.log(n) + np.log1p(q * (n + 1) * ((n + 2) * q / 6 - 0.5))
    return log_c + np.where(small, series, direct)


def _quadrature(r, alpha, a, b, t, x, T, step=0.025, chunk=2**21):
    """Eq. 10 without P(alive) by numerical integration over p ~ Beta(a, b+x): the fallback.

    E[(1 - (1+pc)^-n)/p] in y = logit(p), where the Beta density is smooth
    (no endpoint singularity) with exponential tails: trapezoidal rule in v,
    y = y0 + s sinh(v), centred on the mode y0 = log(a/B) with scale
    s = min(1, sqrt(1/a + 1/B)), normalised by the same rule applied to the
    density alone. Step 0.025 in v: ~4e-13 relative error over the ranges
    checked (0.05 gave 5e-7 for a ~ 1 and t/(alpha+T) ~ 1e9). Slow (360 to
    2000 nodes per value, 30-160 us), only used where the series and the
    Euler form fail.
    """
    n, B = r + x, b + x
    c = t / (alpha + T)
    y0 = np.log(a) - np.log(B)
    s = np.minimum(1.0, np.sqrt(1 / a + 1 / B))
    reach_left = np.arcsinh(45 / min(a, 1.0))  # tails decay like exp(a y), exp(-B y)
    reach_right = np.arcsinh(45 / min(b, 1.0))
    v = np.arange(-np.ceil(reach_left / step), np.ceil(reach_right / step) + 1) * step
    out = np.empty(n.shape)
    size = max(1, chunk // len(v))
    for start in range(0, len(n), size):
        part = slice(start, start + size)
        y = y0[part, None] + s[part, None] * np.sinh(v)
        log_weight = np.log(s[part, None] * np.cosh(v))
        log_density = a * (y - y0[part, None]) - (a + B[part, None]) * (
            np.logaddexp(0.0, y) - np.logaddexp(0.0, y0[part, None])
        )
        base = log_density + log_weight
        log_h = _log_h(y, n[part, None], np.log(c[part, None]))
        out[part] = np.exp(
            special.logsumexp(base + log_h, axis=1) - special.logsumexp(base, axis=1)
        )
    return out


def _surely_alive(r, alpha, a, b, t, x, T):
    """E[purchases in the next t | alive, x, T] for 1-d arrays t > 0, x, T.

    Each value comes from the first method that accepts it: the moment
    series (a >= 100; converges to machine precision there), the Euler form
    (fastest; when finite and cond <= 1e4, good to ~5e-10), the power series
    (short horizons, b >> a: where the Euler form cancels) and numerical
    integration (the rest, e.g. long horizons with b >> 1; slow, ~4e-13).
    """
    out = np.full(t.shape, np.nan)
    todo = np.ones(t.shape, dtype=bool)

    def attempt(method, accept=None):
        idx = np.flatnonzero(todo)
        if not len(idx):
            return
        value, ok = method(r, alpha, a, b, t[idx], x[idx], T[idx])
        if accept is not None:
            ok = accept(ok)
        ok &= np.isfinite(value)
        out[idx[ok]] = value[ok]
        todo[idx[ok]] = False

    with np.errstate(all="ignore"):
        if a >= _A_MOMENTS:
            attempt(_moment_series)
        euler = _euler_form_near_one if abs(a - 1) < _A_NEAR_ONE else _euler_form
        attempt(euler, lambda cond: cond <= _EULER_MAX_COND)
        attempt(_power_series)
        idx = np.flatnonzero(todo)
        if len(idx):
            out[idx] = _quadrature(r, alpha, a, b, t[idx], x[idx], T[idx])
    return out


def expected_purchases(params, t, frequency, recency, T, *, given_alive=False):
    """E[purchases in the next t periods | x, t_x, T] (paper eq. 10), vectorised.

    With ``given_alive``, the same expectation for a customer known to be
    still active: eq. 10 without its P(alive) factor (what a customer is
    worth if it is kept, whatever its chance of having left).

    ``t`` (scalar or array broadcastable with the customers) in the same unit
    as recency and T. Eq. 10 is P(alive) times E[Y(t) | alive]; the latter
    comes from the first method accurate for the row (see
    :func:`_surely_alive`), so huge a and b (a degenerate fit where the
    dropout probability is nearly constant a/(a+b)), huge b (almost no
    dropout) and very long horizons stay finite and accurate.
    Checked against 30-digit mpmath quadrature on 1,900 random draws of
    r in [0.05, 20], alpha in [0.1, 100], a and b in [0.05, 1e9] (many with
    both huge), x <= 5000, T in [0.5, 3000], t in [0.01, 1e7]: relative error
    below 5e-10 (scipy's hyp2f1 is the limit; the series and the integral are
    good to 1e-13); on a grid of extremes (a and b from 2e-9 to 4.85e8, the
    fit's bounds, x up to 1e5, t up to 1e9): below 2.2e-8, worst at
    a = b = 2e-9. The hypergeometric formula alone gave NaN or errors up to
    1e-3 once a or b was large. t must be finite.
    """
    x, t_x, T = _customers(frequency, recency, T)
    t = np.asarray(t, dtype=float)
    if (t < 0).any():
        raise ValueError("t must be >= 0")
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    t_b, x_b, T_b = np.broadcast_arrays(t, x, T)
    positive = t_b > 0
    surely_alive = np.zeros(t_b.shape)
    surely_alive[positive] = _surely_alive(
        r, alpha, a, b, t_b[positive], x_b[positive], T_b[positive]
    )
    if given_alive:
        return surely_alive
    return surely_alive * p_alive(params, x, t_x, T)


def expected_purchases_new(params, t):
    """Unconditional E[X(t)] for a customer just acquired (paper eq. 9)."""
    t = np.atleast_1d(np.asarray(t, dtype=float))
    zero = np.zeros(t.shape)
    return expected_purchases(params, t.ravel(), zero.ravel(), zero.ravel(), zero.ravel()).reshape(
        t.shape
    )


# ---------------------------------------------------------------- Gamma-Gamma
def fit_gamma_gamma(frequency, monetary_value, *, weights=None, penalizer=0.0, initial=None):
    """Maximum-likelihood Gamma-Gamma parameters (p, q, v).

    ``monetary_value`` is the mean spend of the customer's repeat purchases.
    Only customers with frequency > 0 and monetary_value > 0 are used, so all
    customers may be passed. Raises :class:`ModelFitError` (fewer than 2
    usable customers, invalid input, no convergence).
    """
    x, m = _arrays(frequency, monetary_value, names=("frequency", "monetary_value"))
    w = _weights(weights, len(x))
    keep = (x > 0) & (m > 0) & (w > 0)
    x, m, w = x[keep], m[keep], w[keep]
    if len(x) < 2:
        raise ModelFitError(
            f"Gamma-Gamma needs at least 2 customers with frequency > 0 and spend > 0, got {len(x)}"
        )
    total = w.sum()
    log_m, log_x = np.log(m), np.log(x)
    psi = special.digamma

    def loglik(p, q, v, grad=False):
        px = p * x
        log_vmx = np.log(v + m * x)
        ll = (
            special.gammaln(px + q)
            - special.gammaln(px)
            - special.gammaln(q)
            + q * np.log(v)
            + (px - 1) * log_m
            + px * log_x
            - (px + q) * log_vmx
        )
        if not grad:
            return ll
        d_p = x * (psi(px + q) - psi(px) + log_m + log_x - log_vmx)
        d_q = psi(px + q) - psi(q) + np.log(v) - log_vmx
        d_v = q / v - (px + q) / (v + m * x)
        return ll, np.stack([d_p * p, d_q * q, d_v * v])

    def objective(log_params):
        with np.errstate(over="ignore"):
            ll, grad = loglik(*np.exp(log_params), grad=True)
        value = -(w @ ll) / total + penalizer * (log_params @ log_params)
        if not np.isfinite(value):
            return np.inf, np.zeros(3)
        return value, -(grad @ w) / total + 2 * penalizer * log_params

    if initial is None:
        initial = (1.0, 2.0, float(np.average(m, weights=w)))
    initial = np.asarray(initial, dtype=float)
    if initial.shape != (3,) or not (initial > 0).all():
        raise ModelFitError("initial must be 3 positive numbers (p, q, v)")
    p, q, v = _minimize(objective, np.log(initial), 3, "Gamma-Gamma")
    ll = float(w @ loglik(p, q, v))
    return GammaGammaParams(float(p), float(q), float(v), ll, True, int(round(total)))


def expected_average_value(params, frequency, monetary_value):
    """E[mean spend per transaction | x, m_x]: (p v + p x m_x) / (p x + q - 1).

    A weighted average of the population mean p v / (q - 1) and the observed
    mean m_x; frequency 0 (or no spend) gives the population mean. Needs q > 1.
    """
    x, m = _arrays(frequency, monetary_value, names=("frequency", "monetary_value"))
    p, q, v = params.p, params.q, params.v
    if q <= 1:
        raise ValueError(f"Gamma-Gamma q = {q:g} <= 1: the mean spend is undefined")
    x = np.where(m > 0, x, 0.0)
    return (p * v + p * x * m) / (p * x + q - 1)


# ---------------------------------------------------------------- CLV
def discounted_expected_purchases(
    params,
    frequency,
    recency,
    T,
    *,
    horizon_months=12,
    monthly_discount_rate=0.01,
    time_unit_days=7.0,
    given_alive=False,
):
    """Discounted expected purchases over the next ``horizon_months`` months
    (``given_alive``: of a customer known to be still active, see
    :func:`expected_purchases`).

    sum_{m=1..H} (E[Y(m months)] - E[Y(m-1 months)]) / (1+d)^m, with the
    units of :func:`clv`. CLV is this times the expected spend: a caller
    with many customers of the same (frequency, recency, T) evaluates it
    once per distinct customer shape.
    """
    x, t_x, T = _customers(frequency, recency, T)
    months = np.arange(horizon_months + 1, dtype=float)
    t = (months * DAYS_PER_MONTH / time_unit_days)[:, None]
    cumulative = expected_purchases(
        params, t, x[None, :], t_x[None, :], T[None, :], given_alive=given_alive
    )
    discount = (1.0 + monthly_discount_rate) ** -months[1:]
    return discount @ np.diff(cumulative, axis=0)


def clv(
    bgnbd_params,
    gg_params,
    frequency,
    recency,
    T,
    monetary_value,
    *,
    horizon_months=12,
    monthly_discount_rate=0.01,
    time_unit_days=7.0,
):
    """Discounted customer value over the next ``horizon_months`` months.

    sum_{m=1..H} (E[Y(m months)] - E[Y(m-1 months)]) * E[spend] / (1+d)^m, where
    recency and T are in units of ``time_unit_days`` days (7 = weeks, the unit
    the BG/NBD parameters were fitted in), a month is 30.4375 days, d is the
    monthly discount rate and the result is in the currency of monetary_value.
    """
    x, t_x, T = _customers(frequency, recency, T)
    spend = expected_average_value(gg_params, x, monetary_value)
    purchases = discounted_expected_purchases(
        bgnbd_params,
        x,
        t_x,
        T,
        horizon_months=horizon_months,
        monthly_discount_rate=monthly_discount_rate,
        time_unit_days=time_unit_days,
    )
    return purchases * spend


# ---------------------------------------------------------------- transactions
def summary_from_transactions(customer_ids, dates, amounts, observation_end, time_unit_days=1.0):
    """Per-customer frequency / recency / T / monetary_value from raw transactions.

    ``dates``: dates, datetimes or ISO strings (timezone-naive). Purchases
    on the same calendar day are merged (amounts summed);
    transactions after ``observation_end`` are ignored. recency and T are in
    units of ``time_unit_days`` days. monetary_value is the mean amount of the
    repeat purchase days (first day excluded), 0 for customers without repeat.
    Returns a DataFrame indexed by customer id.
    """
    frame = pd.DataFrame(
        {
            "customer_id": np.asarray(customer_ids),
            "day": pd.to_datetime(pd.Series(dates), format="ISO8601").dt.normalize().to_numpy(),
            "amount": np.asarray(amounts, dtype=float),
        }
    )
    end = pd.Timestamp(observation_end).normalize()
    frame = frame[frame["day"] <= end]
    days = frame.groupby(["customer_id", "day"], sort=True)["amount"].sum().reset_index()
    per_customer = days.groupby("customer_id", sort=True)
    first = per_customer["day"].min()
    last = per_customer["day"].max()
    frequency = per_customer.size() - 1
    first_amount = per_customer["amount"].first()  # rows are sorted by day
    repeat_total = per_customer["amount"].sum() - first_amount
    unit = pd.Timedelta(days=time_unit_days)
    return pd.DataFrame(
        {
            "frequency": frequency.astype(float),
            "recency": (last - first) / unit,
            "T": (end - first) / unit,
            "monetary_value": (repeat_total / frequency.where(frequency > 0)).fillna(0.0),
        }
    )
