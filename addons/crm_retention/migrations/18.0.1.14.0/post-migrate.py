"""18.0.1.14.0: a move caused by a change of the stage rules is logged as
such (history reason "redefinition") and the flows (customers lost and won
back, survival, the health score's lapses) skip it.

18.0.1.13.0 changed the rules themselves: the churn probability counts only
once a customer is past its expected next purchase. A database upgraded from
before it sees, on its first night, the customers the model had flagged too
early move back to their purchase stage, and the ones it had made Lost counted
as won back. Marking the change pending makes that first run log those moves
as the change's. From 18.0.1.13.0 on, the first night has already passed.
"""

from odoo.tools import parse_version


def migrate(cr, version):
    if not version or parse_version(version) >= parse_version("18.0.1.13.0"):
        return
    # the companies that have run: a company never recomputed has no stages to move
    cr.execute(
        "UPDATE crm_retention_model SET redefinition_pending = true WHERE last_run_date IS NOT NULL"
    )
