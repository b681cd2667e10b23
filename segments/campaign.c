/* Campaign files: strict loading and validation (see campaign.h for the
 * format), the template check and the one-line description that `seintje
 * campaign validate` prints. Validation stops at the first problem and names
 * it precisely, as "<file>: <JSON path>: <problem>", because an officer fixes
 * one thing at a time and a precise first error beats a vague list. */
#include "campaign.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "core/text.h"
#include "producers/lifeevent.h" /* the event catalogue: pure, shared with produce */

#define PATH_TEXT 4352 /* template paths: templates.dir plus the parts below it */

struct sj_campaigns_s {
    sj_campaign_t *items;
    size_t n;
};

/* Where validation is: the source name for messages and the first error. */
typedef struct {
    const char *name;
    char *errstr;
    size_t errstr_size;
} vctx_t;

/* A key that officers put in the wrong place, and where it belongs. */
typedef struct {
    const char *key, *hint;
} hint_t;

static const char *const channel_names[] = {"email", "sms", "app"};
static const char *const language_names[] = {"nl", "fr", "de", "en"};
static const char *const day_names[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
/* The date fields of a profile (segments/profile.h) that "resident.<field>"
 * may name; keep in step with sj_profile_full_t. */
static const char *const resident_dates[] = {
    "birth_date", "id_card_expires", "resident_since", "moved_out_on", "deceased_on"};
/* The template files each channel needs (consumers/compose.c reads them). */
static const char *const channel_files[][2] = {
    {"email.subject.mustache", "email.text.mustache"},
    {"sms.mustache", NULL},
    {"app.title.mustache", "app.body.mustache"}};

const char *sj_channel_name(sj_channel_t ch)
{
    return (size_t)ch < SJ_ARRAY_LEN(channel_names) ? channel_names[ch] : "?";
}

static sj_status_t fail(const vctx_t *v, const char *path, const char *fmt, ...)
    SJ_PRINTF(3, 4);

static sj_status_t fail(const vctx_t *v, const char *path, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sj_seterr(v->errstr, v->errstr_size, "%s: %s: %s", v->name, path, msg);
    return SJ_ERR_INPUT;
}

const char *sj_json_kind(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a number with a fraction";
    case JSON_TRUE:
    case JSON_FALSE:
        return "true/false";
    default:
        return "null";
    }
}

static void join_path(char *out, size_t size, const char *path, const char *key)
{
    snprintf(out, size, "%s.%s", path, key);
}

/* A string value shortened for messages (40 bytes at most, see sj_preview). */
static const char *preview(const json_t *j, char out[48])
{
    sj_preview(json_string_value(j), json_string_length(j), out, 48, 40);
    return out;
}

/* Every key of obj must be in `allowed`. A key in `hints` (may be NULL) is
 * one that belongs elsewhere and gets the hint instead of the list. */
static sj_status_t check_keys(const vctx_t *v, const json_t *obj, const char *path,
                              const char *const *allowed, const hint_t *hints)
{
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)obj, key, val)
    {
        bool ok = false;
        for (size_t i = 0; allowed[i] && !ok; i++) ok = !strcmp(key, allowed[i]);
        if (ok) continue;
        char kp[160], pv[48];
        sj_preview(key, strlen(key), pv, sizeof pv, 40);
        join_path(kp, sizeof kp, path, pv);
        for (size_t i = 0; hints && hints[i].key; i++)
            if (!strcmp(key, hints[i].key)) return fail(v, kp, "%s", hints[i].hint);
        char list[320] = "";
        size_t k = 0;
        for (size_t i = 0; allowed[i] && k < sizeof list; i++)
            k += (size_t)snprintf(list + k, sizeof list - k, "%s%s", i ? ", " : "",
                                  allowed[i]);
        return fail(v, kp, "unknown key (allowed: %s)", list);
    }
    return SJ_OK;
}

static bool is_slug(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max || s[0] == '-') return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
              s[i] == '-'))
            return false;
    return true;
}

/* Looks up a required or optional member; *out is NULL when absent. */
static sj_status_t member(const vctx_t *v, const json_t *obj, const char *path,
                          const char *key, json_type type, const char *what,
                          bool required, json_t **out)
{
    char kp[160];
    join_path(kp, sizeof kp, path, key);
    *out = json_object_get(obj, key);
    if (!*out) return required ? fail(v, kp, "missing (%s)", what) : SJ_OK;
    bool ok = json_typeof(*out) == type ||
              (type == JSON_TRUE && json_typeof(*out) == JSON_FALSE);
    if (!ok) return fail(v, kp, "expected %s, got %s", what, sj_json_kind(*out));
    return SJ_OK;
}

/* A slug member; when optional and absent, out is left as it is. */
static sj_status_t get_slug(const vctx_t *v, const json_t *obj, const char *path,
                            const char *key, bool required, char *out, size_t outsize)
{
    json_t *j;
    sj_status_t st = member(v, obj, path, key, JSON_STRING,
                            "a name of lowercase letters, digits and '-'", required, &j);
    if (st != SJ_OK || !j) return st;
    const char *s = json_string_value(j);
    if (strlen(s) != json_string_length(j) || !is_slug(s, outsize - 1)) {
        char kp[160], pv[48];
        join_path(kp, sizeof kp, path, key);
        return fail(v, kp,
                    "\"%s\" must be 1 to %zu lowercase letters, digits or '-', not "
                    "starting with '-'",
                    preview(j, pv), outsize - 1);
    }
    memcpy(out, s, strlen(s) + 1);
    return SJ_OK;
}

