/* `seintje render`: renders Mustache templates with JSON data and writes the
 * result to stdout, so that communication officers can preview a message as
 * `seintje deliver` would send it and tests can check templates from the shell.
 *
 *     seintje render letter.mustache --data resident.json --partials partials/
 *     seintje render templates/campaigns/id-card-renewal/plain/nl --channel email \
 *         --data context.json --date 2026-12-02T09:00:00Z
 *
 * The text channel (the default) writes exactly the rendered bytes of one
 * file and nothing else. The sms, email and app channels hand the rendered
 * parts to their renderers (sms.h, email.h, app.h) and print what those build:
 * the SMS analysis as JSON, the RFC 5322 message, the app inbox payload. For
 * them TEMPLATE may be a template set, a <campaign>/<variant>/<lang>/
 * directory in the layout deliver reads (templates/tset.h), rendered with
 * the context deliver builds; what deliver takes from the intent, the profile
 * or its configuration (sender, recipient, id, Date, ...) comes from options
 * with preview defaults. The layout, the context additions and the part
 * rules are those of templates/tset.h, which deliver renders with too.
 *
 * Every template and partial is compiled up front, so a broken file is
 * reported with its file, line and column even when the message does not
 * reach it, and stdout gets nothing unless the whole output was built. Unlike
 * the engine, this file does I/O: it is a command. */
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/commands.h"
#include "core/buf.h"
#include "core/common.h"
#include "core/text.h"
#include "core/timeutil.h"
#include "templates/app.h"
#include "templates/email.h"
#include "templates/locale.h"
#include "templates/mustache.h"
#include "templates/sms.h"
#include "templates/tset.h"

#define RENDER_MAX_DATA   (64u << 20) /* bytes of JSON data */
#define RENDER_MAX_OUTPUT (64u << 20) /* bytes of rendered output */
#define PATH_LEN          4096

/* Preview defaults for what deliver takes from its configuration, the intent
 * and the resident's profile. */
#define DEFAULT_FROM   "Gemeente <noreply@example.org>" /* email.from */
#define DEFAULT_TO     "resident@example.org"
#define DEFAULT_DOMAIN "seintje.example.org" /* email.domain */
#define DEFAULT_ID     "preview"

static const char usage_text[] =
    "usage: seintje render TEMPLATE [--data FILE.json] [--partials DIR]\n"
    "                      [--channel text|email|sms|app] [options]\n"
    "\n"
    "Renders a Mustache template with JSON data and writes the result to stdout.\n"
    "  --channel text   TEMPLATE is one file: exactly the rendered bytes (default)\n"
    "  --channel sms    TEMPLATE is one file or a template set: the SMS as JSON\n"
    "                   {\"text\",\"encoding\",\"characters\",\"segments\"}\n"
    "  --channel email  TEMPLATE is a template set: the RFC 5322 MIME message\n"
    "  --channel app    TEMPLATE is a template set: the app inbox payload (JSON)\n"
    "\n"
    "A template set is a <campaign>/<variant>/<lang>/ directory as deliver reads\n"
    "it: email.subject.mustache, email.text.mustache, email.html.mustache\n"
    "(optional), sms.mustache, app.title.mustache, app.body.mustache,\n"
    "link.mustache (optional). Its context is the data plus, where the data lacks\n"
    "them, what deliver adds: municipality, municipality_title and\n"
    "municipality_url from the set's ../../../_site.json by the data's nis,\n"
    "unsubscribe_url, why_url, intent_id, language, lang_<code>, channel, link\n"
    "(link.mustache, else municipality_url). Only the HTML part is HTML-escaped.\n"
    "\n"
    "options:\n"
    "  -d, --data FILE        the context, a JSON document ('-' reads stdin);\n"
    "                         without it the context is {}\n"
    "  -p, --partials DIR     load every DIR/NAME.mustache as partial or parent NAME;\n"
    "                         NAME.<lang>.mustache replaces it in that language;\n"
    "                         default for a template set: its ../../../_partials\n"
    "                         if that exists\n"
    "      --channel CHANNEL  text (default), email, sms or app\n"
    "      --lang LANG        nl, fr, de or en: adds <key>_long and <key>_weekday\n"
    "                         for every YYYY-MM-DD date in the data; default for a\n"
    "                         template set: its directory name\n"
    "      --no-escape        do not HTML-escape {{name}} (channel text only)\n"
    "      --max-segments N   SMS parts allowed, 1..255 (default 3, as deliver)\n"
    "      --id ID            notification id: Message-ID, app id, intent_id and\n"
    "                         the default URLs (default " DEFAULT_ID ")\n"
    "      --from ADDR        e-mail sender, \"Name <address>\" (default\n"
    "                         \"" DEFAULT_FROM "\")\n"
    "      --to ADDR          e-mail recipient, \"Name <address>\" or an address\n"
    "                         (default " DEFAULT_TO "); without a name the\n"
    "                         data's given_name is the display name, as in deliver\n"
    "      --domain DOMAIN    right-hand side of the Message-ID (default\n"
    "                         " DEFAULT_DOMAIN ")\n"
    "      --date TIME        the e-mail Date, RFC 3339 (default now; give one for\n"
    "                         reproducible output)\n"
    "      --unsubscribe URL  https URL for List-Unsubscribe and {{unsubscribe_url}}\n"
    "                         (default <municipality_url>/seintje/unsubscribe?id=ID)\n"
    "      --link URL         the deep link {{link}} and the app's deep_link\n"
    "                         (default: link.mustache, else municipality_url)\n"
    "      --category CAT     app category: informational (default) or\n"
    "                         action-required\n"
    "      --expires TIME     app expires_at, RFC 3339 (default none)\n"
    "  -h, --help             show this help\n"
    "\n"
    "Templates follow the Mustache specification v1.4 with inheritance and dynamic\n"
    "partial names. Exit codes: 0 ok, 1 the output could not be written, 2 bad\n"
    "usage or bad input (template errors name file:line:column; a message that a\n"
    "renderer refuses, e.g. too many SMS parts or CR/LF in a header, names the\n"
    "template or set). Nothing is written to stdout on error.\n";

