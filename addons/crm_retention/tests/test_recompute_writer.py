from odoo.tests import tagged
from odoo.tools import SQL

from .common import TODAY, RetentionCase


@tagged("post_install", "-at_install")
class TestBatchWriter(RetentionCase):
    """The links of the batch writer's statement, each run alone: what a
    batch would make of the profiles (``_batch_rows_sql``) is readable
    before anything is written, and the update rewrites only what moved."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.lapsing = cls._customer("Lapsing Ltd")
        cls._deal(cls.lapsing, 150)
        cls.steady = cls._customer("Steady Ltd")
        cls._deal(cls.steady, 20)

    def _unseen_deal(self, partner):
        """A deal won today that the profiles have not seen yet (the refresh
        a saved deal triggers is skipped, as server code may ask)."""
        self.env["crm.lead"].with_context(lifecycle_skip_refresh=True).create(
            {
                "name": f"{partner.name} comes back",
                "type": "opportunity",
                "partner_id": partner.id,
                "company_id": self.company.id,
                "user_id": self.salesman.id,
                "stage_id": self.won_stage.id,
                "expected_revenue": 1000.0,
                "date_closed": f"{TODAY} 10:00:00",
            }
        )

    def _batch(self, partners):
        """The batch the refresh of ``partners`` would apply, as a relation."""
        Profile = self.Profile.sudo()
        frame = Profile._read_frame(Profile._aggregate_sql([self.company.id], TODAY, partners.ids))
        model = self.env["crm.retention.model"]._get_for_company(self.company)
        return Profile._copy_batch(Profile._compute_metrics(self.company, model, frame, TODAY))

    def _rows(self, partners):
        Profile = self.Profile.sudo()
        cases, inline = Profile._stage_cases(self.company)
        self.assertTrue(inline, "the default rules read the profile's own columns")
        self.env.cr.execute(
            SQL(
                "SELECT partner_id, id, old_kind, new_kind FROM (%s) rows ORDER BY partner_id",
                Profile._batch_rows_sql(
                    cases,
                    TODAY,
                    self._batch(partners),
                    self.company,
                    SQL("p.partner_id = ANY(%s)", partners.ids),
                ),
            )
        )
        return {partner_id: row for partner_id, *row in self.env.cr.fetchall()}

    def _stored(self):
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                "SELECT p.partner_id, p.stage_kind, p.write_date FROM crm_customer_profile p "
                "WHERE p.company_id = %s",
                self.company.id,
            )
        )
        profiles = sorted(self.env.cr.fetchall())
        return profiles, self.env["crm.lifecycle.history"].sudo().search_count([])

    def test_rows_show_the_batch_stages_and_write_nothing(self):
        self._recompute()
        self.assertEqual(self._profile(self.lapsing).stage_id.kind, "at_risk")
        # the lapsing customer buys again; a newcomer makes a first deal
        self._unseen_deal(self.lapsing)
        newcomer = self._customer("Newcomer Ltd")
        self._unseen_deal(newcomer)
        self.env.flush_all()
        before = self._stored()

        rows = self._rows(self.lapsing | newcomer)

        profile = self._profile(self.lapsing)
        self.assertEqual(rows[self.lapsing.id], [profile.id, "at_risk", "won_back"])
        self.assertEqual(rows[newcomer.id], [None, None, "new"], "no profile yet: a new one")
        self.assertEqual(len(before[0]), 2)
        self.assertEqual(self._stored(), before, "reading the rows writes no profile or history")

    def test_rows_keep_a_pinned_stage(self):
        self._recompute()
        profile = self._profile(self.lapsing)
        profile.sudo().write({"stage_locked": True})
        self._unseen_deal(self.lapsing)
        self.env.flush_all()
        self.assertEqual(self._rows(self.lapsing)[self.lapsing.id][1:], ["at_risk", "at_risk"])

    def test_upsert_rewrites_only_what_moved(self):
        self._recompute()
        self._unseen_deal(self.lapsing)
        before = {partner: date for partner, _kind, date in self._stored()[0]}
        partners = self.lapsing | self.steady
        Profile = self.Profile.sudo()
        cases, _inline = Profile._stage_cases(self.company)

        updated, inserted, changes = Profile._upsert_batch(
            cases,
            TODAY,
            self._batch(partners),
            self.company,
            SQL("p.partner_id = ANY(%s)", partners.ids),
        )

        self.assertEqual((updated, inserted, changes), (1, 0, 1), "only the comeback is written")
        stored, _history = self._stored()
        after = {partner: (kind, date) for partner, kind, date in stored}
        self.assertEqual(after[self.steady.id][1], before[self.steady.id], "steady: untouched")
        self.assertEqual(after[self.lapsing.id][0], "won_back")
        self.assertEqual(
            self._profile(self.lapsing).history_ids.sorted("id")[-1:].stage_id.kind, "won_back"
        )
