from odoo import api, fields, models


class CrmCustomerProfileCall(models.TransientModel):
    """ "Schedule a Call" on one or many customers (a row or a selection of the
    customer lists): a call activity on each profile, for the customer's own
    salesperson or for a chosen user, due on a date. Salespeople use it on
    the customers they may read; the activity shows in their To-Do and on the
    profile's chatter."""

    _name = "crm.customer.profile.call"
    _inherit = ["crm.customer.profile.selection"]
    _description = "Schedule a Call with Customers"

    profile_count = fields.Integer(compute="_compute_profile_count")
    assign_to = fields.Selection(
        [("owner", "Each customer's salesperson"), ("user", "One person")],
        default="owner",
        required=True,
        help="Customers without a salesperson go to you.",
    )
    user_id = fields.Many2one(
        "res.users", string="Assigned To", default=lambda self: self.env.user,
        domain="[('share', '=', False)]",
    )  # fmt: skip
    date_deadline = fields.Date(
        string="Due Date", required=True, default=lambda self: fields.Date.add(fields.Date.context_today(self), days=1)
    )  # fmt: skip
    summary = fields.Char(default=lambda self: self.env._("Call to keep the customer"))
    note = fields.Html()

    @api.depends("profile_ids")
    def _compute_profile_count(self):
        for wizard in self:
            wizard.profile_count = len(wizard.profile_ids)

    def action_schedule(self):
        self.ensure_one()
        profiles = self.profile_ids
        # the user must read every customer he plans a call with; the activity is
        # then created with the engine's rights (assigning a colleague subscribes
        # him, which a read-only profile would refuse), still authored by the user
        profiles.check_access("read")
        call = self.env.ref("mail.mail_activity_data_call")
        for profile in profiles.sudo():
            user = self.user_id if self.assign_to == "user" else profile.user_id
            profile.activity_schedule(
                activity_type_id=call.id,
                date_deadline=self.date_deadline,
                summary=self.summary,
                note=self.note,
                user_id=(user if user.active else self.env.user).id,
            )
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "success",
                "message": self.env._("1 call planned.")
                if len(profiles) == 1
                else self.env._("%(count)s calls planned.", count=len(profiles)),
                "next": {"type": "ir.actions.act_window_close"},
            },
        }
