from odoo import fields, models
from odoo.exceptions import UserError
from odoo.osv import expression


class CrmCustomerProfileCampaign(models.TransientModel):
    """ "Add to Campaign" on selected customers (retention managers): enrols
    them now in a running campaign of their company, as its continuous
    enrolment would. The control group is drawn for each of them on the
    campaign's seed, so a hand-picked list is measured as fairly as a
    target; customers already in the campaign, or in another running one
    with the same objective when the campaign is exclusive, are skipped."""

    _name = "crm.customer.profile.campaign"
    _inherit = ["crm.customer.profile.selection"]
    _description = "Add Customers to a Retention Campaign"

    campaign_id = fields.Many2one(
        "crm.retention.campaign",
        string="Campaign",
        required=True,
        domain="[('state', '=', 'running')]",
        help="A running campaign: the customers receive its steps from today.",
    )

    def action_add(self):
        self.ensure_one()
        campaign = self.campaign_id
        campaign.check_access("write")
        if campaign.state != "running":
            raise UserError(self.env._("Customers can only be added to a running campaign."))
        profiles = self.profile_ids.filtered(lambda p: p.company_id == campaign.company_id)
        # only the selected customers' memberships: not every member of the campaign
        taken = (
            self.env["crm.retention.campaign.member"]
            .sudo()
            .search(
                expression.AND(
                    [campaign._get_taken_member_domain(), [("profile_id", "in", profiles.ids)]]
                )
            )
            .profile_id
        )
        new = profiles - taken
        if not new:
            raise UserError(
                self.env._("These customers are already in this campaign (or in another "
                           "running one with the same objective), or in another company.")
            )  # fmt: skip
        members = campaign._enrol(new, fields.Date.context_today(self))
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "success",
                "message": self.env._(
                    "%(added)s customers added to %(campaign)s (%(control)s held out as control, "
                    "%(skipped)s skipped).",
                    added=len(members),
                    campaign=campaign.name,
                    control=len(members.filtered(lambda m: m.member_group == "control")),
                    skipped=len(self.profile_ids) - len(new),
                ),
                "next": {"type": "ir.actions.act_window_close"},
            },
        }
