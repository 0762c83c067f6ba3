import json
import shlex

from odoo import api, fields, models

from ..controllers.main import API_PREFIX, endpoint_path
from ..lib.openapi import ARI_CHANNEL


class CrmInteractionSourceKeyWizard(models.TransientModel):
    """The dialog that shows a new API key once, with the endpoint URL and a
    curl example to copy into the integration. Opened by "Generate API Key";
    nothing is saved: the key travels in the action's context and only its
    hash is stored on the source."""

    _name = "crm.interaction.source.key.wizard"
    _description = "New API Key"

    source_id = fields.Many2one("crm.interaction.source", readonly=True)
    key = fields.Char(readonly=True)
    kind = fields.Selection(
        [("api_key", "API key"), ("signing_secret", "Signing secret")],
        default="api_key",
        readonly=True,
    )
    signing_example = fields.Text(compute="_compute_signing_example")
    endpoint_url = fields.Char(compute="_compute_example")
    curl_example = fields.Text(compute="_compute_example")

    @api.depends("source_id", "key")
    def _compute_example(self):
        root = self.env["ir.config_parameter"].sudo().get_param("web.base.url", "").rstrip("/")
        for wizard in self:
            source = wizard.source_id
            url = root + endpoint_path(source.format or "json", source.id)
            wizard.endpoint_url = url
            auth = shlex.quote(f"Authorization: Bearer {wizard.key or ''}")
            wizard.curl_example = f"curl -s -H {auth} {shlex.quote(root + API_PREFIX + 'ping')}"
            body = wizard._example_body()
            if body:
                wizard.curl_example += (
                    f"\ncurl -s -X POST -H {auth} -H 'Content-Type: application/json' \\\n"
                    f"  -d {shlex.quote(body)} \\\n  {shlex.quote(url)}"
                )

    @api.depends("source_id", "key", "kind")
    def _compute_signing_example(self):
        """A shell example of a request signed the Standard Webhooks way with the
        new secret (the API key is read from $KEY: it is not shown here)."""
        root = self.env["ir.config_parameter"].sudo().get_param("web.base.url", "").rstrip("/")
        for wizard in self:
            if wizard.kind != "signing_secret":
                wizard.signing_example = False
                continue
            source = wizard.source_id
            url = root + endpoint_path(source.format, source.id)
            body = wizard._example_body() or "{}"
            wizard.signing_example = (
                f"SECRET={shlex.quote(wizard.key or '')}\n"
                f"BODY={shlex.quote(body)}\n"
                "ID=msg_$(date +%s%N); TS=$(date +%s)\n"
                "HEXKEY=$(printf '%s' \"${SECRET#whsec_}\" | base64 -d | od -An -v -tx1 | tr -d ' \\n')\n"
                'SIG=$(printf \'%s.%s.%s\' "$ID" "$TS" "$BODY" \\\n'
                '  | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$HEXKEY" -binary | base64)\n'
                f'curl -s -X POST {shlex.quote(url)} -H "Authorization: Bearer $KEY" \\\n'
                "  -H 'Content-Type: application/json' -H \"webhook-id: $ID\" \\\n"
                '  -H "webhook-timestamp: $TS" -H "webhook-signature: v1,$SIG" \\\n'
                '  --data-binary "$BODY"'
            )

    def _example_body(self):
        """The JSON body of the example request for the source's format (none
        for Twilio, which posts forms signed with its own token)."""
        fmt = self.source_id.format or "json"
        if fmt == "asterisk_ari":
            stamp = fields.Datetime.now().strftime("%Y-%m-%dT%H:%M:%S.000+0000")
            channel = {**ARI_CHANNEL, "id": "test-channel-1", "creationtime": stamp}
            return json.dumps(
                {"type": "StasisStart", "timestamp": stamp, "args": [], "channel": channel}
            )
        return json.dumps(self._example_event()) if fmt == "json" else None

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
