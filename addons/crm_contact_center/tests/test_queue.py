"""The value-aware queue: response targets per priority, counted in the
team's working hours (weekends and public holidays skipped), routing of
high-priority requests to a senior team, the queue's order, and the
requests breaching within the hour on the supervisor's views."""

import ast
from datetime import datetime, timedelta

import pytz
from freezegun import freeze_time
from lxml import etree

from odoo.exceptions import ValidationError
from odoo.tests import new_test_user, tagged

from .common import ContactCenterCase

BRUSSELS = pytz.timezone("Europe/Brussels")


def brussels(*args):
    """A Brussels wall-clock time as the naive UTC datetime Odoo stores."""
    return BRUSSELS.localize(datetime(*args)).astimezone(pytz.utc).replace(tzinfo=None)


@tagged("post_install", "-at_install")
class TestQueue(ContactCenterCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # office hours, Monday to Friday 8-12 and 13-17 in Brussels
        cls.calendar = cls.env["resource.calendar"].create(
            {
                "name": "Hotline hours",
                "tz": "Europe/Brussels",
                "company_id": cls.company.id,
                "attendance_ids": [
                    (0, 0, {"name": f"{day} {period}", "dayofweek": str(day),
                            "hour_from": start, "hour_to": stop, "day_period": period})
                    for day in range(5)
                    for period, start, stop in (("morning", 8, 12), ("afternoon", 13, 17))
                ],
            }
        )  # fmt: skip
        # Whit Monday 2026, a public holiday of the company
        cls.env["resource.calendar.leaves"].create(
            {
                "name": "Whit Monday",
                "company_id": cls.company.id,
                "date_from": brussels(2026, 5, 25, 0, 0),
                "date_to": brussels(2026, 5, 25, 23, 59, 59),
                "time_type": "leave",
            }
        )
        cls.team.resource_calendar_id = cls.calendar
        # the company's own phone line: 4 working hours, high priority 1, urgent as high
        cls.line = cls.env["crm.interaction.channel"].create(
            {
                "name": "Hotline",
                "code": "hotline",
                "company_id": cls.company.id,
                "is_realtime": True,
                "response_time_hours": 4,
                "response_time_high_hours": 1,
            }
        )
        cls.senior = new_test_user(
            cls.env, login="cc_senior", groups="crm_contact_center.group_contact_center_agent",
            company_id=cls.company.id, company_ids=[cls.company.id], name="Senior",
        )  # fmt: skip
        # sales teams are configured by sales managers (and changed by contact-center supervisors)
        cls.manager = new_test_user(
            cls.env, login="cc_manager", groups="sales_team.group_sale_manager",
            company_id=cls.company.id, company_ids=[cls.company.id], name="Manager",
        )  # fmt: skip
        cls.desk = cls.env["crm.team"].create(
            {
                "name": "Retention Desk",
                "company_id": cls.company.id,
                "user_id": cls.supervisor.id,
                "member_ids": [(6, 0, cls.senior.ids)],
            }
        )

    def _request(self, **vals):
        """A request arriving as the inbound API creates it (as superuser)."""
        return self.Interaction.create(
            {
                "channel_id": self.line.id,
                "partner_id": self.contact.id,
                "team_id": self.team.id,
                "company_id": self.company.id,
                **vals,
            }
        )

    # ------------------------------------------------------------------
    # deadlines
    # ------------------------------------------------------------------

    def test_deadline_skips_the_weekend_and_the_public_holiday(self):
        """Friday 15:00, a 4-hour target: 2 hours on Friday, none on the
        weekend nor on Whit Monday, 2 on Tuesday: Tuesday 10:00."""
        friday = brussels(2026, 5, 22, 15, 0)
        normal = self._request(date=friday)
        self.assertEqual(normal.sla_deadline, brussels(2026, 5, 26, 10, 0))
        # a high (or urgent: no target of its own) request: 1 working hour
        urgent = self._request(date=friday, priority="2")
        self.assertEqual(urgent.sla_deadline, brussels(2026, 5, 22, 16, 0))
        # asked on Saturday: counted from Tuesday 8:00
        saturday = self._request(date=brussels(2026, 5, 23, 11, 0))
        self.assertEqual(saturday.sla_deadline, brussels(2026, 5, 26, 12, 0))
        # a team without working hours: around the clock, as before
        night = self._request(date=friday, team_id=False)
        self.assertEqual(night.sla_deadline, friday + timedelta(hours=4))

    def test_deadlines_are_those_of_plan_hours(self):
        """The batch planner gives what resource's plan_hours gives for each
        request, in one read of the calendar whatever the batch."""
        starts = [
            brussels(2026, 5, 22, 15, 0),  # Friday afternoon
            brussels(2026, 5, 22, 12, 30),  # Friday lunch
            brussels(2026, 5, 23, 20, 0),  # Saturday night
            brussels(2026, 5, 26, 7, 0),  # Tuesday before opening
            brussels(2026, 6, 3, 16, 59),  # a week later
        ]
        for hours in (0.5, 2, 4, 9, 45):
            planned = self.Interaction._plan_working_hours(
                self.calendar, [(start, hours) for start in starts]
            )
            leaves = [("time_type", "=", "leave"), ("company_id", "in", [False, self.company.id])]
            expected = [
                self.calendar.plan_hours(
                    hours, pytz.utc.localize(start), compute_leaves=True, domain=leaves
                )
                .astimezone(pytz.utc)
                .replace(tzinfo=None)
                for start in starts
            ]
            self.assertEqual(planned, expected, f"{hours} hours")
        queries = []
        for batch in (starts, starts * 20):
            self.env.invalidate_all()
            before = self.env.cr.sql_log_count
            self.Interaction._plan_working_hours(self.calendar, [(s, 4) for s in batch])
            queries.append(self.env.cr.sql_log_count - before)
        self.assertEqual(queries[0], queries[1], "one read of the calendar for 5 or 100 requests")

    def test_new_targets_and_hours_move_open_deadlines_only(self):
        friday = brussels(2026, 5, 22, 15, 0)
        open_request = self._request(date=friday)
        handled = self._request(date=friday, user_id=self.agent1.id)
        handled.write({"outcome": "resolved"})
        handled.action_done()
        self.line.with_user(self.manager).response_time_hours = 2
        self.assertEqual(open_request.sla_deadline, brussels(2026, 5, 22, 17, 0))
        self.assertEqual(
            handled.sla_deadline,
            brussels(2026, 5, 26, 10, 0),
            "a handled request keeps the deadline it was measured against",
        )
        self.team.with_user(self.manager).resource_calendar_id = False
        self.assertEqual(open_request.sla_deadline, friday + timedelta(hours=2))

    def test_a_contact_center_supervisor_sets_the_teams_hours(self):
        """The contact center's supervisor, who is no sales manager, sets the
        working hours and the senior team of the teams of the queue."""
        self.assertFalse(self.supervisor.has_group("sales_team.group_sale_manager"))
        friday = brussels(2026, 5, 22, 15, 0)
        open_request = self._request(date=friday)
        team = self.team.with_user(self.supervisor)
        team.write({"resource_calendar_id": False})
        self.assertEqual(open_request.sla_deadline, friday + timedelta(hours=4))
        team.resource_calendar_id = self.calendar
        self.assertEqual(open_request.sla_deadline, brussels(2026, 5, 26, 10, 0))

    def test_target_bounds(self):
        with self.assertRaises(ValidationError):
            self.line.with_user(self.supervisor).response_time_urgent_hours = -1

    # ------------------------------------------------------------------
    # routing
    # ------------------------------------------------------------------

    def test_high_priority_goes_to_the_senior_team(self):
        self.team.interaction_senior_team_id = self.desk
        ordinary = self._request(partner_id=self.env["res.partner"].create({"name": "Bob"}).id)
        urgent = self._request(
            partner_id=self.env["res.partner"].create({"name": "Big"}).id, priority="2"
        )
        self.assertEqual(ordinary.team_id, self.team)
        self.assertIn(ordinary.user_id, self.agent1 | self.agent2)
        self.assertEqual((urgent.team_id, urgent.user_id), (self.desk, self.senior))
        # the senior agent finds it in his queue; the hotline agents do not
        self.assertEqual(urgent.with_user(self.senior).state, "assigned")
        queue = self.Interaction.with_user(self.agent1).search([("team_id", "=", self.desk.id)])
        self.assertFalse(queue)
        # urgent only: a high request stays with the team
        self.team.interaction_senior_priority = "2"
        high = self._request(partner_id=ordinary.partner_id.id, priority="1")
        self.assertEqual(high.team_id, self.team)

    def test_the_salesperson_keeps_it_only_within_the_senior_team(self):
        """The customer's salesperson (an available agent) gets its requests,
        but not an urgent one, unless he is in the senior team."""
        self.team.interaction_senior_team_id = self.desk
        self.assertEqual(self._request().user_id, self.salesman)
        urgent = self._request(priority="2")
        self.assertEqual((urgent.team_id, urgent.user_id), (self.desk, self.senior))
        self.desk.member_ids |= self.salesman
        self.assertEqual(self._request(priority="2").user_id, self.salesman)

    def test_no_senior_agent_available_waits_in_the_senior_queue(self):
        self.team.interaction_senior_team_id = self.desk
        self.senior.contact_center_available = False
        urgent = self._request(priority="2", partner_id=False, contact_name="Walk-in")
        self.assertEqual(
            (urgent.team_id, urgent.user_id, urgent.state),
            (self.desk, self.env["res.users"], "new"),
        )

    def test_a_team_is_not_its_own_senior_team(self):
        with self.assertRaises(ValidationError):
            self.team.interaction_senior_team_id = self.team

    # ------------------------------------------------------------------
    # the queue and the supervisor's views
    # ------------------------------------------------------------------

    def _queue_order(self, view_type):
        """The order the queue action's view of ``view_type`` sorts by."""
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "crm_contact_center.crm_interaction_action_queue"
        )
        views = self.Interaction.with_user(self.agent1).get_views(action["views"])
        return etree.fromstring(views["views"][view_type]["arch"]).get("default_order")

    def test_queue_sorts_by_priority_then_deadline(self):
        """What the agent sees first: urgent, then high, then the normal
        requests whose deadline comes first."""
        self.team.resource_calendar_id = False
        with freeze_time("2026-06-01 08:00:00"):
            late = self._request(date=datetime(2026, 6, 1, 7, 0), partner_id=False,
                                 contact_name="Late")  # fmt: skip
            early = self._request(date=datetime(2026, 6, 1, 6, 0), partner_id=False,
                                  contact_name="Early")  # fmt: skip
            high = self._request(date=datetime(2026, 6, 1, 7, 30), partner_id=False,
                                 contact_name="High", priority="1")  # fmt: skip
            urgent = self._request(date=datetime(2026, 6, 1, 7, 50), partner_id=False,
                                   contact_name="Urgent", priority="2")  # fmt: skip
        for view_type in ("kanban", "list"):
            order = self._queue_order(view_type)
            seen = self.Interaction.with_user(self.agent1).search(
                [("team_id", "=", self.team.id), ("state", "!=", "done")], order=order
            )
            self.assertEqual(list(seen), [urgent, high, early, late], view_type)

    def test_breach_within_one_hour(self):
        """The filter and the team dashboard show the requests whose deadline
        falls within the next hour, not those already late nor handled."""
        self.team.resource_calendar_id = False
        now = datetime(2026, 6, 1, 10, 0)
        with freeze_time(now):
            # 4-hour target: answer by 10:30, 12:00, 9:50
            soon = self._request(date=now - timedelta(hours=3, minutes=30))
            later = self._request(date=now - timedelta(hours=2))
            late = self._request(date=now - timedelta(hours=4, minutes=10))
            handled = self._request(
                date=now - timedelta(hours=3, minutes=30), user_id=self.agent1.id
            )
            handled.write({"outcome": "resolved"})
            handled.action_done()
            self.Interaction._cron_check_sla()
            search = etree.fromstring(
                self.Interaction.get_views([(False, "search")])["views"]["search"]["arch"]
            )
            [node] = search.xpath("//filter[@name='breach_soon']")
            domain = ast.literal_eval(node.get("domain"))
            requests = soon | later | late | handled
            # the team leader's view of his team's queue
            found = self.Interaction.with_user(self.supervisor).search(domain) & requests
            self.assertEqual(found, soon)
            self.assertTrue(soon.with_user(self.agent1).sla_breach_soon)
            self.assertFalse((later | late | handled).filtered("sla_breach_soon"))
            team = self.team.with_user(self.supervisor)
            self.assertEqual(
                (
                    team.interaction_open_count,
                    team.interaction_breach_soon_count,
                    team.interaction_overdue_count,
                ),
                (3, 1, 1),
            )
            action = team.with_context(queue_filter="breach_soon").action_view_interaction_queue()
            self.assertEqual(
                self.Interaction.with_user(self.supervisor).search(action["domain"] + domain),
                soon,
            )
            self.assertTrue(action["context"]["search_default_breach_soon"])
        with freeze_time(now + timedelta(hours=1)):
            self.assertFalse(self.Interaction.search(domain) & requests, "all late now")
