from odoo import api, fields, models
from odoo.exceptions import ValidationError

# the agent's own preferences: read and written from the user menu
SELF_FIELDS = ["contact_center_available", "contact_center_extension"]


class ResUsers(models.Model):
    _inherit = "res.users"

    contact_center_available = fields.Boolean(
        string="Available for Requests",
        default=True,
        help="Agents who are away get no new requests from the automatic assignment.",
    )
    contact_center_extension = fields.Char(
        string="Phone Extension",
        index="btree_not_null",
        copy=False,
        help="The agent's extension on the company's PBX: a call ringing on it pops the "
        "caller's card on the agent's screen, and Call buttons ring it first.",
    )

    @property
    def SELF_WRITEABLE_FIELDS(self):
        return super().SELF_WRITEABLE_FIELDS + SELF_FIELDS

    @property
    def SELF_READABLE_FIELDS(self):
        return super().SELF_READABLE_FIELDS + SELF_FIELDS

    @api.constrains("contact_center_extension", "company_ids")
    def _check_contact_center_extension(self):
        """An extension rings one agent of a company: two agents of the same
        company with the same extension would get each other's calls. One
        query for the whole recordset."""
        users = self.filtered("contact_center_extension")
        if not users:
            return
        others = (
            self.sudo().search(
                [
                    ("contact_center_extension", "in", users.mapped("contact_center_extension")),
                    ("id", "not in", users.ids),
                ]
            )
            | users.sudo()
        )
        for user in users:
            clash = others.filtered(
                lambda u, user=user: u != user
                and u.contact_center_extension == user.contact_center_extension
                and u.company_ids & user.company_ids
            )
            if clash:
                raise ValidationError(
                    self.env._(
                        "Extension %(extension)s is already used by %(user)s in the same company.",
                        extension=user.contact_center_extension,
                        user=clash[0].name,
                    )
                )

    def _is_available_agent(self, company, agent_group):
        self.ensure_one()
        return (
            self.active
            and self.contact_center_available
            and company in self.company_ids
            and agent_group in self.groups_id
        )
