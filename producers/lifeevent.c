/* The life-event catalogue and the per-line check of `seintje produce`.
 * Everything here works on spans of the input line (jscan.h): no tree is
 * built, and the output is the input with only the subject replaced. */
#include "lifeevent.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/text.h"
#include "core/timeutil.h"
#include "producers/jscan.h"
#include "producers/validate.h"

typedef enum {
    F_STRING, /* free text, at most `max` bytes, no register numbers */
    F_DATE,
    F_NIS,
    F_POSTCODE,
    F_LANGUAGE,
    F_EMAIL,
    F_PHONE,
    F_INT,
    F_CONSENTS,
    F_BAND
} field_kind_t;

typedef struct {
    const char *name;
    field_kind_t kind;
    int max; /* F_STRING: bytes; F_INT: largest value (smallest is 0) */
    const char *doc;
} field_def_t;

/* Every data field an event may carry. Unknown fields are refused, so a typo
 * ("emial") is caught at the door instead of silently missing later. */
static const field_def_t fields[] = {
    {"given_name", F_STRING, 100, "given name, for personal salutations"},
    {"birth_date", F_DATE, 0, "YYYY-MM-DD"},
    {"nis", F_NIS, 0, "municipality NIS code, 5 digits"},
    {"postcode", F_POSTCODE, 0, "Belgian postcode, 1000-9999"},
    {"language", F_LANGUAGE, 0, "nl, fr, de or en"},
    {"household", F_STRING, 64, "opaque household id from the register"},
    {"email", F_EMAIL, 0, "e-mail address"},
    {"phone", F_PHONE, 0, "mobile number in E.164, e.g. +32470123456"},
    {"app_inbox", F_STRING, 128, "citizen-app inbox id"},
    {"consents", F_CONSENTS, 0, "{\"email\":bool,\"sms\":bool,\"app\":bool}"},
    {"topic", F_STRING, 63,
     "campaign topic (a slug such as identity, at most 63 bytes) the consents apply "
     "to (consent-changed); without it they apply to the whole channel"},
    {"expires", F_DATE, 0, "ID card expiry date (id-card-expiring)"},
    {"age", F_INT, 150, "age reached (birthday)"},
    {"child_birth_date", F_DATE, 0, "birth date of the child (birth)"},
    {"child_given_name", F_STRING, 100, "given name of the child (birth)"},
    {"previous_postcode", F_POSTCODE, 0, "postcode before the move (moved-within)"},
    {"to_nis", F_NIS, 0, "NIS code of the new municipality (moved-out)"},
    {"partner_household", F_STRING, 64, "household id of the partner (marriage)"},
    {"income_band", F_BAND, 0, "low, middle or high (income-changed)"},
    {"previous_income_band", F_BAND, 0, "low, middle or high (income-changed)"},
};

typedef struct {
    const char *type;
    const char *required; /* space-separated data fields that must be present */
    const char *doc;
} type_def_t;

static const type_def_t types[] = {
    {"be.seintje.life.registered", "",
     "resident present in the register (snapshot, first load)"},
    {"be.seintje.life.birth", "child_birth_date", "a child was born to the resident"},
    {"be.seintje.life.moved-in", "", "resident moved into the municipality"},
    {"be.seintje.life.moved-within", "", "resident moved within the municipality"},
    {"be.seintje.life.moved-out", "", "resident left the municipality"},
    {"be.seintje.life.birthday", "age", "milestone birthday (18, 65, 67 ...)"},
    {"be.seintje.life.id-card-expiring", "expires",
     "the resident's eID card expires soon"},
    {"be.seintje.life.marriage", "", "resident married or registered a partnership"},
    {"be.seintje.life.death-of-partner", "", "the resident's partner died"},
    {"be.seintje.life.deceased", "", "the resident died: every message stops"},
    {"be.seintje.life.income-changed", "income_band", "household income band changed"},
    {"be.seintje.life.contact-changed", "", "e-mail, phone or app inbox changed"},
    {"be.seintje.life.consent-changed", "consents",
     "consent per channel, or per channel and topic, given or withdrawn"},
    {"be.seintje.service.id-card-requested", "", "resident requested a new eID card"},
    {"be.seintje.service.birth-allowance-requested", "",
     "Groeipakket birth allowance requested"},
    {"be.seintje.service.social-tariff-requested", "", "social energy tariff requested"},
    {"be.seintje.service.senior-transport-requested", "",
     "senior transport pass requested"},
    {"be.seintje.service.waste-discount-requested", "", "waste-tax discount requested"},
    {"be.seintje.service.parking-permit-requested", "",
     "resident parking permit requested"},
};

