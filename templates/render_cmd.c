/* `seintje render`: renders one Mustache template file with JSON data and
 * writes the result to stdout, so that communication officers can preview a
 * message and tests can check templates from the shell.
 *
 *     seintje render letter.mustache --data resident.json --partials partials/
 *
 * The text channel (the default) writes exactly the rendered bytes and
 * nothing else. The email, sms and app channels belong to their renderers;
 * until those are wired in, asking for them is an honest usage error rather
 * than a look-alike result. Partials come from DIR/NAME.mustache files, all
 * loaded up front so that a broken partial is reported with its file, line
 * and column even when the template does not reach it. Unlike the engine,
 * this file does I/O: it is a command. */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/commands.h"
#include "core/buf.h"
#include "core/common.h"
#include "templates/mustache.h"

#define RENDER_MAX_DATA     (64u << 20) /* bytes of JSON data */
#define RENDER_MAX_OUTPUT   (64u << 20) /* bytes of rendered output */
#define RENDER_MAX_PARTIALS 4096        /* files in --partials DIR */
#define PARTIAL_EXT         ".mustache"

static const char usage_text[] =
    "usage: seintje render TEMPLATE [--data FILE.json] [--partials DIR] [--channel "
    "text]\n"
    "                      [--no-escape]\n"
    "\n"
    "Renders the Mustache template in the file TEMPLATE and writes the result to\n"
    "stdout: exactly the rendered bytes, nothing added.\n"
    "\n"
    "options:\n"
    "  -d, --data FILE        the context, a JSON document ('-' reads stdin);\n"
    "                         without it the context is {}\n"
    "  -p, --partials DIR     load every DIR/NAME.mustache as partial or parent NAME\n"
    "      --channel CHANNEL  text (default); email, sms and app are not available yet\n"
    "      --no-escape        do not HTML-escape {{name}} (for plain text)\n"
    "  -h, --help             show this help\n"
    "\n"
    "Templates follow the Mustache specification v1.4 with inheritance and dynamic\n"
    "partial names. Exit codes: 0 ok, 1 the output could not be written, 2 bad\n"
    "usage or bad input (errors name file:line:column).\n";

typedef struct {
    const char *template_path;
    const char *data_path;
    const char *partials_dir;
    const char *channel;
    unsigned flags;
} render_args_t;

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

/* Reads a whole stream into a new NUL-terminated buffer (free() it). Fails
 * with SJ_ERR_TOO_BIG past max bytes, SJ_ERR_IO on a read error. */
