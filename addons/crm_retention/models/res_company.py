from odoo import fields, models


class ResCompany(models.Model):
    """Which purchases count as deals for the company's customers.

    Won opportunities by default; the bridges of Sales, Invoicing and Point
    of Sale add their own switch (``retention_count_*``), defaulting so that
    one purchase never counts twice. The deal source reads the switches
    (``crm.customer.profile._deal_companies``).
    """

    _inherit = "res.company"

    retention_count_opportunities = fields.Boolean(
        string="Count Won Opportunities",
        default=True,
        help="A won opportunity is a purchase of its customer, dated at its closing, worth "
        "its expected revenue. Turn off when purchases are recorded as orders or invoices "
        "and opportunities only track the pipeline.",
    )
