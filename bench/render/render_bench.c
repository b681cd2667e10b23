/* Rendering benchmark, C side: Seintje's Mustache engine (templates/mustache.h)
 * on the cases of a manifest (bench/render/cases.json). Every template and
 * partial is compiled once up front and every data file loaded once; then each
 * case is rendered once into DIR/<case>.out (--write DIR, for the byte-for-byte
 * comparison with mustache.js) and rendered again and again for --seconds per
 * case after an untimed warm-up. bench/render_vs_mustachejs.sh runs this
 * beside bench/render/render_bench.js, which does the same with mustache.js;
 * the two take the same options and print the same lines.
 *
 *     render_bench --root . --write /tmp/out --seconds 1 bench/render/cases.json
 *
 * A render reuses one output buffer (reset, not freed, between renders), as a
 * delivery worker that renders message after message would. Results go to
 * stdout as tab-separated lines, errors to stderr:
 *
 *     engine   seintje   optimized|unoptimized, jansson VERSION
 *     case     NAME   RENDERS   SECONDS   BYTES_PER_RENDER
 *     maxrss_kb   KB              (getrusage: peak resident set of the process)
 *
 * This is a benchmark driver, not part of seintje: it prints and exits. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "core/buf.h"
#include "core/common.h"
#include "templates/mustache.h"

#define MAX_CASES  64
#define MAX_OUTPUT (16u << 20) /* bytes of one rendered case */
#define BATCH      16          /* renders between two clock readings */

typedef struct {
    const char *name;   /* borrowed from the manifest */
    sj_tmpl_t *t;       /* owned */
    sj_tmpl_set_t *set; /* owned: the case's partials */
    json_t *data;       /* owned */
    unsigned flags;     /* SJ_TMPL_NO_ESCAPE for "escape": "none" */
} bench_case_t;

static const char usage_text[] =
    "usage: render_bench [--root DIR] [--write DIR] [--seconds S] [--warmup S]\n"
    "                    MANIFEST.json\n"
    "\n"
    "Renders the cases of MANIFEST (bench/render/cases.json) with Seintje's\n"
    "Mustache engine: each template compiled once, then rendered many times.\n"
    "  --root DIR     paths in the manifest are relative to DIR (default .)\n"
    "  --write DIR    write each case's output, rendered once, to DIR/NAME.out\n"
    "  --seconds S    time each case for at least S seconds (default 0: no timing)\n"
    "  --warmup S     untimed renders before each timed case (default 0.2)\n"
    "  -h, --help     show this help\n"
    "\n"
    "stdout: tab-separated lines 'engine', 'case NAME RENDERS SECONDS BYTES',\n"
    "'maxrss_kb KB'. Exit codes: 0 ok, 1 a render failed, 2 bad usage or input.\n";

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Reads root/rel into a new NUL-terminated buffer (free() it), at most max
 * bytes. NULL with errstr filled on error. */
static char *slurp(const char *root, const char *rel, size_t max, size_t *len,
                   char *errstr, size_t errstr_size)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", root, rel) >= (int)sizeof path) {
        sj_seterr(errstr, errstr_size, "%s/%s: path too long", root, rel);
        return NULL;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        sj_seterr(errstr, errstr_size, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    char *out = NULL;
    sj_status_t st = sj_read_stream(f, max, &out, len);
    fclose(f);
    if (st != SJ_OK)
        sj_seterr(errstr, errstr_size, "%s: %s", path,
                  st == SJ_ERR_TOO_BIG ? "larger than the template limit"
                  : st == SJ_ERR_NOMEM ? "out of memory"
                                       : "read error");
    return out;
}

static sj_tmpl_t *compile_file(const char *root, const char *rel, char *errstr,
                               size_t errstr_size)
{
    size_t len;
    char *src = slurp(root, rel, SJ_TMPL_MAX_SOURCE, &len, errstr, errstr_size);
    if (!src) return NULL;
    sj_tmpl_error_t err;
    sj_tmpl_t *t = sj_tmpl_compile(rel, src, len, &err);
    free(src);
    if (!t) sj_seterr(errstr, errstr_size, "%s", err.message);
    return t;
}

