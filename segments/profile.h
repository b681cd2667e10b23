/* Resident profiles in Redis: what the segment stage remembers about each
 * resident from the life events it has seen.
 *
 * One hash per resident, with the pseudonym in a hash tag so the layout works
 * unchanged on Redis Cluster:
 *
 *     sj:res:{<pseudonym>}
 *       given_name, birth_date, nis, postcode, language, household,
 *       email, phone, app_inbox          as in the latest event that had them
 *       consent.email / consent.sms / consent.app    "1" or "0"
 *       status            "active", "moved-out" (moved_to = to_nis) or "deceased"
 *       last_event_type, last_event_id, last_event_time, updated_at (RFC 3339)
 *
 * A data field that is JSON null removes the profile field (the register says
 * it is no longer known). Status: registered, moved-in and moved-within make a
 * resident active; moved-out and deceased end it; other events leave it.
 *
 * Updates are pipelined: the caller appends the commands of a whole poll
 * batch and reads all replies in one round trip (sj_redis_drain() or reply by
 * reply), never one round trip per event. These functions only append to the
 * hiredis output buffer; thread-safety is that of the redisContext (one
 * thread at a time). */
#ifndef SJ_PROFILE_H
#define SJ_PROFILE_H

#include <stdint.h>

#include <hiredis/hiredis.h>

#include "core/common.h"
#include "segments/intent.h"

#define SJ_PROFILE_KEY_MAX   80 /* "sj:res:{" + 64 hex + "}" + NUL */
#define SJ_PROFILE_VALUE_MAX 256

/* Writes "sj:res:{<pseudonym>}" into out (SJ_PROFILE_KEY_MAX bytes). */
void sj_profile_key(const char *pseudonym, char out[SJ_PROFILE_KEY_MAX]);

/* Appends the commands that apply event ev to its resident's profile, at
 * wall-clock time now_ms; *replies is increased by the number of replies
 * they will produce. SJ_ERR_NOMEM when hiredis cannot buffer them. */
sj_status_t sj_profile_append_update(redisContext *rc, const sj_event_view_t *ev,
                                     int64_t now_ms, size_t *replies);

/* Appends one HMGET of the fields an intent needs (one reply). */
sj_status_t sj_profile_append_read(redisContext *rc, const char *pseudonym);

/* A profile as read back; strings are copies (empty = unknown). */
typedef struct sj_profile {
    char given_name[SJ_PROFILE_VALUE_MAX];
    char language[8];
    char nis[8];
    char postcode[8];
    char status[16];
} sj_profile_t;

/* Fills p from the reply to sj_profile_append_read(); SJ_ERR when the reply
 * is not the expected array. */
sj_status_t sj_profile_from_reply(const redisReply *r, sj_profile_t *p);

/* A borrowed view of p for sj_intent_build() (unknown fields are NULL). */
void sj_profile_view(const sj_profile_t *p, sj_resident_view_t *v);

#endif
