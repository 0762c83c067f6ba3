"""The writer of the lifecycle recompute: bring profiles in line with their
metrics, in set-based statements.

``_apply_batch`` applies a batch (a work-table range or a few customers)
with ``_upsert_batch``: one statement, a chain of CTEs each built by its
own method (``_batch_rows_sql`` the profiles as they will be and their
stage, ``_batch_update_sql`` / ``_batch_insert_sql`` the profile rows,
``_batch_changes_sql`` the stage changes, ``_batch_history_sql`` the
history rows), then a chatter note per change
(``crm.lifecycle.history._partner_message_sql``) and the partners' stage
mirror (``_partner_stage_sql``). The stage rules are in ``stages``, the
salesperson in ``owners``.
"""

from odoo import api, fields, models
from odoo.tools import SQL

from .layout import (
    METRIC_COLUMNS,
)


class CrmCustomerProfileWriter(models.Model):
    _inherit = "crm.customer.profile"

    @api.model
    def _apply_batch(self, company, source, today, scope, run_stamp=None, reason="rule"):
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

        ``reason``: of the stage changes in the history ("redefinition" for
        the first run after a change of the stage rules).
        """
        cr = self.env.cr
        cases, inline = self._stage_cases(company)
        with self._timed("write profiles, stages, history"):
            if inline:
                # the usual case: the rules read the profile's own columns, so
                # they are evaluated on the batch's new values inside the write
                self._upsert_batch(
                    cases, today, source, company, scope, reason=reason, run_stamp=run_stamp
                )
                return
            self._upsert_batch(None, today, source, company, scope, run_stamp=run_stamp)
            cr.execute(
                SQL(
                    "SELECT p.id FROM crm_customer_profile p WHERE p.company_id = %s AND %s",
                    company.id,
                    scope,
                )
            )
            self._evaluate_stages(company, [row[0] for row in cr.fetchall()], today, reason=reason)

    @api.model
    def _upsert_batch(self, cases, today, source, company, scope, reason="rule", run_stamp=None):
        """Write the batch ``source`` into the company's profiles selected by
        ``scope`` (see ``_apply_batch``) in one statement: update the
        profiles whose metrics or stage change, reset those absent from the
        batch, insert the new ones, and, when ``cases`` (the company's stage
        rules, see ``_stage_cases``) are given, set their stage in the same
        row write and log each change (history row, chatter note, partner's
        stage mirror). Returns (profiles updated, inserted, stage changes).

        Fresher metrics win: a batch of the full run (``run_stamp``, when
        the run read the deals) skips the profiles stamped after it
        (``metrics_stamp``: an incremental refresh after a deal was won while
        the run was going, or before a crashed run resumed); without
        ``run_stamp`` the profiles written are stamped with the clock.

        The statement is one chain of CTEs, so a batch's profile, stage,
        history, note and mirror commit together or not at all, in one
        round trip; each link has its own builder, readable and testable
        alone (a test can ``SELECT`` from ``_batch_rows_sql``):

        ``ruled`` (``_batch_rows_sql``: each profile as it will be, its new
        stage and both stage kinds) -> ``updated`` (``_batch_update_sql``)
        and ``inserted`` (``_batch_insert_sql``) -> ``changes``
        (``_batch_changes_sql``) -> ``history`` (``_batch_history_sql``) ->
        the chatter notes (``crm.lifecycle.history._partner_message_sql``)
        and the partners' mirror (``_partner_stage_sql``). Then the batch's
        history rows go to ``crm.lifecycle.history._after_bulk_create``
        (activities for the salespeople, automation rules).
        """
        now = fields.Datetime.now()
        written = self._batch_written_columns()
        # the database clock: the run's stamp is read from it too
        stamp = (
            run_stamp if run_stamp is not None else SQL("(clock_timestamp() AT TIME ZONE 'UTC')")
        )
        History = self.env["crm.lifecycle.history"]
        # the stage kind CASEs inflate the plan's cost past the JIT threshold:
        # compiling it would cost more than running it (LOCAL: this transaction)
        self.env.cr.execute("SET LOCAL jit = off")
        self.env.cr.execute(
            SQL(
                """
                WITH ruled AS (%(ruled)s),
                updated AS (%(updated)s),
                inserted AS (%(inserted)s),
                changes AS (%(changes)s),
                history AS (%(history)s),
                %(messages)s,
                mirror AS (%(mirror)s)
                SELECT (SELECT count(*) FROM updated), (SELECT count(*) FROM inserted),
                       (SELECT count(*) FROM changes), ARRAY(SELECT id FROM history)
                """,
                ruled=self._batch_rows_sql(cases, today, source, company, scope),
                updated=self._batch_update_sql(
                    written, company, scope, today, now, stamp, run_stamp
                ),
                inserted=self._batch_insert_sql(
                    written,
                    today,
                    now,
                    stamp,
                    rebuilt=run_stamp is not None and company.retention_rebuild_history,
                ),
                changes=self._batch_changes_sql(),
                history=self._batch_history_sql(reason, today, now),
                messages=History._partner_message_sql(SQL("history")),
                mirror=self._partner_stage_sql(SQL("changes")),
            )
        )
        *counts, history_ids = self.env.cr.fetchone()
        self.invalidate_model()
        History.invalidate_model()
        self.env["mail.message"].invalidate_model()
        self.env["res.partner"].invalidate_model(["lifecycle_stage_id", "message_ids"])
        if history_ids:
            # activities, automation rules: what follows a stage change
            History._after_bulk_create(History.sudo().browse(history_ids))
        return tuple(counts)

    @api.model
    def _batch_derived_sql(self, today=None, company=None):
        """Columns the writer derives from the batch and the stored profile
        (alias ``p``), not computed by the metrics: ``deals_since_lapse``,
        the deal days since the customer last lapsed (0, 1, or 2 meaning
        "2 or more"), from the profile's lapse date and the batch's deals;
        >= because the nightly run may mark a lapse the day the customer
        buys.

        Extension point: a bridge adds its own scores here, so they are
        written in the batch's row write (stage rules read them in the same
        statement) rather than by a second UPDATE of every profile. ``today``
        and ``company``: the batch's, None when only the names are asked
        (``_batch_written_columns``); the names must not depend on them."""
        last, prev = (
            self._batch_value_sql("last_deal_date"),
            self._batch_value_sql("prev_deal_date"),
        )
        return {
            "deals_since_lapse": SQL(
                "CASE WHEN p.lapsed_date IS NULL OR %(last)s IS NULL OR %(last)s < p.lapsed_date "
                "THEN 0 WHEN %(prev)s >= p.lapsed_date THEN 2 ELSE 1 END",
                last=last,
                prev=prev,
            ),
        }

    @api.model
    def _batch_staged_sql(self, company=None, row=None, kind=None):
        """Columns the writer derives once the new stage is known: ``(join,
        {column: SQL})``, SQL expressions of the ruled row ``row`` (an alias:
        the profile's columns as they will be) and of ``kind``, its new stage
        kind (SQL), with ``join`` (SQL, may be empty) joined after ``row``.

        Extension point, as ``_batch_derived_sql``, for what depends on the
        stage (crm_retention's next best action: campaign/recommend.py).
        ``company``: the batch's, None when only the names are asked; the
        names must not depend on it."""
        return SQL(), {}

    @api.model
    def _batch_written_columns(self):
        """The profile columns a batch writes: the metrics, the derived
        columns (``_batch_derived_sql``) and those derived from the new
        stage (``_batch_staged_sql``)."""
        return [*METRIC_COLUMNS, *self._batch_derived_sql(), *self._batch_staged_sql()[1]]

    @api.model
    def _batch_new_values_sql(self, today, company=None):
        """Select list of every stored profile column as it will be after
        the batch, from the batch row (alias ``b``) joined to the stored
        profile (alias ``p``, either side may be missing): the metrics from
        the batch (a profile absent from it gets zeros, no dates and low
        risk: its customer has no opportunity left), the derived columns,
        the rest kept from the profile."""
        derived = self._batch_derived_sql(today, company)
        batch_columns = {"partner_id", "company_id", *METRIC_COLUMNS}
        reset = {
            "risk_level": SQL("'low'"),
            "risk_reason_code": SQL("'none'"),
            "metrics_date": SQL("%s::date", today),
        }

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

        columns = [
            name
            for name, field in self._fields.items()
            if field.store and field.column_type and name != "id"
        ]
        return SQL(", ").join(
            SQL("%s AS %s", value(name), SQL.identifier(name)) for name in ["id", *columns]
        )

    @api.model
    def _batch_rows_sql(self, cases, today, source, company, scope):
        """SELECT of the ``ruled`` rows: per customer of the batch ``source``
        or profile in ``scope``, its ``id`` (NULL: a new profile),
        ``partner_id``, ``company_id``, the current ``stage_id`` and
        ``stage_date``, the written columns as they will be, ``new_stage``
        (the first of the stage rules ``cases`` that matches the new values;
        a pinned profile keeps its stage) and the kinds ``new_kind`` and
        ``old_kind``. Reads only: a test or a preview can select from it.

        The new values are a row aliased like the table, so the rules'
        WHERE clauses (``crm_customer_profile.col``) read them; ``OFFSET 0``
        computes each row once, not once per reference of a rule to a
        column.
        """
        rule_stage = SQL("CASE %s END", SQL(" ").join(cases)) if cases else SQL("NULL::integer")
        kept = ["id", "partner_id", "company_id", "stage_id", "stage_date", "new_stage"]
        staged_join, staged = self._batch_staged_sql(company, SQL("r1"), SQL("r1.new_kind"))
        return SQL(
            """
            -- the columns written and logged: a narrow row to hold
            SELECT %(kept)s, r1.new_kind, r1.old_kind
              FROM (
                SELECT r0.*, %(new_kind)s AS new_kind, %(old_kind)s AS old_kind
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
                             OFFSET 0
                           ) AS crm_customer_profile
                  ) r0
              ) r1
              %(staged_join)s
            """,
            kept=SQL(", ").join(
                SQL("%s AS %s", staged[c], SQL.identifier(c))
                if c in staged
                else SQL.identifier("r1", c)
                for c in kept + self._batch_written_columns()
            ),
            staged_join=staged_join,
            new_kind=self._stage_kind_sql(SQL("r0.new_stage")),
            old_kind=self._stage_kind_sql(SQL("r0.stage_id")),
            rule_stage=rule_stage,
            current=self._batch_new_values_sql(today, company),
            source=source,
            company=company.id,
            scope=scope,
        )

    @api.model
    def _batch_update_sql(self, written, company, scope, today, now, stamp, run_stamp):
        """UPDATE of the stored profiles from ``ruled``: only those whose
        written columns (``metrics_date`` alone does not count) or stage
        change, so the daily run rewrites only customers whose values moved,
        as HOT updates (no indexed column changes; free space kept by the
        table's fillfactor). A new stage restarts ``stage_date``; entering
        At risk or Lost from elsewhere dates the lapse. With ``run_stamp``,
        profiles refreshed after the run read the deals are skipped.
        Returns the rows ``changes`` reads."""
        compared = [c for c in written if c != "metrics_date"]
        return SQL(
            """
            UPDATE crm_customer_profile p
               SET %(metric_set)s,
                   stage_id = r.new_stage,
                   stage_kind = r.new_kind,
                   stage_date = CASE WHEN r.new_stage IS DISTINCT FROM r.stage_id
                                     THEN %(now)s ELSE p.stage_date END,
                   -- the history starts with the first stage
                   history_start = CASE WHEN r.stage_id IS NULL AND r.new_stage IS NOT NULL
                                         AND p.history_start IS NULL
                                        THEN %(today)s::date ELSE p.history_start END,
                   lapsed_date = CASE WHEN r.new_stage IS DISTINCT FROM r.stage_id
                                       AND r.new_kind IN ('at_risk', 'lost')
                                       AND COALESCE(r.old_kind, '') NOT IN ('at_risk', 'lost')
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
            """,
            metric_set=SQL(", ").join(
                SQL("%s = r.%s", SQL.identifier(c), SQL.identifier(c)) for c in written
            ),
            now=now,
            today=today,
            stamp=stamp,
            uid=self.env.uid,
            company=company.id,
            scope=scope,
            old=SQL(", ").join(SQL.identifier("p", c) for c in compared),
            new=SQL(", ").join(SQL.identifier("r", c) for c in compared),
            fresher=self._fresher_than_run_sql(company, run_stamp)
            if run_stamp is not None
            else SQL(),
        )

    @api.model
    def _batch_insert_sql(self, written, today, now, stamp, rebuilt=False):
        """INSERT of the profiles new in ``ruled`` (no ``id``), with their
        stage and their salesperson (``_owner_sql``: no second write of
        each new profile); one that starts At risk or Lost is dated lapsed
        today; its history starts today (``history_start``: a customer with
        deals before that has its past rebuilt, see ``_rebuild_history``).

        ``rebuilt``: the full run rebuilds the history of new customers who
        bought before today right after its batches; their profile is
        inserted without a history start, and ``_batch_changes_sql`` writes
        no history row, chatter note or mirror for them (the rebuild writes
        their whole path once)."""
        return SQL(
            """
            INSERT INTO crm_customer_profile
                   (partner_id, company_id, %(metric_cols)s, stage_id, stage_kind,
                    stage_date, history_start, stage_locked, lapsed_date, user_id,
                    metrics_stamp, metrics_xid, create_uid, create_date, write_uid, write_date)
            SELECT r.partner_id, r.company_id, %(metric_vals)s, r.new_stage, r.new_kind,
                   CASE WHEN r.new_stage IS NOT NULL THEN %(now)s END,
                   CASE WHEN r.new_stage IS NOT NULL
                             AND NOT (%(rebuilt)s AND r.first_deal_date < %(today)s::date)
                        THEN %(today)s::date END, false,
                   CASE WHEN r.new_kind IN ('at_risk', 'lost') THEN %(today)s END,
                   %(owner)s, %(stamp)s, pg_current_xact_id(),
                   %(uid)s, %(now)s, %(uid)s, %(now)s
              FROM ruled r
              JOIN res_partner rp ON rp.id = r.partner_id
             WHERE r.id IS NULL
         RETURNING id, partner_id, company_id, stage_id, history_start
            """,
            metric_cols=SQL(", ").join(SQL.identifier(c) for c in written),
            metric_vals=SQL(", ").join(SQL.identifier("r", c) for c in written),
            owner=self._owner_sql(SQL("rp.user_id"), SQL("r.partner_id"), SQL("r.company_id")),
            now=now,
            today=today,
            stamp=stamp,
            uid=self.env.uid,
            rebuilt=bool(rebuilt),
        )

    @api.model
    def _batch_changes_sql(self):
        """The stage changes of ``updated`` and ``inserted``: (profile id,
        partner, company, from stage, to stage, date the old stage began);
        not the new profiles left to the history rebuild (no history start,
        see ``_batch_insert_sql``)."""
        return SQL(
            """
            SELECT id, partner_id, company_id, from_stage_id, stage_id, old_date
              FROM updated WHERE stage_id IS DISTINCT FROM from_stage_id
             UNION ALL
            SELECT id, partner_id, company_id, NULL::integer, stage_id, NULL::timestamp
              FROM inserted WHERE stage_id IS NOT NULL AND history_start IS NOT NULL
            """
        )

    @api.model
    def _batch_history_sql(self, reason, today, now):
        """INSERT of a ``crm.lifecycle.history`` row per change of
        ``changes``, with the time spent in the old stage; a comeback inside
        a campaign's window is the campaign's (``_history_reason_sql``).
        Returns the rows the chatter notes are written from."""
        return SQL(
            """
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
            """,
            now=now,
            uid=self.env.uid,
            reason=self._history_reason_sql(SQL("ch.id"), SQL("cs.kind"), reason, today),
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
