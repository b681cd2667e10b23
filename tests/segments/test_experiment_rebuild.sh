#!/usr/bin/env bash
# Integration: `seintje experiment rebuild` against the real broker and
# redis-server. Hand-made status records and life events on fresh topics
# (status: 3 partitions, life events: 2) for an experiment that two campaigns
# share (their own goals and windows: camp-a social tariff within 30 days,
# camp-b waste discount within 10), with every case of the counting rules:
#  - exposures: "sent" records (any step), holdout records (segment,
#    suppressed, holdout, initial), two sends to one resident written in
#    reverse time order (counted once, at the earlier time), a holdout
#    recorded twice, a legacy record without "experiment" (counted by its
#    campaign), records of another experiment (with and without the field),
#    status records that expose nobody (retry, a consent suppression);
#  - conversions: goal events inside the window (one exactly at its end, one
#    with a +01:00 offset), before the exposure, after the window, a second
#    goal event, the other campaign's goal outside its own shorter window, a
#    goal event of a resident exposed only in another experiment, of one
#    never exposed, one without a time, an event that is no goal;
#  - malformed records in both topics (invalid JSON, a bad pseudonym, a key
#    that is not the subject), counted with their positions, their content
#    in no output.
# The expected JSON is written out by hand below and compared exactly. Wrong
# live counters are set first: without --write they are reported as
# differences and left alone; with --write HGETALL is the rebuilt counts.
# Also: --help, an unknown experiment and a bad option exit 2, a missing
# topic exits 1. Redis database 21 (tests/services/lib.sh).
# shellcheck source=tests/services/lib.sh
source "${SEINTJE_SOURCE_DIR:-$(dirname "$0")/../..}/tests/services/lib.sh"
sj_load_env
sj_workdir
cd "$SJ_WORK" || fail "no work directory"
S=$SEINTJE_BIN
DB=21
redis_base=${SEINTJE_TEST_REDIS_URL%/*}
case "$SEINTJE_TEST_REDIS_URL" in redis://*/*) ;; *) redis_base=$SEINTJE_TEST_REDIS_URL ;; esac
RURL=$redis_base/$DB
r() { redis-cli -u "$RURL" --no-auth-warning --raw "$@"; }
KEY='sj:{exp}:exp-rb'
r FLUSHDB > /dev/null || fail "FLUSHDB of database $DB"

ST=$(sj_topic 3)
LT=$(sj_topic 2)
note "topics: status $ST, life events $LT"

mkdir campaigns
campaign() { # campaign ID TRIGGER GOAL WINDOW EXPERIMENT
    cat > "campaigns/$1.json" << EOF
{"id": "$1", "name": "Rebuild test $1", "topic": "social-rights",
 "trigger": {"event": "be.seintje.life.$2"},
 "timing": {"relative_to": "time", "offset_days": 0, "at": "00:00"},
 "goal": {"events": ["be.seintje.service.$3"], "window_days": $4},
 "channels": ["email"],
 "variants": [{"id": "plain", "weight": 45}, {"id": "social", "weight": 45},
              {"id": "holdout", "weight": 10, "holdout": true}],
 "experiment": "$5", "languages": ["nl"], "default_language": "nl"}
EOF
}
campaign camp-a income-changed social-tariff-requested 30 exp-rb
campaign camp-b moved-in waste-discount-requested 10 exp-rb
campaign camp-c birth parking-permit-requested 30 exp-other
cat > rebuild.conf << EOF
brokers = $SEINTJE_TEST_BROKERS
redis.url = $RURL
topic.delivery-status = $ST
topic.life-events = $LT
campaigns.dir = $SJ_WORK/campaigns
kafka.timeout-ms = 20000
EOF
C=(-c "$SJ_WORK/rebuild.conf" --log-level warn)

pid() { printf '%064x' "$1"; } # resident n's pseudonym
for n in 1 2 3 4 5 6 7 8 9 10 11 13 14; do printf -v "R$n" '%s' "$(pid "$n")"; done

