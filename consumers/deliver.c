/* The delivery stage: a window of intents, each carried from intake to a
 * recorded final state (see deliver.h), and the `seintje deliver` command.
 *
 * Every intent in the window is a slot that moves through
 *
 *     NEW ──prepare──► SENDING ──done──► OUTCOME ──flush──► PUBLISH ──DR──► DONE
 *      │   (claim, profile,          (channel                (Redis state,   (Kafka
 *      │    route, render)            result)                 schedule,       acks)
 *      └──────────────────────────────────────► OUTCOME       records out)
 *          (held, expired, duplicate, busy, suppressed)
 *
 * in batches: all NEW slots share one pipelined Redis round trip, all
 * OUTCOME slots another, and the channels (channels.h) keep many sends in
 * flight meanwhile. Slots read from Kafka sit, per partition, in the order
 * of their offsets; an offset is stored once every slot up to it is DONE.
 * Slots taken from the schedule are leased there (ledger.h) and removed
 * once their outcome is published. */
#include "deliver.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>

#include "cli/commands.h"
#include "consumers/channels.h"
#include "consumers/compose.h"
#include "consumers/ledger.h"
#include "core/cli.h"
#include "core/kafka.h"
#include "core/log.h"
#include "core/redis.h"
#include "core/text.h"
#include "core/timeutil.h"
#include "segments/keys.h"

#define FAC               "deliver"
#define POLL_MS           100
#define SCHEDULE_EVERY_MS 200 /* how often an empty schedule is looked at again */
#define REPARK_MS         250 /* a due intent that is in this window already */
#define DRAIN_MS          10  /* the longest wait while sends are in flight */
#define EXPERIMENT_MAX    64  /* bytes of an experiment or variant id */

/* ---- intents -------------------------------------------------------------- */

/* One intent; strings are borrowed from root. */
typedef struct {
    json_t *root;
    const char *id, *resident, *language, *template_ref, *campaign, *variant, *step,
        *reason, *expires_s, *topic, *nis, *experiment;
    int64_t not_before, expires_at;
    sj_route_channel_t channels[SJ_ROUTE_CHANNELS];
    size_t n_channels;
    bool mandatory;
    const json_t *context;
    /* from the schedule's "delivery" member: the attempts on the current
     * channel, when the first of them was made, channels failed for good */
    unsigned attempt;
    int64_t first_ms;
    unsigned failed;
    const char *last_error; /* the last error the provider itself gave */
} intent_t;

static bool is_hex(const char *s, size_t min, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    if (n < min || n > max) return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
    return true;
}

static const char *str_of(const json_t *o, const char *key)
{
    const json_t *j = json_object_get(o, key);
    return json_is_string(j) ? json_string_value(j) : NULL;
}

static bool get_time(const json_t *o, const char *key, int64_t *ms)
{
    const char *s = str_of(o, key);
    return s && sj_time_parse_rfc3339(s, strlen(s), ms) == SJ_OK;
}

/* The "delivery" member a retry or fallback left in the schedule. */
static bool parse_delivery(intent_t *w)
{
    const json_t *d = json_object_get(w->root, "delivery");
    if (!d) return true;
    const json_t *a = json_object_get(d, "attempt"), *f = json_object_get(d, "first"),
                 *failed = json_object_get(d, "failed");
    if (!json_is_object(d) || !json_is_integer(a) || !json_is_integer(f) ||
        !json_is_array(failed) || json_integer_value(a) < 0 ||
        json_integer_value(a) > 100000)
        return false;
    w->attempt = (unsigned)json_integer_value(a);
    w->first_ms = json_integer_value(f);
    w->last_error = json_string_value(json_object_get(d, "error"));
    for (size_t i = 0; i < json_array_size(failed); i++) {
        sj_route_channel_t ch;
        const char *s = json_string_value(json_array_get(failed, i));
        if (!s || sj_route_channel_parse(s, &ch) != SJ_OK) return false;
        w->failed |= 1u << ch;
    }
    return true;
}

/* Parses and checks one intent; on failure problem says what, without data. */
static bool parse_intent(const char *p, size_t len, intent_t *w, char *problem,
                         size_t psize)
{
    memset(w, 0, sizeof *w);
    if (len > SJ_DELIVER_INTENT_MAX) {
        snprintf(problem, psize, "larger than %d bytes", SJ_DELIVER_INTENT_MAX);
        return false;
    }
    json_error_t jerr;
    if (!(w->root = json_loadb(p ? p : "", len, JSON_REJECT_DUPLICATES, &jerr))) {
        snprintf(problem, psize, "invalid JSON at line %d column %d", jerr.line,
                 jerr.column);
        return false;
    }
    const json_t *r = w->root;
    w->id = str_of(r, "id");
    w->resident = str_of(r, "resident");
    w->language = str_of(r, "language");
    w->template_ref = str_of(r, "template");
    w->campaign = str_of(r, "campaign");
    w->variant = str_of(r, "variant");
    w->step = str_of(r, "step");
    w->experiment = str_of(r, "experiment");
    w->reason = str_of(r, "reason");
    w->expires_s = str_of(r, "expires_at");
    w->topic = str_of(r, "topic");
    w->context = json_object_get(r, "context");
    w->nis = str_of(w->context, "nis");
    w->mandatory = json_is_true(json_object_get(r, "mandatory"));
    const json_t *ch = json_object_get(r, "channels");
    const char *bad = !is_hex(w->id, 16, 64)             ? "id"
                      : !is_hex(w->resident, 64, 64)     ? "resident"
                      : !w->language || !w->template_ref ? "language/template"
                      : !w->campaign                     ? "campaign"
                      : json_object_get(r, "experiment") &&
                              (!w->experiment || !*w->experiment ||
                               strlen(w->experiment) > EXPERIMENT_MAX || !w->variant ||
                               strlen(w->variant) > EXPERIMENT_MAX)
                          ? "experiment/variant"
                      : !json_is_object(w->context)                ? "context"
                      : !get_time(r, "not_before", &w->not_before) ? "not_before"
                      : !get_time(r, "expires_at", &w->expires_at) ? "expires_at"
                      : !json_is_array(ch) || json_array_size(ch) == 0 ||
                              json_array_size(ch) > SJ_ROUTE_CHANNELS
                          ? "channels"
                      : !parse_delivery(w) ? "delivery"
                                           : NULL;
    for (size_t i = 0; !bad && i < json_array_size(ch); i++) {
        const char *s = json_string_value(json_array_get(ch, i));
        if (!s || sj_route_channel_parse(s, &w->channels[i]) != SJ_OK) bad = "channels";
    }
    if (bad) {
        snprintf(problem, psize, "%s is missing or invalid", bad);
        return false;
    }
    w->n_channels = json_array_size(ch);
    return true;
}

/* ---- slots ---------------------------------------------------------------- */

typedef enum {
    SL_FREE = 0,
    SL_NEW,
    SL_SENDING,
    SL_OUTCOME,
    SL_PUBLISH,
    SL_DONE
} sstate_t;

typedef enum {
    O_NONE = 0,
    O_SENT,
    O_RETRY,      /* temporary failure: back to the schedule */
    O_FALLBACK,   /* this channel failed for good: the next one, via the schedule */
    O_DEAD,       /* failed for good, no channel left */
    O_SUPPRESSED, /* nothing to send */
    O_HOLD,       /* not due yet: parked until not_before */
    O_BUSY,       /* another instance holds it, or it is in this window already */
    O_DUPLICATE,  /* already final: nothing to do */
    O_MALFORMED
} outcome_t;

typedef struct stage stage_t;

typedef struct slot {
    stage_t *stage;
    sstate_t st;
    bool from_kafka;
    int32_t partition;
    int64_t offset;
    intent_t in;
    bool claimed, has_ch, has_contact;
    sj_contact_t contact;
    sj_route_channel_t ch, fallback;
    outcome_t out;
    sj_suppress_t why;
    sj_send_result_t res;
    const char *fail_class; /* "permanent", "exhausted", "expired" */
    int64_t next_ms, sent_ms;
    char *re_t, *re_dl; /* an unpublished earlier transition, to publish again */
    int pending_dr;
    bool mark_published, unschedule;
    sj_buf_t email;
    struct slot *hnext; /* in the window's id table */
} slot_t;

/* The offsets of one partition, in the order read. */
typedef struct {
    int32_t partition;
    uint32_t *ring;
    size_t head, len;
    int64_t next; /* offset to store; -1 none */
} part_t;

