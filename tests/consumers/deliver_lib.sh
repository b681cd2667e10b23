# Helpers for the `seintje deliver` integration tests (bash, sourced after
# tests/services/lib.sh and sj_load_env). Each test owns two Redis databases
# (deliver's schedule is one key per database, so tests must not share
# one), its own topics and consumer groups, and an intent-id prefix that
# the peers' fault selectors and statistics filters use.
#
#   dl_init NAME DB_REAL DB_INTENDED   sets RUN, PREFIX helpers, flushes both DBs
#   dl_settings DB [-X ...]            sets X: the deliver options for DB
#   dl_make PREFIX COUNT CHANNELS [fixture options]
#                                      profiles in both DBs, intents on the topic
#   dl_deliver OUT [args]              deliver -e into OUT (summary), checked rc
#   dl_status / dl_dead                the run's status / dead-letter records
#   fault_smtp JSON / fault_http JSON  add a peer fault rule, print its id
#   unfault_smtp ID / unfault_http ID  remove it
#   num FILE REGEX                     the first number group REGEX finds in FILE

FIXTURE="python3 $SJ_ROOT/tests/consumers/deliver_fixture.py"

dl_init() {
    DL_NAME=$1
    DL_DB=$2
    DL_DB_INTENDED=$3
    RUN=$DL_NAME-$$-$(date +%s)
    REDIS_BASE=${SEINTJE_TEST_REDIS_URL%/*}
    case "$SEINTJE_TEST_REDIS_URL" in redis://*/*) ;; *) REDIS_BASE=$SEINTJE_TEST_REDIS_URL ;; esac
    local db
    for db in "$DL_DB" "$DL_DB_INTENDED"; do
        redis-cli -u "$REDIS_BASE/$db" --no-auth-warning FLUSHDB > /dev/null ||
            fail "cannot flush Redis db $db"
    done
    TOPIC=$RUN.notifications
}

# dl_settings DB [-X name=value ...]: X = deliver's options against DB.
dl_settings() {
    local db=$1
    shift
    X=(-X "brokers=$SEINTJE_TEST_BROKERS" -X "redis.url=$REDIS_BASE/$db"
       -X "topic.notifications=$TOPIC" -X "topic.partitions=2"
       -X "topic.delivery-status=$RUN.status.$db" -X "topic.dead-letter=$RUN.dead.$db"
       -X "deliver.group=$RUN-$db" -X "deliver.instance=$RUN-$db"
       -X "templates.dir=${DL_TEMPLATES:-$SJ_ROOT/templates/campaigns}"
       -X "outbox.dir=$SJ_WORK/outbox-$db" -X "deliver.retry-base-ms=100"
       -X "deliver.retry-max-attempts=4" -X "breaker.failures=50"
       --log-level warn "$@")
}

# dl_make PREFIX COUNT CHANNELS [fixture options]: profiles in both DBs and
# the intents on TOPIC.
dl_make() {
    local prefix=$1 count=$2 channels=$3 db
    shift 3
    for db in "$DL_DB_INTENDED" "$DL_DB"; do
        $FIXTURE make --redis "$REDIS_BASE/$db" --prefix "$prefix" --count "$count" \
            --channels "$channels" "$@" > "$SJ_WORK/intents-$prefix.tsv"
    done
    kcat -P -b "$SEINTJE_TEST_BROKERS" -t "$TOPIC" -K $'\t' -l "$SJ_WORK/intents-$prefix.tsv" ||
        fail "could not publish intents"
}

# dl_deliver OUT [args]: one `seintje deliver -e` run with X; its summary in OUT.
dl_deliver() {
    local out=$1 rc=0
    shift
    "$SEINTJE_BIN" deliver --until-idle "${DL_IDLE_MS:-1500}" "${X[@]}" "$@" \
        > "$out" 2> "$out.log" || rc=$?
    sed 's/^/   /' "$out"
    [ "$rc" -eq 0 ] || { cat "$out.log" >&2; fail "deliver exited $rc"; }
}

dl_status() { kcat -C -b "$SEINTJE_TEST_BROKERS" -t "$RUN.status.$1" -o beginning -e -q -f '%s\n'; }
dl_dead() { kcat -C -b "$SEINTJE_TEST_BROKERS" -t "$RUN.dead.$1" -o beginning -e -q -f '%s\n'; }

_fault() { # URL JSON
    curl -fsS "$1/_admin/faults" -d "$2" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["ids"][0])'
}
fault_smtp() { _fault "$SEINTJE_TEST_SMTP_ADMIN_URL" "$1"; }
fault_http() { _fault "$SEINTJE_TEST_HTTP_URL" "$1"; }
unfault_smtp() { curl -fsS -X DELETE "$SEINTJE_TEST_SMTP_ADMIN_URL/_admin/faults/$1" > /dev/null; }
unfault_http() { curl -fsS -X DELETE "$SEINTJE_TEST_HTTP_URL/_admin/faults/$1" > /dev/null; }

# num FILE REGEX: the first group of REGEX (an extended regex with one
# group of digits) in FILE.
num() {
    local v
    v=$(sed -nE "s/.*$2.*/\\1/p" "$1" | head -n 1)
    [ -n "$v" ] || fail "no /$2/ in $1"
    echo "$v"
}

# json_get JSON EXPR: evaluate the Python expression EXPR over d = the JSON.
json_get() {
    python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2"
}