# ---- status records -------------------------------------------------------
# st KEY CAMPAIGN STEP VARIANT EXPERIMENT|- STAGE STATUS REASON|- TIME
st() {
    local exp='' reason=''
    [ "$5" = - ] || exp=",\"experiment\":\"$5\""
    [ "$8" = - ] || reason=",\"reason\":\"$8\""
    printf '%s|{"intent":"%032x","campaign":"%s","step":"%s","variant":"%s"%s,"resident":"%s","stage":"%s","status":"%s"%s,"time":"%s","channel":"email"}\n' \
        "$1" "$RANDOM" "$2" "$3" "$4" "$exp" "$1" "$6" "$7" "$reason" "$9"
}
T=2026-03-01T09:00:00
# Malformed first, into partition 0 (offsets 0 and 1). The marker must
# appear in no output.
printf '%s\n' '{"resident": "SECRET-MARKER", "stage": ' \
    '{"campaign":"camp-a","step":"initial","variant":"plain","experiment":"exp-rb","resident":"SECRET-MARKER","stage":"deliver","status":"sent","time":"2026-03-01T09:00:00.000Z"}' |
    kcat -P -b "$SEINTJE_TEST_BROKERS" -t "$ST" -p 0 || fail "producing malformed status records"
{
    st "$R1" camp-a initial plain exp-rb deliver sent - "$T.000Z"
    st "$R2" camp-a reminder-1 social exp-rb deliver sent - 2026-03-02T10:00:00.000Z
    st "$R2" camp-a initial social exp-rb deliver sent - 2026-03-01T10:00:00.000Z
    st "$R3" camp-a initial holdout exp-rb segment suppressed holdout "$T.123Z"
    st "$R4" camp-a initial plain exp-rb segment suppressed consent "$T.000Z"
    st "$R4" camp-a initial plain exp-rb deliver retry - "$T.000Z"
    st "$R5" camp-c initial plain exp-other deliver sent - "$T.000Z"
    st "$R6" camp-b initial social - deliver sent - "$T.000Z"
    st "$R7" camp-c initial plain - deliver sent - "$T.000Z"
    st "$R8" camp-b initial plain exp-rb deliver sent - "$T.000Z"
    st "$R9" camp-a initial plain exp-rb deliver sent - "$T.000Z"
    st "$R10" camp-b initial social exp-rb deliver sent - "$T.000Z"
    st "$R13" camp-a initial social exp-rb deliver sent - "$T.500Z"
    st "$R14" camp-a initial plain exp-rb deliver sent - "$T.000Z"
    st "$R3" camp-b initial holdout exp-rb segment suppressed holdout 2026-03-05T09:00:00.000Z
} > status.txt
kcat -P -b "$SEINTJE_TEST_BROKERS" -t "$ST" -K '|' < status.txt || fail "producing status records"

# ---- life events ------------------------------------------------------------
# ev SUBJECT ID TYPE TIME|-
ev() {
    local time=''
    [ "$4" = - ] || time=",\"time\":\"$4\""
    printf '%s|{"specversion":"1.0","id":"%s","source":"urn:test","type":"be.seintje.%s"%s,"subject":"%s","datacontenttype":"application/json","data":{}}\n' \
        "$1" "$2" "$3" "$time" "$1"
}
W=service.waste-discount-requested
G=service.social-tariff-requested
{ # malformed, partition 0, offsets 0 to 2
    printf '%s|%s\n' "$R1" '{"subject": "SECRET-MARKER", "type": '
    printf '%s|{"specversion":"1.0","id":"x","source":"urn:test","type":"be.seintje.%s","time":"%s","subject":"SECRET-MARKER"}\n' \
        "$R1" "$G" 2026-03-02T09:00:00Z
    ev "$R2" l15 "$G" 2026-03-01T12:00:00Z | sed "s/^$R2|/$R1|/" # key is not the subject
} | kcat -P -b "$SEINTJE_TEST_BROKERS" -t "$LT" -p 0 -K '|' || fail "producing malformed events"
{
    ev "$R1" l1 "$W" 2026-03-21T09:00:00Z  # camp-b's goal, outside its 10 days
    ev "$R1" l2 "$G" 2026-03-26T09:00:00Z  # converts (camp-a, 25 days)
    ev "$R2" l3 "$G" 2026-03-01T12:00:00Z  # converts: after the earlier send only
    ev "$R3" l4 "$G" 2026-03-02T09:00:00Z  # converts (holdout)
    ev "$R8" l5 "$W" 2026-02-28T09:00:00Z  # before the exposure
    ev "$R9" l6 "$G" 2026-04-10T09:00:00Z  # after the window (40 days)
    ev "$R10" l7 "$W" 2026-03-06T10:00:00+01:00 # converts (5 days)
    ev "$R10" l8 "$W" 2026-03-07T09:00:00Z # a second goal event
    ev "$R11" l9 "$G" 2026-03-02T09:00:00Z # never exposed
    ev "$R13" l10 "$G" 2026-03-31T09:00:00.500Z # exactly at the window's end
    ev "$R14" l11 "$G" -                   # no time: not a goal event
    ev "$R6" l12 life.moved-in 2026-03-02T09:00:00Z # not a goal
    ev "$R5" l16 "$G" 2026-03-02T09:00:00Z # exposed in exp-other only
} > life.txt
kcat -P -b "$SEINTJE_TEST_BROKERS" -t "$LT" -K '|' < life.txt || fail "producing life events"
assert_eq 17 "$(sj_count "$ST")" "status records produced"
assert_eq 16 "$(sj_count "$LT")" "life events produced"

