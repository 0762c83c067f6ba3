from datetime import date, datetime, time
from unittest import TestCase

import pandas as pd

from odoo.exceptions import AccessError
from odoo.tests import TransactionCase, new_test_user, tagged

from ..lib import survival
from .common import own_company

TODAY = date(2026, 1, 15)


def at(day, hour=10):
    return datetime.combine(day, time(hour))


class TestSurvivalLib(TestCase):
    """lib/survival.py alone, against published figures."""

    # Freireich et al. 6-MP arm (weeks of remission, 0 = censored)
    WEEKS = [6, 6, 6, 6, 7, 9, 10, 10, 11, 13, 16, 17, 19, 20, 22, 23, 25, 32, 32, 34, 35]
    RELAPSE = [1, 1, 1, 0, 1, 0, 1, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0]

    def test_freireich_published_figures(self):
        """Kaplan-Meier and Greenwood's standard errors as printed in the
        textbooks (Kleinbaum & Klein ch. 2; Collett), the log-log band as R's
        survfit(conf.type = "log-log") prints it."""
        table = survival.kaplan_meier(self.WEEKS, self.RELAPSE)
        table = table[table["events"] > 0]
        self.assertEqual(table["time"].tolist(), [6, 7, 10, 13, 16, 22, 23])
        published = {
            "survival": [0.857, 0.807, 0.753, 0.690, 0.627, 0.538, 0.448],
            "se": [0.076, 0.087, 0.096, 0.107, 0.114, 0.128, 0.135],
            "lower": [0.620, 0.563, 0.503, 0.432, 0.368, 0.268, 0.188],
            "upper": [0.952, 0.923, 0.889, 0.849, 0.805, 0.747, 0.680],
        }
        for column, figures in published.items():
            for got, expected in zip(table[column], figures, strict=True):
                self.assertAlmostEqual(got, expected, delta=0.0005, msg=column)

    def test_groups_are_independent_samples(self):
        """Curves computed for several groups at once equal each group's own
        curve (the vectorised group-by mixes nothing)."""
        frame = pd.DataFrame(
            {
                "g": ["a"] * 21 + ["b"] * 5,
                "duration": self.WEEKS + [1, 2, 2, 3, 8],
                "event": self.RELAPSE + [1, 0, 1, 1, 0],
            }
        )
        both = survival.km_grid(frame, ["g"])
        for group in ("a", "b"):
            alone = survival.km_grid(frame[frame["g"] == group][["duration", "event"]])
            mine = both[both["g"] == group].drop(columns=["g"]).reset_index(drop=True)
            pd.testing.assert_frame_equal(mine, alone, check_dtype=False)
        b = both[both["g"] == "b"]
        # b: 1 lost at 1 (n=5), 1 at 2 (n=4: the censored 2 is still at risk), 1 at 3 (n=2)
        self.assertEqual(
            b["survival"].round(4).tolist(), [1, 0.8, 0.6, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3]
        )
        self.assertEqual(b["at_risk"].tolist(), [5, 5, 4, 2, 1, 1, 1, 1, 1])

    def test_everybody_lost_and_bad_input(self):
        grid = survival.km_grid(pd.DataFrame({"duration": [1.0, 1.0], "event": [True, True]}))
        self.assertEqual(grid["survival"].tolist(), [1.0, 0.0])
        self.assertEqual((grid["lower"].tolist(), grid["upper"].tolist()), ([1.0, 0.0],) * 2)
        # lost after the last full month: one more point shows it
        grid = survival.km_grid(pd.DataFrame({"duration": [1.15, 0.5], "event": [True, False]}))
        self.assertEqual(grid["survival"].tolist(), [1.0, 1.0, 0.0])
        self.assertEqual(grid["at_risk"].tolist(), [2.0, 1.0, 0.0])
        self.assertTrue(survival.km_grid(pd.DataFrame(columns=["duration", "event"])).empty)
        with self.assertRaises(ValueError):
            survival.kaplan_meier([-1, 2], [1, 1])