typedef enum { CH_TEXT = 0, CH_EMAIL, CH_SMS, CH_APP, N_CHANNELS } channel_t;

static const char *const channel_names[N_CHANNELS] = {"text", "email", "sms", "app"};

typedef struct {
    const char *template_path, *data_path, *partials_dir, *channel, *lang;
    const char *max_segments, *id, *from, *to, *domain, *date, *unsubscribe, *link;
    const char *category, *expires;
    unsigned flags;
} render_args_t;

/* Options that take a value: short name (or NULL), long name, where it goes. */
static const struct {
    const char *short_name, *name;
    size_t offset;
} value_options[] = {
    {"-d", "--data", offsetof(render_args_t, data_path)},
    {"-p", "--partials", offsetof(render_args_t, partials_dir)},
    {NULL, "--channel", offsetof(render_args_t, channel)},
    {NULL, "--lang", offsetof(render_args_t, lang)},
    {NULL, "--max-segments", offsetof(render_args_t, max_segments)},
    {NULL, "--id", offsetof(render_args_t, id)},
    {NULL, "--from", offsetof(render_args_t, from)},
    {NULL, "--to", offsetof(render_args_t, to)},
    {NULL, "--domain", offsetof(render_args_t, domain)},
    {NULL, "--date", offsetof(render_args_t, date)},
    {NULL, "--unsubscribe", offsetof(render_args_t, unsubscribe)},
    {NULL, "--link", offsetof(render_args_t, link)},
    {NULL, "--category", offsetof(render_args_t, category)},
    {NULL, "--expires", offsetof(render_args_t, expires)},
};

/* One run of the command; everything in it is owned by it. */
typedef struct {
    render_args_t a;
    channel_t channel;
    bool is_set;            /* TEMPLATE is a template-set directory */
    char set_dir[PATH_LEN]; /* TEMPLATE without trailing slashes */
    char root[PATH_LEN];    /* the templates directory a set lives in */
    const char *lang;       /* "nl", "fr", "de", "en", or NULL when not known */
    size_t max_segments;
    int64_t date_ms;
    sj_tmpl_set_t *partials;
    sj_tmpl_t *file; /* TEMPLATE as a single file */
    sj_tset_t *set;  /* the set, or for --channel sms the single file as its SMS */
    json_t *ctx;
    sj_buf_t out;
} render_t;

static int usage_error(const char *fmt, ...) SJ_PRINTF(1, 2);

