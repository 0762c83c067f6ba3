from odoo import api, fields, models


class CrmCustomerProfileSelection(models.AbstractModel):
    """The customers a list action was started on: the actions bound to
    customer profiles (Schedule a Call, Assign a Salesperson, Add to
    Campaign) inherit it and get the selected rows in ``profile_ids``."""

    _name = "crm.customer.profile.selection"
    _description = "Selected Customer Profiles"

    profile_ids = fields.Many2many("crm.customer.profile", string="Customers", required=True)

    @api.model
    def default_get(self, fields_list):
        values = super().default_get(fields_list)
        if self.env.context.get("active_model") == "crm.customer.profile":
            values.setdefault("profile_ids", [(6, 0, self.env.context.get("active_ids", []))])
        return values
