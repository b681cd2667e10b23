/* The segmentation engine: life events in, notification intents out, with
 * the nudging rules applied in their fixed order (nudge.h) and every
 * decision recorded. See segment.h for the contract; this file is the loop.
 *
 * Exactly once. The stage consumes two topics with one consumer group:
 * topic.life-events and topic.segment-due, the ticks its own scheduler
 * publishes when a scheduled step becomes due. Everything it publishes for a
 * poll batch (intents, status records) goes out in one Kafka transaction
 * together with the batch's consumer offsets, so after a crash the batch is
 * either entirely visible downstream or replayed. Redis state is written
 * before the commit and is idempotent; each intent's state records the
 * position of the message that decided it, so a replay of an uncommitted
 * batch redoes its decisions, while a replay of committed history (an
 * operator resetting offsets) finds them done. What is written after the
 * commit (counters, clean-up of released bodies) may be lost in a crash and
 * is never needed for correctness.
 *
 * Experiment counters (sj:{exp}:<experiment>) count residents, each once:
 * exposed when the HSETNX of its exposure record answers 1 (here for the
 * holdout, read back with the decision writes, drain_writes(); for the
 * other variants the delivery stage does it when the first message is
 * sent, consumers/deliver.c), converted when the conversion script
 * of a goal event (append_conversion(), in the resident's slot) records a
 * new conversion (run again after the decision writes for a goal event in
 * the batch of its resident's first exposure: convert_again()). The
 * per-resident records survive an abort and are never undone, so a replayed
 * batch finds them and counts nothing; the counters are written right after
 * the records, before the commit (exp_flush()). A
 * crash between the two loses counts (an undercount bounded by one batch),
 * never doubles them: the records and the counters are in different hash
 * slots, so Redis Cluster allows no atomic step over both.
 *
 * One poll batch:
 *   1. parse the messages (events and ticks);
 *   2. one pipelined round trip: apply every event to its profile, then read
 *      what the decisions need (profile, consents, goals, recent sends,
 *      states of the candidate intents, bodies of due steps);
 *   3. make the candidate steps: for an event, every campaign it triggers
 *      whose audience rule matches; for a tick, the scheduled step;
 *   4. decide each step, highest priority first, appending Redis writes to
 *      the pipeline and producing intents and status records;
 *   5. read the writes' replies, commit the transaction with the offsets.
 *
 * The scheduler (tick()): due members of sj:{sched}:due become tick
 * messages, in a transaction of their own; their due time moves a lease
 * ahead so that a lost tick is published again. A duplicate tick is
 * harmless: the step's state says it is done. */
#include "segment.h"

#include <jansson.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>
#include <librdkafka/rdkafka.h>

#include "core/buf.h"
#include "core/kafka.h"
#include "core/log.h"
#include "core/redis.h"
#include "core/text.h"
#include "core/timeutil.h"
#include "segments/campaign.h"
#include "segments/fastevent.h"
#include "segments/intent.h"
#include "segments/jsonlogic.h"
#include "segments/keys.h"
#include "segments/nudge.h"
#include "segments/profile.h"

#define FAC            "segment"
#define POLL_MS        100
#define TICK_EVERY_MS  500
#define TICK_MAX       1000                 /* due steps released per tick */
#define LEASE_MS       60000                /* a tick not handled by then is sent again */
#define SENT_KEEP_MS   (400LL * 86400000LL) /* frequency-cap history kept */
#define BODY_TTL_S     (400L * 86400L)      /* scheduled bodies expire eventually */
#define DAY_MS         86400000LL
#define COMMIT_RETRIES 5
#define SRC_MAX        96
#define STATE_MAX      192
#define MAX_CANDIDATES SJ_CAMPAIGNS_MAX
#define FLUSH_EVERY    128 /* items whose commands go to Redis at once */

/* ---- one message of a batch --------------------------------------------- */

typedef enum { K_EVENT, K_TICK, K_BATCH } kind_t;

typedef struct item {
    rd_kafka_message_t *m;
    kind_t kind;
    bool ok;
    bool committed; /* this position was committed before: history replayed */
    json_t *root;
    json_t *event; /* what audience rules see as "event": the CloudEvent, or for
                      a batch trigger {"type": "be.seintje.batch", "id", "time"} */
    sj_event_view_t ev;
    char batch_id[160], batch_time[32]; /* a batch trigger's event id and time */
    char pseudonym[SJ_PSEUDONYM_LEN + 1];
    char tick_id[SJ_INTENT_ID_LEN + 1];
    char src[SRC_MAX]; /* "<topic>:<partition>:<offset>" */
    int64_t now;       /* "now" for this message */
    /* candidate campaigns (events): indexes, and their initial intent ids */
    size_t n_cand;
    size_t *cand;
    /* replies of the gather round trip, in the order they were asked */
    redisReply **r;
    bool snap; /* the batch's first event of a resident with more: copy its state */
    redisReply *consent_reply; /* to consents_ask()'s read */
    bool cand_resident;        /* first event: the resident has a campaign in the batch */
    bool now_pass;             /* its replies are read in gather() (else later) */
    char arena[SJ_FAST_EVENT_MAX]; /* the scanner path's strings (ev, u point here) */
    sj_profile_update_t *u;        /* an event's update (in stage.updates) */
    bool consent_read;             /* its stored consents were read (round trip 1) */
    long prev_consent; /* the batch's previous event with consents of this resident */
    long prev_event;   /* the batch's previous event of this resident, or -1 */
    long first_event;  /* the batch's first event of this resident (maybe itself) */
    size_t part;       /* index in stage.parts */
    size_t nr, r_profile, n_profile, r_goals, r_sent, r_states, r_body;
    bool goal;             /* a goal event of a loaded campaign (with a time) */
    bool conv;             /* ... of a campaign with an experiment: may convert */
    size_t r_conv, n_conv; /* replies of its conversion scripts (append_update) */
    sj_profile_full_t *profile;
    json_t *resident; /* as audience rules see it */
} item_t;

typedef struct step {
    item_t *it;
    const sj_campaign_t *c;
    json_t *intent; /* owned */
    size_t order;
} step_t;

/* A decision write whose reply tells whether a resident was exposed for the
 * first time (HSETNX of sj:res:{P}:exposure): its position among the batch's
 * decision writes, and the arm it counts for. */
typedef struct watch {
    size_t reply;
    const item_t *it;
    const sj_campaign_t *c;
    size_t variant; /* index in c->variants */
    bool fresh;     /* the reply said: a new exposure */
} watch_t;

/* A partition of a batch: where the batch ends in it, and the highest
 * position any segment group committed there (replay detection). */
typedef struct part {
    const rd_kafka_topic_t *rkt;
    int32_t partition;
    int64_t end;       /* last offset in the batch + 1 */
    int64_t committed; /* -1: none */
    char f[SRC_MAX];   /* "<topic>:<partition>" */
} part_t;

/* A poll batch: its messages, parsed into items. Two of them: while Redis
 * works on one batch's commands, the next is polled and parsed. */
typedef struct batch {
    rd_kafka_message_t **msgs;
    item_t *items;
    sj_profile_update_t *updates; /* one per item */
    size_t n;
    int64_t max_time;  /* the latest event time in it (replay clock) */
    int64_t wall;      /* wall clock when it was parsed (updated_at) */
    bool asked, taken; /* consents_ask() and consents_take() done */
} batch_t;

typedef struct stage {
    const sj_conf_t *conf;
    const sj_segment_opts_t *o;
    sj_segment_stats_t *st;
    sj_campaigns_t *campaigns;
    redisContext *redis;
    rd_kafka_t *consumer, *producer;
    const char *t_events, *t_due, *t_out, *t_status, *group;
    sj_redis_pipe_t pipe;       /* commands to Redis go through here */
    char pipe_err[256];         /* flush_some()'s last write error */
    unsigned fault_abort_every; /* SEINTJE_FAULT_ABORT_EVERY: tests of the abort path */
    unsigned fault_batches;
    /* per batch: its partitions, and residents by pseudonym (open addressing) */
    part_t *parts;
    size_t n_parts, cap_parts;
    long *slots; /* item index or -1; slot_mask + 1 of them */
    size_t slot_mask;
    char committed_key[SJ_KEY_MAX];
    char inflight_key[SJ_KEY_MAX + 160];
    int timeout_ms;
    sj_send_window_t window;
    unsigned cap_count, cap_days;
    bool require_consent;
    int64_t replay_now; /* replay clock: the latest event time seen */
    int64_t wall;       /* wall clock at the start of the batch (updated_at) */
    /* per batch */
    batch_t b[2];
    int cur;          /* b[cur] is processed, b[!cur] prefetched */
    size_t batch_max; /* messages per batch */
    sj_kafka_idle_t *idle;
    item_t *items;                /* b[cur]'s */
    sj_profile_update_t *updates; /* b[cur]'s */
    size_t n_items;
    step_t *steps;
    size_t n_steps, cap_steps;
    size_t n_writes; /* replies owed by the decision writes */
    size_t n_post; /* replies owed by post-commit writes, read with the next round trip */
    size_t n_later;  /* replies owed by the updates gather() sent last */
    json_t *decided; /* ids decided in this batch */
    json_t *sends;   /* pseudonym -> [ms...] sent in this batch */
    json_t *cleanup; /* [[pseudonym, id]...] final in this batch, cleaned after commit */
    /* delivery reports */
    uint64_t dr_failed;
    char dr_error[256];
    /* counters flushed to Redis after the commit: campaign -> {field: n} */
    json_t *counters;
    /* experiment counters of the batch (experiment -> {field: n}), written
     * as soon as the records that guard them are (exp_flush()) */
    json_t *exp_counts;
    watch_t *watches; /* first exposures to look for in the decision writes */
    size_t n_watches, cap_watches;
} stage_t;

/* ---- small helpers -------------------------------------------------------- */

/* Adds the time since t to a phase; returns now. */
static int64_t phase(stage_t *s, sj_segment_phase_t p, int64_t t)
{
    int64_t now = sj_mono_us();
    s->st->phase_s[p] += (double)(now - t) / 1e6;
    return now;
}

static int64_t stage_now(const stage_t *s, const item_t *it)
{
    if (s->o->replay_clock) {
        if (it && it->kind == K_EVENT && it->ev.time) return it->ev.time_ms;
        if (s->replay_now) return s->replay_now;
    }
    if (s->o->now_ms) return s->o->now_ms;
    return sj_now_ms();
}

