/* Campaign files: strict loading and validation (see campaign.h for the
 * format). Validation stops at the first problem and names it precisely, as
 * "<file>: <JSON path>: <problem>", because an officer fixes one thing at a
 * time and a precise first error beats a vague list. */
#include "campaign.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/crypto.h"
#include "core/text.h"

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

static const char *const channel_names[] = {"email", "sms", "app"};
static const char *const language_names[] = {"nl", "fr", "de", "en"};

const char *sj_channel_name(sj_channel_t ch)
{
    return (size_t)ch < SJ_ARRAY_LEN(channel_names) ? channel_names[ch] : "?";
}

static sj_status_t fail(const vctx_t *v, const char *path, const char *fmt, ...)
    SJ_PRINTF(3, 4);

static sj_status_t fail(const vctx_t *v, const char *path, const char *fmt, ...)
{
    char msg[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sj_seterr(v->errstr, v->errstr_size, "%s: %s: %s", v->name, path, msg);
    return SJ_ERR_INPUT;
}

/* "a string", "an integer", ... for "expected X, got Y" messages. */
static const char *type_name(const json_t *j)
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

/* Every key of obj must be in `allowed`; keys in `later` get a "not supported
 * yet" message, "audience" a specific one, because silently ignoring a rule
 * would send messages to people the officer meant to exclude. */
static sj_status_t check_keys(const vctx_t *v, const json_t *obj, const char *path,
                              const char *const *allowed, const char *const *later)
{
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)obj, key, val)
    {
        bool ok = false;
        for (size_t i = 0; allowed[i] && !ok; i++) ok = !strcmp(key, allowed[i]);
        if (ok) continue;
        char kp[160], preview[48];
        sj_preview(key, strlen(key), preview, sizeof preview, 40);
        join_path(kp, sizeof kp, path, preview);
        if (!strcmp(key, "audience") && later)
            return fail(v, kp,
                        "audience rules (JsonLogic) are not supported yet; remove the "
                        "key to target every resident with the trigger event");
        for (size_t i = 0; later && later[i]; i++)
            if (!strcmp(key, later[i])) return fail(v, kp, "not supported yet");
        char list[256] = "";
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
    if (!ok) return fail(v, kp, "expected %s, got %s", what, type_name(*out));
    return SJ_OK;
}

