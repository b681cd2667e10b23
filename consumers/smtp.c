/* SMTP submission through the transport. See smtp.h. */
#include "smtp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sj_smtp {
    sj_provider_t *p;
    char url[600];
    sj_smtp_tls_t tls;
    char *ca_file, *user, *password;
    char mail_from[SJ_SMTP_MAX_ADDRESS + 3];
    long timeout_ms;
};

/* One message in flight. */
typedef struct {
    sj_smtp_t *s;
    struct curl_slist *rcpt;
    const char *msg;
    size_t len, pos;
    sj_send_done_fn done;
    void *opaque;
    char reference[160];
} req_t;

sj_status_t sj_smtp_tls_parse(const char *s, sj_smtp_tls_t *out)
{
    static const char *const names[] = {"starttls", "implicit", "none"};
    for (size_t i = 0; s && i < SJ_ARRAY_LEN(names); i++)
        if (!strcmp(s, names[i])) {
            *out = (sj_smtp_tls_t)i;
            return SJ_OK;
        }
    return SJ_ERR_INPUT;
}

static bool atext(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

static bool dot_atoms(const char *s, size_t n, bool domain)
{
    if (n == 0 || s[0] == '.' || s[n - 1] == '.') return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '.') {
            if (s[i + 1] == '.') return false;
            continue;
        }
        bool ok = domain ? (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                               (c >= '0' && c <= '9') || c == '-'
                         : atext(c);
        if (!ok) return false;
    }
    return true;
}

sj_status_t sj_smtp_check_address(const char *a, size_t n, char *why, size_t why_size)
{
    const char *problem = NULL;
    const char *at = NULL;
    for (size_t i = 0; i < n && !problem; i++) {
        unsigned char c = (unsigned char)a[i];
        if (c == '\r' || c == '\n' || c == '\0')
            problem = "contains CR, LF or NUL (command injection)";
        else if (c < 0x21 || c == 0x7f)
            problem = "contains a space or control character";
        else if (c >= 0x80)
            problem = "contains non-ASCII bytes (SMTPUTF8 is not used)";
        else if (c == '<' || c == '>')
            problem = "contains < or >";
        else if (c == '@' && at)
            problem = "has more than one @";
        else if (c == '@')
            at = a + i;
    }
    if (!problem) {
        size_t local = at ? (size_t)(at - a) : 0;
        if (n == 0)
            problem = "is empty";
        else if (n > SJ_SMTP_MAX_ADDRESS)
            problem = "is longer than 254 bytes";
        else if (!at)
            problem = "has no @";
        else if (local == 0 || local > SJ_SMTP_MAX_LOCAL || !dot_atoms(a, local, false))
            problem = "has no valid local part (1-64 bytes of dot-atom text)";
        else if (!dot_atoms(at + 1, n - local - 1, true))
            problem = "has no valid domain";
    }
    if (!problem) return SJ_OK;
    sj_seterr(why, why_size, "envelope address %s", problem);
    return SJ_ERR_INPUT;
}

sj_class_t sj_smtp_classify(CURLcode code, long reply, bool *fault)
{
    *fault = false;
    if (code == CURLE_OK) return SJ_CLASS_OK;
    if (reply >= 500 && reply < 600) {
        if (reply == 530 || reply == 534 || reply == 535 || reply == 538) {
            *fault = true; /* authentication: our configuration, not the message */
            return SJ_CLASS_TEMPORARY;
        }
        return SJ_CLASS_PERMANENT;
    }
    if (reply >= 400 && reply < 500) {
        *fault = reply == 421;
        return SJ_CLASS_TEMPORARY;
    }
    *fault = true; /* no refusal: the network, TLS or the relay itself */
    return SJ_CLASS_TEMPORARY;
}

sj_smtp_t *sj_smtp_new(sj_provider_t *p, const sj_smtp_opts_t *o, char *errstr,
                       size_t errstr_size)
{
    char why[160];
    if (!o->host || !*o->host || strlen(o->host) > 255 || strpbrk(o->host, "/@?# \r\n")) {
        sj_seterr(errstr, errstr_size, "host: not a host name or address");
        return NULL;
    }
    if (o->port < 1 || o->port > 65535) {
        sj_seterr(errstr, errstr_size, "port: not 1..65535");
        return NULL;
    }
    if (!o->mail_from ||
        sj_smtp_check_address(o->mail_from, strlen(o->mail_from), why, sizeof why)) {
        sj_seterr(errstr, errstr_size, "sender: %s", o->mail_from ? why : "missing");
        return NULL;
    }
    if (!o->helo || !*o->helo || !dot_atoms(o->helo, strlen(o->helo), true)) {
        sj_seterr(errstr, errstr_size, "EHLO name: not a domain");
        return NULL;
    }
    if (o->user && (!o->password || strpbrk(o->user, "\r\n"))) {
        sj_seterr(errstr, errstr_size, "AUTH user without a password");
        return NULL;
    }
    sj_smtp_t *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->p = p;
    s->tls = o->tls;
    bool v6 = strchr(o->host, ':') != NULL;
    snprintf(s->url, sizeof s->url, "%s://%s%s%s:%ld/%s",
             o->tls == SJ_SMTP_IMPLICIT ? "smtps" : "smtp", v6 ? "[" : "", o->host,
             v6 ? "]" : "", o->port, o->helo);
    snprintf(s->mail_from, sizeof s->mail_from, "<%s>", o->mail_from);
    s->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 30000;
    s->ca_file = o->ca_file ? strdup(o->ca_file) : NULL;
    s->user = o->user ? strdup(o->user) : NULL;
    s->password = o->user ? strdup(o->password) : NULL;
    if ((o->ca_file && !s->ca_file) || (o->user && (!s->user || !s->password))) {
        sj_smtp_destroy(s);
        return NULL;
    }
    return s;
}