static const char *jstr(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static int64_t jtime(const json_t *o, const char *key)
{
    const char *v = jstr(o, key);
    int64_t ms;
    if (!v || sj_time_parse_rfc3339(v, strlen(v), &ms) != SJ_OK) return 0;
    return ms;
}

static void count(stage_t *s, const char *campaign, const char *variant, const char *what)
{
    json_t *c = json_object_get(s->counters, campaign);
    if (!c) {
        c = json_object();
        json_object_set_new(s->counters, campaign, c);
    }
    char field[160];
    snprintf(field, sizeof field, "%s|%s", variant ? variant : "-", what);
    json_t *n = json_object_get(c, field);
    json_object_set_new(c, field, json_integer(n ? json_integer_value(n) + 1 : 1));
}

static const sj_campaign_t *campaign_by_id(const stage_t *s, const char *id)
{
    for (size_t i = 0; id && i < sj_campaigns_count(s->campaigns); i++)
        if (!strcmp(sj_campaigns_get(s->campaigns, i)->id, id))
            return sj_campaigns_get(s->campaigns, i);
    return NULL;
}

/* Is type one of campaign c's goal events? */
static bool campaign_goal(const sj_campaign_t *c, const char *type)
{
    for (size_t g = 0; g < c->n_goal_events; g++)
        if (!strcmp(c->goal_events[g], type)) return true;
    return false;
}

/* An experiment: a campaign with two or more variants (those have a goal). */
/* Is type a goal event of some campaign (the return value), and of one
 * with an experiment (*conv)? One pass over the campaigns, as before the
 * experiment counters: other events pay nothing more. */
static bool goal_kind(const stage_t *s, const char *type, bool *conv)
{
    bool goal = false;
    *conv = false;
    for (size_t i = 0; i < sj_campaigns_count(s->campaigns); i++) {
        const sj_campaign_t *c = sj_campaigns_get(s->campaigns, i);
        if (!campaign_goal(c, type)) continue;
        goal = true;
        if (sj_campaign_is_experiment(c)) {
            *conv = true;
            break;
        }
    }
    return goal;
}

/* Counts one resident in an arm of an experiment: "<variant>|<what>". */
static void exp_count(stage_t *s, const char *experiment, const char *variant,
                      const char *what)
{
    json_t *c = json_object_get(s->exp_counts, experiment);
    if (!c) {
        c = json_object();
        json_object_set_new(s->exp_counts, experiment, c);
    }
    char field[160];
    snprintf(field, sizeof field, "%s|%s", variant, what);
    json_t *n = json_object_get(c, field);
    json_object_set_new(c, field, json_integer(n ? json_integer_value(n) + 1 : 1));
}

/* ---- Redis: appending commands ------------------------------------------- */

static sj_status_t cmd(stage_t *s, size_t *owed, int argc, const char **argv)
{
    sj_status_t st = sj_redis_pipe_cmd(&s->pipe, argc, argv, NULL);
    if (st == SJ_OK) (*owed)++;
    return st;
}

#define CMD(s, owed, ...)                                                                \
    cmd((s), (owed),                                                                     \
        (int)(sizeof((const char *[]){__VA_ARGS__}) / sizeof(const char *)),             \
        (const char *[]){__VA_ARGS__})

static sj_status_t read_replies(stage_t *s, redisReply **out, size_t n, char *errstr,
                                size_t errstr_size)
{
    sj_status_t st = sj_redis_pipe_flush(&s->pipe, errstr, errstr_size);
    if (st != SJ_OK) return st;
    for (size_t i = 0; i < n; i++) {
        void *r = NULL;
        if (redisGetReply(s->redis, &r) != REDIS_OK) {
            for (size_t k = 0; k < i; k++) freeReplyObject(out[k]);
            sj_seterr(errstr, errstr_size, "redis: %s", s->redis->errstr);
            return SJ_ERR_IO;
        }
        out[i] = r;
    }
    return SJ_OK;
}

/* Sends what is buffered every FLUSH_EVERY items, so that Redis works on
 * the first commands of a batch while the rest are being formatted. */
static sj_status_t flush_some(stage_t *s, size_t i)
{
    if ((i + 1) % FLUSH_EVERY) return SJ_OK;
    return sj_redis_pipe_flush(&s->pipe, s->pipe_err, sizeof s->pipe_err);
}

/* The message for a failure while commands were being appended: out of
 * memory, or the write of flush_some(). */
static void pipe_failed(stage_t *s, sj_status_t st, char *errstr, size_t errstr_size)
{
    if (st == SJ_ERR_IO)
        sj_seterr(errstr, errstr_size, "%s", s->pipe_err);
    else
        sj_seterr(errstr, errstr_size, "redis: out of memory pipelining a batch");
}

/* Reads (and checks) n replies owed by writes. */
static sj_status_t drain(stage_t *s, size_t n, char *errstr, size_t errstr_size)
{
    sj_status_t st = sj_redis_pipe_flush(&s->pipe, errstr, errstr_size);
    return st == SJ_OK && n ? sj_redis_drain(s->redis, n, errstr, errstr_size) : st;
}

/* ---- Kafka ---------------------------------------------------------------- */

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    stage_t *s = opaque;
    if (m->err && s->dr_failed++ == 0)
        snprintf(s->dr_error, sizeof s->dr_error, "%s", rd_kafka_err2str(m->err));
}

static sj_status_t produce(stage_t *s, const char *topic, const char *key,
                           const char *val, size_t len, char *errstr, size_t errstr_size)
{
    return sj_kafka_produce_copy(s->producer, topic, key, val, len, errstr, errstr_size);
}

static sj_status_t produce_json(stage_t *s, const char *topic, const char *key,
                                const json_t *o, char *errstr, size_t errstr_size)
{
    char *txt = json_dumps(o, JSON_COMPACT);
    if (!txt) {
        sj_seterr(errstr, errstr_size, "out of memory serialising for %s", topic);
        return SJ_ERR_NOMEM;
    }
    sj_status_t st = produce(s, topic, key, txt, strlen(txt), errstr, errstr_size);
    free(txt);
    return st;
}

/* Takes a librdkafka error object: fills errstr, tells whether the
 * transaction must be aborted (else the error is fatal), frees it. */
static sj_status_t txn_error(rd_kafka_error_t *e, const char *what, char *errstr,
                             size_t errstr_size)
{
    bool abortable = rd_kafka_error_txn_requires_abort(e);
    sj_seterr(errstr, errstr_size, "kafka: %s: %s", what, rd_kafka_error_string(e));
    rd_kafka_error_destroy(e);
    return abortable ? SJ_ERR_AGAIN : SJ_ERR;
}

static sj_status_t txn_begin(stage_t *s, char *errstr, size_t errstr_size)
{
    rd_kafka_error_t *e = rd_kafka_begin_transaction(s->producer);
    return e ? txn_error(e, "begin transaction", errstr, errstr_size) : SJ_OK;
}

/* Commits the open transaction, with the offsets after msgs[0..n) when n > 0. */
static sj_status_t txn_commit(stage_t *s, rd_kafka_message_t **msgs, size_t n,
                              char *errstr, size_t errstr_size)
{
    rd_kafka_error_t *e;
    if (n) {
        rd_kafka_topic_partition_list_t *l = sj_kafka_next_offsets(msgs, n);
        /* The group metadata of now (member id, generation), so that a
         * consumer that lost the partitions meanwhile cannot commit them. */
        rd_kafka_consumer_group_metadata_t *md =
            rd_kafka_consumer_group_metadata(s->consumer);
        e = md ? rd_kafka_send_offsets_to_transaction(s->producer, l, md, s->timeout_ms)
               : rd_kafka_error_new(RD_KAFKA_RESP_ERR__STATE,
                                    "no consumer group metadata");
        if (md) rd_kafka_consumer_group_metadata_destroy(md);
        rd_kafka_topic_partition_list_destroy(l);
        if (e)
            return txn_error(e, "sending offsets to the transaction", errstr,
                             errstr_size);
    }
    for (int tries = 0;; tries++) {
        e = rd_kafka_commit_transaction(s->producer, s->timeout_ms);
        if (!e) break;
        if (rd_kafka_error_is_retriable(e) && tries < COMMIT_RETRIES) {
            rd_kafka_error_destroy(e);
            continue;
        }
        return txn_error(e, "committing the transaction", errstr, errstr_size);
    }
    if (s->dr_failed) {
        sj_seterr(errstr, errstr_size, "kafka: %llu messages not delivered: %s",
                  (unsigned long long)s->dr_failed, s->dr_error);
        return SJ_ERR;
    }
    return SJ_OK;
}

/* After an abortable error: abort, and rewind the consumer to the batch's
 * first messages so that the batch is consumed again. */
static sj_status_t txn_abort(stage_t *s, rd_kafka_message_t **msgs, size_t n,
                             char *errstr, size_t errstr_size)
{
    /* Let the transaction's produce requests (and with them the broker's
     * AddPartitionsToTxn) finish first: librdkafka 2.0 can otherwise end the
     * transaction while the broker still adds a partition, which fails with
     * INVALID_TXN_STATE, a fatal error (librdkafka issue #4849). */
    rd_kafka_flush(s->producer, s->timeout_ms);
    rd_kafka_error_t *e = rd_kafka_abort_transaction(s->producer, s->timeout_ms);
    if (e) {
        txn_error(e, "aborting the transaction", errstr, errstr_size);
        return SJ_ERR;
    }
    s->dr_failed = 0;
    s->st->aborted++;
    if (!n) return SJ_OK;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)n);
    for (size_t i = 0; i < n; i++) {
        const char *t = rd_kafka_topic_name(msgs[i]->rkt);
        rd_kafka_topic_partition_t *p =
            rd_kafka_topic_partition_list_find(l, t, msgs[i]->partition);
        if (!p)
            rd_kafka_topic_partition_list_add(l, t, msgs[i]->partition)->offset =
                msgs[i]->offset;
        else if (msgs[i]->offset < p->offset)
            p->offset = msgs[i]->offset;
    }
    e = rd_kafka_seek_partitions(s->consumer, l, s->timeout_ms);
    rd_kafka_topic_partition_list_destroy(l);
    if (e) {
        txn_error(e, "rewinding after an abort", errstr, errstr_size);
        return SJ_ERR;
    }
    return SJ_OK;
}

/* ---- states ---------------------------------------------------------------- */

/* A step's state in sj:res:{P}:intents: "<word> <ms> <src>[ <reason>]". */
typedef struct {
    char word[16];
    int64_t ms;
    char src[SRC_MAX];
} state_t;

static bool state_parse(const redisReply *r, state_t *st)
{
    memset(st, 0, sizeof *st);
    if (!r || r->type != REDIS_REPLY_STRING) return false;
    long long ms = 0;
    if (sscanf(r->str, "%15s %lld %95s", st->word, &ms, st->src) < 2) return false;
    st->ms = ms;
    return true;
}

/* True when the state was written while handling this very message in an
 * attempt that was never committed: the decision is to be made again. */
static bool state_is_redo(const state_t *st, const item_t *it)
{
    return !it->committed && !strcmp(st->src, it->src);
}

/* ---- decisions ------------------------------------------------------------- */

typedef enum { D_EMIT, D_SCHEDULE, D_DEFER, D_SUPPRESS, D_CANCEL } decision_t;

static const char *const decision_words[] = {"emitted", "scheduled", "scheduled",
                                             "suppressed", "cancelled"};
static const char *const status_words[] = {"emitted", "scheduled", "deferred",
                                           "suppressed", "cancelled"};

/* The status record of a decision, for topic.delivery-status. */
static sj_status_t status_record(stage_t *s, const step_t *sp, decision_t d,
                                 const char *reason, int64_t now, int64_t due,
                                 char *errstr, size_t errstr_size)
{
    const json_t *o = sp->intent;
    char t[32], dt[32];
    sj_time_format_rfc3339(now, t);
    json_t *r = json_pack("{s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:s, s:s, s:s}", "intent",
                          jstr(o, "id"), "campaign", jstr(o, "campaign"), "step",
                          jstr(o, "step"), "variant", jstr(o, "variant"), "experiment",
                          jstr(o, "experiment"), "resident", jstr(o, "resident"), "stage",
                          "segment", "status", status_words[d], "time", t);
    if (!r) return SJ_ERR_NOMEM;
    if (reason) json_object_set_new(r, "reason", json_string(reason));
    if (d == D_SCHEDULE || d == D_DEFER) {
        sj_time_format_rfc3339(due, dt);
        json_object_set_new(r, "due", json_string(dt));
    }
    sj_status_t st =
        produce_json(s, s->t_status, jstr(o, "resident"), r, errstr, errstr_size);
    json_decref(r);
    return st;
}

/* Records decision d for step sp: its state, the schedule, counters, the
 * status record. due is the new due time of D_SCHEDULE / D_DEFER. */
static sj_status_t record(stage_t *s, const step_t *sp, decision_t d, const char *reason,
                          int64_t now, int64_t due, char *errstr, size_t errstr_size)
{
    const json_t *o = sp->intent;
    const char *id = jstr(o, "id"), *p = jstr(o, "resident");
    char k_int[SJ_KEY_MAX], k_pend[SJ_KEY_MAX], k_body[SJ_KEY_MAX], member[128];
    char state[STATE_MAX], ms[24];
    sj_key_res(k_int, p, ":intents");
    sj_key_res(k_pend, p, ":pending");
    sj_key_res(k_body, p, ":body");
    snprintf(member, sizeof member, "%s:%s", p, id);
    bool later = d == D_SCHEDULE || d == D_DEFER;
    snprintf(state, sizeof state, "%s %lld %s%s%s", decision_words[d],
             (long long)(later ? due : now), sp->it->src, reason ? " " : "",
             reason ? reason : "");
    sj_status_t st = CMD(s, &s->n_writes, "HSET", k_int, id, state);
    if (st == SJ_OK && later) {
        char *body = json_dumps(o, JSON_COMPACT);
        if (!body) return SJ_ERR_NOMEM;
        snprintf(ms, sizeof ms, "%lld", (long long)due);
        char ttl[24];
        snprintf(ttl, sizeof ttl, "%ld", BODY_TTL_S);
        st = CMD(s, &s->n_writes, "HSET", k_body, id, body);
        free(body);
        if (st == SJ_OK) st = CMD(s, &s->n_writes, "EXPIRE", k_body, ttl);
        if (st == SJ_OK) st = CMD(s, &s->n_writes, "SADD", k_pend, id);
        if (st == SJ_OK) st = CMD(s, &s->n_writes, "ZADD", SJ_KEY_SCHED_DUE, ms, member);
    } else if (st == SJ_OK) {
        /* Final: out of the schedule now; the body and the pending entry go
         * after the commit (a replay of this batch may still need them). */
        st = CMD(s, &s->n_writes, "ZREM", SJ_KEY_SCHED_DUE, member);
        if (st == SJ_OK && json_array_append_new(s->cleanup, json_pack("[ss]", p, id)))
            st = SJ_ERR_NOMEM;
    }
    if (st != SJ_OK) {
        pipe_failed(s, st, errstr, errstr_size);
        return st;
    }
    json_object_set_new(s->decided, id, json_true());
    switch (d) {
    case D_DEFER:
        s->st->deferred++;
        break;
    case D_SUPPRESS:
        s->st->suppressed++;
        break;
    case D_CANCEL:
        s->st->cancelled++;
        break;
    default:
        break;
    }
    count(s, jstr(o, "campaign"), jstr(o, "variant"),
          reason && d != D_SCHEDULE ? reason : status_words[d]);
    return status_record(s, sp, d, reason, now, due, errstr, errstr_size);
}

