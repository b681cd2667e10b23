/* The curl multi engine with per-provider queues, token buckets, pauses and
 * circuit breakers. See transport.h. */
#include "transport.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/timeutil.h"

#define FAC "transport"

const char *sj_class_name(sj_class_t c)
{
    static const char *const names[] = {"ok", "temporary", "permanent"};
    return (size_t)c < SJ_ARRAY_LEN(names) ? names[c] : "?";
}

/* ---- token bucket ---------------------------------------------------------- */

void sj_bucket_init(sj_bucket_t *b, double rate, double burst, int64_t now_us)
{
    b->rate = rate > 0 ? rate : 0;
    if (burst < 1) burst = rate > 1 ? rate : 1;
    b->burst = burst;
    b->tokens = burst;
    b->last_us = now_us;
}

static double bucket_level(const sj_bucket_t *b, int64_t now_us)
{
    double t = b->tokens;
    if (now_us > b->last_us) t += (double)(now_us - b->last_us) * b->rate / 1e6;
    return t > b->burst ? b->burst : t;
}

bool sj_bucket_take(sj_bucket_t *b, int64_t now_us)
{
    if (b->rate <= 0) return true;
    b->tokens = bucket_level(b, now_us);
    if (now_us > b->last_us) b->last_us = now_us;
    if (b->tokens < 1) return false;
    b->tokens -= 1;
    return true;
}

int64_t sj_bucket_wait_us(const sj_bucket_t *b, int64_t now_us)
{
    if (b->rate <= 0) return 0;
    double t = bucket_level(b, now_us);
    if (t >= 1) return 0;
    return (int64_t)((1 - t) * 1e6 / b->rate) + 1;
}

/* ---- circuit breaker ------------------------------------------------------- */

void sj_breaker_init(sj_breaker_t *b, unsigned threshold, int64_t open_ms,
                     int64_t max_open_ms)
{
    memset(b, 0, sizeof *b);
    b->threshold = threshold;
    b->open_ms = open_ms > 0 ? open_ms : 1;
    b->max_open_ms = max_open_ms >= b->open_ms ? max_open_ms : b->open_ms;
    b->period_ms = b->open_ms;
}

static void breaker_open(sj_breaker_t *b, int64_t period, int64_t now_ms)
{
    b->state = SJ_BREAKER_OPEN;
    b->period_ms = period;
    b->until_ms = now_ms + period;
    b->faults = 0;
    b->probing = false;
    b->opened++;
}

bool sj_breaker_allow(sj_breaker_t *b, int64_t now_ms, bool *probe)
{
    *probe = false;
    switch (b->state) {
    case SJ_BREAKER_CLOSED:
        return true;
    case SJ_BREAKER_OPEN:
        if (now_ms < b->until_ms) return false;
        b->state = SJ_BREAKER_HALF_OPEN;
        b->probing = false;
        /* fall through */
    case SJ_BREAKER_HALF_OPEN:
        if (b->probing) return false;
        b->probing = true;
        *probe = true;
        return true;
    }
    return false;
}

sj_breaker_state_t sj_breaker_record(sj_breaker_t *b, bool fault, bool probe,
                                     int64_t now_ms)
{
    switch (b->state) {
    case SJ_BREAKER_CLOSED:
        if (!fault) {
            b->faults = 0;
        } else if (b->threshold && ++b->faults >= b->threshold) {
            breaker_open(b, b->open_ms, now_ms);
        }
        break;
    case SJ_BREAKER_OPEN:
        break; /* started before it opened: says nothing new */
    case SJ_BREAKER_HALF_OPEN:
        if (!probe) break;
        b->probing = false;
        if (fault) {
            int64_t p =
                b->period_ms > b->max_open_ms / 2 ? b->max_open_ms : b->period_ms * 2;
            breaker_open(b, p, now_ms);
        } else {
            b->state = SJ_BREAKER_CLOSED;
            b->faults = 0;
            b->period_ms = b->open_ms;
        }
        break;
    }
    return b->state;
}

