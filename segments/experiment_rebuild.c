/* `seintje experiment rebuild EXPERIMENT`: the experiment counters
 * sj:{exp}:<experiment> (segments/keys.h) counted again from the topics the
 * live counts come from, without looking at Redis' per-resident records:
 *
 *   1. topic.delivery-status, from the beginning: every exposure record of
 *      the experiment (a "sent" record of the delivery stage, a held-back
 *      initial step of the holdout from the segment stage) goes into a table
 *      keyed by pseudonym that keeps each resident's earliest one (variant,
 *      time t0) -- what the live HSETNX keeps, whatever the order;
 *   2. topic.life-events, from the beginning: a goal event of one of the
 *      experiment's campaigns converts an exposed resident, once, when its
 *      time g has t0 <= g <= t0 + that campaign's window (the conversion
 *      script in segments/engine.c, append_conversion()). Events are read as
 *      the engine reads them (the scanner path, else jansson and
 *      sj_event_view()), so one the engine skips is skipped here too.
 *
 * The status topic goes first so that only exposed residents take memory
 * (an open-addressing table of 48-byte slots, at most 70% full: 70 to 140
 * bytes per exposed resident, at most MAX_RESIDENTS). Then the live counters
 * are read (HGETALL) and, with --write, replaced in one MULTI/EXEC. The
 * per-resident records (sj:res:{P}:exposure, :converted) are never written:
 * recreating them could bring back residents erased by `resident forget`.
 * Malformed records are counted and logged by topic, partition and offset,
 * never with their content, and skipped. */
#include "experiment_rebuild.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>
#include <librdkafka/rdkafka.h>

#include "core/cli.h"
#include "core/common.h"
#include "core/kafka.h"
#include "core/log.h"
#include "core/progress.h"
#include "core/redis.h"
#include "core/timeutil.h"
#include "segments/campaign.h"
#include "segments/fastevent.h"
#include "segments/intent.h"
#include "segments/keys.h"
#include "segments/profile.h"
#include "segments/segment.h"

#define CMD           "experiment rebuild"
#define FAC           "experiment"
#define DAY_MS        86400000LL
#define MAX_RESIDENTS (32u * 1024 * 1024) /* exposed residents kept (<= 3 GiB) */
#define MAX_VARIANTS  64                  /* distinct variant names */
#define MAX_SHOWN     100                 /* malformed positions listed per topic */
#define STATUS_MAX    (1024 * 1024)       /* bytes of a status record */

static const char usage[] =
    "usage: seintje experiment rebuild EXPERIMENT [--write] [--format text|json]\n"
    "\n"
    "Counts the residents exposed and converted per variant of an experiment\n"
    "again from Kafka and compares them with its counters in Redis\n"
    "(sj:{exp}:<experiment>). The experiment's campaigns are those in\n"
    "campaigns.dir whose \"experiment\" is EXPERIMENT (a campaign id is accepted\n"
    "too). Reads topic.delivery-status, then topic.life-events, each from its\n"
    "beginning to the end it had when its reading started (committed messages\n"
    "only), and counts as the engine does:\n"
    "  exposed    once per resident, at the earliest of the resident's exposure\n"
    "             records of the experiment: \"sent\" (stage deliver) and, in\n"
    "             the holdout, the initial step held back (stage segment,\n"
    "             \"suppressed\", reason \"holdout\"); the variant is that\n"
    "             record's. Records without \"experiment\" (written before\n"
    "             status records had it) count when their campaign is one of\n"
    "             the experiment's.\n"
    "  converted  once per exposed resident, when a goal event of one of the\n"
    "             campaigns is dated at or after the exposure and at most that\n"
    "             campaign's goal window_days after it. Life events the engine\n"
    "             rejects are skipped here too.\n"
    "It prints per variant the rebuilt counts, the live ones and the difference\n"
    "(rebuilt minus live), and per topic the records read, used (exposure\n"
    "records of the experiment; goal events of exposed residents) and\n"
    "malformed (logged by topic, partition and offset, never their content,\n"
    "and skipped). A terminal shows the records read as they are.\n"
    "\n"
    "Why the numbers may differ: the rebuild does not depend on the order in\n"
    "which the stages processed the messages. The engine checks the exposure\n"
    "when it processes a goal event, so a goal event processed before the\n"
    "delivery stage recorded a send dated earlier counts nothing live (only\n"
    "with clocks apart or a delivery stage lagging behind) but counts here. A\n"
    "crash between a per-resident record and its counter makes the live counts\n"
    "lower. Residents erased with `seintje resident forget` stay counted in\n"
    "both: their records remain in the topics, the counters are totals.\n"
    "\n"
    "--write replaces the counters with the rebuilt ones in one transaction\n"
    "(MULTI, DEL, HSET, EXEC). Stop `seintje segment` and `seintje deliver`\n"
    "first, or run it while both are idle: what they count between the end of\n"
    "the reading and the write is lost. Only the counters are written, never\n"
    "the per-resident records (sj:res:{P}:exposure, :converted): recreating\n"
    "them could bring back data of residents erased with `resident forget`.\n"
    "Without --write nothing is written.\n"
    "\n"
    "options:\n"
    "      --write            replace the Redis counters with the rebuilt ones\n"
    "      --format FMT       text (default) or json: {\"experiment\",\n"
    "                         \"campaigns\", \"key\", \"arms\": [{\"variant\",\n"
    "                         \"exposed\", \"converted\", \"live_exposed\",\n"
    "                         \"live_converted\"}], \"records\":\n"
    "                         {\"delivery_status\"|\"life_events\": {\"topic\",\n"
    "                         \"read\", \"used\", \"malformed\", \"malformed_at\":\n"
    "                         [{\"partition\", \"offset\", \"problem\"}] (the first\n"
    "                         100)}}, \"written\"}\n" SJ_CLI_COMMON_HELP "\n"
    "Settings: brokers, kafka.timeout-ms, kafka.*, topic.delivery-status,\n"
    "topic.life-events, redis.url, redis.timeout-ms, campaigns.dir.\n"
    "Exit codes: 0 ok (also when the counts differ); 1 Kafka, Redis or the\n"
    "output failed; 2 bad usage or an unknown experiment.\n";

