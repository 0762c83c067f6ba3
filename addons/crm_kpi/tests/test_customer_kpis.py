from datetime import date, timedelta

from odoo.tests import tagged

from .common import MOVE_DAY, P_FROM, P_TO, SNAP_FROM, SNAP_TO, KpiCase


@tagged("post_install", "-at_install")
class TestCustomerKpis(KpiCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._snapshot()

    def test_known_answers_for_march(self):
        """The generated story gives round numbers a manager can check by hand."""
        [((), kpis)] = self._report(P_FROM, P_TO)
        self.assertEqual(kpis["customers_start"], 120)
        self.assertEqual(kpis["lost_count"], 12)
        self.assertAlmostEqual(kpis["churn_rate"], 10.0)
        self.assertEqual(kpis["acquired_count"], 10)
        self.assertEqual(kpis["won_back_count"], 3)
        self.assertEqual(kpis["customers_end"], 121)
        self.assertAlmostEqual(kpis["retention_rate"], 90.0)

    def test_customers_at_end_add_up_from_the_flows(self):
        """Whatever stage the rules give a comeback, the customers at the
        end are those at the start, plus acquired and won back, less lost,
        so the retention rate stays a share of the starting customers: a
        lost customer who comes back straight to Active is won back; an at
        risk one who recovers into the Won back stage never left."""
        recovered = self.existing[31]
        self._write_history(
            [
                (self.lost[0], "lost", "active", date(2025, 3, 20)),
                (self.lost[1], "lost", "active", date(2025, 3, 25)),
                (recovered, "active", "at_risk", date(2025, 3, 5)),
                (recovered, "at_risk", "won_back", date(2025, 3, 15)),
            ]
        )
        self.env["crm.kpi.snapshot"]._backfill(P_FROM, P_TO, self.company)
        [((), kpis)] = self._report(P_FROM, P_TO)
        self.assertEqual(kpis["won_back_count"], 5, "the three of the story and the two back")
        flows = kpis["acquired_count"] + kpis["won_back_count"] - kpis["lost_count"]
        self.assertEqual(kpis["customers_end"], kpis["customers_start"] + flows)
        self.assertEqual((kpis["customers_start"], kpis["customers_end"]), (120, 123))
        self.assertAlmostEqual(kpis["retention_rate"], 100.0 * (120 - 12) / 120)

    def test_every_kpi_matches_pandas_for_several_periods(self):
        """Month, a week, a single day and the whole snapshotted span."""
        periods = [
            (P_FROM, P_TO),
            (date(2025, 3, 10), date(2025, 3, 16)),
            (date(2025, 3, 30), date(2025, 3, 30)),
            (SNAP_FROM + timedelta(days=1), SNAP_TO),
        ]
        for date_from, date_to in periods:
            [((), kpis)] = self._report(date_from, date_to)
            self.assertKpis(kpis, self._expected(date_from, date_to), f"{date_from}..{date_to}")

    def test_monthly_groups_match_pandas(self):
        """A pivot by month: each month's start is the close of the day before it."""
        rows = dict(self._report(date(2025, 3, 1), SNAP_TO, groupby=["date:month"]))
        self.assertEqual(len(rows), 2)
        for (month,), kpis in rows.items():
            date_to = min(SNAP_TO, (month + timedelta(days=32)).replace(day=1) - timedelta(days=1))
            self.assertKpis(kpis, self._expected(month, date_to), str(month))

    def test_acquired_and_lost_in_the_same_period(self):
        """Counted once as acquired and once as lost, and not a customer at the end."""
        partner = self.acquired_lost
        [((), kpis)] = self._report(P_FROM, P_TO, domain=[("user_id", "=", partner.user_id.id)])
        # salesperson A's customers: the 10 acquired, of which this one lost (B has the others)
        self.assertEqual((kpis["acquired_count"], kpis["lost_count"]), (10, 1))
        alone = self._expected(P_FROM, P_TO, partners=[partner.id])
        self.assertEqual(
            (alone["acquired_count"], alone["lost_count"], alone["customers_end"]), (1, 1, 0)
        )

    def test_won_back_customers_are_not_customers_at_start(self):
        partners = self.won_back.ids
        expected = self._expected(P_FROM, P_TO, partners=partners)
        self.assertEqual(
            (expected["customers_start"], expected["won_back_count"], expected["customers_end"]),
            (0, 3, 3),
        )
        [((), kpis)] = self._report(P_FROM, P_TO, domain=[("stage_kind", "=", "won_back")])
        self.assertEqual(kpis["won_back_count"], 3)
        self.assertEqual(kpis["customers_end"], 3)

    def test_period_without_customers(self):
        [((), kpis)] = self._report(date(2024, 1, 1), date(2024, 1, 31))
        self.assertEqual(kpis["customers_start"], 0)
        self.assertEqual(kpis["customers_end"], 0)
        self.assertIn(kpis["churn_rate"], (None, False), "no churn rate without customers")
        self.assertIn(kpis["avg_deal_amount"], (None, False))

    def _partners_of(self, user, day):
        """The customers of ``user`` on ``day`` (the moved one changes on MOVE_DAY)."""
        partners = (self.existing | self.acquired | self.won_back).filtered(
            lambda p: p.user_id == user
        )
        if day < MOVE_DAY:
            partners = (partners | self.moved) if user == self.sales_a else partners - self.moved
        return partners.ids

    def test_partner_moved_between_teams(self):
        """Team A loses the moved customer on MOVE_DAY, team B gains it; the total
        does not change."""
        rows = dict(self._report(P_FROM, P_TO, groupby=["team_id"]))
        team_a, team_b = rows[(self.team_a,)], rows[(self.team_b,)]
        exp_a_start = self._expected(P_FROM, P_TO, self._partners_of(self.sales_a, P_FROM))
        exp_a_end = self._expected(P_FROM, P_TO, self._partners_of(self.sales_a, P_TO))
        exp_b_start = self._expected(P_FROM, P_TO, self._partners_of(self.sales_b, P_FROM))
        exp_b_end = self._expected(P_FROM, P_TO, self._partners_of(self.sales_b, P_TO))
        self.assertEqual(team_a["customers_start"], exp_a_start["customers_start"])
        self.assertEqual(team_a["customers_end"], exp_a_end["customers_end"])
        self.assertEqual(team_b["customers_start"], exp_b_start["customers_start"])
        self.assertEqual(team_b["customers_end"], exp_b_end["customers_end"])
        self.assertEqual(team_a["customers_end"] + team_b["customers_end"], 121)
        self.assertEqual(
            team_a["customers_start"] - 1,
            exp_a_end["customers_start"],
            "the moved customer counted in A at the start of March only",
        )

    def test_sliced_by_country_and_stage_add_up(self):
        total = dict(self._report(P_FROM, P_TO))[()]
        for groupby in (["country_id"], ["stage_id"], ["user_id"]):
            rows = self._report(P_FROM, P_TO, groupby=groupby)
            for key in ("customers_start", "customers_end", "acquired_count", "lost_count"):
                self.assertEqual(sum(k[key] for _g, k in rows), total[key], f"{groupby} {key}")

    def test_public_read_group_matches(self):
        """What the pivot view itself calls (read_group, lazy, by month)."""
        result = (
            self.env["crm.kpi.customer.report"]
            .with_user(self.manager)
            .read_group(
                [("date", ">=", P_FROM), ("date", "<=", P_TO)],
                ["customers_start:sum", "churn_rate:sum", "retention_rate:sum"],
                ["date:month"],
            )
        )
        self.assertEqual(len(result), 1)
        self.assertEqual(result[0]["customers_start"], 120)
        self.assertAlmostEqual(result[0]["churn_rate"], 10.0)
        self.assertAlmostEqual(result[0]["retention_rate"], 90.0)

    def test_every_read_path_gives_the_same_figures(self):
        """A read_group without tags or channels reads the rollup table, one
        grouped by tag the per-tag rollup; one that needs the detailed rows
        computes the stocks from a GROUP BY by day, or in SQL when sorted by
        a KPI. The figures must not depend on the path, for any slicing."""
        Report = self.env["crm.kpi.customer.report"].with_user(self.manager)
        domain = [("date", ">=", SNAP_FROM), ("date", "<=", SNAP_TO)]
        detail = [*domain, ("id", "!=", 0)]  # row ids: only the detailed rows have them
        # the KPIs, and the row count of list group headers and the pivot's Count
        aggregates = [f"{k}:sum" for k in self.KPIS] + ["__count"]
        for groupby in ([], ["user_id", "date:month"], ["stage_id"], ["date:day"], ["medium_id"]):
            reference = Report._read_group(domain, groupby, aggregates)
            for other in (
                Report._read_group(detail, groupby, aggregates),
                Report._read_group(detail, groupby, aggregates, order="churn_rate desc"),
                Report._read_group(detail, groupby, aggregates, order="__count desc"),
            ):
                self._assert_same_groups(reference, other, len(groupby), groupby)
        # the groups' records are plain records of the caller's environment
        [(user, *_values)] = Report._read_group(domain, ["user_id"], aggregates, limit=1)
        self.assertFalse(set(user.env.context) - set(Report.env.context))
        # a period without rows: one empty group on every path
        empty = [("date", "<", date(2000, 1, 1))]
        self._assert_same_groups(
            Report._read_group(empty, [], aggregates),
            Report._read_group([*empty, ("id", "!=", 0)], [], aggregates),
            0,
            "empty",
        )
        # grouped by tag: the per-tag rollup against the detailed rows
        by_tag = [["category_ids"], ["category_ids", "date:month"], ["user_id", "category_ids"]]
        for groupby in by_tag:
            reference = Report._read_group(domain, groupby, aggregates)
            for other in (
                # ordered by the groups, as the public read_group does
                Report._read_group(domain, groupby, aggregates, order=", ".join(groupby)),
                Report._read_group(detail, groupby, aggregates),
                Report._read_group(detail, groupby, aggregates, order=", ".join(groupby)),
                Report._read_group(detail, groupby, aggregates, order="churn_rate desc"),
            ):
                self._assert_same_groups(reference, other, len(groupby), groupby)

    def _assert_same_groups(self, rows, other, n, msg):
        self.assertEqual(len(rows), len(other), msg)
        by_key = {row[:n]: row[n:] for row in other}
        for row in rows:
            names = [*self.KPIS, "__count"][: len(row) - n]
            for kpi, got, exp in zip(names, row[n:], by_key[row[:n]], strict=True):
                if exp in (None, False):
                    self.assertIn(got, (None, False), f"{msg} {row[:n]} {kpi}")
                else:
                    self.assertAlmostEqual(got, exp, places=6, msg=f"{msg} {row[:n]} {kpi}")

    def _tags_of(self):
        """partner -> its set of tag ids, from the raw profiles."""
        profiles = self._raw_frames()[2]
        return dict(zip(profiles["partner_id"], profiles["tag_ids"], strict=True))

    def test_customer_with_two_tags_counts_once_in_the_total(self):
        """Grouped by tag, a customer with two tags counts under each of them;
        a total over both tags counts it once."""
        tags_of = self._tags_of()
        Tag = self.env["res.partner.category"]
        rows = dict(self._report(P_FROM, P_TO, groupby=["category_ids"], user=self.manager))
        self.assertEqual(set(rows), {(self.vip,), (self.retail,), (Tag,)})
        for tag in (self.vip, self.retail):
            partners = [p for p, tags in tags_of.items() if tag.id in tags]
            self.assertKpis(rows[(tag,)], self._expected(P_FROM, P_TO, partners), tag.name)
        untagged = [p for p, tags in tags_of.items() if not tags]
        self.assertKpis(rows[(Tag,)], self._expected(P_FROM, P_TO, untagged), "no tag")
        [((), either)] = self._report(
            P_FROM,
            P_TO,
            domain=[("category_ids", "in", (self.vip | self.retail).ids)],
            user=self.manager,
        )
        tagged = [p for p, tags in tags_of.items() if tags]
        self.assertKpis(either, self._expected(P_FROM, P_TO, tagged), "VIP or Retail")
        # 10 existing customers and 1 acquired one have both tags
        both = [p for p, tags in tags_of.items() if len(tags) == 2]
        self.assertEqual(self._expected(P_FROM, P_TO, both)["customers_end"], 11)
        self.assertEqual(
            rows[(self.vip,)]["customers_end"] + rows[(self.retail,)]["customers_end"],
            either["customers_end"] + 11,
        )
        # the whole company: every customer once, tags or not
        [((), total)] = self._report(P_FROM, P_TO, user=self.manager)
        self.assertEqual(total["customers_end"], 121)

    def test_pivot_by_tag_and_month(self):
        """What the pivot itself calls (public read_group, by tag then month)."""
        result = (
            self.env["crm.kpi.customer.report"]
            .with_user(self.manager)
            .read_group(
                [("date", ">=", P_FROM), ("date", "<=", P_TO)],
                ["customers_start:sum", "churn_rate:sum"],
                ["category_ids", "date:month"],
                lazy=False,
            )
        )
        by_tag = {row["category_ids"] and row["category_ids"][0]: row for row in result}
        vip = [p for p, tags in self._tags_of().items() if self.vip.id in tags]
        expected = self._expected(P_FROM, P_TO, vip)
        self.assertEqual(by_tag[self.vip.id]["customers_start"], expected["customers_start"])
        self.assertAlmostEqual(by_tag[self.vip.id]["churn_rate"], expected["churn_rate"])

    def test_acquisition_channel_is_the_medium_of_the_first_deal(self):
        """A customer counts under the medium of its first won deal, not of
        its later deals, nor of an earlier refund; same-day ties go to the
        deal created first."""
        channels = self._channels(self._raw_frames()[1])
        Medium = self.env["utm.medium"]
        rows = dict(self._report(P_FROM, P_TO, groupby=["medium_id"], user=self.manager))
        self.assertEqual(set(rows), {(self.email,), (self.web,), (Medium,)})
        for medium in (self.email, self.web, Medium):
            partners = [p for p, m in channels.items() if m == (medium.id or None)]
            self.assertKpis(
                rows[(medium,)], self._expected(P_FROM, P_TO, partners), medium.name or "none"
            )
        # the story: Email 50 existing customers and 2 acquired ones (the tie
        # and the refund), Web 30 and 5, no medium 40 and 3
        self.assertEqual(
            {
                m.name or "none": (k["customers_start"], k["acquired_count"])
                for (m,), k in rows.items()
            },
            {"KPI Email": (50, 2), "KPI Web": (30, 5), "none": (40, 3)},
        )
        [((), web)] = self._report(
            P_FROM, P_TO, domain=[("medium_id", "=", self.web.id)], user=self.manager
        )
        self.assertEqual(web["acquired_count"], 5)
