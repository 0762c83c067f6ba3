"""The snapshot runs of ``crm.kpi.snapshot``: the daily cron (every company up
to yesterday, resuming after the last day done), and the back-fill of a past
period, queued by a manager (``_backfill_queue``, one system parameter per
company) and written a few days per cron run (``_cron_backfill``), or at
once (``_backfill``). The days are written by ``period._snapshot_period``.
"""

import logging
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from datetime import date, timedelta

from odoo import api, fields, models
from odoo.addons.crm_retention.recompute.layout import KPI_LOCK_KEY, JobRunning
from odoo.exceptions import UserError
from odoo.tools import SQL

_logger = logging.getLogger(__name__)

# The earliest day a back-fill may start: CRM history before it is not
# plausible, and a typo like 0001-01-01 would ask for 739,000 days.
BACKFILL_MIN_DATE = date(2000, 1, 1)
# ir.config_parameter key of a company's queued back-fill ("from,to", ISO)
BACKFILL_PENDING_KEY = "crm_kpi.backfill_pending."
# the crons that write the queued back-fills: the back-fill cron and its two
# helpers, woken together, so that three cron workers of any Odoo nodes
# write three companies' queues at once
BACKFILL_CRONS = (
    "crm_kpi.ir_cron_kpi_snapshot_backfill",
    "crm_kpi.ir_cron_kpi_snapshot_backfill_help_1",
    "crm_kpi.ir_cron_kpi_snapshot_backfill_help_2",
)