/* ---- exposed residents ------------------------------------------------------ */

/* A resident's exposure: the pseudonym's 32 bytes, the earliest exposure
 * time and its variant (an index into rebuild_t.variants). */
typedef struct {
    uint8_t id[32];
    int64_t t0;
    uint16_t variant;
    bool used;
    bool converted;
} exposure_t;

/* Open addressing with linear probing; cap is a power of two, at most 70%
 * full. */
typedef struct {
    exposure_t *slots;
    size_t cap, n;
} table_t;

static bool hex_id(const char *s, uint8_t id[32])
{
    if (!s || strlen(s) != 2 * 32) return false;
    for (size_t i = 0; i < 64; i++) {
        char c = s[i];
        int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (v < 0) return false;
        id[i / 2] = (uint8_t)(i % 2 ? id[i / 2] | v : v << 4);
    }
    return true;
}

/* Pseudonyms are hashes already; the mix only guards the table against
 * records made to collide. */
static size_t id_hash(const uint8_t id[32])
{
    uint64_t h = 0x9e3779b97f4a7c15u;
    for (size_t i = 0; i < 32; i += 8) {
        uint64_t w;
        memcpy(&w, id + i, 8);
        h = (h ^ w) * 0xbf58476d1ce4e5b9u;
        h ^= h >> 31;
    }
    return (size_t)h;
}

static exposure_t *table_slot(exposure_t *slots, size_t cap, const uint8_t id[32])
{
    size_t i = id_hash(id) & (cap - 1);
    while (slots[i].used && memcmp(slots[i].id, id, 32)) i = (i + 1) & (cap - 1);
    return &slots[i];
}

static exposure_t *table_find(const table_t *t, const uint8_t id[32])
{
    if (!t->cap) return NULL;
    exposure_t *e = table_slot(t->slots, t->cap, id);
    return e->used ? e : NULL;
}

/* The resident's entry, new (used, the rest zero; *fresh) if absent.
 * SJ_ERR_NOMEM, or SJ_ERR_TOO_BIG past MAX_RESIDENTS. */
static sj_status_t table_add(table_t *t, const uint8_t id[32], exposure_t **out,
                             bool *fresh)
{
    if ((t->n + 1) * 10 > t->cap * 7) {
        size_t cap = t->cap ? 2 * t->cap : 1u << 16;
        exposure_t *slots = calloc(cap, sizeof *slots);
        if (!slots) return SJ_ERR_NOMEM;
        for (size_t i = 0; i < t->cap; i++)
            if (t->slots[i].used) *table_slot(slots, cap, t->slots[i].id) = t->slots[i];
        free(t->slots);
        t->slots = slots;
        t->cap = cap;
    }
    exposure_t *e = table_slot(t->slots, t->cap, id);
    *fresh = !e->used;
    if (*fresh && t->n >= MAX_RESIDENTS) return SJ_ERR_TOO_BIG;
    if (*fresh) {
        memset(e, 0, sizeof *e);
        memcpy(e->id, id, 32);
        e->used = true;
        t->n++;
    }
    *out = e;
    return SJ_OK;
}

