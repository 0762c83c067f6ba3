from odoo import fields, models


class ResUsers(models.Model):
    _inherit = "res.users"

    contact_center_available = fields.Boolean(
        string="Available for Requests",
        default=True,
        help="Agents who are away get no new requests from the automatic assignment.",
    )

    @property
    def SELF_WRITEABLE_FIELDS(self):
        return super().SELF_WRITEABLE_FIELDS + ["contact_center_available"]

    @property
    def SELF_READABLE_FIELDS(self):
        return super().SELF_READABLE_FIELDS + ["contact_center_available"]

    def _is_available_agent(self, company, agent_group):
        self.ensure_one()
        return (
            self.active
            and self.contact_center_available
            and company in self.company_ids
            and agent_group in self.groups_id
        )
