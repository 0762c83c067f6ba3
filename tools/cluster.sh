#!/usr/bin/env bash
# A production-shaped cluster on this one machine: a PostgreSQL primary and a
# streaming replica, several Odoo nodes in multi-worker mode, and nginx in
# front. For the scale-out test and benchmark, and to try a deployment recipe
# before writing it into a real one (README, "Deploying at scale").
#
#   tools/cluster.sh up [--nodes N]   start (creating on first use) every part
#   tools/cluster.sh load SRC [DB]    copy database SRC of the machine's server
#                                     (and its filestore) to the primary as DB
#   tools/cluster.sh status           each part, whether it answers, the lag
#   tools/cluster.sh kill-node N      SIGKILL node N's processes (a crash)
#   tools/cluster.sh stop-node N      stop node N (SIGTERM, then SIGKILL after 30 s)
#   tools/cluster.sh start-node N     start node N again
#   tools/cluster.sh down             stop every part, by process id
#   tools/cluster.sh destroy          down, then delete .cache/cluster
#
# Layout (everything under $CLUSTER_DIR, default .cache/cluster):
#   pg/primary  pg/replica   data directories (owned by the postgres OS user
#                            when we are root: initdb refuses to run as root)
#   data/                    the Odoo nodes' shared data_dir: filestore and
#                            HTTP sessions. Every node must see the same one,
#                            so nothing needs sticky sessions; on several
#                            machines it is an NFS/CephFS mount.
#   node<N>/odoo.conf  .pid  .log
#   lb/nginx.conf  nginx.pid  access.log  error.log
#
# Ports (loopback only): primary $CLUSTER_PG_PORT (55432), replica the next
# one; the load balancer $CLUSTER_PORT (8260); node N serves HTTP on
# CLUSTER_PORT + 10*(N-1) + 1 and its gevent (websocket) port on the next:
# 8261/8262, 8271/8272, ...
#
# Each Odoo node runs the database $CLUSTER_DB (crm_cluster) on the primary,
# with db_replica_host pointing at the replica: Odoo 18 serves the
# @api.readonly calls (searches, reads, read_group: lists, pivots, graphs)
# on the replica and everything else on the primary.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="${CLUSTER_DIR:-$ROOT/.cache/cluster}"
ODOO_SRC="${ODOO_SRC:-/opt/odoo/18.0}"
PYTHON="${CLUSTER_PYTHON:-$ROOT/.venv/bin/python}"
PG_PORT="${CLUSTER_PG_PORT:-55432}"
REPLICA_PORT=$((PG_PORT + 1))
LB_PORT="${CLUSTER_PORT:-8260}"
DB="${CLUSTER_DB:-crm_cluster}"
WORKERS="${CLUSTER_WORKERS:-2}"
DB_USER="$(id -un)"
[ "$DB_USER" = postgres ] && DB_USER=odoo  # Odoo refuses to connect as postgres
SLOT=crm_cluster_replica

log() { printf '\033[1;34m[cluster]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[cluster] ERROR:\033[0m %s\n' "$*" >&2; exit 1; }
is_root() { [ "$(id -u)" = 0 ]; }

pg_bin() {
    local initdb
    initdb=$(ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -1)
    [ -n "$initdb" ] || die "no PostgreSQL binaries (apt-get install postgresql)"
    dirname "$initdb"
}
PG_BIN="$(pg_bin)"

# PostgreSQL's own commands run as the postgres OS user when we are root
as_pg() {
    if is_root; then runuser -u postgres -- "$@"; else "$@"; fi
}

nodes_file="$DIR/nodes"
node_count() { cat "$nodes_file" 2>/dev/null || echo 2; }
node_http_port() { echo $((LB_PORT + 10 * ($1 - 1) + 1)); }
node_gevent_port() { echo $((LB_PORT + 10 * ($1 - 1) + 2)); }

pid_alive() {
    # a killed process nobody reaped yet (a zombie) is not alive
    [ -f "$1" ] || return 1
    local state
    state=$(ps -o stat= -p "$(cat "$1")" 2>/dev/null) || return 1
    [ -n "$state" ] && [ "${state:0:1}" != Z ]
}

# --- PostgreSQL ---------------------------------------------------------------

