"""The OpenAPI 3.1 description of the inbound API, served at
``/crm_contact_center/v1/openapi.json``.

No ``odoo`` import. Every request example has a response example of the same
name under the status it answers with: ``tests/test_api_hygiene.py`` posts
each request example to the live server and checks the answer against the
documented one (``id`` and ``request_id`` differ from run to run: only their
type is compared) and against the response schema, so the document cannot
drift from the code.

>>> doc = document("https://odoo.example.com")
>>> doc["openapi"], doc["servers"][0]["url"]
('3.1.0', 'https://odoo.example.com/crm_contact_center/v1')
>>> sorted(doc["paths"])
['/asterisk/ari', '/events', '/openapi.json', '/ping', '/twilio/{source_id}']
"""

import copy

from .events import EVENT_TYPES, MAX_BATCH

# values that change from run to run: an example shows their type only
DYNAMIC_KEYS = ("id", "request_id")
_RID = "4f1c2d9e8a7b4c3d9e0f1a2b3c4d5e6f"


def _ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


def _error(code, message, field=None):
    return {"error": {"code": code, "message": message, "field": field, "request_id": _RID}}


def _json(schema, examples):
    return {"content": {"application/json": {"schema": schema, "examples": examples}}}


_STRING_OBJECT = {"type": "object", "additionalProperties": {"type": "string"}}

SCHEMAS = {
    "Event": {
        "type": "object",
        "required": ["event", "id", "timestamp"],
        "additionalProperties": False,
        "properties": {
            "event": {"enum": list(EVENT_TYPES)},
            "id": {"type": ["string", "integer"], "description": "your event or call id"},
            "timestamp": {"type": "string", "format": "date-time"},
            "channel": {"type": "string", "maxLength": 64},
            "direction": {"enum": ["inbound", "outbound"]},
            "from": {
                "type": "object",
                "additionalProperties": False,
                "properties": {k: {"type": "string"} for k in ("phone", "email", "handle", "name")},
            },
            "to": {
                "type": "object",
                "additionalProperties": False,
                "properties": {k: {"type": "string"} for k in ("extension", "login")},
            },
            "duration": {"type": "number", "minimum": 0, "maximum": 2**31 - 1},
            "subject": {"type": "string", "maxLength": 255},
            "text": {"type": "string", "maxLength": 100000},
            "recording_url": {"type": "string", "format": "uri"},
        },
    },
    "Result": {
        "type": "object",
        "required": ["id", "status", "request_id"],
        "properties": {
            "id": {"type": ["integer", "null"], "description": "the interaction"},
            "status": {"enum": ["created", "updated", "duplicate", "ignored"]},
            "reason": {"type": "string", "description": "why a PBX message was ignored"},
            "request_id": {"type": "string"},
        },
    },
    "Results": {
        "oneOf": [_ref("Result"), {"type": "array", "items": _ref("Result")}],
    },
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message", "field", "request_id"],
                "properties": {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "field": {"type": ["string", "null"]},
                    "request_id": {"type": "string"},
                },
            }
        },
    },
    "AriEvent": {
        "type": "object",
        "required": ["type", "timestamp"],
        "description": "An event of Asterisk's /ari/events WebSocket, as Asterisk sends it.",
        "properties": {"type": {"type": "string"}, "timestamp": {"type": "string"}},
    },
    "TwilioStatusCallback": {
        "type": "object",
        "required": ["CallSid", "CallStatus"],
        "description": "The parameters of a Twilio call status callback.",
        "additionalProperties": {"type": "string"},
        "properties": {
            "CallSid": {"type": "string"},
            "CallStatus": {
                "enum": [
                    "queued",
                    "initiated",
                    "ringing",
                    "in-progress",
                    "completed",
                    "busy",
                    "no-answer",
                    "canceled",
                    "failed",
                ]
            },  # fmt: skip
        },
    },
}

