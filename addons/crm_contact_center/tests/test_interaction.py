from datetime import datetime, timedelta

from freezegun import freeze_time
from psycopg2 import IntegrityError

from odoo.addons.crm_contact_center.models.res_partner import TIMELINE_SIZE
from odoo.exceptions import UserError
from odoo.tests import Form, tagged
from odoo.tools import mute_logger

from .common import ContactCenterCase


@tagged("post_install", "-at_install")
class TestInteraction(ContactCenterCase):
    def test_timeline_covers_all_contacts_of_a_company(self):
        old = self.Interaction.create(
            {"channel_id": self.channel["phone"].id, "partner_id": self.customer.id,
             "date": datetime(2026, 1, 1), "direction": "outbound", "state": "done"}
        )  # fmt: skip
        new = self.Interaction.create(
            {"channel_id": self.channel["email"].id, "partner_id": self.contact.id,
             "date": datetime(2026, 2, 1), "direction": "outbound", "state": "done"}
        )  # fmt: skip
        self.assertEqual(new.commercial_partner_id, self.customer)
        self.assertEqual(self.customer.interaction_count, 2)
        self.assertEqual(self.contact.interaction_count, 1)
        self.assertEqual(self.customer.interaction_ids, new | old)
        action = self.customer.action_view_interactions()
        found = self.Interaction.search(action["domain"])
        self.assertEqual(list(found), [new, old], "newest first")

    def test_partner_form_timeline_shows_the_newest_only(self):
        """The form of a customer with a long history shows its latest interactions
        (the salesperson's view, through the record rules); the button counts all."""
        start = datetime(2026, 1, 5, 9, 0)
        dates = [start + timedelta(hours=i) for i in range(TIMELINE_SIZE + 5)]
        self.Interaction.create(
            [
                {"channel_id": self.channel["phone"].id, "partner_id": self.contact.id,
                 "date": date, "direction": "outbound", "state": "done"}
                for date in dates
            ]
        )  # fmt: skip
        customer = self.customer.with_user(self.salesman)
        timeline = customer.interaction_timeline_ids
        self.assertEqual(timeline.mapped("date"), sorted(dates, reverse=True)[:TIMELINE_SIZE])
        self.assertEqual(customer.interaction_count, len(dates))

    def test_counts_use_one_query(self):
        partners = self.env["res.partner"].create([{"name": f"P{i}"} for i in range(5)])
        self.Interaction.create(
            [{"channel_id": self.channel["phone"].id, "partner_id": p.id} for p in partners]
        )
        partners.invalidate_recordset()
        with self.assertQueryCount(3):
            self.assertEqual(partners.mapped("interaction_count"), [1] * 5)

    def test_sla_deadline_follows_channel_target(self):
        interaction = self.Interaction.create(
            {"channel_id": self.channel["email"].id, "partner_id": self.customer.id,
             "date": datetime(2026, 3, 2, 9, 0)}
        )  # fmt: skip
        self.assertEqual(interaction.sla_deadline, datetime(2026, 3, 3, 9, 0))
        outbound = self.Interaction.create(
            {"channel_id": self.channel["email"].id, "direction": "outbound",
             "partner_id": self.customer.id}
        )  # fmt: skip
        self.assertFalse(outbound.sla_deadline, "no SLA on what we send")

    def test_external_id_unique_per_source(self):
        values = {"channel_id": self.channel["phone"].id, "source_key": "test",
                  "external_id": "X1"}  # fmt: skip
        self.Interaction.create(values)
        with self.assertRaises(IntegrityError), self.cr.savepoint(), mute_logger("odoo.sql_db"):
            self.Interaction.create(values)
        self.Interaction.create({**values, "source_key": "other"})

    def test_body_is_sanitised(self):
        interaction = self.Interaction.create(
            {"channel_id": self.channel["web"].id,
             "body": "<p>Hi</p><script>alert(1)</script>"}
        )  # fmt: skip
        self.assertNotIn("script", interaction.body)

    def test_log_wizard_defaults_from_opportunity(self):
        lead = self._opportunity(self.customer)
        action = lead.with_user(self.salesman).action_log_interaction()
        wizard = Form(
            self.env[action["res_model"]].with_user(self.salesman).with_context(**action["context"])
        )
        self.assertEqual(wizard.partner_id, self.customer)
        self.assertEqual(wizard.lead_id, lead)
        self.assertEqual(wizard.channel_id, self.channel["phone"])
        self.assertEqual(wizard.user_id, self.salesman)
        self.assertEqual(wizard.team_id, self.team)
        wizard.body = "<p>Discussed the renewal</p>"
        wizard.duration_minutes = 5
        wizard.save().action_log()
        logged = lead.interaction_ids
        self.assertEqual(len(logged), 1)
        self.assertEqual((logged.state, logged.duration, logged.outcome), ("done", 300, "resolved"))
        self.assertEqual(lead.interaction_count, 1)

    def test_log_wizard_from_partner_finds_the_open_opportunity(self):
        lead = self._opportunity(self.customer)
        action = self.contact.action_log_interaction()
        wizard = Form(self.env[action["res_model"]].with_context(**action["context"]))
        self.assertEqual(wizard.lead_id, lead)

    def test_queue_take_done_convert(self):
        request = self.Interaction.create(
            {"channel_id": self.channel["chat"].id, "contact_name": "Bob Unknown",
             "contact_email": "bob@example.com", "subject": "Pricing?", "company_id": self.company.id}
        )  # fmt: skip
        request.with_user(self.supervisor).action_take()
        self.assertEqual((request.state, request.user_id), ("in_progress", self.supervisor))
        with self.assertRaises(UserError):
            request.action_done()
        # converting needs sales rights: a sales manager does it
        action = request.action_convert_opportunity()
        self.assertEqual(action["res_id"], request.lead_id.id)
        self.assertEqual(request.lead_id.email_from, "bob@example.com")
        self.assertEqual(request.outcome, "opportunity")
        request.action_done()
        self.assertEqual(request.state, "done")

    def test_sla_cron_flags_and_escalates_once(self):
        with freeze_time("2026-04-01 08:00:00"):
            request = self.Interaction.create(
                {"channel_id": self.channel["phone"].id, "partner_id": self.customer.id,
                 "team_id": self.team.id, "user_id": self.agent1.id, "company_id": self.company.id}
            )  # fmt: skip
        with freeze_time("2026-04-01 08:30:00"):
            self.assertFalse(self.Interaction._cron_check_sla())
        with freeze_time("2026-04-01 09:30:00"):
            self.assertEqual(self.Interaction._cron_check_sla(), request)
            self.assertTrue(request.is_overdue)
            escalation = request.activity_ids.filtered(lambda a: a.user_id == self.supervisor)
            self.assertEqual(len(escalation), 1)
            self.assertFalse(self.Interaction._cron_check_sla(), "escalated only once")
        request.write({"outcome": "resolved"})
        request.action_done()
        self.assertFalse(request.is_overdue)
        self.assertEqual(request.sla_deadline, datetime(2026, 4, 1, 9, 0))
        self.assertLess(request.sla_deadline - request.date, timedelta(hours=2))


