import logging
import random
import re
import time
import uuid

import psycopg2.errors
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from odoo import SUPERUSER_ID, http
from odoo.exceptions import UserError, ValidationError
from odoo.http import request

from ..lib import openapi
from ..lib.events import (
    MAX_BATCH,
    MAX_BODY_BYTES,
    EventError,
    check_signature,
    decode_json,
    parse_event,
    parse_request,
)
from ..lib.pbx import ari_event, twilio_event
from ..lib.signatures import verify_twilio, verify_webhook

_logger = logging.getLogger(__name__)

API_PREFIX = "/crm_contact_center/v1/"
EVENTS_URL = API_PREFIX + "events"
ARI_URL = API_PREFIX + "asterisk/ari"
TWILIO_URL = API_PREFIX + "twilio/<int:source_id>"
OPENAPI_URL = API_PREFIX + "openapi.json"
FORM_MIMETYPE = "application/x-www-form-urlencoded"
# an X-Request-Id a proxy or the client sets is kept when it is this sane
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{8,128}")
# a concurrent request of the same call committed a row this transaction cannot
# see (unique index) or changed one it changes: start a new transaction
INGEST_ATTEMPTS = 4
RACE_ERRORS = (psycopg2.errors.UniqueViolation, psycopg2.errors.SerializationFailure)


def current_request_id():
    """The id of the current request: the caller's ``X-Request-Id`` when it is
    a plain token of 8-128 characters, else a new one. Every answer under the
    API prefix carries it in its ``X-Request-Id`` header and its body, and the
    server log lines about the request quote it."""
    current = getattr(request, "_crm_cc_request_id", None)
    if current is None:
        given = request.httprequest.headers.get("X-Request-Id", "")
        current = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        request._crm_cc_request_id = current
    return current


def json_response(body, status=200, headers=None):
    """A JSON answer of the API: the request id in the body (each item of a
    list) and in the ``X-Request-Id`` header."""
    rid = current_request_id()
    if isinstance(body, dict):
        body = {**body, "request_id": rid}
    elif isinstance(body, list):
        body = [{**item, "request_id": rid} for item in body]
    response = request.make_json_response(body, status=status, headers=headers)
    response.headers["X-Request-Id"] = rid
    return response


def error_response(exc, headers=None):
    """The JSON response of an ``EventError`` (``error.request_id`` included)."""
    body = exc.as_dict()
    body["error"]["request_id"] = current_request_id()
    response = request.make_json_response(body, status=exc.status, headers=headers)
    response.headers["X-Request-Id"] = body["error"]["request_id"]
    if exc.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="crm_contact_center"'
    return response


def endpoint_path(fmt, source_id):
    """The path an integration of format ``fmt`` posts to."""
    if fmt == "twilio":
        return TWILIO_URL.replace("<int:source_id>", str(source_id))
    return ARI_URL if fmt == "asterisk_ari" else EVENTS_URL


def too_large_error():
    return EventError("payload_too_large", f"the body exceeds {MAX_BODY_BYTES} bytes", status=413)


def ingest_route(path):
    """The route of an endpoint integrations post events to: no session, no
    CSRF (each request is authenticated by its source), the body size capped,
    and a read/write cursor at once (``auth="none"`` routes default to a
    read-only one first: every event would run twice, a failed read-only try,
    then read/write)."""
    return http.route(
        path,
        type="http",
        auth="none",
        methods=["POST"],
        csrf=False,
        save_session=False,
        readonly=False,
        max_content_length=MAX_BODY_BYTES,
    )


