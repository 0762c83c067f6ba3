"""18.0.1.10.0: a customer who comes back from Lost is won back whichever
customer stage the rules give the comeback (Active, At risk... as well as Won
back), and a customer at risk who recovers into the Won back stage is no
longer counted as won back (it was still a customer). The snapshots written
before counted the stage Won back only, so the customers at the end of a
period did not add up from its flows. Each company's snapshotted span is
queued for the back-fill cron, which rewrites it in the background.
"""

from odoo import SUPERUSER_ID, api


def migrate(cr, version):
    if not version:
        return
    env = api.Environment(cr, SUPERUSER_ID, {})
    env["crm.kpi.snapshot"]._backfill_queue_snapshotted()
