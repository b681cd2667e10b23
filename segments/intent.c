/* Notification intents: timing, variant, language, context, reason and id
 * for one (campaign, event) pair, serialised as JSON. Pure functions; see
 * intent.h for the format and the reasons behind it. */
#include "intent.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/timeutil.h"

#define DAY_MS  86400000LL
#define HOUR_MS 3600000LL

const char *sj_intent_outcome_name(sj_intent_outcome_t o)
{
    static const char *const names[] = {"made", "expired", "missing-date", "inactive"};
    return (size_t)o < SJ_ARRAY_LEN(names) ? names[o] : "?";
}

/* ---- Europe/Brussels ------------------------------------------------------ */

/* Days since the epoch of the last Sunday of month m in year y. */
static int32_t last_sunday(int y, unsigned m)
{
    static const unsigned mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int32_t last = sj_days_from_civil(y, m, mdays[m - 1]);
    int32_t wd = ((last % 7) + 7 + 4) % 7; /* 1970-01-01 was a Thursday (4); Sunday = 0 */
    return last - wd;
}

static bool brussels_dst(int64_t utc_ms)
{
    int32_t days =
        (int32_t)(utc_ms >= 0 ? utc_ms / DAY_MS : -((-utc_ms + DAY_MS - 1) / DAY_MS));
    int y;
    unsigned m, d;
    sj_civil_from_days(days, &y, &m, &d);
    int64_t start = (int64_t)last_sunday(y, 3) * DAY_MS + HOUR_MS;
    int64_t end = (int64_t)last_sunday(y, 10) * DAY_MS + HOUR_MS;
    return utc_ms >= start && utc_ms < end;
}

static int32_t floor_days(int64_t ms)
{
    return (int32_t)(ms >= 0 ? ms / DAY_MS : -((-ms + DAY_MS - 1) / DAY_MS));
}

int32_t sj_brussels_date(int64_t utc_ms)
{
    return floor_days(utc_ms + (brussels_dst(utc_ms) ? 2 : 1) * HOUR_MS);
}

int64_t sj_brussels_to_utc(int32_t local_date, int32_t minutes)
{
    int64_t local = (int64_t)local_date * DAY_MS + (int64_t)minutes * 60000;
    /* Try summer time first; in the spring-forward gap neither offset fits
     * and the winter reading (one hour later on the wall clock) is used. */
    int64_t summer = local - 2 * HOUR_MS;
    return brussels_dst(summer) ? summer : local - HOUR_MS;
}

/* ---- events --------------------------------------------------------------- */

static bool is_pseudonym(const char *s)
{
    if (strlen(s) != SJ_PSEUDONYM_LEN) return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) return false;
    return true;
}

static const char *str_member(const json_t *o, const char *key)
{
    const json_t *j = json_object_get(o, key);
    return json_is_string(j) ? json_string_value(j) : NULL;
}

sj_status_t sj_event_view(const json_t *root, sj_event_view_t *ev, char *problem,
                          size_t problem_size)
{
    memset(ev, 0, sizeof *ev);
    if (!json_is_object(root)) {
        sj_seterr(problem, problem_size, "not a JSON object");
        return SJ_ERR_INPUT;
    }
    ev->id = str_member(root, "id");
    ev->type = str_member(root, "type");
    ev->subject = str_member(root, "subject");
    ev->time = str_member(root, "time");
    const json_t *data = json_object_get(root, "data");
    if (!ev->subject || !is_pseudonym(ev->subject)) {
        sj_seterr(problem, problem_size, "subject is missing or not a 64-hex pseudonym");
        return SJ_ERR_INPUT;
    }
    if (!ev->id || !*ev->id || strlen(ev->id) > 256) {
        sj_seterr(problem, problem_size, "id is missing or longer than 256 bytes");
        return SJ_ERR_INPUT;
    }
    if (!ev->type || strncmp(ev->type, "be.seintje.", 11) != 0) {
        sj_seterr(problem, problem_size, "type is missing or not be.seintje.*");
        return SJ_ERR_INPUT;
    }
    if (ev->time &&
        sj_time_parse_rfc3339(ev->time, strlen(ev->time), &ev->time_ms) != SJ_OK) {
        sj_seterr(problem, problem_size, "time is not an RFC 3339 time");
        return SJ_ERR_INPUT;
    }
    if (data && !json_is_object(data) && !json_is_null(data)) {
        sj_seterr(problem, problem_size, "data is not an object");
        return SJ_ERR_INPUT;
    }
    ev->data = json_is_object(data) ? data : NULL;
    return SJ_OK;
}

/* ---- intents -------------------------------------------------------------- */

void sj_intent_id(const char *campaign, const char *step, const char *pseudonym,
                  const char *trigger_id, char out[SJ_INTENT_ID_LEN + 1])
{
    sj_buf_t b;
    sj_buf_init(&b, 4096);
    if (sj_buf_addf(&b, "%s|%s|%s|%s", campaign, step, pseudonym, trigger_id) != SJ_OK) {
        /* Over 4 KiB of id parts cannot come from validated inputs; hash what
         * fits rather than fail, the result stays deterministic. */
    }
    sj_sha256_hex(sj_buf_cstr(&b), b.len, out, SJ_INTENT_ID_LEN);
    sj_buf_free(&b);
}

