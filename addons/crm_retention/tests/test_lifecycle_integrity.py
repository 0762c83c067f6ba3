import threading
import time
from unittest.mock import patch

from odoo import SUPERUSER_ID, api, sql_db
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import new_test_user, tagged
from odoo.tools import SQL

from ..lib import lifecycle
from ..models import crm_customer_profile
from ..recompute.layout import RecomputeRunning
from .common import RetentionCase

# the first key of a company run's advisory lock
RUN_LOCK_KEY = getattr(crm_customer_profile, "RUN_LOCK_KEY", 0x43524D52)


@tagged("post_install", "-at_install")
class TestRecomputeIntegrity(RetentionCase):
    """A full recompute never puts stale metrics over fresher ones, and runs
    once per company at a time."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # one-time buyers 150 days ago: At risk (no model fitted, a typical
        # interval of 90 days), in partner-id order
        cls.lapsed = cls.env["res.partner"]
        for i in range(6):
            customer = cls._customer(f"Lapsed {i}")
            cls._deal(customer, 150)
            cls.lapsed |= customer
        cls.model = cls.env["crm.retention.model"].sudo()._get_for_company(cls.company)

    def _history_kinds(self, customer):
        return [
            (h.from_stage_id.kind, h.stage_id.kind)
            for h in self._profile(customer).history_ids.sorted("id")
        ]

    def _assert_won_back(self, customer):
        profile = self._profile(customer)
        self.assertEqual(profile.stage_id, self.stage["won_back"])
        self.assertEqual(profile.won_count, 2)
        self.assertEqual(profile.days_since_last_deal, 0)
        self.assertEqual(
            self._history_kinds(customer), [(False, "at_risk"), ("at_risk", "won_back")]
        )

    def test_resumed_run_keeps_a_deal_won_meanwhile(self):
        """Run killed after its first batch; a deal is won for a customer of
        a batch not applied yet; the resumed run leaves it Won back."""
        Profile = type(self.Profile)
        original = Profile._apply_batch
        calls = []

        def crash_on_second_batch(self_, *args, **kwargs):
            calls.append(1)
            if len(calls) == 2:
                raise RuntimeError("worker killed")
            return original(self_, *args, **kwargs)

        # (not assertRaises: it would roll back what the crashed run leaves)
        with patch.object(Profile, "_apply_batch", crash_on_second_batch):
            crashed = False
            try:
                self._recompute(batch_size=2)
            except RuntimeError:
                crashed = True
        self.assertTrue(crashed)
        self.assertEqual(self.model.run_state, "running")
        late = self.lapsed.sorted("id")[-1]
        self.assertGreater(late.id, self.model.run_cursor, "in a batch not applied yet")
        self._deal(late, 0)
        self._assert_won_back(late)
        self._recompute(batch_size=2)
        self.assertEqual(self.model.run_state, "done")
        self._assert_won_back(late)
        # the others went through the run as usual
        for customer in self.lapsed - late:
            self.assertEqual(self._profile(customer).stage_id, self.stage["at_risk"])

    def test_deal_won_while_the_run_goes_is_kept(self):
        """Without a crash: the deal is won after the run read the deals,
        before its batch is applied."""
        Profile = type(self.Profile)
        original = Profile._work_ranges
        customer = self.lapsed[2]

        def win_after_the_aggregate(self_, *args, **kwargs):
            self._deal(customer, 0)
            return original(self_, *args, **kwargs)

        with patch.object(Profile, "_work_ranges", win_after_the_aggregate):
            self._recompute(batch_size=2)
        self._assert_won_back(customer)
        # the next run reads the deal itself and agrees
        self._recompute(batch_size=2)
        self._assert_won_back(customer)

    def test_refresh_the_run_did_not_see_is_kept(self):
        """A refresh (a deal won) that read its deals just before a run
        started but committed after the run took its snapshot: the run did
        not see that deal, so its batch must not write over the refresh,
        although the refresh's stamp is older than the run's."""
        customer = self._customer("Late Commit Co")
        self._deal(customer, 40)
        self._recompute()
        profile = self._profile(customer)
        # the refresh's transaction: one the run's snapshot does not see yet
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """UPDATE crm_customer_profile
                      SET won_revenue = 123456,
                          metrics_stamp = (now() AT TIME ZONE 'UTC') - interval '1 hour',
                          metrics_xid = (pg_current_xact_id()::text::bigint + 1000)::text::xid8
                    WHERE id = %s""",
                profile.id,
            )
        )
        profile.invalidate_recordset()
        self._recompute()
        self.assertEqual(profile.won_revenue, 123456, "the later refresh is kept")

    def test_recompute_now_is_queued_and_waits_for_a_running_run(self):
        """ "Recompute now" does not run in the web request: it queues the run
        for the background worker and says so. While another run holds the
        company (the nightly one), the queued run waits (retried later), the
        nightly cron skips the company, and nothing runs twice; when the lock
        is free the queued run goes through and the manager is notified."""
        model = self.model.with_user(self.manager)
        cron = self.env.ref("crm_retention.ir_cron_lifecycle_recompute_requested")
        triggers = self.env["ir.cron.trigger"].sudo()
        before = triggers.search_count([("cron_id", "=", cron.id)])
        action = model.action_recompute()
        self.assertEqual(action["params"]["type"], "info")
        self.assertIn("queued", action["params"]["message"])
        self.assertEqual(self.model.recompute_requested_by_id, self.manager)
        self.assertEqual(triggers.search_count([("cron_id", "=", cron.id)]), before + 1)
        self.assertNotEqual(self.model.run_state, "done", "nothing ran in the request")
        Model = self.env["crm.retention.model"]
        with sql_db.db_connect(self.env.cr.dbname).cursor() as other:
            other.execute("SELECT pg_advisory_xact_lock(%s, %s)", [RUN_LOCK_KEY, self.company.id])
            Model._cron_recompute_requested()
            self.assertNotEqual(self.model.run_state, "done", "the queued run waited")
            self.assertEqual(self.model.recompute_requested_by_id, self.manager, "still queued")
            self.assertEqual(triggers.search_count([("cron_id", "=", cron.id)]), before + 2)
            Model._cron_recompute()
            self.assertNotEqual(self.model.run_state, "done", "the cron skipped the company")
            other.rollback()
        self.env["bus.bus"].sudo().search([]).unlink()
        Model._cron_recompute_requested()
        self.assertEqual(self.model.run_state, "done")
        self.assertFalse(self.model.recompute_requested_by_id)
        self.env.cr.precommit.run()  # the bus notification is sent on commit
        sent = self.env["bus.bus"].sudo().search([])
        self.assertIn("recomputed", " ".join(sent.mapped("message")))

    def test_two_runs_started_at_once_one_runs(self):
        """Two workers start the same company's recompute at the same moment:
        exactly one runs, the other is told it is already running."""
        dbname = self.env.cr.dbname
        company_id = self.env.ref("base.main_company").id  # committed: seen by both
        barrier = threading.Barrier(2)
        outcomes = []

        def run():
            with sql_db.db_connect(dbname).cursor() as cr:
                env = api.Environment(cr, SUPERUSER_ID, {})
                Profile = env["crm.customer.profile"]
                barrier.wait(10)
                try:
                    with Profile._company_run_lock(env["res.company"].browse(company_id)):
                        outcomes.append("ran")
                        time.sleep(1)  # the other one starts meanwhile
                except RecomputeRunning as exc:
                    outcomes.append(str(exc))
                cr.rollback()

        threads = [threading.Thread(target=run) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        self.assertEqual(outcomes.count("ran"), 1, outcomes)
        self.assertIn("already running", [o for o in outcomes if o != "ran"][0])

    def test_a_committing_run_holds_its_lock_across_commits(self):
        """A run that commits by batches keeps the company's lock from its
        first to its last statement (a session lock, not one per
        transaction that a second run could take between two batches), and
        gives it back when it ends."""
        Profile = self.env["crm.customer.profile"].sudo()

        def other_can_lock(other):
            other.execute(
                "SELECT pg_try_advisory_xact_lock(%s, %s)", [RUN_LOCK_KEY, self.company.id]
            )
            got = other.fetchone()[0]
            other.rollback()
            return got

        with sql_db.db_connect(self.env.cr.dbname).cursor() as other:
            with patch.object(type(Profile), "_can_commit", lambda self_: True):
                with Profile._company_run_lock(self.company):
                    self.assertFalse(other_can_lock(other))
            self.assertTrue(other_can_lock(other), "released at the end of the run")

    def test_a_salesman_cannot_switch_the_refresh_off(self):
        """``lifecycle_skip_refresh`` is a switch of server code (demo
        loaders); sent from a browser it is ignored, and a deal the salesman
        wins still updates his customer at once."""
        customer = self._customer("Switch Co")
        lead = self._deal(customer, 30, won=False)
        self.assertFalse(self._profile(customer).last_deal_date)
        lead.with_user(self.salesman).with_context(lifecycle_skip_refresh=True).write(
            {"stage_id": self.won_stage.id}
        )
        self.assertTrue(self._profile(customer).last_deal_date)


@tagged("post_install", "-at_install")
class TestLifecycleSettings(RetentionCase):
    """Absurd thresholds are refused, in the settings and by the engine."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.customer = cls._customer("Steady")
        for days in (10, 40, 70):
            cls._deal(cls.customer, days)

    def test_settings_refuse_out_of_range_values(self):
        Settings = self.env["res.config.settings"]
        for field, value in (
            ("retention_at_risk_probability", -1),
            ("retention_lost_probability", 5),
            ("retention_lost_after_days", -30),
            ("retention_monthly_discount_rate", -0.5),
            ("retention_monthly_discount_rate", 1e6),
            ("retention_at_risk_overdue_ratio", 0),
            ("retention_min_repeat_customers", -1),
        ):
            with self.subTest(field=field, value=value), self.assertRaises(ValidationError) as c:
                Settings.create({field: value}).execute()
            label = Settings._fields[field].string
            self.assertIn(label, str(c.exception))
        # an "at risk" threshold above the "lost" one
        with self.assertRaises(ValidationError):
            Settings.create(
                {"retention_at_risk_probability": 0.9, "retention_lost_probability": 0.6}
            )
        # sound values are saved
        # raising both thresholds at once is fine, whichever is written first
        Settings.create(
            {"retention_at_risk_probability": 0.85, "retention_lost_probability": 0.9}
        ).execute()
        Settings.create({"retention_lost_after_days": 400}).execute()
        company = self.env.company
        self.assertEqual(company.retention_lost_after_days, 400)
        self.assertEqual(company.retention_lost_probability, 0.9)
        # each company its own: another company's customers keep the defaults
        other = self.env["res.company"].create({"name": "Other Retention Co"})
        self.assertEqual(other.retention_lost_after_days, lifecycle.DEFAULTS["lost_after_days"])
        settings = self.env["crm.retention.model"]._get_settings(other)
        self.assertEqual(settings["lost_probability"], lifecycle.DEFAULTS["lost_probability"])

    def test_defaults_live_once(self):
        """With no parameter set (a fresh database) and a new company, the
        engine and the company's settings both show the one list of
        defaults, ``lib.lifecycle.DEFAULTS``."""
        self.env["ir.config_parameter"].sudo().search(
            [("key", "=like", "crm_retention.%")]
        ).unlink()
        company = self.env["res.company"].create({"name": "Fresh Co"})
        settings = self.env["crm.retention.model"]._get_settings(company)
        self.assertEqual(settings, lifecycle.DEFAULTS)
        for key in lifecycle.COMPANY_SETTINGS:
            self.assertEqual(company[f"retention_{key}"], lifecycle.DEFAULTS[key], key)

    def test_engine_refuses_a_setting_written_directly(self):
        """A value written past the forms (SQL, an import) stops the recompute
        with the setting's name before anything is written."""
        profile = self._profile(self.customer)
        stage, history = profile.stage_id, profile.history_ids
        self.assertEqual(stage, self.stage["active"])
        for key, value, named in (
            ("lost_after_days", -5, "Lost After (days)"),
            ("lost_probability", 5, "Lost: Churn Probability"),
            ("monthly_discount_rate", -0.9, "Monthly Discount Rate (CLV)"),
        ):
            with self.subTest(key=key, value=value):
                self.env.cr.execute(
                    SQL(
                        "UPDATE res_company SET %s = %s WHERE id = %s",
                        SQL.identifier(f"retention_{key}"), value, self.company.id,
                    )
                )  # fmt: skip
                self.company.invalidate_recordset()
                with self.assertRaises(UserError) as caught:
                    self._recompute()
                self.assertIn(named, str(caught.exception))
                self.assertEqual(profile.stage_id, stage)
                self.assertEqual(profile.history_ids, history)
                self.assertGreaterEqual(profile.predicted_clv, 0)
                self.company[f"retention_{key}"] = lifecycle.DEFAULTS[key]
        # the database-wide ones are system parameters
        params = self.env["ir.config_parameter"].sudo()
        params.set_param("crm_retention.batch_size", "abc")
        with self.assertRaises(UserError) as caught:
            self._recompute()
        self.assertIn("crm_retention.batch_size", str(caught.exception))

    def test_churn_model_parameters_are_checked(self):
        model = self.env["crm.retention.model"].sudo()._get_for_company(self.company)
        with self.assertRaises(ValidationError):
            model.write({"alpha": -3.0})


