from odoo import api, models

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

    @api.model
    def sync_from_ui(self, orders):
        """A till syncs its orders one by one (each created, then paid):
        their customers are refreshed once, at the end of the sync."""
        with self._retention_batched():
            return super().sync_from_ui(orders)
