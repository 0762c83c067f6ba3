#!/usr/bin/env bash
# Prepare everything the suite needs to run or be tested, idempotently.
#
#   tools/setup.sh [system|postgres|odoo|venv|all]    (default: all)
#
# Each step leaves a stamp (under .cache/) keyed by the hash of its inputs, so a
# second run with nothing changed takes seconds. Steps:
#   system    Debian packages: chromium (browser tours), wkhtmltopdf (PDF reports),
#             nginx (the load balancer of tools/cluster.sh),
#             libpq-dev/build-essential/python3-dev (to build Odoo's pins).
#             Installed with apt only when missing and when we are root.
#   postgres  a reachable PostgreSQL: the running server (PGHOST/PGPORT or the
#             default socket), else apt-installed when root, else a private
#             cluster under .cache/pgdata started with initdb/pg_ctl.
#   odoo      Odoo 18.0 source in $ODOO_SRC (default /opt/odoo/18.0); when it is
#             missing and the network allows, a shallow clone of the official
#             repository's 18.0 branch.
#   venv      .venv with Odoo's requirements (cbor2 and python-ldap adjusted)
#             plus requirements-test.txt, constrained by Odoo's pins, on the
#             first Python 3.10-3.12 found (Odoo 18's range; $PYTHON to choose).
#
# From the network: Debian packages (apt) for what is missing of the system
# step, and Python packages from PyPI for .venv (about 400 MB the first time);
# the Odoo source only when $ODOO_SRC is missing. Nothing else.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
ODOO_SRC="${ODOO_SRC:-/opt/odoo/18.0}"
ODOO_GIT_URL="${ODOO_GIT_URL:-https://github.com/odoo/odoo.git}"
pick_python() {
    # Odoo 18 supports Python 3.10 to 3.12; 3.11 is what CI tests with
    local candidate
    for candidate in ${PYTHON:-} python3.11 python3.12 python3.10 python3; do
        command -v "$candidate" >/dev/null 2>&1 || continue
        if "$candidate" -c 'import sys; sys.exit(not (3, 10) <= sys.version_info[:2] <= (3, 12))'; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}
PYTHON="$(pick_python || true)"
VENV="$ROOT/.venv"
CACHE="$ROOT/.cache"
mkdir -p "$CACHE"

log() { printf '\033[1;34m[setup]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[setup] ERROR:\033[0m %s\n' "$*" >&2; exit 1; }
is_root() { [ "$(id -u)" = 0 ]; }

apt_install() {
    # apt-get update once per run, only when something is actually missing
    if [ -z "${_APT_UPDATED:-}" ]; then
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >"$CACHE/apt.log" 2>&1 || true
        _APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" \
        >"$CACHE/apt.log" 2>&1 || { tail -20 "$CACHE/apt.log" >&2; die "apt-get install $* failed"; }
}

step_system() {
    local missing=()
    [ -n "$PYTHON" ] || die "no Python 3.10, 3.11 or 3.12 found (Odoo 18's range): apt-get install python3"
    command -v git >/dev/null 2>&1 || missing+=(git)  # the wheels' versions, the worktrees
    command -v msgmerge >/dev/null 2>&1 || missing+=(gettext)  # make i18n
    # Debian's python3 has no ensurepip (so no venv) without python3-venv
    "$PYTHON" -c 'import ensurepip' >/dev/null 2>&1 \
        || missing+=("python$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')-venv")
    command -v chromium >/dev/null 2>&1 || missing+=(chromium)
    command -v wkhtmltopdf >/dev/null 2>&1 || missing+=(wkhtmltopdf)
    command -v nginx >/dev/null 2>&1 || missing+=(nginx)  # tools/cluster.sh's load balancer
    command -v pg_config >/dev/null 2>&1 || missing+=(libpq-dev)
    command -v gcc >/dev/null 2>&1 || missing+=(build-essential)
    "$PYTHON" -c 'import sysconfig,os,sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"],"Python.h")))' \
        || missing+=(python3-dev)
    [ ${#missing[@]} -eq 0 ] && return 0
    if is_root && command -v apt-get >/dev/null 2>&1; then
        log "installing Debian packages: ${missing[*]}"
        apt_install "${missing[@]}"
    else
        log "WARNING: missing system packages (${missing[*]}); install them with apt as root"
    fi
}

pg_up() { pg_isready -q ${PGHOST:+-h "$PGHOST"} ${PGPORT:+-p "$PGPORT"} 2>/dev/null; }

step_postgres() {
    # 1. a running server (the usual case: the machine's own PostgreSQL)
    if command -v pg_isready >/dev/null 2>&1 && pg_up; then
        return 0
    fi
    # 2. an installed but stopped Debian cluster
    if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ] && is_root; then
        local ver
        ver=$(ls /etc/postgresql | sort -V | tail -1)
        if [ -n "$ver" ]; then
            log "starting PostgreSQL cluster $ver/main"
            pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
            sleep 1
            pg_up && return 0
        fi
    fi
    # 3. nothing installed: apt when root
    if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && is_root && command -v apt-get >/dev/null 2>&1; then
        log "installing PostgreSQL with apt"
        apt_install postgresql postgresql-client
        local ver
        ver=$(ls /etc/postgresql | sort -V | tail -1)
        pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
        sleep 1
        su postgres -c "createuser -s $(id -un)" 2>/dev/null || true
        pg_up && return 0
    fi
    # 4. binaries but no usable server: a private cluster under .cache/pgdata
    local bindir
    bindir=$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -1)")
    [ -x "$bindir/initdb" ] || die "no PostgreSQL found: install it (apt-get install postgresql) or set PGHOST/PGPORT to a running server"
    if is_root; then
        die "PostgreSQL binaries exist but no server runs; as root, start it with pg_ctlcluster or set PGHOST/PGPORT"
    fi
    local data="$CACHE/pgdata"
    if [ ! -d "$data" ]; then
        log "creating a private PostgreSQL cluster in $data"
        "$bindir/initdb" -D "$data" -A trust -U "$(id -un)" >/dev/null
    fi
    "$bindir/pg_ctl" -D "$data" -l "$CACHE/pg.log" -o "-k $CACHE -p ${PGPORT:-5432} -c listen_addresses=''" -w start
    die "private cluster started; export PGHOST=$CACHE and run the command again"
}

