from odoo import models

from .crm_customer_profile import CONFIRMED

# fields of an order that move its deal (its amount follows its lines and is
# picked up by the nightly recompute)
DEAL_FIELDS = {"state", "date_order", "partner_id", "company_id", "currency_id", "user_id"}


class SaleOrder(models.Model):
    _inherit = "sale.order"

    def write(self, vals):
        """Confirming, cancelling or moving an order refreshes its customer's
        profile at once (before and after the change), as a won opportunity
        does: one refresh per company for all the orders written."""
        if not DEAL_FIELDS & vals.keys():
            return super().write(vals)
        before = self._retention_keys()
        result = super().write(vals)
        self.env["crm.customer.profile"].sudo()._recompute_customers(
            before | self._retention_keys()
        )
        return result

    def _retention_keys(self):
        """(commercial partner id, company) of these orders that are
        confirmed: the customers whose purchases they are (a quotation's
        edits refresh nobody)."""
        return {
            (order.partner_id.commercial_partner_id.id, order.company_id)
            for order in self.sudo()
            if order.state in CONFIRMED and order.partner_id and order.company_id
        }
