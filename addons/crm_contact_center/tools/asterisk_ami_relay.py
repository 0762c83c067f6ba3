#!/usr/bin/env python3
"""Relay Asterisk AMI call events to the CRM contact center's inbound API.

Standard library only: copy this file to the PBX (or any host that reaches
both the AMI port and Odoo) and run it with Python 3.10+::

    export CC_API_KEY=...             # the integration's API key (Bearer)
    export CC_SIGNING_SECRET=whsec_.. # its signing secret, if it has one
    export AMI_SECRET=...             # manager.conf secret of the AMI user
    python3 asterisk_ami_relay.py --url https://odoo.example.com \\
        --ami-host 127.0.0.1 --ami-user crm --outbound-context from-internal

It logs in to AMI (``manager.conf``: a user with ``read = call``), reads the
call events and posts the suite's JSON events to
``/crm_contact_center/v1/events``, signed the Standard Webhooks way:

=============================================  ===================================
AMI                                            suite event (id = the Linkedid)
=============================================  ===================================
Newchannel of the call's first channel         ``call.started`` (caller id, exten)
Newstate 5 (Ringing) of another channel        ``call.ringing`` (its extension)
Newstate 6 (Up) of another channel             ``call.answered`` (its extension)
Hangup of the call's first channel             ``call.ended`` (talk time)
=============================================  ===================================

A call whose first channel is in an ``--outbound-context`` (the agents'
dialplan context) is outbound: the customer is the number dialled and the
agent the calling endpoint. Events of calls that began before the relay
started are skipped. Deliveries are retried (the API is idempotent), then
logged and dropped.
"""

import argparse
import base64
import hashlib
import hmac
import json
import logging
import os
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from datetime import UTC, datetime

_logger = logging.getLogger("asterisk_ami_relay")

EVENTS_PATH = "/crm_contact_center/v1/events"
STATE_RINGING, STATE_UP = "5", "6"
UNKNOWN = ("", "<unknown>", "unknown")


# --------------------------------------------------------------------------
# AMI text
# --------------------------------------------------------------------------


def parse_ami(lines):
    """Yield AMI messages (dicts) from an iterable of text lines: ``Key: Value``
    lines, a blank line ending each message; the greeting line is skipped.

    >>> list(parse_ami(["Asterisk Call Manager/9.0.0", "Event: Hangup", "Cause: 16", "",
    ...                 "Response: Success", ""]))
    [{'Event': 'Hangup', 'Cause': '16'}, {'Response': 'Success'}]
    """
    message = {}
    for raw in lines:
        line = raw.rstrip("\r\n")
        if not line:
            if message:
                yield message
            message = {}
            continue
        key, sep, value = line.partition(": ")
        if sep:
            message.setdefault(key, value)
        elif line.endswith(":"):
            message.setdefault(line[:-1], "")
    if message:
        yield message


def channel_endpoint(name):
    """``PJSIP/201-0000000a`` → ``201``."""
    if not name or "/" not in name:
        return None
    resource = name.split("/", 1)[1].split(";", 1)[0]
    if "-" in resource and len(resource.rsplit("-", 1)[1]) == 8:
        resource = resource.rsplit("-", 1)[0]
    return resource.split("@", 1)[0] or None


