"""Benchmark: the full lifecycle recompute against a plain-SQL floor.

    .venv/bin/python bench/lifecycle_recompute.py [--db crm_bench] [--partners 1000000]
                                                  [--opportunities 5000000]

1. Makes sure database ``--db`` exists (a clone of the suite's template, so
   the three addons are installed) and holds the generated load
   (``bench/generate.py``; skipped when the partners are already there).
2. Floor: one ``GROUP BY`` over the same won deals (rolled up to the
   commercial partner; with the confirmed sale orders when the company
   counts them) upserted into a bare table with a primary key, the least
   any recompute must do. Measured twice: insert, then update.
3. The real thing: ``crm.customer.profile._recompute_company`` for the main
   company, with its commits, as the daily cron runs it — a first run
   (every profile created, every stage assigned, history and chatter
   written) and a steady-state run dated the next day (as the next daily
   cron: the date-dependent metrics of every customer with a deal change;
   it reads the profiles' stored aggregates and the changed customers'
   deals). The same day is then run again reading every deal, the fit
   started from the same parameters, to check it gives the same profiles,
   and a later night reading every deal (the weekly full read) is timed.
   The first run ends with the rebuild of every customer's past history
   from its deals (``_rebuild_history``, every customer bought before its
   history starts): printed apart, next to its floor, one INSERT ... SELECT
   of as many history rows.
4. The profiles alone, written again by one INSERT ... SELECT into a copy
   of their table (its indexes, then its foreign keys too; rolled back):
   what writing them costs whatever the recompute, next to the floor's
   narrow table without keys. The first run is also given against the
   floor plus that write.
5. Prints the times, the ratios to the floor, the time of each phase of the
   recompute and the peak RSS of the process (which includes the Odoo
   registry itself).

``--reset`` first empties the retention data of the database (profiles,
history, their chatter notes, the partners' stage mirror, the work table),
so that a database benchmarked before measures a real first run again.
After changing crm_retention's models, update the module in the benchmark
database first (``odoo -d DB -u crm_retention``): the run uses the code of
the checkout on the schema of the database.

The issue's target: recompute <= 2x the floor, peak memory < 1.5 GB.
"""

import argparse
import datetime
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import suite  # noqa: E402  (tools/suite.py: template and config helpers)

FLOOR_SQL = """
INSERT INTO bench_floor (partner_id, company_id, won_count, won_revenue, first_deal, last_deal)
SELECT partner_id, company_id, count(*), sum(amount), min(day), max(day)
  FROM (SELECT p.commercial_partner_id AS partner_id, l.company_id,
               l.expected_revenue AS amount, l.date_closed::date AS day
          FROM crm_lead l
          JOIN crm_stage s ON s.id = l.stage_id AND s.is_won
          JOIN res_partner p ON p.id = l.partner_id
         WHERE l.active AND l.type = 'opportunity' AND l.company_id = %(company)s
        %(orders)s) deals
 GROUP BY 1, 2
ON CONFLICT (partner_id, company_id) DO UPDATE
   SET won_count = EXCLUDED.won_count, won_revenue = EXCLUDED.won_revenue,
       first_deal = EXCLUDED.first_deal, last_deal = EXCLUDED.last_deal
"""

# the confirmed sale orders, when the company counts them (crm_retention_sale)
FLOOR_ORDERS_SQL = """
UNION ALL
SELECT p.commercial_partner_id, so.company_id, so.amount_untaxed, so.date_order::date
  FROM sale_order so
  JOIN res_partner p ON p.id = so.partner_id
 WHERE so.state IN ('sale', 'done') AND so.company_id = %(company)s
"""


def counts_sale_orders(company):
    """Whether ``company`` counts its confirmed sale orders as deals
    (crm_retention_sale installed and its switch on): the floors read them
    then, as the suite does."""
    return bool(company._fields.get("retention_count_sale_orders")) and bool(
        company.retention_count_sale_orders
    )


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def ensure_database(db, partners, opportunities):
    suite.write_conf()
    if not suite.db_exists(db):
        template = suite.ensure_template()
        print(f"creating {db} from {template}")
        suite.clone_db(template, db)
    count = int(suite.psql("SELECT count(*) FROM res_partner", db=db))
    if count < partners:
        print(f"generating {partners} partners and {opportunities} opportunities ...")
        start = time.time()
        subprocess.run(
            [
                sys.executable,
                str(ROOT / "bench" / "generate.py"),
                "-d",
                db,
                "--partners",
                str(partners),
                "--opportunities",
                str(opportunities),
            ],
            check=True,
        )
        print(f"generated in {time.time() - start:.0f} s")


