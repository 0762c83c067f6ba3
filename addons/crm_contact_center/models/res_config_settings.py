from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    interaction_rating_interval_days = fields.Integer(
        related="company_id.interaction_rating_interval_days", readonly=False
    )
    interaction_rating_low_threshold = fields.Integer(
        related="company_id.interaction_rating_low_threshold", readonly=False
    )