class CallTracker:
    """Turns AMI messages into suite events; remembers the calls in progress.

    >>> tracker = CallTracker(outbound_contexts=())
    >>> tracker.feed({"Event": "Newchannel", "Channel": "PJSIP/trunk-00000001",
    ...     "CallerIDNum": "3225551234", "CallerIDName": "Alice", "Exten": "100",
    ...     "Context": "from-trunk", "Uniqueid": "1717.1", "Linkedid": "1717.1",
    ...     "Timestamp": "1780304400.000000"})[0]["event"]
    'call.started'
    """

    def __init__(self, outbound_contexts=("from-internal",), channel="phone"):
        self.outbound_contexts = set(outbound_contexts)
        self.channel = channel
        self.calls = {}  # linkedid: {"outbound", "answered_at"}

    def _event(self, kind, message, call_id, **extra):
        stamp = message.get("Timestamp")
        when = datetime.fromtimestamp(float(stamp), UTC) if stamp else datetime.now(UTC)
        return {
            "event": kind,
            "id": call_id,
            "timestamp": when.isoformat(timespec="seconds"),
            "channel": self.channel,
            **extra,
        }

    def feed(self, message):
        """The suite events (possibly none) of one AMI message."""
        kind = message.get("Event")
        unique, linked = message.get("Uniqueid"), message.get("Linkedid")
        if not kind or not unique or not linked:
            return []
        first = unique == linked
        call = self.calls.get(linked)
        if kind == "Newchannel" and first and call is None:
            outbound = message.get("Context") in self.outbound_contexts
            self.calls[linked] = {"outbound": outbound, "answered_at": None}
            number, name = message.get("CallerIDNum", ""), message.get("CallerIDName", "")
            exten = message.get("Exten", "")
            if outbound:
                sender = {"phone": exten} if exten not in UNKNOWN else {}
                agent = channel_endpoint(message.get("Channel"))
            else:
                sender = {"phone": number} if number not in UNKNOWN else {}
                if name not in UNKNOWN:
                    sender["name"] = name
                agent = exten if exten not in UNKNOWN + ("s",) else None
            return [
                self._event(
                    "call.started",
                    message,
                    linked,
                    direction="outbound" if outbound else "inbound",
                    **{"from": sender},
                    to={"extension": agent} if agent else {},
                )
            ]
        if call is None:
            return []  # a call that began before the relay started
        if kind == "Newstate" and not first:
            state = message.get("ChannelState")
            extension = None if call["outbound"] else channel_endpoint(message.get("Channel"))
            to = {"extension": extension} if extension else {}
            if state == STATE_RINGING:
                return [self._event("call.ringing", message, linked, to=to)]
            if state == STATE_UP and call["answered_at"] is None:
                call["answered_at"] = float(message.get("Timestamp") or time.time())
                return [self._event("call.answered", message, linked, to=to)]
            return []
        if kind == "Hangup" and first:
            del self.calls[linked]
            talk = 0
            if call["answered_at"] is not None:
                ended = float(message.get("Timestamp") or time.time())
                talk = max(0, round(ended - call["answered_at"]))
            return [self._event("call.ended", message, linked, duration=talk)]
        return []


# --------------------------------------------------------------------------
# delivery
# --------------------------------------------------------------------------


def webhook_headers(secret, body, now=None, msg_id=None):
    """Standard Webhooks headers signing ``body`` with ``whsec_…`` ``secret``.
    ``msg_id``: the message's id, the same for each retry of one message (the
    suite answers a message it already applied as a duplicate)."""
    msg_id = msg_id or "msg_" + uuid.uuid4().hex
    stamp = str(int(now if now is not None else time.time()))
    raw = secret[len("whsec_") :] if secret.startswith("whsec_") else secret
    key = base64.b64decode(raw + "=" * (-len(raw) % 4))
    digest = hmac.new(key, f"{msg_id}.{stamp}.".encode() + body, hashlib.sha256).digest()
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": stamp,
        "webhook-signature": "v1," + base64.b64encode(digest).decode(),
    }


LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Refuse redirects: the key and the events go to the configured URL or
    nowhere (a redirect answers as an error, logged)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


