"""A real automation rule "On creation" of a stage change fires for the
changes the nightly recompute writes in bulk; a broken rule is logged and
undone alone."""

from datetime import timedelta

from odoo.addons.crm_retention.tests.common import TODAY, RetentionCase
from odoo.tests import tagged

BEFORE = TODAY - timedelta(days=170)

CODE = """
for change in records:
    change.profile_id.activity_schedule(
        "mail.mail_activity_data_todo",
        summary="Automation: " + change.stage_id.name,
        user_id=change.profile_id.user_id.id or env.uid,
    )
"""


@tagged("post_install", "-at_install")
class TestAutomationOnStageChange(RetentionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.buyer = cls._customer("Automated Buyer", user_id=cls.salesman.id)
        for days_ago in (300, 270, 240, 210, 180):
            cls._deal(cls.buyer, days_ago, amount=2500.0)
        model = cls.env["ir.model"]._get("crm.lifecycle.history")
        cls.rule = cls.env["base.automation"].create(
            {
                "name": "Lapsing customer: to-do",
                "model_id": model.id,
                "trigger": "on_create",
                "filter_domain": "[('stage_id.kind', 'in', ('at_risk', 'lost'))]",
                "action_server_ids": [
                    (
                        0,
                        0,
                        {
                            "name": "Schedule a to-do on the profile",
                            "model_id": model.id,
                            "state": "code",
                            "code": CODE,
                        },
                    )
                ],
            }
        )
        # the stock notification would add an activity of its own
        cls.stage["at_risk"].notify = False
        cls.stage["lost"].notify = False

    def _night(self, day):
        self.Profile.sudo()._recompute_company(self.company, today=day)

    def _summaries(self):
        profile = self._profile(self.buyer)
        return profile.activity_ids.mapped("summary")

    def test_a_rule_on_stage_changes_fires_for_the_nightly_recompute(self):
        self._night(BEFORE)
        self.assertEqual(self._profile(self.buyer).stage_id.kind, "active")
        self.assertEqual(self._summaries(), [], "entering Active does not match the rule")
        self._night(TODAY)
        profile = self._profile(self.buyer)
        self.assertIn(profile.stage_id.kind, ("at_risk", "lost"))
        self.assertEqual(self._summaries(), [f"Automation: {profile.stage_id.name}"])
        # the salesperson sees it among his activities
        mine = (
            self.env["mail.activity"]
            .with_user(self.salesman)
            .search([("user_id", "=", self.salesman.id), ("res_id", "=", profile.id)])
        )
        self.assertEqual(len(mine), 1)

    def test_a_broken_rule_is_logged_and_the_night_goes_on(self):
        model = self.env["ir.model"]._get("crm.lifecycle.history")
        self.env["base.automation"].create(
            {
                "name": "Broken rule",
                "model_id": model.id,
                "trigger": "on_create",
                "filter_domain": "[('no_such_field', '=', 1)]",
                "action_server_ids": [
                    (0, 0, {"name": "never", "model_id": model.id, "state": "code", "code": "1"})
                ],
            }
        )
        self._night(BEFORE)
        with self.assertLogs(
            "odoo.addons.crm_retention_automation.models.crm_lifecycle_history", "ERROR"
        ) as logs:
            self._night(TODAY)
        self.assertIn("Broken rule", logs.output[0])
        profile = self._profile(self.buyer)
        # the stage change, its history and the good rule's work all stand
        self.assertIn(profile.stage_id.kind, ("at_risk", "lost"))
        self.assertEqual(profile.history_ids[:1].stage_id, profile.stage_id)
        self.assertEqual(self._summaries(), [f"Automation: {profile.stage_id.name}"])