_CALLER = {"phone": "02 555 12 34", "name": "Alice"}
EVENTS_EXAMPLES = {
    "missed_call": (
        {"summary": "A missed call (a new request with a callback)",
         "value": {"event": "call.missed", "id": "pbx-8812",
                   "timestamp": "2026-06-01T09:12:00+02:00", "from": _CALLER}},
        200, {"id": 57, "status": "created", "request_id": _RID},
    ),
    "missed_call_retried": (
        {"summary": "The same event again (a retry after a timeout): nothing changes",
         "value": {"event": "call.missed", "id": "pbx-8812",
                   "timestamp": "2026-06-01T09:12:00+02:00", "from": _CALLER}},
        200, {"id": 57, "status": "duplicate", "request_id": _RID},
    ),
    "answered_call": (
        {"summary": "One call in a batch: rings, answered by agent ext. 201, ended",
         "value": [
             {"event": "call.ringing", "id": "pbx-8813", "timestamp": "2026-06-01T09:20:00Z",
              "from": {"phone": "+3225551234"}, "to": {"extension": "201"}},
             {"event": "call.answered", "id": "pbx-8813", "timestamp": "2026-06-01T09:20:09Z",
              "to": {"extension": "201"}},
             {"event": "call.ended", "id": "pbx-8813", "timestamp": "2026-06-01T09:24:31Z",
              "duration": 262, "recording_url": "https://pbx.example.com/rec/8813.mp3"},
         ]},
        200, [{"id": 58, "status": s, "request_id": _RID}
              for s in ("created", "updated", "updated")],
    ),
    "bad_timestamp": (
        {"summary": "A malformed event: the error names the field",
         "value": {"event": "call.missed", "id": "pbx-8814", "timestamp": "yesterday"}},
        400, _error("invalid_field", "must be an ISO 8601 date and time", "timestamp"),
    ),
    "unknown_field": (
        {"summary": "Unknown fields are refused",
         "value": {"event": "call.missed", "id": "pbx-8815",
                   "timestamp": "2026-06-01T09:30:00Z", "priority": "high"}},
        400, _error("unknown_field", "is not a known field", "priority"),
    ),
}  # fmt: skip

ARI_CHANNEL = {
    "id": "1717232400.1",
    "name": "PJSIP/trunk-00000001",
    "state": "Ring",
    "caller": {"name": "Alice", "number": "3225551234"},
    "connected": {"name": "", "number": ""},
    "accountcode": "",
    "dialplan": {"context": "from-trunk", "exten": "100", "priority": 1,
                 "app_name": "Stasis", "app_data": "contact-center"},
    "creationtime": "2026-06-01T09:00:00.000+0000",
    "language": "en",
}  # fmt: skip
ARI_AGENT = {
    **ARI_CHANNEL,
    "id": "1717232401.2",
    "name": "PJSIP/201-00000002",
    "caller": {"name": "Agent 201", "number": "201"},
    "dialplan": {"context": "agents", "exten": "s", "priority": 1},
}
ARI_EXAMPLES = {
    "stasis_start": (
        {"summary": "A caller enters the Stasis application: the call is logged",
         "value": {"type": "StasisStart", "timestamp": "2026-06-01T09:00:00.120+0000",
                   "args": [], "channel": ARI_CHANNEL, "asterisk_id": "00:11:22:33:44:55",
                   "application": "contact-center"}},
        200, {"id": 59, "status": "created", "request_id": _RID},
    ),
    "dial_answer": (
        {"summary": "Agent 201 answers the dial",
         "value": {"type": "Dial", "timestamp": "2026-06-01T09:00:07.500+0000",
                   "dialstatus": "ANSWER", "dialstring": "PJSIP/201",
                   "caller": {**ARI_CHANNEL, "state": "Up"}, "peer": {**ARI_AGENT, "state": "Up"},
                   "application": "contact-center"}},
        200, {"id": 59, "status": "updated", "request_id": _RID},
    ),
    "channel_destroyed": (
        {"summary": "The caller hangs up",
         "value": {"type": "ChannelDestroyed", "timestamp": "2026-06-01T09:04:12.000+0000",
                   "cause": 16, "cause_txt": "Normal Clearing",
                   "channel": {**ARI_CHANNEL, "state": "Up"}, "application": "contact-center"}},
        200, {"id": 59, "status": "updated", "request_id": _RID},
    ),
    "unknown_channel": (
        {"summary": "A hang-up of a channel never seen: no phantom call is logged",
         "value": {"type": "ChannelDestroyed", "timestamp": "2026-06-01T09:04:13.000+0000",
                   "cause": 16, "cause_txt": "Normal Clearing",
                   "channel": {**ARI_AGENT, "state": "Up"}, "application": "contact-center"}},
        200, {"id": None, "status": "ignored", "reason": "no call of this channel is logged",
              "request_id": _RID},
    ),
}  # fmt: skip

TWILIO_COMMON = {
    "AccountSid": "AC00000000000000000000000000000000",
    "ApiVersion": "2010-04-01",
    "CallSid": "CA00000000000000000000000000000001",
    "Called": "+3225550000",
    "Caller": "+3225551234",
    "CallerName": "Alice",
    "Direction": "inbound",
    "From": "+3225551234",
    "To": "+3225550000",
    "CallbackSource": "call-progress-events",
}
TWILIO_EXAMPLES = {
    "ringing": (
        {"summary": "The call rings",
         "value": {**TWILIO_COMMON, "CallStatus": "ringing", "SequenceNumber": "0",
                   "Timestamp": "Mon, 01 Jun 2026 09:00:00 +0000"}},
        200, {"id": 60, "status": "created", "request_id": _RID},
    ),
    "completed": (
        {"summary": "The call ends after 42 seconds",
         "value": {**TWILIO_COMMON, "CallStatus": "completed", "CallDuration": "42",
                   "SequenceNumber": "1", "Timestamp": "Mon, 01 Jun 2026 09:00:51 +0000"}},
        200, {"id": 60, "status": "updated", "request_id": _RID},
    ),
}  # fmt: skip

