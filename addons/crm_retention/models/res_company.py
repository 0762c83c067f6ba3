from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ..lib import lifecycle


class ResCompany(models.Model):
    """Which purchases count as deals for the company's customers.

    Won opportunities by default; the bridges of Sales, Invoicing and Point
    of Sale add their own switch (``retention_count_*``), defaulting so that
    one purchase never counts twice. The deal source reads the switches
    (``crm.customer.profile._deal_companies``).

    And whether the nightly run rebuilds the past history of customers who
    bought before their history starts (``_rebuild_history``).
    """

    _inherit = "res.company"

    # the thresholds of the stage rules and the churn model's settings: each
    # company its own (Settings > CRM > Customer Retention); defaults and
    # ranges in lib.lifecycle (DEFAULTS, BOUNDS), checked by _check_retention_settings
    retention_at_risk_probability = fields.Float(
        string="At Risk: Churn Probability",
        default=lifecycle.DEFAULTS["at_risk_probability"],
        help="Customers whose churn probability reaches this value are at risk, once they are "
        "past their expected next purchase (the churn model gives even a customer who has "
        "just bought again some chance of leaving).",
    )
    retention_lost_probability = fields.Float(
        string="Lost: Churn Probability",
        default=lifecycle.DEFAULTS["lost_probability"],
        help="Customers whose churn probability reaches this value are lost, once they are "
        "past their expected next purchase.",
    )
    retention_at_risk_overdue_ratio = fields.Float(
        string="At Risk: Overdue Ratio",
        default=lifecycle.DEFAULTS["at_risk_overdue_ratio"],
        help="At risk when the time since the last deal exceeds this many expected intervals "
        "(the customer's own rhythm, or the typical rhythm for one-time buyers).",
    )
    retention_lost_overdue_ratio = fields.Float(
        string="Lost: Overdue Ratio", default=lifecycle.DEFAULTS["lost_overdue_ratio"]
    )
    retention_lost_after_days = fields.Integer(
        string="Lost After (days)",
        default=lifecycle.DEFAULTS["lost_after_days"],
        help="A customer without any deal for this long is lost whatever the model says.",
    )
    retention_min_repeat_customers = fields.Integer(
        string="Minimum Repeat Buyers to Fit",
        default=lifecycle.DEFAULTS["min_repeat_customers"],
        help="Below this number of repeat buyers the churn model is not refitted.",
    )
    retention_monthly_discount_rate = fields.Float(
        string="Monthly Discount Rate (CLV)",
        digits=(16, 4),
        default=lifecycle.DEFAULTS["monthly_discount_rate"],
    )
    retention_fit_penalizer = fields.Float(
        string="Fit Penalizer",
        digits=(16, 6),
        default=lifecycle.DEFAULTS["fit_penalizer"],
        help="L2 penalty of the churn model's fit: keeps fits on small customer bases away "
        "from degenerate parameters; negligible on large ones.",
    )
    retention_default_interval_days = fields.Float(
        string="Typical Days Between Deals (no model)",
        default=lifecycle.DEFAULTS["default_interval_days"],
        help="The rhythm a one-time buyer is measured against while no churn model is fitted.",
    )

    retention_count_opportunities = fields.Boolean(
        string="Count Won Opportunities",
        default=True,
        help="A won opportunity is a purchase of its customer, dated at its closing, worth "
        "its expected revenue. Turn off when purchases are recorded as orders or invoices "
        "and opportunities only track the pipeline.",
    )
    retention_backtest_uplift_pp = fields.Float(
        string="Assumed Campaign Uplift (pp)", default=5.0, digits=(16, 1),
        help="Extra share of leaving customers a retention campaign keeps, in percentage "
        "points: the backtest's At risk threshold suggestion uses it until campaigns with a "
        "control group have measured it (their pooled uplift is used then).",
    )  # fmt: skip
    retention_backtest_contact_cost = fields.Monetary(
        string="Assumed Contact Cost", default=1.0, currency_field="currency_id",
        help="Cost of contacting one customer (messages, call time): the backtest's At risk "
        "threshold suggestion uses it until campaigns with a cost per member say what it is.",
    )  # fmt: skip
    retention_rebuild_history = fields.Boolean(
        string="Rebuild Past History",
        default=True,
        help="When a customer has purchases older than its stage history (the first run "
        "after installing, after importing past sales, or after adding Sales, Invoicing or "
        "Point of Sale as a source), the nightly run rebuilds its history from them: the "
        "stages today's rules would have given it on each past day. KPI snapshots of those "
        "days are rewritten too.",
    )

    def write(self, vals):
        """A change of what decides the stages (``_retention_definition_fields``)
        queues their re-evaluation, logged as such (``crm.retention.model._mark_redefined``):
        the customers it moves did nothing."""
        deciding = self._retention_definition_fields()
        names = [name for name in vals if name in deciding]
        if not names:
            return super().write(vals)
        before = {company.id: [company[name] for name in names] for company in self}
        result = super().write(vals)
        changed = self.filtered(
            lambda company: [company[name] for name in names] != before[company.id]
        )
        if changed:
            self.env["crm.retention.model"]._mark_redefined(changed)
        return result

    @api.model
    def _retention_definition_fields(self):
        """The company fields that decide its customers' stages: the lifecycle
        settings and the bridges' switches of the purchases that count
        (``retention_count_*``)."""
        return {f"retention_{key}" for key in lifecycle.COMPANY_SETTINGS} | {
            name for name in self._fields if name.startswith("retention_count_")
        }

    def _retention_settings(self):
        """{key: value} of the company's lifecycle settings (lib.lifecycle.COMPANY_SETTINGS)."""
        self.ensure_one()
        return {key: self[f"retention_{key}"] for key in lifecycle.COMPANY_SETTINGS}

    @api.constrains(*(f"retention_{key}" for key in lifecycle.COMPANY_SETTINGS))
    def _check_retention_settings(self):
        # each value within its range; the pairs (at risk below lost) are checked
        # by the settings form once both are saved, and by the recompute
        for company in self:
            errors = [
                error
                for key, value in company._retention_settings().items()
                for error in lifecycle.setting_errors({key: value})
            ]
            if errors:
                raise ValidationError(self._retention_setting_message(errors[0]))

    @api.model
    def _retention_setting_message(self, error, suffix=""):
        """The message of a lifecycle setting out of its range, ``error`` as
        ``lib.lifecycle.setting_errors`` gives it, naming the setting by its
        label (``suffix`` after it: the company, for the recompute)."""
        key, value, low, high = error
        label = self._fields[f"retention_{key}"]._description_string(self.env) + suffix
        return self.env["crm.retention.model"]._setting_error_message(label, value, low, high)

    @api.constrains("retention_backtest_uplift_pp", "retention_backtest_contact_cost")
    def _check_retention_backtest_assumptions(self):
        for company in self:
            if not 0 <= company.retention_backtest_uplift_pp <= 100:
                raise ValidationError(
                    self.env._("The assumed campaign uplift must be between 0 and 100 points.")
                )
            if company.retention_backtest_contact_cost < 0:
                raise ValidationError(self.env._("The assumed contact cost cannot be negative."))
