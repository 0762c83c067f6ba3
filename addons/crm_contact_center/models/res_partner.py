from odoo import fields, models


class ResPartner(models.Model):
    _inherit = "res.partner"

    interaction_ids = fields.One2many(
        "crm.interaction",
        "commercial_partner_id",
        string="Communications",
        help="Every interaction with the customer and its contacts, newest first.",
    )
    interaction_count = fields.Integer(
        string="Communications Count", compute="_compute_interaction_count"
    )

    def _compute_interaction_count(self):
        Interaction = self.env["crm.interaction"]
        # a company counts its contacts' interactions, a person only theirs
        companies = self.filtered(lambda p: p == p.commercial_partner_id)
        by_customer = Interaction._timeline_counts("commercial_partner_id", companies.ids)
        by_contact = Interaction._timeline_counts("partner_id", (self - companies).ids)
        for partner in self:
            counts = by_customer if partner in companies else by_contact
            partner.interaction_count = counts.get(partner.id, 0)

    def _interaction_domain(self):
        self.ensure_one()
        if self == self.commercial_partner_id:
            return [("commercial_partner_id", "=", self.id)]
        return [("partner_id", "=", self.id)]

    def action_view_interactions(self):
        return self.env["crm.interaction"]._timeline_action(
            self._interaction_domain(), {"default_partner_id": self.id}
        )

    def action_log_interaction(self):
        return self.env["crm.interaction.log.wizard"]._action_open(partner=self)
