/* Kafka clients from the settings table: safe defaults first, then every
 * kafka.* setting over them, so operators can tune anything librdkafka knows.
 * See kafka.h. */
#include "kafka.h"

#include "log.h"
#include "timeutil.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    rd_kafka_conf_t *rk;
    char *errstr;
    size_t errstr_size;
} conf_ctx_t;

static sj_status_t set1(rd_kafka_conf_t *rk, const char *name, const char *value,
                        char *errstr, size_t errstr_size)
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
    sj_log_level_t l = level <= 3   ? SJ_LOG_ERROR
                       : level <= 5 ? SJ_LOG_WARN
                       : level == 6 ? SJ_LOG_INFO
                                    : SJ_LOG_DEBUG;
    sj_log(l, "kafka", "%s: %s", fac, buf);
}

/* Applies a NULL-terminated list of name/value defaults, then kafka.*. */
static rd_kafka_conf_t *build_conf(const sj_conf_t *c, const char *const *defaults,
                                   char *errstr, size_t errstr_size)
{
    rd_kafka_conf_t *rk = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(rk, log_cb);
    if (set1(rk, "bootstrap.servers", sj_conf_get(c, "brokers"), errstr, errstr_size) !=
        SJ_OK)
        goto fail;
    for (size_t i = 0; defaults[i]; i += 2)
        if (set1(rk, defaults[i], defaults[i + 1], errstr, errstr_size) != SJ_OK)
            goto fail;
    conf_ctx_t x = {rk, errstr, errstr_size};
    if (sj_conf_each_kafka(c, set_passthrough, &x) != SJ_OK) goto fail;
    return rk;
fail:
    rd_kafka_conf_destroy(rk);
    return NULL;
}

