"""18.0.1.6.0 (issue 18): the snapshots gained the revenue retention columns
(12-month revenue, revenue churn, NRR / GRR parts), empty on the rows written
before. Each company's snapshotted span is queued for the back-fill cron, which
rewrites it with the revenue figures in the background (the same rows as before
otherwise), so the revenue KPIs of past months are there after the upgrade.
The cohort rows (now with their revenue: value by tenure) and the new
retention curves are computed at once rather than at the next nightly run.
"""

from odoo import SUPERUSER_ID, api


def migrate(cr, version):
    if not version:
        return
    env = api.Environment(cr, SUPERUSER_ID, {})
    env["crm.kpi.cohort"]._refresh()
    env["crm.kpi.survival"]._refresh()
    env["crm.kpi.snapshot"]._backfill_queue_snapshotted()
