"""The statements that write ``crm.kpi.snapshot``: the rows of every day from
``date_from`` to ``date_to`` for one company at once (``_snapshot_period``);
the daily cron's day is a period of one day, the back-fill writes periods
of up to a year (``run._snapshot_periods``). Written day by day or a month
at once, the rows are the same (a test compares every row, tag link and
rollup).

Why a period: a day must read the whole history (the stage of each customer
at its end) and every deal (the first deal gives the channel, dates the
acquisition); day by day, a year of days read them 365 times. Here they are
read once per period:

* each customer's stage per day becomes *pieces*: [start, end) day ranges
  of one stage and one acquisition channel (the history's day-end stages,
  cut where the first deal gives the customer its channel), clipped to the
  period;
* stocks are running sums: +1 where a piece starts, -1 where it ends,
  summed per slice and day, each sum standing until the slice's next
  change; the opening stock of a day is the closing stock of the day
  before (``lag``);
* flows (lost, won back, acquired, deals, revenue) are grouped by day, each
  in the slice of the piece covering its day.

Everything joins on the customer (hash joins) and groups by day: the cost
grows with customers + deals + the rows written, never customers x days.

The intermediate results that the INSERT reads (the deals, each customer's
attributes and first deal, the pieces, the revenue's steps, changing days
and changes per slice and day) are temporary tables, each analysed when
written (``_snapshot_work_tables``): the planner then knows their sizes
and keeps to hash joins in memory, where on CTEs its blind guesses chose
sorts spilling to disk and merge joins filtering millions of rows
(bench/README.md: the back-fill at 1,000,000 customers). They are dropped after the INSERT, and on commit.
"""

from datetime import timedelta

from odoo import api, models
from odoo.addons.crm_retention.lib import definitions
from odoo.tools import SQL

from ..lib.revenue import GRAINS
from ..models.crm_kpi_snapshot_revenue import REVENUE_COLUMNS

# stage kinds of a customer and of an active one, defined once for the suite
CUSTOMER_KINDS = list(definitions.CUSTOMER_KINDS)
ACTIVE_KINDS = list(definitions.ACTIVE_KINDS)
# the revenue flows of a row (snapshot/revenue.py's revenue_parts columns)
REVENUE_FLOWS = REVENUE_COLUMNS[2:]
# the columns of a slice, as the statements group by them
SLICE_COLUMNS = "team_id, user_id, country_id, stage_id, category_key, medium_id"
REVENUE_PARTS = ["churn", *(f"{c}_{g}" for c in ("change", "kept") for g in GRAINS)]


