from odoo import models

from .crm_customer_profile import MOVE_TYPES


class AccountMove(models.Model):
    """Posting, resetting to draft, cancelling or moving a customer invoice
    refreshes its customer at once (see ``crm.retention.deal.mixin``)."""

    _name = "account.move"
    _inherit = ["account.move", "crm.retention.deal.mixin"]
    _retention_deal_fields = frozenset(
        {"state", "invoice_date", "partner_id", "company_id", "currency_id", "move_type"}
    )

    def _retention_counts(self):
        return self.state == "posted" and self.move_type in MOVE_TYPES
