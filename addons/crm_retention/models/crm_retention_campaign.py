import logging
import random
from ast import literal_eval

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError

from ..lib import uplift
from ..lib.campaign import DATE_WINDOW_YEARS, MAX_AMOUNT, MAX_DAYS, MAX_GROUP_SIZE, MAX_SEED

_logger = logging.getLogger(__name__)

OBJECTIVES = [
    ("retain", "Retain at-risk customers"),
    ("win_back", "Win back lost customers"),
    ("grow", "Grow active customers"),
]

OFFER_TYPES = [
    ("percentage", "Percentage discount"),
    ("fixed", "Fixed discount"),
    ("points", "Bonus / loyalty points"),
    ("service", "Free service"),
    ("call", "Personal call only"),
]

SIGNIFICANCE = [
    ("no_data", "No data yet"),
    ("too_small", "Not significant (groups too small)"),
    ("not_significant", "Not significant"),
    ("significant", "Significant"),
]

# what each objective proposes when it is chosen (all editable afterwards)
OBJECTIVE_DEFAULTS = {
    "retain": {"kinds": ["at_risk"], "offer_type": "percentage", "offer_value": 10.0, "days": 90},
    "win_back": {"kinds": ["lost"], "offer_type": "percentage", "offer_value": 15.0, "days": 120},
    "grow": {"kinds": ["active", "new"], "offer_type": "points", "offer_value": 100.0, "days": 90},
}


