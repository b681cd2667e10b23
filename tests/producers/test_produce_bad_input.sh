#!/usr/bin/env bash
# Integration: every class of bad input is refused with its exact
# "file:line: field: problem" line, recorded in the reject file, and never
# holds back the good lines around it, which all reach the real broker.
# JSON-lines and CSV input both.
set -euo pipefail
source "$SEINTJE_SERVICES_ENV"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
fail() { echo "FAIL: $*" >&2; exit 1; }
H='"specversion":"1.0","source":"urn:nis:44021:population"'
ev() { # ev ID TYPE TIME SUBJECT DATA
  printf '{%s,"id":"%s","type":"be.seintje.life.%s","time":"%s","subject":"%s","data":%s}\n' \
    "$H" "$1" "$2" "$3" "$4" "$5"
}
T=2026-03-01T10:00:00Z
{
  ev g1 registered $T 85073003328 '{"given_name":"Zoë","email":"zoe@example.org"}'   # 1 good
  printf '{"specversion":"1.0",\n'                                                    # 2 json
  ev g2 moved-in $T 05031500291 '{"postcode":"9000"}'                                 # 3 good
  printf '{"specversion":"1.0","id":"x4","type":"be.seintje.life.birth"}\n'           # 4 missing source
  ev x5 abducted $T 85073003328 '{}'                                                  # 5 unknown type
  ev x6 registered 2026-13-01T00:00:00Z 85073003328 '{}'                              # 6 bad time
  ev x7 registered $T 85073003329 '{}'                                                # 7 check digits
  ev x8 registered $T 85073003328 '{"phone":"0470 12 34 56"}'                         # 8 E.164
  ev x9 registered $T 85073003328 '{"email":"zoe.example.org"}'                       # 9 e-mail
  ev x10 registered $T 85073003328 '{"given_name":"Zo'$'\xff''"}'                      # 10 UTF-8
  ev x11 registered $T 85073003328 "{\"given_name\":\"$(head -c 3000 /dev/zero | tr '\0' a)\"}" # 11 long
  ev x12 registered $T 85073003328 '{"household":"85073003328"}'                      # 12 NRN in data
  ev g3 id-card-expiring $T 00010100105 '{"expires":"2026-05-01"}'                    # 13 good
  echo                                                                                # 14 blank
  ev g4 birthday $T 85073003328 '{"age":65}' | sed 's/$/\r/'                          # 15 good, CRLF
} > bad.jsonl

topic="it.bad.$$.$RANDOM"
set +e
"$SEINTJE_BIN" produce --insecure-dev-key -X brokers="$SEINTJE_TEST_BROKERS" \
  -X topic.life-events="$topic" -X produce.max-line=2048 -r rejects.jsonl \
  --log-format text bad.jsonl 2> stderr.txt
rc=$?
set -e
cat stderr.txt
[ $rc -eq 2 ] || fail "exit code $rc, expected 2 (some lines rejected)"
grep -v '^seintje produce' stderr.txt > errors.txt || true
cat > expected.txt <<'EXP'
bad.jsonl:2: json: unclosed object at column 1
bad.jsonl:4: source: required (e.g. urn:nis:44021:population)
bad.jsonl:5: type: unknown event type "be.seintje.life.abducted" (see `seintje produce --catalogue`)
bad.jsonl:6: time: not an RFC 3339 date-time (e.g. 2026-11-28T09:30:00Z)
bad.jsonl:7: subject: not a valid national register number: check digits do not match (neither the pre-2000 nor the post-2000 rule)
bad.jsonl:8: data.phone: must start with '+' and the country code (e.g. +32 for Belgium)
bad.jsonl:9: data.email: has no '@', expected name@domain
bad.jsonl:10: utf8: invalid UTF-8 at byte 183
bad.jsonl:11: line: line is 3183 bytes, longer than produce.max-line (2048); raise the bound or split the event
bad.jsonl:12: data.household: looks like a national register number; only subject may carry one (it is pseudonymised), remove it from data
EXP
diff -u expected.txt errors.txt || fail "error lines differ from the expected ones"
grep -q 'read 14 / published 4 / rejected 10 / failed 0' stderr.txt || fail "summary line"
[ "$(wc -l < rejects.jsonl)" -eq 10 ] || fail "reject file should hold 10 lines"
python3 - <<'PY'
import json
rows = [json.loads(l) for l in open("rejects.jsonl")]
assert [r["line"] for r in rows] == [2, 4, 5, 6, 7, 8, 9, 10, 11, 12], rows
assert all(r["file"] == "bad.jsonl" and r["field"] and r["problem"] for r in rows)
assert "input" in rows[0] and "input_note" in rows[7]
PY
got=$(kcat -C -b "$SEINTJE_TEST_BROKERS" -t "$topic" -e -q -f '%s\n' | python3 -c '
import json, sys; print(" ".join(sorted(json.loads(l)["id"] for l in sys.stdin)))')
[ "$got" = "g1 g2 g3 g4" ] || fail "broker holds [$got], expected the 4 good events"
stat -c %a rejects.jsonl | grep -qx 600 || fail "reject file must be private (0600)"
if grep -q 85073003328 stderr.txt; then fail "a register number reached the log"; fi

# CSV: header + good rows + bad rows, ';' separated as Excel writes it.
cat > register.csv <<'CSV'
nrn;event_type;event_date;birth_date;nis;postcode;language;email;phone;app_inbox;consents
85.07.30-033.28;moved-in;2026-03-01;1985-07-30;44021;9000;nl;an@example.org;+32470123456;;email|sms
85.07.30-033.28;moved-to-mars;2026-03-01;;;;;;;;
05031500291;registered;2026-02-30;;;;;;;;
05031500291;registered;2026-03-01;;44021;9000;fr;;;bp-1;app
00010100105;id-card-expiring;2026-03-01;;;;;;;;
00010100105;birthday;2026-03-01;;;;;;+3247;;
CSV
topic2="it.badcsv.$$.$RANDOM"
set +e
"$SEINTJE_BIN" produce --insecure-dev-key -X brokers="$SEINTJE_TEST_BROKERS" \
  -X topic.life-events="$topic2" -r csv-rejects.jsonl --log-format text register.csv 2> csv.txt
rc=$?
set -e
cat csv.txt
[ $rc -eq 2 ] || fail "csv: exit code $rc, expected 2"
grep -v '^seintje produce' csv.txt > csv-errors.txt || true
cat > csv-expected.txt <<'EXP'
register.csv:3: type: unknown event type "be.seintje.life.moved-to-mars" (see `seintje produce --catalogue`)
register.csv:4: event_date: expected a date YYYY-MM-DD or an RFC 3339 time such as 2026-11-28T09:30:00Z
register.csv:6: data.expires: required for be.seintje.life.id-card-expiring
register.csv:7: data.phone: expected 8 to 15 digits after '+'
EXP
diff -u csv-expected.txt csv-errors.txt || fail "csv error lines differ"
n=$(kcat -C -b "$SEINTJE_TEST_BROKERS" -t "$topic2" -e -q -f '%s\n' | wc -l)
[ "$n" -eq 2 ] || fail "csv: broker holds $n events, expected 2"
echo "bad input ok"
