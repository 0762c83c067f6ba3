from odoo import fields, models


class ResCompany(models.Model):
    """Which purchases count as deals for the company's customers.

    Won opportunities by default; the bridges of Sales, Invoicing and Point
    of Sale add their own switch (``retention_count_*``), defaulting so that
    one purchase never counts twice. The deal source reads the switches
    (``crm.customer.profile._deal_companies``).

    And whether the nightly run rebuilds the past history of customers who
    bought before their history starts (``_rebuild_history``).
    """

    _inherit = "res.company"

    retention_count_opportunities = fields.Boolean(
        string="Count Won Opportunities",
        default=True,
        help="A won opportunity is a purchase of its customer, dated at its closing, worth "
        "its expected revenue. Turn off when purchases are recorded as orders or invoices "
        "and opportunities only track the pipeline.",
    )
    retention_rebuild_history = fields.Boolean(
        string="Rebuild Past History",
        default=True,
        help="When a customer has purchases older than its stage history (the first run "
        "after installing, after importing past sales, or after adding Sales, Invoicing or "
        "Point of Sale as a source), the nightly run rebuilds its history from them: the "
        "stages today's rules would have given it on each past day. KPI snapshots of those "
        "days are rewritten too.",
    )
