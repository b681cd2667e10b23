/* Message composition: loads templates and branding from templates.dir,
 * builds the render context of an intent, renders the parts with the
 * Mustache engine and hands them to the channel renderers (email, SMS, app).
 * See compose.h for the layout on disk and the context fields. */
#include "compose.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/timeutil.h"
#include "templates/app.h"
#include "templates/email.h"
#include "templates/locale.h"
#include "templates/mustache.h"
#include "templates/sms.h"

#define N_LANGS      4
#define MAX_PARTIALS 256
#define PATH_LEN     4096

static const char *const lang_codes[N_LANGS] = {"nl", "fr", "de", "en"};

typedef enum {
    F_SUBJECT = 0,
    F_TEXT,
    F_HTML,
    F_SMS,
    F_APP_TITLE,
    F_APP_BODY,
    F_LINK,
    N_FILES
} file_t;

static const char *const file_names[N_FILES] = {
    "email.subject.mustache", "email.text.mustache", "email.html.mustache",
    "sms.mustache",           "app.title.mustache",  "app.body.mustache",
    "link.mustache"};

typedef struct {
    char key[160]; /* "<campaign>/<variant>/<lang>" */
    bool exists;   /* the directory exists */
    sj_tmpl_t *t[N_FILES];
} entry_t;

struct sj_compose_s {
    char *dir;
    char *from_name, *from_addr, *domain;
    sj_tmpl_set_t *partials[N_LANGS];
    json_t *site;
    entry_t *cache;
    size_t n_cache;
};

static int lang_index(const char *s)
{
    for (int i = 0; s && i < N_LANGS; i++)
        if (!strcmp(s, lang_codes[i])) return i;
    return -1;
}

/* Reads a whole file (at most max bytes) into b. */
static sj_status_t read_file(const char *path, size_t max, sj_buf_t *b, char *errstr,
                             size_t errstr_size)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        sj_seterr(errstr, errstr_size, "%s: cannot open: %s", path, strerror(errno));
        return errno == ENOENT ? SJ_ERR_INPUT : SJ_ERR_IO;
    }
    sj_buf_init(b, max);
    char chunk[16384];
    size_t n;
    sj_status_t st = SJ_OK;
    while (st == SJ_OK && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        st = sj_buf_add(b, chunk, n);
    if (st == SJ_OK && ferror(f)) st = SJ_ERR_IO;
    fclose(f);
    if (st != SJ_OK) {
        sj_seterr(errstr, errstr_size, "%s: %s", path,
                  st == SJ_ERR_TOO_BIG ? "larger than the template limit" : "read error");
        sj_buf_free(b);
    }
    return st;
}

static sj_tmpl_t *compile_file(const char *path, char *errstr, size_t errstr_size,
                               sj_status_t *st)
{
    sj_buf_t b;
    if ((*st = read_file(path, SJ_TMPL_MAX_SOURCE, &b, errstr, errstr_size)) != SJ_OK)
        return NULL;
    sj_tmpl_error_t err;
    sj_tmpl_t *t = sj_tmpl_compile(path, b.data ? b.data : "", b.len, &err);
    sj_buf_free(&b);
    if (!t) {
        sj_seterr(errstr, errstr_size, "%s", err.message);
        *st = err.status ? err.status : SJ_ERR_INPUT;
    }
    return t;
}

/* Adds _partials/<name>[.<lang>].mustache; pass 0 takes the shared ones,
 * pass 1 the language-specific ones, so those override whatever the order
 * of directory entries. */
static sj_status_t add_partial(sj_compose_t *c, const char *dir, const char *file,
                               int pass, char *errstr, size_t errstr_size)
{
    size_t n = strlen(file);
    const size_t ext = strlen(".mustache");
    if (file[0] == '.' || n <= ext || strcmp(file + n - ext, ".mustache")) return SJ_OK;
    char name[128];
    if (n - ext >= sizeof name) return SJ_OK;
    memcpy(name, file, n - ext);
    name[n - ext] = '\0';
    char *dot = strrchr(name, '.');
    int lang = dot ? lang_index(dot + 1) : -1;
    if ((lang >= 0) != (pass == 1)) return SJ_OK;
    if (dot) *dot = '\0';
    char path[PATH_LEN];
    if (snprintf(path, sizeof path, "%.3900s/%.180s", dir, file) >= (int)sizeof path)
        return SJ_OK;
    sj_status_t st;
    for (int l = 0; l < N_LANGS; l++) {
        if (lang >= 0 && l != lang) continue;
        sj_tmpl_t *t = compile_file(path, errstr, errstr_size, &st);
        if (!t) return st;
        if ((st = sj_tmpl_set_put(c->partials[l], name, t)) != SJ_OK) {
            sj_tmpl_destroy(t);
            return st;
        }
    }
    return SJ_OK;
}

