import logging

from werkzeug.exceptions import HTTPException, MethodNotAllowed, RequestEntityTooLarge

from odoo import models
from odoo.exceptions import UserError
from odoo.http import request

from ..controllers.main import API_PREFIX, current_request_id, error_response, too_large_error
from ..lib.events import EventError

_logger = logging.getLogger(__name__)


class IrHttp(models.AbstractModel):
    _inherit = "ir.http"

    @classmethod
    def _post_dispatch(cls, response):
        super()._post_dispatch(response)
        if request.httprequest.path.startswith(API_PREFIX):
            response.headers.setdefault("X-Request-Id", current_request_id())

    @classmethod
    def _handle_error(cls, exception):
        """Integrations read JSON: every error under the API prefix answers in the
        API's error format, never with an HTML page or a traceback."""
        if not request.httprequest.path.startswith(API_PREFIX):
            return super()._handle_error(exception)
        # The events route's max_content_length makes werkzeug refuse a large body
        # while Odoo reads the form parameters, before the endpoint runs.
        if isinstance(exception, RequestEntityTooLarge):
            return error_response(too_large_error())
        if isinstance(exception, HTTPException) and exception.code and exception.code < 500:
            headers = None
            if isinstance(exception, MethodNotAllowed) and exception.valid_methods:
                headers = {"Allow": ", ".join(exception.valid_methods)}
            return error_response(
                EventError("http_error", exception.name.lower(), status=exception.code),
                headers=headers,
            )
        if isinstance(exception, UserError):
            # the detail may name records of the database: logged, not returned
            _logger.warning("Inbound API request refused: %s", exception)
            return error_response(
                EventError("unprocessable", "the events could not be applied", status=422)
            )
        request_id = current_request_id()
        _logger.error(
            "Inbound API error, request id %s (%s %s)",
            request_id,
            request.httprequest.method,
            request.httprequest.path,
            exc_info=exception,
        )
        return error_response(
            EventError(
                "internal_error",
                f"unexpected server error; quote request id {request_id} to the administrator",
                status=500,
            ),
        )
