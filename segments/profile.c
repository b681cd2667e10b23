/* Resident profiles in Redis: the commands that apply a life event to a
 * profile and its consents, and reading a profile back for the engine, the
 * delivery stage and `seintje resident`. Commands are only appended
 * (pipelined); the caller reads the replies per batch. See profile.h. */
#include "profile.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/timeutil.h"
#include "segments/keys.h"

/* Data fields copied into the profile as they are. */
static const char *const profile_fields[] = {"given_name", "birth_date", "nis",
                                             "postcode",   "language",   "household",
                                             "email",      "phone",      "app_inbox"};

/* Fields read back for intents (v1 path), in sj_profile_t order. */
static const char *const read_fields[] = {"given_name", "language", "nis", "postcode",
                                          "status"};

/* Every field of sj_profile_full_t that is a profile hash field, in the
 * order sj_profile_to_json() writes them. */
/* clang-format off */
#define FIELD(f) {#f, offsetof(sj_profile_full_t, f), sizeof(((sj_profile_full_t *)0)->f)}
/* clang-format on */
static const struct {
    const char *name;
    size_t offset, size;
} full_fields[] = {
    FIELD(given_name),      FIELD(birth_date),    FIELD(nis),
    FIELD(postcode),        FIELD(language),      FIELD(household),
    FIELD(email),           FIELD(phone),         FIELD(app_inbox),
    FIELD(status),          FIELD(moved_to),      FIELD(id_card_expires),
    FIELD(resident_since),  FIELD(moved_out_on),  FIELD(deceased_on),
    FIELD(last_event_type), FIELD(last_event_id), FIELD(last_event_time),
    FIELD(updated_at),
};
#undef FIELD

static const char *const channel_names[SJ_NUDGE_CHANNELS] = {"email", "sms", "app"};

/* Sets a consent field unless the stored one was stated by a newer event.
 * KEYS[1] the consent hash; ARGV[1] the event time (UTC, fixed width,
 * milliseconds); ARGV[2..] field, value pairs. Times are compared as
 * numbers (date digits, then time digits padded to milliseconds), not as
 * strings: Lua compares strings with strcoll() and Redis sets LC_COLLATE
 * from the environment. Returns how many fields it wrote. (The engine does
 * the same compare in C, engine.c consent_wins().) */
static const char consent_script[] =
    "local function t(v)"
    " local d = string.gsub(v, '%D', '')"
    " return tonumber(string.sub(d, 1, 8)) or 0,"
    " tonumber(string.sub(d .. '000000000', 9, 17)) or 0 "
    "end "
    "local nd, nt = t(ARGV[1]) "
    "local n = 0 "
    "for i = 2, #ARGV - 1, 2 do"
    " local cur = redis.call('HGET', KEYS[1], ARGV[i])"
    " local old = cur and string.match(cur, '^[01] (%S+)')"
    " local od, ot = 0, 0"
    " if old then od, ot = t(old) end"
    " if not old or od < nd or (od == nd and ot <= nt) then"
    " redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) n = n + 1"
    " end "
    "end "
    "return n";

#define MAX_ARGS 64

typedef struct {
    const char *argv[MAX_ARGS];
    size_t len[MAX_ARGS];
    int n;
} args_t;

static void add(args_t *a, const char *s)
{
    if (a->n == MAX_ARGS) return; /* cannot happen: the field lists are fixed */
    a->argv[a->n] = s;
    a->len[a->n++] = strlen(s);
}

static sj_status_t append(redisContext *rc, args_t *a, size_t *replies)
{
    if (redisAppendCommandArgv(rc, a->n, a->argv, a->len) != REDIS_OK)
        return SJ_ERR_NOMEM;
    (*replies)++;
    return SJ_OK;
}

void sj_profile_key(const char *pseudonym, char out[SJ_PROFILE_KEY_MAX])
{
    snprintf(out, SJ_PROFILE_KEY_MAX, "sj:res:{%.64s}", pseudonym);
}

