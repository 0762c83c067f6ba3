import json
import subprocess
import threading
import time
from datetime import UTC, date, datetime, timedelta
from unittest.mock import patch

from odoo import sql_db
from odoo.exceptions import ValidationError
from odoo.tests import Form, HttpCase, tagged
from odoo.tools import SQL, mute_logger

from ..lib.events import MAX_BODY_BYTES, sign
from .common import ContactCenterCommon

URL = "/crm_contact_center/v1/events"


@tagged("post_install", "-at_install")
class TestInboundApi(ContactCenterCommon, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_contact_center()
        cls.source = cls.env["crm.interaction.source"].create(
            {
                "name": "Office PBX",
                "company_id": cls.company.id,
                "team_id": cls.team.id,
                "channel_ids": [(6, 0, [cls.channel[c].id for c in ("phone", "email", "web")])],
            }
        )
        cls.key = cls.source.generate_api_key()
        cls.customer.user_id = False  # routing goes through the team unless a test sets it

    def _post(self, payload, key=None, headers=None, raw=None):
        body = raw if raw is not None else json.dumps(payload).encode()
        all_headers = {"Content-Type": "application/json"}
        if key is not False:
            all_headers["Authorization"] = f"Bearer {key or self.key}"
        all_headers.update(headers or {})
        response = self.opener.post(
            self.base_url() + URL, data=body, headers=all_headers, timeout=30
        )
        return response.status_code, self._without_request_id(response)

    def _without_request_id(self, response):
        """The body, once checked that it and the header carry the same request id."""
        body = response.json()
        items = [body.get("error", body)] if isinstance(body, dict) else body
        for item in items:
            self.assertEqual(item.pop("request_id"), response.headers["X-Request-Id"])
        return body

    def _event(self, kind="call.started", event_id="call-1", **extra):
        return {"event": kind, "id": event_id, "timestamp": "2026-06-01T09:00:00+02:00", **extra}

    def _logged(self, event_id):
        return self.env["crm.interaction"].search(
            [("source_id", "=", self.source.id), ("external_id", "=", event_id)]
        )

    # authentication and signature

    def test_key_is_required_and_stored_hashed(self):
        self.assertNotIn(self.key, self.source.sudo().api_key_hash)
        self.assertEqual(self._post(self._event(), key=False)[0], 401)
        status, body = self._post(self._event(), key="not-a-key")
        self.assertEqual((status, body["error"]["code"]), (401, "unauthorized"))
        self.source.active = False
        self.assertEqual(self._post(self._event())[0], 401, "archived sources are revoked")
        self.assertFalse(self._logged("call-1"))

    def test_new_key_dialog_example_works_as_shown(self):
        """ "Generate API Key" opens a dialog with the key, the endpoint and a curl
        example that works when pasted in a shell; the form's hint changes at once
        and the key itself is stored nowhere."""
        self.env["ir.config_parameter"].sudo().set_param("web.base.url", self.base_url())
        source = self.source.with_user(self.supervisor)
        action = source.action_generate_api_key()
        self.assertEqual(
            (action["res_model"], action["target"]), ("crm.interaction.source.key.wizard", "new")
        )
        Wizard = self.env[action["res_model"]].with_user(self.supervisor)
        dialog = Form(Wizard.with_context(**action["context"]))
        key = dialog.key
        self.assertEqual(source.api_key_hint, key[:6] + "…", "the hint shows the new key")
        self.assertEqual(dialog.endpoint_url, self.base_url() + URL)
        self.assertIn(key, dialog.curl_example)
        self.assertFalse(Wizard.search([]), "the key is never saved in a wizard row")
        self.assertEqual(self._post(self._event())[0], 401, "the previous key stops working")
        output = subprocess.run(
            ["sh", "-c", dialog.curl_example],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
        self.assertIn('"ok": true', output, "the ping line checks the key")
        self.assertEqual(self._logged("test-call-1").state, "missed", "the example event is logged")

    def test_ping_with_the_same_auth(self):
        response = self.opener.get(
            self.base_url() + "/crm_contact_center/v1/ping",
            headers={"Authorization": f"Bearer {self.key}"},
        )
        self.assertEqual(self._without_request_id(response), {"ok": True, "source": "Office PBX"})
        response = self.opener.get(self.base_url() + "/crm_contact_center/v1/ping")
        self.assertEqual(response.status_code, 401)

    def test_channel_not_allowed(self):
        status, body = self._post(self._event("message.received", channel="sms"))
        self.assertEqual((status, body["error"]["field"]), (403, "channel"))
        self.assertFalse(self._logged("call-1"))

    def test_channel_taken_away_is_refused_from_the_next_event(self):
        """The allowed channels are kept by each worker between requests: a
        supervisor removing a channel from the integration, or archiving it,
        is obeyed from the very next event."""
        web = self._event("form.submitted", "form-1", channel="web")
        self.assertEqual(self._post(web)[0], 200)
        self.source.with_user(self.supervisor).channel_ids -= self.channel["web"]
        status, body = self._post({**web, "id": "form-2"})
        self.assertEqual((status, body["error"]["field"]), (403, "channel"))
        self.source.channel_ids |= self.channel["web"]
        self.assertEqual(self._post({**web, "id": "form-3"})[0], 200)
        self.channel["web"].active = False
        self.assertEqual(self._post({**web, "id": "form-4"})[0], 403, "an archived channel")
        self.assertEqual(
            [bool(self._logged(f"form-{n}")) for n in range(1, 5)], [True, False, True, False]
        )

    def test_signature_and_replay_window(self):
        self.source.require_signature = True
        payload = json.dumps(self._event()).encode()
        now = int(time.time())

        def signed(stamp, key=self.key):
            return {"X-Timestamp": str(stamp), "X-Signature": sign(key, stamp, payload)}

        self.assertEqual(self._post(None, raw=payload)[0], 401, "signature missing")
        self.assertEqual(self._post(None, raw=payload, headers=signed(now, "other"))[0], 401)
        self.assertEqual(self._post(None, raw=payload, headers=signed(now - 600))[0], 401)
        self.assertFalse(self._logged("call-1"))
        status, body = self._post(None, raw=payload, headers=signed(now - 60))
        self.assertEqual((status, body["status"]), (200, "created"))

    # validation

    def test_validation_errors_name_the_field(self):
        event = self._event()
        del event["timestamp"]
        status, body = self._post(event)
        self.assertEqual(status, 400)
        self.assertEqual(body["error"]["code"], "missing_field")
        self.assertEqual(body["error"]["field"], "timestamp")
        status, body = self._post(self._event(kind="call.teleported"))
        self.assertEqual((status, body["error"]["field"]), (400, "event"))
        status, body = self._post(None, raw=b'{"event": ')
        self.assertEqual((status, body["error"]["code"]), (400, "invalid_json"))
        for duration in (b"NaN", b"Infinity", b"4294967296"):
            raw = json.dumps(self._event("call.ended")).encode()[:-1] + b', "duration": '
            status, body = self._post(None, raw=raw + duration + b"}")
            self.assertEqual((status, body["error"]["field"]), (400, "duration"), duration)
        self.assertFalse(self._logged("call-1"))

    def test_hostile_input_is_a_json_400_and_writes_nothing(self):
        soon = (datetime.now(UTC) + timedelta(days=2)).isoformat()
        cases = [
            (self._event(event_id="h1", subject="quote\x00please"), "subject"),
            (self._event(event_id="h2\x00"), "id"),
            (self._event(event_id="h3", **{"from": {"name": "Eve \ud800"}}), "from.name"),
            (self._event(event_id="h4", text="\udfff"), "text"),
            ({**self._event(event_id="h5"), "\udc00": 1}, "\\udc00"),
            (self._event(event_id="h6", timestamp="9999-12-31T00:00:00Z"), "timestamp"),
            (self._event(event_id="h7", timestamp="1999-12-31T23:59:59Z"), "timestamp"),
            (self._event(event_id="h8", timestamp=soon), "timestamp"),
        ]
        for payload, field in cases:
            with self.subTest(field=field, payload=payload):
                status, body = self._post(payload)  # json.dumps escapes NULs and surrogates
                self.assertEqual((status, body["error"]["field"]), (400, field))
                self.assertTrue(body["error"]["message"])
        response = self.opener.post(
            self.base_url() + URL, data=b"[" * 100_000, timeout=30,
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.key}"},
        )  # fmt: skip
        self.assertEqual(response.status_code, 400)
        self.assertEqual(response.json()["error"]["code"], "invalid_json")
        self.assertFalse(self.env["crm.interaction"].search([("source_id", "=", self.source.id)]))

    def test_unexpected_error_is_a_json_500_with_a_request_id(self):
        def ingest_broken(source, events):
            source.env["crm.interaction"].create(
                {"channel_id": self.channel["phone"].id, "subject": "Half"}
            )
            raise RuntimeError("disk /var/lib/postgresql on fire")

        with (
            patch.object(type(self.source), "_ingest", ingest_broken),
            mute_logger("odoo.http"),
            self.assertLogs("odoo.addons.crm_contact_center.models.ir_http", "ERROR") as logs,
        ):
            response = self.opener.post(
                self.base_url() + URL, data=json.dumps(self._event()).encode(), timeout=30,
                headers={"Content-Type": "application/json",
                         "Authorization": f"Bearer {self.key}"},
            )  # fmt: skip
        self.assertEqual(response.status_code, 500)
        error = response.json()["error"]
        self.assertEqual(error["code"], "internal_error")
        self.assertEqual(response.headers["X-Request-Id"], error["request_id"])
        self.assertIn(error["request_id"], error["message"])
        self.assertIn(error["request_id"], logs.output[0], "the log line carries the same id")
        self.assertNotIn("postgresql", response.text)
        self.assertFalse(self.env["crm.interaction"].search([("subject", "=", "Half")]))
        response = self.opener.get(self.base_url() + "/crm_contact_center/v1/no-such-route")
        self.assertEqual(
            (response.status_code, response.json()["error"]["code"]), (404, "http_error")
        )

    def test_race_lost_to_a_concurrent_event_of_the_call_is_retried(self):
        first = self._post(self._event("call.started", event_id="racing"))[1]
        ingest = type(self.source)._ingest
        calls = []

        def ingest_after_a_concurrent_commit(source, events, **kwargs):
            calls.append(len(events))
            if len(calls) == 1:
                # what a concurrent request's committed row does to this one: a
                # genuine unique violation of (source_key, external_id)
                source.env.cr.execute(
                    SQL(
                        "INSERT INTO crm_interaction (source_key, external_id, channel_id,"
                        " direction, state, date, company_id) SELECT source_key, external_id,"
                        " channel_id, direction, state, date, company_id FROM crm_interaction"
                        " WHERE id = %s",
                        first["id"],
                    )
                )
            return ingest(source, events, **kwargs)

        with (
            patch.object(type(self.source), "_ingest", ingest_after_a_concurrent_commit),
            mute_logger("odoo.sql_db"),
        ):
            status, body = self._post(self._event("call.answered", event_id="racing"))
        self.assertEqual((status, body), (200, {"id": first["id"], "status": "updated"}))
        self.assertEqual(len(calls), 2)
        call = self._logged("racing")
        self.assertEqual((len(call), call.state), (1, "in_progress"))

    def test_body_too_large(self):
        big = self._event(text="x" * 10)
        raw = json.dumps(big).encode().ljust(MAX_BODY_BYTES + 10, b" ")
        self.assertEqual(self._post(None, raw=raw)[0], 413)
        # a chunked body carries no Content-Length: the limit still applies
        chunks = (raw[i : i + 65536] for i in range(0, len(raw), 65536))
        self.assertEqual(self._post(None, raw=chunks)[0], 413)
        self.assertFalse(self._logged("call-1"))

    def test_orm_error_is_a_generic_422_and_writes_nothing(self):
        Interaction = self.env["crm.interaction"]

        def ingest_half_way(source, events, **kwargs):
            Interaction.sudo().create({"channel_id": self.channel["phone"].id, "subject": "Half"})
            raise ValidationError("Partner 42 of Secret Corp is archived")  # pylint: disable=translation-required

        with (
            patch.object(type(self.source), "_ingest", ingest_half_way),
            self.assertLogs("odoo.addons.crm_contact_center.controllers.main", "WARNING"),
        ):
            status, body = self._post(self._event())
        self.assertEqual((status, body["error"]["code"]), (422, "unprocessable"))
        self.assertNotIn("Secret", body["error"]["message"])
        self.assertFalse(Interaction.search([("subject", "=", "Half")]))

    def test_batch_is_all_or_nothing(self):
        batch = [
            self._event(event_id=f"b{i}", **{"from": {"phone": "+3225550000"}}) for i in range(3)
        ]
        batch.append(self._event(event_id="b3", duration="long"))
        status, body = self._post(batch)
        self.assertEqual((status, body["error"]["field"]), (400, "[3].duration"))
        batch[3] = self._event("message.received", event_id="b3", channel="chat")
        self.assertEqual(self._post(batch)[0], 403)
        self.assertFalse(self.env["crm.interaction"].search([("source_id", "=", self.source.id)]))
        batch[3] = self._event("message.received", event_id="b3", channel="email")
        status, body = self._post(batch)
        self.assertEqual(status, 200)
        self.assertEqual([r["status"] for r in body], ["created"] * 4)

    def test_a_batch_matches_senders_as_single_events_do(self):
        batch = [
            self._event("call.missed", event_id="m1", **{"from": {"phone": "+32 2 555 12 34"}}),
            self._event("message.received", event_id="m2", channel="email",
                        **{"from": {"email": "ALICE@acme.EXAMPLE.com"}}),
            self._event("call.missed", event_id="m3", **{"from": {"phone": "+3225559999"}}),
            self._event("call.missed", event_id="m4", **{"from": {"phone": "+32 2 555 99 99"}}),
            self._event("call.started", event_id="m5", to={"login": "cc_agent2"},
                        **{"from": {"phone": "+3225558888"}}),
            self._event("call.answered", event_id="m5", to={"login": "cc_agent2"}),
        ]  # fmt: skip
        status, body = self._post(batch)
        self.assertEqual(status, 200)
        self.assertEqual(
            [r["status"] for r in body], ["created"] * 5 + ["updated"], "in the batch's order"
        )
        known, contact, unknown, again, answered = (
            self.env["crm.interaction"].browse(r["id"]) for r in body[:5]
        )
        self.assertEqual(known.commercial_partner_id, self.customer, "matched by phone")
        self.assertEqual(contact.partner_id, self.contact, "matched by e-mail, any case")
        self.assertTrue(unknown.lead_id, "an unknown caller gets a lead")
        self.assertEqual(again.lead_id, unknown.lead_id, "one lead per unknown caller")
        self.assertEqual((answered.user_id, answered.state), (self.agent2, "in_progress"))
        self.assertEqual(body[5]["id"], body[4]["id"], "the call's events move one interaction")

    def test_batch_queries_do_not_grow_with_its_size(self):
        """Ingesting 12 missed calls (logged, routed, callbacks planned)
        costs the server the queries of 3: no work per event. (Leads for
        unknown callers are off here: stock crm looks up each new lead's
        first stage with a query of its own.)"""
        self.source.create_lead = False

        def post(prefix, count):
            batch = [
                self._event(
                    "call.missed",
                    event_id=f"{prefix}{i}",
                    **{"from": {"phone": f"+3225550{i:03d}"}},
                )
                for i in range(count)
            ]
            before = sql_db.sql_counter
            status, body = self._post(batch)
            self.assertEqual((status, len(body)), (200, count))
            return sql_db.sql_counter - before

        post("warm", 2)  # the first request of a test fills the server's caches
        small, large = post("small", 3), post("large", 12)
        self.assertEqual(large, small, "12 events cost the queries of 3")
        calls = self.env["crm.interaction"].search([("external_id", "=like", "large%")])
        self.assertEqual(len(calls), 12)
        self.assertTrue(all(calls.mapped("user_id")), "every call routed to an agent")
        self.assertEqual(len(calls.activity_ids), 12, "a callback planned for each")

    # idempotency and call lifecycle

    def test_same_event_twice_is_a_duplicate(self):
        first = self._post(self._event("form.submitted", event_id="f1", subject="Quote please"))[1]
        second = self._post(self._event("form.submitted", event_id="f1", subject="Quote please"))[1]
        self.assertEqual(first["status"], "created")
        self.assertEqual(second, {"id": first["id"], "status": "duplicate"})
        self.assertEqual(len(self._logged("f1")), 1)

    def test_call_events_move_one_interaction(self):
        caller = {"phone": "+32 2 555 12 34"}
        statuses = [
            self._post(self._event("call.started", **{"from": caller}))[1]["status"],
            self._post(self._event("call.answered", to={"login": "cc_agent2"}))[1]["status"],
            self._post(self._event("call.ended", duration=125,
                                   recording_url="https://pbx.example.com/r/1.mp3"))[1]["status"],
            self._post(self._event("call.answered"))[1]["status"],
        ]  # fmt: skip
        self.assertEqual(statuses, ["created", "updated", "updated", "duplicate"])
        call = self._logged("call-1")
        self.assertEqual(len(call), 1)
        self.assertEqual((call.state, call.duration, call.user_id), ("done", 125, self.agent2))
        self.assertEqual(call.recording_url, "https://pbx.example.com/r/1.mp3")
        self.assertEqual(call.partner_id, self.customer)

    def test_missed_call_whatever_the_order_of_events(self):
        call_type = self.env.ref("mail.mail_activity_data_call")
        for event_id, kinds in (
            ("m1", ("call.missed", "call.ended")),
            ("m2", ("call.ended", "call.missed")),
        ):
            for kind in kinds:
                self._post(
                    self._event(kind, event_id=event_id, **{"from": {"phone": "+3225551234"}})
                )
            call = self._logged(event_id)
            self.assertEqual(call.state, "missed", kinds)
            self.assertEqual(call.activity_ids.activity_type_id, call_type, kinds)
        # nobody to assign: no callback for OdooBot, the request waits in the queue
        self.source.write({"team_id": False, "create_lead": False})
        self._post(self._event("call.missed", event_id="m3", **{"from": {"phone": "+3225559999"}}))
        call = self._logged("m3")
        self.assertEqual((call.state, call.user_id), ("missed", self.env["res.users"]))
        self.assertFalse(call.activity_ids)

    def test_answered_call_stays_answered_when_no_answer_comes_last(self):
        # the order that used to end "missed" with a needless callback
        for kind in ("call.missed", "call.started", "call.answered", "call.ended"):
            extra = {"to": {"login": "cc_agent2"}} if kind == "call.answered" else {}
            status, _body = self._post(
                self._event(kind, event_id="late-no", **{"from": {"phone": "+3225551234"}}, **extra)
            )
            self.assertEqual(status, 200, kind)
        call = self._logged("late-no")
        self.assertEqual((call.state, call.user_id), ("done", self.agent2))
        self.assertFalse(
            call.activity_ids.filtered(
                lambda a: a.activity_type_id == self.env.ref("mail.mail_activity_data_call")
            )
        )

    def test_concurrent_deliveries_make_one_interaction(self):
        results = []

        def deliver():
            results.append(self._post(self._event("call.missed", event_id="race")))

        threads = [threading.Thread(target=deliver) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.assertEqual(sorted(body["status"] for _s, body in results),
                         ["created"] + ["duplicate"] * 5)  # fmt: skip
        self.assertEqual(len(self._logged("race")), 1)

    # matching, leads, routing, SLA

    def test_match_national_phone_and_link_opportunity(self):
        self.customer.user_id = self.salesman
        lead = self._opportunity(self.customer, priority="2")
        self._opportunity(self.customer, priority="0")
        status, body = self._post(self._event("call.missed", **{"from": {"phone": "02 555 12 34"}}))
        call = self.env["crm.interaction"].browse(body["id"])
        self.assertEqual((call.partner_id, call.lead_id), (self.customer, lead))
        self.assertEqual(call.contact_phone, "+3225551234")
        self.assertEqual(call.user_id, self.salesman, "the customer's salesperson is an agent")
        callback = call.activity_ids
        self.assertEqual(len(callback), 1)
        self.assertEqual(callback.activity_type_id, self.env.ref("mail.mail_activity_data_call"))
        self.assertEqual(callback.user_id, self.salesman)
        self.assertLessEqual(callback.date_deadline, date(2026, 6, 1) + timedelta(days=1))

    def test_salesperson_default_team_of_another_company_is_not_used(self):
        other_company = self.env["res.company"].create({"name": "CC Other Co"})
        # works mainly for company B, also for A (the source's company)
        self.salesman.write(
            {"company_ids": [(4, other_company.id)], "company_id": other_company.id}
        )
        other_team = self.env["crm.team"].create(
            {"name": "Team B", "company_id": other_company.id,
             "member_ids": [(4, self.salesman.id)]}
        )  # fmt: skip
        self.assertEqual(self.salesman.sale_team_id, other_team)
        self.customer.user_id = self.salesman
        status, body = self._post(self._event("call.missed", **{"from": {"phone": "+3225551234"}}))
        self.assertEqual(status, 200, body)
        call = self.env["crm.interaction"].browse(body["id"])
        self.assertEqual((call.team_id, call.company_id), (self.team, self.company))
        self.assertEqual(call.user_id, self.salesman)

    def test_match_email_case_insensitively(self):
        status, body = self._post(
            self._event("message.received", event_id="m1", channel="email",
                        **{"from": {"email": "ALICE@acme.EXAMPLE.com"}}, text="Hello")
        )  # fmt: skip
        message = self.env["crm.interaction"].browse(body["id"])
        self.assertEqual(message.partner_id, self.contact)
        self.assertEqual(message.commercial_partner_id, self.customer)
        self.assertIn("Hello", message.body)

    def test_unknown_contact_creates_a_lead(self):
        status, body = self._post(
            self._event("form.submitted", event_id="w1", channel="web", subject="Need 40 seats",
                        **{"from": {"email": "new@prospect.example.com", "name": "Nina New"}})
        )  # fmt: skip
        request = self.env["crm.interaction"].browse(body["id"])
        self.assertEqual(request.lead_id.email_from, "new@prospect.example.com")
        self.assertEqual(request.lead_id.team_id, self.team)
        self.assertEqual(request.source_id, self.source, "kept for audit")
        self.source.create_lead = False
        status, body = self._post(self._event("form.submitted", event_id="w2", channel="web",
                                              **{"from": {"email": "other@x.example.com"}}))  # fmt: skip
        request = self.env["crm.interaction"].browse(body["id"])
        self.assertFalse(request.lead_id)
        self.assertEqual(request.contact_email, "other@x.example.com")

    def test_routing_policies(self):
        first, second, third = (
            self.env["crm.interaction"].browse(
                self._post(self._event("call.missed", event_id=f"r{i}"))[1]["id"]
            )
            for i in range(3)
        )
        self.assertEqual(
            (first.user_id, second.user_id, third.user_id),
            (self.agent1, self.agent2, self.agent1),
            "round robin over the team's agents",
        )
        self.agent1.contact_center_available = False
        fourth = self.env["crm.interaction"].browse(
            self._post(self._event("call.missed", event_id="r3"))[1]["id"]
        )
        self.assertEqual(fourth.user_id, self.agent2, "away agents get nothing")
        self.agent1.contact_center_available = True
        self.team.interaction_assignment = "least_open"
        fourth.write({"state": "done"})
        fifth = self.env["crm.interaction"].browse(
            self._post(self._event("call.started", event_id="r4"))[1]["id"]
        )
        self.assertEqual(fifth.user_id, self.agent2, "agent2 has fewer open requests")
