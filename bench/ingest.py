"""Inbound API throughput benchmark (a benchmark, not a test).

Starts Odoo in multi-worker mode on a free loopback port against a database
that has ``crm_contact_center`` installed (or targets a running server with
``--url``), then, with a real HTTP client at concurrency 16:

1. measures a trivial authenticated JSON route (``GET /crm_contact_center/v1/ping``);
2. posts 20,000 events to ``/crm_contact_center/v1/events``, a share of them
   delivered twice (possibly at the same time by two clients);
   pings and events alternate in 5 blocks each (``--rounds``), so that a
   neighbour's load weighs on both rates alike;
3. checks in the database that every distinct event produced exactly one
   interaction (zero lost, zero duplicated) and prints both rates and their ratio.

    .venv/bin/python bench/ingest.py --db cc_bench            # clone of the suite template
    .venv/bin/python bench/ingest.py --db cc_bench --events 2000 --workers 2
    .venv/bin/python bench/ingest.py --db cc_bench --port 8140 --team     # with routing

Defaults: 4 workers, concurrency 16, 20,000 deliveries (10 % of them
duplicates), 4,000 pings.

``--screen-pop`` measures instead the screen pop's latency: 16 senders post
``call.ringing`` events (``--events``, default 200) naming the agent
``--login``; a listener on PostgreSQL ``LISTEN imbus`` (the channel Odoo's bus
NOTIFYs, on the ``postgres`` database, after the commit) reads the new
``bus_bus`` rows at each notification, as the web client's websocket does,
and takes the arrival time of each call's ``crm_contact_center.screen_pop``
row. Latency = arrival - the moment its POST was sent (one clock: the bench
process); p50/p95/max are printed, FAIL above ``--pop-p95`` (1 s)::

    .venv/bin/python bench/ingest.py --db cc_bench --screen-pop --events 200 --workers 2

Exit status 1 when events were lost or duplicated, or the ratio is below --floor.
Only loopback traffic: the server listens on 127.0.0.1.
"""

import argparse
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
import xmlrpc.client
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg2
import psycopg2.extensions
import requests

ROOT = Path(__file__).resolve().parent.parent
ODOO_BIN = Path(os.environ.get("ODOO_SRC", "/opt/odoo/18.0")) / "odoo-bin"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(db, workers, port, gevent_port):
    cmd = [
        sys.executable, str(ODOO_BIN), "-c", str(ROOT / ".cache" / "odoo.conf"),
        "-d", db, f"--db-filter=^{db}$", f"--workers={workers}", "--max-cron-threads=0",
        f"--http-port={port}", "--http-interface=127.0.0.1", "--log-level=warn",
        "--limit-time-real=600", "--limit-request=100000", "--db_maxconn=64",
        "--gevent-port", str(gevent_port),
    ]  # fmt: skip
    server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if requests.get(url + "/web/health", timeout=10).ok:
                return server, url
        except requests.RequestException:
            pass  # not listening yet, or busy loading the registry
        if server.poll() is not None:
            sys.exit(f"odoo exited with {server.returncode}")
        time.sleep(1)
    server.terminate()
    server.wait(30)
    sys.exit("odoo did not start in 180 s")


def make_source(url, db, login, password, team=False):
    """A source allowed on phone and chat; returns (source id, API key). With
    ``team``, the source's default team is the first sales team: new requests
    are routed to its agents and missed calls get a callback activity."""
    common = xmlrpc.client.ServerProxy(f"{url}/xmlrpc/2/common")
    uid = common.authenticate(db, login, password, {})
    if not uid:
        sys.exit(f"cannot log in as {login} on {db}")
    models = xmlrpc.client.ServerProxy(f"{url}/xmlrpc/2/object", allow_none=True)

    def call(model, method, *args, **kw):
        return models.execute_kw(db, uid, password, model, method, list(args), kw)

    channels = call("crm.interaction.channel", "search", [["code", "in", ["phone", "chat"]]])
    values = {"name": f"bench {time.time():.0f}", "channel_ids": [(6, 0, channels)],
              "create_lead": False}  # fmt: skip
    if team:
        values["team_id"] = call("crm.team", "search", [], limit=1)[0]
    source = call("crm.interaction.source", "create", values)
    key = call("crm.interaction.source", "generate_api_key", [source])
    return source, key, call


def run(concurrency, jobs, send):
    """Run ``send(job)`` over ``jobs`` with ``concurrency`` threads; return (seconds, results)."""
    local = threading.local()

    def worker(job):
        if not hasattr(local, "session"):
            local.session = requests.Session()
        return send(local.session, job)

    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(worker, jobs))
    return time.perf_counter() - start, results


