"""Benchmark: the customer KPI pivot and the daily snapshot, against plain-SQL floors.

    .venv/bin/python bench/kpi.py [--db crm_bench_kpi] [--partners 100000]
                                  [--opportunities 500000] [--months 12] [--segments]

1. Makes sure ``--db`` exists (a clone of the suite's template) and holds the
   generated load (``bench/generate.py``), then runs the lifecycle recompute
   once (profiles, stages, history) unless every buyer has a profile.
   ``--segments`` then gives the customers tags and the opportunities a UTM
   medium (``SEGMENTS``), which the generator leaves empty: each tag set and
   acquisition channel is a slice of the snapshot.
   The recompute dates every history row "now"; to give the past a
   realistic history the script adds, once, a "New" row at each customer's
   first deal and an "Active" row 30 days later (reason ``import``).
2. Snapshot cron for one day: ``crm.kpi.snapshot._snapshot_day`` for
   yesterday (the work of one nightly run per company), three times, next
   to the floor: the stage of every profile at that day from the history
   (DISTINCT ON) counted per (salesperson, country, stage), and the won
   deals of that day per customer, in two plain SELECTs — the least a
   snapshot must read.
3. Fills ``--months`` of snapshots: the real back-fill of the last 30 days,
   then earlier days copied from them with shifted dates (the rows the
   pivot reads; computing 365 real days would only re-measure step 2).
4. Opening the 12-month pivot (rows: sales team, columns: month; customers
   at start and end, acquired, lost, churn and retention): the four
   ``read_group`` calls the pivot view issues (total, rows, columns,
   cells), as the salesperson-free manager, next to the floor: one
   hand-written SQL GROUP BY (month, team) computing the same figures from
   the rows the pivot reads (the rollup ``crm_kpi_snapshot_total``); the
   same GROUP BY over the detailed rows is printed too. Then the same pivot
   by customer tag instead of team (it reads the per-tag rollup), next to
   its floor (the GROUP BY over the detailed rows joined to their tag
   links), and by acquisition channel (it reads the detailed rows).
5. Prints the medians, the ratios and the row counts.

With ``--backfill [DAYS]`` (default 730), steps 2-5 give way to the
back-fill of DAYS days of real snapshots (``crm.kpi.snapshot._backfill``:
by periods of ``crm_kpi.backfill_period_days``, a few statements and a
commit each, ``crm_retention.parallel_batches`` at once), timed next to its floor measured
in the same run (``BACKFILL_FLOOR``): the same per-day stocks (per
salesperson, country and stage) and flows (lost, won back, deals and
revenue per day), by plain GROUP BYs over the history's stage intervals and
the won opportunities (and the confirmed sale orders, when the company
counts them: the snapshots' deals do), without slices by tag or channel,
without revenue retention, without writing.
"""

import argparse
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "bench"))

import suite  # noqa: E402
from lifecycle_recompute import counts_sale_orders, ensure_database  # noqa: E402

PIVOT_MEASURES = [
    "customers_start:sum",
    "customers_end:sum",
    "acquired_count:sum",
    "lost_count:sum",
    "churn_rate:sum",
    "retention_rate:sum",
]

SNAPSHOT_FLOOR = """
SELECT rp.user_id, rp.country_id, h.stage_id, count(*)
  FROM (SELECT DISTINCT ON (profile_id) profile_id, stage_id
          FROM crm_lifecycle_history
         WHERE company_id = %(company)s AND date < %(until)s
         ORDER BY profile_id, date DESC, id DESC) h
  JOIN crm_customer_profile pr ON pr.id = h.profile_id
  JOIN res_partner rp ON rp.id = pr.partner_id
 GROUP BY 1, 2, 3;
SELECT p.commercial_partner_id, count(*), sum(l.expected_revenue)
  FROM crm_lead l
  JOIN crm_stage s ON s.id = l.stage_id AND s.is_won
  JOIN res_partner p ON p.id = l.partner_id
 WHERE l.active AND l.type = 'opportunity' AND l.company_id = %(company)s
   AND COALESCE(l.date_closed, l.date_last_stage_update, l.create_date)::date = %(day)s
 GROUP BY 1
"""

