from odoo import api, fields, models


class CrmInteractionBackfillWizard(models.TransientModel):
    """Confirmation before the one-off import of the history that predates the
    addon: says what will be read (chatter messages, past and upcoming meetings)
    and how it will be logged, and runs the import only on "Import"."""

    _name = "crm.interaction.backfill.wizard"
    _description = "Import Existing Communication History"

    message_count = fields.Integer(string="Chatter Messages", readonly=True)
    past_meeting_count = fields.Integer(string="Past Meetings", readonly=True)
    upcoming_meeting_count = fields.Integer(string="Upcoming Meetings", readonly=True)

    @api.model
    def default_get(self, fields_list):
        Interaction = self.env["crm.interaction"]
        Interaction._check_backfill_allowed()
        values = super().default_get(fields_list)
        now = fields.Datetime.now()
        Event = self.env["calendar.event"].sudo()
        meetings = [("partner_ids", "!=", False)]
        values.update(
            message_count=self.env["mail.message"]
            .sudo()
            .search_count(Interaction._backfill_message_domain()),
            past_meeting_count=Event.search_count([*meetings, ("stop", "<", now)]),
            upcoming_meeting_count=Event.search_count([*meetings, ("stop", ">=", now)]),
        )
        return values

    def action_import(self):
        self.ensure_one()
        return self.env["crm.interaction"].action_backfill_history()
