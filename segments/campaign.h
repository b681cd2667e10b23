/* Campaigns: what a communication officer writes, loaded and checked.
 *
 * A campaign is a JSON file in `campaigns.dir` (default segments/campaigns/).
 * The loader is strict: an unknown key, a wrong type, a missing field, a
 * channel that does not exist or weights that do not add up is an error that
 * names the file, the JSON path and the problem, e.g.
 *
 *     id-card-renewal.json: $.channels[1]: "fax" is not a channel (email, sms, app)
 *
 * so a typo never silently turns a campaign off. A file is one JSON object
 * of at most 256 KiB; a key given twice is an error, and so is a key not
 * listed here (a misplaced one such as "schedule" or "holdout" at the top
 * says where it belongs). Format v2 (every key is required unless marked
 * optional):
 *
 *     {"id": "id-card-renewal",                 lowercase letters, digits, '-'
 *      "name": "Renew your identity card",      for officers, free text
 *      "description": "...",                    optional, free text
 *      "topic": "identity",                     consent/opt-out topic, a slug
 *      "trigger": {"event": "be.seintje.life.id-card-expiring"},
 *      "audience": {"==": [{"var": "event.data.age"}, 18]},     optional
 *      "timing": {"relative_to": "data.expires", "offset_days": -60, "at": "09:00"},
 *      "expiry": {"relative_to": "data.expires", "offset_days": 0},   optional
 *      "reminders": [{"id": "reminder-1", "after_days": 21, "at": "09:00"}],
 *                                               optional, at most 4
 *      "goal": {"events": ["be.seintje.service.id-card-requested"],
 *               "window_days": 90},             optional (see below)
 *      "send_window": {"days": ["mon", "tue", "wed", "thu", "fri"],
 *                      "from": "09:00", "to": "18:00"},      optional
 *      "channels": ["app", "email", "sms"],     preference order, each at most once
 *      "variants": [{"id": "plain", "weight": 45}, {"id": "deadline", "weight": 45},
 *                   {"id": "holdout", "weight": 10, "holdout": true}],
 *      "experiment": "id-card-2026",            optional, a slug
 *      "languages": ["nl", "fr", "en"],         of nl, fr, de, en
 *      "default_language": "nl",                one of languages
 *      "mandatory": false,                      optional, default false
 *      "priority": 5}                           optional, 1..10, default 5
 *
 * id: 1 to 63 lowercase letters, digits and '-', not starting with '-';
 * unique in campaigns.dir; it names the campaign's template directory and
 * goes into intent ids. name: 1 to 160 bytes. topic: a slug as id, the
 * subject residents consent to or opt out of per channel.
 *
 * trigger: exactly one of
 *   {"event": "<type>"}     the campaign starts for a resident when a life
 *                           event of that type arrives; the type must be in
 *                           the life-event catalogue (`seintje produce
 *                           --catalogue`), e.g. be.seintje.life.moved-in;
 *   {"schedule": "batch"}   the campaign is run over the whole population by
 *                           `seintje batch --campaign ID [--date D]`; the
 *                           batch acts as the event
 *                           {"type": "be.seintje.batch", "id":
 *                           "batch-<campaign>-<date>", "time":
 *                           "<date>T00:00:00Z"}, which has no data.
 *
 * audience: a JsonLogic rule (see segments/jsonlogic.h) evaluated for each
 * resident the trigger concerns, over
 *     {"resident": {...profile fields..., "age": N},
 *      "event": {...the CloudEvent, or the batch event above...},
 *      "now": "<RFC 3339>"};
 * a true result (JsonLogic truthiness) puts the resident in the audience.
 * Without audience, everyone the trigger concerns is in it. A rule that does
 * not compile is an error naming the spot inside it:
 *     $.audience.and[1]: unknown operator "equals"
 *
 * timing and expiry: a moment relative to a date. relative_to is
 *   "time"               the event's CloudEvents time (for a batch: the
 *                        batch date),
 *   "data.<field>"       a date in the event's data (not for batch campaigns),
 *   "resident.<field>"   a date in the resident's profile: birth_date,
 *                        id_card_expires, resident_since, moved_out_on or
 *                        deceased_on;
 * <field> is lowercase letters, digits and '_'; the date is a YYYY-MM-DD date
 * or an RFC 3339 time (its Europe/Brussels date). offset_days (-3650..3650)
 * is added to that date; `at` is the Europe/Brussels wall-clock time of day
 * ("HH:MM", default "09:00" for timing and "00:00" for expiry). timing is
 * when the first message (step "initial") may be sent; expiry, when present,
 * is the first moment a message of the campaign is pointless (nothing is sent
 * from then on). When timing and expiry count from the same date, expiry must
 * come after timing, and after every reminder (else they would never be
 * sent).
 *
 * reminders: up to 4 further steps, each {"id": slug (unique, not "initial"),
 * "after_days": 1..365, strictly increasing, counted from the day the initial
 * message was sent, "at": optional "HH:MM", default timing's at}. The step
 * name in intents and templates ("step" in the render context) is the id.
 * Reminders need a goal: they are cancelled when the goal event arrives.
 *
 * goal: {"events": 1 to 4 distinct event types from the catalogue (usually
 * be.seintje.service.<name>-requested), "window_days": optional 1..365,
 * default 90}. When the resident's goal event arrives, the campaign's pending
 * steps for them are cancelled; an experiment counts a goal event within
 * window_days after exposure as the outcome. A goal is required when the
 * campaign has reminders or more than one variant.
 *
 * send_window: {"days": a non-empty list of distinct mon tue wed thu fri sat
 * sun, "from": "HH:MM", "to": "HH:MM" or "24:00"}, Europe/Brussels time, from
 * before to (a window cannot span midnight). Messages outside it wait for its
 * next opening. Without send_window, the setting nudge.send-window applies
 * (default "mon-fri 09:00-18:00").
 *
 * variants: 1 to 16 framing variants {"id": slug, unique, "weight": 0..100,
 * "holdout": optional true/false}; the weights add up to 100. A holdout
 * variant is the control group: its residents are recorded as exposed and get
 * nothing. At most one variant is a holdout, at least one variant with a
 * weight above 0 is not, and a mandatory campaign has none. A resident's
 * variant is stable: see sj_campaign_variant_for().
 *
 * experiment: the id (a slug) that salts the assignment hash; default the
 * campaign id. Two campaigns with the same experiment assign a resident to
 * the same bucket; changing it reshuffles everyone.
 *
 * channels: 1 to 3 distinct of email, sms, app, in order of preference (the
 * first one the resident is reachable on and consented to is used).
 * languages: 1 to 4 distinct of nl, fr, de, en; residents whose language is
 * not among them get default_language.
 *
 * mandatory: a legal notice: exempt from frequency caps, never held out.
 * priority: 1 (lowest) to 10; under the frequency cap, higher goes first.
 *
 * Templates (checked by sj_campaign_check_templates(), not by the loader):
 * templates.dir/<campaign>/<variant>/<language>/ holds, per channel,
 * email.subject.mustache + email.text.mustache (email.html.mustache
 * optional), sms.mustache, app.title.mustache + app.body.mustache, and
 * optionally link.mustache, for every variant except the holdout (and those
 * of weight 0, which are never chosen) and every language of the campaign.
 *
 * Format v1 files (the same keys without audience, reminders, goal,
 * send_window, experiment and holdout, and with a required expiry) load
 * unchanged, with two exceptions that catch real mistakes: a campaign with
 * more than one variant needs a goal (an experiment without an outcome
 * measures nothing), and the trigger event must be in the catalogue (v1
 * only checked the "be.seintje." prefix).
 *
 * Ownership: a loaded sj_campaign_t owns its compiled audience rule; release
 * it with sj_campaign_release(). A copy of the struct shares the rule: release
 * exactly one of them. Thread-safety: a loaded campaign or sj_campaigns_t is
 * immutable and may be shared by threads; loading is not thread-safe with
 * respect to the same object. */
