import logging
import random
import time

import psycopg2.errors
from werkzeug.exceptions import RequestEntityTooLarge

from odoo import SUPERUSER_ID, http
from odoo.exceptions import UserError, ValidationError
from odoo.http import request

from ..lib.events import MAX_BODY_BYTES, EventError, check_signature, parse_request

_logger = logging.getLogger(__name__)

API_PREFIX = "/crm_contact_center/v1/"
EVENTS_URL = API_PREFIX + "events"
# a concurrent request of the same call committed a row this transaction cannot
# see (unique index) or changed one it changes: start a new transaction
INGEST_ATTEMPTS = 4
RACE_ERRORS = (psycopg2.errors.UniqueViolation, psycopg2.errors.SerializationFailure)


def error_response(exc, request_id=None, headers=None):
    """The JSON response of an ``EventError``."""
    body = exc.as_dict()
    if request_id:
        body["error"]["request_id"] = request_id
    response = request.make_json_response(body, status=exc.status, headers=headers)
    if exc.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="crm_contact_center"'
    return response


def too_large_error():
    return EventError("payload_too_large", f"the body exceeds {MAX_BODY_BYTES} bytes", status=413)


class InteractionApi(http.Controller):
    """Inbound API for telephony, web and social integrations (see readme/USAGE.md).

    ``auth="none"``: there is no session and no CSRF exposure; each request is
    authenticated by its source's API key (and signature when the source asks
    for it) before anything is read or written.
    """

    @http.route(
        EVENTS_URL,
        type="http",
        auth="none",
        methods=["POST"],
        csrf=False,
        save_session=False,
        # auth="none" routes default to a read-only cursor first: every event
        # would run twice (a failed read-only try, then read/write)
        readonly=False,
        max_content_length=MAX_BODY_BYTES,
    )
    def post_events(self, **_params):
        # A batch refused half-way writes nothing: the error paths roll the whole
        # transaction back (only the key lookup ran before), which costs no
        # savepoint round trips on the success path.
        try:
            source = self._authenticate_source()
            events, is_batch = parse_request(self._raw_body())
            results = self._ingest_retrying(source, events)
        except EventError as exc:
            request.env.cr.rollback()
            if exc.status == 409:
                return error_response(exc, headers={"Retry-After": "1"})
            return self._error(exc)
        except (UserError, ValidationError) as exc:
            request.env.cr.rollback()
            # the detail may name records of the database: logged, not returned
            _logger.warning("Inbound events of source %s refused: %s", source.id, exc)
            return self._error(
                EventError("unprocessable", "the events could not be applied", status=422)
            )
        return request.make_json_response(results if is_batch else results[0])

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
        return request.make_json_response({"ok": True, "source": source.name})

    # helpers

    def _ingest_retrying(self, source, events):
        """``source._ingest(events)``, run again in a new transaction when it lost
        a race against a concurrent request of the same call (the other request's
        row is invisible to this transaction's snapshot: only a new transaction
        sees it). Odoo's own retry would answer a unique violation with 400."""
        cr = request.env.cr
        for attempt in range(1, INGEST_ATTEMPTS + 1):
            try:
                results = source._ingest(events)
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

    def _authenticate_source(self, signed=True):
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
        if signed and source.require_signature:
            headers = request.httprequest.headers
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
            raise EventError("unsupported_media_type", "send Content-Type: application/json")
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