/* ---- the state of a rebuild ------------------------------------------------- */

typedef struct {
    const char *name;  /* what the progress line calls it */
    const char *topic; /* its name in Kafka */
    uint64_t read, used, malformed;
    json_t *malformed_at; /* the first MAX_SHOWN positions */
    sj_progress_t *bar;
} topic_count_t;

typedef struct {
    char experiment[SJ_CAMPAIGN_ID_MAX];
    const sj_campaign_t *campaigns[SJ_CAMPAIGNS_MAX]; /* of the experiment */
    size_t n_campaigns;
    char variants[MAX_VARIANTS][SJ_CAMPAIGN_ID_MAX]; /* campaigns' first */
    size_t n_variants;
    uint64_t exposed[MAX_VARIANTS], converted[MAX_VARIANTS];
    uint64_t live_exposed[MAX_VARIANTS], live_converted[MAX_VARIANTS];
    table_t residents;
    topic_count_t status, life;
    sj_status_t st; /* a failure in a callback, which stops the reading */
    char err[512];
    /* the event parser's room (the engine's scanner path) */
    char arena[SJ_FAST_EVENT_MAX];
    sj_profile_update_t update;
} rebuild_t;

static const char *jstr(const json_t *o, const char *key)
{
    const json_t *j = json_object_get(o, key);
    return json_is_string(j) ? json_string_value(j) : NULL;
}

static bool eq(const char *a, const char *b)
{
    return a && b && !strcmp(a, b);
}

/* A variant name as campaigns and counter fields have them. */
static bool variant_name(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n >= SJ_CAMPAIGN_ID_MAX) return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.'))
            return false;
    return true;
}

/* The index of variant name (added when new), or -1 past MAX_VARIANTS
 * (rb->st and rb->err set). */
static int variant_index(rebuild_t *rb, const char *name, size_t len)
{
    for (size_t i = 0; i < rb->n_variants; i++)
        if (strlen(rb->variants[i]) == len && !memcmp(rb->variants[i], name, len))
            return (int)i;
    if (rb->n_variants == MAX_VARIANTS || len >= SJ_CAMPAIGN_ID_MAX) {
        rb->st = SJ_ERR_TOO_BIG;
        snprintf(rb->err, sizeof rb->err,
                 "experiment %s: more than %d variant names in its records and "
                 "counters, or one longer than %d bytes",
                 rb->experiment, MAX_VARIANTS, SJ_CAMPAIGN_ID_MAX - 1);
        return -1;
    }
    memcpy(rb->variants[rb->n_variants], name, len);
    rb->variants[rb->n_variants][len] = '\0';
    return (int)rb->n_variants++;
}

/* Counts and logs a malformed record by its position, never its content. */
static void malformed(topic_count_t *tc, const rd_kafka_message_t *m, const char *problem)
{
    tc->malformed++;
    sj_log(SJ_LOG_WARN, FAC, "%s [%d] offset %lld: skipped: %s", tc->topic,
           (int)m->partition, (long long)m->offset, problem);
    if (tc->malformed <= MAX_SHOWN && tc->malformed_at)
        json_array_append_new(tc->malformed_at,
                              json_pack("{s:i, s:I, s:s}", "partition", (int)m->partition,
                                        "offset", (json_int_t)m->offset, "problem",
                                        problem));
}

static bool our_campaign(const rebuild_t *rb, const char *id)
{
    for (size_t i = 0; id && i < rb->n_campaigns; i++)
        if (!strcmp(rb->campaigns[i]->id, id)) return true;
    return false;
}

/* ---- 1. exposures from topic.delivery-status -------------------------------- */

/* An exposure record: a message sent (any step: the first one sent exposes),
 * or the holdout's initial step held back. */
static bool exposure_kind(const json_t *r)
{
    const char *stage = jstr(r, "stage"), *status = jstr(r, "status");
    return (eq(stage, "deliver") && eq(status, "sent")) ||
           (eq(stage, "segment") && eq(status, "suppressed") &&
            eq(jstr(r, "reason"), "holdout") && eq(jstr(r, "step"), "initial"));
}

/* Does exposure record r belong to the experiment? *problem when it cannot
 * tell. */
