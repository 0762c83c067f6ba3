"""API hygiene: signing secrets (Standard Webhooks) separate from the key,
rotation with an overlap, 415/404/405 in JSON, a request id in every answer,
and an OpenAPI document whose examples the live server answers as documented."""

import json
import subprocess
import time
import uuid
from datetime import timedelta
from urllib.parse import urlencode

from odoo import fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import Form, HttpCase, tagged

from ..lib import openapi
from ..lib.events import sign
from ..lib.signatures import sign_webhook, twilio_signature
from .common import ContactCenterCommon

PREFIX = "/crm_contact_center/v1"
TOKEN = "0123456789abcdef0123456789abcdef"


@tagged("post_install", "-at_install")
class TestApiHygiene(ContactCenterCommon, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_contact_center()
        cls.customer.user_id = False
        cls.source = cls.env["crm.interaction.source"].create(
            {
                "name": "Office PBX",
                "company_id": cls.company.id,
                "team_id": cls.team.id,
                "channel_ids": [(6, 0, [cls.channel[c].id for c in ("phone", "email", "web")])],
            }
        )
        cls.key = cls.source.generate_api_key()

    def _post(self, path, body, key=None, headers=None, content_type="application/json"):
        data = body if isinstance(body, bytes | str) else json.dumps(body).encode()
        all_headers = {"Content-Type": content_type}
        if key is not False:
            all_headers["Authorization"] = f"Bearer {key or self.key}"
        all_headers.update(headers or {})
        return self.opener.post(self.base_url() + PREFIX + path, data=data, headers=all_headers,
                                timeout=30)  # fmt: skip

    def _event(self, event_id="h-1", kind="call.missed"):
        return {"event": kind, "id": event_id, "timestamp": "2026-06-01T09:00:00Z",
                "from": {"phone": "+3225551234"}}  # fmt: skip

    def _signed(self, secret, body, msg_id=None, stamp=None):
        stamp = int(time.time()) if stamp is None else stamp
        msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
        return {
            "webhook-id": msg_id,
            "webhook-timestamp": str(stamp),
            "webhook-signature": sign_webhook(secret, msg_id, stamp, body),
        }

    def _logged(self, event_id):
        return self.env["crm.interaction"].search(
            [("source_id", "=", self.source.id), ("external_id", "=", event_id)]
        )

    # signing secrets

    def test_signing_secret_is_shown_once_and_signs_requests(self):
        source = self.source.with_user(self.supervisor)
        action = source.action_open_rotate_wizard()
        wizard = Form(
            self.env[action["res_model"]]
            .with_user(self.supervisor)
            .with_context(action["context"], default_credential="signing_secret")
        )
        self.assertFalse(wizard.keep_previous, "nothing to overlap with yet")
        shown = wizard.save().action_confirm()
        secret = shown["context"]["default_key"]
        self.assertRegex(secret, r"^whsec_[A-Za-z0-9+/]{32}$")
        self.assertEqual(source.signing_secret_state, "active")
        self.assertTrue(source.require_signature)
        self.assertEqual(source.signing_secret_ids.hint, secret[:10] + "…")
        with self.assertRaises(AccessError):
            source.signing_secret_ids.read(["secret"])  # not even its supervisor
        self.assertNotIn(secret, json.dumps(source.signing_secret_ids.read(), default=str))

        body = json.dumps(self._event()).encode()
        self.assertEqual(self._post("/events", body).status_code, 401, "unsigned")
        legacy = int(time.time())
        response = self._post("/events", body, headers={
            "X-Timestamp": str(legacy), "X-Signature": sign(self.key, legacy, body)})  # fmt: skip
        self.assertEqual(response.status_code, 401, "the key no longer signs once a secret exists")
        self.assertEqual(
            self._post("/events", body, headers=self._signed(secret, body)).status_code, 200
        )
        self.assertTrue(self._logged("h-1"))

    def test_signed_example_of_the_dialog_works_as_shown(self):
        self.env["ir.config_parameter"].sudo().set_param("web.base.url", self.base_url())
        secret = self.source.generate_signing_secret()
        dialog = Form(
            self.env["crm.interaction.source.key.wizard"]
            .with_user(self.supervisor)
            .with_context(self.source._action_show_credential(secret, "signing_secret")["context"])
        )
        self.env.flush_all()
        output = subprocess.run(
            ["bash", "-c", dialog.signing_example],
            capture_output=True, text=True, timeout=60, check=True,
            env={"KEY": self.key, "PATH": "/usr/bin:/bin"},
        ).stdout  # fmt: skip
        self.assertIn('"status": "created"', output)
        self.assertEqual(self._logged("test-call-1").state, "missed")

    def test_secret_rotation_accepts_both_during_the_overlap(self):
        old = self.source.generate_signing_secret()
        until = fields.Datetime.now() + timedelta(days=3)
        new = self.source.with_user(self.supervisor).generate_signing_secret(
            previous_valid_until=until
        )
        self.assertEqual(self.source.signing_secret_state, "rotating")
        for number, secret in enumerate((old, new)):
            body = json.dumps(self._event(f"r-{number}")).encode()
            response = self._post("/events", body, headers=self._signed(secret, body))
            self.assertEqual(response.status_code, 200, f"secret {number}")
        # a sender signing with both (the spec's way to switch) is accepted too
        body = json.dumps(self._event("r-both")).encode()
        both = self._signed(old, body)
        both["webhook-signature"] += " " + self._signed(new, body)["webhook-signature"]
        self.assertEqual(self._post("/events", body, headers=both).status_code, 200)
        self.source.signing_secret_ids.filtered("date_expiry").sudo().date_expiry = (
            fields.Datetime.now() - timedelta(seconds=1)
        )
        body = json.dumps(self._event("r-late")).encode()
        self.assertEqual(
            self._post("/events", body, headers=self._signed(old, body)).status_code, 401
        )
        self.assertFalse(self._logged("r-late"))
        with self.assertRaises(UserError):
            self.source.generate_signing_secret(previous_valid_until=fields.Datetime.now())

    def test_a_replayed_signed_message_is_not_applied_twice(self):
        """A signed request captured on its way and sent again within the
        5-minute window (or a sender's retry of a message already applied) is
        answered as a duplicate and changes nothing; a message refused once can
        be sent again, corrected, under the same id."""
        secret = self.source.generate_signing_secret()
        ringing = json.dumps(self._event("replay-1", "call.started")).encode()
        headers = self._signed(secret, ringing, msg_id="msg_replay")
        first = self._post("/events", ringing, headers=headers)
        self.assertEqual((first.status_code, first.json()["status"]), (200, "created"))
        again = self._post("/events", ringing, headers=headers)
        self.assertEqual((again.status_code, again.json()["status"]), (200, "duplicate"))
        self.assertEqual(len(self._logged("replay-1")), 1)
        # refused (an unknown channel): the id is not used up
        refused = json.dumps({**self._event("replay-2"), "channel": "fax"}).encode()
        answer = self._post("/events", refused, headers=self._signed(secret, refused, "msg_fix"))
        self.assertEqual(answer.status_code, 403)
        fixed = json.dumps(self._event("replay-2")).encode()
        answer = self._post("/events", fixed, headers=self._signed(secret, fixed, "msg_fix"))
        self.assertEqual((answer.status_code, answer.json()["status"]), (200, "created"))

    def test_absurd_timestamps_are_refused_not_crashing(self):
        secret = self.source.generate_signing_secret()
        body = json.dumps(self._event("huge-1")).encode()
        for stamp in ("9" * 400, "1" * 11):
            headers = {**self._signed(secret, body), "webhook-timestamp": stamp}
            answer = self._post("/events", body, headers=headers)
            self.assertEqual(answer.status_code, 401, stamp[:12])
            self.assertEqual(answer.json()["error"]["code"], "invalid_signature")
        legacy = self.env["crm.interaction.source"].create(
            {"name": "Legacy", "company_id": self.company.id, "require_signature": True,
             "channel_ids": [(6, 0, [self.channel["phone"].id])]}
        )  # fmt: skip
        key = legacy.generate_api_key()
        headers = {"X-Timestamp": "9" * 400, "X-Signature": sign(key, 0, body)}
        answer = self._post("/events", body, key=key, headers=headers)
        self.assertEqual(answer.status_code, 401)
        self.assertFalse(self._logged("huge-1"))

    def test_rotating_one_kind_of_secret_leaves_the_other(self):
        """Setting a Twilio token does not stop the signing secret (nor the
        reverse): each is replaced only by one of its kind."""
        secret = self.source.generate_signing_secret()
        self.source.set_twilio_auth_token(TOKEN)
        self.source.generate_signing_secret(
            previous_valid_until=fields.Datetime.now() + timedelta(days=1)
        )
        self.assertEqual(self.source._valid_secrets("twilio"), [TOKEN])
        self.assertIn(secret, self.source._valid_secrets("webhook"))

    def test_overlap_is_at_most_thirty_days(self):
        """A forgotten overlap would keep a leaked key working for months."""
        source = self.source.with_user(self.supervisor)
        for method in (source.generate_api_key, source.generate_signing_secret):
            with self.assertRaises(UserError):
                method(previous_valid_until=fields.Datetime.now() + timedelta(days=31))
        key = source.generate_api_key(
            previous_valid_until=fields.Datetime.now() + timedelta(days=30)
        )
        self.assertEqual(self._post("/events", self._event("o-1"), key=key).status_code, 200)

    def test_key_rotation_keeps_the_old_key_until_the_date(self):
        old = self.key
        until = fields.Datetime.now() + timedelta(days=1)
        new = self.source.with_user(self.supervisor).generate_api_key(previous_valid_until=until)
        self.assertEqual(self.source.api_key_previous_expiry, until)
        self.assertEqual(self._post("/events", self._event("k-1"), key=old).status_code, 200)
        self.assertEqual(self._post("/events", self._event("k-2"), key=new).status_code, 200)
        self.source.sudo().api_key_previous_expiry = fields.Datetime.now() - timedelta(seconds=1)
        self.assertEqual(self._post("/events", self._event("k-3"), key=old).status_code, 401)
        self.source.generate_api_key()  # no overlap: the replaced key stops at once
        self.assertEqual(self._post("/events", self._event("k-4"), key=new).status_code, 401)
        self.assertFalse(self._logged("k-3") | self._logged("k-4"))

    # errors and request ids

    def test_wrong_content_type_is_415(self):
        response = self._post("/events", urlencode(self._event()), content_type="text/plain")
        self.assertEqual(response.status_code, 415)
        self.assertEqual(response.json()["error"]["code"], "unsupported_media_type")
        ari = self.source.copy({"name": "Asterisk", "format": "asterisk_ari"})
        response = self._post(
            "/asterisk/ari", "<xml/>", key=ari.generate_api_key(), content_type="application/xml"
        )
        self.assertEqual(response.status_code, 415)
        self.assertFalse(self._logged("h-1"))

    def test_unknown_route_and_wrong_method_answer_json(self):
        response = self.opener.get(self.base_url() + PREFIX + "/no/such/route")
        self.assertEqual(response.status_code, 404)
        self.assertEqual(response.headers["Content-Type"], "application/json; charset=utf-8")
        self.assertEqual(response.json()["error"]["code"], "http_error")
        self.assertEqual(response.json()["error"]["request_id"], response.headers["X-Request-Id"])
        response = self.opener.get(
            self.base_url() + PREFIX + "/events", headers={"Authorization": f"Bearer {self.key}"}
        )
        self.assertEqual(response.status_code, 405)
        self.assertEqual(response.json()["error"]["message"], "method not allowed")
        self.assertIn("POST", response.headers["Allow"])

    def test_every_answer_carries_a_request_id(self):
        ok = self._post("/events", self._event(), headers={"X-Request-Id": "pbx-req-000123"})
        self.assertEqual(ok.headers["X-Request-Id"], "pbx-req-000123", "the caller's id is kept")
        self.assertEqual(ok.json()["request_id"], "pbx-req-000123")
        hostile = self._post(
            "/events", self._event("h-2"), headers={"X-Request-Id": "a\tb<script>"}
        )
        self.assertRegex(hostile.headers["X-Request-Id"], r"^[0-9a-f]{32}$", "replaced")
        refused = self._post("/events", self._event(), key="wrong")
        self.assertEqual(refused.json()["error"]["request_id"], refused.headers["X-Request-Id"])
        batch = self._post("/events", [self._event("b-1"), self._event("b-2")])
        self.assertEqual(
            {item["request_id"] for item in batch.json()}, {batch.headers["X-Request-Id"]}
        )
        doc = self.opener.get(self.base_url() + PREFIX + "/openapi.json")
        self.assertTrue(doc.headers["X-Request-Id"])

    # the OpenAPI document against the live server

    def test_openapi_examples_are_what_the_server_answers(self):
        response = self.opener.get(self.base_url() + PREFIX + "/openapi.json")
        self.assertEqual(response.status_code, 200)
        doc = response.json()
        self.assertEqual(doc["openapi"], "3.1.0")
        self.assertEqual(doc["servers"][0]["url"], self.base_url() + PREFIX)
        ari = self.env["crm.interaction.source"].create(
            {"name": "Asterisk", "company_id": self.company.id, "format": "asterisk_ari",
             "channel_ids": [(6, 0, self.channel["phone"].ids)]}
        )  # fmt: skip
        twilio = ari.copy({"name": "Twilio", "format": "twilio"})
        twilio.set_twilio_auth_token(TOKEN)
        keys = {"/events": self.key, "/asterisk/ari": ari.generate_api_key()}
        checked = set()

        def check(path, name, status, documented, response):
            operation = doc["paths"][path]["post"]
            with self.subTest(path=path, example=name):
                self.assertEqual(response.status_code, status, response.text)
                answer = response.json()
                self.assertTrue(
                    openapi.matches(documented, answer), f"documented {documented}, got {answer}"
                )
                schema = operation["responses"][str(status)]["content"]["application/json"]
                self.assertEqual(openapi.validate(answer, schema["schema"], doc), [])
            checked.add((path, name))

        for path in ("/events", "/asterisk/ari"):
            for name, body, status, documented in openapi.examples(doc, path):
                check(path, name, status, documented, self._post(path, body, key=keys[path]))
        path = "/twilio/{source_id}"
        url = f"{self.base_url()}{PREFIX}/twilio/{twilio.id}"
        for name, params, status, documented in openapi.examples(doc, path):
            response = self.opener.post(url, data=urlencode(params), timeout=30, headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Twilio-Signature": twilio_signature(TOKEN, url, params)})  # fmt: skip
            check(path, name, status, documented, response)

        # the documented errors without a request example of their own
        errors = {
            ("/events", "unauthorized"): self._post("/events", self._event("e-1"), key="nope"),
            ("/events", "unsupported_media_type"): self._post(
                "/events", "x", content_type="text/plain"
            ),
            ("/events", "channel_not_allowed"): self._post(
                "/events", {**self._event("e-2", "message.received"), "channel": "sms"}
            ),
        }
        for (path, name), response in errors.items():
            responses = doc["paths"][path]["post"]["responses"][str(response.status_code)]
            documented = responses["content"]["application/json"]["examples"][name]["value"]
            check(path, name, response.status_code, documented, response)

        documented = {
            (path, name)
            for path in ("/events", "/asterisk/ari", "/twilio/{source_id}")
            for status in doc["paths"][path]["post"]["responses"].values()
            for name in status["content"]["application/json"]["examples"]
        }
        # the 401/403/415 examples of the other operations are the same bodies
        self.assertEqual(
            {name for _path, name in documented - checked},
            {"unauthorized", "channel_not_allowed", "unsupported_media_type"},
        )
        self.assertLessEqual({n for _p, n in documented}, {n for _p, n in checked})
