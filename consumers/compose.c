/* Message composition: finds and caches the intent's template set, builds
 * its render context and renders it for the channel, all with the template
 * sets of templates/tset.h, then adds the outbox metadata. See compose.h for
 * what deliver adds to the template-set rules. */
#include "compose.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/timeutil.h"
#include "consumers/http_gateway.h"
#include "templates/sms.h"

typedef struct {
    char key[160]; /* "<campaign>/<variant>/<lang>" */
    sj_tset_t *set;
} entry_t;

struct sj_compose_s {
    char *dir;
    char *from; /* email.from; from_addr points into it */
    sj_email_addr_t from_addr;
    char *domain;
    sj_tmpl_set_t *partials[SJ_TSET_N_LANGS]; /* by sj_lang_t */
    json_t *site;
    entry_t *cache;
    size_t n_cache;
};

/* The shared partials once per language, each language's own overriding. */
static sj_status_t load_partials(sj_compose_t *c, char *errstr, size_t errstr_size)
{
    sj_status_t st = SJ_OK;
    for (int l = 0; l < SJ_TSET_N_LANGS && st == SJ_OK; l++) {
        if (!(c->partials[l] = sj_tmpl_set_new())) return SJ_ERR_NOMEM;
        st = sj_tset_load_root_partials(c->dir, sj_lang_code((sj_lang_t)l),
                                        c->partials[l], errstr, errstr_size);
    }
    return st;
}

/* Every municipality's sms_sender must be a valid sender id. */
static sj_status_t check_senders(const sj_compose_t *c, char *errstr, size_t errstr_size)
{
    const char *nis;
    json_t *m;
    json_object_foreach(json_object_get(c->site, "municipalities"), nis, m)
    {
        const json_t *s = json_object_get(m, "sms_sender");
        if (s && !(json_is_string(s) && sj_sms_sender_check(json_string_value(s)))) {
            sj_seterr(errstr, errstr_size,
                      "%s/_site.json: municipalities.%.16s.sms_sender is not an E.164 "
                      "number or 1-11 letters, digits and spaces",
                      c->dir, nis);
            return SJ_ERR_INPUT;
        }
    }
    return SJ_OK;
}

sj_compose_t *sj_compose_new(const char *templates_dir, const char *email_from,
                             const char *email_domain, char *errstr, size_t errstr_size)
{
    sj_compose_t *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->dir = strdup(templates_dir);
    c->from = strdup(email_from);
    c->domain = strdup(email_domain);
    c->cache = calloc(SJ_COMPOSE_MAX_TEMPLATES, sizeof *c->cache);
    sj_status_t st = c->dir && c->from && c->domain && c->cache ? SJ_OK : SJ_ERR_NOMEM;
    struct stat sb;
    if (st == SJ_OK && (stat(templates_dir, &sb) != 0 || !S_ISDIR(sb.st_mode))) {
        sj_seterr(errstr, errstr_size, "templates.dir %s: not a directory",
                  templates_dir);
        st = SJ_ERR_INPUT;
    }
    if (st == SJ_OK && sj_tset_parse_mailbox(c->from, &c->from_addr) != SJ_OK) {
        sj_seterr(errstr, errstr_size, "email.from \"%s\" is not \"Name <address>\"",
                  email_from);
        st = SJ_ERR_INPUT;
    }
    if (st == SJ_OK) st = load_partials(c, errstr, errstr_size);
    if (st == SJ_OK) st = sj_tset_load_site(c->dir, &c->site, errstr, errstr_size);
    if (st == SJ_OK) st = check_senders(c, errstr, errstr_size);
    if (st != SJ_OK) {
        if (st == SJ_ERR_NOMEM) sj_seterr(errstr, errstr_size, "out of memory");
        sj_compose_destroy(c);
        return NULL;
    }
    return c;
}

void sj_compose_destroy(sj_compose_t *c)
{
    if (!c) return;
    for (size_t i = 0; i < c->n_cache; i++) sj_tset_destroy(c->cache[i].set);
    for (int l = 0; l < SJ_TSET_N_LANGS; l++) sj_tmpl_set_destroy(c->partials[l]);
    json_decref(c->site);
    free(c->cache);
    free(c->dir);
    free(c->from);
    free(c->domain);
    free(c);
}

static bool is_slug(const char *s, size_t n)
{
    if (n == 0 || n > 63 || s[0] == '-') return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
              s[i] == '-'))
            return false;
    return true;
}