class BusListener(threading.Thread):
    """Receives Odoo's bus NOTIFYs and records when each call's screen pop
    row became readable: ``arrivals[call id] = time.time()``."""

    def __init__(self, db):
        super().__init__(daemon=True)
        self.db, self.arrivals, self.stop = db, {}, threading.Event()
        # the NOTIFY is sent on the postgres database (bus.py, postcommit)
        self.listen = psycopg2.connect(dbname="postgres")
        self.listen.set_isolation_level(psycopg2.extensions.ISOLATION_LEVEL_AUTOCOMMIT)
        self.listen.cursor().execute("LISTEN imbus")
        self.rows = psycopg2.connect(dbname=db)
        self.rows.set_isolation_level(psycopg2.extensions.ISOLATION_LEVEL_AUTOCOMMIT)
        with self.rows.cursor() as cr:
            cr.execute("SELECT COALESCE(max(id), 0) FROM bus_bus")
            self.last = cr.fetchone()[0]
        self.seen = set()

    def run(self):
        import select  # noqa: PLC0415

        while not self.stop.is_set():
            if select.select([self.listen], [], [], 0.2) == ([], [], []):
                continue
            self.listen.poll()
            if not self.listen.notifies:
                continue
            now = time.time()
            self.listen.notifies.clear()
            with self.rows.cursor() as cr:
                # ids are taken before the commits, which end in any order: a
                # row of a lower id may become visible after a higher one was
                # read, so the last 500 ids are read again (and skipped when seen)
                cr.execute(
                    "SELECT id, message FROM bus_bus WHERE id > %s ORDER BY id",
                    (self.last - 500,),
                )
                for row_id, message in cr.fetchall():
                    if row_id in self.seen:
                        continue
                    self.seen.add(row_id)
                    self.last = max(self.last, row_id)
                    data = json.loads(message)
                    if data.get("type") == "crm_contact_center.screen_pop":
                        self.arrivals.setdefault(data["payload"]["call_id"], now)


