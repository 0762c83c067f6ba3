import random
from datetime import date, timedelta
from math import ceil

import pandas as pd

from odoo.addons.crm_retention.tests.common import TODAY, RetentionCase
from odoo.tests import tagged


def expected_paths(deals, today, at_risk=1.5, lost=3.0, lost_after_days=730):
    """The stage path of each customer, computed here independently of the
    suite: {partner: [(day, kind)]}, with the stock rules and no churn
    model (the rhythm alone): a customer is At risk ``at_risk`` expected
    intervals after its last deal and Lost ``lost`` of them after; one-time
    buyers are measured against the median interval of the repeat buyers;
    a deal after a lapse is a comeback (Won back), the next one Active."""
    days = {p: sorted(set(d)) for p, d in deals.items()}
    repeat = [(d[-1] - d[0]).days / (len(d) - 1) for d in days.values() if len(d) > 1]
    typical = float(pd.Series(repeat).median())
    paths = {}
    for partner, buys in days.items():
        path, lapsed = [], None
        for k, day in enumerate(buys):
            count = k + 1
            if count == 1:
                kind = "new"
            elif lapsed is not None and buys[k - 1] < lapsed:
                kind = "won_back"
            else:
                kind = "active"
            path.append((day, kind))
            interval = (day - buys[0]).days / (count - 1) if count > 1 else typical
            interval = max(interval, 1.0) if count > 1 else interval
            until = buys[k + 1] if k + 1 < len(buys) else today + timedelta(days=1)
            for ratio, step in ((at_risk, "at_risk"), (lost, "lost")):
                late = ceil(ratio * interval - 1e-9)
                if step == "lost":
                    late = min(late, lost_after_days)  # or no deal for two years
                when = day + timedelta(days=late)
                if when < until:
                    if lapsed is None or lapsed < day:
                        lapsed = when
                    path.append((when, step))
        # consecutive duplicates (none with these rules) would not be changes
        paths[partner] = [step for i, step in enumerate(path) if not i or step[1] != path[i - 1][1]]
    return paths


@tagged("post_install", "-at_install")
class TestKpisAfterRebuild(RetentionCase):
    """Customers with two years of purchases and no history: the first
    nightly run rebuilds their past, the back-fill snapshots it, and the
    monthly KPIs (acquired, lost, won back) are those an independent
    computation from the same purchases gives."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company.retention_rebuild_history = True
        # no churn model (too few repeat buyers for it): the rhythm decides
        cls.company.retention_min_repeat_customers = 100000
        cls.env = cls.env(context=dict(cls.env.context, lifecycle_skip_refresh=True))
        rng = random.Random(16)
        cls.deals = {}
        for i in range(30):
            customer = cls._customer(f"Buyer {i:02d}")
            first = rng.randint(60, 700)
            days = [first]
            for _ in range(rng.choice([0, 0, 1, 2, 3, 5])):
                days.append(days[-1] - rng.choice([20, 45, 90, 200, 400]))
            days = [d for d in days if d > 0]
            for days_ago in days:
                cls._deal(customer, days_ago, amount=100.0 * (1 + i % 4))
            cls.deals[customer.id] = [TODAY - timedelta(days=d) for d in days]

    def test_monthly_kpis_match_an_independent_computation(self):
        self.Profile.sudo()._recompute_company(self.company, today=TODAY)
        Snapshot = self.env["crm.kpi.snapshot"]
        pending = Snapshot._backfill_pending()
        start, end = pending[self.company]
        self.assertEqual(end, TODAY - timedelta(days=1), "the rebuilt year is queued")
        while Snapshot._backfill_pending():
            Snapshot._cron_backfill()
        paths = expected_paths(self.deals, TODAY)
        entries = pd.DataFrame(
            [
                (p, day, kind, path[k - 1][1] if k else None)
                for p, path in paths.items()
                for k, (day, kind) in enumerate(path)
            ],
            columns=["partner", "day", "kind", "from_kind"],
        )
        entries = entries[(entries["day"] >= start) & (entries["day"] <= end)]
        # won back in the KPIs: back from Lost into a customer stage, whichever
        customer = entries["kind"].isin(["new", "active", "at_risk", "won_back"])
        comeback = (entries["from_kind"] == "lost") & customer
        entries.loc[comeback, "kind"] = "comeback"
        entries["month"] = entries["day"].map(lambda d: date(d.year, d.month, 1))
        expected = {
            kind: entries[entries["kind"] == kind].groupby("month").size().to_dict()
            for kind in ("new", "lost", "comeback")
        }
        self.assertTrue(expected["lost"], "the generated purchases lose customers")
        self.assertTrue(expected["comeback"], "and win some back")
        rows = self.env["crm.kpi.snapshot"].search_read(
            [("company_id", "=", self.company.id)],
            ["date", "acquired_count", "lost_count", "won_back_count"],
        )
        got = pd.DataFrame(rows)
        got["month"] = got["date"].map(lambda d: date(d.year, d.month, 1))
        monthly = got.groupby("month")[["acquired_count", "lost_count", "won_back_count"]].sum()
        for column, kind in (
            ("acquired_count", "new"),
            ("lost_count", "lost"),
            ("won_back_count", "comeback"),
        ):
            found = {m: int(v) for m, v in monthly[column].items() if v}
            self.assertEqual(found, expected[kind], column)
        # and each customer's history is the path computed here
        for partner_id, path in paths.items():
            profile = self.Profile.search(
                [("partner_id", "=", partner_id), ("company_id", "=", self.company.id)]
            )
            history = [
                (h.date.date(), h.stage_id.kind)
                for h in profile.history_ids.sorted(lambda h: (h.date, h.id))
            ]
            self.assertEqual(history, path, profile.partner_id.name)
