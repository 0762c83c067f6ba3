from odoo import api, fields, models

# a change of any of these can move a customer's deal metrics (not probability:
# predictive lead scoring rewrites it on open leads in bulk; winning goes
# through stage_id)
DEAL_FIELDS = {
    "stage_id",
    "active",
    "type",
    "expected_revenue",
    "date_closed",
    "partner_id",
    "company_id",
    "user_id",  # company_id is computed from the salesperson and team
    "team_id",
}


class CrmLead(models.Model):
    """Keep the customer's lifecycle profile current as its deals change.

    Winning, un-winning, losing, re-dating, re-pricing or re-assigning an
    opportunity refreshes the profiles of the customers concerned (before
    and after the change) at once, with the company's current model
    parameters; the daily cron refits the model itself.
    """

    _inherit = "crm.lead"

    # the customer's lifecycle where the salesperson works: the opportunity
    # form and the pipeline card (the current company's profile)
    customer_stage_id = fields.Many2one(
        related="partner_id.commercial_partner_id.lifecycle_stage_id",
        string="Customer Stage",
        groups="crm_retention.group_retention_user",
    )
    customer_risk_level = fields.Selection(
        related="partner_id.commercial_partner_id.retention_risk_level",
        string="Customer Churn Risk",
        groups="crm_retention.group_retention_user",
    )
    customer_churn_probability = fields.Float(
        related="partner_id.commercial_partner_id.retention_churn_probability",
        string="Customer Churn Probability",
        groups="crm_retention.group_retention_user",
    )

    @api.model_create_multi
    def create(self, vals_list):
        leads = super().create(vals_list)
        leads._lifecycle_refresh(leads._lifecycle_keys())
        return leads

    def write(self, vals):
        if not DEAL_FIELDS & vals.keys() or self._lifecycle_refresh_skipped():
            return super().write(vals)
        before = self._lifecycle_keys()
        res = super().write(vals)
        self._lifecycle_refresh(before | self._lifecycle_keys())
        return res

    def unlink(self):
        keys = self._lifecycle_keys()
        res = super().unlink()
        self._lifecycle_refresh(keys)
        return res

    def _lifecycle_refresh_skipped(self):
        """Whether server code (sudo: demo loaders, imports that recompute at
        the end) asked to skip the refresh; a client's context cannot."""
        return self.env.su and self.env.context.get("lifecycle_skip_refresh")

    def _lifecycle_keys(self):
        """(commercial partner id, company) pairs these leads count for."""
        keys = set()
        for lead in self.sudo().with_context(active_test=False):
            partner = lead.partner_id.commercial_partner_id
            company = lead.company_id or lead.partner_id.company_id or lead.user_id.company_id
            if partner and company:
                keys.add((partner.id, company))
        return keys

    def _lifecycle_refresh(self, keys):
        if not keys or self._lifecycle_refresh_skipped():
            return
        self.env["crm.customer.profile"].sudo()._recompute_customers(keys)
