import secrets
from collections import Counter
from contextlib import nullcontext
from datetime import datetime, timedelta

import psycopg2.errors

from odoo import api, fields, models, tools
from odoo.addons.phone_validation.tools import phone_validation
from odoo.exceptions import UserError, ValidationError
from odoo.tools import SQL, email_normalize, mute_logger, plaintext2html

from ..lib.events import (
    EventError,
    derive_state,
    event_key,
    event_kinds,
    hash_key,
    is_duplicate,
    next_state,
)
from ..lib.originate import build_request
from ..lib.screen_pop import POP_EVENTS, WITHDRAW_EVENTS
from ..lib.signatures import new_webhook_secret
from .crm_interaction import NO_CAPTURE

# the longest overlap a rotation grants the previous key or secret
MAX_OVERLAP_DAYS = 30


class CrmInteractionSource(models.Model):
    """An integration allowed to post events to the inbound API (a PBX, a web
    form backend, a chat or social-network connector).

    Usage (a supervisor, or a shell)::

        source = env["crm.interaction.source"].create({"name": "PBX"})
        key = source.generate_api_key()   # shown once; only its hash is stored
        # the PBX then sends  Authorization: Bearer <key>
        secret = source.generate_signing_secret()   # whsec_…, shown once
        # ... and signs each request the Standard Webhooks way with it

    Rotation with an overlap: ``generate_api_key(previous_valid_until=dt)``
    and ``generate_signing_secret(previous_valid_until=dt)`` keep the previous
    key or secret working until ``dt`` while the integration switches.
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
    # payload format, previous key and signing secrets (see readme/CONFIGURE.md)
    format = fields.Selection(
        [
            ("json", "Suite JSON events"),
            ("twilio", "Twilio status callbacks"),
            ("asterisk_ari", "Asterisk ARI events"),
        ],
        required=True,
        default="json",
        help="What the integration posts, and so its endpoint: the suite's JSON events"
        " (web forms, connectors, the Asterisk AMI relay), Twilio's call status callbacks"
        " or Asterisk ARI (Stasis) events.",
    )
    endpoint_url = fields.Char(
        string="Endpoint", compute="_compute_endpoint_url", help="The URL the integration posts to."
    )
    api_key_previous_hash = fields.Char(
        readonly=True,
        copy=False,
        index="btree_not_null",
        groups="crm_contact_center.group_contact_center_supervisor",
    )
    api_key_previous_expiry = fields.Datetime(
        string="Previous Key Valid Until",
        readonly=True,
        copy=False,
        help="The key replaced by the last rotation keeps working until then.",
    )
    signing_secret_ids = fields.One2many(
        "crm.interaction.source.secret",
        "source_id",
        string="Signing Secrets",
        readonly=True,
        groups="crm_contact_center.group_contact_center_supervisor",
    )
    signing_secret_state = fields.Selection(
        [
            ("none", "None"),
            ("active", "Active"),
            ("rotating", "Rotating (previous one still valid)"),
        ],
        string="Signing Secret",
        compute="_compute_signing_secret_state",
        help="Whether requests can be verified with a signing secret (or a Twilio auth token)."
        " The secret itself is shown once, when generated.",
    )

    # click-to-dial: how to ask the PBX to ring the agent, then the customer
    # (see lib/originate.py and readme/CONFIGURE.md)
    originate_url = fields.Char(
        string="Originate URL",
        help="Click-to-dial: the PBX URL that starts a call, with {extension} (the agent's) "
        "and {number} (the customer's, E.164) placeholders, e.g. Asterisk ARI "
        "http://pbx:8088/ari/channels?endpoint=PJSIP/{extension}&extension={number}"
        "&context=from-internal. Empty: Call buttons open the agent's softphone (tel:).",
    )
    originate_method = fields.Selection([("POST", "POST"), ("GET", "GET")], default="POST")
    originate_body = fields.Text(
        help="Body of a POST, with the same placeholders: JSON when it starts with { "
        '(e.g. {"from": "{extension}", "to": "{number}"}), else form-encoded. Signed with '
        "the source's signing secret (X-Timestamp, X-Signature and the webhook-* headers).",
    )

    _sql_constraints = [
        ("api_key_hash_uniq", "UNIQUE(api_key_hash)", "API keys must be unique."),
    ]

    @api.constrains("originate_url", "originate_method", "originate_body")
    def _check_originate(self):
        """Only http(s) URLs: the server sends the request, so a ``file:`` or
        ``gopher:`` URL must not be accepted (the field is on the
        supervisors' form only)."""
        for source in self.filtered("originate_url"):
            try:
                build_request(
                    source.originate_url, source.originate_method, source.originate_body,
                    "100", "+10000000000", secret=None, timestamp=0, msg_id="check",
                )  # fmt: skip
            except ValueError as exc:
                raise ValidationError(
                    self.env._("Invalid click-to-dial settings: %(reason)s", reason=str(exc))
                ) from None

    @api.depends("format")
    def _compute_endpoint_url(self):
        from ..controllers.main import endpoint_path  # noqa: PLC0415 (controllers import models)

        root = self.env["ir.config_parameter"].sudo().get_param("web.base.url", "").rstrip("/")
        for source in self:
            source.endpoint_url = root + endpoint_path(source.format, source.id or 0)

    @api.depends("signing_secret_ids.date_expiry")
    def _compute_signing_secret_state(self):
        valid = (
            self.env["crm.interaction.source.secret"]
            .sudo()
            ._read_group(
                [
                    ("source_id", "in", self.ids),
                    "|",
                    ("date_expiry", "=", False),
                    ("date_expiry", ">", fields.Datetime.now()),
                ],
                ["source_id"],
                ["__count"],
            )
        )
        counts = {source.id: count for source, count in valid}
        for source in self:
            count = counts.get(source.id, 0)
            source.signing_secret_state = (
                "none" if not count else "active" if count == 1 else "rotating"
            )

    def _compute_interaction_count(self):
        counts = dict(
            self.env["crm.interaction"]._read_group(
                [("source_id", "in", self.ids)], ["source_id"], ["__count"]
            )
        )
        for source in self:
            source.interaction_count = counts.get(source, 0)

    def generate_api_key(self, previous_valid_until=None):
        """Replace the source's key and return the new one; it cannot be read later.

        ``previous_valid_until`` (a datetime, UTC): the replaced key keeps
        working until then (an overlap for the integration to switch);
        without it the replaced key stops working at once.
        """
        self.ensure_one()
        self.check_access("write")
        self._check_overlap(previous_valid_until)
        key = secrets.token_urlsafe(32)
        values = {
            "api_key_hash": hash_key(key),
            "api_key_hint": key[:6] + "…",
            "api_key_previous_hash": False,
            "api_key_previous_expiry": False,
        }
        current = self.sudo().api_key_hash
        if previous_valid_until and current:
            values["api_key_previous_hash"] = current
            values["api_key_previous_expiry"] = previous_valid_until
        self.sudo().write(values)
        return key

    def generate_signing_secret(self, previous_valid_until=None):
        """A new Standard Webhooks signing secret (``whsec_<base64>``), returned
        once: only a hint of it is ever shown again. The source then requires
        signed requests. The secrets valid so far stay valid until
        ``previous_valid_until`` (UTC), or stop at once without it.

        Signing, for the integration: ``webhook-signature: v1,<base64 of
        HMAC-SHA256(base64-decoded secret, "<webhook-id>.<webhook-timestamp>.<body>")>``
        (see ``lib/signatures.py``).
        """
        self.ensure_one()
        secret = new_webhook_secret()
        self._add_secret(secret, "webhook", previous_valid_until)
        self.sudo().require_signature = True
        return secret

    def set_twilio_auth_token(self, token, previous_valid_until=None):
        """Store the Twilio account's auth token the status callbacks are
        verified with. During a Twilio token rotation (secondary token promoted),
        ``previous_valid_until`` keeps the old token valid until then."""
        self.ensure_one()
        token = (token or "").strip()
        self._check_twilio_token(token)
        self._add_secret(token, "twilio", previous_valid_until)

    def _check_twilio_token(self, token):
        if len(token) < 16 or len(token) > 64 or not token.isascii() or not token.isalnum():
            raise UserError(self.env._("A Twilio auth token is 32 letters and digits."))

    def _add_secret(self, secret, kind, previous_valid_until):
        """Store ``secret`` as the source's current one of ``kind``; the other
        valid ones of that kind expire at ``previous_valid_until`` (or now).
        Secrets of the other kind are left alone: rotating a signing secret
        does not stop a Twilio token, nor the reverse."""
        self.check_access("write")
        self._check_overlap(previous_valid_until)
        now = fields.Datetime.now()
        Secret = self.env["crm.interaction.source.secret"].sudo()
        # secrets past their overlap are of no use: forgotten, not kept in clear
        Secret.search([("source_id", "=", self.id), ("date_expiry", "<=", now)]).unlink()
        current = Secret.search([("source_id", "=", self.id), ("kind", "=", kind)])
        current.exists().filtered(
            lambda s: not s.date_expiry or s.date_expiry > (previous_valid_until or now)
        ).write({"date_expiry": previous_valid_until or now})
        Secret.create(
            {
                "source_id": self.id,
                "secret": secret,
                "kind": kind,
                "hint": secret[: 10 if kind == "webhook" else 4] + "…",
            }
        )

    def _check_overlap(self, until):
        if until and not isinstance(until, datetime):
            until = fields.Datetime.to_datetime(until)
        if until and until <= fields.Datetime.now():
            raise UserError(self.env._("The end of the overlap must be in the future."))
        if until and until > fields.Datetime.now() + timedelta(days=MAX_OVERLAP_DAYS):
            # a forgotten overlap would keep a leaked key or secret working
            raise UserError(
                self.env._(
                    "The overlap lasts at most %(days)s days: the previous key or secret"
                    " must stop working soon after the integration switched.",
                    days=MAX_OVERLAP_DAYS,
                )
            )

    def _valid_secrets(self, kind):
        """The clear secrets of ``kind`` that verify a request now (as superuser:
        nobody reads them otherwise)."""
        self.ensure_one()
        now = fields.Datetime.now()
        return [
            secret.secret
            for secret in self.sudo().signing_secret_ids
            if secret.kind == kind and (not secret.date_expiry or secret.date_expiry > now)
        ]

    def action_generate_api_key(self):
        """A new key, shown once in a dialog with the endpoint URL and a curl
        example; the form's key hint is updated at once."""
        self.ensure_one()
        return self._action_show_credential(self.generate_api_key(), "api_key")

    def _action_show_credential(self, value, kind):
        """The dialog that shows a new API key or signing secret once."""
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("New API Key")
            if kind == "api_key"
            else self.env._("New Signing Secret"),
            "res_model": "crm.interaction.source.key.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_source_id": self.id, "default_key": value, "default_kind": kind},
        }

    def action_open_rotate_wizard(self):
        """Rotate the API key, the signing secret or the Twilio auth token (the
        button's context names which), with an optional overlap."""
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Rotate Credentials"),
            "res_model": "crm.interaction.source.rotate.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {
                "default_source_id": self.id,
                "default_credential": self.env.context.get("default_credential", "api_key"),
            },
        }

    def action_view_interactions(self):
        return self.env["crm.interaction"]._timeline_action([("source_id", "in", self.ids)])

    @api.model
    def _authenticate(self, key):
        """The active source owning ``key`` (as superuser), or an empty recordset:
        its current key, or the previous one until the end of the overlap."""
        if not key:
            return self.browse()
        digest = hash_key(key)
        return self.sudo().search(
            [
                "|",
                ("api_key_hash", "=", digest),
                "&",
                ("api_key_previous_hash", "=", digest),
                ("api_key_previous_expiry", ">", fields.Datetime.now()),
            ],
            limit=1,
        )

    # ------------------------------------------------------------------
    # BUSINESS: inbound API events (called by the controller, as superuser,
    # on an authenticated source)
    # ------------------------------------------------------------------

    def _adapter_channel(self):
        """The channel code of the calls a PBX adapter (Twilio, Asterisk, CDR
        import) logs: the first allowed call channel (phone, then IP telephony),
        else ``phone`` (refused with 403 until the integration allows it)."""
        self.ensure_one()
        codes = self.channel_ids.filtered("active").mapped("code")
        return next((code for code in ("phone", "ip_phone") if code in codes), "phone")

    def write(self, vals):
        if "channel_ids" in vals:
            self.env.registry.clear_cache()  # _allowed_channels
        return super().write(vals)

    @tools.ormcache("self.id")
    def _allowed_channels(self):
        """``((code, channel id), ...)`` of the active channels the source may
        log: read once per worker and kept (the registry's cache, cleared in
        every worker when a source's channels or a channel's code or state
        change), as every API request asks it."""
        field = self._fields["channel_ids"]
        return tuple(
            self.env.execute_query(
                SQL(
                    "SELECT channel.code, channel.id FROM %s rel"
                    " JOIN crm_interaction_channel channel ON channel.id = rel.%s"
                    " WHERE rel.%s = %s AND channel.active",
                    SQL.identifier(field.relation),
                    SQL.identifier(field.column2),
                    SQL.identifier(field.column1),
                    self.id,
                )
            )
        )

    def _channels_by_code(self, events):
        """``{code: channel}`` for the events' channels; 403 if one is not allowed."""
        self.ensure_one()
        Channel = self.env["crm.interaction.channel"]
        allowed = {
            code: Channel.browse(channel_id) for code, channel_id in self._allowed_channels()
        }
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

    def _ingest(self, events, retried=False):
        """Apply validated events (see ``lib.events.parse_event``) in order and return
        ``[{"id": interaction id, "status": "created" | "updated" | "duplicate"}]``.

        Idempotent: an event is identified by the source, its ``id`` and its type;
        the events of one call (same ``id``) move one interaction through its states.

        ``retried``: the caller runs the whole call again in a new transaction
        when a concurrent request logged the same call first (the API's
        ``_ingest_retrying``): a single new event then needs no savepoint,
        the unique violation is left to the caller's retry.

        The hot path of the API: one query finds every interaction the batch
        already touches, and the contact and agent matching is memoised for the
        batch (``memo``), so a batch of 500 events from a few callers does not
        repeat the same lookups.
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
                crm_interaction_no_capture=NO_CAPTURE,
                # the callback of a missed call lands in the agent's activities and
                # queue: no "activity assigned" e-mail per call from the API
                mail_activity_quick_update=True,
            )
        )
        # the calls already logged: one indexed lookup (the unique index), no
        # domain to build; their fields are read together when an update needs them
        rows = self.env.execute_query(
            SQL(
                "SELECT external_id, id FROM crm_interaction"
                " WHERE source_key = %s AND external_id = ANY(%s) ORDER BY id",
                f"api:{self.id}",
                list({e["id"] for e in events}),
            )
        )
        found = Interaction.browse([row[1] for row in rows])
        logged = {row[0]: record for row, record in zip(rows, found, strict=True)}
        memo = {}
        per_id = Counter(event["id"] for event in events)
        # the first event of each call not logged yet creates its interaction:
        # all of them at once (contacts, agents and leads matched for the whole
        # batch), or one by one when a concurrent request got there first
        firsts = {}
        for index, event in enumerate(events):
            if event["id"] not in logged and event["id"] not in firsts:
                firsts[event["id"]] = index
        created = self._create_batch(
            Interaction, [events[i] for i in firsts.values()], channels, memo, retried
        )
        results = []
        applied = []  # (interaction, event) of the events not already applied
        for index, event in enumerate(events):
            interaction = logged.get(event["id"])
            if firsts.get(event["id"]) == index:
                if created is not None:
                    interaction, status = created[event["id"]], "created"
                else:
                    interaction, status = self._create_once(
                        Interaction,
                        event,
                        channels[event["channel"]],
                        memo,
                        per_id[event["id"]] == 1,
                    )
                logged[event["id"]] = interaction
                results.append({"id": interaction.id, "status": status})
            elif is_duplicate(event, (interaction.api_events or "").split(",")):
                results.append({"id": interaction.id, "status": "duplicate"})
            else:
                was_missed = interaction.state == "missed"
                interaction.write(self._prepare_update_values(interaction, event, memo=memo))
                if was_missed and interaction.state in ("in_progress", "done"):
                    # the call was answered after all: its callback is needless
                    interaction._cancel_callback()
                results.append({"id": interaction.id, "status": "updated"})
            if results[-1]["status"] != "duplicate":
                applied.append((interaction, event))
        if self.env.context.get("crm_contact_center_screen_pop", True):
            self._screen_pop(applied, memo)
        return results

    def _screen_pop(self, applied, memo):
        """The screen pop of a batch: the card of each call that rings
        (``call.ringing``, ``call.started``) and is not over pops on its
        agents' screens; an answered, ended or missed call's card leaves
        them. ``applied``: ``[(interaction, event)]`` of the events the batch
        applied. The agents the events name (``to.login``, ``to.extension``)
        are found in one query for the batch."""
        ringing = {}
        ended = {}
        for interaction, event in applied:
            if event["event"] in POP_EVENTS:
                ringing[interaction] = event
                ended.pop(interaction, None)
            elif event["event"] in WITHDRAW_EVENTS:
                ended[interaction] = event
                ringing.pop(interaction, None)
        if ringing:
            named = self._match_pop_agents(list(ringing.values()), memo)
            requested = {}
            for interaction, event in ringing.items():
                target = event["to"]
                agents = (named.get(("login", target["login"])) if target["login"] else None) or (
                    named.get(("extension", target["extension"])) if target["extension"] else None
                )
                if agents:
                    requested[interaction] = agents
                elif target["login"] or target["extension"]:
                    # rang on a phone nobody here has: the team picks it up
                    requested[interaction] = self.env["res.users"]
            calls = self.env["crm.interaction"].sudo().browse([i.id for i in ringing])
            calls._screen_pop_send(requested)
        for interaction, event in ended.items():
            keep = interaction.user_id if event["event"] == "call.answered" else None
            interaction._screen_pop_withdraw(keep=keep)

    def _match_pop_agents(self, events, memo):
        """``{("login" | "extension", value): user}`` of the agents ``events``
        name, in one query (logins already matched for routing come from
        ``memo``). An unknown extension names nobody: the team gets the pop."""
        Users = self.env["res.users"]
        found = {
            ("login", key[1]): user for key, user in memo.items() if key[0] == "agent" and user
        }
        logins = {e["to"]["login"] for e in events if e["to"]["login"]} - {key[1] for key in found}
        extensions = {e["to"]["extension"] for e in events if e["to"]["extension"]}
        if not (logins or extensions):
            return found
        domain = [("share", "=", False), ("company_ids", "in", self.company_id.ids)]
        users = Users.search(
            [
                *domain,
                "|",
                ("login", "in", list(logins)),
                ("contact_center_extension", "in", list(extensions)),
            ]
        )
        for user in users:
            if user.login in logins:
                found["login", user.login] = user
            if user.contact_center_extension in extensions:
                found["extension", user.contact_center_extension] = user
        return found

    def _create_batch(self, Interaction, events, channels, memo, retried=False):
        """Create the interactions of the first events of a batch in one
        ``create`` (so routing and callbacks run once for all of them), after
        matching every sender and agent of the batch in a few queries
        (``_match_batch``). Returns ``{event id: interaction}``, or None when
        a concurrent request logged one of these events first: nothing of
        this attempt is kept (savepoint, ``memo`` restored) and the caller
        creates them one by one (``_create_once``) to sort duplicates out.
        With ``retried`` and a single event, no savepoint (two round trips
        of every API call): the unique violation goes up to the caller's retry.
        """
        if not events:
            return {}
        saved_memo = dict(memo)
        # a single event retried by the caller: its transaction is its savepoint
        unguarded = retried and len(events) == 1
        try:
            with nullcontext() if unguarded else self.env.cr.savepoint():
                self._match_batch(events, channels, memo)
                values = [
                    self._prepare_interaction_values(event, channels[event["channel"]], memo=memo)
                    for event in events
                ]
                # a race lost to a concurrent delivery is expected, not a bad query
                with mute_logger("odoo.sql_db"):
                    interactions = Interaction.create(values)
        except psycopg2.errors.UniqueViolation:
            if unguarded:
                raise  # the transaction is aborted: the caller runs it again
            memo.clear()
            memo.update(saved_memo)
            return None
        return {event["id"]: i for event, i in zip(events, interactions, strict=True)}

    def _match_batch(self, events, channels, memo):
        """Fill ``memo`` for ``events`` the way ``_match_contact``,
        ``_create_lead`` and ``_match_agent`` would one event at a time, in a
        few queries for the whole batch: the partners and open leads holding
        the senders' phones or e-mails (``_senders_sql``: a partner by phone,
        else by e-mail; else the open lead of the phone, else of the e-mail);
        the open opportunity of each customer; one ``create`` for the leads of
        the senders still unknown; the agents by login."""
        Partner = self.env["res.partner"].with_context(active_test=True)
        Lead = self.env["crm.lead"]
        senders = {}  # (phone, email): first event of the sender
        for event in events:
            senders.setdefault(self._sender_key(event["from"], memo), event)
        todo = [key for key in senders if ("contact", *key) not in memo]

        def first_by(records, key):
            found = {}
            for record in records:
                found.setdefault(key(record), record)
            return found

        phones = [p for p, _e in todo if p]
        emails = [e for _p, e in todo if e]
        found_partners, found_leads = self._senders_sql(phones, emails)
        by_phone = first_by(
            (p for p in found_partners if p.phone_sanitized), lambda p: p.phone_sanitized
        )
        by_email = first_by(
            (p for p in found_partners if p.email_normalized), lambda p: p.email_normalized
        )
        partners = {
            key: by_phone.get(key[0]) or by_email.get(key[1]) or Partner.browse() for key in todo
        }
        customers = Partner.browse([p.commercial_partner_id.id for p in partners.values() if p])
        open_deal = first_by(
            Lead.search(
                [
                    ("partner_id", "child_of", customers.ids),
                    ("type", "=", "opportunity"),
                    ("stage_id.is_won", "=", False),
                    ("company_id", "in", [self.company_id.id, False]),
                ],
                order="priority desc, probability desc, date_deadline asc, id desc",
            )
            if customers
            else [],
            lambda lead: lead.partner_id.commercial_partner_id,
        )
        by_lead_phone = first_by(
            (lead for lead in found_leads if lead.phone_sanitized),
            lambda lead: lead.phone_sanitized,
        )
        by_lead_email = first_by(
            (lead for lead in found_leads if lead.email_normalized),
            lambda lead: lead.email_normalized,
        )
        for key in todo:
            partner = partners[key]
            if partner:
                lead = open_deal.get(partner.commercial_partner_id) or Lead.browse()
            else:
                phone, email = key
                lead = (by_lead_phone.get(phone) if phone else by_lead_email.get(email)) or (
                    Lead.browse()
                )
                partner = lead.partner_id
            memo["contact", *key] = (partner, lead)
        # the senders nobody knows get their lead, all in one create
        if self.create_lead:
            new = [
                key for key in todo if memo["contact", *key] == (Partner.browse(), Lead.browse())
            ]
            leads = self._create_leads(
                [(senders[key], channels[senders[key]["channel"]], *key) for key in new]
            )
            for key, lead in zip(new, leads, strict=True):
                memo["contact", *key] = (lead.partner_id, lead)
        logins = {e["to"]["login"] for e in events if e["to"]["login"]} - {
            key[1] for key in memo if key[0] == "agent"
        }
        if logins:
            agents = self.env["res.users"].search(
                [
                    ("login", "in", list(logins)),
                    ("share", "=", False),
                    ("company_ids", "in", self.company_id.ids),
                ]
            )
            for login in logins:
                memo["agent", login] = agents.filtered(lambda u, login=login: u.login == login)[:1]

    def _senders_sql(self, phones, emails):
        """``(partners, leads)`` holding one of ``phones`` (E.164) or ``emails``
        (normalised) in the source's company or shared: the active partners in
        their model's order, the active open (not won) leads newest first.

        One query for the whole batch in place of four ``search`` calls: the
        inbound API answers every event with them, and building the domains
        cost more than running the queries. Called as superuser (the API,
        the CDR import), so no record rule is skipped.
        """
        Partner = self.env["res.partner"]
        Lead = self.env["crm.lead"]
        if not phones and not emails:
            return Partner.browse(), Lead.browse()
        # only the keys the batch has: a phone call gives no e-mail, and a
        # condition less is a plan quicker to make (planning is most of the cost)
        keys = SQL(" OR ").join(
            [
                *([SQL("phone_sanitized = ANY(%s)", phones)] if phones else []),
                *([SQL("email_normalized = ANY(%s)", emails)] if emails else []),
            ]
        )
        company = self.company_id.id
        # one round trip: partners first (by name), then leads (newest first)
        rows = self.env.execute_query(
            SQL(
                """(SELECT 0 AS kind, id, complete_name AS name FROM res_partner
                     WHERE active AND (company_id = %(company)s OR company_id IS NULL)
                       AND (%(keys)s))
                   UNION ALL
                   (SELECT 1, id, NULL FROM crm_lead
                     WHERE active AND (company_id = %(company)s OR company_id IS NULL)
                       AND stage_id IN (SELECT id FROM crm_stage WHERE is_won IS NOT TRUE)
                       AND (%(keys)s))
                   ORDER BY kind, name, id DESC""",
                company=company, keys=keys,
            )
        )  # fmt: skip
        return (
            Partner.browse([row[1] for row in rows if row[0] == 0]),
            Lead.browse([row[1] for row in rows if row[0] == 1]),
        )

    def _create_once(self, Interaction, event, channel, memo, alone=True):
        """Create the interaction of a first event; return ``(interaction, status)``.

        When a concurrent request created the same event first, the INSERT waits
        for it and fails on the unique index once it committed. Under REPEATABLE
        READ its row is invisible to this transaction, so a fresh cursor reads it:
        the same event type already applied is a plain ``duplicate`` (no retry of
        the whole request, whose back-off sleeps a worker for a second on
        average); anything else (another event of the same call) is turned into
        a serialization failure so that Odoo retries the request, which then
        finds the interaction and updates it. The savepoint also undoes a lead
        created for this event, and ``memo`` forgets it. ``alone``: no other
        event of the batch has the same ``id``.
        """
        saved_memo = dict(memo)
        try:
            with self.env.cr.savepoint():
                values = self._prepare_interaction_values(event, channel, memo=memo)
                with mute_logger("odoo.sql_db"):
                    return Interaction.create(values), "created"
        except psycopg2.errors.UniqueViolation:
            memo.clear()
            memo.update(saved_memo)
            key = f"api:{self.id}"
            row = None
            if alone:  # a later event of the batch would have to update that row
                with self.env.registry.cursor(readonly=True) as fresh:
                    fresh.execute(
                        SQL(
                            "SELECT id, api_events FROM crm_interaction"
                            " WHERE source_key = %s AND external_id = %s",
                            key,
                            event["id"],
                        )
                    )
                    row = fresh.fetchone()
            if row and is_duplicate(event, (row[1] or "").split(",")):
                return Interaction.browse(row[0]), "duplicate"
            # INSERT ... ON CONFLICT DO NOTHING against the invisible row raises a
            # genuine serialization failure, which odoo.service.model.retrying retries
            self.env.cr.execute(
                SQL(
                    "INSERT INTO crm_interaction"
                    " (source_key, external_id, channel_id, direction, state, date, company_id)"
                    " VALUES (%s, %s, %s, %s, 'new', %s, %s)"
                    " ON CONFLICT (source_key, external_id) DO NOTHING",
                    key,
                    event["id"],
                    channel.id,
                    event["direction"],
                    event["timestamp"],
                    self.company_id.id,
                )
            )
            raise

    def _prepare_interaction_values(self, event, channel, memo=None):
        """Values of the interaction a first event creates. ``memo`` (a dict kept
        for one batch) memoises the matching across the batch's events."""
        memo = {} if memo is None else memo
        sender = event["from"]
        partner, lead, phone, email = self._match_contact(sender, memo=memo)
        if not partner and not lead and self.create_lead:
            lead = self._create_lead(event, channel, phone, email)
            # the next events of the batch from this sender find this lead
            memo[("contact", phone, email)] = (partner, lead)
        agent = self._match_agent(event, memo=memo)
        kind = event["event"]
        return {
            "source_id": self.id,
            "source_key": f"api:{self.id}",
            "external_id": event["id"],
            "api_events": event_key(event),
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
                lead.team_id
                # the salesperson's default team may belong to another of his companies
                or partner.commercial_partner_id.user_id.sale_team_id._filtered_for_company(
                    self.company_id
                )
                or self.team_id
            ).id,
            "company_id": self.company_id.id,
        }

    def _prepare_update_values(self, interaction, event, memo=None):
        kind = event["event"]
        keys = [k for k in (interaction.api_events or "").split(",") if k]
        values = {"api_events": ",".join([*keys, event_key(event)])}
        applied = event_kinds(keys)
        state = next_state(interaction.state, applied, [*applied, kind])
        if state != interaction.state:
            values["state"] = state
        if event["duration"] is not None:
            values["duration"] = event["duration"]
        if event["recording_url"]:
            values["recording_url"] = event["recording_url"]
        if event["text"]:
            values["body"] = (interaction.body or "") + plaintext2html(event["text"])
        agent = self._answering_agent(event, memo) if kind == "call.answered" else None
        if agent:
            # whoever picked up handles the call (after a transfer: the new agent)
            values["user_id"] = agent.id
        return values

    def _answering_agent(self, event, memo):
        """The user who answered: ``to.login``, else the agent whose extension
        is ``to.extension`` (PBXs such as Asterisk know only the extension)."""
        agent = self._match_agent(event, memo=memo)
        extension = event["to"]["extension"]
        if agent or not extension:
            return agent
        if ("extension", extension) not in memo:
            memo["extension", extension] = self._match_pop_agents([event], {}).get(
                ("extension", extension), self.env["res.users"]
            )
        return memo["extension", extension]

    def _match_agent(self, event, memo=None):
        login = event["to"]["login"]
        if not login:
            return self.env["res.users"]
        memo = {} if memo is None else memo
        if ("agent", login) not in memo:
            memo["agent", login] = self.env["res.users"].search(
                [
                    ("login", "=", login),
                    ("share", "=", False),
                    ("company_ids", "in", self.company_id.ids),
                ],
                limit=1,
            )
        return memo["agent", login]

    def _phone_country(self):
        """``(ISO code, dial code)`` of the source's company country, for national
        numbers, or ``(None, None)``.

        ``res.company.country_id`` is computed from the company's address
        (``address_get``: three queries and a country fetch per request); one
        query on the stored columns gives the same country.
        """
        self.ensure_one()
        rows = self.env.execute_query(
            SQL(
                "SELECT country.code, country.phone_code FROM res_company company"
                " JOIN res_partner partner ON partner.id = company.partner_id"
                " JOIN res_country country ON country.id = partner.country_id"
                " WHERE company.id = %s",
                self.company_id.id,
            )
        )
        return rows[0] if rows else (None, None)

    def _format_phone(self, number, country):
        """E.164 of ``number`` with the stock phone_validation helper (as
        ``_phone_format`` does), or ``False`` when it is not a valid number."""
        try:
            return phone_validation.phone_format(
                number, country[0], country[1], force_format="E164", raise_exception=True
            )
        except UserError:
            return False

    def _match_contact(self, sender, memo=None):
        """``(partner, lead, e164 phone, normalised e-mail)`` for an event's sender.

        Phones are compared in E.164 (the company's country for national numbers),
        e-mails case-insensitively; the lead is the customer's most relevant open
        opportunity, or a lead already holding the unknown phone or e-mail.
        ``memo`` (a dict kept for one batch) answers a sender seen before from it.
        """
        memo = {} if memo is None else memo
        phone, email = self._sender_key(sender, memo)
        if ("contact", phone, email) not in memo:
            memo["contact", phone, email] = self._match_partner_lead(phone, email)
        partner, lead = memo["contact", phone, email]
        return partner, lead, phone, email

    def _sender_key(self, sender, memo):
        """``(e164 phone, normalised e-mail)`` of an event's sender, ``False``
        for what it lacks (the company's country, for national numbers, is
        read once per batch into ``memo``)."""
        phone = email = False
        if sender["phone"] and ("phone", sender["phone"]) in memo:
            phone = memo["phone", sender["phone"]]  # parsed once per batch
        elif sender["phone"]:
            # an international number (+32...) needs no country: the company's
            # is read (one query a request) only for a national one
            country = (None, None)
            if not sender["phone"].lstrip().startswith("+"):
                if "country" not in memo:
                    memo["country"] = self._phone_country()
                country = memo["country"]
            phone = self._format_phone(sender["phone"], country) or sender["phone"]
            memo["phone", sender["phone"]] = phone
        if sender["email"]:
            email = email_normalize(sender["email"]) or sender["email"].lower()
        return phone, email

    def _match_partner_lead(self, phone, email):
        """``(partner, lead)`` for a normalised phone and e-mail (see ``_match_contact``)."""
        Partner = self.env["res.partner"].with_context(active_test=True)
        Lead = self.env["crm.lead"]
        company_domain = [("company_id", "in", [self.company_id.id, False])]
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
        return partner, lead

    def _create_lead(self, event, channel, phone, email):
        return self._create_leads([(event, channel, phone, email)])

    def _create_leads(self, senders):
        """The leads of unknown senders ``[(event, channel, phone, email)]``,
        in one create. (Stock crm still finds each new lead's first stage
        with a query per lead.)"""
        Lead = self.env["crm.lead"]
        values = []
        for event, channel, phone, email in senders:
            sender = event["from"]
            who = (
                sender["name"]
                or phone
                or email
                or sender["handle"]
                or self.env._("unknown contact")
            )
            values.append(
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
        return Lead.with_context(mail_create_nolog=True, tracking_disable=True).create(values)