static sj_status_t load_partials(sj_compose_t *c, char *errstr, size_t errstr_size)
{
    char dir[PATH_LEN];
    snprintf(dir, sizeof dir, "%s/_partials", c->dir);
    for (int l = 0; l < N_LANGS; l++)
        if (!(c->partials[l] = sj_tmpl_set_new())) return SJ_ERR_NOMEM;
    sj_status_t st = SJ_OK;
    for (int pass = 0; pass < 2 && st == SJ_OK; pass++) {
        DIR *d = opendir(dir);
        if (!d) return errno == ENOENT ? SJ_OK : SJ_ERR_IO; /* partials are optional */
        struct dirent *e;
        size_t count = 0;
        while (st == SJ_OK && (e = readdir(d))) {
            if (++count > MAX_PARTIALS) {
                sj_seterr(errstr, errstr_size, "%s: more than %d files", dir,
                          MAX_PARTIALS);
                st = SJ_ERR_TOO_BIG;
            } else {
                st = add_partial(c, dir, e->d_name, pass, errstr, errstr_size);
            }
        }
        closedir(d);
    }
    return st;
}

static sj_status_t load_site(sj_compose_t *c, char *errstr, size_t errstr_size)
{
    char path[PATH_LEN];
    snprintf(path, sizeof path, "%s/_site.json", c->dir);
    json_error_t jerr;
    c->site = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!c->site && errno == ENOENT && strstr(jerr.text, "unable to open")) {
        c->site = json_object(); /* no branding: generic texts */
        return c->site ? SJ_OK : SJ_ERR_NOMEM;
    }
    if (!c->site) {
        sj_seterr(errstr, errstr_size, "%s:%d:%d: %s", path, jerr.line, jerr.column,
                  jerr.text);
        return SJ_ERR_INPUT;
    }
    if (!json_is_object(c->site) ||
        (json_object_get(c->site, "municipalities") &&
         !json_is_object(json_object_get(c->site, "municipalities")))) {
        sj_seterr(errstr, errstr_size,
                  "%s: expected {\"default\": {...}, \"municipalities\": "
                  "{\"<nis>\": {...}}}",
                  path);
        return SJ_ERR_INPUT;
    }
    return SJ_OK;
}

/* Splits "Display Name <address>" (or a bare address). */
static sj_status_t parse_from(sj_compose_t *c, const char *from, char *errstr,
                              size_t errstr_size)
{
    const char *lt = strrchr(from, '<'), *gt = lt ? strchr(lt, '>') : NULL;
    if (lt && gt && gt > lt + 1) {
        size_t n = (size_t)(lt - from);
        while (n > 0 && from[n - 1] == ' ') n--;
        c->from_name = strndup(from, n);
        c->from_addr = strndup(lt + 1, (size_t)(gt - lt - 1));
    } else if (!lt && strchr(from, '@')) {
        c->from_name = strdup("");
        c->from_addr = strdup(from);
    } else {
        sj_seterr(errstr, errstr_size, "email.from \"%s\" is not \"Name <address>\"",
                  from);
        return SJ_ERR_INPUT;
    }
    return c->from_name && c->from_addr ? SJ_OK : SJ_ERR_NOMEM;
}

