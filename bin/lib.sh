# shellcheck shell=bash
# Shared functions of bin/up, bin/down, bin/test and bench/http.sh. Source it; it sets no
# shell options of its own. Call `stack_init dev` or `stack_init test` first: it sets the
# paths and ports of that stack (see the variables it exports).

ENCORE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
ENCORE_BIN="${ENCORE_BIN:-$ENCORE_ROOT/.build/release/encore}"
# The toolchain lives in /opt/swift on this kind of machine; find it even when PATH does not.
if ! command -v swift >/dev/null && [[ -x /opt/swift/usr/bin/swift ]]; then PATH="/opt/swift/usr/bin:$PATH"; fi

# ---------------------------------------------------------------------------- output
if [[ -t 1 ]]; then _B=$'\e[1m' _R=$'\e[31m' _G=$'\e[32m' _Y=$'\e[33m' _N=$'\e[0m'; else _B='' _R='' _G='' _Y='' _N=''; fi
step() { printf '%s==> %s%s\n' "$_B" "$*" "$_N"; }
info() { printf '    %s\n' "$*"; }
ok()   { printf '%s    %s%s\n' "$_G" "$*" "$_N"; }
warn() { printf '%swarning: %s%s\n' "$_Y" "$*" "$_N" >&2; }
die()  { printf '%serror: %s%s\n' "$_R" "$*" "$_N" >&2; exit 1; }
is_root() { [[ $EUID -eq 0 ]]; }

# Prints the last lines of a file, indented, if it exists.
show_tail() { # file [lines]
    [[ -s $1 ]] || return 0
    printf '    --- last lines of %s ---\n' "$1" >&2
    tail -n "${2:-30}" "$1" | sed 's/^/    | /' >&2
}

# The pool's settings file: $ENCORE_CONFIG, else encore.conf at the root (may not exist).
conf_file() { printf '%s' "${ENCORE_CONFIG:-$ENCORE_ROOT/encore.conf}"; }

# Value of `key = value` in the settings file (empty when absent). Comments start with #.
conf_get() { # key
    local f; f=$(conf_file)
    [[ -f $f ]] || return 0
    awk -v k="$1" -F= '
        /^[[:space:]]*#/ { next }
        { key = $1; gsub(/[[:space:]]/, "", key) }
        key == k { sub(/^[^=]*=[[:space:]]*/, ""); sub(/[[:space:]]+$/, ""); v = $0 }
        END { if (v != "") print v }' "$f"
}

# ---------------------------------------------------------------------------- stacks
# dev:  .data/        PostgreSQL 5433, nginx 127.0.0.1:8080, localstripe 8420, mail sink 2525 (bin/up, bin/down)
# test: .data/test/   PostgreSQL 5434, nginx 127.0.0.1:8081, localstripe 8421, mail sink 2526 (bin/test),
#                     so both can run at once.
stack_init() { # dev|test
    STACK=$1
    case $STACK in
        dev)
            STACK_DIR="$ENCORE_ROOT/.data"
            PG_PORT=${ENCORE_PG_PORT:-5433}
            DB_NAME=encore
            HTTP_LISTEN=${ENCORE_LISTEN:-127.0.0.1:${ENCORE_HTTP_PORT:-8080}}
            STRIPE_PORT=${ENCORE_STRIPE_PORT:-8420}
            MAIL_PORT=${ENCORE_MAIL_PORT:-2525}
            ;;
        test)
            STACK_DIR="$ENCORE_ROOT/.data/test"
            PG_PORT=${ENCORE_TEST_PG_PORT:-5434}
            DB_NAME=encore_test
            HTTP_LISTEN=127.0.0.1:${ENCORE_TEST_HTTP_PORT:-8081}
            STRIPE_PORT=${ENCORE_TEST_STRIPE_PORT:-8421}
            MAIL_PORT=${ENCORE_TEST_MAIL_PORT:-2526}
            ;;
        *) die "unknown stack '$STACK'" ;;
    esac
    HTTP_PORT=${HTTP_LISTEN##*:}
    local host=${HTTP_LISTEN%:*}
    [[ $host == 0.0.0.0 || $host == '*' || $host == "$HTTP_LISTEN" ]] && host=127.0.0.1
    BASE_URL="http://$host:$HTTP_PORT"
    RUN_DIR="$STACK_DIR/run"
    LOG_DIR="$STACK_DIR/log"
    SOCKET="$RUN_DIR/encore.sock"
    PID_FILE="$RUN_DIR/encore.pid"
    SID_FILE="$RUN_DIR/encore.sid"
    LOG_FILE="$LOG_DIR/encore.log"
    NGINX_PREFIX="$STACK_DIR/nginx"
    NGINX_CONF="$NGINX_PREFIX/nginx.conf"
    NGINX_PID="$NGINX_PREFIX/nginx.pid"
    NGINX_ERROR_LOG="$NGINX_PREFIX/logs/error.log"
    PG_DIR="$STACK_DIR/postgres"
    PGDATA_DIR="$PG_DIR/data"
    PG_RUN="$PG_DIR/run"
    PG_LOG="$PG_DIR/postgres.log"
    # DATABASE_URL (or database_url in encore.conf) of the dev stack points at a server
    # someone else runs: then no cluster is created or started. The test stack always
    # uses its own cluster.
    OWN_PG=1
    if [[ $STACK == dev ]]; then
        local url=${DATABASE_URL:-$(conf_get database_url)}
        if [[ -n $url ]]; then OWN_PG=0; DB_URL=$url; fi
    fi
    if [[ $OWN_PG == 1 ]]; then
        DB_URL="postgresql://encore@/$DB_NAME?host=$(url_escape "$PG_RUN")&port=$PG_PORT"
    fi
    STRIPE_API_BASE="http://127.0.0.1:$STRIPE_PORT"
    # The secret localstripe signs webhooks with and the pool checks them against.
    STRIPE_WEBHOOK_SECRET=${ENCORE_STRIPE_WEBHOOK_SECRET:-whsec_encore_${STACK}_local}
    export STACK STACK_DIR BASE_URL SOCKET PID_FILE LOG_FILE NGINX_PREFIX PGDATA_DIR PG_RUN PG_PORT DB_URL
    # The local SMTP sink keeps every e-mail the stack sends as a file here.
    MAIL_DIR="$STACK_DIR/mail"
    TICKET_KEY_FILE="$STACK_DIR/secrets/ticket-signing.key"
    export STRIPE_PORT STRIPE_API_BASE STRIPE_WEBHOOK_SECRET MAIL_PORT MAIL_DIR
}