step_odoo() {
    if [ -f "$ODOO_SRC/odoo-bin" ]; then
        return 0
    fi
    log "Odoo source not found in $ODOO_SRC; trying a shallow clone of branch 18.0"
    if mkdir -p "$(dirname "$ODOO_SRC")" 2>/dev/null \
        && timeout 900 git clone --quiet --depth 1 --branch 18.0 "$ODOO_GIT_URL" "$ODOO_SRC.partial" 2>/dev/null; then
        mv "$ODOO_SRC.partial" "$ODOO_SRC"
        return 0
    fi
    rm -rf "$ODOO_SRC.partial"
    die "Odoo 18.0 source is missing and could not be cloned (no network?).
    Put an Odoo 18.0 Community tree at $ODOO_SRC (it must contain odoo-bin),
    or point ODOO_SRC at one:  make run ODOO_SRC=/path/to/odoo"
}

venv_inputs_hash() {
    cat "$ODOO_SRC/requirements.txt" "$ROOT/requirements.txt" "$ROOT/requirements-test.txt" \
        "$ROOT/requirements-lint.txt" \
        "$ROOT/tools/setup.sh" | sha1sum | cut -c1-16
    echo "$ODOO_SRC"
}

step_venv() {
    local stamp="$VENV/.setup-stamp" want
    want=$(venv_inputs_hash | tr '\n' ' ')
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$VENV/bin/python" ]; then
        return 0
    fi
    [ -n "$PYTHON" ] || die "no Python 3.10, 3.11 or 3.12 found (Odoo 18's range)"
    log "building .venv with $($PYTHON --version) from PyPI (a few minutes the first time)"
    [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
    local pip=("$VENV/bin/python" -m pip --disable-pip-version-check -q)
    # the bundled pip 23.2 makes `pip install -e` fall back to setup.py develop,
    # after which `odoo` fails on a missing zope.interface distribution
    "${pip[@]}" install --upgrade pip
    "${pip[@]}" install "setuptools>=69,<70" wheel
    # Odoo's pins, adjusted: cbor2 5.4.2 does not build on 3.11; python-ldap needs
    # LDAP headers and only serves auth_ldap.
    local oreq="$VENV/odoo-requirements.txt"
    sed -E -e 's/^cbor2==5\.4\.2.*/cbor2==5.6.2/' -e '/^python-ldap/d' "$ODOO_SRC/requirements.txt" > "$oreq"
    "${pip[@]}" install --no-build-isolation -r "$oreq"
    "${pip[@]}" install --no-build-isolation --no-deps -e "$ODOO_SRC"
    "${pip[@]}" install -c "$oreq" -r "$ROOT/requirements-test.txt"
    # OCA's checkers pin a polib Odoo pins otherwise: a venv of their own
    local lint="$CACHE/lint-venv"
    [ -x "$lint/bin/python" ] || "$PYTHON" -m venv "$lint"
    "$lint/bin/python" -m pip --disable-pip-version-check -q install -r "$ROOT/requirements-lint.txt"
    echo "$want" > "$stamp"
}

case "${1:-all}" in
    system) step_system ;;
    postgres) step_postgres ;;
    odoo) step_odoo ;;
    venv) step_odoo; step_venv ;;
    all) step_system; step_postgres; step_odoo; step_venv ;;
    *) die "unknown step ${1}" ;;
esac
