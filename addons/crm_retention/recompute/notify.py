"""Who is told when a customer changes stage.

The engine writes stage changes in SQL, a batch at a time (``_upsert_batch``,
``_evaluate_stages``), so neither ``mail.activity`` creation nor Odoo's
automation rules would ever see them. After each batch the engine calls
``crm.lifecycle.history._after_bulk_create(history)``, the documented hook
for whatever must follow a stage change:

* here, ``_notify_stage_changes``: a customer entering a stage marked
  ``notify`` gets one activity for its salesperson (the stage's activity
  type, deadline and instructions, under the reason it is at risk), never a
  second one while the first is open; an archived salesperson hands it to
  the leader of his sales team (a customer without salesperson: nobody, the
  count is logged);
* ``crm_retention_automation`` (auto-installed with Automation Rules) runs
  the rules "On creation" of ``crm.lifecycle.history`` on the batch.

Set-based: one query finds the batch's customers to tell, one INSERT writes
their activities, one UPDATE ties them to the profiles; only the reason
sentences (in each salesperson's language) are built in Python, for the
customers told. ``_send_stage_digest`` mails the retention managers the
day's moves once per run.
"""

import logging
from datetime import timedelta

from markupsafe import Markup

from odoo import api, fields, models
from odoo.tools import SQL
from odoo.tools.misc import format_amount

_logger = logging.getLogger(__name__)

# the reasons of stage changes that tell nobody: the past rebuilt, data
# loaded or merged (not something that just happened to the customer)
SILENT_REASONS = ("rebuild", "import", "merge")
# customers listed per stage in the managers' digest (all are counted)
DIGEST_ROWS = 20


