#!/usr/bin/env bash
# A real single-node Apache Kafka 3.9 broker (KRaft, broker+controller in one
# JVM) for integration tests, benchmarks and manual runs, on free 127.0.0.1
# ports, with all its files in one directory. The jars come from Maven Central
# through scripts/kafka/pom.xml and stay cached in ~/.m2; the resolved classpath
# is cached in ${XDG_CACHE_HOME:-~/.cache}/seintje so later runs skip Maven.
#
# usage: scripts/kafka.sh start DIR     start (or keep) a broker; writes DIR/env
#        scripts/kafka.sh stop DIR [--purge]
#                                       SIGTERM, up to 30 s, then SIGKILL;
#                                       --purge also deletes DIR/data
#        scripts/kafka.sh status DIR    exit 0 if running and answering
#        scripts/kafka.sh classpath     resolve (if needed) and print the classpath
#        scripts/kafka.sh run CLASS ARGS...
#                                       run a Kafka tool class, for example
#                                       org.apache.kafka.tools.TopicCommand
#
# DIR afterwards holds server.properties, kafka.pid, kafka.log (stdout/stderr:
# warnings and errors), server.log (INFO log), data/ (the commit log) and env,
# a line `SEINTJE_TEST_BROKERS=127.0.0.1:PORT` that shell scripts can source.
# Environment: JAVA_HOME (else `java` on PATH); SEINTJE_KAFKA_HEAP_OPTS
# (default -Xms256m -Xmx1g); SEINTJE_KAFKA_JVM_OPTS (extra JVM options);
# SEINTJE_KAFKA_START_TIMEOUT (seconds, default 120); SEINTJE_CACHE_DIR.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
pom=$here/kafka/pom.xml
log4j=$here/kafka/log4j.properties
cache=${SEINTJE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/seintje}
start_timeout=${SEINTJE_KAFKA_START_TIMEOUT:-120}

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }
die() { echo "kafka.sh: $*" >&2; exit 1; }

java_bin() {
    if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then
        echo "$JAVA_HOME/bin/java"
    else
        command -v java || die "no java: set JAVA_HOME or put java on PATH (scripts/install-deps.sh)"
    fi
}

# classpath: print the broker classpath. The cache file name carries a hash of
# pom.xml, so editing the pom resolves again; a cache whose jars were deleted
# from ~/.m2 is resolved again too.
classpath() {
    local key file tmp
    key=$(sha256sum "$pom" | cut -c1-16)
    file=$cache/kafka-classpath-$key.txt
    if [ -s "$file" ] && jars_present "$file"; then
        cat "$file"
        return
    fi
    command -v mvn >/dev/null || die "no mvn to resolve the Kafka jars (scripts/install-deps.sh)"
    mkdir -p "$cache"
    tmp=$(mktemp "$cache/.classpath.XXXXXX")
    echo "kafka.sh: resolving Kafka jars with Maven (first run downloads ~50 MB)" >&2
    if ! mvn -B -q -f "$pom" dependency:build-classpath -Dmdep.outputFile="$tmp" \
        > "$tmp.log" 2>&1 || ! jars_present "$tmp"; then
        cat "$tmp.log" >&2
        rm -f "$tmp" "$tmp.log"
        die "Maven could not resolve $pom (network? proxy? see above)"
    fi
    rm -f "$tmp.log"
    chmod 644 "$tmp"
    mv -f "$tmp" "$file"
    cat "$file"
}

jars_present() { # FILE: every entry of the classpath in FILE exists
    local jar
    local -a jars
    IFS=: read -r -a jars < "$1"
    [ "${#jars[@]}" -gt 0 ] || return 1
    for jar in "${jars[@]}"; do [ -f "$jar" ] || return 1; done
}

# free_ports N: N distinct ports that are free on 127.0.0.1, chosen below the
# kernel's ephemeral range so outgoing connections cannot take them meanwhile.
free_ports() {
    python3 - "$1" <<'PY'
import random, socket, sys
n = int(sys.argv[1])
try:
    low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
except OSError:
    low = 32768
pool = list(range(10000, low)) if low > 12000 else []
random.shuffle(pool)
found = []
def free(port):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return 0
        return s.getsockname()[1]
for port in pool:
    if len(found) == n:
        break
    if free(port):
        found.append(port)
while len(found) < n:  # no usable range below the ephemeral one: let the kernel pick
    port = free(0)
    if port not in found:
        found.append(port)
print(*found)
PY
}

