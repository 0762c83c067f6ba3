import secrets

import psycopg2.errors

from odoo import api, fields, models
from odoo.tools import SQL, email_normalize, plaintext2html

from ..lib.events import STATE_RANK, EventError, derive_state, hash_key


class CrmInteractionSource(models.Model):
    """An integration allowed to post events to the inbound API (a PBX, a web
    form backend, a chat or social-network connector).

    Usage (a supervisor, or a shell)::

        source = env["crm.interaction.source"].create({"name": "PBX"})
        key = source.generate_api_key()   # shown once; only its hash is stored
        # the PBX then sends  Authorization: Bearer <key>
    """

    _name = "crm.interaction.source"
    _description = "Interaction Source (API integration)"
    _order = "name, id"
    _check_company_auto = True

    name = fields.Char(required=True)
    active = fields.Boolean(default=True)
    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company, index=True
    )
    channel_ids = fields.Many2many(
        "crm.interaction.channel",
        string="Allowed Channels",
        check_company=True,
        help="Events on other channels are refused (403). Leave empty to allow none.",
    )
    team_id = fields.Many2one(
        "crm.team", string="Default Team", check_company=True,
        help="Team of the requests whose customer has no salesperson.",
    )  # fmt: skip
    create_lead = fields.Boolean(
        string="Create Lead for Unknown Contacts",
        default=True,
        help="An event from an unknown phone or e-mail creates a lead, so no request is lost.",
    )
    require_signature = fields.Boolean(
        help="Requests must also carry X-Timestamp and an HMAC-SHA256 X-Signature.",
    )
    api_key_hash = fields.Char(
        readonly=True, copy=False, groups="crm_contact_center.group_contact_center_supervisor"
    )
    api_key_hint = fields.Char(
        string="Key", readonly=True, copy=False, help="The first characters of the current key."
    )
    interaction_count = fields.Integer(compute="_compute_interaction_count")

    _sql_constraints = [
        ("api_key_hash_uniq", "UNIQUE(api_key_hash)", "API keys must be unique."),
    ]

    def _compute_interaction_count(self):
        counts = dict(
            self.env["crm.interaction"]._read_group(
                [("source_id", "in", self.ids)], ["source_id"], ["__count"]
            )
        )
        for source in self:
            source.interaction_count = counts.get(source, 0)

    def generate_api_key(self):
        """Replace the source's key and return the new one; it cannot be read later."""
        self.ensure_one()
        self.check_access("write")
        key = secrets.token_urlsafe(32)
        self.sudo().write({"api_key_hash": hash_key(key), "api_key_hint": key[:6] + "…"})
        return key

    def action_generate_api_key(self):
        key = self.generate_api_key()
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": self.env._("Copy the key now: it is shown only once"),
                "message": key,
                "sticky": True,
                "type": "warning",
            },
        }

    def action_view_interactions(self):
        return self.env["crm.interaction"]._timeline_action([("source_id", "in", self.ids)])

    @api.model
    def _authenticate(self, key):
        """The active source owning ``key`` (as superuser), or an empty recordset."""
        if not key:
            return self.browse()
        return self.sudo().search([("api_key_hash", "=", hash_key(key))], limit=1)

    # ------------------------------------------------------------------
    # BUSINESS: inbound API events (called by the controller, as superuser,
    # on an authenticated source)
    # ------------------------------------------------------------------

    def _channels_by_code(self, events):
        """``{code: channel}`` for the events' channels; 403 if one is not allowed."""
        self.ensure_one()
        allowed = {channel.code: channel for channel in self.channel_ids if channel.active}
        for index, event in enumerate(events):
            if event["channel"] not in allowed:
                field = f"[{index}].channel" if len(events) > 1 else "channel"
                raise EventError(
                    "channel_not_allowed",
                    f"channel {event['channel']!r} is not allowed for this source",
                    field,
                    status=403,
                )
        return allowed

    def _ingest(self, events):
        """Apply validated events (see ``lib.events.parse_event``) in order and return
        ``[{"id": interaction id, "status": "created" | "updated" | "duplicate"}]``.

        Idempotent: an event is identified by the source, its ``id`` and its type;
        the events of one call (same ``id``) move one interaction through its states.
        """
        self.ensure_one()
        channels = self._channels_by_code(events)
        Interaction = (
            self.env["crm.interaction"]
            .sudo()
            .with_company(self.company_id)
            .with_context(
                mail_create_nolog=True,
                mail_create_nosubscribe=True,
                tracking_disable=True,
                crm_interaction_no_capture=True,
            )
        )
        key = f"api:{self.id}"
        results = []
        for event in events:
            interaction = Interaction.search(
                [("source_key", "=", key), ("external_id", "=", event["id"])], limit=1
            )
            if not interaction:
                values = self._prepare_interaction_values(event, channels[event["channel"]])
                interaction = self._create_once(Interaction, values)
                results.append({"id": interaction.id, "status": "created"})
            elif event["event"] in (interaction.api_events or "").split(","):
                results.append({"id": interaction.id, "status": "duplicate"})
            else:
                interaction.write(self._prepare_update_values(interaction, event))
                results.append({"id": interaction.id, "status": "updated"})
        return results

    def _create_once(self, Interaction, values):
        """Create the interaction; if a concurrent request created the same event
        first, turn the unique violation into a serialization failure so that
        Odoo retries the whole request, which then finds the event logged."""
        try:
            with self.env.cr.savepoint():
                return Interaction.create(values)
        except psycopg2.errors.UniqueViolation:
            # Under REPEATABLE READ the winner's row is invisible to this snapshot:
            # INSERT ... ON CONFLICT DO NOTHING against it raises a genuine
            # serialization failure, which odoo.service.model.retrying retries.
            self.env.cr.execute(
                SQL(
                    "INSERT INTO crm_interaction"
                    " (source_key, external_id, channel_id, direction, state, date, company_id)"
                    " VALUES (%s, %s, %s, %s, 'new', %s, %s)"
                    " ON CONFLICT (source_key, external_id) DO NOTHING",
                    values["source_key"],
                    values["external_id"],
                    values["channel_id"],
                    values["direction"],
                    values["date"],
                    values["company_id"],
                )
            )
            raise

    def _prepare_interaction_values(self, event, channel):
        sender = event["from"]
        partner, lead, phone, email = self._match_contact(sender)
        if not partner and not lead and self.create_lead:
            lead = self._create_lead(event, channel, phone, email)
        agent = self._match_agent(event)
        kind = event["event"]
        return {
            "source_id": self.id,
            "source_key": f"api:{self.id}",
            "external_id": event["id"],
            "api_events": kind,
            "channel_id": channel.id,
            "direction": event["direction"],
            "state": derive_state([kind]),
            "date": event["timestamp"],
            "duration": event["duration"] or 0,
            "subject": event["subject"]
            or self.env._(
                "%(channel)s from %(who)s",
                channel=channel.name,
                who=sender["name"] or phone or email or sender["handle"] or "?",
            ),
            "body": plaintext2html(event["text"]) if event["text"] else False,
            "recording_url": event["recording_url"],
            "partner_id": partner.id,
            "lead_id": lead.id,
            "contact_name": sender["name"] or sender["handle"],
            "contact_phone": phone,
            "contact_email": email,
            "user_id": agent.id,
            "team_id": (
                lead.team_id or partner.commercial_partner_id.user_id.sale_team_id or self.team_id
            ).id,
            "company_id": self.company_id.id,
        }

    def _prepare_update_values(self, interaction, event):
        kind = event["event"]
        values = {"api_events": f"{interaction.api_events},{kind}"}
        state = derive_state(values["api_events"].split(","))
        current = interaction.state
        if STATE_RANK[state] > STATE_RANK[current] or (
            state == "in_progress" and current == "assigned"
        ):
            values["state"] = state
        if event["duration"] is not None:
            values["duration"] = event["duration"]
        if event["recording_url"]:
            values["recording_url"] = event["recording_url"]
        if event["text"]:
            values["body"] = (interaction.body or "") + plaintext2html(event["text"])
        agent = self._match_agent(event) if kind == "call.answered" else None
        if agent:
            values["user_id"] = agent.id  # whoever picked up handles the call
        return values

    def _match_agent(self, event):
        login = event["to"]["login"]
        if not login:
            return self.env["res.users"]
        return self.env["res.users"].search(
            [
                ("login", "=", login),
                ("share", "=", False),
                ("company_ids", "in", self.company_id.ids),
            ],
            limit=1,
        )

    def _match_contact(self, sender):
        """``(partner, lead, e164 phone, normalised e-mail)`` for an event's sender.

        Phones are compared in E.164 (the company's country for national numbers),
        e-mails case-insensitively; the lead is the customer's most relevant open
        opportunity, or a lead already holding the unknown phone or e-mail.
        """
        Partner = self.env["res.partner"].with_context(active_test=True)
        Lead = self.env["crm.lead"]
        company_domain = [("company_id", "in", [self.company_id.id, False])]
        phone = email = False
        if sender["phone"]:
            phone = (
                Partner._phone_format(number=sender["phone"], country=self.company_id.country_id)
                or sender["phone"]
            )
        if sender["email"]:
            email = email_normalize(sender["email"]) or sender["email"].lower()
        partner, lead = Partner.browse(), Lead.browse()
        if phone:
            partner = Partner.search([("phone_sanitized", "=", phone), *company_domain], limit=1)
        if not partner and email:
            partner = Partner.search([("email_normalized", "=", email), *company_domain], limit=1)
        if partner:
            lead = Lead.search(
                [
                    ("partner_id", "child_of", partner.commercial_partner_id.id),
                    ("type", "=", "opportunity"),
                    ("stage_id.is_won", "=", False),
                    ("company_id", "in", [self.company_id.id, False]),
                ],
                order="priority desc, probability desc, date_deadline asc, id desc",
                limit=1,
            )
        else:
            lead_domain = (
                [("phone_sanitized", "=", phone)] if phone else [("email_normalized", "=", email)]
            )
            if phone or email:
                lead = Lead.search(
                    [*lead_domain, ("stage_id.is_won", "=", False), *company_domain],
                    order="id desc",
                    limit=1,
                )
            partner = lead.partner_id
        return partner, lead, phone, email

    def _create_lead(self, event, channel, phone, email):
        sender = event["from"]
        who = sender["name"] or phone or email or sender["handle"] or self.env._("unknown contact")
        return (
            self.env["crm.lead"]
            .with_context(mail_create_nolog=True, tracking_disable=True)
            .create(
                {
                    "name": event["subject"]
                    or self.env._(
                        "%(channel)s request from %(who)s", channel=channel.name, who=who
                    ),
                    "type": "lead",
                    "contact_name": sender["name"] or sender["handle"],
                    "phone": phone,
                    "email_from": email,
                    "description": plaintext2html(event["text"]) if event["text"] else False,
                    "team_id": self.team_id.id,
                    "company_id": self.company_id.id,
                    "user_id": False,
                }
            )
        )