static sj_status_t get_text(const vctx_t *v, const json_t *obj, const char *path,
                            const char *key, char *out, size_t outsize)
{
    json_t *j;
    sj_status_t st = member(v, obj, path, key, JSON_STRING, "a text", true, &j);
    if (st != SJ_OK) return st;
    size_t n = json_string_length(j);
    char kp[160];
    join_path(kp, sizeof kp, path, key);
    if (n == 0) return fail(v, kp, "must not be empty");
    if (n >= outsize) return fail(v, kp, "longer than %zu bytes", outsize - 1);
    if (strlen(json_string_value(j)) != n) return fail(v, kp, "contains a NUL character");
    memcpy(out, json_string_value(j), n + 1);
    return SJ_OK;
}

/* An integer member in min..max; when optional and absent, *out is kept. */
static sj_status_t get_int(const vctx_t *v, const json_t *obj, const char *path,
                           const char *key, bool required, int64_t min, int64_t max,
                           int64_t *out)
{
    char what[96], kp[160];
    snprintf(what, sizeof what, "an integer from %lld to %lld", (long long)min,
             (long long)max);
    json_t *j;
    sj_status_t st = member(v, obj, path, key, JSON_INTEGER, what, required, &j);
    if (st != SJ_OK || !j) return st;
    json_int_t x = json_integer_value(j);
    join_path(kp, sizeof kp, path, key);
    if (x < min || x > max) return fail(v, kp, "%lld is not %s", (long long)x, what);
    *out = x;
    return SJ_OK;
}

/* "HH:MM" -> minutes after midnight; "24:00" only when allow_24. */
static bool parse_hhmm(const char *s, bool allow_24, int32_t *minutes)
{
    if (strlen(s) != 5 || s[2] != ':') return false;
    for (int i = 0; i < 5; i++)
        if (i != 2 && (s[i] < '0' || s[i] > '9')) return false;
    int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
    if (allow_24 && h == 24 && m == 0) {
        *minutes = 24 * 60;
        return true;
    }
    if (h > 23 || m > 59) return false;
    *minutes = h * 60 + m;
    return true;
}

/* A time of day member; when optional and absent, *minutes is kept. */
static sj_status_t get_hhmm(const vctx_t *v, const json_t *obj, const char *path,
                            const char *key, bool required, bool allow_24,
                            int32_t *minutes)
{
    json_t *j;
    sj_status_t st =
        member(v, obj, path, key, JSON_STRING, "a time of day \"HH:MM\"", required, &j);
    if (st != SJ_OK || !j) return st;
    if (!parse_hhmm(json_string_value(j), allow_24, minutes)) {
        char kp[160], pv[48];
        join_path(kp, sizeof kp, path, key);
        return fail(v, kp, "\"%s\" is not a time of day \"HH:MM\" (00:00 to %s)",
                    preview(j, pv), allow_24 ? "24:00" : "23:59");
    }
    return SJ_OK;
}

static void format_hhmm(int32_t minutes, char out[6])
{
    int h = (int)(minutes / 60 % 100), m = (int)(minutes % 60);
    out[0] = (char)('0' + h / 10);
    out[1] = (char)('0' + h % 10);
    out[2] = ':';
    out[3] = (char)('0' + m / 10);
    out[4] = (char)('0' + m % 10);
    out[5] = '\0';
}

/* Looks s up in a name table; returns the index or -1. */
static int lookup(const char *s, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(s, names[i])) return (int)i;
    return -1;
}

static bool field_chars(const char *p)
{
    if (!*p) return false;
    for (; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return false;
    return true;
}

/* Checks relative_to; a batch campaign has no event data to count from. */
static sj_status_t check_relative_to(const vctx_t *v, const char *kp, const json_t *j,
                                     bool batch)
{
    const char *s = json_string_value(j);
    char pv[48];
    bool fits = json_string_length(j) < SJ_CAMPAIGN_FIELD_MAX &&
                strlen(s) == json_string_length(j);
    if (fits && !strcmp(s, "time")) return SJ_OK;
    if (fits && !strncmp(s, "data.", 5) && field_chars(s + 5)) {
        if (!batch) return SJ_OK;
        return fail(v, kp,
                    "\"%s\": a batch campaign has no event data; count from \"time\" "
                    "(the batch date) or \"resident.<field>\"",
                    preview(j, pv));
    }
    if (fits && !strncmp(s, "resident.", 9) && field_chars(s + 9)) {
        if (lookup(s + 9, resident_dates, SJ_ARRAY_LEN(resident_dates)) >= 0)
            return SJ_OK;
        return fail(v, kp,
                    "\"%s\" is not a date in the resident's profile (birth_date, "
                    "id_card_expires, resident_since, moved_out_on, deceased_on)",
                    preview(j, pv));
    }
    return fail(v, kp,
                "\"%s\" is not \"time\", \"data.<field>\" or \"resident.<field>\" "
                "(field: lowercase letters, digits, '_')",
                preview(j, pv));
}

/* timing or expiry; *present says whether the (optional) key was there. */
static sj_status_t get_anchor(const vctx_t *v, const json_t *root, const char *key,
                              bool required, int32_t default_at, bool batch,
                              sj_campaign_anchor_t *a, bool *present)
{
    static const char *const allowed[] = {"relative_to", "offset_days", "at", NULL};
    char path[64], kp[96];
    json_t *obj, *j;
    snprintf(path, sizeof path, "$.%s", key);
    sj_status_t st = member(v, root, "$", key, JSON_OBJECT,
                            "an object with relative_to and offset_days", required, &obj);
    *present = obj != NULL;
    if (st != SJ_OK || !obj) return st;
    if ((st = check_keys(v, obj, path, allowed, NULL)) != SJ_OK ||
        (st = member(v, obj, path, "relative_to", JSON_STRING,
                     "\"time\", \"data.<field>\" or \"resident.<field>\"", true, &j)) !=
            SJ_OK)
        return st;
    join_path(kp, sizeof kp, path, "relative_to");
    if ((st = check_relative_to(v, kp, j, batch)) != SJ_OK) return st;
    memcpy(a->relative_to, json_string_value(j), json_string_length(j) + 1);
    int64_t off = 0;
    if ((st = get_int(v, obj, path, "offset_days", true, -3650, 3650, &off)) != SJ_OK)
        return st;
    a->offset_days = (int32_t)off;
    a->at_minutes = default_at;
    return get_hhmm(v, obj, path, "at", false, false, &a->at_minutes);
}

/* A non-empty array obj.key of distinct names from `names`, at most `max`. */
static sj_status_t get_name_list(const vctx_t *v, const json_t *obj, const char *parent,
                                 const char *key, const char *const *names,
                                 size_t n_names, const char *kind, int *idx, size_t max,
                                 size_t *count)
{
    char path[64], list[96] = "", what[160];
    size_t k = 0;
    for (size_t i = 0; i < n_names; i++)
        k += (size_t)snprintf(list + k, sizeof list - k, "%s%s", i ? ", " : "", names[i]);
    snprintf(what, sizeof what, "a list of %ss (%s)", kind, list);
    join_path(path, sizeof path, parent, key);
    json_t *arr;
    sj_status_t st = member(v, obj, parent, key, JSON_ARRAY, what, true, &arr);
    if (st != SJ_OK) return st;
    if (json_array_size(arr) == 0)
        return fail(v, path, "must name at least one %s", kind);
    if (json_array_size(arr) > max) return fail(v, path, "more than %zu %ss", max, kind);
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *e = json_array_get(arr, i);
        char ip[96], pv[48];
        snprintf(ip, sizeof ip, "%.64s[%zu]", path, i);
        if (!json_is_string(e))
            return fail(v, ip, "expected a %s name, got %s", kind, sj_json_kind(e));
        int x = lookup(json_string_value(e), names, n_names);
        if (x < 0)
            return fail(v, ip, "\"%s\" is not a %s (%s)", preview(e, pv), kind, list);
        for (size_t j = 0; j < i; j++)
            if (idx[j] == x) return fail(v, ip, "\"%s\" appears twice", preview(e, pv));
        idx[i] = x;
    }
    *count = json_array_size(arr);
    return SJ_OK;
}

