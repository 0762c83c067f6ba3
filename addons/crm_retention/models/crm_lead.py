from odoo import fields, models

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
    and after the change) at once, through ``crm.retention.deal.mixin``.
    Every lead counts: an open or lost one moves the opportunity count.
    """

    _name = "crm.lead"
    _inherit = ["crm.lead", "crm.retention.deal.mixin"]
    _retention_deal_fields = frozenset(DEAL_FIELDS)

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

    def _retention_keys(self):
        """(commercial partner id, company) pairs these leads count for, the
        company being the lead's, else its customer's, else its
        salesperson's; archived leads included."""
        keys = set()
        for lead in self.sudo().with_context(active_test=False):
            partner = lead.partner_id.commercial_partner_id
            company = lead.company_id or lead.partner_id.company_id or lead.user_id.company_id
            if partner and company:
                keys.add((partner.id, company))
        return keys
