"""How long a customer stays (lib/survival.py, ``lib.lifecycle.outlook``)
and the two figures the profile shows from it.

The library is checked against a simulation of the BG/NBD story that uses
none of its algebra: draw each customer's purchase rate and dropout
probability, then let it buy, one purchase after the other, tossing the
dropout coin after each. The profile is read as the salesperson who acts on
it, against the library and against P(alive) evaluated day by day.
"""

import unittest
from datetime import timedelta

import numpy as np

from odoo.tests import tagged

from ..lib import clv, lifecycle, survival
from .common import TODAY, RetentionCase
from .test_clv import CDNOW

HORIZON_WEEKS = lifecycle.ACTIVE_HORIZON_DAYS / lifecycle.TIME_UNIT_DAYS


def simulate(params, x, t_x, T, horizon, checkpoints, runs, rng):
    """Monte-Carlo (weeks): P(alive) at each checkpoint and the mean time
    alive within ``horizon`` of ``runs`` customers with history (x, t_x, T).

    Alive now with the model's P(alive); then, given alive, lambda ~
    Gamma(r+x, alpha+T) and p ~ Beta(a, b+x) (the posterior of a customer
    still alive). Purchases come one at a time, an exponential wait of rate
    lambda apart; after each, the customer leaves with probability p.
    """
    alive = rng.random(runs) < clv.p_alive(params, x, t_x, T)[0]
    lam = rng.gamma(params.r + x, 1 / (params.alpha + T), runs)
    p = rng.beta(params.a, params.b + x, runs)
    death = np.where(alive, np.inf, 0.0)
    clock = np.zeros(runs)
    going = np.flatnonzero(alive)
    while going.size:
        clock[going] += rng.exponential(1 / lam[going])
        left = rng.random(going.size) < p[going]
        death[going[left]] = clock[going[left]]
        # past the horizon nothing more is measured
        going = going[~left & (clock[going] < horizon)]
    return [(death > t).mean() for t in checkpoints], np.minimum(death, horizon).mean()


class TestSurvivalLib(unittest.TestCase):
    def test_matches_a_simulation_of_purchases_and_dropouts(self):
        """Within 1.5 % (the simulation's own error is ~0.3 %), on the CDNOW
        parameters and on a slow-buying, loyal base (a > 1, b >> a)."""
        rng = np.random.default_rng(18)
        slow = clv.BGNBDParams(r=1.2, alpha=20.0, a=2.5, b=12.0)
        cases = [
            (CDNOW, 2, 30.0, 39.0),  # bought 3 times, quiet for 9 weeks
            (CDNOW, 0, 0.0, 20.0),  # bought once, 20 weeks ago
            (CDNOW, 7, 35.0, 38.0),  # a regular
            (slow, 4, 60.0, 100.0),
        ]
        for params, x, t_x, T in cases:
            checkpoints = [13.0, 52.0, 260.0]
            sim_s, sim_mean = simulate(params, x, t_x, T, HORIZON_WEEKS, checkpoints, 200_000, rng)
            s = survival.survival(params, np.array(checkpoints), x, t_x, T)
            mean = survival.restricted_mean(params, HORIZON_WEEKS, x, t_x, T)[0]
            label = (params, x, t_x, T)
            self.assertAlmostEqual(mean, sim_mean, delta=0.015 * sim_mean, msg=label)
            for mine, simulated in zip(s, sim_s, strict=True):
                self.assertAlmostEqual(mine, simulated, delta=0.015 * simulated, msg=label)
            # never longer than the horizon, never longer than if surely alive
            self.assertLess(mean, HORIZON_WEEKS * clv.p_alive(params, x, t_x, T)[0])

    def test_survival_is_p_alive_now_and_its_integral_the_restricted_mean(self):
        x = np.array([0.0, 2.0, 7.0, 20.0])
        t_x = np.array([0.0, 30.0, 35.0, 70.0])
        T = np.array([20.0, 39.0, 38.0, 75.0])
        np.testing.assert_allclose(
            survival.survival(CDNOW, 0.0, x, t_x, T), clv.p_alive(CDNOW, x, t_x, T), rtol=1e-12
        )
        # the closed-form time integral against the trapezoidal rule over S(t)
        grid = np.linspace(0.0, 520.0, 4001)
        for i in range(len(x)):
            s = survival.survival(CDNOW, grid, x[i], t_x[i], T[i])
            by_trapezoid = float(np.sum((s[1:] + s[:-1]) / 2 * np.diff(grid)))
            mean = survival.restricted_mean(CDNOW, 520.0, x[i], t_x[i], T[i])[0]
            self.assertAlmostEqual(mean, by_trapezoid, delta=1e-5 * mean)
            self.assertTrue((np.diff(s) < 0).all(), "survival only falls")

    def test_bad_horizons_are_refused(self):
        with self.assertRaises(ValueError):
            survival.restricted_mean(CDNOW, 0.0, 2, 30.0, 39.0)
        with self.assertRaises(ValueError):
            survival.survival(CDNOW, -1.0, 2, 30.0, 39.0)


