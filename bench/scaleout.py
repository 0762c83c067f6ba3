"""Scale-out benchmark on the cluster of ``tools/cluster.sh`` (a benchmark,
not a test).

    tools/cluster.sh up
    .venv/bin/python bench/scaleout.py                          # 1,000,000 customers
    .venv/bin/python bench/scaleout.py --partners 100000 --opportunities 500000

The database (``$CLUSTER_DB``, default ``crm_cluster``) is made on the
cluster's primary when it is missing: the suite's demo template copied
there (``cluster.sh load``), then ``bench/generate.py`` run against the
primary, then a first recompute (every profile created) as warm-up. Then:

a. **recompute, one node vs two**: the nightly cron triggered as Odoo's
   ``_trigger`` does it (an ``ir_cron_trigger`` row and ``NOTIFY
   cron_trigger``), its wall time measured until the run is done, once with
   node 2 stopped and once with both nodes; the chunks each node applied are
   read from the nodes' logs; the per-chunk cost and the model of N nodes
   are printed from these figures;
b. **the 12-month customer KPI pivot** (``read_group`` by month through
   nginx, as the web client asks it), ``--samples`` times on an idle
   cluster, then as many times while the primary runs the recompute: p50 and
   p95 of each, and how many transactions the replica served meanwhile;
c. **a node killed under load**: ``--clients`` clients post contact-center
   events through nginx (each retries the same external id until answered)
   while a recompute runs on both nodes; node 1 is killed (SIGKILL to its
   process group) halfway; then every event must be logged exactly once and
   the recompute must finish on node 2 (the bench triggers the cron again in
   case node 1 held the run itself).

The figures depend on the machine: the CPU count is printed with them.
"""

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path

import psycopg2
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "bench"))

import suite  # noqa: E402
from ingest import make_source  # noqa: E402

CLUSTER = ROOT / "tools" / "cluster.sh"
DIR = Path(os.environ.get("CLUSTER_DIR", ROOT / ".cache" / "cluster"))
PG_PORT = int(os.environ.get("CLUSTER_PG_PORT", "55432"))
LB = f"http://127.0.0.1:{os.environ.get('CLUSTER_PORT', '8260')}"
DB = os.environ.get("CLUSTER_DB", "crm_cluster")


def cluster(*args, check=True):
    return subprocess.run(["bash", str(CLUSTER), *args], check=check)


def connect(db=DB, port=PG_PORT):
    cnx = psycopg2.connect(host="127.0.0.1", port=port, dbname=db)
    cnx.autocommit = True
    return cnx


def query(cnx, sql, *args):
    with cnx.cursor() as cr:
        cr.execute(sql, args)
        return cr.fetchall() if cr.description else None


class Rpc:
    """A web client's session through nginx."""

    def __init__(self, login="admin", password="admin"):
        self.http = requests.Session()
        self.uid = self.rpc("/web/session/authenticate", db=DB, login=login, password=password)[
            "uid"
        ]

    def rpc(self, path, **params):
        response = self.http.post(
            LB + path, json={"jsonrpc": "2.0", "method": "call", "params": params}, timeout=600
        )
        response.raise_for_status()
        body = response.json()
        if "error" in body:
            raise RuntimeError(body["error"]["data"]["message"])
        return body["result"]

    def call(self, model, method, *args, **kwargs):
        return self.rpc(
            f"/web/dataset/call_kw/{model}/{method}",
            model=model, method=method, args=list(args), kwargs=kwargs,
        )  # fmt: skip


def ensure_database(args):
    primary = connect("postgres")
    exists = query(primary, "SELECT 1 FROM pg_database WHERE datname = %s", DB)
    if not exists:
        cluster("load", suite.ensure_template(), DB)
    cnx = connect()
    [(partners,)] = query(cnx, "SELECT count(*) FROM res_partner")
    if partners < args.partners:
        print(f"generating {args.partners} partners / {args.opportunities} opportunities ...")
        start = time.time()
        env = {**os.environ, "PGHOST": "127.0.0.1", "PGPORT": str(PG_PORT)}
        subprocess.run(
            [sys.executable, str(ROOT / "bench" / "generate.py"), "-d", DB,
             "--partners", str(args.partners), "--opportunities", str(args.opportunities)],
            check=True, env=env,
        )  # fmt: skip
        query(cnx, "ANALYZE")
        print(f"generated in {time.time() - start:.0f} s", flush=True)
        return True
    return False


def node_logs():
    return {n: DIR / f"node{n}" / "odoo.log" for n in (1, 2)}


def log_offsets():
    return {n: (p.stat().st_size if p.exists() else 0) for n, p in node_logs().items()}


def chunks_by_node(offsets):
    """Chunks each node applied since ``offsets``, from the lines the run's
    threads and the helper crons log."""
    pattern = re.compile(
        r"recompute of company 1: (?:the run's \d+ threads|this worker) applied (\d+)"
    )
    counts = {}
    for n, path in node_logs().items():
        if not path.exists():
            continue
        with open(path, errors="replace") as fh:
            fh.seek(offsets[n])
            counts[n] = sum(int(m.group(1)) for m in pattern.finditer(fh.read()))
    return counts


