#!/usr/bin/env bash
# Integration test of the delivery peers themselves (scripts/peers.sh:
# tests/peers/smtp_server.py and http_gateway.py), driven by independent
# standard clients: curl's command line for SMTP (STARTTLS, implicit TLS,
# AUTH PLAIN and LOGIN) and for every HTTP endpoint (SMS webhook, Twilio-style
# API, OAuth2 client credentials, app inbox), and Python's email package to
# parse the mail the server kept and compare it with what was sent.
#
# First the shared peers of the services fixture (DIR/env): they answer and
# take one e-mail and one SMS, counted under this run's own names. Then a
# private pair started here with scripts/peers.sh, where the global fault
# rules cannot disturb other tests: every fault mode (550, 451 for the first
# attempts, slow, 421, dropped connections; 429 with Retry-After, 500 for a
# fraction, 400 for a recipient, drop before and after accepting, expired and
# revoked tokens) and the duplicate counts. Fails, never skips.
# shellcheck source=tests/services/lib.sh
source "$(dirname "$0")/../services/lib.sh"
sj_load_env
sj_workdir
cd "$SJ_WORK" || fail "no work directory"

py=${SEINTJE_PEERS_PYTHON:-/usr/bin/python3}
peers_sh=$SJ_ROOT/scripts/peers.sh

stop_private() {
    local rc=$?
    if [ -d "$SJ_WORK/peers" ]; then "$peers_sh" stop "$SJ_WORK/peers" > /dev/null 2>&1 || true; fi
    sj_cleanup_work
    return "$rc"
}
trap stop_private EXIT

# json FILE EXPR: print EXPR evaluated over the JSON in FILE (as d).
json() {
    "$py" -c 'import json, sys; d = json.load(open(sys.argv[1])); v = eval(sys.argv[2], {"d": d}); print(json.dumps(v) if isinstance(v, (dict, list)) else v)' "$1" "$2"
}

# http METHOD URL [CURL ARGS...]: body to out.json, headers to out.head,
# prints the status (000 when the connection closed without an answer).
http() {
    local method=$1 url=$2
    shift 2
    curl -sS -X "$method" -o out.json -D out.head -w '%{http_code}' --max-time 20 "$@" "$url" 2> out.err || true
}

header() { # NAME: a header of the last answer
    sed -n "s/^$1: *\(.*\)\r$/\1/Ip" out.head | head -n 1
}

# ---------------------------------------------------------------------------
note "shared peers from $SEINTJE_SERVICES_ENV"
for v in SMTP_HOST SMTP_PORT SMTP_TLS_PORT SMTP_USER SMTP_PASSWORD_FILE SMTP_CA SMTP_SPOOL \
    SMTP_ADMIN_URL HTTP_URL HTTPS_URL HTTP_CA HTTP_SPOOL TWILIO_SID TWILIO_TOKEN_FILE \
    INBOX_CLIENT_ID INBOX_CLIENT_SECRET_FILE INBOX_TOKEN_TTL; do
    [ -n "$(eval "echo \${SEINTJE_TEST_$v:-}")" ] || fail "services env lacks SEINTJE_TEST_$v"
done
run=$(sj_unique peers | tr -c 'a-zA-Z0-9\n' '-')
domain="$run.test"
printf 'From: <noreply@gent.test>\r\nTo: <a@%s>\r\nSubject: shared\r\nMessage-ID: <%s@seintje.test>\r\n\r\nhallo\r\n' \
    "$domain" "$run" > shared.eml
curl -sS --ssl-reqd --cacert "$SEINTJE_TEST_SMTP_CA" \
    --user "$SEINTJE_TEST_SMTP_USER:$(cat "$SEINTJE_TEST_SMTP_PASSWORD_FILE")" \
    --mail-from noreply@gent.test --mail-rcpt "a@$domain" --upload-file shared.eml \
    "smtp://$SEINTJE_TEST_SMTP_HOST:$SEINTJE_TEST_SMTP_PORT" || fail "shared SMTP peer refused a message"
