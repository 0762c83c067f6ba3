"""The day the suite is installed on a database that already sells: the past
is there. The test database is one: the suite installed with demo data on
top of CRM's and Sales' demo (opportunities closed over the past year, sale
orders of the last weeks)."""

from datetime import timedelta

from odoo import fields
from odoo.tests import HttpCase, new_test_user, tagged


@tagged("post_install", "-at_install")
class TestPastOnInstall(HttpCase):
    def test_manager_sees_past_months_and_a_repeat_buyers_stage(self):
        if "sale.order" not in self.env:
            self.skipTest("Sales is not installed")
        company = self.env.ref("base.main_company")
        buyer = self.env.ref("base.res_partner_3")  # Gemini Furniture, the demo's repeat buyer
        profile = self.env["crm.customer.profile"].search(
            [("partner_id", "=", buyer.id), ("company_id", "=", company.id)]
        )
        orders = self.env["sale.order"].search(
            [("partner_id", "child_of", buyer.id), ("state", "=", "sale")]
        )
        self.assertGreaterEqual(len(set(orders.mapped("date_order"))), 2, "a repeat buyer")
        self.assertEqual(profile.stage_id.kind, "active")
        # its history starts at its first purchase, not on install day
        first = profile.history_ids.sorted("date")[0]
        self.assertEqual(first.date.date(), profile.first_deal_date)
        self.assertEqual(profile.history_start, profile.first_deal_date)
        # the snapshots of the past months count customers lost then
        today = fields.Date.context_today(profile)
        self.env.cr.execute(
            "SELECT count(DISTINCT date_trunc('month', date)), sum(lost_count)"
            " FROM crm_kpi_snapshot WHERE company_id = %s AND date < %s",
            [company.id, today.replace(day=1) - timedelta(days=150)],
        )
        months, lost = self.env.cr.fetchone()
        self.assertGreaterEqual(months, 6)
        self.assertGreater(lost, 0)
        manager = new_test_user(
            self.env,
            login="install_day_manager",
            groups="sales_team.group_sale_manager,base.group_partner_manager",
            name="Install Day Manager",
        )
        # what the dashboard's monthly charts draw for him (their default
        # period is the last year): past months, customers lost in them
        groups = (
            self.env["crm.kpi.customer.report"]
            .with_user(manager)
            .read_group(
                [("date", ">", today - timedelta(days=365)), ("date", "<", today.replace(day=1))],
                ["customers_end:sum", "lost_count:sum"],
                ["date:month"],
            )
        )
        self.assertGreaterEqual(len([g for g in groups if g["customers_end"]]), 6)
        self.assertGreater(sum(g["lost_count"] for g in groups), 0)
        # and its year's scorecards add up: the customers at the end are those
        # at the start plus acquired and won back less lost, the retention
        # rate a share (it read 221 % when a comeback to Active was not won back)
        [year] = (
            self.env["crm.kpi.customer.report"]
            .with_user(manager)
            .read_group(
                [("date", ">", today - timedelta(days=365)), ("date", "<", today)],
                ["customers_start", "customers_end", "acquired_count", "won_back_count",
                 "lost_count", "retention_rate"],
                [],
            )
        )  # fmt: skip
        flows = year["acquired_count"] + year["won_back_count"] - year["lost_count"]
        self.assertEqual(year["customers_end"], year["customers_start"] + flows)
        self.assertTrue(0 <= year["retention_rate"] <= 100, year["retention_rate"])
        self.start_tour("/odoo", "crm_kpi_past_on_install_tour", login="install_day_manager")
