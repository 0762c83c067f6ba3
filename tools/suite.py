"""Database and server orchestration behind ``make run`` and ``make test``.

Run with the project's virtualenv (``.venv/bin/python tools/suite.py ...``); the
Makefile does that after ``tools/setup.sh`` has prepared the machine.

    suite.py conf                 write .cache/odoo.conf (odoo.conf + addons_path)
    suite.py template             make sure the cached template database exists
    suite.py run [--db crm_demo]  create/upgrade the demo database and serve it
    suite.py test [pytest args]   fresh test database from the template, run pytest
    suite.py i18n                 regenerate each addon's i18n/<addon>.pot, merge its .po

Template cache: installing the three addons (with their demo data) costs ~30 s.
The installed database is kept as ``crm_suite_tmpl_<hash>``, where the hash
covers every addon file that can change the installed database (everything
but ``tests/``, ``readme/`` and ``static/tests``), Odoo's version and this
script. A test run then clones it with ``CREATE DATABASE ... TEMPLATE`` plus a
copy of its filestore, which takes a second or two. Stale templates are
dropped when a new one is built. Templates are machine-wide (their filestores
live in ~/.cache/crm_suite_templates, or $CRM_SUITE_TEMPLATE_STORE) and their
build is serialised by a lock, so checkouts at the same commit share one.
"""

import argparse
import configparser
import fcntl
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache"
CONF = CACHE / "odoo.conf"
ODOO_SRC = Path(os.environ.get("ODOO_SRC", "/opt/odoo/18.0"))
SUITE_ADDONS = [
    "crm_retention",
    "crm_contact_center",
    "crm_kpi",
    "crm_retention_loyalty",
    "crm_retention_sale",
    "crm_retention_account",
    "crm_retention_pos",
    "crm_retention_automation",
    "crm_retention_service",
]
TEMPLATE_PREFIX = "crm_suite_tmpl_"
TEST_DB = os.environ.get("TEST_DB", "crm_suite_test")
# Template databases live on the (machine-wide) PostgreSQL server, so their
# filestores and the lock that serialises their build are machine-wide too:
# two checkouts at the same commit share one template instead of racing.
TEMPLATE_STORE = Path(
    os.environ.get("CRM_SUITE_TEMPLATE_STORE", Path.home() / ".cache" / "crm_suite_templates")
)
SKIP_PARTS = {"tests", "readme", "__pycache__", "i18n_extra"}


def log(msg):
    print(f"\033[1;34m[suite]\033[0m {msg}", file=sys.stderr, flush=True)


def write_conf():
    """odoo.conf is the committed, documented configuration; the generated copy
    only adds what depends on the machine: addons_path and data_dir."""
    CACHE.mkdir(exist_ok=True)
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(ROOT / "odoo.conf")
    opts = parser["options"]
    opts["addons_path"] = ",".join(
        str(p) for p in (ODOO_SRC / "odoo" / "addons", ODOO_SRC / "addons", ROOT / "addons")
    )
    opts["data_dir"] = str(CACHE / "data")
    for key, env in (
        ("db_host", "PGHOST"),
        ("db_port", "PGPORT"),
        ("db_user", "PGUSER"),
        # lets two checkouts serve side by side (pytest-odoo picks its own port)
        ("http_port", "ODOO_HTTP_PORT"),
    ):
        if os.environ.get(env):
            opts[key] = os.environ[env]
    with open(CONF, "w") as fh:
        parser.write(fh)
    return CONF


def psql(sql, db="postgres", **values):
    """Run ``sql`` on database ``db`` with psql and return its output.

    Names and values never go into the text: pass them as ``values`` and
    write ``:'key'`` (a quoted literal) or ``:"key"`` (a quoted identifier)
    in ``sql``; psql quotes them. The database travels in PGDATABASE, so a
    name with ``=`` or a URI prefix is not read as connection options.
    """
    cmd = ["psql", "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1"]
    for key, value in values.items():
        cmd += ["-v", f"{key}={value}"]
    out = subprocess.run(
        cmd,
        input=sql,
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "PGDATABASE": db},
    )
    return out.stdout.strip()


def db_exists(name):
    return psql("SELECT 1 FROM pg_database WHERE datname = :'name'", name=name) == "1"


def filestore(name):
    if name.startswith(TEMPLATE_PREFIX) and not name.endswith("_building"):
        return TEMPLATE_STORE / "filestore" / name
    return CACHE / "data" / "filestore" / name


