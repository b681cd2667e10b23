/* The delivery ledger in Redis: what `seintje deliver` knows about each
 * intent, so that a message is sent once, retried from a durable place and
 * every transition is published, whatever dies when.
 *
 * Keys (each in a hash slot of its own, so it works on Redis Cluster):
 *
 *   sj:dlv:{<intent id>}   hash   the intent's delivery state
 *       state   sending | sent | retry | dead | suppressed | replay
 *       owner   deliver.instance of the claim (state sending)
 *       since   ms of the claim or the last transition
 *       t       the last transition's status record (JSON)
 *       dl      its dead-letter record, when it made one (JSON), else ""
 *       pub     "1" once t (and dl) are acknowledged by Kafka, "0" before
 *     expires deliver.state-ttl-days after the intent's expires_at: the
 *     horizon of de-duplication.
 *   sj:{schedule}:due      zset   intent id -> when it is due (ms): intents
 *                                 not yet due (not_before), retries, fall-
 *                                 backs, and intents another instance holds
 *   sj:{schedule}:intents  hash   intent id -> the intent JSON, with a
 *                                 "delivery" member for retries: {"attempt",
 *                                 "first" (ms), "failed" (channels), "error"}
 *
 * The claim (one Lua script per intent, sj_ledger_append_claim()) is the
 * check-and-set before a send: a final state (sent, dead, suppressed)
 * makes the intent a duplicate; "retry" read from Kafka means the schedule
 * owns it; "sending" by another owner within deliver.lease-ms means it is
 * busy elsewhere (it is parked until the lease ends); "sending" by this
 * same instance is the message that was in flight when this instance died:
 * it is sent again (recovered), which is the only way a message is sent
 * twice. Otherwise the state becomes "sending" with this owner.
 *
 * Taking due intents (sj_ledger_take_due(), one script) pushes their due
 * time a lease into the future instead of removing them, so an instance
 * that dies with them in hand loses nothing: they come back when the lease
 * ends. They are removed only once their outcome is published.
 *
 * These functions append commands to a hiredis context (pipelining: the
 * caller reads the replies in order) or parse replies; they never block
 * except sj_ledger_take_due() and sj_ledger_next_due(), which make one round
 * trip each. Thread-safety: that of the redisContext. */
#ifndef SJ_LEDGER_H
#define SJ_LEDGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "core/common.h"
#include "segments/keys.h"

#define SJ_LEDGER_KEY_MAX 96
/* (in segments/keys.h with every other key: `resident forget` erases from them) */
#define SJ_SCHEDULE_DUE_KEY     SJ_KEY_DLV_DUE
#define SJ_SCHEDULE_INTENTS_KEY SJ_KEY_DLV_INTENTS

/* Writes "sj:dlv:{<id>}" into out. */
void sj_ledger_key(const char *id, char out[SJ_LEDGER_KEY_MAX]);

typedef enum {
    SJ_CLAIM_OK = 0,    /* claimed: send it */
    SJ_CLAIM_RECOVERED, /* claimed; it was in flight when this instance died */
    SJ_CLAIM_FINAL,     /* already sent, dead-lettered or suppressed */
    SJ_CLAIM_SCHEDULED, /* read from Kafka, but the schedule owns it (retry) */
    SJ_CLAIM_BUSY,      /* another instance is sending it */
    SJ_CLAIM_ERROR      /* unexpected reply */
} sj_claim_result_t;

/* A parsed claim reply; strings point into the reply (borrowed). */
typedef struct sj_claim {
    sj_claim_result_t result;
    int64_t since;      /* BUSY: when the other claim was made */
    bool unpublished;   /* the last transition (t, dl) was never acknowledged */
    const char *t, *dl; /* that transition's records ("" for none) */
    size_t t_len, dl_len;
    const char *state; /* the state found ("" for none) */
} sj_claim_t;

/* Appends the claim of intent id by owner at now_ms (one reply). from_kafka:
 * the intent was read from Kafka (not the schedule); ttl_s: the key's
 * lifetime. SJ_ERR_NOMEM when hiredis cannot buffer it. */
sj_status_t sj_ledger_append_claim(redisContext *rc, const char *id, const char *owner,
                                   int64_t now_ms, int64_t lease_ms, bool from_kafka,
                                   int64_t ttl_s);
/* Parses a claim reply (borrowed: c points into it). */
void sj_ledger_parse_claim(const redisReply *r, sj_claim_t *c);
/* "ok", "recovered", "final", "scheduled", "busy", "error". */
const char *sj_claim_name(sj_claim_result_t r);

/* Appends a transition (two replies: HSET, EXPIRE): state, owner, since =
 * now_ms, t = status (JSON), dl = dead_letter (JSON or NULL), pub = 0. */
sj_status_t sj_ledger_append_transition(redisContext *rc, const char *id,
                                        const char *state, const char *owner,
                                        int64_t now_ms, const char *status,
                                        const char *dead_letter, int64_t ttl_s);
/* Appends pub = 1 for id, only if the key still exists (one reply). */
sj_status_t sj_ledger_append_published(redisContext *rc, const char *id);

/* Appends HSET intents + ZADD due for id (two replies). */
sj_status_t sj_ledger_append_schedule(redisContext *rc, const char *id, const char *json,
                                      int64_t due_ms);
/* Appends HDEL intents + ZREM due for id (two replies). */
sj_status_t sj_ledger_append_unschedule(redisContext *rc, const char *id);

/* Takes up to limit intents due at now_ms, pushing each one's due time to
 * now_ms + lease_ms. Returns the reply (the caller frees it): an array of
 * id, JSON pairs (JSON nil when the body is missing), or NULL with errstr
 * on an I/O or error reply. */
redisReply *sj_ledger_take_due(redisContext *rc, int64_t now_ms, int64_t lease_ms,
                               size_t limit, char *errstr, size_t errstr_size);

/* The earliest due time in the schedule (ms), -1 when it is empty, or
 * INT64_MIN with errstr on an error; *count (when not NULL) gets ZCARD. */
int64_t sj_ledger_next_due(redisContext *rc, uint64_t *count, char *errstr,
                           size_t errstr_size);

#endif