static const char *status_for(const char *type)
{
    static const char *const map[][2] = {
        {"be.seintje.life.registered", "active"},
        {"be.seintje.life.moved-in", "active"},
        {"be.seintje.life.moved-within", "active"},
        {"be.seintje.life.moved-out", "moved-out"},
        {"be.seintje.life.deceased", "deceased"},
    };
    for (size_t i = 0; i < SJ_ARRAY_LEN(map); i++)
        if (!strcmp(type, map[i][0])) return map[i][1];
    return NULL;
}

/* "YYYY-MM-DDTHH:MM:SS.mmmZ" always (sj_time_format_rfc3339 drops zero
 * milliseconds), so stored times have one width. */
static void format_fixed(int64_t ms, char out[SJ_PROFILE_TIME_MAX])
{
    sj_time_format_rfc3339(ms, out);
    size_t n = strlen(out);
    if (n > 0 && out[n - 1] == 'Z' && !strchr(out, '.') && n + 4 < SJ_PROFILE_TIME_MAX)
        memcpy(out + n - 1, ".000Z", 6);
}

#define PUSH(arr, n, v)                                                                  \
    do {                                                                                 \
        if ((n) < SJ_ARRAY_LEN(arr)) (arr)[(n)++] = (v);                                 \
    } while (0)

/* The consents of one event, for every channel it names. */
static void build_consents(const sj_event_view_t *ev, const sj_event_data_t *d,
                           const char *source, int64_t now_ms, sj_profile_update_t *u)
{
    const char *tp = NULL;
    if (d->get(d->ctx, NULL, "consents", NULL) != SJ_DATA_OBJECT) return;
    sj_data_kind_t tk = d->get(d->ctx, NULL, "topic", &tp);
    if (tk == SJ_DATA_NULL || tk == SJ_DATA_ABSENT) {
        tp = NULL;
    } else {
        size_t tl = tk == SJ_DATA_STRING ? strlen(tp) : 0;
        if (tl == 0 || tl >= SJ_PROFILE_TOPIC_MAX) return; /* see profile.h */
    }
    format_fixed(ev->time ? ev->time_ms : now_ms, u->when);
    if (!source || !*source) source = "-";
    for (int k = 0; k < SJ_NUDGE_CHANNELS; k++) {
        sj_data_kind_t v = d->get(d->ctx, "consents", channel_names[k], NULL);
        if (v != SJ_DATA_TRUE && v != SJ_DATA_FALSE) continue;
        /* "<channel>[/<topic>]" and "<1|0> <when> <source>", source cut at 512 */
        char *f = u->cfield[k], *c = u->cvalue[k];
        size_t cl = strlen(channel_names[k]), tl = tp ? strlen(tp) : 0;
        memcpy(f, channel_names[k], cl);
        if (tp) {
            f[cl++] = '/';
            memcpy(f + cl, tp, tl); /* tl < SJ_PROFILE_TOPIC_MAX: checked above */
        }
        f[cl + tl] = '\0';
        size_t wl = strlen(u->when), sl = strnlen(source, 512);
        c[0] = v == SJ_DATA_TRUE ? '1' : '0';
        c[1] = ' ';
        memcpy(c + 2, u->when, wl);
        c[2 + wl] = ' ';
        memcpy(c + 3 + wl, source, sl);
        c[3 + wl + sl] = '\0';
        PUSH(u->consent, u->n_consent, u->cfield[k]);
        PUSH(u->consent, u->n_consent, u->cvalue[k]);
    }
}

