"""What to offer: segment uplifts from finished experiments, shrunk toward
their offer's, and the offer that pays for each customer at risk."""

import unittest

from odoo.tests import tagged

from ..lib import nba
from .common import TODAY, CampaignCase

# known effects: retention of the control group and of the treated, per
# offer and segment (risk band, value band)
TRUTH = {
    ("retain:percentage", "high", "high"): (0.20, 0.40),  # +20 points
    ("retain:percentage", "medium", "mid"): (0.30, 0.30),  # no effect
    ("retain:call", "high", "high"): (0.20, 0.25),  # +5 points
    ("retain:call", "medium", "mid"): (0.30, 0.30),  # no effect
}
COSTS = {"retain:percentage": 100.0, "retain:call": 40.0}


def cells(treated=300, control=100):
    return [
        nba.Cell(offer, risk, value, treated, round(treated * t), control, round(control * c))
        for (offer, risk, value), (c, t) in TRUTH.items()
    ]


class TestNextBestActionLib(unittest.TestCase):
    def test_the_segment_with_a_real_uplift_gets_the_offer_that_pays(self):
        picks = nba.recommend(
            [("high", "high", 5000.0), ("medium", "mid", 800.0), ("low", "low", 9000.0)],
            nba.estimate(cells()),
            COSTS,
        )
        # +20 points x 5000 - 100 beats +5 points x 5000 - 40
        self.assertEqual((picks[0].action, picks[0].offer), ("offer", "retain:percentage"))
        self.assertAlmostEqual(picks[0].margin, picks[0].estimate.shrunk * 5000 - 100)
        # no effect: nothing pays its cost
        self.assertEqual((picks[1].action, picks[1].offer), ("no_action", None))
        # never tested on such customers: run an experiment
        self.assertEqual((picks[2].action, picks[2].offer), ("experiment", None))

    def test_small_segments_are_shrunk_toward_the_offer_and_too_small_ones_left_out(self):
        noisy = [
            *cells(),
            # 12 + 12 members with a spectacular +50 points
            nba.Cell("retain:percentage", "medium", "high", 12, 9, 12, 3),
            # fewer than MIN_GROUP controls: no estimate of its own
            nba.Cell("retain:percentage", "low", "mid", 50, 30, 5, 1),
        ]
        est = {(e.offer, e.risk_band, e.value_band): e for e in nba.estimate(noisy)}
        small = est["retain:percentage", "medium", "high"]
        self.assertAlmostEqual(small.uplift, 0.5)
        self.assertLess(small.shrunk, small.uplift)
        self.assertLess(small.low, small.shrunk)
        self.assertGreater(small.high, small.shrunk)
        # large segments keep (nearly) their own effect
        big = est["retain:percentage", "high", "high"]
        self.assertAlmostEqual(big.shrunk, 0.2, delta=0.02)
        self.assertNotIn(("retain:percentage", "low", "mid"), est)

    def test_no_control_group_no_estimate(self):
        self.assertEqual(nba.estimate([nba.Cell("retain:call", "high", "high", 50, 20, 0, 0)]), [])


