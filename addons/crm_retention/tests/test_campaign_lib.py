import math
import random
from statistics import NormalDist
from unittest import TestCase

from ..lib import campaign as campaign_lib
from ..lib import uplift


class TestCampaignLib(TestCase):
    def test_split_is_reproducible_and_order_free(self):
        ids = list(range(1, 1001))
        shuffled = ids[:]
        random.Random(3).shuffle(shuffled)
        first = campaign_lib.split_control(ids, 0.1, seed=11)
        self.assertEqual(campaign_lib.split_control(shuffled, 0.1, seed=11), first)
        treated, control = first
        self.assertEqual(len(control), 100)
        self.assertFalse(set(treated) & set(control))
        self.assertNotEqual(campaign_lib.split_control(ids, 0.1, seed=12)[1], control)
        # the held-out customers are spread over the id range, not a block
        self.assertLess(min(control), 200)
        self.assertGreater(max(control), 800)
        with self.assertRaises(ValueError):
            campaign_lib.split_control(ids, 1.0, seed=1)

    def test_assign_control_share_within_sampling_error(self):
        for share in (0.05, 0.1, 0.3):
            drawn = campaign_lib.assign_control(range(20000), share, seed=5)
            observed = sum(drawn.values()) / 20000
            # four standard errors of a proportion over 20000 draws
            self.assertLess(abs(observed - share), 4 * math.sqrt(share * (1 - share) / 20000))

    def test_codes_are_distinct_and_avoid_taken_ones(self):
        taken = set(campaign_lib.generate_codes(500, prefix="X"))
        fresh = campaign_lib.generate_codes(500, prefix="X", taken=taken)
        self.assertEqual(len(set(fresh)), 500)
        self.assertFalse(taken & set(fresh))
        self.assertFalse(set("".join(fresh)) & set("01ILO"), "no look-alike characters")

    def test_uplift_matches_an_independent_computation(self):
        """Check against the textbook formula computed another way: counts
        expanded to 0/1 samples, sample variances, the normal quantile from
        the standard library."""
        cases = [(400, 100, 100, 15), (1200, 300, 130, 26), (55, 20, 60, 9), (500, 50, 500, 50)]
        for t_n, t_k, c_n, c_k in cases:
            res = uplift.two_proportion(t_n, t_k, c_n, c_k)
            samples_t = [1] * t_k + [0] * (t_n - t_k)
            samples_c = [1] * c_k + [0] * (c_n - c_k)
            mean_t = sum(samples_t) / t_n
            mean_c = sum(samples_c) / c_n
            # population variance of a 0/1 sample = p(1-p)
            var_t = sum((x - mean_t) ** 2 for x in samples_t) / t_n
            var_c = sum((x - mean_c) ** 2 for x in samples_c) / c_n
            z = NormalDist().inv_cdf(0.975)
            half = z * math.sqrt(var_t / t_n + var_c / c_n)
            diff = mean_t - mean_c
            self.assertAlmostEqual(res["uplift_pp"], diff * 100, places=9)
            self.assertAlmostEqual(res["ci_low_pp"], (diff - half) * 100, places=9)
            self.assertAlmostEqual(res["ci_high_pp"], (diff + half) * 100, places=9)
            expected = "significant" if diff - half > 0 or diff + half < 0 else "not_significant"
            self.assertEqual(res["significance"], expected, (t_n, t_k, c_n, c_k))

    def test_small_groups_are_flagged_not_hidden(self):
        res = uplift.two_proportion(20, 10, 5, 0, min_group_size=30)
        self.assertEqual(res["significance"], "too_small")
        self.assertAlmostEqual(res["uplift_pp"], 50.0)
        self.assertIsNotNone(res["ci_low_pp"])
        self.assertEqual(uplift.two_proportion(20, 10, 0, 0)["significance"], "no_data")

    def test_economics(self):
        e = uplift.economics(100, 20000.0, 25, 2500.0, 1000.0, uplift_pp=10.0)
        # control earns 100 per customer: treated incremental = 20000 - 100 * 100
        self.assertEqual(e["incremental_revenue"], 10000.0)
        self.assertAlmostEqual(e["roi"], 9.0)
        self.assertAlmostEqual(e["cost_per_incremental"], 100.0)
        self.assertIsNone(
            uplift.economics(100, 0.0, 25, 0.0, 1000.0, uplift_pp=-5.0)["cost_per_incremental"]
        )
