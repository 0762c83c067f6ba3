"""PBX payloads turned into the suite's call events (``lib.events``).

No ``odoo`` import. Each adapter returns, per vendor message, a ``Mapped``:
the suite event (a dict ``parse_event`` then validates, as for the JSON API)
or ``None`` with the reason it is ignored, and whether the event may only
*update* a call already logged (``update_only``: a hang-up of a channel the
suite never saw start must not log a phantom missed call).

Twilio status callbacks (form parameters of
https://www.twilio.com/docs/voice/api/call-resource#statuscallback)::

    >>> m = twilio_event({"CallSid": "CA42", "CallStatus": "no-answer", "Direction": "inbound",
    ...                   "From": "+3225551234", "To": "+3225550000",
    ...                   "Timestamp": "Mon, 01 Jun 2026 09:00:30 +0000"}, "phone")
    >>> m.event["event"], m.event["id"], m.event["from"], m.event["timestamp"]
    ('call.missed', 'CA42', {'phone': '+3225551234'}, '2026-06-01T09:00:30+00:00')

Asterisk ARI events (https://docs.asterisk.org/Latest_API/API_Documentation/
Asterisk_REST_Interface/Asterisk_REST_Data_Models/)::

    >>> m = ari_event({"type": "ChannelDestroyed", "timestamp": "2026-06-01T09:05:00.000+0000",
    ...                "cause": 16, "cause_txt": "Normal Clearing",
    ...                "channel": {"id": "1717232400.1", "name": "PJSIP/trunk-00000001",
    ...                            "state": "Up", "creationtime": "2026-06-01T09:00:00.000+0000"}},
    ...               "ip_phone")
    >>> m.event["event"], m.event["duration"], m.update_only
    ('call.ended', 300, True)
"""

import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import NamedTuple

from .events import EventError


class Mapped(NamedTuple):
    event: dict | None
    update_only: bool = False
    reason: str | None = None
    # an update-only event whose call is unknown applies to this call instead
    fallback_id: str | None = None


def ignored(reason):
    return Mapped(None, False, reason)


def channel_endpoint(name):
    """The extension in an Asterisk channel name, or None.

    >>> channel_endpoint("PJSIP/201-0000000a"), channel_endpoint("Local/305@agents-00000002;1")
    ('201', '305')
    >>> channel_endpoint("PJSIP/trunk-provider-00000003")
    'trunk-provider'
    """
    if not name or "/" not in name:
        return None
    resource = name.split("/", 1)[1].split(";", 1)[0]
    resource = re.sub(r"-[0-9a-f]{8}$", "", resource)
    return resource.split("@", 1)[0] or None


# ---------------------------------------------------------------------------
# Twilio
# ---------------------------------------------------------------------------

TWILIO_STATUS = {
    "queued": "call.started",
    "initiated": "call.started",
    "ringing": "call.ringing",
    "in-progress": "call.answered",
    "completed": "call.ended",
    "busy": "call.missed",
    "no-answer": "call.missed",
    "canceled": "call.missed",
    "failed": "call.missed",
}
# the leg <Dial> places to an agent: it tells who picks up, not how the call ends
_TWILIO_AGENT_LEG = {"ringing": "call.ringing", "in-progress": "call.answered"}


def _twilio_agent(to):
    """``{"login": ...}`` for ``client:<identity>`` (the Odoo login as Twilio
    Client identity), ``{"extension": ...}`` for ``sip:<ext>@host``."""
    if not to:
        return {}
    if to.startswith("client:"):
        return {"login": to[len("client:") :]}
    if to.startswith("sip:"):
        return {"extension": to[len("sip:") :].split("@", 1)[0]}
    return {}


def _twilio_timestamp(value):
    if not value:
        return datetime.now(UTC).replace(microsecond=0).isoformat()
    try:
        stamp = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        raise EventError("invalid_field", "must be an RFC 2822 date", "Timestamp") from None
    return (stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).isoformat()


def twilio_event(params, channel):
    """The suite event of one Twilio status callback (``params``: the form
    fields, one value each). The call is ``CallSid``; the leg ``<Dial>`` rings
    an agent on (``Direction=outbound-dial`` with a ``ParentCallSid``) belongs
    to the caller's call and says which agent rang and answered."""
    sid, status = params.get("CallSid"), params.get("CallStatus")
    if not sid:
        raise EventError("missing_field", "this field is required", "CallSid")
    if status not in TWILIO_STATUS:
        raise EventError(
            "invalid_field", f"unknown call status, expected one of {', '.join(TWILIO_STATUS)}",
            "CallStatus",
        )  # fmt: skip
    direction = params.get("Direction") or "inbound"
    parent = params.get("ParentCallSid")
    event = {"id": sid, "timestamp": _twilio_timestamp(params.get("Timestamp")), "channel": channel}
    if parent and direction == "outbound-dial":
        if status not in _TWILIO_AGENT_LEG:
            return ignored("an agent's leg ended; the caller's call reports the outcome")
        event.update(
            event=_TWILIO_AGENT_LEG[status],
            id=parent,
            to=_twilio_agent(params.get("To")),
            **{"from": {"phone": params.get("From")} if params.get("From") else {}},
        )
        return Mapped(event)
    inbound = direction == "inbound"
    customer = params.get("From") if inbound else params.get("To")
    sender = {"phone": customer} if customer else {}
    if inbound and params.get("CallerName"):
        sender["name"] = params["CallerName"]
    event.update(
        event=TWILIO_STATUS[status],
        direction="inbound" if inbound else "outbound",
        **{"from": sender},
    )
    if not inbound:
        event["to"] = _twilio_agent(params.get("From"))
    if status == "completed" and (params.get("CallDuration") or "").isdigit():
        event["duration"] = int(params["CallDuration"])
    if (params.get("RecordingUrl") or "").startswith("https://"):
        event["recording_url"] = params["RecordingUrl"]
    return Mapped(event)


