"""Upgrading a database made with the previous version of crm_retention: the
stage-rule thresholds and model settings move from system parameters to
every company (``migrations/18.0.1.9.0/post-migrate.py``), so each company's
customers are staged the next night exactly as before.

The previous version is taken from this repository's history (the parent of
the commit that introduced 18.0.1.9.0), installed alone without demo data
into a scratch database, given the settings a consultant would have set and
a second company, then upgraded with the current code. About a minute.
"""

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import suite  # noqa: E402

MANIFEST = "addons/crm_retention/__manifest__.py"
ODOO_SRC = Path(os.environ.get("ODOO_SRC", "/opt/odoo/18.0"))
SETUP = """
env["res.company"].create({"name": "Second Co"})
params = env["ir.config_parameter"]
params.set_param("crm_retention.at_risk_probability", "0.42")
params.set_param("crm_retention.lost_after_days", "400")
params.set_param("crm_retention.lost_overdue_ratio", "abc")
params.set_param("crm_retention.batch_size", "1234")
env.cr.commit()
"""


def git(*args):
    return subprocess.run(
        ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()


@pytest.fixture
def scratch_db():
    name = "crm_suite_migration_" + suite.hashlib.sha1(str(ROOT).encode()).hexdigest()[:8]
    suite.drop_db(name)
    yield name
    suite.drop_db(name)


def odoo(addons_path, db, *args, stdin=None):
    result = subprocess.run(
        [sys.executable, str(ODOO_SRC / "odoo-bin"), *args, "-c", str(suite.CONF),
         f"--addons-path={ODOO_SRC / 'addons'},{addons_path}", "-d", db, "--no-http",
         "--log-level=warn"],
        input=stdin, capture_output=True, text=True, timeout=1200,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_settings_move_from_parameters_to_every_company(tmp_path, scratch_db):
    introduced = git("log", "--format=%H", "-S", '"version": "18.0.1.9.0"', "--", MANIFEST)
    assert introduced, "the repository's history is needed (a full clone)"
    previous = introduced.splitlines()[-1] + "^"
    old = tmp_path / "old"
    old.mkdir()
    archive = subprocess.run(
        ["git", "archive", previous, "addons/crm_retention"],
        cwd=ROOT, capture_output=True, check=True,
    ).stdout  # fmt: skip
    subprocess.run(["tar", "-x", "-C", str(old)], input=archive, check=True)
    old_manifest = (old / MANIFEST).read_text()
    assert '"version": "18.0.1.8.0"' in old_manifest

    suite.clone_db("template0", scratch_db)
    # with Invoicing: the previous version's settings page needed its currency
    # field to install (fixed since: crm_retention installs alone)
    odoo(old / "addons", scratch_db, "-i", "crm_retention,account", "--without-demo=all",
         "--stop-after-init")  # fmt: skip
    odoo(old / "addons", scratch_db, "shell", stdin=SETUP)
    odoo(ROOT / "addons", scratch_db, "-u", "crm_retention", "--stop-after-init")

    # upgraded to this checkout's version, 18.0.1.9.0 or a later one
    current = ast.literal_eval((ROOT / MANIFEST).read_text())["version"]
    assert tuple(map(int, current.split("."))) >= (18, 0, 1, 9, 0)
    assert (
        suite.psql(
            "SELECT latest_version FROM ir_module_module WHERE name = 'crm_retention'",
            db=scratch_db,
        )
        == current
    )
    rows = suite.psql(
        "SELECT string_agg(concat_ws('|', retention_at_risk_probability,"
        " retention_lost_after_days, retention_lost_overdue_ratio, retention_lost_probability),"
        " ',' ORDER BY id) FROM res_company",
        db=scratch_db,
    )
    # both companies get the database's values; an unreadable one stays the default
    assert rows.split(",") == ["0.42|400|3|0.8"] * 2, rows
    params = suite.psql(
        "SELECT string_agg(key || '=' || value, ',' ORDER BY key) FROM ir_config_parameter"
        " WHERE key LIKE 'crm_retention.%'",
        db=scratch_db,
    )
    assert params == "crm_retention.batch_size=1234", "moved settings deleted, the others kept"
