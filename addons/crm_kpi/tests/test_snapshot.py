import importlib.util
import threading
from datetime import date, timedelta
from pathlib import Path
from unittest.mock import patch

from odoo import sql_db
from odoo.addons.crm_kpi.snapshot.run import BACKFILL_CRONS
from odoo.addons.crm_retention.recompute.layout import KPI_LOCK_KEY
from odoo.addons.crm_retention.tests.common import extra_deals, foreign_currency
from odoo.exceptions import UserError, ValidationError
from odoo.tests import RecordCapturer, new_test_user, tagged

from .common import P_FROM, P_TO, TODAY, KpiCase


@tagged("post_install", "-at_install")
class TestSnapshot(KpiCase):
    def _rows(self):
        Snapshot = self.env["crm.kpi.snapshot"]
        rows = Snapshot.search([("company_id", "=", self.company.id)]).read(
            [f for f in Snapshot._fields if f not in ("id", "display_name")], load=False
        )
        for row in rows:
            del row["id"]
        return sorted(rows, key=lambda r: tuple(str(v) for v in r.values()))

    def test_backfill_is_repeatable(self):
        """Rebuilding a period gives the same rows, not duplicates."""
        self._snapshot(P_FROM, P_TO, move=False)
        first = self._rows()
        self.assertTrue(first)
        self._snapshot(P_FROM, P_TO, move=False)
        self.assertEqual(self._rows(), first)

    def _all_rows(self):
        """Every row a snapshot writes: detailed (with tag links), both rollups."""
        rows = {}
        for model in ("crm.kpi.snapshot", "crm.kpi.snapshot.total", "crm.kpi.snapshot.tag"):
            Model = self.env[model]
            fields = [f for f in Model._fields if f not in ("id", "display_name")]
            found = Model.search([("company_id", "=", self.company.id)]).read(fields, load=False)
            rows[model] = sorted((tuple(str(r[f]) for f in fields) for r in found), key=lambda t: t)
        return rows

    def test_a_period_at_once_gives_each_days_figures(self):
        """The back-fill writes a month in one statement; the daily cron a
        day after the other (each opening on the day before's stored rows).
        Both give the same rows, tags and rollups, whether the day before
        the period was snapshotted or not, with refunds, a foreign currency
        and prospects who buy during the period."""
        other = foreign_currency(self.company, {date(2025, 1, 1): 2.0})
        customer = self.existing[3]
        deals = [
            (customer, self.company, date(2025, 3, 5), 100.0, other),
            (customer, self.company, date(2025, 3, 9), -40.0, self.company.currency_id),
            (self.existing[4], self.company, date(2025, 3, 9), 0.0, self.company.currency_id),
        ]
        # prospects before their first deal: no channel yet, then their deal's
        self.env["crm.lifecycle.history"].create(
            [
                {
                    "profile_id": self.profile_of[p.id].id,
                    "stage_id": self.stage["potential"].id,
                    "date": date(2025, 2, 10),
                }
                for p in self.acquired[:3]
            ]
        )
        Snapshot = self.env["crm.kpi.snapshot"]
        with extra_deals(self.env, deals):
            for first, last in ((date(2025, 2, 27), date(2025, 3, 15)), (P_FROM, P_TO)):
                day = first
                while day <= last:
                    Snapshot._snapshot_day(self.company, day)
                    day += timedelta(days=1)
                by_day = self._all_rows()
                self.assertTrue(by_day["crm.kpi.snapshot"])
                Snapshot._snapshot_period(self.company, first, last)
                self.assertEqual(self._all_rows(), by_day)
            # the day before was done (the March period follows the previous one)
            Snapshot._snapshot_period(self.company, date(2025, 2, 20), date(2025, 2, 26))
            by_period = self._all_rows()
            Snapshot._snapshot_period(self.company, P_FROM, P_TO)
            self.assertEqual(self._all_rows(), by_period)

    def test_periods_written_at_once_give_the_rows_of_one_after_the_other(self):
        """A long back-fill writes its periods two at once, each on its own
        connection and transaction (as the cron does outside tests): the
        later periods cannot open on their day before, which is being
        rewritten next to them. The rows, tags and rollups are those of
        writing the periods one after the other, also for the customers
        whose first deal (their channel) is the first day of a period."""
        self.env["ir.config_parameter"].sudo().set_param("crm_kpi.backfill_period_days", 2)
        Snapshot = self.env["crm.kpi.snapshot"]
        # prospects before their first deal (3, 5 and 7 March: the first
        # days of periods of two days from 1 March): no channel, then their
        # deal's
        self.env["crm.lifecycle.history"].create(
            [
                {
                    "profile_id": self.profile_of[p.id].id,
                    "stage_id": self.stage["potential"].id,
                    "date": date(2025, 2, 10),
                }
                for p in self.acquired[:3]
            ]
        )
        Snapshot._backfill(P_FROM, P_TO, self.company)
        one_by_one = self._all_rows()
        self.assertTrue(one_by_one["crm.kpi.snapshot"])
        # the threads' cursors: savepoints of this test's transaction
        self.registry.enter_test_mode(self.env.cr)
        self.addCleanup(self.registry.leave_test_mode)
        threads = set()
        apart = type(Snapshot)._snapshot_period_apart

        def spy(self_, *args):
            threads.add(threading.current_thread().name)
            return apart(self_, *args)

        Profile = type(self.env["crm.customer.profile"])
        with (
            patch.object(Profile, "_parallel_batches", lambda self_: 2),
            patch.object(type(Snapshot), "_snapshot_period_apart", spy),
        ):
            self.assertEqual(Snapshot._backfill(P_FROM, P_TO, self.company), 31)
        self.assertEqual(len(threads), 2, "two connections wrote the periods")
        self.env.invalidate_all()
        self.assertEqual(self._all_rows(), one_by_one)

    def test_past_stages_come_from_history_not_current_stage(self):
        """A customer lost in March counts as a customer on 1 March, whatever its
        stage today."""
        Snapshot = self.env["crm.kpi.snapshot"]
        Snapshot._backfill(P_FROM, P_FROM, self.company)
        rows = Snapshot.search([("company_id", "=", self.company.id), ("date", "=", P_FROM)])
        self.assertEqual(sum(rows.mapped("customer_close")), 120)
        self.assertEqual(set(self.profile_of[self.lost[0].id].stage_id.mapped("kind")), {"lost"})

    def test_a_change_of_the_stage_rules_is_neither_lost_nor_won_back(self):
        """A threshold raised moves a Lost customer back to Active, a rule
        tightened moves an active one to Lost: the customers did nothing, the
        history says "Stage rules changed" and the flows do not count it;
        the same moves made by the rules as time passes do count."""
        self._snapshot(P_FROM, P_TO, move=False)
        Snapshot = self.env["crm.kpi.snapshot"]

        def flows():
            self.env.invalidate_all()
            rows = Snapshot.search(
                [("company_id", "=", self.company.id), ("date", ">=", P_FROM), ("date", "<=", P_TO)]
            )
            return sum(rows.mapped("lost_count")), sum(rows.mapped("won_back_count"))

        self.assertEqual(flows(), (12, 3))

        def unexplained():
            # what the flows leave unexplained in the customers at end (a
            # fixture's customer moved by hand, say): the moves add nothing
            [(_key, month)] = self._report(P_FROM, P_TO)
            return month["customers_end"] - (
                month["customers_start"]
                + month["acquired_count"]
                + month["won_back_count"]
                - month["lost_count"]
                + month["reclassified_count"]
            )

        gap = unexplained()
        # customers in the stage each move leaves, that day
        history = self._raw_frames()[0]
        Partner = self.env["res.partner"]

        def in_kind(kind, day, count):
            kinds = self._kinds_at(history, day)
            return [Partner.browse(int(p)) for p in kinds[kinds == kind].index[:count]]

        [comeback] = in_kind("lost", date(2025, 3, 19), 1)
        leaving = in_kind("active", date(2025, 3, 24), 2)
        moves = self._write_history(
            [
                (comeback, "lost", "active", date(2025, 3, 20)),
                *((partner, "active", "lost", date(2025, 3, 25)) for partner in leaving),
            ],
            reason="redefinition",
        )
        self._snapshot(P_FROM, P_TO, move=False)
        self.assertEqual(flows(), (12, 3))

        def reclassified(day):
            rows = Snapshot.search([("company_id", "=", self.company.id), ("date", "=", day)])
            return sum(rows.mapped("reclassified_count"))

        # the stocks moved all the same: one customer in, two out
        self.assertEqual(reclassified(date(2025, 3, 20)), 1)
        self.assertEqual(reclassified(date(2025, 3, 25)), -2)
        [(_key, month)] = self._report(P_FROM, P_TO)
        expected = self._expected(P_FROM, P_TO)
        self.assertKpis(month, expected)
        self.assertEqual(month["reclassified_count"], -1)
        self.assertEqual(unexplained(), gap, "the customers at end add up from the flows")
        moves.reason = "rule"
        self._snapshot(P_FROM, P_TO, move=False)
        self.assertEqual(flows(), (14, 4), "moved by the rules as time passed: real flows")

    def test_a_partner_merge_is_neither_lost_nor_won_back(self):
        """Merging partners moves the source's history to the destination's
        profile and writes a "merge" row from the source's stage to the one
        kept: a lost duplicate merged into an active customer has not come
        back, an active one merged into a lost customer has not left."""
        self._snapshot(P_FROM, P_TO, move=False)
        Snapshot = self.env["crm.kpi.snapshot"]

        def flows():
            rows = Snapshot.search(
                [("company_id", "=", self.company.id), ("date", ">=", P_FROM), ("date", "<=", P_TO)]
            )
            return sum(rows.mapped("lost_count")), sum(rows.mapped("won_back_count"))

        self.assertEqual(flows(), (12, 3))
        merged = self._write_history(
            [
                (self.existing[31], "lost", "active", date(2025, 3, 20)),
                (self.lost[1], "active", "lost", date(2025, 3, 25)),
            ],
            reason="merge",
        )
        self._snapshot(P_FROM, P_TO, move=False)
        self.assertEqual(flows(), (12, 3))
        # before 18.0.1.11.0 the merge rows counted as any other move; the
        # upgrade rewrites the days since the first merge, in the background
        merged.reason = "rule"
        self._snapshot(P_FROM, P_TO, move=False)
        self.assertEqual(flows(), (13, 4), "as the rows were counted before")
        merged.reason = "merge"
        self.env.flush_all()
        path = Path(__file__).parents[1] / "migrations/18.0.1.11.0/post-migrate.py"
        spec = importlib.util.spec_from_file_location("crm_kpi_post_18_0_1_11_0", path)
        migration = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(migration)
        migration.migrate(self.env.cr, "18.0.1.10.0")
        self.assertEqual(Snapshot._backfill_pending()[self.company], (date(2025, 3, 20), P_TO))
        while Snapshot._backfill_pending().get(self.company):
            Snapshot._cron_backfill()
        self.env.invalidate_all()
        self.assertEqual(flows(), (12, 3))

    def test_cron_fills_missing_days_and_resumes(self):
        """The cron starts N days back, writes at most M days a run, and the next
        run continues where the previous one stopped, up to yesterday."""
        params = self.env["ir.config_parameter"].sudo()
        params.set_param("crm_kpi.snapshot_initial_days", 5)
        params.set_param("crm_kpi.snapshot_max_days", 3)
        Snapshot = self.env["crm.kpi.snapshot"]

        def days():
            return sorted(
                set(Snapshot.search([("company_id", "=", self.company.id)]).mapped("date"))
            )

        Snapshot._cron_snapshot()
        yesterday = TODAY - timedelta(days=1)
        self.assertEqual(days(), [yesterday - timedelta(days=4 - i) for i in range(3)])
        Snapshot._cron_snapshot()
        self.assertEqual(days(), [yesterday - timedelta(days=4 - i) for i in range(5)])
        Snapshot._cron_snapshot()
        self.assertEqual(len(days()), 5, "nothing left to do")
        # the cron also rebuilt the cohorts
        self.assertTrue(
            self.env["crm.kpi.cohort"].search_count([("company_id", "=", self.company.id)])
        )

    def test_cron_is_scheduled_daily(self):
        cron = self.env.ref("crm_kpi.ir_cron_kpi_snapshot")
        self.assertEqual((cron.interval_number, cron.interval_type), (1, "days"))
        self.assertTrue(cron.active)

    def test_backfill_rejects_bad_periods(self):
        Snapshot = self.env["crm.kpi.snapshot"]
        with self.assertRaises(UserError):
            Snapshot._backfill(P_TO, P_FROM)
        with self.assertRaises(UserError):
            Snapshot._backfill(TODAY, TODAY + timedelta(days=3))

    def test_manager_rebuilds_from_the_wizard(self):
        manager = new_test_user(
            self.env,
            login="kpi_wiz_mgr",
            groups="sales_team.group_sale_manager",
            company_id=self.company.id,
            company_ids=[self.company.id],
        )
        wizard = (
            self.env["crm.kpi.snapshot.backfill"]
            .with_user(manager)
            .create({"date_from": date(2025, 3, 1), "date_to": date(2025, 3, 3)})
        )
        action = wizard.action_backfill()
        self.assertEqual(action["params"]["type"], "success")
        [((), kpis)] = self._report(date(2025, 3, 1), date(2025, 3, 3))
        self.assertEqual(kpis["customers_start"], 120)

    def _backfill_manager(self):
        return new_test_user(
            self.env,
            login="kpi_backfill_mgr",
            groups="sales_team.group_sale_manager",
            company_id=self.company.id,
            company_ids=[self.company.id],
        )

    def _snapshot_days(self):
        Snapshot = self.env["crm.kpi.snapshot"]
        return set(Snapshot.search([("company_id", "=", self.company.id)]).mapped("date"))

    def test_backfill_from_year_one_is_refused(self):
        """0001-01-01 -> today (739,000 company-days in one request) is refused
        with a clear message, and nothing is written nor queued."""
        manager = self._backfill_manager()
        Wizard = self.env["crm.kpi.snapshot.backfill"].with_user(manager)
        params = self.env["ir.config_parameter"].sudo()
        messages = []
        for date_from, date_to in (
            (date(1, 1, 1), TODAY),
            (date(1999, 12, 31), date(2000, 1, 31)),
            (date(2025, 3, 1), date(9999, 12, 31)),
        ):
            with self.assertRaises(ValidationError) as refused:
                Wizard.create({"date_from": date_from, "date_to": date_to})
            messages.append(refused.exception.args[0])
        self.assertEqual(
            messages[0],
            "Snapshots can be rebuilt from 2000-01-01 on, not from 0001-01-01: "
            "check the start date.",
        )
        self.assertEqual(messages[2], "Snapshots cannot be taken of future days.")
        self.assertFalse(self._snapshot_days(), "no snapshot written")
        self.assertFalse(params.search([("key", "=like", "crm_kpi.backfill_pending.%")]))
        # the model's entry point refuses it too
        with self.assertRaises(UserError):
            self.env["crm.kpi.snapshot"]._backfill(date(1, 1, 1), TODAY, self.company)
        self.assertFalse(self._snapshot_days())

    def test_long_backfill_is_queued_and_the_cron_writes_it(self):
        """A 60-day back-fill does not run in the request: it is queued, the
        manager is told so, and the cron writes the 60 days by batches, each
        run resuming where the previous one stopped."""
        manager = self._backfill_manager()
        self.env["ir.config_parameter"].sudo().set_param("crm_kpi.backfill_batch_days", 25)
        date_from, date_to = date(2025, 2, 1), date(2025, 4, 1)
        self.assertEqual((date_to - date_from).days + 1, 60)
        cron = self.env.ref("crm_kpi.ir_cron_kpi_snapshot_backfill")
        wizard = (
            self.env["crm.kpi.snapshot.backfill"]
            .with_user(manager)
            .create({"date_from": date_from, "date_to": date_to})
        )
        with RecordCapturer(self.env["ir.cron.trigger"].sudo(), [("cron_id", "=", cron.id)]) as t:
            action = wizard.action_backfill()
        self.assertEqual(action["params"]["type"], "info")
        self.assertIn("60 company-days queued", action["params"]["message"])
        self.assertTrue(t.records, "the back-fill cron is woken up")
        self.assertFalse(self._snapshot_days(), "nothing written in the request")

        Snapshot = self.env["crm.kpi.snapshot"]
        self.assertEqual(Snapshot._cron_backfill(), 25)
        self.assertEqual(self._snapshot_days(), {date_from + timedelta(days=i) for i in range(25)})
        # the pending period now starts after the days written (a crash
        # before the commit would have left it where it was)
        self.assertEqual(Snapshot._backfill_pending()[self.company], (date(2025, 2, 26), date_to))
        self.assertEqual(Snapshot._cron_backfill(), 25)
        self.assertEqual(Snapshot._cron_backfill(), 10)
        self.assertEqual(Snapshot._cron_backfill(), 0, "queue empty")
        self.assertEqual(self._snapshot_days(), {date_from + timedelta(days=i) for i in range(60)})
        self.assertFalse(Snapshot._backfill_pending())
        # the same figures as a back-fill in one go
        [((), queued)] = self._report(P_FROM, P_TO)
        self._snapshot(date_from, date_to, move=False)
        [((), direct)] = self._report(P_FROM, P_TO)
        self.assertEqual(queued, direct)
        self.assertEqual(queued["customers_start"], 120)

    def test_queued_backfill_resumes_after_a_crash(self):
        """A cron run that dies before its commit leaves neither snapshots nor
        a moved queue: the next run writes the same days again."""
        Snapshot = self.env["crm.kpi.snapshot"]
        self.env["ir.config_parameter"].sudo().set_param("crm_kpi.backfill_batch_days", 5)
        Snapshot._backfill_queue(date(2025, 3, 1), date(2025, 3, 8), self.company)
        with self.assertRaises(RuntimeError), self.env.cr.savepoint():
            Snapshot._cron_backfill()
            raise RuntimeError("worker killed before the commit")
        self.env.invalidate_all()
        self.env.registry.clear_cache()
        self.assertFalse(self._snapshot_days())
        self.assertEqual(
            Snapshot._backfill_pending(), {self.company: (date(2025, 3, 1), date(2025, 3, 8))}
        )
        self.assertEqual(Snapshot._cron_backfill(), 5)
        self.assertEqual(Snapshot._cron_backfill(), 3)
        self.assertEqual(
            self._snapshot_days(), {date(2025, 3, 1) + timedelta(days=i) for i in range(8)}
        )

    def test_queued_backfill_keeps_the_periods_written_before_a_failure(self):
        """A cron run whose second period fails keeps the first one and
        moves the queue past it (committed together outside tests): the
        next run starts at the failed period, and the days after it wait."""
        params = self.env["ir.config_parameter"].sudo()
        params.set_param("crm_kpi.backfill_batch_days", 6)
        params.set_param("crm_kpi.backfill_period_days", 2)
        Snapshot = self.env["crm.kpi.snapshot"]
        Snapshot._backfill_queue(date(2025, 3, 1), date(2025, 3, 8), self.company)
        period = type(Snapshot)._snapshot_period

        def broken(self_, company, date_from, *args):
            if date_from == date(2025, 3, 3):
                raise RuntimeError("the database server went away")
            return period(self_, company, date_from, *args)

        # not assertRaises: it rolls the block back (a savepoint), where the
        # cron's commits would keep the first period
        failed = None
        with patch.object(type(Snapshot), "_snapshot_period", broken):
            try:
                Snapshot._cron_backfill()
            except RuntimeError as error:
                failed = error
        self.assertTrue(failed, "the failure reaches the cron")
        self.assertEqual(self._snapshot_days(), {date(2025, 3, 1), date(2025, 3, 2)})
        self.assertEqual(
            Snapshot._backfill_pending(), {self.company: (date(2025, 3, 3), date(2025, 3, 8))}
        )
        self.assertEqual(Snapshot._cron_backfill(), 6)
        self.assertEqual(
            self._snapshot_days(), {date(2025, 3, 1) + timedelta(days=i) for i in range(8)}
        )

    def test_periods_written_at_once_report_a_failure_in_date_order(self):
        """When a period written next to others fails, the back-fill raises
        its error and the queue moves past the periods before it only, even
        if a later one was written meanwhile."""
        params = self.env["ir.config_parameter"].sudo()
        params.set_param("crm_kpi.backfill_batch_days", 6)
        params.set_param("crm_kpi.backfill_period_days", 2)
        Snapshot = self.env["crm.kpi.snapshot"]
        Snapshot._backfill_queue(date(2025, 3, 1), date(2025, 3, 8), self.company)
        self.registry.enter_test_mode(self.env.cr)
        self.addCleanup(self.registry.leave_test_mode)
        period = type(Snapshot)._snapshot_period

        def broken(self_, company, date_from, *args):
            if date_from == date(2025, 3, 3):
                raise RuntimeError("the database server went away")
            return period(self_, company, date_from, *args)

        Profile = type(self.env["crm.customer.profile"])
        failed = None
        with (
            patch.object(Profile, "_parallel_batches", lambda self_: 2),
            patch.object(type(Snapshot), "_snapshot_period", broken),
        ):
            try:
                Snapshot._cron_backfill()
            except RuntimeError as error:
                failed = error
        self.assertTrue(failed, "the failure reaches the cron")
        self.env.invalidate_all()
        self.assertLessEqual({date(2025, 3, 1), date(2025, 3, 2)}, self._snapshot_days())
        self.assertEqual(
            Snapshot._backfill_pending(), {self.company: (date(2025, 3, 3), date(2025, 3, 8))}
        )

    def test_snapshot_runs_of_one_company_never_overlap(self):
        """While a run writes a company's snapshots (here: another worker holds
        its lock), a manager's direct back-fill is told to try again, the
        queued back-fill keeps its days for the next run and the nightly run
        skips the company: nothing is written twice at once. Once free, the
        queue goes through."""
        manager = self._backfill_manager()
        Snapshot = self.env["crm.kpi.snapshot"]
        self.env["ir.config_parameter"].sudo().set_param("crm_kpi.snapshot_initial_days", 3)
        Snapshot._backfill_queue(date(2025, 3, 1), date(2025, 3, 8), self.company)
        wizard = (
            self.env["crm.kpi.snapshot.backfill"]
            .with_user(manager)
            .create({"date_from": date(2025, 2, 1), "date_to": date(2025, 2, 3)})
        )
        with sql_db.db_connect(self.env.cr.dbname).cursor() as other:
            other.execute("SELECT pg_advisory_xact_lock(%s, %s)", [KPI_LOCK_KEY, self.company.id])
            with self.assertRaisesRegex(UserError, "being written by another run"):
                wizard.action_backfill()
            self.assertEqual(Snapshot._cron_backfill(), 0)
            Snapshot._cron_snapshot()
            self.assertFalse(self._snapshot_days())
            self.assertIn(self.company, Snapshot._backfill_pending(), "still queued")
            other.rollback()
        self.assertEqual(Snapshot._cron_backfill(), 8)
        self.assertEqual(
            self._snapshot_days(), {date(2025, 3, 1) + timedelta(days=i) for i in range(8)}
        )

    def test_queued_backfills_of_two_companies_are_written_by_two_workers_at_once(self):
        """Queuing wakes the back-fill cron and its two helpers; a helper
        that finds a company being written by another worker (on another
        node) writes the next company's queue instead of waiting."""
        Snapshot = self.env["crm.kpi.snapshot"]
        second = self.env["res.company"].create({"name": "KPI Second Company"})
        crons = [self.env.ref(xmlid) for xmlid in BACKFILL_CRONS]
        with RecordCapturer(self.env["ir.cron.trigger"].sudo(), []) as triggers:
            Snapshot._backfill_queue(date(2025, 3, 1), date(2025, 3, 8), self.company | second)
        self.assertEqual(triggers.records.cron_id, crons[0] | crons[1] | crons[2])
        with sql_db.db_connect(self.env.cr.dbname).cursor() as other:
            # the first worker writes this company
            other.execute("SELECT pg_advisory_xact_lock(%s, %s)", [KPI_LOCK_KEY, self.company.id])
            self.assertEqual(Snapshot._cron_backfill(), 8, "the second company's days")
            self.assertEqual(set(Snapshot._backfill_pending()), {self.company})
            self.assertFalse(self._snapshot_days(), "the busy company is left to its worker")
            other.rollback()
        self.assertEqual(Snapshot._cron_backfill(), 8)
        self.assertFalse(Snapshot._backfill_pending())
        self.assertEqual(
            self._snapshot_days(), {date(2025, 3, 1) + timedelta(days=i) for i in range(8)}
        )

    def test_queue_edited_by_hand_is_ignored(self):
        params = self.env["ir.config_parameter"].sudo()
        params.set_param(f"crm_kpi.backfill_pending.{self.company.id}", "0001-01-01,2025-01-01")
        params.set_param("crm_kpi.backfill_pending.x", "garbage")
        Snapshot = self.env["crm.kpi.snapshot"]
        with self.assertLogs("odoo.addons.crm_kpi.snapshot.run", "WARNING"):
            self.assertEqual(Snapshot._cron_backfill(), 0)
        self.assertFalse(self._snapshot_days())

    def test_queued_backfills_merge_per_company(self):
        Snapshot = self.env["crm.kpi.snapshot"]
        Snapshot._backfill_queue(date(2025, 3, 1), date(2025, 3, 31), self.company)
        Snapshot._backfill_queue(date(2025, 1, 10), date(2025, 2, 10), self.company)
        self.assertEqual(
            Snapshot._backfill_pending(), {self.company: (date(2025, 1, 10), date(2025, 3, 31))}
        )
        with self.assertRaises(UserError):
            Snapshot._backfill_queue(date(1, 1, 1), date(2025, 1, 1), self.company)

    def test_revenue_in_another_currency_is_converted_at_the_deal_date(self):
        """A deal in a foreign currency (as a sale order bridge gives) counts
        in the company currency at the company's rate of the deal date."""
        company_currency = self.company.currency_id
        other = foreign_currency(self.company, {date(2025, 1, 1): 0.5, date(2025, 3, 20): 0.25})
        partner, days = self.existing[5], [date(2025, 3, 12), date(2025, 3, 25)]
        with extra_deals(self.env, [(partner, self.company, d, 500.0, other) for d in days]):
            self._snapshot(P_FROM, P_TO, move=False)
        # independent: the raw won opportunities plus the foreign deals
        # converted by the ORM's own currency conversion
        __, deals, __ = self._raw_frames()
        converted = {d: other._convert(500.0, company_currency, self.company, d) for d in days}
        self.assertEqual(list(converted.values()), [1000.0, 2000.0], "500 at 0.5, then at 0.25")
        march = deals[(deals["date"] >= P_FROM) & (deals["date"] <= P_TO)]
        [((), kpis)] = self._report(P_FROM, P_TO, user=self.manager)
        self.assertAlmostEqual(kpis["revenue"], march["amount"].sum() + 3000.0, places=2)
        self.assertEqual(kpis["deal_count"], int((march["amount"] >= 0).sum()) + 2)
        for day, amount in converted.items():
            [((), one_day)] = self._report(day, day, user=self.manager)
            on_day = deals[deals["date"] == day]["amount"].sum()
            self.assertAlmostEqual(one_day["revenue"], on_day + amount, places=2, msg=str(day))
