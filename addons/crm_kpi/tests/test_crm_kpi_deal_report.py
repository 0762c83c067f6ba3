from odoo.tests import TransactionCase, new_test_user, tagged


@tagged("post_install", "-at_install")
class TestDealReport(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company = cls.env["res.company"].create({"name": "KPI Test Co"})
        cls.salesman = new_test_user(
            cls.env,
            login="kpi_salesman",
            groups="sales_team.group_sale_salesman",
            company_id=cls.company.id,
            company_ids=[cls.company.id],
        )
        cls.other = new_test_user(
            cls.env,
            login="kpi_other",
            groups="sales_team.group_sale_salesman",
            company_id=cls.company.id,
            company_ids=[cls.company.id],
        )
        cls.manager = new_test_user(
            cls.env,
            login="kpi_manager",
            groups="sales_team.group_sale_manager",
            company_id=cls.company.id,
            company_ids=[cls.company.id],
        )
        cls.won = cls.env["crm.stage"].search([("is_won", "=", True)], limit=1)
        customer = cls.env["res.partner"].create({"name": "Acme", "is_company": True})
        contact = cls.env["res.partner"].create({"name": "Jo", "parent_id": customer.id})
        cls.customer = customer
        Lead = cls.env["crm.lead"].with_company(cls.company)
        cls.leads = Lead.create(
            [
                {
                    "name": f"deal {amount}",
                    "type": "opportunity",
                    "partner_id": partner.id,
                    "user_id": user.id,
                    "company_id": cls.company.id,
                    "stage_id": cls.won.id,
                    "expected_revenue": amount,
                    "date_closed": "2025-03-10 10:00:00",
                }
                for partner, user, amount in (
                    (customer, cls.salesman, 1000.0),
                    (contact, cls.salesman, 3000.0),
                    (customer, cls.other, 500.0),
                )
            ]
        )
        # an open opportunity is not a deal
        Lead.create(
            {
                "name": "open",
                "type": "opportunity",
                "partner_id": customer.id,
                "company_id": cls.company.id,
                "expected_revenue": 99999,
            }
        )

    def _totals(self, user):
        Report = self.env["crm.kpi.deal.report"].with_user(user).with_company(self.company)
        [(count, amount, avg)] = Report._read_group(
            [("company_id", "=", self.company.id)],
            [],
            ["deal_count:sum", "amount:sum", "avg_amount:avg"],
        )
        return count, amount, avg

    def test_manager_sees_all_won_deals_rolled_up_to_the_customer(self):
        count, amount, avg = self._totals(self.manager)
        self.assertEqual((count, amount), (3, 4500.0))
        self.assertAlmostEqual(avg, 1500.0)
        partners = (
            self.env["crm.kpi.deal.report"]
            .search([("company_id", "=", self.company.id)])
            .partner_id
        )
        self.assertEqual(partners, self.customer, "contacts roll up to their company")

    def test_salesman_sees_only_own_deals(self):
        count, amount, _avg = self._totals(self.salesman)
        self.assertEqual((count, amount), (2, 4000.0))

    def test_other_company_sees_nothing(self):
        outsider = new_test_user(
            self.env, login="kpi_outsider", groups="sales_team.group_sale_manager"
        )
        rows = self.env["crm.kpi.deal.report"].with_user(outsider).search([])
        # a report row's id is its deal's (origin id * slots + slot), not
        # the lead's: compare the companies the rows belong to
        self.assertTrue(rows, "the outsider sees the deals of his own company")
        self.assertNotIn(self.company, rows.sudo().company_id)
