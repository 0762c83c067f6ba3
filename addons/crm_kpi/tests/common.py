import random
from datetime import date, datetime, time, timedelta

import pandas as pd
from freezegun import freeze_time

from odoo import Command
from odoo.tests import TransactionCase, new_test_user

TODAY = date(2026, 1, 15)
# the measured period: March 2025; snapshots exist from SNAP_FROM to SNAP_TO
P_FROM, P_TO = date(2025, 3, 1), date(2025, 3, 31)
SNAP_FROM, SNAP_TO = date(2025, 2, 26), date(2025, 4, 2)
MOVE_DAY = date(2025, 3, 16)  # the moved customer changes salesperson (and team) that day
CUSTOMER_KINDS = {"new", "active", "at_risk", "won_back"}
ACTIVE_KINDS = {"new", "active", "won_back"}


def at(day, hour=10):
    return datetime.combine(day, time(hour))


def own_company(cls, name, today):
    """Set a test class up with a company of its own, ``today`` frozen,
    tracking off and deals written without the live recompute: the KPI
    tests write the lifecycle history themselves, with its dates (a
    recompute would date it "now", and the rebuild would replace it)."""
    cls.startClassPatcher(freeze_time(today))
    cls.env = cls.env(
        context=dict(
            cls.env.context,
            tracking_disable=True,
            mail_notrack=True,
            lifecycle_skip_refresh=True,
        )
    )
    cls.company = cls.env["res.company"].create({"name": name, "retention_rebuild_history": False})
    cls.env = cls.env(context=dict(cls.env.context, allowed_company_ids=[cls.company.id]))