curl -sS -o stats.json "$SEINTJE_TEST_SMTP_ADMIN_URL/_admin/stats?rcpt_suffix=@$domain" || fail "shared SMTP admin"
assert_eq 1 "$(json stats.json 'd["messages"]')" "shared SMTP peer: messages for @$domain"
assert_eq 202 "$(http POST "$SEINTJE_TEST_HTTPS_URL/sms" --cacert "$SEINTJE_TEST_HTTP_CA" \
    -d "{\"to\":\"+32470000001\",\"from\":\"Gent\",\"text\":\"hallo\",\"reference\":\"$run-1\"}")" \
    "shared gateway over HTTPS: POST /sms"
curl -sS -o stats.json "$SEINTJE_TEST_HTTP_URL/_admin/stats?reference_prefix=$run-" || fail "shared gateway admin"
assert_eq 1 "$(json stats.json 'd["total"]["accepted"]')" "shared gateway: accepted for $run-"

# ---------------------------------------------------------------------------
note "private peers"
"$peers_sh" start "$SJ_WORK/peers" > start.log || { cat start.log; fail "scripts/peers.sh start"; }
"$peers_sh" status "$SJ_WORK/peers" > /dev/null || fail "scripts/peers.sh status after start"
# shellcheck disable=SC1091 # written by scripts/peers.sh
source "$SJ_WORK/peers/env"
smtp_url="smtp://$SEINTJE_TEST_SMTP_HOST:$SEINTJE_TEST_SMTP_PORT"
smtps_url="smtps://localhost:$SEINTJE_TEST_SMTP_TLS_PORT"
creds="$SEINTJE_TEST_SMTP_USER:$SEINTJE_TEST_SMTP_PASSWORD"
A=$SEINTJE_TEST_SMTP_ADMIN_URL
G=$SEINTJE_TEST_HTTP_URL
spool=$SEINTJE_TEST_SMTP_SPOOL
emails() { find "$spool" -maxdepth 1 -name '*.eml' | wc -l | tr -d ' '; }
smtp_stats() { curl -sS -o smtp.json "$A/_admin/stats" || fail "SMTP admin"; json smtp.json "$1"; }
gw_stats() { curl -sS -o gw.json "$G/_admin/stats" || fail "gateway admin"; json gw.json "$1"; }
faults() { # PEER_URL JSON: add fault rules
    curl -fsS -o faults.json "$1/_admin/faults" -d "$2" || { cat faults.json; fail "could not set faults $2"; }
}
clear_faults() { curl -fsS -o /dev/null -X DELETE "$1/_admin/faults" || fail "could not clear faults"; }

