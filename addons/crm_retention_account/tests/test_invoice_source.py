from datetime import timedelta

from odoo import fields
from odoo.addons.crm_retention.tests.common import RetentionCase, foreign_currency
from odoo.exceptions import UserError
from odoo.tests import new_test_user, tagged


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
        cls.billing = new_test_user(
            cls.env,
            login="ret_billing",
            groups="account.group_account_invoice",
            company_id=cls.company.id,
            company_ids=[cls.company.id],
            name="Bill Billing",
        )

    def _move(self, partner, days_ago, amount, move_type="out_invoice", post=True, **vals):
        move = (
            self.env["account.move"]
            .with_user(self.billing)
            .with_company(self.company)
            .create(
                {
                    "move_type": move_type,
                    "partner_id": partner.id if partner else False,
                    "invoice_date": self.today - timedelta(days=days_ago),
                    "invoice_line_ids": [
                        (0, 0, {"product_id": self.product.id, "price_unit": amount, "tax_ids": []})
                    ],
                    **vals,
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

    def test_an_invoice_without_a_customer_is_nobodys(self):
        """A customer invoice needs a customer to be posted; one that lost
        it in the database (old data loaded in SQL) is nobody's purchase,
        and the nightly run goes on."""
        draft = self._move(False, 10, 500.0, post=False)
        with self.assertRaises(UserError):
            draft.action_post()
        self._move(self.customer, 30, 300.0)
        orphan = self._move(self.customer, 20, 900.0)
        self.assertEqual(self._profile(self.customer).won_revenue, 1200.0)
        self.env.flush_all()
        self.env.cr.execute("UPDATE account_move SET partner_id = NULL WHERE id = %s", [orphan.id])
        self.env.invalidate_all()
        self._recompute(full=True)
        profile = self._profile(self.customer)
        self.assertEqual((profile.won_count, profile.won_revenue), (1, 300.0))
        self.assertEqual(
            self.Profile.sudo().search_count([("company_id", "=", self.company.id)]), 1
        )

    def test_a_credit_note_made_by_reversing_the_invoice(self):
        """The billing user reverses an invoice with Odoo's Credit Note
        wizard and posts the credit note: the revenue comes off on the
        credit note's date, the purchase stays a purchase."""
        invoice = self._move(self.customer, 30, 1000.0)
        self._move(self.customer, 90, 250.0)
        wizard = (
            self.env["account.move.reversal"]
            .with_user(self.billing)
            .with_context(active_model="account.move", active_ids=invoice.ids)
            .create({"reason": "Damaged goods", "journal_id": invoice.journal_id.id})
        )
        credit_note = self.env["account.move"].browse(wizard.refund_moves()["res_id"])
        self.assertEqual(self._profile(self.customer).won_revenue, 1250.0, "a draft: not yet")
        credit_note.with_user(self.billing).action_post()
        profile = self._profile(self.customer)
        self.assertEqual((profile.won_count, profile.won_revenue), (2, 250.0))
        self.assertEqual(profile.last_deal_date, self.today - timedelta(days=30))

    def test_an_invoice_reset_to_draft_after_the_nightly_run(self):
        """Reset to draft the day after the nightly run: the next night,
        which reads only the customers that changed, leaves it out as a
        night reading every invoice does."""
        self._move(self.customer, 60, 400.0)
        late = self._move(self.customer, 3, 600.0)
        self._recompute()
        self.assertEqual(self._profile(self.customer).won_revenue, 1000.0)
        late.with_user(self.billing).button_draft()
        Profile = self.Profile.sudo()
        Profile._recompute_company(self.company, today=self.today + timedelta(days=1))
        model = self.env["crm.retention.model"].sudo()._get_for_company(self.company)
        self.assertEqual(model.run_aggregate, "incremental")
        profile = self._profile(self.customer)
        expected = (1, 400.0, self.today - timedelta(days=60))
        self.assertEqual((profile.won_count, profile.won_revenue, profile.last_deal_date), expected)
        Profile._recompute_company(self.company, today=self.today + timedelta(days=1), full=True)
        self.assertEqual((profile.won_count, profile.won_revenue, profile.last_deal_date), expected)

    def test_an_invoice_in_another_currency_counts_at_its_dates_rate(self):
        day = self.today - timedelta(days=12)
        other = foreign_currency(self.company, {day - timedelta(days=30): 0.5})
        self._move(self.customer, 12, 400.0, currency_id=other.id)
        self.assertAlmostEqual(self._profile(self.customer).won_revenue, 800.0, places=2)