static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("seintje render: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\n", stderr);
    va_end(ap);
    return SJ_EXIT_USAGE;
}

/* Reads a file (or stdin for "-"), reporting problems on stderr. */
static int read_input(const char *path, const char *what, size_t max, char **out,
                      size_t *len)
{
    bool is_stdin = strcmp(path, "-") == 0;
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    if (!f) return usage_error("cannot open %s %s: %s", what, path, strerror(errno));
    sj_status_t st = sj_read_stream(f, max, out, len);
    int saved = errno;
    if (!is_stdin) fclose(f);
    if (st == SJ_ERR_TOO_BIG)
        return usage_error("%s %s is larger than the limit of %zu bytes", what,
                           is_stdin ? "<stdin>" : path, max);
    if (st != SJ_OK)
        return usage_error("cannot read %s %s: %s", what, is_stdin ? "<stdin>" : path,
                           st == SJ_ERR_NOMEM ? "out of memory" : strerror(saved));
    return SJ_EXIT_OK;
}

static int load_data(const char *path, json_t **data)
{
    if (!path) {
        *data = json_object();
        return *data ? SJ_EXIT_OK : usage_error("out of memory");
    }
    char *text;
    size_t len;
    int rc = read_input(path, "data file", RENDER_MAX_DATA, &text, &len);
    if (rc != SJ_EXIT_OK) return rc;
    json_error_t jerr;
    *data = json_loadb(text, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
    free(text);
    if (!*data)
        return usage_error("%s:%d:%d: %s", strcmp(path, "-") == 0 ? "<stdin>" : path,
                           jerr.line, jerr.column, jerr.text);
    return SJ_EXIT_OK;
}

/* Compiles one template file; errors name the file as given. */
static int compile_file(const char *path, const char *what, sj_tmpl_t **out)
{
    char *src;
    size_t len;
    int rc = read_input(path, what, (size_t)SJ_TMPL_MAX_SOURCE, &src, &len);
    if (rc != SJ_EXIT_OK) return rc;
    sj_tmpl_error_t err;
    *out = sj_tmpl_compile(path, src, len, &err);
    free(src);
    return *out ? SJ_EXIT_OK : usage_error("%s", err.message);
}

static int parse_args(int argc, char **argv, render_args_t *a)
{
    bool options_done = false;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *val = NULL;
        if (!options_done && arg[0] == '-' && arg[1] != '\0') {
            if (!strcmp(arg, "--")) {
                options_done = true;
                continue;
            }
            if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) return -1;
            if (!strcmp(arg, "--no-escape")) {
                a->flags |= SJ_TMPL_NO_ESCAPE;
                continue;
            }
            size_t k;
            for (k = 0; k < SJ_ARRAY_LEN(value_options); k++) {
                const char *s = value_options[k].short_name, *l = value_options[k].name;
                size_t ln = strlen(l);
                if ((s && !strcmp(arg, s)) || !strcmp(arg, l)) {
                    if (i + 1 >= argc) return usage_error("%s needs a value", arg);
                    val = argv[++i];
                    break;
                }
                if (!strncmp(arg, l, ln) && arg[ln] == '=') {
                    val = arg + ln + 1;
                    break;
                }
            }
            if (k == SJ_ARRAY_LEN(value_options))
                return usage_error("unknown option '%s' (see seintje render --help)",
                                   arg);
            *(const char **)((char *)a + value_options[k].offset) = val;
            continue;
        }
        if (a->template_path)
            return usage_error("one template at a time: '%s' and '%s' (see --help)",
                               a->template_path, arg);
        a->template_path = arg;
    }
    if (!a->template_path)
        return usage_error("no template given (see seintje render --help)");
    return SJ_EXIT_OK;
}

