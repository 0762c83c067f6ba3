from odoo import models


class CrmRetentionDealMixin(models.AbstractModel):
    """A document that is a customer's purchase (a sale order, an invoice, a
    point of sale order), for the deal source bridges.

    Writing one of ``_retention_deal_fields`` refreshes the customers of the
    documents that count before and after the write, at once and one refresh
    per company (``crm.customer.profile._recompute_customers``), as a won
    opportunity does. A bridge inherits it next to its model and says which
    documents count (``_retention_counts``)::

        class SaleOrder(models.Model):
            _name = "sale.order"
            _inherit = ["sale.order", "crm.retention.deal.mixin"]
            _retention_deal_fields = {"state", "date_order", "partner_id"}

            def _retention_counts(self):
                return self.state == "sale"
    """

    _name = "crm.retention.deal.mixin"
    _description = "Customer Purchase Document"

    # fields whose change moves the document's deal
    _retention_deal_fields = frozenset()

    def write(self, vals):
        if not self._retention_deal_fields & vals.keys():
            return super().write(vals)
        before = self._retention_keys()
        result = super().write(vals)
        self.env["crm.customer.profile"].sudo()._recompute_customers(
            before | self._retention_keys()
        )
        return result

    def _retention_keys(self):
        """(commercial partner id, company) of these documents that count:
        the customers whose purchases they are."""
        return {
            (record.partner_id.commercial_partner_id.id, record.company_id)
            for record in self.sudo()
            if record.partner_id and record.company_id and record._retention_counts()
        }

    def _retention_counts(self):
        """Whether this document (one record) is a purchase now."""
        return False
