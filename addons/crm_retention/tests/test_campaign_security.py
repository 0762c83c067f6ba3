from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

from .common import CampaignCase


@tagged("post_install", "-at_install")
class TestCampaignSecurity(CampaignCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.mine = cls._lapsed_customers(3, prefix="Mine")
        cls.colleague = new_test_user(
            cls.env,
            login="ret_colleague",
            groups="sales_team.group_sale_salesman",
            company_id=cls.company.id,
            company_ids=[cls.company.id],
        )
        cls.theirs = cls._lapsed_customers(2, prefix="Theirs", user_id=cls.colleague.id)
        cls.campaign = cls._campaign(control_share=0.0)
        cls.members = cls.env["crm.retention.campaign.member"]
        wizard = (
            cls.env["crm.retention.campaign.launch"]
            .with_user(cls.manager)
            .create({"campaign_id": cls.campaign.id, "confirm": True})
        )
        wizard.action_launch()

    def test_salesperson_sees_own_members_and_tasks_only(self):
        Member = self.Member.with_user(self.salesman)
        self.assertEqual(Member.search([]).partner_id, self.mine)
        self.assertEqual(self.Member.with_user(self.colleague).search([]).partner_id, self.theirs)
        self.assertEqual(self.campaign.with_user(self.salesman).member_count, 5)
        # its follow-up calls are in its activities, on members it can open
        self._run_steps()
        self._run_steps(today=self.campaign.member_ids[0].next_step_date)
        activities = (
            self.env["mail.activity"]
            .with_user(self.salesman)
            .search([("user_id", "=", self.salesman.id), ("res_model", "=", self.Member._name)])
        )
        self.assertEqual(self.Member.browse(activities.mapped("res_id")).partner_id, self.mine)
        # and it records the outcome of the call
        member = Member.search([], limit=1)
        member.action_mark_responded()
        self.assertEqual(member.state, "responded")

    def test_salesperson_cannot_create_or_launch(self):
        with self.assertRaises(AccessError):
            self.Campaign.with_user(self.salesman).create(
                {"name": "Rogue", "company_id": self.company.id}
            )
        draft = self._campaign(name="Draft", exclusive_objective=False)
        with self.assertRaises(AccessError):
            self.env["crm.retention.campaign.launch"].with_user(self.salesman).create(
                {"campaign_id": draft.id, "confirm": True}
            )
        with self.assertRaises(AccessError):
            draft.with_user(self.salesman).write({"control_share": 0.5})
        with self.assertRaises(AccessError):
            draft.with_user(self.salesman).action_refresh_outcomes()

    def test_multi_company_isolation(self):
        other_company = self.env["res.company"].create({"name": "Other Campaign Co"})
        outsider = new_test_user(
            self.env,
            login="ret_campaign_outsider",
            groups="sales_team.group_sale_manager",
            company_id=other_company.id,
            company_ids=[other_company.id],
        )
        env = self.env(user=outsider, context={"allowed_company_ids": other_company.ids})
        for model in (
            "crm.retention.campaign",
            "crm.retention.campaign.step",
            "crm.retention.campaign.member",
            "crm.retention.campaign.step.execution",
        ):
            self.assertFalse(env[model].search([("company_id", "=", self.company.id)]), model)
        with self.assertRaises(AccessError):
            self.campaign.with_env(env).read(["name"])
        # its own campaign targets only its own company's customers
        own = env["crm.retention.campaign"].create({"name": "Theirs", "objective": "retain"})
        self.assertEqual(own.company_id, other_company)
        self.assertEqual(own.target_count, 0)
        self.assertEqual(own.step_ids.company_id, other_company)
