from odoo import models

from .crm_customer_profile import PAID


class PosOrder(models.Model):
    """Paying or moving a shop order refreshes its customer at once, one
    refresh per company when a session syncs many (see
    ``crm.retention.deal.mixin``)."""

    _name = "pos.order"
    _inherit = ["pos.order", "crm.retention.deal.mixin"]
    _retention_deal_fields = frozenset({"state", "date_order", "partner_id", "company_id"})

    def _retention_counts(self):
        return self.state in PAID