def write_profiles_floor(cr, company_id):
    """What writing the company's profiles costs by itself: one INSERT ...
    SELECT of them into a copy of crm_customer_profile with its indexes,
    then with its foreign keys too (PostgreSQL checks each key of each row
    apart; the floor's bare table has none). Returns (seconds without, with
    the foreign keys); the copy is rolled back."""
    cr.execute(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint"
        " WHERE conrelid = 'crm_customer_profile'::regclass AND contype = 'f' ORDER BY conname"
    )
    keys = [definition for (definition,) in cr.fetchall()]
    times = []
    for with_keys in (False, True):
        cr.execute(
            "CREATE TABLE bench_profile_copy "
            "(LIKE crm_customer_profile INCLUDING DEFAULTS INCLUDING INDEXES)"
        )
        if with_keys:
            cr.execute(
                "ALTER TABLE bench_profile_copy "
                + ", ".join(f"ADD {definition}" for definition in keys)
            )
        start = time.time()
        cr.execute(
            "INSERT INTO bench_profile_copy SELECT * FROM crm_customer_profile"
            " WHERE company_id = %s",
            [company_id],
        )
        times.append(time.time() - start)
        cr.rollback()
    return tuple(times)


def reset_retention(cr):
    """Forget every profile, stage change, chatter note and campaign member
    of the lifecycle."""
    start = time.time()
    # the lifecycle notes: tracking messages tied to their history row by
    # their Message-Id (older versions: an HTML body with a marker class)
    # Millions of them after a history rebuild: their tracking values first,
    # then the messages with the foreign-key triggers off (a cascade check
    # per deleted row over every table that points at mail_message took
    # longer than the benchmark; nothing else points at these notes)
    cr.execute(
        """
        CREATE TEMP TABLE bench_lifecycle_notes ON COMMIT DROP AS
        SELECT id FROM mail_message WHERE model = 'res.partner'
           AND (message_id LIKE 'crm-lifecycle-history-%%'
                OR body LIKE '%%o_crm_lifecycle_change%%');
        SET LOCAL session_replication_role = replica;
        DELETE FROM mail_tracking_value v USING bench_lifecycle_notes n
         WHERE v.mail_message_id = n.id;
        DELETE FROM mail_message m USING bench_lifecycle_notes n WHERE m.id = n.id;
        SET LOCAL session_replication_role = origin;
        """
    )
    # CASCADE: campaign members (demo campaigns) point at the profiles
    cr.execute("TRUNCATE crm_lifecycle_history, crm_customer_profile CASCADE")
    # the runs' work tables (one per company)
    cr.execute("SELECT tablename FROM pg_tables WHERE tablename LIKE 'crm\\_retention\\_work%%'")
    for (table,) in cr.fetchall():
        cr.execute(f'DROP TABLE "{table}"')
    cr.execute(
        "UPDATE res_partner SET lifecycle_stage_id = NULL WHERE lifecycle_stage_id IS NOT NULL"
    )
    # and a cold model: a fit starts from the last one's parameters, so two
    # runs compare (checksum) only from the same start; without the last
    # run's marks, so that the first run reads every deal as after install
    # (with them, a run the same day reads the stored aggregates of no profile)
    cr.execute(
        "UPDATE crm_retention_model SET run_state = 'idle', run_cursor = 0, status = 'never',"
        " aggregate_date = NULL, deal_marks = NULL, marks_date = NULL"
    )
    cr.commit()
    # a real first run: no dead rows left behind by the reset
    cr._cnx.autocommit = True
    cr.execute("VACUUM ANALYZE res_partner, mail_message")
    cr._cnx.autocommit = False
    print(f"retention data reset in {time.time() - start:.0f} s")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="crm_bench")
    parser.add_argument("--partners", type=int, default=1_000_000)
    parser.add_argument("--opportunities", type=int, default=5_000_000)
    parser.add_argument(
        "--reset", action="store_true", help="empty the retention data first (a real first run)"
    )
    parser.add_argument(
        "--changes",
        type=int,
        default=0,
        help="then a third night in which this many customers enter a stage that notifies "
        "(At risk, Lost: an activity each), timed against the steady run",
    )
    args = parser.parse_args()
    ensure_database(args.db, args.partners, args.opportunities)

    import odoo
    from odoo.tools import SQL

    odoo.tools.config.parse_config(["-c", str(suite.CONF), "-d", args.db, "--log-level=warn"])
    try:  # the engine's own package (18.0.1.4.0+), else its older home
        from odoo.addons.crm_retention.recompute.layout import METRIC_COLUMNS
    except ImportError:
        from odoo.addons.crm_retention.models.crm_customer_profile import METRIC_COLUMNS
    registry = odoo.modules.registry.Registry(args.db)
    rss_registry = peak_rss_mb()
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        company = env.ref("base.main_company")
        if args.reset:
            reset_retention(cr)
        cr.execute("SELECT count(*) FROM crm_lead WHERE company_id = %s", [company.id])
        [(n_leads,)] = cr.fetchall()
        cr.execute(
            "DROP TABLE IF EXISTS bench_floor; CREATE TABLE bench_floor ("
            "partner_id integer, company_id integer, won_count integer, won_revenue numeric,"
            " first_deal date, last_deal date, PRIMARY KEY (partner_id, company_id))"
        )
        cr.commit()
        counts_orders = counts_sale_orders(company)
        orders = SQL(FLOOR_ORDERS_SQL, company=company.id) if counts_orders else SQL()
        if counts_orders:
            cr.execute("SELECT count(*) FROM sale_order WHERE company_id = %s", [company.id])
            [(n_orders,)] = cr.fetchall()
            print(f"the company counts its confirmed sale orders: {n_orders:,} orders")
        floors = []
        for _ in range(2):
            start = time.time()
            cr.execute(SQL(FLOOR_SQL, company=company.id, orders=orders))
            cr.commit()
            floors.append(time.time() - start)
        cr.execute("SELECT count(*) FROM bench_floor")
        [(n_customers,)] = cr.fetchall()
        cr.execute("DROP TABLE bench_floor")
        cr.commit()

        runs, phases = [], []
        today = datetime.date.today()
        model = env["crm.retention.model"]._get_for_company(company)

        def night(day, full=False):
            timings = {}
            Profile = env["crm.customer.profile"].with_context(lifecycle_timings=timings)
            start = time.time()
            Profile._recompute_company(company, today=day, full=full)
            runs.append(time.time() - start)
            phases.append(timings)

        def profiles_checksum():
            # what the recompute decided, without the clocks (stage_date,
            # stamps): the same data and days give the same checksum whatever
            # the code's layout, so a refactor proves it changed nothing
            columns = ["partner_id", *METRIC_COLUMNS, "stage_id", "lapsed_date", "user_id"]
            cr.execute(
                SQL(
                    "SELECT md5(string_agg(row(%s)::text, ',' ORDER BY partner_id))"
                    " FROM crm_customer_profile WHERE company_id = %s",
                    SQL(", ").join(SQL.identifier(c) for c in columns),
                    company.id,
                )
            )
            return cr.fetchone()[0]

        # the steady run is the next day's cron: P(alive), days since the
        # last deal... have moved for every customer with a deal (a second
        # run the same day would find nothing to rewrite); it reads the
        # stored aggregates and the deals of the customers that changed
        night(today)
        # the fit starts from the last night's parameters (warm start): the
        # check below starts from the same ones
        params = {key: model[key] for key in ("r", "alpha", "a", "b", "gg_p", "gg_q", "gg_v")}
        night(today + datetime.timedelta(days=1))
        model.invalidate_recordset()
        steady_read = (model.run_aggregate, model.run_reread)
        steady_checksum = profiles_checksum()
        # the same day again, every deal read, the fit started from the same
        # parameters: the same profiles
        model.write(params)
        cr.commit()
        night(today + datetime.timedelta(days=1), full=True)
        runs.pop(), phases.pop()
        same = profiles_checksum() == steady_checksum
        n_changes = n_activities = 0
        if args.changes:
            # the third night: as many customers as asked, at risk or lost
            # by the rules, put back to Active first, so the rules move them
            # again (each an activity for its salesperson)
            cr.execute(
                """
                UPDATE crm_customer_profile p
                   SET stage_id = %(active)s, stage_kind = 'active', risk_activity_id = NULL
                 WHERE p.id IN (SELECT id FROM crm_customer_profile
                                 WHERE company_id = %(company)s AND user_id IS NOT NULL
                                   AND stage_kind IN ('at_risk', 'lost')
                                   AND NOT COALESCE(stage_locked, false)
                                 ORDER BY id LIMIT %(n)s)
                """,
                {
                    "active": env.ref("crm_retention.stage_active").id,
                    "company": company.id,
                    "n": args.changes,
                },
            )
            cr.execute("SELECT count(*) FROM mail_activity")
            [(before,)] = cr.fetchall()
            cr.commit()
            night(today + datetime.timedelta(days=2))
            cr.execute("SELECT count(*) FROM mail_activity")
            [(after,)] = cr.fetchall()
            n_activities = after - before
            cr.execute(
                "SELECT count(*) FROM crm_lifecycle_history WHERE company_id = %s AND date >= %s",
                [company.id, datetime.datetime.now() - datetime.timedelta(seconds=runs[-1] + 1)],
            )
            [(n_changes,)] = cr.fetchall()
        # the periodic night that reads every deal (crm_retention.full_aggregate_days)
        night(today + datetime.timedelta(days=3), full=True)
        cr.execute("SELECT count(*) FROM crm_customer_profile WHERE company_id = %s", [company.id])
        [(n_profiles,)] = cr.fetchall()
        # the rebuild's floor: as many history rows written by one INSERT ...
        # SELECT (a copy of the company's rows, rolled back)
        cr.execute("SELECT count(*) FROM crm_lifecycle_history WHERE company_id = %s", [company.id])
        [(n_history,)] = cr.fetchall()
        rebuild_floor = 0.0
        if phases[0].get("rebuild history", 0.0) > 5:
            # only when the first run rebuilt the past (a --reset run)
            start = time.time()
            cr.execute(
                """INSERT INTO crm_lifecycle_history (profile_id, partner_id, company_id,
                      from_stage_id, stage_id, date, reason, user_id, duration_days,
                      create_uid, create_date, write_uid, write_date)
               SELECT profile_id, partner_id, company_id, from_stage_id, stage_id, date,
                      reason, user_id, duration_days, create_uid, create_date, write_uid,
                      write_date
                 FROM crm_lifecycle_history WHERE company_id = %s""",
                [company.id],
            )
            rebuild_floor = time.time() - start
            cr.rollback()
        profile_writes = write_profiles_floor(cr, company.id)
        checksum = profiles_checksum()
        model.invalidate_recordset()
        print()
        print(
            f"opportunities in company: {n_leads:,}; customers with won deals: {n_customers:,}; "
            f"profiles: {n_profiles:,}"
        )
        print(
            f"model: {model.status} r={model.r:.3f} alpha={model.alpha:.3f} "
            f"a={model.a:.3f} b={model.b:.3f}"
        )
        print(
            f"floor (GROUP BY upsert into a bare table): insert {floors[0]:.1f} s, "
            f"update {floors[1]:.1f} s"
        )
        rebuild = phases[0].get("rebuild history", 0.0)
        first = runs[0] - rebuild
        print(f"recompute, first run:   {first:.1f} s  ratio {first / floors[0]:.2f}x floor")
        bare, checked = profile_writes
        print(
            f"  the profiles alone written by one INSERT ... SELECT into a copy of their table: "
            f"{bare:.1f} s with its indexes, {checked:.1f} s with its foreign keys too; "
            f"first run {first / (floors[0] + checked):.2f}x the floor plus that write"
        )
        if rebuild_floor:
            print(
                f"  then the history rebuild of every customer's past: {rebuild:.1f} s for "
                f"{n_history:,} history rows (and their chatter notes); floor (one INSERT ... "
                f"SELECT of as many rows) {rebuild_floor:.1f} s, "
                f"ratio {rebuild / rebuild_floor:.2f}x"
            )
        print(
            f"recompute, steady state: {runs[1]:.1f} s  ratio {runs[1] / floors[1]:.2f}x floor"
            f" (deals read: {steady_read[0]}, {steady_read[1]:,} customers re-read; a full"
            f" read the same day gives {'the same' if same else 'OTHER'} profiles)"
        )
        print(
            f"recompute, the periodic night reading every deal: {runs[-1]:.1f} s  ratio "
            f"{runs[-1] / floors[1]:.2f}x floor"
        )
        if args.changes:
            extra = runs[2] / runs[1] - 1
            print(
                f"recompute, a night with {n_changes:,} stage changes ({n_activities:,} "
                f"activities): {runs[2]:.1f} s, {extra:+.0%} over the steady run "
                f"(issue 17: at most +20 %)"
            )
        print(
            "phases (s)                       first   steady"
            + ("  changes" if args.changes else "")
            + "     full"
        )
        for phase in {key: None for timings in phases for key in timings}:
            print(
                f"  {phase:<30} "
                + "   ".join(f"{timings.get(phase, 0.0):6.1f}" for timings in phases)
            )
        print(f"profiles checksum (md5 of the decided columns): {checksum}")
        print(
            f"peak RSS: {peak_rss_mb():.0f} MB (registry alone {rss_registry:.0f} MB); "
            f"cores: {os.cpu_count()}"
        )


if __name__ == "__main__":
    main()
