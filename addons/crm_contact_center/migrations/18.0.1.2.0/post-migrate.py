"""18.0.1.2.0 (issue 12): the agents' team rule on interactions covers the
queue only (API and hand-logged requests), not the e-mails, meetings and SMS
captured from teammates' documents. The new channel rules are new records: the
update creates them.
"""

from odoo.addons.crm_contact_center.migrations.noupdate import rewrite_from_file


def migrate(cr, version):
    if version:
        rewrite_from_file(
            cr, "security/crm_contact_center_security.xml", ["crm_interaction_rule_agent"]
        )