int64_t sj_breaker_wait_ms(const sj_breaker_t *b, int64_t now_ms)
{
    if (b->state == SJ_BREAKER_OPEN)
        return b->until_ms > now_ms ? b->until_ms - now_ms : 0;
    return 0;
}

const char *sj_breaker_state_name(sj_breaker_state_t s)
{
    static const char *const names[] = {"closed", "open", "half-open"};
    return (size_t)s < SJ_ARRAY_LEN(names) ? names[s] : "?";
}

/* ---- backoff --------------------------------------------------------------- */

int64_t sj_backoff_delay_ms(unsigned attempt, int64_t base_ms, int64_t max_ms,
                            uint64_t random)
{
    if (attempt < 1) attempt = 1;
    if (base_ms < 1) base_ms = 1;
    if (max_ms < base_ms) max_ms = base_ms;
    int64_t d = base_ms;
    for (unsigned i = 1; i < attempt && d < max_ms; i++)
        d = d > max_ms / 2 ? max_ms : d * 2;
    if (d > max_ms) d = max_ms;
    int64_t half = d / 2;
    return half + (int64_t)(random % (uint64_t)(d - half + 1));
}

/* ---- transport ------------------------------------------------------------- */

struct sj_xfer {
    sj_transport_t *t;
    sj_provider_t *p;
    CURL *easy;
    sj_xfer_done_fn done;
    sj_xfer_start_fn start;
    void *opaque;
    bool probe, waited, running;
    sj_buf_t body;
    char retry_after[64];
    char www_auth[512];
    char errbuf[CURL_ERROR_SIZE];
    sj_xfer_t *next;     /* in a queue or the pool */
    sj_xfer_t *all_next; /* every transfer ever made, for destroy */
};

struct sj_provider {
    sj_transport_t *t;
    char name[32];
    unsigned conns, running;
    sj_bucket_t bucket;
    sj_breaker_t breaker;
    int64_t paused_until_ms;
    sj_xfer_t *head, *tail;
    size_t queued;
    sj_provider_stats_t stats;
};

struct sj_transport {
    CURLM *multi;
    sj_provider_t *provs[SJ_TRANSPORT_MAX_PROVS];
    size_t n_provs;
    sj_xfer_t *pool, *all;
    size_t running, queued;
};

sj_transport_t *sj_transport_new(unsigned max_conns, char *errstr, size_t errstr_size)
{
    sj_transport_t *t = calloc(1, sizeof *t);
    if (!t || !(t->multi = curl_multi_init())) {
        sj_seterr(errstr, errstr_size, "transport: out of memory");
        free(t);
        return NULL;
    }
    curl_multi_setopt(t->multi, CURLMOPT_MAXCONNECTS, (long)(max_conns ? max_conns : 16));
    return t;
}

void sj_transport_destroy(sj_transport_t *t)
{
    if (!t) return;
    for (sj_xfer_t *x = t->all, *next; x; x = next) {
        next = x->all_next;
        if (x->running) curl_multi_remove_handle(t->multi, x->easy);
        curl_easy_cleanup(x->easy);
        sj_buf_free(&x->body);
        free(x);
    }
    for (size_t i = 0; i < t->n_provs; i++) free(t->provs[i]);
    curl_multi_cleanup(t->multi);
    free(t);
}

sj_provider_t *sj_transport_provider(sj_transport_t *t, const sj_provider_opts_t *o,
                                     char *errstr, size_t errstr_size)
{
    if (t->n_provs == SJ_TRANSPORT_MAX_PROVS) {
        sj_seterr(errstr, errstr_size, "transport: more than %d providers",
                  SJ_TRANSPORT_MAX_PROVS);
        return NULL;
    }
    if (o->conns < 1 || o->conns > SJ_PROVIDER_MAX_CONNS) {
        sj_seterr(errstr, errstr_size, "%s: connections must be 1..%d", o->name,
                  SJ_PROVIDER_MAX_CONNS);
        return NULL;
    }
    sj_provider_t *p = calloc(1, sizeof *p);
    if (!p) {
        sj_seterr(errstr, errstr_size, "transport: out of memory");
        return NULL;
    }
    p->t = t;
    snprintf(p->name, sizeof p->name, "%s", o->name);
    p->conns = o->conns;
    sj_bucket_init(&p->bucket, o->rate, o->burst, sj_mono_us());
    sj_breaker_init(&p->breaker, o->breaker_faults, o->breaker_open_ms,
                    o->breaker_max_open_ms);
    t->provs[t->n_provs++] = p;
    return p;
}

