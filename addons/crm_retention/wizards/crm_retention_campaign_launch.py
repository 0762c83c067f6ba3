from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError


class CrmRetentionCampaignLaunch(models.TransientModel):
    """Last look before a campaign starts: who matches, who is excluded and
    why, how many are held out as control. Launching enrols them all."""

    _name = "crm.retention.campaign.launch"
    _description = "Launch a Retention Campaign"

    campaign_id = fields.Many2one("crm.retention.campaign", required=True, ondelete="cascade")
    control_share = fields.Float(
        compute="_compute_control_share",
        store=True,
        readonly=False,
        help="Share of the eligible customers held out at random and measured without "
        "receiving anything.",
    )
    match_count = fields.Integer(compute="_compute_preview", string="Matching Customers")
    excluded_count = fields.Integer(compute="_compute_preview", string="Excluded")
    control_count = fields.Integer(compute="_compute_preview", string="Control Group")
    treated_count = fields.Integer(compute="_compute_preview", string="Will Be Contacted")
    exclusion_summary = fields.Text(compute="_compute_preview")
    profile_ids = fields.Many2many(
        "crm.customer.profile", compute="_compute_preview", string="Preview"
    )
    first_step_summary = fields.Char(compute="_compute_preview", string="First Step")
    confirm = fields.Boolean(
        string="I checked the target and the offer",
        help="Launching contacts the customers: it cannot be undone.",
    )

    @api.depends("campaign_id")
    def _compute_control_share(self):
        for wizard in self:
            wizard.control_share = wizard.campaign_id.control_share

    @api.depends("campaign_id", "control_share")
    def _compute_preview(self):
        for wizard in self:
            campaign = wizard.campaign_id
            profiles = (
                campaign._get_target_profiles() if campaign else self.env["crm.customer.profile"]
            )
            reasons = campaign._get_exclusion_reasons(profiles) if campaign else {}
            eligible = len(profiles) - len(reasons)
            control = round(eligible * (wizard.control_share or 0.0))
            by_reason = {}
            for reason in reasons.values():
                by_reason[reason] = by_reason.get(reason, 0) + 1
            first = campaign.step_ids.sorted("sequence")[:1]
            wizard.update(
                {
                    "match_count": len(profiles),
                    "excluded_count": len(reasons),
                    "control_count": control,
                    "treated_count": eligible - control,
                    "exclusion_summary": "\n".join(
                        f"{reason}: {count}" for reason, count in sorted(by_reason.items())
                    ),
                    "profile_ids": profiles[:80],
                    "first_step_summary": self.env._(
                        "%(step)s, %(days)s day(s) after launch",
                        step=first.name,
                        days=first.delay_days,
                    )
                    if first
                    else False,
                }
            )

    @api.constrains("control_share")
    def _check_control_share(self):
        for wizard in self:
            if not 0.0 <= wizard.control_share < 1.0:
                raise ValidationError(
                    self.env._("The control share must be between 0% and 100% (excluded).")
                )

    def action_launch(self):
        self.ensure_one()
        if not 0.0 <= self.control_share < 1.0:
            raise UserError(self.env._("The control share must be between 0% and 100%."))
        if not self.confirm:
            raise UserError(self.env._("Tick the confirmation box to launch the campaign."))
        self.campaign_id.check_access("write")
        self.campaign_id._launch(control_share=self.control_share)
        return self.campaign_id.action_view_members()
