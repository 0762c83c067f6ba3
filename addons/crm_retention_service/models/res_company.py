from odoo import api, fields, models
from odoo.exceptions import ValidationError


class ResCompany(models.Model):
    """When a request of a customer the company is losing jumps the queue
    (``lib.queue.priority_level``)."""

    _inherit = "res.company"

    retention_priority_high_value = fields.Monetary(
        string="High Priority From (value at risk)",
        currency_field="currency_id",
        default=1000.0,
        help="A request of a customer At risk (or Lost, see below) whose value at risk reaches "
        "this amount gets the High priority: a shorter response target when the channel has "
        "one, and the senior team when its team has one. 0: never.",
    )
    retention_priority_urgent_value = fields.Monetary(
        string="Urgent From (value at risk)",
        currency_field="currency_id",
        default=10000.0,
        help="From this value at risk the request is Urgent. 0: never.",
    )
    retention_priority_include_lost = fields.Boolean(
        string="Lost Customers Too",
        default=True,
        help="Raise the requests of Lost customers as well as of those At risk: a lost "
        "customer who calls is the best chance to win him back.",
    )

    @api.constrains("retention_priority_high_value", "retention_priority_urgent_value")
    def _check_retention_priority_values(self):
        for company in self:
            high = company.retention_priority_high_value
            urgent = company.retention_priority_urgent_value
            if high < 0 or urgent < 0:
                raise ValidationError(
                    self.env._("The value at risk thresholds of the queue cannot be negative.")
                )
            if high and urgent and urgent < high:
                raise ValidationError(
                    self.env._("The Urgent threshold of the queue cannot be below the High one.")
                )
