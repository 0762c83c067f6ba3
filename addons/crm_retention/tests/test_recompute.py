from unittest.mock import patch

import numpy as np

from odoo.tests import tagged
from odoo.tools import SQL

from .common import TODAY, RetentionCase, extra_deals


@tagged("post_install", "-at_install")
class TestRecompute(RetentionCase):
    """The full recompute: model fit, batches, resumption, merge, cron."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # 40 customers drawn from a BG/NBD-like story: enough repeat buyers to fit
        rng = np.random.default_rng(7)
        cls.population = cls.env["res.partner"]
        for i in range(40):
            partner = cls._customer(f"Pop {i:02d}")
            cls.population |= partner
            day = int(rng.integers(100, 700))
            interval = int(rng.choice([20, 40, 80]))
            while day >= 0:
                cls._deal(partner, day, amount=float(rng.integers(200, 3000)))
                if rng.random() < 0.15:
                    break
                day -= max(1, int(interval * rng.uniform(0.5, 1.5)))

    def test_model_fit_and_predictions(self):
        self._recompute()
        model = (
            self.env["crm.retention.model"].sudo().search([("company_id", "=", self.company.id)])
        )
        self.assertEqual(model.status, "ok", model.message)
        self.assertEqual(model.n_customers, 40)
        self.assertTrue(all(v > 0 for v in (model.r, model.alpha, model.a, model.b)))
        self.assertGreater(model.gg_q, 1)
        profiles = self.Profile.search([("company_id", "=", self.company.id)])
        self.assertEqual(len(profiles), 40)
        self.assertTrue(all(0 <= p.p_alive <= 1 for p in profiles))
        repeat = profiles.filtered(lambda p: p.deal_days > 1)
        # among repeat buyers, the longer the silence the lower P(alive); the
        # seeded story has both kinds (asserted, so a changed fixture fails)
        recent = repeat.filtered(lambda p: p.overdue_ratio < 1)
        silent = repeat.filtered(lambda p: p.overdue_ratio > 3)
        self.assertTrue(recent, "the fixture has recent repeat buyers")
        self.assertTrue(silent, "the fixture has long-silent repeat buyers")
        self.assertGreater(
            sum(recent.mapped("p_alive")) / len(recent),
            sum(silent.mapped("p_alive")) / len(silent),
        )
        alive = profiles.filtered(lambda p: p.stage_id.kind == "active")
        self.assertTrue(alive, "the fixture has active customers")
        self.assertTrue(all(p.predicted_clv > 0 for p in alive), "active customers have a CLV")
        self.assertTrue(all(p.churn_probability == round(1 - p.p_alive, 4) for p in profiles))

    def test_too_few_repeat_buyers_keeps_previous_parameters(self):
        self._recompute()
        model = (
            self.env["crm.retention.model"].sudo().search([("company_id", "=", self.company.id)])
        )
        params = (model.r, model.alpha, model.a, model.b)
        self.company.retention_min_repeat_customers = 1000
        self._recompute()
        self.assertEqual(model.status, "insufficient")
        self.assertIn("1000", model.message)
        self.assertEqual((model.r, model.alpha, model.a, model.b), params)
        self.assertTrue(self.Profile.search_count([("company_id", "=", self.company.id)]))

    def test_interrupted_recompute_resumes(self):
        """A crash after the first batch leaves it consistent; the next run finishes."""
        Profile = type(self.Profile)
        original = Profile._apply_batch
        calls = []

        def crash_on_second_batch(self_, *args, **kwargs):
            calls.append(1)
            if len(calls) == 2:
                raise RuntimeError("worker killed")
            return original(self_, *args, **kwargs)

        # drop the incremental results so the recompute has everything to do
        self.env.cr.execute(
            "DELETE FROM crm_customer_profile WHERE company_id = %s", [self.company.id]
        )
        self.Profile.invalidate_model()
        # (not assertRaises: it would roll back to a savepoint, and the point is
        # what the crashed run leaves behind)
        with patch.object(Profile, "_apply_batch", crash_on_second_batch):
            crashed = False
            try:
                self._recompute(batch_size=15)
            except RuntimeError:
                crashed = True
            self.assertTrue(crashed, "the recompute should have crashed")
        model = (
            self.env["crm.retention.model"].sudo().search([("company_id", "=", self.company.id)])
        )
        self.assertEqual(model.run_state, "running")
        first_batch = self.population.sorted("id")[:15]
        self.assertEqual(model.run_cursor, first_batch[-1].id)
        done = self.Profile.search([("company_id", "=", self.company.id)])
        self.assertEqual(done.partner_id, first_batch)
        self.assertTrue(all(len(p.history_ids) == 1 for p in done), "history matches profiles")
        # next run resumes at the cursor and completes
        self._recompute(batch_size=15)
        self.assertEqual(model.run_state, "done")
        profiles = self.Profile.search([("company_id", "=", self.company.id)])
        self.assertEqual(profiles.partner_id, self.population)
        for profile in profiles:
            self.assertEqual(len(profile.history_ids), 1)
            self.assertEqual(profile.history_ids.stage_id, profile.stage_id)

    def test_parallel_batches_give_the_sequential_result(self):
        """Batches applied by two threads, each in a transaction of its own
        (as the cron does), leave the profiles, stages and history of a
        one-by-one run, and the run's cursor ends done."""

        def snapshot():
            profiles = self.Profile.search([("company_id", "=", self.company.id)])
            return {
                p.partner_id.id: (p.stage_id.id, p.won_count, p.p_alive, p.predicted_clv)
                for p in profiles
            }, {p.partner_id.id: len(p.history_ids) for p in profiles}

        # twice: the second fit starts from the first one's parameters, as
        # the parallel run's will
        self._recompute(batch_size=7)
        self._recompute(batch_size=7)
        sequential, _history = snapshot()
        self.env.cr.execute(
            "DELETE FROM crm_customer_profile WHERE company_id = %s", [self.company.id]
        )
        self.Profile.invalidate_model()
        Profile = type(self.Profile)
        # the threads' cursors: savepoints of this test's transaction
        self.registry.enter_test_mode(self.env.cr)
        self.addCleanup(self.registry.leave_test_mode)
        with patch.object(Profile, "_parallel_batches", lambda self_: 2):
            # profiles deleted in SQL: a run that reads every deal
            self._recompute(batch_size=7, full=True)
        self.env.invalidate_all()
        parallel, history = snapshot()
        self.assertEqual(parallel, sequential)
        self.assertEqual(set(history.values()), {1}, "one stage assignment per customer")
        model = (
            self.env["crm.retention.model"].sudo().search([("company_id", "=", self.company.id)])
        )
        self.assertEqual((model.run_state, model.run_cursor), ("done", 0))

    def test_a_deal_source_that_does_not_filter_adds_only_what_was_asked(self):
        """A bridge source returning every company's deals (it need not
        filter) counts neither another company's deals in this company's
        recompute nor, in an incremental update, other customers' deals."""
        self._recompute()
        partner, stranger = self.population[0], self._customer("Stranger")
        won = self._profile(partner).won_count
        other = self.env["res.company"].create({"name": "Elsewhere Ltd"})
        currency = self.company.currency_id
        deals = [
            (partner, other, TODAY, 500.0, currency),
            (stranger, self.company, TODAY, 500.0, currency),
        ]
        with extra_deals(self.env, deals):
            self.Profile.sudo()._recompute_partners(partner.ids, self.company, today=TODAY)
            self.assertEqual(self._profile(partner).won_count, won)
            self.assertFalse(self._profile(stranger), "not asked: not computed")
            self._recompute()
        self.assertEqual(self._profile(partner).won_count, won)
        self.assertEqual(self._profile(stranger).won_count, 1)

    def test_lost_work_table_restarts_the_run(self):
        """After a server crash the unlogged work table is empty: the next run
        starts over instead of resetting the customers after the cursor."""
        self._recompute()
        stages = {
            p.id: p.stage_id for p in self.Profile.search([("company_id", "=", self.company.id)])
        }
        model = (
            self.env["crm.retention.model"].sudo().search([("company_id", "=", self.company.id)])
        )
        model.write(
            {
                "run_state": "running",
                "run_cursor": self.population.sorted("id")[5].id,
                "run_total": 40,
            }
        )
        self.env.cr.execute(
            SQL(
                "DROP TABLE IF EXISTS %s",
                SQL.identifier(self.Profile._work_table_name(self.company)),
            )
        )
        self._recompute()
        self.assertEqual(model.run_state, "done")
        after = {
            p.id: p.stage_id for p in self.Profile.search([("company_id", "=", self.company.id)])
        }
        self.assertEqual(after, stages)

    def test_recompute_writes_history_for_changes_only(self):
        self._recompute()
        count = self.env["crm.lifecycle.history"].search_count(
            [("company_id", "=", self.company.id)]
        )
        self._recompute()
        self.assertEqual(
            self.env["crm.lifecycle.history"].search_count([("company_id", "=", self.company.id)]),
            count,
        )

    def test_cron_is_registered_and_runs(self):
        cron = self.env.ref("crm_retention.ir_cron_lifecycle_recompute")
        self.assertEqual((cron.interval_number, cron.interval_type), (1, "days"))
        cron.sudo().method_direct_trigger()
        model = (
            self.env["crm.retention.model"].sudo().search([("company_id", "=", self.company.id)])
        )
        self.assertEqual(model.run_state, "done")

    def test_merge_keeps_profiles_and_history(self):
        a, b = self.population[:2]
        self._recompute()
        rows_before = self.env["crm.lifecycle.history"].search([("partner_id", "in", (a | b).ids)])
        deals = a.opportunity_count + b.opportunity_count
        wizard = self.env["base.partner.merge.automatic.wizard"].create({})
        wizard._merge((a | b).ids, b, extra_checks=False)
        self.assertFalse(a.exists())
        profile = self._profile(b)
        self.assertEqual(profile.opportunity_count, deals)
        self.assertTrue(set(rows_before.ids) <= set(profile.history_ids.ids), "no row lost")
        self.assertIn("merge", profile.history_ids.mapped("reason"))

    def test_archived_company_is_skipped_by_the_cron(self):
        archived = self.env["res.company"].create({"name": "Closed Co"})
        partner = self._customer("Closed Co customer")
        self.env["crm.lead"].create(
            {
                "name": "old",
                "type": "opportunity",
                "partner_id": partner.id,
                "company_id": archived.id,
                "stage_id": self.won_stage.id,
            }
        )
        archived.active = False
        self.env["crm.retention.model"]._cron_recompute()
        model = self.env["crm.retention.model"].sudo().search([("company_id", "=", archived.id)])
        self.assertNotEqual(model.run_state, "done", "archived companies are not recomputed")
        self.assertEqual(
            self.env["crm.retention.model"]
            .sudo()
            .search([("company_id", "=", self.company.id)])
            .run_state,
            "done",
        )

    def test_deals_in_another_currency_are_converted_at_the_deal_date(self):
        """A deal source in a foreign currency (as a sale-order bridge would
        give) is converted with the company's rate of the deal date."""
        eur = self.env.ref("base.EUR")
        eur.active = True
        self.env["res.currency.rate"].create(
            [
                {
                    "currency_id": eur.id,
                    "company_id": self.company.id,
                    "name": "2026-01-01",
                    "rate": 0.5,
                },
                {
                    "currency_id": eur.id,
                    "company_id": self.company.id,
                    "name": "2026-06-15",
                    "rate": 0.25,
                },
            ]
        )
        partner = self._customer("Euro buyer")
        Profile = type(self.Profile)

        def eur_source(self_, company_ids, partner_ids=None):
            return SQL(
                "SELECT %(p)s AS partner_id, %(c)s AS company_id, d::date AS deal_date, "
                "100.0 AS amount, %(eur)s AS currency_id "
                "FROM (VALUES (DATE '2026-06-01'), (DATE '2026-06-20')) v(d)",
                p=partner.id,
                c=self.company.id,
                eur=eur.id,
            )

        self.assertNotEqual(self.company.currency_id, eur)
        with patch.object(Profile, "_deal_source_sql", eur_source):
            self.Profile._recompute_partners(partner.ids, self.company)
        profile = self._profile(partner)
        # 100 EUR at 0.5 EUR per unit = 200, then at 0.25 = 400
        self.assertEqual(profile.won_revenue, 600)
        self.assertEqual(profile.won_count, 2)