static bool ours(const rebuild_t *rb, const json_t *r, const char **problem)
{
    const json_t *x = json_object_get(r, "experiment");
    if (x && !json_is_string(x)) {
        *problem = "experiment is not a string";
        return false;
    }
    if (x) return !strcmp(json_string_value(x), rb->experiment);
    return our_campaign(rb, jstr(r, "campaign")); /* from before "experiment" */
}

static void status_record(rebuild_t *rb, const rd_kafka_message_t *m, const json_t *r)
{
    const char *problem = NULL;
    if (!json_is_object(r)) {
        malformed(&rb->status, m, "not a JSON object");
        return;
    }
    if (!jstr(r, "stage") || !jstr(r, "status")) {
        malformed(&rb->status, m, "stage or status is missing or not a string");
        return;
    }
    if (!exposure_kind(r)) return;
    bool mine = ours(rb, r, &problem);
    if (problem) malformed(&rb->status, m, problem);
    if (!mine) return;
    uint8_t id[32];
    int64_t t = 0;
    const char *variant = jstr(r, "variant"), *time = jstr(r, "time");
    if (!hex_id(jstr(r, "resident"), id))
        problem = "resident is missing or not a 64-hex pseudonym";
    else if (!variant_name(variant))
        problem = "variant is missing or not a variant id";
    else if (!time || sj_time_parse_rfc3339(time, strlen(time), &t) != SJ_OK)
        problem = "time is missing or not an RFC 3339 time";
    if (problem) {
        malformed(&rb->status, m, problem);
        return;
    }
    rb->status.used++;
    int v = variant_index(rb, variant, strlen(variant));
    exposure_t *e = NULL;
    bool fresh = false;
    sj_status_t st = v < 0 ? rb->st : table_add(&rb->residents, id, &e, &fresh);
    if (st != SJ_OK) {
        rb->st = st;
        if (st == SJ_ERR_TOO_BIG && v >= 0)
            snprintf(rb->err, sizeof rb->err,
                     "experiment %s: more than %u exposed residents: beyond what a "
                     "rebuild keeps in memory",
                     rb->experiment, MAX_RESIDENTS);
        return;
    }
    if (fresh || t < e->t0) { /* the earliest exposure wins, as with HSETNX */
        e->t0 = t;
        e->variant = (uint16_t)v;
    }
}

static bool on_status(void *opaque, const rd_kafka_message_t *m)
{
    rebuild_t *rb = opaque;
    sj_progress_update(rb->status.bar, ++rb->status.read);
    if (m->len > STATUS_MAX) {
        malformed(&rb->status, m, "larger than 1 MiB");
        return true;
    }
    json_error_t jerr;
    json_t *r = json_loadb(m->payload ? m->payload : "", m->payload ? m->len : 0,
                           JSON_REJECT_DUPLICATES, &jerr);
    if (!r) {
        char p[96];
        snprintf(p, sizeof p, "invalid JSON at line %d column %d", jerr.line,
                 jerr.column);
        malformed(&rb->status, m, p);
    } else {
        status_record(rb, m, r);
    }
    json_decref(r);
    return rb->st == SJ_OK;
}

/* ---- 2. conversions from topic.life-events ---------------------------------- */

static bool goal_of(const sj_campaign_t *c, const char *type)
{
    for (size_t g = 0; g < c->n_goal_events; g++)
        if (!strcmp(c->goal_events[g], type)) return true;
    return false;
}

/* A goal event at g of an exposed resident: converted when some campaign of
 * the experiment with that goal has g in [t0, t0 + its window]. */
static void goal_event(rebuild_t *rb, const sj_event_view_t *ev)
{
    bool goal = false;
    for (size_t i = 0; !goal && i < rb->n_campaigns; i++)
        goal = goal_of(rb->campaigns[i], ev->type);
    uint8_t id[32];
    exposure_t *e =
        goal && hex_id(ev->subject, id) ? table_find(&rb->residents, id) : NULL;
    if (!e) return;
    rb->life.used++;
    for (size_t i = 0; !e->converted && i < rb->n_campaigns; i++) {
        const sj_campaign_t *c = rb->campaigns[i];
        if (goal_of(c, ev->type) && ev->time_ms >= e->t0 &&
            ev->time_ms - e->t0 <= (int64_t)c->goal_window_days * DAY_MS) {
            e->converted = true;
            rb->converted[e->variant]++;
        }
    }
}

/* Parses a life event as the engine does (segments/engine.c, parse_item()):
 * the scanner path, else the size bound, jansson and sj_event_view(); a
 * message key must be the subject. */
