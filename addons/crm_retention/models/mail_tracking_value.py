from odoo import models


class MailTrackingValue(models.Model):
    """Lifecycle stage changes in the chatter, named in the reader's language.

    A tracking value keeps the names of a many2one in the language of the
    user who made the change; the lifecycle notes are written by the nightly
    recompute for every reader, so they carry the stage ids and are named
    here, when the chatter is read, from the stages themselves.
    """

    _inherit = "mail.tracking.value"

    def _tracking_value_format_model(self, model):
        formatted = super()._tracking_value_format_model(model)
        if model != "res.partner":
            return formatted
        field = self.env["ir.model.fields"]._get("res.partner", "lifecycle_stage_id")
        ours = {tracking.id: tracking for tracking in self if tracking.field_id == field}
        if not ours:
            return formatted
        ids = {v for t in ours.values() for v in (t.old_value_integer, t.new_value_integer) if v}
        # sudo: the names of stages of any company the note may show
        stages = self.env["crm.lifecycle.stage"].sudo().browse(ids).exists()
        names = {stage.id: stage.name for stage in stages}
        History = self.env["crm.lifecycle.history"]
        reasons = dict(History._fields["reason"]._description_selection(self.env))
        for info in formatted:
            tracking = ours.get(info["id"])
            if tracking:
                reason = (tracking.field_info or {}).get("reason")
                if reason and reason != "rule":
                    info["changedField"] = f"{info['changedField']} ({reasons.get(reason, reason)})"
                for key, stage_id, stored in (
                    ("oldValue", tracking.old_value_integer, tracking.old_value_char),
                    ("newValue", tracking.new_value_integer, tracking.new_value_char),
                ):
                    info[key]["value"] = names.get(stage_id, stored or False)
        return formatted