@tagged("post_install", "-at_install")
class TestNextBestAction(CampaignCase):
    """The recommendation on the profiles, from members in the database."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.customers = cls._lapsed_customers(6, prefix="Target")
        cls.profiles = cls.Profile.sudo().search([("partner_id", "in", cls.customers.ids)])
        # today's customers: two high-risk high-value, two medium-risk
        # mid-value, two low-risk low-value (never tested)
        for profile, (risk, value) in zip(
            cls.profiles,
            [
                ("high", 9000),
                ("high", 8000),
                ("medium", 700),
                ("medium", 650),
                ("low", 10),
                ("low", 20),
            ],  # fmt: skip
            strict=True,
        ):
            profile.write({"risk_level": risk, "value_at_risk": value})
        # past experiments: members of finished campaigns with the known effects
        # past customers (a member once per campaign): profiles of their own
        past = cls.env["res.partner"].create(
            [{"name": f"Past {i:03d}", "is_company": True} for i in range(400)]
        )
        cls.past = cls.Profile.sudo().create(
            [{"partner_id": p.id, "company_id": cls.company.id} for p in past]
        )
        cls._experiment("retain", "percentage", treated=150, control=50)
        cls._experiment("retain", "call", treated=150, control=50)
        # a campaign without control group proves nothing: left out
        cls._experiment("retain", "service", treated=150, control=0, effect=0.9)

    @classmethod
    def _experiment(cls, objective, offer_type, treated, control, effect=None):
        campaign = cls.Campaign.sudo().create(
            {
                "name": f"{objective} {offer_type}",
                "objective": objective,
                "offer_type": offer_type,
                "company_id": cls.company.id,
                "state": "done",
            }
        )
        offer = f"{objective}:{offer_type}"
        past = iter(cls.past)
        vals = []
        for (key, risk, value), (c_rate, t_rate) in TRUTH.items():
            if key != offer and effect is None:
                continue
            t_rate = effect if effect is not None else t_rate
            # value bands: the terciles of today's customers at risk
            amount = {"high": 8500.0, "mid": 675.0}[value]
            for group, n, rate in (("treated", treated, t_rate), ("control", control, c_rate)):
                kept = round(n * rate)
                members = [next(past) for _i in range(n)]
                vals += [
                    {
                        "campaign_id": campaign.id,
                        "profile_id": member.id,
                        "partner_id": member.partner_id.id,
                        "member_group": group,
                        "enrol_date": TODAY,
                        "enrol_risk_level": risk,
                        "enrol_value_at_risk": amount,
                        "outcome_final": True,
                        "retained_count": 1 if i < kept else 0,
                        "cost": COSTS.get(offer, 50.0) if group == "treated" else 0.0,
                        "state": "targeted",
                    }
                    for i, member in enumerate(members)
                ]
            if effect is not None:
                break
        cls.Member.sudo().create(vals)

    def test_customers_get_the_offer_that_pays_with_its_evidence(self):
        plan = self.Profile.sudo()._recommend_company(self.company)
        # the offer without control group gave no estimate
        self.assertEqual({e[0] for e in plan["estimates"]}, {"retain:percentage", "retain:call"})
        by_value = {p.value_at_risk: p.with_user(self.salesman) for p in self.profiles}
        # what the library recommends for the same customers
        cells, bounds, costs = self.Profile.sudo()._nba_evidence(self.company)
        estimates = nba.estimate(cells)
        expected = nba.recommend(
            [(p.risk_level, nba.value_band(p.value_at_risk, bounds), p.value_at_risk)
             for p in self.profiles],
            estimates,
            costs,
        )  # fmt: skip
        for profile, pick in zip(self.profiles, expected, strict=True):
            self.assertEqual(profile.recommended_action, pick.action, profile.partner_id.name)
            self.assertEqual(profile.recommended_offer or None, pick.offer)
        high = by_value[9000]
        self.assertEqual(high.recommended_action, "offer")
        self.assertEqual(high.recommended_offer, "retain:percentage")
        self.assertEqual(
            high.recommended_offer_label, "Retain at-risk customers: Percentage discount"
        )
        self.assertIn("Retention +", high.recommendation_evidence)
        self.assertIn("1 campaign(s)", high.recommendation_evidence)
        self.assertIn("200 similar customers", high.recommendation_evidence)
        self.assertEqual(by_value[700].recommended_action, "no_action")
        self.assertEqual(by_value[10].recommended_action, "experiment")
        self.assertIn("run one (with a control group)", by_value[10].recommendation_evidence)

        # a campaign can target the customers an offer pays for
        campaign = self._campaign(
            name="Percentage where it pays",
            target_domain="[('recommended_offer', '=', 'retain:percentage')]",
        )
        targets = campaign._get_target_profiles()
        self.assertEqual(set(targets.mapped("value_at_risk")), {9000, 8000})

    def test_without_experiments_everyone_at_risk_is_advised_to_run_one(self):
        self.Member.sudo().search([]).unlink()
        self.Profile.sudo()._recommend_company(self.company)
        self.assertEqual(set(self.profiles.mapped("recommended_action")), {"experiment"})

    def _recommendations(self, profiles):
        profiles.invalidate_recordset()
        return {
            p.partner_id.name: (p.stage_id.kind, p.recommended_action, p.recommended_offer)
            for p in profiles
        }

    def test_a_won_deal_moves_the_recommendation_at_once(self):
        self.Profile.sudo()._recommend_company(self.company)
        high = self.profiles.filtered(lambda p: p.value_at_risk == 9000)
        self.assertEqual(high.recommended_action, "offer")
        # the salesperson wins a deal with the customer: it is no longer at
        # risk, and nobody is told to send it a discount any more
        self.env["crm.lead"].with_user(self.salesman).create(
            {
                "name": "Comeback order",
                "type": "opportunity",
                "partner_id": high.partner_id.id,
                "user_id": self.salesman.id,
                "stage_id": self.won_stage.id,
                "expected_revenue": 2000.0,
            }
        )
        high.invalidate_recordset()
        self.assertNotIn(high.stage_id.kind, ("at_risk", "lost"))
        self.assertFalse(high.recommended_action)
        self.assertFalse(high.recommended_offer)

    def test_the_nightly_run_writes_the_recommendations_in_its_batches(self):
        self.Profile.sudo()._recompute_company(self.company, today=TODAY)
        model = self.env["crm.retention.model"].sudo()._get_for_company(self.company)
        # the evidence the night used: the two experiments with a control group
        self.assertEqual(
            {e[0] for e in model.nba_plan["estimates"]}, {"retain:percentage", "retain:call"}
        )
        after_run = self._recommendations(self.profiles)
        for name, (kind, action, _offer) in after_run.items():
            self.assertEqual(bool(action), kind in ("at_risk", "lost"), name)
        # a full pass with the same evidence finds nothing to change: the
        # batches wrote what it would have written
        self.Profile.sudo()._recommend_company(self.company, plan=model.nba_plan)
        self.assertEqual(self._recommendations(self.profiles), after_run)