# send URL RCPT... [-- CURL ARGS]: send intended.eml; prints curl's exit code.
send() {
    local url=$1 rc=0 args=()
    shift
    while [ $# -gt 0 ] && [ "$1" != -- ]; do args+=(--mail-rcpt "$1"); shift; done
    [ $# -gt 0 ] && shift
    curl -sS --cacert "$SEINTJE_TEST_SMTP_CA" --user "$creds" --mail-from noreply@gent.test \
        "${args[@]}" --upload-file intended.eml --max-time 20 "$@" "$url" 2> send.err || rc=$?
    echo "$rc"
}

note "SMTP: STARTTLS + AUTH PLAIN, the message parsed by Python's email package"
"$py" - <<'PY' || fail "could not write the intended message"
from email.message import EmailMessage
from email import policy
import json
m = EmailMessage(policy=policy.SMTP)
m["From"] = "Stad Gent <noreply@gent.test>"
m["To"] = "Jan Peeters <jan@burger.test>"
m["Subject"] = "Uw identiteitskaart vervalt \u2014 maak een afspraak"
m["Message-ID"] = "<intent-0001@seintje.test>"
m["Date"] = "Sun, 29 Nov 2026 10:00:00 +0100"
text = "Beste Jan,\n\nUw identiteitskaart vervalt op 12 januari.\n.Een regel die met een punt begint.\n\nStad Gent\n"
html = "<p>Beste Jan,</p><p>Uw identiteitskaart vervalt op <b>12 januari</b>.</p>\n"
m.set_content(text)
m.add_alternative(html, subtype="html")
open("intended.eml", "wb").write(m.as_bytes())
json.dump({"subject": str(m["Subject"]), "text": text, "html": html}, open("intended.json", "w"))
PY
assert_eq 0 "$(send "$smtp_url" jan@burger.test -- --ssl-reqd)" "curl STARTTLS+AUTH PLAIN send ($(cat send.err))"
assert_eq 1 "$(emails)" "messages in the spool"
"$py" - "$spool" <<'PY' || fail "the received message differs from the intended one"
import email, json, sys
from email import policy
spool = sys.argv[1]
idx = [json.loads(l) for l in open(spool + "/index.jsonl")]
assert len(idx) == 1, idx
e = idx[0]
assert e["mail_from"] == "noreply@gent.test", e
assert e["rcpt_tos"] == ["jan@burger.test"], e
assert e["tls"] is True and e["auth_user"] == "seintje", e
assert e["message_id"] == "intent-0001@seintje.test" and e["duplicate"] is False, e
raw = open(spool + "/" + e["file"], "rb").read()
sent = open("intended.eml", "rb").read()
assert raw.rstrip(b"\r\n") == sent.rstrip(b"\r\n"), "bytes differ"
want = json.load(open("intended.json"))
m = email.message_from_bytes(raw, policy=policy.default)
assert str(m["Subject"]) == want["subject"], m["Subject"]
assert m["From"].addresses[0].addr_spec == "noreply@gent.test"
assert m["To"].addresses[0].display_name == "Jan Peeters"
assert m.get_content_type() == "multipart/alternative"
# The wire has CRLF line ends; the intended texts have LF.
text = m.get_body(("plain",)).get_content().replace("\r\n", "\n")
html = m.get_body(("html",)).get_content().replace("\r\n", "\n")
assert text == want["text"], repr(text)
assert html == want["html"], repr(html)
PY

note "SMTP: implicit TLS + AUTH LOGIN, two recipients"
assert_eq 0 "$(send "$smtps_url" jan@burger.test an@burger.test -- --login-options AUTH=LOGIN)" \
    "curl smtps AUTH LOGIN send ($(cat send.err))"
assert_eq 2 "$(emails)" "messages in the spool"
assert_eq '["jan@burger.test", "an@burger.test"]' "$(tail -n 1 "$spool/index.jsonl" | "$py" -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["rcpt_tos"]))')" \
    "recipients of the second message"
assert_eq 1 "$(smtp_stats 'd["duplicates"]')" "duplicates (same Message-ID twice)"
assert_eq 3 "$(smtp_stats 'd["deliveries"]')" "deliveries"
assert_eq 1 "$(smtp_stats 'd["duplicate_deliveries"]')" "duplicate deliveries (jan twice)"

note "SMTP: refusals without a fault rule"
creds_ok=$creds
creds="$SEINTJE_TEST_SMTP_USER:wrong"
assert_eq 67 "$(send "$smtp_url" jan@burger.test -- --ssl-reqd)" "wrong password: login denied"
creds=$creds_ok
[ "$(send "$smtp_url" jan@burger.test)" != 0 ] || fail "sending without STARTTLS was accepted"
assert_eq 60 "$(curl -sS --ssl-reqd --user "$creds" --mail-from noreply@gent.test --mail-rcpt jan@burger.test \
    --upload-file intended.eml "$smtp_url" 2> /dev/null; echo $?)" "unknown CA refused by curl"
assert_eq 1 "$(smtp_stats 'd["auth"]["failed"]')" "failed AUTH counted"
assert_eq 2 "$(emails)" "no message from the refused sessions"

note "SMTP faults: 550 for a recipient, also among good ones"
faults "$A" '{"stage":"rcpt","rcpt":"gone@burger.test","code":550}'
assert_eq 55 "$(send "$smtp_url" gone@burger.test -- --ssl-reqd)" "550 for gone@ ($(cat send.err))"
assert_eq 0 "$(send "$smtp_url" gone@burger.test jan@burger.test -- --ssl-reqd --mail-rcpt-allowfails)" \
    "one good recipient among a rejected one"
assert_eq '["jan@burger.test"]' "$(tail -n 1 "$spool/index.jsonl" | "$py" -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["rcpt_tos"]))')" \
    "only the accepted recipient is in the envelope"
assert_eq 2 "$(smtp_stats 'd["by_reply"]["rcpt"]["550"]')" "RCPT 550 replies"
clear_faults "$A"

note "SMTP faults: 451 for the first 2 attempts of each message"
sed 's/intent-0001@/intent-0002@/' intended.eml > i2.eml && mv i2.eml intended.eml
n0=$(emails)
faults "$A" '{"stage":"data","first":2,"code":451}'
# (curl reports a 4xx after DATA as "Weird server reply"; the counts below
# say it was 451.)
[ "$(send "$smtp_url" jan@burger.test -- --ssl-reqd)" != 0 ] || fail "451 attempt 1 accepted"
[ "$(send "$smtp_url" jan@burger.test -- --ssl-reqd)" != 0 ] || fail "451 attempt 2 accepted"
assert_eq 0 "$(send "$smtp_url" jan@burger.test -- --ssl-reqd)" "attempt 3 goes through"
assert_eq $((n0 + 1)) "$(emails)" "messages after 451, 451, 250"
assert_eq 2 "$(smtp_stats 'd["by_reply"]["data"]["451"]')" "DATA 451 replies"
clear_faults "$A"

note "SMTP faults: slow, 421 at connect, dropped connections"
faults "$A" '{"stage":"mail","delay_ms":1200,"count":1}'
t0=$(date +%s%N)
assert_eq 0 "$(send "$smtp_url" jan@burger.test -- --ssl-reqd)" "slow MAIL still succeeds"
[ $((($(date +%s%N) - t0) / 1000000)) -ge 1200 ] || fail "delay_ms 1200 was not applied"
faults "$A" '{"stage":"connect","code":421,"count":1}'
[ "$(send "$smtp_url" jan@burger.test -- --ssl-reqd)" != 0 ] || fail "421 greeting accepted"
grep -q 421 send.err || fail "no 421 in curl's complaint ($(cat send.err))"
faults "$A" '{"stage":"connect","drop":true,"count":1}'
[ "$(send "$smtp_url" jan@burger.test -- --ssl-reqd)" != 0 ] || fail "dropped connection looked like success"
sed 's/intent-0002@/intent-0003@/' intended.eml > i3.eml && mv i3.eml intended.eml
n0=$(emails)
d0=$(smtp_stats 'd["duplicates"]')
faults "$A" '{"stage":"data","drop":"after","count":1}'
[ "$(send "$smtp_url" jan@burger.test -- --ssl-reqd)" != 0 ] || fail "drop after DATA looked like success"
assert_eq $((n0 + 1)) "$(emails)" "drop after DATA kept the message"
assert_eq 0 "$(send "$smtp_url" jan@burger.test -- --ssl-reqd)" "the retry goes through"
assert_eq $((d0 + 1)) "$(smtp_stats 'd["duplicates"]')" "the retry is counted as a duplicate"
assert_eq 2 "$(smtp_stats 'd["dropped"]')" "dropped connections"
clear_faults "$A"

# ---------------------------------------------------------------------------
note "SMS webhook"
sms() { # TO REF [TEXT]
    http POST "$G/sms" -H 'Content-Type: application/json' \
        -d "{\"to\":\"$1\",\"from\":\"Gent\",\"text\":\"${3:-Uw kaart vervalt}\",\"reference\":\"$2\"}"
}
assert_eq 202 "$(sms +32470000001 s-1)" "POST /sms"
assert_eq queued "$(json out.json 'd["status"]')" "/sms status"
assert_eq 202 "$(sms +32470000001 s-1)" "POST /sms again (same reference)"
assert_eq True "$(json out.json 'd["duplicate"]')" "/sms says duplicate"
assert_eq 400 "$(sms 0470000001 s-2)" "/sms with a national number"
assert_eq 400 "$(http POST "$G/sms" -d '{"to":"+32470000001","from":"Gent","text":"x","reference":"s-3","extra":1}')" \
    "/sms with an unknown member"
assert_eq 400 "$(http POST "$G/sms" -d 'not json')" "/sms with a bad body"

note "Twilio-style Messages API"
tw="$G/2010-04-01/Accounts/$SEINTJE_TEST_TWILIO_SID/Messages.json"
twauth="$SEINTJE_TEST_TWILIO_SID:$SEINTJE_TEST_TWILIO_TOKEN"
assert_eq 201 "$(http POST "$tw" -u "$twauth" -H 'Idempotency-Key: t-1' --data-urlencode To=+32470000002 \
    --data-urlencode From=Gent --data-urlencode 'Body=Uw kaart vervalt — afspraak?')" "Twilio create message"
[[ $(json out.json 'd["sid"]') =~ ^SM[0-9a-f]{32}$ ]] || fail "Twilio sid $(json out.json 'd["sid"]')"
assert_eq "Uw kaart vervalt — afspraak?" "$(json out.json 'd["body"]')" "Twilio body echoed"
assert_eq queued "$(json out.json 'd["status"]')" "Twilio status"
assert_eq 401 "$(http POST "$tw" -u "$SEINTJE_TEST_TWILIO_SID:wrong" --data-urlencode To=+32470000002 -d From=Gent -d Body=x)" "Twilio wrong token"
assert_eq 20003 "$(json out.json 'd["code"]')" "Twilio error code for bad auth"
assert_eq 400 "$(http POST "$tw" -u "$twauth" --data-urlencode To=+32470000002 -d From=Gent)" "Twilio without Body"
assert_eq 21602 "$(json out.json 'd["code"]')" "Twilio error code for no Body"
assert_eq 400 "$(http POST "$tw" -u "$twauth" -d To=abc -d From=Gent -d Body=x)" "Twilio bad To"
assert_eq 21211 "$(json out.json 'd["code"]')" "Twilio error code for bad To"
assert_eq 404 "$(http POST "$G/2010-04-01/Accounts/ACother/Messages.json" -u "$twauth" --data-urlencode To=+32470000002 -d From=Gent -d Body=x)" \
    "Twilio other account in the path"

note "OAuth2 client credentials and the app inbox"
cid=$SEINTJE_TEST_INBOX_CLIENT_ID
csecret=$SEINTJE_TEST_INBOX_CLIENT_SECRET
token() { # prints the access token, or fails
    assert_eq 200 "$(http POST "$G/oauth/token" -u "$cid:$csecret" -d grant_type=client_credentials)" "token by basic auth"
    json out.json 'd["access_token"]'
}
inbox() { # TOKEN REF [RECIPIENT] [CATEGORY]
    http POST "$G/inbox/messages" -H "Authorization: Bearer $1" -H 'Content-Type: application/json' \
        -d "{\"recipient\":\"${3:-inbox-0001}\",\"title\":\"Uw identiteitskaart\",\"body\":\"Maak een afspraak.\",\"deep_link\":\"https://app.gent.test/afspraak?x=1\",\"category\":\"${4:-action_required}\",\"expires_at\":\"2027-01-31T23:59:59+01:00\",\"reference\":\"$2\"}"
}
tok=$(token)
assert_eq 200 "$(http POST "$G/oauth/token" -d grant_type=client_credentials -d "client_id=$cid" -d "client_secret=$csecret")" "token by form"
assert_eq Bearer "$(json out.json 'd["token_type"]')" "token_type"
assert_eq "$SEINTJE_TEST_INBOX_TOKEN_TTL" "$(json out.json 'd["expires_in"]')" "expires_in"
assert_eq 401 "$(http POST "$G/oauth/token" -u "$cid:wrong" -d grant_type=client_credentials)" "token with a wrong secret"
assert_eq invalid_client "$(json out.json 'd["error"]')" "error for a wrong secret"
assert_eq 400 "$(http POST "$G/oauth/token" -u "$cid:$csecret" -d grant_type=password)" "token with another grant"
assert_eq 201 "$(inbox "$tok" i-1)" "inbox message"
assert_eq accepted "$(json out.json 'd["status"]')" "inbox status"
assert_eq 400 "$(inbox "$tok" i-2 inbox-0001 urgent)" "inbox message with a bad category"
assert_eq 401 "$(http POST "$G/inbox/messages" -d '{}')" "inbox without a token"
assert_eq 401 "$(inbox not-a-token i-3)" "inbox with an unknown token"
[[ $(header WWW-Authenticate) == *invalid_token* ]] || fail "no invalid_token in WWW-Authenticate: $(header WWW-Authenticate)"
curl -fsS -o /dev/null "$G/_admin/config" -d '{"token_ttl":1}' || fail "set token_ttl"
short=$(token)
sleep 1.2
assert_eq 401 "$(inbox "$short" i-4)" "inbox with an expired token"
[[ $(json out.json 'd["error_description"]') == *expired* ]] || fail "expiry not said: $(cat out.json)"
curl -fsS -o /dev/null "$G/_admin/config" -d "{\"token_ttl\":$SEINTJE_TEST_INBOX_TOKEN_TTL}" || fail "reset token_ttl"
curl -fsS -o /dev/null -X POST "$G/_admin/tokens/revoke" || fail "revoke tokens"
assert_eq 401 "$(inbox "$tok" i-5)" "inbox with a revoked token"
tok=$(token)

note "HTTP faults"
faults "$G" '{"endpoint":"sms","delay_ms":800,"count":1}'
t0=$(date +%s%N)
assert_eq 202 "$(sms +32470000003 f-slow)" "slow /sms still answers"
[ $((($(date +%s%N) - t0) / 1000000)) -ge 800 ] || fail "delay_ms 800 was not applied"
faults "$G" '{"endpoint":"sms","status":429,"retry_after":7,"count":2}'
assert_eq 429 "$(sms +32470000003 f-429)" "429 (1)"
assert_eq 7 "$(header Retry-After)" "Retry-After of 429"
assert_eq 429 "$(sms +32470000003 f-429)" "429 (2)"
assert_eq 202 "$(sms +32470000003 f-429)" "after two 429"
faults "$G" '{"endpoint":"inbox","status":500,"fraction":0.5}'
codes=""
for i in 1 2 3 4; do codes+="$(inbox "$tok" "f-500-$i") "; done
assert_eq "201 500 201 500 " "$codes" "500 for half of the inbox messages"
clear_faults "$G"
faults "$G" '{"recipient":"+32470000099","status":400}'
assert_eq 400 "$(sms +32470000099 f-400-a)" "400 for the chosen recipient"
assert_eq 202 "$(sms +32470000098 f-400-b)" "another recipient goes through"
faults "$G" '{"endpoint":"twilio","status":429,"count":1}'
assert_eq 429 "$(http POST "$tw" -u "$twauth" --data-urlencode To=+32470000002 -d From=Gent -d Body=x)" "Twilio 429"
assert_eq 20429 "$(json out.json 'd["code"]')" "Twilio 429 error code"
faults "$G" '{"endpoint":"token","status":503,"count":1}'
assert_eq 503 "$(http POST "$G/oauth/token" -u "$cid:$csecret" -d grant_type=client_credentials)" "token endpoint 503"
faults "$G" '{"endpoint":"sms","drop":"before","count":1}'
assert_eq 000 "$(sms +32470000004 f-drop-before)" "drop before: no answer"
grep -q '(52)' out.err || fail "curl did not see an empty reply: $(cat out.err)"
faults "$G" '{"endpoint":"sms","drop":"after","count":1}'
assert_eq 000 "$(sms +32470000004 f-drop-after)" "drop after: no answer"
assert_eq 202 "$(sms +32470000004 f-drop-after)" "drop after: the retry"
assert_eq True "$(json out.json 'd["duplicate"]')" "drop after: the retry is a duplicate"
faults "$G" '{"first":2,"status":500,"reference_prefix":"f-first-"}'
codes=""
for i in 1 2 3; do codes+="$(sms +32470000005 f-first-a) $(inbox "$tok" f-first-b) "; done
assert_eq "500 500 500 500 202 201 " "$codes" "first 2 attempts of each reference fail"
clear_faults "$G"

note "gateway stats and recordings"
curl -sS -o f.json "$G/_admin/stats?reference_prefix=f-" || fail "filtered stats"
assert_eq 2 "$(json f.json 'd["total"]["by_status"]["429"]')" "429 answers for f-*"
assert_eq 1 "$(json f.json 'd["total"]["by_status"]["drop"]')" "drops before for f-*"
assert_eq 1 "$(json f.json 'd["total"]["by_status"]["drop_after"]')" "drops after for f-*"
assert_eq 1 "$(json f.json 'd["total"]["duplicates"]')" "duplicates for f-*"
assert_eq 2 "$(gw_stats 'd["endpoints"]["sms"]["duplicates"]')" "sms duplicates (s-1 twice, f-drop-after twice)"
sms_lines=$(wc -l < "$SEINTJE_TEST_HTTP_SPOOL/sms.jsonl")
assert_eq "$(gw_stats 'd["endpoints"]["sms"]["received"]')" "$sms_lines" "sms.jsonl lines = received"
assert_eq 2 "$(grep -c '"reference": "s-1"' "$SEINTJE_TEST_HTTP_SPOOL/sms.jsonl")" "s-1 recorded twice"
for s in "$SEINTJE_TEST_INBOX_CLIENT_SECRET" "$SEINTJE_TEST_TWILIO_TOKEN" "$tok"; do
    ! grep -rqF -- "$s" "$SEINTJE_TEST_HTTP_SPOOL" || fail "a secret is in the recordings"
done

note "no personal data in the logs, clean stop on SIGTERM"
"$peers_sh" stop "$SJ_WORK/peers" > stop.log || { cat stop.log; fail "scripts/peers.sh stop"; }
for f in "$SJ_WORK/peers/smtp/smtp.log" "$SJ_WORK/peers/http/http.log"; do
    ! grep -Eq 'jan@burger|an@burger|gone@burger|\+3247000000' "$f" || fail "personal data in $f: $(grep -E '@burger|\+3247' "$f" | head -n 2)"
    grep -q '"msg": "stopped"' "$f" || fail "$f: no clean stop ($(tail -n 3 "$f"))"
    ! grep -q Traceback "$f" || fail "$f: a traceback"
done
if "$peers_sh" status "$SJ_WORK/peers" > /dev/null; then fail "peers still running after stop"; fi
echo "peers ok: smtp (STARTTLS, TLS, AUTH, 550, 451, slow, 421, drops), http (sms, twilio, oauth, inbox, 429, 500, 400, drops)"
