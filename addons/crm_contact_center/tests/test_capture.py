from datetime import datetime, timedelta

from odoo import fields
from odoo.exceptions import AccessError
from odoo.tests import Form, tagged

from ..models.crm_interaction import NO_CAPTURE
from .common import ContactCenterCase

INCOMING = """Return-Path: <alice@acme.example.com>
To: sales@cc-test.example.com
From: Alice Acme <alice@acme.example.com>
Subject: Re: our quote
Message-ID: <cc-capture-1@acme.example.com>
Date: Tue, 03 Mar 2026 10:00:00 +0000
Content-Type: text/plain; charset=utf-8

Could you send the updated quote?
"""


@tagged("post_install", "-at_install")
class TestCapture(ContactCenterCase):
    def _logged(self, record):
        return self.Interaction.search(
            [("partner_id", "child_of", record.commercial_partner_id.id)]
            if record._name == "res.partner"
            else [("lead_id", "=", record.id)]
        )

    def test_incoming_email_through_gateway(self):
        lead = self._opportunity(self.contact)
        self.env["mail.thread"].message_process("crm.lead", INCOMING, thread_id=lead.id)
        logged = self._logged(lead)
        self.assertEqual(len(logged), 1)
        self.assertEqual(
            (logged.channel_id, logged.direction, logged.partner_id, logged.state),
            (self.channel["email"], "inbound", self.contact, "assigned"),
        )
        self.assertEqual(logged.user_id, self.salesman, "routed to the customer's salesperson")
        self.assertIn("updated quote", logged.body)
        # the same message delivered again by the gateway is not logged twice
        self.env["mail.thread"].message_process("crm.lead", INCOMING, thread_id=lead.id)
        self.assertEqual(len(self._logged(lead)), 1)

    def test_outgoing_email_from_composer_and_notes_skipped(self):
        composer = Form(
            self.env["mail.compose.message"]
            .with_user(self.salesman)
            .with_context(default_model="res.partner", default_res_ids=self.customer.ids)
        )
        composer.body = "<p>Here is the quote</p>"
        composer.save().action_send_mail()
        self.customer.message_post(body="internal remark", subtype_xmlid="mail.mt_note")
        logged = self._logged(self.customer)
        self.assertEqual(len(logged), 1, "the note is not an interaction")
        self.assertEqual(
            (logged.direction, logged.state, logged.user_id, logged.res_model),
            ("outbound", "done", self.salesman, "mail.message"),
        )

    def test_meeting_with_customer_is_one_interaction(self):
        lead = self._opportunity(self.customer)
        start = datetime(2026, 5, 4, 9, 0)
        event = self.env["calendar.event"].create(
            {
                "name": "Demo",
                "start": start,
                "stop": start + timedelta(hours=1),
                "partner_ids": [(6, 0, (self.contact | self.salesman.partner_id).ids)],
                "opportunity_id": lead.id,
                "user_id": self.salesman.id,
            }
        )
        event.write({"name": "Product demo", "start": start + timedelta(days=1),
                     "stop": start + timedelta(days=1, hours=1)})  # fmt: skip
        logged = self.Interaction.search([("source_key", "=", "calendar.event")]).filtered(
            lambda i: i.res_id == event.id
        )
        self.assertEqual(len(logged), 1)
        self.assertEqual(
            (logged.subject, logged.partner_id, logged.lead_id, logged.duration),
            ("Product demo", self.contact, lead, 3600),
        )
        internal = self.env["calendar.event"].create(
            {"name": "Team sync", "start": start, "stop": start + timedelta(hours=1),
             "partner_ids": [(6, 0, self.salesman.partner_id.ids)]}
        )  # fmt: skip
        self.assertFalse(
            self.Interaction.search([("source_key", "=", "calendar.event"),
                                     ("external_id", "=", str(internal.id))])
        )  # fmt: skip

    def test_call_activity_marked_done(self):
        lead = self._opportunity(self.customer)
        call = lead.activity_schedule(
            "mail.mail_activity_data_call", summary="Check budget", user_id=self.salesman.id
        )
        todo = lead.activity_schedule("mail.mail_activity_data_todo", user_id=self.salesman.id)
        call.with_user(self.salesman).action_feedback(feedback="Budget approved")
        todo.with_user(self.salesman).action_feedback(feedback="done")
        logged = self._logged(lead)
        self.assertEqual(len(logged), 1, "only the call is an interaction")
        self.assertEqual(
            (logged.channel_id, logged.direction, logged.state, logged.user_id),
            (self.channel["phone"], "outbound", "done", self.salesman),
        )
        self.assertIn("Budget approved", logged.body)

    def test_sms_sent_from_odoo(self):
        self.contact._message_sms("Your order has shipped")
        self.env["sms.sms"].create(
            {"number": "+32470123456", "body": "Direct SMS", "partner_id": self.contact.id}
        )
        logged = self._logged(self.contact).filtered(lambda i: i.channel_id == self.channel["sms"])
        self.assertEqual(len(logged), 2, "one per SMS, not one per message and SMS")
        self.assertTrue(all(i.direction == "outbound" for i in logged))

    def test_backfill_history_is_set_based_and_rerunnable(self):
        no_capture = self.env(context=dict(self.env.context, crm_interaction_no_capture=NO_CAPTURE))
        lead = self._opportunity(self.customer)
        lead.with_env(no_capture).message_post(
            body="old mail", message_type="email", author_id=self.contact.id,
            subtype_xmlid="mail.mt_comment",
        )  # fmt: skip
        start = fields.Datetime.now() - timedelta(days=30)
        self.env["calendar.event"].with_env(no_capture).create(
            {"name": "Old visit", "start": start, "stop": start + timedelta(hours=2),
             "partner_ids": [(6, 0, self.customer.ids)]}
        )  # fmt: skip
        self.assertFalse(self._logged(self.customer))
        with self.assertRaises(AccessError):
            self.Interaction.with_user(self.agent1).action_backfill_history()
        self.Interaction.with_user(self.supervisor).action_backfill_history()
        logged = self._logged(self.customer)
        self.assertEqual(sorted(logged.mapped("channel_id.code")), ["email", "meeting"])
        self.assertEqual(logged.filtered(lambda i: i.channel_id.code == "meeting").state, "done")
        self.assertEqual(set(logged.mapped("state")), {"done"}, "history is never routed")
        self.assertFalse(logged.activity_ids, "no callback nor escalation for old history")
        self.assertFalse(logged.filtered("is_overdue"))
        self.Interaction.action_backfill_history()
        self.assertEqual(self._logged(self.customer), logged, "nothing logged twice")

    def test_backfill_asks_first_and_keeps_upcoming_meetings_planned(self):
        """The import opens a confirmation that says what it will log; a meeting
        still to come is imported as planned, never as done."""
        no_capture = self.env(context=dict(self.env.context, crm_interaction_no_capture=NO_CAPTURE))
        now = fields.Datetime.now()
        Event = self.env["calendar.event"].with_env(no_capture)
        past = Event.create(
            {"name": "Last month's visit", "start": now - timedelta(days=30),
             "stop": now - timedelta(days=30, hours=-1), "partner_ids": [(6, 0, self.customer.ids)]}
        )  # fmt: skip
        upcoming = Event.create(
            {"name": "Next week's demo", "start": now + timedelta(days=7),
             "stop": now + timedelta(days=7, hours=1), "partner_ids": [(6, 0, self.customer.ids)]}
        )  # fmt: skip
        Wizard = self.env["crm.interaction.backfill.wizard"]
        with self.assertRaises(AccessError):
            Form(Wizard.with_user(self.agent1))
        wizard = Form(Wizard.with_user(self.supervisor))
        self.assertGreaterEqual(wizard.past_meeting_count, 1)
        self.assertGreaterEqual(wizard.upcoming_meeting_count, 1)
        self.assertFalse(self._logged(self.customer), "opening the dialog imports nothing")
        wizard.save().action_import()
        by_event = {i.res_id: i for i in self._logged(self.customer)}
        self.assertEqual(by_event[past.id].state, "done")
        self.assertEqual(by_event[upcoming.id].state, "assigned", "a meeting to come stays planned")
        self.assertFalse(by_event[upcoming.id].done_date)