/* Did the resident reach one of the campaign's goals at or after `since`? */
static bool goal_reached(const item_t *it, const sj_campaign_t *c, int64_t since)
{
    const redisReply *g = it->r[it->r_goals];
    if (!g || g->type != REDIS_REPLY_ARRAY) return false;
    for (size_t i = 0; i + 1 < g->elements; i += 2) {
        const redisReply *k = g->element[i], *v = g->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) continue;
        for (size_t j = 0; j < c->n_goal_events; j++)
            if (!strcmp(c->goal_events[j], k->str) && strtoll(v->str, NULL, 10) >= since)
                return true;
    }
    return false;
}

/* The resident's counted sends: from Redis (the cap period before the batch)
 * plus what this batch sent. Returns how many were written to out. */
static size_t sends_of(stage_t *s, const item_t *it, int64_t *out, size_t max)
{
    size_t n = 0;
    const redisReply *r = it->r[it->r_sent];
    for (size_t i = 1; r && r->type == REDIS_REPLY_ARRAY && i < r->elements && n < max;
         i += 2)
        if (r->element[i]->type == REDIS_REPLY_STRING)
            out[n++] = strtoll(r->element[i]->str, NULL, 10);
    json_t *b = json_object_get(s->sends, it->pseudonym);
    size_t k;
    json_t *v;
    json_array_foreach(b, k, v) if (n < max) out[n++] = json_integer_value(v);
    return n;
}

static sj_status_t schedule_reminders(stage_t *s, const step_t *sp, int64_t sent,
                                      char *errstr, size_t errstr_size);

/* Rules 1-4 and 6 for a step that is due (nudge.h), then the decision. */
static sj_status_t release(stage_t *s, step_t *sp, int64_t now, char *errstr,
                           size_t errstr_size)
{
    const sj_campaign_t *c = sp->c;
    item_t *it = sp->it;
    json_t *o = sp->intent;
    int64_t expires = jtime(o, "expires_at");
    const char *status = jstr(it->resident, "status");
    if (status && strcmp(status, "active") != 0)
        return record(s, sp, D_SUPPRESS, "inactive", now, 0, errstr, errstr_size);
    if (expires && now >= expires)
        return record(s, sp, D_SUPPRESS, "expired", now, 0, errstr, errstr_size);
    int64_t trig = jtime(json_object_get(o, "trigger"), "time");
    if (goal_reached(it, c, trig))
        return record(s, sp, D_CANCEL, "goal-reached", now, 0, errstr, errstr_size);
    /* 1 + 2: consent, channels, language */
    sj_nudge_contact_t ct;
    sj_profile_contact(it->profile, c->topic, &ct);
    int chans[SJ_CAMPAIGN_MAX_CHANNELS], want[SJ_CAMPAIGN_MAX_CHANNELS];
    size_t n_chans = 0;
    for (size_t i = 0; i < c->n_channels; i++) want[i] = (int)c->channels[i];
    sj_nudge_reason_t why =
        sj_nudge_channels(want, c->n_channels, &ct, s->require_consent, chans, &n_chans);
    if (why != SJ_NUDGE_OK)
        return record(s, sp, D_SUPPRESS, sj_nudge_reason_name(why), now, 0, errstr,
                      errstr_size);
    /* 3: frequency cap */
    if (!c->mandatory && s->cap_count) {
        int64_t sent[256], next;
        size_t n = sends_of(s, it, sent, SJ_ARRAY_LEN(sent));
        if (!sj_nudge_cap(sent, n, now, s->cap_count, s->cap_days, &next)) {
            const char *r = sj_nudge_reason_name(SJ_NUDGE_CAPPED);
            if (expires && next >= expires)
                return record(s, sp, D_SUPPRESS, r, now, 0, errstr, errstr_size);
            return record(s, sp, D_DEFER, r, now, next, errstr, errstr_size);
        }
    }
    /* 4: send window */
    int64_t open = sj_nudge_window_next(c->window.set ? &c->window : &s->window, now);
    if (open > now) {
        const char *r = sj_nudge_reason_name(SJ_NUDGE_WINDOW);
        if (expires && open >= expires)
            return record(s, sp, D_SUPPRESS, r, now, 0, errstr, errstr_size);
        return record(s, sp, D_DEFER, r, now, open, errstr, errstr_size);
    }
    /* 5 was applied when the step was made; 6: experiment */
    const char *variant = jstr(o, "variant"), *step = jstr(o, "step");
    bool initial = step && !strcmp(step, SJ_INTENT_STEP_INITIAL);
    bool holdout = false;
    size_t vi = c->n_variants;
    for (size_t i = 0; i < c->n_variants; i++)
        if (variant && !strcmp(c->variants[i].id, variant)) {
            holdout = c->variants[i].holdout;
            vi = i;
        }
    sj_status_t st = SJ_OK;
    if (initial) count(s, c->id, variant, "assigned");
    /* A holdout resident is exposed now, when the message would have been
     * sent; the others when their first message is (consumers/deliver.c).
     * The reply of the HSETNX says whether the exposure is new: the
     * experiment counter counts it then (drain_writes()). */
    if (initial && holdout && vi < c->n_variants && sj_campaign_is_experiment(c)) {
        char k_exp[SJ_KEY_MAX], val[96];
        sj_key_res(k_exp, it->pseudonym, ":exposure");
        snprintf(val, sizeof val, "%s %lld", variant, (long long)now);
        if (s->n_watches == s->cap_watches) {
            size_t cap = s->cap_watches ? 2 * s->cap_watches : 64;
            watch_t *w = realloc(s->watches, cap * sizeof *w);
            if (!w) return SJ_ERR_NOMEM;
            s->watches = w;
            s->cap_watches = cap;
        }
        s->watches[s->n_watches++] =
            (watch_t){.reply = s->n_writes, .it = it, .c = c, .variant = vi};
        st = CMD(s, &s->n_writes, "HSETNX", k_exp, c->experiment, val);
    }
    if (st == SJ_OK && holdout)
        st = record(s, sp, D_SUPPRESS, sj_nudge_reason_name(SJ_NUDGE_HOLDOUT), now, 0,
                    errstr, errstr_size);
    if (st != SJ_OK || holdout) return st;
    /* Emit: the channels the resident can get, in the campaign's order. */
    json_t *ja = json_array();
    for (size_t i = 0; i < n_chans; i++)
        json_array_append_new(ja, json_string(sj_channel_name((sj_channel_t)chans[i])));
    json_object_set_new(o, "channels", ja);
    json_object_set_new(
        o, "language",
        json_string(sj_campaign_language_for(c, jstr(it->resident, "language"))));
    st = record(s, sp, D_EMIT, NULL, now, 0, errstr, errstr_size);
    if (st == SJ_OK)
        st = produce_json(s, s->t_out, it->pseudonym, o, errstr, errstr_size);
    if (st == SJ_OK && !c->mandatory) {
        char k_sent[SJ_KEY_MAX], ms[24], old[24];
        sj_key_res(k_sent, it->pseudonym, ":sent");
        snprintf(ms, sizeof ms, "%lld", (long long)now);
        snprintf(old, sizeof old, "(%lld", (long long)(now - SENT_KEEP_MS));
        st = CMD(s, &s->n_writes, "ZADD", k_sent, ms, jstr(o, "id"));
        if (st == SJ_OK)
            st = CMD(s, &s->n_writes, "ZREMRANGEBYSCORE", k_sent, "-inf", old);
        json_t *b = json_object_get(s->sends, it->pseudonym);
        if (!b) {
            b = json_array();
            json_object_set_new(s->sends, it->pseudonym, b);
        }
        json_array_append_new(b, json_integer(now));
    }
    if (st == SJ_OK) s->st->emitted++;
    if (st == SJ_OK && initial) st = schedule_reminders(s, sp, now, errstr, errstr_size);
    return st;
}

/* The reminder ladder, counted from the initial step's send time; a rung
 * that would come after the intent expires is left out. */
static sj_status_t schedule_reminders(stage_t *s, const step_t *sp, int64_t sent,
                                      char *errstr, size_t errstr_size)
{
    const sj_campaign_t *c = sp->c;
    int64_t expires = jtime(sp->intent, "expires_at");
    const char *trig_id = jstr(json_object_get(sp->intent, "trigger"), "id");
    for (size_t i = 0; i < c->n_reminders; i++) {
        const sj_campaign_reminder_t *rm = &c->reminders[i];
        int64_t due =
            sj_brussels_to_utc(sj_brussels_date(sent) + rm->after_days, rm->at_minutes);
        if (expires && due >= expires) {
            s->st->skipped[SJ_INTENT_SKIP_EXPIRED]++;
            continue;
        }
        json_t *r = json_deep_copy(sp->intent);
        if (!r) return SJ_ERR_NOMEM;
        char id[SJ_INTENT_ID_LEN + 1], nb[32];
        sj_intent_id(c->id, rm->id, sp->it->pseudonym, trig_id ? trig_id : "", id);
        sj_time_format_rfc3339(due, nb);
        json_object_set_new(r, "id", json_string(id));
        json_object_set_new(r, "step", json_string(rm->id));
        json_object_set_new(r, "not_before", json_string(nb));
        json_t *ctx = json_object_get(r, "context");
        if (json_is_object(ctx)) json_object_set_new(ctx, "step", json_string(rm->id));
        step_t rs = {.it = sp->it, .c = c, .intent = r};
        sj_status_t st = record(s, &rs, D_SCHEDULE, NULL, sent, due, errstr, errstr_size);
        json_decref(r);
        if (st != SJ_OK) return st;
        s->st->scheduled++;
    }
    return SJ_OK;
}

/* A step from an event or a tick, due or not. */
static sj_status_t decide(stage_t *s, step_t *sp, char *errstr, size_t errstr_size)
{
    int64_t now = sp->it->now;
    int64_t nb = jtime(sp->intent, "not_before");
    const char *id = jstr(sp->intent, "id");
    if (json_object_get(s->decided, id)) { /* the same step twice in one batch */
        s->st->duplicates++;
        return SJ_OK;
    }
    if (nb > now) {
        s->st->scheduled++;
        return record(s, sp, D_SCHEDULE, NULL, now, nb, errstr, errstr_size);
    }
    return release(s, sp, now, errstr, errstr_size);
}

/* ---- crash recovery ------------------------------------------------------ */

/* The state that decisions read and events change; a batch replayed after a
 * crash must see it as it was before the batch, not with the crashed
 * attempt's updates of later events in it. */
static const char *const undo_suffixes[] = {"", ":consent", ":goals"};

/* Per batch: which partitions it spans, and for each event the previous
 * and the first event of the same resident (no allocation per item). */
static sj_status_t index_batch(stage_t *s)
{
    s->n_parts = 0;
    size_t need = 16;
    while (need < 2 * s->n_items) need <<= 1;
    if (need - 1 > s->slot_mask) {
        long *sl = realloc(s->slots, need * sizeof *sl);
        if (!sl) return SJ_ERR_NOMEM;
        s->slots = sl;
        s->slot_mask = need - 1;
    }
    for (size_t k = 0; k <= s->slot_mask; k++) s->slots[k] = -1;
    for (size_t i = 0; i < s->n_items; i++) {
        item_t *it = &s->items[i];
        const rd_kafka_message_t *m = it->m;
        size_t k = 0;
        while (k < s->n_parts &&
               !(s->parts[k].rkt == m->rkt && s->parts[k].partition == m->partition))
            k++;
        if (k == s->n_parts) {
            if (s->n_parts == s->cap_parts) {
                size_t cap = s->cap_parts ? 2 * s->cap_parts : 16;
                part_t *np = realloc(s->parts, cap * sizeof *np);
                if (!np) return SJ_ERR_NOMEM;
                s->parts = np;
                s->cap_parts = cap;
            }
            part_t *p = &s->parts[s->n_parts++];
            *p = (part_t){.rkt = m->rkt, .partition = m->partition, .committed = -1};
            snprintf(p->f, sizeof p->f, "%s:%d", rd_kafka_topic_name(m->rkt),
                     (int)m->partition);
        }
        if (s->parts[k].end < m->offset + 1) s->parts[k].end = m->offset + 1;
        it->part = k;
        it->prev_event = -1;
        it->first_event = (long)i;
        it->prev_consent = -1;
        if (!it->ok || it->kind != K_EVENT) continue;
        uint64_t h;
        memcpy(&h, it->pseudonym, sizeof h); /* hex: spread enough, mixed below */
        h *= 0x9E3779B97F4A7C15ULL;
        size_t slot = (size_t)(h >> 20) & s->slot_mask;
        while (s->slots[slot] >= 0 && memcmp(s->items[s->slots[slot]].pseudonym,
                                             it->pseudonym, SJ_PSEUDONYM_LEN))
            slot = (slot + 1) & s->slot_mask;
        long prev = s->slots[slot];
        if (prev >= 0) {
            it->prev_event = prev;
            it->first_event = s->items[prev].first_event;
        }
        s->slots[slot] = (long)i;
    }
    return SJ_OK;
}

