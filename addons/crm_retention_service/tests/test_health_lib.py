"""The logistic fit against an independent one: statsmodels' Logit, run once
in a throwaway environment on this very data (statsmodels 0.15, see the
numbers below); the suite does not depend on it."""

import unittest

import numpy as np

from ..lib import health

TRUTH = np.array([-1.2, -0.9, 0.4, 0.5, 0.3, 0.8, 1.1, 0.7])


def dataset():
    rng = np.random.default_rng(2026)
    n = 3000
    p = rng.uniform(0.05, 0.98, n)
    signals = np.column_stack([rng.poisson(lam, n) for lam in (0.2, 0.3, 0.2, 0.1, 0.25)])
    x = health.features(p, signals, one_time=rng.random(n) < 0.3)
    truth = TRUTH
    y = rng.random(n) < 1 / (1 + np.exp(-(x @ truth)))
    return x, y


# statsmodels 0.15.0: Logit(y, x).fit(tol=1e-12): params and bse
STATSMODELS_COEF = [
    -1.122357,
    -0.898095,
    0.393165,
    0.548095,
    0.127711,
    0.739298,
    1.165085,
    0.662054,
]
STATSMODELS_SE = [0.075232, 0.038942, 0.145331, 0.124499, 0.148866, 0.206486, 0.140941, 0.094084]


class TestHealthFit(unittest.TestCase):
    def test_maximum_likelihood_matches_statsmodels(self):
        x, y = dataset()
        fit = health.fit_logistic(x, y, penalty=0.0)
        np.testing.assert_allclose(fit.coef, STATSMODELS_COEF, atol=1e-4)
        se = (fit.high - fit.low) / (2 * health.Z_95)
        np.testing.assert_allclose(se, STATSMODELS_SE, atol=1e-4)

    def test_the_penalty_only_shrinks_a_little_and_intervals_cover_the_truth(self):
        x, y = dataset()
        plain = health.fit_logistic(x, y, penalty=0.0)
        fit = health.fit_logistic(x, y)
        self.assertLess(np.abs(fit.coef[1:]).sum(), np.abs(plain.coef[1:]).sum())
        np.testing.assert_allclose(fit.coef, plain.coef, atol=0.05)
        covered = (fit.low <= TRUTH) & (TRUTH <= fit.high)
        self.assertGreaterEqual(covered.sum(), 7)

    def test_defaults_when_the_past_is_too_short(self):
        fit = health.default_fit(rows=50, lapses=3)
        self.assertFalse(fit.fitted)
        np.testing.assert_array_equal(fit.coef, health.DEFAULT_COEF)
        calm, upset = health.features([0.9, 0.9], [[0] * 5, [2, 3, 2, 2, 5]], [0, 0])
        self.assertGreater(health.score(calm, fit.coef), 85)
        self.assertLess(health.score(upset, fit.coef), 15)
