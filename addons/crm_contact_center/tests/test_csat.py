"""The automatic satisfaction request: an agent closes a request of a
channel that asks for a rating, the sender (a cron, never the agent's click)
e-mails the contact the stock rating request, at most once per interval per
contact, never without an e-mail address; the customer answers on the public
rating page, the answer lands on the request, and a low one gives the team
leader a to-do."""

import re
from datetime import datetime

from freezegun import freeze_time

from odoo.exceptions import AccessError, ValidationError
from odoo.tests import HttpCase, tagged

from .common import ContactCenterCommon


@tagged("post_install", "-at_install")
class TestCsat(ContactCenterCommon, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._setup_contact_center()
        cls.line = cls.env["crm.interaction.channel"].create(
            {
                "name": "Support line",
                "code": "support",
                "company_id": cls.company.id,
                "rating_auto": True,
            }
        )
        cls.company.interaction_rating_interval_days = 30
        cls.cron = cls.env.ref("crm_contact_center.ir_cron_send_rating_requests")
        cls.template = cls.env.ref("crm_contact_center.mail_template_interaction_rating")

    def _request(self, partner=None, channel=None, **vals):
        """A request of the team, assigned to agent 1."""
        return self.Interaction.create(
            {
                "channel_id": (channel or self.line).id,
                "partner_id": (partner or self.contact).id,
                "team_id": self.team.id,
                "user_id": self.agent1.id,
                "company_id": self.company.id,
                "subject": "Where is my order?",
                **vals,
            }
        )

    def _close(self, requests, outcome="resolved"):
        """The agent closes them from the queue, all at once."""
        requests = requests.with_user(self.agent1)
        requests.write({"outcome": outcome})
        requests.action_done()

    def _rating_requests(self, requests):
        """The rating requests waiting for an answer, per request."""
        ratings = self.env["rating.rating"].search(
            [("res_model", "=", "crm.interaction"), ("res_id", "in", requests.ids)]
        )
        Rating = self.env["rating.rating"]
        return {
            request: Rating.concat(*(r for r in ratings if r.res_id == request.id))
            for request in requests
        }

    def _run_sender(self):
        self.cron.method_direct_trigger()

    def test_sent_by_the_sender_not_in_the_agents_click(self):
        requests = self._request() | self._request(partner=self.customer)
        triggers = self.env["ir.cron.trigger"].search_count([("cron_id", "=", self.cron.id)])
        self._close(requests)
        self.assertEqual(requests.mapped("rating_request_state"), ["pending", "pending"])
        self.assertFalse(any(self._rating_requests(requests).values()), "nothing sent yet")
        self.assertGreater(
            self.env["ir.cron.trigger"].search_count([("cron_id", "=", self.cron.id)]),
            triggers,
            "the sender is woken up for after the commit",
        )
        self._run_sender()
        self.assertEqual(requests.mapped("rating_request_state"), ["sent", "sent"])
        for request, rating in self._rating_requests(requests).items():
            self.assertEqual(rating.partner_id, request.partner_id)
            mail = self.env["mail.mail"].search(
                [("model", "=", "crm.interaction"), ("res_id", "=", request.id)]
            )
            self.assertEqual(mail.recipient_ids, request.partner_id)
            self.assertIn(f"/rate/{rating.access_token}/5", str(mail.body_html))
        # never twice for one request, even with no interval between contacts:
        # another run, the request reopened and closed again
        self.company.interaction_rating_interval_days = 0
        self._run_sender()
        requests.with_user(self.agent1).action_reset()
        self._close(requests)
        self._run_sender()
        self.assertEqual(requests.mapped("rating_request_state"), ["sent", "sent"])
        for request in requests:
            asked = self.env["mail.message"].search(
                [("model", "=", "crm.interaction"), ("res_id", "=", request.id),
                 ("subject", "=like", "How did we do?%")]
            )  # fmt: skip
            self.assertEqual(len(asked), 1, "one satisfaction e-mail per request")

    def test_once_per_interval_per_contact(self):
        with freeze_time("2026-06-01 10:00:00"):
            first = self._request()
            self._close(first)
            self._run_sender()
        with freeze_time("2026-06-20 10:00:00"):
            # two more of the same contact, closed together 19 days later
            again = self._request() | self._request()
            other_channel = self._request(channel=self.channel["web"])
            self._close(again | other_channel)
            self._run_sender()
            self.assertEqual(again.mapped("rating_request_state"), ["recent", "recent"])
            self.assertFalse(other_channel.rating_request_state, "the web form does not ask")
        with freeze_time("2026-07-02 10:00:00"):
            # 31 days after: asked again, once for the two closed together
            later = self._request() | self._request()
            self._close(later)
            self._run_sender()
            self.assertEqual(later.mapped("rating_request_state"), ["sent", "recent"])
        self.assertEqual(first.rating_request_date, datetime(2026, 6, 1, 10, 0))

    def test_the_button_counts_and_the_sender_skips_it(self):
        request = self._request()
        self._close(request)
        request.with_user(self.agent1).action_send_rating_request()
        self.assertEqual(request.rating_request_state, "sent")
        self._run_sender()
        self.assertEqual(len(self._rating_requests(request)[request]), 1)
        # the next request of the contact within the interval is not asked
        second = self._request()
        self._close(second)
        self._run_sender()
        self.assertEqual(second.rating_request_state, "recent")

    def test_no_email_is_skipped_and_says_why(self):
        silent = self.env["res.partner"].create({"name": "No Mail", "company_id": self.company.id})
        request = self._request(partner=silent)
        self._close(request)
        self._run_sender()
        self.assertEqual(request.with_user(self.agent1).rating_request_state, "no_email")
        self.assertFalse(self._rating_requests(request)[request])
        self.assertEqual(
            dict(request._fields["rating_request_state"]._description_selection(self.env))[
                request.rating_request_state
            ],
            "Not Sent: No E-mail",
        )

    def test_only_handled_requests_are_asked(self):
        request = self._request()
        self._close(request, outcome="no_answer")
        self.assertFalse(request.rating_request_state)

    def test_an_agent_cannot_spare_himself_the_rating(self):
        request = self._request()
        self._close(request)
        with self.assertRaises(AccessError):
            request.with_user(self.agent1).write({"rating_request_state": "no_email"})

    def _answer(self, request, rate, feedback):
        """The customer follows the link of the e-mail and submits the page,
        on the real HTTP server, not logged in."""
        rating = self._rating_requests(request)[request]
        page = self.url_open(f"/rate/{rating.access_token}/{rate}")
        self.assertEqual(page.status_code, 200)
        token = re.search(r'name="csrf_token"\s+value="([^"]+)"', page.text).group(1)
        answer = self.url_open(
            f"/rate/{rating.access_token}/submit_feedback",
            data={"rate": rate, "feedback": feedback, "csrf_token": token},
        )
        self.assertEqual(answer.status_code, 200)
        return rating

    def test_low_rating_lands_on_the_request_and_plans_the_leaders_follow_up(self):
        low, happy = self._request(), self._request(partner=self.customer)
        self._close(low | happy)
        self._run_sender()
        self._answer(low, 1, "Nobody called me back")
        self._answer(happy, 5, "Quick and kind")
        # the agent and his leader read the answer on the request
        for user in (self.agent1, self.supervisor):
            seen = low.with_user(user)
            self.assertEqual(
                (seen.rating_last_value, seen.rating_last_feedback), (1, "Nobody called me back")
            )
        self.assertEqual(happy.rating_last_value, 5)
        follow_up = low.activity_ids
        self.assertEqual(follow_up.user_id, self.supervisor, "the team leader follows it up")
        self.assertIn("Low rating (1/5)", follow_up.summary)
        self.assertIn("Nobody called me back", str(follow_up.note))
        self.assertFalse(happy.activity_ids)
        # the customer corrects his comment: no second to-do
        self._answer(low, 1, "Nobody called me back, twice")
        self.assertEqual(len(low.activity_ids), 1)
        self.assertEqual(low.rating_last_feedback, "Nobody called me back, twice")

    def test_the_low_rating_threshold_is_the_companys(self):
        okay, calm = self._request(), self._request(partner=self.customer)
        self._close(okay | calm)
        self._run_sender()
        self.company.interaction_rating_low_threshold = 3
        okay.sudo().rating_apply(3, rating=self._rating_requests(okay)[okay])
        self.assertEqual(okay.activity_ids.user_id, self.supervisor, "Okay is low for this company")
        self.company.interaction_rating_low_threshold = 0
        calm.sudo().rating_apply(1, rating=self._rating_requests(calm)[calm])
        self.assertFalse(calm.activity_ids, "0: no follow-up")
        for values in (
            {"interaction_rating_low_threshold": 6},
            {"interaction_rating_interval_days": -1},
        ):
            with self.assertRaises(ValidationError):
                self.company.write(values)
