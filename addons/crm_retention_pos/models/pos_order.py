from odoo import models

from .crm_customer_profile import PAID

# fields of an order that move its deal
DEAL_FIELDS = {"state", "date_order", "partner_id", "company_id"}


class PosOrder(models.Model):
    _inherit = "pos.order"

    def write(self, vals):
        """Paying, cancelling or moving an order refreshes its customer's
        profile at once (before and after the change): one refresh per
        company for all the orders written, as a session's sync writes
        many."""
        if not DEAL_FIELDS & vals.keys():
            return super().write(vals)
        before = self._retention_keys()
        result = super().write(vals)
        self.env["crm.customer.profile"].sudo()._recompute_customers(
            before | self._retention_keys()
        )
        return result

    def _retention_keys(self):
        """(commercial partner id, company) of these orders that are paid
        and have a customer."""
        return {
            (order.partner_id.commercial_partner_id.id, order.company_id)
            for order in self.sudo()
            if order.state in PAID and order.partner_id
        }