void sj_profile_update_build_from(const sj_event_view_t *ev, const sj_event_data_t *d,
                                  const char *source, int64_t now_ms,
                                  sj_profile_update_t *u)
{
    u->n_set = u->n_del = u->n_setnx = u->n_consent = 0;
    u->when[0] = u->date[0] = '\0';
    /* the same now for a whole batch of events: format it once */
    static _Thread_local int64_t last_ms = INT64_MIN;
    static _Thread_local char last[SJ_PROFILE_TIME_MAX];
    if (now_ms != last_ms) {
        sj_time_format_rfc3339(now_ms, last);
        last_ms = now_ms;
    }
    memcpy(u->updated, last, sizeof last);
    if (ev->time) sj_date_format(sj_brussels_date(ev->time_ms), u->date);
    const char *v;
    for (size_t i = 0; d && i < SJ_ARRAY_LEN(profile_fields); i++) {
        sj_data_kind_t k = d->get(d->ctx, NULL, profile_fields[i], &v);
        if (k == SJ_DATA_STRING) {
            PUSH(u->set, u->n_set, profile_fields[i]);
            PUSH(u->set, u->n_set, v);
        } else if (k == SJ_DATA_NULL) {
            PUSH(u->del, u->n_del, profile_fields[i]);
        }
    }
    const char *status = status_for(ev->type);
    if (status) {
        PUSH(u->set, u->n_set, "status");
        PUSH(u->set, u->n_set, status);
    }
    bool moved_in = !strcmp(ev->type, "be.seintje.life.moved-in");
    bool registered = !strcmp(ev->type, "be.seintje.life.registered");
    if (status && !strcmp(status, "moved-out")) {
        if (d && d->get(d->ctx, NULL, "to_nis", &v) == SJ_DATA_STRING) {
            PUSH(u->set, u->n_set, "moved_to");
            PUSH(u->set, u->n_set, v);
        }
        if (*u->date) {
            PUSH(u->set, u->n_set, "moved_out_on");
            PUSH(u->set, u->n_set, u->date);
        }
    } else if (moved_in || registered) {
        PUSH(u->del, u->n_del, "moved_out_on");
        PUSH(u->del, u->n_del, "moved_to");
    }
    if (moved_in && *u->date) {
        PUSH(u->set, u->n_set, "resident_since");
        PUSH(u->set, u->n_set, u->date);
    }
    if (registered && *u->date) {
        PUSH(u->setnx, u->n_setnx, "resident_since");
        PUSH(u->setnx, u->n_setnx, u->date);
    }
    if (status && !strcmp(status, "deceased") && *u->date) {
        PUSH(u->set, u->n_set, "deceased_on");
        PUSH(u->set, u->n_set, u->date);
    }
    if (!strcmp(ev->type, "be.seintje.life.id-card-expiring") && d) {
        sj_data_kind_t k = d->get(d->ctx, NULL, "expires", &v);
        if (k == SJ_DATA_STRING) {
            PUSH(u->set, u->n_set, "id_card_expires");
            PUSH(u->set, u->n_set, v);
        } else if (k == SJ_DATA_NULL) {
            PUSH(u->del, u->n_del, "id_card_expires");
        }
    }
    PUSH(u->set, u->n_set, "last_event_type");
    PUSH(u->set, u->n_set, ev->type);
    PUSH(u->set, u->n_set, "last_event_id");
    PUSH(u->set, u->n_set, ev->id);
    if (ev->time) {
        PUSH(u->set, u->n_set, "last_event_time");
        PUSH(u->set, u->n_set, ev->time);
    }
    PUSH(u->set, u->n_set, "updated_at");
    PUSH(u->set, u->n_set, u->updated);
    if (d) build_consents(ev, d, source, now_ms, u);
}

/* The accessor over a jansson data object. */
static sj_data_kind_t json_get(void *ctx, const char *obj, const char *name,
                               const char **str)
{
    const json_t *o = ctx;
    if (obj) o = json_object_get(o, obj);
    const json_t *v = json_is_object(o) ? json_object_get(o, name) : NULL;
    if (str) *str = NULL;
    if (!v) return SJ_DATA_ABSENT;
    switch (json_typeof(v)) {
    case JSON_STRING:
        if (str) *str = json_string_value(v);
        return SJ_DATA_STRING;
    case JSON_NULL:
        return SJ_DATA_NULL;
    case JSON_TRUE:
        return SJ_DATA_TRUE;
    case JSON_FALSE:
        return SJ_DATA_FALSE;
    case JSON_OBJECT:
        return SJ_DATA_OBJECT;
    default:
        return SJ_DATA_OTHER;
    }
}

void sj_profile_update_build(const sj_event_view_t *ev, const char *source,
                             int64_t now_ms, sj_profile_update_t *u)
{
    sj_event_data_t d = {.get = json_get, .ctx = (void *)ev->data};
    sj_profile_update_build_from(ev, ev->data ? &d : NULL, source, now_ms, u);
}