/* An event type of the life-event catalogue (trigger and goal events). */
static sj_status_t check_event_type(const vctx_t *v, const char *path, const json_t *j)
{
    char pv[48];
    const char *s = json_string_value(j);
    if (strncmp(s, "be.seintje.", 11) != 0)
        return fail(v, path,
                    "\"%s\" is not a Seintje event type (be.seintje.life.<event> or "
                    "be.seintje.service.<name>)",
                    preview(j, pv));
    if (strlen(s) != json_string_length(j) ||
        json_string_length(j) >= SJ_CAMPAIGN_EVENT_MAX || !sj_lifeevent_type_known(s))
        return fail(v, path,
                    "\"%s\" is not in the life-event catalogue (`seintje produce "
                    "--catalogue` lists the types)",
                    preview(j, pv));
    return SJ_OK;
}

static sj_status_t get_trigger(const vctx_t *v, const json_t *root, sj_campaign_t *c)
{
    static const char *const allowed[] = {"event", "schedule", NULL};
    json_t *trig, *ev, *sched;
    sj_status_t st =
        member(v, root, "$", "trigger", JSON_OBJECT,
               "an object {\"event\": type} or {\"schedule\": \"batch\"}", true, &trig);
    if (st != SJ_OK || (st = check_keys(v, trig, "$.trigger", allowed, NULL)) != SJ_OK ||
        (st = member(v, trig, "$.trigger", "event", JSON_STRING, "a life-event type",
                     false, &ev)) != SJ_OK ||
        (st = member(v, trig, "$.trigger", "schedule", JSON_STRING, "\"batch\"", false,
                     &sched)) != SJ_OK)
        return st;
    if (ev && sched)
        return fail(v, "$.trigger",
                    "has both \"event\" and \"schedule\"; a campaign is triggered by an "
                    "event or run as a batch, not both");
    if (sched) {
        char pv[48];
        if (strcmp(json_string_value(sched), "batch") != 0 ||
            json_string_length(sched) != 5)
            return fail(v, "$.trigger.schedule", "\"%s\" is not a schedule (batch)",
                        preview(sched, pv));
        c->trigger_kind = SJ_TRIGGER_BATCH;
        return SJ_OK;
    }
    if (!ev)
        return fail(v, "$.trigger",
                    "needs \"event\" (a life-event type) or \"schedule\" (\"batch\")");
    if ((st = check_event_type(v, "$.trigger.event", ev)) != SJ_OK) return st;
    c->trigger_kind = SJ_TRIGGER_EVENT;
    memcpy(c->trigger_event, json_string_value(ev), json_string_length(ev) + 1);
    return SJ_OK;
}

/* Compiles the audience rule; its error path continues $.audience. */
static sj_status_t get_audience(const vctx_t *v, const json_t *root, sj_campaign_t *c)
{
    json_t *rule = json_object_get(root, "audience");
    if (!rule) return SJ_OK;
    if (json_is_null(rule))
        return fail(v, "$.audience",
                    "expected a JsonLogic rule, got null (remove the key to target "
                    "everyone the trigger concerns)");
    sj_rule_error_t err;
    c->audience = sj_rule_compile(rule, &err);
    if (c->audience) return SJ_OK;
    char path[192];
    snprintf(path, sizeof path, "$.audience%.159s",
             err.path[0] == '$' ? err.path + 1 : "");
    sj_status_t st = fail(v, path, "%s", err.text);
    return err.status == SJ_ERR_NOMEM ? SJ_ERR_NOMEM : st;
}

