from odoo import api, models


class MailMessage(models.Model):
    _inherit = "mail.message"

    @api.model_create_multi
    def create(self, vals_list):
        messages = super().create(vals_list)
        if not self.env.context.get("crm_interaction_no_capture"):
            self.env["crm.interaction"]._capture_messages(messages)
        return messages
