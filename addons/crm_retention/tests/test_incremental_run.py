from datetime import timedelta

from odoo.tests import tagged
from odoo.tools import SQL

from ..recompute.layout import METRIC_COLUMNS
from .common import TODAY, RetentionCase

# the churn model's parameters, where its next fit starts
PARAMS = ("r", "alpha", "a", "b", "gg_p", "gg_q", "gg_v")


@tagged("post_install", "-at_install")
class TestIncrementalRun(RetentionCase):
    """The nightly run reads the aggregates the profiles store and re-reads
    only the deals of the customers that may have changed: the profiles it
    writes must be those a run reading every deal writes."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._regulars(count=30)
        cls.alice = cls._customer("Alice Ltd")
        cls._deal(cls.alice, 200, amount=500.0)
        cls._deal(cls.alice, 100, amount=700.0)
        cls.bob = cls._customer("Bob Corp")
        cls._deal(cls.bob, 50, amount=300.0)
        cls.carol = cls._customer("Carol SA")
        cls.carol_contact = cls.env["res.partner"].create(
            {"name": "Dave (Carol)", "parent_id": cls.carol.id}
        )
        cls._deal(cls.carol_contact, 30, amount=900.0)
        cls.erin = cls._customer("Erin GmbH")
        cls._deal(cls.erin, 400, amount=250.0)
        cls.Model = cls.env["crm.retention.model"].sudo()

    def _model(self):
        model = self.Model._get_for_company(self.company)
        model.invalidate_recordset()
        return model

    def _night(self, days, full=False):
        """The run dated ``days`` after TODAY; returns what it read."""
        # the fit starts from the last run's parameters (warm start): a
        # full read compared with this run starts from the same ones
        model = self._model()
        self.params_before = {key: model[key] for key in PARAMS}
        self.Profile.sudo()._recompute_company(
            self.company, today=TODAY + timedelta(days=days), full=full
        )
        model = self._model()
        return model.run_aggregate, model.run_reread

    def _profiles(self):
        """What the run decided for every customer: the metrics and stage."""
        self.env.flush_all()
        columns = ["partner_id", *METRIC_COLUMNS, "stage_id"]
        return self.env.execute_query(
            SQL(
                "SELECT %s FROM crm_customer_profile WHERE company_id = %s ORDER BY partner_id",
                SQL(", ").join(SQL.identifier(c) for c in columns),
                self.company.id,
            )
        )

    def _assert_incremental_as_full_read(self, days):
        """The night ``days`` after TODAY reads only the changed customers
        and decides as a full read of the same day."""
        self.assertEqual(self._night(days)[0], "incremental")
        self._assert_same_as_full_read(days)

    def _assert_same_as_full_read(self, days):
        incremental = self._profiles()
        self._model().write(self.params_before)
        self.assertEqual(self._night(days, full=True)[0], "full")
        self.assertEqual(self._profiles(), incremental)

    def test_nightly_run_rereads_only_changed_customers_and_decides_as_a_full_read(self):
        self.assertEqual(self._night(0)[0], "full")
        # the next day, through the ORM: Bob buys again, one of Alice's deals
        # is lost after all; a lead for a new prospect is loaded in SQL (no
        # refresh: only its new id tells)
        self._deal(self.bob, 0, amount=450.0)
        self.env["crm.lead"].with_user(self.salesman).search(
            [("partner_id", "=", self.alice.id), ("expected_revenue", "=", 700.0)]
        ).write({"stage_id": self.open_stage.id})
        prospect = self._customer("Frank Prospect")
        self.env.flush_all()
        self.env.cr.execute(
            """INSERT INTO crm_lead (name, type, partner_id, company_id, active, stage_id,
                                     expected_revenue, create_date, write_date)
               VALUES ('Imported lead', 'opportunity', %s, %s, true, %s, 100, now(), now())""",
            [prospect.id, self.company.id, self.open_stage.id],
        )
        read, reread = self._night(1)
        self.assertEqual(read, "incremental")
        # Frank (a new lead), Bob and any regular who bought on the day of
        # the last run (a deal that day may have come after the run)
        self.assertLess(reread, 10)
        frank = self._profile(prospect)
        self.assertEqual(frank.opportunity_count, 1)
        self.assertEqual(self._profile(self.bob).won_count, 2)
        self.assertEqual(self._profile(self.alice).won_revenue, 500.0)
        self._assert_same_as_full_read(1)

    def test_deal_dated_in_the_future_moves_with_the_days(self):
        """A deal dated ahead counts on the run's date (as a full read clamps
        it): the nightly run re-reads its customer every day until then."""
        self._deal(self.erin, -3, amount=800.0)
        self._night(0, full=True)
        self.assertEqual(self._profile(self.erin).last_deal_date, TODAY)
        self.assertEqual(self._night(2)[0], "incremental")
        self.assertEqual(self._profile(self.erin).last_deal_date, TODAY + timedelta(days=2))
        self._assert_same_as_full_read(2)

    def test_refresh_on_the_users_date_is_read_again_at_night(self):
        """A refresh clamps a deal to its user's date (a day behind the
        server's in another timezone): the nightly run re-reads that
        customer on its own date."""
        lead = self._deal(self.erin, 0, amount=100.0, won=False)
        self._night(0)
        lead.with_user(self.salesman).write(
            {"stage_id": self.won_stage.id, "date_closed": f"{TODAY} 10:00:00"}
        )
        # as a user whose day is still yesterday would have refreshed it
        self.Profile.sudo()._recompute_partners([self.erin.id], self.company, TODAY - timedelta(1))
        self.assertEqual(self._profile(self.erin).last_deal_date, TODAY - timedelta(1))
        self.assertEqual(self._night(1)[0], "incremental")
        self.assertEqual(self._profile(self.erin).last_deal_date, TODAY)
        self._assert_same_as_full_read(1)

    def test_recompute_now_restarts_a_run_left_half_way_in_full(self):
        self._night(0)
        model = self._model()
        # a night that read only the changed customers died after its
        # first phase (its work table prepared)
        self.Profile.sudo()._prepare_run(self.company, model, TODAY + timedelta(1))
        self.assertEqual((model.run_state, model.run_aggregate), ("running", "incremental"))
        model._run_requested_recompute()
        model.invalidate_recordset()
        self.assertEqual((model.run_state, model.run_aggregate), ("done", "full"))

    def test_contact_moved_to_another_company_moves_its_deals_at_once(self):
        self._night(0)
        self.assertEqual(self._profile(self.carol).won_count, 1)
        self.carol_contact.with_user(self.salesman).parent_id = self.erin
        # at once, not at the next full read: the nightly run trusts the
        # stored aggregates of customers whose documents did not change
        self.assertEqual(self._profile(self.carol).won_count, 0)
        self.assertEqual(self._profile(self.erin).won_count, 2)
        self.assertEqual(self._profile(self.erin).won_revenue, 1150.0)
        self._assert_incremental_as_full_read(1)

    def test_customer_moved_under_a_company_leaves_no_profile_behind(self):
        self._night(0)
        self.bob.with_user(self.salesman).write({"is_company": False, "parent_id": self.carol.id})
        # Bob's deals are Carol's now; Bob is a contact, with nothing of his own
        self.assertEqual(self._profile(self.carol).won_count, 2)
        bob = self.Profile.search(
            [("partner_id", "=", self.bob.id), ("company_id", "=", self.company.id)]
        )
        self.assertEqual((bob.won_count, bob.won_revenue), (0, 0.0))
        self._assert_incremental_as_full_read(1)

    def test_deleted_contact_takes_its_leads_from_its_company(self):
        self._deal(self.carol_contact, 5, won=False)
        self._night(0)
        self.assertEqual(self._profile(self.carol).opportunity_count, 2)
        self.carol_contact.unlink()
        self.assertEqual(self._profile(self.carol).opportunity_count, 0)
        self._assert_incremental_as_full_read(1)

    def test_merged_contact_takes_its_deals_from_its_old_company(self):
        self._night(0)
        wizard = self.env["base.partner.merge.automatic.wizard"].create({})
        wizard._merge((self.carol_contact | self.erin).ids, self.erin)
        self.assertEqual(self._profile(self.carol).won_count, 0)
        self.assertEqual(self._profile(self.erin).won_count, 2)
        self._assert_incremental_as_full_read(1)

    def test_what_counts_as_a_deal_changed_makes_the_run_read_every_deal(self):
        self._night(0)
        self.assertEqual(self._night(1)[0], "incremental")
        # a second won stage: every lead in it is a deal now
        self.open_stage.is_won = True
        self.assertEqual(self._night(2)[0], "full")
        self.assertEqual(self._night(3)[0], "incremental")
        # a run dated before the last one reads everything too
        self.assertEqual(self._night(2)[0], "full")

    def test_sql_change_behind_the_orm_is_read_by_the_periodic_full_read(self):
        """An UPDATE in SQL refreshes no profile and creates no document: the
        nightly runs keep the stored aggregate until the run that reads
        every deal, at most ``full_aggregate_days`` after the last one."""
        self.env["ir.config_parameter"].sudo().set_param("crm_retention.full_aggregate_days", "3")
        self._night(0)
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE crm_lead SET expected_revenue = 5000 WHERE partner_id = %s", [self.erin.id]
        )
        self.assertEqual(self._night(1)[0], "incremental")
        self.assertEqual(self._profile(self.erin).won_revenue, 250.0)
        self.assertEqual(self._night(3)[0], "full")
        self.assertEqual(self._profile(self.erin).won_revenue, 5000.0)
        self.assertEqual(self._model().aggregate_date, TODAY + timedelta(days=3))

    def test_recompute_now_reads_every_deal(self):
        self._night(0)
        self._model()._run_requested_recompute()
        self.assertEqual(self._model().run_aggregate, "full")

    def test_many_changed_customers_read_every_deal(self):
        """Past a fifth of the profiles (and a thousand customers), one full
        read costs less than re-reading each changed customer."""
        self._night(0)
        partners = self.env["res.partner"].create([{"name": f"Lead {i}"} for i in range(1100)])
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """INSERT INTO crm_lead (name, type, partner_id, company_id, active,
                                         expected_revenue, create_date, write_date)
                   SELECT 'Bulk ' || id, 'lead', id, %s, true, 0, now(), now()
                     FROM unnest(%s) id""",
                self.company.id,
                partners.ids,
            )
        )
        self.assertEqual(self._night(1)[0], "full")
