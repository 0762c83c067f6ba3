from odoo import api, models

from .crm_interaction import NO_CAPTURE

CAPTURED_FIELDS = {"name", "start", "stop", "duration", "partner_ids", "opportunity_id", "user_id"}


class CalendarEvent(models.Model):
    _inherit = "calendar.event"

    @api.model_create_multi
    def create(self, vals_list):
        events = super().create(vals_list)
        if self.env.context.get("crm_interaction_no_capture") is not NO_CAPTURE:
            self.env["crm.interaction"]._capture_meetings(events)
        return events

    def write(self, vals):
        result = super().write(vals)
        no_capture = self.env.context.get("crm_interaction_no_capture") is NO_CAPTURE
        if CAPTURED_FIELDS & set(vals) and not no_capture:
            self.env["crm.interaction"]._capture_meetings(self)
        return result