sj_compose_t *sj_compose_new(const char *templates_dir, const char *email_from,
                             const char *email_domain, char *errstr, size_t errstr_size)
{
    sj_compose_t *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->dir = strdup(templates_dir);
    c->domain = strdup(email_domain);
    c->cache = calloc(SJ_COMPOSE_MAX_TEMPLATES, sizeof *c->cache);
    sj_status_t st = c->dir && c->domain && c->cache ? SJ_OK : SJ_ERR_NOMEM;
    struct stat sb;
    if (st == SJ_OK && (stat(templates_dir, &sb) != 0 || !S_ISDIR(sb.st_mode))) {
        sj_seterr(errstr, errstr_size, "templates.dir %s: not a directory",
                  templates_dir);
        st = SJ_ERR_INPUT;
    }
    if (st == SJ_OK) st = parse_from(c, email_from, errstr, errstr_size);
    if (st == SJ_OK) st = load_partials(c, errstr, errstr_size);
    if (st == SJ_OK) st = load_site(c, errstr, errstr_size);
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
    for (size_t i = 0; i < c->n_cache; i++)
        for (int f = 0; f < N_FILES; f++) sj_tmpl_destroy(c->cache[i].t[f]);
    for (int l = 0; l < N_LANGS; l++) sj_tmpl_set_destroy(c->partials[l]);
    json_decref(c->site);
    free(c->cache);
    free(c->dir);
    free(c->from_name);
    free(c->from_addr);
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

/* The cached templates for (template_ref, lang), compiling them on first use. */
static const entry_t *templates_for(sj_compose_t *c, const char *ref, const char *lang,
                                    char *errstr, size_t errstr_size, sj_status_t *st)
{
    const char *slash = ref ? strchr(ref, '/') : NULL;
    if (!slash || !is_slug(ref, (size_t)(slash - ref)) ||
        !is_slug(slash + 1, strlen(slash + 1)) || lang_index(lang) < 0) {
        sj_seterr(errstr, errstr_size,
                  "template reference is not <campaign>/<variant> with a "
                  "language nl, fr, de or en");
        *st = SJ_ERR_INPUT;
        return NULL;
    }
    char key[160];
    snprintf(key, sizeof key, "%s/%s", ref, lang);
    for (size_t i = 0; i < c->n_cache; i++)
        if (!strcmp(c->cache[i].key, key)) return &c->cache[i];
    if (c->n_cache == SJ_COMPOSE_MAX_TEMPLATES) {
        sj_seterr(errstr, errstr_size, "more than %d template sets in use",
                  SJ_COMPOSE_MAX_TEMPLATES);
        *st = SJ_ERR_TOO_BIG;
        return NULL;
    }
    entry_t *e = &c->cache[c->n_cache];
    memset(e, 0, sizeof *e);
    snprintf(e->key, sizeof e->key, "%s", key);
    char dir[PATH_LEN], path[PATH_LEN + 64];
    snprintf(dir, sizeof dir, "%s/%s", c->dir, key);
    struct stat sb;
    e->exists = stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode);
    for (int f = 0; e->exists && f < N_FILES; f++) {
        snprintf(path, sizeof path, "%s/%s", dir, file_names[f]);
        if (stat(path, &sb) != 0) continue; /* missing: reported when needed */
        if (!(e->t[f] = compile_file(path, errstr, errstr_size, st))) {
            for (int g = 0; g < f; g++) sj_tmpl_destroy(e->t[g]);
            return NULL; /* not cached: a fixed file is picked up on the next try */
        }
    }
    c->n_cache++;
    return e;
}

static void rtrim(sj_buf_t *b)
{
    while (b->len > 0 && (b->data[b->len - 1] == '\n' || b->data[b->len - 1] == '\r' ||
                          b->data[b->len - 1] == ' ' || b->data[b->len - 1] == '\t'))
        b->data[--b->len] = '\0';
}

/* Renders template f of e into out (reset first). */
static sj_status_t render(const sj_compose_t *c, const entry_t *e, file_t f, int lang,
                          const json_t *ctx, sj_buf_t *out, char *errstr,
                          size_t errstr_size)
{
    sj_buf_reset(out);
    if (!e->t[f]) {
        sj_seterr(errstr, errstr_size, "%s/%s/%s: missing", c->dir, e->key,
                  file_names[f]);
        return SJ_ERR_INPUT;
    }
    sj_tmpl_error_t err;
    sj_status_t st = sj_tmpl_render(e->t[f], c->partials[lang], ctx,
                                    f == F_HTML ? 0 : SJ_TMPL_NO_ESCAPE, out, &err);
    if (st != SJ_OK)
        sj_seterr(errstr, errstr_size, "%s", err.message);
    else if (f != F_TEXT && f != F_HTML)
        rtrim(out);
    return st;
}

static const char *site_text(const json_t *entry, const char *key, const char *lang)
{
    const json_t *v = json_object_get(entry, key);
    if (json_is_string(v)) return json_string_value(v);
    const json_t *t = json_object_get(v, lang);
    if (!json_is_string(t)) t = json_object_get(v, "nl");
    return json_is_string(t) ? json_string_value(t) : NULL;
}

static int set_s(json_t *o, const char *k, const char *v)
{
    return v ? json_object_set_new(o, k, json_string(v)) : 0;
}