# Wrong live counters, and one of a variant that is no more.
r HSET "$KEY" 'plain|exposed' 7 'social|exposed' 4 'holdout|exposed' 1 \
    'social|converted' 2 'stale|exposed' 3 > /dev/null
r HSET 'sj:{exp}:exp-other' 'plain|exposed' 9 > /dev/null
hgetall() { r HGETALL "$1" | paste - - | sort; }
before=$(hgetall "$KEY")

expected() { # expected WRITTEN LIVE_JSON_ARMS...
    python3 - "$ST" "$LT" "$@" << 'EOF'
import json, sys
st, lt, written = sys.argv[1], sys.argv[2], sys.argv[3] == "true"
rebuilt = {"plain": (4, 1), "social": (4, 3), "holdout": (1, 1)}
live = json.loads(sys.argv[4])
names = ["plain", "social", "holdout"] + [v for v in live if v not in rebuilt]
arms = [{"variant": v, "exposed": rebuilt.get(v, (0, 0))[0],
         "converted": rebuilt.get(v, (0, 0))[1],
         "live_exposed": live.get(v, (0, 0))[0],
         "live_converted": live.get(v, (0, 0))[1]} for v in names]
json_problem = "invalid JSON"  # jansson's position follows; checked apart
print(json.dumps({
    "experiment": "exp-rb", "campaigns": ["camp-a", "camp-b"], "key": "sj:{exp}:exp-rb",
    "arms": arms,
    "records": {
        "delivery_status": {"topic": st, "read": 17, "used": 11, "malformed": 2,
            "malformed_at": [
                {"partition": 0, "offset": 0, "problem": json_problem},
                {"partition": 0, "offset": 1,
                 "problem": "resident is missing or not a 64-hex pseudonym"}]},
        "life_events": {"topic": lt, "read": 16, "used": 9, "malformed": 3,
            "malformed_at": [
                {"partition": 0, "offset": 0, "problem": json_problem},
                {"partition": 0, "offset": 1,
                 "problem": "subject is missing or not a 64-hex pseudonym"},
                {"partition": 0, "offset": 2,
                 "problem": "message key differs from the resident"}]}},
    "written": written}, sort_keys=True))
EOF
}
# normalise FILE: the JSON with jansson's "invalid JSON at line L column C"
# cut to "invalid JSON" (the position is jansson's business), keys sorted.
normalise() {
    python3 - "$1" << 'EOF'
import json, re, sys
d = json.load(open(sys.argv[1]))
for t in d.get("records", {}).values():
    for m in t.get("malformed_at", []):
        if re.fullmatch(r"invalid JSON at line \d+ column \d+", m["problem"]):
            m["problem"] = "invalid JSON"
print(json.dumps(d, sort_keys=True))
EOF
}