def trigger_recompute(cnx):
    [(cron_id,)] = query(
        cnx,
        "SELECT res_id FROM ir_model_data"
        " WHERE module = 'crm_retention' AND name = 'ir_cron_lifecycle_recompute'",
    )
    query(
        cnx,
        "INSERT INTO ir_cron_trigger (cron_id, call_at) VALUES (%s, now() AT TIME ZONE 'UTC')",
        cron_id,
    )
    # the cron workers LISTEN on the postgres database, as ir.cron._notifydb
    postgres = connect("postgres")
    query(postgres, "NOTIFY cron_trigger, %s", DB)
    postgres.close()


def last_run(cnx):
    return query(
        cnx, "SELECT last_run_date, run_state FROM crm_retention_model WHERE company_id = 1"
    )[0]


def chunk_progress(cnx):
    [(table,)] = query(cnx, "SELECT to_regclass('crm_retention_work_1_chunks')")
    if not table:
        return None
    try:
        [(done, total)] = query(
            cnx, "SELECT count(*) FILTER (WHERE done), count(*) FROM crm_retention_work_1_chunks"
        )
    except psycopg2.errors.UndefinedTable:
        return None  # the run finished meanwhile (and dropped it)
    return done, total


def recompute(cnx, during=None, timeout=7200):
    """Trigger the nightly recompute and wait until it is done; returns the
    wall time, the time until its chunks existed, their number and, per
    node, the chunks applied. ``during(progress)`` is called while it runs."""
    before = last_run(cnx)[0]
    offsets = log_offsets()
    start = time.perf_counter()
    trigger_recompute(cnx)
    chunked = None
    chunks = 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        progress = chunk_progress(cnx)
        if progress:
            chunks = max(chunks, progress[1])
            if chunked is None:
                chunked = time.perf_counter() - start
        if during:
            during(progress)
        when, state = last_run(cnx)
        if state == "done" and when and when != before:
            wall = time.perf_counter() - start
            time.sleep(1)  # the helpers' log lines
            return wall, chunked or wall, chunks, chunks_by_node(offsets)
        time.sleep(0.25)
    raise RuntimeError("the recompute did not finish")


def pivot_call(rpc, today):
    start = time.perf_counter()
    rows = rpc.call(
        "crm.kpi.customer.report", "read_group",
        [["date", ">=", (today.replace(day=1) - timedelta(days=320)).replace(day=1).isoformat()]],
        ["acquired_count:sum", "lost_count:sum", "churn_rate:avg", "revenue:sum"],
        ["date:month"], lazy=False,
    )  # fmt: skip
    assert rows, "the pivot has months"
    return time.perf_counter() - start


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def replica_transactions():
    cnx = connect(port=PG_PORT + 1)
    [(count,)] = query(
        cnx, "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = %s", DB
    )
    cnx.close()
    return count