/* Before a batch changes any profile: a copy of the state of each resident
 * with more than one event in the batch (COPY, in the resident's slot, done
 * by the event script of the resident's first event in the batch:
 * item.snap), and the in-flight record naming those residents and the
 * offsets that committing the batch will store (two commands for the whole
 * batch). Cleared after the commit; found at start-up, it means the process
 * died with a batch in flight (recover()).
 *
 * A resident with one event in the batch needs no copy: replaying the batch
 * applies that event again (every update is idempotent: HSET of the same
 * values, HSETNX, consents that win only when not older) and its decisions
 * see the state after their own event, as they did the first time. Only a
 * later event of the same batch would be seen too early, so only those
 * residents are copied. */
static sj_status_t snapshot(stage_t *s, size_t *owed)
{
    sj_status_t st = CMD(s, owed, "DEL", s->inflight_key);
    const char **argv = malloc(sizeof *argv * (2 + 2 * s->n_items + 2 * s->n_parts));
    char(*offs)[SRC_MAX + 24] = malloc(sizeof *offs * (s->n_parts ? s->n_parts : 1));
    if (!argv || !offs) st = SJ_ERR_NOMEM;
    size_t argc = 2;
    if (st == SJ_OK) {
        argv[0] = "HSET";
        argv[1] = s->inflight_key;
    }
    for (size_t i = 0; st == SJ_OK && i < s->n_items; i++) {
        item_t *it = &s->items[i];
        if (it->prev_event < 0) continue;
        item_t *f0 = &s->items[it->first_event];
        if (f0->snap) continue;
        f0->snap = true; /* its second event: copy at its first */
        argv[argc++] = f0->pseudonym;
        argv[argc++] = "1";
    }
    for (size_t k = 0; st == SJ_OK && k < s->n_parts; k++) {
        /* "@<topic>:<partition>\0<offset>" */
        int n = snprintf(offs[k], sizeof offs[k], "@%s", s->parts[k].f);
        snprintf(offs[k] + n + 1, sizeof offs[k] - (size_t)n - 1, "%lld",
                 (long long)s->parts[k].end);
        argv[argc++] = offs[k];
        argv[argc++] = offs[k] + n + 1;
    }
    if (st == SJ_OK && argc > 2) st = cmd(s, owed, (int)argc, argv);
    free(argv);
    free(offs);
    return st;
}

/* At start-up: a batch left in flight by a crash either committed (its
 * offsets are the group's) or not; if not, the residents it touched get
 * their state from before the batch back, and the batch is replayed on a
 * clean slate. */
static sj_status_t recover(stage_t *s, bool aborted, char *errstr, size_t errstr_size)
{
    sj_status_t fst = sj_redis_pipe_flush(&s->pipe, errstr, errstr_size);
    if (fst != SJ_OK) return fst;
    redisReply *r = redisCommand(s->redis, "HGETALL %s", s->inflight_key);
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        sj_seterr(errstr, errstr_size, "redis: reading %s: %s", s->inflight_key,
                  r && r->type == REDIS_REPLY_ERROR ? r->str : s->redis->errstr);
        if (r) freeReplyObject(r);
        return SJ_ERR_IO;
    }
    if (r->elements == 0) {
        freeReplyObject(r);
        return SJ_OK;
    }
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(8);
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const char *f = r->element[i]->str, *colon = strrchr(f, ':');
        if (f[0] != '@' || !colon) continue;
        char topic[SRC_MAX];
        snprintf(topic, sizeof topic, "%.*s", (int)(colon - f - 1), f + 1);
        rd_kafka_topic_partition_list_add(l, topic, atoi(colon + 1));
    }
    /* After an abort we know: not committed. */
    rd_kafka_resp_err_t e = aborted ? RD_KAFKA_RESP_ERR_NO_ERROR
                                    : rd_kafka_committed(s->consumer, l, s->timeout_ms);
    sj_status_t st = SJ_OK;
    bool committed = !e && !aborted;
    for (size_t i = 0; committed && i + 1 < r->elements; i += 2) {
        const char *f = r->element[i]->str, *colon = strrchr(f, ':');
        if (f[0] != '@' || !colon) continue;
        char topic[SRC_MAX];
        snprintf(topic, sizeof topic, "%.*s", (int)(colon - f - 1), f + 1);
        rd_kafka_topic_partition_t *p =
            rd_kafka_topic_partition_list_find(l, topic, atoi(colon + 1));
        committed = p && p->offset >= strtoll(r->element[i + 1]->str, NULL, 10);
    }
    rd_kafka_topic_partition_list_destroy(l);
    if (e) {
        sj_seterr(errstr, errstr_size, "kafka: reading the committed offsets: %s",
                  rd_kafka_err2str(e));
        freeReplyObject(r);
        return SJ_ERR;
    }
    size_t restored = 0, owed = 0;
    for (size_t i = 0; !committed && st == SJ_OK && i + 1 < r->elements; i += 2) {
        const char *p = r->element[i]->str;
        if (p[0] == '@') continue;
        for (size_t k = 0; st == SJ_OK && k < SJ_ARRAY_LEN(undo_suffixes); k++) {
            char key[SJ_KEY_MAX], undo[SJ_KEY_MAX + 8];
            sj_key_res(key, p, undo_suffixes[k]);
            snprintf(undo, sizeof undo, "%s:undo", key);
            /* No copy means the key did not exist before the batch. */
            st = CMD(s, &owed, "EVAL",
                     "if redis.call('EXISTS', KEYS[2]) == 1 then "
                     "redis.call('COPY', KEYS[2], KEYS[1], 'REPLACE') "
                     "else redis.call('DEL', KEYS[1]) end return 1",
                     "2", key, undo);
        }
        restored++;
    }
    if (st == SJ_OK) st = CMD(s, &owed, "DEL", s->inflight_key);
    if (st == SJ_OK) st = drain(s, owed, errstr, errstr_size);
    if (st == SJ_OK && aborted)
        sj_log(
            SJ_LOG_WARN, FAC,
            "the aborted batch's changes to %zu residents with several events in it are "
            "undone, the batch is consumed again",
            restored);
    else if (st == SJ_OK)
        sj_log(SJ_LOG_WARN, FAC,
               committed
                   ? "the batch in flight at the last stop was committed"
                   : "the batch in flight at the last stop was not committed: the state "
                     "of %zu residents is back to before it, the batch is replayed",
               restored);
    freeReplyObject(r);
    return st;
}

/* ---- a poll batch --------------------------------------------------------- */

static void malformed(stage_t *s, const item_t *it, const char *problem)
{
    (void)s; /* counted when the batch is processed */
    sj_log(SJ_LOG_WARN, FAC, "%s: malformed message skipped: %s", it->src, problem);
}

static bool triggers_campaign(const stage_t *s, const char *type)
{
    for (size_t i = 0; i < sj_campaigns_count(s->campaigns); i++) {
        const sj_campaign_t *c = sj_campaigns_get(s->campaigns, i);
        if (c->trigger_kind == SJ_TRIGGER_EVENT && !strcmp(c->trigger_event, type))
            return true;
    }
    return false;
}

static bool triggers_cb(void *ctx, const char *type)
{
    return triggers_campaign(ctx, type);
}

static void parse_item(stage_t *s, rd_kafka_message_t *m, item_t *it,
                       sj_profile_update_t *up, int64_t *max_time)
{
    memset(it, 0, sizeof *it);
    it->m = m;
    const char *topic = rd_kafka_topic_name(m->rkt);
    snprintf(it->src, sizeof it->src, "%s:%d:%lld", topic, (int)m->partition,
             (long long)m->offset);
    it->kind = strcmp(topic, s->t_due) ? K_EVENT : K_TICK;
    if (it->kind == K_EVENT && sj_fast_event(m->payload, m->len, it->arena, triggers_cb,
                                             s, s->wall, &it->ev, up)) {
        it->u = up;
        if (it->ev.time && it->ev.time_ms > *max_time) *max_time = it->ev.time_ms;
        if (m->key && (m->key_len != SJ_PSEUDONYM_LEN ||
                       memcmp(m->key, it->ev.subject, m->key_len))) {
            malformed(s, it, "message key differs from the resident");
            return;
        }
        memcpy(it->pseudonym, it->ev.subject, SJ_PSEUDONYM_LEN);
        it->ok = true;
        return;
    }
    it->u = NULL; /* the scanner path may have got this far */
    if (m->len > SJ_SEGMENT_EVENT_MAX) {
        char p[64];
        snprintf(p, sizeof p, "larger than %d bytes", SJ_SEGMENT_EVENT_MAX);
        malformed(s, it, p);
        return;
    }
    json_error_t jerr;
    it->root =
        json_loadb(m->payload ? m->payload : "", m->len, JSON_REJECT_DUPLICATES, &jerr);
    if (!it->root) {
        char p[96];
        snprintf(p, sizeof p, "invalid JSON at line %d column %d", jerr.line,
                 jerr.column);
        malformed(s, it, p);
        return;
    }
    char problem[160] = "";
    const char *subject = NULL;
    if (it->kind == K_TICK && jstr(it->root, "batch")) {
        /* {"batch": campaign, "date": YYYY-MM-DD, "resident": pseudonym} */
        const char *camp = jstr(it->root, "batch"), *date = jstr(it->root, "date");
        int32_t day;
        subject = jstr(it->root, "resident");
        if (!date || sj_date_parse(date, strlen(date), &day) != SJ_OK || !subject ||
            strlen(subject) != SJ_PSEUDONYM_LEN || strlen(camp) >= SJ_CAMPAIGN_ID_MAX) {
            malformed(s, it, "not a batch trigger {\"batch\", \"date\", \"resident\"}");
            return;
        }
        it->kind = K_BATCH;
        snprintf(it->batch_id, sizeof it->batch_id, "batch-%s-%s", camp, date);
        snprintf(it->batch_time, sizeof it->batch_time, "%sT00:00:00Z", date);
        it->event = json_pack("{s:s, s:s, s:s}", "type", "be.seintje.batch", "id",
                              it->batch_id, "time", it->batch_time);
        it->ev.id = it->batch_id;
        it->ev.type = "be.seintje.batch";
        it->ev.subject = subject;
        it->ev.time = it->batch_time;
        it->ev.time_ms = sj_brussels_to_utc(day, 0);
        if (!it->event) {
            malformed(s, it, "out of memory");
            return;
        }
    } else if (it->kind == K_TICK) {
        const char *id = jstr(it->root, "tick");
        subject = jstr(it->root, "resident");
        if (!id || strlen(id) != SJ_INTENT_ID_LEN || !subject ||
            strlen(subject) != SJ_PSEUDONYM_LEN) {
            malformed(s, it, "not a tick {\"tick\": <id>, \"resident\": <pseudonym>}");
            return;
        }
        memcpy(it->tick_id, id, sizeof it->tick_id);
    } else {
        if (sj_event_view(it->root, &it->ev, problem, sizeof problem) != SJ_OK) {
            malformed(s, it, problem);
            return;
        }
        subject = it->ev.subject;
        it->event = json_incref(it->root);
        if (it->ev.time && it->ev.time_ms > *max_time) *max_time = it->ev.time_ms;
    }
    if (m->key &&
        (m->key_len != SJ_PSEUDONYM_LEN || memcmp(m->key, subject, m->key_len))) {
        malformed(s, it, "message key differs from the resident");
        return;
    }
    memcpy(it->pseudonym, subject, SJ_PSEUDONYM_LEN);
    it->ok = true;
}

static void parse_batch(stage_t *s, batch_t *b)
{
    s->wall = b->wall = sj_now_ms();
    b->asked = b->taken = false;
    b->max_time = 0;
    for (size_t i = 0; i < b->n; i++)
        parse_item(s, b->msgs[i], &b->items[i], &b->updates[i], &b->max_time);
}

static sj_status_t consents_ask(stage_t *s, batch_t *b);

/* While Redis works on the current batch: the next one, if messages are
 * there already (no wait). */
static sj_status_t prefetch(stage_t *s)
{
    batch_t *b = &s->b[!s->cur];
    if (b->n || (s->o->stop && *s->o->stop)) return SJ_OK;
    b->n = sj_kafka_poll_batch(s->consumer, b->msgs, s->batch_max, 0, s->idle);
    if (!b->n) return SJ_OK;
    parse_batch(s, b);
    return consents_ask(s, b); /* answered after the current batch's round trip */
}