PIVOT_FLOOR = """
WITH days AS (
    SELECT date_trunc('month', s.date) AS month, %(key)s AS team_id, s.date,
           sum(s.customer_open) AS o, sum(s.customer_close) AS c,
           sum(s.acquired_count) AS a, sum(s.lost_count) AS l, sum(s.won_back_count) AS w
      FROM %(source)s
     WHERE s.company_id = %(company)s AND s.date >= %(start)s AND s.date <= %(end)s
     GROUP BY 1, 2, 3
)
SELECT month, team_id,
       (array_agg(o ORDER BY date))[1] AS s, (array_agg(c ORDER BY date DESC))[1] AS e,
       sum(a), sum(l),
       100.0 * sum(l) / NULLIF((array_agg(o ORDER BY date))[1], 0),
       100.0 * ((array_agg(c ORDER BY date DESC))[1] - sum(a) - sum(w))
             / NULLIF((array_agg(o ORDER BY date))[1], 0)
  FROM days GROUP BY 1, 2
"""

SYNTHETIC_HISTORY = """
INSERT INTO crm_lifecycle_history (profile_id, partner_id, company_id, from_stage_id, stage_id,
       date, reason, duration_days, create_date, write_date)
SELECT p.id, p.partner_id, p.company_id, NULL, %(new)s, p.first_deal_date + time '09:00',
       'import', 0, now(), now()
  FROM crm_customer_profile p WHERE p.company_id = %(company)s AND p.first_deal_date IS NOT NULL
UNION ALL
SELECT p.id, p.partner_id, p.company_id, %(new)s, %(active)s,
       p.first_deal_date + 30 + time '09:00', 'import', 30, now(), now()
  FROM crm_customer_profile p
 WHERE p.company_id = %(company)s AND p.last_deal_date > p.first_deal_date + 30
"""


SEGMENTS = """
-- customer tags: three tags on a third, a fifth and a seventh of the
-- customers (8 tag sets), and a UTM medium on half the opportunities (5
-- media): the generator leaves both empty, and each tag set and acquisition
-- channel is a dimension of the snapshot
DELETE FROM res_partner_res_partner_category_rel r
 USING res_partner_category c
 WHERE c.id = r.category_id AND c.name->>'en_US' LIKE 'Bench segment %%';
INSERT INTO res_partner_category (name, active, create_date, write_date)
SELECT jsonb_build_object('en_US', 'Bench segment ' || n), true, now(), now()
  FROM generate_series(1, 3) n
 WHERE NOT EXISTS (SELECT 1 FROM res_partner_category
                    WHERE name->>'en_US' = 'Bench segment ' || n);
INSERT INTO res_partner_res_partner_category_rel (category_id, partner_id)
SELECT c.id, p.partner_id
  FROM crm_customer_profile p
  JOIN res_partner_category c ON c.name->>'en_US' LIKE 'Bench segment %%'
 WHERE p.company_id = %(company)s
   AND p.partner_id %% (CASE c.name->>'en_US' WHEN 'Bench segment 1' THEN 3
                                              WHEN 'Bench segment 2' THEN 5 ELSE 7 END) = 0;
UPDATE crm_lead l
   SET medium_id = m.ids[1 + (l.id / 2) %% 5]
  FROM (SELECT array_agg(id ORDER BY id) AS ids FROM utm_medium) m
 WHERE l.company_id = %(company)s AND l.id %% 2 = 0
   AND l.medium_id IS DISTINCT FROM m.ids[1 + (l.id / 2) %% 5];
ANALYZE res_partner_res_partner_category_rel, crm_lead;
"""


