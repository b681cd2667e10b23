/* Kafka clients configured from the settings table (librdkafka).
 *
 * Producers are idempotent with acks=all; consumers commit offsets only when
 * the caller stores them (enable.auto.offset.store=false), so a stage can
 * acknowledge an input only after its outputs are acknowledged. Any kafka.*
 * setting is passed through to librdkafka and wins over these defaults. */
#ifndef SJ_KAFKA_H
#define SJ_KAFKA_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "config.h"

/* New producer. dr_cb (may be NULL) is the delivery report callback, called
 * from rd_kafka_poll()/flush() on the caller's thread; opaque is passed as the
 * rd_kafka_t opaque. Returns NULL and fills errstr on failure. */
rd_kafka_t *sj_kafka_producer_new(const sj_conf_t *c,
                                  void (*dr_cb)(rd_kafka_t *, const rd_kafka_message_t *,
                                                void *),
                                  void *opaque, char *errstr, size_t errstr_size);

/* New transactional producer (transactional.id = txn_id; otherwise as
 * above) with its transactions initialised: an older producer with the same
 * id is fenced and its open transaction resolved. Use it for
 * consume-transform-produce stages that must not duplicate their output. */
rd_kafka_t *
sj_kafka_txn_producer_new(const sj_conf_t *c, const char *txn_id,
                          void (*dr_cb)(rd_kafka_t *, const rd_kafka_message_t *, void *),
                          void *opaque, int timeout_ms, char *errstr, size_t errstr_size);

/* Consumer flags. SJ_KAFKA_TXN_OFFSETS: no auto-commit; the caller commits
 * offsets inside its producer's transactions. */
#define SJ_KAFKA_TXN_OFFSETS 1u

/* New consumer in `group`, subscribed to topics[0..n_topics), reading only
 * committed transactional messages, starting at the earliest offset when the
 * group has none. With `instance` (group.instance.id; NULL for none) it is a
 * static member: restarted after a crash, it gets its partitions back at once
 * rather than after session.timeout.ms. Returns NULL and fills errstr on
 * failure. */
rd_kafka_t *sj_kafka_consumer_open(const sj_conf_t *c, const char *group,
                                   const char *instance, const char *const *topics,
                                   size_t n_topics, unsigned flags, char *errstr,
                                   size_t errstr_size);

/* New consumer in `group`, subscribed to `topic`, starting at the earliest
 * offset when the group has none. Returns NULL and fills errstr on failure. */
rd_kafka_t *sj_kafka_consumer_new(const sj_conf_t *c, const char *group,
                                  const char *topic, char *errstr, size_t errstr_size);

/* Reading a topic's history once, for commands (`dead-letter list`,
 * `experiment rebuild`) rather than stages. fn gets each message (borrowed
 * for the call: payload, len, key, partition, offset); returning false stops
 * the reading early. */
typedef bool (*sj_kafka_read_fn)(void *opaque, const rd_kafka_message_t *m);

/* Calls fn for every committed message of `topic` (isolation.level
 * read_committed), each partition from its beginning to the end it had when
 * the reading started (its high watermark then: what is produced meanwhile
 * is left out); partitions interleave, offsets within one partition come in
 * order. The consumer joins no group and commits nothing; its client.id is
 * `client` and its group.id "<client>-reader" (librdkafka needs one);
 * kafka.* settings apply. Consumer errors are logged (facility "kafka") and
 * skipped. `setting` (may be NULL) names the setting the topic came from,
 * for messages: "kafka: topic x (topic.dead-letter): Broker: Unknown topic
 * or partition". kafka.timeout-ms bounds the metadata and watermark queries
 * and the wait for the next message. Returns SJ_OK (also when fn stopped
 * the reading), else with errstr filled SJ_ERR_TIMEOUT (nothing arrived for
 * kafka.timeout-ms), SJ_ERR_NOMEM or SJ_ERR. Blocks; the caller's thread. */
sj_status_t sj_kafka_read_topic(const sj_conf_t *c, const char *topic,
                                const char *setting, const char *client,
                                sj_kafka_read_fn fn, void *opaque, char *errstr,
                                size_t errstr_size);

/* Creates `topic` with `partitions` partitions if it does not exist (an
 * existing topic is left as it is). Replication factor 1 for a single broker,
 * else min(3, brokers). */
sj_status_t sj_kafka_topic_ensure(rd_kafka_t *rk, const char *topic, int partitions,
                                  int timeout_ms, char *errstr, size_t errstr_size);

/* Batch consumption shared by the consuming stages (segment, deliver).
 *
 * "Until idle" tracking knows which partitions reached their end (partition
 * EOF) since their last message: a stage is idle when every assigned
 * partition is at its end and nothing arrived for the idle time, or when no
 * partition was assigned for SJ_KAFKA_NO_ASSIGNMENT_MS. Single-threaded: the
 * stage's own thread. */
#define SJ_KAFKA_NO_ASSIGNMENT_MS 15000

typedef struct sj_kafka_idle {
    int64_t last_msg, last_assigned;
    struct sj_kafka_eof *eof; /* per topic and partition: at its end since its
                                 last message */
    size_t n_eof;
} sj_kafka_idle_t;

void sj_kafka_idle_init(sj_kafka_idle_t *t);
/* Frees the tracking state; the struct can be initialised again. */
void sj_kafka_idle_free(sj_kafka_idle_t *t);
bool sj_kafka_idle_reached(sj_kafka_idle_t *t, rd_kafka_t *consumer, int idle_ms);

/* Collects up to max messages into msgs (the caller destroys them): waits
 * wait_ms for the first, then takes only what is already there. Partition
 * ends feed idle; consumer errors are logged and dropped. */
size_t sj_kafka_poll_batch(rd_kafka_t *c, rd_kafka_message_t **msgs, size_t max,
                           int wait_ms, sj_kafka_idle_t *idle);

/* A new list with offset+1 of the highest message per partition of msgs:
 * what to commit once they are done. The caller destroys it. */
rd_kafka_topic_partition_list_t *sj_kafka_next_offsets(rd_kafka_message_t **msgs,
                                                       size_t n);

/* Produces a copy of val with key (a string) to topic; while the local queue
 * is full it serves delivery reports and tries again, for at most
 * SJ_KAFKA_QUEUE_FULL_RETRIES x 100 ms. SJ_ERR with errstr otherwise. */
#define SJ_KAFKA_QUEUE_FULL_RETRIES 600
sj_status_t sj_kafka_produce_copy(rd_kafka_t *p, const char *topic, const char *key,
                                  const void *val, size_t len, char *errstr,
                                  size_t errstr_size);

/* Stores offset+1 of the highest message per partition of msgs, for the
 * auto-commit to commit. Call only once the batch's outputs are durable. A
 * partition lost to a rebalance meanwhile is not an error: its new owner
 * replays the batch. */
void sj_kafka_store_offsets(rd_kafka_t *c, rd_kafka_message_t **msgs, size_t n);

#endif
