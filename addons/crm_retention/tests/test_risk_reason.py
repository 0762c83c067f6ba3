"""Why a customer is at risk, by when to act and how much is at stake.

The library part (``lib.lifecycle``, ``lib.clv``) is checked against
independent computations: the value of a customer kept alive against the
paper's eq. 10 integrated over the dropout probability, the "act before"
crossing against a day-by-day scan. The ORM part is read as the salesperson
who acts on it.
"""

import datetime as dt
import unittest
from datetime import timedelta

import numpy as np
import pandas as pd

from odoo.tests import tagged

from ..lib import clv, lifecycle, rebuild
from .common import TODAY, RetentionCase
from .test_clv import CDNOW, integral_expected, naive_p_alive


class TestRiskLib(unittest.TestCase):
    def test_value_if_retained_is_the_expectation_of_a_customer_known_alive(self):
        rng = np.random.default_rng(3)
        for _ in range(20):
            x = int(rng.integers(1, 15))
            T = float(rng.uniform(10, 80))
            t_x = float(rng.uniform(0.1, T))
            t = float(rng.uniform(1, 60))
            kept = clv.expected_purchases(CDNOW, t, x, t_x, T, given_alive=True)[0]
            # eq. 10 is P(alive) x E[Y(t) | alive]: the integral, divided back
            expected = integral_expected(CDNOW, t, x, t_x, T) / naive_p_alive(CDNOW, x, t_x, T)
            self.assertAlmostEqual(kept, expected, delta=1e-6 * max(1.0, expected))

    def test_act_before_is_the_first_day_the_churn_threshold_is_reached(self):
        rng = np.random.default_rng(5)
        deal_days = rng.integers(1, 12, 40)
        span = rng.integers(0, 600, 40) * (deal_days > 1)
        gaps = lifecycle.first_gap_reaching(CDNOW, deal_days, span, 0.5)
        for days, sp, gap in zip(deal_days, span, gaps, strict=True):
            # a plain scan, one day after the other
            churn = lifecycle.churn_after_gap(CDNOW, days, sp, np.arange(0, 3000))
            reached = np.flatnonzero(churn >= 0.5)
            if days == 1:
                # BG/NBD: a customer who never bought twice is never "gone"
                self.assertTrue(np.isnan(gap))
            elif reached.size:
                self.assertEqual(gap, reached[0], (days, sp))

    def _frame(self, rows):
        return pd.DataFrame(
            rows,
            columns=["partner_id", *lifecycle.AGGREGATE_COLUMNS],
        )

    def test_reason_codes_and_dates_without_a_model(self):
        today = dt.date(2026, 6, 30)
        d = lambda days: today - timedelta(days=days)  # noqa: E731
        frame = self._frame(
            [
                (1, 2, 0, 0, None, None, None, 0.0),  # prospect
                (2, 3, 3, 3, d(70), d(10), d(40), 300.0),  # every 30 days, on time
                (3, 3, 3, 3, d(110), d(50), d(80), 300.0),  # 50 days: 1.67x late
                (4, 3, 3, 3, d(1000), d(800), d(900), 300.0),  # silent 800 > 730
                (5, 1, 1, 1, d(100), d(100), None, 50.0),  # bought once, 100 days ago
                (6, 1, 0, 0, None, None, None, -80.0),  # refunds only: no purchase
            ]
        )
        out = lifecycle.compute_metrics(
            frame, today=today, params=None, typical_interval_days=60, settings=lifecycle.DEFAULTS
        ).set_index("partner_id")
        self.assertEqual(
            out["risk_reason_code"].to_dict(),
            {1: "none", 2: "on_track", 3: "overdue", 4: "silent", 5: "overdue", 6: "none"},
        )
        # 1.5 x the 30-day rhythm after the last deal; 1.5 x the company's
        # typical 60 days for the one-time buyer; none for a prospect
        act = out["act_before_date"]
        self.assertTrue(pd.isna(act[1]))
        self.assertTrue(pd.isna(act[6]))
        self.assertEqual(act[2].date(), d(10) + timedelta(days=45))
        self.assertEqual(act[3].date(), d(50) + timedelta(days=45))
        self.assertEqual(act[5].date(), d(100) + timedelta(days=90))
        # no model: nothing is "at risk" in money
        self.assertEqual(out["value_at_risk"].abs().sum(), 0)

    def test_value_at_risk_is_churn_times_value_if_retained(self):
        today = dt.date(2026, 6, 30)
        rng = np.random.default_rng(11)
        rows = []
        for pid in range(1, 60):
            days = int(rng.integers(1, 8))
            last = int(rng.integers(0, 400))
            span = int(rng.integers(0, 500)) if days > 1 else 0
            rows.append(
                (
                    pid,
                    days,
                    days,
                    days,
                    today - timedelta(days=last + span),
                    today - timedelta(days=last),
                    None,
                    float(rng.integers(100, 5000)) * days,
                )
            )
        params = {"bgnbd": CDNOW, "gg": clv.GammaGammaParams(6.25, 3.74, 15.44)}
        out = lifecycle.compute_metrics(
            self._frame(rows),
            today=today,
            params=params,
            typical_interval_days=60,
            settings=lifecycle.DEFAULTS,
        )
        gap = (out["value_at_risk"] - out["churn_probability"] * out["value_if_retained"]).abs()
        self.assertTrue((gap <= 5e-5 * out["value_if_retained"] + 0.02).all())
        # the CLV is the value if retained discounted by P(alive) (stored
        # to 4 decimals: the rounding's share of the value, and a cent)
        gap = (out["predicted_clv"] - out["p_alive"] * out["value_if_retained"]).abs()
        self.assertTrue((gap <= 5e-5 * out["value_if_retained"] + 0.02).all())
        # buying again today never lowers a repeat buyer's chance to be
        # active (BG/NBD holds one-time buyers surely active: no what-if)
        repeat = out["deal_days"] > 1
        self.assertTrue(repeat.any() and (~repeat).any(), "the draw has both kinds")
        self.assertTrue((out.loc[repeat, "p_alive_if_deal"] >= out.loc[repeat, "p_alive"]).all())
        self.assertTrue((out.loc[~repeat, "p_alive_if_deal"] == 1).all())
        late = out["risk_level"] != "low"
        self.assertTrue(late.any() and (~late).any(), "the draw has both kinds")
        # customers already at risk turned at risk in the past, the others
        # have until a day to come
        self.assertTrue((out.loc[late, "act_before_date"] <= pd.Timestamp(today)).all())
        self.assertTrue((out.loc[~late, "act_before_date"] > pd.Timestamp(today)).all())

    def test_a_customer_who_just_bought_again_is_not_at_risk(self):
        """In BG/NBD a customer may drop out right after any purchase: with a
        fit where a is large next to b, P(alive) on the day of a second
        purchase is 1 / (1 + a / b), here 1/7. The model's churn counts only
        once the customer is due (its rhythm, 30 days, has passed)."""
        params = {"bgnbd": clv.BGNBDParams(r=0.25, alpha=4.0, a=3.0, b=0.5), "gg": None}
        bought = dt.date(2026, 6, 30)
        frame = self._frame([(1, 2, 2, 2, bought - timedelta(days=30), bought, None, 200.0)])

        def on(day):
            return lifecycle.compute_metrics(
                frame,
                today=day,
                params=params,
                typical_interval_days=60,
                settings=lifecycle.DEFAULTS,
            ).iloc[0]

        today = on(bought)
        self.assertAlmostEqual(today["p_alive"], 1 / 7, places=4)
        self.assertGreaterEqual(today["churn_probability"], lifecycle.DEFAULTS["lost_probability"])
        self.assertEqual((today["risk_level"], today["risk_reason_code"]), ("low", "on_track"))
        # the day it is due is the day to act by
        due = bought + timedelta(days=30)
        self.assertEqual(today["act_before_date"].date(), due)
        self.assertEqual(on(due - timedelta(days=1))["risk_level"], "low")
        self.assertEqual(tuple(on(due)[["risk_level", "risk_reason_code"]]), ("high", "model"))

    def test_rebuilt_points_catch_every_change_of_risk(self):
        """The history rebuild evaluates a customer only on its *points*:
        between two of them its risk level must not move. Checked against a
        day-by-day scan, with a fit where the churn probability is high from
        the day of a purchase (the due day decides) and with CDNOW's."""
        rng = np.random.default_rng(17)
        settings = dict(lifecycle.DEFAULTS)
        for bgnbd in (clv.BGNBDParams(r=0.25, alpha=4.0, a=3.0, b=0.5), CDNOW):
            params = {"bgnbd": bgnbd, "gg": None}
            rows = []
            for pid in range(1, 13):
                day = 0
                for _ in range(int(rng.integers(1, 6))):
                    day += int(rng.integers(1, 120))
                    rows.append((pid, day, 1, 100.0))
            deals = pd.DataFrame(rows, columns=["partner_id", "day", "n", "amount"])
            customers = pd.DataFrame(
                {"partner_id": range(1, 13), "opportunity_count": 1, "seen_day": np.nan}
            )
            today = 900
            pts = rebuild.points(
                deals, customers, today=today, interval=45.0, params=params, settings=settings
            )
            at_points = rebuild.metrics(pts, interval=45.0, params=params, settings=settings)
            for pid in range(1, 13):
                mine = pts["partner_id"].to_numpy() == pid
                point_days = pts["day"].to_numpy()[mine]
                levels = at_points["risk_level"].to_numpy()[mine]
                own = deals[deals["partner_id"] == pid]
                days = np.arange(int(own["day"].min()), today + 1)
                # the customer's aggregates on each day, the plain way
                scan = pd.DataFrame(
                    [
                        (
                            pid,
                            int((own["day"] <= d).sum()),
                            int((own["day"] <= d).sum()),
                            int((own["day"] <= d).sum()),
                            np.datetime64(int(own["day"].min()), "D"),
                            np.datetime64(int(own["day"][own["day"] <= d].max()), "D"),
                            None,
                            100.0,
                        )
                        for d in days
                    ],
                    columns=["partner_id", *lifecycle.AGGREGATE_COLUMNS],
                )
                daily = lifecycle.compute_metrics(
                    scan,
                    today=days.astype("datetime64[D]"),
                    params=params,
                    typical_interval_days=45.0,
                    settings=settings,
                )["risk_level"].to_numpy()
                latest = np.searchsorted(point_days, days, side="right") - 1
                self.assertTrue((latest >= 0).all())
                wrong = np.flatnonzero(levels[latest] != daily)
                self.assertFalse(
                    wrong.size, f"customer {pid}: day {days[wrong[:1]]} not at a point"
                )


