#!/usr/bin/env bash
# Producer benchmark: `seintje produce` against `kcat -P`, same broker, same
# run, same number of lines, same librdkafka settings. seintje reads input-form
# events (register numbers) and checks, pseudonymises and publishes them; kcat
# publishes the already-pseudonymised events seintje would send (key + value,
# so kcat's messages are the same size as seintje's). Reports events/s of each
# and the ratio, median of several alternating rounds, after one warm-up
# round of each that is not counted (a fresh broker's JVM is still compiling).
#
# usage: bench/produce_vs_kcat.sh [-n EVENTS] [-r ROUNDS] [-b BROKERS]
#   Without -b (or SEINTJE_TEST_BROKERS) a private Kafka 3.9 broker is started
#   with scripts/kafka.sh and stopped at the end.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
N=500000 ROUNDS=3 BROKERS=${SEINTJE_TEST_BROKERS:-}
SEINTJE=${SEINTJE_BIN:-$here/build/release/cli/seintje}
while getopts "n:r:b:h" o; do
  case $o in
    n) N=$OPTARG ;; r) ROUNDS=$OPTARG ;; b) BROKERS=$OPTARG ;;
    *) sed -n '2,13p' "$0"; exit 0 ;;
  esac
done
[ -x "$SEINTJE" ] || { echo "no seintje binary at $SEINTJE (build first or set SEINTJE_BIN)" >&2; exit 2; }
work=$(mktemp -d)
cleanup() { [ -n "${own_kafka:-}" ] && "$here/scripts/kafka.sh" stop "$work/kafka" >/dev/null 2>&1; rm -rf "$work"; }
trap cleanup EXIT
if [ -z "$BROKERS" ]; then
  own_kafka=1
  "$here/scripts/kafka.sh" start "$work/kafka" >/dev/null
  BROKERS=$(sed -n 's/^SEINTJE_TEST_BROKERS=//p' "$work/kafka/env")
fi
KX=(-X enable.idempotence=true -X acks=all -X linger.ms=10 -X batch.num.messages=10000
    -X batch.size=1000000 -X queue.buffering.max.messages=500000
    -X queue.buffering.max.kbytes=1048576)
SX=() # the same settings for seintje, which takes librdkafka's under kafka.
for ((i = 1; i < ${#KX[@]}; i += 2)); do SX+=(-X "kafka.${KX[i]}"); done

export SEINTJE_NO_PROGRESS=1
echo "generating $N events ..." >&2
"$SEINTJE" synth --residents $((N * 3 / 4 + 1000)) --seed 5 > "$work/all.jsonl"
head -n "$N" "$work/all.jsonl" > "$work/input.jsonl"
"$SEINTJE" produce --dry-run --insecure-dev-key "$work/input.jsonl" 2>/dev/null > "$work/events.jsonl"
python3 - "$work" <<'PY'
import json, sys
w = sys.argv[1]
with open(w + "/events.jsonl") as f, open(w + "/keyed.tsv", "w") as o:
    for line in f:
        o.write(json.loads(line)["subject"] + "\t" + line)
PY
bytes=$(wc -c < "$work/events.jsonl")
echo "events: $N, average $((bytes / N)) bytes; broker $BROKERS" >&2

run() { # run NAME TOPIC -> prints events/s
  local name=$1 topic=$2 t0 t1
  t0=$(date +%s%N)
  if [ "$name" = seintje ]; then
    "$SEINTJE" produce -q --insecure-dev-key -X brokers="$BROKERS" -X topic.life-events="$topic" \
      "${SX[@]}" "$work/input.jsonl" 2>/dev/null
  else
    kcat -P -b "$BROKERS" -t "$topic" -K $'\t' "${KX[@]}" < "$work/keyed.tsv"
  fi
  t1=$(date +%s%N)
  python3 -c "print(round($N / (($t1 - $t0) / 1e9)))"
}
s_rates=() k_rates=()
for r in $(seq 0 "$ROUNDS"); do
  ts="bench.seintje.$$.$r" tk="bench.kcat.$$.$r"
  # seintje creates its topic with topic.partitions (6); give kcat's the same.
  "$SEINTJE" produce -q --insecure-dev-key -X brokers="$BROKERS" -X topic.life-events="$tk" /dev/null 2>/dev/null || true
  "$SEINTJE" produce -q --insecure-dev-key -X brokers="$BROKERS" -X topic.life-events="$ts" /dev/null 2>/dev/null || true
  s=$(run seintje "$ts"); k=$(run kcat "$tk")
  if [ "$r" = 0 ]; then echo "warm-up: seintje $s ev/s, kcat $k ev/s (not counted)" >&2; continue; fi
  echo "round $r: seintje $s ev/s, kcat $k ev/s, ratio $(python3 -c "print(round($s / $k, 2))")" >&2
  s_rates+=("$s"); k_rates+=("$k")
done
python3 - "${s_rates[*]}" "${k_rates[*]}" "$N" "$bytes" <<'PY'
import statistics, sys
s = [int(x) for x in sys.argv[1].split()]
k = [int(x) for x in sys.argv[2].split()]
ms, mk = statistics.median(s), statistics.median(k)
print(f"produce benchmark: {sys.argv[3]} events of ~{int(sys.argv[4]) // int(sys.argv[3])} bytes, median of {len(s)} rounds")
print(f"  seintje produce  {ms:>10,.0f} events/s   (check + pseudonymise + publish)")
print(f"  kcat -P          {mk:>10,.0f} events/s   (publish only)")
print(f"  ratio seintje/kcat = {ms / mk:.2f} (of the medians; per-round ratios: median "
      f"{statistics.median([a / b for a, b in zip(s, k)]):.2f}, min {min(a / b for a, b in zip(s, k)):.2f})")
PY
