from odoo import models

from .crm_customer_profile import MOVE_TYPES

# fields of an invoice that move its deal
DEAL_FIELDS = {"state", "invoice_date", "partner_id", "company_id", "currency_id", "move_type"}


class AccountMove(models.Model):
    _inherit = "account.move"

    def write(self, vals):
        """Posting, resetting to draft, cancelling or moving a customer
        invoice refreshes its customer's profile at once (before and after
        the change): one refresh per company for all the invoices written."""
        if not DEAL_FIELDS & vals.keys():
            return super().write(vals)
        before = self._retention_keys()
        result = super().write(vals)
        self.env["crm.customer.profile"].sudo()._recompute_customers(
            before | self._retention_keys()
        )
        return result

    def _retention_keys(self):
        """(commercial partner id, company) of the posted customer invoices
        and credit notes among these moves."""
        return {
            (move.partner_id.commercial_partner_id.id, move.company_id)
            for move in self.sudo()
            if move.state == "posted" and move.move_type in MOVE_TYPES and move.partner_id
        }
