import base64
import json
from unittest.mock import patch

from odoo import sql_db
from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged

from ..wizards import crm_interaction_cdr_import_wizard as cdr_wizard
from .common import ContactCenterCase

# Asterisk CDR columns (the CDR variables FreePBX's cdr table and CSV export
# name), a header row, one call per line
CDR_CSV = "\n".join(
    [
        "calldate,clid,src,dst,dcontext,channel,dstchannel,lastapp,duration,billsec,disposition,uniqueid,linkedid",
        '2026-06-01 11:00:00,"""Alice"" <3225551234>",3225551234,100,from-trunk,PJSIP/trunk-00000001,PJSIP/201-00000002,Dial,65,60,ANSWERED,1780304400.1,1780304400.1',
        '2026-06-01 11:05:00,"""Bob"" <3225559999>",3225559999,100,from-trunk,PJSIP/trunk-00000003,PJSIP/202-00000004,Dial,30,0,NO ANSWER,1780304700.3,1780304700.3',
        "2026-06-01 11:07:00,,3225559999,100,from-trunk,PJSIP/trunk-00000005,,Dial,12,0,BUSY,1780304820.5,1780304820.5",
        "yesterday noon,,3225551234,100,from-trunk,PJSIP/trunk-00000006,,Dial,10,0,ANSWERED,1780304900.6,1780304900.6",
        "2026-06-01 11:10:00,,3225551234,100,from-trunk,PJSIP/trunk-00000007,,Dial,10,0,EXPLODED,1780305000.7,1780305000.7",
        '2026-06-01 11:00:00,"""Alice"" <3225551234>",3225551234,100,from-trunk,PJSIP/trunk-00000001,PJSIP/201-00000002,Dial,65,60,ANSWERED,1780304400.1,1780304400.1',
        "2026-06-01 11:12:00,,3225551234,100,from-trunk,PJSIP/trunk-00000008,,Dial,-5,-5,ANSWERED,1780305100.8,1780305100.8",
    ]
)