static sj_status_t get_slug(const vctx_t *v, const json_t *obj, const char *path,
                            const char *key, char *out, size_t outsize)
{
    json_t *j;
    sj_status_t st = member(v, obj, path, key, JSON_STRING,
                            "a name of lowercase letters, digits and '-'", true, &j);
    if (st != SJ_OK) return st;
    const char *s = json_string_value(j);
    if (!is_slug(s, outsize - 1)) {
        char kp[160], preview[48];
        join_path(kp, sizeof kp, path, key);
        sj_preview(s, strlen(s), preview, sizeof preview, 40);
        return fail(v, kp,
                    "\"%s\" must be 1 to %zu lowercase letters, digits or '-', not "
                    "starting with '-'",
                    preview, outsize - 1);
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
    memcpy(out, json_string_value(j), n + 1);
    return SJ_OK;
}

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

/* "HH:MM" -> minutes after midnight. */
static bool parse_hhmm(const char *s, int32_t *minutes)
{
    if (strlen(s) != 5 || s[2] != ':') return false;
    for (int i = 0; i < 5; i++)
        if (i != 2 && (s[i] < '0' || s[i] > '9')) return false;
    int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
    if (h > 23 || m > 59) return false;
    *minutes = h * 60 + m;
    return true;
}

static bool valid_relative_to(const char *s)
{
    if (!strcmp(s, "time")) return true;
    if (strncmp(s, "data.", 5) != 0 || !s[5]) return false;
    for (const char *p = s + 5; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return false;
    return true;
}

static sj_status_t get_anchor(const vctx_t *v, const json_t *root, const char *key,
                              int32_t default_at, sj_campaign_anchor_t *a)
{
    static const char *const allowed[] = {"relative_to", "offset_days", "at", NULL};
    char path[64], kp[96];
    json_t *obj, *j;
    snprintf(path, sizeof path, "$.%s", key);
    sj_status_t st = member(v, root, "$", key, JSON_OBJECT,
                            "an object with relative_to and offset_days", true, &obj);
    if (st != SJ_OK || (st = check_keys(v, obj, path, allowed, NULL)) != SJ_OK) return st;
    if ((st = member(v, obj, path, "relative_to", JSON_STRING,
                     "\"time\" or \"data.<field>\"", true, &j)) != SJ_OK)
        return st;
    const char *rel = json_string_value(j);
    if (!valid_relative_to(rel) || strlen(rel) >= sizeof a->relative_to) {
        char preview[48];
        sj_preview(rel, strlen(rel), preview, sizeof preview, 40);
        join_path(kp, sizeof kp, path, "relative_to");
        return fail(
            v, kp,
            "\"%s\" is not \"time\" or \"data.<field>\" (field: lowercase letters, "
            "digits, '_')",
            preview);
    }
    memcpy(a->relative_to, rel, strlen(rel) + 1);
    int64_t off = 0;
    if ((st = get_int(v, obj, path, "offset_days", true, -3650, 3650, &off)) != SJ_OK)
        return st;
    a->offset_days = (int32_t)off;
    a->at_minutes = default_at;
    if ((st = member(v, obj, path, "at", JSON_STRING, "a time of day \"HH:MM\"", false,
                     &j)) != SJ_OK)
        return st;
    if (j && !parse_hhmm(json_string_value(j), &a->at_minutes)) {
        char preview[48];
        sj_preview(json_string_value(j), json_string_length(j), preview, sizeof preview,
                   40);
        join_path(kp, sizeof kp, path, "at");
        return fail(v, kp, "\"%s\" is not a time of day \"HH:MM\" (00:00 to 23:59)",
                    preview);
    }
    return SJ_OK;
}

/* Looks s up in a name table; returns the index or -1. */
static int lookup(const char *s, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(s, names[i])) return (int)i;
    return -1;
}

/* A non-empty array of distinct names from `names`, at most `max` long. */
static sj_status_t get_name_list(const vctx_t *v, const json_t *root, const char *key,
                                 const char *const *names, size_t n_names,
                                 const char *kind, int *idx, size_t max, size_t *count)
{
    char path[64], list[96] = "", what[160];
    size_t k = 0;
    for (size_t i = 0; i < n_names; i++)
        k += (size_t)snprintf(list + k, sizeof list - k, "%s%s", i ? ", " : "", names[i]);
    snprintf(what, sizeof what, "a list of %ss (%s)", kind, list);
    snprintf(path, sizeof path, "$.%s", key);
    json_t *arr;
    sj_status_t st = member(v, root, "$", key, JSON_ARRAY, what, true, &arr);
    if (st != SJ_OK) return st;
    if (json_array_size(arr) == 0)
        return fail(v, path, "must name at least one %s", kind);
    if (json_array_size(arr) > max) return fail(v, path, "more than %zu %ss", max, kind);
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *e = json_array_get(arr, i);
        char ip[96], preview[48];
        snprintf(ip, sizeof ip, "%.64s[%zu]", path, i);
        if (!json_is_string(e))
            return fail(v, ip, "expected a %s name, got %s", kind, type_name(e));
        sj_preview(json_string_value(e), json_string_length(e), preview, sizeof preview,
                   40);
        int x = lookup(json_string_value(e), names, n_names);
        if (x < 0) return fail(v, ip, "\"%s\" is not a %s (%s)", preview, kind, list);
        for (size_t j = 0; j < i; j++)
            if (idx[j] == x) return fail(v, ip, "\"%s\" appears twice", preview);
        idx[i] = x;
    }
    *count = json_array_size(arr);
    return SJ_OK;
}