@tagged("post_install", "-at_install")
class TestStageRules(RetentionCase):
    """Stage rules read the profile and a short list of customer attributes."""

    def _create_stage(self, domain, user=None, **vals):
        return (
            self.env["crm.lifecycle.stage"]
            .with_user(user or self.manager)
            .create(
                {
                    "name": "Probe",
                    "sequence": 1,
                    "kind": "active",
                    "company_id": self.company.id,
                    "rule_domain": domain,
                    **vals,
                }
            )
        )

    def test_rules_cannot_probe_hidden_records(self):
        for domain in (
            # an oracle on chatter messages the rule would read as superuser
            "[('partner_id.message_ids.body', 'ilike', 'floor price')]",
            # a field that cannot be searched would silently match everyone
            "[('stage_id.profile_count', '>', 0)]",
            "[('history_ids.note', 'ilike', 'x')]",
            "[('partner_id', 'ilike', 'Acme')]",
            "[('partner_id', 'any', [('comment', 'ilike', 'secret')])]",
            "[('churn_probability', '>=', 5)]",
        ):
            with self.subTest(domain=domain), self.assertRaises(ValidationError):
                self._create_stage(domain)
            stage = self._create_stage("[('won_count', '>', 0)]")
            with self.subTest(domain=domain), self.assertRaises(ValidationError):
                stage.rule_domain = domain

    def test_saved_probe_rule_is_not_evaluated(self):
        """A rule saved before the check (or in SQL) is skipped by the engine."""
        stage = self._create_stage("[('won_count', '>', 0)]")
        self.env.cr.execute(
            "UPDATE crm_lifecycle_stage SET rule_domain = %s WHERE id = %s",
            ["[('partner_id.message_ids.body', 'ilike', 'floor price')]", stage.id],
        )
        stage.invalidate_recordset()
        customer = self._customer("Probed")
        customer.message_post(body="our floor price is 10")
        self._deal(customer, 3)
        self.assertEqual(self._profile(customer).stage_id, self.stage["new"])

    def test_whitelisted_relation_is_evaluated(self):
        vip_tag = self.env["res.partner.category"].create({"name": "VIP"})
        stage = self._create_stage(
            f"[('partner_id.category_id', 'in', [{vip_tag.id}]), ('won_count', '>', 0)]"
        )
        tagged_customer = self._customer("Tagged", category_id=[(6, 0, vip_tag.ids)])
        self._deal(tagged_customer, 3)
        plain = self._customer("Plain")
        self._deal(plain, 3)
        self.assertEqual(self._profile(tagged_customer).stage_id, stage)
        self.assertEqual(self._profile(plain).stage_id, self.stage["new"])


