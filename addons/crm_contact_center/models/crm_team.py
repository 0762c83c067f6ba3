from odoo import fields, models


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
