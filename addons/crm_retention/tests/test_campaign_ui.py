from datetime import datetime, timedelta

from odoo import fields
from odoo.tests import HttpCase, new_test_user, tagged


@tagged("post_install", "-at_install")
class TestCampaignTour(HttpCase):
    def test_manager_launches_a_win_back_campaign(self):
        """A retention manager builds a win-back campaign for at-risk
        customers with a 10 % discount, launches it and sees its members
        with the first step scheduled.

        The manager works in a company of its own holding exactly ten
        at-risk customers, so what the tour checks (10 matching, 1 control,
        9 treated) does not depend on demo data nor on the random draw.
        """
        company = self.env["res.company"].create({"name": "Tour Retention Co"})
        manager = new_test_user(
            self.env,
            login="tour_campaign_manager",
            groups="sales_team.group_sale_manager",
            name="Campaign Manager",
            company_id=company.id,
            company_ids=[company.id],
        )
        won = self.env["crm.stage"].search([("is_won", "=", True)], limit=1)
        customers = self.env["res.partner"].create(
            [
                {
                    "name": f"Tour lapsed {i:02d}",
                    "is_company": True,
                    "email": f"lapsed{i}@example.com",
                    "company_id": company.id,
                }
                for i in range(10)
            ]
        )
        closed = datetime.now() - timedelta(days=150)
        self.env["crm.lead"].with_company(company).create(
            [
                {
                    "name": f"{c.name} order",
                    "type": "opportunity",
                    "partner_id": c.id,
                    "company_id": company.id,
                    "team_id": False,
                    "user_id": False,
                    "stage_id": won.id,
                    "expected_revenue": 900,
                    "date_closed": closed,
                }
                for c in customers
            ]
        )
        at_risk = self.env.ref("crm_retention.stage_at_risk")
        profiles = self.env["crm.customer.profile"].search([("partner_id", "in", customers.ids)])
        self.assertEqual(len(profiles), 10)
        self.assertEqual(profiles.stage_id, at_risk)
        self.start_tour(
            "/odoo/action-crm_retention.crm_retention_campaign_action",
            "crm_retention_campaign_tour",
            login=manager.login,
        )
        campaign = self.env["crm.retention.campaign"].search([("name", "=", "Tour win-back")])
        self.assertEqual(campaign.state, "running")
        self.assertEqual(campaign.company_id, company)
        self.assertEqual((campaign.objective, campaign.offer_value), ("win_back", 10))
        self.assertEqual(campaign.stage_ids, at_risk)
        members = campaign.member_ids
        self.assertEqual(members.partner_id, customers)
        treated = members.filtered(lambda m: m.member_group == "treated")
        self.assertEqual((len(treated), len(members - treated)), (9, 1))
        self.assertEqual(set(treated.mapped("next_step_date")), {fields.Date.today()})
        self.assertFalse((members - treated).next_step_id, "the control group receives nothing")
