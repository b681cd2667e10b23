#!/usr/bin/env bash
# `seintje deliver` against the real HTTP peer (tests/peers/http_gateway.py:
# generic SMS webhook, Twilio-style Messages API, OAuth2 token endpoint and
# citizen-app inbox), one run per group of error classes:
#
#  A  the intended rendering through the outbox (its own Redis db);
#  B  SMS webhook + app inbox: every request the peer recorded must equal
#     the outbox rendering (to, the municipality's sender id, text; inbox
#     recipient, title, body, deep link, category, expiry; reference = the
#     intent id); faults on single intents: 500 twice (retried), 400
#     (permanent: dead letter, fallback to the app), connection dropped
#     before the answer, an answer slower than sms.timeout-ms, the
#     connection dropped after the message was taken (a duplicate the peer
#     counts), 429 with Retry-After twice (the retry waits for it), a 401
#     from the inbox (the token is fetched again and the message goes once
#     more);
#  C  OAuth2 token refresh before expiry and the token bucket: app.rate 2/s
#     for longer than the peer's token lifetime;
#  D  the circuit breaker: the gateway answers 500 to everything for 2.5 s;
#     the breaker opens, sends fail fast (far fewer requests reach the peer
#     than attempts are made), and everything goes out once it is back;
#  E  Twilio's format (form-encoded, basic auth, "SM..." references), a 400
#     with Twilio's error code as a final dead letter, then `seintje
#     dead-letter list` and `replay`: the replayed intent is delivered, a
#     second replay finds it delivered.
set -euo pipefail
source "$SEINTJE_SOURCE_DIR/tests/services/lib.sh"
source "$SEINTJE_SOURCE_DIR/tests/consumers/deliver_lib.sh"
sj_load_env
sj_workdir
[ -n "${SEINTJE_TEST_HTTP_URL:-}" ] || fail "no HTTP peer in $SEINTJE_SERVICES_ENV"
dl_init deliver-http 5 6
URL=$SEINTJE_TEST_HTTP_URL
hex() { od -An -N4 -tx1 /dev/urandom | tr -d ' \n'; }
P=$(hex) Q=$(hex)
pid() { printf '%s%024x' "$1" "$2"; }

# The municipality 44084 sends SMS as "Aalter"; 44021 has no sender id of
# its own and gets sms.sender.
cp -r "$SJ_ROOT/templates/campaigns" "$SJ_WORK/templates"
python3 - "$SJ_WORK/templates/_site.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
d["municipalities"]["44084"]["sms_sender"] = "Aalter"
json.dump(d, open(sys.argv[1], "w"), ensure_ascii=False)
EOF
DL_TEMPLATES=$SJ_WORK/templates
HTTP=(-X sms.transport=webhook -X "sms.url=$URL/sms" -X sms.sender=Gemeente
      -X sms.timeout-ms=1000 -X app.transport=inbox -X "app.url=$URL/inbox/messages"
      -X "app.token-url=$URL/oauth/token" -X "app.client-id=$SEINTJE_TEST_INBOX_CLIENT_ID"
      -X "app.client-secret-file=$SEINTJE_TEST_INBOX_CLIENT_SECRET_FILE")

note "intents: $P (sms, then app; 44084 and 44021), $Q (app, then sms)"
dl_make "$P" 8 sms,app --nis 44084
dl_make "$P" 4 sms,app --nis 44021 --start 8
dl_make "$Q" 6 app,sms

note "A: the intended rendering (outbox)"
dl_settings 6
dl_deliver "$SJ_WORK/a.txt"

note "B: webhook and inbox, with faults"
faults=(
    "$(fault_http "{\"endpoint\":\"sms\",\"reference_prefix\":\"$(pid "$P" 1)\",\"first\":2,\"status\":500}")"
    "$(fault_http "{\"endpoint\":\"sms\",\"recipient\":\"$($FIXTURE phone "$P" 2)\",\"status\":400}")"
    "$(fault_http "{\"endpoint\":\"sms\",\"reference_prefix\":\"$(pid "$P" 3)\",\"first\":1,\"drop\":\"before\"}")"
    "$(fault_http "{\"endpoint\":\"sms\",\"reference_prefix\":\"$(pid "$P" 4)\",\"first\":1,\"delay_ms\":2500}")"
    "$(fault_http "{\"endpoint\":\"sms\",\"reference_prefix\":\"$(pid "$P" 5)\",\"count\":1,\"drop\":\"after\"}")"
    "$(fault_http "{\"endpoint\":\"sms\",\"reference_prefix\":\"$(pid "$P" 6)\",\"first\":2,\"status\":429,\"retry_after\":1}")"
    "$(fault_http "{\"endpoint\":\"inbox\",\"reference_prefix\":\"$(pid "$Q" 0)\",\"first\":1,\"status\":401}")"
)
dl_settings 5 "${HTTP[@]}"
DL_IDLE_MS=3000 dl_deliver "$SJ_WORK/b.txt"
for f in "${faults[@]}"; do unfault_http "$f"; done
assert_eq "11 7" "$(num "$SJ_WORK/b.txt" 'sms ([0-9]+),') $(num "$SJ_WORK/b.txt" 'app ([0-9]+)$')" \
    "SMS and app messages sent"