/* Drops the prefetched batch (after an abort: it is consumed again). */
static void drop_prefetched(stage_t *s)
{
    batch_t *b = &s->b[!s->cur];
    for (size_t i = 0; i < b->n; i++) {
        json_decref(b->items[i].event);
        json_decref(b->items[i].root);
        if (b->items[i].consent_reply) freeReplyObject(b->items[i].consent_reply);
        rd_kafka_message_destroy(b->msgs[i]);
    }
    b->n = 0;
    b->asked = b->taken = false;
}

/* The campaigns an event triggers (before the audience rule). */
static sj_status_t find_candidates(stage_t *s, item_t *it)
{
    size_t n = sj_campaigns_count(s->campaigns);
    it->cand = malloc(sizeof *it->cand * (n ? n : 1));
    if (!it->cand) return SJ_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        const sj_campaign_t *c = sj_campaigns_get(s->campaigns, i);
        bool hit = it->kind == K_BATCH ? c->trigger_kind == SJ_TRIGGER_BATCH &&
                                             !strcmp(c->id, jstr(it->root, "batch"))
                                       : c->trigger_kind == SJ_TRIGGER_EVENT &&
                                             !strcmp(c->trigger_event, it->ev.type);
        if (hit) it->cand[it->n_cand++] = i;
    }
    return SJ_OK;
}

/* ---- consents: compared in C, written with plain HSET --------------------- */

/* Whether a consent stated at `when` replaces the stored value `old` (NULL:
 * none): not when old was stated later. Times compare as instants; a stored
 * value that does not parse is replaced. At equal times the later applied
 * wins. */
/* "YYYY-MM-DDTHH:MM:SS.mmmZ": the fixed width consents are stored with, in
 * which string order is time order. */
static bool fixed_utc(const char *t, size_t n)
{
    static const char form[] = "dddd-dd-ddTdd:dd:dd.dddZ";
    if (n != 24) return false;
    for (size_t i = 0; i < 24; i++)
        if (form[i] == 'd' ? t[i] < '0' || t[i] > '9' : t[i] != form[i]) return false;
    return true;
}

static bool consent_wins(const char *when, const char *old, size_t old_len)
{
    /* fast path: "<1|0> <fixed time> ..." against a fixed-width when */
    size_t wl = strlen(when);
    if (old && old_len >= 26 && (old[0] == '0' || old[0] == '1') && old[1] == ' ' &&
        (old_len == 26 || old[26] == ' ') && fixed_utc(old + 2, 24) &&
        fixed_utc(when, wl))
        return memcmp(when, old + 2, 24) >= 0;
    sj_profile_consent_t c;
    int64_t t_new, t_old;
    if (!old || sj_profile_consent_parse(old, old_len, &c, NULL, 0) != SJ_OK ||
        sj_time_parse_rfc3339(c.time, strlen(c.time), &t_old) != SJ_OK)
        return true;
    if (sj_time_parse_rfc3339(when, strlen(when), &t_new) != SJ_OK) return false;
    return t_new >= t_old;
}

/* The value field f of resident it->pseudonym has after the batch's earlier
 * events (their winning consents), or NULL when none of them wrote it. */
static const char *consent_in_batch(const stage_t *s, const item_t *it, const char *f)
{
    for (const item_t *p = it->prev_consent >= 0 ? &s->items[it->prev_consent] : NULL; p;
         p = p->prev_consent >= 0 ? &s->items[p->prev_consent] : NULL)
        for (size_t i = 0; i + 1 < p->u->n_consent; i += 2)
            if (!strcmp(p->u->consent[i], f)) return p->u->consent[i + 1];
    return NULL;
}

/* Keeps only the consents of it->u that win over what is stored (reply r,
 * HMGET of its fields) or was written by an earlier event of the batch. */
static void consents_decide(const stage_t *s, item_t *it, const redisReply *r)
{
    sj_profile_update_t *u = it->u;
    size_t keep = 0;
    for (size_t i = 0; i + 1 < u->n_consent; i += 2) {
        const char *old = consent_in_batch(s, it, u->consent[i]);
        size_t old_len = old ? strlen(old) : 0;
        const redisReply *e = r && r->type == REDIS_REPLY_ARRAY && i / 2 < r->elements
                                  ? r->element[i / 2]
                                  : NULL;
        if (!old && e && e->type == REDIS_REPLY_STRING) {
            old = e->str;
            old_len = (size_t)e->len;
        }
        if (!consent_wins(u->when, old, old_len)) continue;
        u->consent[keep++] = u->consent[i];
        u->consent[keep++] = u->consent[i + 1];
    }
    u->n_consent = keep;
}

/* Round trip 1 of a batch: every event's update, and the stored consents
 * it would change, read so that the compare runs here and the writes are
 * plain HSETs. For a batch polled ahead (prefetch()) the reads go out with
 * the current batch's round trip: Redis answers them after that batch's
 * profile updates, and only those can change consents. consents_ask()
 * appends the reads, consents_take() reads the replies into the items,
 * consents_read() does what is left and decides. */
static sj_status_t consents_ask(stage_t *s, batch_t *b)
{
    size_t owed = 0;
    sj_status_t st = SJ_OK;
    for (size_t i = 0; st == SJ_OK && i < b->n; i++) {
        item_t *it = &b->items[i];
        if (!it->ok || it->kind != K_EVENT) continue;
        if (!it->u) { /* the jansson path */
            it->u = &b->updates[i];
            sj_profile_update_build(&it->ev, jstr(it->root, "source"), b->wall, it->u);
        }
        if (!it->u->n_consent) continue;
        const char *argv[2 + SJ_NUDGE_CHANNELS];
        char key[SJ_KEY_MAX];
        sj_key_res(key, it->pseudonym, ":consent");
        argv[0] = "HMGET";
        argv[1] = key;
        int argc = 2;
        for (size_t k = 0; k + 1 < it->u->n_consent; k += 2)
            argv[argc++] = it->u->consent[k];
        if ((st = cmd(s, &owed, argc, argv)) != SJ_OK) break;
        it->consent_read = true;
        st = flush_some(s, i);
    }
    b->asked = true;
    return st;
}

static sj_status_t consents_take(stage_t *s, batch_t *b, char *errstr, size_t errstr_size)
{
    sj_status_t st = SJ_OK;
    for (size_t i = 0; st == SJ_OK && i < b->n; i++) {
        item_t *it = &b->items[i];
        if (!it->consent_read) continue;
        st = read_replies(s, &it->consent_reply, 1, errstr, errstr_size);
        if (st == SJ_OK && it->consent_reply->type == REDIS_REPLY_ERROR) {
            sj_seterr(errstr, errstr_size, "redis: reading consents: %s",
                      it->consent_reply->str);
            st = SJ_ERR;
        }
    }
    b->taken = true;
    return st;
}

static sj_status_t consents_read(stage_t *s, batch_t *b, char *errstr, size_t errstr_size)
{
    sj_status_t st = index_batch(s);
    if (st == SJ_OK && !b->asked) st = consents_ask(s, b);
    if (st != SJ_OK) {
        pipe_failed(s, st, errstr, errstr_size);
        return st;
    }
    /* Replies: first what the previous batch owed after its commit. */
    st = drain(s, s->n_post, errstr, errstr_size);
    s->n_post = 0;
    if (st == SJ_OK && !b->taken) st = consents_take(s, b, errstr, errstr_size);
    for (size_t i = 0; st == SJ_OK && i < s->n_items; i++) {
        item_t *it = &s->items[i];
        if (!it->consent_read) continue;
        for (long p = it->prev_event; p >= 0 && it->prev_consent < 0;
             p = s->items[p].prev_event)
            if (s->items[p].u->n_consent) it->prev_consent = p;
        consents_decide(s, it, it->consent_reply);
    }
    return st;
}

/* A goal event of an experiment's campaign: a resident exposed to the
 * experiment (sj:res:{P}:exposure) converts when the event's time is at or
 * after the exposure and at most the goal's window_days after it. The
 * script, in the resident's hash slot, records the conversion once
 * (HSETNX sj:res:{P}:converted) and returns {experiment, variant} when that
 * record is new, nil otherwise (not exposed, outside the window, or counted
 * before: a replayed batch or history); gather() counts the new ones. */
static sj_status_t append_conversion(stage_t *s, const item_t *it, const sj_campaign_t *c,
                                     const char *ms, size_t *n)
{
    char k_exp[SJ_KEY_MAX], k_conv[SJ_KEY_MAX], window[24];
    sj_key_res(k_exp, it->pseudonym, ":exposure");
    sj_key_res(k_conv, it->pseudonym, ":converted");
    snprintf(window, sizeof window, "%lld", (long long)c->goal_window_days * DAY_MS);
    return CMD(s, n, "EVAL",
               "local e = redis.call('HGET', KEYS[1], ARGV[1]) "
               "if not e then return false end "
               "local v, t = string.match(e, '^(%S+) (%d+)$') "
               "if not v then return false end "
               "local g, t0 = tonumber(ARGV[2]), tonumber(t) "
               "if g < t0 or g > t0 + tonumber(ARGV[3]) then return false end "
               "if redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2]) == 0 then "
               "return false end "
               "return {ARGV[1], v}",
               "2", k_exp, k_conv, c->experiment, ms, window);
}

/* Appends the conversion scripts of a goal event (it->conv); *k: how many. */
static sj_status_t append_conversions(stage_t *s, const item_t *it, const char *ms,
                                      size_t *n, size_t *k)
{
    sj_status_t st = SJ_OK;
    for (size_t i = 0; st == SJ_OK && i < sj_campaigns_count(s->campaigns); i++) {
        const sj_campaign_t *c = sj_campaigns_get(s->campaigns, i);
        if (sj_campaign_is_experiment(c) && campaign_goal(c, it->ev.type)) {
            st = append_conversion(s, it, c, ms, n);
            (*k)++;
        }
    }
    return st;
}

/* Counts the conversion a reply of append_conversion()'s script reports. */
static void count_conversion(stage_t *s, const redisReply *r)
{
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[0]->type == REDIS_REPLY_STRING &&
        r->element[1]->type == REDIS_REPLY_STRING)
        exp_count(s, r->element[0]->str, r->element[1]->str, "converted");
}

/* Counts the conversions the scripts of append_conversion() report. */
static void conversions(stage_t *s, const item_t *it)
{
    for (size_t k = 0; k < it->n_conv && it->r_conv + k < it->nr; k++)
        count_conversion(s, it->r[it->r_conv + k]);
}

/* Appends the commands that apply an event's update (it->u). */
static sj_status_t append_update(stage_t *s, item_t *it, size_t *n)
{
    const sj_profile_update_t *u = it->u;
    char key[SJ_KEY_MAX];
    const char *argv[2 + SJ_ARRAY_LEN(u->set)];
    sj_status_t st = SJ_OK;
    if (it->snap) /* see snapshot() */
        for (size_t k = 0; st == SJ_OK && k < SJ_ARRAY_LEN(undo_suffixes); k++) {
            char undo[SJ_KEY_MAX + 8];
            sj_key_res(key, it->pseudonym, undo_suffixes[k]);
            snprintf(undo, sizeof undo, "%s:undo", key);
            st = CMD(s, n, "DEL", undo);
            if (st == SJ_OK) st = CMD(s, n, "COPY", key, undo);
        }
    sj_key_res(key, it->pseudonym, "");
    argv[1] = key;
#define LIST(verb, arr, cnt)                                                             \
    do {                                                                                 \
        if (st != SJ_OK || !(cnt)) break;                                                \
        argv[0] = (verb);                                                                \
        for (size_t i = 0; i < (cnt); i++) argv[2 + i] = (arr)[i];                       \
        st = cmd(s, n, (int)(2 + (cnt)), argv);                                          \
    } while (0)
    LIST("HSET", u->set, u->n_set);
    LIST("HDEL", u->del, u->n_del);
    for (size_t i = 0; st == SJ_OK && i + 1 < u->n_setnx; i += 2)
        st = CMD(s, n, "HSETNX", key, u->setnx[i], u->setnx[i + 1]);
    sj_key_res(key, it->pseudonym, ":consent");
    LIST("HSET", u->consent, u->n_consent);
#undef LIST
    if (st == SJ_OK && it->goal) {
        char ms[24];
        snprintf(ms, sizeof ms, "%lld", (long long)it->ev.time_ms);
        sj_key_res(key, it->pseudonym, ":goals");
        st = CMD(s, n, "HSET", key, it->ev.type, ms);
        it->r_conv = *n;
        it->n_conv = 0;
        if (st == SJ_OK && it->conv) st = append_conversions(s, it, ms, n, &it->n_conv);
    }
    return st;
}

