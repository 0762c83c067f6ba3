from datetime import datetime, timedelta

from odoo.addons.crm_retention.tests.common import (
    TODAY,
    CampaignCase,
    extra_deals,
    foreign_currency,
)
from odoo.tests import tagged
from odoo.tools import SQL


@tagged("post_install", "-at_install")
class TestOneDealSource(CampaignCase):
    """Every reader of deals reads the one deal source
    (``crm.customer.profile._deal_source_sql``): a deal a bridge adds (here
    a test-only source in another currency, as a sale order bridge would)
    shows with the same amount and date in the lifecycle, Won Deals, the
    KPI snapshot, cohorts and campaign outcomes; a won opportunity without
    company or closing date counts the same way everywhere too."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # one-time buyers of 150 days ago (1,000 each), a lapsing pair
        cls.customer, cls.bystander = cls._lapsed_customers(2, prefix="Bridged")
        cls.other = foreign_currency(cls.company, {TODAY - timedelta(days=400): 0.5})

    def _snapshot_rows(self, day):
        self.env["crm.kpi.snapshot"]._backfill(day, day, self.company)
        return self.env["crm.kpi.snapshot"].search(
            [("company_id", "=", self.company.id), ("date", "=", day)]
        )

    def _won_deals(self, partner):
        report = self.env["crm.kpi.deal.report"].with_user(self.salesman)
        return sorted(
            (d.date, d.company_id, round(d.amount, 2))
            for d in report.search([("partner_id", "=", partner.id)])
        )

    def test_a_bridged_deal_counts_alike_everywhere(self):
        campaign = self._campaign(control_share=0.0)
        member = self._launch(campaign).filtered(lambda m: m.partner_id == self.customer)
        self.assertTrue(member, "the lapsing customer is enrolled")
        bought = TODAY - timedelta(days=150)
        # 500 in a currency worth half the company's: 1,000 everywhere
        deal = [(self.customer, self.company, TODAY, 500.0, self.other)]
        with extra_deals(self.env, deal, user=self.salesman):
            self.Profile.sudo()._recompute_partners(self.customer.ids, self.company, today=TODAY)
            won_deals = self._won_deals(self.customer)
            snapshot = self._snapshot_rows(TODAY)
            self.env["crm.kpi.cohort"]._refresh(self.company, as_of=TODAY)

        profile = self._profile(self.customer)
        self.assertEqual((profile.won_count, profile.won_revenue), (2, 2000.0), "lifecycle")
        self.assertEqual(profile.last_deal_date, TODAY)
        self.assertEqual(
            won_deals,
            [(bought, self.company, 1000.0), (TODAY, self.company, 1000.0)],
            "Won Deals: the opportunity and the bridged deal, converted",
        )
        self.assertEqual(sum(snapshot.mapped("deal_count")), 1, "snapshot: the day's one deal")
        self.assertAlmostEqual(sum(snapshot.mapped("revenue")), 1000.0, places=2)
        cohort = self.env["crm.kpi.cohort"].search(
            [
                ("company_id", "=", self.company.id),
                ("cohort_month", "=", bought.replace(day=1)),
                ("months_since", "=", 5),
            ]
        )
        self.assertEqual(sum(cohort.mapped("buying_count")), 1, "cohort: bought again in June")
        self.assertEqual(member.state, "retained", "campaign outcome")
        self.assertAlmostEqual(member.revenue, 1000.0, places=2)

    def test_a_bridged_first_deal_brings_its_channel(self):
        newcomer = self._customer("Came through a sale order")
        medium = self.env["utm.medium"].create({"name": "Trade fair"})
        deal = [(newcomer, self.company, TODAY, 800.0, self.company.currency_id)]
        with extra_deals(self.env, deal, user=self.salesman, medium=medium):
            self.Profile.sudo()._recompute_partners(newcomer.ids, self.company, today=TODAY)
            snapshot = self._snapshot_rows(TODAY)
        acquired = snapshot.filtered(lambda r: r.acquired_count)
        self.assertEqual(sum(acquired.mapped("acquired_count")), 1, "acquired on its first deal")
        self.assertEqual(acquired.medium_id, medium, "its channel is the deal's medium")

    def _raw_lead(self, partner, **sql_values):
        """A won opportunity as an import or a database edit leaves it:
        ``sql_values`` written behind the ORM (the fallbacks' cases)."""
        lead = self._deal(partner, 40, amount=700.0)
        assignments = SQL(", ").join(
            SQL("%s = %s", SQL.identifier(k), v) for k, v in sql_values.items()
        )
        self.env.flush_all()
        self.env.cr.execute(SQL("UPDATE crm_lead SET %s WHERE id = %s", assignments, lead.id))
        self.env.invalidate_all()
        return lead

    def test_a_won_lead_without_company_counts_in_its_customers_company(self):
        customer = self._customer("No company on the deal", company_id=self.company.id)
        self._raw_lead(customer, company_id=None)
        self.Profile.sudo()._recompute_partners(customer.ids, self.company, today=TODAY)
        day = TODAY - timedelta(days=40)
        self.assertEqual(self._won_deals(customer), [(day, self.company, 700.0)])
        self.assertEqual(self._profile(customer).won_revenue, 700.0)
        self.assertAlmostEqual(sum(self._snapshot_rows(day).mapped("revenue")), 700.0, places=2)

    def test_a_won_lead_without_closing_date_counts_at_its_last_stage_change(self):
        customer = self._customer("No closing date")
        moved = TODAY - timedelta(days=12)
        self._raw_lead(
            customer, date_closed=None, date_last_stage_update=datetime(*moved.timetuple()[:3], 9)
        )
        self.Profile.sudo()._recompute_partners(customer.ids, self.company, today=TODAY)
        self.assertEqual(self._won_deals(customer), [(moved, self.company, 700.0)])
        self.assertEqual(self._profile(customer).last_deal_date, moved)
        self.assertAlmostEqual(sum(self._snapshot_rows(moved).mapped("revenue")), 700.0, places=2)

    def test_risk_levels_are_the_profiles(self):
        """The Won Deals report offers the profile's risk levels, not a copy."""
        Profile, Report = self.env["crm.customer.profile"], self.env["crm.kpi.deal.report"]
        self.assertEqual(
            Report._fields["risk_level"].selection, Profile._fields["risk_level"].selection
        )
        self.assertIs(
            Report._fields["risk_level"].selection, Profile._fields["risk_level"].selection
        )
