from odoo.tests import TransactionCase, tagged


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
