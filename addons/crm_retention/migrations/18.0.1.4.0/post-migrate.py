"""18.0.1.4.0 (issue 13): a customer's salesperson is stored on its profile
(its own salesperson, else its latest opportunity's) and the salesperson's
record rules read it. The rules sit in a ``noupdate`` block: their domain is
rewritten here from the module's file, then every profile gets its owner.
"""

from pathlib import Path

from lxml import etree

from odoo import SUPERUSER_ID, api

RULES = ["crm_customer_profile_rule_personal", "crm_lifecycle_history_rule_personal"]
SECURITY = Path(__file__).parents[2] / "security" / "crm_retention_security.xml"


def migrate(cr, version):
    if not version:
        return
    env = api.Environment(cr, SUPERUSER_ID, {})
    tree = etree.parse(str(SECURITY))
    for xmlid in RULES:
        rule = env.ref(f"crm_retention.{xmlid}", raise_if_not_found=False)
        if rule:
            [domain] = tree.xpath(f"//record[@id='{xmlid}']/field[@name='domain_force']")
            rule.domain_force = domain.text
    env["crm.customer.profile"]._sync_owners(full=True)
