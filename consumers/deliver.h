/* `seintje deliver`: notification intents in, messages out.
 *
 * Contract:
 *  - input: topic `topic.notifications` (intents, see segments/intent.h),
 *    consumer group `deliver.group`;
 *  - at send time the resident's profile sj:res:{<pseudonym>} is read from
 *    Redis (one pipelined round trip per batch) and the first channel of the
 *    intent's order with a contact point and consent is chosen (route.h);
 *    otherwise the intent is suppressed (no-channel, inactive, no-profile);
 *  - the message is rendered from templates.dir (compose.h) and written to
 *    the outbox, `outbox.dir`/<channel>/<intent-id>.<eml|json> (outbox.h),
 *    atomically; a replay overwrites the same file. An intent whose id is
 *    already in another channel's directory (the profile changed between a
 *    crash and its replay) is not sent again (counted as duplicate);
 *  - an intent past its expires_at is suppressed (expired);
 *  - an intent whose not_before is still in the future is parked in Redis,
 *    in the schedule sj:{schedule}:due (sorted set, id scored by not_before
 *    in ms) with its JSON in the hash sj:{schedule}:intents, and its offset
 *    is acknowledged; every loop also releases the parked intents that are
 *    due, and removes them once their outcome is durable. This minimal
 *    scheduler is the seam where send windows and quiet hours will go;
 *  - at-least-once: Kafka offsets are stored only after the batch's files
 *    are fsynced (and its parked intents written to Redis);
 *  - a malformed intent is logged by partition and offset and skipped; an
 *    intent that cannot be rendered (missing or broken template) is logged
 *    with its id and template and counted as failed, never blocking others.
 *
 * Clock: "now" is the wall clock (SEINTJE_NOW overrides it). With
 * `replay_clock`, a due intent is sent as if at its not_before moment: its
 * expiry is checked then and the message is dated then. Together with the
 * segment stage's replay clock this replays a period of history as if it
 * had run live (`seintje demo` does this with now = the end of the period).
 *
 * Thread-safety: sj_deliver_run() uses its own clients and may run in a
 * thread of its own; the stop flag is the only shared state. */
#ifndef SJ_DELIVER_H
#define SJ_DELIVER_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "consumers/route.h"
#include "core/common.h"
#include "core/config.h"

#define SJ_DELIVER_BATCH_DEFAULT 500
#define SJ_DELIVER_BATCH_MAX     10000
#define SJ_DELIVER_INTENT_MAX    (256 * 1024) /* bytes; larger intents are malformed */
#define SJ_SCHEDULE_DUE_KEY      "sj:{schedule}:due"
#define SJ_SCHEDULE_INTENTS_KEY  "sj:{schedule}:intents"

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
    uint64_t failed;     /* could not be rendered (see the log) */
    uint64_t duplicates; /* already in another channel's outbox */
    uint64_t scheduled;  /* parked until not_before */
    uint64_t released;   /* taken from the schedule when due */
    uint64_t pending;    /* still parked when the run ended */
    uint64_t batches;
    double seconds;
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
