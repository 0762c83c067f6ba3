from odoo import api, models
from odoo.tools import SQL

# customer invoices and credit notes (a credit note is a negative purchase)
MOVE_TYPES = ["out_invoice", "out_refund"]


class CrmCustomerProfile(models.Model):
    _inherit = "crm.customer.profile"

    @api.model
    def _deal_tables(self):
        """The nightly run re-reads the customers of the posted customer invoices and credit notes
        created since the last run (see ``crm_retention``'s ``_run_frame``)."""
        return {
            **super()._deal_tables(),
            "account_move": SQL("t.state = 'posted' AND t.move_type = ANY(%s)", MOVE_TYPES),
        }

    @api.model
    def _other_deal_sources_sql(self, company_ids, partner_ids=None):
        """Posted customer invoices of the companies that count them
        (``res.company.retention_count_invoices``), less posted credit
        notes (a negative purchase on their date): dated at the invoice
        date, worth the untaxed amount in the invoice's currency, for the
        invoice partner's commercial partner. An invoice back to draft or
        cancelled drops out. Never twice: an invoice with a line made from a
        sale order does not count where sale orders do
        (``crm_retention_sale``), nor one made from a point of sale order
        where those do."""
        sources = super()._other_deal_sources_sql(company_ids, partner_ids)
        companies = self._deal_companies(company_ids, "retention_count_invoices")
        if not companies:
            return sources
        Move = self.env["account.move"]
        exclusions = []
        if "sale_line_ids" in self.env["account.move.line"]._fields:
            orders_count = self._deal_companies(company_ids, "retention_count_sale_orders")
            if orders_count:
                exclusions.append(
                    SQL(
                        """AND NOT (am.company_id = ANY(%s) AND EXISTS (
                            SELECT 1 FROM account_move_line aml
                              JOIN sale_order_line_invoice_rel rel
                                ON rel.invoice_line_id = aml.id
                             WHERE aml.move_id = am.id))""",
                        orders_count,
                    )
                )
        if "pos.order" in self.env:
            pos_count = self._deal_companies(company_ids, "retention_count_pos_orders")
            if pos_count:
                exclusions.append(
                    SQL(
                        """AND NOT (am.company_id = ANY(%s) AND EXISTS (
                            SELECT 1 FROM pos_order po WHERE po.account_move = am.id))""",
                        pos_count,
                    )
                )

        def column(name):
            # the team and the medium of an invoice come with Sales
            return SQL.identifier("am", name) if name in Move._fields else SQL("NULL::integer")

        partner_filter = self._customer_filter_sql("p", partner_ids)
        rows = SQL(
            """
            SELECT p.commercial_partner_id AS partner_id, am.company_id,
                   am.invoice_date AS deal_date,
                   CASE WHEN am.move_type = 'out_refund' THEN -1 ELSE 1 END
                       * COALESCE(am.amount_untaxed, 0) AS amount,
                   am.currency_id, am.invoice_user_id AS user_id, %(team)s AS team_id,
                   %(medium)s AS medium_id, 'account.move'::varchar AS origin_model,
                   am.id AS origin_id
              FROM account_move am
              JOIN res_partner p ON p.id = am.partner_id
             WHERE am.state = 'posted' AND am.move_type = ANY(%(types)s)
               AND am.invoice_date IS NOT NULL AND am.company_id = ANY(%(companies)s)
               %(partner_filter)s %(exclusions)s
            """,
            team=column("team_id"),
            medium=column("medium_id"),
            types=MOVE_TYPES,
            companies=companies,
            partner_filter=partner_filter,
            exclusions=SQL(" ").join(exclusions),
        )
        return [*sources, rows]