static bool on_life(void *opaque, const rd_kafka_message_t *m)
{
    rebuild_t *rb = opaque;
    sj_progress_update(rb->life.bar, ++rb->life.read);
    const char *p = m->payload ? m->payload : "";
    size_t len = m->payload ? m->len : 0;
    sj_event_view_t ev;
    json_t *root = NULL;
    char problem[160] = "";
    if (!sj_fast_event(p, len, rb->arena, NULL, NULL, 0, &ev, &rb->update)) {
        json_error_t jerr;
        if (len > SJ_SEGMENT_EVENT_MAX)
            snprintf(problem, sizeof problem, "larger than %d bytes",
                     SJ_SEGMENT_EVENT_MAX);
        else if (!(root = json_loadb(p, len, JSON_REJECT_DUPLICATES, &jerr)))
            snprintf(problem, sizeof problem, "invalid JSON at line %d column %d",
                     jerr.line, jerr.column);
        else
            sj_event_view(root, &ev, problem, sizeof problem);
    }
    if (!problem[0] && m->key &&
        (m->key_len != SJ_PSEUDONYM_LEN || memcmp(m->key, ev.subject, m->key_len)))
        snprintf(problem, sizeof problem, "message key differs from the resident");
    if (problem[0])
        malformed(&rb->life, m, problem);
    else if (ev.time) /* the engine takes only dated events as goal events */
        goal_event(rb, &ev);
    json_decref(root);
    return true;
}

/* ---- reading, Redis --------------------------------------------------------- */

static sj_status_t read_one(rebuild_t *rb, const sj_conf_t *conf, topic_count_t *tc,
                            const char *setting, sj_kafka_read_fn fn)
{
    tc->topic = sj_conf_get(conf, setting);
    tc->bar = sj_progress_new(tc->name, 0, "records");
    sj_status_t st = sj_kafka_read_topic(conf, tc->topic, setting, "seintje-rebuild", fn,
                                         rb, rb->err, sizeof rb->err);
    sj_progress_finish(tc->bar, tc->read);
    tc->bar = NULL;
    if (st == SJ_OK && rb->st != SJ_OK) st = rb->st;
    if (st == SJ_ERR_NOMEM) snprintf(rb->err, sizeof rb->err, "out of memory");
    return st;
}

static redisContext *redis_open(const sj_conf_t *conf, char *err, size_t err_size)
{
    return sj_redis_connect(sj_conf_get(conf, "redis.url"),
                            (int)sj_conf_get_int(conf, "redis.timeout-ms"), err,
                            err_size);
}

/* Reads the live counters "<variant>|exposed" and "<variant>|converted". */
static sj_status_t read_live(rebuild_t *rb, redisContext *rc, const char *key)
{
    redisReply *h = redisCommand(rc, "HGETALL %s", key);
    if (!h || h->type != REDIS_REPLY_ARRAY) {
        snprintf(rb->err, sizeof rb->err, "redis: HGETALL %s: %s", key,
                 h && h->type == REDIS_REPLY_ERROR ? h->str : rc->errstr);
        if (h) freeReplyObject(h);
        return SJ_ERR_IO;
    }
    for (size_t i = 0; rb->st == SJ_OK && i + 1 < h->elements; i += 2) {
        const redisReply *f = h->element[i], *v = h->element[i + 1];
        const char *bar = f->type == REDIS_REPLY_STRING ? strrchr(f->str, '|') : NULL;
        uint64_t *counts = !bar                         ? NULL
                           : !strcmp(bar, "|exposed")   ? rb->live_exposed
                           : !strcmp(bar, "|converted") ? rb->live_converted
                                                        : NULL;
        if (!counts || v->type != REDIS_REPLY_STRING) {
            sj_log(SJ_LOG_WARN, FAC, "%s: field \"%.80s\" is not a counter: left out",
                   key, f->type == REDIS_REPLY_STRING ? f->str : "?");
            continue;
        }
        int k = variant_index(rb, f->str, (size_t)(bar - f->str));
        long long n = strtoll(v->str, NULL, 10);
        if (k >= 0) counts[k] = n > 0 ? (uint64_t)n : 0;
    }
    freeReplyObject(h);
    return rb->st;
}

/* MULTI; DEL key; HSET key <the rebuilt counts>; EXEC. A count of 0 is left
 * out, as the engine (HINCRBY) never writes one. */
