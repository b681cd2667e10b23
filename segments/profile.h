/* Resident profiles in Redis: what the segment stage remembers about each
 * resident from the life events it has seen, and how the engine, the
 * delivery stage and `seintje resident` read it back.
 *
 * Two hashes per resident, with the pseudonym P as hash tag so the layout
 * works unchanged on Redis Cluster (segments/keys.h lists every key):
 *
 *     sj:res:{P}            the profile (profile v2)
 *       given_name, birth_date, nis, postcode, language, household,
 *       email, phone, app_inbox          as in the latest event that had them
 *       status            "active", "moved-out" (moved_to = to_nis) or "deceased"
 *       id_card_expires   data.expires of the latest id-card-expiring
 *       resident_since    local date (Europe/Brussels) of the latest moved-in;
 *                         a registered event sets it only when it is absent (a
 *                         register snapshot or a birth registration says "here
 *                         at least since then", a move in says "since then")
 *       moved_out_on      local date of the latest moved-out (moved-in and
 *                         registered remove it and moved_to: the resident is back)
 *       deceased_on       local date of the deceased event
 *       last_event_type, last_event_id, last_event_time, updated_at (RFC 3339)
 *
 *     sj:res:{P}:consent    "<channel>" (every topic) or "<channel>/<topic>"
 *                           -> "<1|0> <time> <source>"
 *
 * Age is not stored: sj_profile_to_json() derives it from birth_date on the
 * evaluation day. Dates of events are the Europe/Brussels dates of their
 * `time`; an event without a time sets no date fact.
 *
 * A data field that is JSON null removes the profile field (the register says
 * it is no longer known). Status: registered, moved-in and moved-within make a
 * resident active; moved-out and deceased end it; other events leave it.
 *
 * Consents: data.consents ({"email":true,"sms":false}) of any event, for the
 * channel as a whole, or with data.topic ("identity", a campaign topic) for
 * that topic only; a channel-wide consent leaves topic entries alone, so an
 * opt-out of one topic survives a later "yes" to the channel. The time in a
 * consent value is the event's time in UTC with milliseconds
 * ("2026-11-28T09:30:00.000Z", fixed width) and the source its CloudEvents
 * source ("-" when not known). A consent stated by an event OLDER than the
 * one stored does not overwrite it (replays and late events arrive out of
 * order); at equal times the later applied wins. This compare runs in Redis
 * (one EVAL of a small Lua script per event that carries consents), so it
 * costs no extra round trip. data.topic present but not a 1-63 byte string
 * makes the event's consents ignored: applying a topic's consent to the whole
 * channel would be wrong.
 *
 * Updates are pipelined: the caller appends the commands of a whole poll
 * batch and reads all replies in one round trip (sj_redis_drain() or reply by
 * reply), never one round trip per event. These functions only append to the
 * hiredis output buffer; thread-safety is that of the redisContext (one
 * thread at a time). Everything else here is pure. */
#ifndef SJ_PROFILE_H
#define SJ_PROFILE_H

#include <stdbool.h>
#include <stdint.h>

#include <hiredis/hiredis.h>
#include <jansson.h>

#include "core/common.h"
#include "segments/intent.h"
#include "segments/jsonlogic.h"
#include "segments/nudge.h"

#define SJ_PROFILE_KEY_MAX    80 /* "sj:res:{" + 64 hex + "}" + NUL */
#define SJ_PROFILE_VALUE_MAX  256
#define SJ_PROFILE_TOPICS_MAX 32  /* per-topic consents kept in sj_profile_full_t */
#define SJ_PROFILE_TOPIC_MAX  64  /* topic bytes incl. NUL (campaign topics: 63) */
#define SJ_PROFILE_SOURCE_MAX 513 /* CloudEvents source bytes incl. NUL */
#define SJ_PROFILE_TIME_MAX   40  /* RFC 3339 time incl. NUL */

/* Writes "sj:res:{<pseudonym>}" into out (SJ_PROFILE_KEY_MAX bytes). */
void sj_profile_key(const char *pseudonym, char out[SJ_PROFILE_KEY_MAX]);

/* Appends the commands that apply event ev, published by `source` (the
 * CloudEvents source, recorded with consents; NULL = unknown, stored as "-"),
 * to its resident's profile and consents at wall-clock time now_ms (for
 * updated_at). *replies is increased by the number of replies the commands
 * will produce (1 to 4: HSET, HDEL when a field is null or a move in clears
 * the move out, HSETNX resident_since for registered, EVAL for consents); an
 * error reply among them means the update failed. SJ_ERR_NOMEM when hiredis
 * cannot buffer them. */
