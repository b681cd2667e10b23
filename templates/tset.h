/* Template sets: the files one message is rendered from, the partials and
 * branding they share, the context they see and the rules for rendering
 * their parts. `seintje deliver` (consumers/compose.c) and `seintje render`
 * (templates/render_cmd.c) both render through this module, so a preview is
 * the message deliver sends.
 *
 * Layout under a templates root (deliver's templates.dir, default
 * templates/campaigns/; for render the directory three levels above the set):
 *
 *     <campaign>/<variant>/<lang>/email.subject.mustache   one line
 *                                 email.text.mustache      plain-text body
 *                                 email.html.mustache      HTML body (optional)
 *                                 sms.mustache             one SMS, at most
 *                                                          SJ_SMS_SEND_MAX_SEGMENTS
 *                                                          parts (sms.h)
 *                                 app.title.mustache       app inbox title
 *                                 app.body.mustache        app inbox body
 *                                 link.mustache            the one action's deep
 *                                                          link (optional)
 *     _partials/<name>.mustache          shared partial {{> name}}
 *     _partials/<name>.<lang>.mustache   the same partial for one language
 *     _site.json                         municipality branding by NIS code
 *
 * <lang> is nl, fr, de or en. A set directory holds the files one channel
 * needs or more; which ones are missing is reported when a part is rendered.
 *
 * _site.json: {"default": {...}, "municipalities": {"44084": {...}}}, each
 * entry {"name": {"nl": "Aalter", ...}, "title": {"nl": "Gemeente Aalter",
 * ...}, "url": "https://www.example.org/aalter"}; a text is a string or one
 * per language (nl when the language has none).
 *
 * The context (sj_tset_context()) is the caller's plus: municipality,
 * municipality_title, municipality_url (from _site.json by the context's nis,
 * else the "default" entry; the URL else SJ_TSET_DEFAULT_URL);
 * unsubscribe_url and why_url (municipality_url + "/seintje/unsubscribe?id=<id>"
 * and ".../why?id=<id>"); reason, intent_id, campaign, language, channel,
 * lang_<code> = true, given_name; for every YYYY-MM-DD date <key>_long and
 * <key>_weekday in the message language (locale.h); and last link (the
 * rendered link.mustache, else municipality_url), so every other part may use
 * {{link}}.
 *
 * Rendering rules (sj_tset_render()): only email.html is HTML-escaped; every
 * part but the two e-mail bodies loses trailing whitespace (CR, LF, space,
 * tab), so a template file may end in a newline; each part has a size bound
 * (sj_tset_part_max()). sj_tset_email(), sj_tset_sms() and sj_tset_app()
 * render a channel's parts and hand them to the channel renderers (email.h,
 * sms.h, app.h).
 *
 *     sj_tmpl_set_t *partials = sj_tmpl_set_new();
 *     json_t *site, *sms;
 *     sj_tset_t *set;
 *     char err[512];
 *     if (sj_tset_load_root_partials(root, "nl", partials, err, sizeof err) ||
 *         sj_tset_load_site(root, &site, err, sizeof err) ||
 *         sj_tset_load(dir, &set, err, sizeof err))
 *         fail(err);
 *     sj_tset_ctx_t in = {.id = id, .language = "nl", .channel = "sms"};
 *     if (sj_tset_context(set, partials, site, ctx, &in, err, sizeof err) ||
 *         sj_tset_sms(set, partials, ctx, SJ_SMS_SEND_MAX_SEGMENTS, &sms, err,
 *                     sizeof err))
 *         fail(err);
 *
 * The sj_tset_load*() functions read files (nothing here writes any); the
 * rest is pure. Errors name the file (with line and column for template and
 * JSON syntax), the set directory or the context key (sj_locale_enrich()
 * quotes a malformed date). Thread-safety: a loaded set, partials and site are read-only
 * and may be shared by any number of threads rendering with their own contexts and
 * buffers; loading and sj_tset_put() are not thread-safe. */
#ifndef SJ_TEMPLATES_TSET_H
#define SJ_TEMPLATES_TSET_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/common.h"
#include "templates/app.h"
#include "templates/email.h"
#include "templates/locale.h"
#include "templates/mustache.h"

#define SJ_TSET_MAX_PART     (1u << 20)  /* bytes of a rendered body or SMS */
#define SJ_TSET_MAX_LINE     4096        /* bytes of a rendered app title */
#define SJ_TSET_MAX_LINK     2048        /* bytes of a rendered link (SJ_APP_LINK_MAX) */
#define SJ_TSET_MAX_PARTIALS 256         /* NAME.mustache files in a partials directory */
#define SJ_TSET_MAX_SITE     (16u << 20) /* bytes of _site.json */
#define SJ_TSET_N_LANGS      4           /* nl, fr, de, en: every sj_lang_t */
/* municipality_url when _site.json has none. */
#define SJ_TSET_DEFAULT_URL "https://www.example.org"