static sj_status_t get_reminders(const vctx_t *v, const json_t *root, sj_campaign_t *c)
{
    static const char *const allowed[] = {"id", "after_days", "at", NULL};
    json_t *arr;
    sj_status_t st =
        member(v, root, "$", "reminders", JSON_ARRAY,
               "a list of {\"id\", \"after_days\", \"at\"} objects", false, &arr);
    if (st != SJ_OK || !arr) return st;
    size_t n = json_array_size(arr);
    if (n > SJ_CAMPAIGN_MAX_REMINDERS)
        return fail(v, "$.reminders", "more than %d reminders",
                    SJ_CAMPAIGN_MAX_REMINDERS);
    for (size_t i = 0; i < n; i++) {
        char ip[48], kp[64];
        snprintf(ip, sizeof ip, "$.reminders[%zu]", i);
        json_t *e = json_array_get(arr, i);
        sj_campaign_reminder_t *r = &c->reminders[i];
        if (!json_is_object(e))
            return fail(v, ip,
                        "expected an object {\"id\", \"after_days\", \"at\"}, got %s",
                        sj_json_kind(e));
        if ((st = check_keys(v, e, ip, allowed, NULL)) != SJ_OK ||
            (st = get_slug(v, e, ip, "id", true, r->id, sizeof r->id)) != SJ_OK)
            return st;
        join_path(kp, sizeof kp, ip, "id");
        if (!strcmp(r->id, "initial"))
            return fail(v, kp,
                        "\"initial\" is the name of the first message; choose "
                        "another id");
        for (size_t j = 0; j < i; j++)
            if (!strcmp(c->reminders[j].id, r->id))
                return fail(v, kp, "\"%s\" is also the id of $.reminders[%zu]", r->id, j);
        int64_t after = 0;
        if ((st = get_int(v, e, ip, "after_days", true, 1, 365, &after)) != SJ_OK)
            return st;
        r->after_days = (int32_t)after;
        join_path(kp, sizeof kp, ip, "after_days");
        if (i > 0 && r->after_days <= c->reminders[i - 1].after_days)
            return fail(v, kp,
                        "%d is not after $.reminders[%zu].after_days (%d); reminders "
                        "come in order",
                        (int)r->after_days, i - 1, (int)c->reminders[i - 1].after_days);
        r->at_minutes = c->timing.at_minutes;
        if ((st = get_hhmm(v, e, ip, "at", false, false, &r->at_minutes)) != SJ_OK)
            return st;
    }
    c->n_reminders = n;
    return SJ_OK;
}

static sj_status_t get_goal(const vctx_t *v, const json_t *root, sj_campaign_t *c)
{
    static const char *const allowed[] = {"events", "window_days", NULL};
    json_t *goal, *arr;
    sj_status_t st =
        member(v, root, "$", "goal", JSON_OBJECT,
               "an object {\"events\": [types], \"window_days\": days}", false, &goal);
    if (st != SJ_OK || !goal) return st;
    if ((st = check_keys(v, goal, "$.goal", allowed, NULL)) != SJ_OK ||
        (st = member(v, goal, "$.goal", "events", JSON_ARRAY,
                     "a list of 1 to 4 life-event types", true, &arr)) != SJ_OK)
        return st;
    size_t n = json_array_size(arr);
    if (n == 0) return fail(v, "$.goal.events", "must name at least one event type");
    if (n > SJ_CAMPAIGN_MAX_GOALS)
        return fail(v, "$.goal.events", "more than %d event types",
                    SJ_CAMPAIGN_MAX_GOALS);
    for (size_t i = 0; i < n; i++) {
        char ip[48], pv[48];
        snprintf(ip, sizeof ip, "$.goal.events[%zu]", i);
        json_t *e = json_array_get(arr, i);
        if (!json_is_string(e))
            return fail(v, ip, "expected a life-event type, got %s", sj_json_kind(e));
        if ((st = check_event_type(v, ip, e)) != SJ_OK) return st;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(c->goal_events[j], json_string_value(e)))
                return fail(v, ip, "\"%s\" appears twice", preview(e, pv));
        memcpy(c->goal_events[i], json_string_value(e), json_string_length(e) + 1);
    }
    c->n_goal_events = n;
    int64_t days = 90;
    if ((st = get_int(v, goal, "$.goal", "window_days", false, 1, 365, &days)) != SJ_OK)
        return st;
    c->goal_window_days = (int32_t)days;
    return SJ_OK;
}

static sj_status_t get_window(const vctx_t *v, const json_t *root, sj_campaign_t *c)
{
    static const char *const allowed[] = {"days", "from", "to", NULL};
    json_t *w;
    sj_status_t st = member(
        v, root, "$", "send_window", JSON_OBJECT,
        "an object {\"days\": [...], \"from\": \"HH:MM\", \"to\": \"HH:MM\"}", false, &w);
    if (st != SJ_OK || !w) return st;
    int idx[8];
    size_t n = 0;
    sj_send_window_t win = {.set = true};
    if ((st = check_keys(v, w, "$.send_window", allowed, NULL)) != SJ_OK ||
        (st = get_name_list(v, w, "$.send_window", "days", day_names,
                            SJ_ARRAY_LEN(day_names), "day", idx, 7, &n)) != SJ_OK ||
        (st = get_hhmm(v, w, "$.send_window", "from", true, false, &win.from_minutes)) !=
            SJ_OK ||
        (st = get_hhmm(v, w, "$.send_window", "to", true, true, &win.to_minutes)) !=
            SJ_OK)
        return st;
    if (win.from_minutes >= win.to_minutes) {
        char from[6], to[6];
        format_hhmm(win.from_minutes, from);
        format_hhmm(win.to_minutes, to);
        return fail(v, "$.send_window.to",
                    "\"%s\" is not after from \"%s\" (a window cannot span midnight)", to,
                    from);
    }
    for (size_t i = 0; i < n; i++) win.days |= (uint8_t)(1u << idx[i]);
    c->window = win;
    return SJ_OK;
}

