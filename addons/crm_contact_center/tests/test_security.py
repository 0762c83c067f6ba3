import base64
import importlib.util
from pathlib import Path

from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import new_test_user, tagged

from ..lib.events import parse_event
from .common import ContactCenterCase


@tagged("post_install", "-at_install")
class TestSecurity(ContactCenterCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.other_team = cls.env["crm.team"].create(
            {"name": "Back office", "company_id": cls.company.id}
        )
        make = cls.Interaction.create
        phone = cls.channel["phone"].id
        cls.team_request = make(
            {
                "channel_id": phone,
                "team_id": cls.team.id,
                "partner_id": cls.customer.id,
                "user_id": cls.agent2.id,
            }
        )
        cls.other_request = make(
            {
                "channel_id": phone,
                "team_id": cls.other_team.id,
                "partner_id": cls.customer.id,
                "user_id": cls.agent2.id,
            }
        )
        cls.stranger_request = make({"channel_id": phone, "team_id": cls.other_team.id})
        # fmt: skip

    def _visible(self, user):
        return self.Interaction.with_user(user).search([]) & (
            self.team_request | self.other_request | self.stranger_request
        )

    def test_agent_handles_own_and_team_requests(self):
        self.assertEqual(self._visible(self.agent1), self.team_request)
        self.team_request.with_user(self.agent1).write({"outcome": "resolved"})
        with self.assertRaises(AccessError):
            self.other_request.with_user(self.agent1).write({"outcome": "resolved"})
        with self.assertRaises(AccessError):
            self.team_request.with_user(self.agent1).unlink()
        with self.assertRaises(AccessError):
            self.env["crm.interaction.source"].with_user(self.agent1).create({"name": "Mine"})

    def test_team_leader_opens_the_requests_escalated_to_him(self):
        self.other_team.user_id = self.agent1  # leads the team without being a member
        self.assertEqual(
            self._visible(self.agent1),
            self.team_request | self.other_request | self.stranger_request,
        )
        self.stranger_request.with_user(self.agent1).write({"outcome": "resolved"})

    def test_salesman_reads_his_customers_history(self):
        self.assertEqual(self._visible(self.salesman), self.team_request | self.other_request)
        with self.assertRaises(AccessError):
            self.other_request.with_user(self.salesman).write({"outcome": "resolved"})
        self.assertEqual(self.customer.with_user(self.salesman).interaction_count, 2)

    def test_supervisor_sees_all_of_the_company_only(self):
        self.assertEqual(
            self._visible(self.supervisor),
            self.team_request | self.other_request | self.stranger_request,
        )
        self.stranger_request.with_user(self.supervisor).unlink()
        other_company = self.env["res.company"].create({"name": "CC Other Co"})
        outsider = new_test_user(
            self.env, login="cc_outsider",
            groups="crm_contact_center.group_contact_center_supervisor",
            company_id=other_company.id, company_ids=[other_company.id],
        )  # fmt: skip
        env = self.env(user=outsider, context={"allowed_company_ids": other_company.ids})
        self.assertFalse(env["crm.interaction"].search([("id", "=", self.team_request.id)]))
        with self.assertRaises(AccessError):
            self.team_request.with_env(env).read(["subject"])
        source = self.env["crm.interaction.source"].create(
            {"name": "PBX A", "company_id": self.company.id}
        )
        self.assertFalse(env["crm.interaction.source"].search([("id", "=", source.id)]))

    def test_portal_sees_nothing(self):
        portal = new_test_user(self.env, login="cc_portal", groups="base.group_portal")
        with self.assertRaises(AccessError):
            self.Interaction.with_user(portal).search([])
        with self.assertRaises(AccessError):
            self.team_request.with_user(portal).read(["subject"])

    def test_only_supervisors_generate_keys(self):
        source = self.env["crm.interaction.source"].create(
            {"name": "PBX", "company_id": self.company.id}
        )
        with self.assertRaises(AccessError):
            source.with_user(self.agent1).generate_api_key()
        key = source.with_user(self.supervisor).generate_api_key()
        self.assertEqual(len(key), 43)
        self.assertEqual(self.env["crm.interaction.source"]._authenticate(key), source)

    def test_agent_cannot_forge_api_fields(self):
        Interaction = self.Interaction.with_user(self.agent1)
        phone = self.channel["phone"].id
        with self.assertRaises(AccessError):
            Interaction.create(
                {"channel_id": phone, "team_id": self.team.id, "source_key": "api:1",
                 "external_id": "forged-1"}
            )  # fmt: skip
        request = self.team_request.with_user(self.agent1)
        for values in ({"is_overdue": False}, {"api_events": "call.ended"}, {"res_id": 1}):
            with self.assertRaises(AccessError):
                request.write(values)
        # closing a request still clears the overdue flag on the agent's behalf
        request.write({"outcome": "resolved"})
        request.action_done()
        self.assertEqual((request.state, request.user_id), ("done", self.agent1), "he handled it")
        # the inbound API writes them as superuser on an authenticated source
        source = self.env["crm.interaction.source"].create(
            {"name": "PBX", "company_id": self.company.id, "channel_ids": [(4, phone)]}
        )
        event = parse_event(
            {"event": "call.missed", "id": "c-42", "timestamp": "2026-06-01T09:00:00Z",
             "from": {"phone": "+3225551234"}}
        )  # fmt: skip
        [result] = source._ingest([event])  # as the controller: superuser
        logged = self.Interaction.browse(result["id"])
        self.assertEqual(
            (logged.source_id, logged.source_key, logged.external_id),
            (source, f"api:{source.id}", "c-42"),
        )

    # issue 12

    def test_own_documents_salesman_does_not_read_teammates_captured_emails(self):
        teammate = new_test_user(
            self.env, login="cc_teammate", groups="sales_team.group_sale_salesman",
            company_id=self.company.id, company_ids=[self.company.id],
        )  # fmt: skip
        sales = self.env["crm.team"].create(
            {"name": "Field sales", "company_id": self.company.id,
             "member_ids": [(6, 0, (self.salesman | teammate).ids)]}
        )  # fmt: skip
        their_customer = self.env["res.partner"].create(
            {"name": "Teammate's Customer", "email": "buyer@theirs.example.com",
             "company_id": self.company.id, "user_id": teammate.id}
        )  # fmt: skip
        lead = self._opportunity(their_customer, user_id=teammate.id, team_id=sales.id)
        lead.message_post(
            body="Our budget is 40k, not more", author_id=their_customer.id,
            message_type="email", subtype_xmlid="mail.mt_comment",
        )  # fmt: skip
        lead.with_user(teammate).message_post(
            body="Our floor price is 38k", message_type="comment", subtype_xmlid="mail.mt_comment"
        )
        captured = self.Interaction.search([("lead_id", "=", lead.id)])
        self.assertEqual(len(captured), 2)
        self.assertEqual(captured.team_id, sales, "logged on the team both salespeople are in")
        self.assertEqual(set(captured.mapped("direction")), {"inbound", "outbound"})
        as_salesman = captured.with_user(self.salesman)
        self.assertFalse(
            self.Interaction.with_user(self.salesman).search([("lead_id", "=", lead.id)]),
            "a teammate's opportunity e-mails are not his to read",
        )
        with self.assertRaises(AccessError):
            as_salesman.read(["body"])
        with self.assertRaises(AccessError):
            as_salesman.write({"outcome": "not_interested"})
        with self.assertRaises(AccessError):
            lead.with_user(self.salesman).check_access("read")  # as the stock CRM rules
        # he still logs and reads his own customer's interactions
        wizard = (
            self.env["crm.interaction.log.wizard"]
            .with_user(self.salesman)
            .create({"partner_id": self.customer.id, "subject": "Called Acme back"})
        )
        wizard.action_log()
        mine = self.Interaction.with_user(self.salesman).search(
            [("commercial_partner_id", "=", self.customer.id)]
        )
        logged = mine.filtered(lambda i: i.subject == "Called Acme back")
        self.assertEqual(logged.user_id, self.salesman)
        self.assertEqual(mine - logged, self.team_request | self.other_request)
        logged.write({"outcome": "follow_up"})
        self.assertEqual(logged.outcome, "follow_up")
        # and the team's open queue (calls and forms waiting for an agent)
        queue = self.Interaction.create(
            {"channel_id": self.channel["phone"].id, "team_id": sales.id}
        )
        self.assertEqual(
            self.Interaction.with_user(self.salesman).search([("id", "=", queue.id)]), queue
        )

    def test_company_supervisor_cannot_change_shared_channels(self):
        shared = self.channel["phone"]
        as_supervisor = shared.with_user(self.supervisor)
        self.assertEqual(as_supervisor.code, "phone", "shared channels stay readable")
        for values in ({"active": False}, {"code": "pbx-a"}, {"response_time_hours": 800000}):
            with self.assertRaises(AccessError):
                as_supervisor.write(values)
        with self.assertRaises(AccessError):
            as_supervisor.unlink()
        Channel = self.env["crm.interaction.channel"].with_user(self.supervisor)
        with self.assertRaises(AccessError):
            Channel.create({"name": "Shared fax", "code": "fax"})
        self.assertEqual(
            (shared.active, shared.code, shared.response_time_hours), (True, "phone", 1.0)
        )
        # his company's own channels are his to configure, within bounds
        own = Channel.create({"name": "Fax", "code": "fax", "company_id": self.company.id})
        own.write({"response_time_hours": 4, "active": False})
        with self.assertRaises(ValidationError):
            own.write({"response_time_hours": 800000})
        with self.assertRaises(ValidationError):
            own.write({"response_time_hours": -1})
        # ... but not to share with every company, nor to give away
        other = self.env["res.company"].create({"name": "Channel Other Co"})
        for company in (False, other.id):
            with self.assertRaises(AccessError):
                own.write({"company_id": company})
        self.assertEqual(own.company_id, self.company)
        # administrators maintain the shared ones
        admin = new_test_user(
            self.env, login="cc_admin",
            groups="base.group_system,crm_contact_center.group_contact_center_supervisor",
            company_id=self.company.id, company_ids=[self.company.id],
        )  # fmt: skip
        shared.with_user(admin).write({"response_time_hours": 2})
        self.assertEqual(shared.response_time_hours, 2)

    def test_request_is_not_assigned_to_another_company_user(self):
        other_company = self.env["res.company"].create({"name": "CC Other Co"})
        outsider = new_test_user(
            self.env, login="cc_outsider_agent",
            groups="crm_contact_center.group_contact_center_agent",
            company_id=other_company.id, company_ids=[other_company.id],
        )  # fmt: skip
        request = self.team_request.with_user(self.supervisor)
        with self.assertRaises(UserError):
            request.write({"user_id": outsider.id})
        with self.assertRaises(UserError):
            self.Interaction.with_user(self.supervisor).create(
                {"channel_id": self.channel["phone"].id, "user_id": outsider.id}
            )
        self.assertEqual(self.team_request.user_id, self.agent2)

    def _run_migration(self, script, version):
        path = Path(__file__).parents[1] / "migrations" / script
        spec = importlib.util.spec_from_file_location(f"crm_cc_{path.stem}_{version}", path)
        migration = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(migration)
        migration.migrate(self.env.cr, version)

    def test_upgrades_install_the_current_agent_rule(self):
        rule = self.env.ref("crm_contact_center.crm_interaction_rule_agent")
        installed = rule.domain_force
        old_rules = {
            # 18.0.1.1.0: the team's whole history
            "18.0.1.1.0": "['|', '|', ('user_id', '=', user.id),"
            " ('team_id', 'in', user.crm_team_ids.ids + user.sale_team_id.ids),"
            " ('team_id.user_id', '=', user.id)]",
            # 18.0.1.2.0: the team's requests, finished ones included
            "18.0.1.2.0": "['|', '|', ('user_id', '=', user.id), ('team_id.user_id', '=', user.id),"
            " '&', ('team_id', 'in', user.crm_team_ids.ids + user.sale_team_id.ids),"
            " ('source_key', 'not in', ['mail.message', 'calendar.event', 'sms.sms'])]",
        }
        scripts = {
            "18.0.1.1.0": "18.0.1.2.0/post-migrate.py",
            "18.0.1.2.0": "18.0.1.3.0/end-migrate.py",
        }
        for version, domain in old_rules.items():
            rule.domain_force = domain
            self._run_migration(scripts[version], version)
            self.assertEqual(rule.domain_force, installed, version)
        self.assertIn("source_key", rule.domain_force)
        self.assertIn("'missed'", rule.domain_force)

    def test_agent_does_not_read_a_teammates_finished_call(self):
        """The queue shows what is still to handle; once a teammate has
        finished a call, its notes and recording are his and his customer's
        salesperson's (see the access matrix for the other roles)."""
        call = self.team_request  # the team's, handled by agent 2
        as_agent = call.with_user(self.agent1)
        self.assertTrue(as_agent.has_access("read"))
        call.sudo().write({"state": "done"})
        self.env.invalidate_all()
        self.assertFalse(as_agent.has_access("read"))
        self.assertTrue(call.with_user(self.agent2).has_access("read"))

    def test_client_context_cannot_pass_a_request_as_history(self):
        """``crm_interaction_backfill`` (history import, closed and never
        routed) and ``crm_interaction_no_capture`` are switches of server
        code: from an agent's browser they change nothing."""
        Interaction = self.Interaction.with_user(self.agent1).with_context(
            crm_interaction_backfill=True
        )
        request = Interaction.create(
            {"channel_id": self.channel["phone"].id, "team_id": self.team.id}
        )
        self.assertNotEqual(request.state, "done")
        self.assertFalse(request.done_date)
        partner = self.env["res.partner"].create({"name": "Context Co"})
        # message_post creates the message as superuser with the caller's
        # context: the flag a browser can send must not switch the capture off
        partner.with_context(crm_interaction_no_capture=True).message_post(
            body="Called about the renewal", message_type="comment", subtype_xmlid="mail.mt_comment"
        )
        self.assertTrue(
            self.Interaction.search([("partner_id", "=", partner.id)]),
            "the note is in the customer's interaction log",
        )


@tagged("post_install", "-at_install")
class TestDialogPrivacy(ContactCenterCase):
    """The credential and import dialogs are rows of transient tables: what a
    supervisor types or uploads there is read by nobody else, and a Twilio
    token is not left in the row once stored on the integration."""

    TOKEN = "0123456789abcdef0123456789abcdef"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.twilio = cls.env["crm.interaction.source"].create(
            {"name": "Twilio", "company_id": cls.company.id, "format": "twilio"}
        )
        cls.other_company = cls.env["res.company"].create({"name": "Other CC Co"})
        cls.other_supervisor = new_test_user(
            cls.env,
            login="cc_other_supervisor",
            groups="crm_contact_center.group_contact_center_supervisor",
            company_id=cls.other_company.id,
            company_ids=[cls.other_company.id],
        )
        cls.colleague = new_test_user(
            cls.env,
            login="cc_colleague_supervisor",
            groups="crm_contact_center.group_contact_center_supervisor",
            company_id=cls.company.id,
            company_ids=[cls.company.id],
        )

    def _rotate_dialog(self, **values):
        return (
            self.env["crm.interaction.source.rotate.wizard"]
            .with_user(self.supervisor)
            .create(
                {
                    "source_id": self.twilio.id,
                    "credential": "twilio_token",
                    "twilio_auth_token": self.TOKEN,
                    "keep_previous": False,
                    **values,
                }
            )
        )

    def _as(self, user, records):
        return records.with_user(user).with_context(allowed_company_ids=user.company_ids.ids)

    def _readable_by(self, user, records):
        return self._as(user, records).search([("id", "in", records.ids)])

    def test_twilio_token_dialog_is_private_and_emptied(self):
        dialog = self._rotate_dialog()
        Rotate = dialog.with_user(self.supervisor)
        for user in (self.other_supervisor, self.colleague):
            self.assertFalse(self._readable_by(user, dialog), user.login)
            with self.assertRaises(AccessError):
                self._as(user, dialog).read(["twilio_auth_token"])
        Rotate.action_confirm()
        self.assertEqual(self.twilio._valid_secrets("twilio"), [self.TOKEN])
        self.assertFalse(dialog.twilio_auth_token, "the token lives on the integration only")

    def test_a_malformed_token_or_credential_is_refused_before_it_is_stored(self):
        with self.assertRaises(UserError):
            self._rotate_dialog(twilio_auth_token="my password")
        with self.assertRaises(ValidationError):
            self._rotate_dialog(credential="api_key", twilio_auth_token=False)
        self.assertFalse(self.env["crm.interaction.source.rotate.wizard"].search([]))

    def test_no_dialog_on_another_companys_integration(self):
        with self.assertRaises(UserError):  # AccessError or company mismatch
            self._as(
                self.other_supervisor, self.env["crm.interaction.source.rotate.wizard"]
            ).create(
                {
                    "source_id": self.twilio.id,
                    "credential": "twilio_token",
                    "twilio_auth_token": self.TOKEN,
                    "keep_previous": False,
                }
            )
        self.assertFalse(self.twilio._valid_secrets("twilio"))

    def test_an_uploaded_call_file_is_read_by_its_uploader_only(self):
        source = self.env["crm.interaction.source"].create(
            {
                "name": "CDRs",
                "company_id": self.company.id,
                "channel_ids": [(6, 0, [self.channel["phone"].id])],
            }
        )
        dialog = (
            self.env["crm.interaction.cdr.import.wizard"]
            .with_user(self.supervisor)
            .create(
                {
                    "source_id": source.id,
                    "file": base64.b64encode(b"not,a,cdr\n+32470123456,secret,line\n"),
                    "filename": "calls.csv",
                }
            )
        )
        with self.assertRaises(UserError):  # refused: the upload stays in the dialog
            dialog.action_import()
        for user in (self.other_supervisor, self.colleague):
            self.assertFalse(self._readable_by(user, dialog), user.login)
            with self.assertRaises(AccessError):
                self._as(user, dialog).read(["file", "error_report"])
