from datetime import timedelta

from odoo import api, fields, models

from ..models.crm_retention_backtest import DEFAULT_HOLDOUT_WEEKS


class CrmRetentionBacktestRun(models.TransientModel):
    """ "Run Backtest" on the churn model: the calibration end to split the
    past at (default: 26 weeks ago), then the stored backtest opens."""

    _name = "crm.retention.backtest.run"
    _description = "Run a Churn Model Backtest"

    model_id = fields.Many2one("crm.retention.model", string="Churn Model", required=True)
    calibration_end = fields.Date(
        required=True,
        default=lambda self: fields.Date.context_today(self)
        - timedelta(weeks=DEFAULT_HOLDOUT_WEEKS),
        help="The model is fitted on the deals up to this day, then its predictions are "
        "compared with what customers did since. 26 weeks back suits most businesses; "
        "choose longer when customers buy less than twice a year.",
    )
    holdout_end = fields.Date(
        required=True,
        default=fields.Date.context_today,
        help="The last day of the comparison (today: every purchase known so far).",
    )

    @api.onchange("holdout_end")
    def _onchange_holdout_end(self):
        if self.holdout_end:
            self.calibration_end = self.holdout_end - timedelta(weeks=DEFAULT_HOLDOUT_WEEKS)

    def action_run(self):
        self.ensure_one()
        model = self.model_id
        model.check_access("read")
        # the backtest reads deals in SQL and writes only its own results;
        # action_backtest let only managers open this wizard
        test = model._backtest(self.calibration_end, self.holdout_end)
        return {
            "type": "ir.actions.act_window",
            "res_model": "crm.retention.backtest",
            "res_id": test.id,
            "view_mode": "form",
            "target": "current",
        }
