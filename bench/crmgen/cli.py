"""The command line of bench/generate.py and the load itself (``main``)."""

import argparse
import datetime as dt
import sys
import threading
import time

import numpy as np

try:  # imported as bench.crmgen
    from .. import _db
except ImportError:  # bench/ on the path (bench/generate.py run as a script)
    import _db
from .constants import DAY, JOURNAL, YEAR_DAYS
from .context import load_context, lock_refs
from .indexes import (
    IndexBuilder,
    check_not_null,
    drop_fill_defaults,
    drop_indexes,
    index_cost,
    restore_journal,
    set_fill_defaults,
    verify_fks,
)
from .interactions import I_FIXED, load_interactions
from .opportunities import (
    BLOB_FIXED,
    BLOB_TEXT,
    generate_opportunities,
    lead_blobs,
    lead_chunks,
    lead_columns,
)
from .orders import load_orders
from .partners import generate_partners, partner_chunks, partner_columns, partner_texts
from .util import Background, copy_table, log


# ---------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------
def parse_args(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "-d", "--database", required=True, help="existing Odoo 18 database with crm installed"
    )
    ap.add_argument(
        "--dsn",
        default=None,
        help="libpq connection string (host/port/user...); PGHOST/PGPORT/PGUSER are honoured too",
    )
    ap.add_argument("--partners", type=int, default=1000, help="default %(default)s")
    ap.add_argument(
        "--opportunities",
        type=int,
        default=5000,
        help="crm.lead rows of type 'opportunity' (default %(default)s)",
    )
    ap.add_argument(
        "--leads", type=int, default=None, help="crm.lead rows of type 'lead' (default 5%% of M)"
    )
    ap.add_argument(
        "--years",
        type=float,
        default=3.0,
        help="span of the history, ending at --end-date (default %(default)s)",
    )
    ap.add_argument(
        "--end-date",
        default=None,
        help="YYYY-MM-DD (default: today): the history ends at the end of that day "
        "(23:59:59 UTC), or now for today",
    )
    ap.add_argument("--seed", type=int, default=42, help="default %(default)s")
    ap.add_argument("--company-id", type=int, default=1, help="main company (default 1)")
    ap.add_argument(
        "--companies",
        type=int,
        default=1,
        help="spread over the C first existing companies, --company-id first",
    )
    ap.add_argument(
        "--chunk", type=int, default=50_000, help="rows per COPY chunk (default %(default)s)"
    )
    ap.add_argument(
        "--interactions",
        type=int,
        default=0,
        help="crm.interaction rows (needs crm_contact_center; default %(default)s)",
    )
    ap.add_argument(
        "--orders",
        type=int,
        default=0,
        help="confirmed sale.order rows over the database's customers (needs sale; "
        "default %(default)s)",
    )
    ap.add_argument(
        "--index-mode",
        choices=["auto", "keep", "rebuild"],
        default="auto",
        help="drop & rebuild secondary indexes around the COPY (auto: when the load is >= 20%% "
        "of the existing rows)",
    )
    ap.add_argument(
        "--index-jobs",
        type=int,
        default=2,
        help="parallel index rebuilds after COMMIT; 1 = rebuild inside the load transaction",
    )
    ap.add_argument(
        "--maintenance-work-mem", default="512MB", help="for the index builds (default %(default)s)"
    )
    ap.add_argument(
        "--verify-fk",
        choices=["auto", "yes", "no"],
        default="auto",
        help="re-check filled foreign keys with SQL (auto: loads below 200k rows)",
    )
    ap.add_argument(
        "--restore-indexes",
        action="store_true",
        help="only restore indexes left dropped by a killed run, then exit",
    )
    args = ap.parse_args(argv)
    if args.leads is None:
        args.leads = args.opportunities // 20
    for opt in ("partners", "opportunities", "leads"):
        if getattr(args, opt) < 0:
            ap.error(f"--{opt} must be >= 0")
    for opt in ("chunk", "companies", "years"):
        if getattr(args, opt) <= 0:
            ap.error(f"--{opt} must be > 0")
    if args.opportunities + args.leads and not args.partners:
        ap.error("opportunities need --partners > 0")
    if args.interactions < 0:
        ap.error("--interactions must be >= 0")
    if args.interactions and not args.partners:
        ap.error("interactions need --partners > 0")
    if args.orders < 0:
        ap.error("--orders must be >= 0")
    return args


