from datetime import timedelta

from odoo import fields
from odoo.addons.crm_retention.tests.common import RetentionCase
from odoo.tests import tagged


@tagged("post_install", "-at_install")
class TestInvoiceSource(RetentionCase):
    """Posted customer invoices, less credit notes, are purchases; a draft
    or cancelled one is not, and the profile follows at once."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["account.chart.template"].try_loading("generic_coa", company=cls.company)
        cls.product = cls.env["product.product"].create({"name": "Consulting day"})
        cls.today = fields.Date.context_today(cls.env["res.partner"])
        cls.customer = cls._customer("Bakery Ltd", user_id=cls.salesman.id)

    def _move(self, partner, days_ago, amount, move_type="out_invoice", post=True):
        move = (
            self.env["account.move"]
            .with_company(self.company)
            .create(
                {
                    "move_type": move_type,
                    "partner_id": partner.id,
                    "invoice_date": self.today - timedelta(days=days_ago),
                    "invoice_line_ids": [
                        (0, 0, {"product_id": self.product.id, "price_unit": amount, "tax_ids": []})
                    ],
                }
            )
        )
        if post:
            move.action_post()
        return move

    def test_invoices_less_credit_notes(self):
        self._move(self.customer, 60, 1000.0)
        self._move(self.customer, 30, 300.0, move_type="out_refund")
        self._move(self.customer, 5, 4000.0, post=False)  # a draft
        profile = self._profile(self.customer)
        self.assertEqual(profile.won_revenue, 700.0, "1,000 invoiced, 300 credited")
        self.assertEqual(profile.won_count, 1, "a credit note is no purchase")
        self.assertEqual(profile.last_deal_date, self.today - timedelta(days=60))

    def test_a_credit_note_larger_than_the_invoice(self):
        self._move(self.customer, 40, 200.0)
        self._move(self.customer, 20, 500.0, move_type="out_refund")
        profile = self._profile(self.customer)
        self.assertEqual((profile.won_count, profile.won_revenue), (1, -300.0))
        self.assertGreaterEqual(profile.predicted_clv, 0, "no negative lifetime value")

    def test_an_invoice_reset_to_draft_drops_out_at_once(self):
        self._move(self.customer, 90, 400.0)
        late = self._move(self.customer, 10, 600.0)
        profile = self._profile(self.customer)
        self.assertEqual(profile.won_count, 2)
        late.button_draft()
        self.assertEqual((profile.won_count, profile.won_revenue), (1, 400.0))
        late.action_post()
        self.assertEqual(profile.won_count, 2)
        late.button_draft()
        late.button_cancel()
        self.assertEqual(profile.won_count, 1, "cancelled: no purchase")

    def test_a_company_that_does_not_count_invoices(self):
        self.company.retention_count_invoices = False
        self._move(self.customer, 15, 800.0)
        self.assertFalse(self._profile(self.customer).won_count)
