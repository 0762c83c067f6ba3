"""The revenue retention part of the statement of ``period.py``: the CTEs
behind the snapshot's ``revenue_*`` columns (``models/crm_kpi_snapshot_revenue.py``,
definitions in ``lib/revenue.py``).

Like the rest of the statement, it never works per customer and day:

* ``rev_deals``: each customer's revenue per deal day (the suite's deal
  source, converted to the company currency), from 12 months before the
  earliest period start the period's days need;
* ``rev_events``: the days at whose end a customer's 12-month revenue
  changes (a deal enters the window, or leaves it 12 months later);
* ``rev_parts``: the stage pieces cut at those days, each with the
  customer's 12-month revenue: the stocks (``revenue_12m_*``) are running
  sums of them, as the customer counts are of the pieces;
* ``rev_changes``: per event and grain, the change of the revenue of a
  customer in the base of the grain's period, in its slice at the period's
  start (its stage then, from the history): the flows
  ``revenue_change_*`` / ``revenue_kept_change_*``;
* ``churned``: the lost moves valued at the customer's 12-month revenue.

Cost: customers' deals + events (two per deal and day) x grains, plus the
pieces; a period reads the deals once.
"""

from datetime import timedelta

from dateutil.relativedelta import relativedelta

from odoo import api, models
from odoo.tools import SQL

from ..lib.revenue import GRAINS, earliest_start

# the first day of each grain's period containing the date SQL ``day``
# (weeks: ISO Monday, and Sunday; see lib/revenue.grain_start)
GRAIN_START_SQL = {
    "day": "%s",
    "week": "date_trunc('week', %s)::date",
    "week_sun": "(date_trunc('week', %s + 1)::date - 1)",
    "month": "date_trunc('month', %s)::date",
    "quarter": "date_trunc('quarter', %s)::date",
    "year": "date_trunc('year', %s)::date",
}


def grain_start_sql(grain, day):
    """SQL of the first day of the ``grain`` period containing ``day`` (SQL)."""
    return SQL(GRAIN_START_SQL[grain], day)


