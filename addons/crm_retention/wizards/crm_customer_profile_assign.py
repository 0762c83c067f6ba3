from odoo import api, fields, models


class CrmCustomerProfileAssign(models.TransientModel):
    """ "Assign a Salesperson" to customers (managers): sets the customers' own
    salesperson, which the profiles follow at once."""

    _name = "crm.customer.profile.assign"
    _description = "Assign a Salesperson to Customers"

    profile_ids = fields.Many2many("crm.customer.profile", string="Customers", required=True)
    user_id = fields.Many2one(
        "res.users", string="Salesperson", required=True, domain="[('share', '=', False)]"
    )

    @api.model
    def default_get(self, fields_list):
        values = super().default_get(fields_list)
        if self.env.context.get("active_model") == "crm.customer.profile":
            values.setdefault("profile_ids", [(6, 0, self.env.context.get("active_ids", []))])
        return values

    def action_assign(self):
        self.ensure_one()
        # as the user: writing a customer's salesperson needs the right to edit it
        self.profile_ids.partner_id.write({"user_id": self.user_id.id})
        return {"type": "ir.actions.act_window_close"}
