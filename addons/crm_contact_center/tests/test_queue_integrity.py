"""What an agent cannot bend in the value-aware queue and the automatic
satisfaction request (found by a hostile review): his deadline, his
request's priority and arrival time, the team leader's to-dos from a
customer toggling his rating, one person asked twice through duplicate
contacts, the complement of "Breach within 1 hour"."""

from datetime import timedelta

from odoo import fields
from odoo.exceptions import AccessError
from odoo.tests import tagged

from .common import ContactCenterCase


@tagged("post_install", "-at_install")
class TestQueueIntegrity(ContactCenterCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.line = cls.env["crm.interaction.channel"].create(
            {
                "name": "Review line",
                "code": "review3",
                "company_id": cls.company.id,
                "response_time_hours": 4,
                "response_time_high_hours": 1,
                "rating_auto": True,
            }
        )
        cls.company.interaction_rating_interval_days = 30
        cls.cron = cls.env.ref("crm_contact_center.ir_cron_send_rating_requests")

    def _request(self, **vals):
        """A request of the team assigned to agent 1, as the API creates it."""
        return self.Interaction.create(
            {
                "channel_id": self.line.id,
                "partner_id": self.contact.id,
                "team_id": self.team.id,
                "user_id": self.agent1.id,
                "company_id": self.company.id,
                "subject": "Where is my order?",
                **vals,
            }
        )

    # ------------------------------------------------------------------
    # SLA inputs an agent can change over RPC (or in the form)
    # ------------------------------------------------------------------

    def test_agent_cannot_hide_an_overdue_request_by_moving_its_deadline(self):
        """An agent whose request is past its deadline writes a new deadline
        (readonly in the view, not refused by the server): the SLA check
        must still flag and escalate the request to the team leader."""
        late = self._request(date=fields.Datetime.now() - timedelta(hours=10))
        self.assertLess(late.sla_deadline, fields.Datetime.now())
        with self.assertRaises(AccessError):
            late.with_user(self.agent1).write(
                {"sla_deadline": fields.Datetime.now() + timedelta(days=365)}
            )
        self.Interaction._cron_check_sla(batch_size=10**6)
        self.assertTrue(late.is_escalated, "the overdue request is escalated to the team leader")

    def test_agent_cannot_change_the_priority(self):
        """The priority is readonly for agents in the views ("a supervisor may
        change it"): an agent must not lower it (a later deadline, no senior
        team) nor raise it (jump the queue) over RPC."""
        high = self._request(priority="1", date=fields.Datetime.now())
        deadline = high.sla_deadline
        for level in ("0", "2"):
            with self.subTest(level=level), self.assertRaises(AccessError):
                high.with_user(self.agent1).write({"priority": level})
        self.assertEqual(high.sla_deadline, deadline)

    def test_editing_the_date_does_not_buy_time(self):
        """The response target counts from the request's arrival: the agent
        editing the date (an editable field of the form) must not move the
        deadline of his request."""
        arrived = fields.Datetime.now() - timedelta(hours=10)
        late = self._request(date=arrived)
        deadline = late.sla_deadline
        with self.assertRaises(AccessError):
            late.with_user(self.agent1).write({"date": fields.Datetime.now()})
        self.assertEqual(late.sla_deadline, deadline, "the deadline stays the arrival's")

    def test_not_breaching_soon_is_the_complement(self):
        """Searching the requests NOT breaching within the hour (a custom
        filter, or the != operator) returns every other request: here an
        open request due in three hours."""
        later = self._request(date=fields.Datetime.now() - timedelta(hours=1))
        soon = self._request(date=fields.Datetime.now() - timedelta(hours=3, minutes=30))
        self.assertTrue(soon.sla_breach_soon)
        self.assertFalse(later.sla_breach_soon)
        ids = (later | soon).ids
        not_soon = self.Interaction.search([("id", "in", ids), ("sla_breach_soon", "=", False)])
        self.assertEqual(not_soon, later)
        not_soon = self.Interaction.search([("id", "in", ids), ("sla_breach_soon", "!=", True)])
        self.assertEqual(not_soon, later)

    # ------------------------------------------------------------------
    # satisfaction
    # ------------------------------------------------------------------

    def _close(self, requests, outcome="resolved"):
        requests = requests.with_user(self.agent1)
        requests.write({"outcome": outcome})
        requests.action_done()

    def _rating(self, request):
        return self.env["rating.rating"].search(
            [("res_model", "=", "crm.interaction"), ("res_id", "=", request.id)]
        )

    def test_low_rating_plans_one_follow_up_even_when_the_customer_toggles(self):
        """The public page lets the token holder change his answer as often
        as he likes: 1, 5, 1, 5, 1 must not plan three to-dos (and three
        notices) for the team leader."""
        request = self._request()
        self._close(request)
        self.cron.method_direct_trigger()
        rating = self._rating(request)
        self.assertEqual(len(rating), 1)
        # what the public route does: record_sudo.rating_apply(rate, rating=...)
        for rate in (1, 5, 1, 5, 1):
            request.sudo().rating_apply(rate, rating=rating, feedback="toggle")
        todos = request.activity_ids.filtered(lambda a: a.user_id == self.supervisor)
        self.assertEqual(len(todos), 1, "one follow-up per rating")

    def test_one_person_with_two_contact_records_is_asked_once(self):
        """The interval is per contact record: the same person (the same
        e-mail address) known as two contacts, e.g. a duplicate made by the
        e-mail capture, gets two satisfaction e-mails the same day."""
        duplicate = self.env["res.partner"].create(
            {
                "name": "Alice (duplicate)",
                "email": "alice@acme.example.com",
                "company_id": self.company.id,
            }
        )
        first, second = self._request(), self._request(partner_id=duplicate.id)
        self._close(first | second)
        self.cron.method_direct_trigger()
        self.assertEqual(
            sorted((first | second).mapped("rating_request_state")),
            ["recent", "sent"],
            "one e-mail address, one satisfaction request per interval",
        )
