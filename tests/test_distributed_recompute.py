"""The nightly recompute shared by several Odoo processes, for real: each
worker below is its own ``odoo-bin shell`` process with its own PostgreSQL
connection, on a scratch copy of the suite's demo database, as the cron
workers of several Odoo nodes would be.

1. a run is prepared (deals read, model fitted once, work table and its
   chunks of 5 customers written, committed), as the nightly cron does
   before it applies anything;
2. worker A claims a chunk, applies it and hangs before committing;
3. worker B (the run's own thread, waiting for the others) and worker C (a
   helper cron, ``_cron_help_recompute``) apply the other chunks at the
   same time: neither may take A's chunk while A holds it;
4. A is killed (SIGKILL): its chunk rolls back, and B takes it over;
5. the run finishes: every chunk was applied exactly once (the workers'
   counts add up to the number of chunks), every customer has its profile;
6. before all that, a helper woken while the run drops its chunk table
   leaves it alone.

About a minute (four Odoo registries are loaded).
"""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg2
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import suite  # noqa: E402

ODOO_SRC = Path(os.environ.get("ODOO_SRC", "/opt/odoo/18.0"))
BATCH = 5
# the advisory lock of a company's chunk table (crm_retention/recompute/layout.py)
CHUNKS_LOCK_KEY = 0x43524D48

HEAD = """
from odoo import fields
Profile = env["crm.customer.profile"].sudo()
company = env.ref("base.main_company")
model = env["crm.retention.model"].sudo()._get_for_company(company)
"""
PREPARE = (
    HEAD
    + f"""
Profile._prepare_run(company, model, fields.Date.context_today(Profile))
Profile._make_chunks(company, model, {BATCH})
env.cr.commit()
print("CHUNKS", len(Profile._chunks_left(company)), "CUSTOMERS", model.run_total, flush=True)
"""
)
HANG = (
    HEAD
    + """
import time
lo, hi = Profile._claim_chunk(company)
Profile._apply_chunk(company, lo, hi, model.run_date)
print("HELD", lo, flush=True)
time.sleep(300)
"""
)
RUN_THREAD = (
    HEAD
    + """
print("APPLIED", Profile._work_chunks(company.id, model.run_date, wait=True), flush=True)
"""
)
HELPER_CRON = (
    HEAD
    + """
print("APPLIED", Profile._cron_help_recompute(), flush=True)
"""
)
FINISH = (
    HEAD
    + f"""
Profile._recompute_company(company, batch_size={BATCH})
env.cr.commit()
model.invalidate_recordset()
profiles = Profile.search_count([("company_id", "=", company.id)])
print("STATE", model.run_state, "PROFILES", profiles, flush=True)
"""
)


def shell(db, script):
    """An ``odoo-bin shell`` process running ``script``."""
    process = subprocess.Popen(
        [sys.executable, str(ODOO_SRC / "odoo-bin"), "shell", "-c", str(suite.CONF), "-d", db,
         "--no-http", "--log-level=warn"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    process.stdin.write(script)
    process.stdin.close()
    process.stdin = None  # communicate() must not flush it again
    return process


def finish(process, timeout=240):
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, err[-3000:]
    return out


def read_line(process, prefix, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if line.startswith(prefix):
            return line.split()
        if not line and process.poll() is not None:
            break
    raise AssertionError(f"no {prefix} line: {process.stderr.read()[-3000:]}")


@pytest.fixture
def scratch_db():
    name = "crm_suite_distrib_" + suite.hashlib.sha1(str(ROOT).encode()).hexdigest()[:8]
    suite.drop_db(name)
    suite.clone_db(suite.ensure_template(), name)
    yield name
    suite.drop_db(name)


def test_chunks_are_shared_by_workers_applied_once_and_taken_over_after_a_kill(scratch_db):
    prepared = finish(shell(scratch_db, PREPARE)).split()
    chunks, customers = int(prepared[1]), int(prepared[3])
    assert chunks >= 6, prepared

    # The run drops its chunk table when the last chunk is done; a helper
    # woken late on another node must not claim from a table being dropped
    # (it would wait for the run's transaction, then fail on a table that no
    # longer exists): it gives up at once, having applied nothing. The drop
    # is rolled back afterwards, and the run goes on.
    run = psycopg2.connect(dbname=scratch_db)
    try:
        with run.cursor() as cr:
            cr.execute("SELECT pg_advisory_xact_lock(%s, 1)", [CHUNKS_LOCK_KEY])
            cr.execute("DROP TABLE crm_retention_work_1_chunks")
            late = finish(shell(scratch_db, HELPER_CRON), timeout=120)
        assert re.search(r"APPLIED 0\b", late), late
    finally:
        run.rollback()
        run.close()

    hanging = shell(scratch_db, HANG)
    held = int(read_line(hanging, "HELD")[1])
    try:
        run_thread = shell(scratch_db, RUN_THREAD)
        helper = shell(scratch_db, HELPER_CRON)
        # the helper applies what it can claim and leaves A's chunk alone
        helper_applied = int(re.search(r"APPLIED (\d+)", finish(helper)).group(1))
        time.sleep(1)
        assert run_thread.poll() is None, "the run waits for the chunk A holds"
    finally:
        os.killpg(hanging.pid, signal.SIGKILL)
        hanging.wait(30)
    out = finish(run_thread)
    thread_applied = int(re.search(r"APPLIED (\d+)", out).group(1))
    # A's chunk rolled back with A and was applied again by B: every chunk once
    assert thread_applied + helper_applied == chunks, (thread_applied, helper_applied, chunks)
    assert thread_applied >= 1, f"the run took over chunk {held} of the killed worker"

    state = finish(shell(scratch_db, FINISH)).split()
    assert state[1] == "done", state
    assert int(state[3]) >= customers, "every customer with deals has a profile"