BACKFILL_FLOOR = """
WITH day_end AS (
    SELECT DISTINCT ON (h.profile_id, h.date::date) h.profile_id, h.date::date AS day,
           h.stage_id
      FROM crm_lifecycle_history h
     WHERE h.company_id = %(company)s AND h.date < %(after)s
     ORDER BY h.profile_id, h.date::date, h.date DESC, h.id DESC
),
spans AS (
    SELECT profile_id, stage_id, GREATEST(day, %(start)s::date) AS start,
           COALESCE(lead(day) OVER (PARTITION BY profile_id ORDER BY day), %(after)s::date)
               AS stop
      FROM day_end
),
deltas AS (
    SELECT pr.user_id, rp.country_id, s.stage_id, e.day, sum(e.n) AS n
      FROM spans s
      JOIN crm_customer_profile pr ON pr.id = s.profile_id
      JOIN res_partner rp ON rp.id = pr.partner_id
     CROSS JOIN LATERAL (VALUES (s.start, 1), (s.stop, -1)) AS e(day, n)
     WHERE s.start < s.stop
     GROUP BY 1, 2, 3, 4
)
SELECT user_id, country_id, stage_id, day,
       sum(n) OVER (PARTITION BY user_id, country_id, stage_id ORDER BY day)
  FROM deltas;
SELECT h.date::date, s.kind = 'lost', count(*)
  FROM crm_lifecycle_history h JOIN crm_lifecycle_stage s ON s.id = h.stage_id
  LEFT JOIN crm_lifecycle_stage fs ON fs.id = h.from_stage_id
 WHERE h.company_id = %(company)s AND h.date >= %(start)s AND h.date < %(after)s
   AND (s.kind = 'lost' OR (fs.kind = 'lost' AND s.kind <> 'potential'))
   AND s.kind IS DISTINCT FROM fs.kind AND h.reason NOT IN ('merge', 'redefinition')
 GROUP BY 1, 2;
SELECT day, partner_id, count(*), sum(amount)
  FROM (SELECT COALESCE(l.date_closed, l.date_last_stage_update, l.create_date)::date AS day,
               p.commercial_partner_id AS partner_id, l.expected_revenue AS amount
          FROM crm_lead l
          JOIN crm_stage s ON s.id = l.stage_id AND s.is_won
          JOIN res_partner p ON p.id = l.partner_id
         WHERE l.active AND l.type = 'opportunity' AND l.company_id = %(company)s
           AND COALESCE(l.date_closed, l.date_last_stage_update, l.create_date)::date
               BETWEEN %(start)s AND %(end)s
        %(orders)s) deals
 GROUP BY 1, 2
"""

# the confirmed sale orders of the period, when the company counts them
# (crm_retention_sale): the snapshots' deals and revenue count them too
BACKFILL_FLOOR_ORDERS = """
UNION ALL
SELECT so.date_order::date, p.commercial_partner_id, so.amount_untaxed
  FROM sale_order so
  JOIN res_partner p ON p.id = so.partner_id
 WHERE so.state IN ('sale', 'done') AND so.company_id = %(company)s
   AND so.date_order >= %(start)s AND so.date_order < %(after)s
"""


def run_backfill(env, company, days):
    """Back-fill ``days`` days up to yesterday, timed next to its floor."""
    from odoo.tools import SQL

    cr = env.cr
    Snapshot = env["crm.kpi.snapshot"]
    end = date.today() - timedelta(days=1)
    start = end - timedelta(days=days - 1)

    after = end + timedelta(days=1)
    orders = (
        SQL(BACKFILL_FLOOR_ORDERS, company=company.id, start=start, after=after)
        if counts_sale_orders(company)
        else SQL()
    )

    def floor():
        cr.execute(
            SQL(
                BACKFILL_FLOOR,
                company=company.id,
                start=start,
                end=end,
                after=after,
                orders=orders,
            )
        )
        cr.fetchall()

    floor_time = timed(floor, repeat=1)
    for table in ("crm_kpi_snapshot", "crm_kpi_snapshot_total", "crm_kpi_snapshot_tag"):
        cr.execute(SQL("DELETE FROM %s WHERE company_id = %s", SQL.identifier(table), company.id))
    cr.commit()
    began = time.perf_counter()
    Snapshot._backfill(start, end, company)
    cr.commit()
    backfill_time = time.perf_counter() - began
    cr.execute("SELECT count(*) FROM crm_kpi_snapshot WHERE company_id = %s", [company.id])
    [(rows,)] = cr.fetchall()
    cr.execute(
        "SELECT sum(lost_count), sum(acquired_count), sum(deal_count) FROM crm_kpi_snapshot"
        " WHERE company_id = %s",
        [company.id],
    )
    lost, acquired, deals = cr.fetchone()
    print()
    print(
        f"back-fill of {days} days ({start} .. {end}): {backfill_time:.1f} s   "
        f"floor {floor_time:.1f} s   ratio {backfill_time / floor_time:.2f}x"
    )
    print(
        f"  {rows:,} snapshot rows; over the period: {lost:,} lost, {acquired:,} acquired, "
        f"{deals:,} deals"
    )