pg_conf() {
    # $1 data dir, $2 port
    cat >>"$1/postgresql.conf" <<EOF

# --- tools/cluster.sh ---
listen_addresses = '127.0.0.1'
port = $2
unix_socket_directories = '$DIR/pg/run'
shared_buffers = ${CLUSTER_PG_SHARED_BUFFERS:-512MB}
max_connections = 200
wal_level = replica
max_wal_senders = 10
max_replication_slots = 10
hot_standby = on
hot_standby_feedback = on
# the replica answers long report queries while the primary vacuums
max_standby_streaming_delay = 30s
EOF
}

pg_start() {
    # $1 name, $2 data dir
    if as_pg "$PG_BIN/pg_ctl" -D "$2" status >/dev/null 2>&1; then
        return 0
    fi
    log "starting PostgreSQL $1"
    as_pg "$PG_BIN/pg_ctl" -D "$2" -l "$DIR/pg/$1.log" -w -t 120 start >/dev/null \
        || { tail -20 "$DIR/pg/$1.log" >&2; die "PostgreSQL $1 did not start"; }
}

pg_stop() {
    if [ -f "$2/postmaster.pid" ] && as_pg "$PG_BIN/pg_ctl" -D "$2" status >/dev/null 2>&1; then
        log "stopping PostgreSQL $1"
        as_pg "$PG_BIN/pg_ctl" -D "$2" -m fast -w -t 60 stop >/dev/null
    fi
}

psql_primary() { psql -X -q -t -A -h 127.0.0.1 -p "$PG_PORT" -U "$DB_USER" -v ON_ERROR_STOP=1 "$@"; }
psql_replica() { psql -X -q -t -A -h 127.0.0.1 -p "$REPLICA_PORT" -U "$DB_USER" -v ON_ERROR_STOP=1 "$@"; }

primary_up() {
    mkdir -p "$DIR/pg/run"
    is_root && chown postgres: "$DIR/pg" "$DIR/pg/run"
    if [ ! -f "$DIR/pg/primary/PG_VERSION" ]; then
        log "creating the primary in $DIR/pg/primary"
        # the bootstrap superuser is the OS user Odoo connects as
        as_pg "$PG_BIN/initdb" -D "$DIR/pg/primary" -A trust -U "$DB_USER" -E UTF8 \
            --locale=C.UTF-8 >/dev/null
        pg_conf "$DIR/pg/primary" "$PG_PORT"
    fi
    pg_start primary "$DIR/pg/primary"
}

replica_up() {
    if [ ! -f "$DIR/pg/replica/PG_VERSION" ]; then
        log "cloning the replica from the primary (pg_basebackup, slot $SLOT)"
        psql_primary -d postgres -c \
            "SELECT pg_drop_replication_slot('$SLOT') FROM pg_replication_slots WHERE slot_name = '$SLOT'" \
            >/dev/null
        mkdir -p "$DIR/pg/replica"
        is_root && chown postgres: "$DIR/pg/replica"
        chmod 700 "$DIR/pg/replica"
        # -R writes standby.signal and primary_conninfo; -C -S keeps the WAL
        # the replica has not replayed yet, however far behind it falls
        as_pg "$PG_BIN/pg_basebackup" -h 127.0.0.1 -p "$PG_PORT" -U "$DB_USER" \
            -D "$DIR/pg/replica" -R -X stream -C -S "$SLOT" -c fast
        sed -i "s/^port = $PG_PORT\$/port = $REPLICA_PORT/" "$DIR/pg/replica/postgresql.conf"
    fi
    pg_start replica "$DIR/pg/replica"
}

# --- Odoo nodes ---------------------------------------------------------------

addons_path() {
    [ -f "$ROOT/.cache/odoo.conf" ] || "$PYTHON" "$ROOT/tools/suite.py" conf >/dev/null
    sed -n 's/^addons_path *= *//p' "$ROOT/.cache/odoo.conf"
}

