from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import SQL

from .crm_interaction import BREACH_SOON, OPEN_STATES, PRIORITIES


class CrmTeam(models.Model):
    _inherit = "crm.team"

    interaction_assignment = fields.Selection(
        [("round_robin", "Round robin"), ("least_open", "Least open requests")],
        string="Request Assignment",
        default="round_robin",
        required=True,
        help="How new inbound requests are spread among the team's available agents when "
        "the customer has no available salesperson.",
    )
    # service level and value-aware routing
    resource_calendar_id = fields.Many2one(
        "resource.calendar",
        string="Working Hours",
        check_company=True,
        help="Response targets of the team's requests count these hours only: nights, "
        "weekends, the calendar's leaves and public holidays are skipped. Empty: around the "
        "clock.",
    )
    interaction_senior_team_id = fields.Many2one(
        "crm.team",
        string="Senior Team",
        check_company=True,
        help="Requests of this team whose priority reaches the level below go to this team's "
        "available agents instead (e.g. valuable customers about to leave to a retention "
        "desk). The customer's salesperson keeps them when he is an available agent of the "
        "senior team.",
    )
    interaction_senior_priority = fields.Selection(
        [level for level in PRIORITIES if level[0] != "0"],
        string="Senior Team From",
        default="1",
        required=True,
        help="The lowest priority routed to the senior team.",
    )
    # dashboard
    interaction_open_count = fields.Integer(
        string="Open Requests",
        compute="_compute_interaction_queue_counts",
        help="Inbound requests of the team still to handle.",
    )
    interaction_breach_soon_count = fields.Integer(
        string="Breach Within 1 Hour",
        compute="_compute_interaction_queue_counts",
        help="Open requests whose response deadline falls within the next hour.",
    )
    interaction_overdue_count = fields.Integer(
        string="Overdue Requests",
        compute="_compute_interaction_queue_counts",
        help="Open requests the SLA check flagged past their response deadline.",
    )

    def _compute_interaction_queue_counts(self):
        """The three counts of every team of the dashboard in one grouped
        query, under the reader's record rules (``_search``)."""
        self.interaction_open_count = 0
        self.interaction_breach_soon_count = 0
        self.interaction_overdue_count = 0
        teams = self.filtered("id")
        Interaction = self.env["crm.interaction"]
        if not teams or not Interaction.has_access("read"):
            # a sales user outside the contact center sees no queue counts
            return
        now = fields.Datetime.now()
        query = Interaction._search(
            [
                ("team_id", "in", teams.ids),
                ("direction", "=", "inbound"),
                ("state", "in", OPEN_STATES),
            ]
        )
        query.groupby = SQL("%s", Interaction._field_to_sql(Interaction._table, "team_id", query))
        deadline = Interaction._field_to_sql(Interaction._table, "sla_deadline", query)
        overdue = Interaction._field_to_sql(Interaction._table, "is_overdue", query)
        rows = self.env.execute_query(
            query.select(
                query.groupby,
                SQL("count(*)"),
                SQL(
                    "count(*) FILTER (WHERE %s >= %s AND %s < %s)",
                    deadline,
                    now,
                    deadline,
                    now + timedelta(seconds=BREACH_SOON),
                ),
                SQL("count(*) FILTER (WHERE %s)", overdue),
            )
        )
        counts = {team_id: values for team_id, *values in rows}
        for team in teams:
            open_count, soon, overdue_count = counts.get(team.id, (0, 0, 0))
            team.interaction_open_count = open_count
            team.interaction_breach_soon_count = soon
            team.interaction_overdue_count = overdue_count

    @api.constrains("interaction_senior_team_id")
    def _check_interaction_senior_team(self):
        for team in self:
            if team.interaction_senior_team_id == team:
                raise ValidationError(
                    self.env._("Team %(team)s cannot be its own senior team.", team=team.name)
                )

    def write(self, vals):
        result = super().write(vals)
        if "resource_calendar_id" in vals:
            # the open requests' deadlines follow the new hours; handled ones
            # keep the deadline they were measured against
            self.env["crm.interaction"]._recompute_open_deadlines([("team_id", "in", self.ids)])
        return result

    def action_view_interaction_queue(self):
        """The queue of this team from its dashboard card, with the filter
        the card's line names (``queue_filter`` in the context: ``open``,
        ``breach_soon`` or ``overdue``)."""
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "crm_contact_center.crm_interaction_action_queue"
        )
        queue_filter = self.env.context.get("queue_filter", "open")
        if queue_filter not in ("open", "breach_soon", "overdue"):
            queue_filter = "open"
        action["domain"] = [("direction", "=", "inbound"), ("team_id", "=", self.id)]
        action["context"] = {"search_default_open": 1, f"search_default_{queue_filter}": 1}
        action["display_name"] = self.env._("Queue of %(team)s", team=self.display_name)
        return action

    def _senior_team_for(self, priority):
        """The team a request of this team with ``priority`` goes to: the
        senior team when the priority reaches its level, else this team."""
        self.ensure_one()
        senior = self.interaction_senior_team_id
        if senior and (priority or "0") >= self.interaction_senior_priority:
            return senior
        return self

    def _filtered_for_company(self, company):
        """The teams usable on a request of ``company``: a user's default team may
        belong to another of his companies."""
        return self.filtered(lambda team: not team.company_id or team.company_id == company)

    def _plan_interaction_agents(self, company, count):
        """The agents who get the team's next ``count`` requests, in order
        (empty recordsets when the team has no available agent), as if each
        request were assigned before the next is routed: "least open" gives
        each to the agent with the fewest open requests at that moment,
        round robin to whoever got one of this team the longest ago.

        Two queries whatever ``count``: the agents' group and the load.
        """
        self.ensure_one()
        # _xmlid_to_res_id is cached; env.ref would check the group exists (a query)
        agent_group = self.env["res.groups"].browse(
            self.env["ir.model.data"]._xmlid_to_res_id(
                "crm_contact_center.group_contact_center_agent"
            )
        )
        agents = self.member_ids.filtered(
            lambda u: u._is_available_agent(company, agent_group)
        ).sorted("id")
        if not agents:
            return [agents] * count
        Interaction = self.env["crm.interaction"].sudo()
        if self.interaction_assignment == "least_open":
            rank = dict(
                Interaction._read_group(
                    [
                        ("user_id", "in", agents.ids),
                        ("state", "in", ("assigned", "in_progress", "missed")),
                    ],
                    ["user_id"],
                    ["__count"],
                )
            )
        else:
            # round robin: whoever got a request of this team the longest ago
            # (ids give the order even within one second, where dates tie)
            rank = dict(
                Interaction._read_group(
                    [("user_id", "in", agents.ids), ("team_id", "=", self.id)],
                    ["user_id"],
                    ["id:max"],
                )
            )
        plan = []
        rank = {agent: rank.get(agent, 0) for agent in agents}
        latest = max(rank.values(), default=0)
        for _ in range(count):
            agent = min(agents, key=lambda u: (rank[u], u.id))
            plan.append(agent)
            if self.interaction_assignment == "least_open":
                rank[agent] += 1
            else:
                latest += 1
                rank[agent] = latest
        return plan