typedef enum {
    SJ_TSET_SUBJECT = 0, /* email.subject.mustache */
    SJ_TSET_TEXT,        /* email.text.mustache */
    SJ_TSET_HTML,        /* email.html.mustache */
    SJ_TSET_SMS,         /* sms.mustache */
    SJ_TSET_APP_TITLE,   /* app.title.mustache */
    SJ_TSET_APP_BODY,    /* app.body.mustache */
    SJ_TSET_LINK,        /* link.mustache */
    SJ_TSET_PARTS
} sj_tset_part_t;

typedef struct sj_tset sj_tset_t;

/* The file name of part p ("email.subject.mustache"), a static string; NULL
 * for a value outside the enum. */
const char *sj_tset_part_file(sj_tset_part_t p);

/* The bound on the rendered bytes of part p (before trimming): the subject
 * SJ_EMAIL_MAX_SUBJECT, the app title SJ_TSET_MAX_LINE, the link
 * SJ_TSET_MAX_LINK, the rest SJ_TSET_MAX_PART. */
size_t sj_tset_part_max(sj_tset_part_t p);

/* Whether code is exactly a language a set directory may be named by ("nl",
 * "fr", "de", "en"; not "nl-BE" or "NL"); sets *lang when lang is non-NULL. */
bool sj_tset_lang(const char *code, sj_lang_t *lang);

/* A new set without parts; dir (copied) names the set in error messages.
 * Returns NULL when out of memory. Free with sj_tset_destroy(). */
sj_tset_t *sj_tset_new(const char *dir);

/* Makes t part p of s. Takes ownership of t (NULL removes the part) and
 * frees the template it replaces. */
void sj_tset_put(sj_tset_t *s, sj_tset_part_t p, sj_tmpl_t *t);

/* Loads the set in directory dir: compiles every part file that exists, so
 * a broken file is reported even when the channel at hand does not use it.
 * On SJ_OK *out is a new set the caller owns (sj_tset_destroy()). Otherwise
 * *out is NULL and errstr says what failed: SJ_ERR_INPUT when dir is not a
 * directory ("DIR: no templates for this campaign, variant and language")
 * or a template has a syntax error (file:line:column); SJ_ERR_TOO_BIG for a
 * file over SJ_TMPL_MAX_SOURCE; SJ_ERR_IO; SJ_ERR_NOMEM. */
sj_status_t sj_tset_load(const char *dir, sj_tset_t **out, char *errstr,
                         size_t errstr_size);

/* Frees the set and its templates. NULL is a no-op. */
void sj_tset_destroy(sj_tset_t *s);

/* The directory the set was made with (borrowed, lives as long as s). */
const char *sj_tset_dir(const sj_tset_t *s);

/* Part p of s (borrowed), or NULL when the set has no such file. */
const sj_tmpl_t *sj_tset_part(const sj_tset_t *s, sj_tset_part_t p);

/* Compiles every regular file DIR/NAME.mustache into set (borrowed, must
 * not be shared meanwhile), in name order:
 *   - NAME.mustache is stored as NAME when NAME does not end in ".<code>"
 *     for a language code (sj_tset_lang());
 *   - NAME.<lang>.mustache is stored as NAME, replacing a shared one, when
 *     lang is that code; for the other languages, or lang NULL, the file is
 *     compiled (an error in it is reported) but not stored.
 * Returns SJ_OK; SJ_ERR_INPUT when dir cannot be opened or a partial does not
 * compile; SJ_ERR_TOO_BIG with more than SJ_TSET_MAX_PARTIALS files or an
 * oversized one; SJ_ERR_IO; SJ_ERR_NOMEM. On error set may hold some of the
 * partials. */
sj_status_t sj_tset_load_partials(const char *dir, const char *lang, sj_tmpl_set_t *set,
                                  char *errstr, size_t errstr_size);

/* sj_tset_load_partials() on <root>/_partials; SJ_OK without partials when
 * the root has no such directory (partials are optional). */
sj_status_t sj_tset_load_root_partials(const char *root, const char *lang,
                                       sj_tmpl_set_t *set, char *errstr,
                                       size_t errstr_size);

/* Loads <root>/_site.json into *site, a new reference the caller owns
 * (json_decref), or an empty object when there is no such file (generic
 * branding). SJ_ERR_INPUT with errstr "path:line:column: problem" for invalid
 * JSON or duplicate keys, or naming the expected shape when it is not an
 * object or its "municipalities" is not one; SJ_ERR_TOO_BIG over
 * SJ_TSET_MAX_SITE bytes; SJ_ERR_NOMEM. *site is NULL on error. */
sj_status_t sj_tset_load_site(const char *root, json_t **site, char *errstr,
                              size_t errstr_size);

/* sj_tset_context() flag: keys the context already has win over everything
 * derived (branding, default URLs, intent_id, language, channel,
 * lang_<code>, given_name, link), so a preview's data can stand in for what
 * deliver computes. Without it (deliver) the additions replace the context's
 * keys. The explicit unsubscribe_url and link win either way. */
#define SJ_TSET_KEEP_DATA 0x1u

