#!/usr/bin/env bash
# The real peers `seintje deliver` talks to in integration tests and
# benchmarks: an SMTP server (tests/peers/smtp_server.py: STARTTLS, implicit
# TLS, AUTH, every message kept as a file) in DIR/smtp and an HTTP gateway
# (tests/peers/http_gateway.py: generic SMS webhook, Twilio-style SMS API,
# OAuth2 + citizen-app inbox) in DIR/http, on free private 127.0.0.1 ports,
# with fresh credentials and one self-signed certificate (DIR/tls) for both.
# Both can be told to fail (see each script's --help, or its file header).
#
# usage: scripts/peers.sh start DIR     start (or keep) both; writes DIR/env
#        scripts/peers.sh stop DIR [--purge]
#                                       SIGTERM, up to 10 s, then SIGKILL
#                                       (always both, idempotent); --purge
#                                       also deletes recordings, logs, keys
#        scripts/peers.sh status DIR    exit 0 if both run and answer
#
# DIR/env (other lines in it are kept) gets, for sourcing from bash:
#   SEINTJE_TEST_SMTP_HOST, SEINTJE_TEST_SMTP_PORT (STARTTLS required),
#   SEINTJE_TEST_SMTP_TLS_PORT (implicit TLS), SEINTJE_TEST_SMTP_USER,
#   SEINTJE_TEST_SMTP_PASSWORD and SEINTJE_TEST_SMTP_PASSWORD_FILE,
#   SEINTJE_TEST_SMTP_CA (the certificate, its own CA), SEINTJE_TEST_SMTP_SPOOL
#   (NNNNNNNN.eml per message, index.jsonl), SEINTJE_TEST_SMTP_ADMIN_URL;
#   SEINTJE_TEST_HTTP_URL (gateway base URL), SEINTJE_TEST_HTTPS_URL (same
#   over TLS, CA SEINTJE_TEST_HTTP_CA), SEINTJE_TEST_HTTP_SPOOL (*.jsonl
#   recordings), SEINTJE_TEST_TWILIO_SID, SEINTJE_TEST_TWILIO_TOKEN(_FILE),
#   SEINTJE_TEST_INBOX_CLIENT_ID, SEINTJE_TEST_INBOX_CLIENT_SECRET(_FILE),
#   SEINTJE_TEST_INBOX_TOKEN_TTL.
# The gateway's admin endpoints are under SEINTJE_TEST_HTTP_URL/_admin/.
# Environment: SEINTJE_PEERS_PYTHON (default /usr/bin/python3, which has
# Debian's aiosmtpd), SEINTJE_PEERS_TOKEN_TTL (access-token lifetime, s,
# default 5), SEINTJE_PEERS_START_TIMEOUT (seconds, default 30),
# SEINTJE_PEERS_ARGS_SMTP / SEINTJE_PEERS_ARGS_HTTP (extra options, e.g.
# --no-store or --log-level debug).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
peers=$(cd "$here/../tests/peers" && pwd)
py=${SEINTJE_PEERS_PYTHON:-/usr/bin/python3}
token_ttl=${SEINTJE_PEERS_TOKEN_TTL:-5}
start_timeout=${SEINTJE_PEERS_START_TIMEOUT:-30}
names=(smtp http)
env_keys='SEINTJE_TEST_(SMTP|HTTP|HTTPS|TWILIO|INBOX)_'

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }
die() { echo "peers.sh: $*" >&2; exit 1; }

script_of() { # NAME
    case $1 in smtp) echo smtp_server.py ;; http) echo http_gateway.py ;; esac
}

alive() { # PID: running (a zombie waiting for its parent to reap it is not)
    local state
    state=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null) || return 1
    [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

pid_of() { # DIR NAME: pid of our peer NAME in DIR, if alive and really it
    local pid
    pid=$(cat "$1/$2/$2.pid" 2>/dev/null) || return 1
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    alive "$pid" || return 1
    grep -qs "$(script_of "$2")" "/proc/$pid/cmdline" || return 1
    echo "$pid"
}

ready_value() { # DIR NAME KEY: a value from the peer's ready file
    sed -n "s/^$3=//p" "$1/$2/ready" 2>/dev/null
}

answers() { # DIR NAME: the peer's admin endpoint says ok
    local url
    case $2 in
    smtp) url=$(ready_value "$1" smtp SEINTJE_TEST_SMTP_ADMIN_URL) ;;
    http) url=$(ready_value "$1" http SEINTJE_TEST_HTTP_URL) ;;
    esac
    [ -n "$url" ] && [ "$(curl -fsS --max-time 5 "$url/_admin/health" 2>/dev/null)" = ok ]
}