@tagged("post_install", "-at_install")
class TestBatches(ContactCenterCase):
    """Routing and SLA escalation work by batch: the requests are handed out
    as if one came after the other, and the number of queries does not grow
    with the number of requests."""

    def _requests(self, count, **vals):
        return {
            "channel_id": self.channel["phone"].id,
            "contact_name": "Walk-in",
            "team_id": self.team.id,
            "company_id": self.company.id,
            **vals,
        }, count

    def _create(self, count, **vals):
        values, count = self._requests(count, **vals)
        return self.Interaction.create([dict(values) for _ in range(count)])

    def _queries(self, function):
        before = self.env.cr.sql_log_count
        function()
        return self.env.cr.sql_log_count - before

    def test_a_batch_is_routed_in_turn(self):
        batch = self._create(6)
        self.assertEqual(
            [r.user_id.login for r in batch],
            ["cc_agent1", "cc_agent2"] * 3,
            "round robin over the team's agents, request after request",
        )
        self.assertEqual(set(batch.mapped("state")), {"assigned"})
        # least open: agent2 has one request fewer after this odd batch
        self._create(1, user_id=self.agent1.id)
        self.team.interaction_assignment = "least_open"
        batch = self._create(3)
        self.assertEqual([r.user_id.login for r in batch], ["cc_agent2", "cc_agent1", "cc_agent2"])

    def test_routing_queries_do_not_grow_with_the_batch(self):
        self._create(1)  # warm the caches of the first request of a test
        self.env.invalidate_all()
        small = self._queries(lambda: self._create(2))
        self.env.invalidate_all()
        large = self._queries(lambda: self._create(12))
        self.assertEqual(large, small, "routing 12 requests costs what routing 2 does")

    def test_sla_backlog_drains_in_batches_and_reports_progress(self):
        self.env["ir.config_parameter"].sudo().set_param("crm_contact_center.sla_batch", 3)
        with freeze_time("2026-04-01 08:00:00"):
            late = self._create(7, user_id=self.agent1.id)
        cron = self.env.ref("crm_contact_center.ir_cron_check_sla")
        Progress = self.env["ir.cron.progress"].sudo()
        reported = []
        with freeze_time("2026-04-01 10:00:00"):
            for _run in range(3):
                cron.method_direct_trigger()
                last = Progress.search([("cron_id", "=", cron.id)], order="id desc", limit=1)
                reported.append((last.done, last.remaining))
        self.assertEqual(reported, [(3, 4), (3, 1), (1, 0)], "the scheduler sees the backlog")
        self.assertTrue(all(late.mapped("is_escalated")))
        escalations = late.activity_ids.filtered(lambda a: a.user_id == self.supervisor)
        self.assertEqual(len(escalations), 7, "one to-do for the team leader per request")

    def test_sla_queries_do_not_grow_with_the_batch(self):
        with freeze_time("2026-03-31 08:00:00"):
            self._create(1, user_id=self.agent1.id)
        with freeze_time("2026-03-31 10:00:00"):
            self.Interaction._cron_check_sla()  # warm the caches
        with freeze_time("2026-04-01 08:00:00"):
            self._create(2, user_id=self.agent1.id)
        with freeze_time("2026-04-01 10:00:00"):
            self.env.invalidate_all()
            small = self._queries(self.Interaction._cron_check_sla)
        with freeze_time("2026-04-02 08:00:00"):
            self._create(12, user_id=self.agent1.id)
        with freeze_time("2026-04-02 10:00:00"):
            self.env.invalidate_all()
            large = self._queries(self.Interaction._cron_check_sla)
        self.assertEqual(large, small, "escalating 12 requests costs what escalating 2 does")
