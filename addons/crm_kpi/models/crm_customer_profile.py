from datetime import timedelta

from odoo import api, models


class CrmCustomerProfile(models.Model):
    _inherit = "crm.customer.profile"

    @api.model
    def _rebuild_done(self, company, date_from, today):
        """A rebuilt history changes the snapshots of every day since its
        earliest change: queue their back-fill (at most the days the daily
        job keeps, ``crm_kpi.snapshot_initial_days``), so the churn trend is
        right from the day the suite is installed. Written at once during a
        module install, else by the back-fill job."""
        super()._rebuild_done(company, date_from, today)
        params = self.env["ir.config_parameter"].sudo()
        initial_days = int(params.get_param("crm_kpi.snapshot_initial_days", 365))
        last_day = today - timedelta(days=1)
        start = max(date_from, last_day - timedelta(days=initial_days - 1))
        if start > last_day:
            return
        Snapshot = self.env["crm.kpi.snapshot"]
        if not self.env.registry.ready:
            # a module install (a bridge adding a source): the install
            # leaves the snapshots right, as the cron would
            Snapshot._backfill(start, last_day, company)
        else:
            Snapshot._backfill_queue(start, last_day, company)
