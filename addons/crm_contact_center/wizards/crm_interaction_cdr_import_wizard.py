import base64
import binascii
import logging

from odoo import api, fields, models
from odoo.addons.base.models.res_partner import _tz_get
from odoo.exceptions import UserError, ValidationError

from ..lib.cdr import MAX_FILE_BYTES, parse_cdr
from ..lib.events import EventError

_logger = logging.getLogger(__name__)

# records ingested per call of ``_ingest`` (two events each at most: the API's batch limit)
CHUNK = 250


class CrmInteractionCdrImportWizard(models.TransientModel):
    """Import call detail records exported by a PBX that has no live
    integration (CSV or JSON, see ``lib/cdr.py`` for the columns).

    The records go through the inbound API's ingestion as events of the
    chosen integration: matched to contacts and leads in a few queries per
    batch, idempotent by call id (importing the same file again changes
    nothing, and a call the PBX also reported live is completed, not
    duplicated). Malformed and duplicate lines are skipped and listed with
    their line numbers; the good ones are imported.
    """

    _name = "crm.interaction.cdr.import.wizard"
    _description = "Import Call Detail Records"

    source_id = fields.Many2one(
        "crm.interaction.source",
        string="Integration",
        required=True,
        domain="[('company_id', 'in', allowed_company_ids)]",
        help="The calls are logged as this integration's: a call id it already"
        " reported is updated, not logged twice.",
    )
    # required in the form only: the upload is dropped once imported
    file = fields.Binary(string="CDR File", attachment=False)
    filename = fields.Char()
    tz = fields.Selection(
        _tz_get,
        string="Time Zone of the File",
        default=lambda self: self.env.user.tz or "UTC",
        required=True,
        help="Dates without a UTC offset in the file are in this time zone (Asterisk"
        " writes the PBX's local time).",
    )
    as_history = fields.Boolean(
        string="Past Calls (History)",
        help="Log the calls as done: no routing to agents and no callbacks for the"
        " missed ones. Leave unticked for recent calls that still need a callback.",
    )
    state = fields.Selection([("draft", "Draft"), ("done", "Done")], default="draft")
    count_created = fields.Integer(string="Calls Logged", readonly=True)
    count_updated = fields.Integer(string="Calls Completed", readonly=True)
    count_duplicate = fields.Integer(string="Already Imported", readonly=True)
    count_error = fields.Integer(string="Lines Refused", readonly=True)
    error_report = fields.Text(string="Refused Lines", readonly=True)

    @api.model
    def default_get(self, fields_list):
        values = super().default_get(fields_list)
        if "source_id" in fields_list and not values.get("source_id"):
            sources = self.env["crm.interaction.source"].search(
                [("company_id", "in", self.env.companies.ids)], limit=2
            )
            if len(sources) == 1:
                values["source_id"] = sources.id
        return values

    def action_import(self):
        self.ensure_one()
        source = self.source_id
        source.check_access("write")  # supervisors of the integration's company
        if not self.file:
            raise UserError(self.env._("Choose the file of call records to import."))
        if len(self.file) * 3 // 4 > MAX_FILE_BYTES + 3:  # before decoding it in memory
            raise UserError(
                self.env._(
                    "The file is larger than %(size)s MB: split it, a month of calls per file.",
                    size=MAX_FILE_BYTES // (1024 * 1024),
                )
            )
        try:
            data = base64.b64decode(self.file or b"", validate=True)
        except (binascii.Error, ValueError):
            raise UserError(self.env._("The file could not be read.")) from None
        try:
            parsed = parse_cdr(data, self.filename or "", source._adapter_channel(), self.tz)
        except EventError as exc:
            raise UserError(
                self.env._("This file cannot be imported: %(reason)s", reason=exc.message)
            ) from None
        # As superuser, as the inbound API: the user may write the integration,
        # and the calls are logged in its company with source_id for audit.
        # Past calls from a file ring nobody's phone: no screen pop.
        ingest_source = (
            source.sudo()
            .with_company(source.company_id)
            .with_context(crm_contact_center_screen_pop=False)
        )
        if self.as_history:
            ingest_source = ingest_source.with_context(crm_interaction_backfill=True)
        errors = list(parsed.errors)
        counts = {"created": 0, "updated": 0, "duplicate": 0}
        for start in range(0, len(parsed.records), CHUNK):
            chunk = parsed.records[start : start + CHUNK]
            events = [event for record in chunk for event in record.events]
            try:
                with self.env.cr.savepoint():
                    results = ingest_source._ingest(events)
                    ingest_source.env.flush_all()
            except EventError as exc:  # the channel is not allowed: no line can land
                raise UserError(
                    self.env._(
                        "The integration refuses these calls: %(reason)s", reason=exc.message
                    )
                ) from None
            except (UserError, ValidationError) as exc:
                _logger.warning("CDR import into source %s: a batch failed: %s", source.id, exc)
                errors += [(r.line, self.env._("could not be applied")) for r in chunk]
                continue
            position = 0
            for record in chunk:
                statuses = [r["status"] for r in results[position : position + len(record.events)]]
                position += len(record.events)
                if statuses[0] == "created":
                    counts["created"] += 1
                elif all(status == "duplicate" for status in statuses):
                    counts["duplicate"] += 1
                else:
                    counts["updated"] += 1
        unit = self.env._("Line") if parsed.unit == "line" else self.env._("Record")
        self.write(
            {
                "state": "done",
                "count_created": counts["created"],
                "count_updated": counts["updated"],
                "count_duplicate": counts["duplicate"],
                "count_error": len(errors),
                "error_report": "\n".join(
                    f"{unit} {line}: {message}" for line, message in sorted(errors)
                ),
                "file": False,
            }
        )
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "new",
            "name": self.env._("Import Call Detail Records"),
        }

    def action_view_calls(self):
        return self.source_id.action_view_interactions()