static sj_status_t get_variants(const vctx_t *v, const json_t *root, sj_campaign_t *c)
{
    static const char *const allowed[] = {"id", "weight", "holdout", NULL};
    json_t *arr, *h;
    sj_status_t st =
        member(v, root, "$", "variants", JSON_ARRAY,
               "a list of {\"id\", \"weight\", \"holdout\"} objects", true, &arr);
    if (st != SJ_OK) return st;
    size_t n = json_array_size(arr);
    if (n == 0) return fail(v, "$.variants", "must name at least one variant");
    if (n > SJ_CAMPAIGN_MAX_VARIANTS)
        return fail(v, "$.variants", "more than %d variants", SJ_CAMPAIGN_MAX_VARIANTS);
    unsigned sum = 0, sending = 0;
    size_t holdouts = 0, holdout_at = 0;
    for (size_t i = 0; i < n; i++) {
        char ip[48];
        snprintf(ip, sizeof ip, "$.variants[%zu]", i);
        json_t *e = json_array_get(arr, i);
        sj_campaign_variant_t *var = &c->variants[i];
        if (!json_is_object(e))
            return fail(v, ip, "expected an object {\"id\", \"weight\"}, got %s",
                        sj_json_kind(e));
        if ((st = check_keys(v, e, ip, allowed, NULL)) != SJ_OK ||
            (st = get_slug(v, e, ip, "id", true, var->id, sizeof var->id)) != SJ_OK)
            return st;
        int64_t w = 0;
        if ((st = get_int(v, e, ip, "weight", true, 0, 100, &w)) != SJ_OK ||
            (st = member(v, e, ip, "holdout", JSON_TRUE, "true or false", false, &h)) !=
                SJ_OK)
            return st;
        var->weight = (unsigned)w;
        var->holdout = h && json_is_true(h);
        sum += (unsigned)w;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(c->variants[j].id, var->id))
                return fail(v, ip, "variant id \"%s\" appears twice", var->id);
        if (var->holdout && holdouts++)
            return fail(
                v, ip,
                "\"%s\" is a second holdout variant (the first is $.variants[%zu]); "
                "at most one variant is held out",
                var->id, holdout_at);
        if (var->holdout) holdout_at = i;
        if (!var->holdout) sending += var->weight;
    }
    if (sum != 100)
        return fail(v, "$.variants", "weights add up to %u; they must add up to 100",
                    sum);
    if (holdouts && sending == 0)
        return fail(v, "$.variants",
                    "the holdout takes every resident; at least one variant that is not "
                    "held out needs a weight above 0");
    c->n_variants = n;
    return SJ_OK;
}

/* Minutes from the anchor date's midnight: where a moment lies relative to
 * relative_to, to compare steps that count from the same date. */
static int64_t anchor_minutes(int32_t days, int32_t at)
{
    return (int64_t)days * 1440 + at;
}

/* Checks that only make sense once everything is parsed. */
static sj_status_t cross_checks(const vctx_t *v, const sj_campaign_t *c)
{
    if (c->n_reminders && !c->n_goal_events)
        return fail(v, "$.goal",
                    "missing (a campaign with reminders needs a goal: the events that "
                    "stop the reminders once the resident acted)");
    if (c->n_variants > 1 && !c->n_goal_events)
        return fail(v, "$.goal",
                    "missing (a campaign with more than one variant needs a goal: the "
                    "events an experiment counts as the outcome)");
    for (size_t i = 0; c->mandatory && i < c->n_variants; i++)
        if (c->variants[i].holdout) {
            char ip[64];
            snprintf(ip, sizeof ip, "$.variants[%zu].holdout", i);
            return fail(v, ip,
                        "a mandatory campaign cannot hold residents out (every resident "
                        "must get a legal notice)");
        }
    if (!c->has_expiry || strcmp(c->timing.relative_to, c->expiry.relative_to) != 0)
        return SJ_OK;
    /* Same date: a step due at or after the expiry would never be sent. */
    int64_t end = anchor_minutes(c->expiry.offset_days, c->expiry.at_minutes);
    char e_at[6], at[6];
    format_hhmm(c->expiry.at_minutes, e_at);
    if (anchor_minutes(c->timing.offset_days, c->timing.at_minutes) >= end) {
        format_hhmm(c->timing.at_minutes, at);
        return fail(v, "$.expiry",
                    "the campaign expires on day %d from %s at %s, at or before the "
                    "first message (day %d at %s): nothing would ever be sent",
                    (int)c->expiry.offset_days, c->expiry.relative_to, e_at,
                    (int)c->timing.offset_days, at);
    }
    for (size_t i = 0; i < c->n_reminders; i++) {
        const sj_campaign_reminder_t *r = &c->reminders[i];
        int32_t day = c->timing.offset_days + r->after_days;
        if (anchor_minutes(day, r->at_minutes) < end) continue;
        char rp[64];
        snprintf(rp, sizeof rp, "$.reminders[%zu].after_days", i);
        format_hhmm(r->at_minutes, at);
        return fail(v, rp,
                    "the reminder falls on day %d from %s at %s at the earliest, at or "
                    "after the expiry (day %d at %s): it would never be sent",
                    (int)day, c->timing.relative_to, at, (int)c->expiry.offset_days,
                    e_at);
    }
    return SJ_OK;
}

static sj_status_t get_languages(const vctx_t *v, const json_t *root, sj_campaign_t *c)
{
    int idx[SJ_CAMPAIGN_MAX_LANGUAGES];
    json_t *j;
    sj_status_t st = get_name_list(v, root, "$", "languages", language_names,
                                   SJ_ARRAY_LEN(language_names), "language", idx,
                                   SJ_CAMPAIGN_MAX_LANGUAGES, &c->n_languages);
    if (st != SJ_OK) return st;
    for (size_t i = 0; i < c->n_languages; i++)
        memcpy(c->languages[i], language_names[idx[i]], 3);
    if ((st = member(v, root, "$", "default_language", JSON_STRING,
                     "one of the campaign's languages", true, &j)) != SJ_OK)
        return st;
    for (size_t i = 0; i < c->n_languages; i++)
        if (!strcmp(c->languages[i], json_string_value(j)) &&
            json_string_length(j) == 2) {
            memcpy(c->default_language, c->languages[i], 3);
            return SJ_OK;
        }
    char pv[48];
    return fail(v, "$.default_language", "\"%s\" is not one of $.languages",
                preview(j, pv));
}

