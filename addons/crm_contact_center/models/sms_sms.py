from odoo import api, models

from .crm_interaction import NO_CAPTURE


class SmsSms(models.Model):
    _inherit = "sms.sms"

    @api.model_create_multi
    def create(self, vals_list):
        sms_records = super().create(vals_list)
        if self.env.context.get("crm_interaction_no_capture") is not NO_CAPTURE:
            self.env["crm.interaction"]._capture_sms(sms_records)
        return sms_records