class CrmKpiSnapshotRun(models.Model):
    _inherit = "crm.kpi.snapshot"

    @api.model
    def _cron_snapshot(self):
        """Snapshot every company up to yesterday, resuming after the last day done.

        A company without any snapshot starts ``crm_kpi.snapshot_initial_days``
        days ago (default 365). At most ``crm_kpi.snapshot_max_days`` days are
        written per company and run (default 400); the rest waits for the next
        run, so a first run on a large database cannot hold the cron forever.
        Missed days are written as periods (``_snapshot_periods``): a year
        in a few statements, not one statement per day.
        """
        params = self.env["ir.config_parameter"].sudo()
        initial_days = int(params.get_param("crm_kpi.snapshot_initial_days", 365))
        max_days = int(params.get_param("crm_kpi.snapshot_max_days", 400))
        last_day = fields.Date.context_today(self) - timedelta(days=1)
        todo = {}  # company: its days to write
        for company in self.env["res.company"].sudo().search([]):
            self.env.cr.execute(
                SQL("SELECT max(date) FROM crm_kpi_snapshot WHERE company_id = %s", company.id)
            )
            done = self.env.cr.fetchone()[0]
            first = (
                done + timedelta(days=1) if done else last_day - timedelta(days=initial_days - 1)
            )
            days = [
                first + timedelta(days=i) for i in range(min((last_day - first).days + 1, max_days))
            ]
            if days:
                todo[company] = days
        total = sum(len(days) for days in todo.values())
        length = self._backfill_period_days()
        n = 0
        for company, days in todo.items():
            try:
                with self._company_lock(company):
                    # usually yesterday alone; days missed (a first run, a
                    # stopped server) as periods: the rows of a day at a time
                    n = self._snapshot_periods(
                        company,
                        periods(days[0], days[-1], length),
                        done=n,
                        total=total,
                        parallel=False,
                    )
            except JobRunning:
                # a back-fill writes this company: its days wait for the next run
                _logger.info("KPI snapshot of company %s skipped: another run holds it", company.id)
        # the cohort table is small and rebuilt whole, once a day
        self.env["crm.kpi.cohort"]._refresh()
        self.env["crm.kpi.survival"]._refresh()
        self._commit_progress(done=total)
        return total

    @api.model
    def _backfill_period_error(self, date_from, date_to):
        """The message explaining why ``date_from`` .. ``date_to`` cannot be
        back-filled, or None when the period is valid."""
        today = fields.Date.context_today(self)
        if not date_from or not date_to or date_from > date_to:
            return self.env._("The back-fill period needs a start date before its end.")
        if date_to > today:
            return self.env._("Snapshots cannot be taken of future days.")
        if date_from < BACKFILL_MIN_DATE:
            return self.env._(
                "Snapshots can be rebuilt from %(first)s on, not from %(asked)s: "
                "check the start date.",
                first=BACKFILL_MIN_DATE,
                asked=date_from,
            )
        return None

    @api.model
    def _backfill_period_days(self):
        """The longest period written in one transaction (system parameter
        ``crm_kpi.backfill_period_days``, default 366): the daily cron's
        missed days, the direct and the queued back-fills are cut so."""
        params = self.env["ir.config_parameter"].sudo()
        return max(int(params.get_param("crm_kpi.backfill_period_days", 366)), 1)

    @api.model
    def _backfill_queue(self, date_from, date_to, companies):
        """Queue the back-fill of ``date_from`` .. ``date_to`` for
        ``companies`` and wake the back-fill cron (``_cron_backfill``) up.

        A company's pending period is one ``ir.config_parameter``
        (``crm_kpi.backfill_pending.<company id>`` = "from,to"); a new request
        for a company that still has one extends it to cover both. Example::

            env["crm.kpi.snapshot"]._backfill_queue(date(2020, 1, 1), date(2025, 12, 31), company)
        """
        date_from = fields.Date.to_date(date_from)
        date_to = fields.Date.to_date(date_to)
        if error := self._backfill_period_error(date_from, date_to):
            raise UserError(error)
        pending = self._backfill_pending()
        # sudo: the queue is a system parameter; callers restricted the
        # companies to those the requesting manager is allowed in
        params = self.env["ir.config_parameter"].sudo()
        for company in companies:
            start, end = pending.get(company, (date_from, date_to))
            start, end = min(start, date_from), max(end, date_to)
            params.set_param(f"{BACKFILL_PENDING_KEY}{company.id}", f"{start},{end}")
        self.env["crm.customer.profile"]._trigger_crons(*BACKFILL_CRONS)

    @api.model
    def _backfill_queue_snapshotted(self):
        """Queue the rewrite of every company's snapshotted span (from its
        first to its last snapshot day): what an upgrade that changes how a
        snapshot figure is computed runs, so that past rows follow in the
        background (see ``_backfill_queue``)."""
        self.env.cr.execute(
            "SELECT company_id, min(date), max(date) FROM crm_kpi_snapshot GROUP BY company_id"
        )
        for company_id, first, last in self.env.cr.fetchall():
            company = self.env["res.company"].browse(company_id)
            if company.exists() and not self._backfill_period_error(first, last):
                self._backfill_queue(first, last, company)

    @api.model
    def _backfill_pending(self):
        """{company: (next day to write, last day)} of the queued back-fills,
        by company id."""
        # sudo: reading the queue (system parameters), not business data
        params = (
            self.env["ir.config_parameter"]
            .sudo()
            .search([("key", "=like", f"{BACKFILL_PENDING_KEY}%")])
        )
        pending = {}
        for param in params:
            try:
                company_id = int(param.key.removeprefix(BACKFILL_PENDING_KEY))
                start, end = (fields.Date.to_date(d) for d in param.value.split(","))
            except ValueError:
                start = end = None
            # a parameter edited by hand must not stop (or flood) the cron
            if error := self._backfill_period_error(start, end):
                _logger.warning("Ignored KPI back-fill %s = %r: %s", param.key, param.value, error)
                continue
            company = self.env["res.company"].sudo().browse(company_id)
            if company.exists():
                pending[company] = (start, end)
        return dict(sorted(pending.items(), key=lambda item: item[0].id))

    @api.model
    def _cron_backfill(self):
        """Write the next days of the queued back-fills (``_backfill_queue``).

        One run writes at most ``crm_kpi.backfill_batch_days`` company-days
        (default 732) in date order, as periods of at most
        ``crm_kpi.backfill_period_days`` (``_snapshot_periods``: two at once
        by default, each committed); each company's pending start moves past
        each period written, in date order, committed with the progress
        (outside tests): the next run after one that died half-way starts at
        the first period not written. The cron framework calls the method
        again while it reports remaining days.

        The back-fill cron and its two helpers run this method at once, on
        the cron workers of any Odoo nodes: each company is written by one
        of them at a time (its lock), the others go on to the next company
        whose lock is free. A company's days are written by one worker (its
        periods by its threads): one period of a year reads the history and
        the deals once where twelve months would read them twelve times.
        """
        params = self.env["ir.config_parameter"].sudo()
        batch = max(int(params.get_param("crm_kpi.backfill_batch_days", 732)), 1)
        length = self._backfill_period_days()
        pending = self._backfill_pending()
        remaining = sum((end - start).days + 1 for start, end in pending.values())
        done = 0
        for company, (start, end) in pending.items():
            stop = min(end, start + timedelta(days=batch - done - 1))
            key = f"{BACKFILL_PENDING_KEY}{company.id}"

            def written(last, key=key, end=end):
                # the pending start moves past each period once it is
                # written, committed with the progress
                day = last + timedelta(days=1)
                params.set_param(key, f"{day},{end}" if day <= end else False)

            try:
                with self._company_lock(company):
                    done = self._snapshot_periods(
                        company,
                        periods(start, stop, length),
                        done=done,
                        total=remaining,
                        written=written,
                    )
            except JobRunning:
                # the nightly run (or a manager's back-fill) writes this company:
                # its days stay queued for the next run
                _logger.info("KPI back-fill of company %s waits: another run holds it", company.id)
                continue
            if done >= batch:
                break
        self._commit_progress(done=done, remaining=remaining - done)
        return done

    @api.model
    def _backfill(self, date_from, date_to, companies=None):
        """Rewrite the snapshots of ``date_from`` .. ``date_to`` (inclusive).

        Written by periods of ``crm_kpi.backfill_period_days`` days (default
        366; ``_snapshot_period``: a few statements each, which read the
        history and the deals once, so longer periods cost less per day),
        each period in its own transaction (outside tests), several at once
        (``_snapshot_periods``). Example::

            env["crm.kpi.snapshot"]._backfill(date(2025, 1, 1), date(2025, 12, 31))
        """
        date_from = fields.Date.to_date(date_from)
        date_to = fields.Date.to_date(date_to)
        if error := self._backfill_period_error(date_from, date_to):
            raise UserError(error)
        companies = companies or self.env["res.company"].sudo().search([])
        total = ((date_to - date_from).days + 1) * len(companies)
        length = self._backfill_period_days()
        n = 0
        for company in companies:
            with self._company_lock(company):  # JobRunning (a UserError) when busy
                n = self._snapshot_periods(
                    company, periods(date_from, date_to, length), done=n, total=total
                )
        return n

    @api.model
    def _snapshot_periods(self, company, spans, done=0, total=0, written=None, parallel=True):
        """Write ``company``'s periods ``spans`` (``[(first day, last day)]``,
        consecutive, in date order), each committed on its own (outside
        tests and installs), reporting the progress ``done`` days of
        ``total``; return ``done`` plus the days written. ``written(last
        day)`` is called in date order once each period is written, in the
        transaction that commits the progress (the queued back-fill moves
        its pending start past it there).

        With ``parallel``, ``crm_retention.parallel_batches`` periods are
        written at once (a period is a few statements of one PostgreSQL
        process, so a second one uses a second core), each in its own
        thread, connection and transaction. The first one opens on the day
        before as stored, the later ones on the history
        (``_snapshot_period(stored_opening=False)``: their day before is
        being rewritten next to them); the rows are those of writing them
        one after the other. When a period fails, the periods not started
        are cancelled and the error is raised once the running ones have
        finished (this transaction waits for the threads before it reports
        anything): a later period may then be written while an earlier one
        is not, so a caller that resumes after its last day written (the
        daily cron) passes ``parallel=False``."""
        Profile = self.env["crm.customer.profile"]
        workers = min(Profile._parallel_batches(), len(spans)) if parallel else 1

        def finished(start, stop):
            nonlocal done
            done += (stop - start).days + 1
            if written:
                written(stop)
            self._commit_progress(done=done, remaining=total - done)

        if workers <= 1:
            for start, stop in spans:
                self._snapshot_period(company, start, stop)
                finished(start, stop)
            return done
        # the threads' transactions see what this one wrote
        self._commit_progress(done=done, remaining=total - done)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="crm_kpi") as pool:
            futures = [
                pool.submit(self._snapshot_period_apart, company.id, start, stop, not i)
                for i, (start, stop) in enumerate(spans)
            ]
            # at the first failure, the periods not started are cancelled;
            # this cursor waits for the running ones before it is used again
            wait(futures, return_when=FIRST_EXCEPTION)
            pool.shutdown(wait=True, cancel_futures=True)
        # in date order: the progress (and ``written``) never passes a
        # period that is not written; the first failure in date order is
        # raised, the others logged
        for i, (future, (start, stop)) in enumerate(zip(futures, spans, strict=True)):
            if future.cancelled() or future.exception():
                for other in futures[i + 1 :]:
                    if not other.cancelled() and other.exception():
                        _logger.error(
                            "KPI snapshot period of company %s failed",
                            company.id,
                            exc_info=other.exception(),
                        )
                future.result()  # raises
            finished(start, stop)
        return done

    @api.model
    def _snapshot_period_apart(self, company_id, date_from, date_to, stored_opening):
        """``_snapshot_period`` in a transaction of its own, committed (a
        thread of ``_snapshot_periods``)."""
        with self.env.registry.cursor() as cr:
            env = api.Environment(cr, self.env.uid, self.env.context, su=self.env.su)
            env[self._name]._snapshot_period(
                env["res.company"].browse(company_id), date_from, date_to, stored_opening
            )

    @api.model
    def _company_lock(self, company):
        """The lock of ``company``'s snapshots, held while a run writes them
        (across its commits): the nightly run, a queued and a direct back-fill
        never write the same company's days at once. Raises ``JobRunning``
        when another run holds it."""
        return self.env["crm.customer.profile"]._job_lock(
            KPI_LOCK_KEY,
            company.id,
            self.env._(
                "The KPI snapshots of %(company)s are being written by another run;"
                " try again in a few minutes.",
                company=company.name,
            ),
        )

    @api.model
    def _commit_progress(self, done=0, remaining=0):
        """Commit a finished (company, day): a crash keeps the days done."""
        self.env["crm.customer.profile"]._commit_progress(done=done, remaining=remaining)


def periods(date_from, date_to, length):
    """(first, last) day of each run of ``length`` days from ``date_from``
    to ``date_to`` (the last one shorter).

    >>> [(a.isoformat(), b.isoformat())
    ...  for a, b in periods(date(2025, 1, 30), date(2025, 3, 2), 20)]
    [('2025-01-30', '2025-02-18'), ('2025-02-19', '2025-03-02')]
    """
    out = []
    start = date_from
    while start <= date_to:
        stop = min(date_to, start + timedelta(days=length - 1))
        out.append((start, stop))
        start = stop + timedelta(days=1)
    return out
