from odoo import fields, models
from odoo.tools import SQL

from ..tools import selection_of

# Help texts double as the KPI definitions shown in the pivot's measure tooltips.
KPI_HELP = {
    "member_count": "Treated and control members enrolled (excluded customers are not measured).",
    "treated_count": "Members who received the campaign.",
    "control_count": "Members held out at random: they received nothing and are measured "
    "exactly like the treated ones.",
    "retained_count": "Members who won a deal within their outcome window.",
    "treated_retained": "Treated members retained.",
    "control_retained": "Control members retained.",
    "retention_rate": "Retained members / members x 100.",
    "treated_rate": "Treated members retained / treated members x 100.",
    "control_rate": "Control members retained / control members x 100.",
    "uplift_pp": "Treated retention rate minus the retention rate of the same campaign's "
    "control group, in percentage points: the retention the campaign caused. Over several "
    "campaigns, the average of their uplifts weighted by treated members; empty without a "
    "control group.",
    "incremental_retained": "Treated members retained beyond what the campaign's control "
    "retention rate predicts: treated retained - treated members x control rate.",
    "revenue": "Won revenue of the members (treated and control) within their outcome window, "
    "in the company currency.",
    "retained_revenue": "Won revenue of the treated members within their outcome window (the "
    "campaign's retained revenue).",
    "incremental_revenue": "Treated revenue beyond what treated members would have brought at "
    "the control group's revenue per member: treated revenue - treated members x control "
    "revenue per member.",
    "cost": "Contact cost of the treated members plus the value of the offers they redeemed.",
    "roi": "(Incremental revenue - cost) / cost, over the campaigns with a control group: "
    "0 means the campaign paid for itself, 1.0 that every unit spent brought two back.",
    "cost_per_incremental": "Cost / incremental retained customers (empty when the campaign "
    "retained nobody more than the control group).",
}


