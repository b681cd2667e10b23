#!/usr/bin/env bash
# Kill test of the segmentation engine against the real broker and
# redis-server: the same synthetic population goes through `seintje segment`
# twice, once in one go (the reference) and once SIGKILLed KILLS times in the
# middle of its work and restarted. Every intent of the reference must be on
# the killed run's notifications topic, nothing else, and no intent id twice
# (read committed, as downstream consumers read). The clock is fixed (--now),
# so the decisions do not depend on when a batch happens to run.
#
# Environment (sj_integration_test): SEINTJE_SERVICES_ENV, SEINTJE_BIN,
# SEINTJE_SOURCE_DIR, SEINTJE_BUILD_DIR. KILL_RESIDENTS, KILLS override.
set -euo pipefail
: "${SEINTJE_SERVICES_ENV:?run me through ctest (sj_integration_test)}"
# shellcheck disable=SC1090
source "$SEINTJE_SERVICES_ENV"
BIN=${SEINTJE_BIN:?}
SRC=${SEINTJE_SOURCE_DIR:?}
RESIDENTS=${KILL_RESIDENTS:-20000}
KILLS=${KILLS:-6}
NOW=2026-10-01T10:00:00Z
work=$(mktemp -d "${SEINTJE_BUILD_DIR:-${TMPDIR:-/tmp}}/segment-kill.XXXXXX")
trap '[ -z "${pid:-}" ] || kill -9 "$pid" 2>/dev/null || true; [ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
run_id=kill-$$-$(date +%s)
redis_host=${SEINTJE_TEST_REDIS_URL#redis://}
redis_host=${redis_host%%/*}

fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }

# settings NAME DB
settings() {
    X=(-X "brokers=$SEINTJE_TEST_BROKERS" -X "redis.url=redis://$redis_host/$2"
       -X "topic.partitions=3"
       -X "topic.life-events=$run_id-$1.life-events"
       -X "topic.notifications=$run_id-$1.notifications"
       -X "topic.delivery-status=$run_id-$1.status"
       -X "topic.segment-due=$run_id-$1.due"
       -X "segment.group=$run_id-$1" -X "segment.instance=$run_id-$1"
       -X "campaigns.dir=$SRC/segments/campaigns"
       -X "nudge.send-window=daily 00:00-24:00" -X "nudge.cap-count=0"
       -X "nudge.require-consent=false" --log-level error)
}

ids() { # ids NAME -> sorted intent ids on its notifications topic, one per line
    kcat -C -b "$SEINTJE_TEST_BROKERS" -t "$run_id-$1.notifications" -e -q \
        -X isolation.level=read_committed -f '%s\n' |
        python3 -c 'import json,sys; [print(json.loads(l)["id"]) for l in sys.stdin if l.strip()]' |
        sort
}

for db in 9 10; do redis-cli -h "${redis_host%:*}" -p "${redis_host#*:}" -n $db FLUSHDB >/dev/null; done

echo "== reference: $RESIDENTS residents, one uninterrupted run"
settings ref 9
"$BIN" produce --synthetic "$RESIDENTS" --seed 11 --insecure-dev-key -q "${X[@]}"
"$BIN" segment -e --now "$NOW" "${X[@]}" | tee "$work/ref.txt"
ids ref >"$work/ref.ids"
n=$(wc -l <"$work/ref.ids")
[ "$n" -gt 50 ] || fail "the reference run made only $n intents"
[ "$(uniq -d <"$work/ref.ids" | wc -l)" -eq 0 ] || fail "duplicates in the reference run"

echo "== killed: the same input, SIGKILL $KILLS times"
settings kill 10
"$BIN" produce --synthetic "$RESIDENTS" --seed 11 --insecure-dev-key -q "${X[@]}"
kills=0
for i in $(seq $((KILLS * 3))); do
    # Small batches: many transactions, so that a kill lands in the middle of one.
    "$BIN" segment -e --batch 50 --now "$NOW" "${X[@]}" >"$work/kill-$i.txt" 2>&1 &
    pid=$!
    # Kill somewhere between 1 and 3 s in: after the start-up, while batches run.
    sleep "$(python3 -c "import random; random.seed($i); print(round(random.uniform(1, 3), 2))")"
    if kill -9 "$pid" 2>/dev/null; then kills=$((kills + 1)); fi
    wait "$pid" 2>/dev/null || true
    pid=
    echo "run $i: $kills kills, $(ids kill | wc -l) intents committed so far"
    [ "$kills" -lt "$KILLS" ] || break
done
"$BIN" segment -e --now "$NOW" "${X[@]}" | tee "$work/final.txt"
ids kill >"$work/kill.ids"
[ "$kills" -gt 0 ] || fail "the engine finished before it could be killed: raise KILL_RESIDENTS"

dups=$(uniq -d <"$work/kill.ids" | wc -l)
missing=$(comm -23 <(uniq "$work/ref.ids") <(uniq "$work/kill.ids") | wc -l)
extra=$(comm -13 <(uniq "$work/ref.ids") <(uniq "$work/kill.ids") | wc -l)
echo "reference $n intents; after $kills kills: $(wc -l <"$work/kill.ids") intents," \
    "$dups duplicate ids, $missing missing, $extra unexpected"
[ "$dups" -eq 0 ] || fail "$dups intent ids twice on the topic"
if [ "$missing" -ne 0 ]; then
    id=$(comm -23 <(uniq "$work/ref.ids") <(uniq "$work/kill.ids") | head -1)
    echo "first missing intent $id, its status records in the reference and killed runs:"
    for r in ref kill; do
        kcat -C -b "$SEINTJE_TEST_BROKERS" -t "$run_id-$r.status" -e -q -f '%s\n' | grep "$id" || true
    done
    fail "$missing intents missing after the kills"
fi
[ "$extra" -eq 0 ] || fail "$extra intents that the reference did not make"
echo "segment kill test: all checks passed"
