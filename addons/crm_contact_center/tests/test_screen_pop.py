import doctest
import unittest

from odoo.exceptions import AccessError
from odoo.tests import HttpCase, new_test_user, tagged

from ..lib import originate, screen_pop
from .screen_pop_common import ScreenPopCommon


@tagged("post_install", "-at_install")
class TestScreenPopLib(unittest.TestCase):
    def test_doctests(self):
        for module in (screen_pop, originate):
            result = doctest.testmod(module)
            self.assertFalse(result.failed, module.__name__)
            self.assertTrue(result.attempted)


@tagged("post_install", "-at_install")
class TestScreenPop(ScreenPopCommon, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_screen_pop()
        cls.past = cls.Interaction.create(
            {
                "channel_id": cls.channel["email"].id,
                "partner_id": cls.customer.id,
                "subject": "Invoice question",
                "state": "done",
                "company_id": cls.company.id,
            }
        )

    def test_ringing_on_an_extension_pops_the_callers_card_on_that_agent(self):
        self._online(self.agent1, self.agent2)
        status, body = self._post(self._call("call.ringing", to={"extension": "201"}))
        self.assertEqual(status, 200)
        cards = self._notifications(self.agent1)
        self.assertEqual(len(cards), 1, "the agent whose phone rings sees the card")
        card = cards[0]
        self.assertEqual(card["id"], body["id"])
        self.assertEqual(card["call_id"], "pop-1")
        self.assertEqual(
            (card["caller_name"], card["partner_id"], card["caller_phone"]),
            ("Acme Customer", self.customer.id, "+3225551234"),
        )
        self.assertEqual(card["photo_url"], f"/web/image/res.partner/{self.customer.id}/avatar_128")
        self.assertEqual(
            [(h["summary"], h["channel"]) for h in card["history"]],
            [("Invoice question", "E-mail")],
            "the customer's history, without the ringing call itself",
        )
        self.assertFalse(self._notifications(self.agent2), "the other agent's screen stays calm")

    def test_history_shows_the_last_five_interactions(self):
        self._online(self.agent1)
        self.Interaction.create(
            [
                {
                    "channel_id": self.channel["phone"].id,
                    "partner_id": self.contact.id,
                    "subject": f"Call {n}",
                    "state": "done",
                    "date": f"2026-0{n}-01 10:00:00",
                    "company_id": self.company.id,
                }
                for n in range(1, 8)
            ]
        )
        self._post(self._call("call.started", to={"login": "cc_agent1"}))
        (card,) = self._notifications(self.agent1)
        self.assertEqual(len(card["history"]), 5)
        self.assertEqual(card["history"][0]["summary"], "Invoice question", "newest first")

    def test_unknown_extension_pops_on_the_team(self):
        self._online(self.agent1, self.agent2)
        status, _body = self._post(self._call("call.ringing", to={"extension": "999"}))
        self.assertEqual(status, 200, "an unknown extension is no error")
        self.assertEqual(len(self._notifications(self.agent1)), 1)
        self.assertEqual(len(self._notifications(self.agent2)), 1)

    def test_offline_agent_gets_nothing_the_team_does(self):
        self._online(self.agent2)  # agent1 has not opened Odoo
        self._post(self._call("call.ringing", to={"extension": "201"}))
        self.assertFalse(self._notifications(self.agent1))
        self.assertEqual(len(self._notifications(self.agent2)), 1, "an online teammate sees it")

    def test_routed_agent_gets_the_pop_when_no_phone_is_named(self):
        self._online(self.agent1, self.agent2)
        _status, body = self._post(self._call("call.started"))
        routed = self.Interaction.browse(body["id"]).user_id
        self.assertIn(routed, self.agent1 | self.agent2)
        self.assertEqual(len(self._notifications(routed)), 1)
        self.assertFalse(self._notifications((self.agent1 | self.agent2) - routed))

    def test_ringing_after_the_call_ended_pops_nothing(self):
        self._online(self.agent1)
        self._post(self._call("call.ended", to={"extension": "201"}))
        status, body = self._post(self._call("call.ringing", to={"extension": "201"}))
        self.assertEqual((status, body["status"]), (200, "updated"))
        self.assertFalse(self._notifications(self.agent1))
        self.assertEqual(self.Interaction.with_user(self.agent1).screen_pop_pending(), [])

    def test_reloading_the_page_while_it_rings_shows_the_card_again(self):
        self._online(self.agent1)
        _status, body = self._post(self._call("call.ringing", to={"extension": "201"}))
        pending = self.Interaction.with_user(self.agent1).screen_pop_pending()
        self.assertEqual([c["id"] for c in pending], [body["id"]])
        self.assertEqual(pending[0]["caller_name"], "Acme Customer")
        self.assertEqual(self.Interaction.with_user(self.agent2).screen_pop_pending(), [])

    def test_answered_by_a_teammate_withdraws_the_card(self):
        self._online(self.agent1, self.agent2)
        _status, body = self._post(self._call("call.ringing", to={"extension": "999"}))
        self._post(self._call("call.answered", to={"login": "cc_agent2"}))
        self.assertEqual(self._withdrawals(self.agent1), [{"id": body["id"]}])
        self.assertFalse(self._withdrawals(self.agent2), "whoever answered keeps the card")
        self.assertEqual(self.Interaction.with_user(self.agent1).screen_pop_pending(), [])

    def test_missed_call_withdraws_the_card(self):
        self._online(self.agent1)
        _status, body = self._post(self._call("call.ringing", to={"extension": "201"}))
        self._post(self._call("call.missed"))
        self.assertEqual(self._withdrawals(self.agent1), [{"id": body["id"]}])

    def test_transferred_call_pops_again_on_the_new_agent(self):
        """Agent 201 answers, then transfers: the PBX rings 202 for the same
        call. 202's screen pops the card (again after a reload); when 202
        answers, the call is his and the card leaves 201's screen."""
        self._online(self.agent1, self.agent2)
        _status, body = self._post(self._call("call.ringing", to={"extension": "201"}))
        self._post(self._call("call.answered", to={"extension": "201"}))
        call = self.Interaction.browse(body["id"])
        self.assertEqual((call.state, call.user_id), ("in_progress", self.agent1))
        self.assertFalse(self._notifications(self.agent2))

        status, answer = self._post(self._call("call.ringing", to={"extension": "202"}))
        self.assertEqual((status, answer["status"]), (200, "updated"), "a new phone rings: news")
        cards = self._notifications(self.agent2)
        self.assertEqual([c["id"] for c in cards], [call.id], "the new agent sees the caller")
        self.assertEqual(cards[0]["caller_name"], "Acme Customer")
        self.assertEqual(len(self._notifications(self.agent1)), 1, "no second card on 201")
        pending = self.Interaction.with_user(self.agent2).screen_pop_pending()
        self.assertEqual([c["id"] for c in pending], [call.id], "shown again on reload")
        self.assertEqual(self.Interaction.with_user(self.agent1).screen_pop_pending(), [])

        _status, again = self._post(self._call("call.ringing", to={"extension": "202"}))
        self.assertEqual(again["status"], "duplicate", "the same ring sent twice")
        self._post(self._call("call.answered", to={"extension": "202"}))
        self.assertEqual((call.state, call.user_id), ("in_progress", self.agent2))
        self.assertEqual(self._withdrawals(self.agent1), [{"id": call.id}])
        self.assertFalse(self._withdrawals(self.agent2), "the agent on the line keeps it")
        self.assertEqual(self.Interaction.with_user(self.agent2).screen_pop_pending(), [])
        self._post(self._call("call.ended", duration=95))
        self.assertEqual((call.state, call.duration, call.user_id), ("done", 95, self.agent2))

    def test_hunt_group_rings_one_phone_after_another(self):
        """The PBX rings 201, then 202 (no answer on 201): both screens show
        the card, and 202's answer takes it from 201's."""
        self._online(self.agent1, self.agent2)
        _status, body = self._post(self._call("call.ringing", to={"extension": "201"}))
        self._post(self._call("call.ringing", to={"extension": "202"}))
        self.assertEqual(len(self._notifications(self.agent1)), 1)
        self.assertEqual(len(self._notifications(self.agent2)), 1)
        self._post(self._call("call.answered", to={"login": "cc_agent2"}))
        self.assertEqual(self._withdrawals(self.agent1), [{"id": body["id"]}])
        self.assertEqual(self.Interaction.browse(body["id"]).user_id, self.agent2)

    def test_taking_the_call_from_the_queue_withdraws_it_from_teammates(self):
        self._online(self.agent1, self.agent2)
        _status, body = self._post(self._call("call.ringing", to={"extension": "999"}))
        self.Interaction.browse(body["id"]).with_user(self.agent1).action_take()
        self.assertEqual(self._withdrawals(self.agent2), [{"id": body["id"]}])
        self.assertFalse(self._withdrawals(self.agent1))

    def test_caller_without_phone(self):
        """A customer known by e-mail only (a web call): the card has his
        name and history, and no phone."""
        self._online(self.agent1)
        self.customer.phone = False
        self._post(
            self._call("call.ringing", phone=None, sender={"email": "info@acme.example.com"},
                       to={"extension": "201"})
        )  # fmt: skip
        (card,) = self._notifications(self.agent1)
        self.assertEqual((card["partner_id"], card["caller_phone"]), (self.customer.id, ""))
        self.assertTrue(card["history"])

    def test_unknown_caller_creates_a_contact_in_one_click(self):
        self._online(self.agent1)
        self.source.create_lead = False
        _status, body = self._post(
            self._call("call.ringing", phone="+32 2 555 77 77", to={"extension": "201"})
        )
        (card,) = self._notifications(self.agent1)
        self.assertEqual((card["partner_id"], card["caller_name"]), (False, "+3225557777"))
        self.assertFalse(card["history"])
        call = self.Interaction.browse(body["id"]).with_user(self.agent1)
        with self.assertRaises(AccessError, msg="the card hides the button without the right"):
            call.action_screen_pop_create_contact()
        self.agent1.groups_id += self.env.ref("base.group_partner_manager")
        action = call.action_screen_pop_create_contact()
        partner = self.env["res.partner"].browse(action["res_id"])
        self.assertEqual((partner.phone, partner.company_id), ("+3225557777", self.company))
        self.assertEqual(call.partner_id, partner, "the call is the new contact's")

    def test_card_buttons_act_as_the_agent(self):
        self._online(self.agent1)
        _status, body = self._post(self._call("call.ringing", to={"extension": "201"}))
        call = self.Interaction.browse(body["id"]).with_user(self.agent1)
        action = call.action_screen_pop_open_customer()
        self.assertEqual((action["res_model"], action["res_id"]), ("res.partner", self.customer.id))
        action = call.action_log_interaction()
        self.assertEqual(action["res_model"], "crm.interaction.log.wizard")
        self.assertEqual(action["context"]["default_origin_id"], call.id)

    @tagged("multi_company")
    def test_an_agent_sees_only_his_companys_cards(self):
        other = self.env["res.company"].create({"name": "Other Co"})
        foreign = self.env["res.partner"].create(
            {"name": "Secret Customer", "phone": "+32 2 555 33 33", "company_id": other.id}
        )
        outsider = new_test_user(
            self.env, login="cc_outsider", groups="crm_contact_center.group_contact_center_agent",
            company_id=other.id, company_ids=[other.id], name="Outsider",
        )  # fmt: skip
        self._online(self.agent1, outsider)
        _status, body = self._post(
            self._call("call.ringing", phone="+32 2 555 33 33", to={"extension": "201"})
        )
        (card,) = self._notifications(self.agent1)
        self.assertNotIn("Secret Customer", str(card), "another company's contact is not shown")
        self.assertFalse(card["partner_id"])
        # a contact of another company put on the call is left out of the card too
        call = self.Interaction.browse(body["id"])
        # (as the ORM refuses it: a forged row)
        self.env.cr.execute(
            "UPDATE crm_interaction SET partner_id = %s WHERE id = %s", (foreign.id, call.id)
        )
        call.invalidate_recordset()
        card = call._screen_pop_cards()[call.id]
        self.assertFalse(card["partner_id"])
        self.assertNotIn("Secret Customer", str(card))
        self.assertFalse(self._notifications(outsider))
        self.assertEqual(self.Interaction.with_user(outsider).screen_pop_pending(), [])
