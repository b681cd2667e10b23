#!/usr/bin/env bash
# Integration: profile v2 and `seintje resident` against the real redis-server
# of the services fixture.
#  - life events are applied with the engine's own functions (profile_apply,
#    linked with sj_segments), in one pipelined round trip, some of them out
#    of order: an older consent never overwrites a newer one, per channel and
#    per topic, also when the old event is replayed later;
#  - the derived facts (resident_since in Brussels time, id_card_expires),
#    age and the nudge contact read back as the engine sees them;
#  - engine state (intent states, pending steps, bodies, the shared schedule,
#    sends, goals, exposures, conversions) written as segments/engine does;
#  - `seintje resident show` prints all of it, identically twice;
#  - `seintje resident forget` removes every key of the resident (redis-cli
#    --scan finds none) and its schedule entries, leaves other residents'
#    alone, and says "nothing to forget" the second time;
#  - --nrn reads the register number from stdin and finds the pseudonym
#    produce makes with the same key; the number appears in no output;
#  - exit codes 2 for bad usage and 1 when Redis is unreachable.
# usage: test_resident.sh PROFILE_APPLY   (run through ctest)
# shellcheck source=tests/services/lib.sh
source "${SEINTJE_SOURCE_DIR:-$(dirname "$0")/../..}/tests/services/lib.sh"
sj_load_env
sj_workdir
cd "$SJ_WORK" || fail "no work directory"
apply_bin=${1:?usage: test_resident.sh PROFILE_APPLY}
S=$SEINTJE_BIN
U=$SEINTJE_TEST_REDIS_URL
R=(-X "redis.url=$U")

hex64() { od -An -N32 -tx1 /dev/urandom | tr -d ' \n'; }
P1=$(hex64) # the resident under test
P2=$(hex64) # another resident, who must be left alone
ID1=0123456789abcdef0123456789abcd01
ID2=0123456789abcdef0123456789abcd02
ID3=0123456789abcdef0123456789abcd03
cleanup() {
    sj_redis ZREM 'sj:{sched}:due' "$P2:$ID3" > /dev/null || true
    sj_redis DEL "sj:res:{$P2}" > /dev/null || true
    sj_cleanup_work
}
trap cleanup EXIT

H='"specversion":"1.0","datacontenttype":"application/json"'
ev() { # ev SUBJECT ID SOURCE TYPE TIME DATA
    printf '{%s,"id":"%s","source":"%s","type":"be.seintje.life.%s","time":"%s","subject":"%s","data":%s}\n' \
        "$H" "$2" "$3" "$4" "$5" "$1" "$6"
}

note "apply events, consents out of order"
{
    ev "$P1" r1 urn:pop registered 2026-01-01T00:00:00Z \
        '{"given_name":"Zoë","birth_date":"1960-07-01","email":"zoe@example.org","phone":"+32470123456","consents":{"email":true,"sms":true,"app":true}}'
    ev "$P1" c-new urn:desk-new consent-changed 2026-05-01T10:00:00Z '{"consents":{"email":false}}'
    ev "$P1" t-new urn:desk-new consent-changed 2026-05-01T10:00:00.250Z '{"consents":{"email":false,"sms":true},"topic":"identity"}'
    # older events arriving later (a replay, a late desk export)
    ev "$P1" c-old urn:desk-old consent-changed 2026-02-01T10:00:00Z '{"consents":{"email":true,"sms":false}}'
    ev "$P1" t-old urn:desk-old consent-changed 2026-05-01T11:00:00+02:00 '{"consents":{"email":true,"app":false},"topic":"identity"}'
    ev "$P1" i1 urn:pop id-card-expiring 2026-02-01T08:00:00Z '{"expires":"2026-05-01"}'
    ev "$P1" m1 urn:pop moved-in 2026-03-28T23:30:00Z '{"postcode":"9000"}'
    ev "$P2" r2 urn:pop registered 2026-01-01T00:00:00Z '{"given_name":"Other"}'
} > events.jsonl
assert_eq "applied 8" "$("$apply_bin" apply "$U" < events.jsonl)" "profile_apply"
# replaying the oldest consent once more changes nothing
grep '"c-old"' events.jsonl | "$apply_bin" apply "$U" > /dev/null || fail "replay"

