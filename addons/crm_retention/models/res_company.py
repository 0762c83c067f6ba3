from odoo import api, fields, models
from odoo.exceptions import ValidationError


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

    @api.constrains("retention_backtest_uplift_pp", "retention_backtest_contact_cost")
    def _check_retention_backtest_assumptions(self):
        for company in self:
            if not 0 <= company.retention_backtest_uplift_pp <= 100:
                raise ValidationError(
                    self.env._("The assumed campaign uplift must be between 0 and 100 points.")
                )
            if company.retention_backtest_contact_cost < 0:
                raise ValidationError(self.env._("The assumed contact cost cannot be negative."))
