from odoo import api, models

from .crm_interaction import NO_CAPTURE


class MailMessage(models.Model):
    _inherit = "mail.message"

    @api.model_create_multi
    def create(self, vals_list):
        messages = super().create(vals_list)
        if self.env.context.get("crm_interaction_no_capture") is NO_CAPTURE:
            return messages
        # most messages (channels, tasks, invoices...) are not captured: filter
        # on the cached fields first, so that they cost nothing more
        captured = messages.filtered(
            lambda m: m.res_id and m.model in self.env["crm.interaction"]._CAPTURED_MODELS
        )
        if captured:
            self.env["crm.interaction"]._capture_messages(captured)
        return messages
