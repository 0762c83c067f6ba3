import random
from datetime import date, timedelta

import pandas as pd
from dateutil.relativedelta import relativedelta

from odoo.tests import TransactionCase, new_test_user, tagged
from odoo.tools import SQL

from .common import at, own_company

TODAY = date(2026, 1, 15)
MEASURES = [
    "revenue_base_start",
    "revenue_base_end",
    "revenue_churn",
    "revenue_churn_rate",
    "nrr",
    "grr",
]


class RevenueCase(TransactionCase):
    """A company of its own, customers of one salesperson (who reads the
    report: the least-privileged user who does), deals and history written
    with their dates."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        own_company(cls, "Revenue KPI Co", TODAY)
        cls.salesperson = new_test_user(
            cls.env,
            login="kpi_rev_sales",
            groups="sales_team.group_sale_salesman",
            company_id=cls.company.id,
            company_ids=[cls.company.id],
        )
        cls.won_stage = cls.env["crm.stage"].search([("is_won", "=", True)], limit=1)
        cls.stage = {
            kind: cls.env.ref(f"crm_retention.stage_{kind}")
            for kind in ("potential", "new", "active", "at_risk", "lost", "won_back")
        }

    @classmethod
    def _customers(cls, names):
        return cls.env["res.partner"].create(
            [{"name": name, "is_company": True, "user_id": cls.salesperson.id} for name in names]
        )

    @classmethod
    def _write(cls, deals, history):
        """``deals``: (partner, day, amount); ``history``: (partner, from
        kind, to kind, day)."""
        cls.env["crm.lead"].create(
            [
                {
                    "name": f"{partner.name} {day}",
                    "type": "opportunity",
                    "partner_id": partner.id,
                    "company_id": cls.company.id,
                    "user_id": cls.salesperson.id,
                    "stage_id": cls.won_stage.id,
                    "expected_revenue": amount,
                    "date_closed": at(day),
                }
                for partner, day, amount in deals
            ]
        )
        partners = cls.env["res.partner"].browse({p.id for p, *_rest in history})
        profiles = cls.env["crm.customer.profile"].create(
            [{"partner_id": p.id, "company_id": cls.company.id} for p in partners]
        )
        profile_of = {p.partner_id.id: p for p in profiles}
        cls.env["crm.lifecycle.history"].create(
            [
                {
                    "profile_id": profile_of[partner.id].id,
                    "from_stage_id": cls.stage[src].id if src else False,
                    "stage_id": cls.stage[dst].id,
                    "date": at(day),
                    "reason": "rule",
                }
                for partner, src, dst, day in history
            ]
        )

    def _report(self, date_from, date_to, groupby=(), order=None, domain=()):
        Report = self.env["crm.kpi.customer.report"].with_user(self.salesperson)
        rows = Report._read_group(
            [("date", ">=", date_from), ("date", "<=", date_to), *domain],
            list(groupby),
            [f"{m}:sum" for m in MEASURES],
            order=order,
        )
        return {
            row[: len(groupby)]: dict(zip(MEASURES, row[len(groupby) :], strict=True))
            for row in rows
        }

    def assertFigures(self, got, expected, msg=""):
        for key, exp in expected.items():
            if exp is None:
                self.assertIn(got[key], (None, False), f"{msg} {key}")
            else:
                self.assertAlmostEqual(got[key], exp, places=6, msg=f"{msg} {key}")


@tagged("post_install", "-at_install")
class TestRevenueRetentionByHand(RevenueCase):
    """Three customers, March 2025 (base: the 12 months before 1 March,
    from 1 March 2024):

    * A (active): 1,000 on 2024-06-10, then 500 on 2025-03-20: base 1,000,
      12 months to 31 March 1,500 (expansion);
    * B (at risk since February, lost on 2025-03-10): 800 on 2024-03-15
      (out of the 12 months to 31 March) and 400 on 2024-09-01: base 1,200,
      then 400; its revenue churn is its 12 months before 10 March, 1,200;
    * C (new): first deal 700 on 2025-03-05, not in the base.

    NRR = (1,500 + 400) / 2,200 = 86.36 %, GRR = (1,000 + 400) / 2,200 =
    63.64 %, revenue churn 1,200 = 54.55 % of the base; at the end the
    12-month revenue is 1,500 + 400 + 700 = 2,600.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        a, b, c = cls.a, cls.b, cls.c = cls._customers(["Rev A", "Rev B", "Rev C"])
        deals = [
            (a, date(2024, 6, 10), 1000),
            (a, date(2025, 3, 20), 500),
            (b, date(2024, 3, 15), 800),
            (b, date(2024, 9, 1), 400),
            (c, date(2025, 3, 5), 700),
        ]
        history = [
            (a, None, "new", date(2024, 6, 10)),
            (a, "new", "active", date(2024, 8, 1)),
            (b, None, "new", date(2024, 3, 15)),
            (b, "new", "active", date(2024, 5, 1)),
            (b, "active", "at_risk", date(2025, 2, 1)),
            (b, "at_risk", "lost", date(2025, 3, 10)),
            (c, "potential", "new", date(2025, 3, 5)),
        ]
        cls._write(deals, history)
        cls.env["crm.kpi.snapshot"]._backfill(date(2025, 2, 20), date(2025, 4, 5), cls.company)

    def test_march_figures(self):
        got = self._report(date(2025, 3, 1), date(2025, 3, 31))[()]
        self.assertFigures(
            got,
            {
                "revenue_base_start": 2200.0,
                "revenue_base_end": 2600.0,
                "revenue_churn": 1200.0,
                "revenue_churn_rate": 100.0 * 1200 / 2200,
                "nrr": 100.0 * 1900 / 2200,
                "grr": 100.0 * 1400 / 2200,
            },
        )

    def test_upgrade_fills_the_revenue_of_older_snapshots(self):
        """Snapshots written before 18.0.1.6.0 have no revenue figures: the
        upgrade queues their span and the back-fill cron fills them."""
        import importlib.util
        from pathlib import Path

        from ..models.crm_kpi_snapshot_revenue import REVENUE_COLUMNS

        columns = SQL(", ").join(SQL("%s = NULL", SQL.identifier(c)) for c in REVENUE_COLUMNS)
        self.env.flush_all()
        for table in ("crm_kpi_snapshot", "crm_kpi_snapshot_total", "crm_kpi_snapshot_tag"):
            self.env.cr.execute(
                SQL(
                    "UPDATE %s SET %s WHERE company_id = %s",
                    SQL.identifier(table),
                    columns,
                    self.company.id,
                )
            )
        self.env.invalidate_all()
        self.assertFalse(self._report(date(2025, 3, 1), date(2025, 3, 31))[()]["nrr"])
        path = Path(__file__).parents[1] / "migrations/18.0.1.6.0/post-migrate.py"
        spec = importlib.util.spec_from_file_location("crm_kpi_post_18_0_1_6_0", path)
        migration = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(migration)
        migration.migrate(self.env.cr, "18.0.1.5.0")
        Snapshot = self.env["crm.kpi.snapshot"]
        self.assertEqual(
            Snapshot._backfill_pending()[self.company], (date(2025, 2, 20), date(2025, 4, 5))
        )
        while Snapshot._backfill_pending().get(self.company):
            Snapshot._cron_backfill()
        self.env.invalidate_all()
        self.test_march_figures()

    def test_a_slice_keeps_its_customers_of_the_start(self):
        """By stage: NRR of the customers active at the start (A) and of
        those at risk then (B, lost since), not of the stage at the end."""
        rows = self._report(date(2025, 3, 1), date(2025, 3, 31), groupby=["stage_kind"])
        self.assertAlmostEqual(rows[("active",)]["nrr"], 150.0)
        self.assertAlmostEqual(rows[("active",)]["grr"], 100.0)
        self.assertAlmostEqual(rows[("at_risk",)]["nrr"], 100.0 * 400 / 1200)
        self.assertAlmostEqual(rows[("at_risk",)]["grr"], 100.0 * 400 / 1200)
        # B entered Lost in March: its churn is in the Lost slice, no base there
        self.assertAlmostEqual(rows[("lost",)]["revenue_churn"], 1200.0)
        self.assertIn(rows[("lost",)]["nrr"], (None, False))

    def test_a_cell_that_is_no_calendar_period_has_no_retention(self):
        """1 March to 2 April is no day, week, month, quarter nor year:
        NRR and GRR stay empty (the other figures do not)."""
        got = self._report(date(2025, 3, 1), date(2025, 4, 2))[()]
        self.assertIn(got["nrr"], (None, False))
        self.assertIn(got["grr"], (None, False))
        self.assertAlmostEqual(got["revenue_base_start"], 2200.0)
        self.assertAlmostEqual(got["revenue_churn"], 1200.0)

    def test_sorted_by_nrr_gives_the_same_figures(self):
        """Sorting by a ratio computes it in SQL (_kpi_sql) instead of Python."""
        monthly = self._report(date(2025, 3, 1), date(2025, 4, 5), groupby=["date:month"])
        by_sql = self._report(
            date(2025, 3, 1), date(2025, 4, 5), groupby=["date:month"], order="nrr desc"
        )
        self.assertEqual(set(monthly), set(by_sql))
        for key, figures in monthly.items():
            self.assertFigures(by_sql[key], figures, str(key))
        self.assertAlmostEqual(monthly[(date(2025, 3, 1),)]["nrr"], 100.0 * 1900 / 2200)