static sj_status_t validate(const vctx_t *v, const json_t *root, sj_campaign_t *c)
{
    static const char *const allowed[] = {
        "id",        "name",       "description", "topic",
        "trigger",   "audience",   "timing",      "expiry",
        "reminders", "goal",       "send_window", "channels",
        "variants",  "experiment", "languages",   "default_language",
        "mandatory", "priority",   NULL};
    static const hint_t hints[] = {
        {"schedule", "unknown key; a batch campaign says \"trigger\": {\"schedule\": "
                     "\"batch\"}"},
        {"holdout", "unknown key; a holdout is a variant with \"holdout\": true"},
        {"caps", "unknown key; frequency caps are the settings nudge.cap-count and "
                 "nudge.cap-days"},
        {"window", "unknown key; did you mean send_window?"},
        {NULL, NULL}};
    if (!json_is_object(root))
        return fail(v, "$", "expected a campaign object, got %s", sj_json_kind(root));
    sj_status_t st;
    json_t *j;
    bool present = false;
    if ((st = check_keys(v, root, "$", allowed, hints)) != SJ_OK ||
        (st = get_slug(v, root, "$", "id", true, c->id, sizeof c->id)) != SJ_OK ||
        (st = get_text(v, root, "$", "name", c->name, sizeof c->name)) != SJ_OK ||
        (st = member(v, root, "$", "description", JSON_STRING, "a text", false, &j)) !=
            SJ_OK ||
        (st = get_slug(v, root, "$", "topic", true, c->topic, sizeof c->topic)) !=
            SJ_OK ||
        (st = get_trigger(v, root, c)) != SJ_OK ||
        (st = get_audience(v, root, c)) != SJ_OK)
        return st;
    bool batch = c->trigger_kind == SJ_TRIGGER_BATCH;
    if ((st = get_anchor(v, root, "timing", true, 9 * 60, batch, &c->timing, &present)) !=
            SJ_OK ||
        (st = get_anchor(v, root, "expiry", false, 0, batch, &c->expiry,
                         &c->has_expiry)) != SJ_OK ||
        (st = get_reminders(v, root, c)) != SJ_OK ||
        (st = get_goal(v, root, c)) != SJ_OK || (st = get_window(v, root, c)) != SJ_OK)
        return st;
    if (!c->has_expiry) memset(&c->expiry, 0, sizeof c->expiry);
    int idx[SJ_CAMPAIGN_MAX_CHANNELS];
    if ((st = get_name_list(v, root, "$", "channels", channel_names,
                            SJ_ARRAY_LEN(channel_names), "channel", idx,
                            SJ_CAMPAIGN_MAX_CHANNELS, &c->n_channels)) != SJ_OK)
        return st;
    for (size_t i = 0; i < c->n_channels; i++) c->channels[i] = (sj_channel_t)idx[i];
    memcpy(c->experiment, c->id, sizeof c->experiment);
    if ((st = get_variants(v, root, c)) != SJ_OK ||
        (st = get_slug(v, root, "$", "experiment", false, c->experiment,
                       sizeof c->experiment)) != SJ_OK ||
        (st = get_languages(v, root, c)) != SJ_OK ||
        (st = member(v, root, "$", "mandatory", JSON_TRUE, "true or false", false, &j)) !=
            SJ_OK)
        return st;
    c->mandatory = j && json_is_true(j);
    int64_t prio = 5;
    if ((st = get_int(v, root, "$", "priority", false, 1, 10, &prio)) != SJ_OK) return st;
    c->priority = (int)prio;
    return cross_checks(v, c);
}

/* Keeps the name for later messages; a long one keeps its end. */
static void set_source(sj_campaign_t *c, const char *name)
{
    size_t n = strlen(name);
    if (n < sizeof c->source)
        memcpy(c->source, name, n + 1);
    else
        snprintf(c->source, sizeof c->source, "...%s", name + n - (sizeof c->source - 4));
}

sj_status_t sj_campaign_parse(const char *json, size_t n, const char *name,
                              sj_campaign_t *out, char *errstr, size_t errstr_size)
{
    vctx_t v = {name, errstr, errstr_size};
    memset(out, 0, sizeof *out);
    if (n > SJ_CAMPAIGN_FILE_MAX)
        return fail(&v, "$", "larger than %d bytes", SJ_CAMPAIGN_FILE_MAX);
    json_error_t jerr;
    json_t *root = json_loadb(json, n, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        sj_seterr(errstr, errstr_size, "%s:%d:%d: invalid JSON: %s", name, jerr.line,
                  jerr.column, jerr.text);
        return SJ_ERR_INPUT;
    }
    sj_status_t st = validate(&v, root, out);
    json_decref(root);
    if (st != SJ_OK) {
        sj_campaign_release(out);
        memset(out, 0, sizeof *out);
        return st;
    }
    set_source(out, name);
    return SJ_OK;
}

