from odoo import api, models

from .crm_customer_profile import CONFIRMED


class SaleOrder(models.Model):
    """Confirming, cancelling or moving an order refreshes its customer at
    once (see ``crm.retention.deal.mixin``), and so does a change of the
    lines of a confirmed order (``sale.order.line`` below)."""

    _name = "sale.order"
    _inherit = ["sale.order", "crm.retention.deal.mixin"]
    # opportunity_id (sale_crm): a won opportunity with a confirmed order
    # is no deal of its own (the order is)
    _retention_deal_fields = frozenset(
        {
            "state",
            "date_order",
            "partner_id",
            "company_id",
            "currency_id",
            "user_id",
            "opportunity_id",
        }
    )

    def _retention_counts(self):
        return self.state in CONFIRMED

    def write(self, vals):
        """One save of an order's lines (each line is written on its own):
        its customer is refreshed once, not once per line."""
        if "order_line" not in vals:
            return super().write(vals)
        with self._retention_batched():
            return super().write(vals)

    def _retention_keys(self):
        """The orders' customers, and those of the opportunities of the
        confirmed ones: confirming, cancelling or linking an order takes its
        opportunity out of (or back into) the opportunity's customer's
        deals, whoever that customer is."""
        keys = super()._retention_keys()
        if "opportunity_id" in self._fields:
            counted = self.sudo().filtered(lambda order: order._retention_counts())
            keys |= counted.opportunity_id._retention_keys()
        return keys


class SaleOrderLine(models.Model):
    """A confirmed order whose amount changes (a line added or removed, its
    quantity, unit, packaging, price, discount, product or taxes changed)
    refreshes its customer at once, as the order itself does: the nightly
    recompute reads the stored aggregates of the customers whose orders did
    not change (``crm_retention``'s ``_run_frame``), so it must hear of this
    one."""

    _inherit = "sale.order.line"

    _retention_amount_fields = frozenset(
        {
            "product_uom_qty",
            "product_uom",
            "product_packaging_qty",
            "product_packaging_id",
            "price_unit",
            "discount",
            "tax_id",
            "product_id",
            "display_type",
        }
    )

    @api.model_create_multi
    def create(self, vals_list):
        lines = super().create(vals_list)
        lines.order_id._retention_refresh(lines.order_id._retention_keys())
        return lines

    def write(self, vals):
        if not self._retention_amount_fields & vals.keys():
            return super().write(vals)
        orders = self.order_id
        result = super().write(vals)
        orders._retention_refresh(orders._retention_keys())
        return result

    def unlink(self):
        orders = self.order_id
        result = super().unlink()
        orders = orders.exists()
        orders._retention_refresh(orders._retention_keys())
        return result