note "consents: the newest statement wins"
assert_eq "0 2026-05-01T10:00:00.000Z urn:desk-new" "$(sj_redis HGET "sj:res:{$P1}:consent" email)" "email"
assert_eq "0 2026-02-01T10:00:00.000Z urn:desk-old" "$(sj_redis HGET "sj:res:{$P1}:consent" sms)" "sms (Feb. is newer than Jan.)"
assert_eq "1 2026-01-01T00:00:00.000Z urn:pop" "$(sj_redis HGET "sj:res:{$P1}:consent" app)" "app"
assert_eq "0 2026-05-01T10:00:00.250Z urn:desk-new" "$(sj_redis HGET "sj:res:{$P1}:consent" email/identity)" "email/identity (the event at 11:00+02:00 is older)"
assert_eq "1 2026-05-01T10:00:00.250Z urn:desk-new" "$(sj_redis HGET "sj:res:{$P1}:consent" sms/identity)" "sms/identity"
assert_eq "0 2026-05-01T09:00:00.000Z urn:desk-old" "$(sj_redis HGET "sj:res:{$P1}:consent" app/identity)" "app/identity (new entry from the old event)"
assert_eq "" "$(sj_redis HGET "sj:res:{$P1}" consent.email)" "no consent.* in the profile hash"

note "read back as the engine sees it"
"$apply_bin" read "$U" "$P1" 2026-07-01T08:00:00Z identity > read.txt || fail "profile_apply read"
cat read.txt
python3 - read.txt << 'PY' || fail "profile as the engine reads it"
import json, sys
lines = open(sys.argv[1]).read().splitlines()
r = json.loads(lines[0])
want = {"given_name": "Zoë", "birth_date": "1960-07-01", "status": "active",
        "postcode": "9000", "resident_since": "2026-03-29", "id_card_expires": "2026-05-01",
        "age": 66, "last_event_id": "c-old",  # the last applied (the replay)
        "consents": {"email": False, "sms": False, "app": True},
        "topic_consents": {"identity": {"email": False, "sms": True, "app": False}}}
for k, v in want.items():
    assert r.get(k) == v, (k, r.get(k), v)
assert "moved_out_on" not in r and "consent.email" not in r
assert lines[1] == "reachable 1 1 0 consent 0 0 1 topic 0 1 0", lines[1]
PY

note "engine state, as segments/engine writes it"
sj_redis HSET "sj:res:{$P1}:intents" "$ID1" "scheduled 1780000000000 t:0:5" "$ID2" "scheduled 1780000001000 t:0:6" > /dev/null
sj_redis SADD "sj:res:{$P1}:pending" "$ID1" "$ID2" > /dev/null
sj_redis HSET "sj:res:{$P1}:body" "$ID1" "{\"id\":\"$ID1\",\"campaign\":\"id-card-renewal\",\"step\":\"initial\"}" \
    "$ID2" "{\"id\":\"$ID2\",\"campaign\":\"id-card-renewal\",\"step\":\"reminder-1\"}" > /dev/null
sj_redis ZADD 'sj:{sched}:due' 1780000000000 "$P1:$ID1" 1780000001000 "$P1:$ID2" 1780000002000 "$P2:$ID3" > /dev/null
sj_redis ZADD "sj:res:{$P1}:sent" 1779000000000 "$ID3" > /dev/null
sj_redis HSET "sj:res:{$P1}:goals" be.seintje.service.id-card-requested 1779500000000 > /dev/null
sj_redis HSET "sj:res:{$P1}:exposure" id-card-renewal "plain 1779000000000" > /dev/null
sj_redis HSET "sj:res:{$P1}:converted" id-card-renewal 1779500000000 > /dev/null

