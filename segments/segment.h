/* `seintje segment`: life events in, notification intents out.
 *
 * Contract (see also intent.h, profile.h, campaign.h):
 *  - input: topic `topic.life-events`, CloudEvents 1.0 JSON, key = subject =
 *    resident pseudonym (64 hex), consumer group `segment.group`;
 *  - state: the resident profile hash sj:res:{<pseudonym>} in Redis
 *    (`redis.url`), updated for every event with one pipelined round trip
 *    per poll batch;
 *  - campaigns: every *.json in `campaigns.dir` whose trigger.event equals
 *    the event's type yields one intent, unless the resident is no longer
 *    active, the campaign's date is missing from the event, or the intent
 *    would expire before it may be sent (not_before in the past becomes now);
 *  - output: topic `topic.notifications`, key = pseudonym, one JSON intent
 *    per (campaign, event), produced with the idempotent producer;
 *  - delivery guarantee: at-least-once. The consumer offsets of a poll batch
 *    are stored only after Redis answered and every intent of the batch was
 *    acknowledged by Kafka; a crash in between replays the batch, which
 *    yields the same intent ids (the delivery stage deduplicates by id);
 *  - a malformed event (bad JSON, no pseudonym subject, ...) is logged by
 *    partition and offset, never with its content, counted, and skipped.
 *
 * Clock: "now" is the wall clock (SEINTJE_NOW overrides it), or with
 * `replay_clock` each event's own time, which replays history as if every
 * event were processed the moment it happened (used by `seintje demo`).
 *
 * Thread-safety: sj_segment_run() uses its own clients and may run in a
 * thread of its own; the stop flag is the only shared state. */
#ifndef SJ_SEGMENT_H
#define SJ_SEGMENT_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "core/common.h"
#include "core/config.h"
#include "segments/intent.h"

#define SJ_SEGMENT_BATCH_DEFAULT 500
#define SJ_SEGMENT_BATCH_MAX     10000
#define SJ_SEGMENT_EVENT_MAX                                                             \
    (1024 * 1024) /* bytes per event; larger ones are malformed */

typedef struct sj_segment_opts {
    int until_idle_ms;           /* >= 0: stop when every assigned partition reached
                                    its end and nothing arrived for this long;
                                    < 0: run until *stop is set */
    bool replay_clock;           /* now = each event's time (history replay) */
    int64_t replay_until_ms;     /* with replay_clock: once idle, advance the clock to
                                    this moment and release what is due by then */
    int64_t now_ms;              /* fixed "now"; 0 = sj_now_ms() */
    const char *campaigns_dir;   /* NULL = setting campaigns.dir */
    size_t batch_max;            /* events per poll batch; 0 = SJ_SEGMENT_BATCH_DEFAULT */
    volatile sig_atomic_t *stop; /* set (e.g. by a signal handler) to stop; may be NULL */
} sj_segment_opts_t;

/* Where the time of a run went, for `segment` summaries and benchmarks. */
typedef enum {
    SJ_PHASE_POLL,   /* waiting for and fetching messages */
    SJ_PHASE_PARSE,  /* parsing messages */
    SJ_PHASE_READ,   /* profile updates and reads: the gather round trip */
    SJ_PHASE_RULES,  /* audience rules, nudging decisions */
    SJ_PHASE_WRITE,  /* decision writes to Redis */
    SJ_PHASE_COMMIT, /* the Kafka transaction: acknowledgements and commit */
    SJ_PHASE_TICK,   /* the schedule: releasing due steps */
    SJ_PHASES
} sj_segment_phase_t;

typedef struct sj_segment_stats {
    uint64_t events;          /* messages consumed (life events and ticks) */
    uint64_t ticks;           /* of which ticks of the stage's own schedule */
    uint64_t audience;        /* (campaign, event) pairs the audience rule excluded */
    uint64_t rule_errors;     /* audience rules that failed (bound tripped) */
    uint64_t duplicates;      /* steps already decided (replays, duplicate events) */
    uint64_t emitted;         /* intents published */
    uint64_t scheduled;       /* steps put in the schedule (timing, reminders) */
    uint64_t deferred;        /* steps moved later by the cap or the send window */
    uint64_t suppressed;      /* steps not sent: consent, channel, holdout, expiry ... */
    uint64_t cancelled;       /* steps cancelled because the goal was reached */
    uint64_t stale;           /* ticks for steps no longer due (harmless) */
    uint64_t aborted;         /* transactions aborted and retried */
    uint64_t malformed;       /* skipped as malformed */
    uint64_t profile_updates; /* events applied to a profile */
    uint64_t matched;         /* (campaign, event) pairs whose trigger matched */
    uint64_t skipped[SJ_INTENT_OUTCOMES]; /* by sj_intent_outcome_t; [0] unused */
    uint64_t batches;
    size_t campaigns; /* campaigns loaded */
    double seconds;
    double phase_s[SJ_PHASES]; /* seconds spent in each phase */
} sj_segment_stats_t;

/* Runs the stage until idle (see until_idle_ms), stopped, or a fatal error
 * (Redis or Kafka unreachable, an intent not acknowledged). Returns SJ_OK or
 * an error with errstr filled; stats (caller-owned, zeroed here) are valid in
 * both cases and count only what completed. */
sj_status_t sj_segment_run(const sj_conf_t *conf, const sj_segment_opts_t *o,
                           sj_segment_stats_t *stats, char *errstr, size_t errstr_size);

/* Prints a human summary of stats (several lines, each prefixed by prefix). */
void sj_segment_print_summary(FILE *out, const char *prefix, const sj_segment_stats_t *s);

#endif
