from odoo import fields, models


class ResCompany(models.Model):
    _inherit = "res.company"

    retention_count_pos_orders = fields.Boolean(
        string="Count Point of Sale Orders",
        default=True,
        help="A paid point of sale order with a customer is a purchase of that customer, dated "
        "at the order, worth its amount before taxes (a refund is a negative one). An "
        "invoice made from such an order does not count again.",
    )