@tagged("post_install", "-at_install", "multi_company")
class TestSurvivalReports(TransactionCase):
    """Retention curves and value by tenure on hand-made customers.

    Cohort 2025-01 (first deal 2025-01-10): A lost after 59 days (month 2),
    B after 151 days (month 5; won back and lost again later: one event),
    C and D never lost: survival 100, 100, 75, 75, 75, 50 ... 50 to month 12.
    Web channel: A (lost at 1.94 months), C (followed 12.2 months), E (first
    deal 2025-10-15, followed 3.0 months) and F (first deal 2025-07-15,
    lost at 4.0 months, when only C and F are still followed): 75 then
    37.5 %, not the naive 2 lost of 4. G's profile has no first deal date:
    its origin is its first history row out of Potential (2025-04-20), lost
    35 days later. H has a Lost row before its first deal (an import):
    not an event. P is a prospect (Potential only): in no curve.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        own_company(cls, "Survival Co", TODAY)
        user_vals = {"company_id": cls.company.id, "company_ids": [cls.company.id]}
        cls.salesman = new_test_user(
            cls.env, login="surv_sales", groups="sales_team.group_sale_salesman", **user_vals
        )
        # the least-privileged reader of company-wide KPIs
        cls.reader = new_test_user(
            cls.env,
            login="surv_reader",
            groups="sales_team.group_sale_salesman_all_leads",
            **user_vals,
        )
        cls.manager = new_test_user(
            cls.env, login="surv_mgr", groups="sales_team.group_sale_manager", **user_vals
        )
        cls.other_company = cls.env["res.company"].create({"name": "Other Survival Co"})
        cls.outsider = new_test_user(
            cls.env,
            login="surv_out",
            groups="sales_team.group_sale_manager",
            company_id=cls.other_company.id,
            company_ids=[cls.other_company.id],
        )
        Medium = cls.env["utm.medium"]
        cls.web = Medium.create({"name": "Survival Web"})
        cls.email = Medium.create({"name": "Survival Email"})
        cls.vip = cls.env["res.partner.category"].create({"name": "Survival VIP"})
        stage = {
            kind: cls.env.ref(f"crm_retention.stage_{kind}")
            for kind in ("potential", "new", "active", "lost", "won_back")
        }
        won = cls.env["crm.stage"].search([("is_won", "=", True)], limit=1)
        jan = date(2025, 1, 10)
        # name: (first deal date on the profile, channel, salesperson, deals, history)
        spec = {
            "A": (
                jan,
                cls.web,
                cls.salesman,
                [(jan, 1000)],
                [(jan, "new"), ("2025-03-10", "lost")],
            ),
            "B": (
                jan,
                cls.email,
                cls.salesman,
                [(jan, 500), ("2025-03-05", 300)],
                [
                    (jan, "new"),
                    ("2025-06-10", "lost"),
                    ("2025-08-01", "won_back"),
                    ("2025-10-01", "lost"),
                ],
            ),
            "C": (
                jan,
                cls.web,
                cls.salesman,
                [(jan, 200), ("2025-02-03", 400), ("2025-02-20", -100)],
                [(jan, "new"), ("2025-03-01", "active")],
            ),
            "D": (jan, cls.email, cls.salesman, [(jan, 100), ("2025-12-01", 900)], [(jan, "new")]),
            "E": (
                date(2025, 10, 15),
                cls.web,
                cls.reader,
                [("2025-10-15", 250)],
                [("2025-10-15", "new")],
            ),
            "F": (
                date(2025, 7, 15),
                cls.web,
                cls.reader,
                [("2025-07-15", 150)],
                [("2025-07-15", "new"), ("2025-11-14", "lost")],
            ),
            "G": (
                False,
                None,
                cls.reader,
                [("2025-04-20", 700)],
                [("2025-02-01", "potential"), ("2025-04-20", "new"), ("2025-05-25", "lost")],
            ),
            "H": (
                date(2025, 9, 1),
                cls.email,
                cls.reader,
                [("2025-08-15", -50), ("2025-09-01", 600)],
                [("2025-08-01", "lost"), ("2025-09-01", "new")],
            ),
            "P": (False, None, cls.reader, [], [("2025-05-01", "potential")]),
        }
        cls.partner = {}
        leads, history = [], []
        for name, (first, medium, user, deals, moves) in spec.items():
            partner = cls.env["res.partner"].create(
                {"name": f"Survival {name}", "is_company": True, "user_id": user.id}
            )
            cls.partner[name] = partner
            profile = cls.env["crm.customer.profile"].create(
                {"partner_id": partner.id, "company_id": cls.company.id, "first_deal_date": first}
            )
            leads += [
                {
                    "name": f"{name} {day}",
                    "type": "opportunity",
                    "partner_id": partner.id,
                    "company_id": cls.company.id,
                    "user_id": user.id,
                    "stage_id": won.id,
                    "expected_revenue": amount,
                    "date_closed": at(date.fromisoformat(str(day))),
                    "medium_id": medium.id if medium and amount >= 0 else False,
                }
                for day, amount in deals
            ]
            history += [
                {
                    "profile_id": profile.id,
                    "stage_id": stage[kind].id,
                    "date": at(date.fromisoformat(str(day))),
                    "reason": "rule",
                }
                for day, kind in moves
            ]
        cls.env["crm.lead"].create(leads)
        cls.env["crm.lifecycle.history"].create(history)
        (cls.partner["A"] | cls.partner["B"] | cls.partner["C"]).category_id = cls.vip
        # what the nightly job does
        cls.env["crm.kpi.survival"]._refresh()
        cls.env["crm.kpi.cohort"]._refresh()

    # ------------------------------------------------------------------
    # retention curves
    # ------------------------------------------------------------------

    def _curve(self, domain, user=None):
        rows = (
            self.env["crm.kpi.survival"]
            .with_user(user or self.reader)
            .search([*domain, ("company_id", "=", self.company.id)], order="months_since")
        )
        return rows

    def test_cohort_curve(self):
        rows = self._curve([("group_kind", "=", "cohort"), ("group_name", "=", "2025-01")])
        self.assertEqual(rows.mapped("months_since"), list(range(13)))
        self.assertEqual(
            [round(s, 6) for s in rows.mapped("survival")],
            [100, 100, 75, 75, 75] + [50] * 8,
            "won back then lost again: B counts once, at its first loss",
        )
        self.assertEqual(set(rows.mapped("customer_count")), {4})
        self.assertEqual(rows.mapped("at_risk_count"), [4, 4, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2])
        self.assertEqual(sum(rows.mapped("lost_count")), 2)
        self.assertEqual(rows[0].cohort_month, date(2025, 1, 1))
        # the band is the library's (checked against published figures)
        month2 = rows[2]
        [lib] = (
            survival.kaplan_meier([59, 151, 370, 370], [1, 1, 0, 0])
            .query("events > 0")
            .head(1)
            .to_dict("records")
        )
        self.assertAlmostEqual(month2.survival_lower, 100 * lib["lower"], places=4)
        self.assertAlmostEqual(month2.survival_upper, 100 * lib["upper"], places=4)
        for row in rows:
            self.assertLessEqual(row.survival_lower, row.survival)
            self.assertLessEqual(row.survival, row.survival_upper)
        self.assertLess(month2.survival_lower, 30, "four customers: a wide band")

    def test_a_change_of_the_stage_rules_censors_the_customer(self):
        """D, moved to Lost on 1 August by a change of the stage rules, did
        nothing: it is followed up to that day, not lost; the same move made
        by the rules as time passed is a loss."""
        profile = self.env["crm.customer.profile"].search(
            [("partner_id", "=", self.partner["D"].id)]
        )
        move = self.env["crm.lifecycle.history"].create(
            {
                "profile_id": profile.id,
                "from_stage_id": self.env.ref("crm_retention.stage_new").id,
                "stage_id": self.env.ref("crm_retention.stage_lost").id,
                "date": at(date(2025, 8, 1)),
                "reason": "redefinition",
            }
        )
        Survival = self.env["crm.kpi.survival"]
        cohort = [("group_kind", "=", "cohort"), ("group_name", "=", "2025-01")]

        def curve():
            Survival._refresh()
            rows = self._curve(cohort)
            return [round(s, 6) for s in rows.mapped("survival")], rows.mapped("at_risk_count")

        # A lost after 59 days, B after 151, C followed to today, D to 1 August
        shares, at_risk = curve()
        self.assertEqual(shares, [100, 100, 75, 75, 75] + [50] * 8)
        self.assertEqual(at_risk, [4, 4, 3, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1])
        move.reason = "rule"
        shares, _at_risk = curve()
        self.assertEqual(shares, [100, 100, 75, 75, 75, 50, 50] + [25] * 6, "D lost in August")

    def test_channel_curve_takes_censoring_into_account(self):
        rows = self._curve([("group_kind", "=", "channel"), ("medium_id", "=", self.web.id)])
        self.assertEqual(set(rows.mapped("group_name")), {"Survival Web"})
        self.assertEqual(
            [round(s, 6) for s in rows.mapped("survival")],
            [100, 100, 75, 75, 75] + [37.5] * 8,
        )
        self.assertEqual(rows.mapped("at_risk_count")[:6], [4, 4, 3, 3, 2, 1])

    def test_origin_without_first_deal_date_and_events_before_it(self):
        g = self._curve([("group_kind", "=", "cohort"), ("group_name", "=", "2025-04")])
        self.assertEqual(g.mapped("survival"), [100, 100, 0], "G: lost 35 days after")
        self.assertEqual(g.mapped("at_risk_count"), [1, 1, 0])
        self.assertEqual(g.mapped("customer_count"), [1, 1, 1])
        h = self._curve([("group_kind", "=", "cohort"), ("group_name", "=", "2025-09")])
        self.assertEqual(set(h.mapped("survival")), {100}, "a Lost before the first deal")
        self.assertEqual(sum(h.mapped("lost_count")), 0)
        cohorts = (
            self.env["crm.kpi.survival"]
            .with_user(self.reader)
            ._read_group(
                [("group_kind", "=", "cohort"), ("months_since", "=", 0)],
                [],
                ["customer_count:sum"],
            )
        )
        self.assertEqual(cohorts, [(8,)], "A to H; the prospect is in no cohort")

    def test_tag_curve(self):
        rows = self._curve([("group_kind", "=", "tag"), ("category_id", "=", self.vip.id)])
        self.assertEqual(
            [round(s, 4) for s in rows.mapped("survival")],
            [100, 100, 66.6667, 66.6667, 66.6667] + [33.3333] * 8,
        )

    def test_graph_reads_one_point_per_group_and_month(self):
        """What the default chart shows: survival by months since, per group."""
        groups = (
            self.env["crm.kpi.survival"]
            .with_user(self.reader)
            ._read_group(
                [("group_kind", "=", "cohort")],
                ["months_since", "group_name"],
                ["survival:avg", "survival_lower:avg", "__count"],
            )
        )
        points = {(m, g): (s, n) for m, g, s, _lo, n in groups}
        self.assertEqual(points[5, "2025-01"], (50, 1))
        self.assertEqual(points[0, "2025-10"], (100, 1))

    def test_access(self):
        Survival = self.env["crm.kpi.survival"]
        with self.assertRaises(AccessError):
            Survival.with_user(self.salesman).search([])
        self.assertFalse(
            Survival.with_user(self.outsider)
            .with_context(allowed_company_ids=self.other_company.ids)
            .search([("company_id", "=", self.company.id)])
        )
        with self.assertRaises(AccessError):
            Survival.with_user(self.reader).action_refresh()

    def test_refresh(self):
        Survival = self.env["crm.kpi.survival"]
        # D's loss in August, recorded now: the manager's refresh shows it at once
        self.env["crm.lifecycle.history"].create(
            {
                "profile_id": self.env["crm.customer.profile"]
                .search([("partner_id", "=", self.partner["D"].id)])
                .id,
                "stage_id": self.env.ref("crm_retention.stage_lost").id,
                "date": at(date(2025, 8, 10)),
                "reason": "rule",
            }
        )
        Survival.with_user(self.manager).action_refresh()
        rows = self._curve([("group_kind", "=", "cohort"), ("group_name", "=", "2025-01")])
        # 212 days: month 7, when C and D were still followed
        self.assertEqual(
            [round(s, 6) for s in rows.mapped("survival")][5:], [50, 50, 25] + [25] * 5
        )
        self.assertEqual(rows[7].lost_count, 1)

    # ------------------------------------------------------------------
    # value by tenure
    # ------------------------------------------------------------------

    def _expected_value(self, partners=None):
        """Revenue per customer by cohort and tenure month, with pandas from
        the won opportunities read back with the ORM."""
        leads = self.env["crm.lead"].search(
            [("company_id", "=", self.company.id), ("stage_id.is_won", "=", True)]
        )
        deals = pd.DataFrame(
            {
                "partner": [lead.partner_id.commercial_partner_id.id for lead in leads],
                "day": [pd.Timestamp(lead.date_closed.date()) for lead in leads],
                "amount": [lead.expected_revenue for lead in leads],
            }
        )
        if partners is not None:
            deals = deals[deals["partner"].isin(partners)]
        deals["month"] = deals["day"].dt.year * 12 + deals["day"].dt.month - 1
        cohorts = deals[deals["amount"] >= 0].groupby("partner")["month"].min().rename("cohort")
        deals = deals.join(cohorts, on="partner", how="inner")
        deals["since"] = deals["month"] - deals["cohort"]
        deals = deals[deals["since"] >= 0]
        size = cohorts.value_counts()
        last = TODAY.year * 12 + TODAY.month - 1
        grid = pd.DataFrame(
            [(c, s) for c in size.index for s in range(last - c + 1)], columns=["cohort", "since"]
        )
        revenue = deals.groupby(["cohort", "since"])["amount"].sum()
        grid = grid.join(revenue, on=["cohort", "since"]).fillna({"amount": 0.0})
        grid["cumulative"] = grid.sort_values("since").groupby("cohort")["amount"].cumsum()
        grid["per_customer"] = grid["amount"] / grid["cohort"].map(size)
        grid["cumulative_per_customer"] = grid["cumulative"] / grid["cohort"].map(size)
        return {
            (int(r.cohort), int(r.since)): (r.per_customer, r.cumulative_per_customer)
            for r in grid.itertuples()
        }

    def _value(self, user):
        groups = (
            self.env["crm.kpi.cohort"]
            .with_user(user)
            ._read_group(
                [("company_id", "=", self.company.id)],
                ["cohort_month:month", "months_since"],
                ["revenue_per_customer:sum", "cumulative_revenue_per_customer:sum"],
            )
        )
        return {
            (m.year * 12 + m.month - 1, since): (value, cumulative)
            for m, since, value, cumulative in groups
        }

    def test_value_by_tenure_known_answers(self):
        value = self._value(self.reader)
        jan = 2025 * 12
        # cohort 2025-01: A, B, C, D (lost ones count in the denominator)
        self.assertEqual(value[jan, 0], (450, 450))
        self.assertEqual(value[jan, 1], (75, 525), "February: 400 less a 100 refund, / 4")
        self.assertEqual(value[jan, 2], (75, 600))
        self.assertEqual(value[jan, 11], (225, 825))
        self.assertEqual(value[jan, 12], (0, 825))
        # H: the refund before its first deal is not in its tenure
        self.assertEqual(value[jan + 8, 0], (600, 600))

    def test_value_by_tenure_matches_pandas(self):
        expected = self._expected_value()
        got = self._value(self.reader)
        self.assertEqual(set(got), set(expected))
        for key, (value, cumulative) in expected.items():
            self.assertAlmostEqual(got[key][0], value, places=2, msg=key)
            self.assertAlmostEqual(got[key][1], cumulative, places=2, msg=key)
        # a salesperson sees the cohorts of his own customers (A to D)
        mine = self._value(self.salesman)
        expected_mine = self._expected_value([self.partner[n].id for n in "ABCD"])
        self.assertEqual(set(mine), set(expected_mine))
        for key, figures in expected_mine.items():
            self.assertEqual(tuple(round(f, 2) for f in mine[key]), figures, key)
        # over all cohorts, by months since: weighted by the cohorts' sizes
        [(m0, value)] = (
            self.env["crm.kpi.cohort"]
            .with_user(self.reader)
            ._read_group(
                [("company_id", "=", self.company.id), ("months_since", "=", 0)],
                ["months_since"],
                ["revenue_per_customer:sum"],
            )
        )
        self.assertAlmostEqual(value, (1800 + 250 + 150 + 700 + 600) / 8)
