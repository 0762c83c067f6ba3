import re
from datetime import timedelta
from math import ceil
from unittest.mock import patch

from odoo.exceptions import AccessError
from odoo.tests import tagged

from .common import TODAY, RetentionCase


@tagged("post_install", "-at_install")
class TestHistoryRebuild(RetentionCase):
    """Customers who bought before the suite saw them get their past: the
    stages the rules would have given them on each past day.

    No churn model here (fewer than 20 repeat buyers): the rhythm rules
    decide, so every date below is plain arithmetic: At risk 1.5 and Lost 3
    expected intervals after the last deal; one-time buyers are measured
    against the company's typical interval (the median of the repeat
    buyers' intervals: 30, 50, 100 days -> 50).
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company.retention_rebuild_history = True
        Lead = cls.env["crm.lead"].with_context(lifecycle_skip_refresh=True)
        cls.env = cls.env(context=dict(cls.env.context, lifecycle_skip_refresh=True))
        cls.gone = cls._customer("Gone After Three")
        cls.comeback = cls._customer("Came Back")
        cls.once = cls._customer("Bought Once")
        cls.pinned = cls._customer("Pinned By Manager")
        cls.prospect = cls._customer("Only Talking")
        for partner, days in (
            (cls.gone, (400, 370, 340)),
            (cls.comeback, (300, 270, 100)),
            (cls.once, (200,)),
            (cls.pinned, (300, 250)),
        ):
            for days_ago in days:
                cls._deal(partner, days_ago)
        Lead.create(
            {
                "name": "First talk",
                "type": "opportunity",
                "partner_id": cls.prospect.id,
                "company_id": cls.company.id,
                "stage_id": cls.open_stage.id,
            }
        )

    def _day(self, days_ago):
        return TODAY - timedelta(days=days_ago)

    def _path(self, partner):
        profile = self._profile(partner)
        return [
            (h.date.date(), h.from_stage_id.kind or False, h.stage_id.kind)
            for h in profile.history_ids.sorted(lambda h: (h.date, h.id))
        ]

    def _first_run(self):
        """The nightly run meets these customers for the first time, one of
        them already pinned by a manager."""
        self._recompute()
        pinned = self._profile(self.pinned)
        pinned.with_user(self.manager).write({"stage_id": self.stage["at_risk"].id})
        self.pinned_path = self._path(self.pinned)
        self._recompute()

    def test_first_run_rebuilds_each_customers_past(self):
        self._first_run()
        day = self._day
        self.assertEqual(
            self._path(self.gone),
            [
                (day(400), False, "new"),
                (day(370), "new", "active"),
                (day(340 - 45), "active", "at_risk"),
                (day(340 - 90), "at_risk", "lost"),
            ],
        )
        self.assertEqual(
            self._path(self.comeback),
            [
                (day(300), False, "new"),
                (day(270), "new", "active"),
                (day(270 - 45), "active", "at_risk"),
                (day(270 - 90), "at_risk", "lost"),
                (day(100), "lost", "won_back"),
            ],
        )
        interval = self.env["crm.retention.model"]._get_for_company(self.company)
        self.assertEqual(interval.typical_interval_days, 50)
        self.assertEqual(
            self._path(self.once),
            [
                (day(200), False, "new"),
                (day(200 - ceil(1.5 * 50)), "new", "at_risk"),
                (day(200 - 3 * 50), "at_risk", "lost"),
            ],
        )
        # a prospect is Potential since its first opportunity
        [(_date, from_kind, kind)] = self._path(self.prospect)
        self.assertEqual((from_kind, kind), (False, "potential"))
        comeback = self._profile(self.comeback)
        self.assertEqual(comeback.lapsed_date, day(270 - 45), "its lapse is dated in the past")
        self.assertEqual(comeback.history_ids.mapped("reason"), ["rebuild"] * 5)

    def test_custom_rules_are_replayed(self):
        """A company's own stage, whose rule reads a value that moves every
        day (days since the last deal) and a customer attribute (country):
        evaluated on a weekly grid, with the customer's country of today."""
        belgium = self.env.ref("base.be")
        self.gone.country_id = belgium
        self.comeback.country_id = self.env.ref("base.fr")
        dormant = self.env["crm.lifecycle.stage"].create(
            {
                "name": "Dormant Belgian",
                "kind": "lost",
                "sequence": 35,
                "company_id": self.company.id,
                "rule_domain": str(
                    [
                        ("won_count", ">", 0),
                        ("days_since_last_deal", ">", 100),
                        ("partner_id.country_id", "=", belgium.id),
                    ]
                ),
            }
        )
        self._first_run()
        path = self._path(self.gone)
        self.assertEqual([kind for _d, _f, kind in path][:4], ["new", "active", "at_risk", "lost"])
        date, _from, kind = path[-1]
        self.assertEqual(kind, "lost")
        self.assertEqual(self._profile(self.gone).stage_id, dormant, "the rules' stage today")
        self.assertEqual(
            self._profile(self.gone).history_ids.sorted(lambda h: (h.date, h.id))[-1].stage_id,
            dormant,
        )
        # more than 100 days after the last deal, dated to the week
        self.assertTrue(self._day(340 - 101) <= date <= self._day(340 - 101 - 6), date)
        self.assertNotIn(dormant, self._profile(self.comeback).history_ids.stage_id, "French")

    def test_invariants(self):
        self._first_run()
        for partner in (self.gone, self.comeback, self.once, self.prospect):
            profile = self._profile(partner)
            rows = profile.history_ids.sorted(lambda h: (h.date, h.id))
            self.assertEqual(rows[-1].stage_id, profile.stage_id, "ends in today's stage")
            self.assertEqual(profile.stage_date, rows[-1].date)
            self.assertEqual(profile.history_start, rows[0].date.date())
            self.assertFalse(rows[0].from_stage_id)
            for before, after in zip(rows, rows[1:], strict=False):
                self.assertEqual(after.from_stage_id, before.stage_id, "one chain")
                self.assertEqual(after.duration_days, (after.date - before.date).days)
            # the chatter shows the same path, in one note
            key = f"crm-lifecycle-rebuild-{profile.id}@odoo"
            [note] = partner.message_ids.filtered_domain([("message_id", "=", key)])
            listed = re.findall(r"<li>(\d{4}-\d{2}-\d{2}): ([^<]+)</li>", str(note.body))
            self.assertEqual(
                listed, [(str(r.date.date()), r.stage_id.name) for r in rows], partner.name
            )
            self.assertFalse(
                partner.message_ids.tracking_value_ids.filtered(
                    lambda v: v.field_id.name == "lifecycle_stage_id"
                ),
                "no note per rebuilt change",
            )
        self.assertEqual(self._path(self.pinned), self.pinned_path, "pinned stays as it is")
        self.assertEqual(self._profile(self.pinned).stage_id, self.stage["at_risk"])
        # the next nights change nothing
        rows = self.env["crm.lifecycle.history"].search_count(
            [("company_id", "=", self.company.id)]
        )
        self._recompute()
        self.assertEqual(
            self.env["crm.lifecycle.history"].search_count([("company_id", "=", self.company.id)]),
            rows,
        )

    def test_rebuild_twice_gives_the_same_history(self):
        self._first_run()
        before = {p: self._path(p) for p in (self.gone, self.comeback, self.once)}
        model = self.env["crm.retention.model"]._get_for_company(self.company)
        model.with_user(self.manager).action_rebuild_history()
        self.assertEqual({p: self._path(p) for p in before}, before)
        self.assertEqual(self._path(self.pinned), self.pinned_path)

    def test_interrupted_rebuild_resumes(self):
        """A rebuild that dies after its first chunk leaves the customers of
        that chunk rebuilt and consistent; the next run does the rest and
        the result is that of a run that never stopped."""
        self._first_run()
        expected = {p: self._path(p) for p in (self.gone, self.comeback, self.once)}
        Profile = type(self.Profile)
        original = Profile._rebuild_chunk
        calls = []

        def dies_on_the_second_chunk(model, *args, **kwargs):
            calls.append(1)
            if len(calls) == 2:
                raise RuntimeError("worker killed")
            return original(model, *args, **kwargs)

        # not assertRaises: it would roll the first chunk back with it
        died = False
        with (
            patch("odoo.addons.crm_retention.recompute.rebuild.REBUILD_CHUNK", 2),
            patch.object(Profile, "_rebuild_chunk", dies_on_the_second_chunk),
        ):
            try:
                self.Profile.sudo()._rebuild_history(self.company)
            except RuntimeError:
                died = True
        self.assertTrue(died)
        left = self.Profile.sudo()._rebuild_candidates(self.company)
        self.assertEqual(len(left), 2, "the first chunk (2 customers) is done, 2 are left")
        for profile in self.Profile.search([("company_id", "=", self.company.id)]):
            if profile.partner_id.id not in left and not profile.stage_locked:
                rows = profile.history_ids.sorted(lambda h: (h.date, h.id))
                self.assertEqual(rows[-1].stage_id, profile.stage_id)
        self._recompute()
        self.assertFalse(self.Profile.sudo()._rebuild_candidates(self.company))
        self.assertEqual({p: self._path(p) for p in expected}, expected)

    def test_manual_rows_are_kept_by_the_nightly_run_not_by_the_manager(self):
        """A manager's change is a fact the rules cannot replay: the nightly
        rebuild leaves such a customer alone; the manager's explicit rebuild
        replaces it (the confirmation says so)."""
        self._recompute()
        profile = self._profile(self.once)
        profile.with_user(self.manager).write({"stage_id": self.stage["active"].id})
        profile.sudo().write({"stage_locked": False, "history_start": False})
        self._recompute()
        self.assertIn("manual", profile.history_ids.mapped("reason"))
        model = self.env["crm.retention.model"]._get_for_company(self.company)
        model.with_user(self.manager).action_rebuild_history()
        self.assertEqual(set(profile.history_ids.mapped("reason")), {"rebuild"})

    def test_only_retention_managers_rebuild(self):
        model = self.env["crm.retention.model"]._get_for_company(self.company)
        with self.assertRaises(AccessError):
            model.with_user(self.salesman).action_rebuild_history()

    def test_switched_off_the_first_run_keeps_todays_history(self):
        self.company.retention_rebuild_history = False
        self._recompute()
        [(date, from_kind, kind)] = self._path(self.gone)
        self.assertEqual((date, from_kind, kind), (TODAY, False, "lost"))
