import json
import shlex

from odoo import api, fields, models

from ..controllers.main import API_PREFIX, EVENTS_URL


class CrmInteractionSourceKeyWizard(models.TransientModel):
    """The dialog that shows a new API key once, with the endpoint URL and a
    curl example to copy into the integration. Opened by "Generate API Key";
    nothing is saved: the key travels in the action's context and only its
    hash is stored on the source."""

    _name = "crm.interaction.source.key.wizard"
    _description = "New API Key"

    source_id = fields.Many2one("crm.interaction.source", readonly=True)
    key = fields.Char(readonly=True)
    endpoint_url = fields.Char(compute="_compute_example")
    curl_example = fields.Text(compute="_compute_example")

    @api.depends("source_id", "key")
    def _compute_example(self):
        root = self.env["ir.config_parameter"].sudo().get_param("web.base.url", "").rstrip("/")
        for wizard in self:
            url = root + EVENTS_URL
            wizard.endpoint_url = url
            auth = shlex.quote(f"Authorization: Bearer {wizard.key or ''}")
            event = json.dumps(wizard._example_event())
            wizard.curl_example = (
                f"curl -s -H {auth} {shlex.quote(root + API_PREFIX + 'ping')}\n"
                f"curl -s -X POST -H {auth} -H 'Content-Type: application/json' \\\n"
                f"  -d {shlex.quote(event)} \\\n  {shlex.quote(url)}"
            )

    def _example_event(self):
        """An event on a channel the source accepts: a missed call when it takes
        calls, else an inbound message."""
        codes = self.source_id.channel_ids.filtered("active").mapped("code")
        timestamp = fields.Datetime.now().strftime("%Y-%m-%dT%H:%M:%SZ")
        if not codes or "phone" in codes:
            return {
                "event": "call.missed",
                "id": "test-call-1",
                "timestamp": timestamp,
                "from": {"phone": "+15555550100", "name": "Test Caller"},
            }
        channel = "ip_phone" if "ip_phone" in codes else codes[0]
        kind = "call.missed" if channel == "ip_phone" else "message.received"
        return {
            "event": kind,
            "id": "test-event-1",
            "timestamp": timestamp,
            "channel": channel,
            "from": {"email": "test.caller@example.com", "name": "Test Caller"},
            **({"text": "Hello, this is a test."} if kind == "message.received" else {}),
        }
