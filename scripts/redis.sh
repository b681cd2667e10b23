#!/usr/bin/env bash
# A private redis-server for integration tests and manual runs: a free port on
# 127.0.0.1, its own directory, no persistence (nothing survives a stop).
#
# usage: scripts/redis.sh start DIR     start (or keep) a server; writes DIR/env
#        scripts/redis.sh stop DIR [--purge]
#                                       SHUTDOWN NOSAVE, then SIGTERM, then
#                                       after 30 s SIGKILL; --purge also
#                                       deletes redis.log
#        scripts/redis.sh status DIR    exit 0 if running and answering PING
#
# DIR afterwards holds redis.pid, redis.log, port and env, with the line
# `SEINTJE_TEST_REDIS_URL=redis://127.0.0.1:PORT` (other lines of DIR/env are
# kept, so Kafka and Redis may share one env file).
# Environment: SEINTJE_REDIS_SERVER (default: redis-server on PATH),
# SEINTJE_REDIS_START_TIMEOUT (seconds, default 30).
set -euo pipefail

server=${SEINTJE_REDIS_SERVER:-redis-server}
start_timeout=${SEINTJE_REDIS_START_TIMEOUT:-30}

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }
die() { echo "redis.sh: $*" >&2; exit 1; }

free_port() { # one free port on 127.0.0.1 below the ephemeral range
    python3 - <<'PY'
import random, socket
try:
    low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
except OSError:
    low = 32768
pool = list(range(10000, low)) if low > 12000 else []
random.shuffle(pool)
for port in pool + [0]:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            continue
        print(s.getsockname()[1])
        break
PY
}

alive() { # PID: running (a zombie waiting for its parent to reap it is not)
    local state
    state=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null) || return 1
    [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

pid_of() { # DIR: pid of our redis-server in DIR, if alive and really redis
    local pid
    pid=$(cat "$1/redis.pid" 2>/dev/null) || return 1
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    grep -qs redis-server "/proc/$pid/cmdline" || return 1
    echo "$pid"
}

answers() { # PORT
    [ "$(redis-cli -h 127.0.0.1 -p "$1" --no-auth-warning PING 2>/dev/null)" = PONG ]
}

set_env() { # FILE KEY VALUE: replace or add the line KEY=VALUE
    local tmp
    tmp=$(mktemp "$1.XXXXXX")
    { grep -v "^$2=" "$1" 2>/dev/null || true; echo "$2=$3"; } > "$tmp"
    chmod 644 "$tmp"
    mv -f "$tmp" "$1"
}

unset_env() { # FILE KEY
    [ -f "$1" ] || return 0
    local tmp
    tmp=$(mktemp "$1.XXXXXX")
    grep -v "^$2=" "$1" > "$tmp" || true
    chmod 644 "$tmp"
    mv -f "$tmp" "$1"
}

# launch DIR PORT: 0 when PING answers, 3 when the port was taken, 1 otherwise.
launch() {
    local dir=$1 port=$2 deadline pid
    rm -f "$dir/redis.pid"
    : > "$dir/redis.log"
    # daemonize: the server detaches from this script's stdio (ctest pipes).
    "$server" --port "$port" --bind 127.0.0.1 --protected-mode yes \
        --save "" --appendonly no --dir "$dir" --dbfilename dump.rdb \
        --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" \
        --databases 32 < /dev/null > /dev/null 2>&1 ||
        { tail -n 20 "$dir/redis.log" >&2; return 1; }
    deadline=$((SECONDS + start_timeout))
    while [ "$SECONDS" -lt "$deadline" ]; do
        if answers "$port"; then
            # The port answers: make sure it is our server, not someone else's.
            pid=$(redis-cli -h 127.0.0.1 -p "$port" INFO server 2>/dev/null |
                sed -n 's/^process_id:\([0-9]*\).*/\1/p')
            [ -n "$pid" ] && [ "$pid" = "$(pid_of "$dir" || true)" ] && return 0
        fi
        if grep -qs "Address already in use" "$dir/redis.log"; then return 3; fi
        if grep -qs "# Warning: Could not create server TCP\|Failed listening" "$dir/redis.log"; then
            return 3
        fi
        sleep 0.1
    done
    echo "redis.sh: redis-server did not answer on 127.0.0.1:$port within ${start_timeout}s" >&2
    tail -n 20 "$dir/redis.log" >&2
    stop "$dir" >/dev/null 2>&1 || true
    return 1
}

start() {
    local dir port rc=1 attempt
    command -v "$server" >/dev/null || die "no $server (scripts/install-deps.sh)"
    command -v redis-cli >/dev/null || die "no redis-cli (scripts/install-deps.sh)"
    mkdir -p "$1"
    dir=$(cd "$1" && pwd)
    if pid_of "$dir" >/dev/null && port=$(cat "$dir/port" 2>/dev/null) && answers "$port"; then
        set_env "$dir/env" SEINTJE_TEST_REDIS_URL "redis://127.0.0.1:$port"
        echo "redis already running on 127.0.0.1:$port (pid $(pid_of "$dir"), $dir)"
        return 0
    fi
    stop "$dir" >/dev/null
    for attempt in 1 2 3; do
        port=$(free_port)
        rc=0
        launch "$dir" "$port" || rc=$?
        [ "$rc" -eq 3 ] || break
        echo "redis.sh: port $port was taken meanwhile, retrying ($attempt)" >&2
        stop "$dir" >/dev/null
    done
    [ "$rc" -eq 0 ] || die "could not start redis-server in $dir"
    echo "$port" > "$dir/port"
    set_env "$dir/env" SEINTJE_TEST_REDIS_URL "redis://127.0.0.1:$port"
    echo "redis running on 127.0.0.1:$port (pid $(pid_of "$dir"), $dir)"
}

stop() {
    local dir pid port i
    [ -d "$1" ] || { echo "redis not running ($1 does not exist)"; return 0; }
    dir=$(cd "$1" && pwd)
    if pid=$(pid_of "$dir"); then
        port=$(cat "$dir/port" 2>/dev/null || true)
        if [ -n "$port" ]; then
            redis-cli -h 127.0.0.1 -p "$port" SHUTDOWN NOSAVE > /dev/null 2>&1 || true
        fi
        kill -TERM "$pid" 2>/dev/null || true # already gone after SHUTDOWN: fine
        for ((i = 0; i < 300; i++)); do
            alive "$pid" || break
            sleep 0.1
        done
        if alive "$pid"; then
            echo "redis.sh: redis-server $pid ignored SIGTERM for 30 s, sending SIGKILL" >&2
            kill -KILL "$pid" 2>/dev/null || true
        fi
        echo "redis stopped (pid $pid, $dir)"
    else
        echo "redis not running ($dir)"
    fi
    rm -f "$dir/redis.pid" "$dir/port"
    unset_env "$dir/env" SEINTJE_TEST_REDIS_URL
    if [ "${2:-}" = --purge ]; then rm -f "$dir/redis.log" "$dir/dump.rdb"; fi
}

status() {
    local dir pid port
    dir=$(cd "$1" 2>/dev/null && pwd) || { echo "redis not running ($1 does not exist)"; return 1; }
    if pid=$(pid_of "$dir") && port=$(cat "$dir/port" 2>/dev/null) && answers "$port"; then
        echo "redis running on 127.0.0.1:$port (pid $pid, $dir)"
        return 0
    fi
    echo "redis not running ($dir)"
    return 1
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
