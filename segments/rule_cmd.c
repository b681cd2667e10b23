/* `seintje rule`: evaluates one JsonLogic rule over one data document and
 * prints the result, so that communication officers can try an audience rule
 * on an example resident before it goes into a campaign, and tests can check
 * rules from the shell.
 *
 *     seintje rule '{">=":[{"age_on":[{"var":"b"},{"var":"now"}]},65]}' \
 *         '{"b":"1960-03-01","now":"2026-03-01T09:00:00Z"}'
 *     true
 *
 * RULE and DATA are JSON text, or @FILE, or @- for stdin. The result is one
 * line of compact JSON with numbers as JavaScript prints them (sj_rule_dump),
 * so the output can be compared with json-logic-js. Unlike the engine, this
 * file does I/O: it is a command. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "core/buf.h"
#include "core/common.h"
#include "segments/jsonlogic.h"

#define RULE_MAX_INPUT  (16u << 20) /* bytes of RULE or DATA */
#define RULE_MAX_OUTPUT (64u << 20) /* bytes of the printed result */

static const char usage_text[] =
    "usage: seintje rule RULE [DATA]\n"
    "\n"
    "Evaluates the JsonLogic rule RULE over DATA and prints the result as one line\n"
    "of compact JSON. RULE and DATA are JSON text, @FILE to read a file, or @- to\n"
    "read stdin (for one of them). Without DATA the data is {}. Campaign audience\n"
    "rules see {\"resident\": ..., \"event\": ..., \"now\": \"<RFC 3339>\"}; put those "
    "in\n"
    "DATA to try one.\n"
    "\n"
    "  seintje rule "
    "'{\">=\":[{\"age_on\":[{\"var\":\"resident.birth_date\"},{\"var\":\"now\"}]},"
    "65]}' \\\n"
    "      "
    "'{\"resident\":{\"birth_date\":\"1960-03-01\"},\"now\":\"2026-03-01T09:00:00Z\"}'\n"
    "  true\n"
    "\n"
    "Operators: the classic JsonLogic set (var missing missing_some if ?: == === !=\n"
    "!== ! !! or and > >= < <= max min + - * / % map filter reduce all none some\n"
    "merge in cat substr log) and the date helpers age_on, days_until and\n"
    "date_add (see segments/jsonlogic.h).\n"
    "\n"
    "options:\n"
    "  -h, --help   show this help\n"
    "  --           end of options (for a RULE that starts with '-')\n"
    "\n"
    "Exit codes: 0 ok; 1 the result could not be written or memory ran out;\n"
    "2 bad usage or bad input: JSON errors name FILE:line:column (RULE or DATA for\n"
    "text given inline), rule errors the JSON path, e.g.\n"
    "  seintje rule: $.and[1]: unknown operator \"equals\"\n";

static int usage_error(const char *fmt, ...) SJ_PRINTF(1, 2);

static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("seintje rule: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\n", stderr);
    va_end(ap);
    return SJ_EXIT_USAGE;
}

/* Parses an argument: inline JSON text, @FILE or @-. `what` is "RULE" or
 * "DATA", the name errors give inline text; *name receives the name to use
 * in later messages (NULL for inline text). */
static int load_json(const char *arg, const char *what, json_t **out, const char **name)
{
    json_error_t jerr;
    const size_t flags = JSON_DECODE_ANY | JSON_REJECT_DUPLICATES;
    *name = NULL;
    if (arg[0] != '@') {
        *out = json_loads(arg, flags, &jerr);
        if (!*out)
            return usage_error("%s:%d:%d: %s", what, jerr.line, jerr.column, jerr.text);
        return SJ_EXIT_OK;
    }
    const char *path = arg + 1;
    bool is_stdin = strcmp(path, "-") == 0;
    *name = is_stdin ? "<stdin>" : path;
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    if (!f) return usage_error("cannot open %s: %s", path, strerror(errno));
    char *text = NULL;
    size_t len = 0;
    sj_status_t st = sj_read_stream(f, RULE_MAX_INPUT, &text, &len);
    int saved = errno;
    if (!is_stdin) fclose(f);
    if (st == SJ_ERR_TOO_BIG)
        return usage_error("%s is larger than the limit of %u bytes", *name,
                           RULE_MAX_INPUT);
    if (st == SJ_ERR_NOMEM) return usage_error("out of memory reading %s", *name);
    if (st != SJ_OK) return usage_error("cannot read %s: %s", *name, strerror(saved));
    *out = json_loadb(text, len, flags, &jerr);
    free(text);
    if (!*out)
        return usage_error("%s:%d:%d: %s", *name, jerr.line, jerr.column, jerr.text);
    return SJ_EXIT_OK;
}

/* Evaluates and prints; returns the exit code. */
static int run(json_t *rule, const char *rule_name, json_t *data)
{
    sj_rule_error_t err;
    sj_rule_t *r = sj_rule_compile(rule, &err);
    if (!r) {
        if (err.status == SJ_ERR_NOMEM) {
            fprintf(stderr, "seintje rule: out of memory\n");
            return SJ_EXIT_FAILURE;
        }
        return rule_name ? usage_error("%s: %s", rule_name, err.message)
                         : usage_error("%s", err.message);
    }
    json_t *result = sj_rule_eval(r, data, &err);
    sj_rule_destroy(r);
    if (!result) {
        if (err.status == SJ_ERR_NOMEM) {
            fprintf(stderr, "seintje rule: out of memory\n");
            return SJ_EXIT_FAILURE;
        }
        return usage_error("%s", err.message);
    }
    sj_buf_t out;
    sj_buf_init(&out, RULE_MAX_OUTPUT);
    sj_status_t st = sj_rule_dump(result, &out);
    if (st == SJ_OK) st = sj_buf_addc(&out, '\n');
    json_decref(result);
    int rc = SJ_EXIT_OK;
    if (st != SJ_OK) {
        fprintf(stderr, "seintje rule: the result is too large to print\n");
        rc = SJ_EXIT_FAILURE;
    } else if (fwrite(out.data, 1, out.len, stdout) != out.len || fflush(stdout) != 0) {
        fprintf(stderr, "seintje rule: cannot write the result: %s\n", strerror(errno));
        rc = SJ_EXIT_FAILURE;
    }
    sj_buf_free(&out);
    return rc;
}

int sj_cmd_rule(int argc, char **argv)
{
    static const struct option longopts[] = {{"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    int opt;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
        if (opt == 'h') {
            fputs(usage_text, stdout);
            return SJ_EXIT_OK;
        }
        return usage_error("unknown option \"%s\" (seintje rule --help)",
                           argv[optind - 1]);
    }
    int nargs = argc - optind;
    if (nargs < 1 || nargs > 2)
        return usage_error(
            "expected RULE [DATA], got %d argument%s (seintje rule --help)", nargs,
            nargs == 1 ? "" : "s");
    const char *rule_arg = argv[optind], *data_arg = nargs == 2 ? argv[optind + 1] : "{}";
    if (!strcmp(rule_arg, "@-") && !strcmp(data_arg, "@-"))
        return usage_error("only one of RULE and DATA can be read from stdin");
    json_t *rule = NULL, *data = NULL;
    const char *rule_name, *data_name;
    int rc = load_json(rule_arg, "RULE", &rule, &rule_name);
    if (rc == SJ_EXIT_OK) rc = load_json(data_arg, "DATA", &data, &data_name);
    if (rc == SJ_EXIT_OK) rc = run(rule, rule_name, data);
    json_decref(rule);
    json_decref(data);
    return rc;
}