def timed(fn, repeat=3):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="crm_bench_kpi")
    parser.add_argument("--partners", type=int, default=100_000)
    parser.add_argument("--opportunities", type=int, default=500_000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument(
        "--segments",
        action="store_true",
        help="tag the customers and give the opportunities a UTM medium first (see SEGMENTS)",
    )
    parser.add_argument(
        "--backfill",
        type=int,
        nargs="?",
        const=730,
        help="time the back-fill of this many days (730 without a value) against its floor",
    )
    args = parser.parse_args()
    ensure_database(args.db, args.partners, args.opportunities)

    import odoo
    from odoo.tools import SQL

    odoo.tools.config.parse_config(["-c", str(suite.CONF), "-d", args.db, "--log-level=warn"])
    registry = odoo.modules.registry.Registry(args.db)
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        company = env.ref("base.main_company")
        Profile = env["crm.customer.profile"]
        # the template's demo data has a few profiles: recompute unless the load has them
        cr.execute(
            "SELECT count(DISTINCT p.commercial_partner_id) FROM crm_lead l"
            " JOIN res_partner p ON p.id = l.partner_id"
            " JOIN crm_stage s ON s.id = l.stage_id AND s.is_won"
            " WHERE l.active AND l.company_id = %s",
            [company.id],
        )
        [(n_buyers,)] = cr.fetchall()
        if Profile.search_count([("company_id", "=", company.id)]) < n_buyers:
            print("first lifecycle recompute ...")
            start = time.time()
            Profile._recompute_company(company)
            print(f"  done in {time.time() - start:.0f} s")
        if args.segments:
            start = time.time()
            cr.execute(SEGMENTS, {"company": company.id})
            cr.commit()
            print(f"customer tags and deal media set in {time.time() - start:.0f} s")
        if args.backfill:
            # the history is the one the recompute rebuilt from the deals
            run_backfill(env, company, args.backfill)
            return
        # idempotent: the synthetic past is rewritten each run
        stage = {s.kind: s.id for s in env["crm.lifecycle.stage"].search([])}
        cr.execute(
            "DELETE FROM crm_lifecycle_history WHERE reason = 'import' AND company_id = %s",
            [company.id],
        )
        cr.execute(
            SQL(SYNTHETIC_HISTORY, new=stage["new"], active=stage["active"], company=company.id)
        )
        cr.execute("ANALYZE crm_lifecycle_history")
        cr.commit()
        cr.execute("SELECT count(*) FROM crm_customer_profile WHERE company_id = %s", [company.id])
        [(n_profiles,)] = cr.fetchall()
        cr.execute("SELECT count(*) FROM crm_lifecycle_history WHERE company_id = %s", [company.id])
        [(n_history,)] = cr.fetchall()
        cr.execute("SELECT count(*) FROM crm_lead WHERE company_id = %s", [company.id])
        [(n_leads,)] = cr.fetchall()

        Snapshot = env["crm.kpi.snapshot"]
        today = date.today()
        day = today - timedelta(days=1)
        cr.execute("DELETE FROM crm_kpi_snapshot WHERE company_id = %s", [company.id])
        cr.execute("DELETE FROM crm_kpi_snapshot_total WHERE company_id = %s", [company.id])
        cr.execute("DELETE FROM crm_kpi_snapshot_tag WHERE company_id = %s", [company.id])
        Snapshot._backfill(day - timedelta(days=1), day - timedelta(days=1), company)
        cr.commit()

        def snapshot_day():
            Snapshot._snapshot_day(company, day)
            cr.commit()

        def snapshot_floor():
            cr.execute(
                SQL(SNAPSHOT_FLOOR, company=company.id, until=day + timedelta(days=1), day=day)
            )
            cr.fetchall()

        floor_snap = timed(snapshot_floor)
        cron_snap = timed(snapshot_day)
        cr.execute(
            "SELECT count(*) FROM crm_kpi_snapshot WHERE company_id = %s AND date = %s",
            [company.id, day],
        )
        [(rows_per_day,)] = cr.fetchall()

        # a year of rows: 30 real days, earlier ones copied with shifted dates
        print("back-filling 30 real days ...")
        start = time.time()
        Snapshot._backfill(today - timedelta(days=30), day, company)
        cr.commit()
        backfill_30 = time.time() - start
        first_day = today.replace(day=1) - timedelta(days=31 * args.months)
        first_day = first_day.replace(day=1)
        cr.execute(
            """
            INSERT INTO crm_kpi_snapshot (date, company_id, team_id, user_id, country_id,
                   stage_id, stage_kind, category_key, medium_id, profile_open, customer_open,
                   active_open, profile_close, customer_close, active_close, clv_close,
                   acquired_count, lost_count, won_back_count, deal_count, revenue)
            SELECT d::date, s.company_id, s.team_id, s.user_id, s.country_id, s.stage_id,
                   s.stage_kind, s.category_key, s.medium_id,
                   s.profile_open, s.customer_open, s.active_open,
                   s.profile_close, s.customer_close, s.active_close, s.clv_close,
                   s.acquired_count, s.lost_count, s.won_back_count, s.deal_count, s.revenue
              FROM generate_series(%s::date, %s::date, interval '1 day') d
              JOIN crm_kpi_snapshot s
                ON s.company_id = %s
               AND s.date = %s::date + ((d::date - %s::date) %% 30)
            """,
            [
                first_day,
                today - timedelta(days=31),
                company.id,
                today - timedelta(days=30),
                first_day,
            ],
        )
        # the tag links of the copied rows (the tag pivot reads them)
        cr.execute(
            """
            INSERT INTO crm_kpi_snapshot_category_rel (snapshot_id, category_id)
            SELECT s.id, c.id
              FROM crm_kpi_snapshot s
             CROSS JOIN LATERAL unnest(string_to_array(s.category_key, ',')::int[]) AS t(id)
              JOIN res_partner_category c ON c.id = t.id
             WHERE s.company_id = %s AND s.date < %s
            """,
            [company.id, today - timedelta(days=30)],
        )
        # and the rollups (without tags and channels, per tag) of those copied days
        for rollup in ("crm.kpi.snapshot.total", "crm.kpi.snapshot.tag"):
            Rollup = env[rollup]
            cr.execute(
                SQL(
                    "DELETE FROM %s WHERE company_id = %s AND date < %s",
                    SQL.identifier(Rollup._table),
                    company.id,
                    today - timedelta(days=30),
                )
            )
            cr.execute(
                Rollup._rollup_sql(
                    SQL("s.company_id = %s AND s.date < %s", company.id, today - timedelta(days=30))
                )
            )
        cr.execute("ANALYZE crm_kpi_snapshot, crm_kpi_snapshot_total, crm_kpi_snapshot_tag")
        cr.commit()
        cr.execute("SELECT count(*) FROM crm_kpi_snapshot WHERE company_id = %s", [company.id])
        [(n_snapshot,)] = cr.fetchall()

        Report = env["crm.kpi.customer.report"].with_context(allowed_company_ids=[company.id])
        domain = [("date", ">=", first_day), ("date", "<=", day), ("company_id", "=", company.id)]

        def pivot():
            for groupby in ([], ["team_id"], ["date:month"], ["team_id", "date:month"]):
                Report.read_group(domain, PIVOT_MEASURES, groupby, lazy=False)
            env.invalidate_all()

        def floor(source, key):
            def run():
                cr.execute(
                    SQL(
                        PIVOT_FLOOR,
                        source=SQL(source),
                        key=SQL(key),
                        company=company.id,
                        start=first_day,
                        end=day,
                    )
                )
                cr.fetchall()

            return run

        # the rows the pivot reads (the rollup), and the detailed rows a
        # pivot without the rollup would read
        pivot_floor = floor("crm_kpi_snapshot_total s", "s.team_id")
        detail_floor = floor("crm_kpi_snapshot s", "s.team_id")
        tag_floor = floor(
            "crm_kpi_snapshot s LEFT JOIN crm_kpi_snapshot_category_rel r ON r.snapshot_id = s.id",
            "r.category_id",
        )

        def pivot_cells():
            Report.read_group(domain, PIVOT_MEASURES, ["team_id", "date:month"], lazy=False)
            env.invalidate_all()

        def tag_pivot():
            for groupby in ([], ["category_ids"], ["date:month"], ["category_ids", "date:month"]):
                Report.read_group(domain, PIVOT_MEASURES, groupby, lazy=False)
            env.invalidate_all()

        def channel_pivot():
            for groupby in ([], ["medium_id"], ["date:month"], ["medium_id", "date:month"]):
                Report.read_group(domain, PIVOT_MEASURES, groupby, lazy=False)
            env.invalidate_all()

        channel_floor = floor("crm_kpi_snapshot s", "s.medium_id")

        floor_pivot = timed(pivot_floor)
        floor_detail = timed(detail_floor)
        floor_tag = timed(tag_floor)
        orm_pivot = timed(pivot)
        orm_cells = timed(pivot_cells)
        orm_tag = timed(tag_pivot)
        floor_channel = timed(channel_floor)
        orm_channel = timed(channel_pivot)
        cr.execute(
            "SELECT count(*) FROM crm_kpi_snapshot_total WHERE company_id = %s", [company.id]
        )
        [(n_total,)] = cr.fetchall()

        print()
        print(
            f"company: {n_leads:,} leads, {n_profiles:,} customer profiles, "
            f"{n_history:,} history rows"
        )
        print(
            f"snapshot: {rows_per_day:,} rows per day; {n_snapshot:,} rows over "
            f"{args.months} months (30 real days back-filled in {backfill_30:.1f} s)"
        )
        print(
            f"snapshot cron, one day:   {cron_snap:.2f} s   floor {floor_snap:.2f} s   "
            f"ratio {cron_snap / floor_snap:.2f}x"
        )
        print(
            f"{args.months}-month pivot (4 read_group): {orm_pivot:.3f} s   "
            f"floor {floor_pivot:.3f} s   ratio {orm_pivot / floor_pivot:.2f}x"
        )
        print(
            f"  of which the cells read_group (team x month): {orm_cells:.3f} s   "
            f"ratio {orm_cells / floor_pivot:.2f}x"
        )
        print(
            f"  (it reads the rollup without tags, {n_total:,} rows; the same "
            f"GROUP BY over the detailed rows: {floor_detail:.3f} s)"
        )
        print(
            f"{args.months}-month pivot by customer tag (4 read_group): {orm_tag:.3f} s   "
            f"floor {floor_tag:.3f} s   ratio {orm_tag / floor_tag:.2f}x"
        )
        print(
            f"{args.months}-month pivot by acquisition channel (4 read_group): "
            f"{orm_channel:.3f} s   floor {floor_channel:.3f} s   "
            f"ratio {orm_channel / floor_channel:.2f}x"
        )


if __name__ == "__main__":
    main()