[ "$(num "$SJ_WORK/b.txt" 'Retry-After pauses ([0-9]+)')" -ge 1 ] || fail "no Retry-After pause"
[ "$(num "$SJ_WORK/b.txt" '([0-9]+) messages sent again after a 401')" -ge 1 ] ||
    fail "the 401 did not make the inbox fetch a new token"
for ep in sms inbox; do # what the peer recorded for this test's two prefixes
    for x in "$P" "$Q"; do
        curl -fsS "$URL/_admin/received?endpoint=$ep&reference_prefix=$x&limit=1000000"
        echo
    done | python3 -c 'import json,sys; print(json.dumps(sum((json.loads(l) for l in sys.stdin if l.strip()), [])))' \
        > "$SJ_WORK/$ep.json"
done
stats=$(curl -fsS "$URL/_admin/stats?endpoint=sms&reference_prefix=$P")
assert_eq 2 "$(json_get "$stats" 'd["endpoints"]["sms"]["duplicates"]')" \
    "SMS duplicates at the peer (a timeout and a drop after the message was taken)"
dl_status 5 > "$SJ_WORK/b-status.jsonl"
dl_dead 5 > "$SJ_WORK/b-dead.jsonl"
python3 - "$SJ_WORK" "$P" "$Q" <<'EOF'
import json, os, sys
work, P, Q = sys.argv[1:4]
pid = lambda p, i: p + "%024x" % i
rec = lambda ep: [r for r in json.load(open(os.path.join(work, ep + ".json")))
                  if (r.get("reference") or "").startswith((P, Q))]
ok = lambda ep: {r["reference"]: r["request"] for r in rec(ep)
                 if r["status"] in (201, 202, "drop_after")}
sms, inbox = ok("sms"), ok("inbox")
outbox = os.path.join(work, "outbox-6")
for i in range(12):
    iid = pid(P, i)
    if i == 2:
        assert iid not in sms, "the refused SMS was accepted"
        continue
    want = json.load(open(os.path.join(outbox, "sms", iid + ".json")))
    got = sms[iid]
    assert got["to"] == want["to"] and got["text"] == want["text"], (iid, got, want)
    assert got["from"] == ("Aalter" if i < 8 else "Gemeente"), got["from"]
    assert got["reference"] == iid
for iid in [pid(Q, i) for i in range(6)] + [pid(P, 2)]:
    got = inbox[iid]
    name = iid + ".json"
    path = os.path.join(outbox, "app", name)
    if iid == pid(P, 2):  # rendered for sms in A; compare the constant parts
        assert got["recipient"] == "inbox-%s-2" % P and got["title"], got
        continue
    want = json.load(open(path))
    for k in ("title", "body", "deep_link", "expires_at"):
        assert got[k] == want[k], (iid, k, got[k], want[k])
    assert got["recipient"] == want["inbox"] and got["reference"] == iid
    assert got["category"] == want["category"].replace("-", "_"), got["category"]
by = {}
for line in open(os.path.join(work, "b-status.jsonl")):
    r = json.loads(line)
    by.setdefault(r["intent"], []).append(r)
words = lambda i, p=P: [(r["status"], r.get("channel")) for r in by[pid(p, i)]]
T, S = "temporary-failure", "sent"
assert words(1) == [(T, "sms"), (T, "sms"), (S, "sms")], words(1)
assert words(2) == [("permanent-failure", "sms"), (S, "app")], words(2)
for i in (3, 4, 5):
    assert words(i) == [(T, "sms"), (S, "sms")], (i, words(i))
assert words(6) == [(T, "sms"), (T, "sms"), (S, "sms")], words(6)
from datetime import datetime
t = lambda r: datetime.fromisoformat(r["time"].replace("Z", "+00:00")).timestamp()
r6 = by[pid(P, 6)]
assert t(r6[2]) - t(r6[0]) >= 1.9, "Retry-After 1 s was not honoured twice"
assert words(0, Q) == [(S, "app")], words(0, Q)
dead = [json.loads(l) for l in open(os.path.join(work, "b-dead.jsonl"))]
assert len(dead) == 1 and dead[0]["intent"] == pid(P, 2), dead
assert dead[0]["fallback"] == "app" and "400" in dead[0]["reason"], dead[0]
print("B: requests, status records and dead letters as expected")
EOF

