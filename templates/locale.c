/* Dates, weekdays and euro amounts written out per language, and the context
 * enrichment built on them. See locale.h for the formats and why they exist.
 *
 * The month and weekday names are tables here rather than strftime() with
 * setlocale(): the process locale is global state, differs between machines
 * and would make output depend on which locales the server has installed. */
#include "locale.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/timeutil.h"

#define NLANGS 4

static const char *const month_names[NLANGS][12] = {
    {"januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus",
     "september", "oktober", "november", "december"},
    {"janvier", "f\xC3\xA9vrier", "mars", "avril", "mai", "juin", "juillet",
     "ao\xC3\xBBt", "septembre", "octobre", "novembre",
     "d\xC3\xA9"
     "cembre"},
    {"January", "February", "March", "April", "May", "June", "July", "August",
     "September", "October", "November", "December"},
    {"Januar", "Februar", "M\xC3\xA4rz", "April", "Mai", "Juni", "Juli", "August",
     "September", "Oktober", "November", "Dezember"},
};

/* Index 0 is Sunday. */
static const char *const weekday_names[NLANGS][7] = {
    {"zondag", "maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag"},
    {"dimanche", "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi"},
    {"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"},
    {"Sonntag", "Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag"},
};

static const char *const lang_codes[NLANGS] = {"nl", "fr", "en", "de"};

#define NBSP  "\xC2\xA0"     /* U+00A0 no-break space */
#define NNBSP "\xE2\x80\xAF" /* U+202F narrow no-break space */
#define EURO  "\xE2\x82\xAC" /* U+20AC euro sign */

/* The days that sj_days_from_civil gives for 0001-01-01 and 9999-12-31. */
#define DAYS_MIN (-719162)
#define DAYS_MAX 2932896

static bool lang_ok(sj_lang_t lang)
{
    return (unsigned)lang < NLANGS;
}

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

sj_status_t sj_lang_parse(const char *tag, sj_lang_t *lang, char *errstr,
                          size_t errstr_size)
{
    size_t n = tag ? strlen(tag) : 0;
    /* "xx" or "xx-RR"/"xx_RR": a two-letter language and an optional region
     * of 2 letters or 3 digits (as BCP 47 allows, e.g. "es-419"). */
    bool shape = n == 2 || ((n == 5 || n == 6) && (tag[2] == '-' || tag[2] == '_'));
    if (shape) {
        char code[3] = {lower(tag[0]), lower(tag[1]), '\0'};
        for (size_t i = 0; i < NLANGS; i++) {
            if (strcmp(code, lang_codes[i]) == 0) {
                *lang = (sj_lang_t)i;
                return SJ_OK;
            }
        }
    }
    sj_seterr(errstr, errstr_size,
              "unsupported language '%.16s': use nl, fr, en or de (optionally with a "
              "region, e.g. nl-BE)",
              tag ? tag : "(null)");
    return SJ_ERR_INPUT;
}

const char *sj_lang_code(sj_lang_t lang)
{
    return lang_ok(lang) ? lang_codes[lang] : "??";
}

/* snprintf that reports truncation as SJ_ERR_TOO_BIG instead of hiding it. */
SJ_PRINTF(3, 4)
static sj_status_t put(char *out, size_t outsize, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, outsize, fmt, ap);
    va_end(ap);
    if (n < 0) return SJ_ERR;
    if ((size_t)n >= outsize) {
        if (outsize) out[0] = '\0';
        return SJ_ERR_TOO_BIG;
    }
    return SJ_OK;
}

sj_status_t sj_locale_date_long(int32_t days, sj_lang_t lang, char *out, size_t outsize)
{
    if (!lang_ok(lang) || days < DAYS_MIN || days > DAYS_MAX) {
        if (outsize) out[0] = '\0';
        return SJ_ERR_INPUT;
    }
    int y;
    unsigned m, d;
    sj_civil_from_days(days, &y, &m, &d);
    const char *month = month_names[lang][m - 1];
    switch (lang) {
    case SJ_LANG_FR:
        return put(out, outsize, "%u%s %s %d", d, d == 1 ? "er" : "", month, y);
    case SJ_LANG_DE:
        return put(out, outsize, "%u. %s %d", d, month, y);
    default:
        return put(out, outsize, "%u %s %d", d, month, y);
    }
}