sj_status_t sj_campaign_load_file(const char *path, sj_campaign_t *out, char *errstr,
                                  size_t errstr_size)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) {
        sj_seterr(errstr, errstr_size, "%s: cannot open: %s", path, strerror(errno));
        return SJ_ERR_IO;
    }
    char *buf = malloc(SJ_CAMPAIGN_FILE_MAX + 1);
    if (!buf) {
        fclose(f);
        sj_seterr(errstr, errstr_size, "%s: out of memory", path);
        return SJ_ERR_NOMEM;
    }
    size_t n = fread(buf, 1, SJ_CAMPAIGN_FILE_MAX + 1, f);
    bool err = ferror(f);
    fclose(f);
    sj_status_t st;
    if (err) {
        sj_seterr(errstr, errstr_size, "%s: read error", path);
        st = SJ_ERR_IO;
    } else {
        st = sj_campaign_parse(buf, n, path, out, errstr, errstr_size);
    }
    free(buf);
    return st;
}

void sj_campaign_release(sj_campaign_t *c)
{
    if (!c) return;
    sj_rule_destroy(c->audience);
    c->audience = NULL;
}

const sj_campaign_variant_t *sj_campaign_variant_for(const sj_campaign_t *c,
                                                     const char *pseudonym)
{
    if (c->n_variants == 0) return NULL;
    unsigned weights[SJ_CAMPAIGN_MAX_VARIANTS];
    size_t n = c->n_variants < SJ_CAMPAIGN_MAX_VARIANTS ? c->n_variants
                                                        : SJ_CAMPAIGN_MAX_VARIANTS;
    for (size_t i = 0; i < n; i++) weights[i] = c->variants[i].weight;
    unsigned bucket =
        sj_nudge_bucket(c->experiment[0] ? c->experiment : c->id, pseudonym);
    return &c->variants[sj_nudge_assign(bucket, weights, n)];
}

const char *sj_campaign_language_for(const sj_campaign_t *c, const char *lang)
{
    for (size_t i = 0; lang && i < c->n_languages; i++)
        if (!strcmp(c->languages[i], lang)) return c->languages[i];
    return c->default_language;
}

/* ---- templates ------------------------------------------------------------- */

/* 0 when path is a regular file, else the problem in words. */
static const char *file_problem(const char *path)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        return errno == ENOENT || errno == ENOTDIR ? "is missing" : "cannot be read";
    return S_ISREG(sb.st_mode) ? NULL : "is not a file";
}

sj_status_t sj_campaign_check_templates(const sj_campaign_t *c, const char *templates_dir,
                                        char *errstr, size_t errstr_size)
{
    struct stat sb;
    if (stat(templates_dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        sj_seterr(errstr, errstr_size, "templates.dir %s: not a directory",
                  templates_dir);
        return SJ_ERR_INPUT;
    }
    size_t bad = 0;
    char first[PATH_TEXT + 512] = "";
    for (size_t i = 0; i < c->n_variants; i++) {
        const sj_campaign_variant_t *var = &c->variants[i];
        if (var->holdout || var->weight == 0) continue; /* never sent */
        for (size_t j = 0; j < c->n_languages; j++)
            for (size_t k = 0; k < c->n_channels; k++)
                for (size_t f = 0; f < 2; f++) {
                    size_t ch = (size_t)c->channels[k];
                    if (ch >= SJ_ARRAY_LEN(channel_files) || !channel_files[ch][f])
                        continue;
                    char path[PATH_TEXT];
                    int len =
                        snprintf(path, sizeof path, "%s/%s/%s/%s/%s", templates_dir,
                                 c->id, var->id, c->languages[j], channel_files[ch][f]);
                    const char *problem = len < 0 || (size_t)len >= sizeof path
                                              ? "is too long a path"
                                              : file_problem(path);
                    if (!problem || bad++) continue;
                    snprintf(first, sizeof first,
                             "%s: $.variants[%zu] / $.languages[%zu] / $.channels[%zu]: "
                             "%s %s (variant \"%s\", language \"%s\", channel %s)",
                             c->source[0] ? c->source : c->id, i, j, k, path, problem,
                             var->id, c->languages[j], channel_names[ch]);
                }
    }
    if (!bad) return SJ_OK;
    if (bad == 1)
        sj_seterr(errstr, errstr_size, "%s", first);
    else
        sj_seterr(errstr, errstr_size, "%s; %zu more template file%s %s missing", first,
                  bad - 1, bad == 2 ? "" : "s", bad == 2 ? "is" : "are");
    return SJ_ERR_INPUT;
}

/* ---- description ----------------------------------------------------------- */

typedef struct {
    char *out;
    size_t size, len;
} text_t;

static void add(text_t *t, const char *fmt, ...) SJ_PRINTF(2, 3);

static void add(text_t *t, const char *fmt, ...)
{
    if (t->len + 1 >= t->size) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->out + t->len, t->size - t->len, fmt, ap);
    va_end(ap);
    if (n > 0) t->len += (size_t)n < t->size - t->len ? (size_t)n : t->size - t->len - 1;
}

/* "60 days before data.expires at 09:00", "on the day of the event at 10:00". */
static void add_timing(text_t *t, const sj_campaign_t *c)
{
    const sj_campaign_anchor_t *a = &c->timing;
    const char *what = a->relative_to;
    if (!strcmp(what, "time"))
        what = c->trigger_kind == SJ_TRIGGER_BATCH ? "the batch date" : "the event";
    int off = a->offset_days, days = off < 0 ? -off : off;
    char at[6];
    format_hhmm(a->at_minutes, at);
    if (off == 0)
        add(t, ", on the day of %s at %s", what, at);
    else
        add(t, ", %d day%s %s %s at %s", days, days == 1 ? "" : "s",
            off < 0 ? "before" : "after", what, at);
}

