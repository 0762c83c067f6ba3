from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    retention_priority_high_value = fields.Monetary(
        related="company_id.retention_priority_high_value",
        readonly=False,
        currency_field="retention_currency_id",  # crm_retention's: no Invoicing needed
    )
    retention_priority_urgent_value = fields.Monetary(
        related="company_id.retention_priority_urgent_value",
        readonly=False,
        currency_field="retention_currency_id",
    )
    retention_priority_include_lost = fields.Boolean(
        related="company_id.retention_priority_include_lost", readonly=False
    )
