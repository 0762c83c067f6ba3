from odoo import api, fields, models
from odoo.exceptions import ValidationError


class CrmKpiSnapshotBackfill(models.TransientModel):
    """Rewrite the KPI snapshots of a past period, e.g. after importing the
    lifecycle history or changing stages.

    A short period (at most ``crm_kpi.backfill_sync_days`` company-days,
    default 31) is rebuilt in the request; a longer one is queued for the
    back-fill cron, which writes it by batches and resumes after a crash."""

    _name = "crm.kpi.snapshot.backfill"
    _description = "Rebuild KPI Snapshots"

    date_from = fields.Date(required=True)
    date_to = fields.Date(required=True, default=fields.Date.context_today)
    company_ids = fields.Many2many(
        "res.company", string="Companies", default=lambda self: self.env.companies
    )

    @api.constrains("date_from", "date_to")
    def _check_period(self):
        Snapshot = self.env["crm.kpi.snapshot"]
        for wizard in self:
            if error := Snapshot._backfill_period_error(wizard.date_from, wizard.date_to):
                raise ValidationError(error)

    def action_backfill(self):
        self.ensure_one()
        self._check_period()
        companies = (self.company_ids & self.env.user.company_ids) or self.env.companies
        company_days = ((self.date_to - self.date_from).days + 1) * len(companies)
        # sudo: the sync threshold is a system parameter
        sync_days = int(
            self.env["ir.config_parameter"].sudo().get_param("crm_kpi.backfill_sync_days", 31)
        )
        # sudo: rebuilding derived rows, restricted to companies the manager
        # selected among his allowed ones (the many2many domain above)
        Snapshot = self.env["crm.kpi.snapshot"].sudo()
        if company_days > sync_days:
            Snapshot._backfill_queue(self.date_from, self.date_to, companies)
            kind = "info"
            message = self.env._(
                "%(days)s company-days queued: the snapshots are rebuilt in the background, "
                "a batch of days at a time; the reports of the period are complete when "
                "the queue is empty.",
                days=company_days,
            )
        else:
            days = Snapshot._backfill(self.date_from, self.date_to, companies)
            kind = "success"
            message = self.env._("%(days)s company-days rebuilt.", days=days)
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": kind,
                "message": message,
                "next": {"type": "ir.actions.act_window_close"},
            },
        }