# ---------------------------------------------------------------------------
# Asterisk ARI
# ---------------------------------------------------------------------------

# the first application argument Asterisk's ARI examples give the channels
# an application dials itself (agents): they are legs, not customer calls
ARI_DIALED_ARG = "dialed"
ARI_RINGING_DIALSTATUS = ("", "RINGING", "PROGRESS")


def _ari_channel(message, key="channel"):
    channel = message.get(key)
    if not isinstance(channel, dict) or not isinstance(channel.get("id"), str):
        raise EventError("missing_field", "must be a channel object with an id", f"{key}.id")
    return channel


def _ari_seconds(start, end):
    try:
        delta = datetime.fromisoformat(end) - datetime.fromisoformat(start)
    except (TypeError, ValueError):
        return None
    return max(0, round(delta.total_seconds()))


def ari_event(message, channel):
    """The suite event of one ARI event (a JSON object with a ``type``):

    ========================  ==========================================================
    StasisStart               ``call.started`` of the channel (unless its first argument
                              is ``dialed``: a leg the application placed to an agent)
    ChannelStateChange        ``Ring``/``Ringing`` → ``call.ringing`` (update only)
    Dial                      to the caller's call: dial status ``""``/``RINGING`` →
                              ``call.ringing``, ``ANSWER`` → ``call.answered`` (the
                              agent's extension from the peer channel; update only)
    ChannelEnteredBridge      a second channel joins a mixing bridge: ``call.answered``
                              of the other channel, or of the joining one when the
                              other is the agent's (update only)
    ChannelDestroyed          ``call.ended`` with the channel's lifetime (update only)
    anything else             ignored
    ========================  ==========================================================
    """
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise EventError("missing_field", "an ARI event is an object with a type", "type")
    kind = message["type"]
    stamp = message.get("timestamp")
    if not isinstance(stamp, str):
        raise EventError("missing_field", "this field is required", "timestamp")
    base = {"timestamp": stamp, "channel": channel}
    if kind == "StasisStart":
        chan = _ari_channel(message)
        args = message.get("args") or []
        if args and args[0] == ARI_DIALED_ARG:
            return ignored("a channel the application dialed (an agent's leg)")
        caller = chan.get("caller") or {}
        sender = {k: caller[k] for k in ("number", "name") if caller.get(k)}
        extension = (chan.get("dialplan") or {}).get("exten")
        return Mapped(
            {
                **base,
                "event": "call.started",
                "id": chan["id"],
                "from": {"phone" if k == "number" else k: v for k, v in sender.items()},
                "to": {"extension": extension} if extension else {},
            }
        )
    if kind == "ChannelStateChange":
        chan = _ari_channel(message)
        if chan.get("state") in ("Ring", "Ringing"):
            return Mapped({**base, "event": "call.ringing", "id": chan["id"]}, True)
        return ignored(f"channel state {chan.get('state')!r} says nothing about the call")
    if kind == "Dial":
        if not isinstance(message.get("caller"), dict):
            return ignored("a dial without a calling channel")
        caller, peer = _ari_channel(message, "caller"), _ari_channel(message, "peer")
        status = message.get("dialstatus") or ""
        extension = channel_endpoint(peer.get("name"))
        to = {"extension": extension} if extension else {}
        if status in ARI_RINGING_DIALSTATUS:
            return Mapped({**base, "event": "call.ringing", "id": caller["id"], "to": to}, True)
        if status == "ANSWER":
            return Mapped({**base, "event": "call.answered", "id": caller["id"], "to": to}, True)
        return ignored(f"dial status {status}: the call goes on (another agent may be tried)")
    if kind == "ChannelEnteredBridge":
        bridge = message.get("bridge") or {}
        joined = _ari_channel(message)
        others = [c for c in bridge.get("channels") or [] if c != joined["id"]]
        if bridge.get("bridge_type", "mixing") != "mixing" or len(others) != 1:
            return ignored("not a two-party conversation")
        extension = channel_endpoint(joined.get("name"))
        return Mapped(
            {
                **base,
                "event": "call.answered",
                "id": others[0],
                "to": {"extension": extension} if extension else {},
            },
            True,
            # the caller may be the one joining the agent's bridge
            fallback_id=joined["id"],
        )
    if kind == "ChannelDestroyed":
        chan = _ari_channel(message)
        event = {**base, "event": "call.ended", "id": chan["id"]}
        seconds = _ari_seconds(chan.get("creationtime"), stamp)
        if seconds is not None:
            event["duration"] = seconds
        return Mapped(event, True)
    return ignored(f"{kind} events are not used")