def main(argv=None):
    args = parse_args(argv)
    t_all = time.perf_counter()
    conn = _db.connect(args.database, args.dsn, "bench-generate")
    cr = conn.cursor()
    cr.execute("SET synchronous_commit = off")
    cr.execute("SET maintenance_work_mem = %s", (args.maintenance_work_mem,))
    cr.execute("SET work_mem = '256MB'")
    conn.commit()
    n_restored = restore_journal(conn)
    if n_restored:
        log(f"restored {n_restored} index(es) left dropped by an interrupted run")
    if args.restore_indexes:
        return 0
    if not _db.table_exists(cr, "crm_lead"):
        sys.exit("crm is not installed in this database (no crm_lead table)")
    if args.interactions and not _db.table_exists(cr, "crm_interaction"):
        sys.exit(
            "crm_contact_center not installed: table crm_interaction does not exist "
            "(--interactions needs it)"
        )

    if args.orders and not _db.table_exists(cr, "sale_order"):
        sys.exit("sale is not installed: table sale_order does not exist (--orders needs it)")

    now = time.time()
    if args.end_date:
        end_day = dt.datetime.strptime(args.end_date, "%Y-%m-%d").replace(tzinfo=dt.UTC)
        is_today = end_day.date() == dt.datetime.now(dt.UTC).date()
        end = now if is_today else end_day.timestamp() + DAY - 1
    else:
        end = now
    end = float(np.floor(end))
    start = end - args.years * YEAR_DAYS * DAY
    atomic = args.index_jobs <= 1

    tables = (
        ["res_partner", "crm_lead"]
        + (["crm_interaction"] if args.interactions else [])
        + (["sale_order"] if args.orders else [])
    )
    est = {}
    for tbl in tables:
        cr.execute(f"SELECT count(*) FROM (SELECT 1 FROM {tbl} LIMIT 100000) s")
        est[tbl] = cr.fetchone()[0]
        if est[tbl] == 100000:
            cr.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", (tbl,))
            est[tbl] = max(est[tbl], cr.fetchone()[0])
    new_rows = {
        "res_partner": args.partners,
        "crm_lead": args.opportunities + args.leads,
        "crm_interaction": args.interactions,
        "sale_order": args.orders,
    }
    rebuild = {
        t: args.index_mode == "rebuild"
        or (args.index_mode == "auto" and new_rows[t] >= 1000 and new_rows[t] >= 0.2 * est[t])
        for t in tables
    }
    superuser = _db.is_superuser(cr)
    triggers = {t: _db.user_triggers(cr, t) for t in tables}
    replica = superuser and not any(triggers.values())
    if replica:
        cr.execute("SET session_replication_role = replica")
    else:
        log(
            "note: foreign-key triggers stay on ("
            + ("user triggers present" if superuser else "not superuser")
            + "): slower load"
        )
    verify = args.verify_fk == "yes" or (
        args.verify_fk == "auto" and replica and sum(new_rows.values()) < 200_000
    )

    ctx = load_context(cr, args)
    lock_refs(cr, ctx)
    utc = dt.UTC
    log(
        f"database {args.database}: {est['res_partner']} partners, {est['crm_lead']} leads before; "
        f"salespeople {list(map(int, ctx['users']))}, companies {list(map(int, ctx['companies']))}, "
        f"won stage {ctx['won_stage']}, pipeline {list(map(int, ctx['pipeline']))}, "
        f"{len(ctx['lost_reasons'])} lost reasons"
    )
    log(
        f"history {dt.datetime.fromtimestamp(start, utc):%Y-%m-%d} .. "
        f"{dt.datetime.fromtimestamp(end, utc):%Y-%m-%d %H:%M} UTC, seed {args.seed}; indexes: "
        + ", ".join(f"{t} {'rebuild' if rebuild[t] else 'keep'}" for t in tables)
        + (
            " (rebuilt inside the transaction)"
            if atomic
            else f" (rebuilt by {args.index_jobs} jobs after commit)"
        )
        + f"; fk triggers {'off (replica)' if replica else 'on'}; verify fk {'yes' if verify else 'no'}; "
        + ("one transaction" if atomic else "one transaction per table")
    )

    p_fixed, p_texts, p_cols = partner_columns(_db.table_columns(cr, "res_partner"))
    l_all = _db.table_columns(cr, "crm_lead")
    l_fixed, l_texts = lead_columns(l_all)
    blob_cols = [c for c in BLOB_FIXED + BLOB_TEXT if c in l_all]
    l_cols = l_fixed + l_texts + blob_cols
    p_null, p_fill = check_not_null(cr, "res_partner", set(p_cols))
    l_null, l_fill = check_not_null(cr, "crm_lead", set(l_cols))

    # independent random streams: the result does not depend on thread timing
    seeds = np.random.SeedSequence(args.seed).spawn(4)
    rng_p, rng_t, rng_o, rng_b = (np.random.default_rng(s) for s in seeds)
    t = time.perf_counter()
    P = generate_partners(rng_p, args, ctx, start, end)
    texts_ready = threading.Event()

    def lead_model():
        t0 = time.perf_counter()
        D = generate_opportunities(rng_o, args, ctx, P, start, end)
        t1 = time.perf_counter()
        texts_ready.wait()
        blobs = lead_blobs(rng_b, P, ctx, D.n_prospects, l_all)[0] if D.n else None
        log(
            f"model: opportunities {t1 - t0:.1f}s (rate scale {D.rate_scale * YEAR_DAYS:.3g}/year), "
            f"partner-derived lead fields {time.perf_counter() - t1:.1f}s"
        )
        return D, blobs

    # the lead model is built while the partners are copied, unless the partners
    # need it (customer_rank, with the account module)
    model = Background(lead_model)
    if "customer_rank" not in p_fixed:
        model.start()
    partner_texts(rng_t, P)
    texts_ready.set()
    log(
        f"model: partners {time.perf_counter() - t:.1f}s ({P.n_comp} companies, {P.n_cont} contacts, "
        f"{P.n_ind} individuals)"
    )

    builder = None if atomic else IndexBuilder(args)
    dropped = []
    stage = "res_partner"
    try:
        # ---- partners
        lock = "ACCESS EXCLUSIVE" if rebuild["res_partner"] else "SHARE ROW EXCLUSIVE"
        cr.execute(f"LOCK TABLE res_partner IN {lock} MODE")
        if rebuild["res_partner"]:
            dropped += drop_indexes(cr, "res_partner", not atomic, set(p_cols))
        p_first = _db.reserve_ids(cr, "res_partner", P.n) if P.n else None
        set_fill_defaults(cr, "res_partner", p_fill)
        if P.n:
            copy_table(
                cr,
                "res_partner",
                p_cols,
                partner_chunks(P, ctx, model, p_first, p_fixed, p_texts, args.chunk),
                f"(ids {p_first}..{p_first + P.n - 1})",
            )
            if verify:
                verify_fks(cr, "res_partner", set(p_cols), p_first, p_first + P.n - 1)
        drop_fill_defaults(cr, "res_partner", p_fill)
        if not atomic:
            t = time.perf_counter()
            conn.commit()
            log(f"res_partner committed ({time.perf_counter() - t:.1f}s)")
            if dropped:
                builder.add(dropped, new_rows)
                builder.workers(1)  # the other core runs the lead COPY meanwhile
            lock_refs(cr, ctx)
        # ---- leads
        stage = "crm_lead"
        D, blobs = model.get()
        lock = "ACCESS EXCLUSIVE" if rebuild["crm_lead"] else "SHARE ROW EXCLUSIVE"
        cr.execute(f"LOCK TABLE crm_lead IN {lock} MODE")
        dropped_l = (
            drop_indexes(cr, "crm_lead", not atomic, set(l_cols)) if rebuild["crm_lead"] else []
        )
        l_first = _db.reserve_ids(cr, "crm_lead", D.n) if D.n else None
        set_fill_defaults(cr, "crm_lead", l_fill)
        if D.n:
            st = np.bincount(D.status[~D.is_lead], minlength=3)
            copy_table(
                cr,
                "crm_lead",
                l_cols,
                lead_chunks(D, P, ctx, l_first, p_first, l_fixed, l_texts, blobs, args.chunk),
                f"(ids {l_first}..{l_first + D.n - 1}; opportunities {D.M}: {st[1]} won, "
                f"{st[2]} lost, {st[0]} open; leads {D.L})",
            )
            if verify:
                verify_fks(cr, "crm_lead", set(l_cols), l_first, l_first + D.n - 1)
        drop_fill_defaults(cr, "crm_lead", l_fill)
        if args.interactions:
            stage = "crm_interaction"
            i_first, dropped_i = load_interactions(
                cr, args, ctx, P, D, p_first, l_first, end, rebuild["crm_interaction"], not atomic
            )
            dropped_l += dropped_i
            if verify:
                verify_fks(
                    cr, "crm_interaction", set(I_FIXED), i_first, i_first + args.interactions - 1
                )
        if args.orders:
            stage = "sale_order"
            o_first, dropped_o = load_orders(cr, args, ctx, end, rebuild["sale_order"], not atomic)
            dropped_l += dropped_o
            if verify:
                verify_fks(cr, "sale_order", {"partner_id"}, o_first, o_first + args.orders - 1)
        if verify:
            log("foreign keys verified")
        if atomic:
            dropped += dropped_l
            if dropped:
                t = time.perf_counter()
                for _t, _n, definition in sorted(
                    dropped, key=lambda d: index_cost(d, new_rows), reverse=True
                ):
                    cr.execute(definition)
                log(
                    f"rebuilt {len(dropped)} indexes in the transaction ({time.perf_counter() - t:.1f}s)"
                )
        t = time.perf_counter()
        conn.commit()
        log(f"{'all' if atomic else 'crm_lead'} committed ({time.perf_counter() - t:.1f}s)")
        if dropped_l and not atomic:
            builder.add(dropped_l, new_rows)
    except BaseException:
        conn.rollback()
        if atomic or stage == "res_partner":
            log("rolled back: nothing was loaded")
        else:
            log(f"rolled back {stage}; res_partner rows stay committed")
        raise
    finally:
        if builder is not None:
            t = time.perf_counter()
            builder.workers(args.index_jobs)
            timings = builder.join()
            if timings:
                el = time.perf_counter() - t
                slow = sorted(timings, key=lambda x: -x[2])[:4]
                log(
                    f"rebuilt {len(timings)} indexes with {args.index_jobs} jobs ({el:.1f}s after the last "
                    "commit); slowest: " + ", ".join(f"{n} {d:.0f}s" for _, n, d in slow)
                )
            cr2 = conn.cursor()
            if _db.table_exists(cr2, JOURNAL):
                cr2.execute(f"SELECT count(*) FROM {JOURNAL}")
                if cr2.fetchone()[0] == 0:
                    cr2.execute(f"DROP TABLE {JOURNAL}")
            conn.commit()
    t = time.perf_counter()
    conn.autocommit = True
    cr = conn.cursor()
    cr.execute("ANALYZE res_partner")
    cr.execute("ANALYZE crm_lead")
    if args.interactions:
        cr.execute("ANALYZE crm_interaction")
    if args.orders:
        cr.execute("ANALYZE sale_order")
    log(f"analyzed ({time.perf_counter() - t:.1f}s)")
    cpu_main = _db.backend_cpu(conn)
    if cpu_main is not None:
        idx_cpu = builder.server_cpu if builder is not None else 0.0
        log(
            f"CPU time: generator {time.process_time():.0f}s, server {cpu_main + idx_cpu:.0f}s "
            f"(COPY session {cpu_main:.0f}s, index jobs {idx_cpu:.0f}s)"
        )
    log(f"left NULL (not generated): res_partner {', '.join(p_null)}; crm_lead {', '.join(l_null)}")
    conn.close()
    log(f"total {time.perf_counter() - t_all:.1f}s")
    return 0
