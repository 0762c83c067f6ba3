import random
from unittest import TestCase

from ..lib import kpi, revenue


class TestKpiAlgebra(TestCase):
    """lib/kpi.py alone: a period's figures out of its days, and the ratios,
    against a plain reading of the definitions."""

    def test_fold_days_matches_the_definitions(self):
        rng = random.Random(11)
        rows, by_group = [], {}
        for group in ("north", "south", "west"):
            days = rng.sample(range(1, 60), 12)
            for day in days:
                flows = {"acquired_count": rng.randint(0, 5), "revenue": rng.randint(0, 900)}
                stocks = {
                    "customers_start": rng.randint(50, 90),
                    "customers_end": rng.randint(50, 90),
                }
                rows.append((group, day, flows, stocks))
                by_group.setdefault(group, []).append((day, flows, stocks))
        rng.shuffle(rows)
        folded = kpi.fold_days(rows)
        self.assertEqual(set(folded), set(by_group))
        for group, days in by_group.items():
            days.sort(key=lambda d: d[0])
            expected = {
                "acquired_count": sum(f["acquired_count"] for _d, f, _s in days),
                "revenue": sum(f["revenue"] for _d, f, _s in days),
                # stocks: the first day's start, the last day's end
                "customers_start": days[0][2]["customers_start"],
                "customers_end": days[-1][2]["customers_end"],
            }
            self.assertEqual(folded[group], expected, group)

    def test_ratios_follow_their_definitions(self):
        measure = {
            "customers_start": 200, "customers_end": 190, "active_end": 150, "clv_end": 38000.0,
            "acquired_count": 20, "lost_count": 25, "won_back_count": 5, "deal_count": 300,
            "reclassified_count": 3,
            "revenue": 45000.0, "revenue_base_start": 2000.0, "revenue_churn": 100.0,
            "base_revenue_change": 60.0, "base_revenue_kept_change": -90.0,
        }  # fmt: skip
        expected = {
            "acquired_rate": 10.0,  # 20 / 200
            "churn_rate": 12.5,  # 25 / 200
            "retention_rate": 81.0,  # (190 - 20 - 5 - 3) / 200
            "deal_frequency": 2.0,  # 300 / 150
            "avg_deal_amount": 150.0,  # 45000 / 300
            "avg_clv": 200.0,  # 38000 / 190
            "revenue_churn_rate": 5.0,  # 100 / 2000
            "nrr": 103.0,  # (2000 + 60) / 2000
            "grr": 95.5,  # (2000 - 90) / 2000
        }
        self.assertEqual(set(expected), set(kpi.RATIOS), "every ratio is checked")
        for name, value in expected.items():
            self.assertAlmostEqual(kpi.kpi_value(name, measure), value, msg=name)
        empty = dict.fromkeys(measure, 0)
        self.assertTrue(all(kpi.kpi_value(name, empty) is None for name in kpi.RATIOS))
        # a cell that is no calendar period has no change of its base: no NRR
        no_period = {**measure, "base_revenue_change": None}
        self.assertIsNone(kpi.kpi_value("nrr", no_period))

    def test_a_ratio_needs_its_terms(self):
        for name, (terms, den, _scale) in kpi.RATIOS.items():
            stocks, flows = kpi.needed_measures([name])
            needed = set()
            for term in {t.lstrip("-") for t in terms} | {den}:
                prefix = revenue.PERIOD_CHANGES.get(term)
                needed.update(revenue.change_columns(prefix) if prefix else [term])
            self.assertEqual(set(stocks) | set(flows), needed, name)