/* Appends one item's commands; returns how many replies they owe. */
static sj_status_t gather_item(stage_t *s, item_t *it, size_t *owed)
{
    size_t n = 0;
    sj_status_t st = SJ_OK;
    char k[SJ_KEY_MAX];
    if (it->kind == K_EVENT && (st = append_update(s, it, &n)) != SJ_OK) return st;
    it->r_profile = n; /* replies before this are the updates */
    if (it->kind != K_TICK && it->n_cand == 0) {
        it->nr = n;
        *owed += n;
        return SJ_OK;
    }
    /* what sj_profile_append_read_full() asks, through the pipe */
    sj_key_res(k, it->pseudonym, "");
    if ((st = CMD(s, &n, "HGETALL", k)) != SJ_OK) return st;
    sj_key_res(k, it->pseudonym, ":consent");
    if ((st = CMD(s, &n, "HGETALL", k)) != SJ_OK) return st;
    it->n_profile = 2;
    it->r_goals = n;
    sj_key_res(k, it->pseudonym, ":goals");
    if ((st = CMD(s, &n, "HGETALL", k)) != SJ_OK) return st;
    it->r_sent = n;
    char from[24];
    snprintf(from, sizeof from, "%lld",
             (long long)(it->now - (int64_t)s->cap_days * DAY_MS));
    sj_key_res(k, it->pseudonym, ":sent");
    if ((st = CMD(s, &n, "ZRANGEBYSCORE", k, from, "+inf", "WITHSCORES")) != SJ_OK)
        return st;
    it->r_states = n;
    sj_key_res(k, it->pseudonym, ":intents");
    if (it->kind == K_TICK) {
        if ((st = CMD(s, &n, "HGET", k, it->tick_id)) != SJ_OK) return st;
        it->r_body = n;
        sj_key_res(k, it->pseudonym, ":body");
        if ((st = CMD(s, &n, "HGET", k, it->tick_id)) != SJ_OK) return st;
    } else {
        const char *argv[2 + MAX_CANDIDATES];
        char ids[MAX_CANDIDATES][SJ_INTENT_ID_LEN + 1];
        argv[0] = "HMGET";
        argv[1] = k;
        for (size_t i = 0; i < it->n_cand; i++) {
            sj_intent_id(sj_campaigns_get(s->campaigns, it->cand[i])->id,
                         SJ_INTENT_STEP_INITIAL, it->pseudonym, it->ev.id, ids[i]);
            argv[2 + i] = ids[i];
        }
        if ((st = cmd(s, &n, (int)(2 + it->n_cand), argv)) != SJ_OK) return st;
    }
    it->nr = n;
    *owed += n;
    return SJ_OK;
}

static sj_status_t gather(stage_t *s, char *errstr, size_t errstr_size)
{
    size_t owed = 0;
    sj_status_t st = consents_read(s, &s->b[s->cur], errstr, errstr_size);
    if (st != SJ_OK) return st;
    /* Which positions of this batch were committed before (history replay)? */
    size_t np = s->n_parts;
    const char **argv = malloc(sizeof *argv * (np + 2));
    if (!argv) st = SJ_ERR_NOMEM;
    if (st == SJ_OK) {
        argv[0] = "HMGET";
        argv[1] = s->committed_key;
        for (size_t k = 0; k < np; k++) argv[2 + k] = s->parts[k].f;
        st = cmd(s, &owed, (int)(np + 2), argv);
    }
    size_t snap = 0;
    if (st == SJ_OK) st = snapshot(s, &snap);
    /* The residents with a campaign to decide go first, with their reads;
     * the updates of everyone else follow, and their replies are read only
     * with the decision writes: Redis applies them while the campaigns are
     * decided here. (Each resident's commands stay in order.) */
    /* A goal event that may convert goes first too: its scripts' replies
     * are read here (conversions()). */
    for (size_t i = 0; st == SJ_OK && i < s->n_items; i++) {
        item_t *it = &s->items[i];
        it->goal = it->conv = false;
        it->n_conv = 0;
        if (!it->ok || it->kind == K_TICK) continue;
        if (it->kind == K_EVENT && it->ev.time)
            it->goal = goal_kind(s, it->ev.type, &it->conv);
        if ((st = find_candidates(s, it)) == SJ_OK && it->kind == K_EVENT &&
            (it->n_cand || it->conv))
            s->items[it->first_event].cand_resident = true;
    }
    for (size_t i = 0; st == SJ_OK && i < s->n_items; i++) {
        item_t *it = &s->items[i];
        it->now_pass =
            it->ok && (it->kind != K_EVENT || s->items[it->first_event].cand_resident);
        if (it->now_pass && (st = gather_item(s, it, &owed)) == SJ_OK)
            st = flush_some(s, i);
    }
    for (size_t i = 0; st == SJ_OK && i < s->n_items; i++) {
        item_t *it = &s->items[i];
        if (!it->ok || it->now_pass) continue;
        if ((st = append_update(s, it, &s->n_later)) == SJ_OK) st = flush_some(s, i);
        s->st->profile_updates++;
    }
    if (st != SJ_OK) {
        free(argv);
        pipe_failed(s, st, errstr, errstr_size);
        return st;
    }
    /* Replies: first what the previous batch owed after its commit. */
    st = drain(s, s->n_post, errstr, errstr_size);
    s->n_post = 0;
    /* Redis has the whole batch: poll and parse the next one meanwhile. */
    if (st == SJ_OK &&
        (st = sj_redis_pipe_flush(&s->pipe, errstr, errstr_size)) == SJ_OK &&
        (st = prefetch(s)) != SJ_OK)
        pipe_failed(s, st, errstr, errstr_size);
    redisReply *c = NULL;
    if (st == SJ_OK) st = read_replies(s, &c, 1, errstr, errstr_size);
    if (st == SJ_OK && c->type == REDIS_REPLY_ARRAY && c->elements == np)
        for (size_t k = 0; k < np; k++) {
            const redisReply *e = c->element[k];
            if (e->type == REDIS_REPLY_STRING)
                s->parts[k].committed = strtoll(e->str, NULL, 10);
        }
    if (c) freeReplyObject(c);
    if (st == SJ_OK) st = drain(s, snap, errstr, errstr_size);
    free(argv);
    for (size_t i = 0; st == SJ_OK && i < s->n_items; i++) {
        item_t *it = &s->items[i];
        if (!it->ok) continue;
        it->committed = it->m->offset < s->parts[it->part].committed;
        it->r = calloc(it->nr ? it->nr : 1, sizeof *it->r);
        if (!it->r) {
            st = SJ_ERR_NOMEM;
            break;
        }
        st = read_replies(s, it->r, it->nr, errstr, errstr_size);
        if (st != SJ_OK) {
            it->nr = 0;
            break;
        }
        for (size_t j = 0; j < it->r_profile; j++)
            if (it->r[j]->type == REDIS_REPLY_ERROR) {
                sj_seterr(errstr, errstr_size, "redis: %s", it->r[j]->str);
                st = SJ_ERR;
            }
        if (st == SJ_OK && it->n_conv) conversions(s, it);
        if (st == SJ_OK && it->kind == K_EVENT && it->now_pass) s->st->profile_updates++;
    }
    return st;
}

/* The replies the batch still owes before its decision writes': the
 * updates gather() sent last, then the prefetched batch's consent reads. */
static sj_status_t gather_finish(stage_t *s, char *errstr, size_t errstr_size)
{
    sj_status_t st = drain(s, s->n_later, errstr, errstr_size);
    s->n_later = 0;
    batch_t *nx = &s->b[!s->cur];
    if (st == SJ_OK && nx->asked && !nx->taken)
        st = consents_take(s, nx, errstr, errstr_size);
    return st;
}

static sj_status_t push_step(stage_t *s, item_t *it, const sj_campaign_t *c, json_t *o)
{
    if (s->n_steps == s->cap_steps) {
        size_t cap = s->cap_steps ? 2 * s->cap_steps : 256;
        step_t *p = realloc(s->steps, cap * sizeof *p);
        if (!p) {
            json_decref(o);
            return SJ_ERR_NOMEM;
        }
        s->steps = p;
        s->cap_steps = cap;
    }
    s->steps[s->n_steps] = (step_t){.it = it, .c = c, .intent = o, .order = s->n_steps};
    s->n_steps++;
    return SJ_OK;
}

/* The profile as read back, and the resident object rules see. */
static sj_status_t load_profile(stage_t *s, item_t *it)
{
    it->profile = calloc(1, sizeof *it->profile);
    if (!it->profile) return SJ_ERR_NOMEM;
    if (sj_profile_from_replies(it->r + it->r_profile, it->n_profile, it->profile) !=
        SJ_OK)
        return SJ_ERR;
    it->resident = sj_profile_to_json(it->profile, it->now);
    (void)s;
    if (!it->resident) return SJ_ERR_NOMEM;
    return sj_profile_add_goals(it->resident, it->r[it->r_goals]);
}

static void resident_view(const json_t *res, sj_resident_view_t *v)
{
    v->given_name = jstr(res, "given_name");
    v->language = jstr(res, "language");
    v->nis = jstr(res, "nis");
    v->postcode = jstr(res, "postcode");
    v->status = jstr(res, "status");
}

static sj_status_t event_steps(stage_t *s, item_t *it, char *errstr, size_t errstr_size)
{
    sj_status_t st = load_profile(s, it);
    if (st != SJ_OK) {
        sj_seterr(errstr, errstr_size, "redis: unexpected reply reading a profile");
        return st;
    }
    it->ev.resident = it->resident;
    sj_resident_view_t rv;
    resident_view(it->resident, &rv);
    json_t *data = sj_rule_data_new(it->resident, it->event, it->now);
    const redisReply *states = it->r[it->r_states];
    if (!data) return SJ_ERR_NOMEM;
    for (size_t k = 0; st == SJ_OK && k < it->n_cand; k++) {
        const sj_campaign_t *c = sj_campaigns_get(s->campaigns, it->cand[k]);
        s->st->matched++;
        if (c->audience) {
            bool match = false;
            sj_rule_error_t rerr;
            if (sj_rule_match(c->audience, data, NULL, &match, &rerr) != SJ_OK) {
                s->st->rule_errors++;
                sj_log(SJ_LOG_WARN, FAC, "campaign %s: audience rule failed for %s: %s",
                       c->id, it->src, rerr.message);
                continue;
            }
            if (!match) {
                s->st->audience++;
                continue;
            }
        }
        sj_intent_outcome_t outcome;
        json_t *o = sj_intent_new(c, &it->ev, &rv, it->now, &outcome);
        if (!o) {
            if (outcome == SJ_INTENT_OUTCOMES)
                st = SJ_ERR_NOMEM;
            else
                s->st->skipped[outcome]++;
            continue;
        }
        state_t ps;
        const redisReply *sr =
            states && states->type == REDIS_REPLY_ARRAY && k < states->elements
                ? states->element[k]
                : NULL;
        if (state_parse(sr, &ps) && !state_is_redo(&ps, it)) {
            s->st->duplicates++;
            json_decref(o);
            continue;
        }
        st = push_step(s, it, c, o);
    }
    json_decref(data);
    return st;
}

static sj_status_t tick_step(stage_t *s, item_t *it, char *errstr, size_t errstr_size)
{
    const redisReply *body = it->r[it->r_body];
    state_t ps;
    bool have = state_parse(it->r[it->r_states], &ps);
    if (!body || body->type != REDIS_REPLY_STRING || !have) {
        s->st->stale++; /* forgotten, or cleaned up after it was final */
        return SJ_OK;
    }
    if (!strcmp(ps.word, "scheduled") ? ps.ms > it->now : !state_is_redo(&ps, it)) {
        s->st->stale++; /* not due any more (deferred), or done: a duplicate tick */
        return SJ_OK;
    }
    /* Replaying history, a step is released as it would have been live: at
     * its due time, not at the (later) moment the replay got to it. */
    if (s->o->replay_clock && !strcmp(ps.word, "scheduled")) it->now = ps.ms;
    json_t *o = json_loadb(body->str, body->len, 0, NULL);
    const sj_campaign_t *c = o ? campaign_by_id(s, jstr(o, "campaign")) : NULL;
    if (!o || !c) {
        sj_log(SJ_LOG_WARN, FAC, "%s: scheduled step %s dropped: %s", it->src,
               it->tick_id,
               o ? "its campaign is no longer loaded" : "its body is not JSON");
        json_decref(o);
        s->st->stale++;
        return SJ_OK;
    }
    sj_status_t st = load_profile(s, it);
    if (st != SJ_OK) {
        json_decref(o);
        sj_seterr(errstr, errstr_size, "redis: unexpected reply reading a profile");
        return st;
    }
    return push_step(s, it, c, o);
}

