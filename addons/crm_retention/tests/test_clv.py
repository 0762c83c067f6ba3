"""BG/NBD and Gamma-Gamma (lib/clv.py): pure numpy/scipy tests, no database.

Reference values are checked against the published CDNOW estimates and
against formulas written independently of the module: the paper's eq. 10 as
printed (the module uses an Euler-transformed hypergeometric), a numerical
integral over the dropout probability that uses no hypergeometric function
at all, and a Monte Carlo simulation of the BG/NBD story.
"""

import os
import unittest

import numpy as np
import pandas as pd
from scipy import integrate, special

from ..lib import clv

DATA = os.path.join(os.path.dirname(__file__), "data", "cdnow_customers_summary.csv")
# Fader, Hardie & Lee (2005), CDNOW sample, weeks
CDNOW = clv.BGNBDParams(r=0.242594, alpha=4.413623, a=0.792876, b=2.425696)


def load_cdnow():
    frame = pd.read_csv(DATA)
    return frame["frequency"], frame["recency"], frame["T"]


def naive_p_alive(params, x, t_x, T):
    """Paper's P(alive) written directly, no log space (moderate inputs only)."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    if x == 0:
        return 1.0
    return 1.0 / (1.0 + a / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x))


def naive_expected(params, t, x, t_x, T):
    """Paper's eq. 10 as printed (moderate inputs only)."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    hyp = special.hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + T + t))
    bracket = 1.0 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp
    return (a + b + x - 1) / (a - 1) * bracket * naive_p_alive(params, x, t_x, T)


def integral_expected(params, t, x, t_x, T):
    """Eq. 10 from first principles, integrating over the dropout probability p.

    Alive customer with rate lambda, dropout p: E[Y(t)] = (1 - exp(-lambda p t)) / p.
    lambda integrates out in closed form (gamma integrals); p numerically,
    with quad's algebraic weight p^(a-1) (1-p)^(b+x-1).
    """
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    n = r + x

    def given_p(p):
        if p == 0:
            return n * t / (alpha + T)
        return -np.expm1(-n * np.log1p(p * t / (alpha + T))) / p

    alive, _ = integrate.quad(
        given_p, 0, 1, weight="alg", wvar=(a - 1, b + x - 1), epsabs=0, epsrel=1e-11, limit=200
    )
    # likelihood of the data, divided by G(r+x) alpha^r / (G(r) (alpha+T)^(r+x))
    lik = special.beta(a, b + x)
    if x > 0:
        lik += special.beta(a + 1, b + x - 1) * ((alpha + T) / (alpha + t_x)) ** n
    return alive / lik


