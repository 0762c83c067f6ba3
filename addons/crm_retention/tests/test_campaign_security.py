import importlib.util
from datetime import date, timedelta
from pathlib import Path

from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import new_test_user, tagged
from odoo.tools import SQL

from ..lib.campaign import MAX_DAYS
from .common import TODAY, CampaignCase


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


@tagged("post_install", "-at_install")
class TestMemberFieldProtection(CampaignCase):
    """Finding 1 (issue 12): a salesman rewrote its campaign members over
    JSON-RPC (the ORM ``write`` as that user) to fake the uplift, freeze it,
    and send another company's customer an offer."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.customers = cls._lapsed_customers(8, prefix="Member")
        cls.campaign = cls._campaign(control_share=0.5, offer_use_codes=True, cost_per_member=5)
        cls.env["crm.retention.campaign.launch"].with_user(cls.manager).create(
            {"campaign_id": cls.campaign.id, "confirm": True}
        ).action_launch()
        cls.Member.sudo()._run_due_steps(today=TODAY)
        cls.other_company = cls.env["res.company"].create({"name": "Other Member Co"})
        cls.foreign_customer = cls.env["res.partner"].create(
            {
                "name": "Company B customer",
                "email": "b-customer@example.com",
                "company_id": cls.other_company.id,
            }
        )

    def _results(self):
        self.env.invalidate_all()
        return self.campaign.with_user(self.manager).read(
            ["treated_retained", "control_retained", "uplift_pp", "retained_revenue",
             "total_cost", "roi"]
        )[0]  # fmt: skip

    def test_salesman_cannot_fake_outcomes_money_or_group(self):
        member = self.Member.with_user(self.salesman).search(
            [("campaign_id", "=", self.campaign.id), ("member_group", "=", "treated")], limit=1
        )
        self.assertTrue(member, "the salesman follows members of this campaign")
        before = self._results()
        attacks = [
            {"member_group": "control", "retained_count": 1, "revenue": 987654,
             "state": "retained", "outcome_final": True, "cost": 0},
            {"member_group": "control"},
            {"retained_count": 1},
            {"revenue": 987654},
            {"state": "retained"},
            {"outcome_final": True},
            {"cost": 0, "contact_cost": 0, "offer_cost": 0},
            {"next_step_id": False, "next_step_date": str(TODAY)},
            {"offer_code": "STOLEN-CODE", "offer_expiry_date": "2099-01-01"},
            {"enrol_date": str(TODAY), "window_end_date": "2099-01-01", "retained_date": str(TODAY)},
            {"campaign_id": self._campaign(name="Other", exclusive_objective=False).id},
            {"profile_id": self._profile(self.customers[-1]).id},
            {"exclusion_reason": "none", "last_issue": "none"},
        ]  # fmt: skip
        for vals in attacks:
            with self.subTest(fields=sorted(vals)), self.assertRaises(AccessError):
                member.write(vals)
        self.assertEqual(self._results(), before, "the manager's uplift and ROI are untouched")
        member = member.sudo()
        self.assertEqual((member.member_group, member.state), ("treated", "contacted"))
        self.assertFalse(member.outcome_final, "the outcome is still measured")
        # and measured from the deals: a comeback deal still counts
        self._deal(member.partner_id, 0, amount=700)
        self.campaign.with_user(self.manager).action_refresh_outcomes()
        self.assertEqual((member.state, member.revenue), ("retained", 700))

    def test_member_cannot_point_to_another_company_customer(self):
        member = self.Member.with_user(self.salesman).search(
            [("campaign_id", "=", self.campaign.id), ("member_group", "=", "treated")], limit=1
        )
        with self.assertRaises(AccessError):
            member.write({"partner_id": self.foreign_customer.id, "next_step_date": str(TODAY)})
        # not even a manager may: the member's company and the customer's differ
        with self.assertRaises(UserError), self.env.cr.savepoint():
            member.with_user(self.manager).write({"partner_id": self.foreign_customer.id})
        self.assertNotEqual(member.sudo().partner_id, self.foreign_customer)
        # nor hands it to a salesperson of company B only
        outsider = new_test_user(
            self.env,
            login="ret_member_outsider",
            groups="sales_team.group_sale_salesman",
            company_id=self.other_company.id,
            company_ids=[self.other_company.id],
        )
        with self.assertRaises(UserError), self.env.cr.savepoint():
            member.write({"user_id": outsider.id})
        # so the cron never mails company B's customer a code of company A
        self.Member.sudo()._run_due_steps(today=TODAY + timedelta(days=30))
        self.assertFalse(
            self.env["mail.mail"].search([("recipient_ids", "in", self.foreign_customer.ids)])
        )

    def test_enrolment_skips_a_salesperson_of_another_company(self):
        outsider = new_test_user(
            self.env,
            login="ret_enrol_outsider",
            groups="sales_team.group_sale_salesman",
            company_id=self.other_company.id,
            company_ids=[self.other_company.id],
        )
        customer = self._lapsed_customers(1, prefix="Foreign rep", user_id=outsider.id)
        campaign = self._campaign(name="Second", exclusive_objective=False, control_share=0.0)
        member = self._launch(campaign).filtered(lambda m: m.partner_id == customer)
        self.assertEqual(member.user_id, self.manager, "the campaign owner follows it up")

    def test_salesman_clicks_do_not_move_control_or_closed_members(self):
        """Review of issue 12: "Responded" and "Opted out" on a control member
        (or after the outcome window) changed the measured groups."""
        Member = self.Member.with_user(self.salesman)
        control = Member.search(
            [("campaign_id", "=", self.campaign.id), ("member_group", "=", "control")]
        )
        treated = Member.search(
            [("campaign_id", "=", self.campaign.id), ("member_group", "=", "treated")]
        )
        self.assertGreaterEqual(len(control), 2)
        before = self._results()
        states = control.mapped("state")
        control[0].action_mark_responded()
        control[1].action_opt_out()
        control[0].action_create_opportunity()
        closed = treated[0]
        closed.sudo().outcome_final = True
        closed_state = closed.state
        closed.action_mark_responded()
        closed.action_opt_out()
        self.env.invalidate_all()
        self.assertEqual(control.mapped("state"), states)
        self.assertEqual(closed.state, closed_state)
        self.assertTrue(control[1].partner_id.retention_opt_out, "the customer's wish is kept")
        self.assertEqual(self._results(), before)

    def test_salesman_actions_still_work(self):
        Member = self.Member.with_user(self.salesman)
        treated = Member.search(
            [("campaign_id", "=", self.campaign.id), ("member_group", "=", "treated")]
        )
        self.assertGreaterEqual(len(treated), 3)
        first, second, third = treated[:3]
        first.action_mark_responded()
        self.assertEqual(first.state, "responded")
        second.action_opt_out()
        self.assertEqual((second.state, second.next_step_id.id), ("opted_out", False))
        action = third.action_create_opportunity()
        lead = self.env["crm.lead"].browse(action["res_id"])
        self.assertEqual(lead.partner_id, third.partner_id)
        self.assertEqual(third.state, "responded")
        # its own follow-up: reassign, note, schedule a call
        colleague = new_test_user(
            self.env,
            login="ret_member_colleague",
            groups="sales_team.group_sale_salesman",
            company_id=self.company.id,
            company_ids=[self.company.id],
        )
        first.message_post(body="Called, will order next week", message_type="comment")
        first.activity_schedule("mail.mail_activity_data_call", user_id=self.salesman.id)
        with self.assertRaises(UserError):
            first.write({"user_id": False})  # nobody's would be everybody's
        first.write({"user_id": colleague.id})
        self.assertEqual(first.sudo().user_id, colleague)
        # a manager still corrects a member
        third.with_user(self.manager).write({"next_step_id": False})
        self.assertFalse(third.next_step_id)

    def test_salesman_cannot_read_or_search_the_seed(self):
        campaign = self.campaign.with_user(self.salesman)
        with self.assertRaises(AccessError):
            campaign.read(["random_seed"])
        with self.assertRaises(AccessError):
            campaign.search_read([], ["name", "random_seed"])
        with self.assertRaises(AccessError):
            self.Campaign.with_user(self.salesman).search([("random_seed", "=", 1234)])
        self.assertNotIn("random_seed", campaign.read()[0], "a plain read leaves it out")
        self.assertEqual(self.campaign.with_user(self.manager).random_seed, 1234)

    def test_launch_stays_manager_only(self):
        draft = self._campaign(name="Draft", exclusive_objective=False)
        wizard = (
            self.env["crm.retention.campaign.launch"]
            .with_user(self.manager)
            .create({"campaign_id": draft.id, "confirm": True})
        )
        with self.assertRaises(AccessError):
            wizard.with_user(self.salesman).action_launch()
        with self.assertRaises(AccessError):
            draft.with_user(self.salesman)._launch()
        self.assertEqual(draft.state, "draft")
        self.assertFalse(draft.member_ids)


@tagged("post_install", "-at_install")
class TestCampaignBounds(CampaignCase):
    """Findings 4 and 9 (issue 12): out-of-range numbers and dates crashed
    the launch and the cron of every campaign with raw errors."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.customers = cls._lapsed_customers(4, prefix="Bound")
        cls.other_customers = cls._lapsed_customers(4, prefix="Lapsed", days_ago=300)

    def test_manager_typing_slips_are_refused_clearly(self):
        campaign = self._campaign(exclusive_objective=False).with_user(self.manager)
        step = campaign.step_ids[1]
        attacks = [
            (step, {"delay_days": 2**31 - 1}),
            (step, {"delay_days": -1}),
            (campaign, {"outcome_days": 0}),
            (campaign, {"outcome_days": 1_000_000}),
            (campaign, {"offer_type": "percentage", "offer_value": 1_000_000}),
            (campaign, {"offer_value": -10}),
            (campaign, {"offer_type": "fixed", "offer_value": 1e30}),
            (campaign, {"offer_validity_days": 0}),
            (campaign, {"offer_validity_days": 2**31 - 1}),
            (campaign, {"random_seed": -1}),
            (campaign, {"min_group_size": -1}),
            (campaign, {"budget": -1}),
            (campaign, {"cost_per_member": -1}),
            (campaign, {"control_share": 1.5}),
            (campaign, {"date_start": "0001-01-01"}),
            (campaign, {"date_end": "9999-12-01"}),
            (campaign, {"date_start": str(TODAY), "date_end": str(TODAY - timedelta(days=1))}),
        ]
        for record, vals in attacks:
            with self.subTest(vals=vals):
                # the savepoint drops the refused values, as the end of an RPC would
                with self.assertRaises(ValidationError) as caught, self.env.cr.savepoint():
                    record.write(vals)
                self.assertIn(record.name, str(caught.exception), "the message names the record")
                self.assertNotIn("Error", str(caught.exception))
        self.env.invalidate_all()
        self.assertEqual(
            (step.delay_days, campaign.outcome_days, campaign.offer_value, campaign.date_start),
            (7, 90, 10, False),
        )
        # plausible values pass
        campaign.write({"offer_value": 100, "date_start": str(TODAY - timedelta(days=300)),
                        "date_end": str(TODAY + timedelta(days=3000))})  # fmt: skip
        with self.assertRaises(ValidationError), self.env.cr.savepoint():
            self.env["crm.retention.campaign.launch"].with_user(self.manager).create(
                {"campaign_id": campaign.id, "control_share": 5}
            )

    def test_launch_of_legacy_out_of_range_values_explains(self):
        """Values written around the ORM (an old database) are refused at
        launch with the same message, before anything is enrolled."""
        for column, value, message in (
            ("random_seed", -5, "seed"),
            ("date_start", date(9999, 12, 1), "dates"),
            ("offer_value", 1_000_000, "discount"),
        ):
            with self.subTest(column=column):
                campaign = self._campaign(
                    name=f"Legacy {column}", exclusive_objective=False, offer_use_codes=True
                )
                self._force(campaign, column, value)
                with self.assertRaisesRegex(UserError, message):
                    self._launch(campaign)
                self.assertEqual(campaign.state, "draft")
                self.assertFalse(campaign.member_ids)

    def test_upgrade_moves_legacy_values_inside_the_bounds(self):
        """18.0.1.3.0 pre-migrate: the new checks can be added on an old
        database (without it PostgreSQL refuses them and the table keeps no
        check at all)."""
        campaign = self._campaign(name="Legacy upgrade", exclusive_objective=False)
        step = campaign.step_ids[1]
        legacy = [
            (campaign, "outcome_days", 1_000_000),
            (campaign, "offer_type", "percentage"),
            (campaign, "offer_value", 1_000_000),
            (campaign, "random_seed", -5),
            (campaign, "budget", -1),
            (campaign, "date_start", date(2024, 5, 1)),
            (campaign, "date_end", date(2024, 4, 1)),
            (step, "delay_days", -3),
        ]
        for record, column, value in legacy:
            self._force(record, column, value)
        path = Path(__file__).parents[1] / "migrations/18.0.1.3.0/pre-migrate.py"
        spec = importlib.util.spec_from_file_location("crm_retention_pre_18_0_1_3_0", path)
        migration = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(migration)
        migration.migrate(self.env.cr, "18.0.1.2.0")
        for model in (campaign, step):
            model._add_sql_constraints()
            self.env.cr.execute(
                SQL("SELECT count(*) FROM pg_constraint WHERE conrelid = %s::regclass"
                    " AND contype = 'c'", model._table)
            )  # fmt: skip
            self.assertEqual(self.env.cr.fetchone()[0], len(model._sql_constraints))
        self.env.invalidate_all()
        self.assertEqual(
            (campaign.outcome_days, campaign.offer_value, campaign.random_seed, campaign.budget,
             campaign.date_end, step.delay_days),
            (MAX_DAYS, 100, 5, 0, date(2024, 5, 1), 0),
        )  # fmt: skip

    def _force(self, record, column, value):
        """Write ``value`` the way legacy data would hold it: below the ORM
        and around the SQL CHECK constraint (dropped for this transaction)."""
        table = record._table
        self.env.cr.execute(
            SQL(
                "SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'c'",
                table,
            )
        )
        for (name,) in self.env.cr.fetchall():
            self.env.cr.execute(
                SQL("ALTER TABLE %s DROP CONSTRAINT %s", SQL.identifier(table),
                    SQL.identifier(name))
            )  # fmt: skip
        self.env.cr.execute(
            SQL(
                "UPDATE %s SET %s = %s WHERE id = %s",
                SQL.identifier(table),
                SQL.identifier(column),
                value,
                record.id,
            )
        )
        record.invalidate_recordset()

    def test_one_broken_campaign_does_not_stop_the_others(self):
        broken = self._campaign(name="Broken", control_share=0.0)
        healthy = self._campaign(name="Healthy", objective="win_back", control_share=0.0)
        broken_members, healthy_members = self._launch(broken), self._launch(healthy)
        self.assertEqual(len(healthy_members), 4)
        # a follow-up 2**31-1 days later, as an old database may hold
        self._force(broken.step_ids.sorted("sequence")[1], "delay_days", 2**31 - 1)
        self.env["crm.retention.campaign"]._cron_run()
        # the healthy campaign's members got their offer e-mail
        self.assertEqual(set(healthy_members.mapped("state")), {"contacted"})
        mails = self.env["mail.mail"].search(
            [("model", "=", self.Member._name), ("res_id", "in", healthy_members.ids)]
        )
        self.assertEqual(len(mails), 4)
        # the broken one was skipped as a whole, and says why
        self.assertEqual(set(broken_members.mapped("state")), {"targeted"})
        self.assertFalse(broken_members.execution_ids, "its batch was rolled back")
        self.assertIn("Follow-up call", broken.last_issue)
        self.assertIn("3650 days", broken.last_issue)
        note = broken.message_ids.filtered(lambda m: "skipped" in (m.body or ""))
        self.assertEqual(len(note), 1)
        self.assertIn(self.manager.partner_id, note.partner_ids, "its owner is told")
        # fixed by its manager, the next run catches up and clears the issue
        self.env.cr.execute(
            SQL(
                "UPDATE crm_retention_campaign_step SET delay_days = 7 WHERE id = %s",
                broken.step_ids.sorted("sequence")[1].id,
            )
        )
        self.env.invalidate_all()
        self.env["crm.retention.campaign"]._cron_run()
        self.assertEqual(set(broken_members.mapped("state")), {"contacted"})
        self.assertFalse(broken.last_issue)


