import pandas as pd

from odoo import api, fields, models
from odoo.models import parse_read_group_spec
from odoo.tools import SQL

from ..lib import cohort


class CrmKpiCohort(models.Model):
    """Cohort retention rows, stored so the stock pivot shows and exports them.

    One row per (company, salesperson, team, cohort month, months since):
    the customers whose first won deal fell in the cohort month and, of
    them, those who bought again ``months_since`` months later. Computed by
    ``lib.cohort`` (pandas) from ``crm.customer.profile._deal_rows_sql``
    and rewritten per company by ``_refresh`` (daily cron, "Refresh" button).
    The retention share of a group is sum(buying) / sum(cohort size).
    """

    _name = "crm.kpi.cohort"
    _description = "Cohort Retention"
    _order = "cohort_month desc, months_since"
    _log_access = False

    company_id = fields.Many2one("res.company", required=True, index=True, readonly=True)
    user_id = fields.Many2one("res.users", string="Salesperson", readonly=True)
    team_id = fields.Many2one("crm.team", string="Sales Team", readonly=True)
    cohort_month = fields.Date(
        readonly=True, help="Month of the customers' first won deal (its first day)."
    )
    months_since = fields.Integer("Months Since First Deal", readonly=True, aggregator=False)
    cohort_size = fields.Integer(
        "Customers in Cohort", readonly=True, help="Customers whose first won deal is in the month."
    )
    buying_count = fields.Integer(
        "Still Buying", readonly=True, help="Of them, customers with a won deal that month."
    )
    retention_rate = fields.Float(
        "Share Still Buying (%)",
        readonly=True,
        help="Still buying / customers in cohort x 100 (over several months: the average).",
    )

    @api.model
    def _read_group_select(self, aggregate_spec, query):
        if aggregate_spec != "__count":
            fname, __, __ = parse_read_group_spec(aggregate_spec)
            if fname == "retention_rate":
                return SQL(
                    "(100.0 * sum(%s) / NULLIF(sum(%s), 0))::float",
                    self._field_to_sql(self._table, "buying_count", query),
                    self._field_to_sql(self._table, "cohort_size", query),
                )
        return super()._read_group_select(aggregate_spec, query)

    @api.model
    def _refresh(self, companies=None, as_of=None):
        """Recompute the cohort rows of ``companies`` (all by default) as of
        ``as_of`` (default today); each company in one transaction."""
        companies = companies or self.env["res.company"].sudo().search([])
        as_of = as_of or fields.Date.context_today(self)
        self.env.flush_all()
        cr = self.env.cr
        for company in companies:
            source = self.env["crm.customer.profile"]._deal_rows_sql([company.id])
            # why SQL: every won deal of the company, with the customer's slice
            # (0 = no salesperson / team: integer keys for the pandas group-by)
            cr.execute(
                SQL(
                    """
                    SELECT d.partner_id, d.deal_date,
                           COALESCE(pr.user_id, rp.user_id, 0) AS user_id,
                           COALESCE(tm.crm_team_id, 0) AS team_id
                      FROM (%(source)s) d
                      JOIN res_partner rp ON rp.id = d.partner_id
                      LEFT JOIN crm_customer_profile pr
                             ON pr.partner_id = d.partner_id AND pr.company_id = %(company)s
                      LEFT JOIN (%(teams)s) tm
                             ON tm.user_id = COALESCE(pr.user_id, rp.user_id)
                     WHERE d.amount >= 0
                    """,
                    source=source,
                    company=company.id,
                    teams=self.env["crm.kpi.snapshot"]._teams_sql(company),
                )
            )
            deals = pd.DataFrame(
                cr.fetchall(), columns=["partner_id", "deal_date", "user_id", "team_id"]
            )
            rows = cohort.cohort_rows(deals, as_of, keys=["user_id", "team_id"])
            cr.execute(SQL("DELETE FROM crm_kpi_cohort WHERE company_id = %s", company.id))
            if len(rows):
                cr.execute(
                    SQL(
                        """
                        INSERT INTO crm_kpi_cohort (company_id, user_id, team_id, cohort_month,
                               months_since, cohort_size, buying_count, retention_rate)
                        SELECT %s, NULLIF(u, 0), NULLIF(t, 0), c, m, s, b, 0
                          FROM unnest(%s::int[], %s::int[], %s::date[], %s::int[], %s::int[],
                                      %s::int[]) AS x(u, t, c, m, s, b)
                        """,
                        company.id,
                        rows["user_id"].astype(int).tolist(),
                        rows["team_id"].astype(int).tolist(),
                        rows["cohort_month"].tolist(),
                        rows["months_since"].astype(int).tolist(),
                        rows["cohort_size"].astype(int).tolist(),
                        rows["buying_count"].astype(int).tolist(),
                    )
                )
        self.invalidate_model()
        return True