def screen_pop(args, url, source_id, headers):
    """Post ``call.ringing`` events at ``args.concurrency`` and print the
    latency percentiles from POST to the bus notification."""
    listener = BusListener(args.db)
    listener.start()
    sent = {}
    rng = random.Random(7)

    def post(session, i):
        call_id = f"pop-{source_id}-{i}"
        event = {
            "event": "call.ringing",
            "id": call_id,
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "channel": "phone",
            "from": {"phone": f"+3247{rng.randrange(10**7):07d}"},
            "to": {"login": args.login},
        }
        sent[call_id] = time.time()
        return session.post(
            url + "/crm_contact_center/v1/events", data=json.dumps(event), headers=headers,
            timeout=120,
        )  # fmt: skip

    run(args.concurrency, range(20), lambda s, j: post(s, f"warm-{j}").status_code)
    sent.clear()
    elapsed, results = run(args.concurrency, range(args.events), post)
    deadline = time.time() + 10
    while len(listener.arrivals.keys() & sent.keys()) < len(sent) and time.time() < deadline:
        time.sleep(0.1)
    listener.stop.set()
    listener.join(2)
    failed = sum(not r.ok for r in results)
    latencies = sorted(listener.arrivals[c] - t for c, t in sent.items() if c in listener.arrivals)
    missing = len(sent) - len(latencies)
    if not latencies:
        print("screen pop: no notification received")
        return False

    def pct(p):
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    print(f"screen pop: {len(sent)} call.ringing posted in {elapsed:.1f} s at concurrency"
          f" {args.concurrency} ({failed} failed, {missing} without a notification)")  # fmt: skip
    print(f"latency POST -> bus notification: p50 {pct(0.5):.0f} ms, p95 {pct(0.95):.0f} ms,"
          f" max {latencies[-1] * 1000:.0f} ms (limit p95 {args.pop_p95 * 1000:.0f} ms)")  # fmt: skip
    return not failed and not missing and pct(0.95) <= args.pop_p95 * 1000


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True, help="database with crm_contact_center installed")
    parser.add_argument("--url", help="target a running server instead of starting one")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument(
        "--port", type=int, help="HTTP port of the started server (default: a free one);"
        " the gevent port is the next one"
    )  # fmt: skip
    parser.add_argument("--events", type=int, help="default 20,000 (200 with --screen-pop)")
    parser.add_argument("--duplicates", type=float, default=0.1, help="share sent twice")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--pings", type=int, default=4000)
    parser.add_argument("--login", default="admin")
    parser.add_argument("--password", default="admin")
    parser.add_argument("--floor", type=float, default=0.6, help="minimum events/ping ratio")
    parser.add_argument(
        "--rounds", type=int, default=5, help="alternating blocks of pings and events"
    )  # fmt: skip
    parser.add_argument(
        "--team", action="store_true",
        help="give the source a default team: routing and callback activities on every request",
    )  # fmt: skip
    parser.add_argument(
        "--screen-pop", action="store_true",
        help="measure the latency from a call.ringing POST to its bus notification instead",
    )  # fmt: skip
    parser.add_argument("--pop-p95", type=float, default=1.0, help="seconds, p95 limit")
    args = parser.parse_args()
    if args.events is None:
        args.events = 200 if args.screen_pop else 20_000

    server = None
    url = args.url
    if not url:
        port = args.port or free_port()
        gevent_port = args.port + 1 if args.port else free_port()
        server, url = start_server(args.db, args.workers, port, gevent_port)
    try:
        source_id, key, call = make_source(url, args.db, args.login, args.password, args.team)
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        if args.screen_pop:
            ok = screen_pop(args, url, source_id, headers)
            print("PASS" if ok else "FAIL")
            sys.exit(0 if ok else 1)

        def ping(session, _job):
            return session.get(url + "/crm_contact_center/v1/ping", headers=headers, timeout=60)

        def post(session, event):
            return session.post(
                url + "/crm_contact_center/v1/events", data=event, headers=headers, timeout=120
            )

        run(args.concurrency, range(200), lambda s, j: ping(s, j).status_code)  # warm-up
        rng = random.Random(42)
        unique = int(args.events / (1 + args.duplicates))
        bodies = []
        for i in range(unique):
            kind = rng.choice(["call.missed", "message.received"])
            event = {
                "event": kind,
                "id": f"bench-{source_id}-{i}",
                "timestamp": "2026-06-01T09:00:00Z",
                "channel": "phone" if kind.startswith("call") else "chat",
                "from": {"phone": f"+3247{rng.randrange(10**7):07d}", "name": f"Caller {i}"},
                "text": "Hello, please call me back.",
            }
            bodies.append(json.dumps(event))
        deliveries = bodies + rng.sample(bodies, args.events - unique)
        rng.shuffle(deliveries)
        # some duplicates right next to their original: two clients at the same time
        for i in range(0, len(deliveries) - 1, 97):
            deliveries[i + 1] = deliveries[i]
        # pings and events alternate in --rounds blocks, so that both rates are
        # measured under the same machine load (a busy neighbour slows both)
        ping_time = event_time = 0.0
        ping_results, event_results, ratios = [], [], []
        for r in range(args.rounds):
            pings = range(args.pings * r // args.rounds, args.pings * (r + 1) // args.rounds)
            block = deliveries[len(deliveries) * r // args.rounds :
                               len(deliveries) * (r + 1) // args.rounds]  # fmt: skip
            p_time, p_results = run(args.concurrency, pings, ping)
            e_time, e_results = run(args.concurrency, block, post)
            ping_time, event_time = ping_time + p_time, event_time + e_time
            ping_results += p_results
            event_results += e_results
            ratios.append((len(block) / e_time) / (len(pings) / p_time))
        ping_failed = sum(r.status_code != 200 for r in ping_results)
        statuses = {}
        for response in event_results:
            label = response.json().get("status") if response.ok else f"HTTP {response.status_code}"
            statuses[label] = statuses.get(label, 0) + 1
        ping_rate = args.pings / ping_time
        event_rate = len(deliveries) / event_time
        ratio = event_rate / ping_rate
        print(f"ping   : {args.pings} requests in {ping_time:.1f} s = {ping_rate:.0f} req/s"
              f" ({ping_failed} failed)")  # fmt: skip
        distinct = len(set(deliveries))
        print(f"events : {len(deliveries)} deliveries ({distinct} distinct) in {event_time:.1f} s"
              f" = {event_rate:.0f} events/s; responses {statuses}", flush=True)  # fmt: skip
        # counted by the server: one aggregate, not one group per event
        domain = [["source_id", "=", source_id]]
        logged = call("crm.interaction", "search_count", domain)
        [totals] = call(
            "crm.interaction", "read_group", domain, ["external_id:count_distinct"], [],
        )  # fmt: skip
        doubled = logged - totals["external_id"]
    finally:
        if server:
            server.terminate()
            server.wait(30)

    lost = distinct - logged
    print(f"check  : {logged} interactions for {distinct} distinct events:"
          f" lost {lost}, duplicated {doubled}")  # fmt: skip
    print(f"ratio  : {ratio:.2f} of the ping rate (floor {args.floor}); per round"
          f" {' '.join(f'{x:.2f}' for x in ratios)}")  # fmt: skip
    ok = lost == 0 and doubled == 0 and ratio >= args.floor and not ping_failed
    print("PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
