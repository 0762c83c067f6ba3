from odoo import api, fields, models
from odoo.models import parse_read_group_spec
from odoo.tools import SQL

from ..tools import selection_of


class CrmKpiChannelReport(models.Model):
    """Channel and service effectiveness, one row per interaction.

    * response time: hours from the interaction to its handling
      (``done_date``), for handled inbound requests;
    * within SLA: handled before the channel's ``sla_deadline``; the SLA
      rate is over inbound requests that have a deadline;
    * missed rate: missed / interactions (missed calls on phone channels);
    * CSAT: share of rated interactions whose last rating is "satisfied"
      (5, Odoo's top rating), and the average rating (1-5).

    Rows carry the agent, team and company of the interaction so the
    contact-center record rules have their report equivalents.
    """

    _name = "crm.kpi.channel.report"
    _inherit = ["crm.kpi.cell.measure.mixin"]
    _kpi_blank_when_empty = ("missed_rate", "response_hours", "sla_rate", "csat", "rating")
    _description = "Channel and Service Analysis"
    _auto = False
    _order = "date desc"
    _rec_name = "interaction_id"

    interaction_id = fields.Many2one("crm.interaction", readonly=True)
    date = fields.Datetime(readonly=True)
    channel_id = fields.Many2one("crm.interaction.channel", readonly=True)
    direction = fields.Selection(selection_of("crm.interaction", "direction"), readonly=True)
    state = fields.Selection(selection_of("crm.interaction", "state"), readonly=True)
    user_id = fields.Many2one("res.users", string="Agent", readonly=True)
    team_id = fields.Many2one("crm.team", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    partner_id = fields.Many2one("res.partner", string="Customer", readonly=True)
    country_id = fields.Many2one("res.country", readonly=True)
    interaction_count = fields.Integer("Interactions", readonly=True)
    missed_count = fields.Integer("Missed", readonly=True)
    missed_rate = fields.Float(
        "Missed Rate (%)", readonly=True, help="Missed / interactions x 100."
    )
    handled_count = fields.Integer(
        "Handled Requests", readonly=True, help="Inbound interactions marked done."
    )
    response_hours = fields.Float(
        "Response Time (h)",
        digits=(16, 2),
        readonly=True,
        aggregator="avg",
        help="Average hours from an inbound request to its handling.",
    )
    sla_count = fields.Integer("With SLA", readonly=True, help="Inbound requests with a deadline.")
    within_sla_count = fields.Integer(
        "Within SLA", readonly=True, help="Handled before the SLA deadline."
    )
    sla_rate = fields.Float("SLA Met (%)", readonly=True, help="Within SLA / with SLA x 100.")
    rated_count = fields.Integer("Rated", readonly=True)
    satisfied_count = fields.Integer("Satisfied", readonly=True)
    csat = fields.Float("CSAT (%)", readonly=True, help="Satisfied ratings / ratings x 100.")
    rating = fields.Float(
        "Average Rating", digits=(16, 2), readonly=True, help="Average of the ratings (1-5)."
    )

    _depends = {
        "crm.interaction": [
            "date",
            "channel_id",
            "direction",
            "state",
            "user_id",
            "team_id",
            "company_id",
            "commercial_partner_id",
            "done_date",
            "sla_deadline",
            "rating_last_value",
        ],
    }

    @property
    def _table_query(self):
        # Only the interactions the user may read, under crm.interaction's
        # own record rules: the report's rules mirror them per role, but a
        # role's rules can only add rows (a salesperson is also an agent),
        # so the report could show more than the interaction list does.
        readable = self.env["crm.interaction"].with_context(active_test=False)._search([])
        return SQL(
            """
            SELECT i.id, i.id AS interaction_id, i.date, i.channel_id, i.direction, i.state,
                   i.user_id, i.team_id, i.company_id,
                   i.commercial_partner_id AS partner_id, p.country_id,
                   1 AS interaction_count,
                   (i.state = 'missed')::int AS missed_count,
                   0.0 AS missed_rate,
                   (i.direction = 'inbound' AND i.state = 'done')::int AS handled_count,
                   CASE WHEN i.direction = 'inbound' AND i.state = 'done' AND i.done_date IS NOT NULL
                        THEN EXTRACT(EPOCH FROM (i.done_date - i.date)) / 3600.0 END
                       AS response_hours,
                   (i.direction = 'inbound' AND i.sla_deadline IS NOT NULL)::int AS sla_count,
                   (i.direction = 'inbound' AND i.state = 'done'
                    AND i.done_date <= i.sla_deadline)::int AS within_sla_count,
                   0.0 AS sla_rate,
                   (COALESCE(i.rating_last_value, 0) > 0)::int AS rated_count,
                   (COALESCE(i.rating_last_value, 0) >= 5)::int AS satisfied_count,
                   0.0 AS csat,
                   NULLIF(i.rating_last_value, 0) AS rating
              FROM crm_interaction i
              LEFT JOIN res_partner p ON p.id = i.commercial_partner_id
             WHERE i.id IN %(readable)s
            """,
            readable=readable.subselect(),
        )

    @api.model
    def _read_group_select(self, aggregate_spec, query):
        if aggregate_spec != "__count":
            fname, __, __ = parse_read_group_spec(aggregate_spec)
            ratios = {
                "missed_rate": ("missed_count", "interaction_count"),
                "sla_rate": ("within_sla_count", "sla_count"),
                "csat": ("satisfied_count", "rated_count"),
            }
            if fname in ratios:
                num, den = ratios[fname]
                return SQL(
                    "(100.0 * sum(%s) / NULLIF(sum(%s), 0))::float",
                    self._field_to_sql(self._table, num, query),
                    self._field_to_sql(self._table, den, query),
                )
        return super()._read_group_select(aggregate_spec, query)