static size_t on_body(char *ptr, size_t size, size_t n, void *ud)
{
    sj_xfer_t *x = ud;
    size_t len = size * n, room = SJ_XFER_BODY_MAX - x->body.len;
    sj_buf_add(&x->body, ptr, len < room ? len : room); /* the rest is cut */
    return len;
}

/* Copies the value of header "name: value" in line[0..n) into out. */
static bool header_value(const char *line, size_t n, const char *name, char *out,
                         size_t size)
{
    size_t k = strlen(name);
    if (n <= k || strncasecmp(line, name, k) != 0 || line[k] != ':') return false;
    const char *v = line + k + 1, *end = line + n;
    while (v < end && (*v == ' ' || *v == '\t')) v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ')) end--;
    size_t len = (size_t)(end - v) < size - 1 ? (size_t)(end - v) : size - 1;
    memcpy(out, v, len);
    out[len] = '\0';
    return true;
}

static size_t on_header(char *ptr, size_t size, size_t n, void *ud)
{
    sj_xfer_t *x = ud;
    size_t len = size * n;
    if (len >= 5 && !strncmp(ptr, "HTTP/", 5)) { /* a new response (1xx, redirect) */
        x->retry_after[0] = x->www_auth[0] = '\0';
        sj_buf_reset(&x->body);
    }
    if (!header_value(ptr, len, "Retry-After", x->retry_after, sizeof x->retry_after))
        header_value(ptr, len, "WWW-Authenticate", x->www_auth, sizeof x->www_auth);
    return len;
}