#ifndef SJ_CAMPAIGN_H
#define SJ_CAMPAIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/common.h"
#include "segments/jsonlogic.h"
#include "segments/nudge.h"

#define SJ_CAMPAIGN_ID_MAX        64  /* bytes including NUL: ids are at most 63 chars */
#define SJ_CAMPAIGN_NAME_MAX      161 /* 160 bytes of UTF-8 */
#define SJ_CAMPAIGN_EVENT_MAX     128 /* a CloudEvents type */
#define SJ_CAMPAIGN_FIELD_MAX     64  /* "time", "data.<field>", "resident.<field>" */
#define SJ_CAMPAIGN_SOURCE_MAX    256 /* the name errors use for the file */
#define SJ_CAMPAIGN_MAX_CHANNELS  3
#define SJ_CAMPAIGN_MAX_VARIANTS  16
#define SJ_CAMPAIGN_MAX_LANGUAGES 4
#define SJ_CAMPAIGN_MAX_REMINDERS 4
#define SJ_CAMPAIGN_MAX_GOALS     4
#define SJ_CAMPAIGN_FILE_MAX                                                             \
    (256 * 1024)             /* a campaign file larger than this is refused */
#define SJ_CAMPAIGNS_MAX 256 /* campaigns per directory */
/* Bytes that always hold sj_campaign_describe()'s text. */
#define SJ_CAMPAIGN_DESCRIBE_MAX 4096

