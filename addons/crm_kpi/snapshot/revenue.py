"""The revenue retention part of the statement of ``period.py``: the CTEs
behind the snapshot's ``revenue_*`` columns (``models/crm_kpi_snapshot_revenue.py``,
definitions in ``lib/revenue.py``).

Like the rest of the statement, it never works per customer and day, and
never joins a customer's deals to its days (a range join: deals x days):

* ``rev_deals``: each customer's revenue per deal day (the suite's deal
  source, converted to the company currency), from 12 months before the
  earliest period start the period's days need (``earliest_start``);
* ``rev_opening``: per customer, one GROUP BY over those deals before the
  period: its 12-month revenue at the end of the day before the period,
  and the bases of the grain periods that contain the first day but start
  before it (at most the week, Sunday week, month, quarter and year of the
  first day: every later day's period of a grain starts either then or in
  the period);
* ``rev_steps``: each customer's 12-month revenue as a step function, a
  running sum of moves: the opening, + a deal on its day, - the same deal
  12 months later; each step knows the one before (``prev_day``,
  ``s_before``), its end (``next_day``) and, per grain, the base of the
  grain's period containing its day (``base_<grain>``: the customer's
  12-month revenue at the end of the day before the period's start, i.e.
  ``s_before`` of the period's first step, carried forward by a running
  max in the same window);
* ``rev_parts``: the stage pieces cut at those steps, each with the
  customer's 12-month revenue: the stocks (``revenue_12m_*``) are running
  sums of them, as the customer counts are of the pieces;
* ``rev_values``: per day a customer's 12-month revenue changes, before
  and after the day, with each grain's period start, the customer's slice
  and the stage piece covering the day before;
* ``rev_stage_keys`` / ``rev_start_stages``: the customer's stage at the
  start of a grain period, for the few (customer, start) pairs where that
  piece does not cover the start: the pieces, or for a start before the
  period the history of these customers only, looked up once per pair;
* ``rev_changes``: per changing day and grain (a *grain row*, streamed,
  never written: six per changing day), the change of the revenue of a
  customer in the base of the grain's period, in its slice at the period's
  start, grouped by hashing into one row per slice and day with a column
  per grain: the flows ``revenue_change_*`` / ``revenue_kept_change_*``;
  the base of a day is the step before, that of a longer period the
  step's (or the opening's, for a period that starts before the first
  day);
* ``churned``: the lost moves valued at the step of the day before.

Cost: the deals read once, grouped once per customer for the opening and
sorted per customer for the running sum; the pieces joined to at most their
customer's steps in the period; the bases of the grains are read on the
steps. Nothing joins a change to the deals of its
12-month window any more (the first version of these running sums did, for
the bases of the longer grains: a range join per revenue event).
"""

from datetime import timedelta

from dateutil.relativedelta import relativedelta

from odoo import api, models
from odoo.tools import SQL

from ..lib.revenue import GRAINS, earliest_start, grain_start

# the first day of each grain's period containing the date SQL ``day``
# (weeks: ISO Monday, and Sunday; see lib/revenue.grain_start); on timestamps
# without time zone: a date alone would be truncated as a timestamptz, in the
# session's time zone (the same day, several times slower per row)
GRAIN_START_SQL = {
    "day": "%s",
    "week": "date_trunc('week', (%s)::timestamp)::date",
    "week_sun": "(date_trunc('week', (%s)::timestamp + interval '1 day')::date - 1)",
    "month": "date_trunc('month', (%s)::timestamp)::date",
    "quarter": "date_trunc('quarter', (%s)::timestamp)::date",
    "year": "date_trunc('year', (%s)::timestamp)::date",
}


def start_key(profile, start):
    """SQL of one bigint naming (customer ``profile``, period ``start``):
    the grain rows and the stages at the starts join on it alone, so
    that the join is a hash or merge join on one key whatever the planner's
    (blind) estimates; on the two columns it merged on the customer and
    filtered the starts (tens of millions of rows at 100,000 customers)."""
    return SQL("(%s::bigint * 100000 + (%s - DATE '2000-01-01'))", profile, start)


def grain_start_sql(grain, day):
    """SQL of the first day of the ``grain`` period containing ``day`` (SQL)."""
    return SQL(GRAIN_START_SQL[grain], day)


