"""Real PBX formats in front of the inbound API: Twilio status callbacks,
Asterisk ARI events, Asterisk AMI through the shipped relay. The payloads
are the vendors' documented ones (Twilio's StatusCallback parameters,
Asterisk's ARI data models and AMI event syntax)."""

import json
import socket
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import urlencode

from odoo import fields
from odoo.tests import HttpCase, tagged

from ..lib.openapi import ARI_AGENT, ARI_CHANNEL, TWILIO_COMMON
from ..lib.signatures import sign_webhook, twilio_signature
from ..tools import asterisk_ami_relay as relay
from .common import ContactCenterCommon

TOKEN = "0123456789abcdef0123456789abcdef"  # a Twilio auth token: 32 hex digits

# Asterisk's AMI events as the manager interface writes them (docs: AMI
# Events Newchannel, Newstate, Hangup), with timestampevents = yes
AMI_TEXT = (
    "Asterisk Call Manager/9.0.0\r\n"
    "Response: Success\r\nMessage: Authentication accepted\r\n\r\n"
    "Event: FullyBooted\r\nPrivilege: system,all\r\nStatus: Fully Booted\r\n\r\n"
    # a call in progress when the relay connected: skipped
    "Event: Hangup\r\nPrivilege: call,all\r\nTimestamp: 1780304390.000000\r\n"
    "Channel: PJSIP/trunk-00000000\r\nUniqueid: 1780304300.0\r\nLinkedid: 1780304300.0\r\n"
    "Cause: 16\r\nCause-txt: Normal Clearing\r\n\r\n"
    "Event: Newchannel\r\nPrivilege: call,all\r\nTimestamp: 1780304400.000000\r\n"
    "Channel: PJSIP/trunk-00000001\r\nChannelState: 4\r\nChannelStateDesc: Ring\r\n"
    "CallerIDNum: 3225551234\r\nCallerIDName: Alice\r\nConnectedLineNum: <unknown>\r\n"
    "ConnectedLineName: <unknown>\r\nLanguage: en\r\nAccountCode: \r\nContext: from-trunk\r\n"
    "Exten: 100\r\nPriority: 1\r\nUniqueid: 1780304400.1\r\nLinkedid: 1780304400.1\r\n\r\n"
    "Event: Newchannel\r\nPrivilege: call,all\r\nTimestamp: 1780304401.000000\r\n"
    "Channel: PJSIP/201-00000002\r\nChannelState: 0\r\nChannelStateDesc: Down\r\n"
    "CallerIDNum: 201\r\nCallerIDName: <unknown>\r\nContext: agents\r\nExten: 201\r\n"
    "Priority: 1\r\nUniqueid: 1780304401.2\r\nLinkedid: 1780304400.1\r\n\r\n"
    "Event: Newstate\r\nPrivilege: call,all\r\nTimestamp: 1780304401.500000\r\n"
    "Channel: PJSIP/201-00000002\r\nChannelState: 5\r\nChannelStateDesc: Ringing\r\n"
    "CallerIDNum: 201\r\nUniqueid: 1780304401.2\r\nLinkedid: 1780304400.1\r\n\r\n"
    "Event: Newstate\r\nPrivilege: call,all\r\nTimestamp: 1780304408.000000\r\n"
    "Channel: PJSIP/201-00000002\r\nChannelState: 6\r\nChannelStateDesc: Up\r\n"
    "CallerIDNum: 201\r\nUniqueid: 1780304401.2\r\nLinkedid: 1780304400.1\r\n\r\n"
    "Event: Hangup\r\nPrivilege: call,all\r\nTimestamp: 1780304498.000000\r\n"
    "Channel: PJSIP/201-00000002\r\nUniqueid: 1780304401.2\r\nLinkedid: 1780304400.1\r\n"
    "Cause: 16\r\nCause-txt: Normal Clearing\r\n\r\n"
    "Event: Hangup\r\nPrivilege: call,all\r\nTimestamp: 1780304498.200000\r\n"
    "Channel: PJSIP/trunk-00000001\r\nUniqueid: 1780304400.1\r\nLinkedid: 1780304400.1\r\n"
    "Cause: 16\r\nCause-txt: Normal Clearing\r\n\r\n"
    # an unanswered call from an unknown number
    "Event: Newchannel\r\nPrivilege: call,all\r\nTimestamp: 1780304500.000000\r\n"
    "Channel: PJSIP/trunk-00000003\r\nChannelState: 4\r\nChannelStateDesc: Ring\r\n"
    "CallerIDNum: 3225559999\r\nCallerIDName: <unknown>\r\nContext: from-trunk\r\n"
    "Exten: 100\r\nPriority: 1\r\nUniqueid: 1780304500.3\r\nLinkedid: 1780304500.3\r\n\r\n"
    "Event: Hangup\r\nPrivilege: call,all\r\nTimestamp: 1780304530.000000\r\n"
    "Channel: PJSIP/trunk-00000003\r\nUniqueid: 1780304500.3\r\nLinkedid: 1780304500.3\r\n"
    "Cause: 19\r\nCause-txt: No user responding\r\n\r\n"
)


