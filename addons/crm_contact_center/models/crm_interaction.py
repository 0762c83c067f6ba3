import logging
import time
import uuid
from collections import defaultdict
from datetime import UTC, timedelta

import requests
from markupsafe import Markup

from odoo import Command, api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.osv import expression
from odoo.tools import SQL, plaintext2html
from odoo.tools.sql import create_index

from ..lib.originate import TIMEOUT_SECONDS, build_request
from ..lib.screen_pop import (
    HISTORY_SIZE,
    PENDING_SECONDS,
    POP_TYPE,
    WITHDRAW_TYPE,
    choose_targets,
)
from ..lib.sla import WorkingTime, next_windows

_logger = logging.getLogger(__name__)

OPEN_STATES = ("new", "assigned", "in_progress", "missed")
# queue priorities, lowest first (the stock "priority" star widget reads them)
PRIORITIES = [("0", "Normal"), ("1", "High"), ("2", "Urgent")]
# seconds before its deadline a request counts as "breach soon"
BREACH_SOON = 3600
# outcomes of a request the customer was served on: the ones the automatic
# satisfaction request follows (``_rating_handled_outcomes``)
HANDLED_OUTCOMES = ("resolved", "follow_up", "opportunity")
RATING_REQUEST_STATES = [
    ("pending", "To Send"),
    ("sent", "Sent"),
    ("no_email", "Not Sent: No E-mail"),
    ("recent", "Not Sent: Asked Recently"),
    ("failed", "Not Sent: Error"),
]
# The value of the ``crm_interaction_no_capture`` context key that switches
# the capture of messages, SMS and meetings off (server code that logs the
# interaction itself, like the inbound API). An object, not a flag: a client
# can send any JSON in its context, and message_post creates its message as
# superuser with the caller's context, so only this object is trusted.
NO_CAPTURE = object()
# set only by the capture, the inbound API and the SLA cron (all as superuser):
# readonly in the views, and refused in create/write over RPC
PROTECTED_FIELDS = frozenset(
    {
        "source_id",
        "source_key",
        "external_id",
        "api_events",
        "res_model",
        "res_id",
        "is_overdue",
        "is_escalated",
        # an agent must not spare himself the customer's rating
        "rating_request_state",
        "rating_request_date",
        "rating_followed_up",
        # the SLA's measure: an agent must not move his own deadline nor fake
        # when he took or closed a request (the server sets them)
        "sla_deadline",
        "assign_date",
        "done_date",
        "screen_pop_user_ids",
        "screen_pop_date",
    }
)
# a request's priority and the arrival time of a queued one decide its
# deadline and its place in the queue: supervisors change them, not agents
SUPERVISOR_FIELDS = frozenset({"priority"})


# requests a notice of callbacks or escalations names (the rest are counted)
SLA_NOTICE_LINES = 20


