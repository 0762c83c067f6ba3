"""Backtests of the churn model (crm.retention.model._backtest), on the
public CDNOW transaction log: the calibration / holdout table must match
what the lifetimes package computes on the same split, nothing after the
calibration end may reach the fit, and the manager applies the suggested
threshold in one click.

Expected figures: lifetimes 0.11.3 (``calibration_and_holdout_data`` with
``freq="D"``, calibration end 1997-09-30, observation end 1998-06-30,
recency and T divided by 7; ``BetaGeoFitter(penalizer_coef=0)``;
``conditional_expected_number_of_purchases_up_to_time(39)``), run once in a
throwaway environment; its fit is the published r = 0.2426, alpha = 4.4136,
a = 0.7929, b = 2.4259.
"""

import os
from datetime import date, datetime

import pandas as pd

from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged

from ..lib import clv
from .common import RetentionCase, extra_deals

DATA = os.path.join(os.path.dirname(__file__), "data", "cdnow_sample_transactions.txt")
CUT = date(1997, 9, 30)
END = date(1998, 6, 30)
# per number of repeat purchases in the calibration period (0..6, 7+):
# (customers, mean predicted, mean actual holdout purchases), lifetimes
LIFETIMES = [
    (1411, 0.225087, 0.236712),
    (439, 0.523131, 0.697039),
    (214, 1.044134, 1.392523),
    (100, 1.520280, 1.560000),
    (62, 2.163866, 2.532258),
    (38, 2.653846, 2.947368),
    (29, 3.504042, 3.862069),
    (64, 6.157191, 6.359375),
]
LIFETIMES_PREDICTED_TOTAL = 1653.408724
ACTUAL_TOTAL = 1882


def load_transactions():
    rows = [line.split() for line in open(DATA, encoding="ascii")]
    return pd.DataFrame(
        {
            "customer": [int(r[0]) for r in rows],
            "day": pd.to_datetime([r[2] for r in rows]).date,
            "amount": [float(r[4]) for r in rows],
        }
    )