sj_status_t sj_profile_append_event(redisContext *rc, const sj_event_view_t *ev,
                                    const char *source, int64_t now_ms, size_t *replies)
{
    sj_profile_update_t u;
    sj_profile_update_build(ev, source, now_ms, &u);
    char key[SJ_KEY_MAX];
    sj_key_res(key, ev->subject, "");
    args_t set = {.n = 0}, del = {.n = 0}, setnx = {.n = 0};
    add(&set, "HSET");
    add(&set, key);
    for (size_t i = 0; i < u.n_set; i++) add(&set, u.set[i]);
    add(&del, "HDEL");
    add(&del, key);
    for (size_t i = 0; i < u.n_del; i++) add(&del, u.del[i]);
    if (u.n_setnx) {
        add(&setnx, "HSETNX");
        add(&setnx, key);
        for (size_t i = 0; i < u.n_setnx; i++) add(&setnx, u.setnx[i]);
    }
    sj_status_t st = append(rc, &set, replies);
    if (st == SJ_OK && u.n_del) st = append(rc, &del, replies);
    if (st == SJ_OK && u.n_setnx) st = append(rc, &setnx, replies);
    if (st == SJ_OK && u.n_consent) {
        char ckey[SJ_KEY_MAX];
        sj_key_res(ckey, ev->subject, ":consent");
        args_t a = {.n = 0};
        add(&a, "EVAL");
        add(&a, consent_script);
        add(&a, "1");
        add(&a, ckey);
        add(&a, u.when);
        for (size_t i = 0; i < u.n_consent; i++) add(&a, u.consent[i]);
        st = append(rc, &a, replies);
    }
    return st;
}

sj_status_t sj_profile_append_update(redisContext *rc, const sj_event_view_t *ev,
                                     int64_t now_ms, size_t *replies)
{
    return sj_profile_append_event(rc, ev, NULL, now_ms, replies);
}

/* ---- reading back ---------------------------------------------------------- */

sj_status_t sj_profile_append_read_full(redisContext *rc, const char *pseudonym,
                                        size_t *replies)
{
    char key[SJ_KEY_MAX];
    sj_key_res(key, pseudonym, "");
    if (redisAppendCommand(rc, "HGETALL %s", key) != REDIS_OK) return SJ_ERR_NOMEM;
    (*replies)++;
    sj_key_res(key, pseudonym, ":consent");
    if (redisAppendCommand(rc, "HGETALL %s", key) != REDIS_OK) return SJ_ERR_NOMEM;
    (*replies)++;
    return SJ_OK;
}

/* Copies s[0..n) into dst when it fits; else dst is "" (unknown). */
static bool copy_n(char *dst, size_t size, const char *s, size_t n)
{
    dst[0] = '\0';
    if (n >= size) return false;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return true;
}

static int channel_index(const char *s, size_t n)
{
    for (int k = 0; k < SJ_NUDGE_CHANNELS; k++)
        if (strlen(channel_names[k]) == n && !memcmp(channel_names[k], s, n)) return k;
    return -1;
}

sj_status_t sj_profile_consent_parse(const char *value, size_t len,
                                     sj_profile_consent_t *c, char *source,
                                     size_t source_size)
{
    c->given = -1;
    c->time[0] = '\0';
    if (source && source_size) source[0] = '\0';
    if (len < 3 || (value[0] != '0' && value[0] != '1') || value[1] != ' ')
        return SJ_ERR_INPUT;
    const char *t = value + 2, *end = value + len;
    const char *sp = memchr(t, ' ', (size_t)(end - t));
    size_t tl = sp ? (size_t)(sp - t) : (size_t)(end - t);
    if (tl == 0 || !copy_n(c->time, sizeof c->time, t, tl)) return SJ_ERR_INPUT;
    if (source && source_size && sp) {
        const char *s = sp + 1;
        size_t sl = (size_t)(end - s);
        if (!(sl == 1 && *s == '-')) copy_n(source, source_size, s, sl);
    }
    c->given = value[0] == '1';
    return SJ_OK;
}

static bool is_hash_reply(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_ARRAY && r->elements % 2 == 0;
}

