"""18.0.1.2.0 (issue 19, part 4): the open requests get their priority from
their customer's retention profile now, not at the next nightly run."""

from odoo import SUPERUSER_ID, api


def migrate(cr, version):
    if not version:
        return
    env = api.Environment(cr, SUPERUSER_ID, {})
    for company in env["res.company"].search([]):
        env["crm.interaction"]._refresh_customer_priorities(company)
