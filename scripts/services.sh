#!/usr/bin/env bash
# The real services integration tests talk to: an Apache Kafka 3.9 broker
# (scripts/kafka.sh, in DIR/kafka), a redis-server (scripts/redis.sh, in
# DIR/redis) and the delivery peers, an SMTP server and an SMS/app HTTP
# gateway (scripts/peers.sh, in DIR/peers), all on private 127.0.0.1 ports,
# started in parallel. ctest
# starts and stops them through the seintje_services fixture
# (tests/services/CMakeLists.txt); use it by hand for manual runs:
#
#   scripts/services.sh start /tmp/svc && source /tmp/svc/env
#   kcat -L -b "$SEINTJE_TEST_BROKERS"; redis-cli -u "$SEINTJE_TEST_REDIS_URL" PING
#   scripts/services.sh stop /tmp/svc
#
# usage: scripts/services.sh start DIR   start all (keeps running ones); DIR/env
#                                        gets SEINTJE_TEST_BROKERS,
#                                        SEINTJE_TEST_REDIS_URL and the peers'
#                                        SEINTJE_TEST_SMTP_*, _HTTP_* ...
#                                        (scripts/peers.sh)
#        scripts/services.sh stop DIR [--purge]
#                                        stop all (always all, idempotent)
#        scripts/services.sh status DIR  exit 0 if all run and answer
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }

write_env() { # DIR: DIR/env from the services' own env files, atomically
    local tmp
    tmp=$(mktemp "$1/env.XXXXXX")
    {
        echo "# Written by scripts/services.sh; source it from bash."
        cat "$1/kafka/env" "$1/redis/env" "$1/peers/env" 2>/dev/null || true
    } > "$tmp"
    chmod 644 "$tmp"
    mv -f "$tmp" "$1/env"
}

start() {
    local dir t0 kpid krc=0 rrc=0 prc=0
    mkdir -p "$1"
    dir=$(cd "$1" && pwd)
    t0=$SECONDS
    "$here/kafka.sh" start "$dir/kafka" &
    kpid=$!
    "$here/redis.sh" start "$dir/redis" || rrc=$?
    "$here/peers.sh" start "$dir/peers" || prc=$?
    wait "$kpid" || krc=$?
    if [ "$krc" -ne 0 ] || [ "$rrc" -ne 0 ] || [ "$prc" -ne 0 ]; then
        echo "services.sh: could not start the services (kafka rc=$krc, redis rc=$rrc, peers rc=$prc); stopping all" >&2
        stop "$dir" >&2
        return 1
    fi
    write_env "$dir"
    echo "services ready in $((SECONDS - t0))s; env: $dir/env"
    sed 's/^/  /' "$dir/env" | grep -v '^  #'
}

stop() {
    local dir rc=0
    [ -d "$1" ] || { echo "services not running ($1 does not exist)"; return 0; }
    dir=$(cd "$1" && pwd)
    "$here/kafka.sh" stop "$dir/kafka" ${2:+"$2"} || rc=1
    "$here/redis.sh" stop "$dir/redis" ${2:+"$2"} || rc=1
    "$here/peers.sh" stop "$dir/peers" ${2:+"$2"} || rc=1
    rm -f "$dir/env"
    return "$rc"
}

status() {
    local rc=0
    "$here/kafka.sh" status "$1/kafka" || rc=1
    "$here/redis.sh" status "$1/redis" || rc=1
    "$here/peers.sh" status "$1/peers" || rc=1
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