static sj_status_t write_counters(rebuild_t *rb, redisContext *rc, const char *key)
{
    char fields[MAX_VARIANTS * 2][SJ_CAMPAIGN_ID_MAX + 12], nums[MAX_VARIANTS * 2][24];
    const char *argv[2 + 4 * MAX_VARIANTS] = {"HSET", key};
    int argc = 2;
    for (size_t i = 0; i < rb->n_variants; i++)
        for (int w = 0; w < 2; w++) {
            uint64_t n = w ? rb->converted[i] : rb->exposed[i];
            if (!n) continue;
            size_t k = (size_t)(argc - 2) / 2;
            snprintf(fields[k], sizeof fields[k], "%s|%s", rb->variants[i],
                     w ? "converted" : "exposed");
            snprintf(nums[k], sizeof nums[k], "%llu", (unsigned long long)n);
            argv[argc++] = fields[k];
            argv[argc++] = nums[k];
        }
    const char *multi[] = {"MULTI"}, *exec[] = {"EXEC"}, *del[] = {"DEL", key};
    int ok = redisAppendCommandArgv(rc, 1, multi, NULL) == REDIS_OK &&
             redisAppendCommandArgv(rc, 2, del, NULL) == REDIS_OK &&
             (argc == 2 || redisAppendCommandArgv(rc, argc, argv, NULL) == REDIS_OK) &&
             redisAppendCommandArgv(rc, 1, exec, NULL) == REDIS_OK;
    size_t n = argc == 2 ? 3 : 4;
    sj_status_t st = ok ? SJ_OK : SJ_ERR_NOMEM;
    for (size_t i = 0; ok && i < n; i++) {
        void *reply = NULL;
        if (redisGetReply(rc, &reply) != REDIS_OK) {
            snprintf(rb->err, sizeof rb->err, "redis: writing %s: %s", key, rc->errstr);
            return SJ_ERR_IO;
        }
        redisReply *r = reply;
        bool last = i + 1 == n;
        if (st == SJ_OK &&
            (r->type == REDIS_REPLY_ERROR || (last && r->type != REDIS_REPLY_ARRAY))) {
            snprintf(rb->err, sizeof rb->err, "redis: writing %s: %s", key,
                     r->type == REDIS_REPLY_ERROR ? r->str
                                                  : "the transaction was aborted");
            st = SJ_ERR_IO;
        }
        freeReplyObject(r);
    }
    if (!ok) snprintf(rb->err, sizeof rb->err, "out of memory");
    return st;
}

/* ---- output ----------------------------------------------------------------- */

static json_t *topic_json(const topic_count_t *tc)
{
    return json_pack("{s:s, s:I, s:I, s:I, s:O}", "topic", tc->topic, "read",
                     (json_int_t)tc->read, "used", (json_int_t)tc->used, "malformed",
                     (json_int_t)tc->malformed, "malformed_at", tc->malformed_at);
}

static int print_json(const rebuild_t *rb, const char *key, bool written)
{
    json_t *camps = json_array(), *arms = json_array();
    for (size_t i = 0; camps && i < rb->n_campaigns; i++)
        json_array_append_new(camps, json_string(rb->campaigns[i]->id));
    for (size_t i = 0; arms && i < rb->n_variants; i++)
        json_array_append_new(
            arms, json_pack("{s:s, s:I, s:I, s:I, s:I}", "variant", rb->variants[i],
                            "exposed", (json_int_t)rb->exposed[i], "converted",
                            (json_int_t)rb->converted[i], "live_exposed",
                            (json_int_t)rb->live_exposed[i], "live_converted",
                            (json_int_t)rb->live_converted[i]));
    json_t *j = json_pack("{s:s, s:o, s:s, s:o, s:{s:o, s:o}, s:b}", "experiment",
                          rb->experiment, "campaigns", camps, "key", key, "arms", arms,
                          "records", "delivery_status", topic_json(&rb->status),
                          "life_events", topic_json(&rb->life), "written", written);
    int rc = j ? json_dumpf(j, stdout, JSON_INDENT(2)) : -1;
    json_decref(j);
    if (rc == 0) fputc('\n', stdout);
    return rc;
}

