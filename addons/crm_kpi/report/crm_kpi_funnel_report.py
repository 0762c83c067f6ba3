from odoo import api, fields, models
from odoo.models import parse_read_group_spec
from odoo.tools import SQL


class CrmKpiFunnelReport(models.Model):
    """The sales funnel: every stage each lead or opportunity went through.

    One row per (lead, stage visit). The path comes from the stage tracking
    of the chatter (``mail.tracking.value`` of ``crm.lead.stage_id``): the
    first stage is the old value of the first tracked change (or the
    current stage if it never moved), each change opens a visit, and a
    visit ends at the next change, at the closing date of a won or lost
    deal, or now. ``date_last_stage_update`` alone would only give the
    current stage, not the path, hence the tracking values; leads loaded
    without chatter (imports) show their current stage only, entered at the
    earliest of their creation and closing dates (never a negative time in
    stage).

    Measures: visits, "moved on" (a later visit in a stage of higher
    sequence, or won), the stage-to-stage conversion (moved on / visits),
    average days in stage, and per lead (counted on its first visit only,
    so totals are per lead): leads, opportunities, won, lost. Lost reasons
    group the lost ones.
    """

    _name = "crm.kpi.funnel.report"
    _inherit = ["crm.kpi.cell.measure.mixin"]
    _kpi_blank_when_empty = ("conversion_rate", "win_rate", "days_in_stage")
    _description = "Sales Funnel Analysis"
    _auto = False
    _order = "date desc"
    _rec_name = "lead_id"

    lead_id = fields.Many2one("crm.lead", string="Lead/Opportunity", readonly=True)
    stage_id = fields.Many2one("crm.stage", readonly=True)
    date = fields.Datetime(string="Entered Stage", readonly=True)
    create_date = fields.Datetime(string="Created On", readonly=True)
    type = fields.Selection([("lead", "Lead"), ("opportunity", "Opportunity")], readonly=True)
    user_id = fields.Many2one("res.users", string="Salesperson", readonly=True)
    team_id = fields.Many2one("crm.team", string="Sales Team", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    partner_id = fields.Many2one("res.partner", string="Customer", readonly=True)
    country_id = fields.Many2one("res.country", readonly=True)
    source_id = fields.Many2one("utm.source", readonly=True)
    medium_id = fields.Many2one("utm.medium", string="Channel", readonly=True)
    lost_reason_id = fields.Many2one("crm.lost.reason", readonly=True)
    visit_count = fields.Integer(
        "Stage Visits", readonly=True, help="Leads and opportunities that reached the stage."
    )
    moved_on_count = fields.Integer(
        "Moved On",
        readonly=True,
        help="Visits followed by a stage of higher sequence, or by winning the deal.",
    )
    is_won_stage = fields.Boolean("Won Stage", readonly=True)
    conversion_rate = fields.Float(
        "Stage Conversion (%)",
        readonly=True,
        help="Moved on / visits of stages before Won x 100 (blank on the Won stage: "
        "nothing comes after it).",
    )
    days_in_stage = fields.Float(
        digits=(16, 1),
        readonly=True,
        aggregator="avg",
        help="Average days between entering the stage and the next change (or now).",
    )
    lead_count = fields.Integer("Leads", readonly=True, help="Leads and opportunities created.")
    opportunity_count = fields.Integer(
        "Opportunities", readonly=True, help="Of which opportunities (qualified or converted)."
    )
    won_count = fields.Integer("Won", readonly=True, help="Of which won.")
    lost_count = fields.Integer("Lost", readonly=True, help="Of which lost (archived).")
    win_rate = fields.Float("Win Rate (%)", readonly=True, help="Won / (won + lost) x 100.")

    _depends = {
        "crm.lead": [
            "stage_id",
            "type",
            "active",
            "user_id",
            "team_id",
            "company_id",
            "partner_id",
            "lost_reason_id",
            "date_closed",
        ],
        "mail.tracking.value": ["old_value_integer", "new_value_integer", "mail_message_id"],
    }

    @property
    def _table_query(self):
        field = self.env["ir.model.fields"]._get("crm.lead", "stage_id")
        return SQL(
            """
            WITH changes AS (
                SELECT m.res_id AS lead_id, m.date, m.id AS message_id,
                       v.old_value_integer AS old_stage, v.new_value_integer AS new_stage
                  FROM mail_tracking_value v
                  JOIN mail_message m ON m.id = v.mail_message_id
                 WHERE v.field_id = %(field)s AND m.model = 'crm.lead'
            ),
            first_change AS (
                SELECT DISTINCT ON (lead_id) lead_id, old_stage, date
                  FROM changes ORDER BY lead_id, date, message_id
            ),
            visits AS (
                -- LEAST: the story starts no later than its first change nor its
                -- closing (a deal imported today that was won last year)
                SELECT l.id AS lead_id, COALESCE(f.old_stage, l.stage_id) AS stage_id,
                       LEAST(l.create_date, f.date, l.date_closed) AS date, 0 AS message_id
                  FROM crm_lead l LEFT JOIN first_change f ON f.lead_id = l.id
                UNION ALL
                SELECT lead_id, new_stage, date, message_id FROM changes
            ),
            ordered AS (
                SELECT v.*, st.sequence, st.is_won,
                       lead(v.date) OVER w AS next_date,
                       max(st.sequence) OVER (PARTITION BY v.lead_id ORDER BY v.date, v.message_id
                           ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING) AS later_sequence,
                       row_number() OVER w AS rank
                  FROM visits v
                  LEFT JOIN crm_stage st ON st.id = v.stage_id
                WINDOW w AS (PARTITION BY v.lead_id ORDER BY v.date, v.message_id)
            )
            SELECT row_number() OVER (ORDER BY o.lead_id, o.rank) AS id, o.lead_id, o.stage_id, o.date,
                   l.create_date, l.type, l.user_id, l.team_id, l.company_id,
                   p.commercial_partner_id AS partner_id, l.country_id,
                   l.source_id, l.medium_id, l.lost_reason_id,
                   1 AS visit_count,
                   COALESCE(o.is_won, false) AS is_won_stage,
                   (COALESCE(o.later_sequence > o.sequence, false)
                    OR (COALESCE(ws.is_won, false) AND NOT COALESCE(o.is_won, false)))::int
                       AS moved_on_count,
                   0.0 AS conversion_rate,
                   GREATEST(EXTRACT(EPOCH FROM (
                       COALESCE(o.next_date,
                                CASE WHEN ws.is_won OR NOT l.active THEN l.date_closed END,
                                now() AT TIME ZONE 'UTC') - o.date)) / 86400.0, 0) AS days_in_stage,
                   (o.rank = 1)::int AS lead_count,
                   (o.rank = 1 AND (l.type = 'opportunity' OR l.date_conversion IS NOT NULL))::int
                       AS opportunity_count,
                   (o.rank = 1 AND l.active AND COALESCE(ws.is_won, false))::int AS won_count,
                   (o.rank = 1 AND NOT l.active AND l.probability = 0)::int AS lost_count,
                   0.0 AS win_rate
              FROM ordered o
              JOIN crm_lead l ON l.id = o.lead_id
              LEFT JOIN crm_stage ws ON ws.id = l.stage_id
              LEFT JOIN res_partner p ON p.id = l.partner_id
            """,
            field=field.id,
        )

    @api.model
    def _read_group_select(self, aggregate_spec, query):
        if aggregate_spec != "__count":
            fname, __, __ = parse_read_group_spec(aggregate_spec)

            def total(name):
                return SQL("sum(%s)", self._field_to_sql(self._table, name, query))

            if fname == "conversion_rate":
                return SQL(
                    "(100.0 * %s / NULLIF(sum(CASE WHEN %s THEN 0 ELSE %s END), 0))::float",
                    total("moved_on_count"),
                    self._field_to_sql(self._table, "is_won_stage", query),
                    self._field_to_sql(self._table, "visit_count", query),
                )
            if fname == "win_rate":
                return SQL(
                    "(100.0 * %s / NULLIF(%s + %s, 0))::float",
                    total("won_count"),
                    total("won_count"),
                    total("lost_count"),
                )
        return super()._read_group_select(aggregate_spec, query)
