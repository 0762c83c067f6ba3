from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    retention_count_invoices = fields.Boolean(
        related="company_id.retention_count_invoices", readonly=False
    )