# the delivery stage's queue: two intents of P1 (a retry and one not yet
# due), one of someone else
QP=$(sj_unique q | tr -c 'a-z0-9\n' x)
sj_redis HSET 'sj:{schedule}:intents' "$QP-1" "{\"id\":\"$QP-1\",\"resident\":\"$P1\",\"context\":{\"given_name\":\"Ann\"}}" \
    "$QP-2" "{\"id\":\"$QP-2\",\"resident\":\"$P1\"}" "$QP-3" "{\"id\":\"$QP-3\",\"resident\":\"$P2\"}" > /dev/null
sj_redis ZADD 'sj:{schedule}:due' 1 "$QP-1" 2 "$QP-2" 3 "$QP-3" > /dev/null

note "seintje resident show"
"$S" resident show "${R[@]}" "$P1" > show1.json || fail "show exit $?"
"$S" resident show "${R[@]}" "$P1" > show2.json || fail "show exit $?"
cmp -s show1.json show2.json || fail "show printed two different documents"
python3 - show1.json "$P1" "$ID1" "$ID2" << 'PY' || { cat show1.json; fail "show output"; }
import json, sys
d = json.load(open(sys.argv[1]))
p, id1, id2 = sys.argv[2:5]
assert list(d) == ["pseudonym", "found", "profile", "consents", "pending", "intents",
                   "goals", "exposures", "conversions", "sent"], list(d)
assert d["pseudonym"] == p and d["found"] is True
assert list(d["profile"]) == sorted(d["profile"])
assert d["profile"]["resident_since"] == "2026-03-29"
c = d["consents"]
assert list(c) == sorted(c)
assert c["email"] == {"given": False, "time": "2026-05-01T10:00:00.000Z", "source": "urn:desk-new"}, c["email"]
assert c["app/identity"]["source"] == "urn:desk-old"
assert [x["id"] for x in d["pending"]] == [id1, id2]
assert d["pending"][0]["due"] == "2026-05-28T20:26:40Z", d["pending"][0]
assert d["pending"][1]["intent"]["step"] == "reminder-1"
assert d["intents"][id1] == "scheduled 1780000000000 t:0:5"
assert d["goals"] == {"be.seintje.service.id-card-requested": "2026-05-23T01:33:20Z"}, d["goals"]
assert d["exposures"] == {"id-card-renewal": {"variant": "plain", "time": "2026-05-17T06:40:00Z"}}
assert d["conversions"] == {"id-card-renewal": "2026-05-23T01:33:20Z"}, d["conversions"]
assert d["sent"] == [{"id": "0123456789abcdef0123456789abcd03", "time": "2026-05-17T06:40:00Z"}]
PY

note "seintje resident forget"
"$S" resident forget "${R[@]}" "$P1" > forget.txt || fail "forget exit $?"
cat forget.txt
grep -qx "resident $P1: forgotten: 9 keys, 2 schedule entries, 2 queued intents" forget.txt ||
    fail "forget summary"
assert_eq "$QP-3" "$(sj_redis HKEYS 'sj:{schedule}:intents' | grep "^$QP-")" "delivery queue after forget"
assert_eq "$QP-3" "$(sj_redis ZRANGE 'sj:{schedule}:due' 0 -1 | grep "^$QP-")" "delivery schedule after forget"
sj_redis HDEL 'sj:{schedule}:intents' "$QP-3" > /dev/null
sj_redis ZREM 'sj:{schedule}:due' "$QP-3" > /dev/null
grep -Eq "^  sj:res:\{$P1\}:consent +6 fields$" forget.txt || fail "forget: consent count"
grep -Eq "^  sj:\{sched\}:due +2 members$" forget.txt || fail "forget: schedule count"
left=$(sj_redis --scan --pattern "sj:res:{$P1}*")
assert_eq "" "$left" "keys left of the resident"
assert_eq "" "$(sj_redis ZSCORE 'sj:{sched}:due' "$P1:$ID1")$(sj_redis ZSCORE 'sj:{sched}:due' "$P1:$ID2")" "schedule entries left"
assert_eq 1780000002000 "$(sj_redis ZSCORE 'sj:{sched}:due' "$P2:$ID3")" "another resident's schedule entry"
assert_eq Other "$(sj_redis HGET "sj:res:{$P2}" given_name)" "another resident's profile"
assert_eq "resident $P1: nothing to forget" "$("$S" resident forget "${R[@]}" "$P1")" "second forget"
"$S" resident show "${R[@]}" "$P1" | grep -q '"found": false' || fail "show after forget"