/* Checks the options that do not depend on TEMPLATE and converts them. */
static int check_options(render_t *r)
{
    const render_args_t *a = &r->a;
    int c;
    for (c = 0; c < N_CHANNELS && strcmp(a->channel, channel_names[c]); c++) continue;
    if (c == N_CHANNELS)
        return usage_error("unknown channel '%s' (text, email, sms or app)", a->channel);
    r->channel = (channel_t)c;
    if ((a->flags & SJ_TMPL_NO_ESCAPE) && r->channel != CH_TEXT)
        return usage_error("--no-escape applies to --channel text only (the other "
                           "channels escape the HTML part only, as deliver does)");
    r->max_segments = SJ_SMS_SEND_MAX_SEGMENTS;
    if (a->max_segments) {
        uint64_t n;
        if (r->channel != CH_SMS)
            return usage_error("--max-segments applies to --channel sms only");
        if (sj_parse_u64(a->max_segments, strlen(a->max_segments), &n) != SJ_OK ||
            n < 1 || n > SJ_SMS_MAX_SEGMENTS)
            return usage_error("--max-segments '%s' is not a number from 1 to %d",
                               a->max_segments, SJ_SMS_MAX_SEGMENTS);
        r->max_segments = (size_t)n;
    }
    char err[256];
    sj_lang_t lang;
    if (a->lang && sj_lang_parse(a->lang, &lang, err, sizeof err) != SJ_OK)
        return usage_error("--lang: %s", err);
    if (a->lang) r->lang = sj_lang_code(lang);
    r->date_ms = sj_now_ms();
    if (a->date && sj_time_parse_rfc3339(a->date, strlen(a->date), &r->date_ms) != SJ_OK)
        return usage_error("--date '%s' is not an RFC 3339 time such as "
                           "2026-12-02T09:00:00Z",
                           a->date);
    return SJ_EXIT_OK;
}

/* The language a set's directory name says, or NULL. */
static const char *lang_of_dir(const char *dir)
{
    const char *base = strrchr(dir, '/');
    sj_lang_t lang;
    return sj_tset_lang(base ? base + 1 : dir, &lang) ? sj_lang_code(lang) : NULL;
}

/* root = the directory three levels above the set, written as the user would
 * ("templates/campaigns" for "templates/campaigns/x/plain/nl/") when the path
 * names those levels, else with "/../../..". */
static void set_root(render_t *r)
{
    char tmp[PATH_LEN];
    snprintf(tmp, sizeof tmp, "%s", r->set_dir);
    int levels = 0;
    for (; levels < 3; levels++) {
        char *slash = strrchr(tmp, '/');
        const char *base = slash ? slash + 1 : tmp;
        if (!*base || !strcmp(base, ".") || !strcmp(base, "..")) break;
        if (!slash) { /* "campaign/variant/nl": the root is "." */
            if (levels == 2) snprintf(tmp, sizeof tmp, ".");
            levels += levels == 2;
            break;
        }
        if (slash == tmp) break; /* "/campaign/...": keep the literal form */
        *slash = '\0';
    }
    if (levels == 3)
        snprintf(r->root, sizeof r->root, "%s", tmp);
    else
        snprintf(r->root, sizeof r->root, "%.4000s/../../..", r->set_dir);
}

/* Decides between a single file and a template set, and the language. */
static int check_template(render_t *r)
{
    const char *path = r->a.template_path;
    struct stat sb;
    if (!strcmp(path, "-")) { /* the template from stdin */
        sb.st_mode = S_IFREG;
    } else if (stat(path, &sb) != 0)
        return usage_error("cannot open template %s: %s", path, strerror(errno));
    r->is_set = S_ISDIR(sb.st_mode);
    if (r->is_set && r->channel == CH_TEXT)
        return usage_error("%s is a directory: --channel text renders one template "
                           "file (a template set needs --channel email, sms or app)",
                           path);
    if (!r->is_set && (r->channel == CH_EMAIL || r->channel == CH_APP))
        return usage_error("%s: --channel %s needs a template set, a directory "
                           "<campaign>/<variant>/<lang>/ (see --help)",
                           path, channel_names[r->channel]);
    if (!r->is_set) return SJ_EXIT_OK;
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/') n--;
    if (n >= sizeof r->set_dir) return usage_error("path too long: %s", path);
    memcpy(r->set_dir, path, n);
    r->set_dir[n] = '\0';
    set_root(r);
    if (!r->lang) r->lang = lang_of_dir(r->set_dir);
    if (!r->lang)
        return usage_error("%s: cannot tell the language of this template set: name "
                           "the directory nl, fr, de or en, or give --lang",
                           r->set_dir);
    return SJ_EXIT_OK;
}