alive() { # PID: running (a zombie waiting for its parent to reap it is not)
    local state
    state=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null) || return 1
    [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

pid_of() { # DIR: the pid of our broker in DIR, if it is alive and really ours
    local pid
    pid=$(cat "$1/kafka.pid" 2>/dev/null) || return 1
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    { tr '\0' ' ' < "/proc/$pid/cmdline"; } 2>/dev/null | grep -qF "kafka.Kafka $1/server.properties" ||
        return 1
    echo "$pid"
}

port_of() { sed -n 's/^listeners=PLAINTEXT:\/\/127\.0\.0\.1:\([0-9]*\),.*/\1/p' "$1/server.properties" 2>/dev/null; }

answers() { # PORT: the broker answers a metadata request and lists broker 1
    kcat -L -b "127.0.0.1:$1" -m 5 2>/dev/null | grep -q "broker 1 at 127.0.0.1:$1"
}

set_env() { # FILE KEY VALUE: replace or add the line KEY=VALUE
    local tmp
    tmp=$(mktemp "$1.XXXXXX")
    { grep -v "^$2=" "$1" 2>/dev/null || true; echo "$2=$3"; } > "$tmp"
    mv -f "$tmp" "$1"
}

unset_env() { # FILE KEY
    [ -f "$1" ] || return 0
    local tmp
    tmp=$(mktemp "$1.XXXXXX")
    grep -v "^$2=" "$1" > "$tmp" || true
    mv -f "$tmp" "$1"
}

write_properties() { # DIR PORT CONTROLLER_PORT
    cat > "$1/server.properties" <<EOF
# Written by scripts/kafka.sh: a single-node KRaft test broker.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$3
listeners=PLAINTEXT://127.0.0.1:$2,CONTROLLER://127.0.0.1:$3
advertised.listeners=PLAINTEXT://127.0.0.1:$2
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
log.dirs=$1/data
num.partitions=1
auto.create.topics.enable=true
delete.topic.enable=true
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
log.retention.hours=24
log.segment.bytes=134217728
EOF
}

jvm_opts() { # DIR: options shared by the broker and the storage tool
    local -a heap extra
    read -r -a heap <<< "${SEINTJE_KAFKA_HEAP_OPTS:--Xms256m -Xmx1g}"
    read -r -a extra <<< "${SEINTJE_KAFKA_JVM_OPTS:-}"
    printf '%s\n' "${heap[@]}" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
        -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent \
        -XX:-UsePerfData -Xshare:auto -Djava.awt.headless=true \
        -Djava.net.preferIPv4Stack=true "-Dkafka.logs.dir=$1" \
        "-Dlog4j.configuration=file:$log4j" "${extra[@]}"
}

show_logs() { # DIR
    local f
    for f in "$1/kafka.log" "$1/server.log" "$1/format.log"; do
        [ -s "$f" ] || continue
        echo "---- last lines of $f" >&2
        tail -n 40 "$f" >&2
    done
}

# launch DIR PORT CP: format storage, start the JVM, wait until it answers.
# Returns 0 when ready, 3 when the port was taken (the caller picks another),
# 1 on any other failure.
launch() {
    local dir=$1 port=$2 cp=$3 java uuid pid deadline
    local -a opts
    java=$(java_bin)
    mapfile -t opts < <(jvm_opts "$dir")
    rm -rf "$dir/data" "$dir/kafka.pid" "$dir"/server.log*
    : > "$dir/kafka.log"
    uuid=$("$java" -XX:TieredStopAtLevel=1 "${opts[@]}" -cp "$cp" kafka.tools.StorageTool random-uuid 2> "$dir/format.log") ||
        { show_logs "$dir"; return 1; }
    "$java" -XX:TieredStopAtLevel=1 "${opts[@]}" -cp "$cp" kafka.tools.StorageTool format \
        -t "$uuid" -c "$dir/server.properties" >> "$dir/format.log" 2>&1 ||
        { show_logs "$dir"; return 1; }
    # Own session and process group, no inherited stdio: ctest and callers'
    # pipes close when this script exits, and stop can signal the whole group.
    # shellcheck disable=SC2016 # $$ and $1 belong to the inner shell
    setsid bash -c 'echo $$ > "$1/kafka.pid"; shift; exec "$@"' _ "$dir" \
        "$java" "${opts[@]}" -cp "$cp" kafka.Kafka "$dir/server.properties" \
        < /dev/null >> "$dir/kafka.log" 2>&1 &
    deadline=$((SECONDS + start_timeout))
    while [ "$SECONDS" -lt "$deadline" ]; do
        sleep 0.3
        pid=$(cat "$dir/kafka.pid" 2>/dev/null) || continue # not written yet
        [ -n "$pid" ] || continue
        # A taken port: the broker logs it and then takes seconds to shut down.
        if grep -qs "Address already in use" "$dir/kafka.log" "$dir/server.log"; then
            return 3
        fi
        if ! alive "$pid"; then
            echo "kafka.sh: the broker exited during start-up" >&2
            show_logs "$dir"
            return 1
        fi
        if pid_of "$dir" >/dev/null && (echo > "/dev/tcp/127.0.0.1/$port") 2>/dev/null &&
            answers "$port"; then
            return 0
        fi
    done
    echo "kafka.sh: the broker did not answer on 127.0.0.1:$port within ${start_timeout}s" >&2
    show_logs "$dir"
    stop "$dir" >/dev/null 2>&1 || true
    return 1
}

start() {
    local dir port cport cp t0 attempt rc=1
    mkdir -p "$1"
    dir=$(cd "$1" && pwd)
    t0=$SECONDS
    command -v kcat >/dev/null || die "no kcat to check the broker (scripts/install-deps.sh)"
    if pid_of "$dir" >/dev/null && port=$(port_of "$dir") && answers "$port"; then
        set_env "$dir/env" SEINTJE_TEST_BROKERS "127.0.0.1:$port"
        echo "kafka already running on 127.0.0.1:$port (pid $(pid_of "$dir"), $dir)"
        return 0
    fi
    stop "$dir" >/dev/null # a hung or half-started broker from an earlier run
    cp=$(classpath)
    for attempt in 1 2 3; do
        read -r port cport < <(free_ports 2)
        write_properties "$dir" "$port" "$cport"
        rc=0
        launch "$dir" "$port" "$cp" || rc=$?
        [ "$rc" -eq 3 ] || break
        echo "kafka.sh: port $port or $cport was taken meanwhile, retrying ($attempt)" >&2
        stop "$dir" >/dev/null
    done
    [ "$rc" -eq 0 ] || die "could not start Kafka in $dir"
    set_env "$dir/env" SEINTJE_TEST_BROKERS "127.0.0.1:$port"
    echo "kafka 3.9 running on 127.0.0.1:$port (pid $(pid_of "$dir"), $dir, $((SECONDS - t0))s)"
}

stop() {
    local dir pid i
    [ -d "$1" ] || { echo "kafka not running ($1 does not exist)"; return 0; }
    dir=$(cd "$1" && pwd)
    if pid=$(pid_of "$dir"); then
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < 150; i++)); do
            alive "$pid" || break
            sleep 0.2
        done
        if alive "$pid"; then
            echo "kafka.sh: broker $pid ignored SIGTERM for 30 s, sending SIGKILL" >&2
            kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
            for ((i = 0; i < 50; i++)); do
                alive "$pid" || break
                sleep 0.1
            done
        fi
        echo "kafka stopped (pid $pid, $dir)"
    else
        echo "kafka not running ($dir)"
    fi
    rm -f "$dir/kafka.pid"
    unset_env "$dir/env" SEINTJE_TEST_BROKERS
    if [ "${2:-}" = --purge ]; then rm -rf "$dir/data"; fi
}

