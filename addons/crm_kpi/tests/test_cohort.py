from collections import defaultdict
from datetime import date

from odoo.tests import tagged

from ..lib import cohort
from .common import KpiCase


@tagged("post_install", "-at_install")
class TestCohort(KpiCase):
    def _expected(self, as_of):
        """Cohorts with plain Python sets from the won opportunities."""
        leads = self.Lead.sudo().search(
            [("company_id", "=", self.company.id), ("stage_id.is_won", "=", True)]
        )
        months = defaultdict(set)
        for lead in leads:
            if lead.expected_revenue >= 0:
                d = lead.date_closed.date()
                months[lead.partner_id.commercial_partner_id.id].add(d.year * 12 + d.month - 1)
        limit = as_of.year * 12 + as_of.month - 1
        size, buying = defaultdict(int), defaultdict(int)
        for bought in months.values():
            bought = {m for m in bought if m <= limit}
            if not bought:
                continue
            first = min(bought)
            size[first] += 1
            for m in bought:
                buying[first, m - first] += 1
        return size, buying

    def test_cohort_rows_match_plain_python(self):
        as_of = date(2025, 4, 30)
        self.env["crm.kpi.cohort"]._refresh(self.company, as_of=as_of)
        size, buying = self._expected(as_of)
        groups = self.env["crm.kpi.cohort"]._read_group(
            [("company_id", "=", self.company.id)],
            ["cohort_month:month", "months_since"],
            ["cohort_size:sum", "buying_count:sum", "retention_rate:sum"],
        )
        self.assertTrue(groups)
        for month, since, n, b, rate in groups:
            key = month.year * 12 + month.month - 1
            self.assertEqual(n, size[key], f"{month} size")
            self.assertEqual(b, buying.get((key, since), 0), f"{month} +{since}")
            self.assertAlmostEqual(rate, 100.0 * b / n)
        # every cohort has a cell per month up to as_of, zeros included
        march = [g for g in groups if g[0] == date(2025, 3, 1)]
        self.assertEqual(sorted(g[1] for g in march), [0, 1])
        self.assertEqual(sum(size.values()), 133)

    def test_heatmap_shows_the_shares(self):
        self.env["crm.kpi.cohort"]._refresh(self.company, as_of=date(2025, 4, 30))
        wizard = (
            self.env["crm.kpi.cohort.heatmap"]
            .with_user(self.manager)
            .create({"date_from": date(2025, 3, 1)})
        )
        html = str(wizard.heatmap)
        self.assertIn("2025-03", html)
        self.assertIn("100%", html, "every March cohort customer bought in March")
        self.assertNotIn("2024-", html)
        action = wizard.action_open_pivot()
        self.assertEqual(action["res_model"], "crm.kpi.cohort")

    def test_heat_map_opens_computed_under_its_title(self):
        """Before the first nightly run a salesman opening the report sees the
        heat map (computed on opening), titled "Cohort Retention"."""
        Cohort = self.env["crm.kpi.cohort"].sudo()
        Cohort.search([("company_id", "=", self.company.id)]).unlink()
        action = self.env["crm.kpi.cohort.heatmap"].with_user(self.sales_a).action_open()
        wizard = self.env[action["res_model"]].with_user(self.sales_a).browse(action["res_id"])
        self.assertEqual((action["name"], wizard.display_name), ("Cohort Retention",) * 2)
        wizard.date_from = date(2025, 3, 1)
        self.assertIn("2025-03", str(wizard.heatmap))
        self.assertNotIn("No customer", str(wizard.heatmap))

    def test_lib_empty_input(self):
        import pandas as pd

        rows = cohort.cohort_rows(
            pd.DataFrame(columns=["partner_id", "deal_date"]), as_of="2025-01-31"
        )
        self.assertTrue(rows.empty)
        self.assertIn("No data", cohort.heatmap_html([]))
