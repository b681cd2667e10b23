/* The HTTP channels: SMS through a gateway and the citizen-app inbox, each a
 * JSON or form POST through the transport (curl multi, keep-alive
 * connections reused across messages).
 *
 * SMS, two request formats (sms.transport):
 *   webhook  POST <sms.url>, Content-Type application/json,
 *            {"to": E.164, "from": sender id, "text": UTF-8, "reference":
 *            intent id}, "Authorization: Bearer <key>" when a key is
 *            configured; any 2xx is accepted, the answer's "id" (if any) is
 *            the provider reference. The documented generic format: a
 *            municipality's own gateway or an aggregator adapter accepts it.
 *   twilio   Twilio's Messages API: POST <sms.url>/2010-04-01/Accounts/
 *            <SID>/Messages.json, form-encoded To, From, Body, HTTP basic
 *            auth SID:token, "Idempotency-Key: <intent id>"; 201 with the
 *            Message resource, whose "sid" is the reference; errors carry
 *            Twilio's {"code","message"}, quoted in the reason. (Twilio
 *            documents no de-duplication for this header: with the real
 *            service a message in flight during a crash may be sent twice.)
 *   The sender id (From) is the municipality's (sms_sender in _site.json,
 *   else sms.sender): E.164, or 1-11 letters, digits and spaces with a
 *   letter (sj_sms_sender_check()).
 *
 * App inbox (app.transport = inbox), in the style of a government citizen
 * app's message API: POST <app.url> with "Authorization: Bearer <token>"
 * and {"recipient","title","body","deep_link","category"
 * (informational|action_required),"expires_at","reference"}; 2xx accepted,
 * the answer's "id" is the reference. The token comes from OAuth2 client
 * credentials (RFC 6749 4.4): POST <app.token-url> with
 * grant_type=client_credentials (and scope), client id and secret by HTTP
 * basic auth; it is cached and fetched again before it expires (when less
 * than a fifth of its lifetime, at most 60 s, is left, while the old one is
 * still used); messages wait for the first token; a 401 with a token in
 * use invalidates it and the message goes again once with a new one. One
 * fetch at a time, on a provider (breaker, bucket) of its own.
 *
 * Classification (sj_http_classify()): 2xx ok; 408, 425, 429 temporary
 * (429 and 503 honour Retry-After, which also pauses the whole provider);
 * 5xx temporary and a provider fault; 401 and 403 temporary and a provider
 * fault (credentials are our configuration: the breaker opens and messages
 * wait for the operator rather than being dead-lettered); every other 4xx
 * and 3xx permanent; no answer (refused, timeout, dropped, TLS) temporary
 * and a provider fault.
 *
 * The pure parsers (Retry-After, token and provider answers, form
 * encoding, sender ids) are fuzzed (tests/fuzz/fuzz_gateway.c).
 * Thread-safety: that of the transport (one thread). */
#ifndef SJ_HTTP_GATEWAY_H
#define SJ_HTTP_GATEWAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "consumers/transport.h"
#include "core/buf.h"
#include "core/common.h"

#define SJ_RETRY_AFTER_MAX_MS  (7LL * 86400000) /* longer asks are cut to this */
#define SJ_OAUTH_TOKEN_MAX     4096             /* bytes of an access token */
#define SJ_OAUTH_DEFAULT_TTL_S 300              /* lifetime assumed without expires_in */
#define SJ_GATEWAY_MAX_URL     2048

/* ---- pure helpers ---------------------------------------------------------- */

/* The class of an HTTP exchange that ended with code and status (0: no
 * answer); *fault tells whether the provider itself failed. */
sj_class_t sj_http_classify(CURLcode code, long status, bool *fault);

/* Parses a Retry-After value (RFC 9110: delay-seconds, or an HTTP-date in
 * IMF-fixdate, RFC 850 or asctime form) seen at now_ms into *delay_ms (0
 * for a date in the past; at most SJ_RETRY_AFTER_MAX_MS). SJ_ERR_INPUT for
 * anything else. */
sj_status_t sj_retry_after_parse(const char *v, size_t n, int64_t now_ms,
                                 int64_t *delay_ms);

/* Parses an OAuth2 token answer body[0..n): a JSON object with
 * "access_token" (1..SJ_OAUTH_TOKEN_MAX-1 printable ASCII bytes, copied to
 * token), "token_type" Bearer (any case; absent is taken as Bearer) and
 * "expires_in" seconds (absent: SJ_OAUTH_DEFAULT_TTL_S). On SJ_ERR_INPUT
 * why names the member, never the token. */
sj_status_t sj_oauth_token_parse(const char *body, size_t n, char *token,
                                 size_t token_size, int64_t *expires_in_ms, char *why,
                                 size_t why_size);

