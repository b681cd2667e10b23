/* The behavioural nudging rules as pure functions: no I/O, no clock, no
 * global state, so each rule is unit-tested on its own and the engine
 * (segment.c) only gathers facts from Redis and applies them in the fixed
 * order below, recording every decision with its reason:
 *
 *   1. consent and opt-out, per channel and topic (sj_nudge_channels)
 *   2. channel choice (campaign order x what the resident has and accepts)
 *      and language with fallback (sj_campaign_language_for)
 *   3. frequency cap across campaigns (sj_nudge_cap); mandatory notices are
 *      exempt and do not count
 *   4. send window, Europe/Brussels wall-clock time (sj_nudge_window_next)
 *   5. de-duplication by intent id (the engine, in Redis)
 *   6. experiment assignment with optional holdout (sj_nudge_assign)
 *
 * Mandatory notices (a legal obligation) skip 3 and are never held out (6),
 * but never skip consent for a channel (1). */
#ifndef SJ_NUDGE_H
#define SJ_NUDGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/common.h"

#define SJ_NUDGE_CHANNELS 3 /* indexes as sj_channel_t: email 0, sms 1, app 2 */

/* A send window: the days it is open (bit 0 Monday ... bit 6 Sunday) and the
 * local time of day [from, to) in minutes after midnight, Europe/Brussels.
 * from < to; a window is never empty when set. */
typedef struct sj_send_window {
    bool set;
    uint8_t days;
    int32_t from_minutes, to_minutes;
} sj_send_window_t;

/* The earliest moment >= utc_ms (UTC ms) inside window w: utc_ms itself when
 * it is inside, else the next opening. Handles the days of the week and the
 * daylight-saving changes (a 09:00 opening is 08:00 UTC in winter and 07:00
 * UTC in summer; an opening inside the skipped hour of the spring change
 * moves to the first minute after it, and a window wholly inside that hour
 * is closed that day; the hour repeated in autumn is inside both times). A
 * NULL, unset or invalid window (no days, from >= to, outside 0..1440), and
 * times before 1900 or after 9999, return utc_ms. */
int64_t sj_nudge_window_next(const sj_send_window_t *w, int64_t utc_ms);

/* Parses "mon-fri 09:00-18:00", "mon,wed,sat 10:00-12:30", "daily 08:00-20:00"
 * (the nudge.send-window setting): days and hours separated by blanks; days
 * "daily" or a comma-separated list of mon..sun and ranges (any case; a range
 * may wrap, "fri-mon"); hours H:MM or HH:MM, 00:00-23:59, and 24:00 as a
 * closing time; the opening before the closing (no window over midnight); at
 * most 128 characters. SJ_ERR_INPUT with a message otherwise, w unset. */
sj_status_t sj_nudge_window_parse(const char *s, sj_send_window_t *w, char *errstr,
                                  size_t errstr_size);

/* Writes a window back in the syntax above, in a canonical form: "daily",
 * runs of three days or more as ranges ("mon-fri", "mon,wed,sat",
 * "mon,fri-sun") and HH:MM. An unset window writes "". out is always
 * NUL-terminated (when out_size > 0); 40 bytes hold any parsed window. */
void sj_nudge_window_format(const sj_send_window_t *w, char *out, size_t out_size);

/* What the resident has for one channel. consent and topic_consent: 1 given,
 * 0 refused or withdrawn, -1 never stated. */
typedef struct sj_nudge_contact {
    bool reachable[SJ_NUDGE_CHANNELS];    /* has an address / number / inbox */
    int consent[SJ_NUDGE_CHANNELS];       /* for the channel, all topics */
    int topic_consent[SJ_NUDGE_CHANNELS]; /* for the campaign's topic */
} sj_nudge_contact_t;