struct stage {
    const sj_conf_t *conf;
    const sj_deliver_opts_t *o;
    sj_deliver_stats_t *st;
    redisContext *redis;
    rd_kafka_t *consumer, *producer;
    sj_compose_t *compose;
    sj_channels_t *channels;
    slot_t *slots;
    size_t n_slots, batch;
    uint32_t *free_list, *new_list, *outcome_list;
    size_t n_free, n_new, n_outcome, sending, publishing;
    slot_t **table;
    size_t table_mask;
    part_t *parts;
    size_t n_parts;
    rd_kafka_message_t **msgs;
    /* settings */
    const char *owner, *t_status, *t_dl, *sms_sender;
    int64_t lease_ms, base_ms, max_delay_ms, max_age_ms, ttl_extra_s;
    unsigned max_attempts;
    bool fallback;
    /* clock */
    int64_t clock0, mono0;
    bool fixed_clock;
    /* Redis replies owed by commands appended after Kafka acknowledgements */
    size_t post_replies;
    json_t *counters; /* campaign -> {field: n}, flushed with the outcomes */
    json_t *exposed;  /* experiment -> {"<variant>|exposed": n}, see append_exposure() */
    uint64_t rng;
    int64_t next_schedule_ms, first_send_mono, last_outcome_mono;
    bool fatal;
    char fatal_err[512];
};

static int64_t now_of(const stage_t *s)
{
    return s->fixed_clock ? s->clock0 + (sj_mono_ms() - s->mono0) : sj_now_ms();
}