class InteractionApi(http.Controller):
    """Inbound API for telephony, web and social integrations (see readme/USAGE.md).

    ``auth="none"``: there is no session and no CSRF exposure; each request is
    authenticated by its source's API key (and signature when the source asks
    for it) before anything is read or written.
    """

    @ingest_route(EVENTS_URL)
    def post_events(self, **_params):
        # A batch refused half-way writes nothing: the error paths roll the whole
        # transaction back (only the key lookup ran before), which costs no
        # savepoint round trips on the success path.
        source = None
        try:
            source = self._authenticate_source(fmt="json")
            events, is_batch = parse_request(self._raw_body())
            results = self._ingest_retrying(source, events)
        except (EventError, UserError, ValidationError) as exc:
            return self._refused(source, exc)
        return json_response(results if is_batch else results[0])

    @ingest_route(ARI_URL)
    def post_asterisk_ari(self, **_params):
        """Asterisk ARI events as the ``/ari/events`` WebSocket delivers them (one
        object or a list), forwarded by the Stasis application or a relay; same
        authentication as ``/events``. Answers one result per ARI event."""
        source = None
        try:
            source = self._authenticate_source(fmt="asterisk_ari")
            data = decode_json(self._raw_body())
            is_batch = isinstance(data, list)
            messages = data if is_batch else [data]
            if not messages or len(messages) > MAX_BATCH:
                raise EventError("invalid_body", f"send 1 to {MAX_BATCH} ARI events")
            channel = source._adapter_channel()
            mapped = []
            for index, message in enumerate(messages):
                try:
                    mapped.append(ari_event(message, channel))
                except EventError as exc:
                    exc.field = f"[{index}].{exc.field}" if is_batch else exc.field
                    raise
            results = self._ingest_mapped(source, mapped, is_batch)
        except (EventError, UserError, ValidationError) as exc:
            return self._refused(source, exc)
        return json_response(results if is_batch else results[0])

    @ingest_route(TWILIO_URL)
    def post_twilio(self, source_id, **_params):
        """A Twilio call status callback (form-encoded), authenticated by its
        ``X-Twilio-Signature`` with the integration's auth token: Twilio cannot
        send a Bearer key, so the integration is named in the URL."""
        source = None
        try:
            httprequest = request.httprequest
            if httprequest.mimetype != FORM_MIMETYPE:
                raise EventError(
                    "unsupported_media_type", f"send Content-Type: {FORM_MIMETYPE}", status=415
                )
            # Safe as superuser: only the source's format, state and (below) its
            # valid tokens are read, and nothing is written before the signature
            # proved the request comes from the token's owner.
            source = (
                request.env(user=SUPERUSER_ID)["crm.interaction.source"].browse(source_id).exists()
            )
            # One answer for an unknown, archived or non-Twilio integration and a
            # bad signature: the URL's id tells a prober nothing.
            if not source or not source.active or source.format != "twilio":
                raise EventError("invalid_signature", "the signature does not match", status=401)
            form = httprequest.form
            params = {name: form.getlist(name) for name in form}
            # The URL Twilio signed is the one configured on its side: the
            # server's public address (web.base.url), never the request's Host
            # header, which the sender chooses.
            root = source.env["ir.config_parameter"].get_param("web.base.url", "").rstrip("/")
            query = httprequest.query_string.decode("latin-1")
            verify_twilio(
                source._valid_secrets("twilio"),
                [root + httprequest.path + ("?" + query if query else "")],
                params,
                httprequest.headers.get("X-Twilio-Signature"),
            )
            source = source.with_company(source.company_id)
            mapped = twilio_event(
                {name: values[0] for name, values in params.items()}, source._adapter_channel()
            )
            results = self._ingest_mapped(source, [mapped], False)
        except (EventError, UserError, ValidationError) as exc:
            return self._refused(source, exc)
        return json_response(results[0])

    @http.route(
        OPENAPI_URL,
        type="http",
        auth="none",
        methods=["GET"],
        save_session=False,
        readonly=True,
    )
    def openapi_document(self, **_params):
        """The OpenAPI 3.1 description of this API (public: it holds no data)."""
        return json_response_raw(openapi.document(request.httprequest.url_root.rstrip("/")))

    @http.route(
        "/crm_contact_center/v1/ping",
        type="http",
        auth="none",
        methods=["GET", "POST"],
        csrf=False,
        save_session=False,
        readonly=True,
    )
    def ping(self, **_params):
        """A trivial authenticated route: lets an integration check its key (and
        gives the benchmark its baseline)."""
        try:
            source = self._authenticate_source(signed=False)
        except EventError as exc:
            return self._error(exc)
        return json_response({"ok": True, "source": source.name})

    @http.route(
        API_PREFIX + "<path:subpath>",
        type="http",
        auth="none",
        csrf=False,
        save_session=False,
        readonly=True,
    )
    def no_such_route(self, subpath, **_params):
        """Every other path under the prefix: 405 (with ``Allow``) when the path
        exists for other methods, else 404, in JSON. (Werkzeug raises a
        method mismatch before any Odoo error handler could answer in JSON.)"""
        adapter = request.env["ir.http"].routing_map().bind_to_environ(request.httprequest.environ)
        allowed = []
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            try:
                rule, _args = adapter.match(method=method, return_rule=True)
            except HTTPException:
                continue
            if not rule.rule.endswith("<path:subpath>"):
                allowed.append(method)
        if allowed:
            return error_response(
                EventError("http_error", "method not allowed", status=405),
                headers={"Allow": ", ".join(allowed)},
            )
        return error_response(EventError("http_error", "not found", status=404))

    # helpers

    def _refused(self, source, exc):
        """The answer to a request refused half-way: nothing it wrote is kept."""
        request.env.cr.rollback()
        if isinstance(exc, EventError):
            if exc.status == 409:
                return error_response(exc, headers={"Retry-After": "1"})
            return self._error(exc)
        # the detail may name records of the database: logged, not returned
        _logger.warning(
            "Inbound events of source %s refused (request %s): %s",
            source.id if source else None,
            current_request_id(),
            exc,
        )
        return self._error(
            EventError("unprocessable", "the events could not be applied", status=422)
        )

    def _ingest_mapped(self, source, mapped, is_batch):
        """Ingest the events a PBX adapter mapped (``lib.pbx.Mapped``): validated
        as JSON events are, the update-only ones dropped when their call is not
        logged (nor created earlier in the same request). One result per
        vendor message: ``ignored`` (with a ``reason``) or the ingestion's."""
        results = [None] * len(mapped)
        kept = []  # (position, event)
        for index, item in enumerate(mapped):
            if item.event is None:
                results[index] = {"id": None, "status": "ignored", "reason": item.reason}
                continue
            kept.append((index, parse_event(item.event, prefix=f"[{index}]." if is_batch else "")))
        wanted = {
            call_id
            for index, _event in kept
            if mapped[index].update_only
            for call_id in (_event["id"], mapped[index].fallback_id)
            if call_id
        }
        known = set()
        if wanted:
            known = set(
                source.env["crm.interaction"]
                .sudo()
                .search_fetch(
                    [("source_key", "=", f"api:{source.id}"), ("external_id", "in", list(wanted))],
                    ["external_id"],
                )
                .mapped("external_id")
            )
        events, positions = [], []
        for index, event in kept:
            item = mapped[index]
            if item.update_only and event["id"] not in known:
                if item.fallback_id and item.fallback_id in known:
                    event = {**event, "id": item.fallback_id, "to": dict.fromkeys(event["to"])}
                else:
                    results[index] = {
                        "id": None,
                        "status": "ignored",
                        "reason": "no call of this channel is logged",
                    }
                    continue
            known.add(event["id"])
            events.append(event)
            positions.append(index)
        if events:
            for index, result in zip(positions, self._ingest_retrying(source, events), strict=True):
                results[index] = result
        return results

    def _ingest_retrying(self, source, events):
        """``source._ingest(events)``, run again in a new transaction when it lost
        a race against a concurrent request of the same call (the other request's
        row is invisible to this transaction's snapshot: only a new transaction
        sees it). Odoo's own retry would answer a unique violation with 400."""
        cr = request.env.cr
        message_id = getattr(request, "_crm_cc_webhook_id", None)
        for attempt in range(1, INGEST_ATTEMPTS + 1):
            try:
                # in the same transaction as the events (and again after a retry's
                # rollback): a refused request leaves no id behind
                if message_id and not source.env["crm.interaction.source.message"]._claim(
                    source.id, message_id
                ):
                    _logger.info(
                        "Source %s: webhook-id %r received again (request %s): not applied",
                        source.id,
                        message_id,
                        current_request_id(),
                    )
                    return [{"id": event["id"], "status": "duplicate"} for event in events]
                results = source._ingest(events, retried=True)
                source.env.flush_all()  # surface the constraint errors here
                return results
            except RACE_ERRORS as exc:
                cr.rollback()
                request.env.reset()
                if attempt == INGEST_ATTEMPTS:
                    _logger.info(
                        "Inbound events of source %s: race lost %s times", source.id, attempt
                    )
                    raise EventError(
                        "conflict",
                        "a concurrent request changed the same call; retry shortly",
                        status=409,
                    ) from exc
                time.sleep(random.uniform(0, 0.05 * attempt))  # let the other one commit
        return []  # unreachable

    def _authenticate_source(self, signed=True, fmt=None):
        """The source of the request's Bearer key, its signature checked when it
        requires one: Standard Webhooks headers with its signing secrets, or
        (integrations set up before signing secrets, until one is generated)
        ``X-Signature`` with the key. ``fmt``: the format the route accepts."""
        header = request.httprequest.headers.get("Authorization", "")
        scheme, _sep, key = header.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise EventError("unauthorized", "missing Authorization: Bearer <key>", status=401)
        # Safe as superuser: the lookup only compares the SHA-256 of the presented key
        # with the stored hashes; nothing else is read before the key is recognised.
        env = request.env(user=SUPERUSER_ID)
        source = env["crm.interaction.source"]._authenticate(key.strip())
        if not source:
            raise EventError("unauthorized", "unknown or revoked API key", status=401)
        if fmt and source.format != fmt:
            raise EventError(
                "wrong_format",
                f"this integration posts {dict(source._fields['format'].selection)[source.format]}"
                f" to {endpoint_path(source.format, source.id)}",
                status=403,
            )
        if signed and source.require_signature:
            headers = request.httprequest.headers
            secrets = source._valid_secrets("webhook")
            if headers.get("webhook-signature") or secrets:
                request._crm_cc_webhook_id = verify_webhook(
                    secrets, headers.get, self._raw_body(), time.time()
                )
            else:
                check_signature(
                    key.strip(),
                    headers.get("X-Timestamp"),
                    headers.get("X-Signature"),
                    self._raw_body(),
                    time.time(),
                )
        # From here the source is authenticated: its events are written as superuser
        # within the source's company (records carry source_id for audit).
        return source.with_company(source.company_id)

    def _raw_body(self):
        httprequest = request.httprequest
        if (httprequest.content_length or 0) > MAX_BODY_BYTES:
            raise too_large_error()
        mimetype = httprequest.mimetype
        if mimetype not in ("application/json", ""):
            raise EventError(
                "unsupported_media_type", "send Content-Type: application/json", status=415
            )
        wrapped = httprequest._HTTPRequest__wrapped
        if getattr(wrapped, "_cached_data", None) is None:
            # A chunked body has no Content-Length, and werkzeug < 2.3 applies
            # max_content_length to neither: read at most one byte past the limit.
            try:
                body = wrapped.stream.read(MAX_BODY_BYTES + 1)
            except RequestEntityTooLarge:
                body = None
            if body is None or len(body) > MAX_BODY_BYTES:
                raise too_large_error()
            wrapped._cached_data = body
        # cached: a request retried after a serialization failure reads it again
        return httprequest.get_data(cache=True)

    def _error(self, exc):
        return error_response(exc)


def json_response_raw(body):
    """A JSON document served as is (no request id in it), with the header."""
    response = request.make_json_response(body)
    response.headers["X-Request-Id"] = current_request_id()
    return response
