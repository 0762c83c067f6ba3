from datetime import datetime, timedelta

import pandas as pd
from freezegun import freeze_time

from odoo.tests import TransactionCase, new_test_user, tagged

from ..demo import history

T0 = datetime(2025, 6, 2, 9)


@tagged("post_install", "-at_install")
class TestFunnelReport(TransactionCase):
    """Five leads walked through the stages with the chatter tracking on:

    L1 New -> Qualified -> Proposition -> Won; L2 New -> Qualified ->
    Proposition; L3 New -> Qualified, then lost; L4 stays New; L5 is a lead
    never converted.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company = cls.env["res.company"].create({"name": "Funnel Co"})
        cls.env = cls.env(
            context=dict(
                cls.env.context, allowed_company_ids=[cls.company.id], lifecycle_skip_refresh=True
            )
        )
        cls.salesman = new_test_user(
            cls.env,
            login="funnel_sales",
            groups="sales_team.group_sale_salesman",
            company_id=cls.company.id,
            company_ids=[cls.company.id],
        )
        cls.s = [cls.env.ref(f"crm.stage_lead{i}") for i in (1, 2, 3, 4)]
        cls.reason = cls.env["crm.lost.reason"].create({"name": "Too expensive"})
        Lead = cls.env["crm.lead"]
        with freeze_time(T0):
            cls.leads = Lead.create(
                [
                    {
                        "name": f"L{i}",
                        "type": "opportunity" if i < 5 else "lead",
                        "stage_id": cls.s[0].id,
                        "user_id": cls.salesman.id,
                        "company_id": cls.company.id,
                    }
                    for i in range(1, 6)
                ]
            )
            cls.env.cr.precommit.run()  # a later transaction moves them
        # create_date is the database clock (not frozen): put it where the story starts
        cls.env.flush_all()
        cls.env.cr.execute(
            "UPDATE crm_lead SET create_date = %s WHERE id = ANY(%s)", [T0, cls.leads.ids]
        )
        cls.leads.invalidate_recordset()
        l1, l2, l3, _l4, _l5 = cls.leads
        for days, leads, stage in (
            (2, l1 | l2 | l3, 1),
            (5, l1 | l2, 2),
            (6, l1, 3),
        ):
            with freeze_time(T0 + timedelta(days=days)):
                leads.write({"stage_id": cls.s[stage].id})
                # the chatter writes its tracking values at commit time: now, at this date
                cls.env.cr.precommit.run()
        with freeze_time(T0 + timedelta(days=4)):
            l3.action_set_lost(lost_reason_id=cls.reason.id)
            cls.env.cr.precommit.run()
        cls.env.flush_all()

    def _rows(self, groupby, user=None):
        Report = self.env["crm.kpi.funnel.report"]
        if user:
            Report = Report.with_user(user)
        measures = [
            "visit_count:sum",
            "moved_on_count:sum",
            "conversion_rate:sum",
            "lead_count:sum",
            "opportunity_count:sum",
            "won_count:sum",
            "lost_count:sum",
            "win_rate:sum",
        ]
        rows = Report._read_group([("company_id", "=", self.company.id)], groupby, measures)
        names = [m.split(":")[0] for m in measures]
        return {
            tuple(r[: len(groupby)]): dict(zip(names, r[len(groupby) :], strict=True)) for r in rows
        }

    def _pandas_visits(self):
        """Stage visits and moves from the raw tracking values, with pandas."""
        field = self.env["ir.model.fields"]._get("crm.lead", "stage_id")
        tracking = (
            self.env["mail.tracking.value"]
            .sudo()
            .search([("field_id", "=", field.id), ("mail_message_id.res_id", "in", self.leads.ids)])
        )
        changes = pd.DataFrame(
            [
                {
                    "lead": t.mail_message_id.res_id,
                    "date": t.mail_message_id.date,
                    "old": t.old_value_integer,
                    "new": t.new_value_integer,
                }
                for t in tracking
            ]
        ).sort_values(["lead", "date"])
        first = changes.groupby("lead").first()["old"]
        visits = [(lead.id, first.get(lead.id, lead.stage_id.id)) for lead in self.leads]
        visits += list(changes[["lead", "new"]].itertuples(index=False, name=None))
        frame = pd.DataFrame(visits, columns=["lead", "stage"])
        seq = {
            s.id: s.sequence for s in self.env["crm.stage"].browse(frame["stage"].unique().tolist())
        }
        frame["seq"] = frame["stage"].map(seq)
        won = {lead.id for lead in self.leads if lead.active and lead.stage_id.is_won}
        max_seq = frame.groupby("lead")["seq"].max()
        frame["moved"] = frame.apply(
            lambda r: r["seq"] < max_seq[r["lead"]]
            or (r["lead"] in won and not self.env["crm.stage"].browse(int(r["stage"])).is_won),
            axis=1,
        )
        return frame.groupby("stage").agg(visits=("lead", "size"), moved=("moved", "sum"))

    def test_stage_conversion_matches_pandas_and_known_answers(self):
        rows = self._rows(["stage_id"])
        expected = self._pandas_visits()
        for (stage,), got in rows.items():
            self.assertEqual(got["visit_count"], expected.loc[stage.id, "visits"], stage.name)
            self.assertEqual(got["moved_on_count"], expected.loc[stage.id, "moved"], stage.name)
        new, qualified, proposition, won = ((s,) for s in self.s)
        self.assertEqual((rows[new]["visit_count"], rows[new]["moved_on_count"]), (5, 3))
        self.assertAlmostEqual(rows[new]["conversion_rate"], 60.0)
        self.assertAlmostEqual(rows[qualified]["conversion_rate"], 200 / 3)
        self.assertAlmostEqual(rows[proposition]["conversion_rate"], 50.0)
        self.assertEqual(rows[won]["visit_count"], 1)

    def test_leads_opportunities_won_lost(self):
        [total] = self._rows([]).values()
        self.assertEqual(
            (
                total["lead_count"],
                total["opportunity_count"],
                total["won_count"],
                total["lost_count"],
            ),
            (5, 4, 1, 1),
        )
        self.assertAlmostEqual(total["win_rate"], 50.0)
        by_reason = self._rows(["lost_reason_id"])
        self.assertEqual(by_reason[(self.reason,)]["lost_count"], 1)

    def test_days_in_stage(self):
        Report = self.env["crm.kpi.funnel.report"]
        l1 = self.leads[0]
        rows = Report.search([("lead_id", "=", l1.id)], order="date")
        self.assertEqual(rows.stage_id, self.s[0] | self.s[1] | self.s[2] | self.s[3])
        self.assertEqual([round(r.days_in_stage, 3) for r in rows[:3]], [2.0, 3.0, 1.0])

    def test_salesman_sees_own_pipeline(self):
        other = new_test_user(
            self.env,
            login="funnel_other",
            groups="sales_team.group_sale_salesman",
            company_id=self.company.id,
            company_ids=[self.company.id],
        )
        self.assertFalse(self._rows([], user=other).get((), {}).get("lead_count"))
        self.assertEqual(self._rows([], user=self.salesman)[()]["lead_count"], 5)

    def test_imported_won_deal_never_has_negative_days_and_gets_a_demo_path(self):
        """A deal imported today that was won a year ago (no chatter) enters its
        stage at its closing date, not after it; the demo loader then gives it
        the path through the pipeline, which the pandas computation confirms."""
        won_at = T0 - timedelta(days=365)
        imported = self.env["crm.lead"].create(
            {"name": "Imported deal", "type": "opportunity", "stage_id": self.s[3].id,
             "user_id": self.salesman.id, "company_id": self.company.id}
        )  # fmt: skip
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE crm_lead SET date_closed = %s, create_date = now() WHERE id = %s",
            [won_at, imported.id],
        )
        Report = self.env["crm.kpi.funnel.report"]
        [row] = Report.search([("lead_id", "=", imported.id)])
        self.assertEqual((row.stage_id, row.date), (self.s[3], won_at))
        self.assertGreaterEqual(row.days_in_stage, 0.0)
        self.assertTrue(
            all(d >= 0 for d in Report.search([]).mapped("days_in_stage")),
            "no stage visit lasts a negative time",
        )
        before = self._rows(["stage_id"])
        history.load_stage_history(self.env)
        rows = Report.search([("lead_id", "=", imported.id)], order="date")
        self.assertEqual(
            rows.stage_id.ids, [s.id for s in self.s], "New > Qualified > Proposition > Won"
        )
        self.assertEqual(rows[-1].date, won_at, "won on its closing date")
        self.assertTrue(all(r.days_in_stage > 0 for r in rows[:-1]))
        self.leads |= imported
        after = self._rows(["stage_id"])
        expected = self._pandas_visits()
        for (stage,), got in after.items():
            self.assertEqual(got["visit_count"], expected.loc[stage.id, "visits"], stage.name)
            self.assertEqual(got["moved_on_count"], expected.loc[stage.id, "moved"], stage.name)
        self.assertEqual(
            after[(self.s[0],)]["moved_on_count"], before[(self.s[0],)]["moved_on_count"] + 1
        )
        self.assertEqual(
            Report.search_count([("lead_id", "in", self.leads[:4].ids)]), 10,
            "leads with a tracked path are left alone",
        )  # fmt: skip