sj_status_t sj_profile_append_event(redisContext *rc, const sj_event_view_t *ev,
                                    const char *source, int64_t now_ms, size_t *replies);

/* An event's changes to a profile, as field lists, for callers that apply
 * them their own way (the engine applies them in a Lua script together with
 * its reads). Strings point into the event (ev->data) and into the struct
 * itself: valid while both are. */
typedef struct sj_profile_update {
    const char *set[48]; /* field, value pairs for the profile hash */
    size_t n_set;
    const char *del[16]; /* fields to remove */
    size_t n_del;
    const char *setnx[4]; /* field, value pairs set only when absent */
    size_t n_setnx;
    const char *consent[2 * SJ_NUDGE_CHANNELS]; /* consent field, value pairs */
    size_t n_consent;
    char when[SJ_PROFILE_TIME_MAX]; /* the consents' time (UTC, fixed width) */
    /* storage */
    char date[11], updated[SJ_PROFILE_TIME_MAX];
    char cfield[SJ_NUDGE_CHANNELS][8 + SJ_PROFILE_TOPIC_MAX];
    char cvalue[SJ_NUDGE_CHANNELS][4 + SJ_PROFILE_TIME_MAX + SJ_PROFILE_SOURCE_MAX];
} sj_profile_update_t;

/* Fills u with what sj_profile_append_event() would write. */
void sj_profile_update_build(const sj_event_view_t *ev, const char *source,
                             int64_t now_ms, sj_profile_update_t *u);

/* What an event's data holds at a member, for callers that did not parse
 * the event with jansson (the engine's scanner path). */
typedef enum {
    SJ_DATA_ABSENT,
    SJ_DATA_NULL,
    SJ_DATA_STRING,
    SJ_DATA_TRUE,
    SJ_DATA_FALSE,
    SJ_DATA_OBJECT,
    SJ_DATA_OTHER /* a number or an array */
} sj_data_kind_t;

/* get(ctx, NULL, name, &s) describes data.<name>, get(ctx, obj, name, &s)
 * data.<obj>.<name> (ABSENT when data.<obj> is not an object); for strings
 * *s (when s is not NULL) is the decoded value, valid while the caller
 * keeps it. */
typedef struct sj_event_data {
    sj_data_kind_t (*get)(void *ctx, const char *obj, const char *name, const char **s);
    void *ctx;
} sj_event_data_t;

/* sj_profile_update_build() over data d (NULL: the event has no data
 * object); ev->data is not used. */
void sj_profile_update_build_from(const sj_event_view_t *ev, const sj_event_data_t *d,
                                  const char *source, int64_t now_ms,
                                  sj_profile_update_t *u);

/* sj_profile_append_event() with an unknown source: kept for callers that do
 * not have the event's source at hand (consents are then recorded with "-"). */
sj_status_t sj_profile_append_update(redisContext *rc, const sj_event_view_t *ev,
                                     int64_t now_ms, size_t *replies);

/* ---- reading it all back (the engine, delivery, `seintje resident`) ------- */

/* One stated consent. */
typedef struct sj_profile_consent {
    int given;                      /* 1 given, 0 refused or withdrawn, -1 never stated */
    char time[SJ_PROFILE_TIME_MAX]; /* when (the event's time), "" when unknown */
} sj_profile_consent_t;

/* A consent for one channel and one topic. */
typedef struct sj_profile_topic_consent {
    int channel; /* sj_channel_t: email 0, sms 1, app 2 */
    char topic[SJ_PROFILE_TOPIC_MAX];
    sj_profile_consent_t c;
} sj_profile_topic_consent_t;

/* A whole profile as read back. Every field is a NUL-terminated copy, ""
 * when unknown; a stored value longer than its field counts as unknown (the
 * producer bounds every one of them below these sizes). About 6 KiB: give
 * it to the heap when holding many. */
