from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    retention_count_pos_orders = fields.Boolean(
        related="company_id.retention_count_pos_orders", readonly=False
    )
