import random
from datetime import date

import pandas as pd

from odoo.addons.crm_retention.lib import uplift
from odoo.tests import TransactionCase, new_test_user, tagged

MEASURES = [
    "member_count",
    "treated_count",
    "control_count",
    "retained_count",
    "treated_rate",
    "control_rate",
    "retention_rate",
    "uplift_pp",
    "retained_revenue",
    "incremental_revenue",
    "cost",
    "roi",
]


@tagged("post_install", "-at_install", "multi_company")
class TestCampaignReport(TransactionCase):
    """Three campaigns with known treated/control outcomes, set up by a
    retention manager, checked against pandas over the raw member rows.

    * Retain (first step SMS): 60 treated (21 retained), 20 control (4),
      two excluded customers that are not measured;
    * Win back (first step e-mail): 40 treated (10), 25 control (8), so a
      different control share and baseline (and a negative uplift);
    * Pilot: 8 treated, no control group: no uplift, no ROI;
    * a campaign of another company, with control.
    Members alternate between salesperson A, B and nobody, and are enrolled
    in January or February 2025.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True, mail_notrack=True))
        cls.company = cls.env["res.company"].create({"name": "Campaign KPI Co"})
        cls.other_company = cls.env["res.company"].create({"name": "Other Campaign KPI Co"})
        cls.env = cls.env(context=dict(cls.env.context, allowed_company_ids=[cls.company.id]))
        vals = {"company_id": cls.company.id, "company_ids": [cls.company.id]}
        cls.sales_a = new_test_user(
            cls.env, login="kpi_camp_a", groups="sales_team.group_sale_salesman", **vals
        )
        cls.sales_b = new_test_user(
            cls.env, login="kpi_camp_b", groups="sales_team.group_sale_salesman", **vals
        )
        # least-privileged campaign manager: not a sales manager
        cls.manager = new_test_user(
            cls.env,
            login="kpi_camp_mgr",
            groups="base.group_user,crm_retention.group_retention_manager",
            **vals,
        )
        cls.sales_manager = new_test_user(
            cls.env, login="kpi_camp_smgr", groups="sales_team.group_sale_manager", **vals
        )
        cls.outsider = new_test_user(
            cls.env,
            login="kpi_camp_out",
            groups="sales_team.group_sale_manager",
            company_id=cls.other_company.id,
            company_ids=[cls.other_company.id],
        )
        cls.partners = cls.env["res.partner"].create(
            [{"name": f"Campaign customer {i:03d}", "is_company": True} for i in range(160)]
        )
        rng = random.Random(20250115)
        cls.retain = cls._campaign(
            cls.manager, "Retain Q1", "retain", ["sms", "email"], 60, 21, 20, 4, rng, excluded=2
        )
        cls.win_back = cls._campaign(
            cls.manager, "Win back Q1", "win_back", ["email"], 40, 10, 25, 8, rng
        )
        cls.pilot = cls._campaign(cls.manager, "Pilot", "grow", [], 8, 3, 0, 0, rng)
        cls.foreign = cls._campaign(cls.outsider, "Foreign", "retain", ["sms"], 10, 5, 10, 1, rng)

    @classmethod
    def _campaign(cls, user, name, objective, channels, t_n, t_k, c_n, c_k, rng, excluded=0):
        """A running campaign with t_n treated (t_k retained) and c_n control
        (c_k retained) members, created by ``user``."""
        company = user.company_id
        env = cls.env(
            user=user,
            context=dict(
                cls.env.context, allowed_company_ids=company.ids, retention_no_default_steps=True
            ),
        )
        campaign = env["crm.retention.campaign"].create(
            {
                "name": name,
                "objective": objective,
                "company_id": company.id,
                "cost_per_member": 5.0,
                "step_ids": [
                    # the first step is the lowest sequence, not the first created
                    (0, 0, {"name": f"Step {i}", "action": action, "sequence": 20 - i})
                    for i, action in enumerate(reversed(channels))
                ],
            }
        )
        campaign.state = "running"
        used = cls.partners[: t_n + c_n + excluded] if company == cls.company else None
        if used is None:
            used = cls.env["res.partner"].create(
                [{"name": f"Foreign {i}"} for i in range(t_n + c_n + excluded)]
            )
        salespeople = [cls.sales_a, cls.sales_b, cls.env["res.users"]]
        rows = []
        for i, partner in enumerate(used):
            group = "treated" if i < t_n else "control" if i < t_n + c_n else "excluded"
            k = i if group == "treated" else i - t_n
            retained = group != "excluded" and k < (t_k if group == "treated" else c_k)
            revenue = rng.choice([300.0, 800.0, 1500.0]) if retained else 0.0
            contacted = group == "treated"
            rows.append(
                {
                    "campaign_id": campaign.id,
                    "partner_id": partner.id,
                    "user_id": salespeople[i % 3].id if company == cls.company else False,
                    "member_group": group,
                    "enrol_date": date(2025, 1 + i % 2, 1 + i % 27),
                    "state": "retained" if retained else "not_retained",
                    "retained_count": int(retained),
                    "revenue": revenue,
                    "contact_cost": 5.0 if contacted else 0.0,
                    "offer_cost": round(revenue * 0.1, 2) if contacted else 0.0,
                    "cost": 5.0 + round(revenue * 0.1, 2) if contacted else 0.0,
                }
            )
        env["crm.retention.campaign.member"].create(rows)
        return campaign

    # ------------------------------------------------------------------
    # the independent computation
    # ------------------------------------------------------------------

    def _members(self, user_ids=None):
        """Raw member rows of our company, read with the ORM."""
        records = (
            self.env["crm.retention.campaign.member"]
            .sudo()
            .search(
                [
                    ("company_id", "=", self.company.id),
                    ("member_group", "in", ("treated", "control")),
                ]
            )
        )
        df = pd.DataFrame(
            [
                {
                    "campaign": m.campaign_id.id,
                    "group": m.member_group,
                    "user": m.user_id.id or False,
                    "month": m.enrol_date.replace(day=1),
                    "retained": m.retained_count,
                    "revenue": m.revenue,
                    "cost": m.cost,
                }
                for m in records
            ]
        )
        return df

    @staticmethod
    def _expected(df, baseline_df=None):
        """KPIs of the rows ``df``, with control baselines taken per campaign
        from ``baseline_df`` (the whole campaigns)."""
        baseline_df = df if baseline_df is None else baseline_df
        control = baseline_df[baseline_df["group"] == "control"].groupby("campaign")
        c_rate = control["retained"].mean()
        c_rev = control["revenue"].mean()
        treated = df[df["group"] == "treated"]
        measured = treated[treated["campaign"].isin(c_rate.index)]
        per_campaign = measured.groupby("campaign").agg(
            n=("retained", "size"), k=("retained", "sum"), rev=("revenue", "sum"),
            cost=("cost", "sum"),
        )  # fmt: skip
        inc_k = (per_campaign["k"] - per_campaign["n"] * c_rate[per_campaign.index]).sum()
        inc_rev = (per_campaign["rev"] - per_campaign["n"] * c_rev[per_campaign.index]).sum()
        base_n, base_cost = per_campaign["n"].sum(), per_campaign["cost"].sum()
        ctrl = df[df["group"] == "control"]
        return {
            "member_count": len(df),
            "treated_count": len(treated),
            "control_count": len(ctrl),
            "retained_count": df["retained"].sum(),
            "treated_rate": 100 * treated["retained"].mean() if len(treated) else None,
            "control_rate": 100 * ctrl["retained"].mean() if len(ctrl) else None,
            "retention_rate": 100 * df["retained"].mean(),
            "uplift_pp": 100 * inc_k / base_n if base_n else None,
            "retained_revenue": treated["revenue"].sum(),
            "incremental_revenue": inc_rev if base_n else None,
            "cost": df["cost"].sum(),
            "roi": (inc_rev - base_cost) / base_cost if base_cost else None,
        }

    def _report(self, groupby=(), domain=(), user=None):
        user = user or self.manager
        Report = (
            self.env["crm.kpi.campaign.report"]
            .with_user(user)
            .with_context(allowed_company_ids=user.company_ids.ids)
        )
        rows = Report._read_group(list(domain), list(groupby), [f"{m}:sum" for m in MEASURES])
        return {
            row[: len(groupby)]: dict(zip(MEASURES, row[len(groupby) :], strict=True))
            for row in rows
        }

    def assertKpis(self, actual, expected, msg=""):
        for key in MEASURES:
            exp, got = expected[key], actual[key]
            if exp is None:
                self.assertIn(got, (None, False), f"{msg} {key}")
            else:
                self.assertAlmostEqual(got, float(exp), places=4, msg=f"{msg} {key}")

    # ------------------------------------------------------------------
    # tests
    # ------------------------------------------------------------------

    def test_per_campaign_matches_raw_members(self):
        df = self._members()
        report = self._report(["campaign_id"])
        # not the other company's campaign
        self.assertEqual({key[0] for key in report}, set(self.retain | self.win_back | self.pilot))
        for campaign in self.retain | self.win_back | self.pilot:
            rows = df[df["campaign"] == campaign.id]
            self.assertKpis(report[(campaign,)], self._expected(rows), campaign.name)
        retain = report[(self.retain,)]
        # the known answer: 21/60 = 35 % treated against 4/20 = 20 % control
        self.assertEqual((retain["treated_count"], retain["control_count"]), (60, 20))
        self.assertAlmostEqual(retain["uplift_pp"], 15.0)
        # a campaign without a control group proves nothing: no uplift, no ROI
        self.assertFalse(report[(self.pilot,)]["uplift_pp"])
        self.assertFalse(report[(self.pilot,)]["roi"])

    def test_same_figures_as_the_campaign_form(self):
        """The report agrees with the campaign's own results (crm_retention's
        read_group and lib.uplift), which a manager sees on the form."""
        report = self._report(["campaign_id"])
        for campaign in (self.retain | self.win_back).with_user(self.manager):
            test = uplift.two_proportion(
                campaign.treated_count, campaign.treated_retained,
                campaign.control_count, campaign.control_retained,
            )  # fmt: skip
            row = report[(campaign,)]
            self.assertAlmostEqual(row["uplift_pp"], test["uplift_pp"], places=6)
            self.assertAlmostEqual(row["uplift_pp"], campaign.uplift_pp, places=6)
            self.assertAlmostEqual(row["treated_rate"], 100 * campaign.treated_rate, places=6)
            self.assertAlmostEqual(row["retained_revenue"], campaign.retained_revenue, places=2)
            self.assertAlmostEqual(row["cost"], campaign.total_cost, places=2)
            self.assertAlmostEqual(row["roi"], campaign.roi, places=2)  # stored with 2 digits

    def test_totals_weight_campaigns_by_treated_members(self):
        """Over several campaigns the uplift compares each campaign's treated
        members with its own control group, never with a pooled one."""
        df = self._members()
        [total] = self._report().values()
        self.assertKpis(total, self._expected(df), "all campaigns")
        expected = 100 * (60 * (21 / 60 - 4 / 20) + 40 * (10 / 40 - 8 / 25)) / (60 + 40)
        self.assertAlmostEqual(total["uplift_pp"], expected)  # 6.2 pp
        pooled = 100 * (31 / 100 - 12 / 45)  # 4.3 pp
        self.assertNotAlmostEqual(total["uplift_pp"], pooled, places=2)

    def test_slices(self):
        df = self._members()
        by_group = self._report(["campaign_id", "member_group"])
        treated = by_group[(self.retain, "treated")]
        self.assertEqual(treated["member_count"], 60)
        self.assertAlmostEqual(treated["treated_rate"], 35.0)
        self.assertAlmostEqual(treated["uplift_pp"], 15.0)  # against the campaign's control
        self.assertFalse(by_group[(self.retain, "control")]["uplift_pp"])
        by_month = self._report(["enrol_date:month", "channel", "objective"])
        for (month, channel, objective), kpis in by_month.items():
            campaigns = {"sms": self.retain, "email": self.win_back}.get(channel, self.pilot)
            self.assertEqual(campaigns.objective, objective)
            rows = df[(df["campaign"] == campaigns.id) & (df["month"] == month)]
            self.assertKpis(kpis, self._expected(rows, df), f"{month} {channel}")
        self.assertEqual(sum(k["member_count"] for k in by_month.values()), len(df))

    def test_salesperson_sees_own_customers_only(self):
        df = self._members()
        mine = df[df["user"].isin([self.sales_a.id, False])]
        [total] = self._report(user=self.sales_a).values()
        # its own treated customers against the campaigns' whole control groups
        self.assertKpis(total, self._expected(mine, df), "salesperson A")
        self.assertLess(total["member_count"], len(df))
        seen = self.env["crm.kpi.campaign.report"].with_user(self.sales_a).search([])
        self.assertLessEqual(set(seen.mapped("user_id")), {self.sales_a, self.env["res.users"]})
        for user in (self.manager, self.sales_manager):
            [total] = self._report(user=user).values()
            self.assertEqual(total["member_count"], len(df), user.login)

    def test_other_company_sees_nothing(self):
        seen = (
            self.env["crm.kpi.campaign.report"]
            .with_user(self.outsider)
            .with_context(allowed_company_ids=self.other_company.ids)
            .search([])
        )
        self.assertEqual(set(seen.campaign_id.ids), {self.foreign.id})
        [total] = self._report(user=self.outsider).values()
        self.assertEqual(total["member_count"], 20)
        self.assertAlmostEqual(total["uplift_pp"], 50.0 - 10.0)
        mine = self.env["crm.kpi.campaign.report"].with_user(self.manager).search([])
        self.assertNotIn(self.foreign, mine.campaign_id)

    def test_pivot_read_group(self):
        """What the pivot view asks for: read_group with the ratio measures."""
        [row] = (
            self.env["crm.kpi.campaign.report"]
            .with_user(self.manager)
            .read_group(
                [("campaign_id", "=", self.win_back.id)],
                ["uplift_pp:sum", "roi:sum", "treated_rate:sum", "member_count:sum"],
                ["campaign_id"],
                lazy=False,
            )
        )
        self.assertEqual(row["member_count"], 65)
        self.assertAlmostEqual(row["treated_rate"], 25.0)
        self.assertAlmostEqual(row["uplift_pp"], 25.0 - 32.0)