/* Fills c from one manifest entry {"name", "template", "partials": {NAME:
 * PATH}, "data", "escape": "html"|"none"}; the strings stay borrowed from j. */
static sj_status_t load_case(const char *root, const json_t *j, bench_case_t *c,
                             char *errstr, size_t errstr_size)
{
    const char *tpath = json_string_value(json_object_get(j, "template"));
    const char *dpath = json_string_value(json_object_get(j, "data"));
    const char *esc = json_string_value(json_object_get(j, "escape"));
    const json_t *partials = json_object_get(j, "partials");
    c->name = json_string_value(json_object_get(j, "name"));
    if (!c->name || !tpath || !dpath || !esc ||
        (strcmp(esc, "html") && strcmp(esc, "none")) ||
        (partials && !json_is_object(partials))) {
        sj_seterr(errstr, errstr_size,
                  "case %s: needs \"name\", \"template\", \"data\" and \"escape\" "
                  "(\"html\" or \"none\"), optional \"partials\" {NAME: PATH}",
                  c->name ? c->name : "?");
        return SJ_ERR_INPUT;
    }
    c->flags = strcmp(esc, "none") ? 0 : SJ_TMPL_NO_ESCAPE;
    if (!(c->t = compile_file(root, tpath, errstr, errstr_size))) return SJ_ERR_INPUT;
    if (!(c->set = sj_tmpl_set_new())) return SJ_ERR_NOMEM;
    const char *pname;
    const json_t *ppath;
    json_object_foreach((json_t *)partials, pname, ppath)
    {
        if (!json_is_string(ppath)) {
            sj_seterr(errstr, errstr_size, "case %s: partial %s: expected a path",
                      c->name, pname);
            return SJ_ERR_INPUT;
        }
        sj_tmpl_t *p = compile_file(root, json_string_value(ppath), errstr, errstr_size);
        if (!p) return SJ_ERR_INPUT;
        if (sj_tmpl_set_put(c->set, pname, p) != SJ_OK) {
            sj_tmpl_destroy(p);
            return SJ_ERR_NOMEM;
        }
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", root, dpath);
    json_error_t jerr;
    if (!(c->data = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr))) {
        sj_seterr(errstr, errstr_size, "%s:%d:%d: %s", path, jerr.line, jerr.column,
                  jerr.text);
        return SJ_ERR_INPUT;
    }
    return SJ_OK;
}

static sj_status_t render_once(const bench_case_t *c, sj_buf_t *out)
{
    sj_tmpl_error_t err;
    sj_buf_reset(out);
    sj_status_t st = sj_tmpl_render(c->t, c->set, c->data, c->flags, out, &err);
    if (st != SJ_OK) fprintf(stderr, "render_bench: %s: %s\n", c->name, err.message);
    return st;
}

/* Renders c in batches until at least `seconds` have passed; returns the
 * number of renders and the time they took. */
static sj_status_t render_for(const bench_case_t *c, double seconds, sj_buf_t *out,
                              uint64_t *renders, double *elapsed)
{
    uint64_t n = 0;
    double t0 = now_s(), t;
    do {
        for (int i = 0; i < BATCH; i++) {
            sj_status_t st = render_once(c, out);
            if (st != SJ_OK) return st;
        }
        n += BATCH;
    } while ((t = now_s() - t0) < seconds);
    *renders = n;
    *elapsed = t;
    return SJ_OK;
}

static sj_status_t write_output(const char *dir, const bench_case_t *c,
                                const sj_buf_t *out)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.out", dir, c->name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(out->data ? out->data : "", 1, out->len, f) != out->len ||
        fclose(f) != 0) {
        fprintf(stderr, "render_bench: %s: cannot write: %s\n", path, strerror(errno));
        return SJ_ERR_IO;
    }
    return SJ_OK;
}

