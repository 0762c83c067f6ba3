"""Cross-addon end-to-end tests: what a salesperson sees across the suite.

Run by ``make test`` with pytest-odoo against the suite's test database and
a real HTTP server (``--odoo-http``).
"""

from odoo.tests import HttpCase, new_test_user, tagged


@tagged("post_install", "-at_install")
class TestWonDealAcrossTheSuite(HttpCase):
    def test_won_deal_reaches_profile_and_kpi_report_over_http(self):
        """A salesperson wins a deal through the web client's JSON-RPC: the
        customer becomes New in crm_retention and the won-deals KPI report
        shows the deal with that stage."""
        salesman = new_test_user(
            self.env,
            login="e2e_salesman",
            groups="sales_team.group_sale_salesman",
            password="e2e_salesman_pw",
        )
        customer = self.env["res.partner"].create({"name": "E2E Customer", "is_company": True})
        lead = self.env["crm.lead"].create(
            {
                "name": "E2E deal",
                "type": "opportunity",
                "partner_id": customer.id,
                "user_id": salesman.id,
                "expected_revenue": 4321,
            }
        )
        self.authenticate("e2e_salesman", "e2e_salesman_pw")
        self.make_jsonrpc_request(
            "/web/dataset/call_kw/crm.lead/action_set_won",
            {
                "model": "crm.lead",
                "method": "action_set_won",
                "args": [[lead.id]],
                "kwargs": {},
            },
        )
        rows = self.make_jsonrpc_request(
            "/web/dataset/call_kw/crm.kpi.deal.report/search_read",
            {
                "model": "crm.kpi.deal.report",
                "method": "search_read",
                "args": [[("partner_id", "=", customer.id)], ["amount", "stage_id", "user_id"]],
                "kwargs": {},
            },
        )
        self.assertEqual(len(rows), 1)
        self.assertEqual(rows[0]["amount"], 4321)
        self.assertEqual(rows[0]["stage_id"][0], self.env.ref("crm_retention.stage_new").id)
        stage = self.make_jsonrpc_request(
            "/web/dataset/call_kw/res.partner/read",
            {
                "model": "res.partner",
                "method": "read",
                "args": [[customer.id], ["lifecycle_stage_id"]],
                "kwargs": {},
            },
        )
        self.assertEqual(stage[0]["lifecycle_stage_id"][1], "New")