static uint64_t next_rand(stage_t *s)
{
    /* splitmix64: jitter only, no secrecy needed */
    uint64_t z = (s->rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void set_fatal(stage_t *s, const char *msg)
{
    if (s->fatal) return;
    s->fatal = true;
    size_t n = strlen(msg);
    if (n >= sizeof s->fatal_err) n = sizeof s->fatal_err - 1;
    memcpy(s->fatal_err, msg, n);
    s->fatal_err[n] = '\0';
}

static size_t hash_id(const char *id)
{
    uint64_t h = 1469598103934665603ull;
    for (; *id; id++) h = (h ^ (unsigned char)*id) * 1099511628211ull;
    return (size_t)h;
}

static slot_t *table_find(const stage_t *s, const char *id)
{
    for (slot_t *x = s->table[hash_id(id) & s->table_mask]; x; x = x->hnext)
        if (!strcmp(x->in.id, id)) return x;
    return NULL;
}

static void table_add(stage_t *s, slot_t *sl)
{
    slot_t **b = &s->table[hash_id(sl->in.id) & s->table_mask];
    sl->hnext = *b;
    *b = sl;
}

static void table_del(stage_t *s, slot_t *sl)
{
    for (slot_t **p = &s->table[hash_id(sl->in.id) & s->table_mask]; *p; p = &(*p)->hnext)
        if (*p == sl) {
            *p = sl->hnext;
            return;
        }
}

static slot_t *slot_alloc(stage_t *s)
{
    if (!s->n_free) return NULL;
    slot_t *sl = &s->slots[s->free_list[--s->n_free]];
    sj_buf_t keep = sl->email;
    memset(sl, 0, sizeof *sl);
    sl->email = keep;
    sl->stage = s;
    sj_buf_reset(&sl->email);
    sl->st = SL_NEW;
    sl->partition = -1;
    return sl;
}

static void slot_free(stage_t *s, slot_t *sl)
{
    if (sl->hnext || table_find(s, sl->in.id ? sl->in.id : "") == sl) table_del(s, sl);
    json_decref(sl->in.root);
    sl->in.root = NULL;
    sl->in.id = NULL;
    free(sl->re_t);
    free(sl->re_dl);
    sl->re_t = sl->re_dl = NULL;
    sl->st = SL_FREE;
    s->free_list[s->n_free++] = (uint32_t)(sl - s->slots);
}

static void to_outcome(stage_t *s, slot_t *sl, outcome_t o)
{
    if (sl->st == SL_SENDING) s->sending--;
    sl->out = o;
    sl->st = SL_OUTCOME;
    s->outcome_list[s->n_outcome++] = (uint32_t)(sl - s->slots);
}

static part_t *part_of(stage_t *s, int32_t partition)
{
    for (size_t i = 0; i < s->n_parts; i++)
        if (s->parts[i].partition == partition) return &s->parts[i];
    part_t *p = realloc(s->parts, (s->n_parts + 1) * sizeof *p);
    if (!p) return NULL;
    s->parts = p;
    p = &s->parts[s->n_parts];
    memset(p, 0, sizeof *p);
    p->partition = partition;
    p->next = -1;
    if (!(p->ring = calloc(s->n_slots, sizeof *p->ring))) return NULL;
    s->n_parts++;
    return p;
}

/* ---- records -------------------------------------------------------------- */

static const char *ch_name(sj_route_channel_t ch)
{
    return sj_route_channel_name(ch);
}

static const char *status_word(outcome_t o)
{
    switch (o) {
    case O_SENT:
        return "sent";
    case O_RETRY:
        return "temporary-failure";
    case O_FALLBACK:
    case O_DEAD:
        return "permanent-failure";
    case O_SUPPRESSED:
        return "suppressed";
    case O_HOLD:
        return "scheduled";
    default:
        return NULL;
    }
}

/* When sl's message was sent, for its "sent" record and the exposure: now,
 * or with --replay-clock the time it was sent as if at (its not_before). */
static int64_t sent_at(const stage_t *s, const slot_t *sl, int64_t now)
{
    return s->o->replay_clock && sl->in.not_before < now ? sl->in.not_before : now;
}

/* The status record of sl's outcome (a new string), or NULL for none. */
static char *status_record(const stage_t *s, const slot_t *sl, int64_t now)
{
    const char *word = status_word(sl->out);
    if (!word) return NULL;
    const intent_t *w = &sl->in;
    char t[32], at[32];
    sj_time_format_rfc3339(sl->out == O_SENT ? sent_at(s, sl, now) : now, t);
    json_t *r = json_pack("{s:s, s:s, s:s?, s:s?, s:s?, s:s, s:s, s:s, s:s}", "intent",
                          w->id, "campaign", w->campaign, "step", w->step, "variant",
                          w->variant, "experiment", w->experiment, "resident",
                          w->resident, "stage", "deliver", "status", word, "time", t);
    if (!r) return NULL;
    if (sl->has_ch && sl->out != O_SUPPRESSED && sl->out != O_HOLD) {
        json_object_set_new(r, "channel", json_string(ch_name(sl->ch)));
        json_object_set_new(r, "attempt", json_integer((json_int_t)w->attempt + 1));
    }
    if (sl->res.reference[0] && sl->out == O_SENT)
        json_object_set_new(r, "reference", json_string(sl->res.reference));
    if (sl->out == O_SUPPRESSED)
        json_object_set_new(r, "reason", json_string(sj_suppress_name(sl->why)));
    if (sl->out == O_RETRY || sl->out == O_FALLBACK || sl->out == O_DEAD) {
        json_object_set_new(r, "reason", json_string(sl->res.reason));
        json_object_set_new(
            r, "class", json_string(sl->out == O_RETRY ? "temporary" : sl->fail_class));
    }
    if (sl->out == O_RETRY || sl->out == O_HOLD) {
        sj_time_format_rfc3339(sl->next_ms, at);
        json_object_set_new(r, sl->out == O_HOLD ? "due" : "next_attempt",
                            json_string(at));
    }
    if (sl->out == O_FALLBACK || sl->out == O_DEAD) {
        json_object_set_new(r, "dead_letter", json_true());
        json_object_set_new(r, "fallback",
                            sl->out == O_FALLBACK ? json_string(ch_name(sl->fallback))
                                                  : json_null());
    }
    char *out = json_dumps(r, JSON_COMPACT);
    json_decref(r);
    return out;
}

/* The dead-letter record of a channel that failed for good (a new string). */
static char *dead_letter_record(const slot_t *sl, int64_t now)
{
    const intent_t *w = &sl->in;
    char t[32], first[32];
    sj_time_format_rfc3339(now, t);
    sj_time_format_rfc3339(w->first_ms ? w->first_ms : now, first);
    json_t *n = json_deep_copy(w->root);
    if (n) json_object_del(n, "delivery");
    json_t *r = json_pack(
        "{s:s, s:s, s:s?, s:s?, s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:o, s:b, s:o}",
        "intent", w->id, "campaign", w->campaign, "step", w->step, "variant", w->variant,
        "resident", w->resident, "channel", ch_name(sl->ch), "class", sl->fail_class,
        "reason", sl->res.reason, "attempts", (json_int_t)w->attempt + 1, "first_attempt",
        first, "time", t, "fallback",
        sl->out == O_FALLBACK ? json_string(ch_name(sl->fallback)) : json_null(), "final",
        sl->out != O_FALLBACK, "notification", n ? n : json_null());
    if (!r) return NULL;
    char *out = json_dumps(r, JSON_COMPACT);
    json_decref(r);
    return out;
}

/* The intent with its "delivery" member for the schedule (a new string). */
static char *schedule_json(slot_t *sl, bool with_delivery)
{
    intent_t *w = &sl->in;
    if (!with_delivery) return json_dumps(w->root, JSON_COMPACT);
    json_t *failed = json_array();
    for (int k = 0; k < SJ_ROUTE_CHANNELS; k++)
        if (w->failed & (1u << k)) json_array_append_new(failed, json_string(ch_name(k)));
    /* A refusal by the open breaker says little: keep the provider's error. */
    const char *error = !sl->res.not_sent ? sl->res.reason
                        : w->last_error   ? w->last_error
                                          : "";
    json_t *d =
        json_pack("{s:I, s:I, s:o, s:s}", "attempt", (json_int_t)w->attempt, "first",
                  (json_int_t)w->first_ms, "failed", failed, "error", error);
    if (!d) return NULL;
    json_object_set_new(w->root, "delivery", d); /* frees what last_error points to */
    w->last_error = NULL;
    return json_dumps(w->root, JSON_COMPACT);
}

static void count(stage_t *s, const slot_t *sl, const char *what)
{
    const char *campaign = sl->in.campaign;
    json_t *c = json_object_get(s->counters, campaign);
    if (!c) {
        c = json_object();
        json_object_set_new(s->counters, campaign, c);
    }
    char field[160];
    snprintf(field, sizeof field, "%s|%s", sl->in.variant ? sl->in.variant : "-", what);
    json_t *n = json_object_get(c, field);
    json_object_set_new(c, field, json_integer(n ? json_integer_value(n) + 1 : 1));
}

/* ---- deciding --------------------------------------------------------------- */

/* Chooses the channel among those not yet failed, or says why none. */
static bool choose(const slot_t *sl, unsigned failed, sj_route_channel_t *ch,
                   sj_suppress_t *why)
{
    sj_route_channel_t left[SJ_ROUTE_CHANNELS];
    size_t n = 0;
    for (size_t i = 0; i < sl->in.n_channels; i++)
        if (!(failed & (1u << sl->in.channels[i]))) left[n++] = sl->in.channels[i];
    return sj_route_choose(left, n, &sl->contact, sl->in.mandatory, ch, why);
}

/* The channel failed for good (class: permanent, exhausted, expired). */
static void fail_channel(stage_t *s, slot_t *sl, const char *cls)
{
    sj_suppress_t why;
    sl->fail_class = cls;
    s->st->dead_letters++;
    if (s->fallback && sl->has_contact &&
        choose(sl, sl->in.failed | (1u << sl->ch), &sl->fallback, &why)) {
        s->st->fallbacks++;
        to_outcome(s, sl, O_FALLBACK);
    } else {
        s->st->undeliverable++;
        to_outcome(s, sl, O_DEAD);
    }
    sj_log(SJ_LOG_INFO, FAC, "intent %s: %s failed for good (%s: %s)%s%s", sl->in.id,
           ch_name(sl->ch), cls, sl->res.reason,
           sl->out == O_FALLBACK ? "; next channel: " : "; dead letter, no channel left",
           sl->out == O_FALLBACK ? ch_name(sl->fallback) : "");
}

/* What a send's result means for sl. */
static void decide(stage_t *s, slot_t *sl)
{
    int64_t now = now_of(s);
    s->last_outcome_mono = sj_mono_ms();
    if (sl->res.cls == SJ_CLASS_OK) {
        s->st->sent[sl->ch]++;
        to_outcome(s, sl, O_SENT);
        return;
    }
    if (sl->res.cls == SJ_CLASS_PERMANENT) {
        fail_channel(s, sl, "permanent");
        return;
    }
    /* A send the open breaker refused never reached the provider: it does
     * not count as an attempt and waits for the breaker, plus jitter. */
    if (sl->res.not_sent && sl->in.last_error && *sl->in.last_error) {
        char r[sizeof sl->res.reason];
        snprintf(r, sizeof r, "%.60s; last error: %.180s", sl->res.reason,
                 sl->in.last_error);
        memcpy(sl->res.reason, r, sizeof r);
    }
    unsigned attempt = sl->in.attempt + (sl->res.not_sent ? 0 : 1);
    int64_t first = sl->in.first_ms ? sl->in.first_ms : sl->sent_ms;
    int64_t delay = sj_backoff_delay_ms(sl->res.not_sent ? 1 : attempt, s->base_ms,
                                        s->max_delay_ms, next_rand(s));
    if (sl->res.not_sent)
        delay += sl->res.retry_after_ms;
    else if (sl->res.retry_after_ms > delay)
        delay = sl->res.retry_after_ms;
    sl->next_ms = now + delay;
    const char *limit = attempt >= s->max_attempts            ? "attempts"
                        : sl->next_ms - first > s->max_age_ms ? "age"
                        : sl->next_ms >= sl->in.expires_at    ? "expiry"
                                                              : NULL;
    if (limit) {
        char r[sizeof sl->res.reason];
        snprintf(r, sizeof r, "%.190s (retries exhausted: %s limit after %u attempts)",
                 sl->res.reason, limit, attempt);
        memcpy(sl->res.reason, r, sizeof r);
        sl->in.first_ms = first;
        fail_channel(s, sl, "exhausted");
        return;
    }
    s->st->retries++;
    sl->in.first_ms = first;
    to_outcome(s, sl, O_RETRY);
}

static void on_sent(void *opaque, const sj_send_result_t *r)
{
    slot_t *sl = opaque;
    sl->res = *r;
    decide(sl->stage, sl);
}

/* ---- intake and preparing --------------------------------------------------- */

static size_t intake_kafka(stage_t *s, int wait_ms, sj_kafka_idle_t *idle)
{
    size_t room = s->n_free < s->batch ? s->n_free : s->batch;
    if (!room) return 0;
    size_t n = sj_kafka_poll_batch(s->consumer, s->msgs, room, wait_ms, idle);
    for (size_t i = 0; i < n; i++) {
        rd_kafka_message_t *m = s->msgs[i];
        slot_t *sl = slot_alloc(s);
        part_t *p = part_of(s, m->partition);
        if (!p) {
            set_fatal(s, "out of memory");
            rd_kafka_message_destroy(m);
            continue;
        }
        sl->from_kafka = true;
        sl->partition = m->partition;
        sl->offset = m->offset;
        p->ring[(p->head + p->len++) % s->n_slots] = (uint32_t)(sl - s->slots);
        char problem[160];
        if (parse_intent(m->payload, m->len, &sl->in, problem, sizeof problem)) {
            s->new_list[s->n_new++] = (uint32_t)(sl - s->slots);
        } else {
            sj_log(SJ_LOG_WARN, FAC, "%s [%d] offset %lld: malformed intent skipped: %s",
                   rd_kafka_topic_name(m->rkt), (int)m->partition, (long long)m->offset,
                   problem);
            s->st->malformed++;
            json_decref(sl->in.root);
            memset(&sl->in, 0, sizeof sl->in);
            to_outcome(s, sl, O_MALFORMED);
        }
        rd_kafka_message_destroy(m);
    }
    s->st->intents += n;
    if (n) s->st->batches++;
    return n;
}

static sj_status_t redis_fail(stage_t *s, const char *what)
{
    char e[300];
    snprintf(e, sizeof e, "redis: %s: %s", what,
             s->redis->errstr[0] ? s->redis->errstr : "unexpected reply");
    set_fatal(s, e);
    return SJ_ERR_IO;
}

/* Reads the replies owed by commands appended after Kafka acknowledgements. */
static sj_status_t drain_post(stage_t *s)
{
    if (!s->post_replies) return SJ_OK;
    char err[300];
    sj_status_t st = sj_redis_drain(s->redis, s->post_replies, err, sizeof err);
    s->post_replies = 0;
    if (st != SJ_OK) set_fatal(s, err);
    return st;
}

static size_t intake_schedule(stage_t *s)
{
    int64_t now = now_of(s);
    size_t room = s->n_free < s->batch ? s->n_free : s->batch;
    if (!room || now < s->next_schedule_ms || drain_post(s) != SJ_OK) return 0;
    char err[300];
    redisReply *r = sj_ledger_take_due(s->redis, now, s->lease_ms, room, err, sizeof err);
    if (!r) {
        set_fatal(s, err);
        return 0;
    }
    size_t n = r->elements / 2;
    if (n < room) s->next_schedule_ms = now + SCHEDULE_EVERY_MS;
    for (size_t i = 0; i < n; i++) {
        const redisReply *id = r->element[2 * i], *v = r->element[2 * i + 1];
        slot_t *sl = slot_alloc(s);
        char problem[160];
        if (v->type == REDIS_REPLY_STRING &&
            parse_intent(v->str, (size_t)v->len, &sl->in, problem, sizeof problem) &&
            id->type == REDIS_REPLY_STRING && !strcmp(id->str, sl->in.id)) {
            s->new_list[s->n_new++] = (uint32_t)(sl - s->slots);
            continue;
        }
        /* Drop it from the schedule; keep its id (the slot's only string). */
        sj_log(SJ_LOG_WARN, FAC, "scheduled intent %.64s: malformed, dropped",
               id->type == REDIS_REPLY_STRING ? id->str : "?");
        s->st->malformed++;
        json_decref(sl->in.root);
        memset(&sl->in, 0, sizeof sl->in);
        sl->in.root = json_string(id->type == REDIS_REPLY_STRING ? id->str : "");
        sl->in.id = json_string_value(sl->in.root);
        sl->unschedule = true;
        to_outcome(s, sl, O_MALFORMED);
    }
    s->st->released += n;
    freeReplyObject(r);
    return n;
}

static int64_t ttl_of(const stage_t *s, const slot_t *sl, int64_t now)
{
    int64_t left = sl->in.expires_at > now ? (sl->in.expires_at - now) / 1000 : 0;
    return left + s->ttl_extra_s;
}

/* Renders sl's message and hands it to its channel. */
static void send_slot(stage_t *s, slot_t *sl, int64_t now)
{
    int64_t send_ms = s->o->replay_clock ? sl->in.not_before : now;
    sj_compose_in_t in = {.id = sl->in.id,
                          .campaign = sl->in.campaign,
                          .template_ref = sl->in.template_ref,
                          .language = sl->in.language,
                          .reason = sl->in.reason,
                          .expires_at = sl->in.expires_s,
                          .mandatory = sl->in.mandatory,
                          .context = sl->in.context,
                          .send_ms = send_ms,
                          .channel = sl->ch,
                          .contact = &sl->contact};
    char err[1024];
    json_t *record = NULL;
    sj_buf_reset(&sl->email);
    sj_status_t st =
        sj_compose_render(s->compose, &in, &sl->email, &record, err, sizeof err);
    sl->sent_ms = now;
    if (st == SJ_ERR_NOMEM) {
        set_fatal(s, "out of memory composing a message");
        return;
    }
    if (st != SJ_OK) {
        s->st->failed++;
        sj_log(SJ_LOG_ERROR, FAC, "intent %s (%s, %s, %s): not rendered: %s", sl->in.id,
               sl->in.template_ref, sl->in.language, ch_name(sl->ch), err);
        snprintf(sl->res.reason, sizeof sl->res.reason, "render: %.200s", err);
        fail_channel(s, sl, "permanent");
        return;
    }
    const char *sender =
        sl->in.nis ? sj_compose_sms_sender(s->compose, sl->in.nis) : NULL;
    sj_channel_msg_t m = {.id = sl->in.id,
                          .channel = sl->ch,
                          .to = &sl->contact,
                          .email = sl->email.data,
                          .email_len = sl->email.len,
                          .record = record,
                          .sms_sender = sender ? sender : s->sms_sender};
    bool now_done = false;
    sl->st = SL_SENDING;
    s->sending++;
    if (!s->first_send_mono) s->first_send_mono = sj_mono_ms();
    st = sj_channels_send(s->channels, &m, on_sent, sl, &now_done, &sl->res, err,
                          sizeof err);
    json_decref(record);
    if (st != SJ_OK)
        set_fatal(s, err);
    else if (now_done)
        decide(s, sl);
}

/* After the claim: route, render and send, or say why not. */
static void after_claim(stage_t *s, slot_t *sl, int64_t now)
{
    int64_t at = s->o->replay_clock ? sl->in.not_before : now;
    if (sl->in.expires_at <= at) {
        sl->why = SJ_SUPPRESS_EXPIRED;
        s->st->suppressed[sl->why]++;
        to_outcome(s, sl, O_SUPPRESSED);
        return;
    }
    if (!choose(sl, sl->in.failed, &sl->ch, &sl->why)) {
        s->st->suppressed[sl->why]++;
        to_outcome(s, sl, O_SUPPRESSED);
        return;
    }
    sl->has_ch = true;
    if (sj_channels_via(s->channels, sl->ch) == SJ_VIA_OUTBOX &&
        sj_channels_outbox_elsewhere(s->channels, sl->ch, sl->in.id)) {
        s->st->duplicates++;
        to_outcome(s, sl, O_DUPLICATE);
        return;
    }
    send_slot(s, sl, now);
}

/* Reads one claim reply for sl and acts on it. */
static sj_status_t on_claim(stage_t *s, slot_t *sl, const redisReply *r, int64_t now)
{
    sj_claim_t c;
    sj_ledger_parse_claim(r, &c);
    if (c.result == SJ_CLAIM_ERROR) {
        char e[300];
        snprintf(e, sizeof e, "redis: claiming intent %s: %s", sl->in.id,
                 r && r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
        set_fatal(s, e);
        return SJ_ERR;
    }
    if (c.unpublished && c.t_len) {
        sl->re_t = strndup(c.t, c.t_len);
        sl->re_dl = c.dl_len ? strndup(c.dl, c.dl_len) : NULL;
        if (!sl->re_t || (c.dl_len && !sl->re_dl)) return SJ_ERR_NOMEM;
    }
    switch (c.result) {
    case SJ_CLAIM_FINAL:
    case SJ_CLAIM_SCHEDULED:
        s->st->duplicates++;
        sl->unschedule = !sl->from_kafka && c.result == SJ_CLAIM_FINAL;
        to_outcome(s, sl, O_DUPLICATE);
        break;
    case SJ_CLAIM_BUSY:
        s->st->busy++;
        sl->next_ms = c.since + s->lease_ms;
        to_outcome(s, sl, O_BUSY);
        break;
    case SJ_CLAIM_RECOVERED:
        s->st->recovered++;
        sj_log(SJ_LOG_INFO, FAC,
               "intent %s: was in flight when this instance stopped; sending it again "
               "(same reference)",
               sl->in.id);
        /* fall through */
    default:
        sl->claimed = true;
        after_claim(s, sl, now);
    }
    return SJ_OK;
}

/* The NEW slots: one Redis round trip of claims and profile reads, then
 * each is sent or decided. */
static sj_status_t prepare(stage_t *s)
{
    int64_t now = now_of(s);
    size_t n = s->n_new, replies = 0;
    s->n_new = 0;
    if (drain_post(s) != SJ_OK) return SJ_ERR_IO;
    uint32_t *todo = s->new_list;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        slot_t *sl = &s->slots[todo[i]];
        if (table_find(s, sl->in.id)) { /* the same intent is in this window */
            if (sl->from_kafka) s->st->duplicates++;
            sl->next_ms = now + REPARK_MS;
            to_outcome(s, sl, sl->from_kafka ? O_DUPLICATE : O_BUSY);
            continue;
        }
        table_add(s, sl);
        if (sl->from_kafka && sl->in.not_before > now) {
            sl->next_ms = sl->in.not_before;
            s->st->scheduled++;
            to_outcome(s, sl, O_HOLD);
            continue;
        }
        int64_t at = s->o->replay_clock ? sl->in.not_before : now;
        sj_status_t st =
            sj_ledger_append_claim(s->redis, sl->in.id, s->owner, now, s->lease_ms,
                                   sl->from_kafka, ttl_of(s, sl, now));
        replies++;
        sl->has_contact = sl->in.expires_at > at;
        if (st == SJ_OK && sl->has_contact)
            st = sj_profile_append_read_full(s->redis, sl->in.resident, &replies);
        if (st != SJ_OK) return redis_fail(s, "buffering commands");
        todo[k++] = todo[i];
    }
    sj_profile_full_t *p = malloc(sizeof *p);
    if (!p) return SJ_ERR_NOMEM;
    sj_status_t st = SJ_OK;
    for (size_t i = 0; i < k && st == SJ_OK; i++) {
        slot_t *sl = &s->slots[todo[i]];
        void *claim = NULL, *prof[2] = {NULL, NULL};
        if (redisGetReply(s->redis, &claim) != REDIS_OK) {
            st = redis_fail(s, "reading claims");
            break;
        }
        for (int j = 0; sl->has_contact && j < 2; j++)
            if (redisGetReply(s->redis, &prof[j]) != REDIS_OK)
                st = redis_fail(s, "reading profiles");
        if (st == SJ_OK && sl->has_contact) {
            redisReply *pr[2] = {prof[0], prof[1]};
            if (sj_profile_from_replies(pr, 2, p) == SJ_OK)
                sj_contact_from_profile(p, sl->in.topic, &sl->contact);
            else
                st = redis_fail(s, "reading a profile");
        }
        if (st == SJ_OK) st = on_claim(s, sl, claim, now);
        if (claim) freeReplyObject(claim);
        for (int j = 0; j < 2; j++)
            if (prof[j]) freeReplyObject(prof[j]);
    }
    free(p);
    return s->fatal ? SJ_ERR : st;
}

/* ---- recording outcomes ----------------------------------------------------- */

typedef struct {
    char *status, *dl;
    size_t exposure; /* 1 + the index of the exposure record's reply, or 0 */
} recs_t;

/* Appends sl's Redis writes; *replies counts them. */
static sj_status_t append_writes(stage_t *s, slot_t *sl, const recs_t *r, int64_t now,
                                 size_t *replies)
{
    redisContext *rc = s->redis;
    const char *id = sl->in.id;
    int64_t ttl = ttl_of(s, sl, now);
    sj_status_t st = SJ_OK;
    char *json = NULL;
    switch (sl->out) {
    case O_SENT:
    case O_DEAD:
    case O_SUPPRESSED:
        st = sj_ledger_append_transition(rc, id,
                                         sl->out == O_SENT   ? "sent"
                                         : sl->out == O_DEAD ? "dead"
                                                             : "suppressed",
                                         s->owner, now, r->status, r->dl, ttl);
        *replies += 2;
        sl->mark_published = true;
        sl->unschedule = !sl->from_kafka;
        break;
    case O_RETRY:
    case O_FALLBACK:
        if (sl->out == O_FALLBACK) {
            sl->in.failed |= 1u << sl->ch;
            sl->in.attempt = 0;
            sl->in.first_ms = 0;
            sl->next_ms = now;
        } else if (!sl->res.not_sent) {
            sl->in.attempt++;
        }
        st = sj_ledger_append_transition(rc, id, "retry", s->owner, now, r->status, r->dl,
                                         ttl);
        if (st == SJ_OK && !(json = schedule_json(sl, true))) st = SJ_ERR_NOMEM;
        if (st == SJ_OK) st = sj_ledger_append_schedule(rc, id, json, sl->next_ms);
        *replies += 4;
        sl->mark_published = true;
        break;
    case O_HOLD:
    case O_BUSY:
        if (!(json = schedule_json(sl, false))) return SJ_ERR_NOMEM;
        st = sj_ledger_append_schedule(rc, id, json, sl->next_ms);
        *replies += 2;
        break;
    default:
        break;
    }
    free(json);
    if (sl->re_t) sl->mark_published = true;
    return st;
}

static void produce(stage_t *s, slot_t *sl, const char *topic, const char *json)
{
    const char *key = sl->in.resident ? sl->in.resident : sl->in.id;
    for (int tries = 0;; tries++) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            s->producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, strlen(key)),
            RD_KAFKA_V_VALUE((void *)json, strlen(json)),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(sl),
            RD_KAFKA_V_END);
        if (!e) {
            sl->pending_dr++;
            s->st->records++;
            return;
        }
        if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL && tries < SJ_KAFKA_QUEUE_FULL_RETRIES) {
            rd_kafka_poll(s->producer, 100);
            continue;
        }
        char msg[300];
        snprintf(msg, sizeof msg, "kafka: producing to %s: %s", topic,
                 rd_kafka_err2str(e));
        set_fatal(s, msg);
        return;
    }
}

