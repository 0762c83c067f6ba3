from odoo import models

from .crm_customer_profile import CONFIRMED


class SaleOrder(models.Model):
    """Confirming, cancelling or moving an order refreshes its customer at
    once (see ``crm.retention.deal.mixin``); a change of its lines is picked
    up by the nightly recompute."""

    _name = "sale.order"
    _inherit = ["sale.order", "crm.retention.deal.mixin"]
    _retention_deal_fields = frozenset(
        {"state", "date_order", "partner_id", "company_id", "currency_id", "user_id"}
    )

    def _retention_counts(self):
        return self.state in CONFIRMED
