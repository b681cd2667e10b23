#!/usr/bin/env bash
# Integration smoke test of the services fixture itself: the Kafka broker
# answers metadata and lists broker 1, a topic with several partitions takes
# keyed messages and gives every one back, and redis-server answers PING, SET,
# GET. Fails (never skips) when a service is missing, so a broken fixture
# cannot make the other integration tests look green.
# shellcheck source=tests/services/lib.sh
source "$(dirname "$0")/lib.sh"
sj_load_env
sj_workdir
cd "$SJ_WORK" || fail "no work directory"

note "kafka metadata from $SEINTJE_TEST_BROKERS"
kcat -L -b "$SEINTJE_TEST_BROKERS" -m 10 > metadata.txt 2>&1 || { cat metadata.txt; fail "no metadata from $SEINTJE_TEST_BROKERS"; }
grep -q "broker 1 at $SEINTJE_TEST_BROKERS" metadata.txt || { cat metadata.txt; fail "broker 1 not listed"; }

note "produce and consume"
topic=$(sj_topic 3)
for i in $(seq 1 500); do printf 'k%03d\tmessage %d with ünïcode\n' "$((i % 37))" "$i"; done > sent.tsv
kcat -P -b "$SEINTJE_TEST_BROKERS" -t "$topic" -K $'\t' -X acks=all < sent.tsv ||
    fail "kcat could not produce to $topic"
assert_eq 500 "$(sj_count "$topic")" "messages in $topic"
sj_consume "$topic" -f '%k\t%s\n' | sort > got.tsv
sort sent.tsv | cmp -s - got.tsv || { diff <(sort sent.tsv) got.tsv | head; fail "consumed messages differ from produced ones"; }
parts=$(sj_consume "$topic" -f '%p\n' | sort -u | wc -l)
assert_eq 3 "$parts" "partitions that received messages"

note "redis at $SEINTJE_TEST_REDIS_URL"
assert_eq PONG "$(sj_redis PING)" "redis PING"
key="$(sj_unique it):greeting"
assert_eq OK "$(sj_redis SET "$key" "hallo seintje" EX 60)" "redis SET"
assert_eq "hallo seintje" "$(sj_redis GET "$key")" "redis GET"
sj_redis DEL "$key" > /dev/null
echo "services ok: kafka $SEINTJE_TEST_BROKERS (topic $topic), redis $SEINTJE_TEST_REDIS_URL"