static bool is_str(const redisReply *e)
{
    return e && e->type == REDIS_REPLY_STRING;
}

static void fill_fields(const redisReply *h, sj_profile_full_t *p, int legacy[])
{
    for (size_t i = 0; i + 1 < h->elements; i += 2) {
        const redisReply *k = h->element[i], *v = h->element[i + 1];
        if (!is_str(k) || !is_str(v)) continue;
        p->found = true;
        for (size_t f = 0; f < SJ_ARRAY_LEN(full_fields); f++)
            if (!strcmp(k->str, full_fields[f].name)) {
                copy_n((char *)p + full_fields[f].offset, full_fields[f].size, v->str,
                       (size_t)v->len);
                break;
            }
        /* profiles written before v2 */
        if (!strncmp(k->str, "consent.", 8)) {
            int ch = channel_index(k->str + 8, strlen(k->str + 8));
            if (ch >= 0 && v->len == 1) legacy[ch] = v->str[0] == '1';
        }
    }
}

/* Adds the per-topic entries whose given == want (refusals go first). */
static void fill_topics(const redisReply *h, sj_profile_full_t *p, int want)
{
    for (size_t i = 0; i + 1 < h->elements; i += 2) {
        const redisReply *k = h->element[i], *v = h->element[i + 1];
        if (!is_str(k) || !is_str(v)) continue;
        const char *slash = memchr(k->str, '/', (size_t)k->len);
        if (!slash) continue;
        int ch = channel_index(k->str, (size_t)(slash - k->str));
        sj_profile_consent_t c;
        if (ch < 0 ||
            sj_profile_consent_parse(v->str, (size_t)v->len, &c, NULL, 0) != SJ_OK ||
            c.given != want)
            continue;
        const char *topic = slash + 1;
        size_t tl = (size_t)(k->str + k->len - topic);
        if (tl == 0 || tl >= SJ_PROFILE_TOPIC_MAX) continue;
        if (p->n_topics == SJ_PROFILE_TOPICS_MAX) {
            p->topics_dropped++;
            if (want == 0) p->topics_dropped_refusal = true;
            continue;
        }
        sj_profile_topic_consent_t *t = &p->topics[p->n_topics++];
        t->channel = ch;
        copy_n(t->topic, sizeof t->topic, topic, tl);
        t->c = c;
    }
}

static int topic_cmp(const void *a, const void *b)
{
    const sj_profile_topic_consent_t *x = a, *y = b;
    if (x->channel != y->channel) return x->channel < y->channel ? -1 : 1;
    return strcmp(x->topic, y->topic);
}

static void profile_clear(sj_profile_full_t *p)
{
    memset(p, 0, sizeof *p);
    for (int k = 0; k < SJ_NUDGE_CHANNELS; k++) p->consent[k].given = -1;
}

sj_status_t sj_profile_from_replies(redisReply **r, size_t n, sj_profile_full_t *p)
{
    profile_clear(p);
    if (n != 2 || !r || !is_hash_reply(r[0]) || !is_hash_reply(r[1])) return SJ_ERR;
    int legacy[SJ_NUDGE_CHANNELS] = {-1, -1, -1};
    fill_fields(r[0], p, legacy);
    const redisReply *h = r[1];
    for (size_t i = 0; i + 1 < h->elements; i += 2) {
        const redisReply *k = h->element[i], *v = h->element[i + 1];
        if (!is_str(k) || !is_str(v)) continue;
        int ch = channel_index(k->str, (size_t)k->len);
        if (ch < 0) continue;
        sj_profile_consent_parse(v->str, (size_t)v->len, &p->consent[ch],
                                 p->consent_source[ch], sizeof p->consent_source[ch]);
    }
    fill_topics(h, p, 0);
    fill_topics(h, p, 1);
    qsort(p->topics, p->n_topics, sizeof p->topics[0], topic_cmp);
    for (int k = 0; k < SJ_NUDGE_CHANNELS; k++)
        if (p->consent[k].given < 0 && legacy[k] >= 0) p->consent[k].given = legacy[k];
    return SJ_OK;
}

