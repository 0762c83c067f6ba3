from odoo import api, fields, models
from odoo.exceptions import ValidationError

MAX_RATING_INTERVAL_DAYS = 3650


class ResCompany(models.Model):
    """How often the company's contacts are asked for a rating after a
    handled request, and which rating needs a team leader's follow-up."""

    _inherit = "res.company"

    interaction_rating_interval_days = fields.Integer(
        string="Ask the Same Contact at Most Every (days)",
        default=30,
        help="A contact asked for a rating (automatically or with the button) is not asked "
        "again automatically before this many days. 0: after every handled request.",
    )
    interaction_rating_low_threshold = fields.Integer(
        string="Low Rating Threshold",
        default=2,
        help="A rating at or below this value (out of 5; the e-mail offers 5 Satisfied, 3 Okay "
        "and 1 Dissatisfied) plans a to-do for the leader of the request's team. 0: never.",
    )

    @api.constrains("interaction_rating_interval_days", "interaction_rating_low_threshold")
    def _check_interaction_rating_settings(self):
        for company in self:
            if not 0 <= company.interaction_rating_interval_days <= MAX_RATING_INTERVAL_DAYS:
                raise ValidationError(
                    self.env._(
                        "The rating interval must be between 0 and %(max)s days.",
                        max=MAX_RATING_INTERVAL_DAYS,
                    )
                )
            if not 0 <= company.interaction_rating_low_threshold <= 5:
                raise ValidationError(
                    self.env._("The low rating threshold must be between 0 and 5.")
                )
