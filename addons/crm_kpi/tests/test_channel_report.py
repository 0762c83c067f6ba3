import random
from datetime import datetime, timedelta

import pandas as pd

from odoo.tests import TransactionCase, new_test_user, tagged


@tagged("post_install", "-at_install")
class TestChannelReport(TransactionCase):
    """Interactions with known handling times and ratings, checked against
    pandas over the raw interaction rows."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True, mail_notrack=True))
        cls.company = cls.env["res.company"].create({"name": "Channel KPI Co"})
        cls.env = cls.env(context=dict(cls.env.context, allowed_company_ids=[cls.company.id]))
        vals = {"company_id": cls.company.id, "company_ids": [cls.company.id]}
        cls.agents = [
            new_test_user(
                cls.env, login=f"kpi_agent{i}", groups="sales_team.group_sale_salesman", **vals
            )
            for i in range(2)
        ]
        cls.supervisor = new_test_user(
            cls.env, login="kpi_supervisor", groups="sales_team.group_sale_manager", **vals
        )
        cls.channels = [
            cls.env.ref(f"crm_contact_center.channel_{code}") for code in ("phone", "email", "chat")
        ]
        customer = cls.env["res.partner"].create({"name": "Caller", "is_company": True})
        rng = random.Random(7)
        Interaction = cls.env["crm.interaction"]
        start = datetime(2025, 5, 1, 8)
        done_vals, missed_vals = [], []
        for i in range(60):
            date = start + timedelta(hours=7 * i)
            base = {
                "channel_id": cls.channels[i % 3].id,
                "direction": "inbound" if i % 4 else "outbound",
                "date": date,
                "user_id": cls.agents[i % 2].id,
                "partner_id": customer.id,
                "company_id": cls.company.id,
            }
            if i % 5 == 0:
                missed_vals.append({**base, "state": "missed"})
            else:
                done_vals.append(
                    {**base, "done_date": date + timedelta(minutes=rng.randint(5, 3000))}
                )
        done = Interaction.with_context(crm_interaction_backfill=True).create(done_vals)
        Interaction.create(missed_vals)
        model = cls.env["ir.model"]._get_id("crm.interaction")
        cls.env["rating.rating"].create(
            [
                {
                    "res_model_id": model,
                    "res_id": interaction.id,
                    "rating": rng.choice([1, 3, 5, 5]),
                    "consumed": True,
                }
                for interaction in done[::2]
            ]
        )
        cls.env.flush_all()

    def _raw(self):
        rows = self.env["crm.interaction"].search_read(
            [("company_id", "=", self.company.id)],
            [
                "channel_id",
                "direction",
                "state",
                "date",
                "done_date",
                "sla_deadline",
                "user_id",
                "rating_last_value",
            ],
            load=None,
        )
        frame = pd.DataFrame(rows)
        for column in ("date", "done_date", "sla_deadline"):  # the ORM says False for NULL
            frame[column] = pd.to_datetime(frame[column].where(frame[column].astype(bool)))
        frame["inbound"] = frame["direction"] == "inbound"
        frame["handled"] = frame["inbound"] & (frame["state"] == "done")
        frame["hours"] = (frame["done_date"] - frame["date"]).dt.total_seconds() / 3600
        frame["has_sla"] = frame["inbound"] & frame["sla_deadline"].notna()
        frame["in_sla"] = frame["handled"] & (frame["done_date"] <= frame["sla_deadline"])
        frame["rated"] = frame["rating_last_value"] > 0
        frame["satisfied"] = frame["rating_last_value"] >= 5
        return frame

    def _expected(self, frame):
        def pct(num, den):
            return 100.0 * num / den if den else None

        handled = frame[frame["handled"]]
        rated = frame[frame["rated"]]
        return {
            "interaction_count": len(frame),
            "missed_rate": pct((frame["state"] == "missed").sum(), len(frame)),
            "response_hours": handled["hours"].mean() if len(handled) else None,
            "sla_rate": pct(frame["in_sla"].sum(), frame["has_sla"].sum()),
            "csat": pct(frame["satisfied"].sum(), frame["rated"].sum()),
            "rating": rated["rating_last_value"].mean() if len(rated) else None,
        }

    def _check(self, groupby, key_of, user=None):
        Report = self.env["crm.kpi.channel.report"]
        if user:
            Report = Report.with_user(user)
        measures = [
            "interaction_count:sum",
            "missed_rate:sum",
            "response_hours:avg",
            "sla_rate:sum",
            "csat:sum",
            "rating:avg",
        ]
        rows = Report._read_group([("company_id", "=", self.company.id)], [groupby], measures)
        frame = self._raw()
        self.assertTrue(rows)
        for group, *values in rows:
            got = dict(zip([m.split(":")[0] for m in measures], values, strict=True))
            expected = self._expected(frame[frame[key_of] == group.id])
            for name, value in expected.items():
                if value is None:
                    # nothing measured: blank in the pivot, never a 0 % that reads as failure
                    self.assertIs(got[name], False, f"{group.display_name} {name}")
                else:
                    self.assertAlmostEqual(
                        got[name], value, places=4, msg=f"{group.display_name} {name}"
                    )

    def test_by_channel_matches_pandas(self):
        self._check("channel_id", "channel_id", user=self.supervisor)

    def test_by_agent_matches_pandas(self):
        self._check("user_id", "user_id", user=self.supervisor)

    def test_agent_sees_own_interactions(self):
        agent = self.agents[0]
        rows = self.env["crm.kpi.channel.report"].with_user(agent).search([])
        self.assertTrue(rows)
        self.assertEqual(rows.user_id, agent)

    def test_report_never_shows_an_unreadable_interaction(self):
        """An "all documents" salesperson reads every interaction with a
        customer or an opportunity, his own and his teams' ones; another
        team's request without customer (an unknown caller) is not his to
        see, in the list nor in the channel report."""
        vals = {"company_id": self.company.id, "company_ids": [self.company.id]}
        all_docs = new_test_user(
            self.env,
            login="kpi_all_docs",
            groups="sales_team.group_sale_salesman_all_leads",
            **vals,
        )
        other_team = self.env["crm.team"].create(
            {"name": "Other desk", "company_id": self.company.id, "member_ids": [(6, 0, [])]}
        )
        unknown = self.env["crm.interaction"].create(
            {
                "channel_id": self.channels[0].id,
                "direction": "inbound",
                "date": datetime(2025, 5, 20, 9),
                "team_id": other_team.id,
                "company_id": self.company.id,
                "state": "missed",
            }
        )
        self.assertFalse(unknown.partner_id)
        readable = self.env["crm.interaction"].with_user(all_docs).search([])
        self.assertNotIn(unknown, readable)
        report = self.env["crm.kpi.channel.report"].with_user(all_docs).search([])
        self.assertNotIn(unknown, report.interaction_id, "the report shows no more than the list")
        self.assertLessEqual(set(report.interaction_id.ids), set(readable.ids))
        self.assertEqual(len(report), 60, "every interaction with a customer")
        # supervisors see it
        supervisor_rows = self.env["crm.kpi.channel.report"].with_user(self.supervisor).search([])
        self.assertIn(unknown, supervisor_rows.interaction_id)

    def test_automatic_satisfaction_answers_count(self):
        """The answers to the automatic satisfaction request (issue 19) are the
        channel's CSAT: a contact satisfied, another not, on a channel that
        asks for a rating when a request is handled."""
        line = self.env["crm.interaction.channel"].create(
            {"name": "Care line", "code": "care", "company_id": self.company.id,
             "rating_auto": True}
        )  # fmt: skip
        contacts = self.env["res.partner"].create(
            [{"name": f"Rater {i}", "email": f"rater{i}@example.com"} for i in range(2)]
        )
        agent = self.agents[0]
        requests = self.env["crm.interaction"].create(
            [{"channel_id": line.id, "partner_id": contact.id, "user_id": agent.id,
              "company_id": self.company.id} for contact in contacts]
        )  # fmt: skip
        requests.with_user(agent).write({"outcome": "resolved"})
        requests.with_user(agent).action_done()
        self.env.ref("crm_contact_center.ir_cron_send_rating_requests").method_direct_trigger()
        for request, rate in zip(requests, (5, 1), strict=True):
            token = (
                self.env["rating.rating"]
                .search([("res_model", "=", "crm.interaction"), ("res_id", "=", request.id)])
                .access_token
            )
            request.sudo().rating_apply(rate, token=token)
        [(rated, satisfied, csat, rating)] = (
            self.env["crm.kpi.channel.report"]
            .with_user(self.supervisor)
            ._read_group(
                [("channel_id", "=", line.id)],
                [],
                ["rated_count:sum", "satisfied_count:sum", "csat:sum", "rating:avg"],
            )
        )
        self.assertEqual((rated, satisfied, csat, rating), (2, 1, 50.0, 3.0))