class TestBGNBDFit(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.x, cls.t_x, cls.T = load_cdnow()
        cls.fit = clv.fit_bgnbd(cls.x, cls.t_x, cls.T)

    def test_reproduces_published_cdnow_estimates(self):
        fit = self.fit
        self.assertAlmostEqual(fit.r, 0.243, places=3)
        self.assertAlmostEqual(fit.alpha, 4.414, places=2)
        self.assertAlmostEqual(fit.a, 0.793, places=3)
        self.assertAlmostEqual(fit.b, 2.426, places=2)
        self.assertAlmostEqual(fit.log_likelihood, -9582.4, delta=0.5)
        self.assertTrue(fit.converged)
        self.assertEqual(fit.n, 2357)

    def test_fit_is_a_maximum(self):
        x, t_x, T = (np.asarray(v, dtype=float) for v in (self.x, self.t_x, self.T))
        best = np.array([self.fit.r, self.fit.alpha, self.fit.a, self.fit.b])
        for i in range(4):
            for factor in (0.99, 1.01):
                moved = best.copy()
                moved[i] *= factor
                ll = clv._bgnbd_loglik(moved, x, t_x, T).sum()
                self.assertLess(ll, self.fit.log_likelihood)

    def test_weights_give_the_same_fit_as_expanded_rows(self):
        frame = pd.DataFrame({"x": self.x, "t_x": self.t_x, "T": self.T})
        unique = frame.groupby(["x", "t_x", "T"]).size().reset_index(name="count")
        self.assertLess(len(unique), len(frame))
        fit = clv.fit_bgnbd(unique["x"], unique["t_x"], unique["T"], weights=unique["count"])
        for name in ("r", "alpha", "a", "b"):
            self.assertAlmostEqual(getattr(fit, name), getattr(self.fit, name), places=4)
        self.assertAlmostEqual(fit.log_likelihood, self.fit.log_likelihood, places=4)
        self.assertEqual(fit.n, 2357)

    def test_penalizer_shrinks_toward_one_and_costs_likelihood(self):
        fit = clv.fit_bgnbd(self.x, self.t_x, self.T, penalizer=0.1)
        size = lambda p: sum(np.log([p.r, p.alpha, p.a, p.b]) ** 2)  # noqa: E731
        self.assertLess(size(fit), size(self.fit))
        self.assertLess(fit.log_likelihood, self.fit.log_likelihood)

    def test_recovers_parameters_of_simulated_customers(self):
        rng = np.random.default_rng(7)
        n, horizon = 20000, 52.0
        true = clv.BGNBDParams(r=0.5, alpha=6.0, a=1.5, b=4.0)
        lam = rng.gamma(true.r, 1 / true.alpha, n)
        p = rng.beta(true.a, true.b, n)
        T = rng.uniform(20, horizon, n)
        # repeat purchases: Poisson(lam T) arrivals; dropout after each with prob p
        arrivals = rng.poisson(lam * T)
        survived = rng.geometric(p)  # purchases made before (and including) dropout
        x = np.minimum(arrivals, survived)
        # recency: the x-th of the uniform arrival times in (0, T] (the last one
        # unless the customer died): order statistic ~ T * Beta(x, arrivals - x + 1)
        t_x = np.where(x > 0, T * rng.beta(np.maximum(x, 1), arrivals - x + 1), 0.0)
        fit = clv.fit_bgnbd(x, t_x, T)
        for name in ("r", "alpha", "a", "b"):  # fitted: 0.512, 6.15, 1.53, 4.05
            self.assertAlmostEqual(
                getattr(fit, name), getattr(true, name), delta=0.1 * getattr(true, name)
            )


class TestPredictions(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.x, cls.t_x, cls.T = (np.asarray(v, dtype=float) for v in load_cdnow())

    def test_p_alive_is_one_without_repeat_purchase(self):
        out = clv.p_alive(CDNOW, [0, 0], [0, 0], [1.0, 100.0])
        np.testing.assert_array_equal(out, [1.0, 1.0])

    def test_p_alive_drops_for_frequent_buyer_gone_quiet(self):
        recent, gone = clv.p_alive(CDNOW, [10, 10], [38, 5], [39, 39])
        self.assertGreater(recent, 0.9)
        self.assertLess(gone, 0.01)
        self.assertTrue(
            (
                (clv.p_alive(CDNOW, self.x, self.t_x, self.T) > 0)
                & (clv.p_alive(CDNOW, self.x, self.t_x, self.T) <= 1)
            ).all()
        )

    def test_p_alive_matches_direct_formula(self):
        out = clv.p_alive(CDNOW, self.x, self.t_x, self.T)
        expected = [
            naive_p_alive(CDNOW, *row) for row in zip(self.x, self.t_x, self.T, strict=False)
        ]
        np.testing.assert_allclose(out, expected, rtol=1e-12)
        self.assertAlmostEqual(out[0], 0.7266, places=4)  # customer ID 1: x=2, t_x=30.43, T=38.86

    def test_expected_purchases_match_paper_formula_on_cdnow(self):
        out = clv.expected_purchases(CDNOW, 39, self.x, self.t_x, self.T)
        expected = [
            naive_expected(CDNOW, 39, *row) for row in zip(self.x, self.t_x, self.T, strict=False)
        ]
        np.testing.assert_allclose(out, expected, rtol=1e-9)
        self.assertAlmostEqual(out[0], 1.226, places=3)  # customer ID 1
        # cohort forecast for weeks 40-78: the model's total over the 2,357 customers
        self.assertAlmostEqual(out.sum(), 1653.4, delta=0.5)

    def test_expected_purchases_match_numerical_integral(self):
        cases = [  # params, t, x, t_x, T
            (CDNOW, 39.0, 2, 30.43, 38.86),
            (CDNOW, 5.0, 0, 0.0, 30.0),
            (CDNOW, 300.0, 25, 10.0, 38.0),
            (clv.BGNBDParams(2.0, 10.0, 3.0, 5.0), 52.0, 7, 40.0, 50.0),
            (clv.BGNBDParams(0.4, 2.0, 0.3, 0.4), 20.0, 0, 0.0, 8.0),  # a + b < 1
            (clv.BGNBDParams(1.2, 30.0, 0.5, 8.0), 1000.0, 200, 399.0, 400.0),
            (clv.BGNBDParams(0.8, 5.0, 1.0, 3.0), 26.0, 3, 20.0, 30.0),  # a = 1 exactly
            (clv.BGNBDParams(0.8, 5.0, 1.00005, 3.0), 26.0, 3, 20.0, 30.0),  # a next to 1
        ]
        for params, t, x, t_x, T in cases:
            with self.subTest(params=params, t=t, x=x):
                out = clv.expected_purchases(params, t, [x], [t_x], [T])[0]
                self.assertAlmostEqual(
                    out, integral_expected(params, t, x, t_x, T), delta=1e-6 * out
                )

    def test_new_customer_expectation_matches_simulation(self):
        rng = np.random.default_rng(3)
        n, t = 400_000, 39.0
        lam = rng.gamma(CDNOW.r, 1 / CDNOW.alpha, n)
        p = rng.beta(CDNOW.a, CDNOW.b, n)
        # repeat purchases in (0, t]: Poisson arrivals, stopped by the dropout
        # that follows each purchase with probability p
        purchases = np.minimum(rng.poisson(lam * t), rng.geometric(p))
        expected = clv.expected_purchases_new(CDNOW, t)[0]
        self.assertAlmostEqual(expected, purchases.mean(), delta=4 * purchases.std() / np.sqrt(n))
        np.testing.assert_allclose(
            clv.expected_purchases_new(CDNOW, [39.0, 78.0]),
            clv.expected_purchases(CDNOW, [39.0, 78.0], [0, 0], [0, 0], [0, 0]),
        )

    def test_expected_purchases_grow_with_horizon(self):
        out = clv.expected_purchases(CDNOW, np.array([0.0, 1, 4, 13, 52, 520]), 3, 20, 30)
        self.assertEqual(out[0], 0.0)
        self.assertTrue((np.diff(out) > 0).all())

    def test_large_frequency_stays_finite(self):
        alive = clv.p_alive(CDNOW, [1000, 1000], [1999, 500], [2000, 2000])
        self.assertTrue(np.isfinite(alive).all())
        self.assertGreater(alive[0], 0.99)
        self.assertLess(alive[1], 1e-100)
        out = clv.expected_purchases(CDNOW, 52, [1000, 1000], [1999, 500], [2000, 2000])
        self.assertTrue(np.isfinite(out).all())
        # an alive customer buying 1000 times in 2000 weeks buys ~26 times in 52
        self.assertAlmostEqual(out[0], 1000 / 2000 * 52, delta=2)
        fit = clv.fit_bgnbd([0, 1, 500, 1000], [0, 10, 1500, 1999], [100, 100, 2000, 2000])
        self.assertTrue(np.isfinite([fit.r, fit.alpha, fit.a, fit.b, fit.log_likelihood]).all())

    # (r, alpha, a, b), t, x, t_x, T, E[purchases in t | x, t_x, T] from 30-digit mpmath
    # (mpmath 1.4.1): the surely-alive part E[(1 - (1 + p t/(alpha+T))^-(r+x)) / p] over
    # p ~ Beta(a, b+x) by mpmath.quad (tanh-sinh, split at mean +/- k sd, end pieces
    # substituted p = p1 v^(1/a) and 1-p = q1 w^(1/(b+x))), times the paper's P(alive);
    # every value agrees to 1e-30 with the paper's eq. 10 through mpmath.hyp2f1 at 50 digits.
    DEGENERATE_FITS = [
        # a, b huge: ML fit on small data, dropout probability nearly constant a/(a+b)
        ((6.5345, 42.7583, 620176.69, 3728743.76), 90 / 7, 1, 10.0, 30.0, 0.41722741639527021),
        ((6.5345, 42.7583, 620176.69, 3728743.76), 90 / 7, 6, 50.0, 60.0, 0.87130359791038985),
        ((6.5345, 42.7583, 620176.69, 3728743.76), 90 / 7, 0, 0.0, 20.0, 1.2028110889311858),
        ((6.5345, 42.7583, 620176.69, 3728743.76), 520.0, 40, 100.0, 104.0, 4.3779748736675489),
        ((0.8, 5.0, 1e9, 4e9), 26.0, 3, 20.0, 30.0, 1.0781819376617283),
        ((0.8, 5.0, 1e9, 4e9), 1e4, 0, 0.0, 10.0, 4.9008202624890177),
        # b huge: almost no dropout (the hypergeometric form cancels: was off by 1e-8)
        ((0.5, 4.0, 0.6, 4.85e8), 52.0, 3, 20.0, 30.0, 5.3529411312726017),
        # long horizons with large b or a (the hypergeometric form gave NaN)
        ((0.5, 4.0, 0.3, 5e4), 1e6, 2, 5.0, 10.0, 130687.50213665918),
        ((2.0, 1.0, 40.0, 3e5), 5e3, 10, 30.0, 31.0, 1644.1741488266751),
    ]

    def test_expected_purchases_for_degenerate_fits_match_mpmath(self):
        for params, t, x, t_x, T, expected in self.DEGENERATE_FITS:
            with self.subTest(params=params, t=t, x=x):
                out = clv.expected_purchases(clv.BGNBDParams(*params), t, [x], [t_x], [T])[0]
                self.assertAlmostEqual(out, expected, delta=1e-10 * expected)

    def test_huge_a_b_approach_constant_dropout(self):
        """a, b -> infinity with a/(a+b) = p fixed: every purchase is followed by dropout p."""
        params = clv.BGNBDParams(r=6.5345, alpha=42.7583, a=620176.69, b=3728743.76)
        x, t_x, T = (
            np.array([0.0, 1, 6, 40]),
            np.array([0.0, 10, 50, 100]),
            np.array([20.0, 30, 60, 104]),
        )
        t = np.array([[90 / 7], [52.0]])
        out = clv.expected_purchases(params, t, x, t_x, T)
        self.assertEqual(out.shape, (2, 4))
        p = params.a / (params.a + params.b)
        # alive: lambda ~ Gamma(r+x, alpha+T), E[(1 - exp(-lambda p t)) / p | lambda] integrated
        alive = -np.expm1(-(params.r + x) * np.log1p(p * t / (params.alpha + T))) / p
        limit = alive * clv.p_alive(params, x, t_x, T)
        np.testing.assert_allclose(out, limit, rtol=1e-4)  # spread of p: sd/mean = 1.3e-3

    def test_new_customer_and_clv_with_huge_a_b(self):
        params = clv.BGNBDParams(r=6.5345, alpha=42.7583, a=620176.69, b=3728743.76)
        new = clv.expected_purchases_new(params, [90 / 7, 52.0])
        np.testing.assert_allclose(
            new, clv.expected_purchases(params, [90 / 7, 52.0], [0, 0], [0, 0], [0, 0])
        )
        p = params.a / (params.a + params.b)  # constant-dropout limit, as above
        limit = -np.expm1(-params.r * np.log1p(p * np.array([90 / 7, 52.0]) / params.alpha)) / p
        np.testing.assert_allclose(new, limit, rtol=1e-4)
        gg = clv.GammaGammaParams(p=6.25, q=3.74, v=15.44)
        x, t_x, T, m = [0, 1, 6], [0.0, 10.0, 50.0], [20.0, 30.0, 60.0], [0.0, 20.0, 45.0]
        value = clv.clv(params, gg, x, t_x, T, m, monthly_discount_rate=0.0)
        self.assertTrue((np.isfinite(value) & (value > 0)).all())
        weeks = 12 * clv.DAYS_PER_MONTH / 7
        expected = clv.expected_purchases(params, weeks, x, t_x, T) * clv.expected_average_value(
            gg, x, m
        )
        np.testing.assert_allclose(value, expected, rtol=1e-10)

    def test_evaluation_methods_agree(self):
        """The series, the Euler form and the integral of the surely-alive forecast overlap."""
        t = np.array([0.5, 5.0, 50.0, 500.0])
        x, T = np.array([0.0, 3.0, 30.0, 300.0]), np.array([5.0, 40.0, 60.0, 400.0])
        for r, alpha, a, b in [
            (0.5, 4.0, 150.0, 900.0),
            (2.0, 10.0, 3.0, 5.0),
            (0.3, 2.0, 0.4, 2e4),
            (1.5, 1.0, 40.0, 60.0),
        ]:
            with self.subTest(a=a, b=b):
                reference = clv._quadrature(r, alpha, a, b, t, x, T)
                checked = 0
                with np.errstate(all="ignore"):
                    value, ok = clv._moment_series(r, alpha, a, b, t, x, T)
                    checked += ok.sum()
                    np.testing.assert_allclose(value[ok], reference[ok], rtol=1e-11)
                    value, ok = clv._power_series(r, alpha, a, b, t, x, T)
                    checked += ok.sum()
                    np.testing.assert_allclose(value[ok], reference[ok], rtol=1e-11)
                    value, cond = clv._euler_form(r, alpha, a, b, t, x, T)
                    ok = np.isfinite(value) & (cond <= clv._EULER_MAX_COND)
                    checked += ok.sum()
                    np.testing.assert_allclose(value[ok], reference[ok], rtol=1e-9)
                self.assertGreater(checked, 4)


class TestGammaGamma(unittest.TestCase):
    TRUE = clv.GammaGammaParams(p=6.0, q=4.0, v=15.0)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        rng = np.random.default_rng(0)
        n = 20000
        cls.x = 1 + rng.poisson(2.0, n)
        nu = rng.gamma(cls.TRUE.q, 1 / cls.TRUE.v, n)
        # mean of x Gamma(p, nu) spends is Gamma(p x, x nu)
        cls.m = rng.gamma(cls.TRUE.p * cls.x, 1 / (nu * cls.x))
        cls.fit = clv.fit_gamma_gamma(cls.x, cls.m)

    def test_recovers_simulated_parameters(self):
        fit, true = self.fit, self.TRUE
        self.assertAlmostEqual(fit.p, true.p, delta=0.15 * true.p)
        self.assertAlmostEqual(fit.q, true.q, delta=0.10 * true.q)
        self.assertAlmostEqual(fit.v, true.v, delta=0.15 * true.v)
        mean = lambda g: g.p * g.v / (g.q - 1)  # noqa: E731
        self.assertAlmostEqual(mean(fit), mean(true), delta=0.03 * mean(true))
        self.assertEqual(fit.n, 20000)

    def test_ignores_customers_without_repeat_or_spend(self):
        x = np.concatenate([self.x, [0, 0, 3]])
        m = np.concatenate([self.m, [50.0, 0.0, 0.0]])
        fit = clv.fit_gamma_gamma(x, m)
        self.assertEqual(fit.n, 20000)
        self.assertAlmostEqual(fit.p, self.fit.p, places=6)

    def test_expected_value_shrinks_toward_population_mean(self):
        g = self.TRUE
        population = g.p * g.v / (g.q - 1)  # 30
        out = clv.expected_average_value(g, [0, 1, 5, 50, 3], [100.0, 100.0, 100.0, 100.0, 0.0])
        self.assertAlmostEqual(out[0], population)
        self.assertAlmostEqual(out[4], population)  # no spend recorded
        self.assertTrue(population < out[1] < out[2] < out[3] < 100.0)
        self.assertAlmostEqual(out[1], (g.p * g.v + g.p * 100.0) / (g.p + g.q - 1))

    def test_too_few_customers(self):
        with self.assertRaisesRegex(clv.ModelFitError, "at least 2 customers"):
            clv.fit_gamma_gamma([0, 2, 0], [10.0, 20.0, 0.0])


class TestCLV(unittest.TestCase):
    GG = clv.GammaGammaParams(p=6.25, q=3.74, v=15.44)

    def test_undiscounted_value_is_purchases_times_spend(self):
        x, t_x, T, m = [0, 2, 10], [0, 30.43, 20.0], [38.86, 38.86, 39.0], [0.0, 40.0, 25.0]
        value = clv.clv(
            CDNOW,
            self.GG,
            x,
            t_x,
            T,
            m,
            horizon_months=12,
            monthly_discount_rate=0.0,
            time_unit_days=7.0,
        )
        weeks = 12 * 30.4375 / 7
        expected = clv.expected_purchases(CDNOW, weeks, x, t_x, T) * clv.expected_average_value(
            self.GG, x, m
        )
        np.testing.assert_allclose(value, expected, rtol=1e-10)

    def test_discounting_by_month(self):
        x, t_x, T, m = [4], [30.0], [38.0], [30.0]
        month = 30.4375 / 7
        cumulative = clv.expected_purchases(CDNOW, month * np.arange(4.0), 4, 30.0, 38.0)
        spend = clv.expected_average_value(self.GG, x, m)[0]
        expected = sum(np.diff(cumulative) / 1.05 ** np.arange(1, 4)) * spend
        value = clv.clv(CDNOW, self.GG, x, t_x, T, m, horizon_months=3, monthly_discount_rate=0.05)
        self.assertAlmostEqual(value[0], expected, places=10)

    def test_time_unit_does_not_change_the_value(self):
        """Same customers and model expressed in days instead of weeks."""
        days = clv.BGNBDParams(CDNOW.r, CDNOW.alpha * 7, CDNOW.a, CDNOW.b)
        x, t_x, T, m = np.array([1, 6]), np.array([10.0, 35.0]), np.array([38.0, 36.0]), [20, 45]
        weekly = clv.clv(CDNOW, self.GG, x, t_x, T, m, time_unit_days=7.0)
        daily = clv.clv(days, self.GG, x, t_x * 7, T * 7, m, time_unit_days=1.0)
        np.testing.assert_allclose(weekly, daily, rtol=1e-9)
        self.assertGreater(weekly[1], weekly[0])  # frequent, recent, bigger spender

    def test_accepts_pandas_and_returns_numpy(self):
        x, t_x, T = load_cdnow()
        m = pd.Series(np.where(x > 0, 30.0, 0.0))
        value = clv.clv(CDNOW, self.GG, x, t_x, T, m)
        self.assertIsInstance(value, np.ndarray)
        self.assertEqual(value.shape, (2357,))
        self.assertTrue((np.isfinite(value) & (value >= 0)).all())


class TestInvalidInput(unittest.TestCase):
    def assert_fit_error(self, pattern, *args, **kwargs):
        with self.assertRaisesRegex(clv.ModelFitError, pattern):
            clv.fit_bgnbd(*args, **kwargs)

    def test_invalid_inputs_are_named(self):
        self.assert_fit_error("frequency contains negative", [1, -1], [1, 0], [2, 2])
        self.assert_fit_error("recency contains negative", [1, 1], [1, -1], [2, 2])
        self.assert_fit_error("recency is greater than T", [1, 1], [3, 1], [2, 2])
        self.assert_fit_error("length mismatch", [1, 1], [1], [2, 2])
        self.assert_fit_error("no customers", [], [], [])
        self.assert_fit_error("T contains NaN", [1, 1], [1, 1], [2, np.nan])
        self.assert_fit_error("whole numbers", [1.5, 1], [1, 1], [2, 2])
        self.assert_fit_error("no customer with a repeat purchase", [0, 0], [0, 0], [5, 6])
        self.assert_fit_error("weights", [1, 1], [1, 1], [2, 2], weights=[1])
        self.assert_fit_error("initial", [1, 1], [1, 1], [2, 2], initial=(1, 1, -1, 1))
        self.assertTrue(issubclass(clv.ModelFitError, ValueError))

    def test_predictions_validate_too(self):
        with self.assertRaisesRegex(ValueError, "recency is greater than T"):
            clv.p_alive(CDNOW, [1], [5], [4])
        with self.assertRaisesRegex(ValueError, "mean spend is undefined"):
            clv.expected_average_value(clv.GammaGammaParams(1.0, 0.9, 1.0), [1], [10])


class TestSummaryFromTransactions(unittest.TestCase):
    def test_builds_rfm_summary(self):
        ids = ["a", "a", "a", "a", "b", "c", "c", "a"]
        dates = [
            "2024-01-01 09:00",
            "2024-01-01 17:30",
            "2024-01-11",
            "2024-01-21",
            "2024-01-15",
            "2024-01-05",
            "2024-01-06",
            "2024-03-01",
        ]  # last one after the end
        amounts = [10.0, 5.0, 20.0, 40.0, 99.0, 1.0, 3.0, 1000.0]
        out = clv.summary_from_transactions(
            pd.Series(ids), dates, amounts, pd.Timestamp("2024-01-31")
        )
        self.assertEqual(list(out.columns), ["frequency", "recency", "T", "monetary_value"])
        self.assertEqual(out.loc["a"].tolist(), [2.0, 20.0, 30.0, 30.0])  # same-day merged
        self.assertEqual(out.loc["b"].tolist(), [0.0, 0.0, 16.0, 0.0])
        self.assertEqual(out.loc["c"].tolist(), [1.0, 1.0, 26.0, 3.0])
        weekly = clv.summary_from_transactions(
            ids, pd.to_datetime(dates, format="ISO8601"), amounts, "2024-01-31", time_unit_days=7.0
        )
        np.testing.assert_allclose(weekly["T"], out["T"] / 7)
        np.testing.assert_allclose(weekly["monetary_value"], out["monetary_value"])

    def test_feeds_the_models(self):
        rng = np.random.default_rng(5)
        n = 3000
        ids = rng.integers(0, 400, n)
        dates = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365, n), unit="D")
        summary = clv.summary_from_transactions(
            ids, dates, rng.gamma(3, 10, n), "2024-12-31", time_unit_days=7
        )
        fit = clv.fit_bgnbd(summary["frequency"], summary["recency"], summary["T"])
        self.assertTrue(
            np.isfinite(
                clv.p_alive(fit, summary["frequency"], summary["recency"], summary["T"])
            ).all()
        )
        gg = clv.fit_gamma_gamma(summary["frequency"], summary["monetary_value"])
        self.assertGreater(gg.q, 1)


if __name__ == "__main__":
    unittest.main()