/* The local date that relative_to names. */
static sj_status_t anchor_date(const char *rel, const sj_event_view_t *ev, int32_t *date)
{
    if (!strcmp(rel, "time")) {
        if (!ev->time) return SJ_ERR_INPUT;
        *date = sj_brussels_date(ev->time_ms);
        return SJ_OK;
    }
    const char *s = NULL;
    if (!strncmp(rel, "data.", 5) && ev->data)
        s = str_member(ev->data, rel + 5);
    else if (!strncmp(rel, "resident.", 9) && ev->resident)
        s = str_member(ev->resident, rel + 9);
    if (!s) return SJ_ERR_INPUT;
    size_t n = strlen(s);
    int64_t ms;
    if (n == 10) return sj_date_parse(s, n, date);
    if (sj_time_parse_rfc3339(s, n, &ms) != SJ_OK) return SJ_ERR_INPUT;
    *date = sj_brussels_date(ms);
    return SJ_OK;
}

sj_status_t sj_intent_anchor(const sj_campaign_anchor_t *a, const sj_event_view_t *ev,
                             int64_t *ms)
{
    int32_t date;
    if (anchor_date(a->relative_to, ev, &date) != SJ_OK) return SJ_ERR_INPUT;
    *ms = sj_brussels_to_utc(date + a->offset_days, a->at_minutes);
    return SJ_OK;
}

static int set_str(json_t *o, const char *key, const char *val)
{
    return val ? json_object_set_new(o, key, json_string(val)) : 0;
}

static int set_time(json_t *o, const char *key, int64_t ms)
{
    char ts[32];
    sj_time_format_rfc3339(ms, ts);
    return json_object_set_new(o, key, json_string(ts));
}

static int set_date(json_t *o, const char *key, int32_t days)
{
    char d[11];
    sj_date_format(days, d);
    return json_object_set_new(o, key, json_string(d));
}

/* The render context: profile fields, dates, and the event's own fields a
 * template may need. Contact data is never copied. */
static json_t *make_context(const sj_event_view_t *ev, const sj_resident_view_t *r,
                            int64_t not_before, int64_t expires_at)
{
    static const char *const from_event[] = {"expires",           "age",
                                             "child_birth_date",  "child_given_name",
                                             "previous_postcode", "to_nis"};
    json_t *ctx = json_object();
    if (!ctx) return NULL;
    int rc = set_str(ctx, "given_name", r->given_name) | set_str(ctx, "nis", r->nis) |
             set_str(ctx, "postcode", r->postcode);
    if (ev->time) rc |= set_date(ctx, "event_date", sj_brussels_date(ev->time_ms));
    rc |= set_date(ctx, "send_date", sj_brussels_date(not_before));
    /* expires_at is the first moment the message is pointless, usually local
     * midnight; the deadline a reader understands is the day before it ends,
     * i.e. the local date of the last millisecond still valid. */
    rc |= set_date(ctx, "deadline", sj_brussels_date(expires_at - 1));
    for (size_t i = 0; ev->data && i < SJ_ARRAY_LEN(from_event); i++) {
        json_t *v = json_object_get(ev->data, from_event[i]);
        if (v && (json_is_string(v) || json_is_integer(v)))
            rc |= json_object_set(ctx, from_event[i], v);
    }
    if (rc) {
        json_decref(ctx);
        return NULL;
    }
    return ctx;
}

/* "Why did I get this?": campaign, triggering event and timing, in plain
 * words with the dates that decided it. */
static void make_reason(const sj_campaign_t *c, const sj_event_view_t *ev, char *out,
                        size_t size)
{
    char when[64] = "", anchor[96] = "that event";
    if (ev->time) {
        char d[11];
        sj_date_format(sj_brussels_date(ev->time_ms), d);
        snprintf(when, sizeof when, " of %s", d);
    }
    int64_t ms;
    if (strcmp(c->timing.relative_to, "time") != 0 &&
        sj_intent_anchor(&c->timing, ev, &ms) == SJ_OK) {
        char d[11];
        sj_date_format(sj_brussels_date(ms) - c->timing.offset_days, d);
        const char *field = strchr(c->timing.relative_to, '.');
        snprintf(anchor, sizeof anchor, "the %s date (%s)",
                 field ? field + 1 : c->timing.relative_to, d);
    }
    const char *what = strrchr(ev->type, '.') ? strrchr(ev->type, '.') + 1 : ev->type;
    int off = c->timing.offset_days;
    if (off == 0)
        snprintf(out, size,
                 "You receive this message from the campaign \"%s\" because the "
                 "municipality registered the event \"%s\"%s; it is sent on %s.",
                 c->name, what, when, anchor);
    else
        snprintf(out, size,
                 "You receive this message from the campaign \"%s\" because the "
                 "municipality registered the event \"%s\"%s; it is sent %d day%s %s %s.",
                 c->name, what, when, off < 0 ? -off : off,
                 (off == 1 || off == -1) ? "" : "s", off < 0 ? "before" : "after",
                 anchor);
}