@tagged("post_install", "-at_install")
class TestActivityStepNotices(CampaignCase):
    """Finding 11 (issue 12): an activity step e-mailed the salesperson one
    "activity assigned" notice per member."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.customers = cls._lapsed_customers(30, prefix="Call")
        cls.salesman.notification_type = "email"

    def test_one_notice_per_salesperson_and_run(self):
        campaign = self._campaign(
            control_share=0.0,
            step_ids=[
                (0, 0, {
                    "name": "Call them",
                    "action": "activity",
                    "activity_type_id": self.env.ref("mail.mail_activity_data_call").id,
                    "activity_user": "salesperson",
                    "delay_days": 0,
                })
            ],
        )  # fmt: skip
        members = self._launch(campaign)
        partner = self.salesman.partner_id
        messages_before = self.env["mail.message"].search([("partner_ids", "in", partner.ids)])
        self._run_steps()
        self.assertEqual(len(members.activity_ids), 30, "every member gets its call")
        self.assertEqual(members.activity_ids.user_id, self.salesman)
        notices = (
            self.env["mail.message"].search([("partner_ids", "in", partner.ids)]) - messages_before
        )
        self.assertEqual(len(notices), 1, "one notice, not one per member")
        self.assertIn("30", notices.subject)
        self.assertEqual(
            self.env["mail.notification"].search_count(
                [("mail_message_id", "in", notices.ids), ("res_partner_id", "=", partner.id)]
            ),
            1,
        )
