from odoo import fields, models


class ResCompany(models.Model):
    _inherit = "res.company"

    retention_count_invoices = fields.Boolean(
        string="Count Posted Invoices",
        default=True,
        help="A posted customer invoice is a purchase of its customer, dated at its invoice "
        "date, worth its untaxed amount; a posted credit note is a negative one. An invoice "
        "made from a sale order or a point of sale order does not count when those orders "
        "count already.",
    )
