/* The delivery transport: many sends in flight at once over libcurl's multi
 * interface, with the bounds that keep a provider healthy.
 *
 * A provider (an SMTP relay, an SMS gateway, the app inbox API, its token
 * endpoint) gets a queue, a limit on transfers at once (its connections,
 * which curl's shared connection cache keeps open and reuses), a token
 * bucket (messages per second, burst), a pause that a provider's
 * Retry-After starts, and a circuit breaker. The channel modules (smtp.h,
 * http_gateway.h) make a transfer (sj_xfer_new()), set the protocol
 * options on its easy handle and submit it; sj_transport_run() starts what
 * the bounds allow, drives curl and calls each transfer's done function,
 * which classifies the result and returns a verdict that feeds the breaker
 * and the pause.
 *
 * The circuit breaker (sj_breaker_t) stops hammering a provider that is
 * down: after `threshold` consecutive provider faults (timeouts, refused
 * connections, 5xx, unauthorised) it opens for `open_ms`; queued transfers
 * then fail at once as temporary ("circuit open", with the time to wait), so
 * the caller parks them for a later retry instead of waiting. When the
 * period is over one probe goes (half open): a success closes the breaker,
 * a fault opens it again for twice as long, at most `max_open_ms`.
 *
 * The token bucket (sj_bucket_t) allows `rate` transfers per second with
 * bursts of `burst`; a transfer that finds the bucket empty waits in the
 * queue (counted as a rate wait). Backoff (sj_backoff_delay_ms()) is
 * exponential with "equal jitter": attempt n waits between half and all of
 * min(max, base * 2^(n-1)).
 *
 * The bucket, breaker and backoff are pure (time is a parameter) and tested
 * alone. Thread-safety: a transport and everything made from it belong to
 * one thread. */
#ifndef SJ_TRANSPORT_H
#define SJ_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "core/common.h"

#define SJ_XFER_BODY_MAX       (64 * 1024) /* response bytes kept; more is cut */
#define SJ_TRANSPORT_MAX_PROVS 8
#define SJ_PROVIDER_MAX_CONNS  1000

/* How a send ended. */
typedef enum { SJ_CLASS_OK = 0, SJ_CLASS_TEMPORARY, SJ_CLASS_PERMANENT } sj_class_t;

/* "ok", "temporary", "permanent". */
const char *sj_class_name(sj_class_t c);

/* The outcome of one message on one channel, as the channel modules
 * (smtp.h, http_gateway.h, channels.h) report it to their caller. */
typedef struct sj_send_result {
    sj_class_t cls;
    bool not_sent;          /* never reached the provider (its breaker is open) */
    int64_t retry_after_ms; /* > 0: the provider asked to wait this long */
    char reason[256];       /* short, never personal data: "smtp 550 (RCPT failed:
                               550)", "http 429", "timeout" */
    char reference[160];    /* the provider's reference (Message-ID, message id) */
} sj_send_result_t;

/* Called once per message; r is borrowed for the call. */
typedef void (*sj_send_done_fn)(void *opaque, const sj_send_result_t *r);

/* ---- token bucket ---------------------------------------------------------- */

typedef struct sj_bucket {
    double rate;   /* tokens per second; 0 = unlimited */
    double burst;  /* most tokens held */
    double tokens; /* held now */
    int64_t last_us;
} sj_bucket_t;

/* A full bucket at now_us. rate 0 means no limit; burst < 1 is taken as 1. */
void sj_bucket_init(sj_bucket_t *b, double rate, double burst, int64_t now_us);
/* Takes one token if there is one at now_us. */
bool sj_bucket_take(sj_bucket_t *b, int64_t now_us);
/* Microseconds until a token is there (0: now). */
int64_t sj_bucket_wait_us(const sj_bucket_t *b, int64_t now_us);

/* ---- circuit breaker ------------------------------------------------------- */

typedef enum {
    SJ_BREAKER_CLOSED = 0,
    SJ_BREAKER_OPEN,
    SJ_BREAKER_HALF_OPEN
} sj_breaker_state_t;

typedef struct sj_breaker {
    sj_breaker_state_t state;
    unsigned threshold;  /* consecutive faults that open it; 0 = never opens */
    int64_t open_ms;     /* first open period */
    int64_t max_open_ms; /* cap of the doubled periods */
    unsigned faults;     /* consecutive faults while closed */
    int64_t period_ms;   /* the current open period */
    int64_t until_ms;    /* open: when the probe may go */
    bool probing;        /* half open: the probe is out */
    uint64_t opened;     /* times it opened */
} sj_breaker_t;

void sj_breaker_init(sj_breaker_t *b, unsigned threshold, int64_t open_ms,
                     int64_t max_open_ms);
/* Whether a transfer may start at now_ms. Open and past until_ms it turns
 * half open and lets exactly one transfer (the probe) through: *probe is set
 * for it. */
bool sj_breaker_allow(sj_breaker_t *b, int64_t now_ms, bool *probe);
/* Records the result of a transfer: fault = the provider failed (not: the
 * message was refused). Only the probe's result counts while half open;
 * results of transfers that started before the breaker opened are ignored
 * while it is open. Returns the new state. */
sj_breaker_state_t sj_breaker_record(sj_breaker_t *b, bool fault, bool probe,
                                     int64_t now_ms);
/* Milliseconds until the breaker lets a transfer through (0 when closed). */
int64_t sj_breaker_wait_ms(const sj_breaker_t *b, int64_t now_ms);
/* "closed", "open", "half-open". */
const char *sj_breaker_state_name(sj_breaker_state_t s);