class Poster:
    """Posts event batches to the suite, retrying what may succeed later.

    The API key travels in every request: the URL must be ``https://``, except
    to Odoo on the same machine (``http://localhost``) or with
    ``allow_http=True`` (``--allow-http``, a test network only)."""

    def __init__(
        self, base_url, api_key, signing_secret=None, attempts=4, timeout=10, allow_http=False
    ):
        parts = urllib.parse.urlsplit(base_url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError(f"--url must be an https:// URL, not {base_url!r}")
        if parts.scheme == "http" and parts.hostname not in LOCAL_HOSTS and not allow_http:
            raise ValueError(
                "--url must be https:// (the API key would cross the network in clear);"
                " pass --allow-http on a test network only"
            )
        self.url = base_url.rstrip("/") + EVENTS_PATH
        self.api_key, self.signing_secret = api_key, signing_secret
        self.attempts, self.timeout = attempts, timeout
        self.opener = urllib.request.build_opener(_NoRedirect)

    def post(self, events):
        """Deliver ``events``; returns the decoded answer, or None if given up."""
        body = json.dumps(events).encode()
        msg_id = "msg_" + uuid.uuid4().hex  # one message, however many attempts
        for attempt in range(1, self.attempts + 1):
            headers = {
                "Content-Type": "application/json",
                "Authorization": f"Bearer {self.api_key}",
            }
            if self.signing_secret:
                headers.update(webhook_headers(self.signing_secret, body, msg_id=msg_id))
            request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
            try:
                with self.opener.open(request, timeout=self.timeout) as response:
                    return json.loads(response.read())
            except urllib.error.HTTPError as exc:
                detail = exc.read()[:500]
                if exc.code not in (409, 429) and exc.code < 500:
                    _logger.error("events refused (%s): %s", exc.code, detail)
                    return None
                _logger.warning("delivery attempt %s failed (%s)", attempt, exc.code)
            except (urllib.error.URLError, TimeoutError, OSError) as exc:
                _logger.warning("delivery attempt %s failed (%s)", attempt, exc)
            time.sleep(min(30, 2**attempt))
        _logger.error("gave up delivering %s events", len(events))
        return None


def ami_lines(sock):
    """The text lines of an AMI connection."""
    with sock.makefile("r", encoding="utf-8", errors="replace", newline="") as stream:
        yield from stream


def login(sock, user, secret):
    action = f"Action: Login\r\nUsername: {user}\r\nSecret: {secret}\r\nEvents: call\r\n\r\n"
    sock.sendall(action.encode())


def relay(sock, user, secret, tracker, poster):
    """Log in on an open AMI socket and relay its call events until it closes."""
    login(sock, user, secret)
    for message in parse_ami(ami_lines(sock)):
        if message.get("Response") == "Error":
            raise PermissionError(message.get("Message", "AMI login refused"))
        events = tracker.feed(message)
        if events:
            poster.post(events)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="Odoo's base URL")
    parser.add_argument("--ami-host", default="127.0.0.1")
    parser.add_argument("--ami-port", type=int, default=5038)
    parser.add_argument("--ami-user", required=True)
    parser.add_argument(
        "--outbound-context", action="append", default=[],
        help="dialplan context of the agents' own calls (repeatable)",
    )  # fmt: skip
    parser.add_argument("--channel", default="phone", help="channel code of the calls")
    parser.add_argument(
        "--allow-http", action="store_true",
        help="accept an http:// --url other than localhost (a test network only)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        poster = Poster(
            args.url,
            os.environ["CC_API_KEY"],
            os.environ.get("CC_SIGNING_SECRET"),
            allow_http=args.allow_http,
        )
    except ValueError as exc:
        parser.error(str(exc))
    tracker = CallTracker(args.outbound_context, args.channel)
    while True:  # reconnect forever: the relay runs as a service
        try:
            with socket.create_connection((args.ami_host, args.ami_port), timeout=None) as sock:
                _logger.info("connected to AMI %s:%s", args.ami_host, args.ami_port)
                relay(sock, args.ami_user, os.environ["AMI_SECRET"], tracker, poster)
        except PermissionError:
            raise
        except OSError as exc:
            _logger.warning("AMI connection lost (%s); reconnecting in 5 s", exc)
        time.sleep(5)


if __name__ == "__main__":
    main()
