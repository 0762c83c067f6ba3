"""The value-aware queue: a call from a customer the company is losing, with
a lot at stake, is raised, explained, answered sooner and routed to the
senior team; an ordinary customer's call is not. The nightly run and a deal
won move the priority of the open requests."""

import itertools
import json
from datetime import datetime, timedelta

from lxml import etree

from odoo.addons.crm_contact_center.lib.events import parse_body
from odoo.addons.crm_retention.tests.common import TODAY, RetentionCase
from odoo.exceptions import AccessError, ValidationError
from odoo.tests import new_test_user, tagged
from odoo.tools.misc import formatLang

NOW = datetime.combine(TODAY, datetime.min.time()) + timedelta(hours=9)


@tagged("post_install", "-at_install")
class TestQueuePriority(RetentionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        eur = cls.env.ref("base.EUR")
        eur.active = True
        cls.company.write(
            {
                "currency_id": eur.id,
                "country_id": cls.env.ref("base.be").id,
                "retention_priority_high_value": 5000,
                "retention_priority_urgent_value": 20000,
            }
        )

        def agent(login):
            return new_test_user(
                cls.env, login=login, groups="crm_contact_center.group_contact_center_agent",
                company_id=cls.company.id, company_ids=[cls.company.id], name=login.title(),
            )  # fmt: skip

        cls.hotline_agent, cls.senior = agent("hotline_agent"), agent("senior_agent")
        cls.desk = cls.env["crm.team"].create(
            {"name": "Retention Desk", "company_id": cls.company.id,
             "user_id": cls.manager.id, "member_ids": [(6, 0, cls.senior.ids)]}
        )  # fmt: skip
        cls.hotline = cls.env["crm.team"].create(
            {"name": "Hotline", "company_id": cls.company.id, "user_id": cls.manager.id,
             "member_ids": [(6, 0, cls.hotline_agent.ids)],
             "interaction_senior_team_id": cls.desk.id}
        )  # fmt: skip
        # the company's phone line: answer within 4 hours, 1 hour when it matters
        cls.line = cls.env["crm.interaction.channel"].create(
            {"name": "Phone", "code": "phone", "company_id": cls.company.id, "is_realtime": True,
             "response_time_hours": 4, "response_time_high_hours": 1}
        )  # fmt: skip
        cls.pbx = cls.env["crm.interaction.source"].create(
            {"name": "PBX", "company_id": cls.company.id, "team_id": cls.hotline.id,
             "channel_ids": [(6, 0, cls.line.ids)], "create_lead": False}
        )  # fmt: skip
        cls.valuable = cls._customer("Valuable Ltd", phone="+32 2 555 00 01")
        cls.ordinary = cls._customer("Ordinary Ltd", phone="+32 2 555 00 02")

    _ids = itertools.count()

    def _call(self, *customers):
        """Calls ringing from the customers' phones, through the PBX's
        ingestion, in one batch; their requests."""
        events = [
            {"event": "call.started", "id": f"call-{next(self._ids)}", "timestamp": NOW.isoformat(),
             "from": {"phone": c.phone}}
            for c in customers
        ]  # fmt: skip
        results = self.pbx._ingest(parse_body(json.dumps(events).encode()))
        return self.env["crm.interaction"].browse(r["id"] for r in results)

    def _profile_of(self, partner, stage, value_at_risk, p_alive):
        return self.Profile.sudo().create(
            {"partner_id": partner.id, "company_id": self.company.id,
             "stage_id": self.stage[stage].id, "value_at_risk": value_at_risk,
             "p_alive": p_alive}
        )  # fmt: skip

    def test_a_valuable_customer_at_risk_jumps_the_queue(self):
        self._profile_of(self.valuable, "at_risk", 12300, 0.34)
        # the same money at stake, but not leaving
        self._profile_of(self.ordinary, "active", 12300, 0.9)
        valuable, ordinary = self._call(self.valuable, self.ordinary)
        # the senior agent opens the request routed to him
        valuable = valuable.with_user(self.senior)
        self.assertEqual((valuable.priority, valuable.team_id, valuable.user_id),
                         ("1", self.desk, self.senior))  # fmt: skip
        self.assertEqual(
            valuable.priority_reason, "At risk, 12,300\xa0€ at stake (34 % chance still active)"
        )
        self.assertEqual(valuable.sla_deadline, NOW + timedelta(hours=1))
        ordinary = ordinary.with_user(self.hotline_agent)
        self.assertEqual((ordinary.priority, ordinary.team_id, ordinary.user_id),
                         ("0", self.hotline, self.hotline_agent))  # fmt: skip
        self.assertFalse(ordinary.priority_reason)
        self.assertEqual(ordinary.sla_deadline, NOW + timedelta(hours=4))
        # a bigger stake is urgent
        self.Profile.sudo().search([("partner_id", "=", self.valuable.id)]).value_at_risk = 25000
        self.assertEqual(self._call(self.valuable).priority, "2")

    def test_thresholds_are_checked(self):
        for values in (
            {"retention_priority_high_value": -1},
            {"retention_priority_high_value": 5000, "retention_priority_urgent_value": 4000},
        ):
            with self.assertRaises(ValidationError):
                self.company.write(values)

    def test_the_figures_cannot_be_forged(self):
        self._profile_of(self.valuable, "at_risk", 12300, 0.34)
        request = self._call(self.valuable).with_user(self.senior)
        with self.assertRaises(AccessError):
            request.write({"priority_value_at_risk": 999999})

    def test_one_query_for_the_priorities_of_a_batch(self):
        customers = self.env["res.partner"].create(
            [{"name": f"Caller {i}", "is_company": True, "phone": f"+32 2 555 10 {i:02d}"}
             for i in range(12)]
        )  # fmt: skip
        for customer in customers:
            self._profile_of(customer, "at_risk", 9000, 0.5)
        self._call(*customers[:1])  # warm the caches
        self.env.cr.flush()  # ... the screen pop's bus rows included (written at commit)

        def queries(batch):
            self.env.invalidate_all()
            before = self.env.cr.sql_log_count
            requests = self._call(*batch)
            self.env.cr.flush()  # what the commit writes: the screen pop's bus rows
            self.assertEqual(set(requests.mapped("priority")), {"1"})
            return self.env.cr.sql_log_count - before

        self.assertEqual(queries(customers[1:3]), queries(customers[3:12]))

    def test_the_night_raises_a_customer_who_stopped_buying(self):
        """A regular buyer with big deals goes quiet: his call of the morning
        waits in the Hotline (no agent free); the nightly run finds him
        leaving with a lot at stake, and his request goes up and to the
        senior team. He buys again: back to normal."""
        self.company.write(
            {"retention_priority_high_value": 1000, "retention_priority_urgent_value": 10**9}
        )
        self._regulars(30)
        for days_ago in (230, 200, 170, 140):
            self._deal(self.valuable, days_ago, amount=9000)
        self.hotline_agent.contact_center_available = False
        request = self._call(self.valuable)
        self.assertEqual((request.priority, request.team_id, request.user_id.id),
                         ("0", self.hotline, False))  # fmt: skip
        self._recompute()
        profile = self._profile(self.valuable)
        self.assertIn(profile.stage_kind, ("at_risk", "lost"))
        self.assertGreater(profile.value_at_risk, 1000)
        request = request.with_user(self.senior)
        self.assertEqual(request.priority, "1")
        self.assertEqual((request.team_id, request.user_id), (self.desk, self.senior))
        self.assertEqual(request.sla_deadline, NOW + timedelta(hours=1))
        amount = formatLang(
            self.env, profile.value_at_risk, currency_obj=self.company.currency_id,
            rounding_unit="units",
        )  # fmt: skip
        self.assertIn(f"{profile.stage_id.name}, {amount} at stake", request.priority_reason)
        # a deal won: the customer is back, the request is ordinary again
        self._deal(self.valuable, 0, amount=9000)
        self.assertNotIn(profile.stage_kind, ("at_risk", "lost"))
        self.assertEqual(request.priority, "0")
        self.assertEqual(request.sla_deadline, NOW + timedelta(hours=4))
        self.assertFalse(request.priority_reason)

    def test_the_queue_screen_costs_the_same_for_3_or_12_requests(self):
        """The senior agent's queue (its kanban, as the web client reads it:
        stars, reason, deadline, breach soon) does not read per request."""
        view = self.env.ref("crm_contact_center.crm_interaction_view_kanban_queue")
        # the web client's context carries the language (the partners' names
        # are read once, not per record)
        Interaction = self.env["crm.interaction"].with_user(self.senior).with_context(lang="en_US")
        arch = etree.fromstring(
            Interaction.get_views([(view.id, "kanban")])["views"]["kanban"]["arch"]
        )
        spec = {
            node.get("name"): (
                {"fields": {"display_name": {}}}
                if Interaction._fields[node.get("name")].type == "many2one"
                else {}
            )
            for node in arch.iter("field")
            if node.get("name") in Interaction._fields
            and Interaction._fields[node.get("name")].type not in ("one2many", "many2many")
        }
        self.assertIn("priority_reason", spec)
        customers = self.env["res.partner"].create(
            [{"name": f"Leaving {i}", "is_company": True, "phone": f"+32 2 555 20 {i:02d}"}
             for i in range(12)]
        )  # fmt: skip
        for customer in customers:
            self._profile_of(customer, "at_risk", 9000, 0.5)

        def queries():
            self.env.flush_all()
            self.env.invalidate_all()
            before = self.env.cr.sql_log_count
            result = Interaction.web_search_read(
                [("team_id", "=", self.desk.id)], spec, order=arch.get("default_order")
            )
            self.assertTrue(all(r["priority_reason"] for r in result["records"]))
            return len(result["records"]), self.env.cr.sql_log_count - before

        self._call(*customers[:3])
        queries()  # the senior agent's first screen reads his rules and groups
        small = queries()
        self._call(*customers[3:])
        large = queries()
        self.assertEqual((small[0], large[0]), (3, 12))
        self.assertEqual(small[1], large[1])

    def test_a_misidentified_caller_does_not_keep_the_urgent_priority(self):
        """A call matched to a valuable customer at risk is urgent; the agent
        corrects the contact to the real caller, an ordinary customer with no
        retention profile: the request must be ordinary again (not urgent
        with no reason given, and never corrected by the nightly run)."""
        self._profile_of(self.valuable, "at_risk", 25000, 0.3)
        request = self._call(self.valuable)
        self.assertEqual(request.priority, "2")
        request.with_user(request.user_id).write({"partner_id": self.ordinary.id})
        self.assertFalse(request.priority_stage_id)
        self.assertEqual(request.priority, "0", "the ordinary caller's request is not urgent")
        self.env["crm.interaction"]._refresh_customer_priorities(self.company)
        self.assertEqual(request.priority, "0")