int sj_lifeevent_type_known(const char *type)
{
    for (size_t i = 0; i < SJ_ARRAY_LEN(types); i++)
        if (!strcmp(types[i].type, type)) return 1;
    return 0;
}

void sj_lifeevent_print_catalogue(FILE *out)
{
    fprintf(out, "| type | required data | meaning |\n|---|---|---|\n");
    for (size_t i = 0; i < SJ_ARRAY_LEN(types); i++)
        fprintf(out, "| `%s` | %s | %s |\n", types[i].type,
                *types[i].required ? types[i].required : "-", types[i].doc);
    fprintf(out, "\n| data field | format |\n|---|---|\n");
    for (size_t i = 0; i < SJ_ARRAY_LEN(fields); i++)
        fprintf(out, "| `%s` | %s |\n", fields[i].name, fields[i].doc);
}

static sj_status_t refuse(sj_event_problem_t *why, const char *field, const char *fmt,
                          ...) SJ_PRINTF(3, 4);
static sj_status_t refuse(sj_event_problem_t *why, const char *field, const char *fmt,
                          ...)
{
    snprintf(why->field, sizeof why->field, "%s", field);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why->problem, sizeof why->problem, fmt, ap);
    va_end(ap);
    return SJ_ERR_INPUT;
}

/* True when s holds a national register number: a run of exactly 11 digits
 * whose check digits verify, or the whole string in a formatted form. */
static bool contains_nrn(const char *s, size_t len)
{
    if (sj_nrn_looks_like(s, len)) return true;
    for (size_t i = 0; i < len;) {
        if (s[i] < '0' || s[i] > '9') {
            i++;
            continue;
        }
        size_t j = i;
        while (j < len && s[j] >= '0' && s[j] <= '9') j++;
        if (j - i == 11 && sj_nrn_looks_like(s + i, 11)) return true;
        i = j;
    }
    return false;
}

/* Decodes a string member into buf, refusing non-strings and oversize ones. */
static sj_status_t get_str(const sj_jval_t *v, char *buf, size_t size, size_t *len,
                           const char *field, sj_event_problem_t *why)
{
    if (v->type != SJ_JSON_STRING) return refuse(why, field, "must be a string");
    if (sj_jstr_decode(v, buf, size, len) != SJ_OK)
        return refuse(why, field, "longer than %zu bytes", size - 1);
    return SJ_OK;
}

static const char *json_type_name(sj_json_type_t t)
{
    static const char *names[] = {"an object", "an array", "a string", "a number",
                                  "true",      "false",    "null"};
    return names[t];
}

/* Collects an object's members, refusing duplicates and oversize names. The
 * scanner's index has them when it is complete (slot: the object's member
 * entry there, -1 for the root); otherwise (slot -2) the text is walked. */
typedef struct {
    sj_jval_t key, val;
    size_t len;
    int slot;
    char name[64];
} member_t;

static sj_status_t members(const sj_jindex_t *idx, int slot, const sj_jval_t *obj,
                           member_t *m, size_t *count, const char *where,
                           sj_event_problem_t *why)
{
    bool indexed = idx && !idx->overflow && slot != -2;
    size_t n = 0, next = slot < 0 ? 0 : (size_t)slot + 1;
    sj_jiter_t it;
    if (!indexed) sj_jiter_init(&it, obj);
    for (;;) {
        sj_jval_t k, v;
        int kslot = -2;
        if (indexed) {
            while (next < idx->count && idx->m[next].parent != slot) next++;
            if (next == idx->count) break;
            k = idx->m[next].key;
            v = idx->m[next].val;
            kslot = (int)next++;
        } else if (!sj_jiter_next(&it, &k, &v)) {
            break;
        }
        if (n == SJ_EVENT_MAX_MEMBERS)
            return refuse(why, where, "more than %d members", SJ_EVENT_MAX_MEMBERS);
        if (sj_jstr_decode(&k, m[n].name, sizeof m[n].name, &m[n].len) != SJ_OK)
            return refuse(why, where, "a member name is longer than %zu bytes",
                          sizeof m[n].name - 1);
        for (size_t i = 0; i < n; i++)
            if (m[i].len == m[n].len && !memcmp(m[i].name, m[n].name, m[n].len))
                return refuse(why, where, "member \"%s\" appears twice", m[n].name);
        m[n].key = k;
        m[n].val = v;
        m[n].slot = kslot;
        n++;
    }
    *count = n;
    return SJ_OK;
}

