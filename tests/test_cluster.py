"""The suite on a production-shaped cluster, for real: ``tools/cluster.sh``
starts a PostgreSQL primary and a streaming replica, two Odoo nodes in
multi-worker mode and nginx in front, on private ports and a private
directory; the suite's demo database is copied onto the primary.

Through the load balancer, as a sales manager:

1. one login serves requests on both nodes (the sessions live in the shared
   data_dir: nothing is sticky);
2. the customer KPI pivot and the cohort report are answered by the replica
   (its transaction counter for the database grows with them), and the
   replica refuses a write;
3. a write goes to the primary and reaches the replica;
4. a node killed with SIGKILL costs no request: nginx sends them to the
   other one, and ``status`` reports the dead node;
5. ``down`` stops every process it started.

About a minute and a half (a database copy, four Odoo worker registries).
"""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import suite  # noqa: E402

CLUSTER = ROOT / "tools" / "cluster.sh"
# private ports and directory: a developer's own cluster can keep running
ENV = {
    **os.environ,
    "CLUSTER_DIR": str(ROOT / ".cache" / "cluster-test"),
    "CLUSTER_PG_PORT": "55442",
    "CLUSTER_PORT": "8280",
    "CLUSTER_DB": "crm_cluster_test",
    "CLUSTER_LOG_LEVEL": "warn",
    "CLUSTER_PG_SHARED_BUFFERS": "128MB",
}
DB = ENV["CLUSTER_DB"]
LB = "http://127.0.0.1:8280"


def cluster(*args, check=True, timeout=600):
    done = subprocess.run(
        ["bash", str(CLUSTER), *args],
        env=ENV, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip
    if check:
        assert done.returncode == 0, f"cluster.sh {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done


def replica_sql(sql):
    return subprocess.run(
        ["psql", "-X", "-q", "-t", "-A", "-h", "127.0.0.1", "-p", "55443", "-d", DB, "-c", sql],
        capture_output=True, text=True,
    )  # fmt: skip


def replica_transactions():
    done = replica_sql(
        f"SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = '{DB}'"
    )
    assert done.returncode == 0, done.stderr
    return int(done.stdout.strip())


def running(pid):
    """Whether ``pid`` runs (a zombie nobody reaped yet does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


class Client:
    """A browser's session through the load balancer."""

    def __init__(self, login, password):
        self.http = requests.Session()
        self.nodes = []
        result = self.rpc("/web/session/authenticate", db=DB, login=login, password=password)
        self.uid = result["uid"]

    def rpc(self, path, **params):
        response = self.http.post(
            LB + path, json={"jsonrpc": "2.0", "method": "call", "params": params}, timeout=120
        )
        assert response.status_code == 200, response.text[:500]
        self.nodes.append(response.headers.get("X-Cluster-Node"))
        body = response.json()
        assert "error" not in body, body["error"]
        return body["result"]

    def call(self, model, method, *args, **kwargs):
        return self.rpc(
            f"/web/dataset/call_kw/{model}/{method}",
            model=model, method=method, args=list(args), kwargs=kwargs,
        )  # fmt: skip


@pytest.fixture(scope="module")
def running_cluster():
    cluster("destroy", check=False)
    try:
        cluster("up")
        cluster("load", suite.ensure_template(), DB)
        yield
    finally:
        cluster("destroy", check=False)


def test_two_nodes_share_sessions_read_on_the_replica_and_survive_a_killed_node(running_cluster):
    admin = Client("admin", "admin")
    manager_id = admin.call(
        "res.users", "create",
        {
            "name": "Cluster Manager",
            "login": "cluster_manager",
            "password": "cluster-manager-pw",
            "groups_id": [(4, admin.call("ir.model.data", "check_object_reference",
                                         "sales_team", "group_sale_manager")[1])],
        },
    )  # fmt: skip
    assert manager_id

    manager = Client("cluster_manager", "cluster-manager-pw")
    # 1. one session, both nodes
    before = replica_transactions()
    for _ in range(4):
        pivot = manager.call(
            "crm.kpi.customer.report", "read_group",
            [], ["acquired_count:sum", "lost_count:sum"], ["date:month"], lazy=False,
        )  # fmt: skip
        assert pivot, "the customer KPI pivot has months"
        cohorts = manager.call(
            "crm.kpi.cohort",
            "read_group",
            [],
            ["buying_count:sum"],
            ["cohort_month:month"],
            lazy=False,
        )
        assert cohorts, "the cohort report has cohorts"
    assert {node.split(",")[-1].strip() for node in manager.nodes} == {
        "127.0.0.1:8281",
        "127.0.0.1:8291",
    }, "round robin over both nodes with one login"

    # 2. read on the replica: its transactions for the database grew by at
    # least the eight report calls (the statistics are flushed within a
    # second or ten, hence the wait)
    deadline = time.monotonic() + 20
    while replica_transactions() < before + 8 and time.monotonic() < deadline:
        time.sleep(1)
    assert replica_transactions() >= before + 8, "the reports were served by the replica"
    refused = replica_sql("UPDATE crm_kpi_snapshot SET lost_count = lost_count + 1")
    assert refused.returncode != 0
    assert "read-only transaction" in refused.stderr

    # 3. a write goes to the primary and is replicated
    partner = manager.call("res.partner", "create", {"name": "Written Through The Cluster"})
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        seen = replica_sql(f"SELECT name FROM res_partner WHERE id = {int(partner)}").stdout
        if "Written Through The Cluster" in seen:
            break
        time.sleep(0.5)
    assert "Written Through The Cluster" in seen, "the write reached the replica"

    # 4. kill node 1: no request is lost
    cluster("kill-node", "1")
    manager.nodes.clear()
    for _ in range(10):
        assert manager.call("crm.kpi.customer.report", "search_count", [])
    assert all(node.split(",")[-1].strip() == "127.0.0.1:8291" for node in manager.nodes)
    status = cluster("status", check=False)
    assert status.returncode != 0
    assert "node1" in status.stdout and "DOWN" in status.stdout.split("node1")[1].split("\n")[0]
    assert "node2     127.0.0.1:8291    up" in status.stdout

    # 5. down stops every process it started
    pids = [
        int(p.read_text())
        for p in Path(ENV["CLUSTER_DIR"]).glob("*/*.pid")
        if p.read_text().strip().isdigit()
    ]
    cluster("down")
    time.sleep(1)
    alive = [pid for pid in pids if running(pid)]
    assert not alive, f"still running after down: {alive}"
    assert cluster("status", check=False).stdout.count("DOWN") == 5
