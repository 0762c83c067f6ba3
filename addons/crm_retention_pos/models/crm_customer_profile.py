from odoo import api, models
from odoo.tools import SQL

# a point of sale order is a purchase once paid (then posted in the session's
# closing, or invoiced)
PAID = ["paid", "done", "invoiced"]


class CrmCustomerProfile(models.Model):
    _inherit = "crm.customer.profile"

    @api.model
    def _deal_tables(self):
        """The nightly run re-reads the customers of the paid point of sale orders
        created since the last run (see ``crm_retention``'s ``_run_frame``)."""
        return {**super()._deal_tables(), "pos_order": SQL("t.state = ANY(%s)", PAID)}

    @api.model
    def _other_deal_sources_sql(self, company_ids, partner_ids=None):
        """Paid point of sale orders with a customer, of the companies that
        count them (``res.company.retention_count_pos_orders``): dated at
        the order, worth the total less taxes (a refund order is negative),
        in the currency of the shop's journal (the company's when it has
        none), sold by the cashier, for the customer's commercial partner.
        Orders without a customer are anonymous sales: no customer's."""
        sources = super()._other_deal_sources_sql(company_ids, partner_ids)
        companies = self._deal_companies(company_ids, "retention_count_pos_orders")
        if not companies:
            return sources
        partner_filter = self._customer_filter_sql("p", partner_ids)
        rows = SQL(
            """
            SELECT p.commercial_partner_id AS partner_id, po.company_id,
                   po.date_order::date AS deal_date,
                   COALESCE(po.amount_total, 0) - COALESCE(po.amount_tax, 0) AS amount,
                   aj.currency_id, po.user_id, %(team)s AS team_id,
                   NULL::integer AS medium_id, 'pos.order'::varchar AS origin_model,
                   po.id AS origin_id
              FROM pos_order po
              JOIN res_partner p ON p.id = po.partner_id
              LEFT JOIN pos_config pc ON pc.id = po.config_id
              LEFT JOIN account_journal aj ON aj.id = pc.journal_id
             WHERE po.state = ANY(%(paid)s) AND po.company_id = ANY(%(companies)s)
               %(partner_filter)s
            """,
            # a shop's sales team comes with pos_sale
            team=SQL("pc.crm_team_id")
            if "crm_team_id" in self.env["pos.config"]._fields
            else SQL("NULL::integer"),
            paid=PAID,
            companies=companies,
            partner_filter=partner_filter,
        )
        return [*sources, rows]
