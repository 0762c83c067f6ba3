from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ..lib import lifecycle

# the lifecycle settings the form shows
FORM_SETTINGS = tuple(
    key for key in lifecycle.COMPANY_SETTINGS if key not in lifecycle.COMPANY_ONLY_SETTINGS
)


class ResConfigSettings(models.TransientModel):
    """Thresholds of the default stage rules and of the churn model fit, of
    the current company (``res.company.retention_*``: each company its own;
    defaults in ``lib.lifecycle.DEFAULTS``, ranges in ``lib.lifecycle.BOUNDS``
    checked by the company's constraint at save)."""

    _inherit = "res.config.settings"

    retention_at_risk_probability = fields.Float(
        related="company_id.retention_at_risk_probability", readonly=False
    )
    retention_lost_probability = fields.Float(
        related="company_id.retention_lost_probability", readonly=False
    )
    retention_at_risk_overdue_ratio = fields.Float(
        related="company_id.retention_at_risk_overdue_ratio", readonly=False
    )
    retention_lost_overdue_ratio = fields.Float(
        related="company_id.retention_lost_overdue_ratio", readonly=False
    )
    retention_lost_after_days = fields.Integer(
        related="company_id.retention_lost_after_days", readonly=False
    )
    retention_min_repeat_customers = fields.Integer(
        related="company_id.retention_min_repeat_customers", readonly=False
    )
    retention_monthly_discount_rate = fields.Float(
        related="company_id.retention_monthly_discount_rate", readonly=False
    )

    retention_count_opportunities = fields.Boolean(
        related="company_id.retention_count_opportunities", readonly=False
    )
    retention_rebuild_history = fields.Boolean(
        related="company_id.retention_rebuild_history", readonly=False
    )
    retention_backtest_uplift_pp = fields.Float(
        related="company_id.retention_backtest_uplift_pp", readonly=False
    )
    # its own currency field: res.config.settings has no currency_id without
    # Invoicing, and crm_retention installs without it
    retention_currency_id = fields.Many2one(
        related="company_id.currency_id", string="Retention Currency"
    )
    retention_backtest_contact_cost = fields.Monetary(
        related="company_id.retention_backtest_contact_cost",
        readonly=False,
        currency_field="retention_currency_id",
    )

    @api.constrains(*(f"retention_{key}" for key in FORM_SETTINGS))
    def _check_retention_settings(self):
        """The thresholds saved together: "at risk" below "lost" (each value's
        range is the company's constraint, checked as it is written)."""
        for settings in self:
            values = {key: settings[f"retention_{key}"] for key in FORM_SETTINGS}
            errors = lifecycle.setting_errors(values)
            if errors:
                raise ValidationError(self.env["res.company"]._retention_setting_message(errors[0]))

    def action_retention_recompute(self):
        """Recompute the current company's lifecycle now (managers)."""
        model = self.env["crm.retention.model"]._get_for_company(self.env.company)
        return model.action_recompute()