# responses documented without a request example: the tests trigger each
ERROR_EXAMPLES = {
    401: {"unauthorized": _error("unauthorized", "unknown or revoked API key")},
    403: {
        "channel_not_allowed": _error(
            "channel_not_allowed", "channel 'sms' is not allowed for this source", "channel"
        )
    },
    415: {
        "unsupported_media_type": _error(
            "unsupported_media_type", "send Content-Type: application/json"
        )
    },
}

SIGNATURE_HEADERS = [
    {
        "name": name,
        "in": "header",
        "required": False,
        "schema": {"type": "string"},
        "description": description,
    }
    for name, description in (
        ("webhook-id", "Standard Webhooks: a unique message id (required when signing)"),
        ("webhook-timestamp", "Standard Webhooks: unix seconds, within 5 minutes of the server"),
        (
            "webhook-signature",
            "Standard Webhooks: `v1,<base64 HMAC-SHA256 of id.timestamp.body>`, several"
            " space-separated signatures allowed; required when the integration signs",
        ),
        ("X-Request-Id", "optional: your id for this request (8-128 of A-Z a-z 0-9 . _ : -)"),
    )
]


def _operation(summary, description, schema, examples, mimetype="application/json", **extra):
    requests = {name: request for name, (request, _s, _b) in examples.items()}
    responses = {}
    for name, (_request, status, body) in examples.items():
        target = responses.setdefault(
            str(status),
            {
                "description": "Accepted" if status == 200 else "Refused",
                **_json(_ref("Results" if status == 200 else "Error"), {}),
            },
        )
        target["content"]["application/json"]["examples"][name] = {"value": body}
    for status, errors in ERROR_EXAMPLES.items():
        target = responses.setdefault(
            str(status), {"description": "Refused", **_json(_ref("Error"), {})}
        )
        target["content"]["application/json"]["examples"].update(
            {name: {"value": body} for name, body in errors.items()}
        )
    return {
        "summary": summary,
        "description": description,
        "requestBody": {
            "required": True,
            "content": {mimetype: {"schema": schema, "examples": requests}},
        },
        "responses": responses,
        **extra,
    }


def document(root_url):
    """The OpenAPI document for a server at ``root_url`` (no trailing slash)."""
    bearer = [{"bearerAuth": []}]
    batch = {
        "oneOf": [_ref("Event"), {"type": "array", "maxItems": MAX_BATCH, "items": _ref("Event")}]
    }
    ari = {
        "oneOf": [
            _ref("AriEvent"),
            {"type": "array", "maxItems": MAX_BATCH, "items": _ref("AriEvent")},
        ]
    }
    twilio_errors = {401: ERROR_EXAMPLES[401]}
    twilio = _operation(
        "Twilio call status callback",
        "Set this URL as the StatusCallback of your Twilio number or calls. Authenticated"
        " by X-Twilio-Signature with the integration's auth token (no Bearer key).",
        _ref("TwilioStatusCallback"),
        TWILIO_EXAMPLES,
        mimetype="application/x-www-form-urlencoded",
        parameters=[
            {"name": "source_id", "in": "path", "required": True, "schema": {"type": "integer"}},
            {
                "name": "X-Twilio-Signature",
                "in": "header",
                "required": True,
                "schema": {"type": "string"},
            },
        ],  # fmt: skip
        security=[],
    )
    for status in ("403", "415"):
        twilio["responses"].pop(status, None)
    twilio["responses"]["401"]["content"]["application/json"]["examples"] = {
        name: {"value": body} for name, body in twilio_errors[401].items()
    }
    return copy.deepcopy(
        {
            "openapi": "3.1.0",
            "info": {
                "title": "CRM Contact Center inbound API",
                "version": "1",
                "description": "Calls, messages and forms from PBXs, web forms and connectors."
                " Every answer is JSON (404 and 405 included) and carries the request id in"
                " its X-Request-Id header and its body. See readme/USAGE.md.",
            },
            "servers": [{"url": root_url + "/crm_contact_center/v1"}],
            "components": {
                "schemas": SCHEMAS,
                "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
            },
            "security": bearer,
            "paths": {
                "/events": {
                    "post": _operation(
                        "Post events",
                        "One event or a list of up to 500 (all or nothing). Idempotent.",
                        batch,
                        EVENTS_EXAMPLES,
                        parameters=SIGNATURE_HEADERS,
                    )
                },
                "/asterisk/ari": {
                    "post": _operation(
                        "Post Asterisk ARI events",
                        "Events of the /ari/events WebSocket, forwarded as they are.",
                        ari,
                        ARI_EXAMPLES,
                        parameters=SIGNATURE_HEADERS,
                    )
                },
                "/twilio/{source_id}": {"post": twilio},
                "/ping": {
                    "get": {
                        "summary": "Check an API key",
                        "responses": {
                            "200": _json(
                                {
                                    "type": "object",
                                    "required": ["ok", "source", "request_id"],
                                    "properties": {
                                        "ok": {"const": True},
                                        "source": {"type": "string"},
                                        "request_id": {"type": "string"},
                                    },
                                },
                                {},
                            )
                            | {"description": "The key is valid"},
                            "401": {
                                "description": "Refused",
                                **_json(
                                    _ref("Error"),
                                    {k: {"value": v} for k, v in ERROR_EXAMPLES[401].items()},
                                ),
                            },
                        },
                    }
                },
                "/openapi.json": {
                    "get": {
                        "summary": "This document",
                        "security": [],
                        "responses": {
                            "200": {
                                "description": "OpenAPI 3.1",
                                "content": {"application/json": {"schema": {"type": "object"}}},
                            }
                        },
                    }
                },
            },
        }
    )


