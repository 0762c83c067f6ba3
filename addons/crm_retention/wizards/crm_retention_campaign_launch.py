from markupsafe import Markup, escape

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import format_amount

PREVIEW_ROWS = 80


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
    preview_html = fields.Html(compute="_compute_preview", string="Preview", sanitize=False)
    preview_note = fields.Char(compute="_compute_preview")
    nobody_count = fields.Integer(
        compute="_compute_preview",
        string="Follow-ups to Nobody",
        help="Contacted customers whose follow-up activities would have nobody to do them: "
        "no salesperson in the campaign's company and no campaign owner.",
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
            share = wizard.control_share or 0.0
            # the very draw the launch makes: the counts are read from it
            groups = (
                campaign._draw_groups(profiles, reasons, exact_split=True, control_share=share)
                if campaign and 0.0 <= share < 1.0
                else {}
            )
            control = sum(1 for group in groups.values() if group == "control")
            nobody = 0
            if any(step.action == "activity" for step in campaign.step_ids):
                followers = campaign._follow_up_users(profiles)
                nobody = sum(
                    1 for p in profiles if groups.get(p.id) == "treated" and not followers[p.id]
                )
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
                    "preview_html": wizard._preview_html(profiles[:PREVIEW_ROWS], groups, reasons),
                    "preview_note": self.env._(
                        "Showing the first %(shown)s of %(count)s matching customers: "
                        "launching enrols all %(count)s.",
                        shown=PREVIEW_ROWS,
                        count=len(profiles),
                    )
                    if len(profiles) > PREVIEW_ROWS
                    else False,
                    "nobody_count": nobody,
                    "first_step_summary": self.env._(
                        "%(step)s, %(days)s day(s) after launch",
                        step=first.name,
                        days=first.delay_days,
                    )
                    if first
                    else False,
                }
            )

    def _preview_html(self, profiles, groups, reasons):
        """The customers the launch will enrol, each with the group the
        campaign's seeded draw puts it in (the launch makes the same draw).
        Built from escaped values only."""
        labels = {
            "treated": (self.env._("Contacted"), "text-bg-primary"),
            "control": (self.env._("Control (held out)"), "text-bg-info"),
            "excluded": (self.env._("Excluded"), "text-bg-secondary"),
        }
        head = [
            self.env._("Customer"), self.env._("Stage"), self.env._("Churn Probability"),
            self.env._("Value at Risk"), self.env._("Salesperson"), self.env._("Group"),
        ]  # fmt: skip
        rows = []
        for profile in profiles:
            label, badge = labels.get(groups.get(profile.id), ("", ""))
            reason = reasons.get(profile.id)
            cells = [
                escape(profile.partner_id.display_name),
                escape(profile.stage_id.name or ""),
                escape(f"{profile.churn_probability:.0%}"),
                escape(format_amount(self.env, profile.value_at_risk, profile.currency_id)),
                escape(profile.user_id.name or ""),
                Markup('<span class="badge rounded-pill %s">%s</span>%s')
                % (
                    badge,
                    label,
                    Markup(" <small class='text-muted'>%s</small>") % reason if reason else "",
                ),
            ]
            muted = ' class="text-muted"' if groups.get(profile.id) == "excluded" else ""
            rows.append(
                Markup("<tr%s>%s</tr>")
                % (Markup(muted), Markup("").join(Markup("<td>%s</td>") % c for c in cells))
            )
        return Markup(
            '<table class="table table-sm table-hover o_crm_retention_launch_preview">'
            "<thead><tr>%s</tr></thead><tbody>%s</tbody></table>"
        ) % (
            Markup("").join(Markup("<th>%s</th>") % h for h in head),
            Markup("").join(rows),
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
