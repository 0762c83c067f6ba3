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
