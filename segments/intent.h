/* Notification intents: what the segment stage decides, as data.
 *
 * For one life event that matches one campaign, this module computes when the
 * message may be sent (not_before), until when it still makes sense
 * (expires_at), which variant and language the resident gets, the render
 * context, a plain-language reason, and a deterministic id, and serialises the
 * intent as JSON for topic `topic.notifications` (key = pseudonym):
 *
 *     {"id": "<first 32 hex of SHA-256(campaign|step|pseudonym|trigger event id)>",
 *      "campaign": "id-card-renewal", "step": "initial", "variant": "plain",
 *      "resident": "<pseudonym>",
 *      "experiment": "id-card-2026",     only for a campaign with an experiment
 *      "trigger": {"id": "...", "type": "be.seintje.life.id-card-expiring",
 *                  "time": "2026-02-01T08:00:00Z"},
 *      "channels": ["app", "email", "sms"],         campaign order of preference
 *      "language": "nl",                            resident's, else campaign default
 *      "template": "id-card-renewal/plain",         <campaign>/<variant>
 *      "context": {"given_name": "An", "nis": "44021", "postcode": "9000",
 *                  "event_date": "2026-02-01", "send_date": "2026-03-02",
 *                  "deadline": "2026-05-01", "expires": "2026-05-01", ...},
 *      "not_before": "2026-03-02T08:00:00Z", "expires_at": "2026-04-30T22:00:00Z",
 *      "created_at": "...", "priority": 5, "mandatory": false, "topic": "identity",
 *      "reason": "..."}
 *
 * The id depends only on the campaign, the step, the resident and the trigger
 * event's id, so replaying the same events yields the same ids and the
 * delivery stage overwrites instead of duplicating. The intent carries no
 * contact data: delivery reads the profile at send time, so an e-mail address
 * changed or a consent withdrawn in between is respected.
 *
 * Context fields: given_name, nis, postcode (from the profile after the
 * event), event_date (local date of the event), send_date (local date of
 * not_before), deadline (local date of expires_at) and, when the event has
 * them, expires, age, child_birth_date, child_given_name, previous_postcode,
 * to_nis. Dates are YYYY-MM-DD; the delivery stage adds long forms per
 * language.
 *
 * Everything here is pure (no I/O, no clock: `now` is a parameter), so it is
 * unit-tested directly. Thread-safe: no shared state. */
#ifndef SJ_INTENT_H
#define SJ_INTENT_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/common.h"
#include "core/crypto.h"
#include "segments/campaign.h"

#define SJ_INTENT_ID_LEN       32          /* hex characters, without the NUL */
#define SJ_INTENT_MAX          (64 * 1024) /* largest serialised intent */
#define SJ_INTENT_STEP_INITIAL "initial"
/* How long an intent stays valid when its campaign has no expiry. */
#define SJ_INTENT_DEFAULT_TTL_MS (30LL * 86400000LL)

/* The parts of a life event the segment stage uses. Borrowed pointers into
 * the parsed event, valid while it lives. */
typedef struct sj_event_view {
    const char *id;
    const char *type;
    const char *subject;    /* the resident pseudonym, 64 lowercase hex */
    const char *time;       /* RFC 3339 as in the event, or NULL */
    int64_t time_ms;        /* parsed time; valid when time != NULL */
    const json_t *data;     /* object, or NULL */
    const json_t *resident; /* the resident's profile as audience rules see it,
                               for anchors "resident.<field>"; NULL when unknown */
} sj_event_view_t;

/* Checks a parsed CloudEvent and fills *ev. On SJ_ERR_INPUT, problem holds a
 * short text without personal data ("subject is not a 64-hex pseudonym"). */
sj_status_t sj_event_view(const json_t *root, sj_event_view_t *ev, char *problem,
                          size_t problem_size);

/* The resident's profile as the intent needs it (after the event was
 * applied). Borrowed strings, each may be NULL. */
typedef struct sj_resident_view {
    const char *given_name;
    const char *language;
    const char *nis;
    const char *postcode;
    const char *status; /* "active", "moved-out", "deceased" or NULL */
} sj_resident_view_t;

typedef enum {
    SJ_INTENT_MADE = 0,
    SJ_INTENT_SKIP_EXPIRED,  /* expires_at is not after not_before */
    SJ_INTENT_SKIP_NO_DATE,  /* relative_to names a date the event lacks */
    SJ_INTENT_SKIP_INACTIVE, /* the resident moved out or died */
    SJ_INTENT_OUTCOMES
} sj_intent_outcome_t;

/* "made", "expired", "missing-date", "inactive". */
const char *sj_intent_outcome_name(sj_intent_outcome_t o);

/* Writes the intent id (SJ_INTENT_ID_LEN hex + NUL) for these parts. */
void sj_intent_id(const char *campaign, const char *step, const char *pseudonym,
                  const char *trigger_id, char out[SJ_INTENT_ID_LEN + 1]);

/* Resolves a campaign anchor for an event: the local date named by
 * relative_to, plus offset_days, at at_minutes Europe/Brussels, as UTC ms.
 * SJ_ERR_INPUT when the event lacks that date or it is not a date. */
sj_status_t sj_intent_anchor(const sj_campaign_anchor_t *a, const sj_event_view_t *ev,
                             int64_t *ms);

/* The intent for campaign c and event ev at time now_ms as a new JSON object
 * (the caller owns it), or NULL with *outcome saying why no intent was made
 * (SJ_INTENT_OUTCOMES: out of memory). The context also holds "step". */
json_t *sj_intent_new(const sj_campaign_t *c, const sj_event_view_t *ev,
                      const sj_resident_view_t *r, int64_t now_ms,
                      sj_intent_outcome_t *outcome);

/* Builds the intent for campaign c and event ev at time now_ms and appends
 * its JSON to out (caller-owned, reset by the caller). *outcome says whether
 * an intent was made; when it was not, out is unchanged and SJ_OK returned.
 * id (may be NULL) receives the intent id. Errors: SJ_ERR_TOO_BIG when the
 * intent exceeds SJ_INTENT_MAX or out's bound, SJ_ERR_NOMEM. */
sj_status_t sj_intent_build(const sj_campaign_t *c, const sj_event_view_t *ev,
                            const sj_resident_view_t *r, int64_t now_ms, sj_buf_t *out,
                            sj_intent_outcome_t *outcome, char *id);

/* Europe/Brussels helpers (CET/CEST with the EU rules: summer time from the
 * last Sunday of March to the last Sunday of October, 01:00 UTC). */
int32_t sj_brussels_date(int64_t utc_ms);
int64_t sj_brussels_to_utc(int32_t local_date, int32_t minutes);

#endif