class CrmKpiCampaignReport(models.Model):
    """Campaign effectiveness: treated against control, per campaign.

    One row per campaign, member group, member's salesperson and month of
    enrolment (campaign attributes - objective, team, owner, status, channel
    of the first step - ride along). Counts, revenue and cost are sums.
    Rates, uplift and ROI are not summable, so ``_read_group_select`` turns
    them into ratios of sums computed per pivot cell.

    The uplift must compare treated members with the control group of
    *their own* campaign: pooling the members of campaigns with different
    control shares would mix campaigns with different baselines (Simpson's
    paradox). Each row therefore carries what its treated members would
    have done at their campaign's control rate (``expected_retained``,
    ``expected_revenue``, window functions over the whole campaign, before
    record rules). Incremental retained and incremental revenue are then
    plain sums and the uplift of any cell is ``incremental retained /
    treated members``: exactly the campaign's uplift for one campaign
    (``crm_retention.lib.uplift.two_proportion``), the treated-weighted
    average of the uplifts over several. A salesperson's slice compares
    its treated customers with the campaign's whole control group.

    Definitions: ``KPI_HELP`` and readme/USAGE.md.
    """

    _name = "crm.kpi.campaign.report"
    _inherit = ["crm.kpi.cell.measure.mixin"]
    _kpi_blank_when_empty = (
        "retention_rate", "treated_rate", "control_rate", "uplift_pp", "roi",
        "cost_per_incremental",
    )  # fmt: skip
    _description = "Campaign Effectiveness"
    _auto = False
    _order = "enrol_date desc, campaign_id"
    _rec_name = "campaign_id"

    # dimensions
    campaign_id = fields.Many2one("crm.retention.campaign", string="Campaign", readonly=True)
    member_group = fields.Selection(
        selection_of("crm.retention.campaign.member", "member_group"),
        string="Group",
        readonly=True,
    )
    objective = fields.Selection(
        selection_of("crm.retention.campaign", "objective"),
        readonly=True,
    )
    campaign_state = fields.Selection(
        selection_of("crm.retention.campaign", "state"),
        string="Campaign Status",
        readonly=True,
    )
    channel = fields.Selection(
        selection_of("crm.retention.campaign.step", "action"),
        string="First Step Channel",
        readonly=True,
        help="Channel of the campaign's first step.",
    )
    enrol_date = fields.Date(
        "Enrolment Month", readonly=True, help="First day of the month of enrolment."
    )
    company_id = fields.Many2one("res.company", readonly=True)
    team_id = fields.Many2one("crm.team", string="Sales Team", readonly=True)
    owner_id = fields.Many2one("res.users", string="Campaign Owner", readonly=True)
    user_id = fields.Many2one(
        "res.users", string="Salesperson", readonly=True, help="Salesperson of the member."
    )
    currency_id = fields.Many2one("res.currency", readonly=True)
    # counts
    member_count = fields.Integer("Members", readonly=True, help=KPI_HELP["member_count"])
    treated_count = fields.Integer("Treated", readonly=True, help=KPI_HELP["treated_count"])
    control_count = fields.Integer("Control", readonly=True, help=KPI_HELP["control_count"])
    retained_count = fields.Integer("Retained", readonly=True, help=KPI_HELP["retained_count"])
    treated_retained = fields.Integer(readonly=True, help=KPI_HELP["treated_retained"])
    control_retained = fields.Integer(readonly=True, help=KPI_HELP["control_retained"])
    incremental_retained = fields.Float(
        digits=(16, 1),
        readonly=True,
        help=KPI_HELP["incremental_retained"],
    )
    # money
    revenue = fields.Monetary("Window Revenue", readonly=True, help=KPI_HELP["revenue"])
    retained_revenue = fields.Monetary(readonly=True, help=KPI_HELP["retained_revenue"])
    incremental_revenue = fields.Monetary(readonly=True, help=KPI_HELP["incremental_revenue"])
    cost = fields.Monetary(readonly=True, help=KPI_HELP["cost"])
    # ratios (computed per pivot cell in _read_group_select)
    retention_rate = fields.Float(
        "Retention Rate (%)", readonly=True, help=KPI_HELP["retention_rate"]
    )
    treated_rate = fields.Float(
        "Treated Retention (%)", readonly=True, help=KPI_HELP["treated_rate"]
    )
    control_rate = fields.Float(
        "Control Retention (%)", readonly=True, help=KPI_HELP["control_rate"]
    )
    uplift_pp = fields.Float(
        "Uplift (pp)", digits=(16, 1), readonly=True, help=KPI_HELP["uplift_pp"]
    )
    roi = fields.Float("ROI", digits=(16, 2), readonly=True, help=KPI_HELP["roi"])
    cost_per_incremental = fields.Monetary(
        "Cost per Incremental Retained", readonly=True, help=KPI_HELP["cost_per_incremental"]
    )
    # treated members and their cost in campaigns with a control group: the
    # denominators of uplift and ROI (a campaign without control proves nothing)
    baseline_count = fields.Integer(readonly=True)
    baseline_cost = fields.Float(readonly=True)

    _depends = {
        "crm.retention.campaign": [
            "objective",
            "state",
            "company_id",
            "team_id",
            "user_id",
        ],
        "crm.retention.campaign.member": [
            "campaign_id",
            "member_group",
            "enrol_date",
            "user_id",
            "company_id",
            "retained_count",
            "revenue",
            "cost",
        ],
        "crm.retention.campaign.step": ["campaign_id", "sequence", "action"],
    }

    @property
    def _table_query(self):
        return SQL(
            """
            WITH cells AS (
                SELECT m.campaign_id, m.member_group, m.user_id,
                       date_trunc('month', m.enrol_date)::date AS enrol_date,
                       count(*) AS member_count,
                       COALESCE(sum(m.retained_count), 0) AS retained_count,
                       COALESCE(sum(m.revenue), 0) AS revenue,
                       COALESCE(sum(m.cost), 0) AS cost
                  FROM crm_retention_campaign_member m
                 WHERE m.member_group IN ('treated', 'control')
                 GROUP BY m.campaign_id, m.member_group, m.user_id,
                          date_trunc('month', m.enrol_date)
            ),
            baseline AS (
                -- the control group of the whole campaign: retention and revenue per member
                SELECT campaign_id,
                       sum(retained_count)::float / sum(member_count) AS control_rate,
                       sum(revenue)::float / sum(member_count) AS control_revenue
                  FROM cells
                 WHERE member_group = 'control'
                 GROUP BY campaign_id
            ),
            first_step AS (
                SELECT DISTINCT ON (campaign_id) campaign_id, action
                  FROM crm_retention_campaign_step
                 ORDER BY campaign_id, sequence, id
            )
            SELECT row_number() OVER (ORDER BY x.campaign_id, x.member_group, x.user_id,
                                                x.enrol_date) AS id,
                   x.campaign_id, x.member_group, x.user_id, x.enrol_date,
                   c.objective, c.state AS campaign_state, c.company_id, c.team_id,
                   c.user_id AS owner_id, s.action AS channel, co.currency_id,
                   x.member_count,
                   CASE WHEN x.member_group = 'treated' THEN x.member_count ELSE 0 END
                       AS treated_count,
                   CASE WHEN x.member_group = 'control' THEN x.member_count ELSE 0 END
                       AS control_count,
                   x.retained_count,
                   CASE WHEN x.member_group = 'treated' THEN x.retained_count ELSE 0 END
                       AS treated_retained,
                   CASE WHEN x.member_group = 'control' THEN x.retained_count ELSE 0 END
                       AS control_retained,
                   CASE WHEN x.member_group = 'treated' AND b.campaign_id IS NOT NULL
                        THEN x.member_count ELSE 0 END AS baseline_count,
                   CASE WHEN x.member_group = 'treated' AND b.campaign_id IS NOT NULL
                        THEN x.cost ELSE 0 END AS baseline_cost,
                   CASE WHEN x.member_group = 'treated'
                        THEN x.retained_count - x.member_count * b.control_rate END
                       AS incremental_retained,
                   x.revenue,
                   CASE WHEN x.member_group = 'treated' THEN x.revenue ELSE 0 END
                       AS retained_revenue,
                   CASE WHEN x.member_group = 'treated'
                        THEN x.revenue - x.member_count * b.control_revenue END
                       AS incremental_revenue,
                   x.cost,
                   0.0 AS retention_rate, 0.0 AS treated_rate, 0.0 AS control_rate,
                   0.0 AS uplift_pp, 0.0 AS roi, 0.0 AS cost_per_incremental
              FROM cells x
              JOIN crm_retention_campaign c ON c.id = x.campaign_id
              JOIN res_company co ON co.id = c.company_id
              LEFT JOIN baseline b ON b.campaign_id = x.campaign_id
              LEFT JOIN first_step s ON s.campaign_id = x.campaign_id
            """
        )

    # ------------------------------------------------------------------
    # read_group: ratios of sums per cell
    # ------------------------------------------------------------------

    def _kpi_sql(self, fname, query):
        """SQL aggregate of ratio KPI ``fname`` over a read_group group, or
        None for a plain field (summed by the standard code)."""

        def total(name):
            return SQL("COALESCE(sum(%s), 0)", self._field_to_sql(self._table, name, query))

        def ratio(num, den, scale=100.0):
            return SQL("(%s * %s / NULLIF(%s, 0))::float", scale, num, den)

        cost = total("baseline_cost")
        exprs = {
            "retention_rate": ratio(total("retained_count"), total("member_count")),
            "treated_rate": ratio(total("treated_retained"), total("treated_count")),
            "control_rate": ratio(total("control_retained"), total("control_count")),
            "uplift_pp": ratio(total("incremental_retained"), total("baseline_count")),
            "roi": ratio(SQL("(%s - %s)", total("incremental_revenue"), cost), cost, 1.0),
            "cost_per_incremental": SQL(
                "CASE WHEN %(inc)s > 0 THEN (%(cost)s / %(inc)s)::float END",
                inc=total("incremental_retained"),
                cost=cost,
            ),
        }
        return exprs.get(fname)