static sj_status_t check_consents(const sj_jindex_t *idx, const member_t *c,
                                  const char *field, sj_event_problem_t *why)
{
    if (c->val.type != SJ_JSON_OBJECT)
        return refuse(why, field,
                      "must be an object like {\"email\":true,\"sms\":false}");
    member_t m[SJ_EVENT_MAX_MEMBERS];
    size_t n;
    sj_status_t st = members(idx, c->slot, &c->val, m, &n, field, why);
    if (st != SJ_OK) return st;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(m[i].name, "email") && strcmp(m[i].name, "sms") &&
            strcmp(m[i].name, "app"))
            return refuse(why, field, "unknown channel \"%s\" (use email, sms or app)",
                          m[i].name);
        if (m[i].val.type != SJ_JSON_TRUE && m[i].val.type != SJ_JSON_FALSE)
            return refuse(why, field, "%s must be true or false", m[i].name);
    }
    return SJ_OK;
}

static sj_status_t check_field(const sj_jindex_t *idx, const field_def_t *f,
                               const member_t *mem, sj_event_problem_t *why)
{
    const sj_jval_t *v = &mem->val;
    char field[80] = "data.", s[512], problem[200] = "";
    size_t len = 0;
    size_t fl = strlen(f->name);
    memcpy(field + 5, f->name, fl < sizeof field - 6 ? fl + 1 : sizeof field - 6);
    if (f->kind == F_CONSENTS) return check_consents(idx, mem, field, why);
    if (f->kind == F_INT) {
        uint64_t n;
        if (v->type != SJ_JSON_NUMBER || sj_parse_u64(v->p, v->len, &n) != SJ_OK ||
            n > (uint64_t)f->max)
            return refuse(why, field, "must be a whole number from 0 to %d", f->max);
        return SJ_OK;
    }
    sj_status_t st = get_str(v, s, sizeof s, &len, field, why);
    if (st != SJ_OK) return st;
    int32_t days;
    switch (f->kind) {
    case F_STRING:
        if (len > (size_t)f->max)
            return refuse(why, field, "longer than %d bytes", f->max);
        for (size_t i = 0; i < len; i++)
            if ((unsigned char)s[i] < 0x20)
                return refuse(why, field, "contains a control character");
        if (contains_nrn(s, len))
            return refuse(why, field,
                          "looks like a national register number; only subject may carry "
                          "one (it is pseudonymised), remove it from data");
        return SJ_OK;
    case F_DATE:
        if (sj_date_parse(s, len, &days) != SJ_OK)
            return refuse(why, field, "not a valid date YYYY-MM-DD");
        return SJ_OK;
    case F_NIS:
        st = sj_nis_valid(s, len, problem, sizeof problem);
        break;
    case F_POSTCODE:
        st = sj_postcode_valid(s, len, problem, sizeof problem);
        break;
    case F_LANGUAGE:
        st = sj_language_valid(s, len, problem, sizeof problem);
        break;
    case F_EMAIL:
        st = sj_email_valid(s, len, problem, sizeof problem);
        break;
    case F_PHONE:
        st = sj_e164_valid(s, len, problem, sizeof problem);
        break;
    case F_BAND:
        if (strcmp(s, "low") && strcmp(s, "middle") && strcmp(s, "high"))
            return refuse(why, field, "must be low, middle or high");
        return SJ_OK;
    default:
        return SJ_OK;
    }
    return st == SJ_OK ? SJ_OK : refuse(why, field, "%s", problem);
}

