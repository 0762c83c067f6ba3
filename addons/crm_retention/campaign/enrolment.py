"""Who a campaign enrols: the target (stages, filter, exclusivity), the
customers never to message, the launch, the seeded control draw (the same
for the launch wizard's preview and the launch) and continuous enrolment."""

import logging
from ast import literal_eval

from odoo import fields, models
from odoo.exceptions import UserError
from odoo.osv import expression

from ..lib import campaign as campaign_lib

_logger = logging.getLogger(__name__)


class CrmRetentionCampaignEnrolment(models.Model):
    _inherit = "crm.retention.campaign"

    def _get_target_domain(self):
        self.ensure_one()
        domain = [("company_id", "=", self.company_id.id)]
        if self.stage_ids:
            domain = expression.AND([domain, [("stage_id", "in", self.stage_ids.ids)]])
        return expression.AND([domain, literal_eval(self.target_domain or "[]")])

    def _get_target_profiles(self):
        """Profiles that match the target and are not enrolled yet (in this
        campaign, or in another running one with the same objective when
        the campaign is exclusive)."""
        self.ensure_one()
        Profile = self.env["crm.customer.profile"]
        if not self.company_id:
            return Profile
        domain = self._get_target_domain()
        taken = (
            self.env["crm.retention.campaign.member"]
            .sudo()
            ._search(self._get_taken_member_domain())
        )
        domain = expression.AND([domain, [("id", "not in", taken.subselect("profile_id"))]])
        profiles = Profile.search(domain)
        # never a customer of another company (a contact moved since its deals):
        # its member would fail the company check. In memory, so that archived
        # customers stay targeted (and skipped by the steps) as before; sudo
        # only reads the customers' company to compare it with the campaign's.
        partners = profiles.partner_id.sudo().with_context(active_test=False)
        allowed = partners.filtered_domain(partners._check_company_domain(self.company_id))
        if allowed == partners:
            return profiles
        allowed_ids = set(allowed.ids)
        return profiles.filtered(lambda p: p.partner_id.id in allowed_ids)

    def _get_taken_member_domain(self):
        # no NULL profile in the sub-select: NOT IN a set with NULL matches nothing
        domain = [("campaign_id", "=", self._origin.id or 0), ("profile_id", "!=", False)]
        if self.exclusive_objective:
            domain = expression.OR(
                [
                    domain,
                    [
                        ("campaign_id.objective", "=", self.objective),
                        ("campaign_id.state", "in", ("running", "paused")),
                        ("member_group", "!=", "excluded"),
                        ("profile_id", "!=", False),
                    ],
                ]
            )
        return domain

    def _get_exclusion_reasons(self, profiles):
        """{profile id: reason} for customers that must never be messaged.

        Opted out of retention campaigns, e-mail blacklisted, phone
        blacklisted (the last two only when a step uses that channel).
        """
        self.ensure_one()
        channels = set(self.step_ids.mapped("action"))
        # records of one prefetch set: the blacklist is looked up once for
        # all of them (a browse of one id would look it up per customer)
        partners = {p.id: p for p in profiles.partner_id.sudo()}
        reasons = {}
        for profile in profiles:
            partner = partners[profile.partner_id.id]
            if partner.retention_opt_out:
                reasons[profile.id] = self.env._("Opted out of retention campaigns")
            elif "email" in channels and partner.is_blacklisted:
                reasons[profile.id] = self.env._("E-mail address blacklisted")
            elif "sms" in channels and partner.phone_sanitized_blacklisted:
                reasons[profile.id] = self.env._("Phone number blacklisted")
        return reasons

    def _launch(self, control_share=None):
        """Start the campaign: enrol the matching customers, hold out the
        control group, schedule the first step."""
        self.ensure_one()
        if self.state != "draft":
            raise UserError(self.env._("Only a draft campaign can be launched."))
        if control_share is not None:
            self.control_share = control_share
        self._check_runnable(dates=True)
        profiles = self._get_target_profiles()
        if not profiles:
            raise UserError(
                self.env._(
                    "No customer matches the target of campaign %(campaign)s: widen the stages "
                    "or the filter before launching.",
                    campaign=self.name,
                )
            )
        if not self.step_ids:
            raise UserError(self.env._("Add at least one step before launching the campaign."))
        today = fields.Date.context_today(self)
        vals = {"state": "running", "date_start": self.date_start or today}
        if not self.utm_campaign_id:
            vals["utm_campaign_id"] = (
                self.env["utm.campaign"]
                .sudo()
                .create({"title": self.name, "user_id": self.user_id.id})
                .id
            )
        self.write(vals)
        members = self._enrol(profiles, today, exact_split=True)
        self.message_post(
            body=self.env._(
                "Campaign launched: %(treated)s treated, %(control)s in the control group, "
                "%(excluded)s excluded.",
                treated=len(members.filtered(lambda m: m.member_group == "treated")),
                control=len(members.filtered(lambda m: m.member_group == "control")),
                excluded=len(members.filtered(lambda m: m.member_group == "excluded")),
            )
        )
        return members

    def _enrol(self, profiles, today, exact_split=False):
        """Create members for ``profiles``: excluded ones with their reason,
        the others split between treated and control.

        At launch the split is exact (``split_control``); continuous
        enrolment draws each newcomer on its own hash (``assign_control``),
        so a later run never moves a customer from one group to the other.
        """
        self.ensure_one()
        reasons = self._get_exclusion_reasons(profiles)
        groups = self._draw_groups(profiles, reasons, exact_split=exact_split)
        first_step = self.step_ids.sorted("sequence")[:1]
        window_end = fields.Date.add(today, days=self.outcome_days)
        followers = self._follow_up_users(profiles)
        vals_list = []
        for profile in profiles:
            group = groups[profile.id]
            vals = {
                "campaign_id": self.id,
                "profile_id": profile.id,
                "partner_id": profile.partner_id.id,
                "user_id": followers[profile.id].id,
                "member_group": group,
                "enrol_date": today,
                "window_end_date": window_end,
                "state": "opted_out" if group == "excluded" else "targeted",
                "exclusion_reason": reasons.get(profile.id, False),
            }
            if group == "treated" and first_step:
                vals["next_step_id"] = first_step.id
                vals["next_step_date"] = fields.Date.add(today, days=first_step.delay_days)
            vals_list.append(vals)
        members = self.env["crm.retention.campaign.member"].sudo().create(vals_list)
        members._freeze_enrolment_state()
        treated = members.filtered(lambda m: m.member_group == "treated")
        if self.offer_use_codes and treated:
            treated._assign_offer_codes()
        return members

    def _draw_groups(self, profiles, reasons, exact_split=False, control_share=None):
        """{profile id: "treated" | "control" | "excluded"}: the draw of the
        launch (``exact_split``: exactly the control share, ``split_control``)
        or of continuous enrolment (each on its own hash). Reproducible from
        the campaign's seed, so the launch wizard previews the very groups the
        launch will make."""
        self.ensure_one()
        share = self.control_share if control_share is None else control_share
        eligible = [p.id for p in profiles if p.id not in reasons]
        if exact_split:
            __, control = campaign_lib.split_control(eligible, share, self.random_seed)
            control = set(control)
        else:
            drawn = campaign_lib.assign_control(eligible, share, self.random_seed)
            control = {pid for pid, held_out in drawn.items() if held_out}
        return {
            p.id: "excluded" if p.id in reasons else ("control" if p.id in control else "treated")
            for p in profiles
        }

    def _follow_up_users(self, profiles):
        """{profile id: user} who follows each customer up: its salesperson
        when he works for the campaign's company, else the campaign's owner
        (possibly nobody). Sudo: reads only the salespeople's companies."""
        self.ensure_one()
        local = profiles.user_id.sudo().filtered(
            lambda u: u.active and self.company_id in u.company_ids
        )
        return {p.id: p.user_id if p.user_id in local else self.user_id for p in profiles}

    def _enrol_newcomers(self, today):
        """Continuous enrolment: enrol the customers who started matching."""
        self.ensure_one()
        self._check_runnable()
        profiles = self._get_target_profiles()
        if profiles:
            self._enrol(profiles, today)
