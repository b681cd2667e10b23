/* Kafka clients configured from the settings table (librdkafka).
 *
 * Producers are idempotent with acks=all; consumers commit offsets only when
 * the caller stores them (enable.auto.offset.store=false), so a stage can
 * acknowledge an input only after its outputs are acknowledged. Any kafka.*
 * setting is passed through to librdkafka and wins over these defaults. */
#ifndef SJ_KAFKA_H
#define SJ_KAFKA_H

#include <librdkafka/rdkafka.h>

#include "common.h"
#include "config.h"

/* New producer. dr_cb (may be NULL) is the delivery report callback, called
 * from rd_kafka_poll()/flush() on the caller's thread; opaque is passed as the
 * rd_kafka_t opaque. Returns NULL and fills errstr on failure. */
rd_kafka_t *sj_kafka_producer_new(const sj_conf_t *c,
                                  void (*dr_cb)(rd_kafka_t *, const rd_kafka_message_t *,
                                                void *),
                                  void *opaque, char *errstr, size_t errstr_size);

/* New consumer in `group`, subscribed to `topic`, starting at the earliest
 * offset when the group has none. Returns NULL and fills errstr on failure. */
rd_kafka_t *sj_kafka_consumer_new(const sj_conf_t *c, const char *group, const char *topic,
                                  char *errstr, size_t errstr_size);

/* Creates `topic` with `partitions` partitions if it does not exist (an
 * existing topic is left as it is). Replication factor 1 for a single broker,
 * else min(3, brokers). */
sj_status_t sj_kafka_topic_ensure(rd_kafka_t *rk, const char *topic, int partitions,
                                  int timeout_ms, char *errstr, size_t errstr_size);

#endif
