"""Schema and signature checks of the inbound event API.

No ``odoo`` import: integrators' payloads are validated here before any record
is touched, so a rejected request (or batch) writes nothing. Usage::

    >>> events = parse_body(b'{"event": "call.missed", "id": "c1", '
    ...                     b'"timestamp": "2026-05-01T10:00:00Z", "from": {"phone": "+3225551234"}}')
    >>> events[0]["event"], events[0]["channel"], events[0]["timestamp"].isoformat()
    ('call.missed', 'phone', '2026-05-01T10:00:00')
    >>> parse_body(b'{"event": "call.missed"}')
    Traceback (most recent call last):
    ...
    EventError: [missing_field] id: this field is required

Every error names the offending field (``[2].from.email`` for the third event
of a batch) so an integrator can fix the payload without reading code.
"""

import hashlib
import hmac
import json
import math
from datetime import UTC, datetime, timedelta

MAX_BODY_BYTES = 1024 * 1024
MAX_BATCH = 500
SIGNATURE_WINDOW_SECONDS = 300
MAX_DURATION = 2**31 - 1  # seconds; the column is a PostgreSQL integer
# plausible event times: a PBX with a wrong clock must not write dates the
# SLA arithmetic cannot handle (9999-12-31) nor pre-date every report
MIN_TIMESTAMP = datetime(2000, 1, 1)
MAX_FUTURE = timedelta(days=1)

CALL_EVENTS = ("call.started", "call.answered", "call.ended", "call.missed")
# call.ringing: the phone rings (an agent's, or the queue's); it moves no state
EVENT_TYPES = (*CALL_EVENTS, "call.ringing", "message.received", "message.sent", "form.submitted")
# how far a request went: an agent's progress is never undone by a late event
# (an answered call outranks a missed one: a late "call.missed" cannot undo it)
# events that name an agent (``to``): the same event naming another agent is
# news, not a retry -- the call rings on a second phone (a hunt group, a
# transfer) or another agent picked it up
AGENT_EVENTS = ("call.ringing", "call.answered")
STATE_RANK = {"new": 0, "assigned": 1, "missed": 2, "in_progress": 3, "done": 4}
DEFAULT_CHANNEL = {"call": "phone", "form": "web"}

_TOP_FIELDS = {
    "event", "id", "timestamp", "channel", "direction", "from", "to",
    "duration", "subject", "text", "recording_url",
}  # fmt: skip
_FROM_FIELDS = {"phone", "email", "handle", "name"}
_TO_FIELDS = {"extension", "login"}
_MAX_CHARS = {"id": 255, "channel": 64, "subject": 255, "text": 100_000, "recording_url": 2048}


class _NonFinite:
    """What ``NaN``, ``Infinity`` and ``-Infinity`` (accepted by ``json.loads`` though
    not JSON) decode to: no field accepts it, so the error names the field."""

    def __init__(self, name):
        self.name = name


class EventError(ValueError):
    """A payload rejected with an HTTP status, a stable code and the offending field."""

    def __init__(self, code, message, field=None, status=400):
        super().__init__(f"[{code}] {field + ': ' if field else ''}{message}")
        self.code, self.message, self.field, self.status = code, message, field, status

    def as_dict(self):
        return {
            "error": {"code": self.code, "message": _safe(self.message), "field": _safe(self.field)}
        }


def _safe(text):
    """``text`` encodable as UTF-8 (an unknown field's name may hold a lone surrogate)."""
    if text is None:
        return None
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _check_text(value, field):
    """Refuse what PostgreSQL cannot store: NUL characters and lone surrogates
    (``\\u0000``, ``\\ud800`` are valid JSON escapes)."""
    if "\0" in value:
        raise EventError("invalid_field", "must not contain NUL characters", field)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise EventError("invalid_field", "must be valid Unicode (lone surrogate)", field) from None


def event_key(event):
    """What an interaction's ``api_events`` records of ``event``: its type, and
    for ``AGENT_EVENTS`` the agent it names. Two events of a call with the same
    key are one delivery sent twice; see ``event_kinds`` for the way back.

    >>> event_key({"event": "call.ringing", "to": {"login": None, "extension": "201"}})
    'call.ringing>#201'
    >>> event_key({"event": "call.ringing", "to": {"login": "ann", "extension": None}})
    'call.ringing>ann'
    >>> event_key({"event": "call.ended", "to": {"login": "ann", "extension": None}})
    'call.ended'
    """
    kind, to = event["event"], event.get("to") or {}
    if kind not in AGENT_EVENTS:
        return kind
    agent = to.get("login") or (to.get("extension") and "#" + to["extension"])
    # the keys are stored comma-separated
    return f"{kind}>{agent.replace(',', '%2C')}" if agent else kind


def event_kinds(keys):
    """The event types of the ``event_key`` values ``keys`` (empty ones dropped).

    >>> event_kinds(["call.started", "call.ringing>#201", ""])
    ['call.started', 'call.ringing']
    """
    return [key.split(">", 1)[0] for key in keys if key]