note "--nrn: stdin, the key of produce, never echoed"
NRN=85.07.30-033.28
export SEINTJE_PSEUDONYM_KEY
SEINTJE_PSEUDONYM_KEY="test-key-$(hex64)"
ev "$NRN" n1 urn:pop registered 2026-01-01T00:00:00Z '{"given_name":"Nora"}' > nrn.jsonl
"$S" produce --dry-run --log-format text nrn.jsonl > produced.jsonl 2> /dev/null || fail "produce --dry-run"
PN=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["subject"])' produced.jsonl)
"$apply_bin" apply "$U" < produced.jsonl > /dev/null || fail "apply the produced event"
echo "$NRN" | "$S" resident show --nrn "${R[@]}" > nrn_show.json 2> nrn_err.txt || fail "show --nrn"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["pseudonym"]==sys.argv[2] and d["profile"]["given_name"]=="Nora", d' \
    nrn_show.json "$PN" || fail "show --nrn found another resident"
printf '%s\r\n' "85073003328" | "$S" resident forget --nrn "${R[@]}" > nrn_forget.txt 2>> nrn_err.txt || fail "forget --nrn"
grep -q "^resident $PN: forgotten: 1 key, 0 schedule entries, 0 queued intents" nrn_forget.txt || fail "forget --nrn summary"
assert_eq "" "$(sj_redis --scan --pattern "sj:res:{$PN}*")" "keys left after forget --nrn"
rc=0
echo 85073003329 | "$S" resident show --nrn "${R[@]}" > /dev/null 2>> nrn_err.txt || rc=$?
assert_eq 2 "$rc" "a register number with bad check digits"
if grep -Eq '85\.?07\.?30|073003' nrn_show.json nrn_forget.txt nrn_err.txt; then
    fail "the register number appeared in the output"
fi
unset SEINTJE_PSEUDONYM_KEY
rc=0
echo "$NRN" | "$S" resident show --nrn "${R[@]}" > /dev/null 2> nokey.txt || rc=$?
assert_eq 2 "$rc" "--nrn without a key"
grep -q "no pseudonym key" nokey.txt || fail "no key message"

note "usage and failures"
code() {
    local rc=0
    "$@" > /dev/null 2>&1 < /dev/null || rc=$?
    echo "$rc"
}
assert_eq 2 "$(code "$S" resident)" "no subcommand"
assert_eq 2 "$(code "$S" resident erase "$P1")" "unknown subcommand"
assert_eq 2 "$(code "$S" resident show)" "no resident"
assert_eq 2 "$(code "$S" resident show 85073003328)" "a register number as argument"
assert_eq 2 "$(code "$S" resident show --nrn "$P1")" "--nrn and a pseudonym"
assert_eq 2 "$(code "$S" resident forget "$P1" "$P2")" "two residents"
assert_eq 0 "$(code "$S" resident --help)" "--help"
assert_eq 0 "$(code "$S" resident forget --help)" "forget --help"
out=$("$S" resident show 85073003328 2>&1 || true)
case "$out" in *85073003328*) fail "a register number argument was echoed" ;; esac
assert_eq 1 "$(code "$S" resident show -X redis.url=redis://127.0.0.1:1 "$P1")" "Redis unreachable"
note "ok"