/* The render context for m (a new reference), see compose.h. */
static json_t *make_context(const sj_compose_t *c, const sj_compose_in_t *m, char *errstr,
                            size_t errstr_size)
{
    json_t *ctx = json_is_object(m->context) ? json_deep_copy(m->context) : json_object();
    if (!ctx) return NULL;
    const char *nis = json_string_value(json_object_get(ctx, "nis"));
    const json_t *muni = json_object_get(c->site, "municipalities");
    const json_t *entry = nis ? json_object_get(muni, nis) : NULL;
    if (!entry) entry = json_object_get(c->site, "default");
    const char *url = site_text(entry, "url", m->language);
    if (!url) url = "https://www.example.org";
    char link[1024];
    int rc = set_s(ctx, "municipality", site_text(entry, "name", m->language)) |
             set_s(ctx, "municipality_title", site_text(entry, "title", m->language)) |
             set_s(ctx, "municipality_url", url);
    snprintf(link, sizeof link, "%s/seintje/unsubscribe?id=%s", url, m->id);
    rc |= set_s(ctx, "unsubscribe_url", link);
    snprintf(link, sizeof link, "%s/seintje/why?id=%s", url, m->id);
    rc |= set_s(ctx, "why_url", link) | set_s(ctx, "reason", m->reason) |
          set_s(ctx, "intent_id", m->id) | set_s(ctx, "campaign", m->campaign) |
          set_s(ctx, "language", m->language) |
          set_s(ctx, "channel", sj_route_channel_name(m->channel));
    char lang_key[16];
    snprintf(lang_key, sizeof lang_key, "lang_%s", m->language);
    rc |= json_object_set_new(ctx, lang_key, json_true());
    if (m->contact && m->contact->given_name[0])
        rc |= set_s(ctx, "given_name", m->contact->given_name);
    sj_lang_t lang;
    if (rc || sj_lang_parse(m->language, &lang, errstr, errstr_size) != SJ_OK ||
        sj_locale_enrich(ctx, lang, errstr, errstr_size) != SJ_OK) {
        if (rc) sj_seterr(errstr, errstr_size, "out of memory");
        json_decref(ctx);
        return NULL;
    }
    return ctx;
}

static sj_status_t compose_email(const sj_compose_t *c, const sj_compose_in_t *m,
                                 const entry_t *e, int lang, const json_t *ctx,
                                 sj_buf_t *out, char *errstr, size_t errstr_size)
{
    sj_buf_t subject, text, html;
    sj_buf_init(&subject, SJ_EMAIL_MAX_SUBJECT);
    sj_buf_init(&text, SJ_COMPOSE_MAX_OUTPUT);
    sj_buf_init(&html, SJ_COMPOSE_MAX_OUTPUT);
    sj_status_t st = render(c, e, F_SUBJECT, lang, ctx, &subject, errstr, errstr_size);
    if (st == SJ_OK) st = render(c, e, F_TEXT, lang, ctx, &text, errstr, errstr_size);
    if (st == SJ_OK && e->t[F_HTML])
        st = render(c, e, F_HTML, lang, ctx, &html, errstr, errstr_size);
    if (st == SJ_OK) {
        const char *name = m->contact->given_name[0] ? m->contact->given_name : NULL;
        sj_email_t em = {
            .from = {sj_email_cstr(c->from_name), sj_email_cstr(c->from_addr)},
            .to = {sj_email_cstr(name), sj_email_cstr(m->contact->email)},
            .subject = {subject.data ? subject.data : "", subject.len},
            .text = {text.data ? text.data : "", text.len},
            .html = {e->t[F_HTML] ? (html.data ? html.data : "") : NULL, html.len},
            .notification_id = sj_email_cstr(m->id),
            .domain = sj_email_cstr(c->domain),
            .date_ms = m->send_ms,
            .unsubscribe_url = sj_email_cstr(
                json_string_value(json_object_get(ctx, "unsubscribe_url")))};
        st = sj_email_build(&em, out, errstr, errstr_size);
    }
    sj_buf_free(&subject);
    sj_buf_free(&text);
    sj_buf_free(&html);
    return st;
}

/* Appends the JSON record j (consumed) plus a newline to out. */
static sj_status_t add_json(json_t *j, sj_buf_t *out)
{
    char *s = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
    json_decref(j);
    if (!s) return SJ_ERR_NOMEM;
    sj_status_t st = sj_buf_adds(out, s);
    if (st == SJ_OK) st = sj_buf_addc(out, '\n');
    free(s);
    return st;
}

static int add_meta(json_t *j, const sj_compose_in_t *m)
{
    char sent[32];
    sj_time_format_rfc3339(m->send_ms, sent);
    return set_s(j, "id", m->id) | set_s(j, "campaign", m->campaign) |
           set_s(j, "template", m->template_ref) | set_s(j, "language", m->language) |
           set_s(j, "sent_at", sent) | set_s(j, "reason", m->reason);
}