def is_duplicate(event, keys):
    """Whether ``event`` was applied already to the interaction whose
    ``api_events`` are ``keys``: the same key, or an event of the same type
    naming no agent (it says nothing the applied one did not).

    >>> keys = ["call.ringing>#201", "call.answered>#201"]
    >>> is_duplicate({"event": "call.ringing", "to": {"login": None, "extension": "202"}}, keys)
    False
    >>> is_duplicate({"event": "call.answered", "to": {"login": None, "extension": None}}, keys)
    True
    """
    key = event_key(event)
    return key in keys or (key == event["event"] and key in event_kinds(keys))


def derive_state(kinds):
    """The state reached once the event types ``kinds`` are applied, whatever their
    order: PBXs do not always send ``call.ended`` after ``call.missed``, and a
    "no answer" may reach us after the call was picked up elsewhere.

    >>> derive_state(["call.ended", "call.missed"]), derive_state(["call.missed", "call.ended"])
    ('missed', 'missed')
    >>> derive_state(["call.started", "call.answered", "call.ended"])
    'done'
    >>> derive_state(["call.answered", "call.ended", "call.missed"])
    'done'
    """
    seen = set(kinds)
    if not seen.intersection(CALL_EVENTS):
        return "done" if "message.sent" in seen else "new"
    if "call.answered" in seen:  # answered, whatever else was reported
        return "done" if "call.ended" in seen else "in_progress"
    if "call.missed" in seen or "call.ended" in seen:
        return "missed"  # a call that ends unanswered was missed
    return "new"


def next_state(current, applied, kinds):
    """The state of an interaction in state ``current`` after the events
    ``applied`` once the events ``kinds`` (``applied`` plus the new one) are applied.

    While the state is the one the events gave (``assigned`` for a routed new
    request), it follows the events, so the final state depends on the set of
    events only. Once an agent moved the request on (took it, closed it), a
    late event can only move it further.

    >>> next_state("missed", ["call.missed"], ["call.missed", "call.answered"])
    'in_progress'
    >>> next_state("in_progress", ["call.started"], ["call.started", "call.missed"])
    'in_progress'
    """
    before, after = derive_state(applied), derive_state(kinds)
    if after == before:
        return current
    follows_events = current == before or (before == "new" and current == "assigned")
    if follows_events or STATE_RANK[after] > STATE_RANK[current]:
        return after
    return current


def parse_body(raw):
    """Decode a request body into a list of normalised events (see ``parse_event``).

    Returns ``(events, is_batch)`` semantics through ``parse_request``; this
    shortcut returns only the events.
    """
    return parse_request(raw)[0]


def decode_json(raw):
    """The JSON value of a request body, or raise ``EventError`` (also used by
    the PBX adapters, whose payloads are not the suite's events)."""
    if len(raw) > MAX_BODY_BYTES:
        raise EventError(
            "payload_too_large", f"the body exceeds {MAX_BODY_BYTES} bytes", status=413
        )
    try:
        return json.loads(raw, parse_constant=_NonFinite)
    except (UnicodeDecodeError, ValueError) as exc:
        raise EventError("invalid_json", f"the body is not valid JSON: {exc}") from None
    except RecursionError:
        raise EventError("invalid_json", "the body is nested too deeply") from None


def parse_request(raw):
    """Return ``(events, is_batch)`` or raise ``EventError``."""
    data = decode_json(raw)
    if isinstance(data, dict):
        return [parse_event(data)], False
    if not isinstance(data, list):
        raise EventError("invalid_body", "the body must be an event object or a list of events")
    if not data:
        raise EventError("invalid_body", "the list of events is empty")
    if len(data) > MAX_BATCH:
        raise EventError("batch_too_large", f"a batch holds at most {MAX_BATCH} events")
    return [parse_event(item, prefix=f"[{i}].") for i, item in enumerate(data)], True


def _string(event, key, prefix, required=False):
    value = event.get(key)
    if value is None or value == "":
        if required:
            raise EventError("missing_field", "this field is required", prefix + key)
        return None
    if isinstance(value, int) and not isinstance(value, bool) and key == "id":
        value = str(value)
    if not isinstance(value, str):
        raise EventError("invalid_field", "must be a string", prefix + key)
    _check_text(value, prefix + key)
    value = value.strip()
    if len(value) > _MAX_CHARS.get(key, 255):
        raise EventError("invalid_field", "is too long", prefix + key)
    return value


def _object(event, key, allowed, prefix):
    value = event.get(key)
    if value is None:
        return dict.fromkeys(allowed)
    if not isinstance(value, dict):
        raise EventError("invalid_field", "must be an object", prefix + key)
    for sub in value:
        if sub not in allowed:
            raise EventError("unknown_field", "is not a known field", f"{prefix}{key}.{sub}")
    return {sub: _string(value, sub, f"{prefix}{key}.") for sub in allowed}


