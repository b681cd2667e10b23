/* Template sets: loading a set directory, its partials and the branding,
 * building the render context and rendering the parts for each channel, in
 * one place for `seintje deliver` and `seintje render`. See tset.h for the
 * layout on disk, the context and the rendering rules. */
#include "templates/tset.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "templates/sms.h"

#define PATH_LEN     4096
#define MUSTACHE_EXT ".mustache"

struct sj_tset {
    char *dir;
    sj_tmpl_t *t[SJ_TSET_PARTS];
};

static const char *const part_files[SJ_TSET_PARTS] = {
    "email.subject.mustache", "email.text.mustache", "email.html.mustache",
    "sms.mustache",           "app.title.mustache",  "app.body.mustache",
    "link.mustache"};

const char *sj_tset_part_file(sj_tset_part_t p)
{
    return (unsigned)p < SJ_TSET_PARTS ? part_files[p] : NULL;
}

size_t sj_tset_part_max(sj_tset_part_t p)
{
    switch (p) {
    case SJ_TSET_SUBJECT:
        return SJ_EMAIL_MAX_SUBJECT;
    case SJ_TSET_APP_TITLE:
        return SJ_TSET_MAX_LINE;
    case SJ_TSET_LINK:
        return SJ_TSET_MAX_LINK;
    default:
        return SJ_TSET_MAX_PART;
    }
}

bool sj_tset_lang(const char *code, sj_lang_t *lang)
{
    for (int l = 0; code && l < SJ_TSET_N_LANGS; l++)
        if (!strcmp(code, sj_lang_code((sj_lang_t)l))) {
            if (lang) *lang = (sj_lang_t)l;
            return true;
        }
    return false;
}

/* out = "dir/file", or SJ_ERR_INPUT when that does not fit. */
static sj_status_t join(char out[PATH_LEN], const char *dir, const char *file,
                        char *errstr, size_t errstr_size)
{
    int n = snprintf(out, PATH_LEN, "%s/%s", dir, file);
    if (n >= 0 && n < PATH_LEN) return SJ_OK;
    sj_seterr(errstr, errstr_size, "path too long: %.200s.../%s", dir, file);
    return SJ_ERR_INPUT;
}