static sj_status_t check_data(const sj_jindex_t *idx, const member_t *dm,
                              const type_def_t *t, sj_event_problem_t *why)
{
    const sj_jval_t *data = &dm->val;
    if (data->type != SJ_JSON_OBJECT)
        return refuse(why, "data", "must be an object, not %s",
                      json_type_name(data->type));
    member_t m[SJ_EVENT_MAX_MEMBERS];
    size_t n;
    sj_status_t st = members(idx, dm->slot, data, m, &n, "data", why);
    if (st != SJ_OK) return st;
    for (size_t i = 0; i < n; i++) {
        const field_def_t *f = NULL;
        for (size_t k = 0; k < SJ_ARRAY_LEN(fields) && !f; k++)
            if (fields[k].name[0] == m[i].name[0] && !strcmp(fields[k].name, m[i].name))
                f = &fields[k];
        if (!f) {
            char field[80];
            snprintf(field, sizeof field, "data.%s", m[i].name);
            return refuse(why, field,
                          "unknown field (see the event catalogue: "
                          "`seintje produce --catalogue`)");
        }
        if (m[i].val.type == SJ_JSON_NULL) continue; /* explicitly unknown */
        if ((st = check_field(idx, f, &m[i], why)) != SJ_OK) return st;
    }
    /* Type-specific required fields. */
    const char *r = t->required;
    while (*r) {
        size_t wl = strcspn(r, " ");
        bool found = false;
        for (size_t i = 0; i < n && !found; i++)
            found = strlen(m[i].name) == wl && !memcmp(m[i].name, r, wl) &&
                    m[i].val.type != SJ_JSON_NULL;
        if (!found) {
            char field[80];
            snprintf(field, sizeof field, "data.%.*s", (int)wl, r);
            return refuse(why, field, "required for %s", t->type);
        }
        r += wl + (r[wl] == ' ');
    }
    return SJ_OK;
}

/* A CloudEvents extension attribute name: 1-20 lowercase letters or digits. */
static bool extension_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 20) return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9'))) return false;
    return true;
}

/* id and source: non-empty printable text without spaces. */
static sj_status_t check_token(const sj_jval_t *v, const char *field, size_t max,
                               sj_event_problem_t *why)
{
    char s[520];
    size_t len;
    sj_status_t st =
        get_str(v, s, max + 1 < sizeof s ? max + 1 : sizeof s, &len, field, why);
    if (st != SJ_OK) return st;
    if (len == 0) return refuse(why, field, "must not be empty");
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7F)
            return refuse(why, field, "must not contain spaces or control characters");
    if (contains_nrn(s, len))
        return refuse(why, field,
                      "contains a national register number; only subject may");
    return SJ_OK;
}