class CrmInteraction(models.Model):
    """One conversation with a customer, whatever the channel.

    Rows come from three places: agents (the "Log an interaction" wizard),
    stock Odoo documents captured automatically (e-mails, meetings, call
    activities, SMS: ``source_key`` is the capturing model) and integrations
    posting to the inbound API (``source_key`` is ``api:<source id>``).
    ``(source_key, external_id)`` is unique, so a document or an event is
    never logged twice.
    """

    _name = "crm.interaction"
    _description = "Customer Interaction"
    _inherit = ["rating.mixin", "mail.activity.mixin"]
    _order = "date desc, id desc"
    _rec_name = "subject"
    _check_company_auto = True
    _CAPTURED_MODELS = ("res.partner", "crm.lead")  # whose chatter messages are logged
    # see PROTECTED_FIELDS; a bridge adds the fields it computes
    _protected_fields = PROTECTED_FIELDS

    # what and how
    channel_id = fields.Many2one(
        "crm.interaction.channel", required=True, index=True, check_company=True, tracking=True
    )
    channel_code = fields.Char(related="channel_id.code")
    direction = fields.Selection(
        [("inbound", "Inbound"), ("outbound", "Outbound")], required=True, default="inbound"
    )
    date = fields.Datetime(required=True, default=fields.Datetime.now, index=True)
    duration = fields.Integer(string="Duration (s)", aggregator="sum")
    subject = fields.Char()
    body = fields.Html(string="Summary", sanitize=True)
    recording_url = fields.Char(string="Recording")
    # who
    partner_id = fields.Many2one("res.partner", string="Contact", index=True, check_company=True)
    commercial_partner_id = fields.Many2one(
        related="partner_id.commercial_partner_id",
        string="Customer",
        store=True,
        index=True,
        precompute=True,
    )
    contact_name = fields.Char(help="Name given by the channel, kept for unknown contacts.")
    contact_phone = fields.Char(string="Phone (E.164)")
    contact_email = fields.Char()
    lead_id = fields.Many2one(
        "crm.lead", string="Opportunity", index="btree_not_null", check_company=True
    )
    user_id = fields.Many2one(
        "res.users",
        string="Agent",
        index=True,
        tracking=True,
        check_company=True,
        domain=[("share", "=", False)],
    )
    team_id = fields.Many2one("crm.team", index=True, tracking=True, check_company=True)
    company_id = fields.Many2one(
        "res.company", required=True, index=True, default=lambda self: self.env.company
    )
    # handling
    state = fields.Selection(
        [
            ("new", "New"),
            ("assigned", "Assigned"),
            ("in_progress", "In Progress"),
            ("done", "Done"),
            ("missed", "Missed"),
        ],
        required=True,
        default="new",
        index=True,
        tracking=True,
        group_expand="_group_expand_states",
    )
    outcome = fields.Selection(
        [
            ("resolved", "Resolved"),
            ("follow_up", "Follow-up needed"),
            ("opportunity", "Opportunity"),
            ("no_answer", "No answer"),
            ("not_interested", "Not interested"),
        ],
        tracking=True,
    )
    assign_date = fields.Datetime(readonly=True)
    done_date = fields.Datetime(readonly=True)
    # queue: precomputed, written by the INSERT, not by an UPDATE right after it
    priority = fields.Selection(
        PRIORITIES,
        compute="_compute_priority",
        store=True,
        precompute=True,
        readonly=False,
        tracking=True,
        help="The queue shows urgent requests first, then high, then normal, each by deadline. "
        "Set from the customer's value when the retention bridge is installed (see Why This "
        "Priority); a supervisor may change it. A higher priority can have a shorter response "
        "target (channel) and go to a senior team (team).",
    )
    priority_reason = fields.Char(
        string="Why This Priority",
        compute="_compute_priority_reason",
        help="What gave the request its priority, e.g. the customer's stage and the value at "
        "stake when the priority was set.",
    )
    sla_deadline = fields.Datetime(
        string="SLA Deadline",
        compute="_compute_sla_deadline",
        store=True,
        precompute=True,
        index="btree_not_null",
        help="Answer by: the date of the request plus the channel's response target for its "
        "priority, counted in the working hours of its team (nights, weekends and public "
        "holidays skipped) when the team has working hours.",
    )
    sla_breach_soon = fields.Boolean(
        string="Breach Within 1 Hour",
        compute="_compute_sla_breach_soon",
        search="_search_sla_breach_soon",
        help="Still open, and its deadline falls within the next hour.",
    )
    is_overdue = fields.Boolean(
        string="Overdue",
        readonly=True,
        copy=False,
        help="Set by the SLA check when the deadline passed.",
    )
    is_escalated = fields.Boolean(string="Escalated", readonly=True, copy=False)
    color = fields.Integer(compute="_compute_color")
    # rating.mixin's stored compute: a new interaction has no rating, so the
    # INSERT writes 0 instead of a query on rating_rating and an UPDATE per create
    rating_last_value = fields.Float(
        compute="_compute_rating_last_value", store=True, precompute=True
    )
    rating_request_state = fields.Selection(
        RATING_REQUEST_STATES,
        string="Satisfaction Request",
        readonly=True,
        copy=False,
        index="btree_not_null",
        help="The automatic satisfaction e-mail of a handled request (channels with Ask for a "
        "Rating When Handled): to send (by the next run of the sender, within minutes), sent, "
        "or why it was not sent.",
    )
    rating_followed_up = fields.Boolean(
        readonly=True,
        copy=False,
        help="A low rating of this request planned a to-do for the team leader (once,"
        " however often the customer changes his answer).",
    )
    rating_request_date = fields.Datetime(
        string="Satisfaction Requested On",
        readonly=True,
        copy=False,
        help="When the satisfaction e-mail was sent (automatically or with Ask for a Rating): "
        "the contact is not asked again automatically within the company's interval.",
    )
    # where it comes from
    res_model = fields.Char(string="Document Model", index=True, readonly=True, copy=False)
    res_id = fields.Many2oneReference(
        model_field="res_model", string="Document ID", readonly=True, copy=False
    )
    source_id = fields.Many2one(
        "crm.interaction.source",
        readonly=True,
        copy=False,
        index="btree_not_null",
        check_company=True,
    )
    source_key = fields.Char(
        readonly=True, copy=False, help="Capture path: a model name or api:<source id>."
    )
    external_id = fields.Char(string="External ID", readonly=True, copy=False)
    api_events = fields.Char(
        readonly=True, copy=False, help="Inbound API events applied, in order."
    )
    # screen pop: whose screens showed the ringing call (see _screen_pop_send)
    screen_pop_user_ids = fields.Many2many(
        "res.users",
        "crm_interaction_screen_pop_rel",
        "interaction_id",
        "user_id",
        string="Shown To",
        readonly=True,
        copy=False,
        help="The agents whose screen popped the caller's card when the call rang.",
    )
    screen_pop_date = fields.Datetime(
        string="Shown On", readonly=True, copy=False, index="btree_not_null"
    )

    _sql_constraints = [
        (
            "external_uniq",
            "UNIQUE(source_key, external_id)",
            "This event or document is already logged.",
        ),
        ("duration_positive", "CHECK(duration >= 0)", "A duration cannot be negative."),
    ]

    def init(self):
        # the timeline query: a customer's (or contact's) interactions, newest first
        for column in ("commercial_partner_id", "partner_id"):
            create_index(
                self.env.cr,
                f"crm_interaction_{column}_date_idx",
                self._table,
                [column, "date DESC", "id DESC"],
                where=f"{column} IS NOT NULL",
            )

    # ------------------------------------------------------------------
    # COMPUTES
    # ------------------------------------------------------------------

    @api.depends("commercial_partner_id", "company_id")
    def _compute_priority(self):
        """Normal unless set; the retention bridge computes it from the
        customer's stage and value at risk (for the whole recordset at
        once: it runs in the INSERT of a batch of requests)."""
        for interaction in self:
            interaction.priority = interaction.priority or "0"

    @api.depends("priority")
    def _compute_priority_reason(self):
        """Empty here; a module that sets priorities explains them."""
        self.priority_reason = False

    # the request's own fields only: a channel's new target or a team's new
    # hours apply to the open requests (``_recompute_open_deadlines``), and
    # handled requests keep the deadline they were measured against
    @api.depends("date", "direction", "priority", "channel_id", "team_id")
    def _compute_sla_deadline(self):
        """The request's date plus the channel's target for its priority,
        around the clock, or in the working time of its team's calendar:
        planned for every request of a calendar at once
        (``_plan_working_hours``)."""
        on_calendar = defaultdict(list)  # calendar: [(interaction, hours)]
        for interaction in self:
            interaction.sla_deadline = False
            if interaction.direction != "inbound" or not interaction.date:
                continue
            hours = interaction.channel_id._response_time_for(interaction.priority)
            if not hours:
                continue
            calendar = interaction.team_id.resource_calendar_id
            if calendar:
                on_calendar[calendar].append((interaction, hours))
            else:
                interaction.sla_deadline = interaction.date + timedelta(hours=hours)
        for calendar, planned in on_calendar.items():
            deadlines = self._plan_working_hours(calendar, [(i.date, h) for i, h in planned])
            for (interaction, _hours), deadline in zip(planned, deadlines, strict=True):
                interaction.sla_deadline = deadline

    @api.depends("sla_deadline", "state")
    def _compute_sla_breach_soon(self):
        now = fields.Datetime.now()
        soon = now + timedelta(seconds=BREACH_SOON)
        for interaction in self:
            interaction.sla_breach_soon = bool(
                interaction.state in OPEN_STATES
                and interaction.sla_deadline
                and now <= interaction.sla_deadline < soon
            )

    def _search_sla_breach_soon(self, operator, value):
        if operator not in ("=", "!=") or not isinstance(value, bool):
            raise UserError(self.env._("Unsupported search on Breach Within 1 Hour."))
        now = fields.Datetime.now()
        domain = [
            ("state", "in", OPEN_STATES),
            ("sla_deadline", ">=", now),
            ("sla_deadline", "<", now + timedelta(seconds=BREACH_SOON)),
        ]
        return (
            domain if (operator == "=") == value else ["!", *expression.AND([[d] for d in domain])]
        )

    @api.depends("is_overdue", "state")
    def _compute_color(self):
        for interaction in self:
            interaction.color = (
                1 if interaction.is_overdue else 2 if interaction.state == "missed" else 0
            )

    @api.depends("subject", "channel_id", "partner_id", "contact_name")
    def _compute_display_name(self):
        for interaction in self:
            who = interaction.partner_id.name or interaction.contact_name
            interaction.display_name = interaction.subject or " - ".join(
                filter(None, [interaction.channel_id.name, who])
            )

    def _group_expand_states(self, states, domain):
        return [key for key, _label in self._fields["state"].selection]

    # ------------------------------------------------------------------
    # ORM
    # ------------------------------------------------------------------

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            self._check_protected_fields(vals)
        now = fields.Datetime.now()
        # trusted only from server code (sudo): a client could send any context
        backfill = self.env.su and self.env.context.get("crm_interaction_backfill")
        for vals in vals_list:
            if backfill and vals.get("state") != "assigned":
                # history that predates the addon: closed, never routed nor escalated;
                # a meeting still to come stays planned ("assigned"), never done
                vals["state"] = "done"
                vals.setdefault("done_date", vals.get("date") or now)
            if vals.get("user_id") and vals.get("state", "new") == "new":
                vals["state"] = "assigned"
            if vals.get("user_id"):
                vals.setdefault("assign_date", now)
            if vals.get("state") == "done":
                vals.setdefault("done_date", now)
        interactions = super().create(vals_list)
        if backfill:
            return interactions
        interactions.filtered(
            lambda i: i.state in ("new", "missed") and i.direction == "inbound" and not i.user_id
        )._route()
        interactions.filtered(lambda i: i.state == "missed")._schedule_callback()
        return interactions

    def write(self, vals):
        self._check_protected_fields(vals)
        if vals.get("state") == "done":
            vals = {**vals, "done_date": fields.Datetime.now(), "is_overdue": False}
        if vals.get("user_id"):
            vals = {"assign_date": fields.Datetime.now(), **vals}
        newly_missed = (
            self.filtered(lambda i: i.state != "missed") if vals.get("state") == "missed" else None
        )
        newly_done = (
            self.filtered(lambda i: i.state != "done") if vals.get("state") == "done" else None
        )
        result = super().write(vals)
        if newly_missed:
            newly_missed._schedule_callback()
        if newly_done:
            newly_done._queue_rating_requests()
        return result

    @api.model
    def _check_protected_fields(self, vals):
        """Audit and integration fields are written by the server as superuser only:
        readonly in the views is no protection against a forged RPC call.
        The priority, and the arrival time of a request in the queue (inbound,
        with a deadline), only by supervisors: they set its deadline."""
        if self.env.su:
            return
        supervised = SUPERVISOR_FIELDS.intersection(vals) or (
            "date" in vals and any(i.direction == "inbound" and i.sla_deadline for i in self)
        )
        if supervised and not self.env.user.has_group(
            "crm_contact_center.group_contact_center_supervisor"
        ):
            raise AccessError(
                self.env._(
                    "Only a supervisor changes the priority of a request or the time a"
                    " queued request arrived: they set its deadline."
                )
            )
        forged = sorted(self._protected_fields.intersection(vals))
        if forged:
            raise AccessError(
                self.env._(
                    "The fields %(fields)s of an interaction are set by the capture and the"
                    " inbound API only; they cannot be written directly.",
                    fields=", ".join(forged),
                )
            )

    # ------------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------------

    def action_take(self):
        """One click from the queue: the current agent handles the request now."""
        open_ones = self.filtered(lambda i: i.state != "done")
        if not open_ones:
            raise UserError(self.env._("This request is already done."))
        open_ones.write({"user_id": self.env.uid, "state": "in_progress"})
        # a ringing call taken here: its card leaves the teammates' screens
        open_ones._screen_pop_withdraw(keep=self.env.user)
        return True

    def action_done(self):
        if self.filtered(lambda i: not i.outcome):
            raise UserError(self.env._("Choose an outcome before closing the request."))
        # an agent closing a teammate's request from the team queue handled
        # it: it becomes his (the queue shows only what is still to handle,
        # and a closed request is its handler's); supervisors and team
        # leaders close on others' behalf
        closer = self.env.user
        supervisor = closer.has_group("crm_contact_center.group_contact_center_supervisor")
        taken = (
            self.browse()
            if supervisor
            else self.filtered(lambda i: i.user_id != closer and i.team_id.user_id != closer)
        )
        taken.write({"state": "done", "user_id": closer.id})
        (self - taken).write({"state": "done"})
        self.activity_ids.filtered(
            lambda a: a.activity_type_id.category == "phonecall"
        ).action_feedback(feedback=self.env._("Request closed."))
        return True

    def action_reset(self):
        self.write({"state": "in_progress" if self.user_id else "new"})

    @api.model
    def _form_action(self, record):
        """The action opening ``record`` in its form view."""
        return {
            "type": "ir.actions.act_window",
            "res_model": record._name,
            "res_id": record.id,
            "view_mode": "form",
            "views": [(False, "form")],
        }

    def action_convert_opportunity(self):
        self.ensure_one()
        if not self.lead_id:
            self.lead_id = self.env["crm.lead"].create(self._prepare_opportunity_values())
        if not self.outcome:
            self.outcome = "opportunity"
        return self._form_action(self.lead_id)

    def action_schedule_follow_up(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Schedule a follow-up"),
            "res_model": "mail.activity",
            "view_mode": "form",
            "views": [(False, "form")],
            "target": "new",
            "context": {
                "default_res_model_id": self.env["ir.model"]._get_id(
                    "crm.lead" if self.lead_id else self._name
                ),
                "default_res_id": self.lead_id.id or self.id,
                "default_user_id": self.env.uid,
                "default_summary": self.env._("Follow-up: %(subject)s", subject=self.display_name),
            },
        }

    def action_send_rating_request(self):
        """The agent's "Ask for a Rating" button: e-mail the contacts of these
        handled requests the satisfaction request now (queued mail), whatever
        was sent before; the automatic request then leaves them alone."""
        self.check_access("write")
        self.filtered(lambda i: i.state == "done" and i.partner_id.email)._send_rating_request()
        return True

    def action_log_interaction(self):
        self.ensure_one()
        return self.env["crm.interaction.log.wizard"]._action_open(
            partner=self.partner_id,
            lead=self.lead_id,
            origin=self if self.state != "done" else None,
        )

    # ------------------------------------------------------------------
    # BUSINESS
    # ------------------------------------------------------------------

    def _prepare_opportunity_values(self):
        return {
            "name": self.subject or self.env._("Request from %(who)s", who=self.display_name),
            "type": "opportunity",
            "partner_id": self.partner_id.id,
            "contact_name": self.contact_name if not self.partner_id else False,
            "email_from": self.partner_id.email or self.contact_email,
            "phone": self.partner_id.phone or self.contact_phone,
            "user_id": self.user_id.id or self.env.uid,
            "team_id": self.team_id.id,
            "company_id": self.company_id.id,
            "description": self.body,
        }

    def _route(self):
        """Assign new inbound requests: the customer's salesperson when that user
        is an available agent of the company, else an agent of the team chosen
        by the team's policy (round robin or least open requests).

        A request whose priority reaches the level of its team's senior team
        (``crm.team._senior_team_for``) goes to the senior team instead: to
        the salesperson only if he is an available agent of that team, else
        to the senior team's agents; with none available it waits in the
        senior team's queue.

        Set-based: each team's agents and their load are read once for the
        whole batch (``crm.team._plan_interaction_agents`` hands the
        requests out in order as if one came after the other), and the
        requests are written in one ``write`` per distinct assignment.
        """
        # _xmlid_to_res_id is cached; env.ref would check the record exists (a query)
        agent_group = self.env["res.groups"].browse(
            self.env["ir.model.data"]._xmlid_to_res_id(
                "crm_contact_center.group_contact_center_agent"
            )
        )
        chosen = {}  # interaction: user
        moved = {}  # interaction: senior team
        by_team = defaultdict(lambda: self.browse())  # (team, company): interactions
        for interaction in self:
            company = interaction.company_id
            salesperson = interaction.lead_id.user_id or interaction.commercial_partner_id.user_id
            team = (
                interaction.team_id
                or interaction.lead_id.team_id
                or salesperson.sale_team_id._filtered_for_company(company)
            )
            senior = team._senior_team_for(interaction.priority) if team else team
            if senior != team:
                moved[interaction] = team = senior
                if salesperson not in senior.member_ids | senior.user_id:
                    salesperson = self.env["res.users"]
            if salesperson and salesperson._is_available_agent(company, agent_group):
                chosen[interaction] = salesperson
                continue
            if team:
                by_team[team, company] |= interaction
        for (team, company), interactions in by_team.items():
            chosen.update(
                zip(
                    interactions,
                    team._plan_interaction_agents(company, len(interactions)),
                    strict=False,
                )
            )
        writes = defaultdict(lambda: self.browse())  # values: interactions
        for interaction in self:
            user = chosen.get(interaction)
            values = {}
            if user:
                values["user_id"] = user.id
                if interaction.state == "new":
                    values["state"] = "assigned"
            if interaction in moved:
                values["team_id"] = moved[interaction].id
            elif user and not interaction.team_id:
                values["team_id"] = (
                    interaction.lead_id.team_id
                    or user.sale_team_id._filtered_for_company(interaction.company_id)
                ).id
            if values:
                writes[tuple(sorted(values.items()))] |= interaction
        for values, interactions in writes.items():
            interactions.sudo().write(dict(values))

    def _schedule_callback(self):
        """A missed call: the agent (or the team leader) gets a call activity due
        within the channel's response target. All of a batch's callbacks are
        created at once, with one notice per person instead of an e-mail per
        call."""
        if not self:
            return
        call_type = self.env["mail.activity.type"].browse(
            self.env["ir.model.data"]._xmlid_to_res_id("mail.mail_activity_data_call")
        )
        if not call_type:
            return
        model_id = self.env["ir.model"]._get_id(self._name)
        values = []
        for interaction in self:
            user = interaction._responsible_user()
            if not user:
                continue  # nobody to call back: the request stays in the team's queue
            if interaction.activity_ids.filtered(lambda a: a.activity_type_id == call_type):
                continue
            deadline = interaction.sla_deadline or fields.Datetime.now()
            values.append(
                {
                    "activity_type_id": call_type.id,
                    "date_deadline": fields.Date.context_today(interaction, deadline),
                    "summary": self.env._(
                        "Call back %(who)s",
                        who=interaction.partner_id.name
                        or interaction.contact_name
                        or interaction.contact_phone
                        or "",
                    ),
                    "automated": True,
                    "res_model_id": model_id,
                    "res_id": interaction.id,
                    "user_id": user.id,
                }
            )
        # sudo: the system schedules the callback on a request the caller may
        # not write (an API key's user, a capture)
        self.sudo()._plan_activities(
            values,
            subject=lambda env, n: env._("%(count)s calls to return", count=n),
            intro=lambda env: env._(
                "These callers could not reach you; a call activity waits for you on each."
            ),
        )

    def _cancel_callback(self):
        """Remove the callback activities of calls that turned out answered: the
        customer was served, nobody must call back."""
        call_type_id = self.env["ir.model.data"]._xmlid_to_res_id("mail.mail_activity_data_call")
        # sudo: the activities were scheduled by the system (see _schedule_callback)
        # on requests the caller may write; only their callbacks are removed
        self.sudo().activity_ids.filtered(lambda a: a.activity_type_id.id == call_type_id).unlink()

    def _responsible_user(self):
        """Who follows the request up: its agent, else the leader of its team, else
        the leader of its source's team, else the user at hand, but never the
        superuser (OdooBot) the API, the capture and the crons run as."""
        self.ensure_one()
        user = self.user_id or self.team_id.user_id or self.source_id.team_id.user_id
        if not user and not self.env.su and not self.env.user.share:
            user = self.env.user
        return user

    @api.model
    def _cron_check_sla(self, batch_size=None):
        """Flag open inbound requests past their SLA deadline and escalate them once
        to the team leader (an activity the supervisor sees in the overdue list).

        One batch (``crm_contact_center.sla_batch``, default 500, oldest
        deadline first) per call: one write flags it, one create makes its
        activities. The call reports how many remain
        (``ir.cron._notify_progress``), so the scheduler calls it again at
        once until the backlog is drained; restartable, since only unflagged
        rows are searched. Returns the requests escalated.
        """
        batch_size = batch_size or int(
            self.env["ir.config_parameter"].sudo().get_param("crm_contact_center.sla_batch", 500)
        )
        domain = [
            ("state", "in", OPEN_STATES),
            ("is_escalated", "=", False),
            ("sla_deadline", "<", fields.Datetime.now()),
        ]
        overdue = self.search(domain, order="sla_deadline, id", limit=batch_size)
        overdue.write({"is_overdue": True, "is_escalated": True})
        overdue._escalate_to_leaders()
        remaining = self.search_count(domain) if len(overdue) == batch_size else 0
        self.env["ir.cron"]._notify_progress(done=len(overdue), remaining=remaining)
        return overdue

    def _escalate_to_leaders(self):
        """A to-do for the leader of each request's team (or of its source's
        team), all created at once, and one notice per leader for the whole
        batch instead of an e-mail per request."""
        todo = self.env.ref("mail.mail_activity_data_todo")
        model_id = self.env["ir.model"]._get_id(self._name)
        today = fields.Date.context_today(self)
        values = []
        for interaction in self:
            leader = interaction.team_id.user_id or interaction.source_id.team_id.user_id
            if leader:
                values.append(
                    {
                        "activity_type_id": todo.id,
                        "summary": self.env._(
                            "Overdue request: %(name)s", name=interaction.display_name
                        ),
                        "automated": True,
                        "date_deadline": today,
                        "res_model_id": model_id,
                        "res_id": interaction.id,
                        "user_id": leader.id,
                    }
                )
        self._plan_activities(
            values,
            subject=lambda env, n: env._("%(count)s requests overdue in your teams", count=n),
            intro=lambda env: env._(
                "These requests went past their response target; a to-do waits for you "
                "on each of them."
            ),
        )

    def _plan_activities(self, values, subject, intro):
        """Create the activities ``values`` (on requests of ``self``) at once,
        without Odoo's e-mail per activity, and tell each assignee about
        his in one notice (``_notify_assigned``)."""
        if not values:
            # nobody to tell (a missed call of a source without a team): not
            # even an empty create, which reads the current user (API hot path)
            return
        activities = (
            self.env["mail.activity"].with_context(mail_activity_quick_update=True).create(values)
        )
        for user, planned in activities.grouped("user_id").items():
            self.browse(planned.mapped("res_id"))._notify_assigned(user, subject, intro)

    def _notify_assigned(self, user, subject, intro):
        """Tell ``user``, in one notice in his language (inbox or e-mail, as
        he chose; queued), about these requests: ``subject(env, count)`` and
        ``intro(env)`` give the texts, the requests are listed (the first
        ``SLA_NOTICE_LINES``, the rest counted)."""
        if user == self.env.user or not user.active:
            return
        env = self.with_context(lang=user.lang, mail_notify_force_send=False).env
        shown = self[:SLA_NOTICE_LINES]
        lines = Markup().join(Markup("<li>%s</li>") % r.display_name for r in shown)
        if len(self) > len(shown):
            more = env._("and %(count)s more", count=len(self) - len(shown))
            lines += Markup("<li>%s</li>") % more
        body = Markup("<p>%s</p><ul>%s</ul>") % (intro(env), lines)
        env["mail.thread"].message_notify(
            partner_ids=user.partner_id.ids, subject=subject(env, len(self)), body=body
        )

    @api.model
    def _timeline_counts(self, field, partner_ids):
        """``{partner id: count}`` for the smart buttons: one grouped query."""
        return {
            partner.id: count
            for partner, count in self._read_group(
                [(field, "in", partner_ids)], [field], ["__count"]
            )
        }

    @api.model
    def _timeline_action(self, domain, context=None):
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "crm_contact_center.crm_interaction_action"
        )
        action.update(domain=domain, context=context or {})
        return action

    # ------------------------------------------------------------------
    # QUEUE: priorities and deadlines
    # ------------------------------------------------------------------

    @api.model
    def _plan_working_hours(self, calendar, requests):
        """The deadlines of ``requests``, pairs (start, hours) in naive UTC,
        in the working time of ``calendar``: what
        ``calendar.plan_hours(hours, start, compute_leaves=True)`` gives for
        each, with the calendar's attendances and leaves (its own and the
        public holidays of its company) read once for all of them
        (``lib.sla``). ``False`` for a deadline beyond ten years of the
        calendar's working time (a calendar without any)."""
        if calendar.flexible_hours:
            # no fixed hours to count in: around the clock
            return [start + timedelta(hours=hours) for start, hours in requests]
        leaves = [("time_type", "=", "leave")]
        if calendar.company_id:
            # public holidays without a calendar belong to a company: not
            # another company's (plan_hours would count every company's)
            leaves.append(("company_id", "in", [False, calendar.company_id.id]))
        deadlines = [False] * len(requests)
        pending = dict(enumerate(requests))  # index: (start, hours still to plan)
        first = min(start for start, _hours in requests)
        last = max(start for start, _hours in requests)
        windows = [(first, last + timedelta(days=14)), *next_windows(last + timedelta(days=14))]
        for window_start, window_end in windows:
            intervals = calendar._work_intervals_batch(
                window_start.replace(tzinfo=UTC), window_end.replace(tzinfo=UTC), domain=leaves
            )[False]
            working = WorkingTime(
                (
                    start.astimezone(UTC).replace(tzinfo=None),
                    stop.astimezone(UTC).replace(tzinfo=None),
                )
                for start, stop, _meta in intervals
            )
            for index, (start, hours) in list(pending.items()):
                deadline, left = working.plan(start, hours)
                if deadline:
                    deadlines[index] = deadline
                    del pending[index]
                else:
                    pending[index] = (window_end, left)
            if not pending:
                break
        return deadlines

    @api.model
    def _recompute_open_deadlines(self, domain):
        """Compute the deadline of the open inbound requests of ``domain``
        again (a channel's targets or a team's working hours changed)."""
        # sudo: the change was made by someone allowed to make it; the
        # deadlines of every open request it concerns follow, whoever reads them
        requests = self.sudo().search(
            [*domain, ("state", "in", OPEN_STATES), ("direction", "=", "inbound")]
        )
        self.env.add_to_compute(self._fields["sla_deadline"], requests)
        requests.flush_recordset(["sla_deadline"])

    def _refresh_priority(self):
        """Compute the priority of these requests again (their customer's
        figures changed), and the deadline of those whose priority moved;
        the ones still waiting for an agent are routed again (a raised
        priority may send them to a senior team). Set-based: one compute of
        the priority and one of the deadlines for the whole recordset.
        Returns the requests whose priority moved."""
        requests = self.sudo()
        before = {request.id: request.priority for request in requests}
        for field in self.pool.field_computed[self._fields["priority"]]:
            self.env.add_to_compute(field, requests)
        requests.flush_recordset()
        moved = requests.filtered(lambda r: r.priority != before[r.id])
        self.env.add_to_compute(self._fields["sla_deadline"], moved)
        moved.flush_recordset(["sla_deadline"])
        # recomputed outside of a write: what is computed from them on the
        # fly (the reason, "breach soon") is read again
        requests.invalidate_recordset()
        moved.filtered(lambda r: not r.user_id and r.state in ("new", "missed"))._route()
        return moved

    # ------------------------------------------------------------------
    # SATISFACTION: the automatic rating request
    # ------------------------------------------------------------------

    @api.model
    def _rating_handled_outcomes(self):
        """The outcomes after which the customer is asked for a rating
        (extension point: a bridge adds its own)."""
        return HANDLED_OUTCOMES

    def _queue_rating_requests(self):
        """Requests just closed as handled on a channel that asks for a
        rating automatically: marked to send, and the sender
        (``_cron_send_rating_requests``) woken up to run after this
        transaction commits, never in the agent's click. A request that has
        a satisfaction state already keeps it: reopened and closed again, it
        is not asked twice."""
        handled = self._rating_handled_outcomes()
        todo = self.filtered(
            lambda i: i.state == "done"
            and i.direction == "inbound"
            and i.outcome in handled
            and i.channel_id.rating_auto
            and not i.rating_request_state
        )
        if not todo:
            return
        # sudo: the state is the server's (PROTECTED_FIELDS); the user closed them
        todo.sudo().write({"rating_request_state": "pending"})
        sender = self.env.ref(
            "crm_contact_center.ir_cron_send_rating_requests", raise_if_not_found=False
        )
        if sender:  # an administrator may have deleted it: never fail the agent's click
            sender.sudo()._trigger()

    @api.model
    def _cron_send_rating_requests(self, batch_size=None):
        """Send the satisfaction requests waiting to be sent, a batch
        (``crm_contact_center.rating_batch``, default 200, oldest first) per
        call, and report how many remain so the scheduler calls again at once
        until none do. Restartable: only waiting requests are read, and each
        leaves the waiting state in the transaction that sends it.
        Returns the requests of the batch."""
        batch_size = batch_size or int(
            self.env["ir.config_parameter"].sudo().get_param("crm_contact_center.rating_batch", 200)
        )
        self.flush_model(["rating_request_state", "done_date"])
        # SQL for the lock, which the ORM cannot take: a request being sent
        # by the agent's button (or by a second worker) is skipped, never
        # sent twice
        rows = self.env.execute_query(
            SQL(
                "SELECT id FROM crm_interaction WHERE rating_request_state = 'pending'"
                " ORDER BY done_date, id LIMIT %s FOR UPDATE SKIP LOCKED",
                batch_size,
            )
        )
        batch = self.sudo().browse(row[0] for row in rows)
        batch._send_pending_rating_requests()
        remaining = (
            self.sudo().search_count([("rating_request_state", "=", "pending")])
            if len(batch) == batch_size
            else 0
        )
        self.env["ir.cron"]._notify_progress(done=len(batch), remaining=remaining)
        return batch

    def _send_pending_rating_requests(self):
        """Send the rating requests of these handled requests, except to a
        contact without a valid e-mail address (``no_email``) or asked less
        than the company's interval ago (``recent``): each contact is asked
        at most once per interval, by request or by hand, within this batch
        too. One grouped query finds the contacts' last requests."""
        now = fields.Datetime.now()
        no_email = self.filtered(lambda i: not i.partner_id.email_normalized)
        candidates = (self - no_email).sorted(lambda i: (i.done_date or i.date, i.id))
        intervals = {c: c.interaction_rating_interval_days for c in candidates.company_id}
        last = {}  # (e-mail address, company): when it was last asked
        if any(intervals.values()):
            cutoff = now - timedelta(days=max(intervals.values()))
            # one person may be several contacts with the same address (the
            # e-mail capture makes such duplicates): the interval is per address
            emails = set(candidates.partner_id.mapped("email_normalized"))
            # sudo: the addresses' other contacts, to count their requests
            namesakes = (
                self.env["res.partner"]
                .sudo()
                .with_context(active_test=False)
                .search_fetch([("email_normalized", "in", list(emails))], ["email_normalized"])
            )
            for partner, company, date in self.sudo()._read_group(
                [
                    ("partner_id", "in", namesakes.ids),
                    ("company_id", "in", candidates.company_id.ids),
                    ("rating_request_date", ">=", cutoff),
                ],
                ["partner_id", "company_id"],
                ["rating_request_date:max"],
            ):
                key = (partner.email_normalized, company)
                last[key] = max(last.get(key, date), date)
        recent, to_send = self.browse(), self.browse()
        for interaction in candidates:
            key = (interaction.partner_id.email_normalized, interaction.company_id)
            days = intervals[interaction.company_id]
            if days and key in last and last[key] > now - timedelta(days=days):
                recent |= interaction
            else:
                to_send |= interaction
                last[key] = now
        no_email.sudo().write({"rating_request_state": "no_email"})
        recent.sudo().write({"rating_request_state": "recent"})
        to_send._send_rating_request()

    def _send_rating_request(self):
        """E-mail each request's contact the addon's satisfaction request
        (``mail_template_interaction_rating``, rating.mixin's
        ``rating_send_request``; queued mail), each in a savepoint so that
        one failing request does not stop the others, and record it."""
        template = self.env.ref("crm_contact_center.mail_template_interaction_rating")
        sent, failed = self.browse(), self.browse()
        for interaction in self:
            try:
                with self.env.cr.savepoint():
                    interaction.rating_send_request(template, force_send=False)
            except Exception:
                # the error is logged; the request is marked so the queue moves on
                _logger.exception("Satisfaction request of interaction %s failed", interaction.id)
                failed |= interaction
            else:
                sent |= interaction
        # sudo: the state is the server's (PROTECTED_FIELDS)
        sent.sudo().write(
            {"rating_request_state": "sent", "rating_request_date": fields.Datetime.now()}
        )
        failed.sudo().write({"rating_request_state": "failed"})

    def rating_apply(
        self, rate, token=None, rating=None, feedback=None, subtype_xmlid=None,
        notify_delay_send=False,
    ):  # fmt: skip
        """The customer's answer (the public rating page calls this as
        superuser once it checked the token): a low rating, at or below the
        company's threshold, plans a to-do for the team leader, once per
        rating (a customer who writes his comment afterwards, or rates low
        again, does not plan a second)."""
        if token and not rating:
            rating = (
                self.env["rating.rating"].sudo().search([("access_token", "=", token)], limit=1)
            )
        rating = super().rating_apply(
            rate, token=token, rating=rating, feedback=feedback, subtype_xmlid=subtype_xmlid,
            notify_delay_send=notify_delay_send,
        )  # fmt: skip
        if self._is_low_rating(rate) and not self.rating_followed_up:
            self._plan_low_rating_follow_up(rating)
            # sudo: a server field (PROTECTED_FIELDS); the customer may toggle
            # his answer on the public page as often as he likes
            self.sudo().rating_followed_up = True
        return rating

    def _is_low_rating(self, rate):
        self.ensure_one()
        threshold = self.company_id.interaction_rating_low_threshold
        return bool(threshold and rate and rate <= threshold)

    def _plan_low_rating_follow_up(self, rating):
        """A to-do for the leader of the request's team (or of its source's
        team, else for its agent), due today, with the customer's comment."""
        self.ensure_one()
        leader = self.team_id.user_id or self.source_id.team_id.user_id or self.user_id
        if not leader:
            _logger.info("Low rating of interaction %s: nobody to follow it up", self.id)
            return
        todo = self.env.ref("mail.mail_activity_data_todo")
        who = rating.partner_id.name or self.partner_id.name or ""
        # in the leader's language, not the customer's who is answering
        env = self.with_context(lang=leader.lang or self.env.lang).env
        note = (
            Markup("<p>%s</p>") % rating.feedback
            if rating.feedback
            else Markup("<p>%s</p>") % env._("No comment.")
        )
        # sudo: the system plans it on behalf of the customer's answer
        self.sudo()._plan_activities(
            [
                {
                    "activity_type_id": todo.id,
                    "summary": env._(
                        "Low rating (%(rating)s/5) from %(who)s", rating=int(rating.rating), who=who
                    ),
                    "note": note,
                    "automated": True,
                    "date_deadline": fields.Date.context_today(self),
                    "res_model_id": self.env["ir.model"]._get_id(self._name),
                    "res_id": self.id,
                    "user_id": leader.id,
                }
            ],
            subject=lambda env, n: env._("A customer was not satisfied"),
            intro=lambda env: env._(
                "A customer gave a low rating after this request; a to-do waits for you on it."
            ),
        )

    # ------------------------------------------------------------------
    # SCREEN POP: the caller's card on the agent's screen while it rings
    # ------------------------------------------------------------------

    @api.model
    def screen_pop_pending(self):
        """The cards of the calls ringing for the current user now: the web
        client asks at start, so an agent who (re)loads the page while the
        phone rings sees the card again. Calls popped on his screen in the
        last ``PENDING_SECONDS``, not answered nor ended (or in progress with
        another agent: transferred to him), of his companies.

        Usage (the OWL service): ``orm.call("crm.interaction", "screen_pop_pending", [])``.
        """
        user = self.env.user
        if user.share or not user.has_group("crm_contact_center.group_contact_center_agent"):
            return []
        since = fields.Datetime.now() - timedelta(seconds=PENDING_SECONDS)
        # sudo: an agent may not read every request of his team (see the agent
        # rule); the search is restricted to the calls popped on his own screen,
        # in the companies he works for
        calls = self.sudo().search(
            [
                ("screen_pop_user_ids", "in", user.ids),
                ("screen_pop_date", ">=", since),
                "|",
                ("state", "in", ("new", "assigned")),
                # transferred to him, still on the line with the first agent
                "&",
                ("state", "=", "in_progress"),
                ("user_id", "!=", user.id),
                ("company_id", "in", user.company_ids.ids),
            ],
            limit=10,
        )
        cards = calls.with_context(lang=user.lang)._screen_pop_cards()
        return [cards[call.id] for call in calls]

    def _screen_pop_send(self, requested=None):
        """Pop the card of these ringing calls on the screens of their agents
        (see ``lib.screen_pop.choose_targets``), as bus notifications on each
        agent's partner channel, sent when the transaction commits, and
        remember whom (``screen_pop_user_ids``) for ``screen_pop_pending`` and
        the withdrawal. ``requested``: ``{interaction: users}`` the PBX named
        (no users: it named an extension or login nobody has, the team's
        available agents get the card rather than the routed agent only).

        Set-based: the teams' agents, the presence of every candidate and the
        cards (one per language of the agents) are read once for the batch.
        """
        requested = requested or {}
        nobody = self.env["res.users"]
        # a call in progress rings again on another agent's phone: transferred
        # (or a second agent asked in); only the named agents get its card
        calls = self.filtered(
            lambda i: i.state in ("new", "assigned")
            or (i.state == "in_progress" and requested.get(i, nobody) - i.user_id)
        )
        if not calls:
            return
        agent_group = self.env["res.groups"].browse(
            self.env["ir.model.data"]._xmlid_to_res_id(
                "crm_contact_center.group_contact_center_agent"
            )
        )
        Users = self.env["res.users"].sudo()
        candidates = calls.user_id | calls.team_id.member_ids
        for users in requested.values():
            candidates |= users
        online = {
            presence.user_id.id
            for presence in self.env["bus.presence"]
            .sudo()
            .search([("user_id", "in", candidates.ids), ("status", "=", "online")])
        }
        targets = {}
        for call in calls:
            if call.state == "in_progress":
                targets[call] = requested[call] - call.user_id
                continue
            team = call.team_id.member_ids.filtered(
                lambda u, call=call: u._is_available_agent(call.company_id, agent_group)
            )
            # an empty recordset: the PBX named an unknown phone, the team gets it
            wanted = requested[call] if call in requested else call.user_id
            chosen = choose_targets(wanted.ids, team.ids, online)
            if chosen:
                targets[call] = Users.browse(chosen)
        if not targets:
            return
        # one write per distinct set of agents (a batch rings few of them)
        by_users = defaultdict(lambda: self.browse())
        for call, users in targets.items():
            by_users[users] |= call
        now = fields.Datetime.now()
        for users, group in by_users.items():
            # added to those who saw it already: an answer withdraws all the cards
            group.sudo().write(
                {
                    "screen_pop_user_ids": [Command.link(uid) for uid in users.ids],
                    "screen_pop_date": now,
                }
            )
        # cards in each agent's language
        by_lang = defaultdict(lambda: self.browse())
        for call, users in targets.items():
            for lang in set(users.mapped("lang")):
                by_lang[lang] |= call
        cards = {
            lang: group.with_context(lang=lang)._screen_pop_cards()
            for lang, group in by_lang.items()
        }
        Bus = self.env["bus.bus"].sudo()
        for call, users in targets.items():
            for user in users:
                Bus._sendone(user.partner_id, POP_TYPE, cards[user.lang][call.id])

    def _screen_pop_withdraw(self, keep=None):
        """Take the cards of these calls away from the screens they popped on
        (answered, ended, missed): ``keep`` (a user) still sees his, and is
        the only one a reload shows it again to (``screen_pop_pending``)."""
        Bus = self.env["bus.bus"].sudo()
        keep = keep or self.env["res.users"]
        for call in self.sudo().filtered("screen_pop_user_ids"):
            leaving = call.screen_pop_user_ids - keep
            for user in leaving:
                Bus._sendone(user.partner_id, WITHDRAW_TYPE, {"id": call.id})
            if leaving:
                call.screen_pop_user_ids -= leaving

    def _screen_pop_cards(self):
        """``{interaction id: card}``: what the agent's screen shows of each
        call, a JSON dict (the OWL card component reads it; labels in the
        context's language). Only the call's company's data: a contact of
        another company is never shown, the history is of the call's company.

        Set-based: one query for the latest interactions of every customer,
        one ``_customer_facts`` per company (the retention bridge adds the
        stage, the chance still active, the value at risk and the offer).
        """
        calls = self.sudo()
        partners = {}
        for call in calls:
            partner = call.partner_id
            if partner.company_id and partner.company_id != call.company_id:
                partner = partner.browse()  # never another company's contact
            partners[call] = partner
        history = calls._screen_pop_history(partners)
        facts = {}
        for company in calls.company_id:
            customers = self.env["res.partner"].browse(
                {p.commercial_partner_id.id for c, p in partners.items() if c.company_id == company}
                - {False}
            )
            facts[company] = calls._customer_facts(customers, company) if customers else {}
        states = dict(self._fields["state"]._description_selection(self.env))
        cards = {}
        for call in calls:
            partner = partners[call]
            customer = partner.commercial_partner_id
            lead = call.lead_id
            if lead.company_id and lead.company_id != call.company_id:
                lead = lead.browse()
            is_deal = bool(lead) and lead.type == "opportunity" and lead.active
            cards[call.id] = {
                "id": call.id,
                "call_id": call.external_id or False,
                "channel": call.channel_id.name,
                "state": call.state,
                "state_label": states.get(call.state, call.state),
                "date": fields.Datetime.to_string(call.date),
                "caller_name": partner.name or call.contact_name or call.contact_phone or "",
                "caller_phone": call.contact_phone or partner.phone or partner.mobile or "",
                "partner_id": partner.id or False,
                "partner_name": partner.name or False,
                "company_name": customer.name if customer and customer != partner else False,
                "photo_url": f"/web/image/res.partner/{partner.id}/avatar_128"
                if partner
                else False,
                "opportunity_id": lead.id if is_deal else False,
                "opportunity_name": lead.name if is_deal else False,
                "lead_id": lead.id if lead and not is_deal else False,
                "history": history.get(call.id, []),
                "facts": facts.get(call.company_id, {}).get(customer.id, {}),
            }
        return cards

    def _screen_pop_history(self, partners):
        """``{interaction id: [the customer's latest interactions]}``, at most
        ``HISTORY_SIZE`` per call, of the call's company, the call itself left
        out. ``partners``: ``{call: partner shown}``.

        One query: a LATERAL top-N per (customer, company) on the
        (commercial_partner_id, date desc, id desc) index; the ORM would run a
        search per customer."""
        pairs = {
            (partner.commercial_partner_id.id, call.company_id.id)
            for call, partner in partners.items()
            if partner
        }
        if not pairs:
            return {}
        self.flush_model(
            ["commercial_partner_id", "company_id", "date", "channel_id", "subject", "state"]
        )
        customer_ids, company_ids = zip(*pairs, strict=True)
        rows = self.env.execute_query(
            SQL(
                """
                SELECT k.customer_id, k.company_id, i.id, i.date, i.channel_id, i.subject,
                       i.state, i.direction
                  FROM unnest(%(customers)s::int[], %(companies)s::int[])
                       AS k(customer_id, company_id)
                 CROSS JOIN LATERAL (
                       SELECT id, date, channel_id, subject, state, direction
                         FROM crm_interaction
                        WHERE commercial_partner_id = k.customer_id
                          AND company_id = k.company_id
                          AND id != ALL(%(calls)s::int[])
                        ORDER BY date DESC, id DESC
                        LIMIT %(size)s) i
                 ORDER BY i.date DESC, i.id DESC
                """,
                customers=list(customer_ids),
                companies=list(company_ids),
                calls=self.ids,
                size=HISTORY_SIZE,
            )
        )
        channels = {
            channel.id: channel.name
            for channel in self.env["crm.interaction.channel"]
            .sudo()
            .browse({row[4] for row in rows})
        }
        states = dict(self._fields["state"]._description_selection(self.env))
        directions = dict(self._fields["direction"]._description_selection(self.env))
        by_pair = defaultdict(list)
        for customer_id, company_id, iid, date, channel_id, subject, state, direction in rows:
            by_pair[customer_id, company_id].append(
                {
                    "id": iid,
                    "date": fields.Datetime.to_string(date),
                    "channel": channels.get(channel_id, ""),
                    "direction": directions.get(direction, direction),
                    "summary": subject or "",
                    "state": state,
                    "state_label": states.get(state, state),
                }
            )
        return {
            call.id: by_pair.get((partner.commercial_partner_id.id, call.company_id.id), [])
            for call, partner in partners.items()
            if partner
        }

    @api.model
    def _customer_facts(self, partners, company):
        """Extension point: ``{customer id: dict}`` of what a card shows about
        each of ``partners`` (commercial partners) in ``company``, read for
        all of them at once. The retention bridge adds the lifecycle stage,
        the chance still active, the value at risk and the open offer; the
        card component shows the keys it knows (see DEVELOP.md)."""
        return {}

    def action_screen_pop_open_customer(self):
        """The card's "Open Customer": the caller's customer form."""
        self.ensure_one()
        self.check_access("read")
        partner = self.partner_id.commercial_partner_id or self.partner_id
        if not partner:
            raise UserError(self.env._("The caller is not a known contact yet."))
        return self._form_action(partner)

    def action_screen_pop_opportunity(self):
        """The card's "Open Opportunity" (or lead), or "Create Opportunity"
        when the caller has none: the deal is linked to the call."""
        self.ensure_one()
        self.check_access("write")
        if not self.lead_id:
            return self.action_convert_opportunity()
        return self._form_action(self.lead_id)

    def action_screen_pop_create_contact(self):
        """An unknown caller in one click: a contact with the caller's phone
        (and name or e-mail when the PBX gave them), linked to the call,
        opened for the agent to complete."""
        self.ensure_one()
        self.check_access("write")
        if not self.partner_id:
            partner = self.env["res.partner"].create(
                {
                    "name": self.contact_name
                    or self.contact_phone
                    or self.contact_email
                    or self.env._("Unknown caller"),
                    "phone": self.contact_phone,
                    "email": self.contact_email,
                    "company_id": self.company_id.id,
                }
            )
            self.partner_id = partner
        return self._form_action(self.partner_id)

    def action_screen_pop_create_lead(self):
        """An unknown caller in one click: a lead with the caller's phone,
        linked to the call (or the lead already linked), opened."""
        self.ensure_one()
        self.check_access("write")
        if not self.lead_id:
            self.lead_id = self.env["crm.lead"].create(
                {
                    **self._prepare_opportunity_values(),
                    "type": "lead",
                    "name": self.env._(
                        "Call from %(who)s",
                        who=self.contact_name or self.contact_phone or self.partner_id.name or "?",
                    ),
                }
            )
        return self.action_screen_pop_opportunity()

    # ------------------------------------------------------------------
    # CLICK-TO-DIAL: the PBX rings the agent, then the customer
    # ------------------------------------------------------------------

    @api.model
    def action_click_to_dial(self, res_model, res_id, number=None):
        """The Call button of a phone number (``phone_dial`` widget): ask the
        PBX of the agent's company to ring the agent's extension, then
        ``number`` (E.164), and log the outbound call. Returns the action the
        web client runs:

        - a success notification, and the call logged (outbound, in progress,
          linked to the contact and the opportunity);
        - without a PBX set up for click-to-dial: a ``tel:`` URL (the
          agent's softphone), nothing logged;
        - the PBX unreachable, slow (``TIMEOUT_SECONDS``) or answering with an
          error: a warning notification, nothing logged (the call did not
          start).

        Usage: ``orm.call("crm.interaction", "action_click_to_dial",
        ["res.partner", 42, "+32 2 555 12 34"])``.
        """
        record = self._click_to_dial_record(res_model, res_id)
        partner, lead = self._click_to_dial_contact(record)
        number = (number or "").strip() or partner.phone or partner.mobile
        if not number:
            raise UserError(
                self.env._("%(name)s has no phone number to call.", name=record.display_name)
            )
        e164 = record._phone_format(number=number, country=partner.country_id) or number
        source = self._click_to_dial_source()
        if not source:
            return {"type": "ir.actions.act_url", "url": "tel:" + e164, "target": "self"}
        extension = self.env.user.contact_center_extension
        if not extension:
            raise UserError(
                self.env._(
                    "Set your phone extension first (your preferences, Contact Center), so"
                    " the PBX knows which phone to ring."
                )
            )
        secrets = source._valid_secrets("webhook")
        request = build_request(
            source.originate_url,
            source.originate_method,
            source.originate_body,
            extension,
            e164,
            secret=secrets[0] if secrets else None,  # the newest
            timestamp=time.time(),
            msg_id=f"dial_{uuid.uuid4().hex}",
        )
        error = self._click_to_dial_send(request)
        if error:
            return self._click_to_dial_notification(
                self.env._("The phone system did not start the call to %(number)s: %(error)s",
                           number=e164, error=error),
                "danger",
            )  # fmt: skip
        self.create(
            {
                "channel_id": self._click_to_dial_channel().id,
                "direction": "outbound",
                "state": "in_progress",
                "partner_id": partner.id,
                "lead_id": lead.id,
                "contact_phone": e164,
                "user_id": self.env.uid,
                "subject": self.env._("Call to %(who)s", who=partner.name or lead.name or e164),
                "company_id": self.env.company.id,
            }
        )
        return self._click_to_dial_notification(
            self.env._(
                "Calling %(number)s: pick up your phone (extension %(extension)s).",
                number=e164,
                extension=extension,
            ),
            "success",
        )

    @api.model
    def _click_to_dial_models(self):
        """Extension point: the models whose numbers can be called (a bridge
        adds its own, and maps its records in ``_click_to_dial_contact``)."""
        return ("res.partner", "crm.lead")

    @api.model
    def _click_to_dial_record(self, res_model, res_id):
        if res_model not in self._click_to_dial_models():
            raise UserError(self.env._("Numbers of this kind of record cannot be called."))
        record = self.env[res_model].browse(int(res_id)).exists()
        if not record:
            raise UserError(self.env._("This record no longer exists."))
        record.check_access("read")
        return record

    @api.model
    def _click_to_dial_contact(self, record):
        """``(partner, lead)`` the call of ``record``'s number is logged on."""
        if record._name == "crm.lead":
            return record.partner_id, record
        if record._name == "res.partner":
            return record, self.env["crm.lead"]
        return self.env["res.partner"], self.env["crm.lead"]

    @api.model
    def _click_to_dial_source(self):
        """The integration of the agent's company set up for click-to-dial."""
        # sudo: the originate settings of the agent's own company's PBX are
        # read to call it, never shown to the agent
        return (
            self.env["crm.interaction.source"]
            .sudo()
            .search(
                [
                    ("company_id", "=", self.env.company.id),
                    ("originate_url", "!=", False),
                ],
                order="id",
                limit=1,
            )
        )

    @api.model
    def _click_to_dial_channel(self):
        return self.env["crm.interaction.channel"].search(
            [("code", "=", "phone"), ("company_id", "in", [self.env.company.id, False])],
            order="company_id",
            limit=1,
        )

    @api.model
    def _click_to_dial_send(self, request):
        """Send the originate request; an error message, or None when the PBX
        accepted it (2xx) within the timeout (``TIMEOUT_SECONDS``, or the
        system parameter ``crm_contact_center.originate_timeout``; the agent
        waits for it). Redirects are not followed: the configured URL is
        the only place the request goes."""
        timeout = float(
            self.env["ir.config_parameter"]
            .sudo()
            .get_param("crm_contact_center.originate_timeout", TIMEOUT_SECONDS)
        )
        try:
            response = requests.request(
                request.method,
                request.url,
                headers=request.headers,
                data=request.body or None,
                timeout=timeout,
                allow_redirects=False,
            )
        except requests.Timeout:
            return self.env._("no answer within %(seconds)s seconds", seconds=timeout)
        except requests.RequestException as exc:
            _logger.info("Click-to-dial: the PBX could not be reached: %s", exc)
            return self.env._("it could not be reached")
        if not 200 <= response.status_code < 300:
            _logger.info(
                "Click-to-dial: the PBX answered %s: %s", response.status_code, response.text[:500]
            )
            return self.env._("it answered %(status)s", status=response.status_code)
        return None

    @api.model
    def _click_to_dial_notification(self, message, kind):
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {"message": message, "type": kind, "sticky": kind == "danger"},
        }

    # ------------------------------------------------------------------
    # CAPTURE from stock documents
    # ------------------------------------------------------------------

    @api.model
    def _log_captured(self, source_key, values_list):
        """Create the interactions of ``values_list`` (each with an ``external_id``)
        that are not logged yet under ``source_key``; return them.

        Runs as superuser: capture is a side effect of a document the user was
        allowed to create (a message, a meeting, an SMS), and the interaction
        must exist whatever the user's rights on the log.
        """
        existing = self._sql_existing_keys(source_key, [v["external_id"] for v in values_list])
        todo, seen = [], set(existing)
        for values in values_list:
            if values["external_id"] not in seen:
                seen.add(values["external_id"])
                todo.append({**values, "source_key": source_key})
        if not todo:
            return self.browse()
        self._drop_foreign_users(todo)
        return self.sudo().with_context(mail_create_nolog=True, tracking_disable=True).create(todo)

    @api.model
    def _drop_foreign_users(self, values_list):
        """Unset the agent of captured values when he does not work for the
        interaction's company (an e-mail or a meeting of a colleague of another
        company): the capture must not fail the document it logs."""
        user_ids = {values["user_id"] for values in values_list if values.get("user_id")}
        if not user_ids:
            return
        # sudo: only the users' companies are read, to compare them with the rows'
        users = self.env["res.users"].sudo().browse(user_ids)
        allowed = {(user.id, company.id) for user in users for company in user.company_ids}
        for values in values_list:
            if values.get("user_id") and (values["user_id"], values["company_id"]) not in allowed:
                values["user_id"] = False

    @api.model
    def _capture_messages(self, messages):
        """Log e-mails (gateway and composer), SMS and done call activities posted
        on partners and opportunities; notes and notifications are skipped."""
        channels = self._capture_channels()
        values_list = []
        for message in messages:
            if message.model not in self._CAPTURED_MODELS or not message.res_id:
                continue
            kind = message.message_type
            if kind in ("email", "comment", "email_outgoing"):
                if not message.subtype_id or message.subtype_id.internal:
                    continue
                channel = channels["email"]
            elif kind == "sms":
                channel = channels["sms"]
            elif kind == "notification" and message.mail_activity_type_id.category == "phonecall":
                channel = channels["phone"]
            else:
                continue
            record = self.env[message.model].browse(message.res_id).sudo()
            lead = record if message.model == "crm.lead" else self.env["crm.lead"]
            # an archived employee's message is still outbound
            author_user = message.author_id.with_context(active_test=False).user_ids.filtered(
                lambda u: not u.share
            )[:1]
            inbound = kind in ("email", "comment") and not author_user
            partner = lead.partner_id if lead else record
            if inbound and message.author_id and not partner:
                partner = message.author_id
            if not partner and not lead:
                continue
            values_list.append(
                {
                    "external_id": str(message.id),
                    "channel_id": channel.id,
                    "direction": "inbound" if inbound else "outbound",
                    "state": "new" if inbound else "done",
                    "date": message.date,
                    "subject": message.subject
                    or (
                        message.mail_activity_type_id.name
                        if kind == "notification"
                        else message.record_name
                    ),
                    "body": message.body,
                    "partner_id": partner.id,
                    "lead_id": lead.id,
                    "user_id": (author_user.id if not inbound else False),
                    "team_id": lead.team_id.id,
                    "company_id": (lead.company_id or partner.company_id or self.env.company).id,
                    "contact_email": message.email_from if inbound else False,
                    "res_model": "mail.message",
                    "res_id": message.id,
                }
            )
        return self._log_captured("mail.message", values_list)

    @api.model
    def _capture_meetings(self, events):
        """One interaction per meeting with customer attendees, kept in sync."""
        channel = self._capture_channels()["meeting"]
        now = fields.Datetime.now()
        values_by_key = {}
        for event in events.sudo():
            customers = event.partner_ids.filtered(
                lambda p: not p.user_ids.filtered(lambda u: not u.share)
            )
            if not customers or not event.start:
                continue
            lead = event.opportunity_id
            partner = lead.partner_id if lead.partner_id in customers else customers[:1]
            values_by_key[str(event.id)] = {
                "external_id": str(event.id),
                "channel_id": channel.id,
                "direction": "outbound",
                "state": "done" if event.stop and event.stop < now else "assigned",
                "date": event.start,
                "duration": int((event.duration or 0) * 3600),
                "subject": event.name,
                "body": event.description,
                "partner_id": partner.id,
                "lead_id": lead.id,
                "user_id": event.user_id.id,
                "team_id": lead.team_id.id,
                "company_id": (lead.company_id or partner.company_id or self.env.company).id,
                "res_model": "calendar.event",
                "res_id": event.id,
            }
        if not values_by_key:
            return self.browse()
        self._drop_foreign_users(list(values_by_key.values()))
        logged = self.sudo().search(
            [("source_key", "=", "calendar.event"), ("external_id", "in", list(values_by_key))]
        )
        for interaction in logged:
            values = dict(values_by_key.pop(interaction.external_id))
            values.pop("external_id")
            if interaction.state in ("done", "in_progress") and values["state"] == "assigned":
                values.pop("state")
            interaction.with_context(tracking_disable=True).write(values)
        return logged | self._log_captured("calendar.event", list(values_by_key.values()))

    @api.model
    def _capture_sms(self, sms_records):
        """SMS sent from Odoo without a chatter message (those are logged from it)."""
        channel = self._capture_channels()["sms"]
        values_list = [
            {
                "external_id": str(sms.id),
                "channel_id": channel.id,
                "direction": "outbound",
                "state": "done",
                "subject": self.env._("SMS to %(number)s", number=sms.number or ""),
                "body": plaintext2html(sms.body or ""),
                "partner_id": sms.partner_id.id,
                "contact_phone": sms.number,
                "user_id": self.env.user.id if not self.env.user.share else False,
                "company_id": (sms.partner_id.company_id or self.env.company).id,
            }
            for sms in sms_records.sudo()
            if sms.partner_id and not sms.mail_message_id
        ]
        return self._log_captured("sms.sms", values_list)

    @api.model
    def _capture_channels(self):
        # _xmlid_to_res_id is cached: no query per captured message
        IrModelData = self.env["ir.model.data"]
        Channel = self.env["crm.interaction.channel"]
        return {
            code: Channel.browse(IrModelData._xmlid_to_res_id(f"crm_contact_center.channel_{code}"))
            for code in ("email", "sms", "phone", "meeting")
        }

    @api.model
    def _check_backfill_allowed(self):
        supervisor = "crm_contact_center.group_contact_center_supervisor"
        if not self.env.su and not self.env.user.has_group(supervisor):
            raise AccessError(self.env._("Only supervisors can import the existing history."))

    @api.model
    def _backfill_message_domain(self):
        """Chatter messages the history import logs: e-mails, SMS, comments and
        done calls on the captured models."""
        return [
            ("model", "in", list(self._CAPTURED_MODELS)),
            "|",
            ("message_type", "in", ["email", "comment", "email_outgoing", "sms"]),
            ("mail_activity_type_id.category", "=", "phonecall"),
        ]

    @api.model
    def action_backfill_history(self, batch_size=2000):
        """One-off import of the history that predates the addon: e-mails, SMS and
        done calls in the chatter of partners and opportunities, and meetings.
        Safe to run again: already logged documents are skipped. Supervisors only
        (it reads every chatter as superuser); the history is logged as done, with
        no routing, callback or escalation; meetings still to come are logged as
        planned. Started from the confirmation dialog
        (``crm.interaction.backfill.wizard``)."""
        self._check_backfill_allowed()
        self = self.with_context(crm_interaction_backfill=True)
        Message = self.env["mail.message"].sudo()
        domain = self._backfill_message_domain()
        created = self.browse()
        last_id = 0
        while True:
            messages = Message.search_fetch(
                [*domain, ("id", ">", last_id)],
                ["model", "res_id", "message_type", "subtype_id", "author_id", "date"],
                order="id",
                limit=batch_size,
            )
            if not messages:
                break
            created |= self._capture_messages(messages)
            last_id = messages[-1].id
            self.env.invalidate_all()
        events = self.env["calendar.event"].sudo().search([("partner_ids", "!=", False)])
        created |= self._capture_meetings(events)
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "success",
                "message": self.env._("%(count)s interactions imported.", count=len(created)),
                "next": {"type": "ir.actions.act_window_close"},
            },
        }

    def _sql_existing_keys(self, source_key, external_ids):
        """The subset of ``external_ids`` already logged under ``source_key``."""
        if not external_ids:
            return set()
        self.flush_model(["source_key", "external_id"])
        # a plain lookup across companies and rights: deduplication must see every row
        rows = self.env.execute_query(
            SQL(
                "SELECT external_id FROM crm_interaction"
                " WHERE source_key = %s AND external_id IN %s",
                source_key,
                tuple(external_ids),
            )
        )
        return {row[0] for row in rows}