@tagged("post_install", "-at_install")
class TestRevenueRetentionAgainstPandas(RevenueCase):
    """Generated customers (deals over two years with refunds, stage
    history with losses and returns) against pandas over the raw rows, for
    cells of every grain."""

    SNAP_FROM, SNAP_TO = date(2024, 12, 25), date(2025, 4, 6)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        rng = random.Random(18)
        partners = cls._customers([f"Gen {i:02d}" for i in range(60)])
        deals, history = [], []
        for partner in partners:
            days = sorted(
                date(2023, 9, 1) + timedelta(days=rng.randint(0, 580))
                for _ in range(rng.randint(1, 6))
            )
            deals += [(partner, day, rng.choice([100, 250, 400, 1000])) for day in days]
            if rng.random() < 0.2:
                deals.append((partner, days[-1] + timedelta(days=3), -50))
            history.append((partner, None, "new", days[0]))
            step, kind = days[0], "new"
            for nxt in ("active", "at_risk", "lost", "won_back"):
                step += timedelta(days=rng.randint(20, 200))
                if step > cls.SNAP_TO or rng.random() < 0.25:
                    break
                history.append((partner, kind, nxt, step))
                kind = nxt
        cls._write(deals, history)
        cls.env["crm.kpi.snapshot"]._backfill(cls.SNAP_FROM, cls.SNAP_TO, cls.company)

    def _frames(self):
        leads = (
            self.env["crm.lead"]
            .sudo()
            .search([("company_id", "=", self.company.id), ("stage_id.is_won", "=", True)])
        )
        deals = pd.DataFrame(
            {
                "partner": [lead.partner_id.id for lead in leads],
                "day": [lead.date_closed.date() for lead in leads],
                "amount": [lead.expected_revenue for lead in leads],
            }
        )
        rows = (
            self.env["crm.lifecycle.history"].sudo().search([("company_id", "=", self.company.id)])
        )
        history = pd.DataFrame(
            {
                "partner": [h.partner_id.id for h in rows],
                "day": [h.date.date() for h in rows],
                "kind": [h.stage_id.kind for h in rows],
                "from_kind": [h.from_stage_id.kind or None for h in rows],
            }
        )
        return deals, history

    @staticmethod
    def _window(deals, boundary):
        """partner -> revenue of its deals from ``boundary`` - 12 months to
        the day before ``boundary``."""
        inside = deals[
            (deals["day"] >= boundary - relativedelta(months=12)) & (deals["day"] < boundary)
        ]
        return inside.groupby("partner")["amount"].sum()

    def _expected(self, first, last):
        deals, history = self._frames()
        # the base: a stage at the end of the day before, positive revenue before the start
        staged = set(history.loc[history["day"] < first, "partner"])
        start = self._window(deals, first)
        base = start[(start > 0) & start.index.isin(staged)]
        end = self._window(deals, last + timedelta(days=1)).reindex(base.index, fill_value=0.0)
        staged_end = set(history.loc[history["day"] <= last, "partner"])
        end_all = self._window(deals, last + timedelta(days=1))
        moves = history[
            (history["day"] >= first)
            & (history["day"] <= last)
            & (history["kind"] == "lost")
            & (history["from_kind"] != "lost")
        ]
        churn = sum(
            max(self._window(deals, day).get(partner, 0.0), 0.0)
            for partner, day in zip(moves["partner"], moves["day"], strict=True)
        )
        den = float(base.sum())
        return {
            "revenue_base_start": den,
            "revenue_base_end": float(
                end_all[(end_all > 0) & end_all.index.isin(staged_end)].sum()
            ),
            "revenue_churn": float(churn),
            "revenue_churn_rate": 100.0 * churn / den if den else None,
            "nrr": 100.0 * float(end.sum()) / den if den else None,
            "grr": 100.0 * float(end.clip(lower=0).clip(upper=base).sum()) / den if den else None,
        }

    def test_every_grain_matches_pandas(self):
        cells = [
            (date(2025, 1, 1), date(2025, 1, 31)),  # months
            (date(2025, 2, 1), date(2025, 2, 28)),
            (date(2025, 3, 1), date(2025, 3, 31)),
            (date(2025, 1, 1), date(2025, 3, 31)),  # a quarter
            (date(2025, 1, 1), date(2025, 4, 6)),  # the year to date
            (date(2025, 2, 3), date(2025, 2, 9)),  # a week from Monday
            (date(2025, 2, 9), date(2025, 2, 15)),  # a week from Sunday
            (date(2025, 3, 12), date(2025, 3, 12)),  # days
            (date(2025, 1, 20), date(2025, 1, 20)),
        ]
        some_base = False
        for first, last in cells:
            expected = self._expected(first, last)
            some_base |= bool(expected["revenue_base_start"])
            self.assertFigures(self._report(first, last)[()], expected, f"{first}..{last}")
        self.assertTrue(some_base, "the generated data has a revenue base")

    def test_monthly_pivot_matches_pandas(self):
        """What a pivot by month reads, on the rollup and the detailed rows."""
        for domain in ((), (("id", "!=", 0),)):
            rows = self._report(
                date(2025, 1, 1), date(2025, 3, 31), groupby=["date:month"], domain=domain
            )
            self.assertEqual(len(rows), 3)
            for (month,), got in rows.items():
                last = month + relativedelta(months=1) - timedelta(days=1)
                self.assertFigures(got, self._expected(month, last), f"{month} {domain}")

    def test_grr_never_exceeds_nrr_nor_100(self):
        for (month,), got in self._report(
            date(2025, 1, 1), date(2025, 3, 31), groupby=["date:month"]
        ).items():
            self.assertLessEqual(got["grr"], 100.0 + 1e-9, month)
            self.assertLessEqual(got["grr"], got["nrr"] + 1e-9, month)