static void print_text(const rebuild_t *rb, const char *key, bool write)
{
    printf("Experiment %s (campaign%s", rb->experiment, rb->n_campaigns > 1 ? "s" : "");
    for (size_t i = 0; i < rb->n_campaigns; i++)
        printf("%s%s", i ? ", " : " ", rb->campaigns[i]->id);
    printf("), counted again from Kafka\n\n");
    printf("%-16s %-32s %10s %10s %10s\n", "records", "topic", "read", "used",
           "malformed");
    const topic_count_t *tcs[] = {&rb->status, &rb->life};
    const char *labels[] = {"delivery-status", "life-events"};
    for (size_t i = 0; i < 2; i++)
        printf("%-16s %-32s %10llu %10llu %10llu\n", labels[i], tcs[i]->topic,
               (unsigned long long)tcs[i]->read, (unsigned long long)tcs[i]->used,
               (unsigned long long)tcs[i]->malformed);
    printf("\n%-16s %10s %10s %8s   %10s %10s %8s\n", "variant", "exposed", "live",
           "diff", "converted", "live", "diff");
    uint64_t tot[4] = {0};
    size_t differ = 0;
    for (size_t i = 0; i < rb->n_variants; i++) {
        uint64_t v[4] = {rb->exposed[i], rb->live_exposed[i], rb->converted[i],
                         rb->live_converted[i]};
        printf("%-16s %10llu %10llu %+8lld   %10llu %10llu %+8lld\n", rb->variants[i],
               (unsigned long long)v[0], (unsigned long long)v[1],
               (long long)(v[0] - v[1]), (unsigned long long)v[2],
               (unsigned long long)v[3], (long long)(v[2] - v[3]));
        for (int k = 0; k < 4; k++) tot[k] += v[k];
        differ += (v[0] != v[1]) + (v[2] != v[3]);
    }
    printf("%-16s %10llu %10llu %+8lld   %10llu %10llu %+8lld\n\n", "total",
           (unsigned long long)tot[0], (unsigned long long)tot[1],
           (long long)(tot[0] - tot[1]), (unsigned long long)tot[2],
           (unsigned long long)tot[3], (long long)(tot[2] - tot[3]));
    if (write)
        printf("%s now holds the rebuilt counts%s.\n", key,
               differ ? "" : " (they were the same)");
    else if (differ)
        printf("%zu counter%s of %s differ%s; --write replaces them with the rebuilt "
               "ones.\n",
               differ, differ == 1 ? "" : "s", key, differ == 1 ? "s" : "");
    else
        printf("The counters in %s agree with the topics.\n", key);
}

/* ---- command ---------------------------------------------------------------- */

/* Fills rb's experiment and campaigns: those whose experiment is id, or the
 * experiment of the campaign with id id. SJ_EXIT_USAGE with a message when
 * there is none. */
static int find_campaigns(rebuild_t *rb, const sj_campaigns_t *set, const char *id,
                          const char *dir)
{
    const char *exp = NULL;
    for (size_t i = 0; !exp && i < sj_campaigns_count(set); i++)
        if (!strcmp(sj_campaigns_get(set, i)->experiment, id)) exp = id;
    for (size_t i = 0; !exp && i < sj_campaigns_count(set); i++)
        if (!strcmp(sj_campaigns_get(set, i)->id, id))
            exp = sj_campaigns_get(set, i)->experiment;
    if (!exp)
        return sj_cli_usage_error(
            CMD,
            "unknown experiment \"%.64s\": no campaign in %s has it "
            "as \"experiment\" or id",
            id, dir);
    snprintf(rb->experiment, sizeof rb->experiment, "%s", exp);
    for (size_t i = 0; i < sj_campaigns_count(set); i++) {
        const sj_campaign_t *c = sj_campaigns_get(set, i);
        if (!strcmp(c->experiment, rb->experiment) && sj_campaign_is_experiment(c))
            rb->campaigns[rb->n_campaigns++] = c;
    }
    if (!rb->n_campaigns)
        return sj_cli_usage_error(
            CMD,
            "\"%.64s\" runs no experiment: its campaigns in %s have "
            "one variant or no goal, so nothing is counted",
            id, dir);
    for (size_t i = 0; i < rb->n_campaigns; i++)
        for (size_t v = 0; v < rb->campaigns[i]->n_variants; v++)
            if (rb->campaigns[i]->variants[v].weight > 0)
                variant_index(rb, rb->campaigns[i]->variants[v].id,
                              strlen(rb->campaigns[i]->variants[v].id));
    return SJ_EXIT_OK;
}