typedef struct sj_profile_full {
    bool found; /* the profile hash exists */
    char given_name[SJ_PROFILE_VALUE_MAX];
    char birth_date[11];
    char nis[8];
    char postcode[8];
    char language[8];
    char household[72];
    char email[SJ_PROFILE_VALUE_MAX];
    char phone[32];
    char app_inbox[136];
    char status[16];
    char moved_to[8];
    char id_card_expires[11];
    char resident_since[11];
    char moved_out_on[11];
    char deceased_on[11];
    char last_event_type[128];
    char last_event_id[260];
    char last_event_time[SJ_PROFILE_TIME_MAX];
    char updated_at[SJ_PROFILE_TIME_MAX];
    /* Consents for the channel as a whole (index sj_channel_t), and the
     * source of each. Profiles written before v2 kept "consent.<channel>"
     * in the profile hash: read as a channel consent of unknown time and
     * source when the consent hash has no entry for that channel. */
    sj_profile_consent_t consent[SJ_NUDGE_CHANNELS];
    char consent_source[SJ_NUDGE_CHANNELS][SJ_PROFILE_SOURCE_MAX];
    /* Per-topic consents sorted by channel, then topic; at most
     * SJ_PROFILE_TOPICS_MAX: refusals are kept first, and what did not fit
     * is counted in topics_dropped (topics_dropped_refusal: a refusal was
     * among them, so unknown topics count as refused, see
     * sj_profile_contact()). */
    sj_profile_topic_consent_t topics[SJ_PROFILE_TOPICS_MAX];
    size_t n_topics;
    size_t topics_dropped;
    bool topics_dropped_refusal;
} sj_profile_full_t;

/* Appends the commands that read a whole profile (HGETALL of the profile,
 * HGETALL of the consents) and increases *replies by their number (2).
 * SJ_ERR_NOMEM when hiredis cannot buffer them. */
sj_status_t sj_profile_append_read_full(redisContext *rc, const char *pseudonym,
                                        size_t *replies);

/* Fills p from the n replies (in order) to sj_profile_append_read_full().
 * The replies stay the caller's. SJ_ERR when n or a reply is not what those
 * commands answer (an error reply, a wrong type): p is then zeroed with no
 * consent stated. Unknown hash fields and malformed consent values are
 * skipped. */
sj_status_t sj_profile_from_replies(redisReply **r, size_t n, sj_profile_full_t *p);

/* The resident's age in whole years on the Europe/Brussels date of now_ms
 * (a 29 February birthday counts from 1 March in other years), or -1 when
 * birth_date is unknown, not a date, or after that day. */
int sj_profile_age(const sj_profile_full_t *p, int64_t now_ms);

/* The "resident" object that audience rules see, as a NEW reference (NULL
 * when out of memory): every known profile field as a string (given_name,
 * birth_date, ..., deceased_on, last_event_*, updated_at; unknown ones are
 * absent), "age" (integer, when sj_profile_age() knows it), "consents"
 * {"email": true, "sms": false} for the channels with a stated consent, and
 * "topic_consents" {"identity": {"email": false}} for per-topic ones. The
 * engine and `seintje batch` add "goals" (sj_profile_add_goals()). */
json_t *sj_profile_to_json(const sj_profile_full_t *p, int64_t now_ms);

/* Adds "goals" to a resident object: the goal event types (of loaded
 * campaigns) the resident has reached, sorted, from the HGETALL reply of
 * sj:res:{P}:goals (not a hash: none). Rules test them with "in":
 * {"!": {"in": ["be.seintje.service.x", {"var": "resident.goals"}]}}. */
sj_status_t sj_profile_add_goals(json_t *resident, const redisReply *goals);

/* sj_profile_to_json() with only the members names[0..n) (when they are
 * known), e.g. those sj_rule_members() found a rule reads; names NULL gives
 * every member. */
json_t *sj_profile_to_json_members(const sj_profile_full_t *p, int64_t now_ms,
                                   char (*names)[SJ_RULE_MEMBER_MAX], size_t n);

/* Fills c (nudge.h) for a campaign on `topic` (NULL or "" = none): reachable
 * when the profile has an email / phone / app_inbox, consent the channel's
 * (1 / 0 / -1), topic_consent the channel's for that topic (1 / 0 / -1;
 * -1 without a topic). When refusals did not fit in p->topics
 * (topics_dropped_refusal), a topic not found counts as refused (0): never
 * send against an opt-out we could not read. */
void sj_profile_contact(const sj_profile_full_t *p, const char *topic,
                        sj_nudge_contact_t *c);

/* Whether a message on channel (sj_channel_t) about topic (NULL or "" =
 * none) has the resident's consent: consent for the channel given (1) and
 * the topic not refused (sj_profile_contact()'s topic_consent != 0). The
 * delivery stage's check at send time. */
bool sj_profile_consented(const sj_profile_full_t *p, int channel, const char *topic);

/* The consent value format, for tools and tests: parses "<1|0> <time>
 * <source>" (value[0..len)) into *c and source (source_size bytes; NULL to
 * skip). SJ_ERR_INPUT when it is not in that form. */
sj_status_t sj_profile_consent_parse(const char *value, size_t len,
                                     sj_profile_consent_t *c, char *source,
                                     size_t source_size);

/* ---- the v1 read path (segment.c until the engine moves over) ------------ */

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