/* ---- backoff --------------------------------------------------------------- */

/* The delay before attempt `attempt` + 1 after `attempt` failures (>= 1):
 * d = min(max_ms, base_ms * 2^(attempt-1)), result in [d/2, d], chosen by
 * `random` (any 64-bit value). */
int64_t sj_backoff_delay_ms(unsigned attempt, int64_t base_ms, int64_t max_ms,
                            uint64_t random);

/* ---- transport ------------------------------------------------------------- */

typedef struct sj_transport sj_transport_t;
typedef struct sj_provider sj_provider_t;
typedef struct sj_xfer sj_xfer_t;

typedef struct sj_provider_opts {
    const char *name; /* for logs and stats, e.g. "smtp" (copied) */
    unsigned conns;   /* transfers at once, 1..SJ_PROVIDER_MAX_CONNS */
    double rate;      /* transfers per second; 0 = no limit */
    double burst;     /* bucket size; 0 = max(1, rate) */
    unsigned breaker_faults;
    int64_t breaker_open_ms, breaker_max_open_ms;
} sj_provider_opts_t;

typedef struct sj_provider_stats {
    uint64_t started, ok, temporary, permanent;
    uint64_t rejected_open; /* failed at once: breaker open */
    uint64_t breaker_opened;
    uint64_t rate_waits; /* times the queue waited for the bucket */
    uint64_t paused;     /* pauses started by a provider's Retry-After */
    uint64_t max_queue;  /* longest queue seen */
} sj_provider_stats_t;

/* What a finished transfer saw; all borrowed for the done call. */
typedef struct sj_xfer_result {
    CURLcode code;     /* CURLE_OK or curl's error */
    long status;       /* HTTP status or last SMTP reply code; 0 none */
    bool not_sent;     /* never started: the breaker is open */
    int64_t wait_ms;   /* not_sent: how long the breaker stays open */
    const char *error; /* curl's error text, "" when none */
    const char *body;  /* response body (NUL-terminated, cut at SJ_XFER_BODY_MAX) */
    size_t body_len;
    const char *retry_after;      /* the Retry-After header, or NULL */
    const char *www_authenticate; /* the WWW-Authenticate header, or NULL */
} sj_xfer_result_t;

/* What the done function concluded. */
typedef struct sj_verdict {
    sj_class_t cls;
    bool fault;       /* the provider failed (counts for its breaker) */
    int64_t pause_ms; /* > 0: hold the provider's queue this long (Retry-After) */
} sj_verdict_t;

/* Called once per submitted transfer, always from sj_transport_run() (also
 * for a transfer the open breaker rejects, with not_sent). It may submit
 * new transfers; the transfer and its easy handle are recycled after it
 * returns. */
typedef sj_verdict_t (*sj_xfer_done_fn)(void *opaque, const sj_xfer_result_t *r);

/* A new transport with room for max_conns open connections in curl's cache.
 * Returns NULL with errstr on failure. Call curl_global_init() first. */
sj_transport_t *sj_transport_new(unsigned max_conns, char *errstr, size_t errstr_size);
/* Aborts what is in flight without calling done functions. NULL is a no-op. */
void sj_transport_destroy(sj_transport_t *t);

/* Adds a provider (owned by t). NULL with errstr for bad options. */
sj_provider_t *sj_transport_provider(sj_transport_t *t, const sj_provider_opts_t *o,
                                     char *errstr, size_t errstr_size);

/* A transfer on provider p with a clean easy handle (from a pool, so
 * handles and their TLS session caches are reused): set the protocol's
 * options on sj_xfer_easy(), then submit. The transport owns the
 * write/header callbacks, CURLOPT_PRIVATE, the error buffer and NOSIGNAL.
 * NULL when out of memory. */
sj_xfer_t *sj_xfer_new(sj_provider_t *p);
CURL *sj_xfer_easy(sj_xfer_t *x);
/* Queues x; done(opaque, ...) is called exactly once. */
void sj_xfer_submit(sj_xfer_t *x, sj_xfer_done_fn done, void *opaque);

/* Called with the easy handle right before x starts (after its wait in the
 * queue): for options that must be fresh then, such as a bearer token. It
 * may submit other transfers. Set it before sj_xfer_submit(). */
typedef void (*sj_xfer_start_fn)(void *opaque, CURL *easy);
void sj_xfer_on_start(sj_xfer_t *x, sj_xfer_start_fn start);
/* Returns an unsubmitted transfer to the pool. */
void sj_xfer_discard(sj_xfer_t *x);

/* Starts what the bounds allow, waits at most timeout_ms for network
 * activity (less when a queue waits for a token, a pause or the breaker),
 * and calls the done functions of finished transfers. Returns how many
 * finished, or -1 on a curl multi error (errstr). */
int sj_transport_run(sj_transport_t *t, int timeout_ms, char *errstr, size_t errstr_size);
/* Transfers queued or running. */
size_t sj_transport_pending(const sj_transport_t *t);

const char *sj_provider_name(const sj_provider_t *p);
const sj_provider_stats_t *sj_provider_stats(const sj_provider_t *p);
sj_breaker_state_t sj_provider_breaker(const sj_provider_t *p);
/* The number of providers and the i-th, for reports. */
size_t sj_transport_providers(const sj_transport_t *t);
const sj_provider_t *sj_transport_provider_at(const sj_transport_t *t, size_t i);

#endif
