from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

from .common import RetentionCase


@tagged("post_install", "-at_install")
class TestRetentionSecurity(RetentionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.customer = cls._customer("Secured customer")
        cls._deal(cls.customer, 3)

    def test_salesman_reads_but_cannot_configure(self):
        profile = self._profile(self.customer).with_user(self.salesman)
        self.assertEqual(profile.stage_id, self.stage["new"])
        self.assertEqual(
            self.customer.with_user(self.salesman).lifecycle_stage_id, self.stage["new"]
        )
        with self.assertRaises(AccessError):
            self.customer.with_user(self.salesman).lifecycle_stage_id = self.stage["active"]
        with self.assertRaises(AccessError):
            profile.write({"stage_id": self.stage["active"].id})
        # no context key lets a salesman change the stage behind the rules
        for ctx in ({"lifecycle_sync": True}, {"lifecycle_rule_update": True}):
            with self.assertRaises(AccessError):
                self.customer.with_user(self.salesman).with_context(**ctx).write(
                    {"lifecycle_stage_id": self.stage["active"].id}
                )
        with self.assertRaises(AccessError):
            self.env["crm.retention.model"].with_user(self.salesman)._get_for_company(
                self.company
            ).with_user(self.salesman).action_recompute()
        with self.assertRaises(AccessError):
            self.env["crm.lifecycle.stage"].with_user(self.salesman).create(
                {"name": "Mine", "rule_domain": "[]"}
            )
        with self.assertRaises(AccessError):
            self.stage["new"].with_user(self.salesman).write({"rule_domain": "[]"})

    def test_manager_pins_a_stage(self):
        partner = self.customer.with_user(self.manager)
        partner.lifecycle_stage_id = self.stage["active"]
        self.assertEqual(partner.lifecycle_stage_id, self.stage["active"])
        profile = self._profile(self.customer)
        self.assertEqual(profile.stage_id, self.stage["active"])
        self.assertTrue(profile.stage_locked)
        last = profile.history_ids.sorted("id")[-1]
        self.assertEqual(
            (last.reason, last.user_id, last.from_stage_id),
            ("manual", self.manager, self.stage["new"]),
        )
        # the rules leave a pinned stage alone
        self._recompute()
        self.assertEqual(profile.stage_id, self.stage["active"])
        # until a manager unpins it
        profile.with_user(self.manager).action_unpin_stage()
        self.assertEqual(profile.stage_id, self.stage["new"])
        self.assertFalse(profile.stage_locked)

    def test_multi_company_isolation(self):
        other_company = self.env["res.company"].create({"name": "Other Retention Co"})
        outsider = new_test_user(
            self.env,
            login="ret_outsider",
            groups="sales_team.group_sale_manager",
            company_id=other_company.id,
            company_ids=[other_company.id],
        )
        env = self.env(user=outsider, context={"allowed_company_ids": other_company.ids})
        self.assertFalse(
            env["crm.customer.profile"].search([("partner_id", "=", self.customer.id)])
        )
        self.assertFalse(
            env["crm.lifecycle.history"].search([("partner_id", "=", self.customer.id)])
        )
        with self.assertRaises(AccessError):
            self._profile(self.customer).with_env(env).read(["stage_id"])
        partner = self.customer.with_env(env)
        self.assertFalse(partner.retention_profile_id)
        self.assertFalse(partner.lifecycle_stage_id, "the stage is per company")