@tagged("post_install", "-at_install")
class TestRiskReason(RetentionCase):
    """The salesperson's view: the list of customers at risk, the reason,
    the date to act by and the money at stake."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # repeat buyers of every rhythm, enough to fit the churn model
        cls._regulars()
        # two customers of the same rhythm, equally late: one buys for 20,
        # the other for 50,000
        cls.small = cls._customer("Small Spender")
        cls.big = cls._customer("Big Spender")
        for days_ago in (400, 370, 340, 310, 280, 250, 220, 190):
            cls._deal(cls.small, days_ago, amount=20.0)
            cls._deal(cls.big, days_ago, amount=50000.0)
        cls.prospect = cls._customer("Only a Prospect")
        cls._deal(cls.prospect, 10, won=False)

    def test_the_at_risk_list_puts_the_most_money_first_and_says_why(self):
        self._recompute()
        model = (
            self.env["crm.retention.model"].sudo().search([("company_id", "=", self.company.id)])
        )
        self.assertEqual(model.status, "ok", model.message)
        at_risk = self.Profile.with_user(self.salesman).search(
            [("stage_kind", "in", ("at_risk", "lost")), ("company_id", "=", self.company.id)]
        )
        small, big = self._profile(self.small), self._profile(self.big)
        self.assertIn(small, at_risk)
        self.assertIn(big, at_risk)
        # equally likely to have left ...
        self.assertEqual(small.churn_probability, big.churn_probability)
        self.assertGreater(small.churn_probability, 0.5)
        # ... but the one worth 50,000 a deal is far more at stake (the
        # spend model shrinks both toward the company's typical spend), and
        # first in the list
        self.assertGreater(big.value_at_risk, 20 * small.value_at_risk)
        self.assertLess(list(at_risk).index(big), list(at_risk).index(small))
        self.assertEqual(at_risk[0].value_at_risk, max(at_risk.mapped("value_at_risk")))
        # value if kept: what the CLV would be without the churn discount
        self.assertGreater(big.value_if_retained, big.predicted_clv)
        # (the churn probability is stored to 4 decimals)
        self.assertAlmostEqual(
            big.value_at_risk,
            big.churn_probability * big.value_if_retained,
            delta=1e-4 * big.value_if_retained,
        )

        # why: 30 days between deals, 190 days without one
        big = big.with_user(self.salesman)
        self.assertEqual(
            big.risk_reason_code, "silent" if big.days_since_last_deal >= 730 else "overdue"
        )
        self.assertIn("Buys every 30 days", big.risk_reason)
        self.assertIn("190 days since the last deal", big.risk_reason)
        self.assertIn("(6.3× the usual gap)", big.risk_reason)
        self.assertIn("chance still active", big.risk_reason)
        # by when: 1.5 x 30 days after the last deal, long gone
        last = TODAY - timedelta(days=190)
        self.assertEqual(big.act_before_date, last + timedelta(days=45))
        self.assertIn("At risk since", big.risk_reason)
        # one more deal today would bring it back
        self.assertGreater(big.p_alive_if_deal, big.p_alive + 0.3)
        self.assertIn("One more deal now", big.risk_reason)
        # the partner's form says the same
        partner = self.big.with_user(self.salesman)
        self.assertEqual(partner.retention_risk_reason, big.risk_reason)
        self.assertEqual(partner.retention_value_at_risk, big.value_at_risk)

    def test_customers_on_track_get_a_date_to_act_by_and_prospects_no_reason(self):
        self._recompute()
        profiles = self.Profile.with_user(self.salesman).search(
            [("company_id", "=", self.company.id), ("risk_reason_code", "=", "on_track")]
        )
        self.assertTrue(profiles, "the fixture has customers on track")
        for profile in profiles:
            self.assertGreater(profile.act_before_date, TODAY, profile.partner_id.name)
            self.assertIn("Act before", profile.risk_reason)
        prospect = self._profile(self.prospect).with_user(self.salesman)
        self.assertEqual(prospect.risk_reason_code, "none")
        self.assertEqual(prospect.risk_reason, "No purchase yet.")
        self.assertFalse(prospect.act_before_date)
        self.assertEqual(prospect.value_at_risk, 0)
