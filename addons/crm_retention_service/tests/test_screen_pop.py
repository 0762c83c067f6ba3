"""The screen pop of the retention bridge: an agent answering a valuable
customer about to leave sees it on the card (stage, chance still active,
value at risk, the offer of the campaign he is in), and a browser tour
shows the card, opens the customer and logs the call."""

from datetime import timedelta

from odoo import fields
from odoo.addons.crm_contact_center.tests.screen_pop_common import ScreenPopCommon
from odoo.tests import HttpCase, tagged


class RetentionScreenPopCommon(ScreenPopCommon):
    @classmethod
    def _setup_retention_pop(cls):
        cls._setup_screen_pop()
        eur = cls.env.ref("base.EUR")
        eur.active = True
        cls.company.currency_id = eur
        cls.customer.name = "Valuable Ltd"
        cls.profile = (
            cls.env["crm.customer.profile"]
            .sudo()
            .create(
                {
                    "partner_id": cls.customer.id,
                    "company_id": cls.company.id,
                    "stage_id": cls.env.ref("crm_retention.stage_at_risk").id,
                    "value_at_risk": 12300,
                    "p_alive": 0.34,
                }
            )
        )
        campaign = (
            cls.env["crm.retention.campaign"]
            .sudo()
            .create(
                {
                    "name": "Win them back",
                    "objective": "retain",
                    "company_id": cls.company.id,
                    "offer_type": "percentage",
                    "offer_value": 10,
                }
            )
        )
        campaign.state = "running"
        cls.member = (
            cls.env["crm.retention.campaign.member"]
            .sudo()
            .create(
                {
                    "campaign_id": campaign.id,
                    "partner_id": cls.customer.id,
                    "profile_id": cls.profile.id,
                    "enrol_date": fields.Date.today(),
                    "offer_code": "STAY-4242",
                    "offer_expiry_date": fields.Date.today() + timedelta(days=30),
                    "state": "contacted",
                }
            )
        )


@tagged("post_install", "-at_install")
class TestRetentionScreenPop(RetentionScreenPopCommon, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_retention_pop()

    def test_card_shows_stage_value_at_risk_and_offer(self):
        self._online(self.agent1)
        status, _body = self._post(self._call("call.ringing", to={"extension": "201"}))
        self.assertEqual(status, 200)
        (card,) = self._notifications(self.agent1)
        facts = card["facts"]
        self.assertEqual((facts["stage"], facts["stage_kind"]), ("At risk", "at_risk"))
        self.assertEqual(facts["p_alive"], 0.34)
        self.assertEqual(facts["value_at_risk"], 12300)
        self.assertEqual(facts["currency_id"], self.env.ref("base.EUR").id)
        self.assertIn("12,300", facts["value_at_risk_display"])
        self.assertEqual((facts["offer"], facts["offer_code"]), ("10% discount", "STAY-4242"))

    def test_an_expired_or_finished_offer_is_not_shown(self):
        self._online(self.agent1)
        self.member.offer_expiry_date = fields.Date.today() - timedelta(days=1)
        self._post(self._call("call.ringing", to={"extension": "201"}))
        (card,) = self._notifications(self.agent1)
        self.assertNotIn("offer", card["facts"])
        self.assertEqual(card["facts"]["stage"], "At risk", "the profile is still shown")

    def test_customer_without_profile_has_no_figures(self):
        self._online(self.agent1)
        self.profile.unlink()
        self.member.unlink()
        self._post(self._call("call.ringing", to={"extension": "201"}))
        (card,) = self._notifications(self.agent1)
        self.assertEqual(card["facts"], {})

    def test_facts_are_read_in_two_queries_for_a_batch(self):
        """The bridge's hook reads every customer of a batch at once."""
        others = self.env["res.partner"].create(
            [{"name": f"Other {n}", "is_company": True, "company_id": self.company.id}
             for n in range(5)]
        )  # fmt: skip
        Interaction = self.env["crm.interaction"]
        Interaction._customer_facts(self.customer, self.company)  # warm the caches
        with self.assertQueryCount(2):
            facts = Interaction._customer_facts(self.customer | others, self.company)
        self.assertEqual(list(facts), [self.customer.id])


@tagged("post_install", "-at_install")
class TestRetentionScreenPopTour(RetentionScreenPopCommon, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_retention_pop()

    def test_agent_sees_the_pop_opens_the_customer_and_logs_the_call(self):
        """A call rings on the agent's extension; his screen pops the card with
        the customer's stage and value at risk; he opens the customer, then
        logs the call, which closes the request."""
        status, body = self._post(self._call("call.ringing", to={"extension": "201"}))
        self.assertEqual(status, 200)
        call = self.Interaction.browse(body["id"])
        self.assertEqual(call.screen_pop_user_ids, self.agent1)
        self.start_tour("/odoo", "crm_contact_center_screen_pop_tour", login="cc_agent1")
        self.assertEqual(call.state, "done", "logging the call closes the request")
        logged = self.Interaction.search(
            [("partner_id", "=", self.customer.id), ("subject", "=", "Wants the 10% offer")]
        )
        self.assertEqual((logged.user_id, logged.state), (self.agent1, "done"))


@tagged("post_install", "-at_install")
class TestProfileClickToDial(RetentionScreenPopCommon, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_retention_pop()

    def test_salesman_calls_from_the_customer_profile(self):
        """The profile shows the customer's phone with a Call button; without
        a PBX set up for click-to-dial it opens the softphone."""
        profile = self.profile.with_user(self.salesman)
        self.assertEqual(profile.partner_phone, "+32 2 555 12 34")
        action = (
            self.env["crm.interaction"]
            .with_user(self.salesman)
            .action_click_to_dial("crm.customer.profile", profile.id, profile.partner_phone)
        )
        self.assertEqual(action["url"], "tel:+3225551234")
