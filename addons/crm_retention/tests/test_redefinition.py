"""A change of what decides the stages (a threshold, a stage's rule, the
purchases that count) moves customers who did nothing: the run queued at the
change logs those moves as "Stage rules changed", which the flows (KPIs,
survival, health labels) skip, while the moves time makes stay "By rule"."""

import importlib.util
from datetime import timedelta
from pathlib import Path

from odoo.tests import new_test_user

from .common import TODAY, RetentionCase


class TestRedefinition(RetentionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # a deal every 30 days, none for 50: 1.67 times late, At risk by the
        # default ratio (1.5), on track by 2.0
        cls.late = cls._customer("Late Buyer")
        for days in (110, 80, 50):
            cls._deal(cls.late, days)
        # on track whatever the ratio
        cls.regular = cls._customer("Regular Buyer")
        for days in (65, 35, 5):
            cls._deal(cls.regular, days)
        # who saves the settings: an administrator (res.config.settings)
        cls.admin = new_test_user(
            cls.env,
            login="ret_admin",
            groups="base.group_system,sales_team.group_sale_manager",
            company_id=cls.company.id,
            company_ids=[cls.company.id],
        )
        cls.model = cls.env["crm.retention.model"]._get_for_company(cls.company)
        cls.requested = cls.env.ref("crm_retention.ir_cron_lifecycle_recompute_requested")

    def _moves(self, partner):
        """(from kind, to kind, reason) of the customer's history, oldest first."""
        rows = self._profile(partner).history_ids.sorted(lambda h: (h.date, h.id))
        return [(h.from_stage_id.kind or None, h.stage_id.kind, h.reason) for h in rows]

    def _queued(self):
        return self.env["ir.cron.trigger"].search_count([("cron_id", "=", self.requested.id)])

    def test_a_new_threshold_moves_customers_as_the_change(self):
        self._recompute()
        self.assertEqual(self._profile(self.late).stage_id.kind, "at_risk")
        self.assertFalse(self.model.redefinition_pending)
        queued = self._queued()

        self.env["res.config.settings"].with_user(self.admin).create(
            {"retention_at_risk_overdue_ratio": 2.0}
        ).execute()

        # queued for the background, as "Recompute now", for the administrator
        self.assertTrue(self.model.redefinition_pending)
        self.assertEqual(self.model.recompute_requested_by_id, self.admin)
        self.assertEqual(self._queued(), queued + 1)
        self.assertEqual(self._profile(self.late).stage_id.kind, "at_risk", "not in the request")

        self.env["crm.retention.model"]._cron_recompute_requested()
        self.env.invalidate_all()
        self.assertFalse(self.model.redefinition_pending)
        self.assertEqual(self._profile(self.late).stage_id.kind, "active")
        self.assertEqual(self._moves(self.late)[-1], ("at_risk", "active", "redefinition"))
        self.assertNotIn("redefinition", [m[2] for m in self._moves(self.regular)], "not moved")

        # two weeks later the customer is 2.17 times late: time moved it
        self.Profile.sudo()._recompute_company(self.company, today=TODAY + timedelta(days=15))
        self.env.invalidate_all()
        self.assertEqual(self._moves(self.late)[-1], ("active", "at_risk", "rule"))

    def test_only_a_real_change_after_a_run_is_queued(self):
        # a company that never ran has no stage to move
        self.company.retention_at_risk_overdue_ratio = 2.0
        self.assertFalse(self.model.redefinition_pending)
        self._recompute()
        # saving the settings form again writes the same values
        self.company.write({"retention_at_risk_overdue_ratio": 2.0, "name": "Renamed Co"})
        self.assertFalse(self.model.redefinition_pending)
        self.assertFalse(self.model.recompute_requested_by_id)

        # a manager (sales manager: the least who configures stages) adds a stage
        vip = (
            self.env["crm.lifecycle.stage"]
            .with_user(self.manager)
            .create(
                {
                    "name": "Big Spender",
                    "kind": "active",
                    "sequence": 0,
                    "company_id": self.company.id,
                    "rule_domain": "[('won_revenue', '>', 2500), ('risk_level', '=', 'low')]",
                }
            )
        )
        self.assertTrue(self.model.redefinition_pending)
        self.assertEqual(self.model.recompute_requested_by_id, self.manager)
        self.env["crm.retention.model"]._cron_recompute_requested()
        self.env.invalidate_all()
        self.assertEqual(self._profile(self.regular).stage_id, vip)
        self.assertEqual(self._moves(self.regular)[-1], ("active", "active", "redefinition"))

        # renaming the stage decides nothing; moving it after Active does
        vip.with_user(self.manager).name = "VIP"
        self.assertFalse(self.model.redefinition_pending)
        vip.with_user(self.manager).sequence = 100
        self.assertTrue(self.model.redefinition_pending)

    def test_upgrade_across_the_due_day_rule_logs_the_first_night_as_the_change(self):
        """18.0.1.13.0 counts the churn probability only once a customer is
        due: upgrading from before it, the first night's moves back are the
        change's, not comebacks."""
        path = Path(__file__).parents[1] / "migrations/18.0.1.14.0/post-migrate.py"
        spec = importlib.util.spec_from_file_location("crm_retention_post_18_0_1_14_0", path)
        migration = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(migration)
        self._recompute()
        self.env.flush_all()
        migration.migrate(self.env.cr, "18.0.1.13.0")
        self.model.invalidate_recordset()
        self.assertFalse(self.model.redefinition_pending, "already past that night")
        migration.migrate(self.env.cr, "18.0.1.12.1")
        self.model.invalidate_recordset()
        self.assertTrue(self.model.redefinition_pending)
        # the first night after the upgrade: 90 days quiet, 3 times late
        self.Profile.sudo()._recompute_company(self.company, today=TODAY + timedelta(days=40))
        self.env.invalidate_all()
        self.assertEqual(self._moves(self.late)[-1], ("at_risk", "lost", "redefinition"))
        self.assertFalse(self.model.redefinition_pending)
        # and the next nights are time's again: the regular buyer, At risk
        # since, is 3 times late on day 95 after its last deal
        History = self.env["crm.lifecycle.history"]
        changes = [("company_id", "=", self.company.id), ("reason", "=", "redefinition")]
        logged = History.search_count(changes)
        self.Profile.sudo()._recompute_company(self.company, today=TODAY + timedelta(days=100))
        self.env.invalidate_all()
        self.assertEqual(History.search_count(changes), logged)
        self.assertEqual(self._moves(self.regular)[-1], ("at_risk", "lost", "rule"))

    def test_a_run_started_over_keeps_the_change(self):
        """A run taken by a change of the rules and left half-way (its work
        table lost in a crash, or restarted to read every deal) hands the
        change on to the run that starts over."""
        self._recompute()
        self.company.retention_at_risk_overdue_ratio = 2.0
        self.assertTrue(self.model.redefinition_pending)
        # the queued run prepared its work table, took the change, and died
        Profile = self.Profile.sudo()
        Profile._prepare_run(self.company, self.model, TODAY)
        self.assertTrue(self.model.run_redefinition)
        self.assertFalse(self.model.redefinition_pending)
        self.env.cr.execute(f'DROP TABLE "{Profile._work_table_name(self.company)}"')
        self._recompute()
        self.env.invalidate_all()
        self.assertEqual(self._moves(self.late)[-1], ("at_risk", "active", "redefinition"))

    def test_archiving_or_deleting_a_stage_is_a_change(self):
        self._recompute()
        Stage = self.env["crm.lifecycle.stage"].with_user(self.manager)
        vip = Stage.create(
            {
                "name": "VIP",
                "kind": "active",
                "sequence": 100,
                "company_id": self.company.id,
                "rule_domain": "[('won_revenue', '>', 100000)]",
            }
        )
        for change in (lambda: vip.write({"active": False}), vip.unlink):
            self.model.redefinition_pending = False
            change()
            self.assertTrue(self.model.redefinition_pending)
        # another company's stage shared with every company (by an
        # administrator): this company's rules change too
        other = self.env["res.company"].create({"name": "Other Retention Co"})
        gold = Stage.sudo().create(
            {"name": "Gold", "kind": "active", "sequence": 100, "company_id": other.id}
        )
        self.model.redefinition_pending = False
        gold.company_id = False
        self.assertTrue(self.model.redefinition_pending)
