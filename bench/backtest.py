"""Benchmark: a backtest of the churn model against a plain-SQL aggregate and the nightly fit.

    .venv/bin/python bench/backtest.py [--db crm_bench] [--partners 1000000]
                                       [--opportunities 5000000] [--runs 2]

1. Makes sure ``--db`` exists and holds the generated load (as
   ``bench/lifecycle_recompute.py``; add sale orders with ``bench/generate.py
   --partners 0 --opportunities 0 --orders N``).
2. Floor: one plain-SQL aggregate of the same deals per customer (the won
   opportunities, and the confirmed sale orders when the company counts
   them: distinct deal days, first and last day, revenue, split at the
   calibration end), counted, not transferred.
3. The nightly fit: the run's aggregate (``_aggregate_sql``, read by COPY)
   and the model fit on it (``_fit_values``), as the recompute does them.
4. The backtest: ``crm.retention.model._backtest()`` (26-week holdout), as
   the monthly cron and the button run it; each run rolled back.
5. Prints the medians and the ratios.

The issue's target: the backtest of 1,000,000 customers / 5,000,000 deals in
under 2 minutes.
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
from lifecycle_recompute import ensure_database  # noqa: E402

FLOOR_SQL = """
SELECT count(*) FROM (
    SELECT partner_id,
           count(DISTINCT day) FILTER (WHERE day <= %(cut)s),
           min(day) FILTER (WHERE day <= %(cut)s), max(day) FILTER (WHERE day <= %(cut)s),
           sum(amount) FILTER (WHERE day <= %(cut)s),
           count(DISTINCT day) FILTER (WHERE day > %(cut)s)
      FROM (SELECT p.commercial_partner_id AS partner_id, l.date_closed::date AS day,
                   l.expected_revenue AS amount
              FROM crm_lead l
              JOIN crm_stage s ON s.id = l.stage_id AND s.is_won
              JOIN res_partner p ON p.id = l.partner_id
             WHERE l.active AND l.type = 'opportunity' AND l.company_id = %(company)s
            %(orders)s) deals
     WHERE day <= %(end)s
     GROUP BY partner_id
    HAVING count(*) FILTER (WHERE day <= %(cut)s) > 0) customers
"""
FLOOR_ORDERS_SQL = """
            UNION ALL
            SELECT p.commercial_partner_id, o.date_order::date, o.amount_untaxed
              FROM sale_order o
              JOIN res_partner p ON p.id = o.partner_id
             WHERE o.state = 'sale' AND o.company_id = %(company)s
"""


def timed(fn, runs):
    times = []
    for _ in range(runs):
        start = time.time()
        result = fn()
        times.append(time.time() - start)
    return statistics.median(times), result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="crm_bench")
    parser.add_argument("--partners", type=int, default=1_000_000)
    parser.add_argument("--opportunities", type=int, default=5_000_000)
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    ensure_database(args.db, args.partners, args.opportunities)

    import odoo
    from odoo.tools import SQL

    odoo.tools.config.parse_config(["-c", str(suite.CONF), "-d", args.db, "--log-level=warn"])
    registry = odoo.modules.registry.Registry(args.db)
    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        company = env.ref("base.main_company")
        today = date.today()
        cut = today - timedelta(weeks=26)
        counts_orders = bool(company._fields.get("retention_count_sale_orders")) and bool(
            company.retention_count_sale_orders
        )
        orders = SQL(FLOOR_ORDERS_SQL, company=company.id) if counts_orders else SQL()
        cr.execute("ANALYZE crm_lead; ANALYZE res_partner")
        if counts_orders:
            cr.execute("ANALYZE sale_order")

        def floor():
            cr.execute(SQL(FLOOR_SQL, company=company.id, cut=cut, end=today, orders=orders))
            return cr.fetchone()[0]

        floor_time, n_customers = timed(floor, args.runs)
        model = env["crm.retention.model"]._get_for_company(company)
        Profile = env["crm.customer.profile"]

        def nightly_fit():
            frame = Profile._read_frame(Profile._aggregate_sql([company.id], today))
            return model._fit_values(frame, today)

        fit_time, fitted = timed(nightly_fit, args.runs)

        backtest_times = []
        for _ in range(args.runs):
            cr.execute("SAVEPOINT bench_backtest")
            start = time.time()
            test = model._backtest()
            env.flush_all()
            backtest_times.append(time.time() - start)
            figures = (test.n_customers, test.predicted_total, test.actual_total, test.error_pct)
            cr.execute("ROLLBACK TO SAVEPOINT bench_backtest")
            env.invalidate_all()
        backtest_time = statistics.median(backtest_times)
        cr.rollback()

    print(f"customers with a deal by the cut ({cut}): {n_customers:,}")
    print(f"nightly fit status: {fitted.get('status')}, sample {fitted.get('fit_sample'):,}")
    print(
        f"backtest: {figures[0]:,} customers, predicted {figures[1]:,.0f} vs actual "
        f"{figures[2]:,.0f} repeat purchases ({figures[3]:+.1f} %)"
    )
    print(f"floor (plain-SQL aggregate, split): {floor_time:7.1f} s")
    print(f"nightly aggregate + fit:            {fit_time:7.1f} s")
    print(f"backtest:                           {backtest_time:7.1f} s")
    print(f"ratio backtest / floor:             {backtest_time / floor_time:7.2f}x")
    print(f"ratio backtest / nightly fit:       {backtest_time / fit_time:7.2f}x")
    print(f"target: under 120 s -> {'met' if backtest_time < 120 else 'NOT met'}")


if __name__ == "__main__":
    main()