/* After Kafka acknowledged all of sl's records (or there were none). */
static void finish_slot(stage_t *s, slot_t *sl)
{
    if (sl->mark_published && sj_ledger_append_published(s->redis, sl->in.id) == SJ_OK)
        s->post_replies++;
    if (sl->unschedule && sj_ledger_append_unschedule(s->redis, sl->in.id) == SJ_OK)
        s->post_replies += 2;
    if (sl->st == SL_PUBLISH) s->publishing--;
    sl->st = SL_DONE;
    if (!sl->from_kafka) slot_free(s, sl);
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    stage_t *s = opaque;
    slot_t *sl = m->_private;
    if (m->err) {
        char msg[300];
        snprintf(msg, sizeof msg, "kafka: a %s record was not acknowledged: %s",
                 rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err));
        set_fatal(s, msg);
        return;
    }
    if (sl && --sl->pending_dr == 0) finish_slot(s, sl);
}

/* Appends an HINCRBY per field of counts ({name: {field: n}}, the hash of
 * each name being key(name)) and empties it; *replies counts them. */
static sj_status_t flush_counters(stage_t *s, json_t *counts,
                                  void (*key)(char[SJ_KEY_MAX], const char *),
                                  size_t *replies)
{
    const char *camp, *field;
    json_t *fields, *v;
    sj_status_t st = SJ_OK;
    json_object_foreach(counts, camp, fields)
    {
        char k[SJ_KEY_MAX], by[24];
        key(k, camp);
        json_object_foreach(fields, field, v)
        {
            snprintf(by, sizeof by, "%lld", (long long)json_integer_value(v));
            const char *argv[] = {"HINCRBY", k, field, by};
            if (st == SJ_OK &&
                redisAppendCommandArgv(s->redis, 4, argv, NULL) != REDIS_OK)
                st = SJ_ERR_NOMEM;
            (*replies)++;
        }
    }
    json_object_clear(counts);
    return st;
}