json_t *sj_intent_new(const sj_campaign_t *c, const sj_event_view_t *ev,
                      const sj_resident_view_t *r, int64_t now_ms,
                      sj_intent_outcome_t *outcome)
{
    int64_t not_before, expires_at = 0;
    if (r->status && strcmp(r->status, "active") != 0) {
        *outcome = SJ_INTENT_SKIP_INACTIVE;
        return NULL;
    }
    if (sj_intent_anchor(&c->timing, ev, &not_before) != SJ_OK ||
        (c->has_expiry && sj_intent_anchor(&c->expiry, ev, &expires_at) != SJ_OK)) {
        *outcome = SJ_INTENT_SKIP_NO_DATE;
        return NULL;
    }
    if (not_before < now_ms)
        not_before = now_ms; /* late events: send as soon as possible */
    if (!c->has_expiry) expires_at = not_before + SJ_INTENT_DEFAULT_TTL_MS;
    if (expires_at <= not_before) {
        *outcome = SJ_INTENT_SKIP_EXPIRED;
        return NULL;
    }
    *outcome = SJ_INTENT_MADE;
    char iid[SJ_INTENT_ID_LEN + 1], reason[512], tmpl[2 * SJ_CAMPAIGN_ID_MAX];
    sj_intent_id(c->id, SJ_INTENT_STEP_INITIAL, ev->subject, ev->id, iid);
    const sj_campaign_variant_t *var = sj_campaign_variant_for(c, ev->subject);
    snprintf(tmpl, sizeof tmpl, "%s/%s", c->id, var->id);
    make_reason(c, ev, reason, sizeof reason);

    json_t *o = json_object(), *trig = json_object(), *chans = json_array();
    json_t *ctx = make_context(ev, r, not_before, expires_at);
    int rc = !o || !trig || !chans || !ctx;
    for (size_t i = 0; !rc && i < c->n_channels; i++)
        rc |= json_array_append_new(chans, json_string(sj_channel_name(c->channels[i])));
    if (!rc) {
        rc |= set_str(ctx, "step", SJ_INTENT_STEP_INITIAL);
        rc |= set_str(trig, "id", ev->id) | set_str(trig, "type", ev->type) |
              set_str(trig, "time", ev->time);
        rc |= set_str(o, "id", iid) | set_str(o, "campaign", c->id) |
              set_str(o, "step", SJ_INTENT_STEP_INITIAL) |
              set_str(o, "variant", var->id) | set_str(o, "resident", ev->subject);
        if (sj_campaign_is_experiment(c)) rc |= set_str(o, "experiment", c->experiment);
        rc |= json_object_set(o, "trigger", trig) | json_object_set(o, "channels", chans);
        rc |= set_str(o, "language", sj_campaign_language_for(c, r->language)) |
              set_str(o, "template", tmpl) | json_object_set(o, "context", ctx);
        rc |= set_time(o, "not_before", not_before) |
              set_time(o, "expires_at", expires_at) | set_time(o, "created_at", now_ms);
        rc |= set_str(o, "topic", c->topic) |
              json_object_set_new(o, "priority", json_integer(c->priority)) |
              json_object_set_new(o, "mandatory", json_boolean(c->mandatory)) |
              set_str(o, "reason", reason);
    }
    json_decref(trig);
    json_decref(chans);
    json_decref(ctx);
    if (rc) {
        json_decref(o);
        *outcome = SJ_INTENT_OUTCOMES; /* out of memory */
        return NULL;
    }
    return o;
}

sj_status_t sj_intent_build(const sj_campaign_t *c, const sj_event_view_t *ev,
                            const sj_resident_view_t *r, int64_t now_ms, sj_buf_t *out,
                            sj_intent_outcome_t *outcome, char *id)
{
    json_t *o = sj_intent_new(c, ev, r, now_ms, outcome);
    if (!o) {
        if (*outcome == SJ_INTENT_OUTCOMES) return SJ_ERR_NOMEM;
        return SJ_OK;
    }
    char *s = json_dumps(o, JSON_COMPACT);
    if (s && id)
        snprintf(id, SJ_INTENT_ID_LEN + 1, "%s",
                 json_string_value(json_object_get(o, "id")));
    json_decref(o);
    if (!s) return SJ_ERR_NOMEM;
    size_t n = strlen(s);
    sj_status_t st = n > SJ_INTENT_MAX ? SJ_ERR_TOO_BIG : sj_buf_add(out, s, n);
    free(s);
    if (st != SJ_OK) {
        *outcome = SJ_INTENT_MADE;
        return st;
    }
    *outcome = SJ_INTENT_MADE;
    return SJ_OK;
}