node_conf() {
    local n=$1 d="$DIR/node$1"
    mkdir -p "$d" "$DIR/data"
    cat >"$d/odoo.conf" <<EOF
; node $n of tools/cluster.sh: generated, edit the script instead
[options]
addons_path = $(addons_path)
data_dir = $DIR/data
db_host = 127.0.0.1
db_port = $PG_PORT
db_replica_host = 127.0.0.1
db_replica_port = $REPLICA_PORT
db_user = $DB_USER
dbfilter = ^$DB\$
list_db = False
admin_passwd = admin
proxy_mode = True
http_interface = 127.0.0.1
http_port = $(node_http_port "$n")
gevent_port = $(node_gevent_port "$n")
workers = $WORKERS
max_cron_threads = ${CLUSTER_CRON_THREADS:-2}
db_maxconn = 32
limit_time_cpu = 3600
limit_time_real = 7200
limit_memory_soft = 4294967296
limit_memory_hard = 5368709120
log_level = ${CLUSTER_LOG_LEVEL:-info}
logfile = $d/odoo.log
pidfile = $d/odoo.pid
EOF
}

node_start() {
    local n=$1 d="$DIR/node$1"
    if pid_alive "$d/odoo.pid"; then
        return 0
    fi
    node_conf "$n"
    log "starting Odoo node $n (HTTP $(node_http_port "$n"), websocket $(node_gevent_port "$n"), $WORKERS workers)"
    # its own session and process group: stopped or killed as a whole
    setsid "$PYTHON" "$ODOO_SRC/odoo-bin" -c "$d/odoo.conf" </dev/null >>"$d/odoo.log" 2>&1 &
    echo $! >"$d/odoo.pid"
}

node_wait() {
    local n=$1 i
    for i in $(seq 1 120); do
        if curl -fs -o /dev/null -m 2 "http://127.0.0.1:$(node_http_port "$n")/web/health"; then
            return 0
        fi
        pid_alive "$DIR/node$n/odoo.pid" || { tail -20 "$DIR/node$n/odoo.log" >&2; die "Odoo node $n died"; }
        sleep 1
    done
    die "Odoo node $n does not answer on port $(node_http_port "$n")"
}

node_signal() {
    # $1 node, $2 signal: the whole process group (the master and its workers)
    local pidf="$DIR/node$1/odoo.pid"
    pid_alive "$pidf" || return 0
    kill "-$2" -- "-$(cat "$pidf")" 2>/dev/null || kill "-$2" "$(cat "$pidf")" 2>/dev/null || true
}

node_stop() {
    local n=$1 pidf="$DIR/node$1/odoo.pid" i
    pid_alive "$pidf" || { rm -f "$pidf"; return 0; }
    log "stopping Odoo node $n"
    node_signal "$n" TERM
    for i in $(seq 1 30); do
        pid_alive "$pidf" || break
        sleep 1
    done
    node_signal "$n" KILL
    rm -f "$pidf"
}

# --- load balancer --------------------------------------------------------------

lb_conf() {
    local n servers="" chat=""
    for n in $(seq 1 "$(node_count)"); do
        # a node that refuses connections is out for 5 s, its requests go on
        servers+="        server 127.0.0.1:$(node_http_port "$n") max_fails=1 fail_timeout=5s;"$'\n'
        chat+="        server 127.0.0.1:$(node_gevent_port "$n") max_fails=1 fail_timeout=5s;"$'\n'
    done
    mkdir -p "$DIR/lb"
    cat >"$DIR/lb/nginx.conf" <<EOF
# tools/cluster.sh: generated, edit the script instead
$(is_root && echo "user root;")
worker_processes 2;
pid $DIR/lb/nginx.pid;
error_log $DIR/lb/error.log warn;
events { worker_connections 1024; }
http {
    access_log $DIR/lb/access.log;
    client_body_temp_path $DIR/lb/tmp_body;
    proxy_temp_path $DIR/lb/tmp_proxy;
    fastcgi_temp_path $DIR/lb/tmp_fastcgi;
    uwsgi_temp_path $DIR/lb/tmp_uwsgi;
    scgi_temp_path $DIR/lb/tmp_scgi;
    client_max_body_size 64m;
    # round robin, sticky on nothing: the sessions live in the shared data_dir
    upstream odoo {
$servers        keepalive 16;
    }
    upstream odoochat {
$chat    }
    map \$http_upgrade \$connection_upgrade { default upgrade; '' close; }
    server {
        listen 127.0.0.1:$LB_PORT;
        proxy_read_timeout 720s;
        proxy_connect_timeout 2s;
        proxy_set_header Host \$http_host;
        proxy_set_header X-Forwarded-Host \$http_host;
        proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto \$scheme;
        proxy_set_header X-Real-IP \$remote_addr;
        add_header X-Cluster-Node \$upstream_addr always;
        location /websocket {
            proxy_pass http://odoochat;
            proxy_http_version 1.1;
            proxy_set_header Upgrade \$http_upgrade;
            proxy_set_header Connection \$connection_upgrade;
        }
        location / {
            proxy_pass http://odoo;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            # a node that dies before answering: the request goes to the next
            # one, POSTs included; the contact-center API is idempotent by
            # external id, so a replayed event is not a duplicate
            proxy_next_upstream error timeout http_502 http_503 non_idempotent;
        }
    }
}
EOF
}

