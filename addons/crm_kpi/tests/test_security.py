import base64
import json
from datetime import date

from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

from .common import P_FROM, P_TO, KpiCase


@tagged("post_install", "-at_install", "multi_company")
class TestKpiSecurity(KpiCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._snapshot(P_FROM, P_TO, move=False)
        cls.other_company = cls.env["res.company"].create({"name": "Other KPI Co"})
        cls.outsider = new_test_user(
            cls.env,
            login="kpi_outsider",
            groups="sales_team.group_sale_manager",
            company_id=cls.other_company.id,
            company_ids=[cls.other_company.id],
        )
        cls.retention_manager = new_test_user(
            cls.env,
            login="kpi_ret_mgr",
            groups="base.group_user,crm_retention.group_retention_manager",
            company_id=cls.company.id,
            company_ids=[cls.company.id],
        )
        cls.env["crm.kpi.cohort"]._refresh(cls.company)

    def _users_seen(self, user, model="crm.kpi.customer.report"):
        return set(self.env[model].with_user(user).search([]).mapped("user_id"))

    def test_salesperson_sees_own_customers_only(self):
        [((), mine)] = self._report(P_FROM, P_TO, user=self.sales_b)
        expected = self._expected(
            P_FROM,
            P_TO,
            partners=(self.existing | self.won_back)
            .filtered(lambda p: p.user_id == self.sales_b)
            .ids,
        )
        self.assertEqual(mine["customers_start"], expected["customers_start"])
        self.assertEqual(mine["lost_count"], 11)
        self.assertLessEqual(self._users_seen(self.sales_b), {self.sales_b, self.env["res.users"]})
        self.assertLessEqual(
            self._users_seen(self.sales_b, "crm.kpi.cohort"), {self.sales_b, self.env["res.users"]}
        )

    def test_managers_see_the_whole_company(self):
        for user in (self.manager, self.retention_manager):
            [((), kpis)] = self._report(P_FROM, P_TO, user=user)
            self.assertEqual(kpis["customers_start"], 120, user.login)
            self.assertEqual(self._users_seen(user), {self.sales_a, self.sales_b})

    def test_other_company_sees_nothing(self):
        for model in (
            "crm.kpi.customer.report",
            "crm.kpi.cohort",
            "crm.kpi.funnel.report",
            "crm.kpi.channel.report",
            "crm.kpi.deal.report",
        ):
            rows = (
                self.env[model]
                .with_user(self.outsider)
                .with_context(allowed_company_ids=self.other_company.ids)
                .search([])
            )
            self.assertFalse(
                rows.filtered(lambda r: r.company_id == self.company), f"{model} leaks"
            )

    def test_salesperson_cannot_read_raw_snapshots_or_rebuild(self):
        Snapshot = self.env["crm.kpi.snapshot"].with_user(self.sales_a)
        self.assertFalse(Snapshot.has_access("read"))
        Wizard = self.env["crm.kpi.snapshot.backfill"].with_user(self.sales_a)
        self.assertFalse(Wizard.has_access("create"))

    def test_dashboard_for_managers_and_salesmen_on_their_own_customers(self):
        """Salesmen open the dashboard too; every figure it shows comes from
        models whose rules give them their own customers only."""
        dashboard = self.env.ref("crm_kpi.spreadsheet_dashboard_customer_retention")
        Dashboard = self.env["spreadsheet.dashboard"]
        for user in (self.manager, self.retention_manager, self.sales_a):
            self.assertIn(dashboard, Dashboard.with_user(user).search([]))
        data = json.loads(base64.b64decode(dashboard.spreadsheet_binary_data))
        right_now = {p["model"] for p in data["pivots"].values()}
        self.assertEqual(
            right_now,
            {"crm.kpi.customer.report", "crm.customer.profile", "crm.retention.campaign",
             "crm.interaction"},
        )  # fmt: skip
        profiles = self.env["crm.customer.profile"].with_user(self.sales_a).search([])
        self.assertTrue(profiles)
        self.assertLessEqual(set(profiles.mapped("user_id")), {self.sales_a, self.env["res.users"]})

    def _cohort_rows(self):
        Cohort = self.env["crm.kpi.cohort"]
        return Cohort.search_read([("company_id", "=", self.company.id)], load=False)

    def test_salesperson_cannot_rebuild_company_cohorts(self):
        """The heat-map's "Refresh Now" rebuilds the cohort table of the whole
        company: a salesperson only reads it (his own customers' rows)."""
        before = self._cohort_rows()
        self.assertTrue(before)
        # a deal since the nightly refresh: a rebuild would change the rows
        self.Lead.create(
            {
                "name": "Unrefreshed deal",
                "type": "opportunity",
                "partner_id": self.existing[0].id,
                "user_id": self.sales_b.id,
                "company_id": self.company.id,
                "stage_id": self.won_stage.id,
                "expected_revenue": 500,
                "date_closed": "2026-01-10 10:00:00",
            }
        )
        wizard = (
            self.env["crm.kpi.cohort.heatmap"]
            .with_user(self.sales_a)
            .create({"date_from": date(2024, 1, 1)})
        )
        self.assertTrue(wizard.heatmap, "the salesperson reads the heat-map")
        with self.assertRaises(AccessError):
            wizard.action_refresh()
        self.assertEqual(self._cohort_rows(), before, "no cohort row changed")
        # a manager may
        Heatmap = self.env["crm.kpi.cohort.heatmap"].with_user(self.manager)
        Heatmap.create({"date_from": date(2024, 1, 1)}).action_refresh()

        def cells(rows):
            return sorted(
                (r["user_id"], str(r["cohort_month"]), r["months_since"], r["buying_count"])
                for r in rows
            )

        self.assertNotEqual(cells(self._cohort_rows()), cells(before), "the new deal counts")
