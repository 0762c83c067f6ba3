from itertools import permutations

from odoo.tests import tagged

from ..lib.events import CALL_EVENTS, parse_event
from .common import ContactCenterCase


@tagged("post_install", "-at_install")
class TestCallStateWhateverTheOrder(ContactCenterCase):
    """PBXs deliver the events of one call in any order (retries, several
    workers): the request's state follows from the set of events."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.source = cls.env["crm.interaction.source"].create(
            {
                "name": "Office PBX",
                "company_id": cls.company.id,
                "team_id": cls.team.id,
                "channel_ids": [(4, cls.channel["phone"].id)],
            }
        )
        cls.call_type = cls.env.ref("mail.mail_activity_data_call")

    def _deliver(self, call_id, kinds):
        for kind in kinds:
            extra = {"to": {"login": "cc_agent2"}} if kind == "call.answered" else {}
            event = parse_event(
                {"event": kind, "id": call_id, "timestamp": "2026-06-01T09:00:00Z",
                 "from": {"phone": "+3225551234"}, **extra}
            )  # fmt: skip
            self.source._ingest([event])  # as the controller does, as superuser
        return self.Interaction.search(
            [("source_id", "=", self.source.id), ("external_id", "=", call_id)]
        )

    def test_answered_call_is_done_in_all_24_orders(self):
        orders = list(permutations(CALL_EVENTS))
        self.assertEqual(len(orders), 24)
        for number, order in enumerate(orders):
            with self.subTest(order=order):
                call = self._deliver(f"perm-{number}", order)
                self.assertEqual((call.state, call.user_id), ("done", self.agent2))
                self.assertFalse(
                    call.activity_ids.filtered(lambda a: a.activity_type_id == self.call_type),
                    "nobody calls back a customer who was answered",
                )

    def test_unanswered_call_is_missed_in_all_orders(self):
        for number, order in enumerate(permutations(("call.started", "call.ended", "call.missed"))):
            with self.subTest(order=order):
                call = self._deliver(f"missed-{number}", order)
                self.assertEqual(call.state, "missed")
                self.assertEqual(call.activity_ids.activity_type_id, self.call_type)

    def test_agent_progress_is_not_undone_by_a_late_event(self):
        call = self._deliver("taken", ["call.started"])
        call.with_user(call.user_id).action_take()
        self._deliver("taken", ["call.missed"])
        self.assertEqual(call.state, "in_progress", "the agent is already calling back")