sj_status_t sj_locale_weekday(int32_t days, sj_lang_t lang, char *out, size_t outsize)
{
    if (!lang_ok(lang) || days < DAYS_MIN || days > DAYS_MAX) {
        if (outsize) out[0] = '\0';
        return SJ_ERR_INPUT;
    }
    /* 1970-01-01 was a Thursday (index 4); keep the remainder non-negative. */
    int32_t wd = (days % 7 + 7 + 4) % 7;
    return put(out, outsize, "%s", weekday_names[lang][wd]);
}

/* Writes the integer part of v with sep between groups of three digits. */
static void group_digits(uint64_t v, const char *sep, char *out, size_t outsize)
{
    char digits[24];
    int nd = snprintf(digits, sizeof digits, "%llu", (unsigned long long)v);
    size_t k = 0, seplen = strlen(sep);
    for (int i = 0; i < nd; i++) {
        if (i > 0 && (nd - i) % 3 == 0) {
            for (size_t j = 0; j < seplen && k + 1 < outsize; j++) out[k++] = sep[j];
        }
        if (k + 1 < outsize) out[k++] = digits[i];
    }
    out[k] = '\0';
}

sj_status_t sj_locale_euro(int64_t cents, sj_lang_t lang, char *out, size_t outsize)
{
    if (!lang_ok(lang)) {
        if (outsize) out[0] = '\0';
        return SJ_ERR_INPUT;
    }
    bool neg = cents < 0;
    /* Magnitude in unsigned arithmetic, so INT64_MIN does not overflow. */
    uint64_t mag = neg ? 0 - (uint64_t)cents : (uint64_t)cents;
    unsigned frac = (unsigned)(mag % 100);
    char whole[48]; /* 19 digits + 6 separators of up to 3 bytes */
    const char *sign = neg ? "-" : "";
    switch (lang) {
    case SJ_LANG_NL:
        group_digits(mag / 100, ".", whole, sizeof whole);
        return put(out, outsize, EURO NBSP "%s%s,%02u", sign, whole, frac);
    case SJ_LANG_FR:
        group_digits(mag / 100, NNBSP, whole, sizeof whole);
        return put(out, outsize, "%s%s,%02u" NBSP EURO, sign, whole, frac);
    case SJ_LANG_EN:
        group_digits(mag / 100, ",", whole, sizeof whole);
        return put(out, outsize, "%s" EURO "%s.%02u", sign, whole, frac);
    case SJ_LANG_DE:
        group_digits(mag / 100, ".", whole, sizeof whole);
        return put(out, outsize, "%s%s,%02u" NBSP EURO, sign, whole, frac);
    }
    return SJ_ERR_INPUT;
}

/* ---- context enrichment ------------------------------------------------ */

#define KEY_MAX      256
#define PATH_MAX_LEN 160

typedef struct enrich {
    sj_lang_t lang;
    char *errstr;
    size_t errstr_size;
} enrich_t;

static sj_status_t enrich_value(enrich_t *e, json_t *v, const char *path, int depth);

/* True for the exact shape NNNN-NN-NN; whether it is a real date is the
 * parser's business (and an error when it is not). */
