#!/usr/bin/env bash
# Segmentation benchmark. A synthetic population's year of life events is
# published to a topic; then, on the same broker and redis-server:
#   kcat -C     reads the whole topic (the reference: consuming and nothing else)
#   segment     consumes it and does the work: profile updates in Redis, ten
#               campaigns evaluated (the six examples, three of the engine
#               test's, bench/segment/bench-batch.json; audience rules,
#               timing, nudging rules), intents and status records produced in
#               Kafka transactions with the offsets, each acknowledged
#   batch       a batch campaign over every profile the stream left in Redis
# Reports events/s of segment and kcat and their ratio, residents/s of batch,
# and the peak memory of each seintje run. Rates include start-up; with the
# default sizes that is a few percent.
#
# usage: bench/segment_vs_kcat.sh [-n RESIDENTS] [-B BATCH] [-b BROKERS -r REDIS_URL]
#   -n  synthetic residents (default 200000, about 1.42 events each)
#   -B  events per poll batch of segment (default 2000)
#   Without -b/-r a private Kafka 3.9 broker and redis-server are started with
#   scripts/services.sh and stopped at the end.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
N=200000 BATCH=2000 BROKERS=${SEINTJE_TEST_BROKERS:-} REDIS=${SEINTJE_TEST_REDIS_URL:-}
SEINTJE=${SEINTJE_BIN:-$here/build/release/cli/seintje}
while getopts "n:B:b:r:h" o; do
    case $o in
    n) N=$OPTARG ;; B) BATCH=$OPTARG ;; b) BROKERS=$OPTARG ;; r) REDIS=$OPTARG ;;
    *) sed -n '2,19p' "$0"; exit 0 ;;
    esac
done
[ -x "$SEINTJE" ] || { echo "no seintje binary at $SEINTJE (build first or set SEINTJE_BIN)" >&2; exit 2; }
work=$(mktemp -d)
cleanup() {
    [ -n "${own:-}" ] && "$here/scripts/services.sh" stop "$work/svc" >/dev/null 2>&1
    rm -rf "$work"
}
trap cleanup EXIT
if [ -z "$BROKERS" ] || [ -z "$REDIS" ]; then
    own=1
    echo "starting Kafka and Redis ..." >&2
    "$here/scripts/services.sh" start "$work/svc" >/dev/null
    # shellcheck disable=SC1091
    source "$work/svc/env"
    BROKERS=$SEINTJE_TEST_BROKERS REDIS=$SEINTJE_TEST_REDIS_URL
fi
REDIS=${REDIS%/}
id=bench-$$
X=(-X "brokers=$BROKERS" -X "redis.url=$REDIS/15" -X "topic.partitions=6"
   -X "topic.life-events=$id.life-events" -X "topic.notifications=$id.notifications"
   -X "topic.delivery-status=$id.status" -X "topic.segment-due=$id.due"
   -X "segment.group=$id" -X "segment.instance=$id"
   -X "campaigns.dir=$work/campaigns" --log-level warn)
mkdir -p "$work/campaigns"
cp "$here"/segments/campaigns/*.json "$here/bench/segment/bench-batch.json" "$work/campaigns/"
for c in c-aud c-holdout c-consent; do
    cp "$here/tests/segments/engine/campaigns/$c.json" "$work/campaigns/"
done
export SEINTJE_NO_PROGRESS=1
host=${REDIS#redis://}
redis-cli -h "${host%:*}" -p "${host#*:}" -n 15 FLUSHDB >/dev/null

echo "publishing the life events of $N residents ..." >&2
"$SEINTJE" produce --synthetic "$N" --seed 3 --insecure-dev-key -q "${X[@]}"
events=$(kcat -C -b "$BROKERS" -t "$id.life-events" -e -q -f 'x\n' | wc -l)

secs() { python3 -c "print(($2 - $1) / 1e9)"; }
echo "kcat -C: reading $events events ..." >&2
t0=$(date +%s%N)
kcat -C -b "$BROKERS" -t "$id.life-events" -e -q -o beginning >/dev/null
t1=$(date +%s%N)
k_s=$(secs "$t0" "$t1")

echo "seintje segment: $events events ..." >&2
t0=$(date +%s%N)
/usr/bin/time -f "%M" -o "$work/seg.rss" "$SEINTJE" segment --until-idle 300 --batch "$BATCH" \
    --now 2026-12-31T12:00:00Z "${X[@]}" >"$work/seg.txt"
t1=$(date +%s%N)
s_s=$(python3 -c "print($(secs "$t0" "$t1") - 0.3)") # less the idle wait
grep -q "events: *$events " "$work/seg.txt" || { cat "$work/seg.txt"; echo "segment did not read every event" >&2; exit 1; }

residents=$(redis-cli -h "${host%:*}" -p "${host#*:}" -n 15 --scan --pattern 'sj:res:{*}' |
    grep -c '}$' || true)
echo "seintje batch: $residents profiles ..." >&2
t0=$(date +%s%N)
/usr/bin/time -f "%M" -o "$work/batch.rss" "$SEINTJE" batch --campaign bench-batch \
    --date 2026-12-31 --now 2026-12-31T12:00:00Z "${X[@]}" >"$work/batch.txt"
t1=$(date +%s%N)
b_s=$(secs "$t0" "$t1")

python3 - "$events" "$k_s" "$s_s" "$residents" "$b_s" "$(cat "$work/seg.rss")" \
    "$(cat "$work/batch.rss")" "$(cat "$work/seg.txt")" "$(cat "$work/batch.txt")" <<'PY'
import sys
ev, k, s, res, b, srss, brss = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), \
    int(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
print(f"segmentation benchmark: {ev} events, {res} residents")
print(f"  kcat -C           {ev / k:>10,.0f} events/s   (read only)")
print(f"  seintje segment   {ev / s:>10,.0f} events/s   (peak RSS {srss / 1024:.0f} MiB)")
print(f"  ratio segment/kcat = {ev / s / (ev / k):.3f}")
print(f"  seintje batch     {res / b:>10,.0f} residents/s (peak RSS {brss / 1024:.0f} MiB)")
print(sys.argv[8].strip())
print(sys.argv[9].strip())
PY
