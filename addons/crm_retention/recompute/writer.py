"""The writer of the lifecycle recompute: bring profiles in line with their
metrics, in set-based statements.

``_apply_batch`` applies a batch (work-table range or a few customers) with
``_upsert_batch``: one statement that writes the profiles' metrics, their
stage (the stage rules, ``_stage_cases``), a history row and a chatter note
per change (``crm.lifecycle.history._partner_message_sql``) and the
partners' stage mirror (``_partner_stage_sql``). ``_evaluate_stages``
re-evaluates stages alone (a rule changed); ``_sync_owners`` keeps each
profile's salesperson.
"""

import logging

from odoo import api, fields, models
from odoo.osv import expression
from odoo.tools import SQL

from .layout import (
    METRIC_COLUMNS,
)

_logger = logging.getLogger(__name__)


class CrmCustomerProfileWriter(models.Model):
    _inherit = "crm.customer.profile"

    @api.model
    def _apply_batch(self, company, source, today, scope, run_stamp=None):
        """Bring the company's profiles selected by ``scope`` (an SQL
        condition on the profile, alias ``p``) in line with the metrics of
        the relation ``source`` (rows of the batch layout, see
        ``_store_metrics``, for customers within ``scope``): evaluate their
        stages and log changes. A profile in scope but absent from
        ``source`` (its deals moved to another partner, were deleted or
        lost) gets its metrics reset.

        ``run_stamp`` (SQL, a timestamp): when the deals of ``source`` were
        read, for a batch of the full recompute; a profile refreshed after
        that (``metrics_stamp`` newer) is left alone. Without it (the
        incremental path) the metrics are fresh: stamped with the clock.
        """
        cr = self.env.cr
        cases, inline = self._stage_cases(company)
        with self._timed("write profiles, stages, history"):
            if inline:
                # the usual case: the rules read the profile's own columns, so
                # they are evaluated on the batch's new values inside the write
                self._upsert_batch(cases, today, source, company, scope, run_stamp=run_stamp)
                return
            self._upsert_batch(None, today, source, company, scope, run_stamp=run_stamp)
            cr.execute(
                SQL(
                    "SELECT p.id FROM crm_customer_profile p WHERE p.company_id = %s AND %s",
                    company.id,
                    scope,
                )
            )
            self._evaluate_stages(company, [row[0] for row in cr.fetchall()], today)

    @api.model
    def _stage_kind_sql(self, stage_id):
        """The kind of the stage ``stage_id`` (an SQL expression) as a CASE
        over the stages: per row, a join to the stage table costs more than
        the rest of the row's write."""
        stages = self.env["crm.lifecycle.stage"].sudo().with_context(active_test=False).search([])
        lookup = SQL("(SELECT s.kind FROM crm_lifecycle_stage s WHERE s.id = %s)", stage_id)
        if not stages:
            return lookup
        whens = SQL(" ").join(SQL("WHEN %s THEN %s", stage.id, stage.kind) for stage in stages)
        return SQL("CASE %s %s ELSE %s END", stage_id, whens, lookup)

    @api.model
    def _upsert_batch(self, cases, today, source, company, scope, reason="rule", run_stamp=None):
        """Write the batch ``source`` into the company's profiles selected by
        ``scope`` (see ``_apply_batch``) in one statement: update the
        profiles whose metrics or stage change, reset those absent from the
        batch, insert the new ones, and, when ``cases`` (the company's stage
        rules, see ``_stage_cases``) are given, set their stage in the same
        row write and log each change (history row, chatter note, partner's
        stage mirror).

        Fresher metrics win: a batch of the full run (``run_stamp``, when
        the run read the deals) skips the profiles stamped after it
        (``metrics_stamp``: an incremental refresh after a deal was won while
        the run was going, or before a crashed run resumed); without
        ``run_stamp`` the profiles written are stamped with the clock.

        One write per profile and none for unchanged ones: the daily run
        rewrites only customers whose values moved (``metrics_date`` alone
        does not count), and those rewrites are HOT updates (no indexed
        column changes, free space kept by the table's fillfactor). The
        scope is a range of partner ids (a batch of the full run) or a list
        of them: the profiles are read by their (partner_id, company_id)
        index, never all hashed for each batch.

        Why one long method: it builds one SQL statement whose CTEs feed
        each other (ruled rows -> updated / inserted -> changes -> history
        -> notes and mirror), so a batch's profile, stage, history, note and
        mirror commit together or not at all, in one round trip. The notes
        and the mirror come from their own builders
        (``crm.lifecycle.history._partner_message_sql``,
        ``_partner_stage_sql``); the rest reads top to bottom as the
        statement runs.
        """
        now = fields.Datetime.now()
        uid = self.env.uid
        columns = [
            name
            for name, field in self._fields.items()
            if field.store and field.column_type and name != "id"
        ]
        batch_columns = {"partner_id", "company_id", *METRIC_COLUMNS}
        # deal days since the customer last lapsed (0, 1, or 2 meaning "2 or
        # more"): from the profile's lapse date, known here, and the deals;
        # >= because the nightly run may mark a lapse the day the customer buys
        last, prev = (
            self._batch_value_sql("last_deal_date"),
            self._batch_value_sql("prev_deal_date"),
        )
        derived = {
            "deals_since_lapse": SQL(
                "CASE WHEN p.lapsed_date IS NULL OR %(last)s IS NULL OR %(last)s < p.lapsed_date "
                "THEN 0 WHEN %(prev)s >= p.lapsed_date THEN 2 ELSE 1 END",
                last=last,
                prev=prev,
            ),
        }
        written = [*METRIC_COLUMNS, *derived]

        # a profile absent from the batch gets these (its customer has no
        # opportunity left): zeros, no dates, low risk
        reset = {"risk_level": SQL("'low'"), "metrics_date": SQL("%s::date", today)}

        def value(name):
            if name in derived:
                return derived[name]
            if name in ("partner_id", "company_id"):
                return SQL("COALESCE(%s, %s)", SQL.identifier("b", name), SQL.identifier("p", name))
            if name in batch_columns:
                if self._batch_kind(name) == "date" and name not in reset:
                    return self._batch_value_sql(name)
                return SQL(
                    "COALESCE(%s, %s)", self._batch_value_sql(name), reset.get(name, SQL("0"))
                )
            return SQL.identifier("p", name)

        # the profile as it will be: a row alias named like the table, so the
        # rules' WHERE clauses (crm_customer_profile.col) read the new values
        current = SQL(", ").join(
            SQL("%s AS %s", value(name), SQL.identifier(name)) for name in ["id", *columns]
        )
        rule_stage = SQL("CASE %s END", SQL(" ").join(cases)) if cases else SQL("NULL::integer")
        compared = [c for c in written if c != "metrics_date"]
        metric_set = SQL(", ").join(
            SQL("%s = r.%s", SQL.identifier(c), SQL.identifier(c)) for c in written
        )
        metric_cols = SQL(", ").join(SQL.identifier(c) for c in written)
        metric_vals = SQL(", ").join(SQL.identifier("r", c) for c in written)
        History = self.env["crm.lifecycle.history"]
        # the stage kind CASEs inflate the plan's cost past the JIT threshold:
        # compiling it would cost more than running it (LOCAL: this transaction)
        self.env.cr.execute("SET LOCAL jit = off")
        self.env.cr.execute(
            SQL(
                """
                WITH ruled AS (
                    -- the columns written and logged: a narrow row to hold
                    SELECT %(kept)s, %(new_kind)s AS new_kind, %(old_kind)s AS old_kind
                      FROM (
                        SELECT crm_customer_profile.*,
                               CASE WHEN COALESCE(crm_customer_profile.stage_locked, false)
                                    THEN crm_customer_profile.stage_id
                                    ELSE COALESCE(%(rule_stage)s, crm_customer_profile.stage_id)
                               END AS new_stage
                          FROM (SELECT %(current)s
                                  FROM %(source)s b
                                  FULL JOIN (SELECT * FROM crm_customer_profile p
                                              WHERE p.company_id = %(company)s AND %(scope)s) p
                                    ON p.partner_id = b.partner_id
                                 -- OFFSET 0: computed once per row, not once per
                                 -- reference of a stage rule to the column
                                 OFFSET 0
                               ) AS crm_customer_profile
                      ) r0
                ),
                updated AS (
                    UPDATE crm_customer_profile p
                       SET %(metric_set)s,
                           stage_id = r.new_stage,
                           stage_kind = r.new_kind,
                           stage_date = CASE WHEN r.new_stage IS DISTINCT FROM r.stage_id
                                             THEN %(now)s ELSE p.stage_date END,
                           lapsed_date = CASE WHEN r.new_stage IS DISTINCT FROM r.stage_id
                                               AND r.new_kind IN ('at_risk', 'lost')
                                               AND COALESCE(r.old_kind, '')
                                                   NOT IN ('at_risk', 'lost')
                                              THEN %(today)s ELSE p.lapsed_date END,
                           metrics_stamp = %(stamp)s, metrics_xid = pg_current_xact_id(),
                           write_uid = %(uid)s, write_date = %(now)s
                      FROM ruled r
                     WHERE p.id = r.id AND p.company_id = %(company)s AND %(scope)s
                       AND ((%(old)s) IS DISTINCT FROM (%(new)s)
                            OR r.new_stage IS DISTINCT FROM r.stage_id)
                       %(fresher)s
                 RETURNING p.id, p.partner_id, p.company_id, r.stage_id AS from_stage_id,
                           r.new_stage AS stage_id, r.stage_date AS old_date
                ),
                inserted AS (
                    INSERT INTO crm_customer_profile
                           (partner_id, company_id, %(metric_cols)s, stage_id, stage_kind,
                            stage_date, stage_locked, lapsed_date, metrics_stamp, metrics_xid,
                            create_uid, create_date, write_uid, write_date)
                    SELECT r.partner_id, r.company_id, %(metric_vals)s, r.new_stage, r.new_kind,
                           CASE WHEN r.new_stage IS NOT NULL THEN %(now)s END, false,
                           CASE WHEN r.new_kind IN ('at_risk', 'lost') THEN %(today)s END,
                           %(stamp)s, pg_current_xact_id(),
                           %(uid)s, %(now)s, %(uid)s, %(now)s
                      FROM ruled r
                     WHERE r.id IS NULL
                 RETURNING id, partner_id, company_id, stage_id
                ),
                changes AS (
                    SELECT id, partner_id, company_id, from_stage_id, stage_id, old_date
                      FROM updated WHERE stage_id IS DISTINCT FROM from_stage_id
                     UNION ALL
                    SELECT id, partner_id, company_id, NULL::integer, stage_id, NULL::timestamp
                      FROM inserted WHERE stage_id IS NOT NULL
                ),
                history AS (
                    INSERT INTO crm_lifecycle_history
                           (profile_id, partner_id, company_id, from_stage_id, stage_id, date,
                            reason, user_id, duration_days,
                            create_uid, create_date, write_uid, write_date)
                    SELECT ch.id, ch.partner_id, ch.company_id, ch.from_stage_id, ch.stage_id,
                           %(now)s, %(reason)s, %(uid)s,
                           COALESCE(EXTRACT(EPOCH FROM (%(now)s - ch.old_date)) / 86400.0, 0),
                           %(uid)s, %(now)s, %(uid)s, %(now)s
                      FROM changes ch
                      LEFT JOIN crm_lifecycle_stage cs ON cs.id = ch.stage_id
                 RETURNING id, partner_id, from_stage_id, stage_id, reason, date, user_id
                ),
                %(messages)s,
                mirror AS (%(mirror)s)
                SELECT (SELECT count(*) FROM updated), (SELECT count(*) FROM inserted),
                       (SELECT count(*) FROM changes)
                """,
                current=current,
                kept=SQL(", ").join(
                    SQL.identifier("r0", c)
                    for c in ["id", "partner_id", "company_id", "stage_id", "stage_date"]
                    + ["new_stage", *written]
                ),
                new_kind=self._stage_kind_sql(SQL("r0.new_stage")),
                # the database clock: the run's stamp is read from it too
                stamp=run_stamp
                if run_stamp is not None
                else SQL("(clock_timestamp() AT TIME ZONE 'UTC')"),
                fresher=self._fresher_than_run_sql(company, run_stamp)
                if run_stamp is not None
                else SQL(),
                old_kind=self._stage_kind_sql(SQL("r0.stage_id")),
                source=source,
                company=company.id,
                scope=scope,
                rule_stage=rule_stage,
                metric_set=metric_set,
                metric_cols=metric_cols,
                metric_vals=metric_vals,
                old=SQL(", ").join(SQL.identifier("p", c) for c in compared),
                new=SQL(", ").join(SQL.identifier("r", c) for c in compared),
                now=now,
                today=today,
                uid=uid,
                # a comeback inside a campaign's window is the campaign's
                reason=self._history_reason_sql(SQL("ch.id"), SQL("cs.kind"), reason, today),
                messages=History._partner_message_sql(SQL("history")),
                mirror=self._partner_stage_sql(SQL("changes")),
            )
        )
        counts = self.env.cr.fetchone()
        self.invalidate_model()
        History.invalidate_model()
        self.env["mail.message"].invalidate_model()
        self.env["res.partner"].invalidate_model(["lifecycle_stage_id", "message_ids"])
        return counts

    @api.model
    def _stage_cases(self, company, profile_ids=None):
        """The company's stage rules as ``WHEN condition THEN stage_id`` SQL
        clauses, in sequence, and whether they can be evaluated inline.

        The ORM turns each rule domain into SQL, so any domain the widget can
        build works. A rule on the profile's own columns is its WHERE clause
        (alias ``crm_customer_profile``) and can be evaluated on any row
        aliased so, such as a batch's new values ("inline"). A rule through
        relations becomes an ``id IN (sub-select)`` over the stored profiles
        ``profile_ids``; with such a rule the result is not inline (or, when
        ``profile_ids`` is None, the rule is left out). A rule that is broken
        (a field removed since) or fails in SQL is skipped and logged.
        """
        Profile = self.sudo().with_context(active_test=False)
        stages = self.env["crm.lifecycle.stage"].sudo()._get_company_stages(company)
        cases = []
        inline = True
        for stage in stages:
            try:
                domain = stage._get_rule_domain()
                # evaluated as superuser: only what a rule may read (a rule
                # saved before the check existed, or written in SQL)
                stage._check_rule_leaves(expression.normalize_domain(domain))
                query = Profile._where_calc(domain)
            except Exception:  # noqa: BLE001 - a rule broken by a later field change
                _logger.exception("Skipping lifecycle stage %s: invalid rule", stage.id)
                continue
            if query._joins:
                inline = False
                if profile_ids is None:
                    continue
                # a rule through relations: a sub-select limited to the batch
                query.add_where(SQL("%s = ANY(%s)", SQL.identifier(query.table, "id"), profile_ids))
                condition = SQL(
                    "crm_customer_profile.id IN (%s)",
                    query.subselect(SQL.identifier(query.table, "id")),
                )
            else:
                condition = query.where_clause or SQL("TRUE")
            try:
                # a rule can be valid Python yet fail in SQL (a bad date
                # value): it must not block every deal of the company. LIMIT 0
                # plans the condition (literals are cast then) without a scan.
                with self.env.cr.savepoint(flush=False):
                    self.env.cr.execute(
                        SQL("SELECT 1 FROM crm_customer_profile WHERE %s LIMIT 0", condition)
                    )
            except Exception:  # noqa: BLE001
                _logger.exception("Skipping lifecycle stage %s: its rule fails", stage.id)
                continue
            cases.append(SQL("WHEN %s THEN %s", condition, stage.id))
        return cases, inline

    @api.model
    def _evaluate_stages(self, company, profile_ids, today, reason="rule"):
        """Apply the stage rules to ``profile_ids`` in SQL and log changes.

        A customer that comes back (Won back / Active) while it is in the
        outcome window of a retention campaign that contacted it gets the
        history reason "campaign" instead of ``reason``: the campaign, not
        the rule, is what the history then credits.

        The stages of the company are tried in sequence: the ORM turns each
        rule domain into SQL (so any domain the widget can build works) and
        the conditions are combined into one ``CASE WHEN rule THEN stage``
        update; a rule through relations becomes an ``id IN (sub-select)``. Pinned profiles are left
        alone. Returns the ``crm.lifecycle.history`` records created.
        """
        if not profile_ids:
            return self.env["crm.lifecycle.history"]
        cases, _inline = self._stage_cases(company, profile_ids)
        if not cases:
            return self.env["crm.lifecycle.history"]
        now = fields.Datetime.now()
        self.env.cr.execute(
            SQL(
                """
                WITH target AS (
                    SELECT crm_customer_profile.id,
                           crm_customer_profile.stage_id AS old_stage,
                           crm_customer_profile.stage_date AS old_date,
                           CASE %(cases)s END AS new_stage
                      FROM crm_customer_profile
                     WHERE crm_customer_profile.id = ANY(%(ids)s)
                       AND NOT COALESCE(crm_customer_profile.stage_locked, false)
                ),
                changed AS (
                    UPDATE crm_customer_profile p
                       SET stage_id = t.new_stage, stage_date = %(now)s,
                           stage_kind = s.kind,
                           lapsed_date = CASE WHEN s.kind IN ('at_risk', 'lost')
                                               AND COALESCE(os.kind, '') NOT IN ('at_risk', 'lost')
                                              THEN %(today)s ELSE p.lapsed_date END
                      FROM target t
                      JOIN crm_lifecycle_stage s ON s.id = t.new_stage
                      LEFT JOIN crm_lifecycle_stage os ON os.id = t.old_stage
                     WHERE p.id = t.id AND t.new_stage IS DISTINCT FROM t.old_stage
                       AND t.new_stage IS NOT NULL
                 RETURNING p.id, p.partner_id, p.company_id, t.old_stage, t.new_stage, t.old_date,
                           s.kind AS new_kind
                )
                INSERT INTO crm_lifecycle_history
                       (profile_id, partner_id, company_id, from_stage_id, stage_id, date,
                        reason, user_id, duration_days,
                        create_uid, create_date, write_uid, write_date)
                SELECT id, partner_id, company_id, old_stage, new_stage, %(now)s,
                       %(reason)s,
                       %(uid)s,
                       COALESCE(EXTRACT(EPOCH FROM (%(now)s - old_date)) / 86400.0, 0),
                       %(uid)s, %(now)s, %(uid)s, %(now)s
                  FROM changed
                RETURNING id
                """,
                cases=SQL(" ").join(cases),
                ids=profile_ids,
                now=now,
                today=today,
                reason=self._history_reason_sql(
                    SQL("changed.id"), SQL("changed.new_kind"), reason, today
                ),
                uid=self.env.uid,
            )
        )
        history_ids = [row[0] for row in self.env.cr.fetchall()]
        self.invalidate_model()
        history = self.env["crm.lifecycle.history"].sudo().browse(history_ids)
        history.invalidate_model()
        if history:
            history.profile_id._sync_partner_stage()
            history._post_partner_messages()
        return history

    @api.model
    def _campaign_attributed_sql(self, profile_id, today):
        """SQL condition: the profile ``profile_id`` (an SQL expression) is in
        a campaign that can claim its comeback, i.e. a treated member,
        contacted by a step, inside its outcome window on ``today``.

        Both stage writers use it (the batch upsert of the recompute and
        ``_evaluate_stages``), so a comeback is credited the same way
        whichever path finds it.
        """
        return SQL(
            """EXISTS (
                SELECT 1 FROM crm_retention_campaign_member cm
                 WHERE cm.profile_id = %(profile)s AND cm.member_group = 'treated'
                   AND cm.contacted_date IS NOT NULL
                   AND cm.enrol_date <= %(today)s AND cm.window_end_date >= %(today)s
            )""",
            profile=profile_id,
            today=today,
        )

    @api.model
    def _history_reason_sql(self, profile_id, stage_kind, reason, today):
        """The history reason of a stage change: "campaign" for a comeback
        (Won back / Active) that a campaign can claim, else ``reason``."""
        self.env["crm.retention.campaign.member"].flush_model(
            ["profile_id", "member_group", "contacted_date", "enrol_date", "window_end_date"]
        )
        return SQL(
            "CASE WHEN %(kind)s IN ('won_back', 'active') AND %(attributed)s "
            "THEN 'campaign' ELSE %(reason)s END",
            kind=stage_kind,
            attributed=self._campaign_attributed_sql(profile_id, today),
            reason=reason,
        )

    @api.model
    def _partner_stage_sql(self, source):
        """UPDATE mirroring ``source`` rows (partner_id, company_id, stage_id)
        into ``res_partner.lifecycle_stage_id``.

        The partners are also looked up by ``id = ANY(ARRAY(...))``: the
        planner cannot estimate a CTE of a few changed stages and would
        otherwise hash every partner of the database for each batch.
        """
        return SQL(
            """
            UPDATE res_partner rp
               SET lifecycle_stage_id = COALESCE(rp.lifecycle_stage_id, '{}'::jsonb)
                   || src.stages
              FROM (
                    -- one row per partner: UPDATE ... FROM applies a single
                    -- source row, and a partner may change in several companies
                    SELECT s1.partner_id,
                           jsonb_object_agg(s1.company_id::text, s1.stage_id) AS stages
                      FROM %(source)s s1
                     GROUP BY s1.partner_id
                   ) src
             WHERE rp.id = src.partner_id
               AND rp.id = ANY(ARRAY(SELECT s2.partner_id FROM %(source)s s2))
            """,
            source=source,
        )

    def _sync_partner_stage(self):
        """Mirror stages into the partner's company-dependent field (for
        filters and group-by), for all these profiles in one UPDATE. In SQL:
        the partner's ORM write of this field is the manual-change path."""
        self.env.flush_all()
        self.env.cr.execute(
            self._partner_stage_sql(
                SQL(
                    "(SELECT partner_id, company_id, stage_id FROM crm_customer_profile "
                    "WHERE id = ANY(%s))",
                    self.ids,
                )
            )
        )
        self.env["res.partner"].invalidate_model(["lifecycle_stage_id"])

    @api.model
    def _sync_owners(self, company=None, partner_ids=None, full=False, created_since=None):
        """Set each profile's salesperson (``user_id``): the customer's own
        salesperson, else the salesperson of its latest opportunity in the
        profile's company. One statement; only the profiles whose owner
        changes are written. Returns how many changed.

        With ``partner_ids`` (a customer or a deal changed), those customers
        are looked at. The nightly run passes ``created_since`` (its start):
        only the profiles it created get an owner, since a change of a
        customer's or an opportunity's salesperson made through the ORM is
        synced at once (``res.partner.write``, ``_recompute_partners``).
        Without it, over a whole company: the profiles without an owner or
        whose customer's salesperson differs (a salesperson written in SQL,
        behind the ORM); ``full``: every profile (a migration). At
        1,000,000 partners the first run's 545,000 new profiles take 16-21 s
        (one indexed lookup each for customers without a salesperson).
        """
        where = [SQL("TRUE")]
        if company:
            where.append(SQL("pr.company_id = %s", company.id))
        if partner_ids is not None:
            where.append(SQL("pr.partner_id = ANY(%s)", list(partner_ids)))
        elif created_since:
            # the run's new profiles (the batches stamp create_date to the
            # second): no join of every profile with its partner each night
            where.append(
                SQL(
                    "pr.user_id IS NULL AND pr.create_date >= date_trunc('second', %s::timestamp)",
                    created_since,
                )
            )
        elif not full:
            where.append(
                SQL(
                    "(pr.user_id IS NULL OR (rp.user_id IS NOT NULL "
                    "AND rp.user_id IS DISTINCT FROM pr.user_id))"
                )
            )
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """
            UPDATE crm_customer_profile target
               SET user_id = o.owner_id
              FROM (
                SELECT pr.id, COALESCE(rp.user_id, (
                           SELECT l.user_id
                             FROM res_partner c
                             JOIN crm_lead l ON l.partner_id = c.id
                            WHERE c.commercial_partner_id = pr.partner_id
                              AND l.company_id = pr.company_id
                              AND l.user_id IS NOT NULL AND l.type = 'opportunity'
                            ORDER BY COALESCE(l.date_closed, l.create_date) DESC, l.id DESC
                            LIMIT 1)) AS owner_id
                  FROM crm_customer_profile pr
                  JOIN res_partner rp ON rp.id = pr.partner_id
                 WHERE %(where)s
              ) o
             WHERE target.id = o.id AND target.user_id IS DISTINCT FROM o.owner_id
                """,
                where=SQL(" AND ").join(where),
            )
        )
        changed = self.env.cr.rowcount
        if changed:
            self.invalidate_model(["user_id"])
        return changed
