from odoo import fields, models

# interactions shown in the partner form's timeline; the smart button opens all
TIMELINE_SIZE = 10


class ResPartner(models.Model):
    _inherit = "res.partner"

    # every inbound call, message and screen pop finds its caller by these two
    # columns (crm.interaction.source._senders_sql): stock Odoo indexes them on
    # crm.lead but not on res.partner, where a million contacts would mean a
    # sequential scan per event
    phone_sanitized = fields.Char(index="btree_not_null")
    email_normalized = fields.Char(index="btree_not_null")

    interaction_ids = fields.One2many(
        "crm.interaction",
        "commercial_partner_id",
        string="Communications",
        help="Every interaction with the customer and its contacts, newest first.",
    )
    interaction_timeline_ids = fields.One2many(
        "crm.interaction",
        compute="_compute_interaction_timeline_ids",
        string="Latest Communications",
        help="The latest interactions with the customer and its contacts; the"
        " Communications button opens all of them.",
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

    def _compute_interaction_timeline_ids(self):
        """The newest interactions only: the form of a customer with 10,000 of them
        must not load them all (the ``interaction_ids`` one2many would read every
        id). One top-N query per partner on the (partner, date desc, id desc)
        index: the field is shown on the form, where ``self`` is one partner, and
        a grouped top-N over several partners would scan all their rows."""
        Interaction = self.env["crm.interaction"]
        for partner in self:
            if not partner._origin:
                partner.interaction_timeline_ids = Interaction
                continue
            partner.interaction_timeline_ids = Interaction.search(
                partner._origin._interaction_domain(), limit=TIMELINE_SIZE
            )

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
