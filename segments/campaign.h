/* Campaigns: what a communication officer writes, loaded and checked.
 *
 * A campaign is a JSON file in `campaigns.dir` (default segments/campaigns/).
 * The loader is strict: an unknown key, a wrong type, a missing field, a
 * channel that does not exist or weights that do not add up is an error that
 * names the file, the JSON path and the problem, e.g.
 *
 *     id-card-renewal.json: $.channels[1]: "fax" is not a channel (email, sms, app)
 *
 * so a typo never silently turns a campaign off. The thin format (issue 2):
 *
 *     {"id": "id-card-renewal",                 lowercase letters, digits, '-'
 *      "name": "Renew your identity card",      for officers, free text
 *      "description": "...",                    optional, free text
 *      "topic": "identity",                     consent/opt-out topic, a slug
 *      "trigger": {"event": "be.seintje.life.id-card-expiring"},
 *      "timing": {"relative_to": "data.expires", "offset_days": -60, "at": "09:00"},
 *      "expiry": {"relative_to": "data.expires", "offset_days": 0},
 *      "channels": ["app", "email", "sms"],     preference order, each at most once
 *      "variants": [{"id": "plain", "weight": 100}],   weights add up to 100
 *      "languages": ["nl", "fr", "en"],         of nl, fr, de, en
 *      "default_language": "nl",                one of languages
 *      "mandatory": false,                      optional, default false
 *      "priority": 5}                           optional, 1..10, default 5
 *
 * `relative_to` is "time" (the event's CloudEvents time) or "data.<field>"
 * (a YYYY-MM-DD date or an RFC 3339 time in the event's data). `at` is the
 * Europe/Brussels wall-clock time of day ("HH:MM", default "09:00" for timing
 * and "00:00" for expiry). Keys that later issues add (audience, reminders,
 * send_window, caps, experiment) are refused with "not supported yet" rather
 * than ignored.
 *
 * Thread-safety: a loaded sj_campaigns_t is immutable and may be shared by
 * threads; loading is not thread-safe with respect to the same object. */
#ifndef SJ_CAMPAIGN_H
#define SJ_CAMPAIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/common.h"

#define SJ_CAMPAIGN_ID_MAX        64  /* bytes including NUL: ids are at most 63 chars */
#define SJ_CAMPAIGN_NAME_MAX      161 /* 160 bytes of UTF-8 */
#define SJ_CAMPAIGN_EVENT_MAX     128 /* a CloudEvents type */
#define SJ_CAMPAIGN_FIELD_MAX     64  /* "time" or "data.<field>" */
#define SJ_CAMPAIGN_MAX_CHANNELS  3
#define SJ_CAMPAIGN_MAX_VARIANTS  16
#define SJ_CAMPAIGN_MAX_LANGUAGES 4
#define SJ_CAMPAIGN_FILE_MAX                                                             \
    (256 * 1024)             /* a campaign file larger than this is refused */
#define SJ_CAMPAIGNS_MAX 256 /* campaigns per directory */

typedef enum { SJ_CHANNEL_EMAIL = 0, SJ_CHANNEL_SMS, SJ_CHANNEL_APP } sj_channel_t;

/* "email", "sms", "app". */
const char *sj_channel_name(sj_channel_t ch);

/* A moment relative to a date in the event: relative_to + offset_days, at
 * at_minutes after local midnight (Europe/Brussels). */
typedef struct sj_campaign_anchor {
    char relative_to[SJ_CAMPAIGN_FIELD_MAX];
    int32_t offset_days;
    int32_t at_minutes;
} sj_campaign_anchor_t;

typedef struct sj_campaign_variant {
    char id[SJ_CAMPAIGN_ID_MAX];
    unsigned weight; /* percent; the weights of a campaign add up to 100 */
} sj_campaign_variant_t;

typedef struct sj_campaign {
    char id[SJ_CAMPAIGN_ID_MAX];
    char name[SJ_CAMPAIGN_NAME_MAX];
    char topic[SJ_CAMPAIGN_ID_MAX];
    char trigger_event[SJ_CAMPAIGN_EVENT_MAX];
    sj_campaign_anchor_t timing;
    sj_campaign_anchor_t expiry;
    sj_channel_t channels[SJ_CAMPAIGN_MAX_CHANNELS];
    size_t n_channels;
    sj_campaign_variant_t variants[SJ_CAMPAIGN_MAX_VARIANTS];
    size_t n_variants;
    char languages[SJ_CAMPAIGN_MAX_LANGUAGES][3];
    size_t n_languages;
    char default_language[3];
    bool mandatory;
    int priority;
} sj_campaign_t;

/* Parses and validates one campaign from json[0..n). `name` is what errors
 * call the source (usually the file name). Fills *out (caller-owned) and
 * returns SJ_OK, or returns SJ_ERR_INPUT with "name: $.path: problem" (or
 * "name:line:column: ..." for JSON syntax) in errstr. */
sj_status_t sj_campaign_parse(const char *json, size_t n, const char *name,
                              sj_campaign_t *out, char *errstr, size_t errstr_size);

/* Reads and validates one campaign file (at most SJ_CAMPAIGN_FILE_MAX bytes).
 * Errors name the path as given. SJ_ERR_IO when it cannot be read. */
sj_status_t sj_campaign_load_file(const char *path, sj_campaign_t *out, char *errstr,
                                  size_t errstr_size);

/* Chooses the variant for a resident: a stable bucket 0..99 from
 * SHA-256(campaign id "|" pseudonym), mapped over the cumulative weights, so
 * a resident always gets the same variant of a campaign. Borrowed pointer. */
const sj_campaign_variant_t *sj_campaign_variant_for(const sj_campaign_t *c,
                                                     const char *pseudonym);

/* The campaign's language for a resident: `lang` when the campaign offers
 * it, else the campaign's default_language. lang may be NULL. Borrowed. */
const char *sj_campaign_language_for(const sj_campaign_t *c, const char *lang);

/* A set of campaigns loaded from one directory. */
typedef struct sj_campaigns_s sj_campaigns_t;

/* Loads every *.json in dir (sorted by name; other files are ignored).
 * Fails on the first invalid file, on two campaigns with the same id, or on
 * more than SJ_CAMPAIGNS_MAX files. An empty directory is not an error.
 * Returns a new set (free with sj_campaigns_destroy) or NULL with errstr. */
sj_campaigns_t *sj_campaigns_load_dir(const char *dir, char *errstr, size_t errstr_size);
void sj_campaigns_destroy(sj_campaigns_t *set);
size_t sj_campaigns_count(const sj_campaigns_t *set);
/* Borrowed pointer to campaign i (0 <= i < count). */
const sj_campaign_t *sj_campaigns_get(const sj_campaigns_t *set, size_t i);

#endif