/* What sj_tset_context() adds besides the branding; all borrowed. */
typedef struct sj_tset_ctx {
    const char *id;              /* intent_id and the id in unsubscribe_url, why_url */
    const char *language;        /* nl, fr, de or en: language, lang_<code>, branding
                                    texts and the date formats */
    const char *channel;         /* "email", "sms", "app"; NULL adds none */
    const char *campaign;        /* NULL adds none */
    const char *reason;          /* NULL adds none */
    const char *given_name;      /* the profile's; NULL or "" adds none */
    const char *unsubscribe_url; /* replaces the derived one; NULL derives it */
    const char *link;            /* replaces link.mustache / municipality_url; or NULL */
    const char *source;          /* names the context in errors about its dates (a data
                                    file), or NULL */
    unsigned flags;              /* SJ_TSET_KEEP_DATA */
} sj_tset_ctx_t;

/* Adds to ctx (an object, borrowed and modified; not shared meanwhile) the
 * keys listed at the top of this file, in the order listed, then renders
 * s's link.mustache with partials against the result (see the rendering
 * rules). site comes from sj_tset_load_site(); s, partials and site are
 * borrowed. Returns SJ_OK; SJ_ERR_INPUT with errstr naming the key (a value
 * that is not valid UTF-8, an unknown language), the date field ("source:
 * context field ...") or the link template; SJ_ERR_TOO_BIG for a link over
 * its bound; SJ_ERR_NOMEM. On error ctx may be partly extended. */
sj_status_t sj_tset_context(const sj_tset_t *s, const sj_tmpl_set_t *partials,
                            const json_t *site, json_t *ctx, const sj_tset_ctx_t *in,
                            char *errstr, size_t errstr_size);

/* Renders part p of s against ctx with partials (all borrowed; ctx NULL is an
 * empty context) into out, which is reset first; initialise it with
 * sj_buf_init(&out, sj_tset_part_max(p)) for the part's bound. Only
 * SJ_TSET_HTML is HTML-escaped; every part but SJ_TSET_TEXT and SJ_TSET_HTML
 * has trailing whitespace removed. Returns SJ_OK; SJ_ERR_INPUT when s lacks
 * the part ("DIR/FILE: missing"); the engine's error (file:line:column)
 * otherwise, out then holding a partial result. */
sj_status_t sj_tset_render(const sj_tset_t *s, sj_tset_part_t p,
                           const sj_tmpl_set_t *partials, const json_t *ctx,
                           sj_buf_t *out, char *errstr, size_t errstr_size);

/* Renders the subject, the text and (when s has one) the HTML part, and
 * appends the message sj_email_build() makes of them to out: the envelope
 * (from, to, reply_to, notification_id, domain, date_ms, unsubscribe_mailto)
 * comes from base, unsubscribe_url from ctx (after sj_tset_context()).
 * Returns SJ_OK; a rendering error as sj_tset_render(); the error of
 * sj_email_build() as "DIR: problem". Everything is borrowed. */
sj_status_t sj_tset_email(const sj_tset_t *s, const sj_tmpl_set_t *partials,
                          const json_t *ctx, const sj_email_t *base, sj_buf_t *out,
                          char *errstr, size_t errstr_size);

/* Renders the SMS part and analyses it with sj_sms_analyse(): at most
 * max_segments parts (deliver's limit is SJ_SMS_SEND_MAX_SEGMENTS). On SJ_OK
 * *out is sj_sms_to_json()'s object, a new reference the caller owns;
 * otherwise NULL, with a rendering error as sj_tset_render() or the
 * analysis' as "FILE: problem" (SJ_ERR_TOO_BIG for too many parts,
 * SJ_ERR_INPUT for an empty text). */
sj_status_t sj_tset_sms(const sj_tset_t *s, const sj_tmpl_set_t *partials,
                        const json_t *ctx, size_t max_segments, json_t **out,
                        char *errstr, size_t errstr_size);

/* Renders the app title and body and builds sj_app_payload() from them: id,
 * language, category, expires_at and the limits come from base, title and
 * body from the set, deep_link from ctx's link (after sj_tset_context()). On
 * SJ_OK *out is the payload, a new reference the caller owns; otherwise NULL
 * with a rendering error as sj_tset_render() or the payload's as
 * "DIR: problem" (SJ_ERR_INPUT). */
sj_status_t sj_tset_app(const sj_tset_t *s, const sj_tmpl_set_t *partials,
                        const json_t *ctx, const sj_app_msg_t *base, json_t **out,
                        char *errstr, size_t errstr_size);

/* Appends j as JSON indented by two spaces plus a newline to out, the form
 * in which deliver's outbox stores and render prints SMS and app records.
 * Takes ownership of j (NULL gives SJ_ERR_NOMEM). SJ_ERR_TOO_BIG past out's
 * bound. */
sj_status_t sj_tset_add_json(json_t *j, sj_buf_t *out);

/* Splits "Display Name <address>" (spaces before '<' dropped; '>' last) or a
 * bare address (an '@', no '<' or '>') into addr, whose spans point into s
 * (borrowed: keep s alive while addr is used); a bare address gets an empty
 * name. Returns SJ_OK or SJ_ERR_INPUT; the caller names the setting. */
sj_status_t sj_tset_parse_mailbox(const char *s, sj_email_addr_t *addr);

#endif