def parse_timestamp(value, field="timestamp", now=None):
    """ISO 8601 to a naive UTC datetime (a missing offset means UTC), between
    2000-01-01 and a day after ``now`` (default: the current time).

    >>> parse_timestamp("9999-12-31T00:00:00Z")
    Traceback (most recent call last):
    ...
    EventError: [invalid_field] timestamp: must be between 2000-01-01 and one day from now (UTC)
    """
    try:
        stamp = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise EventError("invalid_field", "must be an ISO 8601 date and time", field) from None
    if stamp.tzinfo:
        try:
            stamp = stamp.astimezone(UTC).replace(tzinfo=None)
        except OverflowError:
            stamp = None
    now = now or datetime.now(UTC).replace(tzinfo=None)
    if stamp is None or not MIN_TIMESTAMP <= stamp <= now + MAX_FUTURE:
        raise EventError(
            "invalid_field", "must be between 2000-01-01 and one day from now (UTC)", field
        )
    return stamp


def parse_event(event, prefix=""):
    """Validate one event object and return it normalised (all keys present)."""
    if not isinstance(event, dict):
        raise EventError("invalid_body", "an event must be an object", prefix.rstrip(".") or None)
    for key in event:
        if key not in _TOP_FIELDS:
            raise EventError("unknown_field", "is not a known field", prefix + key)
    kind = _string(event, "event", prefix, required=True)
    if kind not in EVENT_TYPES:
        raise EventError(
            "invalid_field", f"unknown event type, expected one of {', '.join(EVENT_TYPES)}",
            prefix + "event",
        )  # fmt: skip
    result = {
        "event": kind,
        "id": _string(event, "id", prefix, required=True),
        "timestamp": parse_timestamp(
            _string(event, "timestamp", prefix, required=True), prefix + "timestamp"
        ),
        "channel": _string(event, "channel", prefix) or DEFAULT_CHANNEL.get(kind.split(".")[0]),
        "direction": _string(event, "direction", prefix) or "inbound",
        "from": _object(event, "from", _FROM_FIELDS, prefix),
        "to": _object(event, "to", _TO_FIELDS, prefix),
        "subject": _string(event, "subject", prefix),
        "text": _string(event, "text", prefix),
        "recording_url": _string(event, "recording_url", prefix),
        "duration": None,
    }
    if not result["channel"]:
        raise EventError("missing_field", "this field is required", prefix + "channel")
    if result["direction"] not in ("inbound", "outbound"):
        raise EventError("invalid_field", "must be 'inbound' or 'outbound'", prefix + "direction")
    duration = event.get("duration")
    if duration is not None:
        if isinstance(duration, bool) or not isinstance(duration, int | float) or duration < 0:
            raise EventError("invalid_field", "must be a non-negative number", prefix + "duration")
        if not math.isfinite(duration) or duration > MAX_DURATION:
            raise EventError(
                "invalid_field", f"must be at most {MAX_DURATION} seconds", prefix + "duration"
            )
        result["duration"] = int(duration)
    url = result["recording_url"]
    if url and not url.startswith(("https://", "http://")):
        raise EventError("invalid_field", "must be an http(s) URL", prefix + "recording_url")
    email = result["from"]["email"]
    if email and ("@" not in email or " " in email):
        raise EventError("invalid_field", "is not an e-mail address", prefix + "from.email")
    return result


def sign(key, timestamp, body):
    """The ``X-Signature`` header value for a body sent at ``timestamp`` (unix seconds).

    >>> sign("k", 1700000000, b"{}")[:15]
    'sha256=c6ef4734'
    """
    message = str(timestamp).encode() + b"." + body
    return "sha256=" + hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def check_signature(key, timestamp, signature, body, now):
    """Raise ``EventError`` (401) unless ``signature`` signs ``body`` within the window."""
    if not timestamp or not signature:
        raise EventError(
            "invalid_signature", "X-Timestamp and X-Signature headers are required", status=401
        )
    try:
        if len(timestamp) > 10:  # no time of ours; a huge one would overflow below
            raise ValueError(timestamp)
        stamp = int(timestamp)
    except ValueError:
        raise EventError(
            "invalid_signature", "X-Timestamp must be unix seconds", status=401
        ) from None
    if abs(now - stamp) > SIGNATURE_WINDOW_SECONDS:
        raise EventError(
            "invalid_signature", "X-Timestamp is outside the 5-minute window", status=401
        )
    # compare_digest refuses non-ASCII str: compare bytes once the header is known ASCII
    if not signature.isascii() or not hmac.compare_digest(
        sign(key, stamp, body).encode(), signature.strip().encode()
    ):
        raise EventError("invalid_signature", "the signature does not match", status=401)


def hash_key(key):
    """Stored form of an API key: keys are 32 random bytes, so one SHA-256 suffices."""
    return hashlib.sha256(key.encode()).hexdigest()
