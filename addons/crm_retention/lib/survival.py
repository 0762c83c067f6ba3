"""How long a customer stays a customer: BG/NBD survival of one customer.

Pure numpy/scipy (no Odoo). Under BG/NBD (see ``clv``) a customer still
alive buys as a Poisson process of rate lambda and drops out after each
purchase with probability p: dropout is a thinned Poisson process of rate
lambda p, so a customer alive now with fixed (lambda, p) is still alive
t later with probability exp(-lambda p t). Given its history (x repeat
purchases, recency t_x, age T, in weeks) and alive, lambda ~ Gamma(r+x,
alpha+T) and p ~ Beta(a, b+x), independent (the likelihood of the history
of a customer still alive, lambda^x e^(-lambda T) (1-p)^x, factorises).
Averaging over lambda in closed form, the probability it is still alive t
weeks from now is

    S(t) = P(alive now) * E_p[(1 + p t / (alpha+T))^-(r+x)]

and its expected remaining active time, restricted to a horizon H (the
plain mean is infinite for a <= 1: customers with p near 0 never leave), is

    RMST(H) = integral_0^H S(t) dt
            = P(alive now) * H * E_p[g(p H / (alpha+T))],
    g(q) = (1 - (1+q)^-(m)) / (m q),  m = r+x-1  (log(1+q)/q for m = 0),

the time integral being exact. What is left is one expectation over
p ~ Beta(a, b+x), computed by :func:`_beta_expectation` (trapezoidal rule
in logit(p) after a sinh stretch, like ``clv._quadrature``: accurate to
~1e-9 for any a and b, including a < 1 where the Beta density is infinite
at 0, and a, b in the millions where it is a spike). Vectorised over
customers: ~10 us per customer.

On the CDNOW parameters (Fader, Hardie & Lee 2005; weeks), a customer who
bought 2 more times, last 30 weeks into 39 weeks of history:

    >>> cdnow = clv.BGNBDParams(r=0.243, alpha=4.414, a=0.793, b=2.426)
    >>> s = survival(cdnow, [0.0, 52.0], 2, 30.0, 39.0)
    >>> [round(float(v), 4) for v in s]
    [0.7196, 0.5269]

S(0) is P(alive), 1 / (1 + a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x)) =
1 / (1 + 0.793/3.426 (43.414/34.414)^2.243) = 0.7196; a year on, 0.5269.
Over the next 10 years (520 weeks) it is expected to stay 171 weeks:
    >>> round(float(restricted_mean(cdnow, 520.0, 2, 30.0, 39.0)[0]), 1)
    171.2

The Monte-Carlo check (drawing lambda and p, then purchases and dropouts
one by one) is in ``tests/test_survival.py``.
"""

import numpy as np
from scipy import special

from . import clv

# trapezoid step in v (logit(p) = y0 + s sinh(v)): the error falls like
# exp(-c / step); 0.05 agrees with adaptive quadrature to ~1e-10
_STEP = 0.1
# evaluate at most this many (customer, node) pairs at once
_CHUNK = 2**20


def _beta_expectation(a, B, fn, step=_STEP, chunk=_CHUNK):
    """E[fn(p, i)] over p ~ Beta(a, B[i]) for each customer i, vectorised.

    ``fn(p, rows)`` gets a (customers, nodes) array of p and the indices of
    those customers, and returns values of the same shape. In y = logit(p)
    the Beta density a y - (a+B) log(1+e^y) is smooth with exponential tails
    (no endpoint singularity even for a < 1); y = y0 + s sinh(v) centres the
    nodes on the mode y0 = log(a/B) and reaches the far tails with few
    nodes, and the trapezoidal rule in v converges exponentially. The
    weights are normalised by the same rule applied to the density alone.
    """
    B = np.asarray(B, dtype=float)
    y0 = np.log(a) - np.log(B)
    s = np.minimum(1.0, np.sqrt(1 / a + 1 / B))
    # the density decays like exp(a y) on the left and exp(-B y) <= exp(-b y)
    # on the right: reach 45 of the exponents
    reach_left = np.arcsinh(45 / min(a, 1.0))
    reach_right = np.arcsinh(45 / min(float(B.min(initial=1.0)), 1.0))
    v = np.arange(-np.ceil(reach_left / step), np.ceil(reach_right / step) + 1) * step
    out = np.empty(B.shape)
    size = max(1, chunk // len(v))
    for start in range(0, len(B), size):
        rows = np.arange(start, min(start + size, len(B)))
        y = y0[rows, None] + s[rows, None] * np.sinh(v)
        log_w = (
            a * (y - y0[rows, None])
            - (a + B[rows, None]) * (np.logaddexp(0.0, y) - np.logaddexp(0.0, y0[rows, None]))
            + np.log(s[rows, None] * np.cosh(v))
        )
        w = np.exp(log_w - log_w.max(axis=1, keepdims=True))
        out[rows] = (w * fn(special.expit(y), rows)).sum(axis=1) / w.sum(axis=1)
    return out


def _history(params, frequency, recency, T):
    x, t_x, T = clv._customers(frequency, recency, T)
    return x, T, params.alpha + T, params.r + x


def survival(params, t, frequency, recency, T):
    """P(still alive ``t`` weeks from now | x, t_x, T). Not "if it buys
    nothing": its purchases go on, and so do the dropouts after them.

    ``t`` is a 1-d array of horizons (weeks, >= 0) for one customer, or a
    scalar for many: the result has the broadcast shape. S(0) is P(alive).
    """
    x, T, c, n = _history(params, frequency, recency, T)
    t = np.asarray(t, dtype=float)
    if (t < 0).any() or not np.isfinite(t).all():
        raise ValueError("t must be finite and >= 0")
    t_b, x_b, c_b, n_b = np.broadcast_arrays(t, x, c, n)
    flat = t_b.ravel(), x_b.ravel(), c_b.ravel(), n_b.ravel()

    def given_alive(p, rows):
        tt, _x, cc, nn = (arr[rows, None] for arr in flat)
        return np.exp(-nn * np.log1p(p * tt / cc))

    kept = _beta_expectation(params.a, params.b + flat[1], given_alive).reshape(t_b.shape)
    return kept * clv.p_alive(params, frequency, recency, T)


def _g(q, m):
    """(1 - (1+q)^-m) / (m q), for q >= 0 and any m (log(1+q)/q at m = 0):
    u = log(1+q), (1 - e^(-m u)) / m = u exprel(-m u), with no cancellation."""
    u = np.log1p(q)
    ratio = np.where(q < 1e-8, 1.0 - q / 2, u / np.where(q < 1e-8, 1.0, q))
    return ratio * special.exprel(-m * u)


def restricted_mean(params, horizon, frequency, recency, T):
    """Expected time (weeks) the customer stays alive within the next
    ``horizon`` weeks: the integral of :func:`survival` over [0, horizon].

    0 for a customer surely gone, ``horizon`` at most.
    """
    x, T, c, n = _history(params, frequency, recency, T)
    if not (np.isfinite(horizon) and horizon > 0):
        raise ValueError("horizon must be finite and > 0")
    m = n - 1

    def g_at(p, rows):
        return _g(p * horizon / c[rows, None], m[rows, None])

    kept = _beta_expectation(params.a, params.b + x, g_at) if len(x) else np.zeros(0)
    return horizon * kept * clv.p_alive(params, frequency, recency, T)
