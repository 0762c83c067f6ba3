import ast
import email
import re
from datetime import datetime, timedelta

import requests

from odoo import fields
from odoo.addons.base.tests.common import MockSmtplibCase
from odoo.tests import HttpCase, new_test_user, tagged

ONE_CLICK = {"List-Unsubscribe": "One-Click"}


@tagged("post_install", "-at_install")
class TestUnsubscribe(HttpCase, MockSmtplibCase):
    """The unsubscribe link of the campaign e-mails, through the real HTTP
    server: the e-mails come from the real step runner, the customers click
    from outside any session.

    No frozen clock here: the browser and the session cookies live in real
    time, so the fixtures are dated from today.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.today = fields.Date.today()
        cls.company = cls.env["res.company"].create({"name": "Unsubscribe Test Co"})
        cls.manager = new_test_user(
            cls.env,
            login="unsub_manager",
            groups="sales_team.group_sale_manager",
            company_id=cls.company.id,
            company_ids=[cls.company.id],
            name="Una Manager",
        )
        cls.jane, cls.john, cls.ann = cls.customers = cls.env["res.partner"].create(
            [
                {"name": name, "is_company": True, "email": mail, "company_id": cls.company.id}
                for name, mail in (
                    ("Jane Doe Ltd", "jane.doe@example.com"),
                    ("John Roe Ltd", "john.roe@example.com"),
                    ("Ann Poe Ltd", "ann.poe@example.com"),
                )
            ]
        )
        won = cls.env["crm.stage"].search([("is_won", "=", True)], limit=1)
        closed = datetime.now() - timedelta(days=150)
        cls.env["crm.lead"].with_company(cls.company).create(
            [
                {
                    "name": f"{c.name} order",
                    "type": "opportunity",
                    "partner_id": c.id,
                    "company_id": cls.company.id,
                    "team_id": False,
                    "user_id": False,
                    "stage_id": won.id,
                    "expected_revenue": 900,
                    "date_closed": closed,
                }
                for c in cls.customers
            ]
        )
        template = cls.env.ref("crm_retention.mail_template_campaign_offer")
        # two e-mails a week apart: the second one tells whether an opt-out
        # between them stopped the member
        cls.campaign = (
            cls.env["crm.retention.campaign"]
            .with_user(cls.manager)
            .create(
                {
                    "name": "Come back",
                    "company_id": cls.company.id,
                    "stage_ids": [(6, 0, cls.env.ref("crm_retention.stage_at_risk").ids)],
                    "control_share": 0.0,
                    "random_seed": 77,
                    "step_ids": [
                        (0, 0, {"sequence": 10, "name": "Offer", "action": "email",
                                "mail_template_id": template.id, "delay_days": 0}),
                        (0, 0, {"sequence": 20, "name": "Reminder", "action": "email",
                                "mail_template_id": template.id, "delay_days": 7}),
                    ],
                }
            )
        )  # fmt: skip
        cls.env["crm.retention.campaign.launch"].with_user(cls.manager).create(
            {"campaign_id": cls.campaign.id, "confirm": True}
        ).action_launch()
        cls.campaign = cls.campaign.with_env(cls.env)  # created as the manager: read as admin
        cls.members = cls.campaign.member_ids
        cls.member = {m.partner_id: m for m in cls.members}
        cls.Member = cls.env["crm.retention.campaign.member"]
        cls.Member.sudo()._run_due_steps(today=cls.today)

    # helpers

    def _path(self, partner, token=None):
        return f"/crm_retention/unsubscribe/{partner.id}/{token or self._token(partner)}"

    def _token(self, partner):
        return partner._retention_unsubscribe_token()

    def _mails(self, member):
        return member.execution_ids.mail_id

    def _notes(self, partner):
        return partner.message_ids.filtered(lambda m: "retention campaigns" in (m.body or ""))

    def _post_one_click(self, path):
        """What a mail client sends (RFC 8058): no cookie, no CSRF token."""
        self.env.flush_all()  # the server reads the test's cursor
        return requests.post(self.base_url() + path, data=ONE_CLICK, timeout=12)

    def assertUntouched(self, partner):
        self.env.invalidate_all()
        member = self.member[partner]
        self.assertFalse(partner.retention_opt_out)
        self.assertFalse(partner.retention_opt_out_date)
        self.assertFalse(partner.is_blacklisted)
        self.assertFalse(self._notes(partner))
        self.assertEqual(member.state, "contacted")
        self.assertTrue(member.next_step_id, "the reminder is still due")

    # tests

    def test_campaign_email_carries_the_link_and_one_click_headers(self):
        self.assertEqual(len(self.members), 3)
        mail = self._mails(self.member[self.jane])
        self.assertEqual(len(mail), 1)
        url = self.jane._retention_unsubscribe_url()
        base = self.env["ir.config_parameter"].sudo().get_param("web.base.url")
        self.assertTrue(url.startswith(f"{base}/crm_retention/unsubscribe/{self.jane.id}/"))
        # what leaves the server: headers and a visible link
        with self.mock_smtplib_connection():
            mail.send()
        self.assertEqual(len(self.emails), 1)
        raw = self.emails[0]["message"]
        # verbatim on one line: mail providers do not decode encoded-words there
        self.assertIn(f"\nList-Unsubscribe: <{url}>\n", raw.replace("\r\n", "\n"))
        message = email.message_from_string(raw)
        self.assertEqual(message["List-Unsubscribe"], f"<{url}>")
        self.assertEqual(message["List-Unsubscribe-Post"], "List-Unsubscribe=One-Click")
        self.assertIn(f'href="{url}"', mail.body_html)
        # each customer gets its own link
        john_mail = self._mails(self.member[self.john])
        self.assertEqual(
            ast.literal_eval(john_mail.headers)["List-Unsubscribe"],
            f"<{self.john._retention_unsubscribe_url()}>",
        )
        self.assertNotIn(self._token(self.jane), john_mail.body_html)

    def test_footer_adds_no_query_per_recipient(self):
        template = self.env.ref("crm_retention.mail_template_campaign_offer")
        members = self.members.sorted("id")
        template._generate_template(members.ids, ("body_html",))  # compiled, params cached
        counts = []
        for batch in (members[:1], members):
            self.env.invalidate_all()
            before = self.cr.sql_log_count
            values = template._generate_template(batch.ids, ("body_html",))
            counts.append(self.cr.sql_log_count - before)
            self.assertTrue(all("/crm_retention/unsubscribe/" in v["body_html"]
                                for v in values.values()))  # fmt: skip
        # (the first batch may read the current user apart: one query less is fine)
        self.assertLessEqual(counts[1], counts[0], "3 recipients cost what 1 costs")

    def test_get_shows_the_page_and_changes_nothing(self):
        response = self.url_open(self._path(self.jane))
        self.assertEqual(response.status_code, 200)
        self.assertIn("j***@example.com", response.text)
        self.assertNotIn("jane.doe@example.com", response.text)
        self.assertIn("Unsubscribe Test Co", response.text)
        self.assertIn("Unsubscribe from these offers", response.text)
        self.assertIn('name="blacklist"', response.text)
        # a mail scanner fetching it twice opts nobody out
        self.url_open(self._path(self.jane))
        self.assertUntouched(self.jane)

    def test_one_click_post_opts_out_and_the_next_step_is_not_sent(self):
        response = self._post_one_click(self._path(self.jane))
        self.assertEqual(response.status_code, 200)
        self.env.invalidate_all()
        member = self.member[self.jane]
        self.assertTrue(self.jane.retention_opt_out)
        self.assertEqual(self.jane.retention_opt_out_origin, "one_click")
        self.assertTrue(self.jane.retention_opt_out_date)
        self.assertFalse(self.jane.is_blacklisted, "one click is about these offers only")
        self.assertEqual(member.state, "opted_out")
        self.assertFalse(member.next_step_id)
        self.assertEqual(len(self._notes(self.jane)), 1)
        self.assertEqual(self._notes(self.jane).author_id, self.jane)
        # replayed (a second click, a retry of the mail client): same answer,
        # nothing more
        self.assertEqual(self._post_one_click(self._path(self.jane)).status_code, 200)
        self.env.invalidate_all()
        self.assertEqual(len(self._notes(self.jane)), 1)
        # a week later the reminder goes to the others only
        self.Member.sudo()._run_due_steps(today=self.today + timedelta(days=7))
        self.assertEqual(len(self._mails(member)), 1)
        self.assertEqual(len(self._mails(self.member[self.john])), 2)
        self.assertEqual(len(self._mails(self.member[self.ann])), 2)

    def test_page_form_opts_out_and_blacklists_on_request(self):
        page = self.url_open(self._path(self.john))
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        # without the page's token (another site posting the form): refused
        response = self.url_open(self._path(self.john), data={"blacklist": "1"})
        self.assertEqual(response.status_code, 400)
        self.assertUntouched(self.john)
        response = self.url_open(
            self._path(self.john), data={"csrf_token": csrf, "blacklist": "1", "unsubscribe": "1"}
        )
        self.assertEqual(response.status_code, 200)
        self.assertIn("You are unsubscribed", response.text)
        self.assertIn("no e-mail at all", response.text)
        self.env.invalidate_all()
        self.assertTrue(self.john.retention_opt_out)
        self.assertEqual(self.john.retention_opt_out_origin, "link")
        self.assertTrue(self.john.is_blacklisted)
        self.assertIn("blacklisted", self._notes(self.john).body)
        self.assertEqual(self.member[self.john].state, "opted_out")

    def test_forged_foreign_unknown_and_stale_tokens_are_refused(self):
        token = self._token(self.jane)
        forged = ("0" if token[0] != "0" else "1") + token[1:]
        unknown_id = self.env["res.partner"].sudo().search([], order="id desc", limit=1).id + 1000
        refused = [
            f"/crm_retention/unsubscribe/{self.jane.id}/{forged}",
            f"/crm_retention/unsubscribe/{self.jane.id}/{token[:20]}",
            # Jane's token on John's link
            f"/crm_retention/unsubscribe/{self.john.id}/{token}",
            f"/crm_retention/unsubscribe/{unknown_id}/{token}",
        ]
        for path in refused:
            with self.subTest(path=path):
                self.assertEqual(self.url_open(path).status_code, 403)
                response = self._post_one_click(path)
                self.assertEqual(response.status_code, 403)
                self.assertIn("This link is not valid", response.text)
        self.assertUntouched(self.jane)
        self.assertUntouched(self.john)
        # the customer changed its address: the old e-mails' links are dead
        old_path = self._path(self.ann)
        self.ann.email = "ann@new-domain.example.com"
        self.assertEqual(self._post_one_click(old_path).status_code, 403)
        self.assertUntouched(self.ann)
        self.assertEqual(self.url_open(self._path(self.ann)).status_code, 200)

    def test_user_ticking_the_box_is_dated(self):
        self.jane.with_user(self.manager).write({"retention_opt_out": True})
        self.assertEqual(self.jane.retention_opt_out_origin, "manual")
        self.assertTrue(self.jane.retention_opt_out_date)
        self.jane.with_user(self.manager).write({"retention_opt_out": False})
        self.assertFalse(self.jane.retention_opt_out_date)
        self.assertFalse(self.jane.retention_opt_out_origin)

    def test_customer_unsubscribes_in_the_browser(self):
        self.start_tour(self._path(self.jane), "crm_retention_unsubscribe_tour")
        self.env.invalidate_all()
        self.assertTrue(self.jane.retention_opt_out)
        self.assertEqual(self.jane.retention_opt_out_origin, "link")
        self.assertFalse(self.jane.is_blacklisted)
        self.assertEqual(self.member[self.jane].state, "opted_out")

    def _compose(self, **values):
        """Select the members in the list, Action > Send e-mail, as the manager."""
        members = self.members.sorted("id").with_user(self.manager)
        composer = (
            self.env["mail.compose.message"]
            .with_user(self.manager)
            .with_context(
                default_model=members._name,
                active_model=members._name,
                active_ids=members.ids,
                default_composition_mode="mass_mail",
            )
            .create({"res_ids": members.ids, **values})
        )
        before = self.env["mail.mail"].sudo().search([]).ids
        composer._action_send_mail()
        return (
            self.env["mail.mail"]
            .sudo()
            .search([("id", "not in", before), ("model", "=", members._name)])
        )

    def test_mass_mail_from_the_member_list_carries_the_link_and_headers(self):
        template = self.env.ref("crm_retention.mail_template_campaign_offer")
        for values in (
            {"template_id": template.id},
            {"subject": "A word from us", "body": "<p>We miss you.</p>"},
        ):
            mails = self._compose(**values)
            self.assertEqual(len(mails), 3, values)
            for mail in mails:
                partner = self.Member.browse(mail.res_id).partner_id
                url = partner._retention_unsubscribe_url()
                headers = ast.literal_eval(mail.headers)
                self.assertEqual(headers["List-Unsubscribe"], f"<{url}>")
                self.assertEqual(headers["List-Unsubscribe-Post"], "List-Unsubscribe=One-Click")
                self.assertIn("X-Odoo-Objects", headers, "Odoo's own headers are kept")
                self.assertEqual(mail.body_html.count(f'href="{url}"'), 1, "one footer")

    def test_chatter_message_to_salespeople_has_no_customer_unsubscribe(self):
        colleague = new_test_user(
            self.env, login="unsub_colleague", groups="sales_team.group_sale_salesman",
            company_id=self.company.id, company_ids=[self.company.id],
            notification_type="email",
        )  # fmt: skip
        member = self.member[self.jane].with_user(self.manager)
        with self.mock_smtplib_connection():
            member.message_post(
                body="Called her, she will order next week.",
                partner_ids=colleague.partner_id.ids,
                message_type="comment",
                subtype_xmlid="mail.mt_comment",
            )
            self.env["mail.mail"].sudo().search(
                [("mail_message_id", "=", member.message_ids[:1].id)]
            ).send()
        sent = [e for e in self.emails if colleague.email in e["smtp_to_list"]]
        self.assertEqual(len(sent), 1, "the colleague got the e-mail")
        raw = sent[0]["message"]
        self.assertNotIn("List-Unsubscribe", raw)
        self.assertNotIn(self._token(self.jane), raw)