@tagged("post_install", "-at_install")
class TestSharedStages(RetentionCase):
    """Shared stages (no company) are read by all, changed by administrators."""

    def test_company_manager_cannot_change_shared_stages(self):
        rule = self.stage["lost"].rule_domain
        lost = self.stage["lost"].with_user(self.manager)
        self.assertFalse(lost.company_id)
        self.assertEqual(lost.name, "Lost", "readable")
        with self.assertRaises(AccessError):
            lost.write({"rule_domain": "[('won_count', '>', 1000)]"})
        with self.assertRaises(AccessError):
            lost.unlink()
        with self.assertRaises(AccessError):
            self.env["crm.lifecycle.stage"].with_user(self.manager).create(
                {"name": "Shared by me", "rule_domain": "[]"}
            )
        self.assertEqual(self.stage["lost"].rule_domain, rule)
        # its own company's stages are its to change, not to share
        own = (
            self.env["crm.lifecycle.stage"]
            .with_user(self.manager)
            .create({"name": "VIP", "company_id": self.company.id, "rule_domain": "[]"})
        )
        own.write({"rule_domain": "[('won_revenue', '>', 10000)]", "sequence": 2})
        self.assertEqual(own.rule_domain, "[('won_revenue', '>', 10000)]")
        with self.assertRaises(AccessError):
            own.write({"company_id": False})
        own.unlink()

    def test_administrator_changes_shared_stages(self):
        admin = self.env.ref("base.user_admin")
        admin.company_ids |= self.company
        lost = (
            self.stage["lost"].with_user(admin).with_context(allowed_company_ids=self.company.ids)
        )
        lost.write({"description": "Gone for good"})
        self.assertEqual(self.stage["lost"].description, "Gone for good")


