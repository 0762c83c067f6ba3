from odoo import fields, models
from odoo.tools import SQL

from ..tools import selection_of

# Help texts double as the KPI definitions shown in the pivot's measure tooltips.
KPI_HELP = {
    "customers_start": "Customers (stage of kind New, Active, At risk or Won back) at the "
    "start of the period: the close of the day before its first day.",
    "customers_end": "Customers at the end of the period (its last snapshot day).",
    "active_end": "Customers in a stage of kind New, Active or Won back at the end of the period.",
    "acquired_count": "Customers whose first won deal falls in the period.",
    "acquired_rate": "Acquired customers / customers at start x 100.",
    "lost_count": "Customers who entered a stage of kind Lost in the period.",
    "churn_rate": "Lost customers / customers at start x 100.",
    "won_back_count": "Customers who entered a stage of kind Won back in the period.",
    "retention_rate": "(Customers at end - acquired - won back) / customers at start x 100: "
    "the share of the starting customers still customers at the end.",
    "deal_count": "Won deals dated in the period (a refund is not a deal).",
    "revenue": "Won revenue of the period (sum of the deals' expected revenue, in the company "
    "currency at the deal date).",
    "deal_frequency": "Won deals of the period / active customers at the end.",
    "avg_deal_amount": "Revenue / won deals.",
    "clv_end": "Sum of the predicted 12-month CLV of the customers at the end of the period "
    "(current model values).",
    "avg_clv": "Predicted CLV of the customers at the end / customers at the end.",
}