static rd_kafka_t *producer_new(const sj_conf_t *c, const char *txn_id,
                                void (*dr_cb)(rd_kafka_t *, const rd_kafka_message_t *,
                                              void *),
                                void *opaque, char *errstr, size_t errstr_size)
{
    /* Idempotence implies acks=all, in-order retries and no duplicates from
     * retries; linger and batch sizes favour throughput for bulk imports. */
    static const char *const defaults[] = {"client.id",
                                           "seintje",
                                           "enable.idempotence",
                                           "true",
                                           "acks",
                                           "all",
                                           "linger.ms",
                                           "10",
                                           "batch.num.messages",
                                           "10000",
                                           "batch.size",
                                           "1000000",
                                           "queue.buffering.max.messages",
                                           "500000",
                                           "queue.buffering.max.kbytes",
                                           "1048576",
                                           "message.timeout.ms",
                                           "120000",
                                           NULL};
    rd_kafka_conf_t *rk = build_conf(c, defaults, errstr, errstr_size);
    if (!rk) return NULL;
    /* A message must time out within its transaction; both 60 s. */
    if (txn_id &&
        (set1(rk, "transactional.id", txn_id, errstr, errstr_size) != SJ_OK ||
         set1(rk, "transaction.timeout.ms", "60000", errstr, errstr_size) != SJ_OK ||
         set1(rk, "message.timeout.ms", "60000", errstr, errstr_size) != SJ_OK)) {
        rd_kafka_conf_destroy(rk);
        return NULL;
    }
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

rd_kafka_t *sj_kafka_producer_new(const sj_conf_t *c,
                                  void (*dr_cb)(rd_kafka_t *, const rd_kafka_message_t *,
                                                void *),
                                  void *opaque, char *errstr, size_t errstr_size)
{
    return producer_new(c, NULL, dr_cb, opaque, errstr, errstr_size);
}

rd_kafka_t *
sj_kafka_txn_producer_new(const sj_conf_t *c, const char *txn_id,
                          void (*dr_cb)(rd_kafka_t *, const rd_kafka_message_t *, void *),
                          void *opaque, int timeout_ms, char *errstr, size_t errstr_size)
{
    rd_kafka_t *p = producer_new(c, txn_id, dr_cb, opaque, errstr, errstr_size);
    if (!p) return NULL;
    /* Fences any older producer with the same id and aborts (or completes)
     * the transaction it left open, so a restarted stage starts clean. */
    rd_kafka_error_t *e = rd_kafka_init_transactions(p, timeout_ms);
    if (e) {
        sj_seterr(errstr, errstr_size, "kafka: initialising transactions (%s): %s",
                  txn_id, rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
        rd_kafka_destroy(p);
        return NULL;
    }
    return p;
}

rd_kafka_t *sj_kafka_consumer_open(const sj_conf_t *c, const char *group,
                                   const char *instance, const char *const *topics,
                                   size_t n_topics, unsigned flags, char *errstr,
                                   size_t errstr_size)
{
    /* Offsets are stored by the caller only once its outputs are durable;
     * auto-commit then commits what was stored. With SJ_KAFKA_TXN_OFFSETS the
     * offsets travel in the producer's transactions instead. */
    bool txn = flags & SJ_KAFKA_TXN_OFFSETS;
    const char *const defaults[] = {"client.id",
                                    "seintje",
                                    "group.id",
                                    group,
                                    "enable.auto.offset.store",
                                    "false",
                                    "enable.auto.commit",
                                    txn ? "false" : "true",
                                    "auto.commit.interval.ms",
                                    "1000",
                                    "auto.offset.reset",
                                    "earliest",
                                    "enable.partition.eof",
                                    "true",
                                    "isolation.level",
                                    "read_committed",
                                    NULL};
    rd_kafka_conf_t *rk = build_conf(c, defaults, errstr, errstr_size);
    if (!rk) return NULL;
    /* Static membership: a restarted instance takes its partitions back at
     * once instead of waiting for its old session to time out. */
    if (instance &&
        set1(rk, "group.instance.id", instance, errstr, errstr_size) != SJ_OK) {
        rd_kafka_conf_destroy(rk);
        return NULL;
    }
    char err[512];
    rd_kafka_t *k = rd_kafka_new(RD_KAFKA_CONSUMER, rk, err, sizeof err);
    if (!k) {
        sj_seterr(errstr, errstr_size, "kafka consumer: %s", err);
        rd_kafka_conf_destroy(rk);
        return NULL;
    }
    rd_kafka_poll_set_consumer(k);
    rd_kafka_topic_partition_list_t *subs =
        rd_kafka_topic_partition_list_new((int)n_topics);
    for (size_t i = 0; i < n_topics; i++)
        rd_kafka_topic_partition_list_add(subs, topics[i], RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(k, subs);
    rd_kafka_topic_partition_list_destroy(subs);
    if (e) {
        sj_seterr(errstr, errstr_size, "kafka subscribe %s: %s", topics[0],
                  rd_kafka_err2str(e));
        rd_kafka_destroy(k);
        return NULL;
    }
    return k;
}

rd_kafka_t *sj_kafka_consumer_new(const sj_conf_t *c, const char *group,
                                  const char *topic, char *errstr, size_t errstr_size)
{
    return sj_kafka_consumer_open(c, group, NULL, &topic, 1, 0, errstr, errstr_size);
}

sj_status_t sj_kafka_topic_ensure(rd_kafka_t *rk, const char *topic, int partitions,
                                  int timeout_ms, char *errstr, size_t errstr_size)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, NULL, &md, timeout_ms);
    if (e) {
        sj_seterr(errstr, errstr_size,
                  "kafka: no metadata from the brokers within %d ms: %s", timeout_ms,
                  rd_kafka_err2str(e));
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
    rd_kafka_AdminOptions_t *opt =
        rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
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
        const rd_kafka_topic_result_t **res = rd_kafka_CreateTopics_result_topics(
            rd_kafka_event_CreateTopics_result(ev), &n);
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

/* ---- reading a topic once ------------------------------------------------- */

/* Per partition of a topic being read: where it ended when reading started. */
typedef struct {
    int64_t end; /* high watermark then; -1: not read (empty or absent) */
    bool done;
} read_part_t;

/* The partitions of topic to read: marks each non-empty one with its end in
 * parts (indexed by partition id, *n_parts of them) and adds it to l. */
static sj_status_t read_plan(rd_kafka_t *k, const char *topic, const char *setting,
                             int timeout, rd_kafka_topic_partition_list_t *l,
                             read_part_t **parts, int *n_parts, char *errstr,
                             size_t errstr_size)
{
    rd_kafka_topic_t *t = rd_kafka_topic_new(k, topic, NULL);
    const rd_kafka_metadata_t *md = NULL;
    rd_kafka_resp_err_t e =
        t ? rd_kafka_metadata(k, 0, t, &md, timeout) : rd_kafka_last_error();
    if (!e && (md->topic_cnt != 1 || md->topics[0].err))
        e = md->topic_cnt ? md->topics[0].err : RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
    sj_status_t st = SJ_OK;
    if (e) {
        sj_seterr(errstr, errstr_size, "kafka: topic %s%s%s%s: %s", topic,
                  setting ? " (" : "", setting ? setting : "", setting ? ")" : "",
                  rd_kafka_err2str(e));
        st = SJ_ERR;
    }
    int max_id = -1;
    for (int i = 0; st == SJ_OK && i < md->topics[0].partition_cnt; i++)
        if (md->topics[0].partitions[i].id > max_id)
            max_id = md->topics[0].partitions[i].id;
    if (st == SJ_OK && max_id >= 0 &&
        !(*parts = calloc((size_t)max_id + 1, sizeof **parts)))
        st = SJ_ERR_NOMEM;
    *n_parts = st == SJ_OK ? max_id + 1 : 0;
    for (int i = 0; i < *n_parts; i++)
        (*parts)[i] = (read_part_t){.end = -1, .done = true};
    for (int i = 0; st == SJ_OK && i < md->topics[0].partition_cnt; i++) {
        int32_t part = md->topics[0].partitions[i].id;
        int64_t lo = 0, hi = 0;
        e = rd_kafka_query_watermark_offsets(k, topic, part, &lo, &hi, timeout);
        if (e) {
            sj_seterr(errstr, errstr_size, "kafka: end of %s [%d]: %s", topic, (int)part,
                      rd_kafka_err2str(e));
            st = SJ_ERR;
        } else if (hi > lo) {
            (*parts)[part] = (read_part_t){.end = hi, .done = false};
            rd_kafka_topic_partition_list_add(l, topic, part)->offset =
                RD_KAFKA_OFFSET_BEGINNING;
        }
    }
    if (st == SJ_ERR_NOMEM) sj_seterr(errstr, errstr_size, "out of memory");
    if (md) rd_kafka_metadata_destroy(md);
    if (t) rd_kafka_topic_destroy(t);
    return st;
}

/* Marks a partition done; returns whether it was still being read. */
static bool read_part_done(read_part_t *parts, int n_parts, int32_t part)
{
    if (part < 0 || part >= n_parts || parts[part].done) return false;
    parts[part].done = true;
    return true;
}

sj_status_t sj_kafka_read_topic(const sj_conf_t *c, const char *topic,
                                const char *setting, const char *client,
                                sj_kafka_read_fn fn, void *opaque, char *errstr,
                                size_t errstr_size)
{
    int timeout = (int)sj_conf_get_int(c, "kafka.timeout-ms");
    char group[128];
    snprintf(group, sizeof group, "%s-reader", client);
    const char *const defaults[] = {"client.id",
                                    client,
                                    "group.id",
                                    group,
                                    "enable.auto.commit",
                                    "false",
                                    "enable.partition.eof",
                                    "true",
                                    "isolation.level",
                                    "read_committed",
                                    NULL};
    rd_kafka_conf_t *rk = build_conf(c, defaults, errstr, errstr_size);
    if (!rk) return SJ_ERR;
    char err[512];
    rd_kafka_t *k = rd_kafka_new(RD_KAFKA_CONSUMER, rk, err, sizeof err);
    if (!k) {
        sj_seterr(errstr, errstr_size, "kafka consumer: %s", err);
        rd_kafka_conf_destroy(rk);
        return SJ_ERR;
    }
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(8);
    read_part_t *parts = NULL;
    int n_parts = 0;
    sj_status_t st =
        read_plan(k, topic, setting, timeout, l, &parts, &n_parts, errstr, errstr_size);
    int left = st == SJ_OK ? l->cnt : 0;
    rd_kafka_resp_err_t e;
    if (left && (e = rd_kafka_assign(k, l))) {
        sj_seterr(errstr, errstr_size, "kafka: assign %s: %s", topic,
                  rd_kafka_err2str(e));
        st = SJ_ERR;
    }
    int64_t quiet_since = sj_mono_ms();
    bool go = true;
    while (st == SJ_OK && left > 0 && go) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(k, 200);
        if (!m) {
            if (sj_mono_ms() - quiet_since > timeout) {
                sj_seterr(errstr, errstr_size, "kafka: no progress reading %s for %d ms",
                          topic, timeout);
                st = SJ_ERR_TIMEOUT;
            }
            continue;
        }
        quiet_since = sj_mono_ms();
        int32_t part = m->partition;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            left -= read_part_done(parts, n_parts, part);
        } else if (m->err) {
            sj_log(SJ_LOG_WARN, "kafka", "reading %s: %s", topic,
                   rd_kafka_message_errstr(m));
        } else if (part >= 0 && part < n_parts && !parts[part].done) {
            if (m->offset >= parts[part].end) /* produced since the start */
                left -= read_part_done(parts, n_parts, part);
            else
                go = fn(opaque, m);
            if (m->offset + 1 >= parts[part].end)
                left -= read_part_done(parts, n_parts, part);
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_topic_partition_list_destroy(l);
    free(parts);
    rd_kafka_consumer_close(k);
    rd_kafka_destroy(k);
    return st;
}

#define MAX_PARTITIONS 65536 /* tracked (topic, partition) pairs */

struct sj_kafka_eof {
    char *topic;
    int32_t partition;
    bool at_end;
};

void sj_kafka_idle_init(sj_kafka_idle_t *t)
{
    memset(t, 0, sizeof *t);
    t->last_msg = t->last_assigned = sj_mono_ms();
}

void sj_kafka_idle_free(sj_kafka_idle_t *t)
{
    for (size_t i = 0; i < t->n_eof; i++) free(t->eof[i].topic);
    free(t->eof);
    t->eof = NULL;
    t->n_eof = 0;
}

static struct sj_kafka_eof *idle_find(const sj_kafka_idle_t *t, const char *topic,
                                      int32_t partition)
{
    for (size_t i = 0; i < t->n_eof; i++)
        if (t->eof[i].partition == partition && !strcmp(t->eof[i].topic, topic))
            return &t->eof[i];
    return NULL;
}

static void idle_mark(sj_kafka_idle_t *t, const char *topic, int32_t partition,
                      bool at_end)
{
    if (!at_end) t->last_msg = sj_mono_ms();
    struct sj_kafka_eof *e = idle_find(t, topic, partition);
    if (!e) {
        if (t->n_eof == MAX_PARTITIONS) return;
        struct sj_kafka_eof *p = realloc(t->eof, (t->n_eof + 1) * sizeof *p);
        char *name = strdup(topic);
        if (!p || !name) { /* then idleness is only detected later, by time alone */
            if (p) t->eof = p;
            free(name);
            return;
        }
        t->eof = p;
        e = &t->eof[t->n_eof++];
        e->topic = name;
        e->partition = partition;
    }
    e->at_end = at_end;
}

bool sj_kafka_idle_reached(sj_kafka_idle_t *t, rd_kafka_t *consumer, int idle_ms)
{
    int64_t now = sj_mono_ms();
    if (now - t->last_msg < idle_ms) return false;
    rd_kafka_topic_partition_list_t *a = NULL;
    if (rd_kafka_assignment(consumer, &a) != RD_KAFKA_RESP_ERR_NO_ERROR) return false;
    bool idle = a->cnt > 0;
    for (int i = 0; i < a->cnt && idle; i++) {
        const struct sj_kafka_eof *e =
            idle_find(t, a->elems[i].topic, a->elems[i].partition);
        idle = e && e->at_end;
    }
    if (a->cnt > 0) {
        t->last_assigned = now;
    } else if (now - t->last_assigned >= (idle_ms > SJ_KAFKA_NO_ASSIGNMENT_MS
                                              ? idle_ms
                                              : SJ_KAFKA_NO_ASSIGNMENT_MS)) {
        sj_log(SJ_LOG_WARN, "kafka", "no partitions assigned for %d ms; stopping as idle",
               SJ_KAFKA_NO_ASSIGNMENT_MS);
        idle = true;
    }
    rd_kafka_topic_partition_list_destroy(a);
    return idle;
}

size_t sj_kafka_poll_batch(rd_kafka_t *c, rd_kafka_message_t **msgs, size_t max,
                           int wait_ms, sj_kafka_idle_t *idle)
{
    size_t n = 0;
    while (n < max) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c, n ? 0 : wait_ms);
        if (!m) break;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            idle_mark(idle, rd_kafka_topic_name(m->rkt), m->partition, true);
        } else if (m->err) {
            sj_log(SJ_LOG_WARN, "kafka", "consumer: %s", rd_kafka_message_errstr(m));
        } else {
            idle_mark(idle, rd_kafka_topic_name(m->rkt), m->partition, false);
            msgs[n++] = m;
            continue;
        }
        rd_kafka_message_destroy(m);
        if (n == 0) break; /* let the caller check idleness and its stop flag */
    }
    return n;
}