@tagged("post_install", "-at_install")
class TestBacktestCdnow(RetentionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.transactions = load_transactions()
        ids = sorted(cls.transactions["customer"].unique())
        partners = cls.env["res.partner"].create(
            [{"name": f"CDNOW {i:05d}", "company_id": cls.company.id} for i in ids]
        )
        cls.partner_of = dict(zip(ids, partners, strict=False))
        currency = cls.company.currency_id
        cls.deals = [
            (cls.partner_of[c], cls.company, day, amount, currency)
            for c, day, amount in cls.transactions.itertuples(index=False)
        ]
        # the lifetimes fit it is compared with is unpenalised
        cls.company.retention_fit_penalizer = 0.0
        cls.model = cls.env["crm.retention.model"].sudo()._get_for_company(cls.company)

    def _backtest(self, deals=None, user=None):
        with extra_deals(self.env, deals or self.deals):
            return self.model.with_user(user or self.manager)._backtest(CUT, END)

    def test_calibration_holdout_table_matches_lifetimes(self):
        """The manager's calibration / holdout table on CDNOW: per number of
        repeat purchases before the cut, the purchases the model expected
        in the 39 weeks after it against those that happened, within 1 %
        of lifetimes (the fit is the paper's)."""
        test = self._backtest()
        self.assertEqual(test.n_customers, 2357)
        self.assertAlmostEqual(test.r, 0.2426, places=3)
        self.assertAlmostEqual(test.alpha, 4.4136, places=2)
        self.assertAlmostEqual(test.a, 0.7929, places=3)
        self.assertAlmostEqual(test.b, 2.4259, places=2)
        rows = test.frequency_line_ids.sorted("sequence")
        self.assertEqual(rows.mapped("label"), ["0", "1", "2", "3", "4", "5", "6", "7+"])
        for row, (customers, predicted, actual) in zip(rows, LIFETIMES, strict=False):
            self.assertEqual(row.customers, customers, row.label)
            self.assertAlmostEqual(row.predicted / predicted, 1.0, delta=0.01, msg=row.label)
            self.assertAlmostEqual(row.actual, actual, places=5, msg=row.label)
        self.assertAlmostEqual(test.predicted_total / LIFETIMES_PREDICTED_TOTAL, 1.0, delta=0.01)
        self.assertEqual(test.actual_total, ACTUAL_TOTAL)
        # the model under-predicts this holdout by 12 % (as in the paper)
        self.assertAlmostEqual(test.error_pct, -12.1, delta=0.2)
        self.assertIn("1882 happened", test.summary)

    def test_reliability_and_brier(self):
        """The reliability table splits the customers in ten P(alive)
        groups whose buyers add up to those of the holdout, and the model's
        chance to buy scores better than one share for everyone."""
        test = self._backtest()
        deciles = test.decile_line_ids
        self.assertEqual(len(deciles), 10)
        self.assertEqual(sum(deciles.mapped("customers")), 2357)
        buyers = sum(d.actual * d.customers for d in deciles)
        holdout = self.transactions[
            (self.transactions["day"] > CUT) & (self.transactions["day"] <= END)
        ]
        self.assertAlmostEqual(buyers, holdout["customer"].nunique(), places=6)
        self.assertAlmostEqual(test.bought_share, 100 * 684 / 2357, places=1)
        self.assertLess(test.brier_score, test.brier_baseline)
        # the lowest P(alive) decile buys less than the highest repeat-buyer ones
        ordered = deciles.sorted("sequence")
        self.assertLess(ordered[0].p_alive, ordered[-1].p_alive)

    def test_nothing_after_the_cut_reaches_the_fit(self):
        """A deal dated after the calibration end changes what happened in
        the holdout, never the model fitted on the calibration period."""
        before = self._backtest()
        quiet = next(p for c, p in self.partner_of.items() if c == 4)  # bought 1997-12-12 too
        late = self.deals + [
            (quiet, self.company, date(1998, 3, 3), 99.0, self.company.currency_id)
        ]
        after = self._backtest(late)
        for name in ("r", "alpha", "a", "b", "log_likelihood", "n_customers", "predicted_total"):
            self.assertEqual(after[name], before[name], name)
        self.assertEqual(after.actual_total, before.actual_total + 1)
        # a new customer whose first purchase is after the cut is not predicted
        newcomer = self.env["res.partner"].create({"name": "Newcomer"})
        later = self.deals + [
            (newcomer, self.company, date(1998, 1, 5), 10.0, self.company.currency_id)
        ]
        self.assertEqual(self._backtest(later).n_customers, 2357)

    def test_stage_rules_against_what_customers_did(self):
        """The stages at the calibration end (from the history) against
        the holdout: precision and recall of At risk and Lost."""
        holdout = self.transactions[
            (self.transactions["day"] > CUT) & (self.transactions["day"] <= END)
        ]
        came_back = set(holdout["customer"])
        cdnow = sorted(self.partner_of)
        buyers = [c for c in cdnow if c in came_back][:2]
        quiet = [c for c in cdnow if c not in came_back][:3]
        # at the cut: one buyer and two quiet customers At risk, one quiet Lost;
        # the other buyer was Lost, then Active again before the cut
        plan = [
            (buyers[0], [("at_risk", datetime(1997, 9, 1))]),
            (quiet[0], [("at_risk", datetime(1997, 8, 1))]),
            (quiet[1], [("at_risk", datetime(1997, 6, 1))]),
            (quiet[2], [("lost", datetime(1997, 9, 30, 18))]),
            (buyers[1], [("lost", datetime(1997, 5, 1)), ("active", datetime(1997, 9, 2))]),
        ]
        History = self.env["crm.lifecycle.history"].sudo()
        for customer, moves in plan:
            partner = self.partner_of[customer]
            profile = self.Profile.sudo().create(
                {"partner_id": partner.id, "company_id": self.company.id}
            )
            for kind, when in moves:
                History.create(
                    {
                        "profile_id": profile.id,
                        "partner_id": partner.id,
                        "company_id": self.company.id,
                        "stage_id": self.stage[kind].id,
                        "date": when,
                    }
                )
            # a move after the cut is not the stage of the cut
            History.create(
                {
                    "profile_id": profile.id,
                    "partner_id": partner.id,
                    "company_id": self.company.id,
                    "stage_id": self.stage["won_back"].id,
                    "date": datetime(1997, 10, 1),
                }
            )
        test = self._backtest()
        rows = {line.label: line for line in test.stage_line_ids}
        lapsed_total = 2357 - len(came_back & set(cdnow))
        at_risk, lost, lapse = rows["At risk"], rows["Lost"], rows["At risk or Lost"]
        self.assertEqual((at_risk.customers, at_risk.bought, at_risk.lapsed), (3, 1, 2))
        self.assertAlmostEqual(at_risk.precision, 100 * 2 / 3, places=6)
        self.assertAlmostEqual(at_risk.recall, 100 * 2 / lapsed_total, places=6)
        self.assertEqual((lost.customers, lost.lapsed), (1, 1))
        self.assertEqual(rows["Active"].customers, 1)
        self.assertEqual((lapse.customers, lapse.lapsed), (4, 3))
        self.assertAlmostEqual(lapse.recall, 100 * 3 / lapsed_total, places=6)
        self.assertEqual(rows["No stage yet"].customers, 2357 - 5)
        self.assertNotIn("Won back", rows)

    def test_manager_applies_the_suggested_threshold(self):
        """The suggestion is the P(alive) cut with the best net value of
        the curve; applying it sets the At risk churn probability, once,
        by a manager only."""
        test = self._backtest()
        cuts = test.threshold_line_ids
        best = max(cuts, key=lambda line: line.net)
        self.assertEqual(test.suggested_threshold, best.threshold)
        self.assertAlmostEqual(test.suggested_net, best.net, places=2)
        self.assertEqual(test.economics_source, "assumed")
        self.assertEqual(test.uplift_pp_used, 5.0)
        # each cut: 5 % of what the contacted quiet customers would have bought, less 1 each
        self.assertAlmostEqual(cuts[0].net, cuts[0].saved_value - cuts[0].customers * 1.0, places=6)
        # contacted at a cut: the repeat buyers due at the calibration end
        # (past their average interval since the last purchase day: the
        # churn probability counts from then on) whose P(alive) is below it
        before = self.transactions[self.transactions["day"] <= CUT]
        days = before.groupby("customer")["day"].agg(["min", "max", "nunique"])
        repeat = days[days["nunique"] > 1]
        span = (pd.to_datetime(repeat["max"]) - pd.to_datetime(repeat["min"])).dt.days
        since = (pd.Timestamp(CUT) - pd.to_datetime(repeat["max"])).dt.days
        due = repeat[since >= (span / (repeat["nunique"] - 1)).clip(lower=1.0)]
        params = clv.BGNBDParams(test.r, test.alpha, test.a, test.b)
        alive = clv.p_alive(
            params,
            (due["nunique"] - 1).to_numpy(dtype=float),
            (span[due.index] / 7.0).to_numpy(),
            ((pd.Timestamp(CUT) - pd.to_datetime(due["min"])).dt.days / 7.0).to_numpy(),
        )
        self.assertLess(len(due), len(repeat), "some repeat buyers are not due")
        for cut in cuts:
            self.assertEqual(cut.customers, int((alive < cut.threshold).sum()), cut.threshold)
        with self.assertRaises(AccessError):
            test.with_user(self.salesman).action_apply_threshold()
        test.with_user(self.manager).action_apply_threshold()
        self.assertTrue(test.applied)
        applied = self.company.retention_at_risk_probability
        self.assertAlmostEqual(applied, 1 - test.suggested_threshold, places=6)
        self.assertIn("At risk churn probability changed", test.message_ids[0].body)

    def test_a_suggestion_beyond_lost_is_refused(self):
        """Customers would be Lost before they are At risk: refused."""
        test = self._backtest()
        suggested = test.suggested_at_risk_probability
        self.company.write(
            {
                "retention_at_risk_probability": max(suggested - 0.05, 0.0),
                "retention_lost_probability": suggested,
            }
        )
        with self.assertRaisesRegex(UserError, "not below the Lost one"):
            test.with_user(self.manager).action_apply_threshold()
        self.assertFalse(test.applied)

    def test_bad_splits_are_refused(self):
        with extra_deals(self.env, self.deals):
            model = self.model.with_user(self.manager)
            with self.assertRaisesRegex(UserError, "at least 28 days"):
                model._backtest(date(1998, 6, 20), END)
            with self.assertRaisesRegex(UserError, "cannot end in the future"):
                model._backtest(CUT, date(2027, 1, 1))
            with self.assertRaisesRegex(UserError, "No won deal yet"):
                model._backtest(date(1996, 6, 1), END)
        self.assertFalse(
            self.env["crm.retention.backtest"].search([("model_id", "=", self.model.id)])
        )


@tagged("post_install", "-at_install")
class TestModelDrift(RetentionCase):
    def test_every_fit_is_kept_for_the_drift_chart(self):
        """Each recompute logs its fit; the model form charts them."""
        customers = [self._customer(f"Drift {i}") for i in range(30)]
        for i, partner in enumerate(customers):
            for days in (400 - i, 300 - i, 30 + i):
                self._deal(partner, days)
        self._recompute()
        self._recompute()
        model = (
            self.env["crm.retention.model"]
            .with_user(self.manager)
            .search([("company_id", "=", self.company.id)])
        )
        fits = model.fit_ids
        self.assertEqual(len(fits), 2)
        self.assertEqual(fits[0].status, "ok")
        self.assertAlmostEqual(fits[0].r, model.r, places=6)
        self.assertEqual(fits[0].n_customers, 30)
        self.assertAlmostEqual(fits[0].purchase_rate, model.r / model.alpha, places=6)
        chart = model.drift_chart
        self.assertEqual(len(chart["labels"]), 2)
        self.assertEqual(len(chart["datasets"]), 2)
        # the monthly cron backtests the fitted model
        self.env["crm.retention.model"]._cron_backtest()
        self.assertEqual(model.backtest_count, 1)
        self.assertEqual(model.backtest_ids.calibration_end, date(2025, 12, 30))
