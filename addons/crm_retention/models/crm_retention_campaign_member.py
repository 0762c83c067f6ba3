import logging
from collections import Counter, defaultdict

from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import SQL

from ..lib import campaign as campaign_lib

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
        self.partner_id.sudo().write({"retention_opt_out": True})
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
        """Give each member a unique single-use code and its expiry date.

        Extension point: ``crm_retention_loyalty`` replaces the codes by real
        loyalty coupons when the loyalty app is installed.
        """
        for campaign, members in self.grouped("campaign_id").items():
            codes = campaign_lib.generate_codes(
                len(members), prefix=(campaign.offer_code_prefix or "").upper()
            )
            for member, code in zip(members, codes, strict=True):
                member.write(
                    {
                        "offer_code": code,
                        "offer_expiry_date": fields.Date.add(
                            member.enrol_date, days=campaign.offer_validity_days
                        ),
                    }
                )

    # ------------------------------------------------------------------
    # BUSINESS: steps
    # ------------------------------------------------------------------

    @api.model
    def _run_due_steps(self, today=None, batch_size=None, failed=None):
        """Execute the due steps of running campaigns, campaign by campaign
        and batch by batch.

        Each batch runs in a savepoint and commits (cron only). A batch that
        fails is rolled back and reported on its campaign, whose other due
        steps wait for the next run, while the other campaigns go on; the
        ids of the failed campaigns are added to the ``failed`` set.

        A step runs at most once per member: the execution log has a unique
        (member, step) key and each batch first claims its rows with
        ``INSERT ... ON CONFLICT DO NOTHING``, so a run interrupted after a
        commit, a re-run or a concurrent worker never sends twice; only
        claimed rows are executed.

        The activities a run assigns are announced to each salesperson in
        one notice (``_notify_assigned_activities``), not one per activity.
        """
        today = today or fields.Date.context_today(self)
        batch_size = batch_size or int(
            self.env["ir.config_parameter"].sudo().get_param("crm_retention.step_batch_size", 500)
        )
        failed = set() if failed is None else failed
        Profile = self.env["crm.customer.profile"]
        assigned = defaultdict(Counter)  # user id: {campaign id: activities}
        done = 0
        for campaign in self.env["crm.retention.campaign"].search([("state", "=", "running")]):
            last_id = 0
            while True:
                members = self.search(
                    [
                        ("campaign_id", "=", campaign.id),
                        ("id", ">", last_id),
                        ("member_group", "=", "treated"),
                        ("next_step_id", "!=", False),
                        ("next_step_date", "<=", today),
                    ],
                    order="id",
                    limit=batch_size,
                )
                if not members:
                    break
                last_id = members[-1].id
                batch_assigned = Counter()
                if not campaign._run_isolated(members._run_batch, today, batch_assigned):
                    failed.add(campaign.id)
                    break
                for user_id, count in batch_assigned.items():
                    assigned[user_id][campaign.id] += count
                done += len(members)
                # a batch is consistent on its own (executions, messages queued,
                # members advanced in one transaction): commit it
                Profile._commit_progress(done=done)
        self._notify_assigned_activities(assigned)
        return done

    def _run_batch(self, today, assigned):
        """Run the due steps of these members of one campaign; count the
        activities assigned per user in ``assigned``."""
        self.campaign_id._check_runnable()
        for step, step_members in self.grouped("next_step_id").items():
            assigned.update(step_members._execute_step(step, today))

    def _execute_step(self, step, today):
        """Run ``step`` for the members that have not had it yet; return the
        number of activities it assigned per user id."""
        Execution = self.env["crm.retention.campaign.step.execution"].sudo()
        claimed = self.browse(Execution._claim(self, step, today))
        executions = Execution.search([("member_id", "in", claimed.ids), ("step_id", "=", step.id)])
        by_member = {e.member_id.id: e for e in executions}
        skipped, failed, to_run = {}, {}, claimed.browse()
        for member in claimed:
            reason = member._get_skip_reason(step)
            if reason:
                skipped[member.id] = reason
                continue
            issue = member._get_channel_issue(step)
            if issue:
                failed[member.id] = issue
                continue
            to_run |= member
        sent = to_run._send_step(step, by_member)
        assigned = sent.get("assigned", Counter())
        issues = {**failed, **sent.get("failed", {})}
        contacted = to_run.filtered(lambda m: m.id not in issues)
        # one write per (state, reason), not per member
        grouped = {("done", False): [by_member[m].id for m in contacted.ids]}
        for state, reasons in (("skipped", skipped), ("failed", issues)):
            for member_id, reason in reasons.items():
                grouped.setdefault((state, reason), []).append(by_member[member_id].id)
        for (state, reason), execution_ids in grouped.items():
            if execution_ids:
                Execution.browse(execution_ids).write({"state": state, "reason": reason})
        contacted._mark_contacted(today)
        by_issue = {}
        for member_id, reason in issues.items():
            by_issue.setdefault(reason, []).append(member_id)
        for reason, member_ids in by_issue.items():
            self.browse(member_ids).write({"last_issue": reason})
        # every member moves on, whatever happened to this step
        next_step = step._next_step()
        self.write(
            {
                "next_step_id": next_step.id,
                "next_step_date": fields.Date.add(today, days=next_step.delay_days)
                if next_step
                else False,
            }
        )
        return assigned

    def _get_skip_reason(self, step):
        """Why ``step`` must not reach this member (the member stays measured)."""
        self.ensure_one()
        partner = self.partner_id.sudo()
        if self.state in ("retained", "not_retained", "opted_out"):
            states = dict(self._fields["state"]._description_selection(self.env))
            return self.env._("Member is already %s", states[self.state])
        if not partner.active:
            return self.env._("Customer archived")
        if partner.retention_opt_out:
            return self.env._("Customer opted out of retention campaigns")
        if step.condition == "no_response" and self.responded_date:
            return self.env._("Customer already responded")
        if step.condition == "responded" and not self.responded_date:
            return self.env._("Customer has not responded")
        return False

    def _get_channel_issue(self, step):
        """Why the step's channel cannot reach the customer, if it cannot."""
        self.ensure_one()
        partner = self.partner_id.sudo()
        if step.action == "email":
            if not step.mail_template_id:
                return self.env._("Step %s has no e-mail template", step.name)
            if not partner.email_normalized:
                return self.env._("Customer has no valid e-mail address")
            if partner.is_blacklisted:
                return self.env._("E-mail address blacklisted")
        elif step.action == "sms":
            if not step.sms_template_id:
                return self.env._("Step %s has no SMS template", step.name)
            if not partner.phone_sanitized:
                return self.env._("Customer has no valid phone number")
            if partner.phone_sanitized_blacklisted:
                return self.env._("Phone number blacklisted")
        return False

    def _send_step(self, step, by_member):
        """Run ``step``'s action for these members in bulk; returns
        ``{"failed": {member id: reason}}`` for the ones it could not reach
        and, for an activity step, ``{"assigned": Counter(user id)}``."""
        if not self:
            return {}
        if step.action == "email":
            # rendered per batch, queued in the mail queue (sent by its cron)
            mails = step.mail_template_id.sudo().send_mail_batch(self.ids)
            for mail in mails:
                by_member[mail.res_id].mail_id = mail
        elif step.action == "sms":
            bodies = step.sms_template_id.sudo()._render_field("body", self.ids, compute_lang=True)
            sms_list = (
                self.env["sms.sms"]
                .sudo()
                .create(
                    [
                        {
                            "number": member.partner_id.phone_sanitized,
                            "body": bodies[member.id],
                            "partner_id": member.partner_id.id,
                            "state": "outgoing",
                        }
                        for member in self
                    ]
                )
            )
            for member, sms in zip(self, sms_list, strict=True):
                by_member[member.id].sms_id = sms
        elif step.action == "activity":
            model_id = self.env["ir.model"]._get_id(self._name)
            campaign = step.campaign_id
            activities = (
                self.env["mail.activity"]
                .sudo()
                # no "activity assigned" notice per activity: one per salesperson
                # and run instead (_notify_assigned_activities)
                .with_context(mail_activity_quick_update=True)
                .create(
                    [
                        {
                            "res_model_id": model_id,
                            "res_id": member.id,
                            "activity_type_id": step.activity_type_id.id,
                            "summary": step.activity_summary or step.name,
                            "note": step.note,
                            "user_id": (
                                member.user_id
                                if step.activity_user == "salesperson" and member.user_id.active
                                else campaign.user_id
                            ).id
                            or self.env.uid,
                            "date_deadline": fields.Date.context_today(self),
                        }
                        for member in self
                    ]
                )
            )
            for member, activity in zip(self, activities, strict=True):
                by_member[member.id].activity_id = activity
            return {"assigned": Counter(activity.user_id.id for activity in activities)}
        return {}

    @api.model
    def _notify_assigned_activities(self, assigned):
        """Tell each user, in one notice, how many campaign activities a run
        assigned to it (``{user id: {campaign id: count}}``), in its language
        and through its usual channel (inbox or e-mail, queued)."""
        Campaign = self.env["crm.retention.campaign"]
        for user in self.env["res.users"].browse(list(assigned)):
            if user == self.env.user or not user.active:
                continue
            counts = assigned[user.id]
            campaigns = Campaign.browse(list(counts))
            env = self.with_context(lang=user.lang, mail_notify_force_send=False).env
            lines = Markup().join(
                Markup("<li>%s</li>")
                % env._(
                    "%(campaign)s: %(count)s", campaign=campaign.name, count=counts[campaign.id]
                )
                for campaign in campaigns
            )
            total = sum(counts.values())
            subject = env._("%(count)s retention campaign activities assigned to you", count=total)
            body = Markup("<p>%s</p><ul>%s</ul>") % (
                env._(
                    "The retention campaigns assigned you %(count)s activities (calls, meetings) "
                    "on their members; find them in your activities.",
                    count=total,
                ),
                lines,
            )
            # on the campaign when there is one, else a notice of its own
            thread = campaigns.with_env(env) if len(campaigns) == 1 else env["mail.thread"]
            try:
                with self.env.cr.savepoint():
                    thread.message_notify(
                        partner_ids=user.partner_id.ids, subject=subject, body=body
                    )
            except Exception:  # noqa: BLE001 - a notice must not undo the run
                _logger.exception("Retention campaigns: notice to user %s failed", user.id)

    def _mark_contacted(self, today):
        """A step reached these members (all of one campaign)."""
        if not self:
            return
        cost = self.campaign_id.cost_per_member
        self.filtered("last_issue").write({"last_issue": False})
        # not retained yet (steps skip retained members): no offer cost so far
        self.filtered(lambda m: not m.contacted_date).write(
            {"contacted_date": today, "contact_cost": cost, "cost": cost}
        )
        self.filtered(lambda m: m.state == "targeted").write({"state": "contacted"})

    # ------------------------------------------------------------------
    # BUSINESS: outcomes
    # ------------------------------------------------------------------

    def _refresh_outcomes(self, company, partner_ids=None, today=None):
        """Measure treated and control members of ``company`` against their
        outcome window, in one UPDATE.

        Scope: the members in ``self`` or, called on the empty model, those
        of ``partner_ids`` (the customers whose deals just changed) whose
        window is not closed yet. Deals come from the lifecycle deal source
        converted to the company currency; the window includes its first
        and last day. The offer cost of a retained treated member is its
        discount (percentage of the revenue, or the fixed amount capped by
        the revenue).
        """
        today = today or fields.Date.context_today(self)
        if self:
            scope = SQL("m.id = ANY(%s)", self.ids)
            partners = list(set(self.partner_id.ids))
        elif partner_ids:
            scope = SQL(
                "m.partner_id = ANY(%s) AND NOT COALESCE(m.outcome_final, false)", list(partner_ids)
            )
            partners = list(partner_ids)
        else:
            return
        self.env.flush_all()
        Profile = self.env["crm.customer.profile"]
        self.env.cr.execute(
            SQL(
                """
                WITH deals AS (%(deals)s),
                members AS (
                    SELECT m.id, m.state, m.window_end_date, m.responded_date, m.contacted_date,
                           m.contact_cost, m.member_group, c.offer_type, c.offer_value,
                           min(d.deal_date) AS first_date, sum(d.amount) AS revenue
                      FROM crm_retention_campaign_member m
                      JOIN crm_retention_campaign c ON c.id = m.campaign_id
                      LEFT JOIN deals d ON d.partner_id = m.partner_id
                           AND d.company_id = m.company_id
                           AND d.deal_date BETWEEN m.enrol_date AND m.window_end_date
                     WHERE m.company_id = %(company)s AND %(scope)s
                       AND m.member_group IN ('treated', 'control')
                     GROUP BY m.id, c.id
                ),
                outcome AS (
                    SELECT id, first_date, COALESCE(revenue, 0) AS revenue,
                           CASE WHEN state = 'opted_out' THEN 'opted_out'
                                WHEN first_date IS NOT NULL THEN 'retained'
                                WHEN %(today)s > window_end_date THEN 'not_retained'
                                WHEN responded_date IS NOT NULL THEN 'responded'
                                WHEN contacted_date IS NOT NULL THEN 'contacted'
                                ELSE 'targeted' END AS new_state,
                           CASE WHEN first_date IS NULL OR member_group <> 'treated' THEN 0
                                WHEN offer_type = 'percentage'
                                    THEN GREATEST(COALESCE(revenue, 0), 0) * offer_value / 100
                                WHEN offer_type = 'fixed'
                                    THEN LEAST(offer_value, GREATEST(COALESCE(revenue, 0), 0))
                                ELSE 0 END AS offer_cost,
                           contact_cost,
                           %(today)s > window_end_date AS final
                      FROM members
                )
                UPDATE crm_retention_campaign_member m
                   SET state = o.new_state,
                       retained_date = o.first_date,
                       retained_count = CASE WHEN o.first_date IS NULL THEN 0 ELSE 1 END,
                       revenue = ROUND(o.revenue::numeric, 2),
                       offer_cost = ROUND(o.offer_cost::numeric, 2),
                       cost = ROUND((COALESCE(o.contact_cost, 0) + o.offer_cost)::numeric, 2),
                       outcome_final = o.final,
                       next_step_id = CASE WHEN o.new_state IN ('retained', 'not_retained',
                                                                'opted_out')
                                           THEN NULL ELSE m.next_step_id END,
                       next_step_date = CASE WHEN o.new_state IN ('retained', 'not_retained',
                                                                  'opted_out')
                                             THEN NULL ELSE m.next_step_date END,
                       write_date = now() at time zone 'UTC', write_uid = %(uid)s
                  FROM outcome o
                 WHERE m.id = o.id
             RETURNING m.id, m.retained_count, m.revenue
                """,
                deals=Profile._converted_deals_sql([company.id], today, partners),
                company=company.id,
                scope=scope,
                today=today,
                uid=self.env.uid,
            )
        )
        rows = self.env.cr.fetchall()
        if rows:
            self.env.cr.execute(
                SQL(
                    """
                    UPDATE crm_retention_campaign_step_execution e
                       SET member_retained = v.retained, member_revenue = v.revenue
                      FROM unnest(%s::int[], %s::int[], %s::numeric[]) AS v(id, retained, revenue)
                     WHERE e.member_id = v.id
                    """,
                    [r[0] for r in rows],
                    [r[1] for r in rows],
                    [r[2] for r in rows],
                )
            )
        self.invalidate_model()
        self.env["crm.retention.campaign.step.execution"].invalidate_model(
            ["member_retained", "member_revenue"]
        )