class CrmKpiSnapshotRevenue(models.Model):
    _inherit = "crm.kpi.snapshot"

    @api.model
    def _revenue_work_tables(self, company, date_from, date_to):
        """The revenue's work tables, after ``pieces`` (see
        ``_snapshot_work_tables``): ``[(name, SELECT)]`` of ``rev_deals``,
        ``rev_opening``, ``rev_steps`` (from the moves, with the start of
        each grain's period and its base), ``rev_parts``, ``rev_values``
        (the changing days), ``rev_stage_keys``, ``rev_start_stages`` and
        ``rev_changes`` (per slice and day, ``change_<grain>`` and
        ``kept_<grain>``, grouped by hashing: see ``_snapshot_work_tables``)."""
        Profile = self.env["crm.customer.profile"]
        before = date_from - timedelta(days=1)
        window_from = earliest_start(date_from) - relativedelta(months=12)
        # the grains whose period containing the first day starts before it:
        # their base (the 12-month revenue before that start) is in no step
        # of the period, it is summed with the opening
        early = [
            grain
            for grain in GRAINS
            if grain != "day" and grain_start(grain, date_from) < date_from
        ]
        # the steps carry their grain starts (computed once per step, not
        # once per grain row that reads them)
        starts = {
            grain: SQL("st.day") if grain == "day" else SQL.identifier("st", f"start_{grain}")
            for grain in GRAINS
        }
        longer = [grain for grain in GRAINS if grain != "day"]
        # the base of each grain's period of a changing day ``v``: the day
        # before's revenue for a day, else the step's (or, for a period that
        # starts before the first day, the opening's: rev_values)
        grain_bases = SQL(", ").join(
            SQL("v.rev_before") if grain == "day" else SQL.identifier("v", f"base_{grain}")
            for grain in GRAINS
        )
        start_columns = SQL(", ").join(SQL.identifier("e", f"start_{grain}") for grain in GRAINS)
        params = dict(
            converted=Profile._convert_deals_sql(
                SQL(
                    "(SELECT * FROM deal_rows WHERE company_id = %s "
                    "AND deal_date BETWEEN %s AND %s) dr",
                    company.id,
                    window_from,
                    date_to,
                ),
                date_to,
            ),
            early_day_end=self._day_end_sql(
                company,
                date_from,
                SQL("SELECT profile_id FROM rev_stage_keys WHERE start < %s", date_from),
            ),
            early_bases=SQL("").join(
                SQL(
                    ", sum(amount) FILTER (WHERE day >= (%(start)s::date - interval '12 months')::date"
                    " AND day < %(start)s) AS %(base)s",
                    start=grain_start(grain, date_from),
                    base=SQL.identifier(f"base_{grain}"),
                )
                for grain in early
            ),
            early_join=SQL("LEFT JOIN rev_opening o ON o.partner_id = e.partner_id")
            if early
            else SQL(),
            step_starts=SQL("").join(
                SQL(
                    ", %s AS %s",
                    grain_start_sql(grain, SQL("day")),
                    SQL.identifier(f"start_{grain}"),
                )
                for grain in longer
            ),
            starts=SQL(", ").join(
                SQL("%s AS %s", starts[grain], SQL.identifier(f"start_{grain}")) for grain in GRAINS
            ),
            first_marks=SQL("").join(
                SQL(
                    ", lag(%(start)s) OVER w IS DISTINCT FROM %(start)s AS %(first)s",
                    start=SQL.identifier(f"start_{grain}"),
                    first=SQL.identifier(f"first_{grain}"),
                )
                for grain in longer
            ),
            longer_columns=SQL("").join(
                SQL(", %s", SQL.identifier(f"start_{grain}")) for grain in longer
            ),
            step_bases=SQL("").join(
                SQL(
                    ", (max(ARRAY[(day - DATE '2000-01-01')::numeric, s_before])"
                    " FILTER (WHERE %s) OVER w)[2] AS %s",
                    SQL.identifier(f"first_{grain}"),
                    SQL.identifier(f"base_{grain}"),
                )
                for grain in longer
            ),
            value_bases=SQL("").join(
                SQL(
                    ", CASE WHEN e.%(start)s < %(from)s THEN o.%(base)s ELSE e.%(base)s END AS %(base)s"
                    if grain in early
                    else ", e.%(base)s",
                    start=SQL.identifier(f"start_{grain}"),
                    base=SQL.identifier(f"base_{grain}"),
                    **{"from": date_from},
                )
                for grain in longer
            ),
            step_base_columns=SQL("").join(
                SQL(", st.%s", SQL.identifier(f"base_{grain}")) for grain in longer
            ),
            stage_key_g=start_key(SQL("g.profile_id"), SQL("g.start")),
            grain_rows=SQL(
                """
                -- each changing day of rev_values once per grain (its index
                -- in GRAINS): the grain's period start, its base (the
                -- customer's 12-month revenue before the start) and the
                -- stage at the start when the day's piece covers it (else
                -- NULL: rev_start_stages); unnest in the select list, not a
                -- lateral VALUES (a nested loop per changing day)
                SELECT x.profile_id, x.day, x.team_id, x.user_id, x.country_id, x.category_key,
                       x.first_day, x.first_medium, x.grain, x.start, x.base,
                       CASE WHEN x.start >= %(from)s AND x.piece_start < x.start
                            THEN x.piece_stage END AS stage_id,
                       x.rev_after - x.rev_before AS change,
                       LEAST(GREATEST(x.rev_after, 0), x.base)
                           - LEAST(GREATEST(x.rev_before, 0), x.base) AS kept
                  FROM (SELECT v.*, unnest(%(indexes)s::smallint[]) AS grain,
                               unnest(ARRAY[%(grain_starts)s]) AS start,
                               unnest(ARRAY[%(grain_bases)s]::numeric[]) AS base
                          FROM rev_values v) x
                """,
                indexes=list(range(len(GRAINS))),
                grain_starts=SQL(", ").join(
                    SQL.identifier("v", f"start_{grain}") for grain in GRAINS
                ),
                grain_bases=grain_bases,
                **{"from": date_from},
            ),
            grain_sums=SQL(", ").join(
                SQL(
                    "sum(g.%s) FILTER (WHERE g.grain = %s) AS %s",
                    SQL.identifier(column),
                    GRAINS.index(grain),
                    SQL.identifier(f"{column}_{grain}"),
                )
                for column in ("change", "kept")
                for grain in GRAINS
            ),
            stage_key_s=start_key(SQL("s.profile_id"), SQL("s.start")),
            start_columns=start_columns,
            before=before,
            to=date_to,
            **{"from": date_from},
        )
        return [
            (
                "rev_deals",
                SQL(
                    """
                    SELECT d.partner_id, d.deal_date AS day, sum(d.amount) AS amount
                      FROM (%(converted)s) d
                     GROUP BY 1, 2
                    """,
                    **params,
                ),
            ),
            (
                "rev_opening",
                SQL(
                    """
                    -- the 12-month revenue at the end of the day before the
                    -- period, and before the starts of the grain periods that
                    -- contain the first day but start before it
                    SELECT partner_id,
                           sum(amount) FILTER (
                               WHERE day >= (%(from)s::date - interval '12 months')::date) AS rev
                           %(early_bases)s
                      FROM rev_deals
                     WHERE day <= %(before)s
                     GROUP BY partner_id
                    """,
                    **params,
                ),
            ),
            (
                "rev_steps",
                SQL(
                    """
                    WITH rev_moves (partner_id, day, delta) AS (
                        -- the opening, then the 12-month revenue's changes on the
                        -- period's days: a deal enters on its day and leaves 12
                        -- months later, on the first day whose 12 months no longer
                        -- reach it (that day or the next one, calendar months as
                        -- PostgreSQL counts them)
                        SELECT partner_id, %(before)s::date, rev FROM rev_opening WHERE rev IS NOT NULL
                         UNION ALL
                        SELECT partner_id, day, amount FROM rev_deals WHERE day >= %(from)s
                         UNION ALL
                        SELECT r.partner_id, l.day, -r.amount
                          FROM rev_deals r
                         CROSS JOIN LATERAL (
                               SELECT CASE WHEN (y.day + 1 - interval '12 months')::date > r.day
                                           THEN y.day ELSE y.day + 1 END
                                 FROM (SELECT (r.day + interval '12 months')::date) AS y(day)
                               ) AS l(day)
                         WHERE l.day BETWEEN %(from)s AND %(to)s
                    )
                    -- each customer's 12-month revenue up to the end of each day
                    -- from ``day`` to the day before ``next_day``: a running sum;
                    -- ``s_before`` up to the end of ``prev_day``, the step before;
                    -- ``base_<grain>``: the revenue before the start of the
                    -- grain's period containing the day, i.e. ``s_before`` of
                    -- the period's first step (the last step marked first up
                    -- to this one: a running max of [day, s_before], in the
                    -- same window, no sort)
                    SELECT partner_id, day, s, s_before, prev_day, next_day %(longer_columns)s
                           %(step_bases)s
                      FROM (SELECT partner_id, day, s, lag(s, 1, 0::numeric) OVER w AS s_before,
                                   lag(day) OVER w AS prev_day, lead(day) OVER w AS next_day
                                   %(longer_columns)s %(first_marks)s
                              FROM (SELECT partner_id, day,
                                           sum(sum(delta)) OVER (PARTITION BY partner_id
                                                                 ORDER BY day) AS s
                                           %(step_starts)s
                                      FROM rev_moves
                                     GROUP BY partner_id, day) t
                            WINDOW w AS (PARTITION BY partner_id ORDER BY day)) t
                    WINDOW w AS (PARTITION BY partner_id ORDER BY day)
                    """,
                    **params,
                ),
            ),
            (
                "rev_parts",
                SQL(
                    """
                    -- the pieces cut where the 12-month revenue changes, with
                    -- that revenue (0 unless positive: the customer is in no base)
                    SELECT p.team_id, p.user_id, p.country_id, p.stage_id, p.category_key,
                           p.medium_id, GREATEST(p.start, st.day) AS start,
                           LEAST(p.stop, COALESCE(st.next_day, p.stop)) AS stop, st.s AS rev
                      FROM pieces p
                      JOIN rev_steps st ON st.partner_id = p.partner_id AND st.day < p.stop
                                       AND (st.next_day IS NULL OR st.next_day > p.start)
                     WHERE st.s > 0
                    """,
                    **params,
                ),
            ),
            (
                "rev_values",
                SQL(
                    """
                    -- per day a customer's 12-month revenue changes: before and
                    -- after the day, each grain's period start, the bases of
                    -- the periods that start before the first day, the
                    -- customer's slice, and the piece covering the day
                    -- before: its stage is the customer's at the start of
                    -- every grain period that the piece covers the day before of
                    SELECT a.profile_id, e.partner_id, e.day, %(start_columns)s, e.rev_before,
                           e.rev_after, p.start AS piece_start, p.stage_id AS piece_stage,
                           a.team_id, a.user_id, a.country_id, a.category_key, a.first_day,
                           a.first_medium %(value_bases)s
                      FROM (SELECT st.partner_id, st.day, st.s_before AS rev_before,
                                   st.s AS rev_after, %(starts)s %(step_base_columns)s
                              FROM rev_steps st
                             WHERE st.day >= %(from)s AND st.s <> st.s_before) e
                      JOIN attrs a ON a.partner_id = e.partner_id
                      LEFT JOIN pieces p ON p.profile_id = a.profile_id AND p.start < e.day
                                        AND e.day <= p.stop
                      %(early_join)s
                    """,
                    **params,
                ),
            ),
            (
                "rev_stage_keys",
                SQL(
                    """
                    -- the (customer, grain period start) pairs of a customer in
                    -- the base of the period whose stage at the start is not
                    -- the day's piece's (a stage change or the first deal in
                    -- the period, a period starting before the first day):
                    -- looked up once each in rev_start_stages
                    SELECT DISTINCT g.profile_id, g.start
                      FROM (%(grain_rows)s) g
                     WHERE g.base > 0 AND g.stage_id IS NULL
                    """,
                    **params,
                ),
            ),
            (
                "rev_start_stages",
                SQL(
                    """
                    WITH early_spans AS (
                        -- the stages, from the history, of the customers in the base
                        -- of a grain period that starts before the period (their
                        -- stage at its start is in no piece)
                        SELECT profile_id, stage_id, day,
                               lead(day) OVER (PARTITION BY profile_id ORDER BY day) AS next_day
                          FROM (%(early_day_end)s) de
                    )
                    -- the stage at the end of the day before a grain period's
                    -- start: the piece covering that day, or the history for a
                    -- start before the period
                    SELECT %(stage_key_s)s AS key, p.stage_id
                      FROM rev_stage_keys s
                      JOIN pieces p ON p.profile_id = s.profile_id AND p.start < s.start
                                   AND s.start <= p.stop
                     WHERE s.start >= %(from)s
                     UNION ALL
                    SELECT %(stage_key_s)s, es.stage_id
                      FROM rev_stage_keys s
                      JOIN early_spans es ON es.profile_id = s.profile_id AND es.day < s.start
                                         AND (es.next_day IS NULL OR es.next_day >= s.start)
                     WHERE s.start < %(from)s
                    """,
                    **params,
                ),
            ),
            (
                "rev_changes",
                SQL(
                    """
                    -- per changing day and grain, a customer in the base of the
                    -- grain's period (positive revenue before its start): the
                    -- change of its revenue, net and kept (capped at the base),
                    -- in its slice at the period's start; streamed from the
                    -- changing days (6 grains each: tens of millions of rows
                    -- at 1,000,000 customers, never written) and grouped by
                    -- hashing into one row per slice and day, a column per grain
                    SELECT team_id, user_id, country_id, stage_id, category_key, medium_id,
                           day, %(grain_sums)s
                      FROM (SELECT g.team_id, g.user_id, g.country_id,
                                   COALESCE(g.stage_id, st.stage_id) AS stage_id, g.category_key,
                                   CASE WHEN g.first_day < g.start THEN g.first_medium ELSE 0 END
                                       AS medium_id,
                                   g.day, g.grain, sum(g.change) AS change, sum(g.kept) AS kept
                              FROM (%(grain_rows)s) g
                              LEFT JOIN rev_start_stages st
                                ON st.key = %(stage_key_g)s AND g.stage_id IS NULL
                             WHERE g.base > 0 AND COALESCE(g.stage_id, st.stage_id) IS NOT NULL
                             GROUP BY 1, 2, 3, 4, 5, 6, 7, 8) g
                     GROUP BY 1, 2, 3, 4, 5, 6, 7
                    """,
                    **params,
                ),
                "hashed",
            ),
        ]

    @api.model
    def _revenue_parts_sql(self, company, date_from, previous_done, slice_columns):
        """CTEs ``churned`` and ``revenue_parts`` (the revenue measures of
        each slice and day, columns ``slice, day, rev_open, rev_close,
        churn, change_<grain>..., kept_<grain>...``), after ``stock_parts``
        and ``moves``."""
        before = date_from - timedelta(days=1)
        if previous_done:
            opening = SQL(
                """
                SELECT COALESCE(team_id, 0), COALESCE(user_id, 0), COALESCE(country_id, 0),
                       COALESCE(stage_id, 0), COALESCE(category_key, ''),
                       COALESCE(medium_id, 0), %(from)s::date, revenue_12m_close AS rev
                  FROM crm_kpi_snapshot
                 WHERE company_id = %(company)s AND date = %(before)s
                   AND revenue_12m_close <> 0
                """,
                company=company.id,
                before=before,
                **{"from": date_from},
            )
        else:
            opening = SQL(
                """
                SELECT %(slice)s, %(from)s::date, rev
                  FROM rev_parts
                 WHERE start <= %(before)s AND %(before)s < stop AND rev <> 0
                """,
                slice=slice_columns,
                before=before,
                **{"from": date_from},
            )
        zeros = SQL(", ").join(SQL("NULL::numeric") for _grain in GRAINS)
        changes = SQL(", ").join(
            SQL.identifier(f"{column}_{grain}") for column in ("change", "kept") for grain in GRAINS
        )
        return SQL(
            """
            churned AS (
                -- a customer entering Lost, valued at its revenue of the 12
                -- months before that day
                SELECT m.team_id, m.user_id, m.country_id, m.stage_id, m.category_key,
                       m.medium_id, m.day, GREATEST(st.s, 0) AS revenue
                  FROM moves m
                  JOIN rev_steps st ON st.partner_id = m.partner_id AND st.day < m.day
                                   AND (st.next_day IS NULL OR st.next_day >= m.day)
                 WHERE m.lost = 1
            ),
            revenue_opening AS (%(opening)s),
            revenue_parts (%(slice)s, day, rev_open, rev_close, churn, %(change_columns)s) AS (
                SELECT %(slice)s, day, open_rev, close_rev, NULL::numeric, %(zeros)s, %(zeros)s
                  FROM stock_parts
                 WHERE open_rev <> 0 OR close_rev <> 0
                 UNION ALL
                SELECT o.*, 0, NULL, %(zeros)s, %(zeros)s FROM revenue_opening o
                 UNION ALL
                SELECT %(slice)s, day, 0, 0, revenue, %(zeros)s, %(zeros)s FROM churned
                 UNION ALL
                SELECT %(slice)s, day, 0, 0, NULL, %(changes)s FROM rev_changes
            )
            """,
            opening=opening,
            slice=slice_columns,
            zeros=zeros,
            changes=changes,
            change_columns=SQL(", ").join(
                SQL.identifier(f"{column}_{grain}")
                for column in ("change", "kept")
                for grain in GRAINS
            ),
        )