url_escape() { local s=$1; s=${s//%/%25}; s=${s// /%20}; s=${s//&/%26}; s=${s//#/%23}; s=${s//+/%2B}; printf '%s' "$s"; }

# ---------------------------------------------------------------------------- install
# Debian packages the build, the stack and the tests need; add new system libraries here.
APT_PACKAGES=(libfcgi-dev libpq-dev libsodium-dev libcurl4-openssl-dev libqrencode-dev zbar-tools pkg-config nginx wrk postgresql curl ca-certificates procps poppler-utils)
BROWSER_PACKAGES=(chromium chromium-driver)

apt_missing() { # package... -> prints the ones not installed
    local p
    for p in "$@"; do
        dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'install ok installed' || printf '%s ' "$p"
    done
}

# Installs missing Debian packages and Python test tools. Fast when all is there.
# ENCORE_SKIP_INSTALL=1 skips it; ENCORE_SKIP_BROWSER=1 leaves out Chromium.
install_deps() {
    if [[ ${ENCORE_SKIP_INSTALL:-0} == 1 ]]; then info "ENCORE_SKIP_INSTALL=1: not installing anything"; return 0; fi
    command -v swift >/dev/null || die "swift is not on PATH (Swift 6.3 is expected at /opt/swift)"
    local pkgs=("${APT_PACKAGES[@]}")
    [[ ${ENCORE_SKIP_BROWSER:-0} == 1 ]] || pkgs+=("${BROWSER_PACKAGES[@]}")
    if ! command -v python3 >/dev/null; then pkgs+=(python3 python3-pip)
    elif ! python3 -m pip --version >/dev/null 2>&1; then pkgs+=(python3-pip); fi
    local missing=()
    read -ra missing <<<"$(apt_missing "${pkgs[@]}")"
    if ((${#missing[@]})); then
        is_root || die "missing Debian packages: ${missing[*]} (run as root, or install them)"
        step "Installing Debian packages: ${missing[*]}"
        apt_install "${missing[@]}"
    fi
    pip_install_missing
}

apt_install() { # packages...
    export DEBIAN_FRONTEND=noninteractive
    # Debian's nginx and postgresql packages start system services on install; Encore runs
    # its own instances, so keep the installer from starting any (policy-rc.d, exit 101).
    local policy=/usr/sbin/policy-rc.d added=0
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && added=1
    fi
    local rc=0 log="$ENCORE_ROOT/.data/apt.log"
    mkdir -p "$ENCORE_ROOT/.data"
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends "$@"; } >"$log" 2>&1 || rc=$?
    [[ $added == 1 ]] && rm -f "$policy"
    [[ $rc == 0 ]] || { show_tail "$log" 40; die "apt-get install failed ($rc); see $log"; }
    ok "installed (log: ${log#"$ENCORE_ROOT"/})"
}

pip_install_missing() {
    local req="$ENCORE_ROOT/requirements-test.txt" missing
    [[ -f $req ]] || return 0
    missing=$(python3 - "$req" <<'PY'
import re, sys
from importlib import metadata
missing = []
for line in open(sys.argv[1]):
    line = line.split("#", 1)[0].strip()
    if not line:
        continue
    name = re.split(r"[<>=!~;\[ ]", line, maxsplit=1)[0]
    try:
        metadata.version(name)
    except metadata.PackageNotFoundError:
        missing.append(name)
print(" ".join(missing))
PY
)
    [[ -z $missing ]] && return 0
    mkdir -p "$ENCORE_ROOT/.data"
    step "Installing Python packages: $missing"
    local args=(-m pip install --disable-pip-version-check --no-input -q -r "$req")
    is_root && args+=(--root-user-action=ignore)
    if ! python3 "${args[@]}" 2>"$ENCORE_ROOT/.data/pip.err"; then
        if grep -q externally-managed "$ENCORE_ROOT/.data/pip.err"; then
            python3 "${args[@]}" --break-system-packages || die "pip install failed"
        else
            cat "$ENCORE_ROOT/.data/pip.err" >&2; die "pip install failed"
        fi
    fi
}

# ---------------------------------------------------------------------------- build
build_release() {
    if [[ ${ENCORE_SKIP_BUILD:-0} == 1 ]]; then info "ENCORE_SKIP_BUILD=1: not building"; return 0; fi
    step "Building (swift build -c release)"
    (cd "$ENCORE_ROOT" && swift build -c release --product encore) || die "release build failed"
    [[ -x $ENCORE_BIN ]] || die "no binary at $ENCORE_BIN after the build"
}

# ---------------------------------------------------------------------------- PostgreSQL
pg_bindir() {
    local d
    d=$(pg_config --bindir 2>/dev/null || true)
    if [[ -z $d || ! -x $d/initdb ]]; then
        d=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    fi
    [[ -x $d/initdb ]] || die "PostgreSQL server binaries (initdb) not found; install the postgresql package"
    printf '%s' "$d"
}

# Runs a command as the PostgreSQL OS user: `postgres` when we are root (PostgreSQL
# refuses to run as root), ourselves otherwise.
PG_OS_USER=postgres
as_pg() {
    if is_root; then runuser -u "$PG_OS_USER" -- "$@"; else "$@"; fi
}

# The cluster lives in $PG_DIR unless the postgres user cannot reach that folder (a
# repository under /root, say): then it lives under /var/lib/encore and $PG_DIR is a link.
pg_prepare_dir() {
    mkdir -p "$STACK_DIR"
    is_root || return 0
    local link="$STACK_DIR/postgres"
    if [[ -L $link ]] || ! runuser -u "$PG_OS_USER" -- test -x "$STACK_DIR"; then
        local real
        real="/var/lib/encore/$(printf '%s' "$STACK_DIR" | sha1sum | cut -c1-12)/postgres"
        mkdir -p "$real"
        chmod 755 /var/lib/encore "$(dirname "$real")"
        [[ -L $link ]] || { rm -rf "$link"; ln -s "$real" "$link"; }
        PG_DIR=$real PGDATA_DIR="$real/data" PG_RUN="$real/run" PG_LOG="$real/postgres.log"
        DB_URL="postgresql://encore@/$DB_NAME?host=$(url_escape "$PG_RUN")&port=$PG_PORT"
        export PGDATA_DIR PG_RUN DB_URL
    fi
}

pg_ctl_cmd() { printf '%s/pg_ctl' "$(pg_bindir)"; }

pg_running() { [[ -f $PGDATA_DIR/PG_VERSION ]] && as_pg "$(pg_ctl_cmd)" -D "$PGDATA_DIR" status >/dev/null 2>&1; }

# initdb when there is no cluster yet; writes the settings every time.
pg_init() { # [fast]  fast: fsync off etc., for the throw-away test cluster
    local bin; bin=$(pg_bindir)
    mkdir -p "$PG_DIR"
    is_root && chown "$PG_OS_USER": "$PG_DIR"
    if [[ ! -s $PGDATA_DIR/PG_VERSION ]]; then
        step "Creating PostgreSQL cluster in $PGDATA_DIR"
        as_pg mkdir -p "$PGDATA_DIR"
        chmod 700 "$PGDATA_DIR"
        as_pg "$bin/initdb" -D "$PGDATA_DIR" -U postgres -E UTF8 --locale=C.UTF-8 \
            --auth-local=trust --auth-host=scram-sha-256 >"$PG_DIR/initdb.log" 2>&1 \
            || { show_tail "$PG_DIR/initdb.log"; die "initdb failed"; }
        printf "\n# Encore: settings written by bin/lib.sh on every start\ninclude_if_exists = 'encore.conf'\n" \
            | as_pg tee -a "$PGDATA_DIR/postgresql.conf" >/dev/null
    fi
    as_pg mkdir -p "$PG_RUN"
    chmod 700 "$PG_RUN"   # only postgres (and root) can reach the trust-auth socket
    {
        echo "listen_addresses = ''"
        echo "port = $PG_PORT"
        echo "unix_socket_directories = '$PG_RUN'"
        echo "max_connections = 200"
        echo "shared_buffers = 128MB"
        echo "log_line_prefix = '%m [%p] %q%u@%d '"
        # Statements per request, for the benchmarks (bench/signed_in.sh): top-level only.
        echo "shared_preload_libraries = 'pg_stat_statements'"
        echo "pg_stat_statements.track = top"
        if [[ ${1:-} == fast ]]; then
            echo "fsync = off"
            echo "synchronous_commit = off"
            echo "full_page_writes = off"
        fi
    } | as_pg tee "$PGDATA_DIR/encore.conf" >/dev/null
}

pg_start() {
    if pg_running; then ok "PostgreSQL already running ($PGDATA_DIR)"; return 0; fi
    step "Starting PostgreSQL (port $PG_PORT, socket in $PG_RUN)"
    as_pg touch "$PG_LOG"
    # setsid: the server gets its own session, so it outlives the shell that started it.
    local cmd=("$(pg_ctl_cmd)" -D "$PGDATA_DIR" -l "$PG_LOG" -w -t 60 start)
    is_root && cmd=(runuser -u "$PG_OS_USER" -- "${cmd[@]}")
    setsid -w "${cmd[@]}" >/dev/null || { show_tail "$PG_LOG"; die "PostgreSQL did not start"; }
}

pg_stop() {
    [[ -f $PGDATA_DIR/PG_VERSION ]] || return 0
    pg_running || return 0
    step "Stopping PostgreSQL ($PGDATA_DIR)"
    as_pg "$(pg_ctl_cmd)" -D "$PGDATA_DIR" -m fast -w -t 60 stop >/dev/null 2>&1 \
        || as_pg "$(pg_ctl_cmd)" -D "$PGDATA_DIR" -m immediate -w -t 30 stop >/dev/null 2>&1 \
        || warn "pg_ctl stop failed"
}

pg_psql() { # sql  (as the superuser, on the maintenance database)
    as_pg "$(pg_bindir)/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_RUN" -p "$PG_PORT" -U postgres -d postgres -tA -c "$1"
}

pg_ensure_db() { # dbname
    if [[ -z $(pg_psql "SELECT 1 FROM pg_roles WHERE rolname = 'encore'") ]]; then
        pg_psql "CREATE ROLE encore LOGIN CREATEDB" || die "cannot create role encore"
    fi
    if [[ -z $(pg_psql "SELECT 1 FROM pg_database WHERE datname = '$1'") ]]; then
        pg_psql "CREATE DATABASE $1 OWNER encore ENCODING 'UTF8'" || die "cannot create database $1"
        info "created database $1"
    fi
}

pg_recreate_db() { # dbname
    pg_psql "DROP DATABASE IF EXISTS $1 WITH (FORCE)" || die "cannot drop database $1"
    pg_ensure_db "$1"
}

# ---------------------------------------------------------------------------- processes
pid_alive() { [[ -n ${1:-} ]] && kill -0 "$1" 2>/dev/null; }
read_pid() { [[ -s $1 ]] && tr -dc '0-9' <"$1"; }
# The pid in a pid file if that process runs and its command line contains a pattern.
pid_from_file() { # file pattern
    local pid; pid=$(read_pid "$1") || return 1
    pid_alive "$pid" || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$2" || return 1
    printf '%s' "$pid"
}
wait_gone() { # seconds pid...   -> 0 when all are gone
    local deadline=$((SECONDS + $1)) p alive; shift
    while :; do
        alive=0
        for p in "$@"; do pid_alive "$p" && alive=1; done
        [[ $alive == 0 ]] && return 0
        ((SECONDS >= deadline)) && return 1
        sleep 0.1
    done
}

# Keeps one old generation of a log that has grown past 64 MiB (called before a fresh start).
rotate_if_big() { # file
    [[ -f $1 ]] || return 0
    (($(stat -c %s "$1") > 64 * 1024 * 1024)) && mv -f "$1" "$1.1"
    return 0
}

# ---------------------------------------------------------------------------- nginx
nginx_user_directive() {
    is_root || return 0
    if [[ -n ${ENCORE_NGINX_USER:-} ]]; then printf 'user %s;' "$ENCORE_NGINX_USER"; return; fi
    # Workers drop to nobody; they must read public/ and reach the pool's socket folder.
    if runuser -u nobody -- test -r "$ENCORE_ROOT/public/robots.txt" 2>/dev/null \
        && runuser -u nobody -- test -x "$RUN_DIR" 2>/dev/null; then
        printf 'user nobody nogroup;'
    else
        local owner; owner=$(stat -c %U "$ENCORE_ROOT")
        warn "user nobody cannot read $ENCORE_ROOT; nginx workers run as $owner"
        printf 'user %s %s;' "$owner" "$(id -gn "$owner")"
    fi
}

sed_escape() { printf '%s' "$1" | sed -e 's/[\\|&]/\\&/g'; }

nginx_render() {
    mkdir -p "$NGINX_PREFIX"/{logs,temp} "$RUN_DIR" "$LOG_DIR"
    local timeout body
    # nginx waits 5 s longer than the pool's request timeout (seconds, may be fractional).
    timeout=${ENCORE_REQUEST_TIMEOUT:-$(conf_get request_timeout)}
    timeout=$(awk -v t="${timeout:-30}" 'BEGIN { t += 0; if (t <= 0) t = 30; printf "%d", (t == int(t) ? t : int(t) + 1) + 5 }')
    body=${ENCORE_BODY_LIMIT:-$(conf_get body_limit)}; body=${body:-1m}
    local -A vars=(
        [USER_DIRECTIVE]="$(nginx_user_directive)"
        [WORKERS]="${ENCORE_NGINX_WORKERS:-1}"
        [PREFIX]="$NGINX_PREFIX"
        [PUBLIC]="$ENCORE_ROOT/public"
        [ERRORS]="$ENCORE_ROOT/nginx/errors"
        [LISTEN]="$HTTP_LISTEN"
        [SOCKET]="$SOCKET"
        [BODY_LIMIT]="$body"
        [UPSTREAM_TIMEOUT]="$timeout"
    )
    local script='/^[[:space:]]*#/!{' k   # comments keep their placeholders
    for k in "${!vars[@]}"; do script+="s|@$k@|$(sed_escape "${vars[$k]}")|g;"; done
    script+='}'
    sed -e "$script" "$ENCORE_ROOT/nginx/nginx.conf" >"$NGINX_CONF.new"
    if grep -n '^[^#]*@[A-Z_]*@' "$NGINX_CONF.new" >&2; then die "unrendered placeholder in nginx.conf"; fi
    mv "$NGINX_CONF.new" "$NGINX_CONF"
}

nginx_cmd() { nginx -p "$NGINX_PREFIX/" -e "$NGINX_ERROR_LOG" -c "$NGINX_CONF" "$@"; }
nginx_pid() { pid_from_file "$NGINX_PID" nginx; }

nginx_start() {
    nginx_render
    nginx_cmd -t -q 2>"$NGINX_PREFIX/logs/check.log" || { cat "$NGINX_PREFIX/logs/check.log" >&2; die "nginx configuration test failed"; }
    if nginx_pid >/dev/null; then
        step "Reloading nginx ($HTTP_LISTEN)"
        nginx_cmd -s reload || die "nginx reload failed"
    else
        step "Starting nginx on $HTTP_LISTEN"
        rotate_if_big "$NGINX_PREFIX/logs/access.log"
        rotate_if_big "$NGINX_ERROR_LOG"
        nginx_cmd || { show_tail "$NGINX_ERROR_LOG"; die "nginx did not start"; }
    fi
}

nginx_stop() {
    local pid workers
    pid=$(nginx_pid) || return 0
    step "Stopping nginx"
    workers=$(pgrep -P "$pid" | tr '\n' ' ' || true)
    nginx_cmd -s quit 2>/dev/null || kill -QUIT "$pid" 2>/dev/null || true
    # shellcheck disable=SC2086
    if ! wait_gone 15 "$pid" $workers; then
        warn "nginx did not quit in 15 s; killing it"
        # shellcheck disable=SC2086
        kill -KILL "$pid" $workers 2>/dev/null || true
        wait_gone 5 "$pid" || true
    fi
    rm -f "$NGINX_PID"
}

# ---------------------------------------------------------------------------- the pool
pool_pid() { pid_from_file "$PID_FILE" encore; }

# Starts `encore serve` in the background (own session, output appended to the log), or
# sends SIGHUP to a running pool so it reloads with the freshly built binary.
pool_start() { # [extra env assignments...]
    mkdir -p "$RUN_DIR" "$LOG_DIR"
    local pid
    if pid=$(pool_pid); then
        step "Reloading the pool (SIGHUP to $pid)"
        kill -HUP "$pid"
        return 0
    fi
    rm -f "$SOCKET" "$PID_FILE"
    rotate_if_big "$LOG_FILE"
    local args=(serve --socket "$SOCKET" --pid-file "$PID_FILE" --database-url "$DB_URL")
    [[ -f $(conf_file) ]] && args+=(--config "$(conf_file)")
    step "Starting the pool (log: ${LOG_FILE#"$ENCORE_ROOT"/})"
    (cd "$ENCORE_ROOT" && exec env "$@" setsid "$ENCORE_BIN" "${args[@]}" >>"$LOG_FILE" 2>&1 </dev/null) &
    local started=$!
    echo "$started" >"$SID_FILE"
    # Wait for the supervisor's pid file and socket.
    local deadline=$((SECONDS + ${ENCORE_POOL_START_TIMEOUT:-20}))
    until [[ -S $SOCKET ]] && pool_pid >/dev/null; do
        if ! pid_alive "$started" && ! pool_pid >/dev/null; then
            show_tail "$LOG_FILE"; die "the pool exited at start (see $LOG_FILE)"
        fi
        ((SECONDS < deadline)) || { show_tail "$LOG_FILE"; die "the pool wrote no pid file and socket in time"; }
        sleep 0.1
    done
    pid=$(pool_pid)
    ps -o sid= -p "$pid" | tr -dc '0-9' >"$SID_FILE"
    ok "pool running, pid $pid"
}

# SIGTERM, wait for in-flight requests, SIGKILL after the timeout. Every process of the
# pool's session (supervisor and workers) must be gone afterwards.
pool_stop() {
    local pid sid
    pid=$(pool_pid || true)
    sid=$(read_pid "$SID_FILE" || true)
    [[ -n $pid ]] && sid=$(ps -o sid= -p "$pid" | tr -dc '0-9')
    # Never our own session (a pool started without setsid): then only the pid counts.
    if [[ -n $sid ]] && { ((sid <= 1)) || [[ $sid == "$(ps -o sid= -p $$ | tr -dc '0-9')" ]]; }; then sid=''; fi
    local targets=()
    [[ -n $pid ]] && targets+=("$pid")
    if [[ -n $sid ]]; then mapfile -t -O "${#targets[@]}" targets < <(pgrep -s "$sid" 2>/dev/null || true); fi
    if ((${#targets[@]} == 0)); then rm -f "$PID_FILE" "$SID_FILE" "$SOCKET"; return 0; fi
    step "Stopping the pool"
    if [[ -n $pid ]]; then kill -TERM "$pid" 2>/dev/null || true; else kill -TERM "${targets[@]}" 2>/dev/null || true; fi
    local timeout=${ENCORE_STOP_TIMEOUT:-40}
    if ! wait_gone "$timeout" "${targets[@]}"; then
        warn "pool still running after ${timeout}s; sending SIGKILL"
        kill -KILL "${targets[@]}" 2>/dev/null || true
        wait_gone 5 "${targets[@]}" || true
    fi
    # Stragglers that joined the session later (workers started during the shutdown).
    if [[ -n $sid ]] && pgrep -s "$sid" >/dev/null 2>&1; then
        pkill -KILL -s "$sid" 2>/dev/null || true
        sleep 0.2
    fi
    rm -f "$PID_FILE" "$SID_FILE" "$SOCKET"
}

# ---------------------------------------------------------------------------- localstripe
# localstripe (PyPI, requirements-test.txt) plays Stripe's HTTP API on $STRIPE_API_BASE; see
# docs/localstripe.md for what it does and does not do. It starts empty every time and forgets
# its webhook endpoints when it stops. It listens on all interfaces ('::').
# Out of the box it pickles its whole store to /tmp/localstripe.pickle (one file for every
# instance on the machine) after every object it writes, which slows every payment more the
# more there are (docs/localstripe.md has the figures). Started from scratch, nothing reads the
# file back, so the start command below turns the dump off (LOCALSTRIPE_MAIN).
LOCALSTRIPE_MAIN='import sys, localstripe.resources as r, localstripe.server as s
r.Store.dump_to_disk = lambda self: None
sys.argv[0] = "localstripe"
s.start()'
localstripe_pid() { pid_from_file "$RUN_DIR/localstripe.pid" localstripe; }

# Whether it answers an authenticated API call (any key that starts with sk_ will do).
localstripe_answers() {
    [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 -H 'Authorization: Bearer sk_test_encore' \
        "$STRIPE_API_BASE/v1/customers?limit=1" 2>/dev/null) == 200 ]]
}

# Starts it in the background in a session of its own, unless it already runs (then it is
# kept, with its state), and waits until it answers.
localstripe_start() {
    mkdir -p "$RUN_DIR" "$LOG_DIR"
    local pid log="$LOG_DIR/localstripe.log" pid_file="$RUN_DIR/localstripe.pid"
    if pid=$(localstripe_pid) && localstripe_answers; then
        ok "localstripe already running on $STRIPE_API_BASE (pid $pid)"
        return 0
    fi
    [[ -n ${pid:-} ]] && localstripe_stop   # running but not answering: start it afresh
    if localstripe_answers; then die "something else answers on $STRIPE_API_BASE (port $STRIPE_PORT is taken)"; fi
    python3 -c 'import localstripe' 2>/dev/null \
        || die "localstripe is not installed for python3 (pip install -r requirements-test.txt)"
    rotate_if_big "$log"
    step "Starting localstripe on $STRIPE_API_BASE (log: ${log#"$ENCORE_ROOT"/})"
    # python3: the same interpreter pip installed it for, whatever is on PATH. setsid: its own
    # session, so it outlives the shell that started it. setsid forks when it is a process group
    # leader (under job control), so the process writes its own pid before it becomes localstripe.
    rm -f "$pid_file"
    # shellcheck disable=SC2016  # $$, $1 and $@ are the inner shell's
    setsid sh -c 'echo $$ >"$1"; shift; exec "$@"' sh "$pid_file" \
        python3 -c "$LOCALSTRIPE_MAIN" --port "$STRIPE_PORT" --from-scratch >>"$log" 2>&1 </dev/null &
    local deadline=$((SECONDS + ${ENCORE_LOCALSTRIPE_START_TIMEOUT:-30}))
    until [[ -s $pid_file ]] || ((SECONDS >= deadline)); do sleep 0.05; done
    pid=$(read_pid "$pid_file" || true)
    until localstripe_answers; do
        if ! pid_alive "$pid"; then show_tail "$log"; rm -f "$pid_file"; die "localstripe exited at start (see $log)"; fi
        if ((SECONDS >= deadline)); then
            show_tail "$log"; localstripe_stop; die "localstripe did not answer on $STRIPE_API_BASE in time"
        fi
        sleep 0.2
    done
    ok "localstripe running on $STRIPE_API_BASE, pid $pid"
}

# SIGTERM, then SIGKILL after 10 s; returns when it is gone.
localstripe_stop() {
    local pid pid_file="$RUN_DIR/localstripe.pid"
    pid=$(localstripe_pid) || { rm -f "$pid_file"; return 0; }
    step "Stopping localstripe"
    kill -TERM "$pid" 2>/dev/null || true
    if ! wait_gone 10 "$pid"; then
        warn "localstripe did not stop in 10 s; killing it"
        kill -KILL "$pid" 2>/dev/null || true
        wait_gone 5 "$pid" || warn "localstripe (pid $pid) is still running"
    fi
    rm -f "$pid_file"
}

# Registers (or replaces) webhook endpoint `id` with localstripe: it then POSTs every event (or
# only the listed types) to `url`, signed with `secret`, once, with no retry.
# Registers Encore's webhook endpoint (this stack's nginx) with localstripe, signed with the
# stack's secret. localstripe forgets it when it stops, so every start registers it.
localstripe_register_encore() {
    localstripe_register_webhook encore "$BASE_URL/webhooks/stripe" "$STRIPE_WEBHOOK_SECRET"
}

# Whether the dev stack pays through localstripe (no stripe_api_base configured) or a gateway
# the operator names (real Stripe in test mode: README, "Payments").
stripe_is_local() {
    [[ $STACK == test || -z ${ENCORE_STRIPE_API_BASE:-$(conf_get stripe_api_base)} ]]
}

# The pool's settings for the gateway, as environment assignments for pool_start.
stripe_pool_env() {
    printf '%s\n' "ENCORE_STRIPE_API_BASE=$STRIPE_API_BASE" "ENCORE_STRIPE_WEBHOOK_SECRETS=$STRIPE_WEBHOOK_SECRET"
}

localstripe_register_webhook() { # id url secret [event types...]
    local id=$1 url=$2 secret=$3 args=()
    shift 3
    args=(--data-urlencode "url=$url" --data-urlencode "secret=$secret")
    local type; for type in "$@"; do args+=(--data-urlencode "events[]=$type"); done
    curl -fsS -o /dev/null --max-time 5 "${args[@]}" "$STRIPE_API_BASE/_config/webhooks/$id" \
        || die "could not register webhook $id with localstripe at $STRIPE_API_BASE"
}

# ---------------------------------------------------------------------------- mail sink
# bin/mail-sink (aiosmtpd, requirements-test.txt) is the stack's SMTP server: it accepts every
# message on 127.0.0.1:$MAIL_PORT and keeps it in $MAIL_DIR as <Message-ID>.eml, with one JSON
# line per receipt in $MAIL_DIR/received.jsonl. Addresses starting with "bounce" are refused
# for good (550), "defer" for now (451).
mailsink_pid() { pid_from_file "$RUN_DIR/mail-sink.pid" python3; }

mailsink_answers() { # whether something speaks SMTP on the port
    python3 - "$MAIL_PORT" <<'PY' 2>/dev/null
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1)
sys.exit(0 if s.recv(64).startswith(b"220") else 1)
PY
}

mailsink_start() {
    mkdir -p "$RUN_DIR" "$LOG_DIR" "$MAIL_DIR"
    local pid log="$LOG_DIR/mail-sink.log" pid_file="$RUN_DIR/mail-sink.pid"
    if pid=$(mailsink_pid) && mailsink_answers; then
        ok "mail sink already running on 127.0.0.1:$MAIL_PORT (pid $pid)"
        return 0
    fi
    [[ -n ${pid:-} ]] && mailsink_stop
    if mailsink_answers; then die "something else answers on port $MAIL_PORT (the mail sink's)"; fi
    python3 -c 'import aiosmtpd' 2>/dev/null \
        || die "aiosmtpd is not installed for python3 (pip install -r requirements-test.txt)"
    rotate_if_big "$log"
    step "Starting the mail sink on 127.0.0.1:$MAIL_PORT (messages: ${MAIL_DIR#"$ENCORE_ROOT"/})"
    rm -f "$pid_file"
    # shellcheck disable=SC2016  # $$, $1 and $@ are the inner shell's
    setsid sh -c 'echo $$ >"$1"; shift; exec "$@"' sh "$pid_file" \
        python3 "$ENCORE_ROOT/bin/mail-sink" --port "$MAIL_PORT" --dir "$MAIL_DIR" >>"$log" 2>&1 </dev/null &
    local deadline=$((SECONDS + 20))
    until [[ -s $pid_file ]] || ((SECONDS >= deadline)); do sleep 0.05; done
    pid=$(read_pid "$pid_file" || true)
    until mailsink_answers; do
        if ! pid_alive "$pid"; then show_tail "$log"; rm -f "$pid_file"; die "the mail sink exited at start (see $log)"; fi
        if ((SECONDS >= deadline)); then show_tail "$log"; mailsink_stop; die "the mail sink did not answer in time"; fi
        sleep 0.1
    done
    ok "mail sink running on 127.0.0.1:$MAIL_PORT, pid $pid"
}

mailsink_stop() {
    local pid pid_file="$RUN_DIR/mail-sink.pid"
    pid=$(mailsink_pid) || { rm -f "$pid_file"; return 0; }
    step "Stopping the mail sink"
    kill -TERM "$pid" 2>/dev/null || true
    if ! wait_gone 10 "$pid"; then kill -KILL "$pid" 2>/dev/null || true; wait_gone 5 "$pid" || true; fi
    rm -f "$pid_file"
}

# Whether the dev stack mails through the sink (no smtp_host configured) or a real server.
mail_is_local() {
    [[ $STACK == test || -z ${ENCORE_SMTP_HOST:-$(conf_get smtp_host)} ]]
}

# The stack's ticket-signing key: made once (random, 32 bytes as hex) and kept in
# $TICKET_KEY_FILE, readable by its owner only, so tickets stay valid across restarts.
ticket_key() {
    if [[ ! -s $TICKET_KEY_FILE ]]; then
        mkdir -p "$(dirname "$TICKET_KEY_FILE")"
        (umask 077 && python3 -c 'import secrets; print(secrets.token_hex(32))' >"$TICKET_KEY_FILE")
    fi
    cat "$TICKET_KEY_FILE"
}

# The pool's settings the stack provides, as environment assignments for pool_start: the
# gateway (localstripe), the mail sink, the ticket key and the public URL, each unless the
# operator configured their own.
stack_pool_env() {
    if stripe_is_local; then stripe_pool_env; fi
    if mail_is_local; then printf '%s\n' "ENCORE_SMTP_HOST=127.0.0.1" "ENCORE_SMTP_PORT=$MAIL_PORT" "ENCORE_SMTP_SECURITY=none"; fi
    if [[ $STACK == test || -z ${ENCORE_TICKET_SIGNING_KEYS:-$(conf_get ticket_signing_keys)} ]]; then
        printf '%s\n' "ENCORE_TICKET_SIGNING_KEYS=$(ticket_key)"
    fi
    if [[ $STACK == test || -z ${ENCORE_PUBLIC_URL:-$(conf_get public_url)} ]]; then
        printf '%s\n' "ENCORE_PUBLIC_URL=$BASE_URL"
    fi
}

# ---------------------------------------------------------------------------- checks
# Benchmarks: waits until the 1-minute load average is below `limit` (or `wait` seconds have passed);
# prints what it was at the end.
wait_for_quiet() { # limit wait
    local deadline=$((SECONDS + $2)) load
    while :; do
        load=$(cut -d' ' -f1 /proc/loadavg)
        awk -v l="$load" -v m="$1" 'BEGIN { exit !(l < m) }' && break
        ((SECONDS < deadline)) || { warn "load average still $load after $2 s; measuring anyway"; break; }
        sleep 10
    done
    cut -d' ' -f1-3 /proc/loadavg
}

http_status() { # url
    curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$1" 2>/dev/null || true
}

wait_healthy() { # [timeout seconds]
    local timeout=${1:-60} deadline code
    deadline=$((SECONDS + timeout))
    info "waiting for $BASE_URL/healthz (up to ${timeout}s)"
    while :; do
        code=$(http_status "$BASE_URL/healthz")
        [[ $code == 200 ]] && { ok "$BASE_URL/healthz answers 200"; return 0; }
        if ((SECONDS >= deadline)); then
            warn "$BASE_URL/healthz did not answer 200 within ${timeout}s (last status: ${code:-none})"
            show_tail "$LOG_FILE" 30
            show_tail "$NGINX_ERROR_LOG" 10
            return 1
        fi
        sleep 0.25
    done
}

# Processes of this stack still alive (by pid files and the pool's session): prints them.
stack_leftovers() {
    local pid sid
    for f in "$PID_FILE" "$NGINX_PID" "$RUN_DIR/localstripe.pid" "$RUN_DIR/mail-sink.pid"; do
        pid=$(read_pid "$f" || true)
        pid_alive "$pid" && ps -o pid=,args= -p "$pid"
    done
    sid=$(read_pid "$SID_FILE" || true)
    [[ -n $sid ]] && pgrep -a -s "$sid" 2>/dev/null
    pgrep -a -f "nginx: master process nginx -p $NGINX_PREFIX/" 2>/dev/null
    [[ $OWN_PG == 1 && -f $PGDATA_DIR/postmaster.pid ]] && {
        pid=$(head -n 1 "$PGDATA_DIR/postmaster.pid")
        pid_alive "$pid" && ps -o pid=,args= -p "$pid"
    }
    return 0
}
