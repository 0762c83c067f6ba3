from odoo.exceptions import AccessError
from odoo.tests import Form, new_test_user, tagged

from .common import RetentionCase


@tagged("post_install", "-at_install")
class TestMyCustomers(RetentionCase):
    """A salesperson finds the customers he looks after, sees how they are
    doing where he works, and plans calls with them."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.colleague = new_test_user(
            cls.env, login="ret_colleague", groups="sales_team.group_sale_salesman",
            company_id=cls.company.id, company_ids=[cls.company.id], name="Cleo Colleague",
        )  # fmt: skip
        # no salesperson on the customers, as in most imported databases
        cls.his = cls._customer("His customer")
        cls._deal(cls.his, 400, user_id=cls.colleague.id)
        cls._deal(cls.his, 30)  # the latest opportunity is the salesman's
        cls.theirs = cls._customer("Colleague's customer")
        cls._deal(cls.theirs, 20, user_id=cls.colleague.id)
        cls.assigned = cls._customer("Assigned customer", user_id=cls.salesman.id)
        cls._deal(cls.assigned, 10, user_id=cls.colleague.id)

    def _my_customers(self, user):
        return self.Profile.with_user(user).search([("user_id", "=", user.id)])

    def test_owner_is_the_salesperson_else_the_latest_opportunitys(self):
        self.assertEqual(
            self._my_customers(self.salesman).partner_id, self.his | self.assigned,
            "his own customer and the one whose latest opportunity he owns",
        )  # fmt: skip
        self.assertEqual(self._my_customers(self.colleague).partner_id, self.theirs)
        with self.assertRaises(AccessError):
            self._profile(self.theirs).with_user(self.salesman).stage_id  # noqa: B018
        # the owner follows the customer's salesperson at once
        self.theirs.user_id = self.salesman
        self.assertIn(self.theirs, self._my_customers(self.salesman).partner_id)
        # and the nightly run keeps it
        self._recompute()
        self.assertEqual(len(self._my_customers(self.salesman)), 3)

    def test_empty_list_tells_a_salesperson_where_customers_come_from(self):
        newcomer = new_test_user(
            self.env, login="ret_newcomer", groups="sales_team.group_sale_salesman",
            company_id=self.company.id, company_ids=[self.company.id],
        )  # fmt: skip
        action = self.env.ref("crm_retention.crm_customer_profile_action_mine")
        self.assertEqual(eval(action.context), {"search_default_my_customers": 1})  # noqa: S307
        help_text = self.Profile.with_user(newcomer).get_empty_list_help("")
        self.assertIn("latest opportunity", help_text)
        self.assertNotIn("Churn Models", help_text, "no menu he does not have")
        self.assertIn("Churn Models", self.Profile.with_user(self.manager).get_empty_list_help(""))

    def test_salesman_plans_calls_for_his_customers(self):
        profiles = self._my_customers(self.salesman)
        wizard = Form(
            self.env["crm.customer.profile.call"].with_user(self.salesman).with_context(
                active_model="crm.customer.profile", active_ids=profiles.ids
            )
        )  # fmt: skip
        wizard.summary = "Ask how the last order went"
        wizard.save().action_schedule()
        activities = profiles.with_user(self.salesman).activity_ids
        self.assertEqual(len(activities), 2)
        self.assertEqual(set(activities.mapped("user_id")), {self.salesman})
        self.assertEqual(set(activities.mapped("create_uid")), {self.salesman}, "planned by him")
        self.assertEqual(
            activities[0].activity_type_id, self.env.ref("mail.mail_activity_data_call")
        )
        # not on a colleague's customer
        wizard = self.env["crm.customer.profile.call"].with_user(self.salesman)
        with self.assertRaises(AccessError):
            wizard.create(
                {"profile_ids": [(6, 0, self._profile(self.theirs).ids)]}
            ).action_schedule()

    def test_opportunity_shows_the_customers_lifecycle(self):
        lead = self._deal(self.his, 0, won=False).with_user(self.salesman)
        self.assertEqual(lead.customer_stage_id, self._profile(self.his).stage_id)
        self.assertEqual(lead.customer_risk_level, self._profile(self.his).risk_level)

    def test_at_risk_list_opens_on_the_at_risk_only(self):
        at_risk = self.env.ref("crm_retention.crm_customer_profile_action_at_risk")
        self.assertEqual(eval(at_risk.context), {"search_default_at_risk": 1})  # noqa: S307
        win_back = self.env.ref("crm_retention.crm_customer_profile_action_win_back")
        self.assertEqual(eval(win_back.domain), [("stage_kind", "=", "lost")])  # noqa: S307

    def test_manager_assigns_a_salesperson(self):
        profiles = self._profile(self.theirs)
        self.env["crm.customer.profile.assign"].with_user(self.manager).create(
            {"profile_ids": [(6, 0, profiles.ids)], "user_id": self.salesman.id}
        ).action_assign()
        self.assertEqual(self.theirs.user_id, self.salesman)
        self.assertEqual(profiles.user_id, self.salesman)
