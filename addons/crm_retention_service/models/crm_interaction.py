from odoo import fields, models


class CrmInteraction(models.Model):
    _inherit = "crm.interaction"

    # a bad experience the customer voiced: one of the health score's signals
    outcome = fields.Selection(
        selection_add=[("complaint", "Complaint")], ondelete={"complaint": "set null"}
    )
