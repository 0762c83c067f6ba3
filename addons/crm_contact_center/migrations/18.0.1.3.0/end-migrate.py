"""18.0.1.3.0 (issue 12, review): an agent's team queue shows the requests
still to handle (new, assigned, missed), not the calls, bodies and recordings
a teammate has finished.
"""

from odoo.addons.crm_contact_center.migrations.noupdate import rewrite_from_file


def migrate(cr, version):
    if version:
        rewrite_from_file(
            cr, "security/crm_contact_center_security.xml", ["crm_interaction_rule_agent"]
        )
