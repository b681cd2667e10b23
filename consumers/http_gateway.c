/* SMS gateways (generic webhook, Twilio's format) and the app inbox with
 * OAuth2 client credentials, over the transport. See http_gateway.h. */
#include "http_gateway.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "core/log.h"
#include "core/timeutil.h"

#define FAC "gateway"

/* ---- pure helpers ---------------------------------------------------------- */

sj_class_t sj_http_classify(CURLcode code, long status, bool *fault)
{
    *fault = false;
    if (code != CURLE_OK || status == 0) {
        *fault = true; /* no answer: refused, timeout, dropped, TLS */
        return SJ_CLASS_TEMPORARY;
    }
    if (status >= 200 && status < 300) return SJ_CLASS_OK;
    if (status == 408 || status == 425 || status == 429) return SJ_CLASS_TEMPORARY;
    if (status >= 500 || status == 401 || status == 403) {
        *fault = true;
        return SJ_CLASS_TEMPORARY;
    }
    return SJ_CLASS_PERMANENT;
}

/* n decimal digits at *p (advanced); false if they are not there. */
static bool digits(const char **p, const char *end, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++, (*p)++) {
        if (*p >= end || **p < '0' || **p > '9') return false;
        v = v * 10 + (**p - '0');
    }
    *out = v;
    return true;
}

static bool lit(const char **p, const char *end, const char *s)
{
    size_t k = strlen(s);
    if ((size_t)(end - *p) < k || memcmp(*p, s, k) != 0) return false;
    *p += k;
    return true;
}