typedef enum { SJ_CHANNEL_EMAIL = 0, SJ_CHANNEL_SMS, SJ_CHANNEL_APP } sj_channel_t;

/* "email", "sms", "app". */
const char *sj_channel_name(sj_channel_t ch);

typedef enum { SJ_TRIGGER_EVENT = 0, SJ_TRIGGER_BATCH } sj_trigger_kind_t;

/* A moment relative to a date: relative_to + offset_days, at at_minutes
 * after local midnight (Europe/Brussels). */
typedef struct sj_campaign_anchor {
    char relative_to[SJ_CAMPAIGN_FIELD_MAX];
    int32_t offset_days;
    int32_t at_minutes;
} sj_campaign_anchor_t;

/* A reminder step: after_days after the local date the initial message was
 * sent, at at_minutes after local midnight. */
typedef struct sj_campaign_reminder {
    char id[SJ_CAMPAIGN_ID_MAX];
    int32_t after_days;
    int32_t at_minutes;
} sj_campaign_reminder_t;

typedef struct sj_campaign_variant {
    char id[SJ_CAMPAIGN_ID_MAX];
    unsigned weight; /* percent; the weights of a campaign add up to 100 */
    bool holdout;    /* control group: exposed, sent nothing */
} sj_campaign_variant_t;

typedef struct sj_campaign {
    char id[SJ_CAMPAIGN_ID_MAX];
    char name[SJ_CAMPAIGN_NAME_MAX];
    char topic[SJ_CAMPAIGN_ID_MAX];
    sj_trigger_kind_t trigger_kind;
    char trigger_event[SJ_CAMPAIGN_EVENT_MAX]; /* "" for SJ_TRIGGER_BATCH */
    sj_rule_t *audience;                       /* owned; NULL = everyone */
    sj_campaign_anchor_t timing;
    bool has_expiry; /* expiry is zeroed when false */
    sj_campaign_anchor_t expiry;
    sj_campaign_reminder_t reminders[SJ_CAMPAIGN_MAX_REMINDERS];
    size_t n_reminders;
    char goal_events[SJ_CAMPAIGN_MAX_GOALS][SJ_CAMPAIGN_EVENT_MAX];
    size_t n_goal_events;
    int32_t goal_window_days; /* 0 without a goal */
    sj_send_window_t window;  /* window.set false: use nudge.send-window */
    sj_channel_t channels[SJ_CAMPAIGN_MAX_CHANNELS];
    size_t n_channels;
    sj_campaign_variant_t variants[SJ_CAMPAIGN_MAX_VARIANTS];
    size_t n_variants;
    char experiment[SJ_CAMPAIGN_ID_MAX]; /* the campaign id when absent */
    char languages[SJ_CAMPAIGN_MAX_LANGUAGES][3];
    size_t n_languages;
    char default_language[3];
    bool mandatory;
    int priority;
    /* The name the campaign was loaded under (the file path; when longer
     * than SJ_CAMPAIGN_SOURCE_MAX - 1 bytes, "..." and its end), for
     * messages about the campaign after loading. */
    char source[SJ_CAMPAIGN_SOURCE_MAX];
} sj_campaign_t;

/* Does the campaign run an experiment (two or more variants, and a goal,
 * which validation requires of them)? Its intents and status records then
 * carry "experiment", and its exposures and conversions are counted in
 * sj:{exp}:<experiment>. */
static inline bool sj_campaign_is_experiment(const sj_campaign_t *c)
{
    return c->n_variants > 1 && c->n_goal_events > 0;
}

/* Parses and validates one campaign from json[0..n). `name` is what errors
 * call the source (usually the file name). Fills *out (caller-owned; release
 * it with sj_campaign_release()) and returns SJ_OK, or returns SJ_ERR_INPUT
 * with "name: $.path: problem" (or "name:line:column: ..." for JSON syntax)
 * in errstr, SJ_ERR_NOMEM when compiling the audience rule ran out of
 * memory. On error *out is zeroed and owns nothing. */
sj_status_t sj_campaign_parse(const char *json, size_t n, const char *name,
                              sj_campaign_t *out, char *errstr, size_t errstr_size);