class CrmRetentionCampaign(models.Model):
    """A retention or win-back campaign measured against a control group.

    Life: *draft* (targeting, offer and steps are set up; the preview shows
    who would be enrolled) → *running* (the launch wizard enrols the
    matching customers, holds a random control share out and schedules the
    first step; the cron then runs due steps and, for continuous
    campaigns, enrols newcomers) → *paused* (nothing is sent, outcomes are
    still measured) → *done*.

    Every member, treated or control, has the same outcome window: it is
    *retained* when the customer wins a deal inside it (the lifecycle deal
    source, so a sale order bridge counts as well). The result is the
    difference of the two groups' retention rates (``lib.uplift``).
    """

    _name = "crm.retention.campaign"
    _description = "Retention Campaign"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "state_sequence, date_start desc, id desc"
    _check_company_auto = True

    # identity
    name = fields.Char(required=True, tracking=True)
    active = fields.Boolean(default=True)
    color = fields.Integer()
    objective = fields.Selection(
        OBJECTIVES,
        required=True,
        default="retain",
        tracking=True,
        help="What the campaign is for; it proposes the target stages, the offer and the "
        "outcome window.",
    )
    state = fields.Selection(
        [("draft", "Draft"), ("running", "Running"), ("paused", "Paused"), ("done", "Done")],
        required=True,
        default="draft",
        copy=False,
        tracking=True,
        index=True,
    )
    state_sequence = fields.Integer(compute="_compute_state_sequence", store=True)
    user_id = fields.Many2one(
        "res.users",
        string="Owner",
        default=lambda self: self.env.user,
        tracking=True,
        check_company=True,
        domain="[('share', '=', False)]",
    )
    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company, index=True
    )
    currency_id = fields.Many2one(related="company_id.currency_id")
    team_id = fields.Many2one("crm.team", string="Sales Team", check_company=True)
    utm_campaign_id = fields.Many2one(
        "utm.campaign",
        string="UTM Campaign",
        ondelete="restrict",
        copy=False,
        help="Opportunities and mailings caused by this campaign carry this UTM campaign; "
        "created at launch when empty.",
    )
    date_start = fields.Date(string="Start Date", copy=False, tracking=True)
    date_end = fields.Date(
        string="End Date",
        help="No enrolment after this date; the campaign is done when the last outcome "
        "window closes.",
    )
    description = fields.Html()
    # targeting
    stage_ids = fields.Many2many(
        "crm.lifecycle.stage",
        string="Lifecycle Stages",
        compute="_compute_objective_defaults",
        store=True,
        readonly=False,
        precompute=True,
        help="Customers currently in one of these stages are targeted (all stages when empty).",
    )
    target_domain = fields.Char(
        string="Target Filter",
        default="[]",
        help="Further conditions on the customer profile, e.g. churn probability above 0.6 "
        "and predicted CLV above an amount.",
    )
    enrolment_mode = fields.Selection(
        [("once", "Once at launch"), ("continuous", "Continuous")],
        required=True,
        default="once",
        help="Continuous: while the campaign runs, customers who start matching the target "
        "are enrolled every day.",
    )
    exclusive_objective = fields.Boolean(
        string="One Campaign per Objective",
        default=True,
        help="Do not enrol a customer who is already in another running campaign with the "
        "same objective.",
    )
    target_count = fields.Integer(
        compute="_compute_target_count", string="Matching Customers", compute_sudo=False
    )
    # control group
    control_share = fields.Float(
        default=0.1,
        help="Share of the matching customers held out at random: they receive nothing and "
        "are measured exactly like the others.",
    )
    # managers only: who knows the seed can predict who is held out
    random_seed = fields.Integer(
        default=lambda self: random.SystemRandom().randint(1, MAX_SEED),
        copy=False,
        groups="crm_retention.group_retention_manager",
        help="Seed of the control group draw: the same seed gives the same split.",
    )
    outcome_days = fields.Integer(
        string="Outcome Window (days)",
        compute="_compute_objective_defaults",
        store=True,
        readonly=False,
        precompute=True,
        help="A member is retained when the customer wins a deal within this many days "
        "after enrolment.",
    )
    min_group_size = fields.Integer(
        default=30,
        help="Below this many members in either group the uplift is shown as not significant.",
    )
    # offer
    offer_type = fields.Selection(
        OFFER_TYPES,
        compute="_compute_objective_defaults",
        store=True,
        readonly=False,
        precompute=True,
    )
    offer_value = fields.Float(
        compute="_compute_objective_defaults",
        store=True,
        readonly=False,
        precompute=True,
        help="Percentage, amount or points depending on the offer type.",
    )
    offer_validity_days = fields.Integer(string="Offer Valid (days)", default=30)
    offer_terms = fields.Text(translate=True)
    offer_use_codes = fields.Boolean(
        string="Unique Codes",
        help="Give each treated member a unique single-use code, printed in the messages.",
    )
    offer_code_prefix = fields.Char(string="Code Prefix", size=8)
    offer_description = fields.Char(compute="_compute_offer_description")
    # costs
    budget = fields.Monetary()
    cost_per_member = fields.Monetary(
        help="Cost of contacting one treated member (messages, call time)."
    )
    # content
    step_ids = fields.One2many(
        "crm.retention.campaign.step", "campaign_id", string="Steps", copy=True
    )
    member_ids = fields.One2many("crm.retention.campaign.member", "campaign_id", string="Members")
    member_count = fields.Integer(compute="_compute_member_stats")
    excluded_count = fields.Integer(compute="_compute_member_stats")
    opportunity_count = fields.Integer(compute="_compute_opportunity_count")
    # results (treated vs control)
    treated_count = fields.Integer(compute="_compute_results")
    control_count = fields.Integer(compute="_compute_results")
    treated_retained = fields.Integer(compute="_compute_results")
    control_retained = fields.Integer(compute="_compute_results")
    treated_rate = fields.Float(compute="_compute_results", string="Treated Retention")
    control_rate = fields.Float(compute="_compute_results", string="Control Retention")
    uplift_pp = fields.Float(
        compute="_compute_results", string="Uplift", digits=(16, 1),
        help="Treated retention minus control retention, in percentage points (pp).",
    )  # fmt: skip
    uplift_ci_low = fields.Float(
        compute="_compute_results", string="CI Low (pp)", digits=(16, 1),
        help="Lower bound of the 95 % confidence interval of the uplift (Newcombe's score "
        "interval, which stays reliable for small control groups and rates near 0).",
    )  # fmt: skip
    uplift_ci_high = fields.Float(
        compute="_compute_results", string="CI High (pp)", digits=(16, 1),
        help="Upper bound of the 95 % confidence interval of the uplift (Newcombe's score "
        "interval, which stays reliable for small control groups and rates near 0).",
    )  # fmt: skip
    significance = fields.Selection(SIGNIFICANCE, compute="_compute_results")
    retained_revenue = fields.Monetary(compute="_compute_results")
    incremental_revenue = fields.Monetary(compute="_compute_results")
    total_cost = fields.Monetary(compute="_compute_results", string="Cost")
    roi = fields.Float(compute="_compute_results", string="ROI", digits=(16, 2))
    cost_per_incremental = fields.Monetary(
        compute="_compute_results", string="Cost per Incremental Retained Customer"
    )
    verdict = fields.Char(
        compute="_compute_results",
        help="What the comparison with the control group proves, in one line: the uplift "
        "and the customers it stands for when it is significant, else how many customers "
        "each group would need for the uplift measured to be proven.",
    )
    verdict_kind = fields.Selection(
        [("proven", "Proven"), ("harmful", "Harmful"), ("not_proven", "Not proven"),
         ("no_data", "No data")],
        compute="_compute_results",
    )  # fmt: skip
    over_budget = fields.Boolean(compute="_compute_results")
    target_summary = fields.Char(
        compute="_compute_member_stats",
        help="The customers enrolled when the campaign was launched (and since, when it "
        "enrols continuously).",
    )
    results_by_step_html = fields.Html(compute="_compute_results_by_step", sanitize=False)
    # daily run
    last_issue = fields.Text(
        string="Last Run Issue",
        readonly=True,
        copy=False,
        help="Why the last daily run of this campaign was skipped (the other campaigns ran); "
        "cleared by the next run that goes through.",
    )
    last_issue_date = fields.Datetime(string="Issue Since", readonly=True, copy=False)

    _sql_constraints = [
        (
            "control_share_range",
            "CHECK(control_share >= 0 AND control_share < 1)",
            "The control share must be between 0% and 100% (excluded).",
        ),
        # the same bounds as _get_setting_problems, for data written around the ORM
        (
            "outcome_days_positive",
            f"CHECK(outcome_days > 0 AND outcome_days <= {MAX_DAYS})",
            "The outcome window must last between 1 day and ten years.",
        ),
        (
            "offer_validity_days_range",
            f"CHECK(offer_validity_days > 0 AND offer_validity_days <= {MAX_DAYS})",
            "An offer must be valid between 1 day and ten years.",
        ),
        (
            "offer_value_range",
            "CHECK(offer_value >= 0 AND (offer_type <> 'percentage' OR offer_value <= 100))",
            "The offer value cannot be negative, and a percentage discount is at most 100%.",
        ),
        ("random_seed_positive", "CHECK(random_seed >= 0)", "The seed cannot be negative."),
        (
            "money_positive",
            "CHECK(budget >= 0 AND cost_per_member >= 0)",
            "The budget and the cost per member cannot be negative.",
        ),
        (
            "min_group_size_positive",
            "CHECK(min_group_size >= 0)",
            "The minimum group size cannot be negative.",
        ),
        (
            "date_end_after_start",
            "CHECK(date_end >= date_start)",
            "A campaign cannot end before it starts.",
        ),
    ]

    # ------------------------------------------------------------------
    # COMPUTES
    # ------------------------------------------------------------------

    @api.depends("state")
    def _compute_state_sequence(self):
        order = {"running": 1, "paused": 2, "draft": 3, "done": 4}
        for campaign in self:
            campaign.state_sequence = order.get(campaign.state, 9)

    @api.depends("objective", "company_id")
    def _compute_objective_defaults(self):
        Stage = self.env["crm.lifecycle.stage"]
        for campaign in self:
            defaults = OBJECTIVE_DEFAULTS.get(campaign.objective)
            if not defaults:
                continue
            campaign.stage_ids = Stage.search(
                [
                    ("kind", "in", defaults["kinds"]),
                    ("company_id", "in", [False, campaign.company_id.id]),
                ]
            )
            campaign.offer_type = defaults["offer_type"]
            campaign.offer_value = defaults["offer_value"]
            campaign.outcome_days = defaults["days"]

    @api.depends("stage_ids", "target_domain", "company_id", "exclusive_objective", "objective")
    def _compute_target_count(self):
        for campaign in self:
            try:
                campaign.target_count = len(campaign._get_target_profiles())
            except (ValueError, SyntaxError, UserError, ValidationError):
                campaign.target_count = 0

    @api.depends("offer_type", "offer_value", "currency_id")
    def _compute_offer_description(self):
        labels = dict(self._fields["offer_type"]._description_selection(self.env))
        for campaign in self:
            # formatted first: the translation extractor cannot read f-strings
            shown = format(campaign.offer_value, "g")
            if campaign.offer_type == "percentage":
                text = self.env._("%(value)s%% discount", value=shown)
            elif campaign.offer_type == "fixed":
                text = self.env._(
                    "%(value)s %(currency)s off",
                    value=shown,
                    currency=campaign.currency_id.name or "",
                )
            elif campaign.offer_type == "points":
                text = self.env._("%(value)s bonus points", value=shown)
            else:
                text = labels.get(campaign.offer_type, "")
            campaign.offer_description = text

    def _compute_member_stats(self):
        # aggregates of a campaign the user can read: a salesperson sees the
        # whole campaign's figures, not only its own customers' members
        counts = {
            (campaign.id, group): count
            for campaign, group, count in self.env["crm.retention.campaign.member"]
            .sudo()
            ._read_group(
                [("campaign_id", "in", self.ids)], ["campaign_id", "member_group"], ["__count"]
            )
        }
        for campaign in self:
            campaign.member_count = sum(
                counts.get((campaign.id, g), 0) for g in ("treated", "control")
            )
            campaign.excluded_count = counts.get((campaign.id, "excluded"), 0)
            enrolled = campaign.member_count + campaign.excluded_count
            campaign.target_summary = self.env._(
                "%(count)s customers (at launch)", count=enrolled
            ) if campaign.enrolment_mode != "continuous" else self.env._(
                "%(count)s customers (enrolled so far)", count=enrolled
            )  # fmt: skip

    def _compute_opportunity_count(self):
        counts = dict(
            self.env["crm.lead"]
            .with_context(active_test=False)
            ._read_group(
                [("campaign_id", "in", self.utm_campaign_id.ids)], ["campaign_id"], ["__count"]
            )
        )
        for campaign in self:
            campaign.opportunity_count = counts.get(campaign.utm_campaign_id, 0)

    def _compute_results(self):
        stats = self._get_group_stats()
        for campaign in self:
            treated = stats.get((campaign.id, "treated"), {})
            control = stats.get((campaign.id, "control"), {})
            t_n, c_n = treated.get("count", 0), control.get("count", 0)
            t_k, c_k = treated.get("retained", 0), control.get("retained", 0)
            test = uplift.two_proportion(t_n, t_k, c_n, c_k, min_group_size=campaign.min_group_size)
            cost = treated.get("cost", 0.0)
            money = uplift.economics(
                t_n, treated.get("revenue", 0.0), c_n, control.get("revenue", 0.0), cost,
                test["uplift_pp"],
            )  # fmt: skip
            campaign.update(
                {
                    "treated_count": t_n,
                    "control_count": c_n,
                    "treated_retained": t_k,
                    "control_retained": c_k,
                    "treated_rate": test["treated_rate"],
                    "control_rate": test["control_rate"],
                    "uplift_pp": test["uplift_pp"] or 0.0,
                    "uplift_ci_low": test["ci_low_pp"] or 0.0,
                    "uplift_ci_high": test["ci_high_pp"] or 0.0,
                    "significance": test["significance"],
                    "retained_revenue": treated.get("revenue", 0.0),
                    "incremental_revenue": money["incremental_revenue"] or 0.0,
                    "total_cost": cost,
                    "roi": money["roi"] or 0.0,
                    "cost_per_incremental": money["cost_per_incremental"] or 0.0,
                    "over_budget": bool(campaign.budget) and cost > campaign.budget,
                }
            )
            campaign._set_verdict(uplift.verdict(test, t_n, c_n))

    def _set_verdict(self, reading):
        """``verdict`` and ``verdict_kind`` from ``lib.uplift.verdict``."""
        kind = reading["kind"]
        # formatted apart: the translation extractor skips calls with f-strings
        pp = f"{(reading['uplift_pp'] or 0.0):+.1f}"
        if kind == "proven":
            text = self.env._(
                "Proven: %(pp)s pp more customers kept, about %(kept)s customers",
                pp=pp, kept=reading["kept"],
            )  # fmt: skip
        elif kind == "harmful":
            text = self.env._(
                "Proven harmful: %(pp)s pp, about %(kept)s customers fewer kept than without it",
                pp=pp, kept=abs(reading["kept"]),
            )  # fmt: skip
        elif kind == "not_proven" and reading["needed"] and reading["needed"] > reading["smaller"]:
            text = self.env._(
                "Not proven: %(pp)s pp, but %(smaller)s customers in the smaller group are too "
                "few; about %(needed)s per group are needed to prove it",
                pp=pp, smaller=reading["smaller"], needed=reading["needed"],
            )  # fmt: skip
        elif kind == "not_proven":
            text = self.env._("Not proven: %(pp)s pp could be chance", pp=pp)
        else:
            text = self.env._("No result yet: both groups need members with a closed window")
        self.verdict_kind, self.verdict = kind, text

    def _compute_results_by_step(self):
        rows = self._get_step_stats()
        for campaign in self:
            campaign.results_by_step_html = self.env["ir.qweb"]._render(
                "crm_retention.campaign_results_by_step",
                {
                    "campaign": campaign,
                    "steps": rows.get(campaign.id, {}).get("steps", []),
                    "channels": rows.get(campaign.id, {}).get("channels", []),
                    "format_rate": lambda r: f"{r * 100:.1f} %" if r is not None else "-",
                    "format_pp": lambda r: f"{r:+.1f}" if r is not None else "-",
                },
            )

    # ------------------------------------------------------------------
    # CONSTRAINTS / CRUD
    # ------------------------------------------------------------------

    @api.constrains("target_domain")
    def _check_target_domain(self):
        for campaign in self:
            try:
                domain = literal_eval(campaign.target_domain or "[]")
                if not isinstance(domain, list):
                    raise ValueError(self.env._("a domain must be a list"))
                with self.env.cr.savepoint(flush=False):
                    self.env["crm.customer.profile"].search_count(domain, limit=1)
            except Exception as exc:  # noqa: BLE001 - any failure means an unusable filter
                raise ValidationError(
                    self.env._(
                        "The target filter of campaign %(campaign)s is not a valid domain on "
                        "customer profiles: %(error)s",
                        campaign=campaign.name,
                        error=exc,
                    )
                ) from exc

    @api.constrains(
        "control_share",
        "random_seed",
        "outcome_days",
        "min_group_size",
        "offer_type",
        "offer_value",
        "offer_validity_days",
        "budget",
        "cost_per_member",
    )
    def _check_numbers(self):
        for campaign in self:
            problems = campaign._get_setting_problems(steps=False)
            if problems:
                raise ValidationError("\n".join(problems))

    @api.constrains("date_start", "date_end")
    def _check_dates(self):
        for campaign in self:
            problems = campaign._get_date_problems()
            if problems:
                raise ValidationError("\n".join(problems))

    @api.constrains("offer_use_codes", "offer_type")
    def _check_offer_codes(self):
        for campaign in self:
            if campaign.offer_use_codes and campaign.offer_type == "call":
                raise ValidationError(
                    self.env._("A personal call offer has nothing to redeem: it needs no code.")
                )

    def _get_setting_problems(self, steps=True):
        """Messages for the numbers of this campaign (and of its steps with
        ``steps``) that are out of bounds; empty when all is well.

        The constraints check them as they are typed; the launch and the
        daily run check them again, for values written around the ORM (SQL,
        an old database), so that such a campaign is refused with this
        message instead of failing deep in a date or a random draw.
        """
        self.ensure_one()
        _ = self.env._
        name = self.name
        problems = []
        # formatted apart: the translation extractor skips calls with f-strings
        max_amount, max_group = f"{MAX_AMOUNT:,.0f}", f"{MAX_GROUP_SIZE:,}"

        def within(value, low, high):
            # also false for None and NaN
            return value is not None and low <= value <= high

        if not (self.control_share is not None and 0.0 <= self.control_share < 1.0):
            problems.append(
                _("The control share of campaign %(campaign)s must be between 0%% and 100%% "
                  "(excluded).", campaign=name)
            )  # fmt: skip
        # sudo: only the range of the seed (a manager-only field) is checked
        if not within(self.sudo().random_seed or 0, 0, MAX_SEED):
            problems.append(
                _("The seed of campaign %(campaign)s must be between 0 and %(max)s.",
                  campaign=name, max=MAX_SEED)
            )  # fmt: skip
        if not within(self.outcome_days, 1, MAX_DAYS):
            problems.append(
                _("The outcome window of campaign %(campaign)s must last between 1 and "
                  "%(max)s days.", campaign=name, max=MAX_DAYS)
            )  # fmt: skip
        if not within(self.offer_validity_days, 1, MAX_DAYS):
            problems.append(
                _("The offer of campaign %(campaign)s must be valid between 1 and %(max)s days.",
                  campaign=name, max=MAX_DAYS)
            )  # fmt: skip
        if self.offer_type == "percentage" and not within(self.offer_value, 0, 100):
            problems.append(
                _("The discount of campaign %(campaign)s must be between 0%% and 100%%.",
                  campaign=name)
            )  # fmt: skip
        elif not within(self.offer_value or 0.0, 0, MAX_AMOUNT):
            problems.append(
                _("The offer value of campaign %(campaign)s must be between 0 and %(max)s.",
                  campaign=name, max=max_amount)
            )  # fmt: skip
        if not within(self.min_group_size or 0, 0, MAX_GROUP_SIZE):
            problems.append(
                _("The minimum group size of campaign %(campaign)s must be between 0 and "
                  "%(max)s.", campaign=name, max=max_group)
            )  # fmt: skip
        if not (
            within(self.budget or 0.0, 0, MAX_AMOUNT)
            and within(self.cost_per_member or 0.0, 0, MAX_AMOUNT)
        ):
            problems.append(
                _("The budget and the cost per member of campaign %(campaign)s must be between "
                  "0 and %(max)s.", campaign=name, max=max_amount)
            )  # fmt: skip
        if steps:
            problems += [p for step in self.step_ids for p in step._get_setting_problems()]
        return problems

    def _get_date_problems(self):
        """Messages for start and end dates a user could not have meant:
        outside ten years around today, or an end before the start."""
        self.ensure_one()
        today = fields.Date.context_today(self)
        low = fields.Date.add(today, years=-DATE_WINDOW_YEARS)
        high = fields.Date.add(today, years=DATE_WINDOW_YEARS)
        problems = []
        if any(day and not low <= day <= high for day in (self.date_start, self.date_end)):
            problems.append(
                self.env._(
                    "The dates of campaign %(campaign)s must be between %(low)s and %(high)s.",
                    campaign=self.name,
                    low=low,
                    high=high,
                )
            )
        if self.date_start and self.date_end and self.date_end < self.date_start:
            problems.append(
                self.env._("Campaign %(campaign)s cannot end before it starts.", campaign=self.name)
            )
        return problems

    def _check_runnable(self, dates=False):
        """Refuse to enrol or run steps with out-of-bound settings (see
        ``_get_setting_problems``), with the dates too when launching."""
        self.ensure_one()
        problems = self._get_setting_problems() + (self._get_date_problems() if dates else [])
        if problems:
            raise UserError("\n".join(problems))

    @api.model_create_multi
    def create(self, vals_list):
        # a new campaign starts with the usual sequence (offer e-mail, then a
        # call by the salesperson when the customer did not answer) to edit
        for vals in vals_list:
            if not vals.get("step_ids") and not self.env.context.get("retention_no_default_steps"):
                vals["step_ids"] = self._get_default_steps()
        return super().create(vals_list)

    @api.model
    def _get_default_steps(self):
        steps = []
        template = self.env.ref("crm_retention.mail_template_campaign_offer", False)
        if template:
            steps.append(
                (0, 0, {
                    "sequence": 10,
                    "name": self.env._("Offer e-mail"),
                    "action": "email",
                    "mail_template_id": template.id,
                    "delay_days": 0,
                })
            )  # fmt: skip
        call = self.env.ref("mail.mail_activity_data_call", False)
        if call:
            steps.append(
                (0, 0, {
                    "sequence": 20,
                    "name": self.env._("Follow-up call"),
                    "action": "activity",
                    "activity_type_id": call.id,
                    "activity_user": "salesperson",
                    "condition": "no_response",
                    "delay_days": 7,
                    "activity_summary": self.env._("Call about the retention offer"),
                })
            )  # fmt: skip
        return steps

    @api.ondelete(at_uninstall=False)
    def _unlink_except_launched(self):
        if any(c.state != "draft" for c in self):
            raise UserError(
                self.env._(
                    "A launched campaign keeps its members and results: archive it instead "
                    "of deleting it."
                )
            )

    # ------------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------------

    def action_open_launch_wizard(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Launch %s", self.name),
            "res_model": "crm.retention.campaign.launch",
            "view_mode": "form",
            "target": "new",
            "context": {"default_campaign_id": self.id},
        }

    def action_pause(self):
        self.filtered(lambda c: c.state == "running").write({"state": "paused"})
        return True

    def action_resume(self):
        for campaign in self.filtered(lambda c: c.state == "paused"):
            campaign.state = "running"
        return True

    def action_done(self):
        self.filtered(lambda c: c.state in ("running", "paused")).write({"state": "done"})
        return True

    def action_reset_draft(self):
        if any(c.member_ids for c in self):
            raise UserError(
                self.env._("Members are enrolled: duplicate the campaign to start again.")
            )
        self.write({"state": "draft"})
        return True

    def action_view_members(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "crm_retention.crm_retention_campaign_member_action"
        )
        action["domain"] = [("campaign_id", "=", self.id)]
        action["context"] = {"default_campaign_id": self.id}
        return action

    def action_preview_targets(self):
        self.ensure_one()
        profiles = self._get_target_profiles()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "crm_retention.crm_customer_profile_action"
        )
        action.update(
            {
                "name": self.env._("Customers targeted by %s", self.name),
                "domain": [("id", "in", profiles.ids)],
                "view_mode": "list,form",
                "views": [(False, "list"), (False, "form")],
                "context": {"create": False},
            }
        )
        return action

    def action_view_opportunities(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("crm.crm_lead_opportunities")
        action["domain"] = [("campaign_id", "=", self.utm_campaign_id.id)]
        action["context"] = {"default_campaign_id": self.utm_campaign_id.id}
        return action

    def action_refresh_outcomes(self):
        self.check_access("write")
        members = self.sudo().member_ids
        for company in members.company_id:
            members._refresh_outcomes(company=company)
        return True