static sj_status_t get_variants(const vctx_t *v, const json_t *root, sj_campaign_t *c)
{
    static const char *const allowed[] = {"id", "weight", NULL};
    json_t *arr;
    sj_status_t st = member(v, root, "$", "variants", JSON_ARRAY,
                            "a list of {\"id\", \"weight\"} objects", true, &arr);
    if (st != SJ_OK) return st;
    size_t n = json_array_size(arr);
    if (n == 0) return fail(v, "$.variants", "must name at least one variant");
    if (n > SJ_CAMPAIGN_MAX_VARIANTS)
        return fail(v, "$.variants", "more than %d variants", SJ_CAMPAIGN_MAX_VARIANTS);
    unsigned sum = 0;
    for (size_t i = 0; i < n; i++) {
        char ip[48];
        snprintf(ip, sizeof ip, "$.variants[%zu]", i);
        json_t *e = json_array_get(arr, i);
        if (!json_is_object(e))
            return fail(v, ip, "expected an object {\"id\", \"weight\"}, got %s",
                        type_name(e));
        if ((st = check_keys(v, e, ip, allowed, NULL)) != SJ_OK ||
            (st = get_slug(v, e, ip, "id", c->variants[i].id,
                           sizeof c->variants[i].id)) != SJ_OK)
            return st;
        int64_t w = 0;
        if ((st = get_int(v, e, ip, "weight", true, 0, 100, &w)) != SJ_OK) return st;
        c->variants[i].weight = (unsigned)w;
        sum += (unsigned)w;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(c->variants[j].id, c->variants[i].id))
                return fail(v, ip, "variant id \"%s\" appears twice", c->variants[i].id);
    }
    if (sum != 100)
        return fail(v, "$.variants", "weights add up to %u; they must add up to 100",
                    sum);
    c->n_variants = n;
    return SJ_OK;
}

static sj_status_t validate(const vctx_t *v, const json_t *root, sj_campaign_t *c)
{
    static const char *const allowed[] = {
        "id",       "name",      "description",      "topic",
        "trigger",  "timing",    "expiry",           "channels",
        "variants", "languages", "default_language", "mandatory",
        "priority", NULL};
    static const char *const later[] = {"reminders", "send_window", "caps", "experiment",
                                        "holdout",   "schedule",    NULL};
    static const char *const trigger_keys[] = {"event", NULL};
    if (!json_is_object(root))
        return fail(v, "$", "expected a campaign object, got %s", type_name(root));
    sj_status_t st;
    json_t *j, *trig;
    if ((st = check_keys(v, root, "$", allowed, later)) != SJ_OK ||
        (st = get_slug(v, root, "$", "id", c->id, sizeof c->id)) != SJ_OK ||
        (st = get_text(v, root, "$", "name", c->name, sizeof c->name)) != SJ_OK ||
        (st = member(v, root, "$", "description", JSON_STRING, "a text", false, &j)) !=
            SJ_OK ||
        (st = get_slug(v, root, "$", "topic", c->topic, sizeof c->topic)) != SJ_OK ||
        (st = member(v, root, "$", "trigger", JSON_OBJECT, "an object {\"event\": type}",
                     true, &trig)) != SJ_OK ||
        (st = check_keys(v, trig, "$.trigger", trigger_keys, NULL)) != SJ_OK ||
        (st = get_text(v, trig, "$.trigger", "event", c->trigger_event,
                       sizeof c->trigger_event)) != SJ_OK)
        return st;
    if (strncmp(c->trigger_event, "be.seintje.", 11) != 0) {
        char preview[48];
        sj_preview(c->trigger_event, strlen(c->trigger_event), preview, sizeof preview,
                   40);
        return fail(v, "$.trigger.event",
                    "\"%s\" is not a Seintje event type (be.seintje.life.<event> or "
                    "be.seintje.service.<name>)",
                    preview);
    }
    if ((st = get_anchor(v, root, "timing", 9 * 60, &c->timing)) != SJ_OK ||
        (st = get_anchor(v, root, "expiry", 0, &c->expiry)) != SJ_OK)
        return st;
    int idx[SJ_CAMPAIGN_MAX_VARIANTS];
    if ((st = get_name_list(v, root, "channels", channel_names,
                            SJ_ARRAY_LEN(channel_names), "channel", idx,
                            SJ_CAMPAIGN_MAX_CHANNELS, &c->n_channels)) != SJ_OK)
        return st;
    for (size_t i = 0; i < c->n_channels; i++) c->channels[i] = (sj_channel_t)idx[i];
    if ((st = get_variants(v, root, c)) != SJ_OK ||
        (st = get_name_list(v, root, "languages", language_names,
                            SJ_ARRAY_LEN(language_names), "language", idx,
                            SJ_CAMPAIGN_MAX_LANGUAGES, &c->n_languages)) != SJ_OK)
        return st;
    for (size_t i = 0; i < c->n_languages; i++)
        memcpy(c->languages[i], language_names[idx[i]], 3);
    if ((st = member(v, root, "$", "default_language", JSON_STRING,
                     "one of the campaign's languages", true, &j)) != SJ_OK)
        return st;
    bool found = false;
    for (size_t i = 0; i < c->n_languages && !found; i++)
        found = !strcmp(c->languages[i], json_string_value(j));
    if (!found) {
        char preview[48];
        sj_preview(json_string_value(j), json_string_length(j), preview, sizeof preview,
                   40);
        return fail(v, "$.default_language", "\"%s\" is not one of $.languages", preview);
    }
    memcpy(c->default_language, json_string_value(j), 3);
    if ((st = member(v, root, "$", "mandatory", JSON_TRUE, "true or false", false, &j)) !=
        SJ_OK)
        return st;
    c->mandatory = j && json_is_true(j);
    int64_t prio = 5;
    if ((st = get_int(v, root, "$", "priority", false, 1, 10, &prio)) != SJ_OK) return st;
    c->priority = (int)prio;
    return SJ_OK;
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
    if (st != SJ_OK) memset(out, 0, sizeof *out);
    return st;
}