/* Partials: --partials, else a set's <root>/_partials when it exists. */
static int load_all_partials(render_t *r)
{
    char err[512];
    sj_status_t st = SJ_OK;
    if (!(r->partials = sj_tmpl_set_new())) return usage_error("out of memory");
    if (r->a.partials_dir)
        st = sj_tset_load_partials(r->a.partials_dir, r->lang, r->partials, err,
                                   sizeof err);
    else if (r->is_set)
        st = sj_tset_load_root_partials(r->root, r->lang, r->partials, err, sizeof err);
    return st == SJ_OK ? SJ_EXIT_OK : usage_error("%s", err);
}

/* Whether the channel needs part p of a set. */
static bool part_needed(channel_t ch, sj_tset_part_t p)
{
    switch (ch) {
    case CH_EMAIL:
        return p == SJ_TSET_SUBJECT || p == SJ_TSET_TEXT;
    case CH_SMS:
        return p == SJ_TSET_SMS;
    case CH_APP:
        return p == SJ_TSET_APP_TITLE || p == SJ_TSET_APP_BODY;
    default:
        return false;
    }
}

/* Compiles every file of the set that exists, as deliver does, so a broken
 * app title fails the e-mail preview just as it would fail the delivery. */
static int load_set(render_t *r)
{
    char err[512];
    if (sj_tset_load(r->set_dir, &r->set, err, sizeof err) != SJ_OK)
        return usage_error("%s", err);
    for (int p = 0; p < SJ_TSET_PARTS; p++)
        if (part_needed(r->channel, (sj_tset_part_t)p) &&
            !sj_tset_part(r->set, (sj_tset_part_t)p))
            return usage_error("%s/%s: missing (--channel %s needs it)", r->set_dir,
                               sj_tset_part_file((sj_tset_part_t)p),
                               channel_names[r->channel]);
    return SJ_EXIT_OK;
}

/* A single file; for --channel sms it is the SMS part of a set of its own, so
 * it renders by the same rules. */
static int load_file(render_t *r)
{
    int rc = compile_file(r->a.template_path, "template", &r->file);
    if (rc != SJ_EXIT_OK || r->channel != CH_SMS) return rc;
    if (!(r->set = sj_tset_new(r->a.template_path))) return usage_error("out of memory");
    sj_tset_put(r->set, SJ_TSET_SMS, r->file);
    r->file = NULL;
    return SJ_EXIT_OK;
}

/* The data file as errors name it. */
static const char *data_name(const render_t *r)
{
    if (!r->a.data_path) return "context";
    return strcmp(r->a.data_path, "-") ? r->a.data_path : "<stdin>";
}

/* The context deliver builds around the intent's (templates/tset.h), with
 * the data in the intent's place; the data wins, options win over the data. */
static int build_set_context(render_t *r)
{
    if (!json_is_object(r->ctx))
        return usage_error("%s: the context of a template set must be a JSON object",
                           data_name(r));
    char err[1024];
    json_t *site;
    sj_tset_ctx_t in = {.id = r->a.id,
                        .language = r->lang,
                        .channel = channel_names[r->channel],
                        .unsubscribe_url = r->a.unsubscribe,
                        .link = r->a.link,
                        .source = data_name(r),
                        .flags = SJ_TSET_KEEP_DATA};
    sj_status_t st = sj_tset_load_site(r->root, &site, err, sizeof err);
    if (st == SJ_OK)
        st = sj_tset_context(r->set, r->partials, site, r->ctx, &in, err, sizeof err);
    json_decref(site);
    return st == SJ_OK ? SJ_EXIT_OK : usage_error("%s", err);
}

/* <key>_long and <key>_weekday for every date of a single file's data. */
static int enrich(render_t *r)
{
    sj_lang_t lang;
    char err[256];
    if (sj_lang_parse(r->lang, &lang, err, sizeof err) != SJ_OK ||
        sj_locale_enrich(r->ctx, lang, err, sizeof err) != SJ_OK)
        return usage_error("%s: %s", data_name(r), err);
    return SJ_EXIT_OK;
}

static int build_context(render_t *r)
{
    int rc = load_data(r->a.data_path, &r->ctx);
    if (rc != SJ_EXIT_OK) return rc;
    if (r->is_set) return build_set_context(r);
    return r->lang ? enrich(r) : SJ_EXIT_OK;
}

/* --from or --to as an e-mail address. */
static int mailbox(const char *opt, const char *s, sj_email_addr_t *addr)
{
    if (sj_tset_parse_mailbox(s, addr) != SJ_OK)
        return usage_error("%s is not \"Name <address>\" or an address", opt);
    return SJ_EXIT_OK;
}

