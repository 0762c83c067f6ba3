from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import ValidationError


class CrmInteractionSourceRotateWizard(models.TransientModel):
    """Replace an integration's API key, signing secret or Twilio auth token,
    optionally keeping the previous one valid for an overlap while the
    integration switches. The new key or secret is then shown once (the
    "New API Key" dialog); only a hint of it is kept."""

    _name = "crm.interaction.source.rotate.wizard"
    _description = "Rotate Integration Credentials"
    _check_company_auto = True

    source_id = fields.Many2one(
        "crm.interaction.source", required=True, readonly=True, check_company=True
    )
    company_id = fields.Many2one(related="source_id.company_id")
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
    # Kept in this dialog's row only between its save and the confirmation,
    # which empties it; only its author reads the row (record rule).
    twilio_auth_token = fields.Char(
        help="The Auth Token of the Twilio account (Twilio Console > Account > API keys"
        " & tokens). Stored for the signature checks, never shown again.",
    )

    @api.constrains("credential", "source_id")
    def _check_credential(self):
        """A Twilio integration is verified with its account's auth token only
        (Twilio sends no Bearer key and signs its own way); the others with
        their API key and signing secret."""
        for wizard in self:
            is_twilio = wizard.source_id.format == "twilio"
            if is_twilio != (wizard.credential == "twilio_token"):
                raise ValidationError(
                    self.env._(
                        "A Twilio integration is verified with its auth token only; the"
                        " others with their API key and signing secret."
                    )
                )

    @api.constrains("credential", "twilio_auth_token", "keep_previous", "previous_valid_until")
    def _check_values(self):
        # checked when the dialog is saved: a bad token is refused before it is stored
        for wizard in self:
            if wizard.credential == "twilio_token" and wizard.twilio_auth_token:
                wizard.source_id._check_twilio_token((wizard.twilio_auth_token or "").strip())
            if wizard.keep_previous:
                wizard.source_id._check_overlap(wizard.previous_valid_until)

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
            token, self.twilio_auth_token = self.twilio_auth_token, False
            source.set_twilio_auth_token(token, previous_valid_until=until)
            return {"type": "ir.actions.act_window_close"}
        if self.credential == "signing_secret":
            secret = source.generate_signing_secret(previous_valid_until=until)
            return source._action_show_credential(secret, "signing_secret")
        key = source.generate_api_key(previous_valid_until=until)
        return source._action_show_credential(key, "api_key")