static int step_cmp(const void *a, const void *b)
{
    const step_t *x = a, *y = b;
    if (x->c->priority != y->c->priority) return x->c->priority > y->c->priority ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

static void free_batch(stage_t *s)
{
    for (size_t i = 0; i < s->n_items; i++) {
        item_t *it = &s->items[i];
        for (size_t j = 0; it->r && j < it->nr; j++)
            if (it->r[j]) freeReplyObject(it->r[j]);
        free(it->r);
        if (it->consent_reply) freeReplyObject(it->consent_reply);
        free(it->cand);
        free(it->profile);
        json_decref(it->resident);
        json_decref(it->event);
        json_decref(it->root);
    }
    for (size_t i = 0; i < s->n_steps; i++) json_decref(s->steps[i].intent);
    s->n_steps = 0;
    json_object_clear(s->decided);
    json_object_clear(s->sends);
    json_array_clear(s->cleanup);
}

/* Reads (and checks) the n replies of the decision writes; a watched
 * HSETNX that set a new exposure counts the resident as exposed. */
static sj_status_t drain_writes(stage_t *s, size_t n, char *errstr, size_t errstr_size)
{
    if (!s->n_watches) return drain(s, n, errstr, errstr_size);
    sj_status_t st = sj_redis_pipe_flush(&s->pipe, errstr, errstr_size);
    size_t w = 0;
    for (size_t i = 0; st != SJ_ERR_IO && i < n; i++) {
        void *v = NULL;
        if (redisGetReply(s->redis, &v) != REDIS_OK) {
            sj_seterr(errstr, errstr_size, "redis: %s", s->redis->errstr);
            return SJ_ERR_IO;
        }
        redisReply *r = v;
        if (r->type == REDIS_REPLY_ERROR && st == SJ_OK) {
            sj_seterr(errstr, errstr_size, "redis: %s", r->str);
            st = SJ_ERR;
        }
        if (w < s->n_watches && s->watches[w].reply == i) {
            const watch_t *x = &s->watches[w++];
            if (r->type == REDIS_REPLY_INTEGER && r->integer == 1) {
                exp_count(s, x->c->experiment, x->c->variants[x->variant].id, "exposed");
                s->watches[w - 1].fresh = true;
            }
        }
        freeReplyObject(r);
    }
    return st;
}

/* A goal event in the same batch as its resident's first exposure ran its
 * conversion scripts before the exposure was recorded: they run again now
 * (a conversion is counted once however often they run; the time check
 * leaves out a goal event dated before the exposure). One more round trip,
 * only in a batch with both. */
static sj_status_t convert_again(stage_t *s, char *errstr, size_t errstr_size)
{
    size_t owed = 0, k = 0;
    sj_status_t st = SJ_OK;
    for (size_t i = 0; st == SJ_OK && i < s->n_items; i++) {
        const item_t *it = &s->items[i];
        bool fresh = false;
        for (size_t w = 0; it->n_conv && w < s->n_watches && !fresh; w++)
            fresh = s->watches[w].fresh &&
                    !memcmp(s->watches[w].it->pseudonym, it->pseudonym, SJ_PSEUDONYM_LEN);
        if (!fresh) continue;
        char ms[24];
        snprintf(ms, sizeof ms, "%lld", (long long)it->ev.time_ms);
        st = append_conversions(s, it, ms, &owed, &k);
    }
    if (st != SJ_OK) {
        pipe_failed(s, st, errstr, errstr_size);
        return st;
    }
    if (!owed) return SJ_OK;
    redisReply **r = calloc(owed, sizeof *r);
    if (!r) return SJ_ERR_NOMEM;
    st = read_replies(s, r, owed, errstr, errstr_size); /* frees them on failure */
    bool got = st == SJ_OK;
    for (size_t i = 0; got && i < owed; i++) {
        if (r[i]->type == REDIS_REPLY_ERROR && st == SJ_OK) {
            sj_seterr(errstr, errstr_size, "redis: %s", r[i]->str);
            st = SJ_ERR;
        }
        count_conversion(s, r[i]);
        freeReplyObject(r[i]);
    }
    free(r);
    return st;
}

/* Writes the batch's experiment counters (their replies are read with the
 * next round trip) and sends them at once. They are written whether or not
 * the batch's transaction then commits: the records that guard them
 * (sj:res:{P}:exposure, :converted) are already written and stay, so a
 * replay of the batch does not count them again. */
/* HINCRBY of counts ({name: {field: n}}) into the hash key(name) each, the
 * replies owed with the post-commit writes; counts is emptied. */
static sj_status_t append_counts(stage_t *s, json_t *counts,
                                 void (*key)(char[SJ_KEY_MAX], const char *))
{
    const char *name, *field;
    json_t *fields, *v;
    sj_status_t st = SJ_OK;
    json_object_foreach(counts, name, fields)
    {
        char k[SJ_KEY_MAX], by[24];
        key(k, name);
        json_object_foreach(fields, field, v)
        {
            snprintf(by, sizeof by, "%lld", (long long)json_integer_value(v));
            if (st == SJ_OK) st = CMD(s, &s->n_post, "HINCRBY", k, field, by);
        }
    }
    json_object_clear(counts);
    return st;
}

static sj_status_t exp_flush(stage_t *s, char *errstr, size_t errstr_size)
{
    if (!json_object_size(s->exp_counts)) return SJ_OK;
    sj_status_t st = append_counts(s, s->exp_counts, sj_key_exp);
    if (st != SJ_OK) {
        pipe_failed(s, st, errstr, errstr_size);
        return st;
    }
    return sj_redis_pipe_flush(&s->pipe, errstr, errstr_size);
}

/* After the commit: committed positions, counters, clean-up; their replies
 * are read with the next round trip. */
static sj_status_t post_commit(stage_t *s, rd_kafka_message_t **msgs, size_t n)
{
    sj_status_t st = CMD(s, &s->n_post, "DEL", s->inflight_key);
    for (size_t i = 0; st == SJ_OK && i < n; i++) {
        bool last = true; /* the highest offset of its partition in the batch */
        for (size_t j = i + 1; j < n && last; j++)
            last = !(msgs[j]->rkt == msgs[i]->rkt &&
                     msgs[j]->partition == msgs[i]->partition);
        if (!last) continue;
        char f[SRC_MAX], off[24];
        snprintf(f, sizeof f, "%s:%d", rd_kafka_topic_name(msgs[i]->rkt),
                 (int)msgs[i]->partition);
        snprintf(off, sizeof off, "%lld", (long long)msgs[i]->offset + 1);
        /* The highest position any group committed: a group that lags
         * behind must not lower it. */
        st = CMD(s, &s->n_post, "EVAL",
                 "local c = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '-1') "
                 "if tonumber(ARGV[2]) > c then redis.call('HSET', KEYS[1], ARGV[1], "
                 "ARGV[2]) end return 1",
                 "1", s->committed_key, f, off);
    }
    if (st == SJ_OK)
        st = append_counts(s, s->counters, sj_key_stats);
    else
        json_object_clear(s->counters);
    size_t i;
    json_t *pair;
    json_array_foreach(s->cleanup, i, pair)
    {
        char kb[SJ_KEY_MAX], kp[SJ_KEY_MAX];
        const char *p = json_string_value(json_array_get(pair, 0));
        const char *id = json_string_value(json_array_get(pair, 1));
        sj_key_res(kb, p, ":body");
        sj_key_res(kp, p, ":pending");
        if (st == SJ_OK) st = CMD(s, &s->n_post, "HDEL", kb, id);
        if (st == SJ_OK) st = CMD(s, &s->n_post, "SREM", kp, id);
    }
    return st;
}

static sj_status_t process_batch(stage_t *s, batch_t *b, char *errstr, size_t errstr_size)
{
    int64_t t = sj_mono_us();
    rd_kafka_message_t **msgs = b->msgs;
    size_t n = b->n;
    s->items = b->items;
    s->updates = b->updates;
    s->n_items = n;
    if (s->o->replay_clock && b->max_time > s->replay_now) s->replay_now = b->max_time;
    for (size_t i = 0; i < n; i++) {
        item_t *it = &s->items[i];
        it->now = stage_now(s, it);
        if (!it->ok) s->st->malformed++;
        if (it->ok && it->kind == K_TICK) s->st->ticks++;
    }
    t = phase(s, SJ_PHASE_PARSE, t);
    sj_status_t st = txn_begin(s, errstr, errstr_size);
    if (st == SJ_OK) st = gather(s, errstr, errstr_size);
    t = phase(s, SJ_PHASE_READ, t);
    for (size_t i = 0; st == SJ_OK && i < n; i++) {
        item_t *it = &s->items[i];
        if (!it->ok) continue;
        if (it->kind == K_TICK)
            st = tick_step(s, it, errstr, errstr_size);
        else if (it->kind == K_BATCH && !it->n_cand)
            sj_log(SJ_LOG_WARN, FAC,
                   "%s: batch trigger for a campaign that is not loaded "
                   "as a batch campaign: skipped",
                   it->src);
        else if (it->n_cand)
            st = event_steps(s, it, errstr, errstr_size);
    }
    if (st == SJ_OK && s->n_steps)
        qsort(s->steps, s->n_steps, sizeof *s->steps, step_cmp);
    s->n_writes = 0;
    s->n_watches = 0;
    for (size_t i = 0; st == SJ_OK && i < s->n_steps; i++)
        st = decide(s, &s->steps[i], errstr, errstr_size);
    size_t owed = s->n_writes;
    s->n_writes = 0;
    t = phase(s, SJ_PHASE_RULES, t);
    if (st == SJ_OK) st = gather_finish(s, errstr, errstr_size);
    if (st == SJ_OK) st = drain_writes(s, owed, errstr, errstr_size);
    if (st == SJ_OK) st = convert_again(s, errstr, errstr_size);
    if (st == SJ_OK) st = exp_flush(s, errstr, errstr_size);
    t = phase(s, SJ_PHASE_WRITE, t);
    if (st == SJ_OK && s->fault_abort_every &&
        ++s->fault_batches % s->fault_abort_every == 0) {
        /* fault injection (tests): this batch's commit fails as a broker
         * error would, so that the abort path runs */
        sj_seterr(errstr, errstr_size, "injected fault (SEINTJE_FAULT_ABORT_EVERY)");
        st = SJ_ERR_AGAIN;
    }
    if (st == SJ_OK) st = txn_commit(s, msgs, n, errstr, errstr_size);
    t = phase(s, SJ_PHASE_COMMIT, t);
    if (st == SJ_ERR_AGAIN) {
        sj_log(SJ_LOG_WARN, FAC, "%s; the batch is aborted and consumed again", errstr);
        /* The prefetched batch goes too: rewind to the first of both. */
        batch_t *nx = &s->b[!s->cur];
        rd_kafka_message_t **all = malloc(sizeof *all * (n + nx->n));
        size_t na = 0;
        if (all) {
            for (size_t i = 0; i < n; i++) all[na++] = msgs[i];
            for (size_t i = 0; i < nx->n; i++) all[na++] = nx->msgs[i];
        }
        st = all ? txn_abort(s, all, na, errstr, errstr_size) : SJ_ERR_NOMEM;
        free(all);
        drop_prefetched(s);
        /* the experiment counters' replies first: recover() reads its own */
        if (st == SJ_OK) st = drain(s, s->n_post, errstr, errstr_size);
        s->n_post = 0;
        /* as after a crash: the batch is decided again on the state before it */
        if (st == SJ_OK) st = recover(s, true, errstr, errstr_size);
        json_object_clear(s->counters);
        free_batch(s);
        return st;
    }
    if (st == SJ_OK) {
        st = post_commit(s, msgs, n);
        s->st->events += n;
        s->st->batches++;
    }
    free_batch(s);
    phase(s, SJ_PHASE_RULES, t);
    return st;
}

/* ---- the scheduler -------------------------------------------------------- */

/* Publishes a tick for every step due at now (at most TICK_MAX), then moves
 * their due time a lease ahead. *released: how many. */
static sj_status_t tick(stage_t *s, int64_t now, size_t *released, char *errstr,
                        size_t errstr_size)
{
    *released = 0;
    sj_status_t st = drain(s, s->n_post, errstr, errstr_size);
    s->n_post = 0;
    if (st != SJ_OK) return st;
    char max[24], lim[24];
    snprintf(max, sizeof max, "%lld", (long long)now);
    snprintf(lim, sizeof lim, "%d", TICK_MAX);
    if ((st = sj_redis_pipe_flush(&s->pipe, errstr, errstr_size)) != SJ_OK) return st;
    redisReply *r = redisCommand(s->redis, "ZRANGEBYSCORE %s -inf %s LIMIT 0 %s",
                                 SJ_KEY_SCHED_DUE, max, lim);
    if (!r) {
        sj_seterr(errstr, errstr_size, "redis: %s", s->redis->errstr);
        return SJ_ERR_IO;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements == 0) {
        freeReplyObject(r);
        return SJ_OK;
    }
    st = txn_begin(s, errstr, errstr_size);
    size_t argc = 3;
    const char **argv = malloc(sizeof *argv * (3 + 2 * r->elements));
    char(*scores)[24] = malloc(sizeof *scores * r->elements);
    if (!argv || !scores) st = SJ_ERR_NOMEM;
    if (st == SJ_OK) {
        argv[0] = "ZADD";
        argv[1] = SJ_KEY_SCHED_DUE;
        argv[2] = "XX";
    }
    for (size_t i = 0; st == SJ_OK && i < r->elements; i++) {
        const redisReply *m = r->element[i];
        const char *colon = m->type == REDIS_REPLY_STRING ? strchr(m->str, ':') : NULL;
        if (!colon || colon - m->str != SJ_PSEUDONYM_LEN ||
            strlen(colon + 1) != SJ_INTENT_ID_LEN)
            continue; /* not ours */
        char p[SJ_PSEUDONYM_LEN + 1], val[160];
        memcpy(p, m->str, SJ_PSEUDONYM_LEN);
        p[SJ_PSEUDONYM_LEN] = 0;
        snprintf(val, sizeof val, "{\"tick\":\"%s\",\"resident\":\"%s\"}", colon + 1, p);
        st = produce(s, s->t_due, p, val, strlen(val), errstr, errstr_size);
        snprintf(scores[i], sizeof scores[i], "%lld", (long long)(now + LEASE_MS));
        argv[argc++] = scores[i];
        argv[argc++] = m->str;
        (*released)++;
    }
    if (st == SJ_OK) st = txn_commit(s, NULL, 0, errstr, errstr_size);
    if (st == SJ_ERR_AGAIN) {
        sj_log(SJ_LOG_WARN, FAC, "%s; ticks are published again", errstr);
        st = txn_abort(s, NULL, 0, errstr, errstr_size);
        *released = 0;
    } else if (st == SJ_OK && argc > 3) {
        size_t one = 0;
        st = cmd(s, &one, (int)argc, argv);
        if (st == SJ_OK) st = drain(s, one, errstr, errstr_size);
    }
    free(argv);
    free(scores);
    freeReplyObject(r);
    return st;
}

/* ---- set-up and the loop -------------------------------------------------- */

static sj_status_t setup(stage_t *s, char *errstr, size_t errstr_size)
{
    const sj_conf_t *c = s->conf;
    const char *dir =
        s->o->campaigns_dir ? s->o->campaigns_dir : sj_conf_get(c, "campaigns.dir");
    if (!(s->campaigns = sj_campaigns_load_dir(dir, errstr, errstr_size)))
        return SJ_ERR_INPUT;
    s->st->campaigns = sj_campaigns_count(s->campaigns);
    if (s->st->campaigns == 0)
        sj_log(SJ_LOG_WARN, FAC,
               "no campaigns in %s: profiles are updated, no intents made", dir);
    char err[256];
    if (sj_nudge_window_parse(sj_conf_get(c, "nudge.send-window"), &s->window, err,
                              sizeof err) != SJ_OK) {
        sj_seterr(errstr, errstr_size, "nudge.send-window: %s", err);
        return SJ_ERR_INPUT;
    }
    const char *fault = getenv("SEINTJE_FAULT_ABORT_EVERY");
    if (fault && *fault) {
        s->fault_abort_every = (unsigned)strtoul(fault, NULL, 10);
        sj_log(SJ_LOG_WARN, FAC, "fault injection: every %u-th batch is aborted",
               s->fault_abort_every);
    }
    s->cap_count = (unsigned)sj_conf_get_int(c, "nudge.cap-count");
    s->cap_days = (unsigned)sj_conf_get_int(c, "nudge.cap-days");
    s->require_consent = sj_conf_get_bool(c, "nudge.require-consent");
    s->redis = sj_redis_connect(sj_conf_get(c, "redis.url"),
                                (int)sj_conf_get_int(c, "redis.timeout-ms"), errstr,
                                errstr_size);
    if (!s->redis) return SJ_ERR_IO;
    sj_redis_pipe_init(&s->pipe, s->redis);
    s->t_events = sj_conf_get(c, "topic.life-events");
    s->t_due = sj_conf_get(c, "topic.segment-due");
    s->t_out = sj_conf_get(c, "topic.notifications");
    s->t_status = sj_conf_get(c, "topic.delivery-status");
    s->group = sj_conf_get(c, "segment.group");
    snprintf(s->committed_key, sizeof s->committed_key, "%s", SJ_KEY_COMMITTED);
    s->timeout_ms = (int)sj_conf_get_int(c, "kafka.timeout-ms");
    char txn_id[160];
    snprintf(txn_id, sizeof txn_id, "seintje-segment-%s",
             sj_conf_get(c, "segment.instance"));
    /* Topics first, with a plain client: a transactional producer cannot
     * create them before its transactions are initialised. */
    rd_kafka_t *admin = sj_kafka_producer_new(c, NULL, NULL, errstr, errstr_size);
    if (!admin) return SJ_ERR;
    int parts = (int)sj_conf_get_int(c, "topic.partitions");
    const char *topics[] = {s->t_events, s->t_due, s->t_out, s->t_status};
    sj_status_t st = SJ_OK;
    for (size_t i = 0; st == SJ_OK && i < SJ_ARRAY_LEN(topics); i++)
        st = sj_kafka_topic_ensure(admin, topics[i], parts, s->timeout_ms, errstr,
                                   errstr_size);
    rd_kafka_destroy(admin);
    if (st != SJ_OK) return st;
    s->producer = sj_kafka_txn_producer_new(c, txn_id, dr_cb, s, s->timeout_ms, errstr,
                                            errstr_size);
    if (!s->producer) return SJ_ERR;
    const char *in[] = {s->t_events, s->t_due};
    s->consumer = sj_kafka_consumer_open(c, s->group, txn_id, in, 2, SJ_KAFKA_TXN_OFFSETS,
                                         errstr, errstr_size);
    if (!s->consumer) return SJ_ERR;
    snprintf(s->inflight_key, sizeof s->inflight_key, "sj:{segment}:inflight:%s", txn_id);
    return recover(s, false, errstr, errstr_size);
}

static void teardown(stage_t *s)
{
    if (s->redis && s->n_post) drain(s, s->n_post, NULL, 0);
    if (s->consumer) {
        rd_kafka_consumer_close(s->consumer);
        rd_kafka_destroy(s->consumer);
    }
    if (s->producer) rd_kafka_destroy(s->producer);
    if (s->redis) redisFree(s->redis);
    sj_campaigns_destroy(s->campaigns);
    sj_redis_pipe_free(&s->pipe);
    free(s->parts);
    free(s->slots);
    free(s->steps);
    json_decref(s->decided);
    json_decref(s->sends);
    json_decref(s->cleanup);
    json_decref(s->counters);
    json_decref(s->exp_counts);
    free(s->watches);
}

sj_status_t sj_segment_run(const sj_conf_t *conf, const sj_segment_opts_t *o,
                           sj_segment_stats_t *stats, char *errstr, size_t errstr_size)
{
    memset(stats, 0, sizeof *stats);
#ifdef __GLIBC__
    /* A batch frees tens of thousands of small blocks (parsed events,
     * replies) at once; glibc's fastbins keep them unmerged and the next
     * batch's mallocs pay for it: without them the stage needs about a
     * tenth less CPU (measured with bench/segment_vs_kcat.sh). */
    mallopt(M_MXFAST, 0);
#endif
    int64_t t0 = sj_mono_ms();
    size_t batch = o->batch_max ? o->batch_max : SJ_SEGMENT_BATCH_DEFAULT;
    if (batch > SJ_SEGMENT_BATCH_MAX) batch = SJ_SEGMENT_BATCH_MAX;
    stage_t s = {.conf = conf, .o = o, .st = stats};
    s.decided = json_object();
    s.sends = json_object();
    s.cleanup = json_array();
    s.counters = json_object();
    s.exp_counts = json_object();
    s.batch_max = batch;
    bool mem = true;
    for (int k = 0; k < 2; k++) {
        s.b[k].msgs = calloc(batch, sizeof *s.b[k].msgs);
        s.b[k].items = calloc(batch, sizeof *s.b[k].items);
        s.b[k].updates = malloc(batch * sizeof *s.b[k].updates);
        mem = mem && s.b[k].msgs && s.b[k].items && s.b[k].updates;
    }
    sj_status_t st = SJ_ERR_NOMEM;
    if (mem && s.decided && s.sends && s.cleanup && s.counters && s.exp_counts)
        st = setup(&s, errstr, errstr_size);
    else
        sj_seterr(errstr, errstr_size, "out of memory");
    sj_kafka_idle_t idle;
    sj_kafka_idle_init(&idle);
    s.idle = &idle;
    int64_t last_tick = 0;
    size_t released = 0;
    uint64_t released_total = 0; /* idle only once every tick came back */
    while (st == SJ_OK && !(o->stop && *o->stop)) {
        int64_t t = sj_mono_us();
        batch_t *b = &s.b[s.cur];
        if (!b->n) { /* nothing prefetched */
            b->n = sj_kafka_poll_batch(s.consumer, b->msgs, batch, POLL_MS, &idle);
            if (b->n) parse_batch(&s, b);
        }
        size_t n = b->n;
        t = phase(&s, SJ_PHASE_POLL, t);
        if (n) {
            st = process_batch(&s, b, errstr, errstr_size);
            for (size_t i = 0; i < n; i++) rd_kafka_message_destroy(b->msgs[i]);
            b->n = 0;
            s.cur = !s.cur;
        }
        if (st == SJ_OK && (!n || sj_mono_ms() - last_tick >= TICK_EVERY_MS)) {
            last_tick = sj_mono_ms();
            t = sj_mono_us();
            st = tick(&s, stage_now(&s, NULL), &released, errstr, errstr_size);
            released_total += released;
            phase(&s, SJ_PHASE_TICK, t);
        }
        if (st == SJ_OK && !n && !released && stats->ticks >= released_total &&
            o->until_idle_ms >= 0 &&
            sj_kafka_idle_reached(&idle, s.consumer, o->until_idle_ms)) {
            if (o->replay_clock && o->replay_until_ms > s.replay_now) {
                s.replay_now = o->replay_until_ms; /* release what is due by then */
                continue;
            }
            break;
        }
        char fatal[256];
        if (st == SJ_OK && rd_kafka_fatal_error(s.producer, fatal, sizeof fatal)) {
            sj_seterr(errstr, errstr_size, "kafka producer: fatal error: %s", fatal);
            st = SJ_ERR;
        }
    }
    if (s.consumer) drop_prefetched(&s);
    teardown(&s);
    for (int k = 0; k < 2; k++) {
        free(s.b[k].msgs);
        free(s.b[k].items);
        free(s.b[k].updates);
    }
    sj_kafka_idle_free(&idle);
    stats->seconds = (double)(sj_mono_ms() - t0) / 1000.0;
    return st;
}

void sj_segment_print_summary(FILE *out, const char *prefix, const sj_segment_stats_t *s)
{
    fprintf(out, "%sevents:          %llu (%llu malformed, skipped; %llu ticks)\n",
            prefix, (unsigned long long)(s->events - s->ticks),
            (unsigned long long)s->malformed, (unsigned long long)s->ticks);
    fprintf(out, "%sprofile updates: %llu\n", prefix,
            (unsigned long long)s->profile_updates);
    fprintf(out,
            "%scampaigns:       %zu loaded; %llu matched a trigger, %llu outside the "
            "audience, %llu duplicates\n",
            prefix, s->campaigns, (unsigned long long)s->matched,
            (unsigned long long)s->audience, (unsigned long long)s->duplicates);
    fprintf(out,
            "%sintents:         %llu emitted, %llu scheduled, %llu deferred, %llu "
            "suppressed, %llu cancelled\n",
            prefix, (unsigned long long)s->emitted, (unsigned long long)s->scheduled,
            (unsigned long long)s->deferred, (unsigned long long)s->suppressed,
            (unsigned long long)s->cancelled);
    fprintf(out, "%snot made:       ", prefix);
    for (int k = 1; k < SJ_INTENT_OUTCOMES; k++)
        fprintf(out, " %s %llu%s", sj_intent_outcome_name((sj_intent_outcome_t)k),
                (unsigned long long)s->skipped[k],
                k + 1 < SJ_INTENT_OUTCOMES ? "," : "\n");
    fprintf(out, "%selapsed:         %.2f s (%llu batches, %llu aborted)\n", prefix,
            s->seconds, (unsigned long long)s->batches, (unsigned long long)s->aborted);
    static const char *const names[SJ_PHASES] = {"poll",  "parse",  "read", "rules",
                                                 "write", "commit", "tick"};
    fprintf(out, "%stime spent:     ", prefix);
    for (int p = 0; p < SJ_PHASES; p++)
        fprintf(out, " %s %.2f s%s", names[p], s->phase_s[p],
                p + 1 < SJ_PHASES ? "," : "\n");
}
