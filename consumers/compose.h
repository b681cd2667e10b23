/* Composing the message for one intent on one channel: the intent's template
 * set under `templates.dir` (default templates/campaigns/), the render
 * context and the channel renderers, all through templates/tset.h, which
 * documents the layout on disk, the context and the rendering rules that
 * `seintje render` previews with.
 *
 * What deliver adds: the set is <template_ref>/<language> (template_ref
 * "<campaign>/<variant>", both slugs; the language nl, fr, de or en is the
 * intent's, the segment stage having already fallen back to the campaign's
 * default_language when the resident's is not offered); the context is the
 * intent's context with the additions of sj_tset_context() replacing its
 * keys (reason, campaign and the intent id from the intent, given_name from
 * the profile when it has one); an SMS has at most SJ_SMS_SEND_MAX_SEGMENTS
 * parts; the app category is action-required for a mandatory intent; the SMS
 * and app records carry the outbox metadata (id, campaign, template,
 * language, sent_at, reason, and to or inbox).
 *
 * _site.json may give a municipality its SMS sender id ("sms_sender":
 * "Aalter", E.164 or 1-11 letters, digits and spaces), checked at load.
 *
 * Template sets are compiled on first use and cached (at most
 * SJ_COMPOSE_MAX_TEMPLATES sets; a set that fails to load is not cached, so
 * a fixed or added directory is picked up on the next intent). Thread-safety:
 * one sj_compose_t per thread (the cache is not locked). */
#ifndef SJ_COMPOSE_H
#define SJ_COMPOSE_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "consumers/route.h"
#include "core/buf.h"
#include "core/common.h"
#include "templates/tset.h"

#define SJ_COMPOSE_MAX_TEMPLATES 1024 /* cached (campaign, variant, language) sets */
#define SJ_COMPOSE_MAX_OUTPUT    SJ_TSET_MAX_PART /* bytes of one rendered part */

typedef struct sj_compose_s sj_compose_t;

/* Loads the shared partials and _site.json from templates_dir. email_from is
 * "Display Name <address>", email_domain the right-hand side of Message-IDs.
 * Returns a new object (sj_compose_destroy) or NULL with errstr naming the
 * file and problem. */
sj_compose_t *sj_compose_new(const char *templates_dir, const char *email_from,
                             const char *email_domain, char *errstr, size_t errstr_size);
void sj_compose_destroy(sj_compose_t *c);

/* What a message is made from; all borrowed. */
typedef struct sj_compose_in {
    const char *id;           /* intent id (hex) */
    const char *campaign;     /* campaign id */
    const char *template_ref; /* "<campaign>/<variant>" */
    const char *language;     /* nl, fr, de, en */
    const char *reason;
    const char *expires_at; /* RFC 3339 */
    bool mandatory;
    const json_t *context; /* the intent's context object */
    int64_t send_ms;       /* the message's Date */
    sj_route_channel_t channel;
    const sj_contact_t *contact;
} sj_compose_in_t;

/* Renders the message and appends the outbox file for m->channel to out:
 * the .eml for email, the JSON record (with a final newline) for sms and
 * app. Returns SJ_OK; SJ_ERR_INPUT when a template is missing or fails, or
 * a renderer refuses the result (errstr names the template file or field,
 * never the resident's data); SJ_ERR_TOO_BIG; SJ_ERR_NOMEM. */
sj_status_t sj_compose_message(sj_compose_t *c, const sj_compose_in_t *m, sj_buf_t *out,
                               char *errstr, size_t errstr_size);

/* Renders the message for m->channel: for email appends the RFC 5322
 * message to email; for sms and app sets *record to the record the outbox
 * file holds (a new reference the caller owns), which the HTTP channels
 * send from. Errors as sj_compose_message(). */
sj_status_t sj_compose_render(sj_compose_t *c, const sj_compose_in_t *m, sj_buf_t *email,
                              json_t **record, char *errstr, size_t errstr_size);

/* The SMS sender id of municipality nis (its "sms_sender" in _site.json,
 * checked when loading), or NULL when it has none (borrowed). */
const char *sj_compose_sms_sender(const sj_compose_t *c, const char *nis);

#endif
