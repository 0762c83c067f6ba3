from datetime import timedelta

from odoo import fields
from odoo.addons.crm_retention.tests.common import RetentionCase, foreign_currency
from odoo.tests import new_test_user, tagged


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

    def test_a_posted_order_still_counts(self):
        """Closing the session posts the shop's orders (``done``): still
        purchases."""
        order = self._order(self.customer, 45.0, days_ago=2)
        order.write({"state": "done"})
        profile = self._profile(self.customer)
        self.assertEqual((profile.won_count, profile.won_revenue), (1, 45.0))

    def _ui_order(self, partner, amount, ref):
        """An order as a till sends it to ``sync_from_ui``, paid."""
        return {
            "uuid": f"retention-{ref}",
            "name": f"Order {ref}",
            "session_id": self.session.id,
            "partner_id": partner.id,
            "company_id": self.company.id,
            "user_id": self.cashier.id,
            "sequence_number": ref,
            "date_order": fields.Datetime.to_string(fields.Datetime.now()),
            "lines": [
                (0, 0, {
                    "product_id": self.product.id, "qty": 1, "price_unit": amount,
                    "price_subtotal": amount, "price_subtotal_incl": amount, "discount": 0,
                    "tax_ids": [],
                })
            ],
            "payment_ids": [
                (0, 0, {"payment_method_id": self.config.payment_method_ids[:1].id,
                        "amount": amount})
            ],
            "amount_paid": amount,
            "amount_total": amount,
            "amount_tax": 0,
            "amount_return": 0,
            "state": "paid",
            "to_invoice": False,
        }  # fmt: skip

    def test_a_till_syncing_many_orders_refreshes_once(self):
        """A till back online syncs its orders one by one: their customers
        are refreshed once at the end, not once per order."""
        self.cashier = new_test_user(
            self.env,
            login="ret_cashier",
            groups="base.group_user,point_of_sale.group_pos_user",
            company_id=self.company.id,
            company_ids=[self.company.id],
        )
        self.session.action_pos_session_open()
        Order = self.env["pos.order"].with_user(self.cashier).with_company(self.company)

        def sync(orders):
            before = self._profile_writes()
            Order.sync_from_ui(orders)
            return self._profile_writes() - before

        one = sync([self._ui_order(self.customer, 12.0, 1)])
        regular = self._customer("Regular Cafe")
        four = sync([self._ui_order(regular, 10.0 * k, 10 + k) for k in range(1, 5)])
        self.assertEqual(four, one, "four orders of one customer: as many profile writes as one")
        profile = self._profile(regular)
        self.assertEqual((profile.won_count, profile.deal_days, profile.won_revenue), (4, 1, 100.0))

    def test_a_shop_selling_in_another_currency(self):
        """A shop whose journal is in another currency: its sales count in
        the company's, at the day's rate."""
        other = foreign_currency(self.company, {self.today - timedelta(days=30): 0.5})
        self.config.journal_id.currency_id = other
        self._order(self.customer, 40.0, days_ago=1)
        self.assertAlmostEqual(self._profile(self.customer).won_revenue, 80.0, places=2)