static bool looks_like_date(const char *s, size_t n)
{
    if (n != 10 || s[4] != '-' || s[7] != '-') return false;
    for (size_t i = 0; i < n; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9')) return false;
    return true;
}

/* Sets add[key+suffix] = string s unless the name would exceed KEY_MAX. */
static sj_status_t add_string(enrich_t *e, json_t *add, const char *key,
                              const char *suffix, const char *s, const char *path)
{
    char name[KEY_MAX];
    if (put(name, sizeof name, "%s%s", key, suffix) != SJ_OK) {
        sj_seterr(e->errstr, e->errstr_size,
                  "context key at '%s' is too long to add '%s' (limit %d bytes)", path,
                  suffix, KEY_MAX - 1);
        return SJ_ERR_TOO_BIG;
    }
    if (json_object_set_new(add, name, json_string(s)) != 0) return SJ_ERR_NOMEM;
    return SJ_OK;
}

static sj_status_t enrich_date(enrich_t *e, json_t *add, const char *key, json_t *v,
                               const char *path)
{
    int32_t days;
    char buf[SJ_LOCALE_OUT_MAX];
    const char *s = json_string_value(v);
    if (sj_date_parse(s, json_string_length(v), &days) != SJ_OK) {
        sj_seterr(e->errstr, e->errstr_size,
                  "context field '%s': '%s' looks like a date but is not a valid one",
                  path, s);
        return SJ_ERR_INPUT;
    }
    sj_status_t st = sj_locale_date_long(days, e->lang, buf, sizeof buf);
    if (st == SJ_OK) st = add_string(e, add, key, "_long", buf, path);
    if (st == SJ_OK) st = sj_locale_weekday(days, e->lang, buf, sizeof buf);
    if (st == SJ_OK) st = add_string(e, add, key, "_weekday", buf, path);
    return st;
}

static sj_status_t enrich_cents(enrich_t *e, json_t *add, const char *key, size_t keylen,
                                json_t *v, const char *path)
{
    char base[KEY_MAX], buf[SJ_LOCALE_OUT_MAX];
    size_t n = keylen - strlen("_cents");
    if (n >= sizeof base) {
        sj_seterr(e->errstr, e->errstr_size, "context key at '%s' is too long (limit %d)",
                  path, KEY_MAX - 1);
        return SJ_ERR_TOO_BIG;
    }
    memcpy(base, key, n);
    base[n] = '\0';
    sj_status_t st =
        sj_locale_euro((int64_t)json_integer_value(v), e->lang, buf, sizeof buf);
    return st == SJ_OK ? add_string(e, add, base, "_eur", buf, path) : st;
}

static bool ends_with_cents(const char *key, size_t n)
{
    static const char sfx[] = "_cents";
    size_t k = sizeof sfx - 1;
    return n > k && memcmp(key + n - k, sfx, k) == 0;
}

static sj_status_t enrich_object(enrich_t *e, json_t *obj, const char *path, int depth)
{
    /* New keys are collected first and merged afterwards: adding keys to an
     * object while iterating over it is not allowed in jansson. */
    json_t *add = json_object();
    if (!add) return SJ_ERR_NOMEM;
    sj_status_t st = SJ_OK;
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        char sub[PATH_MAX_LEN];
        snprintf(sub, sizeof sub, "%s%s%s", path, *path ? "." : "", key);
        size_t keylen = strlen(key);
        if (json_is_string(v) &&
            looks_like_date(json_string_value(v), json_string_length(v)))
            st = enrich_date(e, add, key, v, sub);
        else if (json_is_integer(v) && ends_with_cents(key, keylen))
            st = enrich_cents(e, add, key, keylen, v, sub);
        else
            st = enrich_value(e, v, sub, depth + 1);
        if (st != SJ_OK) break;
    }
    if (st == SJ_OK && json_object_update_missing(obj, add) != 0) st = SJ_ERR_NOMEM;
    json_decref(add);
    return st;
}

static sj_status_t enrich_value(enrich_t *e, json_t *v, const char *path, int depth)
{
    if (!json_is_object(v) && !json_is_array(v)) return SJ_OK;
    if (depth > SJ_LOCALE_ENRICH_DEPTH) {
        sj_seterr(e->errstr, e->errstr_size,
                  "context is nested deeper than %d levels at '%s'",
                  SJ_LOCALE_ENRICH_DEPTH, path);
        return SJ_ERR_TOO_BIG;
    }
    if (json_is_object(v)) return enrich_object(e, v, path, depth);
    size_t i;
    json_t *item;
    json_array_foreach(v, i, item)
    {
        char sub[PATH_MAX_LEN];
        snprintf(sub, sizeof sub, "%s[%zu]", path, i);
        sj_status_t st = enrich_value(e, item, sub, depth + 1);
        if (st != SJ_OK) return st;
    }
    return SJ_OK;
}

sj_status_t sj_locale_enrich(json_t *ctx, sj_lang_t lang, char *errstr,
                             size_t errstr_size)
{
    if (!lang_ok(lang)) {
        sj_seterr(errstr, errstr_size, "unknown language %d", (int)lang);
        return SJ_ERR_INPUT;
    }
    if (!json_is_object(ctx)) {
        sj_seterr(errstr, errstr_size, "render context must be a JSON object");
        return SJ_ERR_INPUT;
    }
    enrich_t e = {lang, errstr, errstr_size};
    sj_status_t st = enrich_value(&e, ctx, "", 0);
    if (st == SJ_ERR_NOMEM)
        sj_seterr(errstr, errstr_size, "out of memory enriching context");
    return st;
}
