/* `seintje deliver`: notification intents in, messages out, each one
 * ending in a recorded final state.
 *
 * Contract:
 *  - input: topic `topic.notifications` (intents, see segments/intent.h),
 *    consumer group `deliver.group`; output: the messages (channels.h: the
 *    outbox, SMTP, an SMS gateway, the app inbox), one status record per
 *    transition on `topic.delivery-status` and one dead-letter record per
 *    channel that failed for good on `topic.dead-letter`, counters in
 *    sj:{stats}:<campaign> ("<variant>|<channel>.sent", ...), the delivery
 *    state in Redis (ledger.h);
 *  - at send time the resident's profile sj:res:{<pseudonym>} is read from
 *    Redis and the first channel of the intent's order with a contact point
 *    and consent is chosen (route.h), skipping channels that already failed
 *    for good; otherwise the intent is suppressed (no-channel, inactive,
 *    no-profile); an intent past its expires_at is suppressed (expired);
 *  - an intent whose not_before is still in the future is parked in the
 *    schedule (sj:{schedule}:due, :intents) and its status is "scheduled";
 *  - idempotency: before a send the intent is claimed in Redis
 *    (sj:dlv:{<id>}); an intent already sent, dead-lettered or suppressed is
 *    a duplicate and is not sent again. Only a message that was in flight
 *    when this instance (deliver.instance) died can be sent twice: the claim
 *    it left says so and it is sent again, with the same Message-ID or
 *    provider reference (the intent id), so the receiver can drop it;
 *  - failures: temporary ones (no answer, SMTP 4xx, HTTP 408/425/429/5xx,
 *    401/403, an open circuit breaker) go back to the schedule with
 *    exponential backoff and jitter (deliver.retry-*; Retry-After is
 *    honoured), without holding up other messages; permanent ones (SMTP
 *    5xx, other HTTP 4xx, a template that does not render, an address the
 *    channel refuses) and exhausted retries go to the dead letters with the
 *    reason, and on to the intent's next usable channel (deliver.fallback);
 *  - durability: a Kafka offset is stored only when every intent up to it
 *    is final: sent, scheduled (for later or for a retry) or dead-lettered,
 *    with its state in Redis and its records acknowledged by Kafka. A
 *    transition whose records were not acknowledged is published again by
 *    whoever finds it next (status records are at least once);
 *  - many sends are in flight at once (deliver.max-in-flight intents, the
 *    channels' connections), with per-provider rate limits and circuit
 *    breakers (transport.h);
 *  - a malformed intent is logged by partition and offset and skipped.
 *
 * Clock: "now" is the wall clock; with --now or SEINTJE_NOW it starts at
 * that time and advances with the process (so retries become due). With
 * `replay_clock`, a due intent is sent as if at its not_before moment: its
 * expiry is checked then and the message is dated then (`seintje demo`).
 *
 * Thread-safety: sj_deliver_run() uses its own clients and may run in a
 * thread of its own; the stop flag is the only shared state. */
#ifndef SJ_DELIVER_H
#define SJ_DELIVER_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "consumers/ledger.h"
#include "consumers/route.h"
#include "core/common.h"
#include "core/config.h"

#define SJ_DELIVER_BATCH_DEFAULT 500
#define SJ_DELIVER_BATCH_MAX     10000
#define SJ_DELIVER_INTENT_MAX    (256 * 1024) /* bytes; larger intents are malformed */

typedef struct sj_deliver_opts {
    int until_idle_ms;         /* >= 0: stop when every assigned partition reached its
                                  end, nothing is due and nothing arrived for this
                                  long; < 0: run until *stop is set */
    bool replay_clock;         /* send due intents as if at their not_before */
    int64_t now_ms;            /* fixed "now"; 0 = sj_now_ms() */
    const char *templates_dir; /* NULL = setting templates.dir */
    const char *outbox_dir;    /* NULL = setting outbox.dir */
    size_t batch_max;          /* intents per poll batch; 0 = SJ_DELIVER_BATCH_DEFAULT */
    volatile sig_atomic_t *stop; /* set to stop; may be NULL */
} sj_deliver_opts_t;

typedef struct sj_deliver_stats {
    uint64_t intents;   /* consumed from Kafka */
    uint64_t malformed; /* skipped as malformed */
    uint64_t sent[SJ_ROUTE_CHANNELS];
    uint64_t suppressed[SJ_SUPPRESS_REASONS];
    uint64_t failed;        /* could not be rendered (see the log) */
    uint64_t duplicates;    /* already sent or final, or in flight here */
    uint64_t scheduled;     /* parked until not_before */
    uint64_t released;      /* taken from the schedule when due */
    uint64_t pending;       /* in the schedule when the run ended */
    uint64_t retries;       /* temporary failures scheduled for another attempt */
    uint64_t dead_letters;  /* channels that failed for good (dead-letter records) */
    uint64_t fallbacks;     /* of those, intents that went on to their next channel */
    uint64_t undeliverable; /* intents with no channel left */
    uint64_t recovered;     /* in flight when an earlier run died: sent again */
    uint64_t busy;          /* held by another instance: parked until its lease ends */
    uint64_t republished;   /* transitions whose records were published again */
    uint64_t records;       /* status and dead-letter records published */
    uint64_t exposed;       /* residents newly exposed to an experiment */
    uint64_t window_full;   /* times deliver.max-in-flight was reached (reading paused) */
    uint64_t batches;
    double seconds;
    double send_seconds; /* from the first send to the last outcome */
    char report[2048];   /* per-provider counters (channels.h), or "" */
} sj_deliver_stats_t;

/* Runs the stage until idle, stopped or a fatal error (Redis or Kafka
 * unreachable, the outbox not writable, templates.dir unusable). Returns
 * SJ_OK or an error with errstr; stats (caller-owned, zeroed here) count what
 * completed either way. */
sj_status_t sj_deliver_run(const sj_conf_t *conf, const sj_deliver_opts_t *o,
                           sj_deliver_stats_t *stats, char *errstr, size_t errstr_size);

/* Prints a human summary of stats (several lines, each prefixed by prefix). */
void sj_deliver_print_summary(FILE *out, const char *prefix, const sj_deliver_stats_t *s);

#endif
