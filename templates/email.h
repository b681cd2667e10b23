/* E-mail channel: turns already-rendered parts into one RFC 5322 message.
 *
 * The templates produce a subject, a plain-text body and an HTML body; this
 * module wraps them into a message an MTA will accept and a mail client will
 * show correctly, byte for byte the same for the same input:
 *
 *   - Date (UTC, "+0000"), From, To, optional Reply-To, Subject, Message-ID
 *     "<notification-id@domain>" (so a receiver or a retry drops duplicates),
 *     List-Unsubscribe with the https URL and optional mailto, and
 *     List-Unsubscribe-Post: List-Unsubscribe=One-Click (RFC 8058),
 *     Auto-Submitted: auto-generated (RFC 3834, no out-of-office replies),
 *     MIME-Version and Content-Type;
 *   - multipart/alternative with text/plain then text/html (the last part is
 *     the preferred one), or a single text/plain part when there is no HTML;
 *   - bodies in UTF-8, quoted-printable (lines <= 76, soft breaks, '=' and
 *     trailing whitespace encoded) or base64 when that is shorter (emoji- or
 *     non-Latin-heavy text); line breaks (LF, CRLF or CR) become CRLF;
 *   - subject and display names stay readable ASCII where they can and use
 *     RFC 2047 encoded-words (UTF-8, Q or B, <= 75 characters each, whole
 *     characters only) where they must, folded so header lines stay <= 76;
 *   - every line ends in CRLF and is at most 998 octets.
 *
 * Nothing is repaired silently. CR, LF or NUL in anything that goes into a
 * header (subject, names, addresses, URLs, ids) is rejected as a header
 * injection attempt, naming the field and byte offset; so are other control
 * characters, invalid UTF-8 and malformed addresses. The bodies are copied
 * exactly: HTML escaping is the template's job and nothing here unescapes.
 * Error messages never quote addresses (personal data ends up in logs).
 *
 *     sj_email_t m = {
 *         .from = {sj_email_cstr("Stad Gent"), sj_email_cstr("noreply@stad.gent")},
 *         .to = {sj_email_cstr(name), sj_email_cstr(addr)},
 *         .subject = sj_email_cstr(subject),
 *         .text = {text, text_len}, .html = {html, html_len},
 *         .notification_id = sj_email_cstr(id), .domain = sj_email_cstr("stad.gent"),
 *         .date_ms = now, .unsubscribe_url = sj_email_cstr(url)};
 *     sj_buf_t msg;
 *     sj_buf_init(&msg, SJ_EMAIL_MAX_MESSAGE);
 *     if (sj_email_build(&m, &msg, err, sizeof err) != SJ_OK) ...
 *
 * Pure function without I/O or global state: safe from any thread. */
#ifndef SJ_TEMPLATES_EMAIL_H
#define SJ_TEMPLATES_EMAIL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/buf.h"
#include "core/common.h"

/* Bounds on the inputs (bytes). A larger input is an error, not a cut. */
#define SJ_EMAIL_MAX_SUBJECT 998
#define SJ_EMAIL_MAX_NAME    256
#define SJ_EMAIL_MAX_ADDRESS 254 /* RFC 5321 path limit less the brackets */
#define SJ_EMAIL_MAX_ID      200
#define SJ_EMAIL_MAX_URL     900 /* keeps each List-Unsubscribe line <= 998 */
/* A sensible cap for the output buffer (10 MiB); the caller chooses. */
#define SJ_EMAIL_MAX_MESSAGE (10u << 20)

/* A borrowed byte string with explicit length, so that an embedded NUL is
 * seen (and rejected) instead of silently ending the value. ptr NULL means
 * "absent" for the optional fields. */
typedef struct sj_email_span {
    const char *ptr;
    size_t len;
} sj_email_span_t;

/* Span over a NUL-terminated string; NULL gives an absent span. */
static inline sj_email_span_t sj_email_cstr(const char *s)
{
    sj_email_span_t sp = {s, s ? strlen(s) : 0};
    return sp;
}

typedef struct sj_email_addr {
    sj_email_span_t name;    /* display name, UTF-8; absent or empty for none */
    sj_email_span_t address; /* addr-spec local@domain, ASCII (domain in punycode) */
} sj_email_addr_t;

typedef struct sj_email {
    sj_email_addr_t from;
    sj_email_addr_t to;
    sj_email_addr_t reply_to;           /* optional: address.ptr NULL for none */
    sj_email_span_t subject;            /* UTF-8, required */
    sj_email_span_t text;               /* UTF-8 plain-text body, required */
    sj_email_span_t html;               /* UTF-8 HTML body; ptr NULL for text only */
    sj_email_span_t notification_id;    /* dot-atom text (e.g. the hex intent id) */
    sj_email_span_t domain;             /* right-hand side of the Message-ID */
    int64_t date_ms;                    /* ms since the epoch, year 1970..9999 */
    sj_email_span_t unsubscribe_url;    /* https:// URL, required (RFC 8058) */
    sj_email_span_t unsubscribe_mailto; /* optional "mailto:…" URL */
} sj_email_t;

/* Builds the message for m and appends it to out (CRLF line ends; out stays
 * NUL-terminated). m and everything it points to are borrowed.
 *
 * Returns SJ_OK; SJ_ERR_INPUT with errstr naming the field and problem
 * (header injection, control character, invalid UTF-8, bad address, missing
 * or oversized field); SJ_ERR_TOO_BIG when the message would not fit in
 * out's cap; SJ_ERR_NOMEM. On any error out is left exactly as it was. */
sj_status_t sj_email_build(const sj_email_t *m, sj_buf_t *out, char *errstr,
                           size_t errstr_size);

#endif
