from datetime import date

from odoo.tests import HttpCase, new_test_user, tagged


@tagged("post_install", "-at_install")
class TestSuiteMenus(HttpCase):
    def test_salesman_reaches_the_three_addons(self):
        """A plain salesperson (own documents only) gets every addon's menu."""
        new_test_user(
            self.env,
            login="suite_salesman",
            groups="sales_team.group_sale_salesman",
            name="Suite Salesman",
        )
        self.start_tour("/odoo", "crm_suite_menus_tour", login="suite_salesman")

    def test_manager_opens_dashboard_and_kpi_pivot(self):
        new_test_user(
            self.env,
            login="kpi_tour_manager",
            groups="sales_team.group_sale_manager",
            name="KPI Manager",
        )
        today = date.today()
        self.env["crm.kpi.snapshot"]._backfill(today.replace(day=1), today)
        self.start_tour("/odoo", "crm_kpi_dashboard_tour", login="kpi_tour_manager")
