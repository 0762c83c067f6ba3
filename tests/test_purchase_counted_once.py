"""The same purchase recorded as a won opportunity, its confirmed sale order
and the invoice made from that order counts once, under the default
settings of a company that has CRM, Sales and Invoicing."""

from datetime import timedelta

from odoo import fields
from odoo.addons.crm_retention.tests.common import RetentionCase
from odoo.tests import tagged


@tagged("post_install", "-at_install")
class TestPurchaseCountedOnce(RetentionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["account.chart.template"].try_loading("generic_coa", company=cls.company)
        cls.product = cls.env["product.product"].create(
            {"name": "Roaster", "type": "consu", "invoice_policy": "order"}
        )
        cls.today = fields.Date.context_today(cls.env["res.partner"])

    def _purchase(self, customer, invoice=True):
        """A won opportunity, its confirmed order and (``invoice``) the
        order's invoice, posted today."""
        lead = self._deal(customer, 20, amount=1200.0)
        order = (
            self.env["sale.order"]
            .with_company(self.company)
            .create(
                {
                    "partner_id": customer.id,
                    "company_id": self.company.id,
                    "opportunity_id": lead.id,
                    "order_line": [
                        (0, 0, {"product_id": self.product.id, "price_unit": 1250.0, "tax_id": []})
                    ],
                }
            )
        )
        order.action_confirm()
        if not invoice:
            return order
        invoice = order._create_invoices()
        invoice.invoice_date = self.today
        invoice.action_post()
        self.assertEqual(invoice.state, "posted")
        return order

    def test_opportunity_order_and_invoice_count_once(self):
        customer = self._customer("Once Ltd", user_id=self.salesman.id)
        self._purchase(customer)
        # a manual invoice, not from an order, is a purchase of its own
        manual = (
            self.env["account.move"]
            .with_company(self.company)
            .create(
                {
                    "move_type": "out_invoice",
                    "partner_id": customer.id,
                    "invoice_date": self.today - timedelta(days=3),
                    "invoice_line_ids": [
                        (0, 0, {"product_id": self.product.id, "price_unit": 80.0, "tax_ids": []})
                    ],
                }
            )
        )
        manual.action_post()
        profile = self._profile(customer)
        self.assertEqual(
            (profile.won_count, profile.won_revenue),
            (2, 1330.0),
            "the order (not the opportunity nor its invoice) and the manual invoice",
        )

    def test_counted_once_as_the_invoice_where_invoices_count_instead_of_orders(self):
        """The settings' other choice (count invoices rather than orders):
        the same purchase is its invoice alone, the opportunity no more
        than the order."""
        self.company.retention_count_sale_orders = False
        customer = self._customer("Invoiced Ltd", user_id=self.salesman.id)
        order = self._purchase(customer, invoice=False)
        profile = self._profile(customer)
        self.assertEqual(
            (profile.won_count, profile.last_deal_date),
            (1, self.today - timedelta(days=20)),
            "not invoiced yet: the opportunity still counts, the purchase is never missing",
        )
        invoice = order._create_invoices()
        invoice.invoice_date = self.today
        invoice.action_post()
        self.assertEqual((profile.won_count, profile.won_revenue), (1, 1250.0), "the invoice")
        self.assertEqual(profile.last_deal_date, self.today, "dated at the invoice")
        # its credit note takes it back
        order.invoice_ids._reverse_moves(cancel=True)
        self.assertEqual(profile.won_revenue, 0.0)
