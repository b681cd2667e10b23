#!/usr/bin/env bash
# End-to-end thin slice against a REAL Kafka broker and redis-server (the
# services fixture): a synthetic population goes through `seintje produce`,
# `seintje segment` and `seintje deliver` into an outbox, and an independent
# Python oracle (thin_slice_check.py, working from `seintje synth` output)
# says exactly which files must appear, with what in them.
#
# Scenario A (history replay): segment and deliver with --replay-clock, as the
#   demo runs them; checks the outbox file by file and both summaries; then
#   runs both stages again (same groups: nothing new; fresh groups: a full
#   replay of every event) and checks that no file was added.
# Scenario B (scheduler): deliver at a "now" in mid-year without the replay
#   clock: due intents are sent or expire, later ones are parked in Redis;
#   a second deliver far in the future releases every parked intent, which
#   has expired by then.
#
# Environment (from sj_integration_test): SEINTJE_SERVICES_ENV (defines
# SEINTJE_TEST_BROKERS and SEINTJE_TEST_REDIS_URL), SEINTJE_BIN,
# SEINTJE_SOURCE_DIR, SEINTJE_BUILD_DIR. Each run uses its own topics and
# consumer groups, and its own Redis databases (12 and 13), flushed first.
set -euo pipefail

: "${SEINTJE_SERVICES_ENV:?run me through ctest (sj_integration_test)}"
# shellcheck disable=SC1090
source "$SEINTJE_SERVICES_ENV"
BIN=${SEINTJE_BIN:?}
SRC=${SEINTJE_SOURCE_DIR:?}
CHECK="python3 $SRC/tests/e2e/thin_slice_check.py"
# v1-style campaigns (one variant, no audience, reminders or holdout): the
# oracle replays those rules exactly.
CAMPAIGNS=$SRC/tests/e2e/campaigns
RESIDENTS=${THIN_SLICE_RESIDENTS:-300}
SEED=7

work=$(mktemp -d "${SEINTJE_BUILD_DIR:-${TMPDIR:-/tmp}}/e2e-thin-slice.XXXXXX")
trap 'rm -rf "$work"' EXIT
run_id=${THIN_SLICE_RUN_ID:-thin-$$-$(date +%s)}
redis_base=${SEINTJE_TEST_REDIS_URL%/*}
redis_base=${redis_base%/}
case "$SEINTJE_TEST_REDIS_URL" in redis://*/*) ;; *) redis_base=$SEINTJE_TEST_REDIS_URL ;; esac