secret() { # FILE: create FILE (0600) with a random secret unless it exists
    [ -s "$1" ] && return 0
    (umask 077 && od -An -N16 -tx1 /dev/urandom | tr -d ' \n' > "$1")
}

write_env() { # DIR: replace our lines of DIR/env, keep the others
    local dir=$1 tmp s=$1/secrets
    tmp=$(mktemp "$dir/env.XXXXXX")
    {
        { grep -Ev "^$env_keys" "$dir/env" 2>/dev/null || true; }
        grep -E "^SEINTJE_TEST_SMTP_(HOST|PORT|TLS_PORT|ADMIN_URL|CA|SPOOL|USER)=" "$dir/smtp/ready"
        echo "SEINTJE_TEST_SMTP_PASSWORD=$(cat "$s/smtp-password")"
        echo "SEINTJE_TEST_SMTP_PASSWORD_FILE=$s/smtp-password"
        grep -E "^SEINTJE_TEST_HTTPS?_(URL|SPOOL)=" "$dir/http/ready"
        echo "SEINTJE_TEST_HTTP_CA=$dir/tls/cert.pem"
        echo "SEINTJE_TEST_TWILIO_SID=$(cat "$s/twilio-sid")"
        echo "SEINTJE_TEST_TWILIO_TOKEN=$(cat "$s/twilio-token")"
        echo "SEINTJE_TEST_TWILIO_TOKEN_FILE=$s/twilio-token"
        echo "SEINTJE_TEST_INBOX_CLIENT_ID=seintje-test"
        echo "SEINTJE_TEST_INBOX_CLIENT_SECRET=$(cat "$s/inbox-client-secret")"
        echo "SEINTJE_TEST_INBOX_CLIENT_SECRET_FILE=$s/inbox-client-secret"
        echo "SEINTJE_TEST_INBOX_TOKEN_TTL=$(cat "$s/token-ttl")"
    } > "$tmp"
    chmod 644 "$tmp"
    mv -f "$tmp" "$dir/env"
}

unset_env() { # DIR: drop our lines from DIR/env (the file goes when empty)
    local env=$1/env tmp
    [ -f "$env" ] || return 0
    tmp=$(mktemp "$env.XXXXXX")
    grep -Ev "^$env_keys" "$env" > "$tmp" || true
    if grep -qv '^#' "$tmp"; then
        chmod 644 "$tmp"
        mv -f "$tmp" "$env"
    else
        rm -f "$tmp" "$env"
    fi
}

# launch DIR NAME ARGS...: start the peer detached (its own session, stdio
# to files, so ctest's pipes are not held) and record its pid.
launch() {
    local dir=$1 name=$2 pid
    shift 2
    rm -f "$dir/$name/ready" "$dir/$name/$name.pid"
    setsid "$py" "$peers/$(script_of "$name")" --ready-file "$dir/$name/ready" "$@" \
        < /dev/null > "$dir/$name/$name.out" 2> "$dir/$name/$name.log" &
    pid=$!
    echo "$pid" > "$dir/$name/$name.pid"
}

wait_ready() { # DIR NAME
    local dir=$1 name=$2 deadline=$((SECONDS + start_timeout)) pid
    pid=$(cat "$dir/$name/$name.pid")
    while [ "$SECONDS" -lt "$deadline" ]; do
        if [ -s "$dir/$name/ready" ] && answers "$dir" "$name"; then
            # The peer's own word for its pid (setsid may have forked).
            ready_value "$dir" "$name" "SEINTJE_TEST_${name^^}_PID" > "$dir/$name/$name.pid"
            return 0
        fi
        if ! alive "$pid"; then
            echo "peers.sh: $(script_of "$name") exited during start:" >&2
            tail -n 20 "$dir/$name/$name.log" >&2
            return 1
        fi
        sleep 0.1
    done
    echo "peers.sh: $(script_of "$name") not ready within ${start_timeout}s" >&2
    tail -n 20 "$dir/$name/$name.log" >&2
    return 1
}