/* The cached set for (template_ref, lang), loading it on first use. */
static const sj_tset_t *set_for(sj_compose_t *c, const char *ref, const char *lang,
                                char *errstr, size_t errstr_size, sj_status_t *st)
{
    const char *slash = ref ? strchr(ref, '/') : NULL;
    if (!slash || !is_slug(ref, (size_t)(slash - ref)) ||
        !is_slug(slash + 1, strlen(slash + 1)) || !sj_tset_lang(lang, NULL)) {
        sj_seterr(errstr, errstr_size,
                  "template reference is not <campaign>/<variant> with a "
                  "language nl, fr, de or en");
        *st = SJ_ERR_INPUT;
        return NULL;
    }
    char key[160];
    snprintf(key, sizeof key, "%s/%s", ref, lang);
    for (size_t i = 0; i < c->n_cache; i++)
        if (!strcmp(c->cache[i].key, key)) return c->cache[i].set;
    if (c->n_cache == SJ_COMPOSE_MAX_TEMPLATES) {
        sj_seterr(errstr, errstr_size, "more than %d template sets in use",
                  SJ_COMPOSE_MAX_TEMPLATES);
        *st = SJ_ERR_TOO_BIG;
        return NULL;
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%.3900s/%s", c->dir, key);
    entry_t *e = &c->cache[c->n_cache];
    if ((*st = sj_tset_load(dir, &e->set, errstr, errstr_size)) != SJ_OK) return NULL;
    snprintf(e->key, sizeof e->key, "%s", key);
    c->n_cache++;
    return e->set;
}

static int set_s(json_t *o, const char *k, const char *v)
{
    return v ? json_object_set_new(o, k, json_string(v)) : 0;
}

/* The outbox metadata of an SMS or app record. */
static int add_meta(json_t *j, const sj_compose_in_t *m)
{
    char sent[32];
    sj_time_format_rfc3339(m->send_ms, sent);
    return set_s(j, "id", m->id) | set_s(j, "campaign", m->campaign) |
           set_s(j, "template", m->template_ref) | set_s(j, "language", m->language) |
           set_s(j, "sent_at", sent) | set_s(j, "reason", m->reason);
}

/* Renders the SMS or app record for m->channel into *out (with the outbox
 * metadata), or the e-mail message into buf. */
static sj_status_t compose(const sj_compose_t *c, const sj_compose_in_t *m,
                           const sj_tset_t *set, const sj_tmpl_set_t *partials,
                           const json_t *ctx, sj_buf_t *buf, json_t **out, char *errstr,
                           size_t errstr_size)
{
    const sj_contact_t *who = m->contact;
    json_t *j = NULL;
    sj_status_t st;
    const char *key = m->channel == SJ_ROUTE_SMS ? "to" : "inbox";
    const char *value = m->channel == SJ_ROUTE_SMS ? who->phone : who->app_inbox;
    switch (m->channel) {
    case SJ_ROUTE_EMAIL: {
        sj_email_t base = {
            .from = c->from_addr,
            .to = {sj_email_cstr(who->given_name[0] ? who->given_name : NULL),
                   sj_email_cstr(who->email)},
            .notification_id = sj_email_cstr(m->id),
            .domain = sj_email_cstr(c->domain),
            .date_ms = m->send_ms};
        return sj_tset_email(set, partials, ctx, &base, buf, errstr, errstr_size);
    }
    case SJ_ROUTE_SMS:
        st = sj_tset_sms(set, partials, ctx, SJ_SMS_SEND_MAX_SEGMENTS, &j, errstr,
                         errstr_size);
        break;
    case SJ_ROUTE_APP: {
        sj_app_msg_t base = {.id = m->id,
                             .language = m->language,
                             .category =
                                 m->mandatory ? "action-required" : "informational",
                             .expires_at = m->expires_at};
        st = sj_tset_app(set, partials, ctx, &base, &j, errstr, errstr_size);
        break;
    }
    default:
        sj_seterr(errstr, errstr_size, "unknown channel");
        return SJ_ERR_INPUT;
    }
    if (st != SJ_OK) return st;
    if (add_meta(j, m) | set_s(j, key, value)) {
        json_decref(j);
        return SJ_ERR_NOMEM;
    }
    *out = j;
    return SJ_OK;
}

/* The template set and the render context for m; *ctx is new. */
static sj_status_t prepare(sj_compose_t *c, const sj_compose_in_t *m,
                           const sj_tset_t **set, json_t **ctx, char *errstr,
                           size_t errstr_size)
{
    sj_status_t st = SJ_OK;
    *set = set_for(c, m->template_ref, m->language, errstr, errstr_size, &st);
    if (!*set) return st;
    sj_lang_t lang;
    sj_tset_lang(m->language, &lang);
    *ctx = json_is_object(m->context) ? json_deep_copy(m->context) : json_object();
    if (!*ctx) return SJ_ERR_NOMEM;
    sj_tset_ctx_t in = {.id = m->id,
                        .language = m->language,
                        .channel = sj_route_channel_name(m->channel),
                        .campaign = m->campaign,
                        .reason = m->reason,
                        .given_name = m->contact ? m->contact->given_name : NULL};
    st =
        sj_tset_context(*set, c->partials[lang], c->site, *ctx, &in, errstr, errstr_size);
    if (st != SJ_OK) {
        json_decref(*ctx);
        *ctx = NULL;
    }
    return st;
}

sj_status_t sj_compose_render(sj_compose_t *c, const sj_compose_in_t *m, sj_buf_t *email,
                              json_t **record, char *errstr, size_t errstr_size)
{
    const sj_tset_t *set;
    json_t *ctx;
    sj_lang_t lang;
    if (record) *record = NULL;
    sj_status_t st = prepare(c, m, &set, &ctx, errstr, errstr_size);
    if (st != SJ_OK) return st;
    sj_tset_lang(m->language, &lang);
    st = compose(c, m, set, c->partials[lang], ctx, email, record, errstr, errstr_size);
    json_decref(ctx);
    return st;
}

sj_status_t sj_compose_message(sj_compose_t *c, const sj_compose_in_t *m, sj_buf_t *out,
                               char *errstr, size_t errstr_size)
{
    json_t *record = NULL;
    sj_status_t st = sj_compose_render(c, m, out, &record, errstr, errstr_size);
    if (st == SJ_OK && record) st = sj_tset_add_json(record, out);
    return st;
}

const char *sj_compose_sms_sender(const sj_compose_t *c, const char *nis)
{
    const json_t *m = json_object_get(json_object_get(c->site, "municipalities"), nis);
    const json_t *s = json_object_get(m, "sms_sender");
    return json_is_string(s) ? json_string_value(s) : NULL;
}