@tagged("post_install", "-at_install")
class TestProfileOutlook(RetentionCase):
    """The salesperson reads, on a customer's profile, the day its chance of
    still being a customer falls below one in two, and how long it is
    expected to stay."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # repeat buyers of every rhythm, enough to fit the churn model
        cls._regulars(amount=1000.0)
        # every two months for 8 months, the last deal 20 days ago
        cls.steady = cls._customer("Steady Buyer")
        for days_ago in (260, 200, 140, 80, 20):
            cls._deal(cls.steady, days_ago)
        # bought every 20 days, then nothing for 500 days
        cls.gone = cls._customer("Long Gone")
        for days_ago in (560, 540, 520, 500):
            cls._deal(cls.gone, days_ago)
        cls.once = cls._customer("Bought Once")
        cls._deal(cls.once, 100)
        cls.prospect = cls._customer("Only a Prospect")
        cls._deal(cls.prospect, 10, won=False)

    def setUp(self):
        super().setUp()
        self._recompute()
        self.model = (
            self.env["crm.retention.model"].sudo().search([("company_id", "=", self.company.id)])
        )
        self.assertEqual(self.model.status, "ok", self.model.message)
        self.params = self.model._get_params()["bgnbd"]

    def _read(self, partner):
        return self._profile(partner).with_user(self.salesman)

    def test_half_date_is_where_p_alive_crosses_one_in_two(self):
        steady = self._read(self.steady)
        # 5 purchase days over 240 days: x = 4 repeat purchases, t_x = 240 days
        last = TODAY - timedelta(days=20)
        self.assertEqual(steady.last_deal_date, last)
        self.assertGreater(steady.p_alive, 0.5)
        half = steady.p_alive_half_date
        self.assertTrue(half)
        self.assertGreater(half, TODAY)
        gap = (half - last).days

        def alive_after(days):
            return clv.p_alive(self.params, 4, 240 / 7, (240 + days) / 7)[0]

        self.assertLessEqual(alive_after(gap), 0.5)
        self.assertGreater(alive_after(gap - 1), 0.5)
        # a customer already below one in two, a one-time buyer (BG/NBD
        # holds it alive until it buys again) and a prospect have none
        gone = self._read(self.gone)
        self.assertLess(gone.p_alive, 0.5)
        self.assertFalse(gone.p_alive_half_date)
        self.assertEqual(self._read(self.once).p_alive, 1.0)
        self.assertFalse(self._read(self.once).p_alive_half_date)
        self.assertFalse(self._read(self.prospect).p_alive_half_date)

    def test_expected_active_time_is_the_model_s_over_ten_years(self):
        steady, gone, once = (self._read(p) for p in (self.steady, self.gone, self.once))
        # the library on the customer's history, in weeks: x = 4, t_x = 240
        # days, T = 260 days
        weeks = survival.restricted_mean(self.params, HORIZON_WEEKS, 4, 240 / 7, 260 / 7)[0]
        # (whole days)
        self.assertAlmostEqual(steady.expected_active_days, 7 * weeks, delta=0.5)
        # its curve starts at the P(alive) the profile shows (stored to 4 decimals)
        start = survival.survival(self.params, 0.0, 4, 240 / 7, 260 / 7)[0]
        self.assertAlmostEqual(steady.p_alive, start, places=4)
        # within the 10 years and below P(alive) x 10 years; the customer
        # silent for 500 days is expected to stay far less than the steady one
        self.assertLess(steady.expected_active_days, steady.p_alive * 3652.5)
        self.assertLess(gone.expected_active_days, steady.expected_active_days / 2)
        self.assertGreater(gone.expected_active_days, 0)
        weeks_once = survival.restricted_mean(self.params, HORIZON_WEEKS, 0, 0, 100 / 7)[0]
        self.assertAlmostEqual(once.expected_active_days, 7 * weeks_once, delta=0.5)
        self.assertEqual(self._read(self.prospect).expected_active_days, 0)

    def test_nothing_without_a_fitted_model(self):
        self.model.write({"r": 0.0})
        steady = self._read(self.steady)
        steady.invalidate_recordset(["p_alive_half_date", "expected_active_days"])
        self.assertFalse(steady.p_alive_half_date)
        self.assertEqual(steady.expected_active_days, 0)

    def test_read_in_one_pass_over_the_customers(self):
        """The figures of a whole list cost the queries of one customer."""
        profiles = self.Profile.with_user(self.salesman).search(
            [("company_id", "=", self.company.id)]
        )
        self.assertGreater(len(profiles), 30)

        def queries(records):
            records.invalidate_recordset()
            before = self.env.cr.sql_log_count
            records.mapped("expected_active_days")
            return self.env.cr.sql_log_count - before

        self.assertEqual(queries(profiles), queries(profiles[:1]))
        self.assertTrue(all(profiles.filtered("deal_days").mapped("expected_active_days")))

    def test_the_form_shows_both(self):
        arch = self.Profile.with_user(self.salesman).get_views([(False, "form")])["views"]["form"][
            "arch"
        ]
        self.assertIn('name="p_alive_half_date"', arch)
        self.assertIn('name="expected_active_days"', arch)