note "--help, usage errors"
"$S" experiment rebuild --help > help.txt || fail "--help exits $?"
grep -q 'usage: seintje experiment rebuild EXPERIMENT' help.txt || fail "--help: no usage line"
grep -q 'resident forget' help.txt || fail "--help says nothing about erased residents"
"$S" experiment --help | grep -q '^  rebuild ' || fail "experiment --help lists no rebuild"
set +e
"$S" experiment rebuild no-such-exp "${C[@]}" > out.txt 2> err.txt
rc=$?
set -e
assert_eq 2 "$rc" "exit code of an unknown experiment"
grep -q 'unknown experiment "no-such-exp"' err.txt || fail "unknown experiment: $(cat err.txt)"
set +e
"$S" experiment rebuild exp-rb --format csv "${C[@]}" > /dev/null 2> err.txt
rc=$?
set -e
assert_eq 2 "$rc" "exit code of --format csv"
set +e
"$S" experiment rebuild "${C[@]}" > /dev/null 2> err.txt
rc=$?
set -e
assert_eq 2 "$rc" "exit code without an experiment"

note "without --write: the differences, Redis untouched"
"$S" experiment rebuild exp-rb --format json "${C[@]}" > dry.json 2> dry.err ||
    fail "rebuild exits $?: $(cat dry.err)"
cat dry.json
live='{"plain": [7, 0], "social": [4, 2], "holdout": [1, 0], "stale": [3, 0]}'
assert_eq "$(expected false "$live")" "$(normalise dry.json)" "rebuild JSON"
assert_eq "$before" "$(hgetall "$KEY")" "counters after a rebuild without --write"
grep -q 'SECRET-MARKER' dry.json dry.err && fail "a malformed record's content was printed"
grep -q "$ST \[0\] offset 1: skipped: resident is missing" dry.err ||
    fail "the malformed status record is not logged by position: $(cat dry.err)"
grep -q "$LT \[0\] offset 2: skipped: message key differs" dry.err ||
    fail "the malformed life event is not logged by position: $(cat dry.err)"

note "text"
"$S" experiment rebuild camp-b "${C[@]}" > dry.txt 2> /dev/null || fail "text rebuild exits $?"
cat dry.txt
grep -q '^Experiment exp-rb (campaigns camp-a, camp-b)' dry.txt || fail "text: no title"
grep -Eq '^plain +4 +7 +-3 +1 +0 +\+1$' dry.txt || fail "text: the plain row"
grep -Eq '^stale +0 +3 +-3 +0 +0 +\+0$' dry.txt || fail "text: the stale row"
grep -q '5 counters of sj:{exp}:exp-rb differ; --write replaces them' dry.txt ||
    fail "text: no word on the differences"
grep -q 'SECRET-MARKER' dry.txt && fail "a malformed record's content was printed"

note "--write: the rebuilt counts replace the counters"
"$S" experiment rebuild exp-rb --write --format json "${C[@]}" > wrote.json 2> /dev/null ||
    fail "rebuild --write exits $?"
assert_eq "$(expected true "$live")" "$(normalise wrote.json)" "rebuild --write JSON"
want=$(printf '%s\t%s\n' 'holdout|converted' 1 'holdout|exposed' 1 'plain|converted' 1 \
    'plain|exposed' 4 'social|converted' 3 'social|exposed' 4 | sort)
assert_eq "$want" "$(hgetall "$KEY")" "HGETALL after --write"
assert_eq "plain|exposed	9" "$(hgetall 'sj:{exp}:exp-other')" "another experiment's counters"
"$S" experiment rebuild exp-rb --format json "${C[@]}" > again.json 2> /dev/null ||
    fail "rebuild after --write exits $?"
assert_eq "$(expected false '{"plain": [4, 1], "social": [4, 3], "holdout": [1, 1]}')" \
    "$(normalise again.json)" "rebuild after --write: live = rebuilt"
"$S" experiment rebuild exp-rb "${C[@]}" 2> /dev/null | grep -q 'agree with the topics' ||
    fail "text after --write: not in agreement"

note "a topic that does not exist: exit 1"
set +e
"$S" experiment rebuild exp-rb "${C[@]}" -X "topic.life-events=$ST.missing" > /dev/null 2> err.txt
rc=$?
set -e
assert_eq 1 "$rc" "exit code with a missing topic"
grep -q "topic.life-events" err.txt || fail "missing topic: $(cat err.txt)"
assert_eq "$want" "$(hgetall "$KEY")" "counters after a failed rebuild"
note "ok"
