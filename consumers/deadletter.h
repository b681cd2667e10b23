/* Dead letters: the record `seintje deliver` writes to topic.dead-letter
 * when a channel failed for good, and `seintje dead-letter list|replay`.
 *
 * A record (JSON, key = resident pseudonym):
 *
 *     {"intent": "<id>", "campaign", "step", "variant", "resident",
 *      "channel": "email", "class": "permanent" | "exhausted",
 *      "reason": "smtp 550 (RCPT failed: 550)", "attempts": 1,
 *      "first_attempt": RFC 3339, "time": RFC 3339,
 *      "fallback": "sms" | null, "final": true | false,
 *      "notification": { the intent as consumed }}
 *
 * final is false when the intent went on to its next channel (fallback):
 * the record documents the failed channel, the intent is not lost. A final
 * record means the resident got nothing.
 *
 * `list` reads the whole topic (every partition, from the beginning to its
 * end, without a consumer group) and prints the records that match the
 * filters. `replay` re-queues the intents of matching final records on
 * topic.notifications (once per intent, the latest record), after marking
 * their delivery state in Redis "replay" so deliver claims them again; an
 * intent delivered since (state sent) or being retried is skipped and
 * reported. The replayed intent starts over with its first channel; one past
 * its expires_at is suppressed as expired, as any other. */
#ifndef SJ_DEADLETTER_H
#define SJ_DEADLETTER_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "core/common.h"

/* Filters over dead-letter records; NULL / 0 fields match everything. */
typedef struct sj_dl_filter {
    const char *campaign, *channel, *intent_prefix, *klass;
    int64_t since_ms, until_ms; /* record time within [since, until) */
    bool final_only;
} sj_dl_filter_t;

/* Checks that r has the members a dead-letter record must have, with the
 * right types; on false problem names the first that does not. */
bool sj_dl_record_valid(const json_t *r, char *problem, size_t problem_size);

/* Whether the (valid) record r matches f. */
bool sj_dl_match(const json_t *r, const sj_dl_filter_t *f);

#endif
