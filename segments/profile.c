/* Resident profiles in Redis: the commands that apply a life event to a
 * profile, and reading back what an intent needs. Commands are only appended
 * (pipelined); the caller reads the replies per batch. See profile.h. */
#include "profile.h"

#include <stdio.h>
#include <string.h>

#include "core/timeutil.h"

/* Data fields copied into the profile as they are. */
static const char *const profile_fields[] = {"given_name", "birth_date", "nis",
                                             "postcode",   "language",   "household",
                                             "email",      "phone",      "app_inbox"};

/* Fields read back for intents, in sj_profile_t order. */
static const char *const read_fields[] = {"given_name", "language", "nis", "postcode",
                                          "status"};

#define MAX_ARGS 64

typedef struct {
    const char *argv[MAX_ARGS];
    size_t len[MAX_ARGS];
    int n;
} args_t;

static void add(args_t *a, const char *s)
{
    if (a->n == MAX_ARGS) return; /* cannot happen: the field list is fixed */
    a->argv[a->n] = s;
    a->len[a->n++] = strlen(s);
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

sj_status_t sj_profile_append_update(redisContext *rc, const sj_event_view_t *ev,
                                     int64_t now_ms, size_t *replies)
{
    char key[SJ_PROFILE_KEY_MAX], updated[32];
    sj_profile_key(ev->subject, key);
    sj_time_format_rfc3339(now_ms, updated);
    args_t set = {.n = 0}, del = {.n = 0};
    add(&set, "HSET");
    add(&set, key);
    add(&del, "HDEL");
    add(&del, key);
    for (size_t i = 0; ev->data && i < SJ_ARRAY_LEN(profile_fields); i++) {
        json_t *v = json_object_get(ev->data, profile_fields[i]);
        if (json_is_string(v)) {
            add(&set, profile_fields[i]);
            add(&set, json_string_value(v));
        } else if (json_is_null(v)) {
            add(&del, profile_fields[i]);
        }
    }
    static const char *const channels[][2] = {
        {"email", "consent.email"}, {"sms", "consent.sms"}, {"app", "consent.app"}};
    json_t *consents = ev->data ? json_object_get(ev->data, "consents") : NULL;
    for (size_t i = 0; json_is_object(consents) && i < SJ_ARRAY_LEN(channels); i++) {
        json_t *v = json_object_get(consents, channels[i][0]);
        if (!json_is_boolean(v)) continue;
        add(&set, channels[i][1]);
        add(&set, json_is_true(v) ? "1" : "0");
    }
    const char *status = status_for(ev->type);
    if (status) {
        add(&set, "status");
        add(&set, status);
    }
    json_t *to = ev->data ? json_object_get(ev->data, "to_nis") : NULL;
    if (status && !strcmp(status, "moved-out") && json_is_string(to)) {
        add(&set, "moved_to");
        add(&set, json_string_value(to));
    }
    add(&set, "last_event_type");
    add(&set, ev->type);
    add(&set, "last_event_id");
    add(&set, ev->id);
    if (ev->time) {
        add(&set, "last_event_time");
        add(&set, ev->time);
    }
    add(&set, "updated_at");
    add(&set, updated);
    if (redisAppendCommandArgv(rc, set.n, set.argv, set.len) != REDIS_OK)
        return SJ_ERR_NOMEM;
    (*replies)++;
    if (del.n > 2) {
        if (redisAppendCommandArgv(rc, del.n, del.argv, del.len) != REDIS_OK)
            return SJ_ERR_NOMEM;
        (*replies)++;
    }
    return SJ_OK;
}

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
    if (!e || e->type != REDIS_REPLY_STRING || (size_t)e->len >= size) return;
    memcpy(dst, e->str, (size_t)e->len);
    dst[e->len] = '\0';
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
