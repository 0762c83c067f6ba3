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

    def _pick_interaction_agent(self, company):
        """The team member who gets the next request, or an empty recordset."""
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
            return agents
        Interaction = self.env["crm.interaction"].sudo()
        if self.interaction_assignment == "least_open":
            load = dict(
                Interaction._read_group(
                    [
                        ("user_id", "in", agents.ids),
                        ("state", "in", ("assigned", "in_progress", "missed")),
                    ],
                    ["user_id"],
                    ["__count"],
                )
            )
            return min(agents, key=lambda u: (load.get(u, 0), u.id))
        # round robin: whoever got a request of this team the longest ago (ids give
        # the order even within one second, where assign dates tie)
        last = dict(
            Interaction._read_group(
                [("user_id", "in", agents.ids), ("team_id", "=", self.id)],
                ["user_id"],
                ["id:max"],
            )
        )
        return min(agents, key=lambda u: (last.get(u, 0), u.id))