static int month(const char **p, const char *end)
{
    static const char *const names[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    for (int i = 0; i < 12; i++)
        if (lit(p, end, names[i])) return i + 1;
    return 0;
}

static bool hms(const char **p, const char *end, int *h, int *m, int *s)
{
    return digits(p, end, 2, h) && lit(p, end, ":") && digits(p, end, 2, m) &&
           lit(p, end, ":") && digits(p, end, 2, s) && *h < 24 && *m < 60 && *s < 61;
}

/* The three HTTP-date forms (RFC 9110 5.6.7) into ms since the epoch. */
static bool http_date(const char *s, size_t n, int64_t *ms)
{
    const char *p = s, *end = s + n, *comma = memchr(s, ',', n);
    int d = 0, y = 0, h, mi, se, mo;
    if (comma && comma - s == 3) { /* Sun, 06 Nov 1994 08:49:37 GMT */
        p = comma + 1;
        if (!lit(&p, end, " ") || !digits(&p, end, 2, &d) || !lit(&p, end, " ") ||
            !(mo = month(&p, end)) || !lit(&p, end, " ") || !digits(&p, end, 4, &y) ||
            !lit(&p, end, " ") || !hms(&p, end, &h, &mi, &se) || !lit(&p, end, " GMT"))
            return false;
    } else if (comma) { /* Sunday, 06-Nov-94 08:49:37 GMT */
        p = comma + 1;
        if (!lit(&p, end, " ") || !digits(&p, end, 2, &d) || !lit(&p, end, "-") ||
            !(mo = month(&p, end)) || !lit(&p, end, "-") || !digits(&p, end, 2, &y) ||
            !lit(&p, end, " ") || !hms(&p, end, &h, &mi, &se) || !lit(&p, end, " GMT"))
            return false;
        y += y < 70 ? 2000 : 1900;
    } else { /* Sun Nov  6 08:49:37 1994 */
        if (n < 4 || s[3] != ' ') return false;
        p = s + 4;
        if (!(mo = month(&p, end)) || !lit(&p, end, " ")) return false;
        if (lit(&p, end, " ")) {
            if (!digits(&p, end, 1, &d)) return false;
        } else if (!digits(&p, end, 2, &d)) {
            return false;
        }
        if (!lit(&p, end, " ") || !hms(&p, end, &h, &mi, &se) || !lit(&p, end, " ") ||
            !digits(&p, end, 4, &y))
            return false;
    }
    if (p != end || !sj_date_valid(y, (unsigned)mo, (unsigned)d)) return false;
    if (se == 60) se = 59;
    int64_t days = sj_days_from_civil(y, (unsigned)mo, (unsigned)d);
    *ms = ((days * 24 + h) * 60 + mi) * 60000LL + se * 1000LL;
    return true;
}

sj_status_t sj_retry_after_parse(const char *v, size_t n, int64_t now_ms,
                                 int64_t *delay_ms)
{
    while (n && (*v == ' ' || *v == '\t')) v++, n--;
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t')) n--;
    if (n == 0) return SJ_ERR_INPUT;
    if (v[0] >= '0' && v[0] <= '9') {
        int64_t secs = 0;
        for (size_t i = 0; i < n; i++) {
            if (v[i] < '0' || v[i] > '9') return SJ_ERR_INPUT;
            if (secs < SJ_RETRY_AFTER_MAX_MS) secs = secs * 10 + (v[i] - '0');
        }
        *delay_ms =
            secs >= SJ_RETRY_AFTER_MAX_MS / 1000 ? SJ_RETRY_AFTER_MAX_MS : secs * 1000;
        return SJ_OK;
    }
    int64_t at;
    if (!http_date(v, n, &at)) return SJ_ERR_INPUT;
    int64_t d = at - now_ms;
    *delay_ms = d < 0 ? 0 : d > SJ_RETRY_AFTER_MAX_MS ? SJ_RETRY_AFTER_MAX_MS : d;
    return SJ_OK;
}

static json_t *load_object(const char *body, size_t n)
{
    if (!body || n == 0 || n > SJ_XFER_BODY_MAX) return NULL;
    json_t *j = json_loadb(body, n, JSON_REJECT_DUPLICATES, NULL);
    if (j && !json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

static bool printable(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e) return false;
    return true;
}

sj_status_t sj_oauth_token_parse(const char *body, size_t n, char *token,
                                 size_t token_size, int64_t *expires_in_ms, char *why,
                                 size_t why_size)
{
    json_t *j = load_object(body, n);
    const char *problem = NULL;
    if (!j) {
        problem = "the answer is not a JSON object";
    } else {
        const json_t *t = json_object_get(j, "access_token");
        const json_t *type = json_object_get(j, "token_type");
        const json_t *exp = json_object_get(j, "expires_in");
        size_t tn = json_is_string(t) ? json_string_length(t) : 0;
        if (!tn || tn >= token_size || !printable(json_string_value(t), tn))
            problem = "access_token is missing, too long or not printable ASCII";
        else if (type && (!json_is_string(type) ||
                          strcasecmp(json_string_value(type), "bearer") != 0))
            problem = "token_type is not Bearer";
        else if (exp && (!json_is_integer(exp) || json_integer_value(exp) < 1 ||
                         json_integer_value(exp) > 366 * 86400))
            problem = "expires_in is not a number of seconds (1 to a year)";
        else {
            memcpy(token, json_string_value(t), tn);
            token[tn] = '\0';
            *expires_in_ms =
                (exp ? json_integer_value(exp) : SJ_OAUTH_DEFAULT_TTL_S) * 1000LL;
        }
    }
    json_decref(j);
    if (!problem) return SJ_OK;
    sj_seterr(why, why_size, "token answer: %s", problem);
    return SJ_ERR_INPUT;
}

/* Copies s as printable ASCII ('?' for anything else), cut to size - 1. */
static void copy_printable(char *out, size_t size, const char *s)
{
    size_t k = 0;
    for (; s && *s && k + 1 < size; s++) out[k++] = (*s >= 0x20 && *s <= 0x7e) ? *s : '?';
    if (size) out[k] = '\0';
}

void sj_gateway_member(const char *body, size_t n, const char *member, char *out,
                       size_t out_size)
{
    json_t *j = load_object(body, n);
    const json_t *v = j ? json_object_get(j, member) : NULL;
    if (out_size) out[0] = '\0';
    if (json_is_string(v)) copy_printable(out, out_size, json_string_value(v));
    json_decref(j);
}

/* Masks what may be personal data in a provider's text, in place: a word
 * with an '@' (an address) becomes "***@***", a run of 7 or more digits
 * (a phone number; a '+' before it goes too) becomes "***". Providers quote
 * the recipient in their errors ("The 'To' number +32470... is not valid"),
 * and reasons reach logs and records. */
static void scrub(char *s)
{
    char *w = s;
    for (char *r = s; *r;) {
        char *end = r;
        while (*end && *end != ' ' && *end != '\'' && *end != '"' && *end != ',') end++;
        size_t digits = 0, run = 0;
        bool at = false;
        for (char *q = r; q < end; q++) {
            at |= *q == '@';
            run = (*q >= '0' && *q <= '9') ? run + 1 : 0;
            if (run > digits) digits = run;
        }
        if (end > r && (at || digits >= 7)) {
            const char *mask = at ? "***@***" : "***";
            size_t k =
                strlen(mask) < (size_t)(end - r) ? strlen(mask) : (size_t)(end - r);
            memmove(w, mask, k);
            w += k;
        } else {
            memmove(w, r, (size_t)(end - r));
            w += end - r;
        }
        r = end;
        if (*r) *w++ = *r++;
    }
    *w = '\0';
}

void sj_gateway_error_text(const char *body, size_t n, char *out, size_t out_size)
{
    json_t *j = load_object(body, n);
    if (out_size) out[0] = '\0';
    if (!j) return;
    const json_t *code = json_object_get(j, "code");
    const json_t *msg = json_object_get(j, "message");
    const json_t *err = json_object_get(j, "error");
    char tmp[200];
    if (json_is_integer(code)) {
        snprintf(tmp, sizeof tmp, "code %lld%s%.120s",
                 (long long)json_integer_value(code), json_is_string(msg) ? ": " : "",
                 json_is_string(msg) ? json_string_value(msg) : "");
        copy_printable(out, out_size, tmp);
    } else if (json_is_string(err)) {
        copy_printable(out, out_size, json_string_value(err));
    }
    if (out_size) scrub(out);
    json_decref(j);
}

sj_status_t sj_form_add(sj_buf_t *b, const char *key, const char *value)
{
    static const char hex[] = "0123456789ABCDEF";
    sj_status_t st = b->len ? sj_buf_addc(b, '&') : SJ_OK;
    for (int part = 0; part < 2 && st == SJ_OK; part++) {
        const unsigned char *s = (const unsigned char *)(part ? value : key);
        if (part) st = sj_buf_addc(b, '=');
        for (; *s && st == SJ_OK; s++) {
            unsigned char c = *s;
            if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~') {
                st = sj_buf_addc(b, (char)c);
            } else if (c == ' ') {
                st = sj_buf_addc(b, '+');
            } else {
                char e[3] = {'%', hex[c >> 4], hex[c & 15]};
                st = sj_buf_add(b, e, 3);
            }
        }
    }
    return st;
}

static bool e164(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n < 8 || n > 16 || s[0] != '+' || s[1] < '1' || s[1] > '9') return false;
    for (size_t i = 1; i < n; i++)
        if (s[i] < '0' || s[i] > '9') return false;
    return true;
}

