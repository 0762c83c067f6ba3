from odoo import api, fields, models


class CrmInteractionLogWizard(models.TransientModel):
    """ "Log a call / Log an interaction": fast manual entry from a partner, an
    opportunity or a request of the queue (then the request is closed with the
    same outcome, e.g. the callback of a missed call)."""

    _name = "crm.interaction.log.wizard"
    _description = "Log an Interaction"

    channel_id = fields.Many2one(
        "crm.interaction.channel",
        required=True,
        default=lambda self: self.env.ref("crm_contact_center.channel_phone", False),
    )
    direction = fields.Selection(
        [("inbound", "Inbound"), ("outbound", "Outbound")], required=True, default="outbound"
    )
    partner_id = fields.Many2one("res.partner", string="Contact")
    lead_id = fields.Many2one(
        "crm.lead", string="Opportunity", compute="_compute_lead_id", store=True, readonly=False
    )
    origin_id = fields.Many2one("crm.interaction", string="Request Answered", readonly=True)
    date = fields.Datetime(required=True, default=fields.Datetime.now)
    duration_minutes = fields.Float(string="Duration")
    subject = fields.Char(compute="_compute_subject", store=True, readonly=False)
    body = fields.Html(string="Summary")
    outcome = fields.Selection(
        # labels in the user's language (a callable selection is not translated)
        lambda self: self.env["crm.interaction"]
        ._fields["outcome"]
        ._description_selection(self.env),
        default="resolved",
        required=True,
    )
    user_id = fields.Many2one("res.users", string="Agent", default=lambda self: self.env.user)
    team_id = fields.Many2one("crm.team", compute="_compute_team_id", store=True, readonly=False)

    @api.depends("partner_id")
    def _compute_lead_id(self):
        for wizard in self:
            if wizard.lead_id or not wizard.partner_id:
                continue
            if not self.env["crm.lead"].has_access("read"):
                continue  # agents without sales rights log without an opportunity
            wizard.lead_id = self.env["crm.lead"].search(
                [
                    ("partner_id", "child_of", wizard.partner_id.commercial_partner_id.id),
                    ("type", "=", "opportunity"),
                    ("stage_id.is_won", "=", False),
                ],
                order="priority desc, probability desc, id desc",
                limit=1,
            )

    @api.depends("channel_id", "direction", "partner_id")
    def _compute_subject(self):
        for wizard in self:
            wizard.subject = self.env._(
                "%(channel)s %(direction)s %(who)s",
                channel=wizard.channel_id.name or "",
                direction=self.env._("with")
                if wizard.direction == "outbound"
                else self.env._("from"),
                who=wizard.partner_id.name or "",
            ).strip()

    @api.depends("lead_id", "user_id")
    def _compute_team_id(self):
        for wizard in self:
            wizard.team_id = (
                wizard.lead_id.team_id
                or wizard.user_id.sale_team_id._filtered_for_company(
                    wizard.lead_id.company_id or self.env.company
                )
            )

    @api.model
    def _action_open(self, partner=None, lead=None, origin=None):
        context = {"default_partner_id": partner.id if partner else False}
        if lead:
            context["default_lead_id"] = lead.id
        if origin:
            context.update(
                default_origin_id=origin.id,
                default_channel_id=origin.channel_id.id,
                default_direction="outbound",
            )
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Log an Interaction"),
            "res_model": self._name,
            "view_mode": "form",
            "views": [(False, "form")],
            "target": "new",
            "context": context,
        }

    def _prepare_interaction_values(self):
        self.ensure_one()
        return {
            "channel_id": self.channel_id.id,
            "direction": self.direction,
            "partner_id": self.partner_id.id,
            "lead_id": self.lead_id.id,
            "date": self.date,
            "duration": int(self.duration_minutes * 60),
            "subject": self.subject,
            "body": self.body,
            "outcome": self.outcome,
            "state": "done",
            "user_id": self.user_id.id,
            "team_id": self.team_id.id,
            "company_id": (self.lead_id.company_id or self.env.company).id,
        }

    def action_log(self):
        self.ensure_one()
        self.env["crm.interaction"].create(self._prepare_interaction_values())
        if self.origin_id and self.origin_id.state != "done":
            self.origin_id.write(
                {"outcome": self.outcome, "user_id": self.origin_id.user_id.id or self.env.uid}
            )
            self.origin_id.action_done()
        return {"type": "ir.actions.act_window_close"}
