#!/usr/bin/env bash
# `seintje deliver` against the real SMTP peer (tests/peers/smtp_server.py:
# aiosmtpd, STARTTLS with a self-signed certificate, AUTH, every message
# kept as a file), one run per error class:
#
#  A  the intended rendering: the same intents through the outbox (Redis db
#     of its own), as the reference for what must arrive;
#  B  SMTP with STARTTLS and AUTH, 30 intents (channels email, then sms to
#     the outbox), faults on some recipients: 550 at RCPT (permanent: dead
#     letter, fallback to SMS), 452 at RCPT every time (temporary until the
#     attempts run out: dead letter "exhausted", fallback), 451 at the end of
#     DATA twice (retried, then sent), the connection dropped after DATA once
#     (retried: the peer sees the Message-ID twice, and drops nothing);
#     every received message is parsed by Python's email package and must
#     equal its outbox rendering (headers decoded, both bodies), with the
#     intent id in its Message-ID, the envelope recipient the To address,
#     TLS and AUTH used; status records, dead letters and Redis counters are
#     checked per intent;
#  C  implicit TLS (SMTPS port);
#  D  nothing listening on the relay's port: connection refused is
#     temporary, the breaker opens, the retries run out, dead letters.
set -euo pipefail
source "$SEINTJE_SOURCE_DIR/tests/services/lib.sh"
source "$SEINTJE_SOURCE_DIR/tests/consumers/deliver_lib.sh"
sj_load_env
sj_workdir
[ -n "${SEINTJE_TEST_SMTP_PORT:-}" ] || fail "no SMTP peer in $SEINTJE_SERVICES_ENV"
dl_init deliver-smtp 3 4
P=$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
DOMAIN=$P.test
SMTP=(-X email.transport=smtp -X "smtp.host=$SEINTJE_TEST_SMTP_HOST"
      -X "smtp.port=$SEINTJE_TEST_SMTP_PORT" -X "smtp.ca-file=$SEINTJE_TEST_SMTP_CA"
      -X "smtp.user=$SEINTJE_TEST_SMTP_USER"
      -X "smtp.password-file=$SEINTJE_TEST_SMTP_PASSWORD_FILE" -X smtp.connections=4
      -X deliver.retry-max-attempts=3)
id() { printf '%s%024x' "$P" "$1"; }

note "intents $P: 30, channels email then sms"
dl_make "$P" 30 email,sms --domain "$DOMAIN"

note "A: the intended rendering (outbox)"
dl_settings 4
dl_deliver "$SJ_WORK/a.txt"
assert_eq 30 "$(num "$SJ_WORK/a.txt" 'email ([0-9]+),')" "outbox e-mails"

note "B: SMTP, STARTTLS + AUTH, with faults"
f1=$(fault_smtp "{\"stage\":\"rcpt\",\"rcpt\":\"r3@$DOMAIN\",\"code\":550}")
f2=$(fault_smtp "{\"stage\":\"rcpt\",\"rcpt\":\"r7@$DOMAIN\",\"code\":452}")
f3=$(fault_smtp "{\"stage\":\"data\",\"message_id_prefix\":\"$(id 5)\",\"first\":2,\"code\":451}")
f4=$(fault_smtp "{\"stage\":\"data\",\"message_id_prefix\":\"$(id 9)\",\"drop\":\"after\",\"count\":1}")
dl_settings 3 "${SMTP[@]}"
dl_deliver "$SJ_WORK/b.txt"
for f in "$f1" "$f2" "$f3" "$f4"; do unfault_smtp "$f"; done
assert_eq "28 2" "$(num "$SJ_WORK/b.txt" 'email ([0-9]+),') $(num "$SJ_WORK/b.txt" 'sms ([0-9]+),')" \
    "e-mails and SMS sent"
assert_eq 2 "$(num "$SJ_WORK/b.txt" 'dead letters ([0-9]+)')" "dead letters"
assert_eq 2 "$(num "$SJ_WORK/b.txt" '\(([0-9]+) went on to the next channel')" "fallbacks"

note "B: what arrived, parsed with Python's email package"
$FIXTURE mime --index "$SEINTJE_TEST_SMTP_SPOOL/index.jsonl" --spool "$SEINTJE_TEST_SMTP_SPOOL" \
    --outbox "$SJ_WORK/outbox-4" --prefix "$P"
stats=$(curl -fsS "$SEINTJE_TEST_SMTP_ADMIN_URL/_admin/stats?message_id_prefix=$P")
assert_eq "29 28 1" "$(json_get "$stats" 'd["messages"], d["unique_message_ids"], d["duplicates"]' | tr -d '(),')" \
    "messages, unique Message-IDs, duplicates at the peer (one drop after DATA)"