@tagged("post_install", "-at_install")
class TestCdrImport(ContactCenterCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.customer.user_id = False
        cls.source = cls.env["crm.interaction.source"].create(
            {
                "name": "Asterisk CDRs",
                "company_id": cls.company.id,
                "team_id": cls.team.id,
                "channel_ids": [(6, 0, [cls.channel["phone"].id])],
            }
        )

    def _import(self, data, filename="Master.csv", user=None, **values):
        Wizard = self.env["crm.interaction.cdr.import.wizard"].with_user(user or self.supervisor)
        # what the form's upload widget sends (the file name rides along invisibly)
        wizard = Wizard.create(
            {
                "source_id": self.source.id,
                "file": base64.b64encode(data.encode() if isinstance(data, str) else data),
                "filename": filename,
                "tz": "Europe/Brussels",
                **values,
            }
        )
        wizard.action_import()
        return wizard

    def _calls(self):
        return self.Interaction.search([("source_id", "=", self.source.id)], order="external_id")

    def test_good_lines_land_bad_ones_are_listed_with_their_line_numbers(self):
        wizard = self._import(CDR_CSV)
        self.assertEqual(
            (
                wizard.count_created,
                wizard.count_updated,
                wizard.count_duplicate,
                wizard.count_error,
            ),
            (3, 0, 0, 4),
        )
        self.assertEqual(
            wizard.error_report.splitlines(),
            [
                "Line 5: start: not a date and time (ISO 8601 or YYYY-MM-DD HH:MM:SS)",
                "Line 6: status: unknown call status 'exploded'",
                "Line 7: call 1780304400.1 is already on line 2",
                "Line 8: billsec: must be a non-negative number of seconds",
            ],
        )
        answered, missed, busy = self._calls()
        self.assertEqual((answered.state, answered.duration), ("done", 60))
        self.assertEqual(answered.partner_id, self.customer, "the caller matched by phone")
        self.assertEqual(str(answered.date), "2026-06-01 09:00:00", "Brussels time in the file")
        self.assertEqual((missed.state, missed.contact_name), ("missed", "Bob"))
        self.assertTrue(missed.lead_id, "an unknown caller gets a lead")
        self.assertEqual(busy.lead_id, missed.lead_id, "one lead per unknown caller")
        self.assertTrue(missed.activity_ids and busy.activity_ids, "recent missed calls: callbacks")

    def test_reimporting_the_same_file_changes_nothing(self):
        self._import(CDR_CSV)
        self.env.flush_all()
        before = [
            (c.id, c.state, c.duration, c.write_date, len(c.activity_ids)) for c in self._calls()
        ]
        wizard = self._import(CDR_CSV)
        self.assertEqual(
            (wizard.count_created, wizard.count_updated, wizard.count_duplicate), (0, 0, 3)
        )
        self.env.flush_all()
        after = [
            (c.id, c.state, c.duration, c.write_date, len(c.activity_ids)) for c in self._calls()
        ]
        self.assertEqual(after, before)

    def test_a_call_reported_live_is_completed_not_duplicated(self):
        """The PBX reported the call live (AMI relay: id = Linkedid); the CDR
        of the same call only adds what was missing."""
        from ..lib.events import parse_event

        self.source._ingest(
            [parse_event({"event": "call.started", "id": "1780304400.1",
                          "timestamp": "2026-06-01T09:00:00Z", "from": {"phone": "+3225551234"}})]
        )  # fmt: skip
        wizard = self._import(CDR_CSV)
        self.assertEqual((wizard.count_created, wizard.count_updated), (2, 1))
        call = self._calls().filtered(lambda c: c.external_id == "1780304400.1")
        self.assertEqual((len(call), call.state, call.duration), (1, "done", 60))

    def test_json_records_and_history_mode(self):
        records = [
            {"call_id": "j1", "start": "2026-06-01T09:00:00Z", "from": "+3225551234",
             "status": "completed", "billsec": 42, "direction": "inbound"},
            {"call_id": "j2", "start": "2026-06-01T09:10:00Z", "from": "+3225551234",
             "status": "no-answer"},
            {"call_id": "j3", "start": "2026-06-01T09:20:00Z", "from": ["not", "a", "string"]},
            "not an object",
        ]  # fmt: skip
        wizard = self._import(json.dumps(records), "calls.json", as_history=True)
        self.assertEqual((wizard.count_created, wizard.count_error), (2, 2))
        self.assertEqual(
            wizard.error_report.splitlines(),
            [
                "Record 3: from: must be a string or a number",
                "Record 4: a record must be an object",
            ],
        )
        calls = self._calls()
        self.assertEqual(calls.mapped("state"), ["done", "done"], "history is closed")
        self.assertFalse(calls.activity_ids, "no callbacks for past calls")
        self.assertFalse(calls.user_id, "nor routing")

    def test_unreadable_files_are_a_clear_error(self):
        for data, message in (
            ("who,what\n1,2\n", "the first line must name the columns"),
            (b"\xff\xfe\x00garbage", "not UTF-8"),
            # a cell past the csv module's limit (or a NUL byte): told, not a crash
            ("call_id,start\nc1," + "9" * 200_000 + "\n", "line 2 is not CSV"),
        ):
            with self.subTest(message=message), self.assertRaisesRegex(UserError, message):
                self._import(data, "calls.csv")
        with (
            patch.object(cdr_wizard, "MAX_FILE_BYTES", 100),
            self.assertRaisesRegex(UserError, "split it"),
        ):
            self._import(CDR_CSV)
        self.source.channel_ids = self.channel["email"]
        with self.assertRaisesRegex(UserError, "not allowed"):
            self._import(CDR_CSV)
        self.assertFalse(self._calls())

    def test_queries_do_not_grow_with_the_lines(self):
        """Partners, leads and agents are looked up per batch, not per line."""

        def run(prefix, count):
            lines = ["call_id,start,from,status,billsec"] + [
                f"{prefix}{i},2026-06-01 09:{i:02d}:00,+3225550{i:03d},"
                f"{'ANSWERED' if i % 2 else 'NO ANSWER'},{i}"
                for i in range(count)
            ]
            self.env.invalidate_all()
            before = sql_db.sql_counter
            wizard = self._import("\n".join(lines), "calls.csv", as_history=True)
            self.assertEqual(wizard.count_created, count)
            return sql_db.sql_counter - before

        self.source.create_lead = False
        run("warm", 2)
        small, large = run("s", 4), run("l", 40)
        self.assertLessEqual(large, small + 5, f"{small} queries for 4 lines, {large} for 40")

    def test_only_supervisors_import(self):
        with self.assertRaises(AccessError):
            self.env["crm.interaction.cdr.import.wizard"].with_user(self.agent1).create(
                {"source_id": self.source.id, "file": base64.b64encode(b"x")}
            )
        menu = self.env.ref("crm_contact_center.crm_interaction_cdr_import_menu")
        self.assertIn(
            self.env.ref("crm_contact_center.group_contact_center_supervisor"), menu.groups_id
        )
