from odoo import api, fields, models
from odoo.models import parse_read_group_spec
from odoo.tools import SQL

from ..lib import cohort


class CrmKpiCohort(models.Model):
    """Cohort retention rows, stored so the stock pivot shows and exports them.

    One row per (company, salesperson, team, cohort month, months since):
    the customers whose first won deal fell in the cohort month and, of
    them, those who bought again ``months_since`` months later, and the
    cohort's revenue that month and so far (value by tenure). Computed by
    ``lib.cohort`` (pandas) from the deal days of
    ``crm.customer.profile._deal_days_sql`` (the suite's one deal source,
    amounts in the company currency at the deal date) and rewritten per
    company by ``_refresh`` (daily cron, "Refresh" button). The retention
    share of a group is sum(buying) / sum(cohort size), its revenue per
    customer sum(revenue) / sum(cohort size): every slice of a cell adds up.
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
    # value by tenure (amounts in the company currency at the deal date)
    currency_id = fields.Many2one(related="company_id.currency_id")
    revenue = fields.Monetary(
        "Cohort Revenue",
        readonly=True,
        help="Won deals of the cohort's customers in this month of tenure (refunds deducted), "
        "in the company currency at the deal date.",
    )
    cumulative_revenue = fields.Monetary(
        "Cohort Revenue So Far",
        readonly=True,
        help="Won deals of the cohort's customers from their first month up to this one.",
    )
    revenue_per_customer = fields.Monetary(
        "Revenue per Customer",
        readonly=True,
        help="Cohort revenue in the month / customers in cohort, every customer of the cohort "
        "counted (lost ones too). Read by cohort and months since: over several months it is "
        "their sum, over several cohorts their average weighted by size.",
    )
    cumulative_revenue_per_customer = fields.Monetary(
        "Value per Customer So Far",
        readonly=True,
        help="Cohort revenue up to this month of tenure / customers in cohort: what a customer "
        "of the cohort brought on average after this many months. Group by months since, "
        "not by month of deal.",
    )

    _RATIOS = {
        "retention_rate": ("buying_count", 100.0),
        "revenue_per_customer": ("revenue", 1.0),
        "cumulative_revenue_per_customer": ("cumulative_revenue", 1.0),
    }

    @api.model
    def _read_group_select(self, aggregate_spec, query):
        if aggregate_spec != "__count":
            fname, __, __ = parse_read_group_spec(aggregate_spec)
            if fname in self._RATIOS:
                # a ratio of sums, whatever the aggregate asked: slices add up
                numerator, scale = self._RATIOS[fname]
                return SQL(
                    "(%s * sum(%s) / NULLIF(sum(%s), 0))::float",
                    scale,
                    self._field_to_sql(self._table, numerator, query),
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
        Profile = self.env["crm.customer.profile"]
        today = max(as_of, fields.Date.context_today(self))
        for company in companies:
            # why SQL: every deal day of the company (the deal source with its
            # currency conversion), with the customer's slice (0 = no
            # salesperson / team: integer keys for the pandas group-by)
            deals = Profile._read_frame(
                SQL(
                    """
                    WITH %(days)s
                    SELECT d.partner_id, d.deal_date, d.n AS purchases, d.amount,
                           COALESCE(pr.user_id, rp.user_id, 0) AS user_id,
                           COALESCE(tm.crm_team_id, 0) AS team_id
                      FROM days d
                      JOIN res_partner rp ON rp.id = d.partner_id
                      LEFT JOIN crm_customer_profile pr
                             ON pr.partner_id = d.partner_id AND pr.company_id = %(company)s
                      LEFT JOIN (%(teams)s) tm
                             ON tm.user_id = COALESCE(pr.user_id, rp.user_id)
                     WHERE d.deal_date IS NOT NULL
                    """,
                    days=Profile._deal_days_sql([company.id], today),
                    company=company.id,
                    teams=self.env["crm.kpi.snapshot"]._teams_sql(company),
                )
            )
            rows = cohort.cohort_rows(deals, as_of, keys=["user_id", "team_id"])
            cr.execute(SQL("DELETE FROM crm_kpi_cohort WHERE company_id = %s", company.id))
            if len(rows):
                sizes = rows["cohort_size"].astype(int)
                cr.execute(
                    SQL(
                        """
                        INSERT INTO crm_kpi_cohort (company_id, user_id, team_id, cohort_month,
                               months_since, cohort_size, buying_count, retention_rate,
                               revenue, cumulative_revenue, revenue_per_customer,
                               cumulative_revenue_per_customer)
                        SELECT %s, NULLIF(u, 0), NULLIF(t, 0), c, m, s, b, 100.0 * b / s,
                               r, cr, r / s, cr / s
                          FROM unnest(%s::int[], %s::int[], %s::date[], %s::int[], %s::int[],
                                      %s::int[], %s::float8[], %s::float8[])
                               AS x(u, t, c, m, s, b, r, cr)
                        """,
                        company.id,
                        rows["user_id"].astype(int).tolist(),
                        rows["team_id"].astype(int).tolist(),
                        rows["cohort_month"].tolist(),
                        rows["months_since"].astype(int).tolist(),
                        sizes.tolist(),
                        rows["buying_count"].astype(int).tolist(),
                        rows["revenue"].astype(float).round(2).tolist(),
                        rows["cumulative_revenue"].astype(float).round(2).tolist(),
                    )
                )
        self.invalidate_model()
        return True