/* Why a step is not sent (now or at all). */
typedef enum {
    SJ_NUDGE_OK = 0,
    SJ_NUDGE_NO_CONSENT,   /* every reachable channel lacks consent */
    SJ_NUDGE_OPTED_OUT,    /* the resident opted out of the topic on every channel */
    SJ_NUDGE_NO_CHANNEL,   /* no channel of the campaign is reachable */
    SJ_NUDGE_CAPPED,       /* frequency cap: waits until a slot frees */
    SJ_NUDGE_WINDOW,       /* outside the send window: waits for the opening */
    SJ_NUDGE_DUPLICATE,    /* this step was already decided for this trigger */
    SJ_NUDGE_HOLDOUT,      /* experiment holdout: recorded as exposed, not sent */
    SJ_NUDGE_AUDIENCE,     /* the audience rule said no */
    SJ_NUDGE_GOAL_REACHED, /* the resident already did what the campaign asks */
    SJ_NUDGE_EXPIRED,      /* past expires_at */
    SJ_NUDGE_INACTIVE,     /* moved out or deceased */
    SJ_NUDGE_REASONS
} sj_nudge_reason_t;

/* "ok", "no-consent", "opted-out", "no-channel", "frequency-cap",
 * "send-window", "duplicate", "holdout", "audience", "goal-reached",
 * "expired", "inactive": the words used in status records and counters. */
const char *sj_nudge_reason_name(sj_nudge_reason_t r);

/* Rule 1+2: the campaign's channels (order of preference, sj_channel_t
 * values) that the resident is reachable on and has not refused: a channel
 * is usable when reachable, consent != 0 and topic_consent != 0. A channel
 * consent never stated (-1) counts as yes when require_consent is false, or
 * when the resident said yes to this very topic on it (topic_consent 1); a
 * topic consent never stated is no opt-out (campaigns without a topic have
 * -1 there). Writes the usable channels in order to out[] (room for
 * n_channels; values outside sj_channel_t and repeats are skipped) and their
 * count to *n_out; when none is usable, returns the reason: NO_CHANNEL when
 * no channel of the campaign is reachable, OPTED_OUT when a topic refusal was
 * decisive (a reachable channel had consent but its topic was refused),
 * else NO_CONSENT (every reachable channel refused or lacks consent). */
sj_nudge_reason_t sj_nudge_channels(const int *channels, size_t n_channels,
                                    const sj_nudge_contact_t *c, bool require_consent,
                                    int *out, size_t *n_out);

/* Rule 3: may one more nudge go out at now_ms, given the send times
 * (UTC ms, any order) of the resident's counted nudges? At most cap_count in
 * any cap_days-day period ending at now: sends after now - cap_days days
 * count (also sends after now, as in a replay; a send exactly cap_days days
 * ago no longer does). When not, *next_ms is the first moment a slot frees
 * (the cap_count-th most recent send + cap_days days); when it may, now_ms.
 * next_ms may be NULL. cap_count 0 (or cap_days 0) disables the cap. */
bool sj_nudge_cap(const int64_t *sent_ms, size_t n_sent, int64_t now_ms,
                  unsigned cap_count, unsigned cap_days, int64_t *next_ms);

/* Rule 6: the experiment bucket of a resident, 0..9999: the first 8 bytes of
 * SHA-256(experiment "|" pseudonym) as a big-endian integer, mod 10000.
 * Stable across restarts, machines and versions; changing the experiment id
 * reshuffles everyone. NULL reads as "". Any thread. Should OpenSSL fail
 * to allocate its digest context, returns bucket 0. */
unsigned sj_nudge_bucket(const char *experiment, const char *pseudonym);

/* Maps a bucket to a variant: weights are percents that add up to 100; the
 * variant whose cumulative range [sum before, sum incl.) * 100 holds the
 * bucket. Returns the variant index (a variant of weight 0 is never chosen;
 * buckets beyond the weights' sum go to the last variant; n 0 returns 0). */
size_t sj_nudge_assign(unsigned bucket, const unsigned *weights, size_t n);

#endif