bool sj_sms_sender_check(const char *s)
{
    if (e164(s)) return true;
    size_t n = s ? strlen(s) : 0;
    bool letter = false;
    if (n < 1 || n > 11) return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        if (!alpha && !(c >= '0' && c <= '9') && c != ' ') return false;
        letter |= alpha;
    }
    return letter;
}

/* ---- shared request plumbing ----------------------------------------------- */

static bool http_url(const char *u)
{
    return u && strlen(u) < SJ_GATEWAY_MAX_URL &&
           (!strncmp(u, "http://", 7) || !strncmp(u, "https://", 8)) &&
           printable(u, strlen(u));
}

/* Sets the options every POST of ours has; body must live until done. */
static void post_opts(CURL *e, const char *url, const char *ca_file, long timeout_ms,
                      struct curl_slist *headers, const char *body, size_t len)
{
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     timeout_ms < 10000 ? timeout_ms : 10000L);
    if (ca_file) curl_easy_setopt(e, CURLOPT_CAINFO, ca_file);
}

/* Fills res and the verdict from an HTTP result. what names the endpoint
 * in the reason ("sms", "twilio", "inbox", "oauth token"). */
static sj_verdict_t judge(const sj_xfer_result_t *x, const char *what,
                          sj_send_result_t *res)
{
    sj_verdict_t v = {0};
    if (x->not_sent) {
        v.cls = res->cls = SJ_CLASS_TEMPORARY;
        res->not_sent = true;
        res->retry_after_ms = x->wait_ms;
        snprintf(res->reason, sizeof res->reason, "%s: %s", what, x->error);
        return v;
    }
    v.cls = res->cls = sj_http_classify(x->code, x->status, &v.fault);
    int64_t ra = 0;
    if (x->retry_after && (x->status == 429 || x->status == 503) &&
        sj_retry_after_parse(x->retry_after, strlen(x->retry_after), sj_now_ms(), &ra) ==
            SJ_OK) {
        res->retry_after_ms = ra;
        v.pause_ms = ra;
    }
    if (res->cls == SJ_CLASS_OK) return v;
    char detail[160];
    sj_gateway_error_text(x->body, x->body_len, detail, sizeof detail);
    if (x->code != CURLE_OK || x->status == 0)
        snprintf(res->reason, sizeof res->reason, "%s: %s", what, x->error);
    else
        snprintf(res->reason, sizeof res->reason, "%s http %ld%s%s", what, x->status,
                 detail[0] ? ": " : "", detail);
    return v;
}