static void add_reminders(text_t *t, const sj_campaign_t *c)
{
    if (!c->n_reminders) {
        add(t, ", no reminders");
        return;
    }
    /* "after 21 and 42 days", or each with its time when one differs. */
    bool own_at = false;
    for (size_t i = 0; i < c->n_reminders; i++)
        own_at |= c->reminders[i].at_minutes != c->timing.at_minutes;
    add(t, ", reminder%s after", c->n_reminders == 1 ? "" : "s");
    for (size_t i = 0; i < c->n_reminders; i++) {
        const sj_campaign_reminder_t *r = &c->reminders[i];
        bool last = i + 1 == c->n_reminders;
        add(t, "%s%d", i == 0 ? " " : last ? " and " : ", ", (int)r->after_days);
        if (own_at || last) add(t, " day%s", r->after_days == 1 ? "" : "s");
        if (own_at) {
            char at[6];
            format_hhmm(r->at_minutes, at);
            add(t, " at %s", at);
        }
    }
}

char *sj_campaign_describe(const sj_campaign_t *c, const sj_send_window_t *default_window,
                           char *out, size_t out_size)
{
    text_t t = {out, out_size, 0};
    if (!out_size) return out;
    out[0] = '\0';
    add(&t, "%s", c->id);
    if (c->trigger_kind == SJ_TRIGGER_BATCH)
        add(&t, ", batch");
    else
        add(&t, ", on %s", c->trigger_event);
    if (c->audience) add(&t, " with an audience rule");
    if (c->mandatory) add(&t, ", mandatory");
    add_timing(&t, c);
    add_reminders(&t, c);
    if (c->n_goal_events) {
        add(&t, ", goal");
        for (size_t i = 0; i < c->n_goal_events; i++)
            add(&t, "%s%s", i ? " or " : " ", c->goal_events[i]);
        add(&t, " within %d days", (int)c->goal_window_days);
    }
    char win[48] = "";
    if (c->window.set) {
        sj_nudge_window_format(&c->window, win, sizeof win);
        add(&t, ", window %s", win);
    } else if (default_window && default_window->set) {
        sj_nudge_window_format(default_window, win, sizeof win);
        add(&t, ", window %s (nudge.send-window)", win);
    } else {
        add(&t, ", window nudge.send-window");
    }
    if (strcmp(c->experiment, c->id) != 0 && c->experiment[0])
        add(&t, ", experiment %s:", c->experiment);
    else
        add(&t, ", variant%s", c->n_variants == 1 ? "" : "s");
    for (size_t i = 0; i < c->n_variants; i++)
        add(&t, "%s%s %u%%%s", i ? " / " : " ", c->variants[i].id, c->variants[i].weight,
            c->variants[i].holdout ? " held out" : "");
    add(&t, ", channels");
    for (size_t i = 0; i < c->n_channels; i++)
        add(&t, "%s%s", i ? "," : " ", sj_channel_name(c->channels[i]));
    return out;
}

/* ---- directories ----------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Lists the *.json names in dir, sorted. */
static sj_status_t list_json(const char *dir, char ***names, size_t *count, char *errstr,
                             size_t errstr_size)
{
    DIR *d = opendir(dir);
    if (!d) {
        sj_seterr(errstr, errstr_size, "campaigns.dir %s: cannot open: %s", dir,
                  strerror(errno));
        return SJ_ERR_IO;
    }
    char **v = calloc(SJ_CAMPAIGNS_MAX, sizeof *v);
    size_t n = 0;
    sj_status_t st = v ? SJ_OK : SJ_ERR_NOMEM;
    struct dirent *e;
    while (st == SJ_OK && (e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (e->d_name[0] == '.' || len < 6 || strcmp(e->d_name + len - 5, ".json"))
            continue;
        if (n == SJ_CAMPAIGNS_MAX) {
            sj_seterr(errstr, errstr_size,
                      "campaigns.dir %s: more than %d campaign files", dir,
                      SJ_CAMPAIGNS_MAX);
            st = SJ_ERR_TOO_BIG;
        } else if (!(v[n++] = strdup(e->d_name))) {
            st = SJ_ERR_NOMEM;
        }
    }
    closedir(d);
    if (st != SJ_OK) {
        if (st == SJ_ERR_NOMEM)
            sj_seterr(errstr, errstr_size, "out of memory listing campaigns");
        for (size_t i = 0; v && i < n; i++) free(v[i]);
        free(v);
        return st;
    }
    qsort(v, n, sizeof *v, cmp_str);
    *names = v;
    *count = n;
    return SJ_OK;
}

sj_campaigns_t *sj_campaigns_load_dir(const char *dir, char *errstr, size_t errstr_size)
{
    char **names = NULL;
    size_t n = 0;
    if (list_json(dir, &names, &n, errstr, errstr_size) != SJ_OK) return NULL;
    sj_campaigns_t *set = calloc(1, sizeof *set);
    if (set && n) set->items = calloc(n, sizeof *set->items);
    bool ok = set && (n == 0 || set->items);
    if (!ok) sj_seterr(errstr, errstr_size, "out of memory loading campaigns");
    for (size_t i = 0; ok && i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        set->n = i + 1; /* a failed load leaves its item zeroed: safe to release */
        ok = sj_campaign_load_file(path, &set->items[i], errstr, errstr_size) == SJ_OK;
        for (size_t j = 0; ok && j < i; j++)
            if (!strcmp(set->items[j].id, set->items[i].id)) {
                sj_seterr(errstr, errstr_size, "%s: $.id: \"%s\" is also the id of %s/%s",
                          path, set->items[i].id, dir, names[j]);
                ok = false;
            }
    }
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    if (!ok) {
        sj_campaigns_destroy(set);
        return NULL;
    }
    return set;
}

void sj_campaigns_destroy(sj_campaigns_t *set)
{
    if (!set) return;
    for (size_t i = 0; i < set->n; i++) sj_campaign_release(&set->items[i]);
    free(set->items);
    free(set);
}

size_t sj_campaigns_count(const sj_campaigns_t *set)
{
    return set ? set->n : 0;
}

const sj_campaign_t *sj_campaigns_get(const sj_campaigns_t *set, size_t i)
{
    return set && i < set->n ? &set->items[i] : NULL;
}
