from odoo import api, fields, models


class CrmInteractionSourceSecret(models.Model):
    """A secret an integration signs its requests with: a Standard Webhooks
    signing secret (``whsec_…``, generated here) or, for Twilio, the account's
    auth token. The HMAC schemes need the secret itself, so it is kept in
    clear, but in a field no user can read through the ORM (``NO_ACCESS``,
    as ``auth_totp`` keeps its secrets): only the server's verification reads
    it, as superuser. Users see a hint, the creation date and the expiry.

    Several secrets of a source may be valid at once: rotating one gives the
    previous one an expiry date (the overlap during which the sender switches),
    instead of revoking it at once. Created and expired through
    ``crm.interaction.source.generate_signing_secret`` /
    ``set_twilio_auth_token`` only.
    """

    _name = "crm.interaction.source.secret"
    _description = "Interaction Source Signing Secret"
    _order = "create_date desc, id desc"

    source_id = fields.Many2one(
        "crm.interaction.source", required=True, ondelete="cascade", index=True, readonly=True
    )
    secret = fields.Char(required=True, copy=False, groups=fields.NO_ACCESS)
    hint = fields.Char(readonly=True, help="The first characters of the secret.")
    kind = fields.Selection(
        [("webhook", "Signing secret (Standard Webhooks)"), ("twilio", "Twilio auth token")],
        required=True,
        readonly=True,
    )
    date_expiry = fields.Datetime(
        string="Valid Until",
        readonly=True,
        help="Empty: valid until the next rotation. Set by a rotation to the end of the overlap.",
    )
    is_valid = fields.Boolean(string="Valid", compute="_compute_is_valid")

    @api.depends("date_expiry")
    def _compute_is_valid(self):
        now = fields.Datetime.now()
        for secret in self:
            secret.is_valid = not secret.date_expiry or secret.date_expiry > now

    @api.autovacuum
    def _gc_expired_secrets(self):
        """Secrets past their overlap verify nothing: forgotten daily rather
        than kept in clear until the source's next rotation."""
        self.sudo().search([("date_expiry", "<=", fields.Datetime.now())]).unlink()
