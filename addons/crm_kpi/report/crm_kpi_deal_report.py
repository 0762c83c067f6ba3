from odoo import fields, models
from odoo.addons.crm_retention.models.crm_customer_profile import RISK_LEVELS
from odoo.addons.crm_retention.recompute.layout import DEAL_ORIGIN_SLOTS
from odoo.tools import SQL


class CrmKpiDealReport(models.Model):
    """Won deals with the customer's lifecycle: the OLAP base of the deal KPIs.

    One row per deal of the suite's deal source (a won opportunity, or a
    document a bridge adds), carrying the customer (commercial partner)
    and its current lifecycle stage and risk, so a pivot answers "revenue,
    number of deals and average deal amount by month, team, salesperson,
    stage or country" and drills down to the opportunities. Record rules
    apply through ``company_id`` and ``user_id`` (see crm_kpi_security.xml).
    """

    _name = "crm.kpi.deal.report"
    _description = "Won Deals Analysis"
    _auto = False
    _order = "date desc"
    _rec_name = "lead_id"

    lead_id = fields.Many2one("crm.lead", string="Opportunity", readonly=True)
    origin = fields.Reference(
        selection="_selection_origin",
        string="Document",
        readonly=True,
        help="What the deal was made of: a won opportunity, or a document another deal "
        "source adds (a sale order, an invoice, a point of sale order).",
    )
    date = fields.Date(string="Deal Date", readonly=True)
    partner_id = fields.Many2one("res.partner", string="Customer", readonly=True)
    country_id = fields.Many2one("res.country", readonly=True)
    user_id = fields.Many2one("res.users", string="Salesperson", readonly=True)
    team_id = fields.Many2one("crm.team", string="Sales Team", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    currency_id = fields.Many2one("res.currency", readonly=True)
    stage_id = fields.Many2one("crm.lifecycle.stage", string="Customer Stage", readonly=True)
    # the profile's own selection: one list of risk levels for the suite
    risk_level = fields.Selection(RISK_LEVELS, string="Churn Risk", readonly=True)
    amount = fields.Monetary(
        string="Deal Amount",
        readonly=True,
        aggregator="sum",
        help="In the company currency at the deal date; a refund is negative.",
    )
    avg_amount = fields.Monetary(string="Average Deal Amount", readonly=True, aggregator="avg")
    deal_count = fields.Integer(
        string="Deals", readonly=True, aggregator="sum", help="Deals that are not refunds."
    )

    _depends = {
        "crm.lead": [
            "stage_id",
            "active",
            "type",
            "date_closed",
            "date_last_stage_update",
            "expected_revenue",
            "partner_id",
            "company_id",
            "user_id",
            "team_id",
            "medium_id",
        ],
        "crm.customer.profile": ["stage_id", "risk_level"],
        "res.currency.rate": ["rate", "name", "currency_id", "company_id"],
    }

    def _selection_origin(self):
        models = self.env["ir.model"].sudo().search([("model", "in", list(DEAL_ORIGIN_SLOTS))])
        return [(m.model, m.name) for m in models]

    @property
    def _table_query(self):
        """The deals of the suite's one deal source (``crm.customer.profile.
        _deal_source_sql``, with the sources bridges add), converted to the
        company currency at the deal date as the KPIs and the lifecycle
        convert them, with the customer's current stage and risk."""
        Profile = self.env["crm.customer.profile"]
        companies = self.env["res.company"].sudo().search([]).ids
        today = fields.Date.context_today(self)
        extra = ["user_id", "team_id", "origin_model", "origin_id"]
        return SQL(
            """
            WITH leads AS (%(leads)s),
            deals AS (%(source)s),
            converted AS (%(converted)s)
            SELECT %(deal_id)s AS id,
                   CASE WHEN d.origin_model = 'crm.lead' THEN d.origin_id END AS lead_id,
                   d.origin_model || ',' || d.origin_id AS origin,
                   d.deal_date AS date, d.partner_id, cp.country_id AS country_id,
                   d.user_id, d.team_id, d.company_id, c.currency_id,
                   prof.stage_id, prof.risk_level,
                   d.amount, d.amount AS avg_amount,
                   (d.amount >= 0)::int AS deal_count
              FROM converted d
              JOIN res_partner cp ON cp.id = d.partner_id
              JOIN res_company c ON c.id = d.company_id
              LEFT JOIN crm_customer_profile prof
                     ON prof.partner_id = d.partner_id AND prof.company_id = d.company_id
            """,
            leads=Profile._lead_rows_sql(companies),
            source=Profile._deal_source_sql(companies),
            converted=Profile._convert_deals_sql(SQL("deals"), today, extra_columns=extra),
            deal_id=Profile._deal_id_sql("d"),
        )
