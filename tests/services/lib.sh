# Shared helpers for integration test scripts (bash). An integration test is a
# script registered with sj_integration_test() in CMake; ctest runs it with the
# seintje_services fixture up and SEINTJE_SERVICES_ENV, SEINTJE_BIN,
# SEINTJE_SOURCE_DIR, SEINTJE_BUILD_DIR set. Typical use:
#
#   source "$SEINTJE_SOURCE_DIR/tests/services/lib.sh"
#   sj_load_env                      # exports SEINTJE_TEST_BROKERS, ..._REDIS_URL
#   sj_workdir; cd "$SJ_WORK"        # temp dir, removed on exit
#   topic=$(sj_topic 3)              # new topic with 3 partitions
#   printf 'k1:a\nk2:b\n' | kcat -P -b "$SEINTJE_TEST_BROKERS" -t "$topic" -K:
#   assert_eq 2 "$(sj_count "$topic")" "messages in $topic"
#
# The services are shared by all integration tests and tests may run in
# parallel (ctest -j): use a fresh topic per test (sj_topic) and Redis keys
# under a prefix of your own (sj_unique), never FLUSHDB/FLUSHALL -- except in
# a Redis database of the test's own (scripts/redis.sh starts the server with
# 32). Taken: 3-4 deliver_smtp, 5-6 deliver_http, 7-8 deliver_kill,
# 11 segment_engine, 12-13 e2e_thin_slice, 16-20 segment_kill, 21 experiment_rebuild, 22 e2e_experiment (15: the
# benchmarks). The segment stage's schedule (sj:{sched}:due) is one key per
# database: two engines sharing a database release each other's steps.
# Set SEINTJE_KEEP_WORK=1 to keep the work directory for a look afterwards.
set -euo pipefail

SJ_ROOT=${SEINTJE_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
SJ_TEST=$(basename "${BASH_SOURCE[1]:-$0}" .sh)

# fail MSG...: print why the test failed and exit 1.
fail() {
    echo "FAIL ($SJ_TEST): $*" >&2
    exit 1
}

# note MSG...: a progress line in the test's output (ctest shows it on failure).
note() { echo "-- $*"; }

# assert_eq EXPECTED ACTUAL WHAT: fail unless the two strings are equal.
assert_eq() {
    [ "$#" -eq 3 ] || fail "assert_eq needs EXPECTED ACTUAL WHAT, got $# arguments"
    [ "$1" = "$2" ] || fail "$3: expected '$1', got '$2'"
}

# sj_load_env: source and export the services env written by
# scripts/services.sh (SEINTJE_TEST_BROKERS, SEINTJE_TEST_REDIS_URL). Fails
# when the file or a service is missing: integration tests never skip.
sj_load_env() {
    local env=${SEINTJE_SERVICES_ENV:-}
    [ -n "$env" ] || fail "SEINTJE_SERVICES_ENV is not set (run through ctest, or: scripts/services.sh start DIR; export SEINTJE_SERVICES_ENV=DIR/env)"
    [ -r "$env" ] || fail "no services env at $env: the seintje_services fixture did not start (see services_start)"
    set -a
    # shellcheck disable=SC1090 # written by scripts/services.sh
    source "$env"
    set +a
    [ -n "${SEINTJE_TEST_BROKERS:-}" ] || fail "$env has no SEINTJE_TEST_BROKERS"
    [ -n "${SEINTJE_TEST_REDIS_URL:-}" ] || fail "$env has no SEINTJE_TEST_REDIS_URL"
}

# sj_workdir: make a temporary directory, SJ_WORK, removed when the script
# exits (kept, and its path printed, when SEINTJE_KEEP_WORK=1). It sets the
# EXIT trap: a test that needs its own cleanup calls sj_cleanup_work from it.
sj_workdir() {
    SJ_WORK=$(mktemp -d "${TMPDIR:-/tmp}/sj-$SJ_TEST.XXXXXX")
    export SJ_WORK
    trap sj_cleanup_work EXIT
}

sj_cleanup_work() {
    local rc=$?
    if [ "${SEINTJE_KEEP_WORK:-0}" = 1 ]; then
        echo "-- work directory kept: $SJ_WORK" >&2
    else
        rm -rf "$SJ_WORK"
    fi
    return "$rc"
}

# sj_unique [PREFIX]: a name no other test run uses, e.g. for Redis key prefixes.
sj_unique() {
    printf '%s.%s.%s.%s\n' "${1:-it}" "$SJ_TEST" "$$" "$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')"
}

# sj_topic [PARTITIONS]: create a new, uniquely named topic (default one
# partition) and print its name once every partition has a leader.
sj_topic() {
    local parts=${1:-1} topic i
    topic=$(sj_unique it)
    "$SJ_ROOT/scripts/kafka.sh" run org.apache.kafka.tools.TopicCommand \
        --bootstrap-server "$SEINTJE_TEST_BROKERS" --create --topic "$topic" \
        --partitions "$parts" --replication-factor 1 > /dev/null ||
        fail "could not create topic $topic"
    for ((i = 0; i < 100; i++)); do
        if [ "$(kcat -L -b "$SEINTJE_TEST_BROKERS" -t "$topic" -m 5 2>/dev/null |
            grep -c 'partition [0-9]*, leader 1,')" -eq "$parts" ]; then
            echo "$topic"
            return 0
        fi
        sleep 0.1
    done
    fail "topic $topic has no leader for all $parts partitions after 10 s"
}

# sj_consume TOPIC [KCAT ARGS...]: print every message of TOPIC from the
# beginning and stop at the end of the log (kcat -e). Default format is the
# payload and a newline; pass e.g. -f '%k\t%s\n' for keys too.
sj_consume() {
    local topic=$1
    shift
    kcat -C -b "$SEINTJE_TEST_BROKERS" -t "$topic" -o beginning -e -q "$@"
}

# sj_count TOPIC: the number of messages in TOPIC (payloads may hold newlines).
sj_count() {
    sj_consume "$1" -f 'm\n' | wc -l | tr -d ' '
}

# sj_wait_count TOPIC N [SECONDS]: wait until TOPIC holds at least N messages
# (default 60 s) and print the count; fail on timeout.
sj_wait_count() {
    local topic=$1 want=$2 deadline=$((SECONDS + ${3:-60})) n=0
    while [ "$SECONDS" -lt "$deadline" ]; do
        n=$(sj_count "$topic" 2>/dev/null || echo 0)
        if [ "$n" -ge "$want" ]; then
            echo "$n"
            return 0
        fi
        sleep 0.5
    done
    fail "$topic: waited ${3:-60}s for $want messages, have $n"
}

# sj_redis ARGS...: redis-cli against the test server (raw output, no hints).
sj_redis() {
    redis-cli -u "$SEINTJE_TEST_REDIS_URL" --no-auth-warning --raw "$@"
}