/* Copies the string member `member` of the JSON object in body[0..n) into
 * out (printable ASCII only, cut at out_size - 1); "" when there is none. */
void sj_gateway_member(const char *body, size_t n, const char *member, char *out,
                       size_t out_size);

/* A short description of an error answer for a reason text: Twilio's
 * "code N: message", an OAuth2 "error", a generic "error" string, cut to
 * out_size - 1 printable ASCII bytes, with what looks like an e-mail address
 * ("***@***") or a phone number ("***", 7 or more digits) masked: reasons
 * go to logs and records. "" when there is none. */
void sj_gateway_error_text(const char *body, size_t n, char *out, size_t out_size);

/* Appends "key=value" (with a leading '&' unless b is empty) to b, both
 * form-urlencoded (application/x-www-form-urlencoded: unreserved bytes
 * kept, space as '+', the rest %XX). SJ_ERR_TOO_BIG past b's bound. */
sj_status_t sj_form_add(sj_buf_t *b, const char *key, const char *value);

/* Whether s is a valid SMS sender id: E.164 (+ and 7-15 digits, not
 * starting with 0) or 1-11 ASCII letters, digits and spaces with at least
 * one letter. */
bool sj_sms_sender_check(const char *s);

/* ---- SMS gateway ----------------------------------------------------------- */

typedef enum { SJ_SMS_WEBHOOK = 0, SJ_SMS_TWILIO } sj_sms_api_t;

typedef struct sj_sms_gw_opts {
    sj_sms_api_t api;
    const char *url;         /* webhook: the URL; twilio: the API base URL */
    const char *api_key;     /* webhook: Bearer key, or NULL (copied) */
    const char *account_sid; /* twilio */
    const char *auth_token;  /* twilio (copied; never logged) */
    const char *ca_file;     /* NULL: the system's CAs */
    long timeout_ms;
} sj_sms_gw_opts_t;

typedef struct sj_sms_gw sj_sms_gw_t;

/* A gateway client on provider p (borrowed). NULL with errstr naming the
 * problem ("url: ...", "account sid: ..."); the caller adds the setting. */
sj_sms_gw_t *sj_sms_gw_new(sj_provider_t *p, const sj_sms_gw_opts_t *o, char *errstr,
                           size_t errstr_size);
void sj_sms_gw_destroy(sj_sms_gw_t *g);

/* Queues one SMS (everything copied). SJ_ERR_INPUT when `to` is not E.164
 * or `from` not a sender id (errstr, without the number); SJ_ERR_NOMEM. */
sj_status_t sj_sms_gw_send(sj_sms_gw_t *g, const char *reference, const char *to,
                           const char *from, const char *text, sj_send_done_fn done,
                           void *opaque, char *errstr, size_t errstr_size);

/* ---- app inbox with OAuth2 ------------------------------------------------- */

typedef struct sj_inbox_opts {
    const char *url;           /* the messages endpoint */
    const char *token_url;     /* the OAuth2 token endpoint */
    const char *client_id;     /* copied */
    const char *client_secret; /* copied; never logged */
    const char *scope;         /* or NULL */
    const char *ca_file;       /* NULL: the system's CAs */
    long timeout_ms;
} sj_inbox_opts_t;

typedef struct sj_inbox_msg {
    const char *reference, *recipient, *title, *body, *deep_link, *category,
        *expires_at; /* deep_link, expires_at may be NULL; category
                        "informational" or "action-required" */
} sj_inbox_msg_t;

typedef struct sj_inbox_stats {
    uint64_t tokens;       /* fetched */
    uint64_t token_errors; /* fetches that failed */
    uint64_t early;        /* fetched before the old token expired */
    uint64_t reauth;       /* messages sent again after a 401 */
} sj_inbox_stats_t;

typedef struct sj_inbox sj_inbox_t;

/* An inbox client: messages on provider `messages`, token fetches on
 * `tokens` (both borrowed). NULL with errstr naming the problem. */
sj_inbox_t *sj_inbox_new(sj_provider_t *messages, sj_provider_t *tokens,
                         const sj_inbox_opts_t *o, char *errstr, size_t errstr_size);
void sj_inbox_destroy(sj_inbox_t *ib);

/* Queues one message (everything copied). SJ_ERR_INPUT for a bad category;
 * SJ_ERR_NOMEM. */
sj_status_t sj_inbox_send(sj_inbox_t *ib, const sj_inbox_msg_t *m, sj_send_done_fn done,
                          void *opaque, char *errstr, size_t errstr_size);

const sj_inbox_stats_t *sj_inbox_stats(const sj_inbox_t *ib);

#endif