def drop_db(name):
    psql('DROP DATABASE IF EXISTS :"name" WITH (FORCE)', name=name)
    shutil.rmtree(filestore(name), ignore_errors=True)


def clone_db(source, target):
    drop_db(target)
    psql('CREATE DATABASE :"target" WITH TEMPLATE :"source"', target=target, source=source)
    src = filestore(source)
    if src.exists():
        shutil.copytree(src, CACHE / "data" / "filestore" / target)


def addons_hash():
    digest = hashlib.sha1()
    digest.update((ODOO_SRC / "odoo" / "release.py").read_bytes())
    digest.update(Path(__file__).read_bytes())
    digest.update((ROOT / "odoo.conf").read_bytes())
    for addon in SUITE_ADDONS:
        base = ROOT / "addons" / addon
        for path in sorted(base.rglob("*")):
            rel = path.relative_to(base)
            if not path.is_file() or SKIP_PARTS & set(rel.parts):
                continue
            if rel.parts[:2] == ("static", "tests") or path.suffix in (".pyc", ".md"):
                continue
            digest.update(str(rel).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def odoo_cmd(*args):
    return [sys.executable, str(ODOO_SRC / "odoo-bin"), "-c", str(CONF), *args]


def run_odoo(*args):
    cmd = odoo_cmd(*args)
    res = subprocess.run(cmd)
    if res.returncode:
        sys.exit(f"odoo failed ({res.returncode}): {' '.join(cmd)}")


def ensure_template():
    """Return the name of an up-to-date template database, building it if needed."""
    write_conf()
    name = TEMPLATE_PREFIX + addons_hash()
    if db_exists(name):
        return name
    TEMPLATE_STORE.mkdir(parents=True, exist_ok=True)
    with open(TEMPLATE_STORE / f"{name}.lock", "w") as lock:
        # another checkout may be building the same template: wait for it
        fcntl.flock(lock, fcntl.LOCK_EX)
        if db_exists(name):
            return name
        return build_template(name)


def build_template(name):
    building = name + "_building"
    drop_db(building)
    log(f"installing {', '.join(SUITE_ADDONS)} with demo data into a new template ({name})")
    start = time.time()
    run_odoo(
        "-d",
        building,
        "-i",
        ",".join(SUITE_ADDONS),
        "--stop-after-init",
        "--without-demo=",
        "--log-level=warn",
        "--no-http",
    )
    # Odoo only warns when demo data fails to load: a broken demo must fail here
    no_demo = psql(
        "SELECT string_agg(name, ', ') FROM ir_module_module"
        " WHERE name = ANY(string_to_array(:'addons', ','))"
        " AND (state != 'installed' OR NOT demo)",
        db=building,
        addons=",".join(SUITE_ADDONS),
    )
    if no_demo:
        sys.exit(f"demo data or install failed for: {no_demo} (see the log above)")
    psql('ALTER DATABASE :"building" RENAME TO :"name"', building=building, name=name)
    if filestore(building).exists():
        shutil.rmtree(filestore(name), ignore_errors=True)
        filestore(name).parent.mkdir(parents=True, exist_ok=True)
        shutil.move(filestore(building), filestore(name))
    log(f"template ready in {time.time() - start:.0f} s")
    # drop stale templates (not while another checkout may be cloning them)
    if not os.environ.get("CRM_SUITE_KEEP_TEMPLATES"):
        for old in psql(
            "SELECT datname FROM pg_database WHERE starts_with(datname, :'prefix')"
            " AND datname NOT LIKE '%_building'",
            prefix=TEMPLATE_PREFIX,
        ).split():
            if old != name:
                drop_db(old)
    return name


def cmd_run(args):
    template = ensure_template()
    db = args.db
    current = addons_hash()
    if not db_exists(db):
        log(f"creating database {db} from the template")
        clone_db(template, db)
    else:
        stamp = psql(
            "SELECT value FROM ir_config_parameter WHERE key = 'crm_suite.addons_hash'", db=db
        )
        if stamp != current:
            log(f"addons changed since {db} was last updated: upgrading them")
            run_odoo(
                "-d",
                db,
                "-u",
                ",".join(SUITE_ADDONS),
                "--stop-after-init",
                "--no-http",
                "--log-level=warn",
            )
    psql(
        "INSERT INTO ir_config_parameter (key, value, create_date, write_date) "
        "VALUES ('crm_suite.addons_hash', :'current', now(), now()) "
        "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
        db=db,
        current=current,
    )
    port = os.environ.get("ODOO_HTTP_PORT", "8069")
    log(f"starting Odoo on {db}; the address is printed again once it answers")
    server = subprocess.Popen(odoo_cmd("-d", db, f"--db-filter=^{db}$"))
    # Ctrl+C reaches Odoo too (same process group): let it stop, then leave
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: server.terminate())
    if wait_until_serving(server, f"http://localhost:{port}/web/health"):
        print(READY_BANNER.format(url=f"http://localhost:{port}"), flush=True)
    sys.exit(server.wait())


