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