status() {
    local dir pid port
    dir=$(cd "$1" 2>/dev/null && pwd) || { echo "kafka not running ($1 does not exist)"; return 1; }
    if pid=$(pid_of "$dir") && port=$(port_of "$dir") && answers "$port"; then
        echo "kafka running on 127.0.0.1:$port (pid $pid, $dir)"
        return 0
    fi
    if [ -n "${pid:-}" ]; then
        echo "kafka process $pid is alive but does not answer ($dir)"
    else
        echo "kafka not running ($dir)"
    fi
    return 1
}

run_tool() {
    local cp java
    cp=$(classpath)
    java=$(java_bin)
    exec "$java" -XX:TieredStopAtLevel=1 -XX:-UsePerfData -Xshare:auto \
        "-Dlog4j.configuration=file:$here/kafka/tools-log4j.properties" -cp "$cp" "$@"
}

case "${1:-}" in
start | status) [ $# -eq 2 ] || { usage >&2; exit 2; }; "$1" "$2" ;;
stop)
    [ $# -eq 2 ] || { [ $# -eq 3 ] && [ "$3" = --purge ]; } || { usage >&2; exit 2; }
    stop "$2" "${3:-}"
    ;;
classpath) classpath ;;
run) [ $# -ge 2 ] || { usage >&2; exit 2; }; shift; run_tool "$@" ;;
-h | --help | help) usage ;;
*) usage >&2; exit 2 ;;
esac