READY_BANNER = """
============================================================
 The CRM retention suite is ready: {url}
   admin / admin   a sales manager (every report and setting)
   demo  / demo    a salesman (his own customers)
 Start at CRM > Retention > Customers at Risk,
 then CRM > Reporting > Customer KPIs > Dashboard.
 Stop with Ctrl+C.
============================================================
"""


def wait_until_serving(server, url, timeout=300):
    """True once ``url`` answers; False if the server exits or never answers."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and server.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return True
        except OSError:
            time.sleep(0.5)
    return False


def cmd_test(args):
    template = ensure_template()
    clone_db(template, TEST_DB)
    env = dict(os.environ)
    # Chromium (browser tours) must not write into $HOME
    env.setdefault("XDG_CONFIG_HOME", str(CACHE / "xdg" / "config"))
    env.setdefault("XDG_CACHE_HOME", str(CACHE / "xdg" / "cache"))
    targets = args.pytest_args or [
        *(f"addons/{a}/tests" for a in SUITE_ADDONS if (ROOT / "addons" / a / "tests").exists()),
        "tests",
    ]
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "--odoo-config",
        str(CONF),
        "--odoo-database",
        TEST_DB,
        "--odoo-http",
        *targets,
    ]
    log(" ".join(cmd))
    res = subprocess.run(cmd, cwd=ROOT, env=env)
    if not args.keep:
        drop_db(TEST_DB)
    sys.exit(res.returncode)


def cmd_i18n(args):
    template = ensure_template()
    # one scratch database per checkout: two checkouts may export at once
    db = "crm_suite_i18n_" + hashlib.sha1(str(ROOT).encode()).hexdigest()[:8]
    clone_db(template, db)
    try:
        for addon in SUITE_ADDONS:
            pot = ROOT / "addons" / addon / "i18n" / f"{addon}.pot"
            pot.parent.mkdir(exist_ok=True)
            run_odoo(
                "-d",
                db,
                "--i18n-export",
                str(pot),
                "--modules",
                addon,
                "--language",
                "",
                "--log-level=warn",
            )
            log(f"wrote {pot.relative_to(ROOT)}")
            # the translations follow the template: new terms appear untranslated
            # (msgfmt --statistics tells how many), dropped ones go
            for po in sorted(pot.parent.glob("*.po")):
                subprocess.run(
                    ["msgmerge", "--quiet", "--no-fuzzy-matching", "--update",
                     "--backup=none", str(po), str(pot)],
                    check=True,
                )  # fmt: skip
                stats = subprocess.run(
                    ["msgfmt", "--check", "--statistics", "-o", "/dev/null", str(po)],
                    capture_output=True, text=True, check=True,
                )  # fmt: skip
                log(f"merged {po.relative_to(ROOT)}: {stats.stderr.strip()}")
    finally:
        drop_db(db)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("conf")
    sub.add_parser("template")
    p_run = sub.add_parser("run")
    p_run.add_argument("--db", default=os.environ.get("DEMO_DB", "crm_demo"))
    p_test = sub.add_parser("test")
    p_test.add_argument("--keep", action="store_true", help="keep the test database afterwards")
    sub.add_parser("i18n")
    args, extra = parser.parse_known_args()
    if extra and args.cmd != "test":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.pytest_args = extra
    if args.cmd == "conf":
        print(write_conf())
    elif args.cmd == "template":
        print(ensure_template())
    elif args.cmd == "run":
        cmd_run(args)
    elif args.cmd == "test":
        cmd_test(args)
    elif args.cmd == "i18n":
        cmd_i18n(args)


if __name__ == "__main__":
    main()
