"""One day of ``crm.kpi.snapshot``: the statement that freezes a company's
customer base of a day, per slice.

``_snapshot_day`` replaces the rows of (company, day) with one INSERT whose
CTEs each come from a builder: the slice attributes (``_teams_sql``,
``_tag_sets_sql``, ``_channels_sql``, ``_attributes_sql``), the stage of
each profile at a day's end (``_stage_at_sql``), the opening stocks
(``_snapshot_opening_sql``), the day's stage moves
(``_snapshot_moves_sql``), deals and acquisitions
(``_snapshot_deals_sql``), the rows summed per slice with their tag links
(``_snapshot_insert_sql``). The rollups (``crm.kpi.snapshot.total`` and
``.tag``) are rewritten after it.
"""

from datetime import timedelta

from odoo import api, models
from odoo.addons.crm_retention.lib import definitions
from odoo.tools import SQL

# stage kinds of a customer and of an active one, defined once for the suite
CUSTOMER_KINDS = list(definitions.CUSTOMER_KINDS)
ACTIVE_KINDS = list(definitions.ACTIVE_KINDS)


class CrmKpiSnapshotDay(models.Model):
    _inherit = "crm.kpi.snapshot"

    @api.model
    def _snapshot_day(self, company, day):
        """Replace the rows of (``company``, ``day``) in one statement.

        Why SQL: one set-based pass over the profiles and the day's history
        and deals; the ORM would read every profile of the company.
        """
        self.env.flush_all()
        cr = self.env.cr
        cr.execute(
            SQL(
                "SELECT EXISTS (SELECT 1 FROM crm_kpi_snapshot WHERE company_id = %s AND date = %s)",
                company.id,
                day - timedelta(days=1),
            )
        )
        previous_done = cr.fetchone()[0]
        cr.execute(
            SQL("DELETE FROM crm_kpi_snapshot WHERE company_id = %s AND date = %s", company.id, day)
        )
        # Why no JIT: the planner has no statistics on the CTEs, so its row
        # estimates for their joins are blind and the cost can pass
        # jit_optimize_above_cost; compiling then takes seconds for a
        # statement that runs in a fraction of that. Local to the statement.
        cr.execute("SELECT current_setting('jit')")
        jit = cr.fetchone()[0]
        cr.execute("SELECT set_config('jit', 'off', true)")
        cr.execute(self._snapshot_sql(company, day, previous_done))
        cr.execute(SQL("SELECT set_config('jit', %s, true)", jit))
        # the rollups the usual pivots read: without tags and channels, per tag
        self.env["crm.kpi.snapshot.total"]._rewrite_day(company, day)
        self.env["crm.kpi.snapshot.tag"]._rewrite_day(company, day)
        self.invalidate_model()

    @api.model
    def _stage_at_sql(self, company, day):
        """Every profile's stage at the end of ``day``: the to-stage of its
        last history row dated before the next midnight (UTC)."""
        return SQL(
            """
            SELECT DISTINCT ON (h.profile_id) h.profile_id, h.stage_id
              FROM crm_lifecycle_history h
             WHERE h.company_id = %(company)s AND h.date < %(until)s
             ORDER BY h.profile_id, h.date DESC, h.id DESC
            """,
            company=company.id,
            until=day + timedelta(days=1),
        )

    @api.model
    def _teams_sql(self, company):
        """Each salesperson's first active team in the company, as
        ``res.users.sale_team_id`` picks it (membership creation order)."""
        return SQL(
            """
            SELECT DISTINCT ON (m.user_id) m.user_id, m.crm_team_id
              FROM crm_team_member m
              JOIN crm_team t ON t.id = m.crm_team_id
             WHERE m.active AND t.active
               AND (t.company_id IS NULL OR t.company_id = %s)
             ORDER BY m.user_id, m.create_date, m.id
            """,
            company.id,
        )

    @api.model
    def _tag_sets_sql(self):
        """Each customer's set of tags as a canonical key: its tag ids,
        sorted, comma-separated (customers without tags have no row)."""
        return SQL(
            """
            SELECT r.partner_id,
                   string_agg(r.category_id::text, ',' ORDER BY r.category_id) AS category_key
              FROM res_partner_res_partner_category_rel r
             GROUP BY r.partner_id
            """
        )

    @api.model
    def _channels_sql(self, company, day):
        """Each customer's acquisition channel on ``day``: the UTM medium of
        its first deal that is not a refund, dated on or before the day, in
        the suite's deal source (``crm.customer.profile._deal_source_sql``:
        a won opportunity, or a sale order or invoice a bridge adds; ties:
        the document's model slot and id). Customers whose first deal has no
        medium have no row.

        One DISTINCT ON over the company's deals (the day's deals already
        cost a scan of them) instead of a lookup per customer.
        """
        Profile = self.env["crm.customer.profile"]
        return SQL(
            """
            SELECT partner_id, medium_id FROM (
                SELECT DISTINCT ON (d.partner_id) d.partner_id, d.medium_id
                  FROM (%(deals)s) d
                 WHERE d.company_id = %(company)s AND d.amount >= 0
                   AND d.deal_date <= %(day)s
                 ORDER BY d.partner_id, d.deal_date, %(deal_id)s
            ) first_deal
             WHERE medium_id IS NOT NULL
            """,
            deals=Profile._deal_rows_sql([company.id]),
            deal_id=Profile._deal_id_sql("d"),
            company=company.id,
            day=day,
        )

    @api.model
    def _attributes_sql(self, company):
        """The slice of every profile: its salesperson (the profile's owner:
        the customer's salesperson, else its latest opportunity's), the salesperson's
        team (CTE ``teams``), its country, its tag set (CTE ``tag_sets``)
        and its acquisition channel (CTE ``channels``)."""
        return SQL(
            """
            SELECT pr.id AS profile_id, pr.partner_id, pr.user_id, rp.country_id,
                   tm.crm_team_id AS team_id, pr.predicted_clv,
                   tg.category_key, ch.medium_id
              FROM crm_customer_profile pr
              JOIN res_partner rp ON rp.id = pr.partner_id
              LEFT JOIN teams tm ON tm.user_id = pr.user_id
              LEFT JOIN tag_sets tg ON tg.partner_id = pr.partner_id
              LEFT JOIN channels ch ON ch.partner_id = pr.partner_id
             WHERE pr.company_id = %s
            """,
            company.id,
        )

    @api.model
    def _snapshot_sql(self, company, day, previous_done):
        """INSERT of the rows of one (company, day) and of their tag links:
        the slice attributes and stages as materialized CTEs, then the
        opening stocks (``_snapshot_opening_sql``), the closing stocks, the
        stage moves (``_snapshot_moves_sql``) and the deals
        (``_snapshot_deals_sql``) as parts summed per slice
        (``_snapshot_insert_sql``)."""
        return SQL(
            """
            WITH teams AS MATERIALIZED (%(teams)s),
            tag_sets AS MATERIALIZED (%(tag_sets)s),
            channels AS MATERIALIZED (%(channels)s),
            attrs AS MATERIALIZED (%(attrs)s),
            stage_now AS MATERIALIZED (%(stage_now)s),
            moves AS (%(moves)s),
            %(deals)s,
            parts (team_id, user_id, country_id, stage_id, category_key, medium_id,
                   profile_open, customer_open, active_open, profile_close, customer_close,
                   active_close, clv_close, acquired, lost, won_back, deals, revenue) AS (
                %(opening)s
                UNION ALL
                %(closing)s
                UNION ALL
                SELECT * FROM moves
                UNION ALL
                %(deal_parts)s
            ),
            %(insert)s
            """,
            teams=self._teams_sql(company),
            tag_sets=self._tag_sets_sql(),
            channels=self._channels_sql(company, day),
            attrs=self._attributes_sql(company),
            stage_now=self._stage_at_sql(company, day),
            moves=self._snapshot_moves_sql(company, day),
            deals=self._snapshot_deals_sql(company, day),
            opening=self._snapshot_opening_sql(company, day, previous_done),
            closing=self._snapshot_closing_sql(),
            deal_parts=self._snapshot_deal_parts_sql(),
            insert=self._snapshot_insert_sql(company, day),
        )

    @api.model
    def _snapshot_opening_sql(self, company, day, previous_done):
        """Parts of the start stocks: the previous day's closing rows when
        that day is done (so a customer who changed team leaves the old
        slice), else each profile's stage at the previous day's end from the
        history (``_stage_at_sql``) in its slice of today (CTE ``attrs``)."""
        if previous_done:
            return SQL(
                """
                SELECT team_id, user_id, country_id, stage_id, category_key, medium_id,
                       profile_close AS profile_open, customer_close AS customer_open,
                       active_close AS active_open,
                       0 AS profile_close, 0 AS customer_close, 0 AS active_close,
                       0 AS clv_close, 0 AS acquired, 0 AS lost, 0 AS won_back,
                       0 AS deals, 0 AS revenue
                  FROM crm_kpi_snapshot
                 WHERE company_id = %s AND date = %s AND profile_close > 0
                """,
                company.id,
                day - timedelta(days=1),
            )
        return SQL(
            """
            SELECT a.team_id, a.user_id, a.country_id, p.stage_id, a.category_key, a.medium_id,
                   1, (s.kind = ANY(%(customer)s))::int, (s.kind = ANY(%(active)s))::int,
                   0, 0, 0, 0, 0, 0, 0, 0, 0
              FROM (%(stage_before)s) p
              JOIN attrs a ON a.profile_id = p.profile_id
              JOIN crm_lifecycle_stage s ON s.id = p.stage_id
            """,
            stage_before=self._stage_at_sql(company, day - timedelta(days=1)),
            customer=CUSTOMER_KINDS,
            active=ACTIVE_KINDS,
        )

    @api.model
    def _snapshot_closing_sql(self):
        """Parts of the end stocks: each profile in its stage at the day's
        end (CTE ``stage_now``) and its slice; the CLV of customers."""
        return SQL(
            """
            SELECT a.team_id, a.user_id, a.country_id, sn.stage_id, a.category_key, a.medium_id,
                   0, 0, 0, 1, (s.kind = ANY(%(customer)s))::int,
                   (s.kind = ANY(%(active)s))::int,
                   CASE WHEN s.kind = ANY(%(customer)s) THEN COALESCE(a.predicted_clv, 0)
                        ELSE 0 END,
                   0, 0, 0, 0, 0
              FROM stage_now sn
              JOIN attrs a ON a.profile_id = sn.profile_id
              JOIN crm_lifecycle_stage s ON s.id = sn.stage_id
            """,
            customer=CUSTOMER_KINDS,
            active=ACTIVE_KINDS,
        )

    @api.model
    def _snapshot_moves_sql(self, company, day):
        """Parts of the day's flows between stages: a customer that entered
        Lost or Won back on ``day`` (from a stage of another kind), in its
        slice and its stage at the day's end."""
        return SQL(
            """
            SELECT a.team_id, a.user_id, a.country_id, sn.stage_id, a.category_key, a.medium_id,
                   0 AS profile_open, 0 AS customer_open, 0 AS active_open,
                   0 AS profile_close, 0 AS customer_close, 0 AS active_close, 0 AS clv_close,
                   0 AS acquired, (s.kind = 'lost')::int AS lost,
                   (s.kind = 'won_back')::int AS won_back, 0 AS deals, 0 AS revenue
              FROM crm_lifecycle_history h
              JOIN crm_lifecycle_stage s ON s.id = h.stage_id
              LEFT JOIN crm_lifecycle_stage fs ON fs.id = h.from_stage_id
              JOIN attrs a ON a.profile_id = h.profile_id
              LEFT JOIN stage_now sn ON sn.profile_id = h.profile_id
             WHERE h.company_id = %(company)s
               AND h.date >= %(day)s AND h.date < %(next_day)s
               AND s.kind IN ('lost', 'won_back')
               AND s.kind IS DISTINCT FROM fs.kind
            """,
            company=company.id,
            day=day,
            next_day=day + timedelta(days=1),
        )

    @api.model
    def _snapshot_deals_sql(self, company, day):
        """CTEs ``day_source`` (the deal source of crm_retention cut at the
        day), ``day_deals`` (per customer: deals that are not refunds, and
        revenue in the company currency at the deal date) and ``acquired``
        (customers whose first purchase ever is on ``day``)."""
        Profile = self.env["crm.customer.profile"]
        deals = Profile._deal_rows_sql([company.id])
        # the source restricted to the customer of the outer row: an index walk
        partner_deals = SQL("SELECT * FROM (%s) src WHERE src.partner_id = dd.partner_id", deals)
        return SQL(
            """
            day_source AS (
                SELECT * FROM (%(deals)s) src WHERE src.deal_date = %(day)s
            ),
            day_deals AS (
                SELECT d.partner_id, count(*) FILTER (WHERE d.amount >= 0) AS deals,
                       sum(d.amount) AS revenue
                  FROM (%(converted)s) d
                 GROUP BY d.partner_id
            ),
            acquired AS (
                SELECT dd.partner_id FROM day_deals dd
                 WHERE dd.deals > 0
                   AND NOT EXISTS (
                        SELECT 1 FROM (%(partner_deals)s) d
                         WHERE d.deal_date < %(day)s AND d.amount >= 0
                   )
            )
            """,
            deals=deals,
            # the rate of the deal date; the source is already cut at the day
            converted=Profile._convert_deals_sql(SQL("day_source"), day),
            partner_deals=partner_deals,
            day=day,
        )

    @api.model
    def _snapshot_deal_parts_sql(self):
        """Parts of the day's deals and acquisitions (CTEs of
        ``_snapshot_deals_sql``), in the customer's slice even without a
        profile yet (then its own salesperson, team and country)."""
        return SQL(
            """
            SELECT COALESCE(a.team_id, tm.crm_team_id), COALESCE(a.user_id, rp.user_id),
                   COALESCE(a.country_id, rp.country_id), sn.stage_id,
                   tg.category_key, ch.medium_id,
                   0, 0, 0, 0, 0, 0, 0,
                   (dd.partner_id IN (SELECT partner_id FROM acquired))::int,
                   0, 0, dd.deals, dd.revenue
              FROM day_deals dd
              JOIN res_partner rp ON rp.id = dd.partner_id
              LEFT JOIN attrs a ON a.partner_id = dd.partner_id
              LEFT JOIN stage_now sn ON sn.profile_id = a.profile_id
              LEFT JOIN teams tm ON tm.user_id = rp.user_id
              LEFT JOIN tag_sets tg ON tg.partner_id = dd.partner_id
              LEFT JOIN channels ch ON ch.partner_id = dd.partner_id
            """
        )

    @api.model
    def _snapshot_insert_sql(self, company, day):
        """The CTE ``inserted`` (the parts summed per slice into snapshot
        rows) and the final INSERT of one tag link per tag of a row's set; a
        tag deleted since the previous day (whose key an opening stock
        carries) is skipped."""
        return SQL(
            """
            inserted AS (
                INSERT INTO crm_kpi_snapshot
                       (date, company_id, team_id, user_id, country_id, stage_id, stage_kind,
                        category_key, medium_id, profile_open, customer_open, active_open,
                        profile_close, customer_close, active_close, clv_close,
                        acquired_count, lost_count, won_back_count, deal_count, revenue)
                SELECT %(day)s, %(company)s, r.team_id, r.user_id, r.country_id, r.stage_id,
                       s.kind, r.category_key, r.medium_id,
                       sum(r.profile_open), sum(r.customer_open), sum(r.active_open),
                       sum(r.profile_close), sum(r.customer_close), sum(r.active_close),
                       sum(r.clv_close), sum(r.acquired), sum(r.lost), sum(r.won_back),
                       sum(r.deals), sum(r.revenue)
                  FROM parts r
                  LEFT JOIN crm_lifecycle_stage s ON s.id = r.stage_id
                 GROUP BY r.team_id, r.user_id, r.country_id, r.stage_id, s.kind,
                          r.category_key, r.medium_id
                RETURNING id, category_key
            )
            INSERT INTO crm_kpi_snapshot_category_rel (snapshot_id, category_id)
            SELECT i.id, c.id
              FROM inserted i
             CROSS JOIN LATERAL unnest(string_to_array(i.category_key, ',')::int[]) AS t(id)
              JOIN res_partner_category c ON c.id = t.id
            """,
            day=day,
            company=company.id,
        )
