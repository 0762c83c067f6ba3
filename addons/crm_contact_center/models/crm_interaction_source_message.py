from datetime import timedelta

from odoo import api, fields, models
from odoo.tools import SQL

from ..lib.signatures import WEBHOOK_TOLERANCE_SECONDS


class CrmInteractionSourceMessage(models.Model):
    """The ``webhook-id`` of each signed request a source sent in the last
    minutes. A signature only proves who sent a request and when; a request
    captured on its way could be sent again while its timestamp is still
    within the tolerance window. Its id is then known: it is answered as a
    duplicate and nothing is applied twice (a sender's retry of the same
    message, which the Standard Webhooks spec makes carry the same id, gets the
    same answer). Ids older than twice the window are forgotten: by then the
    timestamp check refuses the request anyway.

    Written by the inbound API only, in the same transaction as the events: a
    refused request leaves no id behind and can be sent again once corrected.
    """

    _name = "crm.interaction.source.message"
    _description = "Interaction Source Webhook Message"
    _log_access = False

    source_id = fields.Many2one(
        "crm.interaction.source", required=True, ondelete="cascade", readonly=True
    )
    message_id = fields.Char(required=True, readonly=True)
    date = fields.Datetime(required=True, readonly=True, default=fields.Datetime.now)

    _sql_constraints = [
        (
            "source_message_uniq",
            "UNIQUE(source_id, message_id)",
            "A message is received once per integration.",
        ),
    ]

    @api.model
    def _claim(self, source_id, message_id):
        """Record ``message_id`` for the source; False when it was already
        recorded (a replay). A concurrent request with the same id waits for
        this transaction and then sees it."""
        self.env.cr.execute(
            SQL(
                "INSERT INTO %s (source_id, message_id, date)"
                " VALUES (%s, %s, now() AT TIME ZONE 'UTC')"
                " ON CONFLICT (source_id, message_id) DO NOTHING RETURNING id",
                SQL.identifier(self._table),
                source_id,
                message_id,
            )
        )
        return bool(self.env.cr.fetchone())

    @api.autovacuum
    def _gc_old_messages(self):
        limit = fields.Datetime.now() - timedelta(seconds=2 * WEBHOOK_TOLERANCE_SECONDS)
        self.env.cr.execute(
            SQL("DELETE FROM %s WHERE date < %s", SQL.identifier(self._table), limit)
        )
