"""Who is told when a customer changes stage.

The engine writes stage changes in SQL, a batch at a time (``_upsert_batch``,
``_evaluate_stages``), so neither ``mail.activity`` creation nor Odoo's
automation rules would ever see them. After each batch the engine calls
``crm.lifecycle.history._after_bulk_create(history)``, the documented hook
for whatever must follow a stage change:

* here, ``_notify_stage_changes``: a customer entering a stage marked
  ``notify`` gets one activity for its salesperson (the stage's activity
  type, deadline and instructions; the reason and figures are on the
  profile it opens), never a second one while the first is open; an archived salesperson hands it to
  the leader of his sales team, a customer without salesperson to the owner
  of its latest running campaign (nobody else: the count is logged);
* ``crm_retention_automation`` (auto-installed with Automation Rules) runs
  the rules "On creation" of ``crm.lifecycle.history`` on the batch.

Set-based: one statement finds the batch's customers to tell, writes
their activities (summary and note in each assignee's language) and ties
them to the profiles. ``_send_stage_digest`` mails the retention managers
the day's moves once per run.
"""

import logging
from datetime import timedelta

from markupsafe import Markup

from odoo import api, fields, models
from odoo.tools import SQL
from odoo.tools.misc import format_amount

from ..models.crm_customer_profile import RISK_SENTENCE_FIELDS

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
        notify (see the module), in one statement; returns the activities
        created. Its summary is the stage, its note the stage's
        instructions, both in the assignee's language; the reason and the
        figures are on the profile the activity opens."""
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
                    SELECT DISTINCT ON (h.profile_id) h.profile_id, h.stage_id
                      FROM crm_lifecycle_history h
                     WHERE h.id = ANY(%(ids)s) AND h.from_stage_id IS NOT NULL
                       AND h.reason <> ALL(%(silent)s)
                     ORDER BY h.profile_id, h.date DESC, h.id DESC
                ),
                leaders AS (%(leaders)s),
                todo AS (
                    SELECT p.id AS profile_id, rp.complete_name, s.notify_activity_type_id,
                           s.notify_deadline_days, s.name AS stage_name, s.notify_note,
                           COALESCE(su.id, lu.id, cu.id) AS user_id
                      FROM moved mv
                      -- still in the stage it moved to, and no open activity
                      JOIN crm_customer_profile p
                        ON p.id = mv.profile_id AND p.stage_id = mv.stage_id
                      JOIN res_partner rp ON rp.id = p.partner_id
                      JOIN crm_lifecycle_stage s ON s.id = mv.stage_id AND s.notify
                      LEFT JOIN mail_activity a
                        ON a.id = p.risk_activity_id AND a.active IS NOT FALSE
                      LEFT JOIN res_users su ON su.id = p.user_id AND su.active
                      LEFT JOIN leaders l ON l.user_id = p.user_id
                      LEFT JOIN res_users lu ON lu.id = l.leader_id AND lu.active
                      -- nobody sells to it: the owner of its latest running campaign
                      LEFT JOIN LATERAL (
                          SELECT c.user_id FROM crm_retention_campaign_member m
                            JOIN crm_retention_campaign c ON c.id = m.campaign_id
                           WHERE m.profile_id = p.id AND c.state = 'running'
                           ORDER BY m.enrol_date DESC, m.id DESC LIMIT 1
                      ) owner ON su.id IS NULL AND lu.id IS NULL
                      LEFT JOIN res_users cu ON cu.id = owner.user_id AND cu.active
                     WHERE a.id IS NULL
                ),
                created AS (
                    INSERT INTO mail_activity
                           (res_model_id, res_model, res_id, res_name, activity_type_id,
                            summary, note, date_deadline, user_id, automated, active,
                            create_uid, create_date, write_uid, write_date)
                    SELECT %(model)s, 'crm.customer.profile', t.profile_id, t.complete_name,
                           t.notify_activity_type_id,
                           COALESCE(t.stage_name->>rp.lang, t.stage_name->>'en_US'),
                           '<p>' || replace(replace(replace(
                               COALESCE(t.notify_note->>rp.lang, t.notify_note->>'en_US', ''),
                               '&', '&amp;'), '<', '&lt;'), '>', '&gt;') || '</p>',
                           %(today)s::date + COALESCE(t.notify_deadline_days, 0), t.user_id,
                           true, true, %(uid)s, %(now)s, %(uid)s, %(now)s
                      FROM todo t
                      JOIN res_users u ON u.id = t.user_id
                      JOIN res_partner rp ON rp.id = u.partner_id
                 RETURNING id, res_id, user_id
                ),
                tied AS (
                    UPDATE crm_customer_profile p SET risk_activity_id = c.id
                      FROM created c WHERE p.id = c.res_id
                )
                SELECT (SELECT count(*) FROM todo WHERE user_id IS NULL),
                       ARRAY(SELECT id FROM created), ARRAY(SELECT DISTINCT user_id FROM created)
                """,
                ids=self.ids,
                silent=list(SILENT_REASONS),
                leaders=self.env["crm.customer.profile"]._salesperson_teams_sql(),
                model=self.env["ir.model"]._get_id("crm.customer.profile"),
                today=fields.Date.context_today(self),
                uid=self.env.uid,
                now=fields.Datetime.now(),
            )
        )
        nobody, activity_ids, user_ids = cr.fetchone()
        if nobody:
            _logger.info(
                "%s customer(s) entered a stage to notify with nobody to tell "
                "(no active salesperson, team leader nor campaign owner)",
                nobody,
            )
        Activity.invalidate_model()
        self.env["crm.customer.profile"].invalidate_model(["risk_activity_id", "activity_ids"])
        # the assignees' activity counters refresh (one message per person)
        for user in self.env["res.users"].sudo().browse(user_ids):
            user._bus_send("mail.activity/updated", {"activity_created": True})
        return Activity.browse(activity_ids)

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
        ids_by_stage = {}
        for profile_id, stage_id in moves:
            ids_by_stage.setdefault(stage_id, []).append(profile_id)
        # each stage's customers, most money first, and their total: the
        # same for every manager (only the language differs)
        by_stage = {}
        for stage_id, ids in ids_by_stage.items():
            members = Profile.browse(ids).sorted(lambda p: -(p.value_at_risk or 0.0))
            by_stage[stage_id] = (members.ids, sum(members.mapped("value_at_risk")))
        mails = []
        for manager in managers:
            lang = manager.lang or "en_US"
            env = self.with_context(lang=lang).env
            stages = env["crm.lifecycle.stage"].sudo().browse(ids_by_stage).sorted("sequence")
            body = Markup("<p>%s</p>") % env._("Customers who entered a stage to act on:")
            for stage in stages:
                ids, total = by_stage[stage.id]
                members = Profile.with_context(lang=lang).browse(ids)
                body += Markup("<h3>%s: %s (%s)</h3><ul>") % (
                    stage.name,
                    len(members),
                    env._(
                        "value at risk %(amount)s",
                        amount=format_amount(env, total, company.currency_id),
                    ),
                )
                shown = members[:DIGEST_ROWS]
                shown.fetch(RISK_SENTENCE_FIELDS)
                for profile in shown:
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
