import unittest

from odoo.tests import tagged

from ..lib import events
from ..lib.events import EventError, parse_request


@tagged("post_install", "-at_install")
class TestEventSchema(unittest.TestCase):
    def test_errors_name_the_field(self):
        cases = {
            b'{"event": "call.exploded", "id": "1", "timestamp": "2026-01-01T00:00:00Z"}': "event",
            b'[{"event": "call.missed", "id": "1", "timestamp": "2026-01-01T00:00:00Z"},'
            b' {"event": "call.missed", "id": "2", "timestamp": "yesterday"}]': "[1].timestamp",
            b'{"event": "message.received", "id": "1", "timestamp": "2026-01-01T00:00:00"}': (
                "channel"
            ),
            b'{"event": "call.missed", "id": "1", "timestamp": "2026-01-01T00:00:00",'
            b' "from": {"fax": "1"}}': "from.fax",
            b'{"event": "call.ended", "id": "1", "timestamp": "2026-01-01T00:00:00",'
            b' "duration": -4}': "duration",
            # not JSON, though json.loads accepts them by default
            b'{"event": "call.ended", "id": "1", "timestamp": "2026-01-01T00:00:00",'
            b' "duration": NaN}': "duration",
            b'[{"event": "call.ended", "id": "1", "timestamp": "2026-01-01T00:00:00",'
            b' "subject": -Infinity}]': "[0].subject",
            # past the integer column
            b'{"event": "call.ended", "id": "1", "timestamp": "2026-01-01T00:00:00",'
            b' "duration": 1e999}': "duration",
            b'{"event": "call.ended", "id": "1", "timestamp": "2026-01-01T00:00:00",'
            b' "duration": 2147483648}': "duration",
            b'{"event": "call.ended", "id": "1", "timestamp": "0001-01-01T00:00:00+01:00"}': (
                "timestamp"
            ),
        }
        for body, field in cases.items():
            with self.subTest(field=field), self.assertRaises(EventError) as caught:
                parse_request(body)
            self.assertEqual(caught.exception.field, field)
            self.assertEqual(caught.exception.status, 400)

    def test_limits(self):
        with self.assertRaises(EventError) as caught:
            parse_request(b" " * (events.MAX_BODY_BYTES + 1))
        self.assertEqual(caught.exception.status, 413)
        with self.assertRaises(EventError) as caught:
            parse_request(b"[" + b",".join([b"{}"] * 501) + b"]")
        self.assertEqual(caught.exception.code, "batch_too_large")
        with self.assertRaises(EventError) as caught:
            parse_request(b"{not json")
        self.assertEqual(caught.exception.code, "invalid_json")

    def test_signature_header_not_ascii(self):
        body, now = b"{}", 1_700_000_000
        events.check_signature("k", str(now), events.sign("k", now, body), body, now)
        with self.assertRaises(EventError) as caught:
            events.check_signature("k", str(now), "sha256=\u00e9t\u00e9", body, now)
        self.assertEqual(
            (caught.exception.code, caught.exception.status), ("invalid_signature", 401)
        )
