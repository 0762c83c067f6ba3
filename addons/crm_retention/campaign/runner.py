"""The hourly run of the campaigns: each campaign isolated in a savepoint
(a failing one is reported on its form and skipped, the others run); the
due steps of the members sent by batches (e-mail, SMS, call activities for
the salespeople, one notice each), skips and channel issues."""

import logging
from collections import Counter, defaultdict

from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.service.model import PG_CONCURRENCY_EXCEPTIONS_TO_RETRY

from ..recompute.layout import CAMPAIGN_LOCK_KEY, JobRunning

_logger = logging.getLogger(__name__)

# members whose due step one run of the hourly cron executes, unless the
# system parameter crm_retention.step_batch_size says otherwise
STEP_BATCH_SIZE = 500


class CrmRetentionCampaignRunner(models.Model):
    _inherit = "crm.retention.campaign"

    @api.model
    def _cron_run(self):
        """The campaigns' run (``_run_campaigns``), one at a time: a second
        start while a run goes on (the cron started by hand, a second worker)
        is skipped, so no step is sent twice by two runs racing."""
        message = self.env._("The campaigns are being run; try again in a few minutes.")
        try:
            with self.env["crm.customer.profile"]._job_lock(CAMPAIGN_LOCK_KEY, 0, message):
                self._run_campaigns()
        except JobRunning:
            _logger.info("Campaign run skipped: another run is going on")

    @api.model
    def _run_campaigns(self):
        """Daily: enrol newcomers of continuous campaigns, run due steps in
        committed batches, update outcomes, close finished campaigns.

        Each part is restartable: enrolment skips enrolled customers, a
        step runs at most once per member (unique execution log), outcomes
        are recomputed from the deals each time.
        """
        today = fields.Date.context_today(self)
        Profile = self.env["crm.customer.profile"]
        Member = self.env["crm.retention.campaign.member"]
        failed = set()  # ids of the campaigns whose run failed today
        campaigns = self.search([("state", "=", "running")])
        for campaign in campaigns.filtered(lambda c: c.enrolment_mode == "continuous"):
            if campaign.date_end and campaign.date_end < today:
                continue
            if not campaign._run_isolated(campaign._enrol_newcomers, today):
                failed.add(campaign.id)
            Profile._commit_progress()
        Member._run_due_steps(today=today, failed=failed)
        open_members = Member.search(
            [
                ("campaign_id.state", "in", ("running", "paused", "done")),
                ("member_group", "!=", "excluded"),
                ("outcome_final", "=", False),
            ]
        )
        # one UPDATE per campaign, each in its savepoint
        for campaign, members in open_members.grouped("campaign_id").items():
            if not campaign._run_isolated(
                members._refresh_outcomes, campaign.company_id, None, today
            ):
                failed.add(campaign.id)
        Profile._commit_progress()
        # an issue is cleared by the next run that goes through
        (campaigns | open_members.campaign_id).filtered(
            lambda c: c.last_issue and c.id not in failed
        ).write({"last_issue": False, "last_issue_date": False})
        # a campaign past its end date whose windows have all closed is done
        ended = campaigns.filtered(lambda c: c.date_end and c.date_end < today)
        if ended:
            pending = {
                campaign.id
                for [campaign] in self.env["crm.retention.campaign.member"]._read_group(
                    [("campaign_id", "in", ended.ids), ("outcome_final", "=", False),
                     ("member_group", "!=", "excluded")],
                    ["campaign_id"],
                )
            }  # fmt: skip
            ended.filtered(lambda c: c.id not in pending).write({"state": "done"})

    def _run_isolated(self, method, *args):
        """Call ``method(*args)``, a part of this campaign's daily run, in a
        savepoint: when it fails, its changes are rolled back, the failure is
        logged and shown on the campaign (``_report_run_issue``) and False is
        returned, so that the caller goes on with the other campaigns.

        A concurrency error is raised again: the whole cron is retried.
        """
        self.ensure_one()
        try:
            with self.env.cr.savepoint():
                method(*args)
        except PG_CONCURRENCY_EXCEPTIONS_TO_RETRY:
            raise
        except Exception as exc:  # noqa: BLE001 - one campaign must not stop the others
            _logger.exception(
                "Retention campaign %s (id %s): daily run failed, skipped", self.name, self.id
            )
            self._report_run_issue(exc)
            return False
        return True

    def _report_run_issue(self, exc):
        """Show why today's run of this campaign was skipped: ``last_issue``
        on the form and, when the reason is new, a note in the chatter that
        notifies the campaign's owner."""
        self.ensure_one()
        if isinstance(exc, UserError):
            reason = exc.args[0]
        else:
            # no internals in front of users: the traceback is in the server log
            reason = self.env._("an unexpected error, described in the server log")
        issue = self.env._(
            "The daily run of this campaign was skipped (the other campaigns ran): %(reason)s",
            reason=reason,
        )
        if issue == self.last_issue:
            return
        self.write({"last_issue": issue, "last_issue_date": fields.Datetime.now()})
        self.message_post(body=issue, partner_ids=self.user_id.partner_id.ids)


class CrmRetentionCampaignMemberRunner(models.Model):
    _inherit = "crm.retention.campaign.member"

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
            self.env["ir.config_parameter"]
            .sudo()
            .get_param("crm_retention.step_batch_size", STEP_BATCH_SIZE)
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
