from odoo import fields, models
from odoo.tools import SQL


class CrmKpiDealReport(models.Model):
    """Won deals with the customer's lifecycle: the OLAP base of the deal KPIs.

    One row per won opportunity, carrying the customer (commercial partner)
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
    date = fields.Date(string="Deal Date", readonly=True)
    partner_id = fields.Many2one("res.partner", string="Customer", readonly=True)
    country_id = fields.Many2one("res.country", readonly=True)
    user_id = fields.Many2one("res.users", string="Salesperson", readonly=True)
    team_id = fields.Many2one("crm.team", string="Sales Team", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    currency_id = fields.Many2one("res.currency", readonly=True)
    stage_id = fields.Many2one("crm.lifecycle.stage", string="Customer Stage", readonly=True)
    risk_level = fields.Selection(
        [("low", "Low"), ("medium", "Medium"), ("high", "High")], string="Churn Risk", readonly=True
    )
    amount = fields.Monetary(string="Deal Amount", readonly=True, aggregator="sum")
    avg_amount = fields.Monetary(string="Average Deal Amount", readonly=True, aggregator="avg")
    deal_count = fields.Integer(string="Deals", readonly=True, aggregator="sum")

    _depends = {
        "crm.lead": [
            "stage_id",
            "active",
            "type",
            "date_closed",
            "expected_revenue",
            "partner_id",
            "company_id",
            "user_id",
            "team_id",
        ],
        "crm.customer.profile": ["stage_id", "risk_level"],
    }

    @property
    def _table_query(self):
        return SQL(
            """
            SELECT l.id AS id, l.id AS lead_id,
                   COALESCE(l.date_closed, l.date_last_stage_update)::date AS date,
                   p.commercial_partner_id AS partner_id, cp.country_id AS country_id,
                   l.user_id, l.team_id, l.company_id, c.currency_id,
                   prof.stage_id, prof.risk_level,
                   COALESCE(l.expected_revenue, 0) AS amount,
                   COALESCE(l.expected_revenue, 0) AS avg_amount,
                   1 AS deal_count
              FROM crm_lead l
              JOIN crm_stage s ON s.id = l.stage_id AND s.is_won
              JOIN res_partner p ON p.id = l.partner_id
              JOIN res_partner cp ON cp.id = p.commercial_partner_id
              JOIN res_company c ON c.id = l.company_id
              LEFT JOIN crm_customer_profile prof
                     ON prof.partner_id = p.commercial_partner_id AND prof.company_id = l.company_id
             WHERE l.active AND l.type = 'opportunity'
            """
        )