start() {
    local dir s rc=0
    [ -x "$py" ] || die "no $py (scripts/install-deps.sh)"
    "$py" -c 'import aiosmtpd' 2>/dev/null || die "$py cannot import aiosmtpd (scripts/install-deps.sh: python3-aiosmtpd)"
    command -v openssl >/dev/null || die "no openssl (scripts/install-deps.sh)"
    command -v curl >/dev/null || die "no curl (scripts/install-deps.sh)"
    mkdir -p "$1"
    dir=$(cd "$1" && pwd)
    if pid_of "$dir" smtp >/dev/null && pid_of "$dir" http >/dev/null &&
        answers "$dir" smtp && answers "$dir" http; then
        write_env "$dir"
        echo "peers already running ($dir): smtp pid $(pid_of "$dir" smtp), http pid $(pid_of "$dir" http)"
        return 0
    fi
    stop "$dir" > /dev/null
    mkdir -p "$dir/smtp" "$dir/http" "$dir/secrets"
    s=$dir/secrets
    secret "$s/smtp-password"
    secret "$s/twilio-token"
    secret "$s/inbox-client-secret"
    [ -s "$s/twilio-sid" ] || echo "AC$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')" > "$s/twilio-sid"
    echo "$token_ttl" > "$s/token-ttl"
    if [ ! -s "$dir/tls/cert.pem" ]; then
        "$py" -c 'import sys; sys.path.insert(0, sys.argv[1]); import peerlib; peerlib.make_cert(sys.argv[2])' \
            "$peers" "$dir/tls" || die "could not make a certificate in $dir/tls"
    fi
    # shellcheck disable=SC2086 # extra options are words on purpose
    launch "$dir" smtp --dir "$dir/smtp" --tls-port 0 --cert "$dir/tls/cert.pem" \
        --key "$dir/tls/key.pem" --user seintje --password-file "$s/smtp-password" \
        ${SEINTJE_PEERS_ARGS_SMTP:-}
    # shellcheck disable=SC2086
    launch "$dir" http --dir "$dir/http/recordings" --https-port 0 \
        --cert "$dir/tls/cert.pem" --key "$dir/tls/key.pem" \
        --twilio-sid "$(cat "$s/twilio-sid")" --twilio-token-file "$s/twilio-token" \
        --client-id seintje-test --client-secret-file "$s/inbox-client-secret" \
        --token-ttl "$token_ttl" ${SEINTJE_PEERS_ARGS_HTTP:-}
    wait_ready "$dir" smtp || rc=1
    wait_ready "$dir" http || rc=1
    if [ "$rc" -ne 0 ]; then
        stop "$dir" >&2
        die "could not start the peers in $dir"
    fi
    write_env "$dir"
    echo "peers running ($dir): smtp on 127.0.0.1:$(ready_value "$dir" smtp SEINTJE_TEST_SMTP_PORT)" \
        "(tls $(ready_value "$dir" smtp SEINTJE_TEST_SMTP_TLS_PORT), pid $(pid_of "$dir" smtp))," \
        "http on $(ready_value "$dir" http SEINTJE_TEST_HTTP_URL) (pid $(pid_of "$dir" http))"
}

stop_one() { # DIR NAME
    local dir=$1 name=$2 pid i
    if pid=$(pid_of "$dir" "$name"); then
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < 100; i++)); do
            alive "$pid" || break
            sleep 0.1
        done
        if alive "$pid"; then
            echo "peers.sh: $(script_of "$name") $pid ignored SIGTERM for 10 s, sending SIGKILL" >&2
            kill -KILL "$pid" 2>/dev/null || true
        fi
        echo "$name peer stopped (pid $pid, $dir/$name)"
    else
        echo "$name peer not running ($dir/$name)"
    fi
    rm -f "$dir/$name/$name.pid" "$dir/$name/ready"
}

stop() {
    local dir
    [ -d "$1" ] || { echo "peers not running ($1 does not exist)"; return 0; }
    dir=$(cd "$1" && pwd)
    stop_one "$dir" http
    stop_one "$dir" smtp
    unset_env "$dir"
    if [ "${2:-}" = --purge ]; then
        rm -rf "$dir/smtp" "$dir/http" "$dir/secrets" "$dir/tls"
    fi
}

status() {
    local dir rc=0 name
    dir=$(cd "$1" 2>/dev/null && pwd) || { echo "peers not running ($1 does not exist)"; return 1; }
    for name in "${names[@]}"; do
        if pid_of "$dir" "$name" >/dev/null && answers "$dir" "$name"; then
            echo "$name peer running (pid $(pid_of "$dir" "$name"), $dir/$name)"
        else
            echo "$name peer not running ($dir/$name)"
            rc=1
        fi
    done
    return "$rc"
}

case "${1:-}" in
start | status) [ $# -eq 2 ] || { usage >&2; exit 2; }; "$1" "$2" ;;
stop)
    [ $# -eq 2 ] || { [ $# -eq 3 ] && [ "$3" = --purge ]; } || { usage >&2; exit 2; }
    stop "$2" "${3:-}"
    ;;
-h | --help | help) usage ;;
*) usage >&2; exit 2 ;;
esac
