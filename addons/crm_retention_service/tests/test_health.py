"""Service experience feeds the risk: the signals of each customer, the
health score, weights fitted on the company's own lapses (or the defaults),
and a stage rule on the score."""

from datetime import datetime, timedelta

from odoo.addons.crm_retention.tests.common import TODAY, RetentionCase
from odoo.tests import tagged

from ..lib import health


@tagged("post_install", "-at_install")
class TestHealth(RetentionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.phone = cls.env.ref("crm_contact_center.channel_phone")
        cls.Interaction = cls.env["crm.interaction"].sudo()
        cls.upset = cls._regular("Upset Customer")
        cls.calm = cls._regular("Calm Customer")

    @classmethod
    def _regular(cls, name, last=10, every=30, times=6):
        partner = cls._customer(name, user_id=cls.salesman.id)
        # one create, no refresh per deal: the tests run the nightly recompute
        cls.env["crm.lead"].with_context(lifecycle_skip_refresh=True).create(
            [
                {
                    "name": f"{name} {k}",
                    "type": "opportunity",
                    "partner_id": partner.id,
                    "company_id": cls.company.id,
                    "user_id": cls.salesman.id,
                    "stage_id": cls.won_stage.id,
                    "expected_revenue": 1000.0,
                    "date_closed": datetime.combine(
                        TODAY - timedelta(days=last + every * k), datetime.min.time()
                    )
                    + timedelta(hours=10),
                }
                for k in range(times)
            ]
        )
        return partner

    @classmethod
    def _contact(cls, partner, days_ago, **vals):
        return cls.Interaction.create(
            {
                "channel_id": cls.phone.id,
                "direction": "inbound",
                "partner_id": partner.id,
                "company_id": cls.company.id,
                "date": datetime.combine(TODAY - timedelta(days=days_ago), datetime.min.time()),
                "state": "done",
                **vals,
            }
        )

    def _bad_experience(self, partner, days_ago=20):
        for _i in range(5):
            self._contact(partner, days_ago, outcome="complaint")
        for _i in range(3):
            self._contact(partner, days_ago, state="missed")
        for _i in range(2):
            rated = self._contact(partner, days_ago)
            rated.rating_apply(2, token=rated._rating_get_access_token())
        self.Interaction.search([("partner_id", "=", partner.id)], limit=2).write(
            {"is_escalated": True, "is_overdue": True}
        )

    def test_signals_and_the_score_of_a_bad_experience(self):
        self._bad_experience(self.upset)
        # outside the window, or another company's: not counted
        self._contact(self.calm, 400, outcome="complaint")
        other = self.env["res.company"].create({"name": "Other Co"})
        self.Interaction.create(
            {"channel_id": self.phone.id, "partner_id": self.calm.id, "company_id": other.id,
             "date": datetime.combine(TODAY, datetime.min.time()), "outcome": "complaint",
             "state": "done"}
        )  # fmt: skip
        self._recompute()
        upset, calm = self._profile(self.upset), self._profile(self.calm)
        self.assertEqual(
            (
                upset.service_complaints,
                upset.service_missed_calls,
                upset.service_low_ratings,
                upset.service_escalations,
                upset.service_sla_breaches,
            ),
            (5, 3, 2, 2, 2),
        )
        self.assertEqual(calm.service_complaints, 0)
        # the same purchases, a bad experience: a far lower health
        self.assertEqual(upset.p_alive, calm.p_alive)
        self.assertGreater(calm.health_score, 90)
        self.assertLess(upset.health_score, 40)
        # a past too short to fit: the documented defaults, said so
        model = (
            self.env["crm.retention.model"].sudo().search([("company_id", "=", self.company.id)])
        )
        self.assertFalse(model.health_fitted)
        self.assertIn("Complaints", model.health_weights_html)
        # the salesperson reads it on his customer
        self.assertEqual(upset.with_user(self.salesman).health_score, upset.health_score)

    def test_a_stage_rule_on_the_health_score(self):
        unhappy = self.env["crm.lifecycle.stage"].create(
            {
                "name": "Unhappy",
                "kind": "at_risk",
                "sequence": 1,
                "company_id": self.company.id,
                "rule_domain": "[('won_count', '>', 0), ('health_score', '<', 50)]",
            }
        )
        self._bad_experience(self.upset)
        self._recompute()
        self.assertEqual(self._profile(self.upset).stage_id, unhappy)
        self.assertNotEqual(self._profile(self.calm).stage_id, unhappy)

    def test_weights_fitted_on_the_companys_own_lapses(self):
        """80 customers active 90-240 days ago; the half who complained in
        the months before lapsed within 90 days, most of the others did not:
        the fitted complaint weight is positive and its interval excludes 0."""
        History = self.env["crm.lifecycle.history"].sudo()
        active, at_risk = self.stage["active"], self.stage["at_risk"]
        customers = [self._regular(f"Past {i:02d}", last=5, every=20, times=20) for i in range(80)]
        self._recompute()
        rows = []
        for i, partner in enumerate(customers):
            profile = self._profile(partner)
            complains = i % 2 == 0
            # active from a year ago; lapsers enter At risk 30 days after
            # each anchor of the fit window, the others (one in eight) too
            rows.append((profile, active, 365))
            lapses = complains or i % 8 == 1
            if complains:
                for anchor in (240, 180, 120):
                    self._contact(partner, anchor + 10, outcome="complaint")
            if lapses:
                rows += [(profile, at_risk, 210), (profile, active, 195)]
                rows += [(profile, at_risk, 150), (profile, active, 135)]
                rows += [(profile, at_risk, 90 - 30), (profile, active, 45)]
        History.create(
            [
                {
                    "profile_id": profile.id,
                    "stage_id": stage.id,
                    "date": datetime.combine(TODAY - timedelta(days=days), datetime.min.time()),
                    "reason": "import",
                }
                for profile, stage, days in rows
            ]
        )
        fit = self.Profile.sudo()._fit_health(self.company, TODAY)
        self.assertTrue(fit.fitted)
        self.assertGreaterEqual(fit.lapses, health.MIN_LAPSES)
        complaints = health.NAMES.index("complaints")
        self.assertGreater(fit.coef[complaints], 0)
        self.assertGreater(fit.low[complaints], 0)

    def _first_night_then_a_stale_score(self):
        """The first night, then a score gone stale (as after a change of
        the formula): the calm customer's signals do not move, only the
        batch can correct it."""
        self.Profile.sudo()._recompute_company(self.company, today=TODAY)
        self.env.cr.execute(
            "UPDATE crm_customer_profile SET health_score = 1 WHERE partner_id = %s",
            [self.calm.id],
        )
        self.env.invalidate_all()

    def _night_rescores_everyone(self, night):
        """Run ``night``: the stale score is corrected in the batch, and a
        rescoring of everyone with the night's weights finds nothing to
        change. Returns the churn model."""
        Profile = self.Profile.sudo()
        Profile._recompute_company(self.company, today=night)
        self.assertGreater(self._profile(self.calm).health_score, 90, "rescored in the batch")
        model = self.env["crm.retention.model"].sudo()._get_for_company(self.company)
        coef = model._recent_health_coef(night, 7)
        self.assertEqual(Profile._score_health(self.company, night, coef), [], "all up to date")
        return model

    def test_a_steady_night_scores_in_its_batches_as_a_full_rescoring_would(self):
        """Between refits the night's batches write the health score with
        the profile's new figures: every customer then holds the score a
        rescoring of everyone gives (nothing left to change), including one
        whose complaints arrived in the meantime."""
        self._first_night_then_a_stale_score()
        self._bad_experience(self.upset, days_ago=-1)
        night = TODAY + timedelta(days=6)  # the weights are a week old at most
        model = self._night_rescores_everyone(night)
        upset = self._profile(self.upset)
        self.assertEqual(upset.service_complaints, 5, "the new complaints are counted")
        self.assertLess(upset.health_score, 40)
        self.assertEqual(model.health_fit_date, TODAY, "the weights were reused")

    def test_a_refit_night_fits_first_then_scores_in_its_batches(self):
        """A refit night fits the weights when it starts, and its batches
        score every customer with them: a stale score is corrected and a
        rescoring of everyone with the new weights finds nothing to change."""
        self._first_night_then_a_stale_score()
        night = TODAY + timedelta(days=7)  # the weights are a week old: refitted
        model = self._night_rescores_everyone(night)
        self.assertEqual(model.health_fit_date, night, "refitted")

    def test_weights_refitted_weekly_and_on_demand(self):
        """The nightly run fits the weights once a week and scores with them
        in between (a night's new complaints still lower that night's
        score); a manager's Recompute now refits them."""
        model = self.env["crm.retention.model"].sudo()._get_for_company(self.company)
        fitted_on = []
        for days in range(8):
            self.Profile.sudo()._recompute_company(self.company, today=TODAY + timedelta(days=days))
            fitted_on.append(model.health_fit_date)
            if days == 3:
                self._bad_experience(self.upset, days_ago=-3)
        self.assertEqual(fitted_on, [TODAY] * 7 + [TODAY + timedelta(days=7)])
        self.assertLess(self._profile(self.upset).health_score, 40)
        # Recompute now (today: TODAY) refits, although yesterday's fit is recent
        model.health_fit_date = TODAY - timedelta(days=1)
        model.with_user(self.manager).action_recompute()
        model._cron_recompute_requested()  # the worker the button wakes
        self.assertEqual(model.health_fit_date, TODAY)
