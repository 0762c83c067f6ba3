from odoo import api, models
from odoo.tools import SQL

# the states of a sale order that is a purchase ("done": locked orders of
# databases migrated from before Odoo 17)
CONFIRMED = ["sale", "done"]


class CrmCustomerProfile(models.Model):
    _inherit = "crm.customer.profile"

    @api.model
    def _lead_deal_condition_sql(self, company_ids):
        """A won opportunity with a confirmed order of its own is no deal
        where orders count: its orders are (the same purchase, recorded
        twice). Where invoices count instead of orders, it is none once an
        invoice made from such an order is posted: the invoice is (until
        then the opportunity counts, so the purchase is never missing). The
        link comes with ``sale_crm``, installed with CRM and Sales."""
        condition = super()._lead_deal_condition_sql(company_ids)
        if "opportunity_id" not in self.env["sale.order"]._fields:
            return condition
        orders = self._deal_companies(company_ids, "retention_count_sale_orders")
        invoices = sorted(
            set(self._deal_companies(company_ids, "retention_count_invoices")) - set(orders)
        )
        replaced = []
        if orders:
            replaced.append(
                SQL(
                    """SELECT o.opportunity_id FROM sale_order o
                        WHERE o.opportunity_id IS NOT NULL
                          AND o.state = ANY(%s) AND o.company_id = ANY(%s)""",
                    CONFIRMED,
                    orders,
                )
            )
        if invoices:
            replaced.append(
                SQL(
                    """SELECT o.opportunity_id FROM sale_order o
                         JOIN sale_order_line sol ON sol.order_id = o.id
                         JOIN sale_order_line_invoice_rel rel ON rel.order_line_id = sol.id
                         JOIN account_move_line aml ON aml.id = rel.invoice_line_id
                         JOIN account_move am ON am.id = aml.move_id
                        WHERE o.opportunity_id IS NOT NULL
                          AND o.state = ANY(%s) AND o.company_id = ANY(%s)
                          AND am.state = 'posted' AND am.move_type = 'out_invoice'""",
                    CONFIRMED,
                    invoices,
                )
            )
        if not replaced:
            return condition
        # NOT IN over a sub-select without NULLs: one hashed set of the
        # orders' opportunities, probed per lead (a correlated NOT EXISTS
        # costs a lookup per won lead of the company)
        return SQL(
            "%s AND l.id NOT IN (%s)",
            condition,
            SQL(" UNION ALL ").join(replaced),
        )

    @api.model
    def _deal_tables(self):
        """The nightly run re-reads the customers of the confirmed sale orders
        created since the last run (see ``crm_retention``'s ``_run_frame``)."""
        return {**super()._deal_tables(), "sale_order": SQL("t.state = ANY(%s)", CONFIRMED)}

    @api.model
    def _other_deal_sources_sql(self, company_ids, partner_ids=None):
        """Confirmed sale orders of the companies that count them
        (``res.company.retention_count_sale_orders``): dated at the order
        date, worth the untaxed amount in the order's currency, sold by the
        order's salesperson and team through its UTM medium, for the order
        partner's commercial partner. A cancelled order drops out."""
        sources = super()._other_deal_sources_sql(company_ids, partner_ids)
        companies = self._deal_companies(company_ids, "retention_count_sale_orders")
        if not companies:
            return sources
        partner_filter = self._customer_filter_sql("p", partner_ids)
        orders = SQL(
            """
            SELECT p.commercial_partner_id AS partner_id, so.company_id,
                   so.date_order::date AS deal_date, COALESCE(so.amount_untaxed, 0) AS amount,
                   so.currency_id, so.user_id, so.team_id, so.medium_id,
                   'sale.order'::varchar AS origin_model, so.id AS origin_id
              FROM sale_order so
              JOIN res_partner p ON p.id = so.partner_id
             WHERE so.state = ANY(%(confirmed)s) AND so.company_id = ANY(%(companies)s)
               %(partner_filter)s
            """,
            confirmed=CONFIRMED,
            companies=companies,
            partner_filter=partner_filter,
        )
        return [*sources, orders]
