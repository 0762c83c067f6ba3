from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    """Thresholds of the default stage rules and of the churn model fit.

    Stored as ``crm_retention.*`` system parameters; defaults live in
    ``lib.lifecycle.DEFAULTS`` and are shipped as data.
    """

    _inherit = "res.config.settings"

    retention_at_risk_probability = fields.Float(
        string="At Risk: Churn Probability",
        config_parameter="crm_retention.at_risk_probability",
        default=0.5,
        help="Customers whose churn probability reaches this value are at risk.",
    )
    retention_lost_probability = fields.Float(
        string="Lost: Churn Probability",
        config_parameter="crm_retention.lost_probability",
        default=0.8,
    )
    retention_at_risk_overdue_ratio = fields.Float(
        string="At Risk: Overdue Ratio",
        config_parameter="crm_retention.at_risk_overdue_ratio",
        default=1.5,
        help="At risk when the time since the last deal exceeds this many expected intervals "
        "(the customer's own rhythm, or the typical rhythm for one-time buyers).",
    )
    retention_lost_overdue_ratio = fields.Float(
        string="Lost: Overdue Ratio",
        config_parameter="crm_retention.lost_overdue_ratio",
        default=3.0,
    )
    retention_lost_after_days = fields.Integer(
        string="Lost After (days)",
        config_parameter="crm_retention.lost_after_days",
        default=730,
        help="A customer without any deal for this long is lost whatever the model says.",
    )
    retention_min_repeat_customers = fields.Integer(
        string="Minimum Repeat Buyers to Fit",
        config_parameter="crm_retention.min_repeat_customers",
        default=20,
        help="Below this number of repeat buyers the churn model is not refitted.",
    )
    retention_monthly_discount_rate = fields.Float(
        string="Monthly Discount Rate (CLV)",
        config_parameter="crm_retention.monthly_discount_rate",
        default=0.01,
    )

    def action_retention_recompute(self):
        """Recompute the current company's lifecycle now (managers)."""
        model = self.env["crm.retention.model"]._get_for_company(self.env.company)
        return model.action_recompute()