static sj_status_t compose_sms(const sj_compose_t *c, const sj_compose_in_t *m,
                               const entry_t *e, int lang, const json_t *ctx,
                               sj_buf_t *out, char *errstr, size_t errstr_size)
{
    sj_buf_t text;
    sj_buf_init(&text, 4096);
    sj_status_t st = render(c, e, F_SMS, lang, ctx, &text, errstr, errstr_size);
    sj_sms_info_t info;
    if (st == SJ_OK)
        st = sj_sms_analyse(text.data ? text.data : "", text.len,
                            SJ_COMPOSE_SMS_MAX_PARTS, &info, errstr, errstr_size);
    if (st == SJ_OK) {
        json_t *j = sj_sms_to_json(text.data, text.len, &info);
        if (!j || add_meta(j, m) | set_s(j, "to", m->contact->phone)) {
            json_decref(j);
            st = SJ_ERR_NOMEM;
        } else {
            st = add_json(j, out);
        }
    }
    sj_buf_free(&text);
    return st;
}

static sj_status_t compose_app(const sj_compose_t *c, const sj_compose_in_t *m,
                               const entry_t *e, int lang, const json_t *ctx,
                               sj_buf_t *out, char *errstr, size_t errstr_size)
{
    sj_buf_t title, body;
    sj_buf_init(&title, 4096);
    sj_buf_init(&body, SJ_COMPOSE_MAX_OUTPUT);
    sj_status_t st = render(c, e, F_APP_TITLE, lang, ctx, &title, errstr, errstr_size);
    if (st == SJ_OK) st = render(c, e, F_APP_BODY, lang, ctx, &body, errstr, errstr_size);
    if (st == SJ_OK) {
        sj_app_msg_t am = {.id = m->id,
                           .language = m->language,
                           .category = m->mandatory ? "action-required" : "informational",
                           .title = title.data ? title.data : "",
                           .title_len = title.len,
                           .body = body.data ? body.data : "",
                           .body_len = body.len,
                           .deep_link = json_string_value(json_object_get(ctx, "link")),
                           .expires_at = m->expires_at};
        json_t *j = sj_app_payload(&am, errstr, errstr_size);
        if (!j) {
            st = SJ_ERR_INPUT;
        } else if (add_meta(j, m) | set_s(j, "inbox", m->contact->app_inbox)) {
            json_decref(j);
            st = SJ_ERR_NOMEM;
        } else {
            st = add_json(j, out);
        }
    }
    sj_buf_free(&title);
    sj_buf_free(&body);
    return st;
}

sj_status_t sj_compose_message(sj_compose_t *c, const sj_compose_in_t *m, sj_buf_t *out,
                               char *errstr, size_t errstr_size)
{
    sj_status_t st = SJ_OK;
    const entry_t *e =
        templates_for(c, m->template_ref, m->language, errstr, errstr_size, &st);
    if (!e) return st;
    if (!e->exists) {
        sj_seterr(errstr, errstr_size,
                  "%s/%s: no templates for this campaign, variant and "
                  "language",
                  c->dir, e->key);
        return SJ_ERR_INPUT;
    }
    int lang = lang_index(m->language);
    json_t *ctx = make_context(c, m, errstr, errstr_size);
    if (!ctx) return SJ_ERR_INPUT;
    /* The deep link first: every other part may use {{link}}. */
    sj_buf_t link;
    sj_buf_init(&link, 2048);
    if (e->t[F_LINK]) {
        st = render(c, e, F_LINK, lang, ctx, &link, errstr, errstr_size);
        if (st == SJ_OK &&
            json_object_set_new(ctx, "link", json_string(link.data ? link.data : "")))
            st = SJ_ERR_NOMEM;
    } else if (json_object_set(ctx, "link", json_object_get(ctx, "municipality_url"))) {
        st = SJ_ERR_NOMEM;
    }
    sj_buf_free(&link);
    if (st == SJ_OK) {
        switch (m->channel) {
        case SJ_ROUTE_EMAIL:
            st = compose_email(c, m, e, lang, ctx, out, errstr, errstr_size);
            break;
        case SJ_ROUTE_SMS:
            st = compose_sms(c, m, e, lang, ctx, out, errstr, errstr_size);
            break;
        case SJ_ROUTE_APP:
            st = compose_app(c, m, e, lang, ctx, out, errstr, errstr_size);
            break;
        default:
            sj_seterr(errstr, errstr_size, "unknown channel");
            st = SJ_ERR_INPUT;
        }
    }
    json_decref(ctx);
    return st;
}
