from odoo import fields, models


class CrmKpiSnapshotBackfill(models.TransientModel):
    """Rewrite the KPI snapshots of a past period, e.g. after importing the
    lifecycle history or changing stages. Runs in the request: for long
    periods on large databases prefer the cron, which resumes by itself."""

    _name = "crm.kpi.snapshot.backfill"
    _description = "Rebuild KPI Snapshots"

    date_from = fields.Date(required=True)
    date_to = fields.Date(required=True, default=fields.Date.context_today)
    company_ids = fields.Many2many(
        "res.company", string="Companies", default=lambda self: self.env.companies
    )

    def action_backfill(self):
        self.ensure_one()
        # sudo: rebuilding derived rows, restricted to companies the manager selected
        # among his allowed ones (the many2many domain and check_company)
        companies = self.company_ids & self.env.user.company_ids
        days = (
            self.env["crm.kpi.snapshot"]
            .sudo()
            ._backfill(self.date_from, self.date_to, companies or self.env.companies)
        )
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "success",
                "message": self.env._("%(days)s company-days rebuilt.", days=days),
                "next": {"type": "ir.actions.act_window_close"},
            },
        }
