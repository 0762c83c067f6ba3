"""18.0.1.11.0: a merge of two partners (the history row the merge wizard
writes, reason "merge") no longer counts as a customer lost or won back. The
snapshots of the days since the first merge a company snapshotted are queued
for the back-fill cron, which rewrites them in the background; companies
without merges keep their rows.
"""

from odoo import SUPERUSER_ID, api


def migrate(cr, version):
    if not version:
        return
    env = api.Environment(cr, SUPERUSER_ID, {})
    Snapshot = env["crm.kpi.snapshot"]
    cr.execute(
        """
        SELECT s.company_id, min(h.date)::date, s.last
          FROM (SELECT company_id, min(date) AS first, max(date) AS last
                  FROM crm_kpi_snapshot GROUP BY company_id) s
          JOIN crm_lifecycle_history h
            ON h.company_id = s.company_id AND h.reason = 'merge'
           AND h.date::date BETWEEN s.first AND s.last
         GROUP BY s.company_id, s.last
        """
    )
    for company_id, first, last in cr.fetchall():
        company = env["res.company"].browse(company_id)
        if company.exists() and not Snapshot._backfill_period_error(first, last):
            Snapshot._backfill_queue(first, last, company)