class KpiCase(TransactionCase):
    """Generated customers with known answers for March 2025.

    * 120 customers active since January 2025 (won deals in 2024), of which
      11 are lost in March;
    * 10 customers acquired in March (first won deal), one of them lost
      again in March (acquired and lost in the same period);
    * 3 customers lost in February and won back in March (with a deal);
    * every customer belongs to salesperson A (team A) or B (team B); one
      customer of A moves to B on MOVE_DAY;
    * tags: VIP on 40 existing customers and 3 acquired ones, Retail on 30
      existing and 3 acquired ones, 10 + 1 of them with both tags;
    * acquisition channels (medium of the first won deal): Email for 50
      existing customers (their later March deals came by Web), Web for 30
      existing and 5 acquired customers; of the other acquired ones, one
      has a second first-day deal by Web after its Email one (tie: lowest
      id) and one an earlier refund by Web before its Email deal (a refund
      is not a deal), three have no medium.

    So for March: start 120, lost 12 (churn 10 %), acquired 10, won back 3,
    end 121, retention (121 - 10 - 3) / 120 = 90 %.
    Lifecycle history rows are written directly with their dates (the
    recompute would date them "now"); deals skip the live recompute.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # the history below is the known answer: not rebuilt by a recompute
        own_company(cls, "KPI Co", TODAY)
        user_vals = {"company_id": cls.company.id, "company_ids": [cls.company.id]}
        cls.sales_a = new_test_user(
            cls.env, login="kpi_a", groups="sales_team.group_sale_salesman", **user_vals
        )
        cls.sales_b = new_test_user(
            cls.env, login="kpi_b", groups="sales_team.group_sale_salesman", **user_vals
        )
        cls.manager = new_test_user(
            cls.env, login="kpi_mgr", groups="sales_team.group_sale_manager", **user_vals
        )
        Team = cls.env["crm.team"].with_context(mail_create_nosubscribe=True)
        cls.team_a = Team.create(
            {
                "name": "Team A",
                "company_id": cls.company.id,
                "member_ids": [(6, 0, cls.sales_a.ids)],
            }
        )
        cls.team_b = Team.create(
            {
                "name": "Team B",
                "company_id": cls.company.id,
                "member_ids": [(6, 0, cls.sales_b.ids)],
            }
        )
        cls.won_stage = cls.env["crm.stage"].search([("is_won", "=", True)], limit=1)
        cls.stage = {
            kind: cls.env.ref(f"crm_retention.stage_{kind}")
            for kind in ("potential", "new", "active", "at_risk", "lost", "won_back")
        }
        cls.countries = cls.env.ref("base.be") | cls.env.ref("base.fr")
        cls._generate()

    @classmethod
    def _generate(cls):
        rng = random.Random(20250301)
        Partner = cls.env["res.partner"]
        existing = Partner.create(
            [
                {
                    "name": f"Existing {i:03d}",
                    "is_company": True,
                    "user_id": (cls.sales_a if i % 2 else cls.sales_b).id,
                    "country_id": cls.countries[i % 2].id,
                }
                for i in range(120)
            ]
        )
        acquired = Partner.create(
            [{"name": f"New {i}", "is_company": True, "user_id": cls.sales_a.id} for i in range(10)]
        )
        won_back = Partner.create(
            [{"name": f"Back {i}", "is_company": True, "user_id": cls.sales_b.id} for i in range(3)]
        )
        cls.existing, cls.acquired, cls.won_back = existing, acquired, won_back
        cls.lost = existing[:22:2]  # 11 customers of salesperson B
        cls.acquired_lost = acquired[0]
        cls.moved = existing[1]  # salesperson A, active all along
        Tag = cls.env["res.partner.category"]
        cls.vip = Tag.create({"name": "KPI VIP"})
        cls.retail = Tag.create({"name": "KPI Retail"})
        (existing[:40] | acquired[:3]).write({"category_id": [Command.link(cls.vip.id)]})
        (existing[30:60] | acquired[2:5]).write({"category_id": [Command.link(cls.retail.id)]})
        Medium = cls.env["utm.medium"]
        cls.email = Medium.create({"name": "KPI Email"})
        cls.web = Medium.create({"name": "KPI Web"})
        first_medium = {p.id: cls.email for p in existing[:50]}
        first_medium.update({p.id: cls.web for p in existing[50:80] | acquired[:5]})
        first_medium.update({p.id: cls.email for p in acquired[5:7]})
        deals, history = [], []
        for partner in existing:
            deals += [
                (
                    partner,
                    date(2024, rng.randint(1, 12), rng.randint(1, 28)),
                    1000,
                    first_medium.get(partner.id),
                )
            ]
            deals += [
                (partner, date(2025, 3, rng.randint(1, 31)), rng.choice([500, 800, 1200]), cls.web)
                for _ in range(rng.randint(0, 2))
            ]
            history.append((partner, None, "new", date(2024, 12, 1)))
            history.append((partner, "new", "active", date(2025, 1, 10)))
        for i, partner in enumerate(cls.lost):
            history.append((partner, "active", "at_risk", date(2025, 2, 20)))
            history.append((partner, "at_risk", "lost", date(2025, 3, 2 + 2 * i)))
        # a refund by Web before the first deal: not the acquisition
        deals.append((acquired[6], date(2025, 1, 5), -50, cls.web))
        for i, partner in enumerate(acquired):
            day = date(2025, 3, 3 + 2 * i)
            deals.append((partner, day, 2000, first_medium.get(partner.id)))
            history.append((partner, "potential", "new", day))
        # a second deal the same first day, created after: the first one counts
        deals.append((acquired[5], date(2025, 3, 13), 100, cls.web))
        history.append((cls.acquired_lost, "new", "lost", date(2025, 3, 30)))
        for i, partner in enumerate(won_back):
            deals.append((partner, date(2023, 5, 5), 700, None))
            deals.append((partner, date(2025, 3, 10 + i), 900, None))
            history.append((partner, None, "active", date(2023, 6, 1)))
            history.append((partner, "active", "lost", date(2025, 2, 5)))
            history.append((partner, "lost", "won_back", date(2025, 3, 10 + i)))
        # a refund is not a deal (negative amount) and an open opportunity neither
        cls.Lead = cls.env["crm.lead"]
        cls.Lead.create(
            [
                {
                    "name": f"{partner.name} {day}",
                    "type": "opportunity",
                    "partner_id": partner.id,
                    "company_id": cls.company.id,
                    "user_id": partner.user_id.id,
                    "stage_id": cls.won_stage.id,
                    "expected_revenue": amount,
                    "date_closed": at(day),
                    "medium_id": medium.id if medium else False,
                }
                for partner, day, amount, medium in deals
            ]
        )
        partners = existing | acquired | won_back
        profiles = cls.env["crm.customer.profile"].create(
            [
                {
                    "partner_id": p.id,
                    "company_id": cls.company.id,
                    "predicted_clv": 100.0 * (1 + p.id % 5),
                    "value_at_risk": 10.0 * (1 + p.id % 7),
                }
                for p in partners
            ]
        )
        cls.profile_of = {p.partner_id.id: p for p in profiles}
        cls._write_history(history)
        # the profiles' current stage: their last history row
        for profile in profiles:
            last = profile.history_ids.sorted(lambda h: (h.date, h.id))[-1:]
            profile.with_context(lifecycle_reason="import").sudo()._write(
                {"stage_id": last.stage_id.id}
            )

    @classmethod
    def _write_history(cls, moves, reason="rule"):
        """Stage history rows of the generated customers, with their dates:
        ``moves`` are (partner, from kind or None, to kind, day)."""
        return cls.env["crm.lifecycle.history"].create(
            [
                {
                    "profile_id": cls.profile_of[partner.id].id,
                    "from_stage_id": cls.stage[src].id if src else False,
                    "stage_id": cls.stage[dst].id,
                    "date": at(day),
                    "reason": reason,
                }
                for partner, src, dst, day in moves
            ]
        )

    # ------------------------------------------------------------------
    # snapshots and the independent pandas computation
    # ------------------------------------------------------------------

    @classmethod
    def _snapshot(cls, date_from=SNAP_FROM, date_to=SNAP_TO, move=True):
        """Back-fill the snapshots; the moved customer changes salesperson on MOVE_DAY."""
        Snapshot = cls.env["crm.kpi.snapshot"]
        if move and date_from < MOVE_DAY <= date_to:
            Snapshot._backfill(date_from, MOVE_DAY - timedelta(days=1), cls.company)
            cls.moved.user_id = cls.sales_b
            Snapshot._backfill(MOVE_DAY, date_to, cls.company)
        else:
            Snapshot._backfill(date_from, date_to, cls.company)

    def _raw_frames(self):
        """The raw rows, read back from the database with the ORM (not the
        snapshot's SQL): history, won deals (with their id and medium),
        profiles (with the customer's tags)."""
        History = self.env["crm.lifecycle.history"].sudo()
        history = pd.DataFrame(
            [
                {
                    "partner_id": h.partner_id.id,
                    "date": h.date.date(),
                    "id": h.id,
                    "kind": h.stage_id.kind,
                    "from_kind": h.from_stage_id.kind or None,
                    "reason": h.reason,
                }
                for h in History.search([("company_id", "=", self.company.id)])
            ]
        )
        leads = self.Lead.sudo().search(
            [("company_id", "=", self.company.id), ("stage_id.is_won", "=", True)]
        )
        deals = pd.DataFrame(
            [
                {
                    "partner_id": lead.partner_id.commercial_partner_id.id,
                    "date": lead.date_closed.date(),
                    "amount": lead.expected_revenue,
                    "id": lead.id,
                    "medium_id": lead.medium_id.id or None,
                }
                for lead in leads
            ]
        )
        profiles = pd.DataFrame(
            [
                {
                    "partner_id": p.partner_id.id,
                    "clv": p.predicted_clv,
                    "value_at_risk": p.value_at_risk,
                    "tag_ids": frozenset(p.partner_id.category_id.ids),
                }
                for p in self.env["crm.customer.profile"]
                .sudo()
                .search([("company_id", "=", self.company.id)])
            ]
        )
        return history, deals, profiles

    @staticmethod
    def _channels(deals):
        """partner -> medium id (None: none) of its first won deal that is
        not a refund, the lowest id first on the same day."""
        buys = deals[deals["amount"] >= 0].sort_values(["date", "id"])
        first = buys.drop_duplicates("partner_id", keep="first")
        return {
            int(partner): int(medium) if pd.notna(medium) else None
            for partner, medium in zip(first["partner_id"], first["medium_id"], strict=True)
        }

    @staticmethod
    def _kinds_at(history, day):
        """partner -> stage kind at the end of ``day``."""
        past = history[history["date"] <= day].sort_values(["date", "id"])
        return past.groupby("partner_id")["kind"].last()

    def _expected(self, date_from, date_to, partners=None):
        """The period KPIs computed with pandas from the raw rows."""
        history, deals, profiles = self._raw_frames()
        if partners is not None:
            history = history[history["partner_id"].isin(partners)]
            deals = deals[deals["partner_id"].isin(partners)]
        start = self._kinds_at(history, date_from - timedelta(days=1))
        end = self._kinds_at(history, date_to)
        customers_start = int(start.isin(CUSTOMER_KINDS).sum())
        customers_end = int(end.isin(CUSTOMER_KINDS).sum())
        active_end = int(end.isin(ACTIVE_KINDS).sum())
        buys = deals[deals["amount"] >= 0]
        first = buys.groupby("partner_id")["date"].min()
        acquired = int(((first >= date_from) & (first <= date_to)).sum())
        moves = history[(history["date"] >= date_from) & (history["date"] <= date_to)]
        moves = moves[moves["kind"] != moves["from_kind"]]
        # a change of the stage rules (or a merge) is no customer leaving or
        # coming back; the rules' change moves the stocks as "reclassified"
        books = moves["reason"].isin(["merge", "redefinition"])
        flows = moves[~books]
        lost = int((flows["kind"] == "lost").sum())
        # back from Lost into a customer stage, whichever
        won_back = int(((flows["from_kind"] == "lost") & flows["kind"].isin(CUSTOMER_KINDS)).sum())
        redefined = moves[moves["reason"] == "redefinition"]
        into = redefined["kind"].isin(CUSTOMER_KINDS)
        out_of = redefined["from_kind"].isin(CUSTOMER_KINDS)
        reclassified = int((into & ~out_of).sum() - (out_of & ~into).sum())
        in_period = deals[(deals["date"] >= date_from) & (deals["date"] <= date_to)]
        deal_count = int((in_period["amount"] >= 0).sum())
        revenue = float(in_period["amount"].sum())
        end_customers = end[end.isin(CUSTOMER_KINDS)].index
        clv_end = float(profiles[profiles["partner_id"].isin(end_customers)]["clv"].sum())
        at_risk_end = profiles[profiles["partner_id"].isin(end_customers)]["value_at_risk"]

        def pct(num, den):
            return 100.0 * num / den if den else None

        return {
            "customers_start": customers_start,
            "customers_end": customers_end,
            "active_end": active_end,
            "acquired_count": acquired,
            "lost_count": lost,
            "won_back_count": won_back,
            "reclassified_count": reclassified,
            "deal_count": deal_count,
            "revenue": revenue,
            "clv_end": clv_end,
            "value_at_risk_end": float(at_risk_end.sum()),
            "acquired_rate": pct(acquired, customers_start),
            "churn_rate": pct(lost, customers_start),
            "retention_rate": pct(
                customers_end - acquired - won_back - reclassified, customers_start
            ),
            "deal_frequency": deal_count / active_end if active_end else None,
            "avg_deal_amount": revenue / deal_count if deal_count else None,
            "avg_clv": clv_end / customers_end if customers_end else None,
        }

    KPIS = [
        "customers_start",
        "customers_end",
        "active_end",
        "acquired_count",
        "lost_count",
        "won_back_count",
        "reclassified_count",
        "deal_count",
        "revenue",
        "clv_end",
        "value_at_risk_end",
        "acquired_rate",
        "churn_rate",
        "retention_rate",
        "deal_frequency",
        "avg_deal_amount",
        "avg_clv",
    ]

    def _report(self, date_from, date_to, groupby=(), domain=(), user=None):
        Report = self.env["crm.kpi.customer.report"]
        if user:
            Report = Report.with_user(user)
        rows = Report._read_group(
            [("date", ">=", date_from), ("date", "<=", date_to), *domain],
            list(groupby),
            [f"{k}:sum" for k in self.KPIS],
        )
        return [
            (row[: len(groupby)], dict(zip(self.KPIS, row[len(groupby) :], strict=True)))
            for row in rows
        ]

    def assertKpis(self, actual, expected, msg=""):
        for key in self.KPIS:
            exp, got = expected[key], actual[key]
            if exp is None:
                # no denominator: NULL in SQL, False once through read_group
                self.assertIn(got, (None, False), f"{msg} {key}")
            else:
                self.assertAlmostEqual(got, exp, places=6, msg=f"{msg} {key}")
