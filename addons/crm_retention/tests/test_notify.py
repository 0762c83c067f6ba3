"""Who is told when a customer moves: the salesperson's activity (once while
it is open, to the team leader when nobody else can act) and the managers'
daily digest."""

from datetime import timedelta

from odoo.tests import new_test_user, tagged

from .common import TODAY, RetentionCase

# a buyer every 30 days from 300 to 180 days before TODAY: active 10 days
# after its last deal, long overdue on TODAY
DEAL_DAYS = (300, 270, 240, 210, 180)
BEFORE = TODAY - timedelta(days=170)


@tagged("post_install", "-at_install")
class TestNotify(RetentionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.leader = new_test_user(
            cls.env,
            login="ret_leader",
            groups="sales_team.group_sale_salesman_all_leads",
            company_id=cls.company.id,
            company_ids=[cls.company.id],
            name="Lea Leader",
        )
        cls.team = cls.env["crm.team"].create(
            {"name": "Retention Team", "company_id": cls.company.id, "user_id": cls.leader.id}
        )
        cls.other = new_test_user(
            cls.env,
            login="ret_other",
            groups="sales_team.group_sale_salesman",
            company_id=cls.company.id,
            company_ids=[cls.company.id],
            name="Otto Other",
        )
        cls.team.member_ids = cls.salesman | cls.other
        cls.regular = cls._buyer("Regular Buyer", cls.salesman, amount=4000.0)

    @classmethod
    def _buyer(cls, name, user, amount=1000.0):
        partner = cls._customer(name, user_id=user.id if user else False)
        for days_ago in DEAL_DAYS:
            cls._deal(partner, days_ago, amount=amount, user_id=user.id if user else False)
        return partner

    def _night(self, day):
        self.Profile.sudo()._recompute_company(self.company, today=day)

    def _activities(self, partner):
        return self.env["mail.activity"].search(
            [("res_model", "=", "crm.customer.profile"), ("res_id", "=", self._profile(partner).id)]
        )

    def test_the_salesperson_is_told_once_with_the_reason(self):
        self._night(BEFORE)
        profile = self._profile(self.regular)
        self.assertEqual(profile.stage_id.kind, "active")
        # the first classification of a customer tells nobody
        self.assertFalse(self._activities(self.regular))

        self._night(TODAY)
        self.assertIn(profile.stage_id.kind, ("at_risk", "lost"))
        stage = profile.stage_id
        # the salesperson reads it in his own activities
        mine = (
            self.env["mail.activity"]
            .with_user(self.salesman)
            .search(
                [("user_id", "=", self.salesman.id), ("res_model", "=", "crm.customer.profile")]
            )
        )
        self.assertEqual(len(mine), 1)
        self.assertEqual(mine.res_id, profile.id)
        self.assertEqual(mine.activity_type_id, stage.notify_activity_type_id)
        self.assertEqual(mine.date_deadline, TODAY + timedelta(days=stage.notify_deadline_days))
        # the stage and its instructions; why, with the figures, on the
        # profile the activity opens
        self.assertEqual(mine.summary, stage.name)
        self.assertIn(stage.notify_note[:20], mine.note)
        self.assertIn("Buys every 30 days", profile.with_user(self.salesman).risk_reason)
        self.assertEqual(profile.risk_activity_id, mine)
        # the profile's own activity list shows it
        self.assertEqual(profile.with_user(self.salesman).activity_ids, mine)

        # the next nights, still open: no second one, whatever the stage does
        self._night(TODAY + timedelta(days=400))
        self.assertEqual(len(self._activities(self.regular)), 1)

        # done: the next move into a stage to notify tells him again (a
        # manager pins Active, then gives the customer back to the rules)
        mine.with_user(self.salesman).action_done()
        profile.with_user(self.manager).stage_id = self.stage["active"]
        profile.with_user(self.manager).action_unpin_stage()
        self.assertIn(profile.stage_id.kind, ("at_risk", "lost"))
        again = self._activities(self.regular).filtered("active")
        self.assertEqual(len(again), 1)
        self.assertNotEqual(again, mine)

    def test_an_archived_salesperson_hands_over_to_the_team_leader(self):
        gone = self._buyer("Orphan Buyer", self.other)
        nobody = self._buyer("Nobody's Buyer", None)
        self._night(BEFORE)
        self.other.active = False
        self._night(TODAY)
        self.assertEqual(self._activities(gone).user_id, self.leader)
        # no salesperson, no team: nobody to tell, nothing half-written
        self.assertIn(self._profile(nobody).stage_id.kind, ("at_risk", "lost"))
        self.assertFalse(self._activities(nobody))
        self.assertEqual(len(self._activities(self.regular)), 1)

    def test_a_customer_nobody_sells_to_goes_to_its_campaigns_owner(self):
        nobody = self._buyer("Campaign Buyer", None)
        self._night(BEFORE)
        campaign = self.env["crm.retention.campaign"].create(
            {"name": "Keep them", "company_id": self.company.id, "user_id": self.manager.id,
             "state": "running"}
        )  # fmt: skip
        self.env["crm.retention.campaign.member"].sudo().create(
            {"campaign_id": campaign.id, "profile_id": self._profile(nobody).id,
             "partner_id": nobody.id, "member_group": "treated", "enrol_date": BEFORE}
        )  # fmt: skip
        self._night(TODAY)
        self.assertEqual(self._activities(nobody).user_id, self.manager)

    def test_a_stage_without_notify_tells_nobody(self):
        self.stage["at_risk"].notify = False
        self.stage["lost"].notify = False
        self._night(BEFORE)
        self._night(TODAY)
        self.assertIn(self._profile(self.regular).stage_id.kind, ("at_risk", "lost"))
        self.assertFalse(self._activities(self.regular))

    def test_two_moves_in_a_night_make_one_activity(self):
        self._night(BEFORE)
        profile = self._profile(self.regular)
        # a manager moves it by hand, then the rules move it again
        profile.with_user(self.manager).write({"stage_id": self.stage["at_risk"].id})
        profile.sudo().action_unpin_stage()
        self._night(TODAY)
        self.assertEqual(len(self._activities(self.regular)), 1)

    def test_the_managers_get_the_days_moves_by_value_at_risk(self):
        self.manager.email = "mia@example.com"
        small = self._buyer("Small Regular", self.salesman, amount=10.0)
        self._night(BEFORE)
        self.env["mail.mail"].sudo().search([]).unlink()
        self._night(TODAY)
        mails = self.env["mail.mail"].sudo().search([("email_to", "ilike", "mia@example.com")])
        self.assertEqual(len(mails), 1)
        body = str(mails.body_html)
        self.assertIn("Regular Buyer", body)
        self.assertIn("Small Regular", body)
        # most money first
        self.assertLess(body.index("Regular Buyer"), body.index("Small Regular"))
        self.assertIn("value at risk", body)
        self.assertIn("2 customer(s) to act on", mails.subject)
        self.assertTrue(self._profile(small).value_at_risk >= 0)
        # the next night with no move: no digest
        self._night(TODAY + timedelta(days=1))
        self.assertEqual(
            self.env["mail.mail"].sudo().search_count([("email_to", "ilike", "mia@example.com")]),
            1,
        )
