from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ..lib import lifecycle


class ResConfigSettings(models.TransientModel):
    """Thresholds of the default stage rules and of the churn model fit.

    Stored as ``crm_retention.*`` system parameters; the defaults (of the
    form and of an unset parameter) live once, in ``lib.lifecycle.DEFAULTS``,
    the allowed ranges in ``lib.lifecycle.BOUNDS`` (checked at save).
    """

    _inherit = "res.config.settings"

    retention_at_risk_probability = fields.Float(
        string="At Risk: Churn Probability",
        config_parameter="crm_retention.at_risk_probability",
        default=lifecycle.DEFAULTS["at_risk_probability"],
        help="Customers whose churn probability reaches this value are at risk.",
    )
    retention_lost_probability = fields.Float(
        string="Lost: Churn Probability",
        config_parameter="crm_retention.lost_probability",
        default=lifecycle.DEFAULTS["lost_probability"],
    )
    retention_at_risk_overdue_ratio = fields.Float(
        string="At Risk: Overdue Ratio",
        config_parameter="crm_retention.at_risk_overdue_ratio",
        default=lifecycle.DEFAULTS["at_risk_overdue_ratio"],
        help="At risk when the time since the last deal exceeds this many expected intervals "
        "(the customer's own rhythm, or the typical rhythm for one-time buyers).",
    )
    retention_lost_overdue_ratio = fields.Float(
        string="Lost: Overdue Ratio",
        config_parameter="crm_retention.lost_overdue_ratio",
        default=lifecycle.DEFAULTS["lost_overdue_ratio"],
    )
    retention_lost_after_days = fields.Integer(
        string="Lost After (days)",
        config_parameter="crm_retention.lost_after_days",
        default=lifecycle.DEFAULTS["lost_after_days"],
        help="A customer without any deal for this long is lost whatever the model says.",
    )
    retention_min_repeat_customers = fields.Integer(
        string="Minimum Repeat Buyers to Fit",
        config_parameter="crm_retention.min_repeat_customers",
        default=lifecycle.DEFAULTS["min_repeat_customers"],
        help="Below this number of repeat buyers the churn model is not refitted.",
    )
    retention_monthly_discount_rate = fields.Float(
        string="Monthly Discount Rate (CLV)",
        config_parameter="crm_retention.monthly_discount_rate",
        default=lifecycle.DEFAULTS["monthly_discount_rate"],
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
    retention_backtest_contact_cost = fields.Monetary(
        related="company_id.retention_backtest_contact_cost", readonly=False
    )

    @api.constrains(
        "retention_at_risk_probability",
        "retention_lost_probability",
        "retention_at_risk_overdue_ratio",
        "retention_lost_overdue_ratio",
        "retention_lost_after_days",
        "retention_min_repeat_customers",
        "retention_monthly_discount_rate",
    )
    def _check_retention_settings(self):
        fields_by_key = {
            field.config_parameter.removeprefix("crm_retention."): field
            for field in self._fields.values()
            if (getattr(field, "config_parameter", None) or "").startswith("crm_retention.")
        }
        for settings in self:
            values = {key: settings[field.name] for key, field in fields_by_key.items()}
            errors = lifecycle.setting_errors(values)
            if errors:
                key, value, low, high = errors[0]
                label = fields_by_key[key]._description_string(self.env)
                raise ValidationError(
                    self.env["crm.retention.model"]._setting_error_message(label, value, low, high)
                )

    def action_retention_recompute(self):
        """Recompute the current company's lifecycle now (managers)."""
        model = self.env["crm.retention.model"]._get_for_company(self.env.company)
        return model.action_recompute()
