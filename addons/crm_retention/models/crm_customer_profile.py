import logging

import numpy as np

from odoo import api, fields, models
from odoo.tools import is_html_empty
from odoo.tools.misc import format_date

from ..lib import lifecycle
from ..lib.lifecycle import RISK_REASONS
from ..recompute.layout import RecomputeRunning  # noqa: F401 (public: callers catch it here)

_logger = logging.getLogger(__name__)

RISK_LEVELS = [("low", "Low"), ("medium", "Medium"), ("high", "High")]
# the next best action (campaign/recommend.py)
RECOMMENDED_ACTIONS = [
    ("offer", "Make an offer"),
    ("no_action", "No action: no offer pays"),
    ("experiment", "Run an experiment"),
]
# what the reason sentence reads (_risk_sentence)
RISK_SENTENCE_FIELDS = [
    "risk_reason_code",
    "deal_days",
    "days_since_last_deal",
    "expected_interval_days",
    "overdue_ratio",
    "p_alive",
    "p_alive_expected",
    "p_alive_if_deal",
    "act_before_date",
    "metrics_date",
]


class CrmCustomerProfile(models.Model):
    """What the company knows about one customer's relationship with it.

    One profile per (commercial partner, company): contacts roll up to their
    commercial partner, and each company of a multi-company database has its
    own view of the same customer. Metrics are stored so that stage rules,
    searches, list views and reports read them without recomputing; they are
    refreshed

    * by the daily cron / "Recompute now" (``_recompute_company``), set-based
      over all customers of a company, in committed batches;
    * at once for one customer when one of its opportunities is won, un-won or
      changes amount, date, partner or company (``_recompute_partners``).

    Both paths share ``_write_batch``: metrics come from ``lib.lifecycle``
    (pure numpy) and the churn model fitted per company
    (``crm.retention.model``); stage rules are then evaluated in SQL
    (``_evaluate_stages``) and changes logged in ``crm.lifecycle.history``.
    """

    _name = "crm.customer.profile"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _description = "Customer Retention Profile"
    # whoever may read a customer's profile may note on it and plan a call:
    # salespeople read their customers' profiles, only the engine writes them
    _mail_post_access = "read"
    # the customers the company stands to lose the most money on first
    _order = "value_at_risk desc nulls last, churn_probability desc, id"
    _rec_name = "partner_id"
    _check_company_auto = True

    # identity
    partner_id = fields.Many2one(
        "res.partner",
        string="Customer",
        required=True,
        ondelete="cascade",
        domain="[('is_company', '=', True)]",
    )
    company_id = fields.Many2one("res.company", required=True, index=True, ondelete="cascade")
    currency_id = fields.Many2one(related="company_id.currency_id")
    user_id = fields.Many2one(
        "res.users",
        string="Salesperson",
        readonly=True,
        help="Who looks after the customer: its salesperson, else the salesperson of its "
        "latest opportunity. Kept in sync by the recompute and when either changes.",
    )
    # lifecycle
    stage_id = fields.Many2one(
        "crm.lifecycle.stage",
        string="Stage",
        index=True,
        ondelete="restrict",
        check_company=True,
        group_expand="_read_group_stage_ids",
    )
    stage_kind = fields.Selection(related="stage_id.kind", store=True, string="Stage Kind")
    stage_date = fields.Datetime(string="In Stage Since")
    stage_locked = fields.Boolean(
        string="Pinned",
        help="A manager pinned this stage: the rules leave it alone until it is unpinned.",
    )
    lapsed_date = fields.Date(
        help="When the customer last entered an At risk or Lost stage; a deal after it "
        "makes the customer Won back."
    )
    history_ids = fields.One2many("crm.lifecycle.history", "profile_id", string="Stage History")
    history_start = fields.Date(
        string="History From",
        readonly=True,
        copy=False,
        help="The first day the stage history covers. The history is rebuilt from the "
        "customer's purchases when it starts after its first deal (the first run after "
        "installing, or after importing past sales).",
    )
    # deal metrics
    opportunity_count = fields.Integer(string="Opportunities")
    won_count = fields.Integer(string="Won Deals")
    deal_days = fields.Integer(
        help="Distinct days with a won deal (deals of the same day count once in the model)."
    )
    first_deal_date = fields.Date()
    last_deal_date = fields.Date()
    prev_deal_date = fields.Date(string="Previous Deal Date")
    won_revenue = fields.Monetary(help="Won revenue in the company currency.")
    avg_deal_amount = fields.Monetary(string="Average Deal Amount")
    avg_days_between_deals = fields.Float(digits=(16, 1))
    days_since_last_deal = fields.Integer()
    expected_interval_days = fields.Float(
        digits=(16, 1),
        help="The customer's own average interval between deals or, for one-time buyers, "
        "the typical repeat interval of the company's customers.",
    )
    overdue_ratio = fields.Float(
        digits=(16, 2),
        help="Days since the last deal divided by the expected interval: above 1 the "
        "customer is late against its own purchase rhythm.",
    )
    expected_next_deal_date = fields.Date()
    deals_since_lapse = fields.Integer(
        help="Deal days since the customer last lapsed (capped at 2)."
    )
    metrics_date = fields.Date(
        string="Computed On",
        help="Date of the recompute that last changed these metrics: a customer whose "
        "values did not change is not rewritten.",
    )
    # database clock, with microseconds, written in SQL only: a batch of the
    # full recompute never overwrites a profile stamped after the run read
    # the deals (see _upsert_batch)
    metrics_stamp = fields.Datetime(
        string="Metrics Read At",
        readonly=True,
        help="When the deals behind these metrics were read: the full recompute leaves "
        "alone a customer refreshed (a deal won) after it read the deals.",
    )
    # churn model outputs
    p_alive = fields.Float(
        string="P(alive)",
        digits=(16, 3),
        aggregator="avg",
        help="The chance the customer still buys from you, from its own purchase history "
        "(how often it bought, how long it has been silent) and the company's churn model.",
    )
    churn_probability = fields.Float(
        digits=(16, 3),
        aggregator="avg",
        help="1 - P(alive): the chance the customer has already stopped buying.",
    )
    expected_deals_90d = fields.Float(
        string="Expected Deals (90 days)", digits=(16, 2), aggregator="sum"
    )
    predicted_clv = fields.Monetary(string="Predicted CLV (12 months)")
    # not indexed: the recompute rewrites it, and an indexed column that
    # changes makes the row's update non-HOT (every index written again)
    risk_level = fields.Selection(RISK_LEVELS, default="low")
    # why, by when, how much (see lib.lifecycle)
    risk_reason_code = fields.Selection(
        RISK_REASONS,
        string="Risk Reason",
        default="none",
        help="The rule that explains the risk level, the plainest first: no deal for the "
        "'lost after' days, late against the customer's own rhythm, then the churn model.",
    )
    risk_reason = fields.Char(
        string="Why",
        compute="_compute_risk_reason",
        help="Why this customer is (or is not) at risk, with the figures behind it.",
    )
    act_before_date = fields.Date(
        string="Act Before",
        help="The day this customer turns at risk if it buys nothing: late against its "
        "rhythm, or the churn model's chance it is still active falling below the at-risk "
        "threshold once it is past its expected next purchase, whichever comes first. In the "
        "past for a customer already at risk.",
    )
    # read from the stored purchase metrics and the company's model on
    # every read (not stored: they would add two columns rewritten nightly)
    p_alive_half_date = fields.Date(
        string="P(alive) Below 50 % On",
        compute="_compute_outlook",
        help="The day the chance this customer is still active falls to 50 % or below if it "
        "buys nothing more (with no new deal it only falls). Empty when it is already at or "
        "below 50 %, for a customer who bought only once (the churn model counts it active "
        "until it buys again) and without a fitted churn model.",
    )
    expected_active_days = fields.Float(
        string="Expected Remaining Active Time",
        compute="_compute_outlook",
        digits=(16, 0),
        help="How many of the next 10 years this customer is expected to remain a customer, "
        "in days, from its purchase history and the company's churn model (its purchases, and "
        "the chance of leaving after each, going on). Restricted to 10 years: 3652 days means "
        "it is expected to stay throughout. From the day the metrics were computed; empty "
        "without a fitted churn model.",
    )
    p_alive_expected = fields.Float(
        string="P(alive) at Expected Date",
        digits=(16, 3),
        aggregator="avg",
        help="The chance the customer is still active on the date its next deal is due, "
        "if it buys nothing until then.",
    )
    p_alive_if_deal = fields.Float(
        string="P(alive) if It Buys Today",
        digits=(16, 3),
        aggregator="avg",
        help="What one more deal today would bring the chance it is still active to.",
    )
    value_if_retained = fields.Monetary(
        string="Value if Retained",
        help="Discounted value of the customer's next 12 months if it is still active: the "
        "predicted CLV without the churn discount (which makes customers at risk look "
        "worthless). In the company currency.",
    )
    risk_activity_id = fields.Many2one(
        "mail.activity",
        string="Open Stage Activity",
        readonly=True,
        index="btree_not_null",
        ondelete="set null",
        help="The activity the customer's last move into a notifying stage created, while it "
        "is open: no second one until it is done.",
    )
    # what to offer (campaign/recommend.py)
    recommended_action = fields.Selection(
        RECOMMENDED_ACTIONS,
        string="Next Best Action",
        readonly=True,
        help="From the company's finished campaigns with a control group: the offer of "
        "highest expected incremental margin for customers like this one, no action when none "
        "pays, or an experiment when no campaign has tested an offer on such customers yet.",
    )
    recommended_offer = fields.Char(
        string="Recommended Offer Key",
        readonly=True,
        help="Key of the recommended offer, objective:offer type (e.g. retain:percentage): "
        "a campaign can target [('recommended_offer', '=', 'retain:percentage')].",
    )
    recommended_offer_label = fields.Char(
        string="Recommended Offer", compute="_compute_recommendation_evidence"
    )
    recommended_margin = fields.Monetary(
        string="Expected Margin",
        readonly=True,
        help="Uplift x value at risk - cost per member of the recommended offer.",
    )
    recommended_uplift = fields.Float(readonly=True, digits=(16, 4))
    recommended_uplift_low = fields.Float(readonly=True, digits=(16, 4))
    recommended_uplift_high = fields.Float(readonly=True, digits=(16, 4))
    recommended_members = fields.Integer(readonly=True)
    recommended_campaigns = fields.Integer(readonly=True)
    recommendation_evidence = fields.Char(
        string="Evidence", compute="_compute_recommendation_evidence"
    )
    value_at_risk = fields.Monetary(
        string="Value at Risk",
        help="Churn probability x value if retained: what the company stands to lose with "
        "this customer. In the company currency.",
    )

    _sql_constraints = [
        (
            "partner_company_uniq",
            "UNIQUE(partner_id, company_id)",
            "A customer has one retention profile per company.",
        ),
    ]

    # ------------------------------------------------------------------
    # ORM
    # ------------------------------------------------------------------

    def init(self):
        # The daily recompute rewrites every customer with deals (P(alive)
        # and days since the last deal move with the date): half-empty pages
        # keep the new row versions on their page (HOT updates, no index
        # writes). Clean-ups of older schemas are in migrations/.
        self.env.cr.execute("ALTER TABLE crm_customer_profile SET (fillfactor = 50)")
        # the transaction that wrote the metrics (see _upsert_batch): a type
        # the ORM has no field for, so created here
        self.env.cr.execute(
            "ALTER TABLE crm_customer_profile ADD COLUMN IF NOT EXISTS metrics_xid xid8"
        )

    @api.depends(*RISK_SENTENCE_FIELDS)
    def _compute_risk_reason(self):
        """The sentence a salesperson reads, in the reader's language, from
        the stored figures (the recompute stores numbers and a code, never
        text: one customer base is read by teams of several languages)."""
        for profile in self:
            profile.risk_reason = profile._risk_sentence()

    @api.depends("deal_days", "first_deal_date", "last_deal_date", "metrics_date", "company_id")
    def _compute_outlook(self):
        """``p_alive_half_date`` and ``expected_active_days`` of the whole
        recordset at once (``lib.lifecycle.outlook``, numpy over the
        customers of each company), from the stored purchase metrics, on the
        day they were computed, like P(alive)."""
        self.p_alive_half_date = False
        self.expected_active_days = 0.0
        # sudo: the four public parameters of the companies of profiles the
        # user already reads (a salesperson may read the model, a profile
        # read through a related field may come from any reader)
        models = (
            self.env["crm.retention.model"]
            .sudo()
            .search([("company_id", "in", self.company_id.ids)])
        )
        params = {model.company_id: model._get_params() for model in models}
        today = fields.Date.context_today(self)
        for company, profiles in self.grouped("company_id").items():
            bgnbd = (params.get(company) or {}).get("bgnbd")
            if bgnbd is None:
                continue
            below, days = lifecycle.outlook(
                bgnbd,
                [p.deal_days for p in profiles],
                [p.first_deal_date or None for p in profiles],
                [p.last_deal_date or None for p in profiles],
                [p.metrics_date or today for p in profiles],
                threshold=0.5,
            )
            for profile, day, active in zip(profiles, below, days, strict=True):
                profile.p_alive_half_date = None if np.isnat(day) else day.item()
                profile.expected_active_days = float(active)

    @api.depends(
        "recommended_action",
        "recommended_offer",
        "recommended_uplift",
        "recommended_uplift_low",
        "recommended_uplift_high",
        "recommended_members",
        "recommended_campaigns",
    )
    def _compute_recommendation_evidence(self):
        Member = self.env["crm.retention.campaign.member"]
        for profile in self:
            profile.recommended_offer_label = Member._offer_label(profile.recommended_offer)
            profile.recommendation_evidence = profile._evidence_sentence()

    def _evidence_sentence(self):
        self.ensure_one()
        _ = self.env._
        if self.recommended_action == "experiment":
            return _(
                "No finished campaign with a control group has tested an offer on customers "
                "like this one: run one (with a control group) to learn what works."
            )
        if self.recommended_action not in ("offer", "no_action"):
            return ""
        uplift = f"{self.recommended_uplift * 100:+.1f}"
        low = f"{self.recommended_uplift_low * 100:+.1f}"
        high = f"{self.recommended_uplift_high * 100:+.1f}"
        members = self.recommended_members
        campaigns = self.recommended_campaigns
        return _(
            "Retention %(uplift)s points (95 %% interval %(low)s to %(high)s) over the control "
            "group among %(members)s similar customers of %(campaigns)s campaign(s).",
            uplift=uplift,
            low=low,
            high=high,
            members=members,
            campaigns=campaigns,
        )

    def _risk_sentence(self):
        self.ensure_one()
        _ = self.env._
        if self.risk_reason_code == "none" or not self.deal_days:
            return _("No purchase yet.")

        def pct(value):
            return f"{round(value * 100)} %"

        # values first: the string extractor reads every string token of a
        # translated call (an f-string argument would become its text)
        interval = round(self.expected_interval_days)
        since = self.days_since_last_deal
        ratio = f"{self.overdue_ratio:.1f}"
        parts = []
        if self.deal_days > 1:
            parts.append(
                _(
                    "Buys every %(interval)s days; %(since)s days since the last deal "
                    "(%(ratio)s× the usual gap)",
                    interval=interval,
                    since=since,
                    ratio=ratio,
                )
            )
            # without a fitted model every customer is "alive": say nothing
            if self.p_alive < 1 or self.p_alive_expected < 1:
                parts.append(
                    _(
                        "chance still active %(now)s (%(expected)s at the expected date)",
                        now=pct(self.p_alive),
                        expected=pct(self.p_alive_expected),
                    )
                )
        else:
            parts.append(
                _(
                    "Bought once, %(since)s days ago; customers usually buy again within "
                    "%(interval)s days",
                    since=since,
                    interval=interval,
                )
            )
        sentence = "; ".join(parts) + "."
        today = self.metrics_date or fields.Date.context_today(self)
        if self.act_before_date:
            if self.act_before_date > today:
                sentence += " " + _(
                    "Act before %(date)s.", date=format_date(self.env, self.act_before_date)
                )
            else:
                sentence += " " + _(
                    "At risk since %(date)s.", date=format_date(self.env, self.act_before_date)
                )
        if self.p_alive_if_deal > self.p_alive + 0.005:
            sentence += " " + _("One more deal now: %(chance)s.", chance=pct(self.p_alive_if_deal))
        return sentence

    @api.model
    def get_empty_list_help(self, help_message):
        """An empty list tells each user what he can do: a manager can run the
        recompute, a salesperson learns where his customers come from (the
        actions with a help of their own keep it)."""
        if not is_html_empty(help_message):
            return super().get_empty_list_help(help_message)
        if self.env.user.has_group("crm_retention.group_retention_manager"):
            text = self.env._(
                "Profiles are computed every night from won opportunities. To compute "
                "them now, open Configuration > Churn Models and click Recompute now."
            )
        else:
            text = self.env._(
                "Your customers appear here once they have a won opportunity: a customer "
                "is yours when you are its salesperson or the salesperson of its latest "
                "opportunity. Profiles are refreshed every night and as soon as a deal is won."
            )
        return super().get_empty_list_help(
            f'<p class="o_view_nocontent_smiling_face">{self.env._("No customer here yet")}</p>'
            f"<p>{text}</p>"
        )

    @api.model
    def _read_group_stage_ids(self, stages, domain):
        return stages.search([("company_id", "in", [False, *self.env.companies.ids])])

    @api.model_create_multi
    def create(self, vals_list):
        # the engine creates profiles in SQL; an ORM create (an import, a test)
        # gets its salesperson the same way
        profiles = super().create(vals_list)
        self._sync_owners(partner_ids=profiles.partner_id.ids)
        return profiles

    def write(self, vals):
        # the recompute changes stages in SQL: an ORM write of stage_id is a person
        if "stage_id" in vals:
            return self._set_stage_manually(vals)
        return super().write(vals)

    # ------------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------------

    def action_unpin_stage(self):
        """Give the stage back to the rules and re-evaluate it now."""
        self.check_access("write")
        self.sudo().write({"stage_locked": False})
        for company, profiles in self.grouped("company_id").items():
            self.sudo()._recompute_partners(profiles.partner_id.ids, company)
        return True

    def action_view_history(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "crm_retention.crm_lifecycle_history_action"
        )
        action["domain"] = [("profile_id", "=", self.id)]
        action["context"] = {"create": False}
        return action

    # ------------------------------------------------------------------
    # BUSINESS: manual stage changes
    # ------------------------------------------------------------------

    def _set_stage_manually(self, vals):
        """A manager moved customers to a stage: pin it and log the change."""
        vals = dict(vals)
        stage = self.env["crm.lifecycle.stage"].browse(vals.pop("stage_id"))
        changed = self.filtered(lambda p: p.stage_id != stage)
        # access rights are checked by the write itself (managers only)
        res = super().write(vals) if vals else True
        if not changed:
            return res
        self.check_access("write")
        old_stages = {p.id: p.stage_id for p in changed}
        old_dates = {p.id: p.stage_date for p in changed}
        now = fields.Datetime.now()
        super(CrmCustomerProfile, changed).write(
            {
                "stage_id": stage.id,
                "stage_date": now,
                "stage_locked": True,
                **(
                    {"lapsed_date": fields.Date.context_today(self)}
                    if stage.kind in ("at_risk", "lost")
                    else {}
                ),
            }
        )
        history = (
            self.env["crm.lifecycle.history"]
            .sudo()
            .create(
                [
                    {
                        "profile_id": p.id,
                        "from_stage_id": old_stages[p.id].id,
                        "stage_id": stage.id,
                        "date": now,
                        "reason": self.env.context.get("lifecycle_reason", "manual"),
                        "user_id": self.env.uid,
                        "duration_days": (now - old_dates[p.id]).total_seconds() / 86400
                        if old_dates[p.id]
                        else 0.0,
                    }
                    for p in changed
                ]
            )
        )
        history._post_partner_messages()
        changed._sync_partner_stage()
        # created through the ORM: automation rules saw them already
        history._notify_stage_changes()
        return res
