from datetime import timedelta

from odoo import fields
from odoo.addons.crm_retention.tests.common import RetentionCase
from odoo.tests import tagged


@tagged("post_install", "-at_install")
class TestPosSource(RetentionCase):
    """Paid point of sale orders with a customer are purchases; anonymous
    sales are nobody's; an order's invoice does not count it twice."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["account.chart.template"].try_loading("generic_coa", company=cls.company)
        cls.env["stock.warehouse"].create(
            {"name": "Shop", "code": "SHP", "company_id": cls.company.id}
        )
        Company = cls.env["pos.config"].with_company(cls.company)
        cls.config = Company.create({"name": "Front shop"})
        cls.session = (
            cls.env["pos.session"]
            .with_company(cls.company)
            .create({"config_id": cls.config.id, "user_id": cls.env.ref("base.user_admin").id})
        )
        cls.product = cls.env["product.product"].create(
            {"name": "Coffee beans", "available_in_pos": True, "list_price": 10.0}
        )
        cls.today = fields.Date.context_today(cls.env["res.partner"])
        cls.customer = cls._customer("Corner Cafe")

    def _order(self, partner, amount, days_ago=0, tax=0.0, pay=True):
        order = (
            self.env["pos.order"]
            .with_company(self.company)
            .create(
                {
                    "session_id": self.session.id,
                    "partner_id": partner.id if partner else False,
                    "company_id": self.company.id,
                    "lines": [
                        (0, 0, {
                            "product_id": self.product.id, "qty": 1, "price_unit": amount,
                            "price_subtotal": amount, "price_subtotal_incl": amount + tax,
                        })
                    ],
                    "amount_tax": tax,
                    "amount_total": amount + tax,
                    "amount_paid": 0,
                    "amount_return": 0,
                }
            )
        )  # fmt: skip
        order.date_order = fields.Datetime.now() - timedelta(days=days_ago)
        if pay:
            order.write({"state": "paid", "amount_paid": amount + tax})
        return order

    def test_paid_orders_with_a_customer_are_purchases(self):
        self._order(self.customer, 30.0, days_ago=50, tax=6.0)
        self._order(self.customer, 20.0, days_ago=10)
        self._order(self.customer, 99.0, pay=False)  # still open at the till
        self._order(False, 500.0)  # an anonymous sale
        profile = self._profile(self.customer)
        self.assertEqual((profile.won_count, profile.won_revenue), (2, 50.0), "before taxes")
        self.assertEqual(profile.last_deal_date, self.today - timedelta(days=10))
        self.assertEqual(
            self.Profile.sudo().search_count([("company_id", "=", self.company.id)]), 1
        )

    def test_a_refund_comes_off(self):
        self._order(self.customer, 40.0, days_ago=20)
        self._order(self.customer, -15.0, days_ago=5)
        profile = self._profile(self.customer)
        self.assertEqual((profile.won_count, profile.won_revenue), (1, 25.0), "40 - 15")
        # a paid order cannot be cancelled in a shop: one left open never counted
        self._order(self.customer, 60.0, pay=False).write({"state": "cancel"})
        self.assertEqual((profile.won_count, profile.won_revenue), (1, 25.0))

    def test_an_invoiced_order_counts_once(self):
        order = self._order(self.customer, 70.0, days_ago=3)
        invoice = (
            self.env["account.move"]
            .with_company(self.company)
            .create(
                {
                    "move_type": "out_invoice",
                    "partner_id": self.customer.id,
                    "invoice_date": self.today - timedelta(days=3),
                    "invoice_line_ids": [
                        (0, 0, {"product_id": self.product.id, "price_unit": 70.0, "tax_ids": []})
                    ],
                }
            )
        )
        order.write({"account_move": invoice.id, "state": "invoiced"})
        invoice.action_post()
        profile = self._profile(self.customer)
        self.assertEqual((profile.won_count, profile.won_revenue), (1, 70.0), "the order only")

    def test_a_company_that_does_not_count_its_shop(self):
        self.company.retention_count_pos_orders = False
        self._order(self.customer, 30.0)
        self.assertFalse(self._profile(self.customer).won_count)
