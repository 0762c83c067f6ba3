import logging

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import SQL

from ..lib import campaign as campaign_lib
from .crm_customer_profile import RISK_LEVELS

_logger = logging.getLogger(__name__)

MEMBER_STATES = [
    ("targeted", "Targeted"),
    ("contacted", "Contacted"),
    ("responded", "Responded"),
    ("retained", "Retained"),
    ("not_retained", "Not retained"),
    ("opted_out", "Opted out"),
]

MEMBER_GROUPS = [
    ("treated", "Treated"),
    ("control", "Control"),
    ("excluded", "Excluded"),
]


class CrmRetentionCampaignMember(models.Model):
    """A customer enrolled in a campaign, treated or held out as control.

    ``state`` follows targeted → contacted (a step reached the customer) →
    responded (a reply, or marked by the salesperson) → retained / not
    retained (outcome window closed without a deal) or opted out. The
    outcome is measured for treated and control members alike from the
    lifecycle deal source (``_refresh_outcomes``); ``retained_count`` (0/1)
    and ``revenue`` make the retention rate and revenue summable in reports.

    Excluded members (opted out or blacklisted at enrolment) are recorded
    with their reason so the manager sees who was left out and why; they
    are neither messaged nor measured.

    A retention user (every salesperson) may write only the fields of
    ``_get_user_writable_fields``: group, outcome, money, schedule, dates,
    customer and code are written by the launch, the cron, the outcome
    refresh and the ``action_*`` buttons (see ``write``).
    """

    _name = "crm.retention.campaign.member"
    _description = "Retention Campaign Member"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "campaign_id, id"
    _rec_name = "partner_id"
    _check_company_auto = True

    # identity
    campaign_id = fields.Many2one(
        "crm.retention.campaign", required=True, ondelete="cascade", index=True, check_company=True
    )
    company_id = fields.Many2one(related="campaign_id.company_id", store=True, index=True)
    currency_id = fields.Many2one(related="company_id.currency_id")
    profile_id = fields.Many2one(
        "crm.customer.profile",
        string="Customer Profile",
        ondelete="set null",
        index=True,
        check_company=True,
    )
    partner_id = fields.Many2one(
        "res.partner",
        string="Customer",
        required=True,
        index=True,
        ondelete="cascade",
        check_company=True,
    )
    user_id = fields.Many2one(
        "res.users",
        string="Salesperson",
        index=True,
        check_company=True,
        help="Who follows the customer up.",
    )
    stage_id = fields.Many2one(related="profile_id.stage_id", string="Current Stage")
    objective = fields.Selection(related="campaign_id.objective")
    campaign_state = fields.Selection(related="campaign_id.state", string="Campaign Status")
    # group and state
    member_group = fields.Selection(
        MEMBER_GROUPS, string="Group", required=True, default="treated", index=True, readonly=True
    )
    state = fields.Selection(
        MEMBER_STATES, required=True, default="targeted", index=True, tracking=True
    )
    exclusion_reason = fields.Char(help="Why the customer is not messaged (opt-out, blacklist...).")
    last_issue = fields.Char(
        help="The last reason a step could not reach the customer (no e-mail, missing "
        "template...); the campaign goes on with the next steps.",
    )
    enrol_date = fields.Date(string="Enrolled On", required=True, index=True)
    # the segment the member is evidence for (see campaign/recommend.py)
    enrol_risk_level = fields.Selection(RISK_LEVELS, string="Risk at Enrolment", readonly=True)
    enrol_value_at_risk = fields.Monetary(string="Value at Risk at Enrolment", readonly=True)
    contacted_date = fields.Date(string="Contacted On")
    responded_date = fields.Date(string="Responded On")
    retained_date = fields.Date(string="Retained On", help="Date of the first deal in the window.")
    window_end_date = fields.Date(string="Outcome Window End", index=True)
    outcome_final = fields.Boolean(
        index=True, help="The outcome window is closed: the outcome no longer changes."
    )
    # offer
    offer_code = fields.Char(copy=False, index=True)
    offer_expiry_date = fields.Date(string="Offer Valid Until")
    # money
    retained_count = fields.Integer(
        string="Retained", aggregator="sum", help="1 when retained: sums to retained customers."
    )
    revenue = fields.Monetary(
        help="Won revenue in the outcome window, in the company currency.", aggregator="sum"
    )
    contact_cost = fields.Monetary(aggregator="sum")
    offer_cost = fields.Monetary(
        aggregator="sum", help="Value of the offer redeemed by a retained treated customer."
    )
    cost = fields.Monetary(aggregator="sum")
    # steps
    next_step_id = fields.Many2one(
        "crm.retention.campaign.step", ondelete="set null", index=True, check_company=True
    )
    next_step_date = fields.Date(index=True)
    execution_ids = fields.One2many(
        "crm.retention.campaign.step.execution", "member_id", string="Step Log"
    )

    _sql_constraints = [
        (
            "campaign_partner_uniq",
            "UNIQUE(campaign_id, partner_id)",
            "A customer is enrolled once per campaign.",
        ),
        ("offer_code_uniq", "UNIQUE(offer_code)", "Offer codes are unique."),
    ]

    # ------------------------------------------------------------------
    # ORM
    # ------------------------------------------------------------------

    def write(self, vals):
        self._check_user_writable(vals)
        return super().write(vals)

    def _check_user_writable(self, vals):
        """Refuse a retention user's direct write of a protected field.

        A salesperson writes its members (to reassign them, to follow them up
        in the chatter), but their group, outcome, money, schedule, dates,
        customer and offer code decide what the cron sends to whom and the
        campaign's uplift and ROI: only retention managers and the suite's
        own code running as superuser (launch, cron, outcome refresh, the
        ``action_*`` buttons after their access check) change them.
        """
        if self.env.su or self.env.user.has_group("crm_retention.group_retention_manager"):
            return
        if "user_id" in vals and not vals["user_id"]:
            # a member without salesperson is everybody's (record rules):
            # handing it over is fine, dropping it is not
            raise UserError(
                self.env._(
                    "A campaign member is followed by a salesperson: choose who takes it over."
                )
            )
        protected = set(vals) - self._get_user_writable_fields()
        if protected:
            names = ", ".join(
                sorted(
                    self._fields[f]._description_string(self.env)
                    for f in protected
                    if f in self._fields
                )
            )
            raise AccessError(
                self.env._(
                    "Only a retention manager can change these fields of a campaign member: "
                    "%(fields)s. Use the Responded, Opt Out or New Opportunity buttons instead.",
                    fields=names or ", ".join(sorted(protected)),
                )
            )

    @api.model
    def _get_user_writable_fields(self):
        """Fields a retention user may write directly: the salesperson and
        what the chatter and activities write. Extension point: a bridge
        adding a field salespeople edit extends this set."""
        mixins = set(self.env["mail.thread"]._fields) | set(self.env["mail.activity.mixin"]._fields)
        return {"user_id"} | (mixins - set(models.MAGIC_COLUMNS))

    def _mail_get_partner_fields(self, introspect_fields=False):
        return ["partner_id"]

    def _message_post_after_hook(self, message, msg_values):
        """An e-mail from the customer on the member's thread (a reply to a
        campaign e-mail is routed here) is a response."""
        res = super()._message_post_after_hook(message, msg_values)
        if msg_values.get("message_type") == "email" and msg_values.get("author_id"):
            author = self.env["res.partner"].sudo().browse(msg_values["author_id"])
            responders = self.filtered(
                lambda m: m.partner_id == author.commercial_partner_id
                and m.state in ("targeted", "contacted")
            )
            responders.sudo()._mark_responded()
        return res

    # ------------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------------

    # The buttons are what a salesperson may do to a member: each checks the
    # user's write access to the records, then writes the protected fields as
    # superuser (see _check_user_writable).

    def action_mark_responded(self):
        self.check_access("write")
        # sudo: access checked above; writes only the response state and date
        self._awaiting_response().sudo()._mark_responded()
        return True

    def action_opt_out(self):
        """The customer asked to hear no more: stop its steps and exclude it
        from future campaigns. It stays in the measurement (intention to
        treat), so results are not flattered by dropping the unwilling."""
        self.check_access("write")
        # sudo: access checked above; stops the steps, nothing else. Control
        # and excluded members receive no steps and a closed outcome no
        # longer moves: only the customer's choice is recorded for them.
        self._awaiting_response().sudo().write(
            {"state": "opted_out", "next_step_id": False, "next_step_date": False}
        )
        # the customer's other campaigns stop too; the partner shows when and how
        self.partner_id.sudo()._retention_opt_out("manual")
        return True

    def action_create_opportunity(self):
        """Open an opportunity for the customer, attributed to the campaign's
        UTM campaign, and count it as a response."""
        self.ensure_one()
        self.check_access("write")
        campaign = self.campaign_id
        lead = self.env["crm.lead"].create(
            {
                "name": self.env._("%(campaign)s: %(customer)s", campaign=campaign.name,
                                   customer=self.partner_id.name),
                "type": "opportunity",
                "partner_id": self.partner_id.id,
                "user_id": self.user_id.id or self.env.uid,
                "team_id": campaign.team_id.id,
                "company_id": campaign.company_id.id,
                "campaign_id": campaign.utm_campaign_id.id,
            }
        )  # fmt: skip
        # sudo: access checked above; writes only the response state and date
        self._awaiting_response().sudo()._mark_responded()
        return {
            "type": "ir.actions.act_window",
            "res_model": "crm.lead",
            "res_id": lead.id,
            "view_mode": "form",
            "views": [(False, "form")],
        }

    # ------------------------------------------------------------------
    # BUSINESS: state
    # ------------------------------------------------------------------

    def _awaiting_response(self):
        """The treated members whose outcome is still open and who have not
        answered yet: the only ones a salesperson's click may move (a
        response of a control member would bias the comparison, and a closed
        outcome is final)."""
        return self.filtered(
            lambda m: m.member_group == "treated"
            and not m.outcome_final
            and m.state in ("targeted", "contacted")
        )

    def _mark_responded(self):
        today = fields.Date.context_today(self)
        self.write({"state": "responded", "responded_date": today})

    def _assign_offer_codes(self):
        """Give each member a unique single-use code and its expiry date, in
        one UPDATE per campaign (``_write_offers``).

        Extension point: ``crm_retention_loyalty`` replaces the codes by real
        loyalty coupons when the loyalty app is installed.
        """
        for campaign, members in self.grouped("campaign_id").items():
            codes = campaign_lib.generate_codes(
                len(members), prefix=(campaign.offer_code_prefix or "").upper()
            )
            members._write_offers(
                {
                    "offer_code": codes,
                    "offer_expiry_date": [
                        fields.Date.add(m.enrol_date, days=campaign.offer_validity_days)
                        for m in members
                    ],
                }
            )

    def _write_offers(self, columns):
        """Write a value per member in one UPDATE: ``columns`` maps a stored
        field to a list of values in the order of ``self``. Offers are
        written to every member of a launch at once; the ORM would write
        each member apart (every value differs). The caches are updated and
        the fields marked modified, as a write would."""
        if not self:
            return
        self.flush_recordset(list(columns))
        names = list(columns)
        arrays = [SQL("%s::int[]", self.ids)] + [
            SQL("%s::%s[]", list(columns[name]), SQL(self._fields[name].column_type[1]))
            for name in names
        ]
        self.env.cr.execute(
            SQL(
                """
                UPDATE crm_retention_campaign_member m
                   SET %(assignments)s, write_uid = %(uid)s,
                       write_date = (now() AT TIME ZONE 'UTC')
                  FROM unnest(%(arrays)s) AS v(id, %(names)s)
                 WHERE m.id = v.id
                """,
                assignments=SQL(", ").join(
                    SQL("%s = v.%s", SQL.identifier(n), SQL.identifier(n)) for n in names
                ),
                uid=self.env.uid,
                arrays=SQL(", ").join(arrays),
                names=SQL(", ").join(SQL.identifier(n) for n in names),
            )
        )
        self.invalidate_recordset([*names, "write_uid", "write_date"])
        self.modified(names)
