from werkzeug.exceptions import RequestEntityTooLarge

from odoo import models
from odoo.http import request

from ..controllers.main import EVENTS_URL, error_response, too_large_error


class IrHttp(models.AbstractModel):
    _inherit = "ir.http"

    @classmethod
    def _handle_error(cls, exception):
        # The events route's max_content_length makes werkzeug refuse a large body
        # while Odoo reads the form parameters, before the endpoint runs: answer in
        # the API's JSON error format, not with werkzeug's HTML page.
        if isinstance(exception, RequestEntityTooLarge) and request.httprequest.path == EVENTS_URL:
            return error_response(too_large_error())
        return super()._handle_error(exception)
