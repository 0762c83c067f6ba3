"""18.0.1.2.0 (issue 12): the agents' team rule on interactions covers the
queue only (API and hand-logged requests), not the e-mails, meetings and SMS
captured from teammates' documents.

Record rules live in a ``noupdate`` block, which an update skips whatever the
flag of their ``ir.model.data`` row: write the new definition, read from the
security file so that the file stays the only source. The new channel rules
are new records: the update creates them.
"""

from pathlib import Path

from lxml import etree

from odoo import SUPERUSER_ID, api

SECURITY_FILE = Path(__file__).parents[2] / "security" / "crm_contact_center_security.xml"
CHANGED_RULES = ("crm_interaction_rule_agent",)


def migrate(cr, version):
    if not version:
        return
    env = api.Environment(cr, SUPERUSER_ID, {})
    tree = etree.parse(str(SECURITY_FILE))
    for xmlid in CHANGED_RULES:
        rule = env.ref(f"crm_contact_center.{xmlid}", raise_if_not_found=False)
        [node] = tree.xpath(f"//record[@id='{xmlid}']")
        if rule:
            rule.write(
                {
                    name: node.xpath(f"field[@name='{name}']")[0].text
                    for name in ("name", "domain_force")
                }
            )
