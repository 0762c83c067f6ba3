from dateutil.relativedelta import relativedelta

from odoo import api, fields, models
from odoo.exceptions import AccessError

from ..lib import cohort


class CrmKpiCohortHeatmap(models.TransientModel):
    """The cohort retention heat-map: the stored ``crm.kpi.cohort`` rows the
    user may read (record rules apply), one line per cohort month, rendered
    by ``lib.cohort.heatmap_html``. The pivot of the same rows exports them."""

    _name = "crm.kpi.cohort.heatmap"
    _description = "Cohort Retention Heat-map"

    date_from = fields.Date(
        "Cohorts From",
        required=True,
        default=lambda self: fields.Date.context_today(self).replace(day=1)
        - relativedelta(months=11),
    )
    user_id = fields.Many2one("res.users", string="Salesperson")
    team_id = fields.Many2one("crm.team", string="Sales Team")
    heatmap = fields.Html(compute="_compute_heatmap", sanitize=False)

    @api.model
    def action_open(self):
        """The menu's entry point: a computed heat map under its own title
        (a saved record, so no "unsaved changes" marks), the cohorts computed
        first if they never were in the user's companies (the nightly job had
        not run yet)."""
        Cohort = self.env["crm.kpi.cohort"].sudo()
        companies = self.env.companies
        if not Cohort.search_count([("company_id", "in", companies.ids)], limit=1):
            # derived rows of the user's own companies, read back under his rules
            Cohort._refresh(companies)
        wizard = self.create({})
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Cohort Retention"),
            "res_model": self._name,
            "res_id": wizard.id,
            "view_mode": "form",
            "target": "current",
            "context": {"form_view_initial_mode": "edit"},
        }

    def _compute_display_name(self):
        for wizard in self:
            wizard.display_name = self.env._("Cohort Retention")

    @api.depends("date_from", "user_id", "team_id")
    def _compute_heatmap(self):
        Cohort = self.env["crm.kpi.cohort"]
        for wizard in self:
            domain = [("cohort_month", ">=", wizard.date_from)]
            if wizard.user_id:
                domain.append(("user_id", "=", wizard.user_id.id))
            if wizard.team_id:
                domain.append(("team_id", "=", wizard.team_id.id))
            groups = Cohort._read_group(
                domain,
                ["cohort_month:month", "months_since"],
                ["cohort_size:sum", "buying_count:sum"],
            )
            cells = [
                {
                    "cohort_month": month,
                    "months_since": since,
                    "cohort_size": size,
                    "buying_count": buying,
                }
                for month, since, size, buying in groups
            ]
            # only numbers and month labels go into the table: built, not user HTML
            wizard.heatmap = cohort.heatmap_html(
                cells,
                cohort_label=self.env._("First deal"),
                size_label=self.env._("Customers"),
                empty=self.env._("No customer with a first deal in this period."),
            )

    def action_refresh(self):
        """Recompute the cohorts of the user's companies now (sales and
        retention managers: the rows are company-wide)."""
        user = self.env.user
        if not (
            user.has_group("sales_team.group_sale_manager")
            or user.has_group("crm_retention.group_retention_manager")
        ):
            raise AccessError(
                self.env._(
                    "Only sales and retention managers can recompute the cohorts; "
                    "they are refreshed every night."
                )
            )
        # sudo: a manager (checked above) rebuilds the derived rows of the
        # companies he is allowed in; the rows are then read back under the
        # user's own record rules
        self.env["crm.kpi.cohort"].sudo()._refresh(self.env.companies)
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "current",
        }

    def action_open_pivot(self):
        action = self.env["ir.actions.act_window"]._for_xml_id("crm_kpi.crm_kpi_cohort_action")
        action["domain"] = [("cohort_month", ">=", self.date_from)]
        return action