class CrmKpiCustomerReport(models.Model):
    """Customer KPIs for any period and slice, over ``crm.kpi.snapshot``.

    Flows (acquired, lost, won back, deals, revenue) add up over the days of
    a period. Stocks do not: "customers at start" of a pivot cell is the sum
    of the ``open`` stocks on the cell's first day, "at end" the ``close``
    stocks on its last day. A slice absent on those days had no customer
    there (it would have a row otherwise), so the first/last day of the
    cell is the right one even when the cell mixes slices.

    Customer tags are a many2many read from the snapshot's relation table
    (the report's ids are the snapshot's): grouping by tag joins the links,
    so a customer with two tags counts under each, while a total or a
    filter on tags counts it once.

    ``_read_group_select`` turns these measures and the ratios into SQL
    aggregates, so the stock pivot, graph, spreadsheet and XLSX export all
    show the same numbers. Definitions: ``KPI_HELP`` and readme/USAGE.md.
    """

    _name = "crm.kpi.customer.report"
    _inherit = ["crm.kpi.cell.measure.mixin"]
    _description = "Customer KPIs"
    _auto = False
    _order = "date desc"
    _rec_name = "date"

    date = fields.Date(readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    team_id = fields.Many2one("crm.team", string="Sales Team", readonly=True)
    user_id = fields.Many2one("res.users", string="Salesperson", readonly=True)
    country_id = fields.Many2one("res.country", readonly=True)
    stage_id = fields.Many2one("crm.lifecycle.stage", string="Customer Stage", readonly=True)
    stage_kind = fields.Selection(
        selection_of("crm.lifecycle.stage", "kind"),
        readonly=True,
    )
    category_ids = fields.Many2many(
        "res.partner.category",
        "crm_kpi_snapshot_category_rel",
        "snapshot_id",
        "category_id",
        string="Customer Tag",
        readonly=True,
    )
    medium_id = fields.Many2one(
        "utm.medium",
        string="Acquisition Channel",
        readonly=True,
        help="The UTM medium of the customer's first won deal.",
    )
    currency_id = fields.Many2one("res.currency", readonly=True)
    # stocks
    customers_start = fields.Integer(
        "Customers at Start", readonly=True, help=KPI_HELP["customers_start"]
    )
    customers_end = fields.Integer(
        "Customers at End", readonly=True, help=KPI_HELP["customers_end"]
    )
    active_end = fields.Integer("Active Customers", readonly=True, help=KPI_HELP["active_end"])
    # flows
    acquired_count = fields.Integer("Acquired", readonly=True, help=KPI_HELP["acquired_count"])
    lost_count = fields.Integer("Lost", readonly=True, help=KPI_HELP["lost_count"])
    won_back_count = fields.Integer("Won Back", readonly=True, help=KPI_HELP["won_back_count"])
    deal_count = fields.Integer("Won Deals", readonly=True, help=KPI_HELP["deal_count"])
    revenue = fields.Monetary(readonly=True, help=KPI_HELP["revenue"])
    clv_end = fields.Monetary("Predicted CLV at End", readonly=True, help=KPI_HELP["clv_end"])
    # ratios
    acquired_rate = fields.Float("Acquired (%)", readonly=True, help=KPI_HELP["acquired_rate"])
    churn_rate = fields.Float("Churn Rate (%)", readonly=True, help=KPI_HELP["churn_rate"])
    retention_rate = fields.Float(
        "Retention Rate (%)", readonly=True, help=KPI_HELP["retention_rate"]
    )
    deal_frequency = fields.Float(digits=(16, 2), readonly=True, help=KPI_HELP["deal_frequency"])
    avg_deal_amount = fields.Monetary(
        "Average Deal Amount", readonly=True, help=KPI_HELP["avg_deal_amount"]
    )
    avg_clv = fields.Monetary("Average Predicted CLV", readonly=True, help=KPI_HELP["avg_clv"])

    _depends = {
        "crm.kpi.snapshot": [
            "date",
            "company_id",
            "team_id",
            "user_id",
            "country_id",
            "stage_id",
            "stage_kind",
            "category_ids",
            "medium_id",
            "customer_open",
            "customer_close",
            "active_close",
            "clv_close",
            "acquired_count",
            "lost_count",
            "won_back_count",
            "deal_count",
            "revenue",
        ],
    }

    @property
    def _table_query(self):
        return SQL(
            """
            SELECT s.id, s.date, s.company_id, s.team_id, s.user_id, s.country_id,
                   s.stage_id, s.stage_kind, s.medium_id, c.currency_id,
                   s.customer_open AS customers_start, s.customer_close AS customers_end,
                   s.active_close AS active_end, s.clv_close AS clv_end,
                   s.acquired_count, s.lost_count, s.won_back_count, s.deal_count, s.revenue,
                   0.0 AS acquired_rate, 0.0 AS churn_rate, 0.0 AS retention_rate,
                   0.0 AS deal_frequency, 0.0 AS avg_deal_amount, 0.0 AS avg_clv
              FROM crm_kpi_snapshot s
              JOIN res_company c ON c.id = s.company_id
            """
        )

    # ------------------------------------------------------------------
    # read_group: stocks at the period's ends and ratios
    # ------------------------------------------------------------------

    def _kpi_sql(self, fname, query):
        """SQL aggregate of KPI ``fname`` over a read_group group, or None
        for a plain field (summed by the standard code)."""

        def col(name):
            return self._field_to_sql(self._table, name, query)

        def at(name, edge):
            # sum of ``name`` over the rows of the group's first/last day
            return SQL(
                "(SELECT COALESCE(sum(t.v), 0) FROM unnest(array_agg(%s), array_agg(%s)) "
                "AS t(v, d) WHERE t.d = %s(%s))",
                col(name),
                col("date"),
                SQL(edge),
                col("date"),
            )

        def total(name):
            return SQL("COALESCE(sum(%s), 0)", col(name))

        def ratio(num, den, scale=100.0):
            return SQL("(%s * %s / NULLIF(%s, 0))::float", scale, num, den)

        start = at("customers_start", "min")
        end = at("customers_end", "max")
        exprs = {
            "customers_start": start,
            "customers_end": end,
            "active_end": at("active_end", "max"),
            "clv_end": at("clv_end", "max"),
            "acquired_rate": ratio(total("acquired_count"), start),
            "churn_rate": ratio(total("lost_count"), start),
            "retention_rate": ratio(
                SQL("(%s - %s - %s)", end, total("acquired_count"), total("won_back_count")),
                start,
            ),
            "deal_frequency": ratio(total("deal_count"), at("active_end", "max"), 1.0),
            "avg_deal_amount": ratio(total("revenue"), total("deal_count"), 1.0),
            "avg_clv": ratio(at("clv_end", "max"), end, 1.0),
        }
        return exprs.get(fname)
