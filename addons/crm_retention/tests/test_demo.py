from odoo.tests import TransactionCase, tagged
from odoo.tools import SQL


@tagged("post_install", "-at_install")
class TestDemoState(TransactionCase):
    """The demo is shipped in the state the nightly recompute leaves it: a
    manager who clicks "Recompute now" on day one sees no number move."""

    def test_recompute_on_the_demo_changes_nothing(self):
        if not self.env.ref("crm_retention.res_partner_atlas_office_demo", False):
            self.skipTest("demo data not loaded")
        company = self.env.ref("base.main_company")
        Profile = self.env["crm.customer.profile"].sudo()
        model = self.env["crm.retention.model"].sudo()._get_for_company(company)

        def state():
            profiles = Profile.search([("company_id", "=", company.id)])
            return {p.partner_id.id: (p.stage_id.id, p.risk_level, p.user_id.id) for p in profiles}

        before = state()
        buyers = Profile.search_count([("company_id", "=", company.id), ("won_count", ">", 0)])
        self.assertEqual(model.n_customers, buyers, "the shipped model is fitted on every buyer")
        history = self.env["crm.lifecycle.history"].sudo().search_count([])
        Profile._recompute_company(company, today=model.run_date)
        self.assertEqual(state(), before)
        self.assertEqual(self.env["crm.lifecycle.history"].sudo().search_count([]), history)
        kinds = {kind for kind, _label in self.env["crm.lifecycle.stage"]._fields["kind"].selection}
        shown = {p.stage_id.kind for p in Profile.search([("company_id", "=", company.id)])}
        self.assertTrue({"at_risk", "lost", "active", "won_back"} <= shown <= kinds)

    def test_no_customer_lapses_on_a_day_it_bought(self):
        """The demo's past, rebuilt on install from its purchases: a customer
        never turns At risk or Lost on a day it bought (its churn probability
        counts once it is due; the demo's fit has a large next to b, where
        BG/NBD's P(alive) on a repeat purchase day is below one half)."""
        company = self.env.ref("base.main_company")
        Profile = self.env["crm.customer.profile"].sudo()
        moves = Profile.search_count(
            [("company_id", "=", company.id), ("history_ids", "!=", False)]
        )
        self.assertGreater(moves, 100, "the demo's customers have a past")
        self.env.cr.execute(
            SQL(
                """
                SELECT count(*)
                  FROM crm_lifecycle_history h
                  JOIN crm_lifecycle_stage s ON s.id = h.stage_id
                  JOIN crm_customer_profile p ON p.id = h.profile_id
                 WHERE s.kind IN ('at_risk', 'lost') AND p.company_id = %s
                   AND EXISTS (SELECT 1 FROM (%s) d
                                WHERE d.partner_id = p.partner_id AND d.amount > 0
                                  AND d.deal_date::date = h.date::date)
                """,
                company.id,
                Profile._deal_rows_sql([company.id]),
            )
        )
        self.assertEqual(self.env.cr.fetchone()[0], 0)
