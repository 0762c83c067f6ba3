from datetime import timedelta

from odoo import api, fields, models


class CrmInteractionSourceRotateWizard(models.TransientModel):
    """Replace an integration's API key, signing secret or Twilio auth token,
    optionally keeping the previous one valid for an overlap while the
    integration switches. The new key or secret is then shown once (the
    "New API Key" dialog); only a hint of it is kept."""

    _name = "crm.interaction.source.rotate.wizard"
    _description = "Rotate Integration Credentials"

    source_id = fields.Many2one("crm.interaction.source", required=True, readonly=True)
    source_format = fields.Selection(related="source_id.format")
    credential = fields.Selection(
        [
            ("api_key", "API key (Bearer)"),
            ("signing_secret", "Signing secret (Standard Webhooks)"),
            ("twilio_token", "Twilio auth token"),
        ],
        required=True,
        default="api_key",
    )
    keep_previous = fields.Boolean(
        string="Overlap",
        default=True,
        help="Keep the previous key or secret working for a while, so the integration"
        " can switch without losing events.",
    )
    previous_valid_until = fields.Datetime(
        string="Previous One Valid Until",
        default=lambda self: fields.Datetime.now() + timedelta(days=7),
    )
    twilio_auth_token = fields.Char(
        help="The Auth Token of the Twilio account (Twilio Console > Account > API keys"
        " & tokens). Stored for the signature checks, never shown again.",
    )

    @api.onchange("credential")
    def _onchange_credential(self):
        # the first Twilio token or signing secret has nothing to overlap with
        if self.credential == "api_key":
            self.keep_previous = bool(self.source_id.api_key_hint)
        else:
            self.keep_previous = self.source_id.signing_secret_state != "none"

    def action_confirm(self):
        self.ensure_one()
        source = self.source_id
        until = self.previous_valid_until if self.keep_previous else None
        if self.credential == "twilio_token":
            source.set_twilio_auth_token(self.twilio_auth_token, previous_valid_until=until)
            return {"type": "ir.actions.act_window_close"}
        if self.credential == "signing_secret":
            secret = source.generate_signing_secret(previous_valid_until=until)
            return source._action_show_credential(secret, "signing_secret")
        key = source.generate_api_key(previous_valid_until=until)
        return source._action_show_credential(key, "api_key")