note "B: status records and dead letters"
dl_status 3 > "$SJ_WORK/b-status.jsonl"
dl_dead 3 > "$SJ_WORK/b-dead.jsonl"
python3 - "$SJ_WORK/b-status.jsonl" "$SJ_WORK/b-dead.jsonl" "$P" <<'EOF'
import json, sys
status = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
dead = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
p = sys.argv[3]
iid = lambda i: p + "%024x" % i
by = {}
for r in status:
    assert r["stage"] == "deliver", r
    by.setdefault(r["intent"], []).append((r["status"], r.get("channel"), r.get("attempt")))
assert len(by) == 30, len(by)
for i in range(30):
    last = by[iid(i)][-1]
    want = "sms" if i in (3, 7) else "email"
    assert last[0] == "sent" and last[1] == want, (i, by[iid(i)])
assert by[iid(5)] == [("temporary-failure", "email", 1), ("temporary-failure", "email", 2),
                      ("sent", "email", 3)], by[iid(5)]
assert by[iid(9)] == [("temporary-failure", "email", 1), ("sent", "email", 2)], by[iid(9)]
assert by[iid(3)][0] == ("permanent-failure", "email", 1), by[iid(3)]
assert [s[0] for s in by[iid(7)]] == ["temporary-failure", "temporary-failure",
                                      "permanent-failure", "sent"], by[iid(7)]
assert len(dead) == 2, dead
d = {r["intent"]: r for r in dead}
assert d[iid(3)]["class"] == "permanent" and d[iid(3)]["fallback"] == "sms", d[iid(3)]
assert "550" in d[iid(3)]["reason"] and not d[iid(3)]["final"], d[iid(3)]
assert d[iid(7)]["class"] == "exhausted" and d[iid(7)]["attempts"] == 3, d[iid(7)]
assert d[iid(7)]["notification"]["id"] == iid(7)
for r in dead:  # no personal data outside the notification
    flat = json.dumps({k: v for k, v in r.items() if k != "notification"})
    assert p + ".test" not in flat and "+32" not in flat, flat
print("status records and dead letters as expected")
EOF
counters=$(redis-cli -u "$REDIS_BASE/3" --no-auth-warning --raw HGETALL 'sj:{stats}:id-card-renewal' | paste -sd' ')
for want in "plain|email.sent 28" "plain|sms.sent 2" "plain|email.permanent-failure 2" \
    "plain|email.temporary-failure 5"; do
    [[ " $counters " == *" $want "* ]] || fail "Redis counters lack '$want': $counters"
done

note "B again: a second run sends nothing (claims in Redis)"
"$SEINTJE_BIN" deliver --until-idle 1000 "${X[@]}" -X "deliver.group=$RUN-again" > "$SJ_WORK/b2.txt"
assert_eq 30 "$(num "$SJ_WORK/b2.txt" 'failed: .*, ([0-9]+) duplicates')" "duplicates on replay"
assert_eq 29 "$(json_get "$(curl -fsS "$SEINTJE_TEST_SMTP_ADMIN_URL/_admin/stats?message_id_prefix=$P")" 'd["messages"]')" \
    "messages at the peer after the replay"

note "C: implicit TLS"
Q=$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
dl_make "$Q" 5 email --domain "$Q.test"
dl_settings 3 "${SMTP[@]}" -X smtp.tls=implicit -X "smtp.port=$SEINTJE_TEST_SMTP_TLS_PORT" \
    -X "deliver.group=$RUN-c"
dl_deliver "$SJ_WORK/c.txt"
assert_eq 5 "$(num "$SJ_WORK/c.txt" 'email ([0-9]+),')" "e-mails over implicit TLS"
assert_eq 5 "$(grep -c "\"message_id\": \"$Q" "$SEINTJE_TEST_SMTP_SPOOL/index.jsonl")" "messages received over SMTPS"

note "D: connection refused: temporary, breaker, retries run out"
R=$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
dl_make "$R" 6 email --domain "$R.test"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
dl_settings 3 "${SMTP[@]}" -X "smtp.port=$port" -X breaker.failures=2 -X breaker.open-ms=200 \
    -X deliver.retry-max-age-ms=1500 -X "deliver.group=$RUN-d"
dl_deliver "$SJ_WORK/d.txt"
assert_eq 6 "$(num "$SJ_WORK/d.txt" '([0-9]+) undeliverable')" "undeliverable after connection refused"
[ "$(num "$SJ_WORK/d.txt" 'breaker opened ([0-9]+)')" -ge 1 ] || fail "the breaker did not open"
dl_dead 3 | grep "\"intent\":\"$R" > "$SJ_WORK/d-dead.jsonl" || true
assert_eq 6 "$(wc -l < "$SJ_WORK/d-dead.jsonl")" "dead letters after connection refused"
grep -q "Couldn't connect" "$SJ_WORK/d-dead.jsonl" ||
    fail "dead letters do not name the connection failure"
echo "deliver_smtp: all checks passed"
