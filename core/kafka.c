/* Kafka clients from the settings table: safe defaults first, then every
 * kafka.* setting over them, so operators can tune anything librdkafka knows.
 * See kafka.h. */
#include "kafka.h"

#include "log.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    rd_kafka_conf_t *rk;
    char *errstr;
    size_t errstr_size;
} conf_ctx_t;

static sj_status_t set1(rd_kafka_conf_t *rk, const char *name, const char *value, char *errstr,
                        size_t errstr_size)
{
    char err[512];
    if (rd_kafka_conf_set(rk, name, value, err, sizeof err) != RD_KAFKA_CONF_OK) {
        sj_seterr(errstr, errstr_size, "kafka.%s=%s: %s", name, value, err);
        return SJ_ERR_INPUT;
    }
    return SJ_OK;
}

static sj_status_t set_passthrough(void *opaque, const char *name, const char *value)
{
    conf_ctx_t *x = opaque;
    return set1(x->rk, name, value, x->errstr, x->errstr_size);
}

/* librdkafka's own messages go through our logger (JSON lines off a
 * terminal) instead of its default raw stderr format. */
static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    sj_log_level_t l = level <= 3 ? SJ_LOG_ERROR : level <= 5 ? SJ_LOG_WARN
                     : level == 6 ? SJ_LOG_INFO : SJ_LOG_DEBUG;
    sj_log(l, "kafka", "%s: %s", fac, buf);
}

/* Applies a NULL-terminated list of name/value defaults, then kafka.*. */
static rd_kafka_conf_t *build_conf(const sj_conf_t *c, const char *const *defaults,
                                   char *errstr, size_t errstr_size)
{
    rd_kafka_conf_t *rk = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(rk, log_cb);
    if (set1(rk, "bootstrap.servers", sj_conf_get(c, "brokers"), errstr, errstr_size) != SJ_OK)
        goto fail;
    for (size_t i = 0; defaults[i]; i += 2)
        if (set1(rk, defaults[i], defaults[i + 1], errstr, errstr_size) != SJ_OK) goto fail;
    conf_ctx_t x = {rk, errstr, errstr_size};
    if (sj_conf_each_kafka(c, set_passthrough, &x) != SJ_OK) goto fail;
    return rk;
fail:
    rd_kafka_conf_destroy(rk);
    return NULL;
}

rd_kafka_t *sj_kafka_producer_new(const sj_conf_t *c,
                                  void (*dr_cb)(rd_kafka_t *, const rd_kafka_message_t *,
                                                void *),
                                  void *opaque, char *errstr, size_t errstr_size)
{
    /* Idempotence implies acks=all, in-order retries and no duplicates from
     * retries; linger and batch sizes favour throughput for bulk imports. */
    static const char *const defaults[] = {
        "client.id", "seintje", "enable.idempotence", "true", "acks", "all",
        "linger.ms", "10", "batch.num.messages", "10000", "batch.size", "1000000",
        "queue.buffering.max.messages", "500000", "queue.buffering.max.kbytes", "1048576",
        "message.timeout.ms", "120000", NULL};
    rd_kafka_conf_t *rk = build_conf(c, defaults, errstr, errstr_size);
    if (!rk) return NULL;
    if (dr_cb) rd_kafka_conf_set_dr_msg_cb(rk, dr_cb);
    rd_kafka_conf_set_opaque(rk, opaque);
    char err[512];
    rd_kafka_t *p = rd_kafka_new(RD_KAFKA_PRODUCER, rk, err, sizeof err);
    if (!p) {
        sj_seterr(errstr, errstr_size, "kafka producer: %s", err);
        rd_kafka_conf_destroy(rk);
    }
    return p;
}

rd_kafka_t *sj_kafka_consumer_new(const sj_conf_t *c, const char *group, const char *topic,
                                  char *errstr, size_t errstr_size)
{
    /* Offsets are stored by the caller only once its outputs are durable;
     * auto-commit then commits what was stored. */
    const char *const defaults[] = {
        "client.id", "seintje", "group.id", group, "enable.auto.offset.store", "false",
        "enable.auto.commit", "true", "auto.commit.interval.ms", "1000",
        "auto.offset.reset", "earliest", "enable.partition.eof", "true", NULL};
    rd_kafka_conf_t *rk = build_conf(c, defaults, errstr, errstr_size);
    if (!rk) return NULL;
    char err[512];
    rd_kafka_t *k = rd_kafka_new(RD_KAFKA_CONSUMER, rk, err, sizeof err);
    if (!k) {
        sj_seterr(errstr, errstr_size, "kafka consumer: %s", err);
        rd_kafka_conf_destroy(rk);
        return NULL;
    }
    rd_kafka_poll_set_consumer(k);
    rd_kafka_topic_partition_list_t *subs = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(subs, topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(k, subs);
    rd_kafka_topic_partition_list_destroy(subs);
    if (e) {
        sj_seterr(errstr, errstr_size, "kafka subscribe %s: %s", topic, rd_kafka_err2str(e));
        rd_kafka_destroy(k);
        return NULL;
    }
    return k;
}

sj_status_t sj_kafka_topic_ensure(rd_kafka_t *rk, const char *topic, int partitions,
                                  int timeout_ms, char *errstr, size_t errstr_size)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, NULL, &md, timeout_ms);
    if (e) {
        sj_seterr(errstr, errstr_size, "kafka: no metadata from the brokers within %d ms: %s",
                  timeout_ms, rd_kafka_err2str(e));
        return SJ_ERR_TIMEOUT;
    }
    int brokers = md->broker_cnt;
    bool exists = false;
    for (int i = 0; i < md->topic_cnt; i++)
        if (!strcmp(md->topics[i].topic, topic) && md->topics[i].err == 0) exists = true;
    rd_kafka_metadata_destroy(md);
    if (exists) return SJ_OK;

    int replication = brokers < 3 ? (brokers < 1 ? 1 : brokers) : 3;
    char err[512];
    rd_kafka_NewTopic_t *nt =
        rd_kafka_NewTopic_new(topic, partitions, replication, err, sizeof err);
    if (!nt) {
        sj_seterr(errstr, errstr_size, "kafka: topic %s: %s", topic, err);
        return SJ_ERR_INPUT;
    }
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *opt = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_operation_timeout(opt, timeout_ms, err, sizeof err);
    rd_kafka_CreateTopics(rk, &nt, 1, opt, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, timeout_ms + 2000);
    sj_status_t st = SJ_OK;
    if (!ev) {
        sj_seterr(errstr, errstr_size, "kafka: creating topic %s timed out", topic);
        st = SJ_ERR_TIMEOUT;
    } else if (rd_kafka_event_error(ev)) {
        sj_seterr(errstr, errstr_size, "kafka: creating topic %s: %s", topic,
                  rd_kafka_event_error_string(ev));
        st = SJ_ERR;
    } else {
        size_t n = 0;
        const rd_kafka_topic_result_t **res =
            rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
        for (size_t i = 0; i < n; i++) {
            rd_kafka_resp_err_t te = rd_kafka_topic_result_error(res[i]);
            if (te && te != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
                sj_seterr(errstr, errstr_size, "kafka: creating topic %s: %s", topic,
                          rd_kafka_topic_result_error_string(res[i]));
                st = SJ_ERR;
            }
        }
    }
    if (ev) rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(opt);
    rd_kafka_NewTopic_destroy(nt);
    rd_kafka_queue_destroy(q);
    return st;
}