step() { printf '\n== %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }

# settings NAME DB: the -X options of one scenario.
settings() {
    local name=$1 db=$2
    X=(-X "brokers=$SEINTJE_TEST_BROKERS" -X "redis.url=$redis_base/$db"
       -X "topic.life-events=$run_id-$name.life-events"
       -X "topic.notifications=$run_id-$name.notifications"
       -X "topic.partitions=3"
       -X "segment.group=$run_id-$name-segment" -X "deliver.group=$run_id-$name-deliver"
       -X "topic.delivery-status=$run_id-$name.status" -X "topic.segment-due=$run_id-$name.due"
       -X "segment.instance=$run_id-$name"
       -X "campaigns.dir=$CAMPAIGNS" -X "templates.dir=$SRC/templates/campaigns"
       -X "nudge.send-window=daily 00:00-24:00" -X "nudge.cap-count=0"
       -X "nudge.require-consent=false"
       -X "outbox.dir=$work/$name-outbox" -X "produce.reject-file=$work/$name-rejects.jsonl"
       --log-level warn)
}

flushdb() {
    python3 - "$redis_base/$1" <<'EOF'
import socket, sys, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
s = socket.create_connection((u.hostname, u.port or 6379), timeout=5)
db = u.path.strip("/") or "0"
s.sendall(f"*2\r\n$6\r\nSELECT\r\n${len(db)}\r\n{db}\r\n*1\r\n$7\r\nFLUSHDB\r\n".encode())
reply = b""
while reply.count(b"\r\n") < 2:
    chunk = s.recv(4096)
    if not chunk:
        break
    reply += chunk
if reply != b"+OK\r\n+OK\r\n":
    sys.exit(f"redis FLUSHDB failed: {reply!r}")
EOF
}

count_files() { find "$1" -type f \( -name '*.eml' -o -name '*.json' \) 2>/dev/null | wc -l; }

step "synthetic population: $RESIDENTS residents, seed $SEED"
"$BIN" synth --residents "$RESIDENTS" --seed "$SEED" >"$work/synth.jsonl"
[ -s "$work/synth.jsonl" ] || fail "seintje synth wrote nothing"

# ---- scenario A: history replay ---------------------------------------------
settings a 12
flushdb 12
step "A: expectations"
$CHECK expect --events "$work/synth.jsonl" --campaigns "$CAMPAIGNS" \
    --now 2100-01-01T00:00:00Z --deliver-replay >"$work/a-expect.json"
python3 -c 'import json,sys; e=json.load(open(sys.argv[1])); print("expected:", e["intents"], "intents,", {k: len(v) for k, v in e["sent"].items()}, e["suppressed"])' "$work/a-expect.json"

step "A: produce"
"$BIN" produce --synthetic "$RESIDENTS" --seed "$SEED" --insecure-dev-key "${X[@]}"

malformed=0
if command -v kcat >/dev/null; then
    step "A: two malformed events on the topic (kcat)"
    printf '%s\n' '{"not json' \
        '{"id":"m1","type":"be.seintje.life.moved-in","subject":"85073003328","data":{"email":"leak@example.org"}}' |
        kcat -P -b "$SEINTJE_TEST_BROKERS" -t "$run_id-a.life-events"
    malformed=2
fi

step "A: segment (replay clock)"
"$BIN" segment --until-idle 1500 --replay-clock --replay-until 2100-01-01T00:00:00Z "${X[@]}" 2>"$work/a-segment.err" |
    tee "$work/a-segment.txt"
cat "$work/a-segment.err" >&2
$CHECK summary --expect "$work/a-expect.json" --stage segment --malformed "$malformed" \
    "$work/a-segment.txt"
if grep -q -e 'leak@' -e '85073003328' "$work/a-segment.err"; then
    fail "personal data of a malformed event reached the log"
fi
[ "$malformed" -eq 0 ] || grep -q 'malformed message skipped' "$work/a-segment.err" ||
    fail "malformed events were not logged by offset"

step "A: deliver (replay clock, now = 2100)"
SEINTJE_NOW=2100-01-01T00:00:00Z "$BIN" deliver --until-idle 1500 --replay-clock "${X[@]}" |
    tee "$work/a-deliver.txt"
$CHECK summary --expect "$work/a-expect.json" --stage deliver "$work/a-deliver.txt"
$CHECK outbox --expect "$work/a-expect.json" --outbox "$work/a-outbox"
files=$(count_files "$work/a-outbox")
[ "$files" -gt 0 ] || fail "no messages written"

step "A: run again with the same groups: nothing new"
"$BIN" segment --until-idle 1500 --replay-clock --replay-until 2100-01-01T00:00:00Z "${X[@]}" | tee "$work/a-segment2.txt"
grep -Eq 'intents: +0 emitted' "$work/a-segment2.txt" || fail "second segment run made intents"
SEINTJE_NOW=2100-01-01T00:00:00Z "$BIN" deliver --until-idle 1500 --replay-clock "${X[@]}" |
    tee "$work/a-deliver2.txt"
[ "$(count_files "$work/a-outbox")" -eq "$files" ] || fail "second run added files"

step "A: full replay with fresh consumer groups: same ids, no new files"
X+=(-X "segment.group=$run_id-a-segment-replay" -X "deliver.group=$run_id-a-deliver-replay")
"$BIN" segment --until-idle 1500 --replay-clock --replay-until 2100-01-01T00:00:00Z "${X[@]}" | tee "$work/a-segment3.txt"
$CHECK summary --expect "$work/a-expect.json" --stage segment --malformed "$malformed" \
    "$work/a-segment3.txt"
SEINTJE_NOW=2100-01-01T00:00:00Z "$BIN" deliver --until-idle 1500 --replay-clock "${X[@]}" |
    tee "$work/a-deliver3.txt"
grep -Eq 'intents: +[1-9]' "$work/a-deliver3.txt" || fail "replay delivered nothing"
[ "$(count_files "$work/a-outbox")" -eq "$files" ] || fail "replay added files (duplicates)"
$CHECK outbox --expect "$work/a-expect.json" --outbox "$work/a-outbox"

# ---- scenario B: the schedule -----------------------------------------------
settings b 13
flushdb 13
mid=2026-07-01T00:00:00Z
step "B: expectations at $mid"
$CHECK expect --events "$work/synth.jsonl" --campaigns "$CAMPAIGNS" \
    --now "$mid" >"$work/b-expect.json"

step "B: produce, segment (replay), deliver at $mid (no replay clock)"
"$BIN" produce --synthetic "$RESIDENTS" --seed "$SEED" --insecure-dev-key "${X[@]}"
"$BIN" segment --until-idle 1500 --replay-clock --replay-until 2100-01-01T00:00:00Z "${X[@]}" >"$work/b-segment.txt"
SEINTJE_NOW=$mid "$BIN" deliver --until-idle 1500 "${X[@]}" | tee "$work/b-deliver.txt"
$CHECK summary --expect "$work/b-expect.json" --stage deliver "$work/b-deliver.txt"
$CHECK outbox --expect "$work/b-expect.json" --outbox "$work/b-outbox"
# Intents the segment stage released after $mid (its replay clock ran to the
# last event) wait in deliver's schedule.
parked=$(sed -nE 's/.*scheduled: +([0-9]+) parked.*/\1/p' "$work/b-deliver.txt")
[ "${parked:-0}" -gt 0 ] || fail "deliver parked nothing at $mid"
grep -Eq "scheduled: +$parked parked, 0 released when due, $parked still pending" \
    "$work/b-deliver.txt" || fail "expected $parked parked intents"

step "B: deliver in 2100: every parked intent is released and has expired"
before=$(count_files "$work/b-outbox")
SEINTJE_NOW=2100-01-01T00:00:00Z "$BIN" deliver --until-idle 1500 "${X[@]}" |
    tee "$work/b-deliver2.txt"
grep -Eq "expired $parked," "$work/b-deliver2.txt" || fail "released intents not expired"
grep -Eq "0 parked, $parked released when due, 0 still pending" "$work/b-deliver2.txt" ||
    fail "the schedule was not emptied"
[ "$(count_files "$work/b-outbox")" -eq "$before" ] || fail "expired intents were sent"

printf '\nthin slice: all checks passed\n'