/* The counter field of sl's outcome, or NULL. */
static const char *counter_field(const slot_t *sl, char *buf, size_t size)
{
    const char *word = status_word(sl->out);
    if (!word || sl->out == O_HOLD) return NULL;
    if (sl->out == O_SUPPRESSED)
        snprintf(buf, size, "suppressed.%s", sj_suppress_name(sl->why));
    else
        snprintf(buf, size, "%s.%s", ch_name(sl->ch), word);
    return buf;
}

/* Experiment exposure. A resident is exposed to an experiment when the first
 * message of one of its campaigns is sent to them (the holdout, sent nothing,
 * is exposed by the segment stage when its message would have been sent):
 * HSETNX sj:res:{P}:exposure <experiment> "<variant> <ms>", ms being the
 * time of the "sent" status record (sent_at()), and the reply 1 (a new record) counts
 * the resident in sj:{exp}:<experiment> "<variant>|exposed". The record is
 * the guard: a message sent again (a crash replay, a reminder, a second
 * trigger) finds it and counts nothing. The counter is written in one more
 * round trip right after the records (they are in different hash slots): a
 * crash in between loses those counts, an undercount bounded by one flush,
 * never a double count. The segment stage's conversion script reads the
 * record (segments/engine.c). */
static sj_status_t append_exposure(stage_t *s, slot_t *sl, int64_t now, recs_t *r,
                                   size_t *replies)
{
    const intent_t *w = &sl->in;
    if (sl->out != O_SENT || !w->experiment) return SJ_OK;
    char key[SJ_KEY_MAX], val[EXPERIMENT_MAX + 24];
    sj_key_res(key, w->resident, ":exposure");
    snprintf(val, sizeof val, "%s %lld", w->variant, (long long)sent_at(s, sl, now));
    const char *argv[] = {"HSETNX", key, w->experiment, val};
    if (redisAppendCommandArgv(s->redis, 4, argv, NULL) != REDIS_OK) return SJ_ERR_NOMEM;
    r->exposure = ++*replies;
    return SJ_OK;
}