@tagged("post_install", "-at_install")
class TestProfileVisibility(RetentionCase):
    """Own-documents salespeople read their own customers' retention data
    only, as they see their own opportunities and KPIs."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.colleague = new_test_user(
            cls.env,
            login="ret_colleague",
            groups="sales_team.group_sale_salesman",
            company_id=cls.company.id,
            company_ids=[cls.company.id],
        )
        cls.mine = cls._customer("Mine", user_id=cls.salesman.id)
        cls._deal(cls.mine, 3, amount=1234)
        cls.theirs = cls._customer("Theirs", user_id=cls.colleague.id)
        cls._deal(cls.theirs, 3, amount=98765, user_id=cls.colleague.id)

    def test_salesman_reads_own_customers_only(self):
        env = self.env(user=self.salesman)
        Profile, History = env["crm.customer.profile"], env["crm.lifecycle.history"]
        theirs = self._profile(self.theirs)
        self.assertEqual(theirs.won_revenue, 98765)
        self.assertFalse(Profile.search([("partner_id", "=", self.theirs.id)]))
        self.assertFalse(Profile.search([("won_revenue", ">", 50000)]))
        with self.assertRaises(AccessError):
            theirs.with_env(env).read(["won_revenue", "predicted_clv", "churn_probability"])
        self.assertFalse(History.search([("partner_id", "=", self.theirs.id)]))
        with self.assertRaises(AccessError):
            theirs.history_ids.with_env(env).read(["stage_id"])
        partner = self.theirs.with_env(env)
        self.assertFalse(partner.retention_profile_id)
        self.assertEqual(partner.retention_won_count, 0)
        self.assertEqual(partner.retention_history_count, 0)
        # his own customer, in full
        mine = Profile.search([("partner_id", "=", self.mine.id)])
        self.assertEqual(mine.won_revenue, 1234)
        self.assertTrue(History.search([("partner_id", "=", self.mine.id)]))
        self.assertEqual(self.mine.with_env(env).retention_won_count, 1)

    def test_salesman_winning_a_deal_updates_the_profile(self):
        lead = self._deal(self.mine, 0, won=False).with_user(self.salesman)
        lead.stage_id = self.won_stage
        self.assertEqual(self._profile(self.mine).with_user(self.salesman).won_count, 2)

    def test_all_documents_salesman_and_manager_read_everything(self):
        reader = new_test_user(
            self.env,
            login="ret_all_docs",
            groups="sales_team.group_sale_salesman_all_leads",
            company_id=self.company.id,
            company_ids=[self.company.id],
        )
        for user in (reader, self.manager):
            profiles = (
                self.env["crm.customer.profile"]
                .with_user(user)
                .search([("partner_id", "in", (self.mine | self.theirs).ids)])
            )
            self.assertEqual(len(profiles), 2)