/* Reads both topics, the live counters and, with write, replaces them. */
static int rebuild(rebuild_t *rb, const sj_conf_t *conf, bool write, const char *key)
{
    char err[512];
    redisContext *rc = redis_open(conf, err, sizeof err); /* fail before the long part */
    if (!rc) {
        fprintf(stderr, "seintje " CMD ": %s\n", err);
        return SJ_EXIT_FAILURE;
    }
    redisFree(rc);
    sj_status_t st = read_one(rb, conf, &rb->status, "topic.delivery-status", on_status);
    for (size_t i = 0; st == SJ_OK && i < rb->residents.cap; i++)
        if (rb->residents.slots[i].used) rb->exposed[rb->residents.slots[i].variant]++;
    if (st == SJ_OK) st = read_one(rb, conf, &rb->life, "topic.life-events", on_life);
    if (st != SJ_OK) {
        fprintf(stderr, "seintje " CMD ": %s\n", rb->err);
        return SJ_EXIT_FAILURE;
    }
    if (!(rc = redis_open(conf, rb->err, sizeof rb->err))) {
        fprintf(stderr, "seintje " CMD ": %s\n", rb->err);
        return SJ_EXIT_FAILURE;
    }
    st = read_live(rb, rc, key);
    if (st == SJ_OK && write) st = write_counters(rb, rc, key);
    redisFree(rc);
    if (st != SJ_OK) {
        fprintf(stderr, "seintje " CMD ": %s\n", rb->err);
        return SJ_EXIT_FAILURE;
    }
    return SJ_EXIT_OK;
}

enum { OPT_WRITE = 2000, OPT_FORMAT };

int sj_experiment_rebuild_cmd(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"write", no_argument, NULL, OPT_WRITE},
        {"format", required_argument, NULL, OPT_FORMAT},
        SJ_CLI_COMMON_LONGOPTS,
        {NULL, 0, NULL, 0}};
    sj_cli_t cli;
    if (sj_cli_init(&cli, "seintje " CMD) != SJ_OK) return SJ_EXIT_FAILURE;
    bool write = false, json = false;
    int opt, ex = SJ_EXIT_OK;
    optind = 1;
    opterr = 1;
    while (ex == SJ_EXIT_OK && (opt = getopt_long(argc, argv, SJ_CLI_COMMON_SHORTOPTS,
                                                  longopts, NULL)) != -1) {
        int common = sj_cli_common_opt(&cli, opt, optarg);
        if (common == 1) continue;
        if (opt == OPT_WRITE)
            write = true;
        else if (opt == OPT_FORMAT &&
                 (!strcmp(optarg, "text") || !strcmp(optarg, "json")))
            json = !strcmp(optarg, "json");
        else if (opt == OPT_FORMAT)
            ex = sj_cli_usage_error(CMD, "--format \"%.40s\": use text or json", optarg);
        else
            ex = common < 0 ? SJ_EXIT_USAGE : sj_cli_usage_error(CMD, "bad option");
    }
    if (ex == SJ_EXIT_OK && cli.help) {
        fputs(usage, stdout);
        sj_cli_free(&cli);
        return SJ_EXIT_OK;
    }
    if (ex == SJ_EXIT_OK && optind != argc - 1)
        ex = sj_cli_usage_error(CMD, "give one experiment id");
    if (ex == SJ_EXIT_OK && sj_cli_finish(&cli) != SJ_OK) ex = SJ_EXIT_USAGE;
    rebuild_t *rb = ex == SJ_EXIT_OK ? calloc(1, sizeof *rb) : NULL;
    if (ex == SJ_EXIT_OK && !rb) {
        fprintf(stderr, "seintje " CMD ": out of memory\n");
        ex = SJ_EXIT_FAILURE;
    }
    sj_campaigns_t *set = NULL;
    char err[512], key[SJ_KEY_MAX];
    if (ex == SJ_EXIT_OK) {
        const char *dir = sj_conf_get(cli.conf, "campaigns.dir");
        if (!(set = sj_campaigns_load_dir(dir, err, sizeof err)))
            ex = sj_cli_usage_error(CMD, "%s", err);
        else
            ex = find_campaigns(rb, set, argv[optind], dir);
    }
    if (ex == SJ_EXIT_OK) {
        rb->status =
            (topic_count_t){.name = "delivery-status", .malformed_at = json_array()};
        rb->life = (topic_count_t){.name = "life-events", .malformed_at = json_array()};
        sj_key_exp(key, rb->experiment);
        ex = rebuild(rb, cli.conf, write, key);
    }
    if (ex == SJ_EXIT_OK) {
        if (json) {
            if (print_json(rb, key, write) != 0) ex = SJ_EXIT_FAILURE;
        } else {
            print_text(rb, key, write);
        }
        if (ex != SJ_EXIT_OK || ferror(stdout) || fflush(stdout) != 0) {
            fprintf(stderr, "seintje " CMD ": cannot write the result: %s\n",
                    strerror(errno));
            ex = SJ_EXIT_FAILURE;
        }
    }
    if (rb) {
        json_decref(rb->status.malformed_at);
        json_decref(rb->life.malformed_at);
        free(rb->residents.slots);
        free(rb);
    }
    sj_campaigns_destroy(set);
    sj_cli_free(&cli);
    return ex;
}