/* Reads the n replies of a flush; counts the new exposures among them and
 * writes those counts (one more round trip, only when there are some). */
static sj_status_t drain_exposures(stage_t *s, const recs_t *recs, size_t n_recs,
                                   size_t n, char *errstr, size_t errstr_size)
{
    sj_status_t st = SJ_OK;
    size_t next = 0; /* recs[next] is the next slot that may own a reply */
    for (size_t i = 0; i < n; i++) {
        void *reply = NULL;
        if (redisGetReply(s->redis, &reply) != REDIS_OK) {
            snprintf(errstr, errstr_size, "redis: %s", s->redis->errstr);
            return SJ_ERR_IO;
        }
        redisReply *rp = reply;
        if (rp->type == REDIS_REPLY_ERROR && st == SJ_OK) {
            snprintf(errstr, errstr_size, "redis: %s", rp->str);
            st = SJ_ERR;
        }
        while (next < n_recs && recs[next].exposure <= i) /* none, or passed */
            next++;
        if (next < n_recs && recs[next].exposure == i + 1 &&
            rp->type == REDIS_REPLY_INTEGER && rp->integer == 1) {
            const slot_t *sl = &s->slots[s->outcome_list[next]];
            json_t *e = json_object_get(s->exposed, sl->in.experiment);
            if (!e) {
                e = json_object();
                json_object_set_new(s->exposed, sl->in.experiment, e);
            }
            char field[EXPERIMENT_MAX + 16];
            snprintf(field, sizeof field, "%s|exposed", sl->in.variant);
            json_t *v = json_object_get(e, field);
            json_object_set_new(e, field,
                                json_integer(v ? json_integer_value(v) + 1 : 1));
            s->st->exposed++;
        }
        freeReplyObject(rp);
    }
    if (st != SJ_OK || !json_object_size(s->exposed)) return st;
    size_t k = 0;
    st = flush_counters(s, s->exposed, sj_key_exp, &k);
    if (st == SJ_OK) st = sj_redis_drain(s->redis, k, errstr, errstr_size);
    return st;
}

/* The OUTCOME slots: outbox sync, one Redis round trip of their writes,
 * then their records to Kafka. */
static sj_status_t flush(stage_t *s)
{
    if (!s->n_outcome) return SJ_OK;
    char err[512];
    int64_t now = now_of(s);
    size_t n = s->n_outcome, replies = s->post_replies;
    s->post_replies = 0;
    if (sj_channels_sync(s->channels, err, sizeof err) != SJ_OK) {
        set_fatal(s, err);
        return SJ_ERR_IO;
    }
    recs_t *recs = calloc(n, sizeof *recs);
    if (!recs) return SJ_ERR_NOMEM;
    sj_status_t st = SJ_OK;
    for (size_t i = 0; i < n && st == SJ_OK; i++) {
        slot_t *sl = &s->slots[s->outcome_list[i]];
        char field[96];
        if (sl->out != O_MALFORMED && sl->out != O_DUPLICATE && sl->out != O_BUSY &&
            !(recs[i].status = status_record(s, sl, now)))
            st = SJ_ERR_NOMEM;
        if (st == SJ_OK && (sl->out == O_FALLBACK || sl->out == O_DEAD) &&
            !(recs[i].dl = dead_letter_record(sl, now)))
            st = SJ_ERR_NOMEM;
        /* the exposure record first: a crash that cuts the pipeline short
         * leaves no sent intent without it (only its count may be lost) */
        if (st == SJ_OK) st = append_exposure(s, sl, now, &recs[i], &replies);
        if (st == SJ_OK) st = append_writes(s, sl, &recs[i], now, &replies);
        if (st == SJ_OK && counter_field(sl, field, sizeof field)) count(s, sl, field);
        if (st == SJ_OK && sl->out == O_DEAD) count(s, sl, "undeliverable");
    }
    if (st == SJ_OK) st = flush_counters(s, s->counters, sj_key_stats, &replies);
    if (st == SJ_OK) st = drain_exposures(s, recs, n, replies, err, sizeof err);
    if (st != SJ_OK) set_fatal(s, st == SJ_ERR_NOMEM ? "out of memory" : err);
    for (size_t i = 0; i < n; i++) {
        slot_t *sl = &s->slots[s->outcome_list[i]];
        if (!s->fatal) {
            if (sl->re_t) produce(s, sl, s->t_status, sl->re_t);
            if (sl->re_dl && *sl->re_dl) produce(s, sl, s->t_dl, sl->re_dl);
            if (sl->re_t) s->st->republished++;
            if (recs[i].status) produce(s, sl, s->t_status, recs[i].status);
            if (recs[i].dl) produce(s, sl, s->t_dl, recs[i].dl);
        }
        free(recs[i].status);
        free(recs[i].dl);
        if (s->fatal) continue;
        if (sl->pending_dr) {
            sl->st = SL_PUBLISH;
            s->publishing++;
        } else {
            finish_slot(s, sl);
        }
    }
    s->n_outcome = 0;
    free(recs);
    return s->fatal ? SJ_ERR : SJ_OK;
}

/* Stores the offsets up to which every slot is done, and frees those. */
static void advance_offsets(stage_t *s)
{
    rd_kafka_topic_partition_list_t *l = NULL;
    const char *topic = sj_conf_get(s->conf, "topic.notifications");
    for (size_t i = 0; i < s->n_parts; i++) {
        part_t *p = &s->parts[i];
        bool moved = false;
        while (p->len) {
            slot_t *sl = &s->slots[p->ring[p->head]];
            if (sl->st != SL_DONE) break;
            p->next = sl->offset + 1;
            slot_free(s, sl);
            p->head = (p->head + 1) % s->n_slots;
            p->len--;
            moved = true;
        }
        if (!moved) continue;
        if (!l) l = rd_kafka_topic_partition_list_new((int)s->n_parts);
        rd_kafka_topic_partition_list_add(l, topic, p->partition)->offset = p->next;
    }
    if (!l) return;
    rd_kafka_resp_err_t e = rd_kafka_offsets_store(s->consumer, l);
    if (e)
        sj_log(SJ_LOG_INFO, "kafka",
               "offsets not stored (%s): partitions were reassigned; the new owner "
               "replays them and finds them done",
               rd_kafka_err2str(e));
    rd_kafka_topic_partition_list_destroy(l);
}

/* ---- setup and the loop ----------------------------------------------------- */

static sj_status_t setup(stage_t *s, char *errstr, size_t errstr_size)
{
    const sj_conf_t *c = s->conf;
    const char *tdir =
        s->o->templates_dir ? s->o->templates_dir : sj_conf_get(c, "templates.dir");
    sj_status_t st;
    if (!(s->compose =
              sj_compose_new(tdir, sj_conf_get(c, "email.from"),
                             sj_conf_get(c, "email.domain"), errstr, errstr_size)))
        return SJ_ERR_INPUT;
    if (!(s->channels = sj_channels_new(c, s->o->outbox_dir, &st, errstr, errstr_size)))
        return st;
    static const char *const timeouts[] = {"smtp.timeout-ms", "sms.timeout-ms",
                                           "app.timeout-ms"};
    for (int k = 0; k < SJ_ROUTE_CHANNELS; k++)
        if (sj_channels_via(s->channels, k) != SJ_VIA_OUTBOX &&
            sj_conf_get_int(c, timeouts[k]) >= s->lease_ms)
            sj_log(SJ_LOG_WARN, FAC,
                   "deliver.lease-ms (%lld) is not longer than %s (%lld): another "
                   "instance may take over a send still in flight and send it twice",
                   (long long)s->lease_ms, timeouts[k],
                   (long long)sj_conf_get_int(c, timeouts[k]));
    s->redis = sj_redis_connect(sj_conf_get(c, "redis.url"),
                                (int)sj_conf_get_int(c, "redis.timeout-ms"), errstr,
                                errstr_size);
    if (!s->redis) return SJ_ERR_IO;
    if (!(s->producer = sj_kafka_producer_new(c, on_delivery, s, errstr, errstr_size)))
        return SJ_ERR;
    int timeout = (int)sj_conf_get_int(c, "kafka.timeout-ms");
    int parts = (int)sj_conf_get_int(c, "topic.partitions");
    if ((st = sj_kafka_topic_ensure(s->producer, s->t_status, parts, timeout, errstr,
                                    errstr_size)) != SJ_OK ||
        (st = sj_kafka_topic_ensure(s->producer, s->t_dl, parts, timeout, errstr,
                                    errstr_size)) != SJ_OK)
        return st;
    /* Static membership: a restarted instance (same deliver.instance) takes
     * its partitions back at once instead of after the session timeout. */
    const char *topic = sj_conf_get(c, "topic.notifications");
    char member[300];
    snprintf(member, sizeof member, "seintje-deliver-%.200s", s->owner);
    s->consumer = sj_kafka_consumer_open(c, sj_conf_get(c, "deliver.group"), member,
                                         &topic, 1, 0, errstr, errstr_size);
    return s->consumer ? SJ_OK : SJ_ERR;
}

