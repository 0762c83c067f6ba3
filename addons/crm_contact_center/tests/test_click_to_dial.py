"""Click-to-dial: the Call button asks the agent's PBX (here a local HTTP
server standing in for it) to ring the agent's extension, then the customer."""

import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from unittest.mock import patch

import requests

from odoo.exceptions import UserError, ValidationError
from odoo.tests import HttpCase, tagged

from ..lib.events import sign
from ..lib.signatures import verify_webhook
from .common import ContactCenterCase, ContactCenterCommon

_logger = logging.getLogger(__name__)


class FakePbx(BaseHTTPRequestHandler):
    """Records each request; answers with the server's ``status`` after ``delay``."""

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.received.append((self.command, self.path, dict(self.headers), body))
        time.sleep(self.server.delay)
        self.send_response(self.server.status)
        if self.server.status in (301, 302):
            self.send_header("Location", "http://127.0.0.1:1/elsewhere")
        self.end_headers()
        self.wfile.write(b'{"id": "channel-1"}')

    do_POST = do_GET = _answer

    def log_message(self, *args):
        pass


@tagged("post_install", "-at_install")
class TestClickToDial(ContactCenterCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.pbx = ThreadingHTTPServer(("127.0.0.1", 0), FakePbx)
        cls.pbx.received, cls.pbx.status, cls.pbx.delay = [], 200, 0
        threading.Thread(target=cls.pbx.serve_forever, daemon=True).start()
        cls.addClassCleanup(cls.pbx.server_close)
        cls.addClassCleanup(cls.pbx.shutdown)
        port = cls.pbx.server_address[1]
        cls.source = cls.env["crm.interaction.source"].create(
            {
                "name": "Office PBX",
                "company_id": cls.company.id,
                "channel_ids": [(6, 0, [cls.channel["phone"].id])],
                "originate_url": f"http://127.0.0.1:{port}/dial?ext={{extension}}",
                "originate_method": "POST",
                "originate_body": '{"from": "{extension}", "to": "{number}"}',
            }
        )
        cls.secret = cls.source.generate_signing_secret()
        cls.agent1.contact_center_extension = "201"
        cls.Dial = cls.env["crm.interaction"].with_user(cls.agent1)

    def setUp(self):
        super().setUp()
        self.pbx.received.clear()
        self.pbx.status, self.pbx.delay = 200, 0

    def _calls_logged(self):
        return self.env["crm.interaction"].search(
            [("direction", "=", "outbound"), ("user_id", "=", self.agent1.id)]
        )

    def test_call_button_asks_the_pbx_signed_and_logs_the_call(self):
        start = time.perf_counter()
        action = self.Dial.action_click_to_dial("res.partner", self.customer.id, "+32 2 555 12 34")
        elapsed = time.perf_counter() - start
        self.assertEqual(action["params"]["type"], "success")
        self.assertIn("+3225551234", action["params"]["message"])
        ((method, path, headers, body),) = self.pbx.received
        self.assertEqual((method, path), ("POST", "/dial?ext=201"))
        self.assertEqual(json.loads(body), {"from": "201", "to": "+3225551234"})
        self.assertEqual(headers["Content-Type"], "application/json")
        stamp = int(headers["X-Timestamp"])
        self.assertEqual(headers["X-Signature"], sign(self.secret, stamp, body))
        # the Standard Webhooks signature verifies with the source's secret
        verify_webhook([self.secret], headers.get, body, time.time())
        call = self._calls_logged()
        self.assertEqual(len(call), 1)
        self.assertEqual(
            (call.partner_id, call.state, call.channel_id, call.contact_phone),
            (self.customer, "in_progress", self.channel["phone"], "+3225551234"),
        )
        # server time, PBX included (a local one answering at once)
        self.assertLess(elapsed, 1.0)
        _logger.info("click-to-dial server time (local PBX): %.0f ms", elapsed * 1000)

    def test_national_number_is_dialled_in_e164(self):
        self.Dial.action_click_to_dial("res.partner", self.contact.id, "0470 12 34 56")
        body = json.loads(self.pbx.received[0][3])
        self.assertEqual(body["to"], "+32470123456", "the company's country (Belgium)")
        self.assertEqual(self._calls_logged().partner_id, self.contact)

    def test_the_number_shown_is_the_default(self):
        self.Dial.action_click_to_dial("res.partner", self.customer.id)
        self.assertEqual(json.loads(self.pbx.received[0][3])["to"], "+3225551234")

    def test_pbx_timeout_gives_a_warning_and_logs_nothing(self):
        # Odoo's test harness raises any timeout under 10 s to 10 s: the
        # slow PBX is simulated at the socket's edge instead
        with patch("requests.request", side_effect=requests.ReadTimeout("read timed out")) as sent:
            action = self.Dial.action_click_to_dial("res.partner", self.customer.id)
        self.assertEqual(sent.call_args.kwargs["timeout"], 5.0)
        self.assertFalse(sent.call_args.kwargs["allow_redirects"])
        self.assertEqual(
            (action["type"], action["tag"], action["params"]["type"]),
            ("ir.actions.client", "display_notification", "danger"),
        )
        self.assertIn("no answer within", action["params"]["message"])
        self.assertFalse(self._calls_logged(), "a call that did not start is not logged")

    def test_pbx_error_or_redirect_gives_a_warning(self):
        for status in (500, 302):
            self.pbx.status = status
            action = self.Dial.action_click_to_dial("res.partner", self.customer.id)
            self.assertEqual(action["params"]["type"], "danger")
            self.assertIn(str(status), action["params"]["message"])
        self.assertEqual(len(self.pbx.received), 2, "the redirect is not followed")
        self.assertFalse(self._calls_logged())

    def test_unreachable_pbx_gives_a_warning(self):
        self.source.originate_url = "http://127.0.0.1:1/dial"
        action = self.Dial.action_click_to_dial("res.partner", self.customer.id)
        self.assertEqual(action["params"]["type"], "danger")
        self.assertIn("could not be reached", action["params"]["message"])
        self.assertFalse(self._calls_logged())

    def test_without_pbx_the_softphone_opens(self):
        self.source.originate_url = False
        action = self.Dial.action_click_to_dial("res.partner", self.customer.id)
        self.assertEqual(action, {"type": "ir.actions.act_url", "url": "tel:+3225551234",
                                  "target": "self"})  # fmt: skip
        self.assertFalse(self.pbx.received)

    def test_agent_without_extension_is_told_to_set_it(self):
        self.agent1.contact_center_extension = False
        with self.assertRaisesRegex(UserError, "phone extension"):
            self.Dial.action_click_to_dial("res.partner", self.customer.id)
        self.assertFalse(self.pbx.received)

    def test_customer_without_phone(self):
        self.customer.phone = False
        with self.assertRaisesRegex(UserError, "no phone number"):
            self.Dial.action_click_to_dial("res.partner", self.customer.id)

    def test_salesman_calls_from_an_opportunity(self):
        deal = self._opportunity(self.customer, phone="+32 2 555 12 34")
        self.salesman.contact_center_extension = "301"
        self.env["crm.interaction"].with_user(self.salesman).action_click_to_dial(
            "crm.lead", deal.id, deal.phone
        )
        call = self.env["crm.interaction"].search([("user_id", "=", self.salesman.id)])
        self.assertEqual((call.lead_id, call.partner_id), (deal, self.customer))

    def test_only_http_urls_and_only_supervisors_configure_them(self):
        source = self.source.with_user(self.supervisor)
        for url in ("file:///etc/passwd", "gopher://127.0.0.1:6379/_INFO", "pbx:8088"):
            with self.assertRaises(ValidationError):
                source.originate_url = url
        with self.assertRaises(Exception):  # noqa: B017 (AccessError)
            self.source.with_user(self.agent1).originate_url = "http://evil.example.com/"

    def test_unknown_model_is_refused(self):
        with self.assertRaises(UserError):
            self.Dial.action_click_to_dial("res.users", self.agent1.id, "+3225551234")

    def test_extension_is_unique_in_a_company(self):
        with self.assertRaisesRegex(ValidationError, "already used"):
            self.agent2.contact_center_extension = "201"


@tagged("post_install", "-at_install")
class TestClickToDialTour(ContactCenterCommon, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_contact_center()
        cls.pbx = ThreadingHTTPServer(("127.0.0.1", 0), FakePbx)
        cls.pbx.received, cls.pbx.status, cls.pbx.delay = [], 200, 0
        threading.Thread(target=cls.pbx.serve_forever, daemon=True).start()
        cls.addClassCleanup(cls.pbx.server_close)
        cls.addClassCleanup(cls.pbx.shutdown)
        cls.env["crm.interaction.source"].create(
            {
                "name": "Office PBX",
                "company_id": cls.company.id,
                "channel_ids": [(6, 0, [cls.channel["phone"].id])],
                "originate_url": f"http://127.0.0.1:{cls.pbx.server_address[1]}/dial",
                "originate_body": '{"from": "{extension}", "to": "{number}"}',
            }
        )
        cls.agent1.contact_center_extension = "201"
        cls.agent1.groups_id |= cls.env.ref("base.group_partner_manager")

    def test_agent_calls_a_customer_from_the_contacts_list(self):
        """The Call button is in the contacts list too: a click there rings
        the agent, then the customer, and logs the call; the list stays."""
        self.start_tour(
            "/odoo/action-contacts.action_contacts?view_type=list",
            "crm_contact_center_call_from_list_tour",
            login="cc_agent1",
        )
        ((_method, _path, _headers, body),) = self.pbx.received
        self.assertEqual(json.loads(body), {"from": "201", "to": "+3225551234"})
        call = self.env["crm.interaction"].search(
            [("direction", "=", "outbound"), ("partner_id", "=", self.customer.id)]
        )
        self.assertEqual((call.user_id, call.state), (self.agent1, "in_progress"))