static char *dup_or_null(const char *s, bool *ok)
{
    if (!s) return NULL;
    char *d = strdup(s);
    if (!d) *ok = false;
    return d;
}

static void free_secret(char *s)
{
    if (!s) return;
    memset(s, 0, strlen(s));
    free(s);
}

/* ---- SMS gateway ----------------------------------------------------------- */

struct sj_sms_gw {
    sj_provider_t *p;
    sj_sms_api_t api;
    char *url, *ca_file, *auth_header, *sid, *token;
    long timeout_ms;
};

typedef struct {
    struct curl_slist *headers;
    char *body;
    sj_send_done_fn done;
    void *opaque;
    sj_sms_api_t api;
    char reference[128];
} sms_req_t;

sj_sms_gw_t *sj_sms_gw_new(sj_provider_t *p, const sj_sms_gw_opts_t *o, char *errstr,
                           size_t errstr_size)
{
    if (!http_url(o->url)) {
        sj_seterr(errstr, errstr_size, "url: not an http:// or https:// URL");
        return NULL;
    }
    if (o->api == SJ_SMS_TWILIO &&
        (!o->account_sid || strlen(o->account_sid) != 34 ||
         strncmp(o->account_sid, "AC", 2) || !printable(o->account_sid, 34))) {
        sj_seterr(errstr, errstr_size, "account sid: not AC and 32 characters");
        return NULL;
    }
    if (o->api == SJ_SMS_TWILIO && (!o->auth_token || !*o->auth_token)) {
        sj_seterr(errstr, errstr_size, "auth token: missing");
        return NULL;
    }
    if (o->api_key && !printable(o->api_key, strlen(o->api_key))) {
        sj_seterr(errstr, errstr_size, "API key: not printable ASCII");
        return NULL;
    }
    sj_sms_gw_t *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    bool ok = true;
    g->p = p;
    g->api = o->api;
    g->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 10000;
    g->ca_file = dup_or_null(o->ca_file, &ok);
    if (o->api == SJ_SMS_TWILIO) {
        size_t n = strlen(o->url) + 80;
        if ((g->url = malloc(n)))
            snprintf(g->url, n, "%s%s2010-04-01/Accounts/%s/Messages.json", o->url,
                     o->url[strlen(o->url) - 1] == '/' ? "" : "/", o->account_sid);
        ok &= g->url != NULL;
        g->sid = dup_or_null(o->account_sid, &ok);
        g->token = dup_or_null(o->auth_token, &ok);
    } else {
        g->url = dup_or_null(o->url, &ok);
        if (o->api_key) {
            size_t n = strlen(o->api_key) + 32;
            if ((g->auth_header = malloc(n)))
                snprintf(g->auth_header, n, "Authorization: Bearer %s", o->api_key);
            ok &= g->auth_header != NULL;
        }
    }
    if (!ok) {
        sj_sms_gw_destroy(g);
        sj_seterr(errstr, errstr_size, "out of memory");
        return NULL;
    }
    return g;
}