static sj_status_t init(stage_t *s)
{
    const sj_conf_t *c = s->conf;
    s->owner = sj_conf_get(c, "deliver.instance");
    s->t_status = sj_conf_get(c, "topic.delivery-status");
    s->t_dl = sj_conf_get(c, "topic.dead-letter");
    s->sms_sender = sj_conf_get(c, "sms.sender");
    s->lease_ms = sj_conf_get_int(c, "deliver.lease-ms");
    s->base_ms = sj_conf_get_int(c, "deliver.retry-base-ms");
    s->max_delay_ms = sj_conf_get_int(c, "deliver.retry-max-delay-ms");
    s->max_age_ms = sj_conf_get_int(c, "deliver.retry-max-age-ms");
    s->max_attempts = (unsigned)sj_conf_get_int(c, "deliver.retry-max-attempts");
    s->fallback = sj_conf_get_bool(c, "deliver.fallback");
    s->ttl_extra_s = sj_conf_get_int(c, "deliver.state-ttl-days") * 86400;
    s->n_slots = (size_t)sj_conf_get_int(c, "deliver.max-in-flight");
    s->batch = s->o->batch_max ? s->o->batch_max : SJ_DELIVER_BATCH_DEFAULT;
    if (s->batch > SJ_DELIVER_BATCH_MAX) s->batch = SJ_DELIVER_BATCH_MAX;
    if (s->batch > s->n_slots) s->batch = s->n_slots;
    size_t tsize = 16;
    while (tsize < 2 * s->n_slots) tsize *= 2;
    s->table_mask = tsize - 1;
    s->fixed_clock = s->o->now_ms || getenv("SEINTJE_NOW");
    s->clock0 = s->o->now_ms ? s->o->now_ms : sj_now_ms();
    s->mono0 = sj_mono_ms();
    s->rng = (uint64_t)sj_mono_us() ^ ((uint64_t)getpid() << 32);
    s->slots = calloc(s->n_slots, sizeof *s->slots);
    s->free_list = calloc(s->n_slots, sizeof *s->free_list);
    s->new_list = calloc(s->n_slots, sizeof *s->new_list);
    s->outcome_list = calloc(s->n_slots, sizeof *s->outcome_list);
    s->table = calloc(tsize, sizeof *s->table);
    s->msgs = calloc(s->batch, sizeof *s->msgs);
    s->counters = json_object();
    s->exposed = json_object();
    if (!s->slots || !s->free_list || !s->new_list || !s->outcome_list || !s->table ||
        !s->msgs || !s->counters || !s->exposed)
        return SJ_ERR_NOMEM;
    for (size_t i = 0; i < s->n_slots; i++) {
        sj_buf_init(&s->slots[i].email, SJ_EMAIL_MAX_MESSAGE);
        s->free_list[s->n_free++] = (uint32_t)(s->n_slots - 1 - i);
    }
    return SJ_OK;
}

static void teardown(stage_t *s)
{
    if (s->producer)
        rd_kafka_flush(s->producer, (int)sj_conf_get_int(s->conf, "kafka.timeout-ms"));
    if (s->redis && s->redis->err == 0 && !s->fatal) {
        drain_post(s);
        char err[200];
        sj_ledger_next_due(s->redis, &s->st->pending, err, sizeof err);
    }
    if (s->consumer && !s->fatal) advance_offsets(s);
    if (s->consumer) {
        rd_kafka_commit(s->consumer, NULL, 0);
        rd_kafka_consumer_close(s->consumer);
        rd_kafka_destroy(s->consumer);
    }
    if (s->channels)
        sj_channels_report(s->channels, s->st->report, sizeof s->st->report, "");
    sj_channels_destroy(s->channels);
    if (s->producer) rd_kafka_destroy(s->producer);
    if (s->redis) redisFree(s->redis);
    sj_compose_destroy(s->compose);
    for (size_t i = 0; s->slots && i < s->n_slots; i++) {
        json_decref(s->slots[i].in.root);
        free(s->slots[i].re_t);
        free(s->slots[i].re_dl);
        sj_buf_free(&s->slots[i].email);
    }
    for (size_t i = 0; i < s->n_parts; i++) free(s->parts[i].ring);
    free(s->parts);
    free(s->slots);
    free(s->free_list);
    free(s->new_list);
    free(s->outcome_list);
    free(s->table);
    free(s->msgs);
    json_decref(s->counters);
    json_decref(s->exposed);
}

/* Whether the run may end: -e and nothing arrived, nothing in the window,
 * nothing due in the schedule within the idle time. */
static bool idle_done(stage_t *s, sj_kafka_idle_t *idle)
{
    if (s->o->until_idle_ms < 0 || s->n_free != s->n_slots) return false;
    if (!sj_kafka_idle_reached(idle, s->consumer, s->o->until_idle_ms)) return false;
    if (drain_post(s) != SJ_OK) return true;
    char err[300];
    int64_t due = sj_ledger_next_due(s->redis, NULL, err, sizeof err);
    if (due == INT64_MIN) {
        set_fatal(s, err);
        return true;
    }
    return due < 0 || due > now_of(s) + s->o->until_idle_ms;
}

static void loop(stage_t *s)
{
    sj_kafka_idle_t idle;
    sj_kafka_idle_init(&idle);
    char err[512];
    bool full = false;
    while (!s->fatal) {
        bool stopping = s->o->stop && *s->o->stop;
        size_t in = 0;
        if (!stopping && !s->n_free && !full) s->st->window_full++;
        full = !s->n_free;
        if (!stopping) {
            bool quiet = s->n_free == s->n_slots;
            in += intake_kafka(s, quiet ? POLL_MS : 0, &idle);
            in += intake_schedule(s);
        }
        if (s->n_new && prepare(s) != SJ_OK) break;
        int wait = in || s->n_outcome ? 0 : s->sending ? DRAIN_MS : 0;
        if (sj_channels_run(s->channels, wait, err, sizeof err) < 0) set_fatal(s, err);
        if (!s->fatal && flush(s) != SJ_OK) break;
        rd_kafka_poll(s->producer, !in && !s->sending && s->publishing ? DRAIN_MS : 0);
        advance_offsets(s);
        if (stopping && s->n_free == s->n_slots) break;
        if (!in && idle_done(s, &idle)) break;
    }
    sj_kafka_idle_free(&idle);
}

sj_status_t sj_deliver_run(const sj_conf_t *conf, const sj_deliver_opts_t *o,
                           sj_deliver_stats_t *stats, char *errstr, size_t errstr_size)
{
    memset(stats, 0, sizeof *stats);
    int64_t t0 = sj_mono_ms();
    stage_t s = {.conf = conf, .o = o, .st = stats};
    sj_status_t st = init(&s);
    if (st == SJ_ERR_NOMEM) sj_seterr(errstr, errstr_size, "out of memory");
    if (st == SJ_OK) st = setup(&s, errstr, errstr_size);
    if (st == SJ_OK) {
        loop(&s);
        if (s.fatal) {
            sj_seterr(errstr, errstr_size, "%s", s.fatal_err);
            st = SJ_ERR;
        }
    }
    teardown(&s);
    stats->seconds = (double)(sj_mono_ms() - t0) / 1000.0;
    if (s.first_send_mono && s.last_outcome_mono > s.first_send_mono)
        stats->send_seconds = (double)(s.last_outcome_mono - s.first_send_mono) / 1000.0;
    return st;
}