static void xfer_prepare(sj_xfer_t *x)
{
    curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x);
    curl_easy_setopt(x->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(x->easy, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(x->easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(x->easy, CURLOPT_HEADERDATA, x);
    x->errbuf[0] = x->retry_after[0] = x->www_auth[0] = '\0';
}

sj_xfer_t *sj_xfer_new(sj_provider_t *p)
{
    sj_transport_t *t = p->t;
    sj_xfer_t *x = t->pool;
    if (x) {
        t->pool = x->next;
    } else {
        if (!(x = calloc(1, sizeof *x))) return NULL;
        if (!(x->easy = curl_easy_init())) {
            free(x);
            return NULL;
        }
        sj_buf_init(&x->body, SJ_XFER_BODY_MAX);
        x->t = t;
        x->all_next = t->all;
        t->all = x;
    }
    x->p = p;
    x->next = NULL;
    x->start = NULL;
    x->probe = x->waited = x->running = false;
    sj_buf_reset(&x->body);
    xfer_prepare(x);
    return x;
}

CURL *sj_xfer_easy(sj_xfer_t *x)
{
    return x->easy;
}

void sj_xfer_discard(sj_xfer_t *x)
{
    curl_easy_reset(x->easy);
    x->next = x->t->pool;
    x->t->pool = x;
}

void sj_xfer_on_start(sj_xfer_t *x, sj_xfer_start_fn start)
{
    x->start = start;
}

void sj_xfer_submit(sj_xfer_t *x, sj_xfer_done_fn done, void *opaque)
{
    sj_provider_t *p = x->p;
    x->done = done;
    x->opaque = opaque;
    x->next = NULL;
    if (p->tail)
        p->tail->next = x;
    else
        p->head = x;
    p->tail = x;
    p->queued++;
    p->t->queued++;
    if (p->queued > p->stats.max_queue) p->stats.max_queue = p->queued;
}

static sj_xfer_t *pop(sj_provider_t *p)
{
    sj_xfer_t *x = p->head;
    if (!x) return NULL;
    p->head = x->next;
    if (!p->head) p->tail = NULL;
    p->queued--;
    p->t->queued--;
    x->next = NULL;
    return x;
}

/* Calls x's done function with code and recycles x. */
static void finish(sj_xfer_t *x, CURLcode code, bool not_sent, int64_t now_ms)
{
    sj_provider_t *p = x->p;
    sj_xfer_result_t r = {.code = code,
                          .not_sent = not_sent,
                          .error = x->errbuf[0] ? x->errbuf : curl_easy_strerror(code),
                          .body = sj_buf_cstr(&x->body),
                          .body_len = x->body.len,
                          .retry_after = x->retry_after[0] ? x->retry_after : NULL,
                          .www_authenticate = x->www_auth[0] ? x->www_auth : NULL};
    char answer[64];
    if (not_sent) {
        r.error = "circuit breaker open";
        r.wait_ms = sj_breaker_wait_ms(&p->breaker, now_ms);
    } else {
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &r.status);
        if (code == CURLE_OK && r.status >= 300) {
            snprintf(answer, sizeof answer, "answered %ld", r.status);
            r.error = answer;
        }
    }
    sj_verdict_t v = x->done(x->opaque, &r);
    if (not_sent)
        p->stats.rejected_open++;
    else if (v.cls == SJ_CLASS_OK)
        p->stats.ok++;
    else if (v.cls == SJ_CLASS_TEMPORARY)
        p->stats.temporary++;
    else
        p->stats.permanent++;
    if (!not_sent) {
        sj_breaker_state_t before = p->breaker.state;
        sj_breaker_state_t after =
            sj_breaker_record(&p->breaker, v.fault, x->probe, now_ms);
        if (after == SJ_BREAKER_OPEN && before != SJ_BREAKER_OPEN) {
            p->stats.breaker_opened++;
            sj_log(SJ_LOG_WARN, FAC,
                   "%s: circuit breaker open for %lld ms (%s: %s); sends fail fast "
                   "and are retried later",
                   p->name, (long long)p->breaker.period_ms,
                   before == SJ_BREAKER_HALF_OPEN ? "the probe failed"
                                                  : "consecutive provider faults",
                   r.error);
        } else if (after == SJ_BREAKER_CLOSED && before == SJ_BREAKER_HALF_OPEN) {
            sj_log(SJ_LOG_INFO, FAC, "%s: circuit breaker closed: the probe succeeded",
                   p->name);
        }
    }
    if (v.pause_ms > 0) {
        if (p->paused_until_ms <= now_ms)
            sj_log(SJ_LOG_INFO, FAC, "%s: paused for %lld ms (Retry-After)", p->name,
                   (long long)v.pause_ms);
        if (now_ms + v.pause_ms > p->paused_until_ms) {
            p->paused_until_ms = now_ms + v.pause_ms;
            p->stats.paused++;
        }
    }
    sj_xfer_discard(x);
}

/* Fails every queued transfer of p at once: its breaker is open. */
static void reject_queue(sj_provider_t *p, int64_t now_ms)
{
    sj_xfer_t *list = p->head;
    p->t->queued -= p->queued;
    p->head = p->tail = NULL;
    p->queued = 0;
    while (list) {
        sj_xfer_t *x = list;
        list = x->next;
        finish(x, CURLE_OK, true, now_ms);
    }
}

static void dispatch(sj_provider_t *p, int64_t now_ms, int64_t now_us)
{
    while (p->head && p->running < p->conns) {
        if (p->breaker.state == SJ_BREAKER_OPEN && now_ms < p->breaker.until_ms) {
            reject_queue(p, now_ms);
            return;
        }
        if (p->breaker.state == SJ_BREAKER_HALF_OPEN && p->breaker.probing) return;
        if (p->paused_until_ms > now_ms) return;
        if (!sj_bucket_take(&p->bucket, now_us)) {
            if (!p->head->waited) p->stats.rate_waits++;
            p->head->waited = true;
            return;
        }
        bool probe = false;
        sj_breaker_allow(&p->breaker, now_ms, &probe);
        sj_xfer_t *x = pop(p);
        x->probe = probe;
        if (x->start) x->start(x->opaque, x->easy);
        if (curl_multi_add_handle(p->t->multi, x->easy) != CURLM_OK) {
            finish(x, CURLE_FAILED_INIT, false, now_ms);
            continue;
        }
        x->running = true;
        p->running++;
        p->t->running++;
        p->stats.started++;
    }
}

/* How long the queues can wait before one of them may move. */
static int64_t queue_wait_ms(const sj_transport_t *t, int64_t now_ms, int64_t now_us,
                             int64_t cap)
{
    int64_t w = cap;
    for (size_t i = 0; i < t->n_provs; i++) {
        const sj_provider_t *p = t->provs[i];
        if (!p->head || p->running >= p->conns) continue;
        int64_t d = sj_bucket_wait_us(&p->bucket, now_us) / 1000 + 1;
        if (p->paused_until_ms > now_ms && p->paused_until_ms - now_ms > d)
            d = p->paused_until_ms - now_ms;
        if (sj_breaker_wait_ms(&p->breaker, now_ms) > d)
            d = sj_breaker_wait_ms(&p->breaker, now_ms);
        if (d < w) w = d;
    }
    return w;
}

/* Starts what the bounds allow and, when something started, lets curl
 * write it out at once: the caller may block elsewhere (Redis) before the
 * next sj_transport_run(), and requests should be on the wire meanwhile. */
static void dispatch_all(sj_transport_t *t)
{
    int64_t now_ms = sj_mono_ms(), now_us = sj_mono_us();
    size_t before = t->running;
    for (size_t i = 0; i < t->n_provs; i++) dispatch(t->provs[i], now_ms, now_us);
    int still;
    if (t->running > before) curl_multi_perform(t->multi, &still);
}

int sj_transport_run(sj_transport_t *t, int timeout_ms, char *errstr, size_t errstr_size)
{
    dispatch_all(t);
    if (t->running == 0 && t->queued == 0) return 0;
    int64_t wait = timeout_ms;
    if (t->queued) wait = queue_wait_ms(t, sj_mono_ms(), sj_mono_us(), wait);
    if (wait < 0) wait = 0;
    CURLMcode mc = curl_multi_poll(t->multi, NULL, 0, (int)wait, NULL);
    int still = 0;
    if (mc == CURLM_OK) mc = curl_multi_perform(t->multi, &still);
    if (mc != CURLM_OK) {
        sj_seterr(errstr, errstr_size, "transport: curl multi: %s",
                  curl_multi_strerror(mc));
        return -1;
    }
    int done = 0, left;
    CURLMsg *m;
    while ((m = curl_multi_info_read(t->multi, &left))) {
        if (m->msg != CURLMSG_DONE) continue;
        sj_xfer_t *x = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        CURLcode code = m->data.result;
        curl_multi_remove_handle(t->multi, x->easy);
        x->running = false;
        x->p->running--;
        t->running--;
        finish(x, code, false, sj_mono_ms());
        done++;
    }
    dispatch_all(t);
    return done;
}

size_t sj_transport_pending(const sj_transport_t *t)
{
    return t->running + t->queued;
}

const char *sj_provider_name(const sj_provider_t *p)
{
    return p->name;
}

const sj_provider_stats_t *sj_provider_stats(const sj_provider_t *p)
{
    return &p->stats;
}

sj_breaker_state_t sj_provider_breaker(const sj_provider_t *p)
{
    return p->breaker.state;
}

size_t sj_transport_providers(const sj_transport_t *t)
{
    return t->n_provs;
}

const sj_provider_t *sj_transport_provider_at(const sj_transport_t *t, size_t i)
{
    return i < t->n_provs ? t->provs[i] : NULL;
}
