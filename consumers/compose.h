/* Composing the message for one intent on one channel: templates on disk,
 * the render context, and the channel renderers of templates/.
 *
 * Template layout under `templates.dir` (default templates/campaigns/):
 *
 *     <campaign>/<variant>/<lang>/email.subject.mustache   one line
 *                                 email.text.mustache      plain-text body
 *                                 email.html.mustache      HTML body (optional)
 *                                 sms.mustache             one SMS, at most 3 parts
 *                                 app.title.mustache       app inbox title
 *                                 app.body.mustache        app inbox body
 *                                 link.mustache            the one action's deep
 *                                                          link (optional)
 *     _partials/<name>.mustache          shared partial {{> name}}
 *     _partials/<name>.<lang>.mustache   the same partial for one language
 *     _site.json                         municipality branding by NIS code
 *
 * _site.json: {"default": {...}, "municipalities": {"44084": {...}}}, each
 * entry {"name": {"nl": "Aalter", ...}, "title": {"nl": "Gemeente Aalter",
 * ...}, "url": "https://www.example.org/aalter"}.
 *
 * The render context is the intent's context plus: municipality,
 * municipality_title, municipality_url (from _site.json by context.nis),
 * link (rendered link.mustache, else municipality_url), unsubscribe_url and
 * why_url (municipality_url + "/seintje/unsubscribe?id=<intent id>" and
 * ".../why?id=<intent id>"), reason, intent_id, campaign, channel, language,
 * lang_<code> = true, given_name from the profile when it has one, and for
 * every YYYY-MM-DD date <key>_long and <key>_weekday in the message language
 * (templates/locale.h). HTML is escaped only in email.html; subjects, text,
 * SMS and app texts render without escaping and have trailing whitespace
 * removed from every part but the e-mail bodies.
 *
 * Language: the intent's language (the segment stage already fell back to
 * the campaign's default_language when the resident's is not offered).
 *
 * Templates are compiled on first use and cached (at most
 * SJ_COMPOSE_MAX_TEMPLATES sets). Thread-safety: one sj_compose_t per thread
 * (the cache is not locked). */
#ifndef SJ_COMPOSE_H
#define SJ_COMPOSE_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "consumers/route.h"
#include "core/buf.h"
#include "core/common.h"

#define SJ_COMPOSE_MAX_TEMPLATES 1024 /* cached (campaign, variant, language) sets */
#define SJ_COMPOSE_MAX_OUTPUT    (1u << 20) /* bytes of one rendered message */
#define SJ_COMPOSE_SMS_MAX_PARTS 3

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

#endif
