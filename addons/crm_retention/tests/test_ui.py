from odoo.tests import HttpCase, new_test_user, tagged


@tagged("post_install", "-at_install")
class TestRetentionTour(HttpCase):
    def test_manager_pins_stage_from_customer(self):
        """A sales manager opens a customer, sees its stage and churn
        probability, pins another stage and finds the change in the history."""
        new_test_user(
            self.env,
            login="tour_manager",
            groups="sales_team.group_sale_manager",
            name="Tour Manager",
        )
        won = self.env["crm.stage"].search([("is_won", "=", True)], limit=1)
        customer = self.env["res.partner"].create({"name": "Tour Customer Ltd", "is_company": True})
        self.env["crm.lead"].create(
            {
                "name": "First order",
                "type": "opportunity",
                "partner_id": customer.id,
                "stage_id": won.id,
                "expected_revenue": 1200,
            }
        )
        self.start_tour(
            f"/odoo/contacts/{customer.id}", "crm_retention_pin_stage_tour", login="tour_manager"
        )
        profile = self.env["crm.customer.profile"].search([("partner_id", "=", customer.id)])
        self.assertEqual(profile.stage_id, self.env.ref("crm_retention.stage_active"))
        self.assertTrue(profile.stage_locked)

    def test_salesman_finds_his_customers_and_plans_a_call(self):
        """The demo's dead end: a customer without a salesperson on the partner
        is the salesman's through his latest opportunity; he finds it in My
        Customers, plans a call, and sees its stage on his pipeline card."""
        from datetime import timedelta

        from odoo import fields

        salesman = new_test_user(
            self.env, login="tour_salesman", groups="sales_team.group_sale_salesman",
            name="Tour Salesman",
        )  # fmt: skip
        colleague = new_test_user(
            self.env, login="tour_colleague", groups="sales_team.group_sale_salesman"
        )
        won = self.env["crm.stage"].search([("is_won", "=", True)], limit=1)
        open_stage = self.env["crm.stage"].search([("is_won", "=", False)], limit=1)
        Partner, Lead = self.env["res.partner"], self.env["crm.lead"]
        customer = Partner.create({"name": "Tour At Risk Co", "is_company": True})
        other = Partner.create({"name": "Colleague Customer", "is_company": True})
        now = fields.Datetime.now()
        Lead.create(
            [
                {"name": f"Order {i}", "type": "opportunity", "partner_id": customer.id,
                 "user_id": salesman.id, "stage_id": won.id, "expected_revenue": 900,
                 "date_closed": now - timedelta(days=days)}
                for i, days in enumerate((300, 240, 180, 120))
            ]
            + [
                {"name": "Tour renewal", "type": "opportunity", "partner_id": customer.id,
                 "user_id": salesman.id, "stage_id": open_stage.id},
                {"name": "Their order", "type": "opportunity", "partner_id": other.id,
                 "user_id": colleague.id, "stage_id": won.id, "expected_revenue": 500,
                 "date_closed": now - timedelta(days=5)},
            ]
        )  # fmt: skip
        profile = self.env["crm.customer.profile"].search([("partner_id", "=", customer.id)])
        self.assertEqual(profile.stage_id.kind, "at_risk")
        self.assertEqual(profile.user_id, salesman)
        self.start_tour(
            "/odoo/action-crm_retention.crm_customer_profile_action_mine",
            "crm_retention_salesman_tour",
            login="tour_salesman",
        )
        [call] = profile.activity_ids
        self.assertEqual((call.user_id, call.summary), (salesman, "Ask why they stopped ordering"))

    def test_salesman_acts_on_his_customers_at_risk(self):
        """My Customers at Risk, the most money first: why, the recommended
        offer and the activity the nightly run planned for him."""
        from datetime import timedelta

        from odoo import fields

        salesman = new_test_user(
            self.env, login="tour_risk_salesman", groups="sales_team.group_sale_salesman",
            name="Risk Salesman",
        )  # fmt: skip
        company = self.env.ref("base.main_company")
        won = self.env["crm.stage"].search([("is_won", "=", True)], limit=1)
        today = fields.Date.context_today(self.env["res.partner"])
        Partner, Lead = self.env["res.partner"], self.env["crm.lead"]
        big = Partner.create({"name": "Tour Big Spender", "is_company": True})
        small = Partner.create({"name": "Tour Small Spender", "is_company": True})
        Lead.with_context(lifecycle_skip_refresh=True).create(
            [
                {"name": f"{p.name} {days}", "type": "opportunity", "partner_id": p.id,
                 "user_id": salesman.id, "stage_id": won.id, "expected_revenue": amount,
                 "company_id": company.id,
                 "date_closed": fields.Datetime.now() - timedelta(days=days)}
                for p, amount in ((big, 50000.0), (small, 20.0))
                for days in (300, 270, 240, 210, 180)
            ]
        )  # fmt: skip
        Profile = self.env["crm.customer.profile"].sudo()
        # a night when both were active, then tonight: they lapsed
        Profile._recompute_company(company, today=today - timedelta(days=170))
        # a finished experiment: 10 % off kept 40 % of such customers, 20 %
        # without it
        past = Partner.create([{"name": f"Tour Past {i}", "is_company": True} for i in range(200)])
        past_profiles = Profile.create(
            [{"partner_id": p.id, "company_id": company.id} for p in past]
        )
        campaign = self.env["crm.retention.campaign"].sudo().create(
            {"name": "Past 10 % off", "objective": "retain", "offer_type": "percentage",
             "company_id": company.id, "state": "done"}
        )  # fmt: skip
        self.env["crm.retention.campaign.member"].sudo().create(
            [
                {"campaign_id": campaign.id, "profile_id": p.id, "partner_id": p.partner_id.id,
                 "member_group": "treated" if i % 4 else "control", "enrol_date": today,
                 "enrol_risk_level": risk, "enrol_value_at_risk": 1e9, "outcome_final": True,
                 "retained_count": int((i % 4 and i % 5 < 2) or (not i % 4 and i % 20 == 0)),
                 "cost": 10.0 if i % 4 else 0.0, "state": "targeted"}
                for i, p in enumerate(past_profiles)
                for risk in [("medium", "high")[(i // 4) % 2]]
            ]
        )  # fmt: skip
        Profile._recompute_company(company, today=today)
        big_profile = Profile.search([("partner_id", "=", big.id)])
        self.assertIn(big_profile.stage_kind, ("at_risk", "lost"))
        self.assertEqual(big_profile.risk_activity_id.user_id, salesman)
        self.start_tour(
            "/odoo/action-crm_retention.crm_customer_profile_action_my_at_risk",
            "crm_retention_act_on_risk_tour",
            login="tour_risk_salesman",
        )


@tagged("post_install", "-at_install")
class TestBacktestTour(HttpCase):
    def test_manager_backtests_the_model_and_applies_the_threshold(self):
        """A sales manager opens the demo company's churn model, runs a
        backtest, sees the calibration chart and the suggested At risk
        threshold, and applies it."""
        model = self.env["crm.retention.model"].search([("status", "=", "ok")], limit=1)
        self.assertTrue(model, "the demo data has a fitted churn model")
        company = model.company_id
        # the model as the nightly run leaves it: one logged fit at least
        self.env["crm.customer.profile"].sudo()._recompute_company(company)
        new_test_user(
            self.env,
            login="tour_backtest",
            groups="sales_team.group_sale_manager",
            company_id=company.id,
            company_ids=[company.id],
            name="Backtest Manager",
        )
        self.start_tour(
            f"/odoo/action-crm_retention.crm_retention_model_action/{model.id}",
            "crm_retention_backtest_tour",
            login="tour_backtest",
        )
        test = self.env["crm.retention.backtest"].search([("model_id", "=", model.id)])
        self.assertEqual(len(test), 1)
        self.assertTrue(test.applied)
        applied = model.company_id.retention_at_risk_probability
        self.assertAlmostEqual(applied, test.suggested_at_risk_probability, places=6)