void sj_sms_gw_destroy(sj_sms_gw_t *g)
{
    if (!g) return;
    free(g->url);
    free(g->ca_file);
    free_secret(g->auth_header);
    free(g->sid);
    free_secret(g->token);
    free(g);
}

static sj_verdict_t sms_done(void *opaque, const sj_xfer_result_t *x)
{
    sms_req_t *r = opaque;
    sj_send_result_t res = {0};
    sj_verdict_t v = judge(x, r->api == SJ_SMS_TWILIO ? "twilio" : "sms", &res);
    if (res.cls == SJ_CLASS_OK)
        sj_gateway_member(x->body, x->body_len, r->api == SJ_SMS_TWILIO ? "sid" : "id",
                          res.reference, sizeof res.reference);
    if (!res.reference[0])
        snprintf(res.reference, sizeof res.reference, "%s", r->reference);
    r->done(r->opaque, &res);
    curl_slist_free_all(r->headers);
    free(r->body);
    free(r);
    return v;
}

static sj_status_t sms_body(const sj_sms_gw_t *g, const char *reference, const char *to,
                            const char *from, const char *text, char **out)
{
    if (g->api == SJ_SMS_WEBHOOK) {
        json_t *j = json_pack("{s:s, s:s, s:s, s:s}", "to", to, "from", from, "text",
                              text, "reference", reference);
        *out = j ? json_dumps(j, JSON_COMPACT) : NULL;
        json_decref(j);
        return *out ? SJ_OK : SJ_ERR_NOMEM;
    }
    sj_buf_t b;
    sj_buf_init(&b, 64 * 1024);
    sj_status_t st = sj_form_add(&b, "To", to);
    if (st == SJ_OK) st = sj_form_add(&b, "From", from);
    if (st == SJ_OK) st = sj_form_add(&b, "Body", text);
    if (st != SJ_OK) {
        sj_buf_free(&b);
        return st;
    }
    *out = sj_buf_detach(&b, NULL);
    return *out ? SJ_OK : SJ_ERR_NOMEM;
}