static sj_status_t read_stream(FILE *f, size_t max, char **out, size_t *len)
{
    sj_buf_t b;
    sj_buf_init(&b, max);
    char chunk[65536];
    size_t n;
    sj_status_t st = SJ_OK;
    while (st == SJ_OK && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        st = sj_buf_add(&b, chunk, n);
    if (st == SJ_OK && ferror(f)) st = SJ_ERR_IO;
    if (st != SJ_OK) {
        sj_buf_free(&b);
        return st;
    }
    *out = sj_buf_detach(&b, len);
    return *out ? SJ_OK : SJ_ERR_NOMEM;
}

/* Reads a file (or stdin for "-"), reporting problems on stderr. */
static int read_input(const char *path, const char *what, size_t max, char **out,
                      size_t *len)
{
    bool is_stdin = strcmp(path, "-") == 0;
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    if (!f) return usage_error("cannot open %s %s: %s", what, path, strerror(errno));
    sj_status_t st = read_stream(f, max, out, len);
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

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Lists DIR/NAME.mustache regular files, sorted so errors come in a stable order. */
static int list_partials(const char *dir, char ***names, size_t *count)
{
    DIR *d = opendir(dir);
    if (!d)
        return usage_error("cannot open partials directory %s: %s", dir, strerror(errno));
    size_t ext = strlen(PARTIAL_EXT), n = 0;
    char **v = calloc(RENDER_MAX_PARTIALS, sizeof *v);
    int rc = v ? SJ_EXIT_OK : usage_error("out of memory");
    struct dirent *e;
    while (rc == SJ_EXIT_OK && (e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (e->d_name[0] == '.' || len <= ext ||
            strcmp(e->d_name + len - ext, PARTIAL_EXT))
            continue;
        char path[4096];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) continue;
        if (n == RENDER_MAX_PARTIALS)
            rc = usage_error("more than %d partials in %s", RENDER_MAX_PARTIALS, dir);
        else if (!(v[n++] = strdup(e->d_name)))
            rc = usage_error("out of memory");
    }
    closedir(d);
    if (v) qsort(v, n, sizeof *v, cmp_names);
    *names = v;
    *count = n;
    return rc;
}

static int load_partials(const char *dir, sj_tmpl_set_t *set)
{
    char **names = NULL;
    size_t count = 0;
    int rc = list_partials(dir, &names, &count);
    for (size_t i = 0; i < count && rc == SJ_EXIT_OK; i++) {
        char path[4096];
        int plen = snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (plen < 0 || (size_t)plen >= sizeof path) {
            rc = usage_error("path too long: %s/%s", dir, names[i]);
            break;
        }
        sj_tmpl_t *t;
        if ((rc = compile_file(path, "partial", &t)) != SJ_EXIT_OK) break;
        names[i][strlen(names[i]) - strlen(PARTIAL_EXT)] = '\0';
        if (sj_tmpl_set_put(set, names[i], t) != SJ_OK) {
            sj_tmpl_destroy(t);
            rc = usage_error("out of memory");
        }
    }
    for (size_t i = 0; i < count; i++) free(names[i]);
    free(names);
    return rc;
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
            const char *opts[][2] = {
                {"-d", "--data"}, {"-p", "--partials"}, {"", "--channel"}};
            const char **slot[] = {&a->data_path, &a->partials_dir, &a->channel};
            size_t k;
            for (k = 0; k < SJ_ARRAY_LEN(opts); k++) {
                size_t ln = strlen(opts[k][1]);
                if (!strcmp(arg, opts[k][0]) || !strcmp(arg, opts[k][1])) {
                    if (i + 1 >= argc) return usage_error("%s needs a value", arg);
                    val = argv[++i];
                    break;
                }
                if (!strncmp(arg, opts[k][1], ln) && arg[ln] == '=') {
                    val = arg + ln + 1;
                    break;
                }
            }
            if (k == SJ_ARRAY_LEN(opts))
                return usage_error("unknown option '%s' (see seintje render --help)",
                                   arg);
            *slot[k] = val;
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

static int check_channel(const char *channel)
{
    if (!strcmp(channel, "text")) return SJ_EXIT_OK;
    if (!strcmp(channel, "email") || !strcmp(channel, "sms") || !strcmp(channel, "app"))
        return usage_error("channel '%s' is not available yet", channel);
    return usage_error("unknown channel '%s' (text, email, sms or app)", channel);
}

int sj_cmd_render(int argc, char **argv)
{
    render_args_t a = {.channel = "text"};
    int rc = parse_args(argc, argv, &a);
    if (rc < 0) {
        fputs(usage_text, stdout);
        return SJ_EXIT_OK;
    }
    if (rc != SJ_EXIT_OK) return rc;
    if ((rc = check_channel(a.channel)) != SJ_EXIT_OK) return rc;

    json_t *data = NULL;
    sj_tmpl_t *t = NULL;
    sj_tmpl_set_t *set = sj_tmpl_set_new();
    sj_buf_t out;
    sj_buf_init(&out, RENDER_MAX_OUTPUT);
    if (!set) rc = usage_error("out of memory");
    if (rc == SJ_EXIT_OK && a.partials_dir) rc = load_partials(a.partials_dir, set);
    if (rc == SJ_EXIT_OK) rc = compile_file(a.template_path, "template", &t);
    if (rc == SJ_EXIT_OK) rc = load_data(a.data_path, &data);
    if (rc == SJ_EXIT_OK) {
        sj_tmpl_error_t err;
        if (sj_tmpl_render(t, set, data, a.flags, &out, &err) != SJ_OK)
            rc = usage_error("%s", err.message);
    }
    if (rc == SJ_EXIT_OK) {
        if (fwrite(sj_buf_cstr(&out), 1, out.len, stdout) != out.len ||
            fflush(stdout) != 0) {
            fprintf(stderr, "seintje render: cannot write the output: %s\n",
                    strerror(errno));
            rc = SJ_EXIT_FAILURE;
        }
    }
    sj_buf_free(&out);
    sj_tmpl_destroy(t);
    sj_tmpl_set_destroy(set);
    json_decref(data);
    return rc;
}
