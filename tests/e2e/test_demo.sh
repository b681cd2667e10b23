#!/usr/bin/env bash
# `seintje demo --residents 500` end to end: the in-process Kafka, the private
# redis-server, the synthetic year and both stages. Checks the printed
# summary against the files in the outbox and both against the independent
# oracle (thin_slice_check.py) for the same population (seed 1, year 2026,
# replayed until the last second of 2026), that the demo leaves no
# redis-server or temporary directory behind, and that it stays fast.
#
# usage: test_demo.sh SEINTJE_BIN SOURCE_DIR   (needs redis-server on PATH)
set -euo pipefail
BIN=${1:?seintje binary}
SRC=${2:?source dir}
CHECK="python3 $SRC/tests/e2e/thin_slice_check.py"
work=$(mktemp -d "${TMPDIR:-/tmp}/e2e-demo.XXXXXX")
trap 'rm -rf "$work"' EXIT
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }

before=$(find /tmp -maxdepth 1 -name 'seintje-demo-*' | wc -l)
cd "$work"
start=$(date +%s)
"$BIN" demo --residents 500 --outbox "$work/outbox" --log-level warn 2>"$work/stderr.txt" |
    tee "$work/summary.txt"
elapsed=$(($(date +%s) - start))
[ "$elapsed" -lt 60 ] || fail "demo took ${elapsed}s"
after=$(find /tmp -maxdepth 1 -name 'seintje-demo-*' | wc -l)
[ "$after" -le "$before" ] || fail "the demo left its temporary directory behind"

"$BIN" synth --residents 500 --seed 1 >"$work/synth.jsonl"
$CHECK expect --events "$work/synth.jsonl" --campaigns "$SRC/segments/campaigns" \
    --now 2026-12-31T23:59:59Z --deliver-replay >"$work/expect.json"
$CHECK outbox --expect "$work/expect.json" --outbox "$work/outbox"
python3 - "$work/summary.txt" "$work/expect.json" <<'PY'
import json, re, sys
text, exp = open(sys.argv[1]).read(), json.load(open(sys.argv[2]))
def num(p):
    m = re.search(p, text)
    if not m:
        sys.exit(f"no /{p}/ in the demo summary:\n{text}")
    return [int(g) for g in m.groups()]
got = num(r"produce: +(\d+) life events published, (\d+) rejected")
assert got == [exp["events"], 0], f"produce {got} != {[exp['events'], 0]}"
got = num(r"segment: +(\d+) events, \d+ profile updates, (\d+) intents")
assert got == [exp["events"], exp["intents"]], f"segment {got}"
got = num(r"messages: email (\d+), sms (\d+), app (\d+)")
want = [len(exp["sent"][c]) for c in ("email", "sms", "app")]
assert got == want and sum(got) > 0, f"messages {got} != {want}"
s = exp["suppressed"]
got = num(r"suppressed: no-channel (\d+), expired (\d+), inactive (\d+), no-profile (\d+)")
assert got == [s["no-channel"], s["expired"], s["inactive"], s["no-profile"]], f"suppressed {got}"
got = num(r"scheduled: (\d+) intents due after")
assert got == [len(exp["parked"])], f"scheduled {got} != {len(exp['parked'])}"
print("demo summary matches the oracle and the outbox")
PY
printf 'demo: all checks passed in %ss\n' "$elapsed"