sj_status_t sj_sms_gw_send(sj_sms_gw_t *g, const char *reference, const char *to,
                           const char *from, const char *text, sj_send_done_fn done,
                           void *opaque, char *errstr, size_t errstr_size)
{
    if (!e164(to)) {
        sj_seterr(errstr, errstr_size, "recipient: not an E.164 number");
        return SJ_ERR_INPUT;
    }
    if (!sj_sms_sender_check(from)) {
        sj_seterr(errstr, errstr_size,
                  "sender id \"%.16s\" is not E.164 or 1-11 letters, "
                  "digits and spaces",
                  from);
        return SJ_ERR_INPUT;
    }
    sms_req_t *r = calloc(1, sizeof *r);
    char hdr[200];
    bool ok = r && sms_body(g, reference, to, from, text, &r->body) == SJ_OK;
    if (ok) {
        snprintf(hdr, sizeof hdr, "Idempotency-Key: %.120s", reference);
        r->headers = curl_slist_append(
            NULL, g->api == SJ_SMS_TWILIO
                      ? "Content-Type: application/x-www-form-urlencoded"
                      : "Content-Type: application/json");
        ok = r->headers && curl_slist_append(r->headers, "Expect:") &&
             curl_slist_append(r->headers, "Accept: application/json") &&
             curl_slist_append(r->headers, hdr) &&
             (!g->auth_header || curl_slist_append(r->headers, g->auth_header));
    }
    sj_xfer_t *x = ok ? sj_xfer_new(g->p) : NULL;
    if (!x) {
        if (r) {
            curl_slist_free_all(r->headers);
            free(r->body);
        }
        free(r);
        sj_seterr(errstr, errstr_size, "out of memory");
        return SJ_ERR_NOMEM;
    }
    r->done = done;
    r->opaque = opaque;
    r->api = g->api;
    snprintf(r->reference, sizeof r->reference, "%s", reference);
    CURL *e = sj_xfer_easy(x);
    post_opts(e, g->url, g->ca_file, g->timeout_ms, r->headers, r->body, strlen(r->body));
    if (g->api == SJ_SMS_TWILIO) {
        curl_easy_setopt(e, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
        curl_easy_setopt(e, CURLOPT_USERNAME, g->sid);
        curl_easy_setopt(e, CURLOPT_PASSWORD, g->token);
    }
    sj_xfer_submit(x, sms_done, r);
    return SJ_OK;
}

/* ---- app inbox ------------------------------------------------------------- */

typedef struct ireq {
    sj_inbox_t *ib;
    struct curl_slist *headers;
    char *body;
    sj_send_done_fn done;
    void *opaque;
    uint64_t gen; /* the token generation it was sent with */
    bool reauthed;
    char reference[128];
    struct ireq *next; /* waiting for a token */
} ireq_t;

struct sj_inbox {
    sj_provider_t *messages, *tokens;
    char *url, *token_url, *ca_file, *client_id, *client_secret;
    char *token_form;
    long timeout_ms;
    char token[SJ_OAUTH_TOKEN_MAX];
    int64_t expires_ms, margin_ms; /* monotonic */
    uint64_t gen;
    bool fetching;
    struct curl_slist *token_headers;
    ireq_t *wait_head, *wait_tail;
    sj_inbox_stats_t stats;
};

sj_inbox_t *sj_inbox_new(sj_provider_t *messages, sj_provider_t *tokens,
                         const sj_inbox_opts_t *o, char *errstr, size_t errstr_size)
{
    const char *bad = !http_url(o->url) ? "url: not an http:// or https:// URL"
                      : !http_url(o->token_url)
                          ? "token url: not an http:// or https:// URL"
                      : !o->client_id || !*o->client_id         ? "client id: missing"
                      : !o->client_secret || !*o->client_secret ? "client secret: missing"
                                                                : NULL;
    if (bad) {
        sj_seterr(errstr, errstr_size, "%s", bad);
        return NULL;
    }
    sj_inbox_t *ib = calloc(1, sizeof *ib);
    if (!ib) return NULL;
    bool ok = true;
    ib->messages = messages;
    ib->tokens = tokens;
    ib->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 10000;
    ib->url = dup_or_null(o->url, &ok);
    ib->token_url = dup_or_null(o->token_url, &ok);
    ib->ca_file = dup_or_null(o->ca_file, &ok);
    /* RFC 6749 2.3.1: id and secret are form-encoded before basic auth. */
    sj_buf_t b;
    sj_buf_init(&b, 8192);
    ok &= sj_form_add(&b, "u", o->client_id) == SJ_OK;
    ib->client_id = ok ? strdup(sj_buf_cstr(&b) + 2) : NULL;
    sj_buf_reset(&b);
    ok &= sj_form_add(&b, "s", o->client_secret) == SJ_OK;
    ib->client_secret = ok ? strdup(sj_buf_cstr(&b) + 2) : NULL;
    sj_buf_reset(&b);
    ok &= sj_form_add(&b, "grant_type", "client_credentials") == SJ_OK;
    if (o->scope) ok &= sj_form_add(&b, "scope", o->scope) == SJ_OK;
    ib->token_form = ok ? strdup(sj_buf_cstr(&b)) : NULL;
    sj_buf_free(&b);
    ib->token_headers =
        curl_slist_append(NULL, "Content-Type: application/x-www-form-urlencoded");
    ok = ok && ib->client_id && ib->client_secret && ib->token_form &&
         ib->token_headers &&
         curl_slist_append(ib->token_headers, "Accept: application/json") &&
         curl_slist_append(ib->token_headers, "Expect:");
    if (!ok) {
        sj_inbox_destroy(ib);
        sj_seterr(errstr, errstr_size, "out of memory");
        return NULL;
    }
    return ib;
}

static void ireq_free(ireq_t *r)
{
    curl_slist_free_all(r->headers);
    free(r->body);
    free(r);
}

void sj_inbox_destroy(sj_inbox_t *ib)
{
    if (!ib) return;
    for (ireq_t *r = ib->wait_head, *next; r; r = next) {
        next = r->next;
        ireq_free(r);
    }
    free(ib->url);
    free(ib->token_url);
    free(ib->ca_file);
    free(ib->client_id);
    free_secret(ib->client_secret);
    free(ib->token_form);
    curl_slist_free_all(ib->token_headers);
    memset(ib->token, 0, sizeof ib->token);
    free(ib);
}

const sj_inbox_stats_t *sj_inbox_stats(const sj_inbox_t *ib)
{
    return &ib->stats;
}

static void inbox_dispatch(sj_inbox_t *ib, ireq_t *r);

/* Fails every message waiting for a token with res. */
static void fail_waiting(sj_inbox_t *ib, const sj_send_result_t *res)
{
    ireq_t *list = ib->wait_head;
    ib->wait_head = ib->wait_tail = NULL;
    while (list) {
        ireq_t *r = list;
        list = r->next;
        sj_send_result_t mine = *res;
        snprintf(mine.reference, sizeof mine.reference, "%s", r->reference);
        r->done(r->opaque, &mine);
        ireq_free(r);
    }
}

static sj_verdict_t token_done(void *opaque, const sj_xfer_result_t *x)
{
    sj_inbox_t *ib = opaque;
    sj_send_result_t res = {0};
    sj_verdict_t v = judge(x, "oauth token", &res);
    ib->fetching = false;
    if (res.cls == SJ_CLASS_OK) {
        int64_t ttl;
        char why[160];
        if (sj_oauth_token_parse(x->body, x->body_len, ib->token, sizeof ib->token, &ttl,
                                 why, sizeof why) == SJ_OK) {
            ib->gen++;
            ib->stats.tokens++;
            ib->expires_ms = sj_mono_ms() + ttl;
            ib->margin_ms = ttl / 5 < 60000 ? ttl / 5 : 60000;
            ireq_t *list = ib->wait_head;
            ib->wait_head = ib->wait_tail = NULL;
            while (list) {
                ireq_t *r = list;
                list = r->next;
                inbox_dispatch(ib, r);
            }
            return v;
        }
        v = (sj_verdict_t){.cls = SJ_CLASS_TEMPORARY, .fault = true};
        res.cls = SJ_CLASS_TEMPORARY;
        snprintf(res.reason, sizeof res.reason, "oauth %s", why);
    }
    ib->stats.token_errors++;
    if (!x->not_sent)
        sj_log(SJ_LOG_WARN, FAC,
               "app inbox: no access token (%s); check app.token-url, app.client-id and "
               "app.client-secret-file",
               res.reason);
    fail_waiting(ib, &res);
    return v;
}

static void token_fetch(sj_inbox_t *ib)
{
    sj_xfer_t *x = sj_xfer_new(ib->tokens);
    if (!x) {
        sj_send_result_t res = {.cls = SJ_CLASS_TEMPORARY};
        snprintf(res.reason, sizeof res.reason, "oauth token: out of memory");
        fail_waiting(ib, &res);
        return;
    }
    ib->fetching = true;
    CURL *e = sj_xfer_easy(x);
    post_opts(e, ib->token_url, ib->ca_file, ib->timeout_ms, ib->token_headers,
              ib->token_form, strlen(ib->token_form));
    curl_easy_setopt(e, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    curl_easy_setopt(e, CURLOPT_USERNAME, ib->client_id);
    curl_easy_setopt(e, CURLOPT_PASSWORD, ib->client_secret);
    sj_xfer_submit(x, token_done, ib);
}

static sj_verdict_t inbox_done(void *opaque, const sj_xfer_result_t *x)
{
    ireq_t *r = opaque;
    sj_inbox_t *ib = r->ib;
    if (!x->not_sent && x->code == CURLE_OK && x->status == 401 && !r->reauthed) {
        /* The token was refused (revoked, expired early): fetch a new one
         * and send this message once more with it. */
        if (r->gen == ib->gen) ib->token[0] = '\0';
        r->reauthed = true;
        ib->stats.reauth++;
        inbox_dispatch(ib, r);
        return (sj_verdict_t){.cls = SJ_CLASS_TEMPORARY};
    }
    sj_send_result_t res = {0};
    sj_verdict_t v = judge(x, "inbox", &res);
    if (res.cls == SJ_CLASS_OK)
        sj_gateway_member(x->body, x->body_len, "id", res.reference,
                          sizeof res.reference);
    if (!res.reference[0])
        snprintf(res.reference, sizeof res.reference, "%s", r->reference);
    r->done(r->opaque, &res);
    ireq_free(r);
    return v;
}

/* Right before the message goes: the token in use now (not when it was
 * queued: the bucket or the connections may have held it back), and a
 * fetch of the next one when this one is about to expire. */
static void inbox_start(void *opaque, CURL *easy)
{
    ireq_t *r = opaque;
    sj_inbox_t *ib = r->ib;
    int64_t now = sj_mono_ms();
    if (ib->token[0] && !ib->fetching && now >= ib->expires_ms - ib->margin_ms) {
        ib->stats.early++;
        token_fetch(ib); /* the current one still serves meanwhile */
    }
    char auth[SJ_OAUTH_TOKEN_MAX + 32];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", ib->token);
    struct curl_slist *h = curl_slist_append(r->headers, auth);
    memset(auth, 0, sizeof auth);
    if (h) r->headers = h; /* else it goes without and comes back with a 401 */
    r->gen = ib->gen;
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, r->headers);
}

static void inbox_submit(sj_inbox_t *ib, ireq_t *r)
{
    curl_slist_free_all(r->headers);
    r->headers = curl_slist_append(NULL, "Content-Type: application/json");
    bool ok = r->headers && curl_slist_append(r->headers, "Accept: application/json") &&
              curl_slist_append(r->headers, "Expect:");
    sj_xfer_t *x = ok ? sj_xfer_new(ib->messages) : NULL;
    if (!x) {
        sj_send_result_t res = {.cls = SJ_CLASS_TEMPORARY};
        snprintf(res.reason, sizeof res.reason, "inbox: out of memory");
        snprintf(res.reference, sizeof res.reference, "%s", r->reference);
        r->done(r->opaque, &res);
        ireq_free(r);
        return;
    }
    post_opts(sj_xfer_easy(x), ib->url, ib->ca_file, ib->timeout_ms, r->headers, r->body,
              strlen(r->body));
    sj_xfer_on_start(x, inbox_start);
    sj_xfer_submit(x, inbox_done, r);
}

static void inbox_dispatch(sj_inbox_t *ib, ireq_t *r)
{
    int64_t now = sj_mono_ms();
    bool valid = ib->token[0] && now < ib->expires_ms;
    if (valid) {
        inbox_submit(ib, r);
        return;
    }
    r->next = NULL;
    if (ib->wait_tail)
        ib->wait_tail->next = r;
    else
        ib->wait_head = r;
    ib->wait_tail = r;
    if (!ib->fetching) token_fetch(ib);
}

sj_status_t sj_inbox_send(sj_inbox_t *ib, const sj_inbox_msg_t *m, sj_send_done_fn done,
                          void *opaque, char *errstr, size_t errstr_size)
{
    const char *cat = !m->category                              ? NULL
                      : !strcmp(m->category, "informational")   ? "informational"
                      : !strcmp(m->category, "action-required") ? "action_required"
                                                                : NULL;
    if (!cat) {
        sj_seterr(errstr, errstr_size, "category: not informational or action-required");
        return SJ_ERR_INPUT;
    }
    if (!m->recipient || !m->title || !m->body || !m->reference) {
        sj_seterr(errstr, errstr_size, "recipient, title, body and reference are needed");
        return SJ_ERR_INPUT;
    }
    json_t *j =
        json_pack("{s:s, s:s, s:s, s:s, s:s}", "recipient", m->recipient, "title",
                  m->title, "body", m->body, "category", cat, "reference", m->reference);
    if (j && m->deep_link) json_object_set_new(j, "deep_link", json_string(m->deep_link));
    if (j && m->expires_at)
        json_object_set_new(j, "expires_at", json_string(m->expires_at));
    ireq_t *r = j ? calloc(1, sizeof *r) : NULL;
    if (r) r->body = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!r || !r->body) {
        free(r);
        sj_seterr(errstr, errstr_size, "out of memory");
        return SJ_ERR_NOMEM;
    }
    r->ib = ib;
    r->done = done;
    r->opaque = opaque;
    snprintf(r->reference, sizeof r->reference, "%s", m->reference);
    inbox_dispatch(ib, r);
    return SJ_OK;
}