class CrmKpiSnapshotPeriod(models.Model):
    _inherit = "crm.kpi.snapshot"

    @api.model
    def _snapshot_day(self, company, day):
        """Replace the rows of (``company``, ``day``): a period of one day
        (``_snapshot_period``), as the daily cron writes yesterday."""
        self._snapshot_period(company, day, day)

    @api.model
    def _snapshot_period(self, company, date_from, date_to, stored_opening=True):
        """Replace the rows of ``company`` from ``date_from`` to ``date_to``
        (inclusive) and their rollups; the day before ``date_from`` is the
        opening of the first day when it was snapshotted (as for a day).

        With ``stored_opening=False`` the first day opens on the customers'
        stages at the end of the day before, from the history, whether that
        day was snapshotted or not: for a back-fill's later periods written
        at once with the earlier ones (``_snapshot_periods``), whose day
        before is being rewritten by another transaction. Both openings
        give the same rows when the day before is up to date: each customer
        in its slice at the end of the day before."""
        self.env.flush_all()
        cr = self.env.cr
        cr.execute(
            SQL(
                "SELECT EXISTS (SELECT 1 FROM crm_kpi_snapshot WHERE company_id = %s AND date = %s)",
                company.id,
                date_from - timedelta(days=1),
            )
        )
        previous_done = cr.fetchone()[0] and stored_opening
        cr.execute(
            SQL(
                "DELETE FROM crm_kpi_snapshot WHERE company_id = %s AND date BETWEEN %s AND %s",
                company.id,
                date_from,
                date_to,
            )
        )
        cr.execute("SELECT current_setting('jit')")
        jit = cr.fetchone()[0]
        # blind estimates on CTEs, as for a day: no JIT; hash tables of a
        # large company's customers fit in memory
        cr.execute("SELECT set_config('jit', 'off', true), set_config('work_mem', '256MB', true)")
        tables = self._snapshot_work_tables(company, date_from, date_to)
        for name, query, *hashed in tables:
            if hashed:
                # a grouping known to be small (slices x days) whose input
                # the planner cannot size: grouped by hashing, not sorted
                cr.execute(
                    "SELECT current_setting('enable_sort'), set_config('enable_sort', 'off', true)"
                )
                sort = cr.fetchone()[0]
            cr.execute(
                SQL(
                    "DROP TABLE IF EXISTS %(t)s; "
                    "CREATE TEMPORARY TABLE %(t)s ON COMMIT DROP AS %(q)s; ANALYZE %(t)s",
                    t=SQL.identifier(name),
                    q=query,
                )
            )
            if hashed:
                cr.execute(SQL("SELECT set_config('enable_sort', %s, true)", sort))
        cr.execute(self._snapshot_period_sql(company, date_from, date_to, previous_done))
        # gone before the next period of the same transaction (a test, a
        # back-fill in one transaction) creates them again; a failure rolls
        # them back with the rest
        cr.execute(
            SQL(
                "DROP TABLE %s",
                SQL(", ").join(SQL.identifier(table[0]) for table in reversed(tables)),
            )
        )
        cr.execute(SQL("SELECT set_config('jit', %s, true)", jit))
        for rollup in ("crm.kpi.snapshot.total", "crm.kpi.snapshot.tag"):
            self.env[rollup]._rewrite_period(company, date_from, date_to)
        # rows written in bulk: fresh statistics for the reports' plans
        cr.execute(
            "ANALYZE crm_kpi_snapshot, crm_kpi_snapshot_category_rel, "
            "crm_kpi_snapshot_total, crm_kpi_snapshot_tag"
        )
        self.invalidate_model()

    @api.model
    def _snapshot_period_sql(self, company, date_from, date_to, previous_done):
        """The INSERT of the period's rows and tag links (see the module),
        reading the work tables of ``_snapshot_work_tables`` by name.

        Inside, a slice's empty parts are 0 ('' for the tag set) rather than
        NULL, so that slices join by hash (``IS NOT DISTINCT FROM`` would
        not); they are NULL again in the rows written."""
        Profile = self.env["crm.customer.profile"]
        return SQL(
            """
            WITH kinds AS (
                SELECT id AS stage_id, (kind = ANY(%(customer)s))::int AS customer,
                       (kind = ANY(%(active)s))::int AS active
                  FROM crm_lifecycle_stage
            ),
            closes AS (
                -- each slice's closing stocks on the days they change, until
                -- the day before the next change (``next_day``)
                SELECT %(slice)s, day, lead(day) OVER w AS next_day,
                       sum(n) OVER w AS close_n, sum(clv) OVER w AS close_clv,
                       sum(var) OVER w AS close_var, sum(rev) OVER w AS close_rev
                  FROM deltas
                WINDOW w AS (PARTITION BY %(slice)s ORDER BY day)
            ),
            stocks AS (
                -- every day of each slice's closes up to its next change, or
                -- only its first day when the slice is empty (no row is
                -- written for it; the next change's opening reads it): as
                -- many rows as the stocks written, no slices x days
                SELECT c.team_id, c.user_id, c.country_id, c.stage_id, c.category_key,
                       c.medium_id, g.day::date AS day, c.close_n, c.close_clv, c.close_var,
                       c.close_rev
                  FROM closes c
                 CROSS JOIN LATERAL generate_series(
                       c.day,
                       CASE WHEN c.close_n = 0 AND c.close_rev = 0 THEN c.day
                            ELSE COALESCE(c.next_day - 1, %(to)s::date) END,
                       '1 day') AS g(day)
            ),
            stock_parts AS (
                SELECT %(slice)s, day,
                       CASE WHEN day > %(from)s THEN prev_n ELSE 0 END AS open_n,
                       close_n, close_clv, close_var,
                       CASE WHEN day > %(from)s THEN prev_rev ELSE 0 END AS open_rev, close_rev
                  FROM (SELECT st.*, COALESCE(lag(close_n) OVER w, 0) AS prev_n,
                               COALESCE(lag(close_rev) OVER w, 0) AS prev_rev
                          FROM stocks st
                        WINDOW w AS (PARTITION BY %(slice)s ORDER BY day)) st
                 WHERE day >= %(from)s
            ),
            moves AS (
                SELECT p.team_id, p.user_id, p.country_id, p.stage_id, p.category_key,
                       p.medium_id, h.date::date AS day,
                       -- won back: back from Lost into any customer stage (Won back,
                       -- Active, At risk...), so that the customers at the end are
                       -- those at the start + acquired + won back - lost
                       -- + reclassified, whatever stage the rules give a comeback
                       (s.kind = 'lost' AND h.reason <> 'redefinition')::int AS lost,
                       (fs.kind = 'lost' AND s.kind = ANY(%(customer)s)
                        AND h.reason <> 'redefinition')::int AS won_back,
                       -- a change of the stage rules moved the customer into (+1)
                       -- or out of (-1) the customer stocks: no flow of its own
                       CASE WHEN h.reason = 'redefinition'
                            THEN 2 * (s.kind = ANY(%(customer)s))::int - 1 ELSE 0
                       END AS reclassified,
                       h.profile_id, p.partner_id
                  FROM crm_lifecycle_history h
                  JOIN crm_lifecycle_stage s ON s.id = h.stage_id
                  LEFT JOIN crm_lifecycle_stage fs ON fs.id = h.from_stage_id
                  JOIN pieces p ON p.profile_id = h.profile_id
                               AND p.start <= h.date::date AND h.date::date < p.stop
                 WHERE h.company_id = %(company)s
                   AND h.date >= %(from)s AND h.date < %(after)s
                   AND ((s.kind = 'lost' OR (fs.kind = 'lost' AND s.kind = ANY(%(customer)s)))
                        AND s.kind IS DISTINCT FROM fs.kind
                        -- two partners merged into one is the data cleaned, and
                        -- a change of the stage rules the books redone: not a
                        -- customer leaving or coming back
                        AND h.reason <> ALL(%(not_flow)s)
                        OR h.reason = 'redefinition'
                           AND (s.kind = ANY(%(customer)s))
                               <> COALESCE(fs.kind = ANY(%(customer)s), false))
            ),
            day_deals AS (
                SELECT d.partner_id, d.deal_date AS day,
                       count(*) FILTER (WHERE d.amount >= 0) AS deals, sum(d.amount) AS revenue
                  FROM (%(converted)s) d
                 GROUP BY 1, 2
            ),
            deal_parts AS (
                -- a customer without profile (or a profile without salesperson
                -- or team) in its own salesperson's slice, as for a day
                SELECT COALESCE(NULLIF(a.team_id, 0), tm.crm_team_id, 0) AS team_id,
                       COALESCE(NULLIF(a.user_id, 0), rp.user_id, 0) AS user_id,
                       COALESCE(NULLIF(a.country_id, 0), rp.country_id, 0) AS country_id,
                       COALESCE(p.stage_id, 0) AS stage_id,
                       COALESCE(tg.category_key, '') AS category_key,
                       CASE WHEN fd.day <= dd.day THEN fd.medium_id ELSE 0 END AS medium_id,
                       dd.day, (dd.deals > 0 AND fd.day = dd.day)::int AS acquired,
                       dd.deals, dd.revenue
                  FROM day_deals dd
                  JOIN res_partner rp ON rp.id = dd.partner_id
                  LEFT JOIN attrs a ON a.partner_id = dd.partner_id
                  LEFT JOIN pieces p ON p.profile_id = a.profile_id
                                    AND p.start <= dd.day AND dd.day < p.stop
                  LEFT JOIN teams tm ON tm.user_id = rp.user_id
                  LEFT JOIN tag_sets tg ON tg.partner_id = dd.partner_id
                  LEFT JOIN first_deal fd ON fd.partner_id = dd.partner_id
            ),
            parts (team_id, user_id, country_id, stage_id, category_key, medium_id, day,
                   profile_open, customer_open, active_open, profile_close, customer_close,
                   active_close, clv_close, var_close, acquired, lost, won_back, reclassified,
                   deals, revenue) AS (
                SELECT sp.team_id, sp.user_id, sp.country_id, sp.stage_id, sp.category_key,
                       sp.medium_id, sp.day,
                       sp.open_n, sp.open_n * k.customer, sp.open_n * k.active,
                       sp.close_n, sp.close_n * k.customer, sp.close_n * k.active,
                       sp.close_clv * k.customer, sp.close_var * k.customer, 0, 0, 0, 0, 0, 0
                  FROM stock_parts sp
                  JOIN kinds k ON k.stage_id = sp.stage_id
                 WHERE sp.open_n <> 0 OR sp.close_n <> 0
                 UNION ALL
                %(opening)s
                 UNION ALL
                -- the flows summed per slice and day first: narrow rows
                -- grouped before the wide ones of all_parts
                SELECT %(slice)s, day, 0, 0, 0, 0, 0, 0, 0, 0, 0, sum(lost), sum(won_back),
                       sum(reclassified), 0, 0
                  FROM moves
                 GROUP BY %(slice)s, day
                 UNION ALL
                SELECT %(slice)s, day, 0, 0, 0, 0, 0, 0, 0, 0, sum(acquired), 0, 0, 0,
                       sum(deals), sum(revenue)
                  FROM deal_parts
                 GROUP BY %(slice)s, day
            ),
            %(revenue_parts)s,
            all_parts (team_id, user_id, country_id, stage_id, category_key, medium_id, day,
                       profile_open, customer_open, active_open, profile_close, customer_close,
                       active_close, clv_close, var_close, acquired, lost, won_back,
                       reclassified, deals, revenue, rev_open, rev_close, %(revenue_flows)s) AS (
                SELECT r.*, 0 AS rev_open, 0 AS rev_close, %(no_changes)s FROM parts r
                 UNION ALL
                SELECT %(slice)s, day, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                       rev_open, rev_close, %(changes)s
                  FROM revenue_parts
            ),
            inserted AS (
                INSERT INTO crm_kpi_snapshot
                       (date, company_id, team_id, user_id, country_id, stage_id, stage_kind,
                        category_key, medium_id, profile_open, customer_open, active_open,
                        profile_close, customer_close, active_close, clv_close,
                        value_at_risk_close, acquired_count, lost_count, won_back_count,
                        reclassified_count, deal_count, revenue, %(revenue_columns)s)
                SELECT r.day, %(company)s, NULLIF(r.team_id, 0), NULLIF(r.user_id, 0),
                       NULLIF(r.country_id, 0), NULLIF(r.stage_id, 0), s.kind,
                       NULLIF(r.category_key, ''), NULLIF(r.medium_id, 0),
                       sum(r.profile_open), sum(r.customer_open), sum(r.active_open),
                       sum(r.profile_close), sum(r.customer_close), sum(r.active_close),
                       sum(r.clv_close), sum(r.var_close), sum(r.acquired), sum(r.lost),
                       sum(r.won_back), sum(r.reclassified), sum(r.deals), sum(r.revenue),
                       sum(r.rev_open), sum(r.rev_close), %(revenue_sums)s
                  FROM all_parts r
                  LEFT JOIN crm_lifecycle_stage s ON s.id = r.stage_id
                 GROUP BY r.day, r.team_id, r.user_id, r.country_id, r.stage_id, s.kind,
                          r.category_key, r.medium_id
                RETURNING id, category_key
            )
            INSERT INTO crm_kpi_snapshot_category_rel (snapshot_id, category_id)
            SELECT i.id, c.id
              FROM inserted i
             CROSS JOIN LATERAL unnest(string_to_array(i.category_key, ',')::int[]) AS t(id)
              JOIN res_partner_category c ON c.id = t.id
            """,
            converted=Profile._convert_deals_sql(
                SQL(
                    "(SELECT * FROM deal_rows WHERE company_id = %s AND deal_date BETWEEN %s AND %s) dr",
                    company.id,
                    date_from,
                    date_to,
                ),
                date_to,
            ),
            opening=self._period_opening_sql(company, date_from, previous_done),
            revenue_parts=self._revenue_parts_sql(
                company, date_from, previous_done, SQL(SLICE_COLUMNS)
            ),
            revenue_flows=SQL(", ").join(SQL.identifier(c) for c in REVENUE_FLOWS),
            no_changes=SQL(", ").join(SQL("NULL::numeric") for _c in REVENUE_FLOWS),
            changes=SQL(", ").join(SQL.identifier(c) for c in REVENUE_PARTS),
            revenue_columns=SQL(", ").join(SQL.identifier(c) for c in REVENUE_COLUMNS),
            revenue_sums=SQL(", ").join(
                SQL("NULLIF(sum(%s), 0)", SQL.identifier("r", c)) for c in REVENUE_FLOWS
            ),
            slice=SQL(SLICE_COLUMNS),
            company=company.id,
            before=date_from - timedelta(days=1),
            after=date_to + timedelta(days=1),
            to=date_to,
            customer=CUSTOMER_KINDS,
            active=ACTIVE_KINDS,
            not_flow=list(definitions.NOT_FLOW_REASONS),
            **{"from": date_from},
        )

    @api.model
    def _snapshot_work_tables(self, company, date_from, date_to):
        """The statement's heavy intermediate results, in order: ``[(name,
        SELECT)]``, each written to a temporary table of that name and
        analysed before the next one and the INSERT (``_snapshot_period_sql``)
        read it by name. A third item (``"hashed"``) asks for a grouping by
        hashing (sorts disabled for that statement alone).

        Why tables and not CTEs: the planner knows nothing of a CTE's rows
        (the deals of the revenue window were estimated at 13 rows, the
        revenue steps at 3), so it chose merge joins with the days as join
        filters and sorts spilled to disk. From an analysed table it
        estimates what follows: hash joins on the customer, in memory."""
        Profile = self.env["crm.customer.profile"]
        return [
            ("teams", self._teams_sql(company)),
            ("tag_sets", self._tag_sets_sql()),
            ("deal_rows", Profile._deal_rows_sql([company.id])),
            (
                "first_deal",
                SQL(
                    """
                    -- each customer's first deal that is not a refund: its day
                    -- gives the customer its channel (the deal's medium)
                    SELECT DISTINCT ON (d.partner_id) d.partner_id, d.deal_date AS day,
                           COALESCE(d.medium_id, 0) AS medium_id
                      FROM deal_rows d
                     WHERE d.company_id = %(company)s AND d.amount >= 0
                     ORDER BY d.partner_id, d.deal_date, %(deal_id)s
                    """,
                    company=company.id,
                    deal_id=Profile._deal_id_sql("d"),
                ),
            ),
            (
                "attrs",
                SQL(
                    """
                    SELECT pr.id AS profile_id, pr.partner_id, COALESCE(pr.user_id, 0) AS user_id,
                           COALESCE(rp.country_id, 0) AS country_id,
                           COALESCE(tm.crm_team_id, 0) AS team_id,
                           COALESCE(pr.predicted_clv, 0) AS clv,
                           COALESCE(pr.value_at_risk, 0) AS var,
                           COALESCE(tg.category_key, '') AS category_key,
                           fd.day AS first_day, fd.medium_id AS first_medium
                      FROM crm_customer_profile pr
                      JOIN res_partner rp ON rp.id = pr.partner_id
                      LEFT JOIN teams tm ON tm.user_id = pr.user_id
                      LEFT JOIN tag_sets tg ON tg.partner_id = pr.partner_id
                      LEFT JOIN first_deal fd ON fd.partner_id = pr.partner_id
                     WHERE pr.company_id = %s
                    """,
                    company.id,
                ),
            ),
            ("pieces", self._pieces_sql(company, date_from, date_to)),
            *self._revenue_work_tables(company, date_from, date_to),
            (
                "deltas",
                SQL(
                    """
                    -- closing stocks as running sums: in at its start, out at
                    -- its stop; a table of its own, grouped by hashing: the
                    -- planner guesses a tenth of its millions of rows as
                    -- groups (there are a few per slice and day) and sorted
                    -- them all on disk (25 s a year at 1,000,000 customers)
                    SELECT %(slice)s, day, sum(n) AS n, sum(n * clv) AS clv,
                           sum(n * var) AS var, sum(rev) AS rev
                      FROM (SELECT %(slice)s, start AS day, 1 AS n, clv, var, 0 AS rev
                              FROM pieces
                             UNION ALL
                            SELECT %(slice)s, stop, -1, clv, var, 0 FROM pieces
                             WHERE stop <= %(to)s
                             UNION ALL
                            -- the 12-month revenue (snapshot/revenue.py): same slices
                            SELECT %(slice)s, start, 0, 0, 0, rev FROM rev_parts WHERE rev <> 0
                             UNION ALL
                            SELECT %(slice)s, stop, 0, 0, 0, -rev FROM rev_parts
                             WHERE rev <> 0 AND stop <= %(to)s) e
                     GROUP BY %(slice)s, day
                    """,
                    slice=SQL(SLICE_COLUMNS),
                    to=date_to,
                ),
                "hashed",
            ),
        ]

    @api.model
    def _pieces_sql(self, company, date_from, date_to):
        """Each customer's [start, stop) day ranges of one stage and one
        acquisition channel, clipped to the day before the period .. the
        day after it (see the module), with its slice (``attrs``)."""
        return SQL(
            """
            WITH day_end AS (%(day_end)s),
            spans AS (
                -- [start, stop) of each stage, clipped to the day before the
                -- period .. the day after it
                SELECT profile_id, stage_id,
                       GREATEST(day, %(before)s::date) AS start,
                       COALESCE(lead(day) OVER w, %(after)s::date) AS stop
                  FROM day_end
                WINDOW w AS (PARTITION BY profile_id ORDER BY day)
            ),
            cut AS (
                -- cut at the first deal: no channel before it, its medium after;
                -- with the customer's partner, so that the revenue steps join
                -- the pieces on it (snapshot/revenue.py)
                SELECT a.profile_id, a.partner_id, s.stage_id, a.team_id, a.user_id, a.country_id,
                       a.category_key, a.clv, a.var, s.start,
                       CASE WHEN a.first_day IS NULL THEN s.stop
                            ELSE LEAST(s.stop, GREATEST(a.first_day, s.start)) END AS stop,
                       0 AS medium_id
                  FROM spans s JOIN attrs a ON a.profile_id = s.profile_id
                 UNION ALL
                SELECT a.profile_id, a.partner_id, s.stage_id, a.team_id, a.user_id, a.country_id,
                       a.category_key, a.clv, a.var, GREATEST(s.start, a.first_day), s.stop,
                       a.first_medium
                  FROM spans s JOIN attrs a ON a.profile_id = s.profile_id
                 WHERE a.first_day < s.stop
            )
            SELECT * FROM cut WHERE start < stop
            """,
            day_end=self._day_end_sql(company, date_to + timedelta(days=1)),
            before=date_from - timedelta(days=1),
            after=date_to + timedelta(days=1),
        )

    @api.model
    def _day_end_sql(self, company, after, profiles=None):
        """The stage of each customer of ``company`` at the end of each day
        its stage changed before ``after`` (``profile_id, day, stage_id``),
        only for the profiles ``profiles`` selects (SQL) when given."""
        return SQL(
            """
            SELECT DISTINCT ON (h.profile_id, h.date::date) h.profile_id,
                   h.date::date AS day, h.stage_id
              FROM crm_lifecycle_history h
             WHERE h.company_id = %(company)s AND h.date < %(after)s %(profiles)s
             ORDER BY h.profile_id, h.date::date, h.date DESC, h.id DESC
            """,
            company=company.id,
            after=after,
            profiles=SQL("AND h.profile_id IN (%s)", profiles) if profiles else SQL(),
        )

    @api.model
    def _period_opening_sql(self, company, date_from, previous_done):
        """Parts of the first day's opening stocks: the day before's rows when
        it was snapshotted, else each customer's stage at the day before's end
        in its slice of that day (the piece covering it: its channel as of
        that day), as the day before's closing stocks count it."""
        if previous_done:
            return SQL(
                """
                SELECT COALESCE(team_id, 0), COALESCE(user_id, 0), COALESCE(country_id, 0),
                       COALESCE(stage_id, 0), COALESCE(category_key, ''),
                       COALESCE(medium_id, 0), %(from)s::date,
                       profile_close, customer_close, active_close,
                       0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
                  FROM crm_kpi_snapshot
                 WHERE company_id = %(company)s AND date = %(before)s AND profile_close > 0
                """,
                company=company.id,
                before=date_from - timedelta(days=1),
                **{"from": date_from},
            )
        return SQL(
            """
            SELECT p.team_id, p.user_id, p.country_id, p.stage_id, p.category_key, p.medium_id,
                   %(from)s::date, 1, k.customer, k.active, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
              FROM pieces p
              JOIN kinds k ON k.stage_id = p.stage_id
             WHERE p.start <= %(before)s AND %(before)s < p.stop
            """,
            before=date_from - timedelta(days=1),
            **{"from": date_from},
        )

    @api.model
    def _teams_sql(self, company):
        """Each salesperson's team in ``company`` (``user_id``,
        ``crm_team_id``): crm_retention's one definition."""
        return self.env["crm.customer.profile"]._salesperson_teams_sql(company)

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