int sj_profile_age(const sj_profile_full_t *p, int64_t now_ms)
{
    int32_t born;
    if (sj_date_parse(p->birth_date, strlen(p->birth_date), &born) != SJ_OK) return -1;
    int32_t today = sj_brussels_date(now_ms);
    if (today < born) return -1;
    int y0, y1;
    unsigned m0, m1, d0, d1;
    sj_civil_from_days(born, &y0, &m0, &d0);
    sj_civil_from_days(today, &y1, &m1, &d1);
    return y1 - y0 - (m1 < m0 || (m1 == m0 && d1 < d0));
}

/* json_object_set_new that reports failure (it frees v either way). */
static bool set_new(json_t *o, const char *k, json_t *v)
{
    return v && json_object_set_new(o, k, v) == 0;
}

static bool wanted(char (*names)[SJ_RULE_MEMBER_MAX], size_t n, const char *k)
{
    if (!names) return true;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(names[i], k)) return true;
    return false;
}

json_t *sj_profile_to_json(const sj_profile_full_t *p, int64_t now_ms)
{
    return sj_profile_to_json_members(p, now_ms, NULL, 0);
}

json_t *sj_profile_to_json_members(const sj_profile_full_t *p, int64_t now_ms,
                                   char (*names)[SJ_RULE_MEMBER_MAX], size_t n)
{
    json_t *o = json_object();
    if (o && names) { /* only what was asked for */
        bool ok = true;
        for (size_t f = 0; ok && f < SJ_ARRAY_LEN(full_fields); f++) {
            const char *v = (const char *)p + full_fields[f].offset;
            if (*v && wanted(names, n, full_fields[f].name))
                ok = set_new(o, full_fields[f].name, json_string(v));
        }
        int age = wanted(names, n, "age") ? sj_profile_age(p, now_ms) : -1;
        if (ok && age >= 0) ok = set_new(o, "age", json_integer(age));
        if (ok && (wanted(names, n, "consents") || wanted(names, n, "topic_consents"))) {
            json_t *all = sj_profile_to_json_members(p, now_ms, NULL, 0);
            const char *k[] = {"consents", "topic_consents"};
            for (size_t i = 0; ok && all && i < 2; i++)
                if (wanted(names, n, k[i]))
                    ok = set_new(o, k[i], json_incref(json_object_get(all, k[i])));
            ok = ok && all;
            json_decref(all);
        }
        if (!ok) {
            json_decref(o);
            return NULL;
        }
        return o;
    }
    json_t *cons = json_object(), *topics = json_object();
    bool ok = o && cons && topics;
    for (size_t f = 0; ok && f < SJ_ARRAY_LEN(full_fields); f++) {
        const char *v = (const char *)p + full_fields[f].offset;
        if (*v) ok = set_new(o, full_fields[f].name, json_string(v));
    }
    int age = sj_profile_age(p, now_ms);
    if (ok && age >= 0) ok = set_new(o, "age", json_integer(age));
    for (int k = 0; ok && k < SJ_NUDGE_CHANNELS; k++)
        if (p->consent[k].given >= 0)
            ok = set_new(cons, channel_names[k], json_boolean(p->consent[k].given));
    for (size_t i = 0; ok && i < p->n_topics; i++) {
        const sj_profile_topic_consent_t *t = &p->topics[i];
        json_t *per = json_object_get(topics, t->topic);
        if (!per) ok = set_new(topics, t->topic, per = json_object());
        if (ok) ok = set_new(per, channel_names[t->channel], json_boolean(t->c.given));
    }
    if (ok) ok = set_new(o, "consents", json_incref(cons));
    if (ok) ok = set_new(o, "topic_consents", json_incref(topics));
    json_decref(cons);
    json_decref(topics);
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

void sj_profile_contact(const sj_profile_full_t *p, const char *topic,
                        sj_nudge_contact_t *c)
{
    c->reachable[SJ_CHANNEL_EMAIL] = p->email[0] != '\0';
    c->reachable[SJ_CHANNEL_SMS] = p->phone[0] != '\0';
    c->reachable[SJ_CHANNEL_APP] = p->app_inbox[0] != '\0';
    for (int k = 0; k < SJ_NUDGE_CHANNELS; k++) {
        c->consent[k] = p->consent[k].given;
        c->topic_consent[k] = -1;
        if (!topic || !*topic) continue;
        bool found = false;
        for (size_t i = 0; i < p->n_topics && !found; i++)
            if (p->topics[i].channel == k && !strcmp(p->topics[i].topic, topic)) {
                c->topic_consent[k] = p->topics[i].c.given;
                found = true;
            }
        if (!found && p->topics_dropped_refusal) c->topic_consent[k] = 0;
    }
}

bool sj_profile_consented(const sj_profile_full_t *p, int channel, const char *topic)
{
    if (channel < 0 || channel >= SJ_NUDGE_CHANNELS) return false;
    sj_nudge_contact_t c;
    sj_profile_contact(p, topic, &c);
    return c.consent[channel] == 1 && c.topic_consent[channel] != 0;
}

/* ---- v1 read path ------------------------------------------------------------ */

sj_status_t sj_profile_append_read(redisContext *rc, const char *pseudonym)
{
    char key[SJ_PROFILE_KEY_MAX];
    sj_profile_key(pseudonym, key);
    args_t a = {.n = 0};
    add(&a, "HMGET");
    add(&a, key);
    for (size_t i = 0; i < SJ_ARRAY_LEN(read_fields); i++) add(&a, read_fields[i]);
    return redisAppendCommandArgv(rc, a.n, a.argv, a.len) == REDIS_OK ? SJ_OK
                                                                      : SJ_ERR_NOMEM;
}

static void copy(char *dst, size_t size, const redisReply *e)
{
    dst[0] = '\0';
    if (!e || e->type != REDIS_REPLY_STRING) return;
    copy_n(dst, size, e->str, (size_t)e->len);
}

sj_status_t sj_profile_from_reply(const redisReply *r, sj_profile_t *p)
{
    memset(p, 0, sizeof *p);
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != SJ_ARRAY_LEN(read_fields))
        return SJ_ERR;
    copy(p->given_name, sizeof p->given_name, r->element[0]);
    copy(p->language, sizeof p->language, r->element[1]);
    copy(p->nis, sizeof p->nis, r->element[2]);
    copy(p->postcode, sizeof p->postcode, r->element[3]);
    copy(p->status, sizeof p->status, r->element[4]);
    return SJ_OK;
}

