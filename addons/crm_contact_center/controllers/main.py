import time

from odoo import SUPERUSER_ID, http
from odoo.http import request

from ..lib.events import MAX_BODY_BYTES, EventError, check_signature, parse_request


class InteractionApi(http.Controller):
    """Inbound API for telephony, web and social integrations (see readme/USAGE.md).

    ``auth="none"``: there is no session and no CSRF exposure; each request is
    authenticated by its source's API key (and signature when the source asks
    for it) before anything is read or written.
    """

    @http.route(
        "/crm_contact_center/v1/events",
        type="http",
        auth="none",
        methods=["POST"],
        csrf=False,
        save_session=False,
    )
    def post_events(self, **_params):
        try:
            source = self._authenticate_source()
            events, is_batch = parse_request(self._raw_body())
            results = source._ingest(events)
        except EventError as exc:
            return self._error(exc)
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
            raise EventError(
                "payload_too_large", f"the body exceeds {MAX_BODY_BYTES} bytes", status=413
            )
        mimetype = httprequest.mimetype
        if mimetype not in ("application/json", ""):
            raise EventError("unsupported_media_type", "send Content-Type: application/json")
        # cached: a request retried after a serialization failure reads it again
        return httprequest.get_data(cache=True)

    def _error(self, exc):
        response = request.make_json_response(exc.as_dict(), status=exc.status)
        if exc.status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="crm_contact_center"'
        return response
