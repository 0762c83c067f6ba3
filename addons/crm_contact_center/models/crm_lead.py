from odoo import fields, models


class CrmLead(models.Model):
    _inherit = "crm.lead"

    interaction_ids = fields.One2many("crm.interaction", "lead_id", string="Communications")
    interaction_count = fields.Integer(
        string="Communications Count", compute="_compute_interaction_count"
    )

    def _compute_interaction_count(self):
        counts = self.env["crm.interaction"]._timeline_counts("lead_id", self.ids)
        for lead in self:
            lead.interaction_count = counts.get(lead.id, 0)

    def action_view_interactions(self):
        self.ensure_one()
        return self.env["crm.interaction"]._timeline_action(
            [("lead_id", "=", self.id)],
            {"default_lead_id": self.id, "default_partner_id": self.partner_id.id},
        )

    def action_log_interaction(self):
        self.ensure_one()
        return self.env["crm.interaction.log.wizard"]._action_open(
            partner=self.partner_id, lead=self
        )
