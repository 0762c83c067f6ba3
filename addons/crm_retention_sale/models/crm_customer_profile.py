from odoo import api, models
from odoo.tools import SQL

# the states of a sale order that is a purchase ("done": locked orders of
# databases migrated from before Odoo 17)
CONFIRMED = ["sale", "done"]


class CrmCustomerProfile(models.Model):
    _inherit = "crm.customer.profile"

    @api.model
    def _deal_source_sql(self, company_ids, partner_ids=None):
        """Confirmed sale orders of the companies that count them
        (``res.company.retention_count_sale_orders``): dated at the order
        date, worth the untaxed amount in the order's currency, sold by the
        order's salesperson and team through its UTM medium, for the order
        partner's commercial partner. A won opportunity with a confirmed
        order of its own counts as its orders instead (the same purchase,
        recorded twice; the link comes with ``sale_crm``, installed with CRM
        and Sales). A cancelled order drops out."""
        source = super()._deal_source_sql(company_ids, partner_ids)
        companies = self._deal_companies(company_ids, "retention_count_sale_orders")
        if not companies:
            return source
        partner_filter = (
            SQL("AND p.commercial_partner_id = ANY(%s)", list(partner_ids))
            if partner_ids is not None
            else SQL()
        )
        if "opportunity_id" in self.env["sale.order"]._fields:
            # with sale_crm, an order knows its opportunity
            source = SQL(
                """
                SELECT * FROM (%(source)s) other
                 WHERE other.origin_model IS DISTINCT FROM 'crm.lead'
                    OR NOT EXISTS (
                        SELECT 1 FROM sale_order o
                         WHERE o.opportunity_id = other.origin_id
                           AND o.state = ANY(%(confirmed)s) AND o.company_id = ANY(%(companies)s))
                """,
                source=source,
                confirmed=CONFIRMED,
                companies=companies,
            )
        return SQL(
            """
            %(source)s
            UNION ALL
            SELECT p.commercial_partner_id AS partner_id, so.company_id,
                   so.date_order::date AS deal_date, COALESCE(so.amount_untaxed, 0) AS amount,
                   so.currency_id, so.user_id, so.team_id, so.medium_id,
                   'sale.order'::varchar AS origin_model, so.id AS origin_id
              FROM sale_order so
              JOIN res_partner p ON p.id = so.partner_id
             WHERE so.state = ANY(%(confirmed)s) AND so.company_id = ANY(%(companies)s)
               %(partner_filter)s
            """,
            source=source,
            confirmed=CONFIRMED,
            companies=companies,
            partner_filter=partner_filter,
        )