sj_status_t sj_campaign_load_file(const char *path, sj_campaign_t *out, char *errstr,
                                  size_t errstr_size)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        sj_seterr(errstr, errstr_size, "%s: cannot open: %s", path, strerror(errno));
        return SJ_ERR_IO;
    }
    char *buf = malloc(SJ_CAMPAIGN_FILE_MAX + 1);
    if (!buf) {
        fclose(f);
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

const sj_campaign_variant_t *sj_campaign_variant_for(const sj_campaign_t *c,
                                                     const char *pseudonym)
{
    char in[SJ_CAMPAIGN_ID_MAX + SJ_PSEUDONYM_LEN + 8], hex[9];
    int n = snprintf(in, sizeof in, "%s|%s", c->id, pseudonym);
    sj_sha256_hex(in,
                  n < 0                   ? 0
                  : (size_t)n < sizeof in ? (size_t)n
                                          : sizeof in - 1,
                  hex, 8);
    uint64_t h = 0;
    for (int i = 0; i < 8; i++)
        h = h * 16 + (uint64_t)(hex[i] <= '9' ? hex[i] - '0' : hex[i] - 'a' + 10);
    unsigned bucket = (unsigned)(h % 100), acc = 0;
    for (size_t i = 0; i < c->n_variants; i++) {
        acc += c->variants[i].weight;
        if (bucket < acc) return &c->variants[i];
    }
    return &c->variants[c->n_variants - 1];
}

const char *sj_campaign_language_for(const sj_campaign_t *c, const char *lang)
{
    for (size_t i = 0; lang && i < c->n_languages; i++)
        if (!strcmp(c->languages[i], lang)) return c->languages[i];
    return c->default_language;
}

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
        ok = sj_campaign_load_file(path, &set->items[i], errstr, errstr_size) == SJ_OK;
        for (size_t j = 0; ok && j < i; j++)
            if (!strcmp(set->items[j].id, set->items[i].id)) {
                sj_seterr(errstr, errstr_size, "%s: $.id: \"%s\" is also the id of %s/%s",
                          path, set->items[i].id, dir, names[j]);
                ok = false;
            }
        set->n = i + 1;
    }
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    if (!ok) {
        sj_campaigns_destroy(set);
        return NULL;
    }
    set->n = n;
    return set;
}

void sj_campaigns_destroy(sj_campaigns_t *set)
{
    if (!set) return;
    free(set->items);
    free(set);
}

size_t sj_campaigns_count(const sj_campaigns_t *set)
{
    return set ? set->n : 0;
}

const sj_campaign_t *sj_campaigns_get(const sj_campaigns_t *set, size_t i)
{
    return i < set->n ? &set->items[i] : NULL;
}
