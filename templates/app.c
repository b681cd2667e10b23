/* Citizen-app inbox payload: validation and JSON construction. See app.h.
 *
 * Every check names the field and, where it helps, the byte offset, because
 * the person who reads the error is an officer fixing a template, not a
 * programmer. Nothing is repaired silently: no trimming, no truncation, no
 * dropping of control characters. */
#include "app.h"

#include <stdbool.h>
#include <string.h>

#include "chan_utf8.h"
#include "core/text.h"
#include "core/timeutil.h"
#include "locale.h"

/* Checks that s[0..n) is non-empty UTF-8 of at most max code points without
 * control characters other than those in `allowed`. */
static sj_status_t check_text(const char *field, const char *s, size_t n, size_t max,
                              const char *allowed, char *errstr, size_t errstr_size)
{
    size_t bad;
    if (!s || n == 0) {
        sj_seterr(errstr, errstr_size, "app %s is empty", field);
        return SJ_ERR_INPUT;
    }
    if (!sj_utf8_valid(s, n, &bad)) {
        sj_seterr(errstr, errstr_size, "app %s is not valid UTF-8 at byte %zu", field,
                  bad);
        return SJ_ERR_INPUT;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 || c == 0x7F) && !(c != 0 && strchr(allowed, c))) {
            sj_seterr(errstr, errstr_size,
                      "app %s contains control character 0x%02X at byte %zu", field, c,
                      i);
            return SJ_ERR_INPUT;
        }
    }
    size_t count = sj_chan_utf8_count(s, n);
    if (count > max) {
        sj_seterr(errstr, errstr_size,
                  "app %s is %zu characters long, the limit is %zu: shorten the template",
                  field, count, max);
        return SJ_ERR_TOO_BIG;
    }
    return SJ_OK;
}

/* An absolute https URL of printable ASCII with a host and no userinfo (so
 * "https://burgerprofiel.be@evil.example" cannot pass for the real site). */
static sj_status_t check_link(const char *url, char *errstr, size_t errstr_size)
{
    static const char scheme[] = "https://";
    size_t n = url ? strlen(url) : 0;
    if (n == 0) {
        sj_seterr(errstr, errstr_size, "app deep_link is missing");
        return SJ_ERR_INPUT;
    }
    if (n > SJ_APP_LINK_MAX) {
        sj_seterr(errstr, errstr_size, "app deep_link is %zu bytes, the limit is %d", n,
                  SJ_APP_LINK_MAX);
        return SJ_ERR_TOO_BIG;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)url[i];
        if (c <= 0x20 || c >= 0x7F || strchr("\"<>\\^`{|}", c)) {
            sj_seterr(errstr, errstr_size,
                      "app deep_link has %s 0x%02X at byte %zu (percent-encode it)",
                      c == ' '                ? "a space"
                      : c < 0x20 || c == 0x7F ? "a control character"
                                              : "character",
                      c, i);
            return SJ_ERR_INPUT;
        }
    }
    if (n <= sizeof scheme - 1 || memcmp(url, scheme, sizeof scheme - 1) != 0) {
        sj_seterr(errstr, errstr_size, "app deep_link must be an absolute https:// URL");
        return SJ_ERR_INPUT;
    }
    const char *host = url + sizeof scheme - 1;
    size_t hostlen = strcspn(host, "/?#");
    if (hostlen == 0 || memchr(host, '@', hostlen)) {
        sj_seterr(errstr, errstr_size, "app deep_link must name a host (without user@)");
        return SJ_ERR_INPUT;
    }
    return SJ_OK;
}

static sj_status_t check_id(const char *id, char *errstr, size_t errstr_size)
{
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n > SJ_APP_ID_MAX) {
        sj_seterr(errstr, errstr_size, "app notification id must be 1..%d bytes",
                  SJ_APP_ID_MAX);
        return SJ_ERR_INPUT;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)id[i];
        if (c <= 0x20 || c >= 0x7F) {
            sj_seterr(errstr, errstr_size,
                      "app notification id has byte 0x%02X at %zu (printable ASCII only)",
                      c, i);
            return SJ_ERR_INPUT;
        }
    }
    return SJ_OK;
}

static bool set_new(json_t *obj, const char *key, json_t *v)
{
    return v && json_object_set_new(obj, key, v) == 0;
}

json_t *sj_app_payload(const sj_app_msg_t *m, char *errstr, size_t errstr_size)
{
    size_t title_max = m->title_max ? m->title_max : SJ_APP_TITLE_MAX;
    size_t body_max = m->body_max ? m->body_max : SJ_APP_BODY_MAX;
    sj_lang_t lang;
    int64_t expires = 0;
    char expires_buf[32];

    if (check_id(m->id, errstr, errstr_size) != SJ_OK ||
        sj_lang_parse(m->language, &lang, errstr, errstr_size) != SJ_OK ||
        check_text("title", m->title, m->title_len, title_max, "", errstr, errstr_size) !=
            SJ_OK ||
        check_text("body", m->body, m->body_len, body_max, "\t\n\r", errstr,
                   errstr_size) != SJ_OK ||
        check_link(m->deep_link, errstr, errstr_size) != SJ_OK)
        return NULL;
    const char *cat = m->category ? m->category : "";
    char shown[48];
    if (strcmp(cat, "informational") != 0 && strcmp(cat, "action-required") != 0) {
        sj_preview(cat, strlen(cat), shown, sizeof shown, 32);
        sj_seterr(errstr, errstr_size,
                  "app category '%s' is unknown: use informational or action-required",
                  shown);
        return NULL;
    }
    if (m->expires_at) {
        size_t n = strlen(m->expires_at);
        if (sj_time_parse_rfc3339(m->expires_at, n, &expires) != SJ_OK) {
            sj_preview(m->expires_at, n, shown, sizeof shown, 40);
            sj_seterr(errstr, errstr_size,
                      "app expires_at '%s' is not an RFC 3339 date-time", shown);
            return NULL;
        }
        sj_time_format_rfc3339(expires, expires_buf);
    }

    json_t *o = json_object();
    bool ok = o && set_new(o, "id", json_string(m->id)) &&
              set_new(o, "language", json_string(sj_lang_code(lang))) &&
              set_new(o, "category", json_string(cat)) &&
              set_new(o, "title", json_stringn(m->title, m->title_len)) &&
              set_new(o, "body", json_stringn(m->body, m->body_len)) &&
              set_new(o, "deep_link", json_string(m->deep_link)) &&
              (!m->expires_at || set_new(o, "expires_at", json_string(expires_buf)));
    if (!ok) {
        json_decref(o);
        sj_seterr(errstr, errstr_size, "out of memory building the app payload");
        return NULL;
    }
    return o;
}
