from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import consteq, hmac

from ..lib.unsubscribe import mask_email
from .crm_customer_profile import RISK_LEVELS

# the HMAC scope of the unsubscribe links: a token signed for another use of
# the database secret never opens this route
UNSUBSCRIBE_SCOPE = "crm_retention-unsubscribe"

OPT_OUT_ORIGINS = [
    ("manual", "Set by a user"),
    ("link", "Unsubscribe link in an e-mail"),
    ("one_click", "Unsubscribe button of the mail client"),
]


class ResPartner(models.Model):
    """Show the customer's lifecycle on the partner.

    ``lifecycle_stage_id`` is company-dependent and stored (jsonb), so the
    partner list can be filtered and grouped by stage in each company; the
    recompute writes it in bulk. The other fields read the current
    company's profile of the commercial partner: a contact shows its
    company's lifecycle.
    """

    _inherit = "res.partner"

    lifecycle_stage_id = fields.Many2one(
        "crm.lifecycle.stage",
        string="Lifecycle Stage",
        company_dependent=True,
        copy=False,
        help="The customer's lifecycle stage in the current company. Retention managers "
        "can move the customer to another stage: the stage is then pinned.",
    )
    retention_opt_out = fields.Boolean(
        string="No Retention Campaigns",
        copy=False,
        help="The customer asked not to receive retention offers: campaigns list it as "
        "excluded and never message it.",
    )
    # no group, like the box itself: whoever may tick it records when and how
    retention_opt_out_date = fields.Datetime(string="Opted Out On", copy=False, readonly=True)
    retention_opt_out_origin = fields.Selection(
        OPT_OUT_ORIGINS, string="Opted Out Through", copy=False, readonly=True
    )
    retention_profile_id = fields.Many2one(
        "crm.customer.profile",
        compute="_compute_retention_profile_id",
        string="Retention Profile",
        groups="crm_retention.group_retention_user",
    )
    retention_churn_probability = fields.Float(
        compute="_compute_retention_profile_id",
        string="Churn Probability",
        groups="crm_retention.group_retention_user",
    )
    retention_risk_level = fields.Selection(
        RISK_LEVELS,
        compute="_compute_retention_profile_id",
        string="Churn Risk",
        groups="crm_retention.group_retention_user",
    )
    retention_predicted_clv = fields.Monetary(
        compute="_compute_retention_profile_id",
        string="Predicted CLV",
        currency_field="retention_currency_id",
        groups="crm_retention.group_retention_user",
    )
    retention_currency_id = fields.Many2one(
        "res.currency",
        compute="_compute_retention_profile_id",
        groups="crm_retention.group_retention_user",
    )
    retention_last_deal_date = fields.Date(
        compute="_compute_retention_profile_id",
        string="Last Deal",
        groups="crm_retention.group_retention_user",
    )
    retention_won_count = fields.Integer(
        compute="_compute_retention_profile_id",
        string="Won Deals",
        groups="crm_retention.group_retention_user",
    )
    retention_stage_locked = fields.Boolean(
        compute="_compute_retention_profile_id",
        string="Stage Pinned",
        groups="crm_retention.group_retention_user",
    )
    retention_risk_reason = fields.Char(
        compute="_compute_retention_profile_id",
        string="Why",
        groups="crm_retention.group_retention_user",
    )
    retention_value_at_risk = fields.Monetary(
        compute="_compute_retention_profile_id",
        string="Value at Risk",
        currency_field="retention_currency_id",
        groups="crm_retention.group_retention_user",
    )
    retention_act_before_date = fields.Date(
        compute="_compute_retention_profile_id",
        string="Act Before",
        groups="crm_retention.group_retention_user",
    )
    retention_history_count = fields.Integer(
        compute="_compute_retention_history_count",
        groups="crm_retention.group_retention_user",
    )

    @api.depends_context("company")
    @api.depends("commercial_partner_id")
    def _compute_retention_profile_id(self):
        commercial = self.commercial_partner_id
        profiles = self.env["crm.customer.profile"].search(
            [
                ("partner_id", "in", commercial.ids),
                ("company_id", "=", self.env.company.id),
            ]
        )
        by_partner = {p.partner_id.id: p for p in profiles}
        empty = profiles.browse()
        for partner in self:
            profile = by_partner.get(partner.commercial_partner_id.id, empty)
            partner.retention_profile_id = profile
            partner.retention_churn_probability = profile.churn_probability
            partner.retention_risk_level = profile.risk_level
            partner.retention_predicted_clv = profile.predicted_clv
            partner.retention_currency_id = profile.currency_id
            partner.retention_last_deal_date = profile.last_deal_date
            partner.retention_won_count = profile.won_count
            partner.retention_stage_locked = profile.stage_locked
            partner.retention_risk_reason = profile.risk_reason if profile else False
            partner.retention_value_at_risk = profile.value_at_risk
            partner.retention_act_before_date = profile.act_before_date

    @api.model_create_multi
    def create(self, vals_list):
        # the stage comes from the customer's deals, never from a create
        for vals in vals_list:
            vals.pop("lifecycle_stage_id", None)
        return super().create(vals_list)

    def write(self, vals):
        if "retention_opt_out" in vals and "retention_opt_out_origin" not in vals:
            # a user ticking or clearing the box on the form: say when and who
            vals = dict(vals)
            if vals["retention_opt_out"]:
                vals.update(
                    retention_opt_out_date=fields.Datetime.now(), retention_opt_out_origin="manual"
                )
            else:
                vals.update(retention_opt_out_date=False, retention_opt_out_origin=False)
        if "lifecycle_stage_id" in vals:
            vals = dict(vals)
            stage_id = vals.pop("lifecycle_stage_id")
            changed = self.filtered(lambda p: p.lifecycle_stage_id.id != stage_id)
            if changed:
                changed._set_lifecycle_stage(stage_id)
            if not vals:
                return True
        moving = {"parent_id", "is_company"} & vals.keys()
        commercial_before = {p.id: p.commercial_partner_id.id for p in self} if moving else {}
        res = super().write(vals)
        if moving:
            self._retention_refresh_moved(commercial_before)
        if "user_id" in vals:
            # the profile's salesperson follows the customer's (sudo: a derived
            # field of the profiles, whoever may change the partner)
            self.env["crm.customer.profile"].sudo()._sync_owners(
                partner_ids=self.commercial_partner_id.ids
            )
        return res

    def unlink(self):
        # a deleted contact's leads lose their partner (and so its company
        # its deals): refresh the companies, which remain
        parents = (self.commercial_partner_id - self).ids
        res = super().unlink()
        if parents:
            self._retention_refresh_customers(parents)
        return res

    def _retention_refresh_customers(self, partner_ids):
        """Refresh ``partner_ids`` (commercial partners) in every company
        where they have a profile."""
        Profile = self.env["crm.customer.profile"].sudo()
        profiles = Profile.search([("partner_id", "in", partner_ids)])
        Profile._recompute_customers({(p.partner_id.id, p.company_id) for p in profiles})

    def _retention_refresh_moved(self, commercial_before):
        """Contacts whose commercial partner changed (a contact moved to
        another company, a person made a company): their deals now count
        for the new one. Refresh both customers at once in each company
        where the old one has a profile, so the nightly run, which reads the
        profiles' stored aggregates, starts from the right ones."""
        moved = {
            (commercial_before[partner.id], partner.commercial_partner_id.id)
            for partner in self
            if commercial_before.get(partner.id) != partner.commercial_partner_id.id
        }
        if not moved:
            return
        news = {}
        for old, new in moved:
            news.setdefault(old, set()).add(new)
        Profile = self.env["crm.customer.profile"].sudo()
        keys = set()
        for profile in Profile.search([("partner_id", "in", list(news))]):
            old = profile.partner_id.id
            keys |= {(partner, profile.company_id) for partner in {old, *news[old]}}
        Profile._recompute_customers(keys)

    def _set_lifecycle_stage(self, stage_id):
        """A manager moved the customer (statusbar): change the profile's
        stage, which checks access rights, pins the stage and logs it. The
        recompute writes this field in SQL, so every ORM write is a person's."""
        # sudo to find the profiles only; the write below runs as the user
        profiles = (
            self.env["crm.customer.profile"]
            .sudo()
            .search(
                [
                    ("partner_id", "in", self.commercial_partner_id.ids),
                    ("company_id", "=", self.env.company.id),
                ]
            )
        )
        if len(profiles) < len(self.commercial_partner_id):
            raise UserError(
                self.env._(
                    "This customer has no lifecycle yet in %(company)s: it starts with its "
                    "first opportunity.",
                    company=self.env.company.name,
                )
            )
        profiles.with_env(self.env).write({"stage_id": stage_id})

    def _compute_retention_history_count(self):
        History = self.env["crm.lifecycle.history"]
        counts = dict(
            History._read_group(
                [
                    ("partner_id", "in", self.commercial_partner_id.ids),
                    ("company_id", "=", self.env.company.id),
                ],
                ["partner_id"],
                ["__count"],
            )
        )
        for partner in self:
            partner.retention_history_count = counts.get(partner.commercial_partner_id, 0)

    def action_view_lifecycle_history(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "crm_retention.crm_lifecycle_history_action"
        )
        action["domain"] = [("partner_id", "=", self.commercial_partner_id.id)]
        action["context"] = {"create": False}
        return action

    def action_view_retention_profile(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": "crm.customer.profile",
            "res_id": self.retention_profile_id.id,
            "view_mode": "form",
        }

    # ------------------------------------------------------------------
    # BUSINESS: opting out of retention campaigns
    # ------------------------------------------------------------------

    def _retention_unsubscribe_token(self):
        """The signature of this customer's unsubscribe link: an HMAC of the
        partner id and its normalized e-mail with the database secret. It
        opens nothing for another partner, and a link sent to an address the
        customer no longer has stops working."""
        self.ensure_one()
        return hmac(self.env(su=True), UNSUBSCRIBE_SCOPE, (self.id, self.email_normalized))

    def _retention_unsubscribe_url(self):
        """The absolute URL of this customer's unsubscribe page (also the
        target of the RFC 8058 one-click POST)."""
        self.ensure_one()
        return (
            f"{self.get_base_url()}/crm_retention/unsubscribe/{self.id}/"
            f"{self._retention_unsubscribe_token()}"
        )

    @api.model
    def _retention_unsubscribe_partner(self, partner_id, token):
        """The partner whose unsubscribe link is (``partner_id``, ``token``),
        as superuser, or an empty recordset when the link is not valid:
        unknown partner, no e-mail any more, a token of another partner or of
        a former address, a forged token. The caller cannot tell which (no
        probing for partner ids)."""
        # sudo: the public visitor cannot read partners; the record is only
        # compared with the signed token before anything is shown or written
        partner = self.sudo().browse(partner_id).exists()
        if not partner or not partner.email_normalized or not isinstance(token, str):
            return self.sudo().browse()
        if not consteq(partner._retention_unsubscribe_token(), token):
            return self.sudo().browse()
        return partner

    def _retention_masked_email(self):
        self.ensure_one()
        return mask_email(self.email_normalized)

    def _retention_opt_out(self, origin, blacklist=False):
        """Opt these customers out of retention campaigns, at their request
        (``origin`` ``link``/``one_click``) or a user's (``manual``).

        - ``retention_opt_out`` with its date and origin, for the partners
          not yet opted out (a second click changes nothing);
        - their treated members still awaiting a response in running or
          paused campaigns become *Opted out*, and no member of theirs keeps
          a next step (the runner also skips opted-out customers);
        - ``blacklist``: their addresses join ``mail.blacklist`` (no e-mail
          at all from the database);
        - a note on each partner says what the customer asked and when.

        Returns the partners newly opted out. The caller checks the right to
        do it (the signed link, or the user's access to a member).

        Example: ``partner._retention_opt_out("link", blacklist=True)``.
        """
        now = fields.Datetime.now()
        new = self.filtered(lambda p: not p.retention_opt_out)
        if new:
            new.write(
                {
                    "retention_opt_out": True,
                    "retention_opt_out_date": now,
                    "retention_opt_out_origin": origin,
                }
            )
        members = self.env["crm.retention.campaign.member"].search(
            [
                ("partner_id", "in", self.ids),
                ("campaign_id.state", "in", ("running", "paused")),
                ("outcome_final", "=", False),
            ]
        )
        members._awaiting_response().write({"state": "opted_out"})
        members.filtered("next_step_id").write({"next_step_id": False, "next_step_date": False})
        blacklisted = self.browse()
        if blacklist:
            Blacklist = self.env["mail.blacklist"]
            for partner in self.filtered(lambda p: p.email_normalized and not p.is_blacklisted):
                Blacklist._add(
                    partner.email_normalized,
                    message=self.env._("Asked on the retention campaign unsubscribe page."),
                )
                blacklisted |= partner
            blacklisted.invalidate_recordset(["is_blacklisted"])
        origins = dict(self._fields["retention_opt_out_origin"]._description_selection(self.env))
        bodies = {}
        for partner in new | blacklisted:
            lines = []
            if partner in new:
                lines.append(
                    self.env._(
                        "Opted out of retention campaigns (%(origin)s).", origin=origins[origin]
                    )
                )
            if partner in blacklisted:
                lines.append(self.env._("Asked to receive no e-mail at all: address blacklisted."))
            bodies[partner.id] = Markup("<br/>").join(lines)
        logged = self.browse(bodies)
        if origin == "manual":
            logged._message_log_batch(bodies)
        else:
            # the customer's own request is authored by the customer
            for partner in logged:
                partner._message_log_batch(bodies, author_id=partner.id)
        return new
