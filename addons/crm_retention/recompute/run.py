"""The runs of the lifecycle recompute.

``_recompute_company`` is the nightly run of one company: aggregate the
deals, fit the model, compute every customer's metrics into a work table
(one COPY, committed), then apply it by ranges of partners, each range in
its own transaction (on two connections when the machine allows), so that
a run that dies resumes at its cursor with the same parameters and "today";
one run per company at a time (an advisory lock). ``_recompute_partners``
refreshes a few customers at once when their deals change.
"""

import contextlib
import itertools
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg2.errors

from odoo import api, fields, models, modules
from odoo.tools import SQL, mute_logger

from .layout import (
    BATCH_TYPES,
    CHUNKS_LOCK_KEY,
    METRIC_COLUMNS,
    RUN_LOCK_KEY,
    WORK_TABLE,
    JobRunning,
    RecomputeRunning,
)

_logger = logging.getLogger(__name__)


class CrmCustomerProfileRun(models.Model):
    _inherit = "crm.customer.profile"

    @api.model
    def _recompute_partners(self, partner_ids, company, today=None):
        """Refresh the profiles of some customers of ``company`` right now,
        with the company's current model parameters (no refit).

        A contact's id refreshes its commercial partner; a partner that is
        no longer its own commercial partner (a customer just moved under a
        company) has no deals of its own any more: its profile is reset, as
        a run reading every deal would."""
        partner_ids = list(set(partner_ids))
        if not partner_ids:
            return
        self.env.flush_all()
        today = today or fields.Date.context_today(self)
        Partner = self.env["res.partner"].with_context(active_test=False)
        commercial = Partner.browse(partner_ids).commercial_partner_id.ids
        scope = sorted(set(commercial) | set(partner_ids))
        frame = self._read_aggregate(self._aggregate_sql([company.id], today, scope))
        model = self.env["crm.retention.model"]._get_for_company(company)
        batch = self._copy_batch(self._compute_metrics(company, model, frame, today))
        self._apply_batch(company, batch, today, SQL("p.partner_id = ANY(%s)", scope))
        self._sync_owners(company, commercial)
        # a deal won during a campaign's outcome window retains its member now
        self.env["crm.retention.campaign.member"].sudo()._refresh_outcomes(
            company=company, partner_ids=commercial, today=today
        )

    @api.model
    def _recompute_customers(self, keys):
        """Refresh the profiles of ``keys``, pairs (commercial partner id,
        company) whose purchases just changed (a deal won, an order
        confirmed, an invoice posted): one ``_recompute_partners`` per
        company for all of them, as the deal sources' hooks call it."""
        by_company = {}
        for partner_id, company in keys:
            by_company.setdefault(company, []).append(partner_id)
        for company, partner_ids in by_company.items():
            self._recompute_partners(partner_ids, company)

    @api.model
    def _recompute_company(self, company, batch_size=None, today=None, full=False):
        """Full recompute of one company, resumable.

        1. aggregate the deals of the company (one query, streamed here by
           COPY: every deal with ``full``, else the profiles' stored
           aggregates with the changed customers' deals re-read, see
           ``_run_frame``), refit the model on it, compute every customer's
           metrics (vectorised) and store them in the work table; commit;
        2. walk the work table in partner-id order by batches of
           ``batch_size``; each batch writes profiles, stages and history in
           one statement and commits, moving the run's cursor;
        3. mark the run done.

        A run that dies half-way leaves committed batches consistent
        (profile, stage and history change together) and its state
        ``running``: the next call resumes at the cursor with the same
        parameters and the same "today". A batch never overwrites a profile
        refreshed after the run read the deals (the model's ``run_stamp``,
        see ``_upsert_batch``): a deal won while the run goes, or before it
        resumes, keeps its effect.

        One run per company at a time (``_company_run_lock``): a second one
        raises ``RecomputeRunning``, a UserError.
        """
        with self._company_run_lock(company):
            return self._recompute_company_locked(
                company, batch_size=batch_size, today=today, full=full
            )

    def _recompute_company_locked(self, company, batch_size=None, today=None, full=False):
        """The run of ``_recompute_company``, under its company's lock: the
        work table prepared once (``_prepare_run``), then applied range by
        range (``_apply_run``), then the new profiles' salesperson."""
        Model = self.env["crm.retention.model"].sudo()
        model = Model._get_for_company(company)
        # out-of-range thresholds raise here, before anything is written
        settings = Model._get_settings(company)
        batch_size = batch_size or settings["batch_size"]
        today = today or fields.Date.context_today(self)
        if model.run_state == "running" and self._work_table_rows(company) != model.run_total:
            # the unlogged work table was emptied or dropped (server crash,
            # module update): start over
            _logger.warning("Lifecycle work table lost for company %s: restarting", company.id)
            self._restart_run(model)
        if full and model.run_state == "running":
            # asked to read every deal: a run left half-way (which may have
            # read only the changed customers) starts over; its applied
            # ranges were consistent on their own
            _logger.info("Lifecycle recompute of company %s: restarting in full", company.id)
            self._restart_run(model)
        if model.run_state != "running":
            self._prepare_run(company, model, today, full=full)
        self._apply_run(company, model, model.run_date or today, batch_size)
        with self._timed("owners"):
            # the profiles this run created (and any whose customer changed
            # salesperson): the others kept theirs through the day's changes
            self._sync_owners(company, created_since=model.run_stamp)
        self._finish_frame(model)
        model.write({"run_state": "done", "run_cursor": 0, "last_run_date": fields.Datetime.now()})
        with self._timed("analyze"):
            # the run wrote every profile (a first run inserted them all) and
            # autovacuum may be off: the phases after it (next best actions,
            # the bridges' scores) join the profiles, and a table never
            # analysed is planned as empty (a nested loop that does not end)
            self.env.cr.execute("ANALYZE crm_customer_profile, crm_lifecycle_history")
        self._after_run(company, model.run_date or today)
        with self._timed("digest"):
            # the managers hear of the day's moves once, after the run
            _mails, model.digest_history_id = self.env["crm.lifecycle.history"]._send_stage_digest(
                company, model.digest_history_id
            )
        self._commit_progress(done=model.run_total)
        if company.retention_rebuild_history:
            with self._timed("rebuild history"):
                # customers whose history starts after their first deal (the
                # run after install or an import): their past, from their deals
                self._rebuild_history(company, automatic=True, today=model.run_date or today)
        return model.run_total

    @api.model
    def _restart_run(self, model):
        """Drop ``model``'s run left half-way: the next ``_prepare_run``
        starts over. A run that was the first after a change of the stage
        rules hands the change on to it."""
        model.write(
            {
                "run_state": "idle",
                "redefinition_pending": model.redefinition_pending or model.run_redefinition,
            }
        )

    @api.model
    def _after_run(self, company, today):
        """Extension point: what follows a company's full recompute, once
        every profile has its metrics and stage of ``today``, before the
        managers' digest; a bridge adds its own scores (call super). The
        batches wrote the next best actions (``_batch_staged_sql``) unless
        the company's stage rules are evaluated after them (not inline):
        then they are written here, by one full pass."""
        if not self._stage_cases(company)[1]:
            with self._timed("next best action"):
                self._recommend_company(company)

    @api.model
    def _prepare_run(self, company, model, today, full=False):
        """Phase 1 of a run: read the deals (``_run_frame``: all of them
        with ``full`` or when needed, else the changed customers'), refit the
        model, compute every customer's metrics and store them in the
        company's work table; mark the run ``running`` and commit, so a
        crash after this resumes at the first range not applied."""
        cr = self.env.cr
        work = SQL.identifier(self._work_table_name(company))
        chunks = SQL.identifier(self._work_table_name(company, "chunks"))
        # the deals are read in SQL: what the ORM still holds goes first
        self.env.flush_all()
        self._stamp_run(company, model)
        with self._timed("aggregate deals"):
            # hash aggregates of a large company spill to disk with the
            # default 4 MB; no JIT: compiling this query costs more than
            # it saves; LOCAL: until this transaction commits. COPY TO
            # runs the query with parallel workers and streams it here.
            # Each source of deals (leads, sale orders...) is scanned by
            # parallel workers only if the planner thinks passing its rows up
            # is cheap: the rows are streamed out by COPY anyway, so say so.
            cr.execute(
                "SET LOCAL work_mem = '256MB'; SET LOCAL jit = off;"
                " SET LOCAL parallel_tuple_cost = 0.001"
            )
            frame, pending = self._run_frame(company, model, today, full=full)
        with self._timed("fit model"):
            model._fit(frame, today)
        with self._timed("metrics (numpy)"):
            metrics = self._compute_metrics(company, model, frame, today)
            del frame
        with self._timed("store work table"):
            # a new table each run: no dead rows of the last run to skip,
            # and the key built once on the loaded (sorted) rows
            cr.execute(SQL("DROP TABLE IF EXISTS %s", work))
            cr.execute(SQL("CREATE UNLOGGED TABLE %s (%s)", work, self._batch_columns_sql()))
            self._store_metrics(metrics, self._work_table_name(company))
            cr.execute(SQL("ALTER TABLE %s ADD PRIMARY KEY (partner_id)", work))
            cr.execute(SQL("COMMENT ON TABLE %s IS %s", work, self._work_layout()))
            cr.execute(SQL("ANALYZE %s", work))
            # the run's chunks, made by the first _apply_run (see there)
            cr.execute(SQL("DROP TABLE IF EXISTS %s", chunks))
        with self._timed("next best action"):
            # the evidence of the night's recommendations, frozen for its
            # batches (a resumed run reads it back from the model)
            plan = self._nba_plan(company)
        model.write(
            {
                "run_state": "running",
                "run_cursor": 0,
                "run_date": today,
                "run_total": len(metrics),
                "nba_plan": plan,
                # the first run after a change of the stage rules logs its
                # moves as the change's (a change during the run: see
                # _apply_range)
                "run_redefinition": model.redefinition_pending,
                "redefinition_pending": False,
                **pending,
            }
        )
        with self._timed("commit"):
            self._commit_progress()

    @api.model
    def _apply_run(self, company, model, today, batch_size):
        """Phase 2 of a run: apply the work table by chunks, then drop it.

        The chunks are (lo, hi] partner-id ranges of ``batch_size``
        customers, written once into the run's chunk table (``_make_chunks``)
        and applied each in a transaction of its own that also marks it done
        (``_work_chunks``): a chunk is claimed with ``FOR UPDATE SKIP
        LOCKED``, so this process, its threads (setting
        ``crm_retention.parallel_batches``) and the helper crons of any Odoo
        node (``_cron_help_recompute``, woken here) share them without ever
        applying one twice; a worker that dies rolls its chunk back and
        another one takes it. This run waits for the chunks others hold, then
        returns; a run that dies resumes with the chunks not done."""
        cr = self.env.cr
        work = SQL.identifier(self._work_table_name(company))
        chunks = SQL.identifier(self._work_table_name(company, "chunks"))
        self._make_chunks(company, model, batch_size)
        workers = self._parallel_batches()
        if workers == 1 and not self._can_commit():
            # one transaction (install, tests): in order, the cursor moving
            for lo, hi in self._chunks_left(company):
                self._apply_chunk(company, lo, hi, today)
                if hi is not None:
                    model.run_cursor = hi
                self._commit_progress(done=self._chunks_done(company, batch_size, model))
        else:
            self._wake_helpers()
            with self._timed("write profiles, stages, history"):
                self._work_chunks_in_threads(company, model, today, workers, batch_size)
        # (and the "done" table of a run started before the chunks existed);
        # once the helpers' transactions that looked at the chunk table ended
        cr.execute(SQL("SELECT pg_advisory_xact_lock(%s, %s)", CHUNKS_LOCK_KEY, company.id))
        cr.execute(
            SQL(
                "DROP TABLE %s, %s; DROP TABLE IF EXISTS %s",
                work,
                chunks,
                SQL.identifier(self._work_table_name(company, "done")),
            )
        )

    @api.model
    def _make_chunks(self, company, model, batch_size):
        """Create the chunk table of ``company``'s run if it has none yet:
        one row per range of the work table after the run's cursor (a run
        stopped by an older version resumes there), ``done`` false."""
        if self._chunk_table_exists(company):
            return
        cr = self.env.cr
        name = self._work_table_name(company, "chunks")
        cr.execute(
            SQL(
                "CREATE UNLOGGED TABLE %s (lo integer PRIMARY KEY, hi integer,"
                " done boolean NOT NULL DEFAULT false)",
                SQL.identifier(name),
            )
        )
        ranges = self._work_ranges(company, model.run_cursor, batch_size)
        cr.execute(
            SQL(
                "INSERT INTO %s (lo, hi) SELECT * FROM unnest(%s::integer[], %s::integer[])",
                SQL.identifier(name),
                [lo for lo, _hi in ranges],
                [hi for _lo, hi in ranges],
            )
        )
        if self._can_commit():
            cr.commit()  # pylint: disable=invalid-commit

    @api.model
    def _chunks_left(self, company):
        """The (lo, hi) of the chunks of ``company``'s run not done yet."""
        return self.env.execute_query(
            SQL(
                "SELECT lo, hi FROM %s WHERE NOT done ORDER BY lo",
                SQL.identifier(self._work_table_name(company, "chunks")),
            )
        )

    @api.model
    def _chunks_done(self, company, batch_size, model):
        """About how many customers the chunks done so far hold."""
        [(done,)] = self.env.execute_query(
            SQL(
                "SELECT count(*) FILTER (WHERE done) FROM %s",
                SQL.identifier(self._work_table_name(company, "chunks")),
            )
        )
        return min(done * batch_size, model.run_total)

    @api.model
    def _claim_chunk(self, company):
        """Lock the first chunk of ``company``'s run that is not done and that
        no other transaction holds; return its (lo, hi), or None. The lock
        lasts until this transaction ends: the chunk is applied and marked
        done in it (``_apply_chunk``), or, if the worker dies, released
        with nothing of it written."""
        rows = self.env.execute_query(
            SQL(
                "SELECT lo, hi FROM %s WHERE NOT done ORDER BY lo LIMIT 1 FOR UPDATE SKIP LOCKED",
                SQL.identifier(self._work_table_name(company, "chunks")),
            )
        )
        return rows[0] if rows else None

    @api.model
    def _apply_chunk(self, company, lo, hi, today):
        """Apply the chunk (lo, hi] (``_apply_range``) and mark it done, in
        the current transaction."""
        self._apply_range(company, lo, hi, today)
        self.env.cr.execute(
            SQL(
                "UPDATE %s SET done = true WHERE lo = %s",
                SQL.identifier(self._work_table_name(company, "chunks")),
                lo,
            )
        )

    @api.model
    def _work_chunks(self, company_id, today, wait=False):
        """Claim and apply chunks of the run of company ``company_id``, each
        in a transaction of its own that commits, until none is left to
        claim; return how many this worker applied. With ``wait``, then
        wait for the chunks other workers hold (taking over those whose
        worker died) until every chunk is done.

        Opens its own cursors: callable from a thread or a cron."""
        registry, uid, su = self.env.registry, self.env.uid, self.env.su
        context = {k: v for k, v in self.env.context.items() if k != "lifecycle_timings"}
        applied = 0
        while True:
            with registry.cursor() as cr:
                env = api.Environment(cr, uid, context, su=su)
                Profile = env[self._name]
                company = env["res.company"].browse(company_id)
                # the run drops the chunk table under the exclusive lock: with
                # the shared one, it cannot vanish between this look and the
                # claim below; without, the run is dropping it (its chunks are
                # all done)
                [(free,)] = env.execute_query(
                    SQL(
                        "SELECT pg_try_advisory_xact_lock_shared(%s, %s)",
                        CHUNKS_LOCK_KEY,
                        company_id,
                    )
                )
                if not free or not Profile._chunk_table_exists(company):
                    return applied  # the run finished (and dropped it)
                try:
                    # an expected failure, handled below: not an error to log
                    with mute_logger("odoo.sql_db"):
                        claimed = Profile._claim_chunk(company)
                except psycopg2.errors.SerializationFailure:
                    # another worker marked the first chunk done after this
                    # transaction's snapshot: look again in a new one
                    cr.rollback()
                    continue
                if claimed:
                    Profile._apply_chunk(company, *claimed, today)
                    cr.commit()  # pylint: disable=invalid-commit
                    applied += 1
                    continue
                if not wait or not Profile._chunks_left(company):
                    return applied
            time.sleep(0.5)  # chunks held by other workers: wait for them

    @api.model
    def _chunk_table_exists(self, company):
        [(name,)] = self.env.execute_query(
            SQL("SELECT to_regclass(%s)", self._work_table_name(company, "chunks"))
        )
        return bool(name)

    @api.model
    def _work_chunks_in_threads(self, company, model, today, workers, batch_size):
        """``_work_chunks`` in ``workers`` threads of this process (each its
        own connection), the first one waiting until every chunk is done,
        wherever it was applied; then the run's progress is reported."""
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="crm_retention")
        try:
            futures = [
                pool.submit(self._work_chunks, company.id, today, number == 0)
                for number in range(workers)
            ]
            applied = sum(future.result() for future in futures)
            _logger.info(
                "Lifecycle recompute of company %s: the run's %s threads applied %s chunks",
                company.id,
                workers,
                applied,
            )
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            # the threads changed profiles, history, partners and messages
            self.env.invalidate_all()
        model.run_cursor = 0
        self._commit_progress(done=self._chunks_done(company, batch_size, model))

    @api.model
    def _wake_helpers(self):
        """Wake the helper crons: the Odoo nodes' cron workers that are free
        take chunks of the runs going on (``_cron_help_recompute``)."""
        self._trigger_crons(
            "crm_retention.ir_cron_lifecycle_help_1", "crm_retention.ir_cron_lifecycle_help_2"
        )
        if self._can_commit():
            self.env.cr.commit()  # pylint: disable=invalid-commit

    @api.model
    def _trigger_crons(self, *xmlids):
        """Wake the crons ``xmlids`` now (``ir.cron._trigger``), those that
        exist and are active: a job and its helper crons, which the cron
        workers of any Odoo node then run (the KPI back-fill uses it too)."""
        for xmlid in xmlids:
            cron = self.env.ref(xmlid, raise_if_not_found=False)
            if cron and cron.active:
                # sudo: waking a cron, whoever asked for the job
                cron.sudo()._trigger()

    @api.model
    def _cron_help_recompute(self):
        """Helper cron (two of them, so that two cron workers of any nodes
        can help at once): apply chunks of every company's run going on,
        with the run's date; the run itself finishes it (owners, next best
        actions, digest). Does nothing when no run is going on. Returns how
        many chunks this worker applied."""
        models = self.env["crm.retention.model"].sudo().search([("run_state", "=", "running")])
        total = 0
        for model in models:
            applied = self.sudo()._work_chunks(model.company_id.id, model.run_date)
            if applied:
                _logger.info(
                    "Lifecycle recompute of company %s: this worker applied %s chunks",
                    model.company_id.id,
                    applied,
                )
            total += applied
        return total

    @contextlib.contextmanager
    def _company_run_lock(self, company):
        """Hold the lock of ``company``'s recompute run for the whole run;
        raise ``RecomputeRunning`` when another run holds it. The cron and
        the "Recompute now" queue both take it."""
        with self._job_lock(
            RUN_LOCK_KEY, company.id, self._run_locked_message(company), RecomputeRunning
        ):
            yield

    @contextlib.contextmanager
    def _job_lock(self, key, scope_id, message, error=JobRunning):
        """Hold the lock ``(key, scope_id)`` (a job and, usually, a company)
        for the whole block; raise ``error(message)`` at once when another
        run holds it. The jobs that must not run twice at once (the
        recompute, crm_kpi's snapshots and back-fills, the campaign runner)
        take theirs here. Usage::

            with Profile._job_lock(KPI_LOCK_KEY, company.id, _("... running")):
                ...  # may commit by batches

        A PostgreSQL advisory lock of the session when the run commits by
        batches (so it survives the commits, with no gap another run could
        slip into), released at the end whatever happens; of the transaction
        otherwise (install, tests: one transaction). A crashed worker's
        connection closes and PostgreSQL releases its locks."""
        cr = self.env.cr
        keys = (int(key), int(scope_id))
        session = self._can_commit()
        cr.execute(
            SQL(
                "SELECT %s(%s, %s)",
                SQL("pg_try_advisory_lock" if session else "pg_try_advisory_xact_lock"),
                *keys,
            )
        )
        if not cr.fetchone()[0]:
            raise error(message)
        if not session:
            yield
            return
        try:
            yield
        except Exception:
            # the unlock below needs a live transaction; the caller rolls
            # back on an error anyway (the committed batches stay)
            cr.rollback()
            raise
        finally:
            cr.execute(SQL("SELECT pg_advisory_unlock(%s, %s)", *keys))

    @api.model
    def _run_locked_message(self, company):
        return self.env._(
            "A recompute of %(company)s is already running; try again in a few minutes.",
            company=company.name,
        )

    @api.model
    def _fresher_than_run_sql(self, company, run_stamp):
        """The condition under which a batch of ``company``'s full run may
        overwrite a profile ``p``: its metrics were read no later than the run
        read the deals (``metrics_stamp``), and the transaction that wrote
        them had committed when the run took its snapshot (``metrics_xid``
        visible in ``run_snapshot``). The stamp alone misses a refresh that
        read its deal just before the run started but committed after: the
        run did not see that deal.

        In one transaction (install, tests) every write has the same id and
        the stamps decide."""
        return SQL(
            """AND (p.metrics_stamp IS NULL OR p.metrics_stamp <= %(stamp)s)
               AND (p.metrics_xid IS NULL OR p.metrics_xid = pg_current_xact_id()
                    OR pg_visible_in_snapshot(p.metrics_xid,
                         (SELECT m.run_snapshot FROM crm_retention_model m
                           WHERE m.company_id = %(company)s)))""",
            stamp=run_stamp,
            company=company.id,
        )

    @api.model
    def _stamp_run(self, company, model):
        """Note on ``model`` when the new run of ``company`` reads the deals
        (``run_stamp``, database clock, microseconds kept: written in SQL).

        Where the run commits, it first starts a fresh transaction: its
        snapshot, taken at its first statement, sees every deal committed
        by the stamp, the start of the transaction. Otherwise (install,
        tests) there is one transaction and the stamp is this statement's
        time. The run's snapshot is kept too (``run_snapshot``, see
        ``_fresher_than_run_sql``)."""
        committed = self._can_commit()
        if committed:
            self._commit_progress()
        self.env.cr.execute(
            SQL(
                "UPDATE crm_retention_model SET run_stamp = %s AT TIME ZONE 'UTC',"
                " run_snapshot = pg_current_snapshot() WHERE id = %s",
                SQL("transaction_timestamp()" if committed else "statement_timestamp()"),
                model.id,
            )
        )
        model.invalidate_recordset(["run_stamp"])

    @api.model
    def _work_ranges(self, company, cursor, batch_size):
        """The batches left in the work table of ``company`` after partner id
        ``cursor``: (lo, hi] partner-id ranges of ``batch_size`` customers,
        the last one open-ended (hi None) so that every profile beyond the
        last customer with deals is covered too."""
        cr = self.env.cr
        cr.execute(
            SQL(
                "SELECT partner_id FROM (SELECT partner_id, row_number() OVER (ORDER BY partner_id)"
                " AS n FROM %s WHERE partner_id > %s) w WHERE mod(n, %s) = 0 ORDER BY partner_id",
                SQL.identifier(self._work_table_name(company)),
                cursor,
                batch_size,
            )
        )
        bounds = [cursor, *(row[0] for row in cr.fetchall()), None]
        return list(itertools.pairwise(bounds))

    @api.model
    def _apply_range(self, company, lo, hi, today):
        """Apply the (lo, hi] partner-id range of the work table of
        ``company`` to its profiles (``_apply_batch``)."""

        def within(alias):
            cond = SQL("%s > %s", SQL.identifier(alias, "partner_id"), lo)
            if hi is None:
                return cond
            return SQL("%s AND %s <= %s", cond, SQL.identifier(alias, "partner_id"), hi)

        source = SQL(
            "(SELECT * FROM %s w WHERE %s)",
            SQL.identifier(self._work_table_name(company)),
            within("w"),
        )
        scope = within("p")
        # the batch statement holds a few wide rows per customer
        self.env.cr.execute("SET LOCAL work_mem = '128MB'")
        # when the run read the deals (one InitPlan per statement)
        run_stamp = SQL(
            "(SELECT m.run_stamp FROM crm_retention_model m WHERE m.company_id = %s)", company.id
        )
        # the first run after a change of the stage rules, or a stage edited
        # while this run goes (its rules are read per range, the thresholds
        # were frozen in the work table): the change's moves
        model = self.env["crm.retention.model"]._get_for_company(company)
        changed = model.run_redefinition or model.redefinition_pending
        reason = "redefinition" if changed else "rule"
        self._apply_batch(company, source, today, scope, run_stamp=run_stamp, reason=reason)

    @api.model
    def _parallel_batches(self):
        """How many batches of a full recompute run at once, each in its own
        transaction (setting ``crm_retention.parallel_batches``): the batch
        statement is one PostgreSQL process, so a second one uses a second
        core. 1 when this transaction must not commit (install, tests)."""
        if not self._can_commit():
            return 1
        settings = self.env["crm.retention.model"]._get_settings()
        return max(1, min(settings["parallel_batches"], os.cpu_count() or 1))

    @api.model
    def _can_commit(self):
        """Whether the batch loops may commit: never while installing
        (demo data runs a recompute) or under tests."""
        registry = self.env.registry
        return bool(
            registry.ready
            and not registry.in_test_mode()
            and not modules.module.current_test
            and not (self.env.su and self.env.context.get("lifecycle_no_commit"))
        )

    @api.model
    def _work_table_name(self, company, suffix=""):
        """The work table of ``company``'s recompute run (see ``WORK_TABLE``),
        or its companion table ``suffix`` (``chunks``: the run's ranges and
        whether each is done)."""
        return "_".join(filter(None, [WORK_TABLE, str(int(company.id)), suffix]))

    @api.model
    def _work_table_rows(self, company):
        """Rows in the work table of ``company``, None when it does not
        exist or has another layout (the module was updated mid-run)."""
        cr = self.env.cr
        name = self._work_table_name(company)
        cr.execute("SELECT obj_description(to_regclass(%s), 'pg_class')", [name])
        if cr.fetchone()[0] != self._work_layout():
            return None
        cr.execute(SQL("SELECT count(*) FROM %s", SQL.identifier(name)))
        return cr.fetchone()[0]

    @api.model
    def _work_layout(self):
        """What the batch layout's raw values mean (columns, types, decimals,
        selection keys), stamped on each work table: a run resumed after a
        module update that changed it starts over instead of misreading."""
        parts = []
        for c in ["partner_id", "company_id", *METRIC_COLUMNS]:
            kind = self._batch_kind(c)
            detail = ""
            if kind == "float":
                detail = self._batch_decimals(c)
            elif kind == "selection":
                detail = "|".join(self._selection_keys(c))
            parts.append(f"{c}:{BATCH_TYPES[kind][0]}:{detail}")
        return "crm_retention batch layout " + ",".join(parts)

    @api.model
    @contextlib.contextmanager
    def _timed(self, phase):
        """Add the time spent in the block to ``phase`` of the
        ``lifecycle_timings`` dict in the context, if any (the benchmark)."""
        timings = self.env.context.get("lifecycle_timings")
        start = time.perf_counter()
        try:
            yield
        finally:
            if timings is not None:
                timings[phase] = timings.get(phase, 0.0) + time.perf_counter() - start

    @api.model
    def _commit_progress(self, done=0, remaining=0):
        """Commit a finished batch (cron and button only, never in tests).

        Shared by the suite's batch loops (recompute, campaign steps, KPI
        snapshots): each calls it after a unit of work that is consistent on
        its own."""
        self.env.flush_all()
        # Each batch is consistent on its own: commit so a crash keeps it.
        if self._can_commit():
            self.env.cr.commit()  # pylint: disable=invalid-commit
        self.env["ir.cron"]._notify_progress(done=done, remaining=remaining)
