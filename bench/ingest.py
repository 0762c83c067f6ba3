"""Inbound API throughput benchmark (a benchmark, not a test).

Starts Odoo in multi-worker mode on a free loopback port against a database
that has ``crm_contact_center`` installed (or targets a running server with
``--url``), then, with a real HTTP client at concurrency 16:

1. measures a trivial authenticated JSON route (``GET /crm_contact_center/v1/ping``);
2. posts 20,000 events to ``/crm_contact_center/v1/events``, a share of them
   delivered twice (possibly at the same time by two clients);
3. checks in the database that every distinct event produced exactly one
   interaction (zero lost, zero duplicated) and prints both rates and their ratio.

    .venv/bin/python bench/ingest.py --db cc_bench            # clone of the suite template
    .venv/bin/python bench/ingest.py --db cc_bench --events 2000 --workers 2
    .venv/bin/python bench/ingest.py --db cc_bench --port 8140 --team     # with routing

Defaults: 4 workers, concurrency 16, 20,000 deliveries (10 % of them
duplicates), 4,000 pings.

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


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True, help="database with crm_contact_center installed")
    parser.add_argument("--url", help="target a running server instead of starting one")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument(
        "--port", type=int, help="HTTP port of the started server (default: a free one);"
        " the gevent port is the next one"
    )  # fmt: skip
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--duplicates", type=float, default=0.1, help="share sent twice")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--pings", type=int, default=4000)
    parser.add_argument("--login", default="admin")
    parser.add_argument("--password", default="admin")
    parser.add_argument("--floor", type=float, default=0.5, help="minimum events/ping ratio")
    parser.add_argument(
        "--team", action="store_true",
        help="give the source a default team: routing and callback activities on every request",
    )  # fmt: skip
    args = parser.parse_args()

    server = None
    url = args.url
    if not url:
        port = args.port or free_port()
        gevent_port = args.port + 1 if args.port else free_port()
        server, url = start_server(args.db, args.workers, port, gevent_port)
    try:
        source_id, key, call = make_source(url, args.db, args.login, args.password, args.team)
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

        def ping(session, _job):
            return session.get(url + "/crm_contact_center/v1/ping", headers=headers, timeout=60)

        def post(session, event):
            return session.post(
                url + "/crm_contact_center/v1/events", data=event, headers=headers, timeout=120
            )

        run(args.concurrency, range(200), lambda s, j: ping(s, j).status_code)  # warm-up
        ping_time, ping_results = run(args.concurrency, range(args.pings), ping)
        ping_failed = sum(r.status_code != 200 for r in ping_results)

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
        event_time, event_results = run(args.concurrency, deliveries, post)
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
    print(f"ratio  : {ratio:.2f} of the ping rate (floor {args.floor})")
    ok = lost == 0 and doubled == 0 and ratio >= args.floor and not ping_failed
    print("PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