static int build_email(render_t *r)
{
    sj_email_t m = {.notification_id = sj_email_cstr(r->a.id),
                    .domain = sj_email_cstr(r->a.domain),
                    .date_ms = r->date_ms};
    int rc = mailbox("--from", r->a.from, &m.from);
    if (rc == SJ_EXIT_OK) rc = mailbox("--to", r->a.to, &m.to);
    if (rc != SJ_EXIT_OK) return rc;
    if (m.to.name.len == 0) /* as deliver names the resident from the profile */
        m.to.name =
            sj_email_cstr(json_string_value(json_object_get(r->ctx, "given_name")));
    char err[1024];
    if (sj_tset_email(r->set, r->partials, r->ctx, &m, &r->out, err, sizeof err) != SJ_OK)
        return usage_error("%s", err);
    return SJ_EXIT_OK;
}

/* Appends j (consumed) as the outbox writes it. */
static int add_json(render_t *r, json_t *j)
{
    sj_status_t st = sj_tset_add_json(j, &r->out);
    if (st == SJ_ERR_NOMEM) return usage_error("out of memory");
    return st == SJ_OK ? SJ_EXIT_OK : usage_error("the output is too large");
}

static int build_sms(render_t *r)
{
    char err[1024];
    json_t *j;
    if (sj_tset_sms(r->set, r->partials, r->ctx, r->max_segments, &j, err, sizeof err) !=
        SJ_OK)
        return usage_error("%s", err);
    return add_json(r, j);
}

static int build_app(render_t *r)
{
    sj_app_msg_t m = {.id = r->a.id,
                      .language = r->lang,
                      .category = r->a.category,
                      .expires_at = r->a.expires};
    char err[1024];
    json_t *j;
    if (sj_tset_app(r->set, r->partials, r->ctx, &m, &j, err, sizeof err) != SJ_OK)
        return usage_error("%s", err);
    return add_json(r, j);
}

static int build_text(render_t *r)
{
    sj_tmpl_error_t err;
    if (sj_tmpl_render(r->file, r->partials, r->ctx, r->a.flags, &r->out, &err) != SJ_OK)
        return usage_error("%s", err.message);
    return SJ_EXIT_OK;
}

/* Everything up to the complete output in r->out; nothing is printed but
 * errors. */
static int run(render_t *r)
{
    int rc = check_options(r);
    if (rc == SJ_EXIT_OK) rc = check_template(r);
    if (rc == SJ_EXIT_OK) rc = load_all_partials(r);
    if (rc == SJ_EXIT_OK) rc = r->is_set ? load_set(r) : load_file(r);
    if (rc == SJ_EXIT_OK) rc = build_context(r);
    if (rc != SJ_EXIT_OK) return rc;
    switch (r->channel) {
    case CH_EMAIL:
        return build_email(r);
    case CH_SMS:
        return build_sms(r);
    case CH_APP:
        return build_app(r);
    default:
        return build_text(r);
    }
}

int sj_cmd_render(int argc, char **argv)
{
    render_t r = {.a = {.channel = "text",
                        .id = DEFAULT_ID,
                        .from = DEFAULT_FROM,
                        .to = DEFAULT_TO,
                        .domain = DEFAULT_DOMAIN,
                        .category = "informational"}};
    int rc = parse_args(argc, argv, &r.a);
    if (rc < 0) {
        fputs(usage_text, stdout);
        return SJ_EXIT_OK;
    }
    if (rc != SJ_EXIT_OK) return rc;
    sj_buf_init(&r.out, RENDER_MAX_OUTPUT);
    rc = run(&r);
    if (rc == SJ_EXIT_OK) {
        if (fwrite(sj_buf_cstr(&r.out), 1, r.out.len, stdout) != r.out.len ||
            fflush(stdout) != 0) {
            fprintf(stderr, "seintje render: cannot write the output: %s\n",
                    strerror(errno));
            rc = SJ_EXIT_FAILURE;
        }
    }
    sj_buf_free(&r.out);
    sj_tmpl_destroy(r.file);
    sj_tset_destroy(r.set);
    sj_tmpl_set_destroy(r.partials);
    json_decref(r.ctx);
    return rc;
}