class CrmLifecycleHistoryNotify(models.Model):
    _inherit = "crm.lifecycle.history"

    @api.model
    def _after_bulk_create(self, history):
        """Hook called by the engine after each batch of stage changes it
        wrote in SQL (``history``: the batch's new rows, sudo), in the
        batch's transaction. Override to react to stage changes the ORM
        never saw; call super. Not called for the history rebuilt from
        past purchases."""
        history._notify_stage_changes()

    def _notify_stage_changes(self):
        """One activity per customer of these rows that entered a stage to
        notify (see the module); returns the activities created."""
        Activity = self.env["mail.activity"].sudo()
        if not self:
            return Activity
        self.env.flush_all()
        cr = self.env.cr
        cr.execute(
            SQL(
                """
                WITH moved AS (
                    -- the last move of each customer in these rows: a
                    -- customer changing twice is told once
                    SELECT DISTINCT ON (h.profile_id) h.profile_id, h.stage_id, h.date
                      FROM crm_lifecycle_history h
                     WHERE h.id = ANY(%(ids)s) AND h.from_stage_id IS NOT NULL
                       AND h.reason <> ALL(%(silent)s)
                     ORDER BY h.profile_id, h.date DESC, h.id DESC
                ),
                leaders AS (
                    -- each salesperson's first active team's leader, as
                    -- res.users.sale_team_id picks the team
                    SELECT DISTINCT ON (m.user_id) m.user_id, t.user_id AS leader_id
                      FROM crm_team_member m
                      JOIN crm_team t ON t.id = m.crm_team_id
                     WHERE m.active AND t.active
                     ORDER BY m.user_id, m.create_date, m.id
                )
                SELECT p.id, s.id, COALESCE(su.id, lu.id) AS user_id,
                       s.notify_activity_type_id, s.notify_deadline_days
                  FROM moved mv
                  -- still in the stage it moved to, and no open activity
                  JOIN crm_customer_profile p ON p.id = mv.profile_id AND p.stage_id = mv.stage_id
                  JOIN crm_lifecycle_stage s ON s.id = mv.stage_id AND s.notify
                  LEFT JOIN mail_activity a ON a.id = p.risk_activity_id AND a.active IS NOT FALSE
                  LEFT JOIN res_users su ON su.id = p.user_id AND su.active
                  LEFT JOIN leaders l ON l.user_id = p.user_id
                  LEFT JOIN res_users lu ON lu.id = l.leader_id AND lu.active
                 WHERE a.id IS NULL
                 ORDER BY p.id
                """,
                ids=self.ids,
                silent=list(SILENT_REASONS),
            )
        )
        rows = cr.fetchall()
        told = [row for row in rows if row[2]]
        if len(told) < len(rows):
            _logger.info(
                "%s customer(s) entered a stage to notify with nobody to tell "
                "(no active salesperson nor team leader)",
                len(rows) - len(told),
            )
        if not told:
            return Activity
        Profile = self.env["crm.customer.profile"].sudo()
        Stage = self.env["crm.lifecycle.stage"].sudo()
        Users = self.env["res.users"].sudo()
        profiles = Profile.browse([row[0] for row in told])
        # prefetch what the sentences read, for the batch at once
        profiles.fetch(
            [
                "partner_id",
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
        )
        today = fields.Date.context_today(self)
        values = {
            "res_id": [],
            "res_name": [],
            "activity_type_id": [],
            "summary": [],
            "note": [],
            "date_deadline": [],
            "user_id": [],
        }
        for profile_id, stage_id, user_id, type_id, deadline_days in told:
            lang = Users.browse(user_id).lang or "en_US"
            profile = Profile.browse(profile_id).with_context(lang=lang)
            stage = Stage.browse(stage_id).with_context(lang=lang)
            note = Markup("<p>%s</p>") % profile._risk_sentence()
            if stage.notify_note:
                note += Markup("<p>%s</p>") % stage.notify_note
            values["res_id"].append(profile_id)
            values["res_name"].append(profile.partner_id.display_name)
            values["activity_type_id"].append(type_id)
            values["summary"].append(profile.env._("Entered %(stage)s", stage=stage.name))
            values["note"].append(str(note))
            values["date_deadline"].append(today + timedelta(days=deadline_days or 0))
            values["user_id"].append(user_id)
        cr.execute(
            SQL(
                """
                WITH created AS (
                    INSERT INTO mail_activity
                           (res_model_id, res_model, res_id, res_name, activity_type_id,
                            summary, note, date_deadline, user_id, automated, active,
                            create_uid, create_date, write_uid, write_date)
                    SELECT %(model)s, 'crm.customer.profile', v.res_id, v.res_name,
                           v.activity_type_id, v.summary, v.note, v.date_deadline, v.user_id,
                           true, true, %(uid)s, %(now)s, %(uid)s, %(now)s
                      FROM unnest(%(res_id)s::int[], %(res_name)s::varchar[],
                                  %(type)s::int[], %(summary)s::varchar[], %(note)s::text[],
                                  %(deadline)s::date[], %(user)s::int[])
                           AS v(res_id, res_name, activity_type_id, summary, note,
                                date_deadline, user_id)
                 RETURNING id, res_id
                )
                UPDATE crm_customer_profile p SET risk_activity_id = c.id
                  FROM created c WHERE p.id = c.res_id
             RETURNING c.id
                """,
                model=self.env["ir.model"]._get_id("crm.customer.profile"),
                uid=self.env.uid,
                now=fields.Datetime.now(),
                res_id=values["res_id"],
                res_name=values["res_name"],
                type=values["activity_type_id"],
                summary=values["summary"],
                note=values["note"],
                deadline=values["date_deadline"],
                user=values["user_id"],
            )
        )
        activities = Activity.browse([row[0] for row in cr.fetchall()])
        Activity.invalidate_model()
        Profile.invalidate_model(["risk_activity_id", "activity_ids"])
        # the assignees' activity counters refresh (one message per person)
        for user in Users.browse(sorted(set(values["user_id"]))):
            user._bus_send("mail.activity/updated", {"activity_created": True})
        return activities

    @api.model
    def _send_stage_digest(self, company, after_id=0):
        """Mail the company's retention managers the customers that entered
        a stage to notify in the last day, in history rows after
        ``after_id`` (the last row of the previous digest: a move is mailed
        once), with their value at risk, most money first: one mail per
        manager, in the manager's language, through the mail queue. Nothing
        when nobody moved. Returns ``(mails, last history id)``."""
        Mail = self.env["mail.mail"].sudo()
        cr = self.env.cr
        self.env.flush_all()
        cr.execute(
            SQL(
                """
                SELECT DISTINCT ON (h.profile_id) h.profile_id, h.stage_id, h.id
                  FROM crm_lifecycle_history h
                  JOIN crm_lifecycle_stage s ON s.id = h.stage_id AND s.notify
                 WHERE h.company_id = %s AND h.id > %s AND h.date > %s
                   AND h.from_stage_id IS NOT NULL AND h.reason <> ALL(%s)
                 ORDER BY h.profile_id, h.date DESC, h.id DESC
                """,
                company.id,
                after_id or 0,
                fields.Datetime.now() - timedelta(days=1),
                list(SILENT_REASONS),
            )
        )
        rows = cr.fetchall()
        if not rows:
            return Mail, after_id
        last_id = max(row[2] for row in rows)
        moves = [row[:2] for row in rows]
        managers = (
            self.env.ref("crm_retention.group_retention_manager")
            .sudo()
            .users.filtered(
                lambda u: u.active and u.email and company in u.company_ids and not u.share
            )
        )
        if not managers:
            return Mail, last_id
        Profile = self.env["crm.customer.profile"].sudo()
        profiles = Profile.browse([row[0] for row in moves])
        stage_of = dict(moves)
        mails = []
        for manager in managers:
            lang = manager.lang or "en_US"
            env = self.with_context(lang=lang).env
            by_stage = {}
            for profile in profiles.with_context(lang=lang):
                stage = env["crm.lifecycle.stage"].sudo().browse(stage_of[profile.id])
                by_stage.setdefault(stage, Profile.with_context(lang=lang))
                by_stage[stage] |= profile
            body = Markup("<p>%s</p>") % env._("Customers who entered a stage to act on:")
            for stage, members in sorted(by_stage.items(), key=lambda kv: kv[0].sequence):
                members = members.sorted(lambda p: -(p.value_at_risk or 0.0))
                total = sum(members.mapped("value_at_risk"))
                body += Markup("<h3>%s: %s (%s)</h3><ul>") % (
                    stage.name,
                    len(members),
                    env._(
                        "value at risk %(amount)s",
                        amount=format_amount(env, total, company.currency_id),
                    ),
                )
                for profile in members[:DIGEST_ROWS]:
                    body += Markup("<li><b>%s</b>: %s, %s. %s</li>") % (
                        profile.partner_id.display_name,
                        format_amount(env, profile.value_at_risk, company.currency_id),
                        profile.user_id.name or env._("no salesperson"),
                        profile._risk_sentence(),
                    )
                if len(members) > DIGEST_ROWS:
                    body += Markup("<li>%s</li>") % env._(
                        "... and %(count)s more", count=len(members) - DIGEST_ROWS
                    )
                body += Markup("</ul>")
            mails.append(
                {
                    "subject": env._(
                        "%(company)s: %(count)s customer(s) to act on",
                        company=company.name,
                        count=len(moves),
                    ),
                    "body_html": str(body),
                    "email_to": manager.email_formatted,
                    "email_from": company.email_formatted or self.env.user.email_formatted,
                    "auto_delete": True,
                }
            )
        return Mail.create(mails), last_id
