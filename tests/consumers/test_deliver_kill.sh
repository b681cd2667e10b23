#!/usr/bin/env bash
# Kill test of `seintje deliver` against the real peers, Kafka and Redis:
# 10,000 intents (a third each e-mail over SMTP with STARTTLS+AUTH, SMS
# through the webhook, app inbox with OAuth2), with temporary faults on a
# few percent of each channel (so retries are in flight too) and a few
# permanent ones (dead letters), at 250 messages/s per channel (so the work
# spans the kills), go through `seintje deliver`, which is
# SIGKILLed KILLS times at random moments and restarted each time, then
# run to the end. kill_check.py then checks from the outside that every
# intent was delivered (accepted by its server) or dead-lettered, with its
# final status record, and reports the duplicates the servers saw. A
# duplicate can only be a message that was on the wire when deliver died:
# there are at most smtp.connections + sms.connections + app.connections
# (8 + 16 + 16) of those per kill, and each one deliver re-sends it logs
# ("was in flight when this instance stopped": every intent it had claimed,
# at most deliver.max-in-flight per kill, most of them never sent).
#
# Environment: KILL_INTENTS (default 10000), KILLS (default 8).
set -euo pipefail
source "$SEINTJE_SOURCE_DIR/tests/services/lib.sh"
source "$SEINTJE_SOURCE_DIR/tests/consumers/deliver_lib.sh"
sj_load_env
sj_workdir
N=${KILL_INTENTS:-10000}
KILLS=${KILLS:-8}
INFLIGHT=200
dl_init deliver-kill 7 8
trap '[ -z "${pid:-}" ] || kill -9 "$pid" 2>/dev/null || true; sj_cleanup_work' EXIT
P=$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
third=$(((N + 2) / 3))

note "$N intents, prefix $P: e-mail, SMS, app"
dl_make "$P" "$third" email --domain "$P.test"
dl_make "$P" "$third" sms --start "$third"
dl_make "$P" $((N - 2 * third)) app --start $((2 * third))
faults=(
    "$(fault_smtp "{\"stage\":\"data\",\"message_id_prefix\":\"$P\",\"fraction\":0.03,\"code\":451}")"
    "$(fault_http "{\"endpoint\":\"sms\",\"reference_prefix\":\"$P\",\"fraction\":0.03,\"status\":503,\"retry_after\":0}")"
    "$(fault_http "{\"endpoint\":\"inbox\",\"reference_prefix\":\"$P\",\"fraction\":0.03,\"status\":500}")"
)
for i in 1 2 3; do # permanent: these SMS go to the dead letters
    faults+=("$(fault_http "{\"endpoint\":\"sms\",\"recipient\":\"$($FIXTURE phone "$P" $((third + i * 7)))\",\"status\":400}")")
done
dl_settings 7 -X email.transport=smtp -X "smtp.host=$SEINTJE_TEST_SMTP_HOST" \
    -X "smtp.port=$SEINTJE_TEST_SMTP_PORT" -X "smtp.ca-file=$SEINTJE_TEST_SMTP_CA" \
    -X "smtp.user=$SEINTJE_TEST_SMTP_USER" \
    -X "smtp.password-file=$SEINTJE_TEST_SMTP_PASSWORD_FILE" \
    -X sms.transport=webhook -X "sms.url=$SEINTJE_TEST_HTTP_URL/sms" \
    -X app.transport=inbox -X "app.url=$SEINTJE_TEST_HTTP_URL/inbox/messages" \
    -X "app.token-url=$SEINTJE_TEST_HTTP_URL/oauth/token" \
    -X "app.client-id=$SEINTJE_TEST_INBOX_CLIENT_ID" \
    -X "app.client-secret-file=$SEINTJE_TEST_INBOX_CLIENT_SECRET_FILE" \
    -X "deliver.max-in-flight=$INFLIGHT" -X deliver.lease-ms=4000 \
    -X smtp.timeout-ms=3000 -X sms.timeout-ms=3000 -X app.timeout-ms=3000 \
    -X deliver.retry-base-ms=200 -X deliver.retry-max-attempts=8 \
    -X smtp.rate=250 -X sms.rate=250 -X app.rate=250 --log-level info

start=$SECONDS
for ((k = 1; k <= KILLS; k++)); do
    "$SEINTJE_BIN" deliver "${X[@]}" > "$SJ_WORK/run$k.txt" 2> "$SJ_WORK/run$k.log" &
    pid=$!
    sleep "$(python3 -c 'import random; print(round(random.uniform(1.0, 2.5), 2))')"
    kill -9 "$pid" 2> /dev/null || fail "deliver exited before kill $k: $(tail -3 "$SJ_WORK/run$k.log")"
    wait "$pid" 2> /dev/null || true
    pid=
    note "kill $k: $(dl_status 7 | grep -c '"status":"sent"' || true) sent so far"
done
note "the last run, to the end"
"$SEINTJE_BIN" deliver --until-idle 6000 "${X[@]}" > "$SJ_WORK/last.txt" 2> "$SJ_WORK/last.log" ||
    { tail -5 "$SJ_WORK/last.log"; fail "the last run failed"; }
sed 's/^/   /' "$SJ_WORK/last.txt"
note "$((SECONDS - start)) s for $N intents with $KILLS kills"
for f in "${faults[@]:0:1}"; do unfault_smtp "$f"; done
for f in "${faults[@]:1}"; do unfault_http "$f"; done

recovered=$(cat "$SJ_WORK"/run*.log "$SJ_WORK/last.log" | grep -c 'was in flight when this instance stopped' || true)
dl_status 7 > "$SJ_WORK/status.jsonl"
dl_dead 7 > "$SJ_WORK/dead.jsonl"
python3 "$SJ_ROOT/tests/consumers/kill_check.py" --redis "$REDIS_BASE/7" --prefix "$P" \
    --count "$N" --kills "$KILLS" --max-in-flight "$INFLIGHT" --recovered "$recovered" \
    --connections $((8 + 16 + 16)) \
    --status "$SJ_WORK/status.jsonl" --dead "$SJ_WORK/dead.jsonl" \
    --smtp-index "$SEINTJE_TEST_SMTP_SPOOL/index.jsonl" \
    --smtp-admin "$SEINTJE_TEST_SMTP_ADMIN_URL" --http "$SEINTJE_TEST_HTTP_URL"
echo "deliver_kill: all checks passed"