void sj_deliver_print_summary(FILE *out, const char *prefix, const sj_deliver_stats_t *s)
{
    unsigned long long sent = 0;
    for (int k = 0; k < SJ_ROUTE_CHANNELS; k++) sent += s->sent[k];
    fprintf(out, "%sintents:         %llu (%llu malformed, skipped)\n", prefix,
            (unsigned long long)s->intents, (unsigned long long)s->malformed);
    fprintf(out, "%smessages:        email %llu, sms %llu, app %llu\n", prefix,
            (unsigned long long)s->sent[SJ_ROUTE_EMAIL],
            (unsigned long long)s->sent[SJ_ROUTE_SMS],
            (unsigned long long)s->sent[SJ_ROUTE_APP]);
    fprintf(out, "%ssuppressed:     ", prefix);
    for (int k = 0; k < SJ_SUPPRESS_REASONS; k++)
        fprintf(out, " %s %llu%s", sj_suppress_name((sj_suppress_t)k),
                (unsigned long long)s->suppressed[k],
                k + 1 < SJ_SUPPRESS_REASONS ? "," : "\n");
    fprintf(out, "%sfailed:          %llu (not renderable, see log), %llu duplicates\n",
            prefix, (unsigned long long)s->failed, (unsigned long long)s->duplicates);
    fprintf(
        out,
        "%sscheduled:       %llu parked, %llu released when due, %llu still pending\n",
        prefix, (unsigned long long)s->scheduled, (unsigned long long)s->released,
        (unsigned long long)s->pending);
    fprintf(out,
            "%sretries:         %llu scheduled; dead letters %llu (%llu went on to the "
            "next channel, %llu undeliverable)\n",
            prefix, (unsigned long long)s->retries, (unsigned long long)s->dead_letters,
            (unsigned long long)s->fallbacks, (unsigned long long)s->undeliverable);
    fprintf(out,
            "%srecovery:        %llu sent again after a crash, %llu held by another "
            "instance, %llu transitions published again\n",
            prefix, (unsigned long long)s->recovered, (unsigned long long)s->busy,
            (unsigned long long)s->republished);
    fprintf(out,
            "%srecords:         %llu status and dead-letter records; the window "
            "(deliver.max-in-flight) was full %llu times\n",
            prefix, (unsigned long long)s->records, (unsigned long long)s->window_full);
    fprintf(out, "%sexperiments:     %llu residents exposed for the first time\n", prefix,
            (unsigned long long)s->exposed);
    if (s->send_seconds > 0)
        fprintf(out, "%sthroughput:      %.0f messages/s (%llu in %.2f s of sending)\n",
                prefix, (double)sent / s->send_seconds, sent, s->send_seconds);
    if (s->report[0]) {
        const char *p = s->report;
        while (*p) {
            const char *nl = strchr(p, '\n');
            size_t len = nl ? (size_t)(nl - p) : strlen(p);
            fprintf(out, "%s%.*s\n", prefix, (int)len, p);
            p += len + (nl ? 1 : 0);
        }
    }
    fprintf(out, "%selapsed:         %.2f s\n", prefix, s->seconds);
}

/* ---- command -------------------------------------------------------------- */

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

#define OPT_UNTIL_IDLE 2000
#define OPT_REPLAY     2001
#define OPT_NOW        2002
#define OPT_BATCH      2003
#define OPT_OUTBOX     2004

static const char deliver_help[] =
    "usage: seintje deliver [options]\n"
    "Consumes notification intents (topic.notifications), reads each resident's profile\n"
    "from Redis at send time, chooses the channel, renders the templates in\n"
    "templates.dir and sends the message: by default one file per message under\n"
    "outbox.dir (email/<id>.eml, sms/<id>.json, app/<id>.json); with email.transport\n"
    "smtp, sms.transport webhook|twilio, app.transport inbox over the network, many\n"
    "at once, with per-provider rate limits (smtp.rate ...) and circuit breakers\n"
    "(breaker.*). Each intent is claimed in Redis first, so it is sent once.\n"
    "Temporary failures are retried from a Redis schedule with backoff\n"
    "(deliver.retry-*); permanent ones go to topic.dead-letter and on to the next\n"
    "channel. Every transition is a record on topic.delivery-status. Intents not\n"
    "yet due wait in the schedule. Runs until SIGINT/SIGTERM (in-flight sends are\n"
    "finished first), or until idle with -e. See also: seintje dead-letter.\n"
    "Secrets: smtp.password-file or SEINTJE_SMTP_PASSWORD, sms.api-key-file or\n"
    "SEINTJE_SMS_API_KEY, sms.twilio-token-file or SEINTJE_SMS_TWILIO_TOKEN,\n"
    "app.client-secret-file or SEINTJE_APP_CLIENT_SECRET.\n\n"
    "options:\n"
    "  -e                     stop once every partition is consumed, nothing is in\n"
    "                         flight and nothing is due within 2000 ms\n"
    "      --until-idle MS    same, with MS ms instead of 2000\n"
    "      --replay-clock     send each due intent as if at its not_before time\n"
    "      --now TIME         fixed \"now\" (RFC 3339; also SEINTJE_NOW)\n"
    "      --outbox DIR       same as -X outbox.dir=DIR\n"
    "      --batch N          intents per poll batch (default 500, at most "
    "10000)\n" SJ_CLI_COMMON_HELP;

static int parse_args(int argc, char **argv, sj_cli_t *cli, sj_deliver_opts_t *o)
{
    static const struct option longopts[] = {
        {"until-idle", required_argument, NULL, OPT_UNTIL_IDLE},
        {"replay-clock", no_argument, NULL, OPT_REPLAY},
        {"now", required_argument, NULL, OPT_NOW},
        {"batch", required_argument, NULL, OPT_BATCH},
        {"outbox", required_argument, NULL, OPT_OUTBOX},
        SJ_CLI_COMMON_LONGOPTS,
        {NULL, 0, NULL, 0}};
    int opt;
    int64_t v;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "e" SJ_CLI_COMMON_SHORTOPTS, longopts, NULL)) !=
           -1) {
        switch (opt) {
        case 'e':
            o->until_idle_ms = 2000;
            break;
        case OPT_UNTIL_IDLE:
            if (sj_parse_i64(optarg, &v) != SJ_OK || v < 0 || v > 3600000)
                return sj_cli_usage_error(
                    "deliver", "--until-idle: \"%s\" is not 0..3600000 ms", optarg);
            o->until_idle_ms = (int)v;
            break;
        case OPT_REPLAY:
            o->replay_clock = true;
            break;
        case OPT_NOW:
            if (sj_time_parse_rfc3339(optarg, strlen(optarg), &o->now_ms) != SJ_OK)
                return sj_cli_usage_error(
                    "deliver", "--now: \"%s\" is not an RFC 3339 time", optarg);
            break;
        case OPT_BATCH:
            if (sj_parse_i64(optarg, &v) != SJ_OK || v < 1 || v > SJ_DELIVER_BATCH_MAX)
                return sj_cli_usage_error("deliver", "--batch: \"%s\" is not 1..%d",
                                          optarg, SJ_DELIVER_BATCH_MAX);
            o->batch_max = (size_t)v;
            break;
        case OPT_OUTBOX:
            o->outbox_dir = optarg;
            break;
        default:
            if (sj_cli_common_opt(cli, opt, optarg) != 1) return SJ_EXIT_USAGE;
        }
    }
    if (optind < argc)
        return sj_cli_usage_error("deliver", "unexpected argument \"%s\"", argv[optind]);
    return SJ_EXIT_OK;
}

int sj_cmd_deliver(int argc, char **argv)
{
    sj_cli_t cli;
    if (sj_cli_init(&cli, "seintje deliver") != SJ_OK) return SJ_EXIT_FAILURE;
    sj_deliver_opts_t o = {.until_idle_ms = -1};
    int rc = parse_args(argc, argv, &cli, &o);
    if (rc == SJ_EXIT_OK && cli.help) {
        fputs(deliver_help, stdout);
        sj_cli_free(&cli);
        return SJ_EXIT_OK;
    }
    if (rc == SJ_EXIT_OK && sj_cli_finish(&cli) != SJ_OK) rc = SJ_EXIT_USAGE;
    if (rc != SJ_EXIT_OK) {
        sj_cli_free(&cli);
        return rc;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    o.stop = &stop_flag;
    sj_deliver_stats_t stats;
    char err[1024];
    sj_status_t st = sj_deliver_run(cli.conf, &o, &stats, err, sizeof err);
    sj_deliver_print_summary(stdout, "deliver: ", &stats);
    if (st != SJ_OK) {
        sj_log(SJ_LOG_ERROR, FAC, "%s", err);
        rc = st == SJ_ERR_INPUT ? SJ_EXIT_USAGE : SJ_EXIT_FAILURE;
    }
    sj_cli_free(&cli);
    return rc;
}