def examples(doc, path, method="post"):
    """``[(name, request example, status, response example)]`` of an
    operation of ``doc``: the pairs the live test replays."""
    operation = doc["paths"][path][method]
    ((_mimetype, body),) = operation["requestBody"]["content"].items()
    pairs = []
    for name, request in body["examples"].items():
        for status, response in operation["responses"].items():
            found = response["content"]["application/json"]["examples"].get(name)
            if found:
                pairs.append((name, request["value"], int(status), found["value"]))
    return pairs


def matches(documented, actual):
    """Whether an answer matches a documented example: equal, except the
    ``DYNAMIC_KEYS`` whose values need only be of the same type.

    >>> matches({"id": 57, "status": "created"}, {"id": 912, "status": "created"})
    True
    >>> matches({"id": None, "status": "ignored"}, {"id": 3, "status": "ignored"})
    False
    """
    if isinstance(documented, dict):
        return (
            isinstance(actual, dict)
            and documented.keys() == actual.keys()
            and all(
                type(value) is type(actual[key])
                if key in DYNAMIC_KEYS
                else matches(value, actual[key])
                for key, value in documented.items()
            )
        )
    if isinstance(documented, list):
        return (
            isinstance(actual, list)
            and len(documented) == len(actual)
            and all(matches(d, a) for d, a in zip(documented, actual, strict=True))
        )
    return documented == actual


def validate(instance, schema, doc, path="$"):
    """Errors of ``instance`` against ``schema`` (the JSON Schema subset this
    document uses: ``$ref``, ``oneOf``, ``type``, ``enum``, ``const``,
    ``required``, ``properties``, ``additionalProperties``, ``items``).

    >>> validate({"id": "x"}, {"type": "object", "properties": {"id": {"type": "integer"}}}, {})
    ['$.id: expected integer']
    """
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        return validate(instance, doc["components"]["schemas"][name], doc, path)
    if "oneOf" in schema:
        passing = [s for s in schema["oneOf"] if not validate(instance, s, doc, path)]
        return [] if len(passing) == 1 else [f"{path}: matches {len(passing)} of oneOf"]
    errors = []
    types = schema.get("type")
    if types:
        kinds = {
            "object": dict, "array": list, "string": str, "null": type(None),
            "integer": int, "number": int | float, "boolean": bool,
        }  # fmt: skip
        names = types if isinstance(types, list) else [types]
        if not any(
            isinstance(instance, kinds[t])
            and not (t in ("integer", "number") and isinstance(instance, bool))
            for t in names
        ):
            return [f"{path}: expected {' or '.join(names)}"]
    if "enum" in schema and instance not in schema["enum"]:
        errors.append(f"{path}: {instance!r} not in {schema['enum']}")
    if "const" in schema and instance != schema["const"]:
        errors.append(f"{path}: expected {schema['const']!r}")
    if isinstance(instance, dict):
        for key in schema.get("required", []):
            if key not in instance:
                errors.append(f"{path}: {key} is required")
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for key, value in instance.items():
            if key in properties:
                errors += validate(value, properties[key], doc, f"{path}.{key}")
            elif extra is False:
                errors.append(f"{path}: {key} is not allowed")
            elif isinstance(extra, dict):
                errors += validate(value, extra, doc, f"{path}.{key}")
    if isinstance(instance, list) and "items" in schema:
        for index, item in enumerate(instance):
            errors += validate(item, schema["items"], doc, f"{path}[{index}]")
    return errors