rd_kafka_topic_partition_list_t *sj_kafka_next_offsets(rd_kafka_message_t **msgs,
                                                       size_t n)
{
    rd_kafka_topic_partition_list_t *l =
        rd_kafka_topic_partition_list_new((int)(n ? n : 1));
    for (size_t i = 0; i < n; i++) {
        const char *topic = rd_kafka_topic_name(msgs[i]->rkt);
        rd_kafka_topic_partition_t *p =
            rd_kafka_topic_partition_list_find(l, topic, msgs[i]->partition);
        if (!p) p = rd_kafka_topic_partition_list_add(l, topic, msgs[i]->partition);
        if (p->offset < msgs[i]->offset + 1) p->offset = msgs[i]->offset + 1;
    }
    return l;
}

sj_status_t sj_kafka_produce_copy(rd_kafka_t *p, const char *topic, const char *key,
                                  const void *val, size_t len, char *errstr,
                                  size_t errstr_size)
{
    for (int tries = 0;; tries++) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, strlen(key)),
            RD_KAFKA_V_VALUE((void *)val, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_END);
        if (!e) return SJ_OK;
        if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL && tries < SJ_KAFKA_QUEUE_FULL_RETRIES) {
            rd_kafka_poll(p, 100);
            continue;
        }
        sj_seterr(errstr, errstr_size, "kafka: producing to %s: %s", topic,
                  rd_kafka_err2str(e));
        return SJ_ERR;
    }
}

void sj_kafka_store_offsets(rd_kafka_t *c, rd_kafka_message_t **msgs, size_t n)
{
    rd_kafka_topic_partition_list_t *l = sj_kafka_next_offsets(msgs, n);
    rd_kafka_resp_err_t e = rd_kafka_offsets_store(c, l);
    if (e)
        sj_log(SJ_LOG_INFO, "kafka",
               "offsets of a batch not stored (%s): partitions were reassigned; the new "
               "owner replays them",
               rd_kafka_err2str(e));
    rd_kafka_topic_partition_list_destroy(l);
}
