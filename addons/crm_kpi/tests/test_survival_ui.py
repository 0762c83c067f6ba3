from odoo.tests import HttpCase, new_test_user, tagged


@tagged("post_install", "-at_install")
class TestSurvivalUi(HttpCase):
    def test_reader_opens_the_curves_and_value_by_tenure(self):
        """An "all documents" salesperson (the least-privileged reader of
        company-wide curves) reaches both charts from the menu."""
        new_test_user(
            self.env,
            login="surv_tour_reader",
            groups="sales_team.group_sale_salesman_all_leads",
            name="Curves Reader",
        )
        # what the nightly job leaves
        self.env["crm.kpi.survival"]._refresh()
        self.assertTrue(self.env["crm.kpi.survival"].search_count([]))
        self.start_tour("/odoo", "crm_kpi_survival_tour", login="surv_tour_reader")