lb_start() {
    command -v nginx >/dev/null 2>&1 || {
        if is_root && command -v apt-get >/dev/null 2>&1; then
            log "installing nginx"
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx \
                >/dev/null || die "apt-get install nginx failed"
        else
            die "nginx is missing: apt-get install nginx"
        fi
    }
    lb_conf
    if pid_alive "$DIR/lb/nginx.pid"; then
        nginx -p "$DIR/lb" -c "$DIR/lb/nginx.conf" -s reload
        return 0
    fi
    log "starting nginx on 127.0.0.1:$LB_PORT"
    nginx -p "$DIR/lb" -c "$DIR/lb/nginx.conf"
}

lb_stop() {
    pid_alive "$DIR/lb/nginx.pid" || return 0
    log "stopping nginx"
    local pid i
    pid=$(cat "$DIR/lb/nginx.pid")
    kill -QUIT "$pid" 2>/dev/null || true
    for i in $(seq 1 20); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.5
    done
    kill -KILL "$pid" 2>/dev/null || true
}

# --- commands -----------------------------------------------------------------

cmd_up() {
    local nodes
    nodes=$(node_count)
    while [ $# -gt 0 ]; do
        case "$1" in
            --nodes) nodes="$2"; shift 2 ;;
            *) die "unknown option $1" ;;
        esac
    done
    mkdir -p "$DIR"
    echo "$nodes" >"$nodes_file"
    [ -f "$ODOO_SRC/odoo-bin" ] || die "no Odoo in $ODOO_SRC (make setup)"
    [ -x "$PYTHON" ] || die "no $PYTHON (make setup)"
    primary_up
    replica_up
    local n
    for n in $(seq 1 "$nodes"); do node_start "$n"; done
    for n in $(seq 1 "$nodes"); do node_wait "$n"; done
    lb_start
    cmd_status
}

cmd_load() {
    local src="${1:-}" dst="${2:-$DB}"
    [ -n "$src" ] || die "usage: cluster.sh load SRC_DB [DB]"
    pg_isready -q -h 127.0.0.1 -p "$PG_PORT" || die "the primary is not running (cluster.sh up)"
    log "copying database $src to the primary as $dst"
    psql_primary -d postgres -c "DROP DATABASE IF EXISTS \"$dst\" WITH (FORCE)" >/dev/null
    psql_primary -d postgres -c "CREATE DATABASE \"$dst\"" >/dev/null
    PGDATABASE="$src" pg_dump -Fc --no-owner --no-acl \
        | pg_restore --no-owner --no-acl -h 127.0.0.1 -p "$PG_PORT" -U "$DB_USER" -d "$dst"
    # a restored database has no statistics (and this cluster's autovacuum
    # may not have come by yet): plans must not depend on that
    psql_primary -d "$dst" -c "ANALYZE" >/dev/null
    local store="" cand
    for cand in "${CLUSTER_FILESTORE:-}" "$ROOT/.cache/data/filestore/$src" \
        "${CRM_SUITE_TEMPLATE_STORE:-$HOME/.cache/crm_suite_templates}/filestore/$src"; do
        [ -n "$cand" ] && [ -d "$cand" ] && { store="$cand"; break; }
    done
    rm -rf "$DIR/data/filestore/$dst"
    mkdir -p "$DIR/data/filestore"
    if [ -n "$store" ]; then
        cp -r "$store" "$DIR/data/filestore/$dst"
    else
        log "no filestore found for $src: attachments stored in files will be missing"
    fi
    log "loaded $dst ($(psql_primary -d "$dst" -c "SELECT pg_size_pretty(pg_database_size(current_database()))"))"
}