class PbxCase(ContactCenterCommon, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_contact_center()
        cls.customer.user_id = False  # routed through the team
        cls.Source = cls.env["crm.interaction.source"]

    @classmethod
    def _source(cls, fmt, **values):
        return cls.Source.create(
            {
                "name": f"{fmt} PBX",
                "company_id": cls.company.id,
                "team_id": cls.team.id,
                "format": fmt,
                "channel_ids": [(6, 0, [cls.channel["phone"].id])],
                **values,
            }
        )

    def _calls(self, source):
        return self.env["crm.interaction"].search([("source_id", "=", source.id)])


@tagged("post_install", "-at_install")
class TestTwilio(PbxCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.source = cls._source("twilio")
        cls.source.set_twilio_auth_token(TOKEN)
        cls.path = f"/crm_contact_center/v1/twilio/{cls.source.id}"

    def _callback(self, params, token=TOKEN, signature=None, content_type=None):
        url = self.base_url() + self.path
        headers = {
            "Content-Type": content_type or "application/x-www-form-urlencoded",
            "X-Twilio-Signature": signature or twilio_signature(token, url, params),
        }
        response = self.opener.post(url, data=urlencode(params), headers=headers, timeout=30)
        return response.status_code, response.json()

    def _status(self, status, sequence, **extra):
        stamp = f"Mon, 01 Jun 2026 09:00:{10 * sequence:02d} +0000"
        return {
            **TWILIO_COMMON,
            "CallStatus": status,
            "SequenceNumber": str(sequence),
            "Timestamp": stamp,
            **extra,
        }

    def test_call_progress_to_one_interaction(self):
        """ringing, answered by the agent's Twilio Client (the leg <Dial> places),
        completed: one call, done, with the agent and the talk time."""
        agent_leg = {
            **TWILIO_COMMON,
            "CallSid": "CA00000000000000000000000000000002",
            "ParentCallSid": TWILIO_COMMON["CallSid"],
            "Direction": "outbound-dial",
            "To": "client:cc_agent2",
        }
        answers = [
            self._callback(self._status("ringing", 0)),
            self._callback({**agent_leg, "CallStatus": "ringing", "SequenceNumber": "0"}),
            self._callback({**agent_leg, "CallStatus": "in-progress", "SequenceNumber": "1"}),
            self._callback({**agent_leg, "CallStatus": "completed", "CallDuration": "40"}),
            self._callback(self._status("completed", 1, CallDuration="42")),
        ]
        self.assertEqual([status for status, _body in answers], [200] * 5)
        self.assertEqual(
            [body["status"] for _status, body in answers],
            # the agent leg's ringing names the agent: his screen pops
            ["created", "updated", "updated", "ignored", "updated"],
        )
        call = self._calls(self.source)
        self.assertEqual(len(call), 1)
        self.assertEqual(call.external_id, TWILIO_COMMON["CallSid"])
        self.assertEqual((call.state, call.duration, call.user_id), ("done", 42, self.agent2))
        self.assertEqual(call.partner_id, self.customer, "From matched in E.164")
        self.assertEqual(call.channel_id, self.channel["phone"])

    def test_unanswered_statuses_are_missed_calls(self):
        for number, status in enumerate(("no-answer", "busy", "failed", "canceled")):
            sid = f"CA{number:032d}"
            code, body = self._callback({**self._status(status, 1), "CallSid": sid})
            self.assertEqual((code, body["status"]), (200, "created"), status)
            call = self.env["crm.interaction"].browse(body["id"])
            self.assertEqual(call.state, "missed", status)
            self.assertTrue(call.activity_ids, f"{status}: a callback is planned")

    def test_bad_signature_is_401_and_writes_nothing(self):
        params = self._status("completed", 1, CallDuration="42")
        url = self.base_url() + self.path
        forged = [
            twilio_signature("f" * 32, url, params),  # another account's token
            twilio_signature(TOKEN, url, {**params, "CallDuration": "1"}),  # altered body
            twilio_signature(TOKEN, url + "?x=1", params),  # another URL
            "not base64 at all",
        ]
        for signature in forged:
            status, body = self._callback(params, signature=signature)
            self.assertEqual((status, body["error"]["code"]), (401, "invalid_signature"))
        response = self.opener.post(url, data=urlencode(params), timeout=30, headers={
            "Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
        self.assertEqual(response.status_code, 401, "no signature at all")
        self.assertFalse(self._calls(self.source))

    def test_wrong_content_type_unknown_source_and_wrong_format(self):
        params = self._status("ringing", 0)
        status, body = self._callback(params, content_type="application/json")
        self.assertEqual((status, body["error"]["code"]), (415, "unsupported_media_type"))
        json_source = self._source("json")
        tokenless = self._source("twilio")
        answers = {}
        for name, source_id in (
            ("not a Twilio integration", json_source.id),
            ("no such integration", 999999999),
            ("no auth token yet", tokenless.id),
            ("a wrong signature", self.source.id),
        ):
            self.path = f"/crm_contact_center/v1/twilio/{source_id}"
            status, body = self._callback(params, token="f" * 32)
            body["error"].pop("request_id")
            answers[name] = (status, body)
        # a prober learns nothing from the id in the URL
        self.assertEqual(len({repr(answer) for answer in answers.values()}), 1, answers)
        self.assertEqual(answers["no such integration"][0], 401)
        self.assertFalse(self._calls(self.source) | self._calls(json_source))

    def test_signature_is_checked_against_the_public_url_not_the_host_header(self):
        """The sender chooses the Host header: a signature made for another
        server's URL (another deployment using the same Twilio account) must
        not pass by naming that server in Host."""
        params = self._status("ringing", 0)
        other_url = "https://attacker.example.com" + self.path
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Host": "attacker.example.com",
            "X-Forwarded-Host": "attacker.example.com",
            "X-Twilio-Signature": twilio_signature(TOKEN, other_url, params),
        }
        response = self.opener.post(
            self.base_url() + self.path, data=urlencode(params), headers=headers, timeout=30
        )
        self.assertEqual(response.status_code, 401)
        self.assertFalse(self._calls(self.source))

    def test_auth_token_rotation_with_overlap(self):
        new_token = "fedcba9876543210fedcba9876543210"
        until = fields.Datetime.now() + timedelta(days=2)
        self.source.with_user(self.supervisor).set_twilio_auth_token(
            new_token, previous_valid_until=until
        )
        self.assertEqual(self.source.signing_secret_state, "rotating")
        first = self._callback({**self._status("ringing", 0), "CallSid": "CA1"}, token=TOKEN)
        second = self._callback({**self._status("ringing", 0), "CallSid": "CA2"}, token=new_token)
        self.assertEqual((first[0], second[0]), (200, 200), "both tokens during the overlap")
        # the overlap is over
        self.source.signing_secret_ids.filtered("date_expiry").sudo().date_expiry = (
            fields.Datetime.now() - timedelta(seconds=1)
        )
        self.assertEqual(self.source.signing_secret_state, "active")
        self.assertEqual(self._callback({**self._status("ringing", 0), "CallSid": "CA3"})[0], 401)
        self.assertEqual(len(self._calls(self.source)), 2)


@tagged("post_install", "-at_install")
class TestAsteriskAri(PbxCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.source = cls._source("asterisk_ari")
        cls.key = cls.source.generate_api_key()
        cls.url = "/crm_contact_center/v1/asterisk/ari"

    def _post(self, payload, headers=None):
        all_headers = {"Content-Type": "application/json", "Authorization": f"Bearer {self.key}"}
        all_headers.update(headers or {})
        response = self.opener.post(
            self.base_url() + self.url, data=json.dumps(payload), headers=all_headers, timeout=30
        )
        return response.status_code, response.json()

    def _ari(self, kind, seconds, **extra):
        return {
            "type": kind,
            "timestamp": f"2026-06-01T09:00:{seconds:02d}.000+0000",
            "application": "contact-center",
            "asterisk_id": "00:11:22:33:44:55",
            **extra,
        }

    def test_stasis_call_to_one_interaction(self):
        """A caller enters the application, agent 201's phone rings and answers
        (the Dial events of the application's dial), the caller hangs up."""
        up = {**ARI_CHANNEL, "state": "Up"}
        messages = [
            self._ari("StasisStart", 0, args=[], channel=ARI_CHANNEL),
            self._ari("ChannelVarset", 1, variable="QUEUE", value="sales", channel=ARI_CHANNEL),
            self._ari("Dial", 2, dialstatus="", caller=ARI_CHANNEL, peer=ARI_AGENT),
            self._ari("StasisStart", 8, args=["dialed"], channel={**ARI_AGENT, "state": "Up"}),
            self._ari("Dial", 8, dialstatus="ANSWER", caller=up, peer={**ARI_AGENT, "state": "Up"}),
            self._ari("ChannelDestroyed", 50, cause=16, cause_txt="Normal Clearing",
                      channel={**ARI_AGENT, "state": "Up"}),
            self._ari("ChannelDestroyed", 51, cause=16, cause_txt="Normal Clearing", channel=up),
        ]  # fmt: skip
        status, body = self._post(messages)
        self.assertEqual(status, 200, body)
        self.assertEqual(
            [r["status"] for r in body],
            ["created", "ignored", "updated", "ignored", "updated", "ignored", "updated"],
        )
        call = self._calls(self.source)
        self.assertEqual(len(call), 1, "the agent's leg is not a call of its own")
        self.assertEqual(
            (call.external_id, call.state, call.duration), (ARI_CHANNEL["id"], "done", 51)
        )
        self.assertEqual((call.partner_id, call.contact_name), (self.customer, "Alice"))
        self.assertEqual(body[3]["reason"], "a channel the application dialed (an agent's leg)")

    def test_bridge_tells_who_answered_whatever_joins_first(self):
        self._post(self._ari("StasisStart", 0, args=[], channel=ARI_CHANNEL))
        bridge = {"id": "b1", "bridge_type": "mixing", "technology": "simple_bridge",
                  "channels": [ARI_AGENT["id"], ARI_CHANNEL["id"]]}  # fmt: skip
        # the agent is already in the bridge, the caller joins it
        status, body = self._post(
            self._ari("ChannelEnteredBridge", 9, bridge=bridge, channel=ARI_CHANNEL)
        )
        self.assertEqual((status, body["status"]), (200, "updated"))
        self.assertEqual(self._calls(self.source).state, "in_progress")

    def test_unknown_extension_is_logged_and_routed_to_the_team(self):
        """A call for an extension nobody has: logged, routed like any call."""
        stranger = {**ARI_CHANNEL, "id": "1717232500.9", "dialplan": {"exten": "999"}}
        self._post(self._ari("StasisStart", 0, args=[], channel=stranger))
        status, body = self._post(
            self._ari("Dial", 3, dialstatus="ANSWER", caller=stranger,
                      peer={**ARI_AGENT, "name": "PJSIP/999-0000000f"})
        )  # fmt: skip
        self.assertEqual((status, body["status"]), (200, "updated"))
        call = self._calls(self.source)
        self.assertEqual(call.state, "in_progress")
        self.assertIn(call.user_id, self.agent1 | self.agent2, "the team's agent handles it")

    def test_ringing_after_the_end_does_not_reopen_the_call(self):
        self._post(
            [
                self._ari("StasisStart", 0, args=[], channel=ARI_CHANNEL),
                self._ari("ChannelDestroyed", 30, cause=19, cause_txt="No user responding",
                          channel=ARI_CHANNEL),
            ]
        )  # fmt: skip
        call = self._calls(self.source)
        self.assertEqual(call.state, "missed")
        late = [
            self._ari("ChannelStateChange", 31, channel={**ARI_CHANNEL, "state": "Ringing"}),
            self._ari("Dial", 32, dialstatus="RINGING", caller=ARI_CHANNEL, peer=ARI_AGENT),
        ]
        status, body = self._post(late)
        self.assertEqual([r["status"] for r in body], ["updated", "updated"])
        self.assertEqual(call.state, "missed", "a late ringing does not reopen the call")
        self.assertEqual(len(call.activity_ids), 1, "still one callback")

    def test_hangup_of_an_unknown_channel_writes_nothing(self):
        status, body = self._post(
            self._ari(
                "ChannelDestroyed", 5, cause=16, cause_txt="Normal Clearing", channel=ARI_AGENT
            )
        )
        self.assertEqual((status, body["status"], body["id"]), (200, "ignored", None))
        self.assertFalse(self._calls(self.source))

    def test_bad_signature_is_401_and_writes_nothing(self):
        secret = self.source.generate_signing_secret()
        message = self._ari("StasisStart", 0, args=[], channel=ARI_CHANNEL)
        body = json.dumps(message).encode()
        now = int(time.time())
        wrong = sign_webhook("whsec_" + "A" * 32, "msg_1", now, body)
        for headers in (
            {},  # unsigned
            {"webhook-id": "msg_1", "webhook-timestamp": str(now), "webhook-signature": wrong},
            {"webhook-id": "msg_1", "webhook-timestamp": str(now - 600),
             "webhook-signature": sign_webhook(secret, "msg_1", now - 600, body)},
        ):  # fmt: skip
            status, answer = self._post(message, headers=headers)
            self.assertEqual((status, answer["error"]["code"]), (401, "invalid_signature"))
        self.assertFalse(self._calls(self.source))
        good = {"webhook-id": "msg_2", "webhook-timestamp": str(now),
                "webhook-signature": sign_webhook(secret, "msg_2", now, body)}  # fmt: skip
        self.assertEqual(self._post(message, headers=good)[1]["status"], "created")

    def test_malformed_ari_and_wrong_format(self):
        status, body = self._post([self._ari("StasisStart", 0, args=[], channel={"name": "x"})])
        self.assertEqual((status, body["error"]["field"]), (400, "[0].channel.id"))
        json_source = self._source("json")
        self.key = json_source.generate_api_key()
        status, body = self._post(self._ari("StasisStart", 0, args=[], channel=ARI_CHANNEL))
        self.assertEqual((status, body["error"]["code"]), (403, "wrong_format"))
        self.assertIn("/crm_contact_center/v1/events", body["error"]["message"])
        self.assertFalse(self._calls(self.source) | self._calls(json_source))


@tagged("post_install", "-at_install")
class TestAsteriskAmiRelay(PbxCase):
    def test_relay_maps_ami_text(self):
        tracker = relay.CallTracker(outbound_contexts=["from-internal"])
        events = [
            event
            for message in relay.parse_ami(AMI_TEXT.splitlines(keepends=True))
            for event in tracker.feed(message)
        ]
        self.assertEqual(
            [(e["event"], e["id"]) for e in events],
            [
                ("call.started", "1780304400.1"),
                ("call.ringing", "1780304400.1"),
                ("call.answered", "1780304400.1"),
                ("call.ended", "1780304400.1"),
                ("call.started", "1780304500.3"),
                ("call.ended", "1780304500.3"),
            ],
        )
        started, ringing, answered, ended = events[:4]
        self.assertEqual(started["from"], {"phone": "3225551234", "name": "Alice"})
        self.assertEqual(started["timestamp"], "2026-06-01T09:00:00+00:00")
        self.assertEqual((ringing["to"], answered["to"]), ({"extension": "201"},) * 2)
        self.assertEqual(ended["duration"], 90, "talk time, from answer to hang-up")
        self.assertEqual(events[5]["duration"], 0)
        self.assertFalse(tracker.calls, "finished calls are forgotten")

    def test_outbound_call_from_an_agent(self):
        tracker = relay.CallTracker(outbound_contexts=["from-internal"])
        (event,) = tracker.feed(
            {"Event": "Newchannel", "Channel": "PJSIP/201-00000010", "CallerIDNum": "201",
             "Context": "from-internal", "Exten": "3225551234", "Uniqueid": "9.1",
             "Linkedid": "9.1", "Timestamp": "1780304400"}
        )  # fmt: skip
        self.assertEqual(event["direction"], "outbound")
        self.assertEqual(
            (event["from"], event["to"]), ({"phone": "3225551234"}, {"extension": "201"})
        )

    def test_relay_sends_its_key_over_https_only_and_never_follows_a_redirect(self):
        for url in ("http://pbx-gateway.example.com", "ftp://example.com", "odoo.example.com"):
            with self.subTest(url=url), self.assertRaises(ValueError):
                relay.Poster(url, "key")
        relay.Poster("http://127.0.0.1:8069", "key")  # Odoo on the same machine
        relay.Poster("http://odoo.lan", "key", allow_http=True)  # said explicitly
        # a server answering with a redirect gets nothing more (the outside world:
        # a local stub that redirects every POST elsewhere)
        hits = []

        class Redirect(BaseHTTPRequestHandler):
            def do_POST(self):
                hits.append(self.path)
                self.send_response(307)
                self.send_header("Location", "http://127.0.0.1:9/steal")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        stub = HTTPServer(("127.0.0.1", 0), Redirect)
        thread = threading.Thread(target=stub.serve_forever)
        thread.start()
        try:
            poster = relay.Poster(f"http://127.0.0.1:{stub.server_port}", "key", attempts=1)
            self.assertIsNone(poster.post([{"event": "call.missed"}]))
        finally:
            stub.shutdown()
            thread.join(10)
            stub.server_close()
        self.assertEqual(hits, ["/crm_contact_center/v1/events"], "posted once, not redirected")

    def test_relay_posts_signed_events_to_the_live_api(self):
        """A fake AMI server (the outside world) serves the fixture; the relay
        logs in, maps and posts to the real endpoint with the integration's key
        and signing secret."""
        source = self._source("json")
        key = source.generate_api_key()
        secret = source.generate_signing_secret()
        received = []
        server = socket.create_server(("127.0.0.1", 0))
        port = server.getsockname()[1]

        def serve():
            connection, _address = server.accept()
            with connection:
                connection.sendall(AMI_TEXT.split("\r\n", 1)[0].encode() + b"\r\n")
                received.append(connection.recv(4096).decode())
                connection.sendall(AMI_TEXT.split("\r\n", 1)[1].encode())

        self.env.flush_all()  # the relay is not the test's opener, which flushes itself
        thread = threading.Thread(target=serve)
        thread.start()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
                relay.relay(
                    sock, "crm", "s3cret", relay.CallTracker(),
                    relay.Poster(self.base_url(), key, secret, attempts=1, timeout=30),
                )  # fmt: skip
        finally:
            thread.join(10)
            server.close()
        self.assertIn("Action: Login\r\nUsername: crm\r\nSecret: s3cret\r\n", received[0])
        answered, missed = self._calls(source).sorted("external_id")
        self.assertEqual((answered.external_id, answered.state), ("1780304400.1", "done"))
        self.assertEqual((answered.partner_id, answered.duration), (self.customer, 90))
        self.assertEqual((missed.external_id, missed.state), ("1780304500.3", "missed"))
        self.assertTrue(missed.lead_id, "an unknown caller gets a lead")