note "C: token refresh before expiry, app.rate 2/s"
C=$(hex)
# at 2/s for longer than a token lives (the peer's lifetime, 5 s by default)
nc=$((2 * ${SEINTJE_TEST_INBOX_TOKEN_TTL:-5} + 3))
dl_make "$C" "$nc" app
dl_settings 5 "${HTTP[@]}" -X app.rate=2 -X "deliver.group=$RUN-c"
dl_deliver "$SJ_WORK/c.txt"
assert_eq "$nc" "$(num "$SJ_WORK/c.txt" 'app ([0-9]+)$')" "app messages at 2/s"
[ "$(num "$SJ_WORK/c.txt" 'tokens: ([0-9]+) fetched')" -ge 2 ] || fail "the token was not refreshed"
[ "$(num "$SJ_WORK/c.txt" 'fetched \(([0-9]+) before expiry')" -ge 1 ] ||
    fail "the token was not refreshed before it expired"
[ "$(num "$SJ_WORK/c.txt" 'provider app: .*rate waits ([0-9]+)')" -ge 5 ] || fail "no rate waits"

note "D: the circuit breaker (500 for 2.5 s)"
D=$(hex)
dl_make "$D" 30 sms
f=$(fault_http "{\"endpoint\":\"sms\",\"reference_prefix\":\"$D\",\"status\":500}")
(sleep 2.5; unfault_http "$f") &
dl_settings 5 "${HTTP[@]}" -X breaker.failures=3 -X breaker.open-ms=300 \
    -X breaker.max-open-ms=1000 -X deliver.retry-max-attempts=10 -X "deliver.group=$RUN-d"
DL_IDLE_MS=3000 dl_deliver "$SJ_WORK/d.txt"
wait
assert_eq 30 "$(num "$SJ_WORK/d.txt" 'sms ([0-9]+),')" "SMS sent once the gateway is back"
[ "$(num "$SJ_WORK/d.txt" 'breaker opened ([0-9]+)')" -ge 1 ] || fail "the breaker did not open"
fast=$(num "$SJ_WORK/d.txt" 'failed fast ([0-9]+)')
stats=$(curl -fsS "$URL/_admin/stats?endpoint=sms&reference_prefix=$D")
seen500=$(json_get "$stats" 'd["endpoints"]["sms"]["by_status"].get("500", 0)')
note "breaker: $fast sends failed fast, the gateway saw $seen500 requests while failing"
[ "$fast" -gt "$seen500" ] || fail "the breaker did not keep sends away ($fast fast, $seen500 seen)"

note "E: Twilio, a final dead letter, list and replay"
E=$(hex)
dl_make "$E" 6 sms
f=$(fault_http "{\"endpoint\":\"twilio\",\"recipient\":\"$($FIXTURE phone "$E" 0)\",\"status\":400}")
TW=(-X sms.transport=twilio -X "sms.url=$URL" -X "sms.twilio-sid=$SEINTJE_TEST_TWILIO_SID"
    -X "sms.twilio-token-file=$SEINTJE_TEST_TWILIO_TOKEN_FILE" -X "deliver.group=$RUN-e")
dl_settings 5 "${TW[@]}"
dl_deliver "$SJ_WORK/e.txt"
assert_eq "5 1" "$(num "$SJ_WORK/e.txt" 'sms ([0-9]+),') $(num "$SJ_WORK/e.txt" '([0-9]+) undeliverable')" \
    "Twilio: sent, undeliverable"
dl_status 5 | grep "\"intent\":\"$E" | grep -c '"reference":"SM[0-9a-f]\{32\}"' > "$SJ_WORK/e-sm" || true
assert_eq 5 "$(cat "$SJ_WORK/e-sm")" "status records with Twilio message sids"
"$SEINTJE_BIN" dead-letter list --intent "$E" "${X[@]}" > "$SJ_WORK/e-list.txt"
cat "$SJ_WORK/e-list.txt"
assert_eq 1 "$(grep -c "$(pid "$E" 0).*final.*code 21211" "$SJ_WORK/e-list.txt")" "listed dead letter"
unfault_http "$f"
"$SEINTJE_BIN" dead-letter replay --intent "$E" "${X[@]}" > "$SJ_WORK/e-replay.txt"
grep -q "1 intents replayed" "$SJ_WORK/e-replay.txt" || fail "replay: $(cat "$SJ_WORK/e-replay.txt")"
dl_deliver "$SJ_WORK/e2.txt"
assert_eq 1 "$(num "$SJ_WORK/e2.txt" 'sms ([0-9]+),')" "the replayed intent sent"
"$SEINTJE_BIN" dead-letter replay --intent "$E" "${X[@]}" > "$SJ_WORK/e-replay2.txt"
grep -q "0 intents replayed, 1 delivered since" "$SJ_WORK/e-replay2.txt" ||
    fail "second replay: $(cat "$SJ_WORK/e-replay2.txt")"
echo "deliver_http: all checks passed"
