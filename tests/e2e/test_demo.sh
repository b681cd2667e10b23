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
# The demo runs the real campaigns with every nudging rule (their exact
# decisions are tests/segments/engine_check.py's business); here: every
# event was read, every emitted intent reached deliver, every message
# deliver counted is in the outbox, and every outbox file is well formed.
python3 - "$work/summary.txt" "$work/synth.jsonl" "$work/outbox" <<'PY'
import email, email.policy, json, os, re, sys
text = open(sys.argv[1]).read()
events = sum(1 for l in open(sys.argv[2]) if l.strip())
def num(p):
    m = re.search(p, text)
    if not m:
        sys.exit(f"no /{p}/ in the demo summary:\n{text}")
    return [int(g) for g in m.groups()]
assert num(r"produce: +(\d+) life events published, (\d+) rejected") == [events, 0], "produce"
seg_events, emitted = num(r"segment: +(\d+) events, \d+ profile updates; intents (\d+) emitted")
assert seg_events == events, f"segment read {seg_events} of {events} events"
delivered = num(r"deliver: +(\d+) intents")[0]
assert delivered == emitted, f"deliver got {delivered} intents, segment emitted {emitted}"
msgs = dict(zip(("email", "sms", "app"), num(r"messages: email (\d+), sms (\d+), app (\d+)")))
supp = sum(num(r"suppressed: no-channel (\d+), expired (\d+), inactive (\d+), no-profile (\d+)"))
failed = num(r"; failed (\d+)")[0]
parked = num(r"scheduled: (\d+) intents due after")[0]
assert sum(msgs.values()) + supp + failed + parked == delivered, "deliver's counts do not add up"
assert sum(msgs.values()) > 0 and failed == 0, f"messages {msgs}, failed {failed}"
for ch, ext in (("email", ".eml"), ("sms", ".json"), ("app", ".json")):
    d = os.path.join(sys.argv[3], ch)
    names = [n for n in os.listdir(d)] if os.path.isdir(d) else []
    assert len(names) == msgs[ch], f"{ch}: {len(names)} files, summary says {msgs[ch]}"
    for n in names:
        assert n.endswith(ext) and not n.startswith("."), f"{ch}/{n}: unexpected file"
        path = os.path.join(d, n)
        if ch == "email":
            m = email.message_from_bytes(open(path, "rb").read(), policy=email.policy.default)
            assert not m.defects and m.get_content_type() == "multipart/alternative", path
            assert n[:-4] in m["Message-ID"] and m["Subject"] and m["To"], path
        else:
            j = json.load(open(path))
            assert j.get("id") == n[:-5] and "{{" not in json.dumps(j), path
print(f"demo summary consistent: {events} events, {emitted} intents, messages {msgs}")
PY
printf 'demo: all checks passed in %ss\n' "$elapsed"
