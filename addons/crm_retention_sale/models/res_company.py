from odoo import fields, models


class ResCompany(models.Model):
    _inherit = "res.company"

    retention_count_sale_orders = fields.Boolean(
        string="Count Confirmed Sale Orders",
        default=True,
        help="A confirmed sale order is a purchase of its customer, dated at its order date, "
        "worth its untaxed amount. A won opportunity that has confirmed orders counts as "
        "those orders, never twice; invoices made from an order do not count again. Off, with "
        "invoices counted instead, such an opportunity counts until an invoice of its orders "
        "is posted, then as that invoice.",
    )