/* Reads and validates one campaign file (at most SJ_CAMPAIGN_FILE_MAX bytes).
 * Errors name the path as given. SJ_ERR_IO when it cannot be read. Same
 * ownership as sj_campaign_parse(). */
sj_status_t sj_campaign_load_file(const char *path, sj_campaign_t *out, char *errstr,
                                  size_t errstr_size);

/* Frees what a loaded campaign owns (the audience rule) and sets the pointer
 * to NULL; the other fields stay readable. Safe on a zeroed struct, on a
 * campaign whose load failed, twice in a row, and with c NULL. */
void sj_campaign_release(sj_campaign_t *c);

/* Chooses the variant for a resident: the experiment bucket
 * sj_nudge_bucket(c->experiment, pseudonym) (0..9999, from SHA-256 of
 * experiment "|" pseudonym) mapped over the cumulative weights by
 * sj_nudge_assign(), so a resident always gets the same variant of a
 * campaign, and the same bucket in every campaign of one experiment. The
 * result may be the holdout variant. Borrowed pointer into c. */
const sj_campaign_variant_t *sj_campaign_variant_for(const sj_campaign_t *c,
                                                     const char *pseudonym);

/* The campaign's language for a resident: `lang` when the campaign offers
 * it, else the campaign's default_language. lang may be NULL. Borrowed. */
const char *sj_campaign_language_for(const sj_campaign_t *c, const char *lang);

/* Checks that every template file the campaign can need exists (a regular
 * file) under templates_dir/<campaign>/<variant>/<language>/: for every
 * variant that is sent (not the holdout, not one of weight 0), every
 * language and every channel, the files
 * that channel needs (email: email.subject.mustache and email.text.mustache;
 * sms: sms.mustache; app: app.title.mustache and app.body.mustache). The
 * templates are not compiled here (`seintje render` does that). Returns SJ_OK,
 * or SJ_ERR_INPUT naming the first missing file, where the campaign asks for
 * it and how many more are missing:
 *     t.json: $.variants[1] / $.languages[2] / $.channels[0]:
 *     templates/campaigns/c/deadline/en/app.title.mustache is missing
 *     (variant "deadline", language "en", channel app); 1 more template file
 *     is missing
 * (one line), or "templates.dir <dir>: not a directory". Touches the file
 * system only with stat(); any thread. */
sj_status_t sj_campaign_check_templates(const sj_campaign_t *c, const char *templates_dir,
                                        char *errstr, size_t errstr_size);

/* One line (no newline) describing the campaign for officers, e.g.
 *     id-card-renewal, on be.seintje.life.id-card-expiring, 60 days before
 *     data.expires at 09:00, reminders after 21 and 42 days, goal
 *     be.seintje.service.id-card-requested within 90 days, window mon-fri
 *     09:00-18:00, experiment id-card-2026: plain 45% / deadline 45% /
 *     holdout 10% held out, channels app,email,sms
 * default_window (may be NULL) is the nudge.send-window setting, shown for
 * campaigns without their own window. Writes at most out_size bytes, always
 * NUL-terminated (SJ_CAMPAIGN_DESCRIBE_MAX always suffices); returns out. */
char *sj_campaign_describe(const sj_campaign_t *c, const sj_send_window_t *default_window,
                           char *out, size_t out_size);

/* A set of campaigns loaded from one directory. */
typedef struct sj_campaigns_s sj_campaigns_t;

/* Loads every *.json in dir (sorted by name; other files are ignored).
 * Fails on the first invalid file, on two campaigns with the same id, or on
 * more than SJ_CAMPAIGNS_MAX files. An empty directory is not an error.
 * Templates are not checked (see sj_campaign_check_templates()).
 * Returns a new set (free with sj_campaigns_destroy) or NULL with errstr. */
sj_campaigns_t *sj_campaigns_load_dir(const char *dir, char *errstr, size_t errstr_size);
/* Frees the set and every campaign in it (their audience rules included).
 * NULL is a no-op. */
void sj_campaigns_destroy(sj_campaigns_t *set);
size_t sj_campaigns_count(const sj_campaigns_t *set);
/* Borrowed pointer to campaign i (0 <= i < count), valid until the set is
 * destroyed. */
const sj_campaign_t *sj_campaigns_get(const sj_campaigns_t *set, size_t i);

/* "a string", "an integer", ... of a JSON value, for "expected X, got Y"
 * messages (campaign files, `experiment stats` input). */
const char *sj_json_kind(const json_t *j);

#endif
