/* Citizen-app channel: the inbox message for a Mijn Burgerprofiel-style app.
 *
 * The app shows a title and a body in its inbox and opens a deep link into
 * the exact e-service; it files the message as "informational" or
 * "action-required" and may hide it after expires_at. The payload is a JSON
 * object built from already-rendered text:
 *
 *   {"id":"…","language":"nl","category":"action-required",
 *    "title":"…","body":"…","deep_link":"https://…","expires_at":"…Z"}
 *
 * Limits are counted in Unicode code points (what the app displays), and text
 * that is too long is an error, never cut: a truncated "Uw ID-kaart vervalt
 * op 28 nov" is worse than no message, and the officer must shorten the
 * template. expires_at is normalised to UTC ("2027-01-27T23:00:00Z").
 *
 *     sj_app_msg_t m = {.id = id, .language = "nl", .category = "informational",
 *                       .title = t, .title_len = strlen(t), .body = b,
 *                       .body_len = strlen(b), .deep_link = url};
 *     json_t *payload = sj_app_payload(&m, err, sizeof err);
 *
 * Pure function without I/O or global state: safe from any thread. */
#ifndef SJ_TEMPLATES_APP_H
#define SJ_TEMPLATES_APP_H

#include <jansson.h>
#include <stddef.h>

#include "core/common.h"

#define SJ_APP_TITLE_MAX 100  /* default title limit, code points */
#define SJ_APP_BODY_MAX  4000 /* default body limit, code points */
#define SJ_APP_LINK_MAX  2048 /* bytes of the deep link */
#define SJ_APP_ID_MAX    128  /* bytes of the notification id */

typedef struct sj_app_msg {
    const char *id;       /* notification id: 1..128 printable ASCII, no spaces */
    const char *language; /* "nl", "fr", "en", "de", optionally "-BE" etc. */
    const char *category; /* "informational" or "action-required" */
    const char *title;    /* UTF-8, not NUL-terminated necessarily */
    size_t title_len;
    const char *body; /* UTF-8; line feeds and tabs allowed */
    size_t body_len;
    const char *deep_link;  /* absolute https:// URL, printable ASCII */
    const char *expires_at; /* RFC 3339, or NULL for none */
    size_t title_max;       /* 0 means SJ_APP_TITLE_MAX */
    size_t body_max;        /* 0 means SJ_APP_BODY_MAX */
} sj_app_msg_t;

/* Validates m and builds the payload. Returns a new reference (the caller
 * owns it and calls json_decref), or NULL with errstr naming the field and
 * what is wrong: empty or too long text (with the count and the limit),
 * invalid UTF-8 or control characters (with the byte offset), a deep link
 * that is not https or contains whitespace or control characters, an unknown
 * category or language, an invalid expires_at. m is borrowed. */
json_t *sj_app_payload(const sj_app_msg_t *m, char *errstr, size_t errstr_size);

#endif