void sj_profile_view(const sj_profile_t *p, sj_resident_view_t *v)
{
    v->given_name = p->given_name[0] ? p->given_name : NULL;
    v->language = p->language[0] ? p->language : NULL;
    v->nis = p->nis[0] ? p->nis : NULL;
    v->postcode = p->postcode[0] ? p->postcode : NULL;
    v->status = p->status[0] ? p->status : NULL;
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(json_string_value(*(json_t *const *)a),
                  json_string_value(*(json_t *const *)b));
}

sj_status_t sj_profile_add_goals(json_t *resident, const redisReply *goals)
{
    json_t *arr = json_array();
    if (!arr) return SJ_ERR_NOMEM;
    size_t n = is_hash_reply(goals) ? goals->elements / 2 : 0;
    for (size_t i = 0; i < n; i++) {
        const redisReply *k = goals->element[2 * i];
        if (is_str(k) &&
            json_array_append_new(arr, json_stringn(k->str, (size_t)k->len))) {
            json_decref(arr);
            return SJ_ERR_NOMEM;
        }
    }
    /* HGETALL order is the hash's; rules see them sorted */
    size_t m = json_array_size(arr);
    json_t **v = m ? malloc(m * sizeof *v) : NULL;
    if (m && !v) {
        json_decref(arr);
        return SJ_ERR_NOMEM;
    }
    for (size_t i = 0; i < m; i++) v[i] = json_incref(json_array_get(arr, i));
    if (m) qsort(v, m, sizeof *v, str_cmp);
    json_array_clear(arr);
    for (size_t i = 0; i < m; i++) json_array_append_new(arr, v[i]);
    free(v);
    return json_object_set_new(resident, "goals", arr) ? SJ_ERR_NOMEM : SJ_OK;
}
