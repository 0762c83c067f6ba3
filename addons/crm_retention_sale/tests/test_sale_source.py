from datetime import datetime, timedelta

from odoo import Command, fields
from odoo.addons.crm_retention.tests.common import RetentionCase, foreign_currency
from odoo.exceptions import UserError
from odoo.tests import tagged


@tagged("post_install", "-at_install")
class TestSaleSource(RetentionCase):
    """Confirmed sale orders are purchases: the profile, Won Deals and the
    refresh on confirmation see them; nothing counts twice."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.product = cls.env["product.product"].create(
            {"name": "Espresso machine", "list_price": 500.0, "type": "consu"}
        )
        cls.today = fields.Date.context_today(cls.env["res.partner"])
        cls.customer = cls._customer("Roastery Ltd", user_id=cls.salesman.id)

    def _order(self, partner, days_ago, amount, confirm=True, **vals):
        order = (
            self.env["sale.order"]
            .with_user(self.salesman)
            .create(
                {
                    "partner_id": partner.id,
                    "company_id": self.company.id,
                    "user_id": self.salesman.id,
                    "order_line": [(0, 0, {"product_id": self.product.id, "price_unit": amount})],
                    **vals,
                }
            )
        )
        if confirm:
            order.action_confirm()
            order.date_order = datetime.combine(
                self.today - timedelta(days=days_ago), datetime.min.time()
            ) + timedelta(hours=9)
        return order

    def test_confirmed_orders_are_purchases_at_once(self):
        self._order(self.customer, 120, 800.0)
        self._order(self.customer, 30, 500.0)
        self._order(self.customer, 0, 9999.0, confirm=False)  # a quotation
        profile = self._profile(self.customer).with_user(self.salesman)
        self.assertEqual((profile.won_count, profile.won_revenue), (2, 1300.0))
        self.assertEqual(profile.last_deal_date, self.today - timedelta(days=30))
        self.assertEqual(profile.first_deal_date, self.today - timedelta(days=120))

    def test_a_confirmed_orders_new_amount_counts_at_once(self):
        """A line added to a confirmed order, or its price changed, moves
        the customer's revenue at once: the nightly run keeps the stored
        aggregate of a customer whose orders were not re-created."""
        order = self._order(self.customer, 20, 800.0).with_user(self.salesman)
        order.write({"order_line": [(0, 0, {"product_id": self.product.id, "price_unit": 200.0})]})
        self.assertEqual(self._profile(self.customer).won_revenue, 1000.0)
        order.order_line.filtered(lambda line: line.price_unit == 800.0).price_unit = 1600.0
        self.assertEqual(self._profile(self.customer).won_revenue, 1800.0)
        Model = self.env["crm.retention.model"].sudo()
        self.Profile.sudo()._recompute_company(self.company, today=self.today)
        self.Profile.sudo()._recompute_company(self.company, today=self.today + timedelta(days=1))
        self.assertEqual(Model._get_for_company(self.company).run_aggregate, "incremental")
        profile = self._profile(self.customer)
        self.assertEqual((profile.won_count, profile.won_revenue), (1, 1800.0))

    def test_the_untaxed_amount_counts(self):
        """A purchase is worth what the company earns: the order's amount
        before taxes."""
        group = self.env["account.tax.group"].create({"name": "VAT", "company_id": self.company.id})
        vat = self.env["account.tax"].create(
            {"name": "VAT 20%", "amount": 20.0, "company_id": self.company.id,
             "tax_group_id": group.id, "country_id": self.env.ref("base.be").id}
        )  # fmt: skip
        order = self._order(self.customer, 8, 1000.0, confirm=False)
        order.order_line.tax_id = vat
        order.action_confirm()
        self.assertEqual(order.amount_total, 1200.0)
        self.assertEqual(self._profile(self.customer).won_revenue, 1000.0)

    def test_one_save_of_many_lines_refreshes_the_customer_once(self):
        """A salesperson changes every line of a confirmed order and saves:
        the customer is recomputed once for the save, as for one line (the
        ORM writes the lines one by one; no recompute per line)."""
        order = self._order(self.customer, 4, 100.0, confirm=False).with_user(self.salesman)
        order.write(
            {"order_line": [Command.create({"product_id": self.product.id, "price_unit": 100.0})]
             * 5}
        )  # fmt: skip
        order.action_confirm()
        self.assertEqual(self._profile(self.customer).won_revenue, 600.0)

        def save(commands):
            before = self._profile_writes()
            order.write({"order_line": commands})
            return self._profile_writes() - before

        one = save([Command.update(order.order_line[0].id, {"price_unit": 200.0})])
        self.assertEqual(self._profile(self.customer).won_revenue, 700.0)
        six = save([Command.update(line.id, {"price_unit": 300.0}) for line in order.order_line])
        self.assertEqual(self._profile(self.customer).won_revenue, 1800.0)
        self.assertEqual(six, one, "six lines saved at once: as many profile writes as one")

    def test_a_save_that_fails_half_way_still_refreshes_what_it_wrote(self):
        """Server code that saves an order's lines and skips the orders it
        cannot save (catching the error, without a savepoint) keeps the
        lines written before the error: the customer's revenue follows
        them, as it follows a save that succeeds."""
        order = self._order(self.customer, 4, 100.0, confirm=False).with_user(self.salesman)
        order.write({"order_line": [Command.create({"product_id": self.product.id})]})
        order.order_line.price_unit = 100.0
        order.action_confirm()
        self.assertEqual(self._profile(self.customer).won_revenue, 200.0)
        first, second = order.order_line
        # the price is written, then removing a line of a confirmed order is
        # refused; the caller goes on (no savepoint, unlike assertRaises)
        refused = None
        try:
            order.write(
                {"order_line": [Command.update(first.id, {"price_unit": 300.0}),
                                Command.delete(second.id)]}
            )  # fmt: skip
        except UserError as error:
            refused = error
        self.assertTrue(refused, "a confirmed order's line cannot be removed")
        self.assertEqual(first.price_unit, 300.0, "the caller keeps what was written")
        # the transaction commits (a commit flushes, running its pre-commit hooks)
        self.env.cr.flush()
        self.assertEqual(self._profile(self.customer).won_revenue, 400.0)
        # and the next save refreshes at once, as usual
        order.write({"order_line": [Command.update(second.id, {"price_unit": 50.0})]})
        self.assertEqual(self._profile(self.customer).won_revenue, 350.0)

    def test_an_order_linked_to_another_customers_opportunity(self):
        """The opportunity's customer loses the deal its confirmed order
        replaces, at once, whoever the order is for."""
        other = self._customer("Cafe Other")
        lead = self._deal(other, 40, amount=700.0)
        self.assertEqual(self._profile(other).won_count, 1)
        order = self._order(self.customer, 10, 500.0, confirm=False, opportunity_id=lead.id)
        order.action_confirm()
        self.assertEqual(self._profile(other).won_count, 0)
        order.with_user(self.salesman).opportunity_id = False
        self.assertEqual(self._profile(other).won_count, 1)

    def test_a_contacts_order_is_its_companys_purchase(self):
        contact = self.env["res.partner"].create(
            {"name": "Ana at the roastery", "parent_id": self.customer.id}
        )
        self._order(contact, 10, 250.0)
        self.assertEqual(self._profile(self.customer).won_revenue, 250.0)
        self.assertFalse(
            self.Profile.sudo().search([("partner_id", "=", contact.id)]),
            "no profile for the contact itself",
        )

    def test_an_order_in_another_currency_counts_at_the_days_rate(self):
        day = self.today - timedelta(days=5)
        other = foreign_currency(self.company, {day - timedelta(days=30): 0.5})
        pricelist = self.env["product.pricelist"].create(
            {"name": "Export", "currency_id": other.id, "company_id": self.company.id}
        )
        self._order(self.customer, 5, 400.0, pricelist_id=pricelist.id)
        self.assertAlmostEqual(self._profile(self.customer).won_revenue, 800.0, places=2)

    def test_confirmed_then_cancelled_the_same_day_drops_out(self):
        self._order(self.customer, 60, 300.0)
        order = self._order(self.customer, 0, 700.0)
        profile = self._profile(self.customer)
        self.assertEqual(profile.won_count, 2)
        order.with_user(self.salesman)._action_cancel()
        self.assertEqual((profile.won_count, profile.won_revenue), (1, 300.0))
        self.assertEqual(profile.last_deal_date, self.today - timedelta(days=60))

    def test_a_won_opportunity_with_its_order_counts_once(self):
        lead = self._deal(self.customer, 40, amount=900.0)
        self.assertEqual(self._profile(self.customer).won_count, 1)
        self._order(self.customer, 35, 950.0, opportunity_id=lead.id)
        profile = self._profile(self.customer)
        self.assertEqual((profile.won_count, profile.won_revenue), (1, 950.0), "the order wins")
        # an opportunity without orders still counts
        self._deal(self.customer, 10, amount=100.0)
        self.Profile.sudo()._recompute_partners(self.customer.ids, self.company)
        self.assertEqual((profile.won_count, profile.won_revenue), (2, 1050.0))

    def test_a_company_that_does_not_count_orders(self):
        self.company.retention_count_sale_orders = False
        self._order(self.customer, 20, 500.0)
        self.Profile.sudo()._recompute_partners(self.customer.ids, self.company)
        self.assertFalse(self._profile(self.customer).won_count)
        # and one that counts orders only, not opportunities
        self.company.write(
            {"retention_count_sale_orders": True, "retention_count_opportunities": False}
        )
        self._deal(self.customer, 15, amount=2000.0)
        self.Profile.sudo()._recompute_partners(self.customer.ids, self.company)
        profile = self._profile(self.customer)
        self.assertEqual((profile.won_count, profile.won_revenue), (1, 500.0))
        self.assertEqual(profile.opportunity_count, 1, "the opportunity is still counted as one")

    def test_a_customer_whose_only_purchase_is_today(self):
        self._order(self.customer, 0, 640.0)
        profile = self._profile(self.customer)
        self.assertEqual((profile.won_count, profile.last_deal_date), (1, self.today))
        self.assertEqual(profile.stage_id.kind, "new", "a first purchase makes a new customer")

    def test_an_archived_customers_orders_still_count(self):
        self._order(self.customer, 25, 300.0)
        self.customer.active = False
        self.Profile.sudo()._recompute_partners(self.customer.ids, self.company)
        profile = (
            self.Profile.sudo()
            .with_context(active_test=False)
            .search([("partner_id", "=", self.customer.id), ("company_id", "=", self.company.id)])
        )
        self.assertEqual((profile.won_count, profile.won_revenue), (1, 300.0))

    def test_a_company_with_no_sales_at_all(self):
        quiet = self.env["res.company"].create({"name": "Quiet Co"})
        self.Profile.sudo()._recompute_company(quiet)
        self.assertFalse(self.Profile.sudo().search([("company_id", "=", quiet.id)]))
        model = self.env["crm.retention.model"].sudo().search([("company_id", "=", quiet.id)])
        self.assertEqual(model.run_state, "done", "the run ends cleanly with nothing to do")

    def test_the_aggregate_reads_the_leads_once(self):
        """With orders counted, the nightly aggregate still scans crm_lead a
        single time (the orders come next to it, the opportunities they
        replace are left out inside that scan)."""
        query = self.Profile.sudo()._aggregate_sql([self.company.id], self.today)
        self.assertIn("FROM sale_order so", query.code)
        self.assertEqual(query.code.count("FROM crm_lead"), 1)