class CrmKpiSnapshotRevenue(models.Model):
    _inherit = "crm.kpi.snapshot"

    @api.model
    def _revenue_ctes_sql(self, company, date_from, date_to):
        """CTEs (without ``WITH``, comma-separated) after ``pieces``:
        ``rev_deals``, ``rev_events``, ``rev_parts``, ``rev_changes``."""
        Profile = self.env["crm.customer.profile"]
        window_from = earliest_start(date_from) - relativedelta(months=12)
        starts = {grain: grain_start_sql(grain, SQL("ev.day")) for grain in GRAINS}
        # the 12-month revenue before each grain's period start
        bases = SQL(", ").join(
            SQL(
                "sum(r.amount) FILTER (WHERE r.day >= (e.%(g)s - interval '12 months')::date "
                "AND r.day < e.%(g)s) AS %(base)s",
                g=SQL.identifier(f"start_{grain}"),
                base=SQL.identifier(f"base_{grain}"),
            )
            for grain in GRAINS
        )
        grains = SQL(", ").join(
            SQL(
                "(%s, v.%s, v.%s)",
                grain,
                SQL.identifier(f"start_{grain}"),
                SQL.identifier(f"base_{grain}"),
            )
            for grain in GRAINS
        )
        return SQL(
            """
            rev_deals AS MATERIALIZED (
                SELECT d.partner_id, d.deal_date AS day, sum(d.amount) AS amount
                  FROM (%(converted)s) d
                 GROUP BY 1, 2
            ),
            rev_events AS MATERIALIZED (
                -- a deal enters the 12 months before a day's end on its day
                -- and leaves them 12 months later (that day or the next one)
                SELECT DISTINCT a.profile_id, a.partner_id, e.day
                  FROM rev_deals r
                  JOIN attrs a ON a.partner_id = r.partner_id
                 CROSS JOIN LATERAL (VALUES (r.day), ((r.day + interval '12 months')::date),
                                            ((r.day + interval '12 months')::date + 1)) AS e(day)
                 WHERE e.day BETWEEN %(from)s AND %(to)s
            ),
            rev_cuts AS (
                SELECT p.profile_id, p.team_id, p.user_id, p.country_id, p.stage_id,
                       p.category_key, p.medium_id, p.start AS piece, p.stop, p.start AS cut
                  FROM pieces p
                 UNION ALL
                SELECT p.profile_id, p.team_id, p.user_id, p.country_id, p.stage_id,
                       p.category_key, p.medium_id, p.start, p.stop, e.day
                  FROM pieces p
                  JOIN rev_events e ON e.profile_id = p.profile_id
                                   AND p.start < e.day AND e.day < p.stop
            ),
            rev_parts AS MATERIALIZED (
                -- the pieces cut where the 12-month revenue changes, with the
                -- revenue of the 12 months up to the end of each day of the
                -- part (0 unless positive: the customer is in no base)
                SELECT c.team_id, c.user_id, c.country_id, c.stage_id, c.category_key,
                       c.medium_id, c.cut AS start, c.part_stop AS stop,
                       GREATEST(COALESCE(sum(r.amount), 0), 0) AS rev
                  FROM (SELECT rc.*, COALESCE(lead(rc.cut) OVER (
                                   PARTITION BY rc.profile_id, rc.piece ORDER BY rc.cut),
                                   rc.stop) AS part_stop
                          FROM rev_cuts rc) c
                  JOIN attrs a ON a.profile_id = c.profile_id
                  LEFT JOIN rev_deals r
                    ON r.partner_id = a.partner_id AND r.day <= c.cut
                   AND r.day >= (c.cut + 1 - interval '12 months')::date
                 GROUP BY c.profile_id, c.team_id, c.user_id, c.country_id, c.stage_id,
                          c.category_key, c.medium_id, c.cut, c.part_stop
            ),
            rev_values AS (
                -- per event: the 12-month revenue up to the day before and
                -- up to the day, and before each grain's period start
                SELECT e.profile_id, e.day, %(start_columns)s,
                       COALESCE(sum(r.amount) FILTER (
                           WHERE r.day >= (e.day - interval '12 months')::date
                             AND r.day < e.day), 0) AS rev_before,
                       COALESCE(sum(r.amount) FILTER (
                           WHERE r.day >= (e.day + 1 - interval '12 months')::date), 0)
                           AS rev_after,
                       %(bases)s
                  FROM (SELECT ev.*, %(starts)s FROM rev_events ev) e
                  JOIN rev_deals r
                    ON r.partner_id = e.partner_id AND r.day <= e.day
                   AND r.day >= (LEAST(%(start_names)s) - interval '12 months')::date
                 GROUP BY e.profile_id, e.day, %(start_columns)s
            ),
            stage_spans AS (
                SELECT profile_id, stage_id, day,
                       lead(day) OVER (PARTITION BY profile_id ORDER BY day) AS next_day
                  FROM day_end
            ),
            rev_changes AS (
                -- a customer in the base of the grain's period (positive
                -- revenue before its start) in its slice at that start: the
                -- stage at the end of the day before, from the history
                SELECT a.team_id, a.user_id, a.country_id, ss.stage_id, a.category_key,
                       CASE WHEN a.first_day < g.start THEN a.first_medium ELSE 0 END
                           AS medium_id,
                       v.day, g.grain, v.rev_after - v.rev_before AS change,
                       LEAST(GREATEST(v.rev_after, 0), g.base)
                           - LEAST(GREATEST(v.rev_before, 0), g.base) AS kept
                  FROM rev_values v
                 CROSS JOIN LATERAL (VALUES %(grains)s) AS g(grain, start, base)
                  JOIN attrs a ON a.profile_id = v.profile_id
                  JOIN stage_spans ss ON ss.profile_id = v.profile_id AND ss.day < g.start
                                     AND (ss.next_day IS NULL OR ss.next_day >= g.start)
                 WHERE g.base > 0 AND v.rev_after <> v.rev_before
            )
            """,
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
            starts=SQL(", ").join(
                SQL("%s AS %s", starts[grain], SQL.identifier(f"start_{grain}")) for grain in GRAINS
            ),
            start_columns=SQL(", ").join(SQL.identifier("e", f"start_{grain}") for grain in GRAINS),
            start_names=SQL(", ").join(SQL.identifier("e", f"start_{grain}") for grain in GRAINS),
            bases=bases,
            grains=grains,
            to=date_to,
            **{"from": date_from},
        )

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
            SQL("CASE WHEN grain = %s THEN %s END", grain, SQL(column))
            for column in ("change", "kept")
            for grain in GRAINS
        )
        return SQL(
            """
            churned AS (
                -- a customer entering Lost, valued at its revenue of the 12
                -- months before that day
                SELECT m.team_id, m.user_id, m.country_id, m.stage_id, m.category_key,
                       m.medium_id, m.day, GREATEST(sum(r.amount), 0) AS revenue
                  FROM moves m
                  JOIN attrs a ON a.profile_id = m.profile_id
                  JOIN rev_deals r ON r.partner_id = a.partner_id AND r.day < m.day
                                  AND r.day >= (m.day - interval '12 months')::date
                 WHERE m.lost = 1
                 GROUP BY m.history_id, m.team_id, m.user_id, m.country_id, m.stage_id,
                          m.category_key, m.medium_id, m.day
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
