#!/usr/bin/env bash
# `seintje deliver` and `seintje dead-letter` refuse bad or missing delivery
# settings before they connect to anything: exit 2, an error that names the
# setting (or the environment variable) and says what to do, and never a
# secret. Also: --help of both commands. No services needed.
#
# usage: test_deliver_config.sh SEINTJE SOURCE_DIR
set -euo pipefail
BIN=$1
SRC=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
T=(-X "templates.dir=$SRC/templates/campaigns" -X brokers=127.0.0.1:1 -X redis.url=redis://127.0.0.1:1
   --log-format text)

# expect WANT_RC PATTERN ARGS...: run deliver, check the exit code and that
# stderr matches PATTERN (an extended regex) and holds no secret
expect() {
    local want=$1 pat=$2 rc=0
    shift 2
    env SEINTJE_SMTP_PASSWORD=hunter2-secret SEINTJE_APP_CLIENT_SECRET=s3cr3t-client \
        "$BIN" deliver -e "${T[@]}" "$@" > "$work/out" 2> "$work/err" || rc=$?
    [ "$rc" -eq "$want" ] || fail "exit $rc, not $want, for: $* ($(cat "$work/err"))"
    grep -Eq "$pat" "$work/err" || fail "no /$pat/ in: $(cat "$work/err")"
    ! grep -q 'hunter2-secret\|s3cr3t-client' "$work/out" "$work/err" || fail "a secret was printed"
}

expect 2 'email.transport: "fax" is not outbox or smtp' -X email.transport=fax
expect 2 'sms.transport: "pigeon" is not outbox, webhook or twilio' -X sms.transport=pigeon
expect 2 'app.transport: "push" is not outbox or inbox' -X app.transport=push
expect 2 'sms.transport=webhook needs sms.url' -X sms.transport=webhook
expect 2 'sms settings .*url: not an http:// or https:// URL' -X sms.transport=webhook \
    -X sms.url=ftp://gateway.example
expect 2 'sms.sender: "Gemeente Aalter" is not E.164' -X sms.transport=webhook \
    -X sms.url=http://gw.example/sms -X "sms.sender=Gemeente Aalter"
expect 2 'sms.transport=twilio needs sms.twilio-sid' -X sms.transport=twilio
expect 2 'set sms.twilio-token-file or SEINTJE_SMS_TWILIO_TOKEN' -X sms.transport=twilio \
    -X sms.twilio-sid=AC0123456789abcdef0123456789abcdef
echo token > "$work/token"
expect 2 'account sid: not AC and 32 characters' -X sms.transport=twilio -X sms.twilio-sid=AC12 \
    -X "sms.twilio-token-file=$work/token"
expect 2 'app.transport=inbox needs app.token-url' -X app.transport=inbox \
    -X app.url=https://inbox.example/messages
expect 1 'smtp.password-file /nonexistent/pw: cannot read' -X email.transport=smtp \
    -X smtp.user=u -X smtp.password-file=/nonexistent/pw
expect 2 'smtp.tls: "ssl" is not starttls, implicit or none' -X email.transport=smtp -X smtp.tls=ssl
printf 'line one\nline two\n' > "$work/pw"
expect 2 'smtp.password-file .*: must hold the secret on one line' -X email.transport=smtp \
    -X smtp.user=u -X "smtp.password-file=$work/pw"
expect 2 'smtp settings: sender: envelope address contains' -X email.transport=smtp \
    -X 'email.from=Gemeente <no reply@example.org>'
# The secret from the environment is taken (no complaint about a password)
# and not printed when a later setting is wrong.
expect 2 'email.from' -X email.transport=smtp -X smtp.user=u -X 'email.from=nobody'
env -u SEINTJE_SMTP_PASSWORD "$BIN" deliver -e "${T[@]}" -X email.transport=smtp -X smtp.user=u \
    > /dev/null 2> "$work/err" && fail "no password accepted"
grep -q 'smtp.user is set but there is no password: set smtp.password-file or SEINTJE_SMTP_PASSWORD' \
    "$work/err" || fail "missing password: $(cat "$work/err")"

"$BIN" deliver --help | grep -q 'dead-letter' || fail "deliver --help"
"$BIN" dead-letter --help | grep -q 'usage: seintje dead-letter list' || fail "dead-letter --help"
"$BIN" dead-letter replay "${T[@]}" > /dev/null 2> "$work/err" && fail "replay without a filter"
grep -q 'replay needs a filter or --all' "$work/err" || fail "replay: $(cat "$work/err")"
"$BIN" dead-letter > /dev/null 2>&1 && fail "dead-letter without a verb"
"$BIN" dead-letter list --class soon > /dev/null 2>&1 && fail "a bad --class"
echo "deliver_config: all checks passed"
