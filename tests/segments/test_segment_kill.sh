#!/usr/bin/env bash
# Kill test of the segmentation engine against the real broker and
# redis-server, in two scenarios: a synthetic population, and residents whose
# events come one after the other (so that batches hold several events of one
# resident, the case the crash-recovery copies are for). The same input goes
# through `seintje segment` once in one go (the reference) and once SIGKILLed
# KILLS times in the middle of its work and restarted; the clustered one also
# once with every third transaction aborted at run time (fault injection,
# SEINTJE_FAULT_ABORT_EVERY). Every intent of the reference must be there,
# nothing else, and no intent id twice (read committed, as downstream
# consumers read). The clock is fixed (--now), so the decisions do not depend
# on when a batch happens to run.
#
# Environment (sj_integration_test): SEINTJE_SERVICES_ENV, SEINTJE_BIN,
# SEINTJE_SOURCE_DIR, SEINTJE_BUILD_DIR. KILL_RESIDENTS, KILLS override.
set -euo pipefail
: "${SEINTJE_SERVICES_ENV:?run me through ctest (sj_integration_test)}"
# shellcheck disable=SC1090
source "$SEINTJE_SERVICES_ENV"
BIN=${SEINTJE_BIN:?}
SRC=${SEINTJE_SOURCE_DIR:?}
RESIDENTS=${KILL_RESIDENTS:-20000}
KILLS=${KILLS:-6}
NOW=2026-10-01T10:00:00Z
work=$(mktemp -d "${SEINTJE_BUILD_DIR:-${TMPDIR:-/tmp}}/segment-kill.XXXXXX")
trap '[ -z "${pid:-}" ] || kill -9 "$pid" 2>/dev/null || true; [ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
run_id=kill-$$-$(date +%s)
redis_host=${SEINTJE_TEST_REDIS_URL#redis://}
redis_host=${redis_host%%/*}

fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }

# settings NAME DB
settings() {
    X=(-X "brokers=$SEINTJE_TEST_BROKERS" -X "redis.url=redis://$redis_host/$2"
       -X "topic.partitions=3"
       -X "topic.life-events=$run_id-$1.life-events"
       -X "topic.notifications=$run_id-$1.notifications"
       -X "topic.delivery-status=$run_id-$1.status"
       -X "topic.segment-due=$run_id-$1.due"
       -X "segment.group=$run_id-$1" -X "segment.instance=$run_id-$1"
       -X "campaigns.dir=$SRC/segments/campaigns"
       -X "nudge.send-window=daily 00:00-24:00" -X "nudge.cap-count=0"
       -X "nudge.require-consent=false" --log-level error)
}

ids() { # ids NAME -> sorted intent ids on its notifications topic, one per line
    kcat -C -b "$SEINTJE_TEST_BROKERS" -t "$run_id-$1.notifications" -e -q \
        -X isolation.level=read_committed -f '%s\n' |
        python3 -c 'import json,sys; [print(json.loads(l)["id"]) for l in sys.stdin if l.strip()]' |
        sort
}

for db in 16 17 18 19 20; do redis-cli -h "${redis_host%:*}" -p "${redis_host#*:}" -n $db FLUSHDB >/dev/null; done

# input NAME: publish scenario NAME's life events to its topic (settings first)
input() {
    case $1 in
    synthetic) "$BIN" produce --synthetic "$RESIDENTS" --seed 11 --insecure-dev-key -q "${X[@]}" ;;
    clustered) "$BIN" produce --insecure-dev-key -q "${X[@]}" "$work/clustered.jsonl" ;;
    esac
}

# Each resident's events one after the other, so that most poll batches hold
# several events of one resident: the case the crash-recovery copies are for
# (a replayed batch must not see a resident's later events too early).
python3 - "$work/clustered.jsonl" <<'PY'
import json, sys
def nrn(i):
    yymmdd = f"80{1 + (i // 28) % 12:02d}{1 + i % 28:02d}"
    serial = f"{(i % 997) + 1:03d}"
    base = int(yymmdd + serial)
    return yymmdd + serial + f"{97 - base % 97:02d}"
n = 0
def ev(f, i, typ, time, **data):
    global n
    n += 1
    f.write(json.dumps({"specversion": "1.0", "id": f"clustered-{n}", "source": "urn:nis:44084:kill",
                        "type": "be.seintje." + typ, "time": time, "subject": nrn(i),
                        "data": data}) + "\n")
with open(sys.argv[1], "w") as f:
    for i in range(3000):
        ev(f, i, "life.registered", "2026-03-01T08:00:00Z", given_name="K", language="nl",
           birth_date="1990-05-01", email="k@example.org", phone="+32470000000",
           consents={"email": True, "sms": True, "app": True})
        if i % 5 == 0:
            ev(f, i, "life.consent-changed", "2026-09-20T08:00:00Z", topic="welcome",
               consents={"email": False})
        ev(f, i, "life.moved-in", "2026-09-21T08:00:00Z", nis="44084")
        ev(f, i, "life.id-card-expiring", "2026-09-22T08:00:00Z", expires="2026-11-20")
        if i % 3 == 0:
            ev(f, i, "service.id-card-requested", "2026-09-23T08:00:00Z")
PY

scenario() { # scenario NAME DB_REF DB_KILL [DB_ABORT]
    local name=$1 n kills i dups missing extra id
    echo "== $name: reference, one uninterrupted run"
    settings "$name-ref" "$2"
    input "$name"
    "$BIN" segment -e --now "$NOW" "${X[@]}" | tee "$work/$name-ref.txt"
    ids "$name-ref" >"$work/$name-ref.ids"
    n=$(wc -l <"$work/$name-ref.ids")
    [ "$n" -gt 50 ] || fail "$name: the reference run made only $n intents"
    [ "$(uniq -d <"$work/$name-ref.ids" | wc -l)" -eq 0 ] || fail "$name: duplicates in the reference run"

    echo "== $name: the same input, SIGKILL $KILLS times"
    settings "$name-kill" "$3"
    input "$name"
    kills=0
    for i in $(seq $((KILLS * 3))); do
        # Small batches: many transactions, so that a kill lands in the middle of one.
        "$BIN" segment -e --batch 50 --now "$NOW" "${X[@]}" >"$work/$name-kill-$i.txt" 2>&1 &
        pid=$!
        # Kill somewhere between 1 and 3 s in: after the start-up, while batches run.
        sleep "$(python3 -c "import random; random.seed($i); print(round(random.uniform(1, 3), 2))")"
        if kill -9 "$pid" 2>/dev/null; then kills=$((kills + 1)); fi
        wait "$pid" 2>/dev/null || true
        pid=
        echo "run $i: $kills kills, $(ids "$name-kill" | wc -l) intents committed so far"
        [ "$kills" -lt "$KILLS" ] || break
    done
    "$BIN" segment -e --now "$NOW" "${X[@]}" | tee "$work/$name-final.txt"
    ids "$name-kill" >"$work/$name-kill.ids"
    [ "$kills" -gt 0 ] || fail "$name: the engine finished before it could be killed: raise the input"

    dups=$(uniq -d <"$work/$name-kill.ids" | wc -l)
    missing=$(comm -23 <(uniq "$work/$name-ref.ids") <(uniq "$work/$name-kill.ids") | wc -l)
    extra=$(comm -13 <(uniq "$work/$name-ref.ids") <(uniq "$work/$name-kill.ids") | wc -l)
    echo "$name: reference $n intents; after $kills kills: $(wc -l <"$work/$name-kill.ids") intents," \
        "$dups duplicate ids, $missing missing, $extra unexpected"
    [ "$dups" -eq 0 ] || fail "$name: $dups intent ids twice on the topic"
    if [ "$missing" -ne 0 ]; then
        id=$(comm -23 <(uniq "$work/$name-ref.ids") <(uniq "$work/$name-kill.ids") | head -1)
        echo "first missing intent $id, its status records in the reference and killed runs:"
        for r in ref kill; do
            kcat -C -b "$SEINTJE_TEST_BROKERS" -t "$run_id-$name-$r.status" -e -q -f '%s\n' |
                grep "$id" || true
        done
        fail "$name: $missing intents missing after the kills"
    fi
    [ "$extra" -eq 0 ] || fail "$name: $extra intents that the reference did not make"

    # Transactions aborted at run time (as after a broker error): every third
    # batch's commit fails by fault injection, the batch is consumed again.
    [ -n "${4:-}" ] || return 0
    echo "== $name: every third transaction aborted"
    settings "$name-abort" "$4"
    input "$name"
    SEINTJE_FAULT_ABORT_EVERY=3 "$BIN" segment -e --batch 200 --now "$NOW" "${X[@]}" |
        tee "$work/$name-abort.txt"
    grep -Eq "\(([0-9]+) batches, [1-9][0-9]* aborted\)" "$work/$name-abort.txt" ||
        fail "$name: no transaction was aborted"
    ids "$name-abort" >"$work/$name-abort.ids"
    cmp -s "$work/$name-ref.ids" "$work/$name-abort.ids" ||
        fail "$name: with aborts $(wc -l <"$work/$name-abort.ids") intents," \
            "$(comm -23 "$work/$name-ref.ids" "$work/$name-abort.ids" | wc -l) missing," \
            "$(comm -13 "$work/$name-ref.ids" "$work/$name-abort.ids" | wc -l) unexpected"
    echo "$name: with aborts the same $(wc -l <"$work/$name-abort.ids") intents as the reference"
}

scenario synthetic 16 17
scenario clustered 18 19 20
echo "segment kill test: all checks passed"
