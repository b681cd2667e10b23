/* Routing a notification intent to one channel, at send time.
 *
 * The delivery stage reads the resident's profile (sj:res:{<pseudonym>},
 * written by the segment stage) when it sends, not when the intent was made,
 * so a withdrawn consent or a changed address is respected. The rule: take
 * the first channel, in the intent's order of preference, for which the
 * resident has a contact point (email, phone, app_inbox) and has consented
 * (consent.<channel> = "1"); mandatory notices need the contact point only.
 * A resident who moved out or died gets nothing (status not "active").
 *
 * Pure functions without I/O or global state: safe from any thread. */
#ifndef SJ_ROUTE_H
#define SJ_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

#include <hiredis/hiredis.h>

#include "core/common.h"
#include "segments/profile.h"

typedef enum {
    SJ_ROUTE_EMAIL = 0,
    SJ_ROUTE_SMS,
    SJ_ROUTE_APP,
    SJ_ROUTE_CHANNELS
} sj_route_channel_t;

/* "email", "sms", "app"; NULL for anything else. */
const char *sj_route_channel_name(sj_route_channel_t ch);
/* Parses "email", "sms" or "app"; SJ_ERR_INPUT otherwise. */
sj_status_t sj_route_channel_parse(const char *s, sj_route_channel_t *ch);

/* Why an intent was not sent (counted in the delivery summary). */
typedef enum {
    SJ_SUPPRESS_NO_CHANNEL = 0, /* no channel with both contact point and consent */
    SJ_SUPPRESS_EXPIRED,        /* expires_at passed before it could be sent */
    SJ_SUPPRESS_INACTIVE,       /* the resident moved out or died */
    SJ_SUPPRESS_NO_PROFILE,     /* the profile does not exist (yet) */
    SJ_SUPPRESS_REASONS
} sj_suppress_t;

/* "no-channel", "expired", "inactive", "no-profile". */
const char *sj_suppress_name(sj_suppress_t why);

#define SJ_CONTACT_MAX 256

/* The contact part of a profile (copies; empty string = unknown). */
typedef struct sj_contact {
    bool found; /* the profile exists */
    char email[SJ_CONTACT_MAX];
    char phone[32];
    char app_inbox[160];
    char given_name[SJ_CONTACT_MAX];
    char status[16];
    bool consent[SJ_ROUTE_CHANNELS];
} sj_contact_t;

/* Fills c from a profile read with sj_profile_append_read_full() (profile
 * v2: consents live in sj:res:{P}:consent), for an intent on `topic` (the
 * intent's "topic"; NULL = none): consent[ch] is sj_profile_consented(). */
void sj_contact_from_profile(const sj_profile_full_t *p, const char *topic,
                             sj_contact_t *c);

/* The profile fields sj_contact_from_reply() expects, in this order, for an
 * HMGET sj:res:{<pseudonym>} <fields...>. */
extern const char *const sj_contact_fields[];
extern const size_t sj_contact_nfields;

/* Fills c from the reply to that HMGET. SJ_ERR for an unexpected reply. A
 * value longer than its field is treated as unknown (the producer bounds
 * them far below). */
sj_status_t sj_contact_from_reply(const redisReply *r, sj_contact_t *c);

/* Chooses the channel for an intent whose channel preference is
 * channels[0..n). Returns true and sets *out, or false and sets *why
 * (SJ_SUPPRESS_NO_PROFILE, _INACTIVE or _NO_CHANNEL). */
bool sj_route_choose(const sj_route_channel_t *channels, size_t n, const sj_contact_t *c,
                     bool mandatory, sj_route_channel_t *out, sj_suppress_t *why);

#endif