def post_events(source_id, key, clients, count, stop_when):
    """``count`` distinct events from ``clients`` threads through nginx; each
    is retried with the same external id until it is answered. Returns
    (seconds, retries, failures)."""
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    rng = random.Random(7)
    bodies = [
        json.dumps({
            "event": "message.received",
            "id": f"scaleout-{source_id}-{i}",
            "timestamp": "2026-06-01T09:00:00Z",
            "channel": "chat",
            "from": {"phone": f"+3247{rng.randrange(10**7):07d}", "name": f"Caller {i}"},
            "text": "Where is my order?",
        })
        for i in range(count)
    ]  # fmt: skip
    local = threading.local()
    retries = [0]
    failures = [0]
    sent = [0]
    lock = threading.Lock()

    def send(body):
        if not hasattr(local, "session"):
            local.session = requests.Session()
        for attempt in range(20):
            try:
                response = local.session.post(
                    LB + "/crm_contact_center/v1/events", data=body, headers=headers, timeout=120
                )
                if response.status_code in (200, 201):
                    with lock:
                        sent[0] += 1
                        stop_when(sent[0])
                    return
            except requests.RequestException:
                local.session = requests.Session()
            with lock:
                retries[0] += 1
            time.sleep(0.2 * (attempt + 1))
        with lock:
            failures[0] += 1

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(send, bodies))
    return time.perf_counter() - start, retries[0], failures[0]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--partners", type=int, default=1_000_000)
    parser.add_argument("--opportunities", type=int, default=5_000_000)
    parser.add_argument("--samples", type=int, default=40, help="pivot calls per measure")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=2, help="recomputes per node count")
    parser.add_argument("--batch-size", type=int, default=0,
                        help="customers per chunk (default: partners / 100)")  # fmt: skip
    args = parser.parse_args()
    cpus = os.cpu_count()
    if cluster("status", check=False).returncode:
        cluster("up")
    generated = ensure_database(args)
    cnx = connect()
    admin = Rpc()
    batch = args.batch_size or max(1000, args.partners // 100)
    admin.call("ir.config_parameter", "set_param", "crm_retention.batch_size", str(batch))
    admin.call("ir.config_parameter", "set_param", "crm_retention.parallel_batches", "1")
    [(customers,)] = query(cnx, "SELECT count(*) FROM crm_customer_profile")
    print(f"database {DB}: {args.partners} partners; {cpus} CPUs for everything"
          f" (PostgreSQL x2, Odoo x2, nginx, this script)", flush=True)  # fmt: skip
    if generated or not customers:
        print("warm-up: the first recompute (every profile created) ...", flush=True)
        wall, *_ = recompute(cnx)
        print(f"warm-up done in {wall:.1f} s", flush=True)

    # a. one node, then two; each the best of --repeat runs (the first run
    # after a node starts also loads its cron workers' registries)
    cluster("stop-node", "2")
    one = min((recompute(cnx) for _ in range(args.repeat)), key=lambda r: r[0])
    cluster("start-node", "2")
    two = min((recompute(cnx) for _ in range(args.repeat)), key=lambda r: r[0])
    for label, (wall, chunked, chunks, nodes) in (("1 node ", one), ("2 nodes", two)):
        share = ", ".join(f"node{n} {c}" for n, c in sorted(nodes.items()) if c)
        print(f"recompute {label}: {wall:.1f} s (prepare and fit {chunked:.1f} s, then"
              f" {chunks} chunks of {batch} customers in {wall - chunked:.1f} s: {share})",
              flush=True)  # fmt: skip
    # per chunk: with one node, its 2 cron workers (the run's thread and a helper)
    per_chunk = (one[0] - one[1]) * 2 / max(one[2], 1)
    print(f"ratio 2 nodes / 1 node: {two[0] / one[0]:.2f} (CPUs: {cpus})")
    print(f"model: T(N) = prepare {one[1]:.0f} s + chunks x {per_chunk:.2f} s /"
          f" min(2N cron workers, database cores) (+ the run's finish)")  # fmt: skip

    # b. the pivot, idle then under the recompute
    today = date.today()
    manager = Rpc()
    for _ in range(10):
        pivot_call(manager, today)  # warm the workers of both nodes
    before = replica_transactions()
    idle = [pivot_call(manager, today) for _ in range(args.samples)]
    served = replica_transactions() - before
    busy = []

    def sample(progress):
        if progress and progress[0] < progress[1] and len(busy) < args.samples:
            busy.append(pivot_call(manager, today))

    recompute(cnx, during=sample)
    print(f"pivot idle      : p50 {statistics.median(idle) * 1000:.0f} ms,"
          f" p95 {percentile(idle, 0.95) * 1000:.0f} ms ({len(idle)} calls;"
          f" replica transactions meanwhile: {served})")  # fmt: skip
    if busy:
        print(f"pivot recompute : p50 {statistics.median(busy) * 1000:.0f} ms,"
              f" p95 {percentile(busy, 0.95) * 1000:.0f} ms ({len(busy)} calls)")  # fmt: skip
        print(
            f"ratio p95 under recompute / idle: {percentile(busy, 0.95) / percentile(idle, 0.95):.2f}"
        )
    else:
        print("pivot recompute : the recompute's chunks were done before a call")

    # c. kill node 1 under load
    source_id, key, _call = make_source(LB, DB, "admin", "admin")
    killed = threading.Event()

    def kill_halfway(sent):
        if sent >= args.events // 2 and not killed.is_set():
            killed.set()
            cluster("kill-node", "1")

    result = {}

    def run_recompute():
        result["recompute"] = recompute(cnx)

    runner = threading.Thread(target=run_recompute)
    runner.start()
    while not chunk_progress(cnx):
        time.sleep(0.2)
    seconds, retries, failures = post_events(
        source_id, key, args.clients, args.events, kill_halfway
    )
    # the run itself may have been on node 1: trigger it again, node 2 resumes it
    trigger_recompute(cnx)
    runner.join()
    [(logged, distinct)] = query(
        cnx,
        "SELECT count(*), count(DISTINCT external_id) FROM crm_interaction WHERE source_id = %s",
        source_id,
    )
    wall, chunked, chunks, nodes = result["recompute"]
    print(f"kill node 1     : {args.events} events from {args.clients} clients in {seconds:.1f} s,"
          f" {retries} retries, {failures} given up; logged {logged}, distinct {distinct}:"
          f" lost {args.events - distinct}, duplicated {logged - distinct}")  # fmt: skip
    print(f"                  recompute finished in {wall:.1f} s, {chunks} chunks, applied"
          f" by node: {nodes}")  # fmt: skip
    cluster("start-node", "1")
    ok = failures == 0 and logged == distinct == args.events
    print("OK" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