/* Writes and times every case; the exit code. */
static int run(bench_case_t *cases, size_t n, const char *write_dir, double seconds,
               double warmup)
{
    sj_buf_t out;
    sj_buf_init(&out, MAX_OUTPUT);
    int rc = SJ_EXIT_OK;
#ifdef __OPTIMIZE__
    printf("engine\tseintje\toptimized, jansson %s\n", jansson_version_str());
#else
    printf("engine\tseintje\tunoptimized, jansson %s\n", jansson_version_str());
#endif
    for (size_t i = 0; i < n && rc == SJ_EXIT_OK; i++) {
        if (render_once(&cases[i], &out) != SJ_OK) rc = SJ_EXIT_FAILURE;
        size_t bytes = out.len;
        if (rc == SJ_EXIT_OK && write_dir && write_output(write_dir, &cases[i], &out))
            rc = SJ_EXIT_FAILURE;
        if (rc != SJ_EXIT_OK || seconds <= 0) continue;
        uint64_t renders;
        double elapsed;
        if (render_for(&cases[i], warmup, &out, &renders, &elapsed) != SJ_OK ||
            render_for(&cases[i], seconds, &out, &renders, &elapsed) != SJ_OK) {
            rc = SJ_EXIT_FAILURE;
            break;
        }
        printf("case\t%s\t%llu\t%.6f\t%zu\n", cases[i].name, (unsigned long long)renders,
               elapsed, bytes);
        fflush(stdout);
    }
    sj_buf_free(&out);
    struct rusage ru;
    if (rc == SJ_EXIT_OK && getrusage(RUSAGE_SELF, &ru) == 0)
        printf("maxrss_kb\t%ld\n", ru.ru_maxrss);
    return rc;
}

static bool parse_seconds(const char *s, double *v)
{
    char *end;
    errno = 0;
    *v = strtod(s, &end);
    return errno == 0 && end != s && *end == '\0' && *v >= 0 && *v <= 3600;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {{"root", required_argument, NULL, 'r'},
                                             {"write", required_argument, NULL, 'w'},
                                             {"seconds", required_argument, NULL, 's'},
                                             {"warmup", required_argument, NULL, 'W'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    const char *root = ".", *write_dir = NULL;
    double seconds = 0, warmup = 0.2;
    int o;
    while ((o = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        bool ok = true;
        switch (o) {
        case 'r':
            root = optarg;
            break;
        case 'w':
            write_dir = optarg;
            break;
        case 's':
            ok = parse_seconds(optarg, &seconds);
            break;
        case 'W':
            ok = parse_seconds(optarg, &warmup);
            break;
        case 'h':
            fputs(usage_text, stdout);
            return SJ_EXIT_OK;
        default:
            ok = false;
        }
        if (!ok) {
            fprintf(stderr, "render_bench: bad option (seconds are 0..3600)\n%s",
                    usage_text);
            return SJ_EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        fputs(usage_text, stderr);
        return SJ_EXIT_USAGE;
    }
    json_error_t jerr;
    json_t *manifest = json_load_file(argv[optind], JSON_REJECT_DUPLICATES, &jerr);
    const json_t *list = json_object_get(manifest, "cases");
    if (!json_is_array(list) || json_array_size(list) == 0 ||
        json_array_size(list) > MAX_CASES) {
        fprintf(stderr, "render_bench: %s: %s\n", argv[optind],
                manifest ? "expected {\"cases\": [1 to 64 cases]}" : jerr.text);
        json_decref(manifest);
        return SJ_EXIT_USAGE;
    }
    static bench_case_t cases[MAX_CASES];
    size_t n = json_array_size(list);
    char errstr[512] = "";
    int rc = SJ_EXIT_OK;
    for (size_t i = 0; i < n && rc == SJ_EXIT_OK; i++) {
        sj_status_t st =
            load_case(root, json_array_get(list, i), &cases[i], errstr, sizeof errstr);
        if (st != SJ_OK) {
            fprintf(stderr, "render_bench: %s\n",
                    st == SJ_ERR_NOMEM ? "out of memory" : errstr);
            rc = SJ_EXIT_USAGE;
        }
    }
    if (rc == SJ_EXIT_OK) rc = run(cases, n, write_dir, seconds, warmup);
    for (size_t i = 0; i < n; i++) {
        sj_tmpl_destroy(cases[i].t);
        sj_tmpl_set_destroy(cases[i].set);
        json_decref(cases[i].data);
    }
    json_decref(manifest);
    return rc;
}
