from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    retention_priority_high_value = fields.Monetary(
        related="company_id.retention_priority_high_value",
        readonly=False,
    )
    retention_priority_urgent_value = fields.Monetary(
        related="company_id.retention_priority_urgent_value",
        readonly=False,
    )
    retention_priority_include_lost = fields.Boolean(
        related="company_id.retention_priority_include_lost", readonly=False
    )