cmd_status() {
    local ok=0 n state
    printf '%-9s %-17s %s\n' PART ADDRESS STATE
    if pg_isready -q -h 127.0.0.1 -p "$PG_PORT"; then
        state="up, accepting; replicas streaming: $(psql_primary -d postgres -c \
            "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'")"
    else
        state="DOWN"; ok=1
    fi
    printf '%-9s %-17s %s\n' primary "127.0.0.1:$PG_PORT" "$state"
    if pg_isready -q -h 127.0.0.1 -p "$REPLICA_PORT"; then
        # bytes of WAL not replayed yet (from the primary), and the time since
        # the last replayed transaction was committed (0 when idle and caught up)
        local bytes lag
        bytes=$(psql_primary -d postgres -c \
            "SELECT coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn), 0)::bigint
               FROM pg_stat_replication LIMIT 1" 2>/dev/null || echo "?")
        lag=$(psql_replica -d postgres -c \
            "SELECT CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN '0'
                         ELSE coalesce(round(extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 1)::text, '?')
                    END" 2>/dev/null || echo "?")
        state="up, read-only (in recovery: $(psql_replica -d postgres -c "SELECT pg_is_in_recovery()")), lag ${bytes:-?} bytes / ${lag} s"
    else
        state="DOWN"; ok=1
    fi
    printf '%-9s %-17s %s\n' replica "127.0.0.1:$REPLICA_PORT" "$state"
    for n in $(seq 1 "$(node_count)"); do
        if pid_alive "$DIR/node$n/odoo.pid"; then
            if curl -fsS -o /dev/null -m 3 "http://127.0.0.1:$(node_http_port "$n")/web/health"; then
                state="up (pid $(cat "$DIR/node$n/odoo.pid")), answers"
            else
                state="running (pid $(cat "$DIR/node$n/odoo.pid")), NOT ANSWERING"; ok=1
            fi
        else
            state="DOWN"; ok=1
        fi
        printf '%-9s %-17s %s\n' "node$n" "127.0.0.1:$(node_http_port "$n")" "$state"
    done
    if pid_alive "$DIR/lb/nginx.pid"; then
        if curl -fsS -o /dev/null -m 3 "http://127.0.0.1:$LB_PORT/web/health"; then
            state="up (pid $(cat "$DIR/lb/nginx.pid")), answers"
        else
            state="running (pid $(cat "$DIR/lb/nginx.pid")), NOT ANSWERING"; ok=1
        fi
    else
        state="DOWN"; ok=1
    fi
    printf '%-9s %-17s %s\n' nginx "127.0.0.1:$LB_PORT" "$state"
    return $ok
}

cmd_down() {
    lb_stop
    local n
    for n in $(seq 1 "$(node_count)"); do node_stop "$n"; done
    pg_stop replica "$DIR/pg/replica"
    pg_stop primary "$DIR/pg/primary"
}

case "${1:-}" in
    up) shift; cmd_up "$@" ;;
    load) shift; cmd_load "$@" ;;
    status) cmd_status ;;
    down) cmd_down ;;
    destroy) cmd_down; rm -rf "$DIR" ;;
    kill-node)
        [ -n "${2:-}" ] || die "usage: cluster.sh kill-node N"
        pid_alive "$DIR/node$2/odoo.pid" || die "node $2 is not running"
        log "killing node $2 (SIGKILL to its process group $(cat "$DIR/node$2/odoo.pid"))"
        node_signal "$2" KILL
        ;;
    stop-node)
        [ -n "${2:-}" ] || die "usage: cluster.sh stop-node N"
        node_stop "$2"
        ;;
    start-node)
        [ -n "${2:-}" ] || die "usage: cluster.sh start-node N"
        node_start "$2"
        node_wait "$2"
        ;;
    *)
        sed -n '2,36p' "$0" | sed 's/^# \{0,1\}//'
        exit 2
        ;;
esac