static bool is_dir(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* Reads the regular file at path (at most max bytes) into a new
 * NUL-terminated buffer (free() it). */
static sj_status_t slurp(const char *path, size_t max, char **text, size_t *len,
                         char *errstr, size_t errstr_size)
{
    *text = NULL;
    FILE *f = fopen(path, "rb");
    struct stat sb;
    if (!f || fstat(fileno(f), &sb) != 0) {
        int e = errno;
        sj_seterr(errstr, errstr_size, "%s: cannot open: %s", path, strerror(e));
        if (f) fclose(f);
        return e == ENOENT ? SJ_ERR_INPUT : SJ_ERR_IO;
    }
    sj_status_t st = SJ_OK;
    if (!S_ISREG(sb.st_mode)) {
        sj_seterr(errstr, errstr_size, "%s: not a regular file", path);
        st = SJ_ERR_INPUT;
    } else if ((uint64_t)sb.st_size > max) {
        sj_seterr(errstr, errstr_size, "%s: larger than the limit of %zu bytes", path,
                  max);
        st = SJ_ERR_TOO_BIG;
    } else if (!(*text = malloc((size_t)sb.st_size + 1))) {
        st = SJ_ERR_NOMEM;
    } else if ((*len = fread(*text, 1, (size_t)sb.st_size, f)) != (size_t)sb.st_size) {
        sj_seterr(errstr, errstr_size, "%s: read error", path);
        st = SJ_ERR_IO;
    } else {
        (*text)[*len] = '\0';
    }
    fclose(f);
    if (st == SJ_ERR_NOMEM) sj_seterr(errstr, errstr_size, "out of memory");
    if (st != SJ_OK) {
        free(*text);
        *text = NULL;
    }
    return st;
}

/* Compiles the template file at path, named by its path in errors. */
static sj_status_t compile_file(const char *path, sj_tmpl_t **t, char *errstr,
                                size_t errstr_size)
{
    char *src;
    size_t len;
    sj_status_t st = slurp(path, SJ_TMPL_MAX_SOURCE, &src, &len, errstr, errstr_size);
    if (st != SJ_OK) return st;
    sj_tmpl_error_t err;
    *t = sj_tmpl_compile(path, src, len, &err);
    free(src);
    if (*t) return SJ_OK;
    sj_seterr(errstr, errstr_size, "%s", err.message);
    return err.status ? err.status : SJ_ERR_INPUT;
}

sj_tset_t *sj_tset_new(const char *dir)
{
    sj_tset_t *s = calloc(1, sizeof *s);
    if (s && !(s->dir = strdup(dir ? dir : "."))) {
        free(s);
        return NULL;
    }
    return s;
}

void sj_tset_put(sj_tset_t *s, sj_tset_part_t p, sj_tmpl_t *t)
{
    if ((unsigned)p >= SJ_TSET_PARTS) return;
    sj_tmpl_destroy(s->t[p]);
    s->t[p] = t;
}

void sj_tset_destroy(sj_tset_t *s)
{
    if (!s) return;
    for (int p = 0; p < SJ_TSET_PARTS; p++) sj_tmpl_destroy(s->t[p]);
    free(s->dir);
    free(s);
}

const char *sj_tset_dir(const sj_tset_t *s)
{
    return s->dir;
}

const sj_tmpl_t *sj_tset_part(const sj_tset_t *s, sj_tset_part_t p)
{
    return (unsigned)p < SJ_TSET_PARTS ? s->t[p] : NULL;
}

sj_status_t sj_tset_load(const char *dir, sj_tset_t **out, char *errstr,
                         size_t errstr_size)
{
    *out = NULL;
    if (!is_dir(dir)) {
        sj_seterr(errstr, errstr_size,
                  "%s: no templates for this campaign, variant and language", dir);
        return SJ_ERR_INPUT;
    }
    sj_tset_t *s = sj_tset_new(dir);
    sj_status_t st = s ? SJ_OK : SJ_ERR_NOMEM;
    if (!s) sj_seterr(errstr, errstr_size, "out of memory");
    for (int p = 0; p < SJ_TSET_PARTS && st == SJ_OK; p++) {
        char path[PATH_LEN];
        struct stat sb;
        st = join(path, dir, part_files[p], errstr, errstr_size);
        if (st == SJ_OK && stat(path, &sb) == 0)
            st = compile_file(path, &s->t[p], errstr, errstr_size);
    }
    if (st != SJ_OK) {
        sj_tset_destroy(s);
        return st;
    }
    *out = s;
    return SJ_OK;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
}

/* The regular files DIR/NAME.mustache, sorted so that errors and overrides
 * do not depend on the order of directory entries. */
static sj_status_t list_partials(const char *dir, char ***names, size_t *count,
                                 char *errstr, size_t errstr_size)
{
    *names = NULL;
    *count = 0;
    DIR *d = opendir(dir);
    if (!d) {
        int e = errno;
        sj_seterr(errstr, errstr_size, "cannot open partials directory %s: %s", dir,
                  strerror(e));
        return e == ENOENT || e == ENOTDIR ? SJ_ERR_INPUT : SJ_ERR_IO;
    }
    const size_t ext = strlen(MUSTACHE_EXT);
    char **v = calloc(SJ_TSET_MAX_PARTIALS, sizeof *v);
    size_t n = 0;
    sj_status_t st = v ? SJ_OK : SJ_ERR_NOMEM;
    struct dirent *e;
    while (st == SJ_OK && (e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        char path[PATH_LEN];
        struct stat sb;
        if (e->d_name[0] == '.' || len <= ext ||
            strcmp(e->d_name + len - ext, MUSTACHE_EXT))
            continue;
        if ((st = join(path, dir, e->d_name, errstr, errstr_size)) != SJ_OK) break;
        if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) continue;
        if (n == SJ_TSET_MAX_PARTIALS) {
            sj_seterr(errstr, errstr_size, "more than %d partials in %s",
                      SJ_TSET_MAX_PARTIALS, dir);
            st = SJ_ERR_TOO_BIG;
        } else if (!(v[n++] = strdup(e->d_name))) {
            st = SJ_ERR_NOMEM;
        }
    }
    closedir(d);
    if (st == SJ_ERR_NOMEM) sj_seterr(errstr, errstr_size, "out of memory");
    if (st != SJ_OK) {
        free_names(v, n);
        return st;
    }
    qsort(v, n, sizeof *v, cmp_names);
    *names = v;
    *count = n;
    return SJ_OK;
}

/* Compiles DIR/FILE and, when name is non-NULL, stores it in set as name. */
static sj_status_t add_partial(const char *dir, const char *file, const char *name,
                               sj_tmpl_set_t *set, char *errstr, size_t errstr_size)
{
    char path[PATH_LEN];
    sj_tmpl_t *t = NULL;
    sj_status_t st = join(path, dir, file, errstr, errstr_size);
    if (st == SJ_OK) st = compile_file(path, &t, errstr, errstr_size);
    if (st != SJ_OK || !name) {
        sj_tmpl_destroy(t);
        return st;
    }
    if ((st = sj_tmpl_set_put(set, name, t)) != SJ_OK) {
        sj_tmpl_destroy(t);
        sj_seterr(errstr, errstr_size, "out of memory");
    }
    return st;
}

sj_status_t sj_tset_load_partials(const char *dir, const char *lang, sj_tmpl_set_t *set,
                                  char *errstr, size_t errstr_size)
{
    char **names;
    size_t count;
    sj_status_t st = list_partials(dir, &names, &count, errstr, errstr_size);
    /* Pass 0 stores the shared partials, pass 1 the language's own over them. */
    for (int pass = 0; pass < 2 && st == SJ_OK; pass++)
        for (size_t i = 0; i < count && st == SJ_OK; i++) {
            char *name = strdup(names[i]);
            if (!name) {
                sj_seterr(errstr, errstr_size, "out of memory");
                st = SJ_ERR_NOMEM;
                break;
            }
            name[strlen(name) - strlen(MUSTACHE_EXT)] = '\0';
            char *dot = strrchr(name, '.');
            bool specific = dot && sj_tset_lang(dot + 1, NULL);
            if (specific == (pass == 1)) {
                bool store = !specific || (lang && !strcmp(dot + 1, lang));
                if (specific) *dot = '\0';
                st = add_partial(dir, names[i], store ? name : NULL, set, errstr,
                                 errstr_size);
            }
            free(name);
        }
    free_names(names, count);
    return st;
}

sj_status_t sj_tset_load_root_partials(const char *root, const char *lang,
                                       sj_tmpl_set_t *set, char *errstr,
                                       size_t errstr_size)
{
    char dir[PATH_LEN];
    sj_status_t st = join(dir, root, "_partials", errstr, errstr_size);
    if (st != SJ_OK || !is_dir(dir)) return st;
    return sj_tset_load_partials(dir, lang, set, errstr, errstr_size);
}

sj_status_t sj_tset_load_site(const char *root, json_t **site, char *errstr,
                              size_t errstr_size)
{
    char path[PATH_LEN];
    struct stat sb;
    *site = NULL;
    sj_status_t st = join(path, root, "_site.json", errstr, errstr_size);
    if (st != SJ_OK) return st;
    if (stat(path, &sb) != 0 && (errno == ENOENT || errno == ENOTDIR)) {
        *site = json_object(); /* no branding: generic texts */
        return *site ? SJ_OK : SJ_ERR_NOMEM;
    }
    char *text;
    size_t len;
    if ((st = slurp(path, SJ_TSET_MAX_SITE, &text, &len, errstr, errstr_size)) != SJ_OK)
        return st;
    json_error_t jerr;
    json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    free(text);
    if (!j) {
        sj_seterr(errstr, errstr_size, "%s:%d:%d: %s", path, jerr.line, jerr.column,
                  jerr.text);
        return SJ_ERR_INPUT;
    }
    const json_t *m = json_object_get(j, "municipalities");
    if (!json_is_object(j) || (m && !json_is_object(m))) {
        sj_seterr(errstr, errstr_size,
                  "%s: expected {\"default\": {...}, \"municipalities\": "
                  "{\"<nis>\": {...}}}",
                  path);
        json_decref(j);
        return SJ_ERR_INPUT;
    }
    *site = j;
    return SJ_OK;
}

/* The context being extended and how. */
typedef struct {
    json_t *ctx;
    bool keep; /* SJ_TSET_KEEP_DATA */
    char *errstr;
    size_t errstr_size;
} adder_t;

/* ctx[key] = v (consumed; NULL: value not valid UTF-8). */
static sj_status_t set_value(adder_t *a, const char *key, json_t *v)
{
    if (!v) {
        sj_seterr(a->errstr, a->errstr_size,
                  "cannot set %s in the context: not valid UTF-8", key);
        return SJ_ERR_INPUT;
    }
    if (json_object_set_new(a->ctx, key, v) == 0) return SJ_OK;
    sj_seterr(a->errstr, a->errstr_size, "out of memory");
    return SJ_ERR_NOMEM;
}

/* Whether a derived key is to be left alone: the data has it and wins. */
static bool kept(const adder_t *a, const char *key)
{
    return a->keep && json_object_get(a->ctx, key);
}

/* ctx[key] = value, unless value is NULL or the data's key is kept; force
 * for the explicit values that replace even the data's. */
static sj_status_t put(adder_t *a, const char *key, const char *value, bool force)
{
    if (!value || (!force && kept(a, key))) return SJ_OK;
    return set_value(a, key, json_string(value));
}

/* ctx[key] = "<municipality_url><path><id>" unless the data's key is kept. */
static sj_status_t put_url(adder_t *a, const char *key, const char *path, const char *id)
{
    if (kept(a, key)) return SJ_OK;
    const char *base = json_string_value(json_object_get(a->ctx, "municipality_url"));
    return set_value(
        a, key,
        json_sprintf("%s%s%s", base ? base : SJ_TSET_DEFAULT_URL, path, id ? id : ""));
}

/* A branding text of a _site.json entry: a string, or one per language. */
static const char *site_text(const json_t *entry, const char *key, const char *lang)
{
    const json_t *v = json_object_get(entry, key);
    if (json_is_string(v)) return json_string_value(v);
    const json_t *t = json_object_get(v, lang);
    if (!json_is_string(t)) t = json_object_get(v, "nl");
    return json_is_string(t) ? json_string_value(t) : NULL;
}

/* municipality, municipality_title and municipality_url by the context's nis. */
static sj_status_t add_branding(adder_t *a, const json_t *site, const char *lang)
{
    const char *nis = json_string_value(json_object_get(a->ctx, "nis"));
    const json_t *entry =
        nis ? json_object_get(json_object_get(site, "municipalities"), nis) : NULL;
    if (!entry) entry = json_object_get(site, "default");
    const char *url = site_text(entry, "url", lang);
    sj_status_t st = put(a, "municipality", site_text(entry, "name", lang), false);
    if (st == SJ_OK)
        st = put(a, "municipality_title", site_text(entry, "title", lang), false);
    if (st == SJ_OK)
        st = put(a, "municipality_url", url ? url : SJ_TSET_DEFAULT_URL, false);
    return st;
}

/* Everything but the branding, the dates and the link. */
static sj_status_t add_fields(adder_t *a, const sj_tset_ctx_t *in)
{
    sj_status_t st =
        in->unsubscribe_url
            ? put(a, "unsubscribe_url", in->unsubscribe_url, true)
            : put_url(a, "unsubscribe_url", "/seintje/unsubscribe?id=", in->id);
    if (st == SJ_OK) st = put_url(a, "why_url", "/seintje/why?id=", in->id);
    if (st == SJ_OK) st = put(a, "reason", in->reason, false);
    if (st == SJ_OK) st = put(a, "intent_id", in->id, false);
    if (st == SJ_OK) st = put(a, "campaign", in->campaign, false);
    if (st == SJ_OK) st = put(a, "language", in->language, false);
    if (st == SJ_OK) st = put(a, "channel", in->channel, false);
    char lang_key[16];
    snprintf(lang_key, sizeof lang_key, "lang_%s", in->language);
    if (st == SJ_OK && !kept(a, lang_key)) st = set_value(a, lang_key, json_true());
    if (st == SJ_OK && in->given_name && in->given_name[0])
        st = put(a, "given_name", in->given_name, false);
    return st;
}

/* <key>_long and <key>_weekday for every date, in the message language. */
static sj_status_t add_dates(adder_t *a, sj_lang_t lang, const char *source)
{
    char why[1024];
    sj_status_t st = sj_locale_enrich(a->ctx, lang, why, sizeof why);
    if (st != SJ_OK)
        sj_seterr(a->errstr, a->errstr_size, "%s%s%s", source ? source : "",
                  source ? ": " : "", why);
    return st;
}

/* The deep link last: every other part may use {{link}}. */
static sj_status_t add_link(adder_t *a, const sj_tset_t *s, const sj_tmpl_set_t *partials,
                            const char *link)
{
    if (link) return put(a, "link", link, true);
    if (kept(a, "link")) return SJ_OK;
    if (!s->t[SJ_TSET_LINK])
        return put(a, "link",
                   json_string_value(json_object_get(a->ctx, "municipality_url")), true);
    sj_buf_t b;
    sj_buf_init(&b, sj_tset_part_max(SJ_TSET_LINK));
    sj_status_t st =
        sj_tset_render(s, SJ_TSET_LINK, partials, a->ctx, &b, a->errstr, a->errstr_size);
    if (st == SJ_OK) st = put(a, "link", sj_buf_cstr(&b), true);
    sj_buf_free(&b);
    return st;
}

sj_status_t sj_tset_context(const sj_tset_t *s, const sj_tmpl_set_t *partials,
                            const json_t *site, json_t *ctx, const sj_tset_ctx_t *in,
                            char *errstr, size_t errstr_size)
{
    adder_t a = {ctx, (in->flags & SJ_TSET_KEEP_DATA) != 0, errstr, errstr_size};
    sj_lang_t lang;
    if (!json_is_object(ctx)) {
        sj_seterr(errstr, errstr_size, "the context must be a JSON object");
        return SJ_ERR_INPUT;
    }
    if (!sj_tset_lang(in->language, &lang)) {
        sj_seterr(errstr, errstr_size, "language '%.16s' is not nl, fr, de or en",
                  in->language ? in->language : "");
        return SJ_ERR_INPUT;
    }
    sj_status_t st = add_branding(&a, site, in->language);
    if (st == SJ_OK) st = add_fields(&a, in);
    if (st == SJ_OK) st = add_dates(&a, lang, in->source);
    if (st == SJ_OK) st = add_link(&a, s, partials, in->link);
    return st;
}

static void rtrim(sj_buf_t *b)
{
    while (b->len > 0 && (b->data[b->len - 1] == '\n' || b->data[b->len - 1] == '\r' ||
                          b->data[b->len - 1] == ' ' || b->data[b->len - 1] == '\t'))
        b->data[--b->len] = '\0';
}

sj_status_t sj_tset_render(const sj_tset_t *s, sj_tset_part_t p,
                           const sj_tmpl_set_t *partials, const json_t *ctx,
                           sj_buf_t *out, char *errstr, size_t errstr_size)
{
    sj_buf_reset(out);
    if ((unsigned)p >= SJ_TSET_PARTS || !s->t[p]) {
        sj_seterr(errstr, errstr_size, "%s/%s: missing", s->dir,
                  (unsigned)p < SJ_TSET_PARTS ? part_files[p] : "?");
        return SJ_ERR_INPUT;
    }
    sj_tmpl_error_t err;
    unsigned flags = p == SJ_TSET_HTML ? 0 : SJ_TMPL_NO_ESCAPE;
    sj_status_t st = sj_tmpl_render(s->t[p], partials, ctx, flags, out, &err);
    if (st != SJ_OK)
        sj_seterr(errstr, errstr_size, "%s", err.message);
    else if (p != SJ_TSET_TEXT && p != SJ_TSET_HTML)
        rtrim(out);
    return st;
}

/* A rendered part as an e-mail span. */
static sj_email_span_t span(const sj_buf_t *b)
{
    sj_email_span_t sp = {sj_buf_cstr(b), b->len};
    return sp;
}

sj_status_t sj_tset_email(const sj_tset_t *s, const sj_tmpl_set_t *partials,
                          const json_t *ctx, const sj_email_t *base, sj_buf_t *out,
                          char *errstr, size_t errstr_size)
{
    static const sj_tset_part_t parts[3] = {SJ_TSET_SUBJECT, SJ_TSET_TEXT, SJ_TSET_HTML};
    sj_buf_t b[3];
    sj_status_t st = SJ_OK;
    for (int i = 0; i < 3; i++) sj_buf_init(&b[i], sj_tset_part_max(parts[i]));
    for (int i = 0; i < 3 && st == SJ_OK; i++)
        if (parts[i] != SJ_TSET_HTML || s->t[SJ_TSET_HTML])
            st = sj_tset_render(s, parts[i], partials, ctx, &b[i], errstr, errstr_size);
    if (st == SJ_OK) {
        sj_email_t m = *base;
        m.subject = span(&b[0]);
        m.text = span(&b[1]);
        m.html = s->t[SJ_TSET_HTML] ? span(&b[2]) : sj_email_cstr(NULL);
        m.unsubscribe_url =
            sj_email_cstr(json_string_value(json_object_get(ctx, "unsubscribe_url")));
        char why[512];
        if ((st = sj_email_build(&m, out, why, sizeof why)) != SJ_OK)
            sj_seterr(errstr, errstr_size, "%s: %s", s->dir, why);
    }
    for (int i = 0; i < 3; i++) sj_buf_free(&b[i]);
    return st;
}

sj_status_t sj_tset_sms(const sj_tset_t *s, const sj_tmpl_set_t *partials,
                        const json_t *ctx, size_t max_segments, json_t **out,
                        char *errstr, size_t errstr_size)
{
    *out = NULL;
    sj_buf_t text;
    sj_buf_init(&text, sj_tset_part_max(SJ_TSET_SMS));
    sj_status_t st =
        sj_tset_render(s, SJ_TSET_SMS, partials, ctx, &text, errstr, errstr_size);
    sj_sms_info_t info;
    char why[256];
    if (st == SJ_OK && (st = sj_sms_analyse(sj_buf_cstr(&text), text.len, max_segments,
                                            &info, why, sizeof why)) != SJ_OK)
        sj_seterr(errstr, errstr_size, "%s: %s", sj_tmpl_name(s->t[SJ_TSET_SMS]), why);
    if (st == SJ_OK && !(*out = sj_sms_to_json(sj_buf_cstr(&text), text.len, &info))) {
        sj_seterr(errstr, errstr_size, "out of memory");
        st = SJ_ERR_NOMEM;
    }
    sj_buf_free(&text);
    return st;
}

sj_status_t sj_tset_app(const sj_tset_t *s, const sj_tmpl_set_t *partials,
                        const json_t *ctx, const sj_app_msg_t *base, json_t **out,
                        char *errstr, size_t errstr_size)
{
    *out = NULL;
    sj_buf_t title, body;
    sj_buf_init(&title, sj_tset_part_max(SJ_TSET_APP_TITLE));
    sj_buf_init(&body, sj_tset_part_max(SJ_TSET_APP_BODY));
    sj_status_t st =
        sj_tset_render(s, SJ_TSET_APP_TITLE, partials, ctx, &title, errstr, errstr_size);
    if (st == SJ_OK)
        st = sj_tset_render(s, SJ_TSET_APP_BODY, partials, ctx, &body, errstr,
                            errstr_size);
    if (st == SJ_OK) {
        sj_app_msg_t m = *base;
        m.title = sj_buf_cstr(&title);
        m.title_len = title.len;
        m.body = sj_buf_cstr(&body);
        m.body_len = body.len;
        m.deep_link = json_string_value(json_object_get(ctx, "link"));
        char why[256];
        if (!(*out = sj_app_payload(&m, why, sizeof why))) {
            sj_seterr(errstr, errstr_size, "%s: %s", s->dir, why);
            st = SJ_ERR_INPUT;
        }
    }
    sj_buf_free(&title);
    sj_buf_free(&body);
    return st;
}

sj_status_t sj_tset_add_json(json_t *j, sj_buf_t *out)
{
    char *text = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
    json_decref(j);
    if (!text) return SJ_ERR_NOMEM;
    sj_status_t st = sj_buf_adds(out, text);
    if (st == SJ_OK) st = sj_buf_addc(out, '\n');
    free(text);
    return st;
}

sj_status_t sj_tset_parse_mailbox(const char *s, sj_email_addr_t *addr)
{
    const char *lt = strrchr(s, '<'), *gt = lt ? strchr(lt, '>') : NULL;
    if (lt && gt && gt > lt + 1 && gt[1] == '\0') {
        size_t n = (size_t)(lt - s);
        while (n > 0 && s[n - 1] == ' ') n--;
        addr->name = (sj_email_span_t){s, n};
        addr->address = (sj_email_span_t){lt + 1, (size_t)(gt - lt - 1)};
        return SJ_OK;
    }
    if (lt || strchr(s, '>') || !strchr(s, '@')) return SJ_ERR_INPUT;
    addr->name = (sj_email_span_t){s, 0};
    addr->address = sj_email_cstr(s);
    return SJ_OK;
}
