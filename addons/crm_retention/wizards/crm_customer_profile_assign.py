from odoo import fields, models


class CrmCustomerProfileAssign(models.TransientModel):
    """ "Assign a Salesperson" to customers (managers): sets the customers' own
    salesperson, which the profiles follow at once."""

    _name = "crm.customer.profile.assign"
    _inherit = ["crm.customer.profile.selection"]
    _description = "Assign a Salesperson to Customers"

    user_id = fields.Many2one(
        "res.users", string="Salesperson", required=True, domain="[('share', '=', False)]"
    )

    def action_assign(self):
        self.ensure_one()
        # as the user: writing a customer's salesperson needs the right to edit it
        self.profile_ids.partner_id.write({"user_id": self.user_id.id})
        return {"type": "ir.actions.act_window_close"}