void sj_smtp_destroy(sj_smtp_t *s)
{
    if (!s) return;
    free(s->ca_file);
    free(s->user);
    if (s->password) {
        memset(s->password, 0, strlen(s->password));
        free(s->password);
    }
    free(s);
}

static size_t on_read(char *buf, size_t size, size_t n, void *ud)
{
    req_t *r = ud;
    size_t room = size * n, left = r->len - r->pos;
    size_t k = left < room ? left : room;
    memcpy(buf, r->msg + r->pos, k);
    r->pos += k;
    return k;
}

static int on_seek(void *ud, curl_off_t offset, int origin)
{
    req_t *r = ud;
    if (origin != SEEK_SET || offset < 0 || (size_t)offset > r->len)
        return CURL_SEEKFUNC_CANTSEEK;
    r->pos = (size_t)offset;
    return CURL_SEEKFUNC_OK;
}

static sj_verdict_t on_done(void *opaque, const sj_xfer_result_t *x)
{
    req_t *r = opaque;
    sj_send_result_t res = {0};
    bool fault = false;
    res.cls =
        x->not_sent ? SJ_CLASS_TEMPORARY : sj_smtp_classify(x->code, x->status, &fault);
    if (x->not_sent) {
        res.not_sent = true;
        res.retry_after_ms = x->wait_ms;
        snprintf(res.reason, sizeof res.reason, "smtp: %s", x->error);
    } else if (res.cls != SJ_CLASS_OK) {
        if (x->status >= 400)
            snprintf(res.reason, sizeof res.reason, "smtp %ld (%s)", x->status, x->error);
        else
            snprintf(res.reason, sizeof res.reason, "smtp: %s", x->error);
    }
    snprintf(res.reference, sizeof res.reference, "%s", r->reference);
    r->done(r->opaque, &res);
    curl_slist_free_all(r->rcpt);
    free(r);
    return (sj_verdict_t){.cls = res.cls, .fault = fault};
}

sj_status_t sj_smtp_send(sj_smtp_t *s, const char *rcpt, const char *msg, size_t len,
                         const char *reference, sj_send_done_fn done, void *opaque,
                         char *errstr, size_t errstr_size)
{
    char why[160], to[SJ_SMTP_MAX_ADDRESS + 3];
    if (sj_smtp_check_address(rcpt, strlen(rcpt), why, sizeof why) != SJ_OK) {
        sj_seterr(errstr, errstr_size, "recipient: %s", why);
        return SJ_ERR_INPUT;
    }
    snprintf(to, sizeof to, "<%s>", rcpt);
    req_t *r = calloc(1, sizeof *r);
    sj_xfer_t *x = r ? sj_xfer_new(s->p) : NULL;
    if (!x || !(r->rcpt = curl_slist_append(NULL, to))) {
        if (x) sj_xfer_discard(x);
        free(r);
        sj_seterr(errstr, errstr_size, "out of memory");
        return SJ_ERR_NOMEM;
    }
    r->s = s;
    r->msg = msg;
    r->len = len;
    r->done = done;
    r->opaque = opaque;
    snprintf(r->reference, sizeof r->reference, "%s", reference ? reference : "");
    CURL *e = sj_xfer_easy(x);
    curl_easy_setopt(e, CURLOPT_URL, s->url);
    curl_easy_setopt(e, CURLOPT_USE_SSL,
                     (long)(s->tls == SJ_SMTP_PLAIN ? CURLUSESSL_NONE : CURLUSESSL_ALL));
    if (s->ca_file) curl_easy_setopt(e, CURLOPT_CAINFO, s->ca_file);
    if (s->user) {
        curl_easy_setopt(e, CURLOPT_USERNAME, s->user);
        curl_easy_setopt(e, CURLOPT_PASSWORD, s->password);
    }
    curl_easy_setopt(e, CURLOPT_MAIL_FROM, s->mail_from);
    curl_easy_setopt(e, CURLOPT_MAIL_RCPT, r->rcpt);
    curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(e, CURLOPT_READDATA, r);
    curl_easy_setopt(e, CURLOPT_SEEKFUNCTION, on_seek);
    curl_easy_setopt(e, CURLOPT_SEEKDATA, r);
    curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, s->timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     s->timeout_ms < 10000 ? s->timeout_ms : 10000L);
    sj_xfer_submit(x, on_done, r);
    return SJ_OK;
}