sj_status_t sj_lifeevent_check(sj_hmac_t *h, const char *line, size_t len, sj_buf_t *out,
                               char key[SJ_PSEUDONYM_LEN + 1], sj_event_problem_t *why)
{
    sj_jval_t root;
    sj_json_error_t jerr;
    sj_jmember_t entries[4 * SJ_EVENT_MAX_MEMBERS];
    sj_jindex_t idx = {entries, SJ_ARRAY_LEN(entries), 0, 3, false};
    if (sj_json_scan_indexed(line, len, SJ_EVENT_MAX_DEPTH, &root, &idx, &jerr) != SJ_OK)
        return refuse(why, "json", "%s at column %zu", jerr.what, jerr.offset + 1);
    if (root.type != SJ_JSON_OBJECT)
        return refuse(why, "json", "a life event must be a JSON object, not %s",
                      json_type_name(root.type));
    member_t m[SJ_EVENT_MAX_MEMBERS];
    size_t n;
    sj_status_t st = members(&idx, -1, &root, m, &n, "json", why);
    if (st != SJ_OK) return st;

    const sj_jval_t *specversion = NULL, *id = NULL, *source = NULL, *type = NULL,
                    *time = NULL, *subject = NULL;
    const member_t *data = NULL;
    for (size_t i = 0; i < n; i++) {
        const char *k = m[i].name;
        const sj_jval_t *v = &m[i].val;
#define IS(lit) (m[i].len == sizeof lit - 1 && !memcmp(k, lit, sizeof lit - 1))
        if (IS("specversion"))
            specversion = v;
        else if (IS("id"))
            id = v;
        else if (IS("source"))
            source = v;
        else if (IS("type"))
            type = v;
        else if (IS("time"))
            time = v;
        else if (IS("subject"))
            subject = v;
        else if (IS("data"))
            data = &m[i];
        else if (IS("datacontenttype")) {
            if (!sj_jstr_eq(v, "application/json"))
                return refuse(why, k, "must be \"application/json\"");
        } else if (IS("data_base64")) {
            return refuse(why, k,
                          "binary data is not accepted; send data as a JSON object");
        } else if (IS("dataschema")) {
            if ((st = check_token(v, k, 512, why)) != SJ_OK) return st;
        } else if (!extension_name(k)) {
            return refuse(why, k,
                          "not a CloudEvents attribute, and extension names are 1-20 "
                          "lowercase letters or digits");
        } else if (v->type == SJ_JSON_OBJECT || v->type == SJ_JSON_ARRAY) {
            return refuse(why, k,
                          "extension attributes must be strings, numbers or booleans");
        } else if (v->type == SJ_JSON_STRING) {
            char ext[520];
            size_t elen;
            if ((st = get_str(v, ext, sizeof ext, &elen, k, why)) != SJ_OK) return st;
            if (contains_nrn(ext, elen))
                return refuse(why, k,
                              "contains a national register number; only subject may");
        }
#undef IS
    }
    if (!specversion) return refuse(why, "specversion", "required (\"1.0\")");
    if (!sj_jstr_eq(specversion, "1.0"))
        return refuse(why, "specversion", "must be \"1.0\" (CloudEvents 1.0)");
    if (!id) return refuse(why, "id", "required (unique per source)");
    if ((st = check_token(id, "id", 256, why)) != SJ_OK) return st;
    if (!source) return refuse(why, "source", "required (e.g. urn:nis:44021:population)");
    if ((st = check_token(source, "source", 512, why)) != SJ_OK) return st;
    if (!type) return refuse(why, "type", "required (e.g. be.seintje.life.moved-in)");

    char buf[256];
    size_t blen;
    if ((st = get_str(type, buf, sizeof buf, &blen, "type", why)) != SJ_OK) return st;
    const type_def_t *t = NULL;
    for (size_t i = 0; i < SJ_ARRAY_LEN(types) && !t; i++)
        if (!strcmp(types[i].type, buf)) t = &types[i];
    if (!t) {
        char pv[80];
        sj_preview(buf, blen, pv, sizeof pv, 60);
        return refuse(why, "type",
                      "unknown event type \"%s\" (see `seintje produce --catalogue`)",
                      pv);
    }
    if (!time)
        return refuse(why, "time", "required (RFC 3339, e.g. 2026-11-28T09:30:00Z)");
    int64_t ms;
    if ((st = get_str(time, buf, sizeof buf, &blen, "time", why)) != SJ_OK) return st;
    if (sj_time_parse_rfc3339(buf, blen, &ms) != SJ_OK)
        return refuse(why, "time",
                      "not an RFC 3339 date-time (e.g. 2026-11-28T09:30:00Z)");
    if (!data) return refuse(why, "data", "required (an object with the event's fields)");
    if ((st = check_data(&idx, data, t, why)) != SJ_OK) return st;

    if (!subject)
        return refuse(why, "subject", "required (the national register number)");
    if ((st = get_str(subject, buf, sizeof buf, &blen, "subject", why)) != SJ_OK)
        return st;
    char nrn[12], problem[200];
    if (sj_nrn_normalize(buf, blen, nrn, problem, sizeof problem) != SJ_OK)
        return refuse(why, "subject", "not a valid national register number: %s",
                      problem);
    if (sj_hmac_hex(h, nrn, 11, key) != SJ_OK)
        return refuse(why, "subject", "pseudonymisation failed (OpenSSL)");
    /* Wipe the register number from our stack copies. */
    memset(buf, 0, sizeof buf);
    memset(nrn, 0, sizeof nrn);

    size_t head = (size_t)(subject->p - line);
    size_t tail = head + subject->len;
    if (sj_buf_add(out, line, head) != SJ_OK || sj_buf_addc(out, '"') != SJ_OK ||
        sj_buf_add(out, key, SJ_PSEUDONYM_LEN) != SJ_OK ||
        sj_buf_addc(out, '"') != SJ_OK ||
        sj_buf_add(out, line + tail, len - tail) != SJ_OK)
        return SJ_ERR_TOO_BIG;
    return SJ_OK;
}
