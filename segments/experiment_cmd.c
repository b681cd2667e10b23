/* `seintje experiment`: the experiment commands. `stats` turns per-arm
 * counts into the report an officer reads (segments/stats.h computes it;
 * this file reads the input and prints text, JSON or CSV); `report` does the
 * same with the counters the engine keeps in Redis (sj:{exp}:<experiment>,
 * segments/keys.h) and the arms of the experiment's campaign, and can draw
 * the uptake per arm as an SVG chart:
 *
 *     seintje experiment stats --arm control:1000:120 --arm B:1000:150
 *     echo '{"arms":[...]}' | seintje experiment stats --format json
 *     seintje experiment report id-card-2026 --chart uptake.svg
 *
 * `rebuild` (experiment_rebuild.c) counts them again from the delivery and
 * goal topics. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "cli/commands.h"
#include "core/buf.h"
#include "core/cli.h"
#include "core/common.h"
#include "core/redis.h"
#include "segments/campaign.h"
#include "segments/experiment_rebuild.h"
#include "segments/keys.h"
#include "segments/stats.h"

static const char experiment_usage[] =
    "usage: seintje experiment <subcommand> [options]\n"
    "\n"
    "subcommands:\n"
    "  stats    statistics of an experiment from its counts per arm\n"
    "           (seintje experiment stats --help)\n"
    "  report   the same for a running experiment, from its counters kept\n"
    "           in Redis (seintje experiment report --help)\n"
    "  rebuild  those counters again from the delivery and goal topics, and\n"
    "           with --write in Redis (seintje experiment rebuild --help)\n";

static const char stats_usage[] =
    "usage: seintje experiment stats --arm NAME:EXPOSED:CONVERTED --arm ... [options]\n"
    "       seintje experiment stats [--json FILE|-] [options]   (JSON on stdin)\n"
    "\n"
    "Reads how many residents each arm exposed and how many of them reached the\n"
    "goal, and says per variant whether it raised or lowered uptake against the\n"
    "control, with the numbers behind that verdict.\n"
    "\n"
    "input:\n"
    "  --arm NAME:EXPOSED:CONVERTED  one arm (repeat; 2 to 16 arms), e.g.\n"
    "                         --arm control:1000:120 --arm B:1000:150; names are\n"
    "                         letters, digits, '-', '_', '.'\n"
    "  --weights W,W,...      configured shares, one per --arm in order (e.g.\n"
    "                         45,45,10); default equal shares\n"
    "  --control NAME         the arm the others are compared with; default the\n"
    "                         holdout arm, else the arm called control, else\n"
    "                         holdout, else the first\n"
    "  --json FILE            read the arms from a JSON document (- for stdin;\n"
    "                         stdin is also read when no --arm is given):\n"
    "                         {\"arms\": [{\"name\": \"control\", \"exposed\": 1000,\n"
    "                         \"converted\": 120, \"weight\": 50, \"holdout\": false}, "
    "...],\n"
    "                         \"control\": \"control\"}  (weight, holdout and control\n"
    "                         optional; at most 1 MiB)\n"
    "\n"
    "options:\n"
    "  --alpha A              two-sided level of all intervals and tests (0.05)\n"
    "  --power P              power for the MDE and the sample size (0.8)\n"
    "  --effect D             absolute difference that matters, for the sample\n"
    "                         size and the verdict (0.01 = one point)\n"
    "  --baseline P           rate the sample size is computed at (the control's)\n"
    "  --sequential           verdicts from always-valid intervals, for looking\n"
    "                         every day\n"
    "  --tau T                mixing standard deviation of the sequential test\n"
    "                         (0.02, two points)\n"
    "  --format FMT           text (default), json or csv (one row per arm)\n"
    "  -h, --help             show this help\n"
    "\n"
    "What it computes (Beta(1,1) priors; p = rate, n = exposed, x = converted):\n"
    "  rate               x/n with the Wilson score interval\n"
    "  difference         p_v - p_c, Newcombe's hybrid score interval (from the\n"
    "                     two Wilson intervals)\n"
    "  relative           p_v/p_c - 1, log-ratio interval by the delta method\n"
    "                     (needs conversions in both arms)\n"
    "  p-value            pooled two-proportion z-test, two-sided; Holm-adjusted\n"
    "                     over the variants\n"
    "  P(beats control)   P(p_v > p_c) under the Beta(1+x, 1+n-x) posteriors,\n"
    "  P(best), loss      P(best) and expected loss E[max_j p_j - p_i], all by\n"
    "                     numerical integration (Gauss-Legendre, no simulation)\n"
    "  sample ratio       chi-square of the exposures against the weights; a\n"
    "                     mismatch (p < 0.001) makes every other number suspect\n"
    "  MDE                (z_{1-A/2} + z_P) sqrt(p(1-p)(1/n_c + 1/n_v)), p pooled\n"
    "  sample size        2 (z_{1-A/2} + z_P)^2 p(1-p) / D^2 per arm, p baseline\n"
    "  sequential         mixture SPRT (Johari et al.), normal approximation on\n"
    "                     Agresti-Caffo estimates, N(0, T^2) mixture: valid at\n"
    "                     every look\n"
    "Verdicts: \"raised\" or \"lowered\" when the Holm-adjusted p-value is below A\n"
    "and the interval excludes 0 (the always-valid ones with --sequential);\n"
    "\"too early to tell\" with fewer than 30 exposures in an arm or an MDE above\n"
    "D; else \"no detectable difference\". Warnings: sample-ratio mismatch, fewer\n"
    "than 30 exposures, conversions or non-conversions in an arm.\n"
    "\n"
    "Exit codes: 0 ok; 1 the output could not be written; 2 bad usage or input\n"
    "(the message names the argument or the JSON field, e.g. $.arms[1].converted).\n";

#define CMD "experiment stats"

static int usage_error(const char *fmt, ...) SJ_PRINTF(1, 2);

static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("seintje " CMD ": ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\n", stderr);
    va_end(ap);
    return SJ_EXIT_USAGE;
}

typedef enum { FMT_TEXT, FMT_JSON, FMT_CSV } format_t;

/* A number option: the whole argument, finite. */
static bool parse_number(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || errno || !isfinite(v)) return false;
    *out = v;
    return true;
}

static int read_json(const char *path, sj_stats_input_t *in)
{
    bool is_stdin = !strcmp(path, "-");
    const char *name = is_stdin ? "<stdin>" : path;
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    if (!f) return usage_error("--json %s: cannot open: %s", path, strerror(errno));
    char *text = NULL, err[512];
    size_t len = 0;
    sj_status_t st = sj_read_stream(f, SJ_STATS_MAX_JSON, &text, &len);
    int saved = errno;
    if (!is_stdin) fclose(f);
    if (st == SJ_ERR_TOO_BIG)
        return usage_error("%s is larger than the limit of %u bytes", name,
                           SJ_STATS_MAX_JSON);
    if (st == SJ_ERR_NOMEM) {
        fprintf(stderr, "seintje " CMD ": out of memory reading %s\n", name);
        return SJ_EXIT_FAILURE;
    }
    if (st != SJ_OK) return usage_error("cannot read %s: %s", name, strerror(saved));
    if (strspn(text, " \t\r\n") == len) {
        free(text);
        return usage_error("%s is empty: give a JSON document {\"arms\": [...]} or --arm "
                           "NAME:EXPOSED:CONVERTED (seintje " CMD " --help)",
                           name);
    }
    st = sj_stats_input_from_json(in, text, len, name, err, sizeof err);
    free(text);
    if (st != SJ_OK) return usage_error("%s", err);
    return SJ_EXIT_OK;
}

/* ---- Text --------------------------------------------------------------- */

/* "12,345" */
static const char *group(uint64_t n, char out[32])
{
    char digits[24];
    snprintf(digits, sizeof digits, "%llu", (unsigned long long)n);
    size_t len = strlen(digits), o = 0;
    for (size_t i = 0; i < len; i++) {
        if (i > 0 && (len - i) % 3 == 0) out[o++] = ',';
        out[o++] = digits[i];
    }
    out[o] = '\0';
    return out;
}

static const char *pvalue(double p, char out[32])
{
    if (p >= 0.001)
        snprintf(out, 32, "%.4f", p);
    else if (p > 0)
        snprintf(out, 32, "%.1e", p);
    else
        snprintf(out, 32, "< 1e-300");
    return out;
}

static const char *role(const sj_stats_input_t *in, size_t i)
{
    if (i == in->control) return in->arms[i].holdout ? "holdout" : "control";
    return "variant";
}

/* The warnings in plain language, one per call of `emit`. */
static void warnings(const sj_stats_input_t *in, const sj_stats_report_t *r,
                     void (*emit)(void *, const char *), void *ctx)
{
    char line[600], a[32], b[32];
    if (r->srm.mismatch) {
        size_t o =
            (size_t)snprintf(line, sizeof line, "sample ratio mismatch: the exposures (");
        for (size_t i = 0; i < in->n_arms && o < sizeof line; i++)
            o += (size_t)snprintf(line + o, sizeof line - o, "%s%s", i ? " / " : "",
                                  group(in->arms[i].exposed, a));
        if (o < sizeof line)
            o += (size_t)snprintf(line + o, sizeof line - o,
                                  ") do not fit the %sweights (",
                                  r->srm.weights_assumed ? "assumed equal " : "");
        for (size_t i = 0; i < in->n_arms && o < sizeof line; i++)
            o += (size_t)snprintf(line + o, sizeof line - o, "%s%.1f%%", i ? " / " : "",
                                  r->arms[i].weight * 100);
        if (o < sizeof line)
            snprintf(line + o, sizeof line - o,
                     "): chi-square %.1f, p = %s < 0.001; check the assignment and the "
                     "exposure counting before trusting any result",
                     r->srm.chi2, pvalue(r->srm.p_value, b));
        emit(ctx, line);
    }
    for (size_t i = 0; i < in->n_arms; i++) {
        const sj_stats_arm_t *arm = &in->arms[i];
        unsigned w = r->arms[i].warnings;
        if (w & SJ_STATS_WARN_FEW_EXPOSED)
            snprintf(line, sizeof line,
                     "arm %s: only %s exposures (fewer than %d): too few to judge",
                     arm->name, group(arm->exposed, a), SJ_STATS_MIN_COUNT);
        else if (w & SJ_STATS_WARN_FEW_CONVERTED)
            snprintf(
                line, sizeof line,
                "arm %s: only %s conversions (fewer than %d): intervals and p-values "
                "rest on a rough normal approximation",
                arm->name, group(arm->converted, a), SJ_STATS_MIN_COUNT);
        else if (w & SJ_STATS_WARN_FEW_NOT_CONVERTED)
            snprintf(line, sizeof line,
                     "arm %s: only %s exposed residents did not convert (fewer than %d): "
                     "intervals and p-values rest on a rough normal approximation",
                     arm->name, group(arm->exposed - arm->converted, a),
                     SJ_STATS_MIN_COUNT);
        else
            continue;
        emit(ctx, line);
    }
}

static void emit_text(void *ctx, const char *line)
{
    fprintf((FILE *)ctx, "  - %s\n", line);
}

static void print_text(const sj_stats_input_t *in, const sj_stats_report_t *r, FILE *out)
{
    const sj_stats_options_t *o = &r->opts;
    char a[32], b[32], level[16];
    snprintf(level, sizeof level, "%g%%", (1 - o->alpha) * 100);
    fprintf(out, "Experiment: %zu arms, compared with %s \"%s\"; %s intervals; %s\n\n",
            in->n_arms, role(in, r->control), in->arms[r->control].name, level,
            o->sequential ? "sequential (always-valid)" : "fixed horizon");
    fprintf(out, "%-16s %7s %13s %13s %8s  %-19s %7s %10s\n", "arm", "weight", "exposed",
            "converted", "rate", "interval (Wilson)", "P(best)", "loss (pts)");
    for (size_t i = 0; i < in->n_arms; i++) {
        const sj_stats_arm_t *arm = &in->arms[i];
        const sj_stats_arm_result_t *res = &r->arms[i];
        char rate[16], ci[32];
        if (res->has_rate) {
            snprintf(rate, sizeof rate, "%.2f%%", res->rate * 100);
            snprintf(ci, sizeof ci, "%.2f%% - %.2f%%", res->rate_ci.lo * 100,
                     res->rate_ci.hi * 100);
        } else {
            snprintf(rate, sizeof rate, "-");
            snprintf(ci, sizeof ci, "-");
        }
        fprintf(out, "%-16s %6.1f%% %13s %13s %8s  %-19s %7.3f %10.3f\n", arm->name,
                res->weight * 100, group(arm->exposed, a), group(arm->converted, b), rate,
                ci, res->prob_best, res->expected_loss * 100);
    }
    for (size_t i = 0; i < in->n_arms; i++) {
        if (i == r->control) continue;
        const sj_stats_arm_result_t *res = &r->arms[i];
        fprintf(out, "\n%s vs %s\n", in->arms[i].name, in->arms[r->control].name);
        if (!res->comparable) {
            fprintf(out, "  no comparison: an arm has no exposures\n");
            fprintf(out, "  P(beats %s)  %.3f (posteriors; no data is a uniform prior)\n",
                    role(in, r->control), res->prob_beat);
            fprintf(out, "  verdict          %s\n", res->verdict_text);
            continue;
        }
        fprintf(
            out,
            "  difference       %+.2f points, %s interval %+.2f to %+.2f (Newcombe)\n",
            res->diff * 100, level, res->diff_ci.lo * 100, res->diff_ci.hi * 100);
        if (res->has_rel)
            fprintf(out,
                    "  relative         %+.1f%%, %s interval %+.1f%% to %+.1f%% (log "
                    "ratio)\n",
                    res->rel * 100, level, res->rel_ci.lo * 100, res->rel_ci.hi * 100);
        else
            fprintf(out, "  relative         - (needs conversions in both arms)\n");
        fprintf(out, "  z-test           z = %.3f, p = %s", res->z,
                pvalue(res->p_value, a));
        if (r->n_variants > 1)
            fprintf(out, ", Holm-adjusted p = %s", pvalue(res->p_holm, b));
        char label[32];
        snprintf(label, sizeof label, "P(beats %s)", role(in, r->control));
        fprintf(out, "\n  %-16s %.4f (Beta(1,1) priors)\n", label, res->prob_beat);
        if (res->has_mde)
            fprintf(out, "  MDE              %.2f points (alpha %g, power %g)\n",
                    res->mde * 100, o->alpha, o->power);
        fprintf(out, "  sequential       %+.2f to %+.2f points, always-valid p = %s%s\n",
                res->seq_ci.lo * 100, res->seq_ci.hi * 100, pvalue(res->seq_p, a),
                o->sequential ? "" : " (for daily looks: --sequential)");
        fprintf(out, "  verdict          %s\n", res->verdict_text);
    }
    fprintf(out, "\nsample ratio     ");
    if (r->srm.tested)
        fprintf(out, "chi-square %.2f, %d df, p = %s: %s%s\n", r->srm.chi2, r->srm.df,
                pvalue(r->srm.p_value, a), r->srm.mismatch ? "MISMATCH" : "ok",
                r->srm.weights_assumed ? " (equal weights assumed; give --weights)" : "");
    else
        fprintf(out, "not tested (no exposures)\n");
    if (r->has_n_per_arm)
        fprintf(out,
                "sample size      a %.1f-point change from a baseline of %.2f%% needs "
                "about %s exposures per arm (alpha %g, power %g)\n",
                o->effect * 100, r->baseline * 100,
                group((uint64_t)fmin(ceil(r->n_per_arm), 1e18), a), o->alpha, o->power);
    else
        fprintf(out,
                "sample size      - (the baseline rate is 0 or 1; give --baseline)\n");
    fprintf(out, "\nVerdicts:\n");
    for (size_t i = 0; i < in->n_arms; i++)
        if (i != r->control) fprintf(out, "  - %s\n", r->arms[i].verdict_text);
    bool any = r->srm.mismatch;
    for (size_t i = 0; i < in->n_arms; i++) any = any || r->arms[i].warnings;
    if (any) {
        fprintf(out, "\nWarnings:\n");
        warnings(in, r, emit_text, out);
    }
}

/* ---- JSON --------------------------------------------------------------- */

static const char *verdict_name(sj_stats_verdict_t v)
{
    switch (v) {
    case SJ_STATS_TOO_EARLY:
        return "too-early";
    case SJ_STATS_RAISED:
        return "raised";
    case SJ_STATS_LOWERED:
        return "lowered";
    case SJ_STATS_NO_DIFFERENCE:
        return "no-difference";
    default:
        return "control";
    }
}

static json_t *pair(sj_stats_ci_t ci)
{
    return json_pack("[f, f]", ci.lo, ci.hi);
}

static void emit_json(void *ctx, const char *line)
{
    json_array_append_new((json_t *)ctx, json_string(line));
}

/* The whole report as a new JSON object (NULL when memory runs out). */
static json_t *report_json(const sj_stats_input_t *in, const sj_stats_report_t *r)
{
    const sj_stats_options_t *o = &r->opts;
    json_t *arms = json_array();
    for (size_t i = 0; arms && i < in->n_arms; i++) {
        const sj_stats_arm_t *arm = &in->arms[i];
        const sj_stats_arm_result_t *res = &r->arms[i];
        json_t *j =
            json_pack("{s:s, s:s, s:f, s:I, s:I, s:o, s:o, s:f, s:f}", "name", arm->name,
                      "role", role(in, i), "weight", res->weight, "exposed",
                      (json_int_t)arm->exposed, "converted", (json_int_t)arm->converted,
                      "rate", res->has_rate ? json_real(res->rate) : json_null(),
                      "rate_ci", pair(res->rate_ci), "prob_best", res->prob_best,
                      "expected_loss", res->expected_loss);
        if (j && i != r->control) {
            json_t *rel = res->has_rel ? json_real(res->rel) : json_null();
            json_t *rel_ci = res->has_rel ? pair(res->rel_ci) : json_null();
            json_t *vs = json_pack(
                "{s:b, s:f, s:o, s:o, s:o, s:f, s:f, s:f, s:f, s:o, "
                "s:{s:o, s:f, s:f}, s:s, s:s}",
                "comparable", res->comparable, "diff", res->diff, "diff_ci",
                pair(res->diff_ci), "rel", rel, "rel_ci", rel_ci, "z", res->z, "p_value",
                res->p_value, "p_holm", res->p_holm, "prob_beat_control", res->prob_beat,
                "mde", res->has_mde ? json_real(res->mde) : json_null(), "sequential",
                "ci", pair(res->seq_ci), "p_value", res->seq_p, "p_holm", res->seq_p_holm,
                "verdict", verdict_name(res->verdict), "verdict_text", res->verdict_text);
            if (!vs || json_object_set_new(j, "vs_control", vs)) {
                json_decref(j);
                j = NULL;
            }
        }
        if (!j || json_array_append_new(arms, j)) {
            json_decref(arms);
            arms = NULL;
        }
    }
    json_t *warn = json_array();
    if (warn) warnings(in, r, emit_json, warn);
    return json_pack(
        "{s:s, s:f, s:f, s:f, s:b, s:f, s:o, s:{s:b, s:f, s:i, s:f, s:b, s:b},"
        " s:{s:f, s:f, s:o}, s:o}",
        "control", in->arms[r->control].name, "alpha", o->alpha, "power", o->power,
        "effect", o->effect, "sequential", o->sequential, "tau", o->tau, "arms", arms,
        "srm", "tested", r->srm.tested, "chi2", r->srm.chi2, "df", r->srm.df, "p_value",
        r->srm.p_value, "mismatch", r->srm.mismatch, "weights_assumed",
        r->srm.weights_assumed, "sample_size", "baseline", r->baseline, "effect",
        o->effect, "n_per_arm",
        !r->has_n_per_arm     ? json_null()
        : r->n_per_arm < 1e15 ? json_integer((json_int_t)ceil(r->n_per_arm))
                              : json_real(r->n_per_arm),
        "warnings", warn);
}

/* ---- CSV ---------------------------------------------------------------- */

static void csv_num(FILE *out, bool have, double v)
{
    if (have)
        fprintf(out, ",%.10g", v);
    else
        fputs(",", out);
}

static void csv_text(FILE *out, const char *s)
{
    fputs(",\"", out);
    for (; *s; s++) {
        if (*s == '"') fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

static void print_csv(const sj_stats_input_t *in, const sj_stats_report_t *r, FILE *out)
{
    fputs("arm,role,weight,exposed,converted,rate,rate_lo,rate_hi,prob_best,"
          "expected_loss,diff,diff_lo,diff_hi,rel,rel_lo,rel_hi,z,p_value,p_holm,"
          "prob_beat_control,mde,seq_lo,seq_hi,seq_p_value,seq_p_holm,srm_p_value,"
          "verdict,verdict_text\n",
          out);
    for (size_t i = 0; i < in->n_arms; i++) {
        const sj_stats_arm_t *arm = &in->arms[i];
        const sj_stats_arm_result_t *res = &r->arms[i];
        bool v = i != r->control, c = v && res->comparable;
        fprintf(out, "%s,%s,%.10g,%llu,%llu", arm->name, role(in, i), res->weight,
                (unsigned long long)arm->exposed, (unsigned long long)arm->converted);
        csv_num(out, res->has_rate, res->rate);
        csv_num(out, true, res->rate_ci.lo);
        csv_num(out, true, res->rate_ci.hi);
        csv_num(out, true, res->prob_best);
        csv_num(out, true, res->expected_loss);
        csv_num(out, c, res->diff);
        csv_num(out, c, res->diff_ci.lo);
        csv_num(out, c, res->diff_ci.hi);
        csv_num(out, c && res->has_rel, res->rel);
        csv_num(out, c && res->has_rel, res->rel_ci.lo);
        csv_num(out, c && res->has_rel, res->rel_ci.hi);
        csv_num(out, c, res->z);
        csv_num(out, c, res->p_value);
        csv_num(out, c, res->p_holm);
        csv_num(out, v, res->prob_beat);
        csv_num(out, c && res->has_mde, res->mde);
        csv_num(out, c, res->seq_ci.lo);
        csv_num(out, c, res->seq_ci.hi);
        csv_num(out, c, res->seq_p);
        csv_num(out, c, res->seq_p_holm);
        csv_num(out, r->srm.tested, r->srm.p_value);
        fprintf(out, ",%s", verdict_name(res->verdict));
        csv_text(out, v ? res->verdict_text : "");
        fputc('\n', out);
    }
}

/* ---- Command ------------------------------------------------------------ */

enum {
    OPT_ARM = 1000,
    OPT_WEIGHTS,
    OPT_CONTROL,
    OPT_JSON,
    OPT_ALPHA,
    OPT_POWER,
    OPT_EFFECT,
    OPT_BASELINE,
    OPT_SEQUENTIAL,
    OPT_TAU,
    OPT_FORMAT,
};

/* `report` adds to the JSON "experiment" and "campaign" (NULL: not). */
static int print_report(const sj_stats_input_t *in, const sj_stats_report_t *r,
                        format_t format, const char *experiment, const char *campaign)
{
    if (format == FMT_TEXT) {
        print_text(in, r, stdout);
    } else if (format == FMT_CSV) {
        print_csv(in, r, stdout);
    } else {
        json_t *j = report_json(in, r);
        if (j && experiment) {
            json_object_set_new(j, "experiment", json_string(experiment));
            json_object_set_new(j, "campaign", json_string(campaign));
        }
        int rc = j ? json_dumpf(j, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(15)) : -1;
        json_decref(j);
        if (rc != 0) {
            fprintf(stderr, "seintje " CMD ": cannot write the JSON report\n");
            return SJ_EXIT_FAILURE;
        }
        fputc('\n', stdout);
    }
    if (ferror(stdout) || fflush(stdout) != 0) {
        fprintf(stderr, "seintje " CMD ": cannot write the report: %s\n",
                strerror(errno));
        return SJ_EXIT_FAILURE;
    }
    return SJ_EXIT_OK;
}

static int cmd_stats(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"arm", required_argument, NULL, OPT_ARM},
        {"weights", required_argument, NULL, OPT_WEIGHTS},
        {"control", required_argument, NULL, OPT_CONTROL},
        {"json", required_argument, NULL, OPT_JSON},
        {"alpha", required_argument, NULL, OPT_ALPHA},
        {"power", required_argument, NULL, OPT_POWER},
        {"effect", required_argument, NULL, OPT_EFFECT},
        {"baseline", required_argument, NULL, OPT_BASELINE},
        {"sequential", no_argument, NULL, OPT_SEQUENTIAL},
        {"tau", required_argument, NULL, OPT_TAU},
        {"format", required_argument, NULL, OPT_FORMAT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    static sj_stats_input_t in; /* input and report: KiBs, off the stack */
    static sj_stats_report_t report;
    sj_stats_options_t opts;
    sj_stats_input_init(&in);
    sj_stats_options_default(&opts);
    const char *weights = NULL, *control = NULL, *json = NULL;
    format_t format = FMT_TEXT;
    char err[512];
    int opt;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
        double *num = NULL;
        const char *name = NULL;
        switch (opt) {
        case 'h':
            fputs(stats_usage, stdout);
            return SJ_EXIT_OK;
        case OPT_ARM:
            if (sj_stats_input_add_arm(&in, optarg, err, sizeof err) != SJ_OK)
                return usage_error("--arm %s", err);
            break;
        case OPT_WEIGHTS:
            weights = optarg;
            break;
        case OPT_CONTROL:
            control = optarg;
            break;
        case OPT_JSON:
            json = optarg;
            break;
        case OPT_SEQUENTIAL:
            opts.sequential = true;
            break;
        case OPT_FORMAT:
            if (!strcmp(optarg, "text"))
                format = FMT_TEXT;
            else if (!strcmp(optarg, "json"))
                format = FMT_JSON;
            else if (!strcmp(optarg, "csv"))
                format = FMT_CSV;
            else
                return usage_error("--format \"%.40s\": use text, json or csv", optarg);
            break;
        case OPT_ALPHA:
            num = &opts.alpha, name = "--alpha";
            break;
        case OPT_POWER:
            num = &opts.power, name = "--power";
            break;
        case OPT_EFFECT:
            num = &opts.effect, name = "--effect";
            break;
        case OPT_BASELINE:
            num = &opts.baseline, name = "--baseline";
            break;
        case OPT_TAU:
            num = &opts.tau, name = "--tau";
            break;
        case ':':
            return usage_error("%s needs a value (seintje " CMD " --help)",
                               argv[optind - 1]);
        default:
            return usage_error("unknown option \"%s\" (seintje " CMD " --help)",
                               argv[optind - 1]);
        }
        if (num && !parse_number(optarg, num))
            return usage_error("%s \"%.40s\": expected a number (seintje " CMD " --help)",
                               name, optarg);
    }
    if (optind < argc)
        return usage_error("unexpected argument \"%.40s\"; arms are given with --arm",
                           argv[optind]);
    if (in.n_arms && json)
        return usage_error("give the arms either with --arm or with --json, not both");
    if (!in.n_arms) {
        if (!json && isatty(STDIN_FILENO))
            return usage_error(
                "no arms: give --arm NAME:EXPOSED:CONVERTED (twice or more) "
                "or a JSON document on stdin (seintje " CMD " --help)");
        int rc = read_json(json ? json : "-", &in);
        if (rc != SJ_EXIT_OK) return rc;
        if (weights)
            return usage_error("--weights goes with --arm; in JSON give each arm a "
                               "\"weight\"");
    }
    if (weights && sj_stats_input_set_weights(&in, weights, err, sizeof err) != SJ_OK)
        return usage_error("--weights %s", err);
    if (control && sj_stats_input_set_control(&in, control, err, sizeof err) != SJ_OK)
        return usage_error("--control %s", err);
    if (sj_stats_input_finish(&in, err, sizeof err) != SJ_OK)
        return usage_error("%s", err);
    if (sj_stats_analyse(&in, &opts, &report, err, sizeof err) != SJ_OK)
        return usage_error("--%s", err);
    return print_report(&in, &report, format, NULL, NULL);
}

/* ---- report: the counters of a running experiment ----------------------- */

static const char report_usage[] =
    "usage: seintje experiment report EXPERIMENT [options]\n"
    "\n"
    "The statistics of `seintje experiment stats` for a running experiment, from\n"
    "its counters in Redis (sj:{exp}:<experiment>: residents exposed per variant,\n"
    "each once, when their first message was sent or, in the holdout, held back,\n"
    "and of them those whose goal event came within the goal's window_days after\n"
    "it; `seintje experiment rebuild` recounts them from Kafka). The arms,\n"
    "their weights and the holdout come from the experiment's campaign in\n"
    "campaigns.dir (the first one, by file name, whose \"experiment\" is\n"
    "EXPERIMENT; a campaign id is accepted too); the control is the holdout, else\n"
    "the first variant.\n"
    "\n"
    "options:\n"
    "  --format FMT           text (default), json or csv\n"
    "  --chart FILE.svg       also draw the uptake per arm with its Wilson interval\n"
    "  --alpha A, --power P, --effect D, --sequential, --tau T\n"
    "                         as for `seintje experiment stats`\n" SJ_CLI_COMMON_HELP "\n"
    "Settings: redis.url, redis.timeout-ms, campaigns.dir.\n"
    "Exit codes: 0 ok; 1 Redis or the output failed; 2 bad usage, an unknown\n"
    "experiment or no counters yet.\n";

#define RCMD "experiment report"

/* Finds the campaign of an experiment (or with that id). Borrowed from set. */
static const sj_campaign_t *experiment_campaign(const sj_campaigns_t *set, const char *id)
{
    for (size_t i = 0; i < sj_campaigns_count(set); i++)
        if (!strcmp(sj_campaigns_get(set, i)->experiment, id))
            return sj_campaigns_get(set, i);
    for (size_t i = 0; i < sj_campaigns_count(set); i++)
        if (!strcmp(sj_campaigns_get(set, i)->id, id)) return sj_campaigns_get(set, i);
    return NULL;
}

/* The count of "<variant>|<what>" in an HGETALL reply; *seen when present. */
static uint64_t counter(const redisReply *h, const char *variant, const char *what,
                        bool *seen)
{
    char field[160];
    snprintf(field, sizeof field, "%s|%s", variant, what);
    for (size_t i = 0; i + 1 < h->elements; i += 2)
        if (h->element[i]->type == REDIS_REPLY_STRING &&
            !strcmp(h->element[i]->str, field) &&
            h->element[i + 1]->type == REDIS_REPLY_STRING) {
            *seen = true;
            long long v = strtoll(h->element[i + 1]->str, NULL, 10);
            return v > 0 ? (uint64_t)v : 0;
        }
    return 0;
}

/* Reads the counters of c's experiment into arms, in the campaign's variant
 * order (variants of weight 0 are never assigned and left out). */
static int arms_from_redis(const sj_conf_t *conf, const sj_campaign_t *c,
                           sj_stats_input_t *in)
{
    char err[512], key[SJ_KEY_MAX];
    redisContext *rc =
        sj_redis_connect(sj_conf_get(conf, "redis.url"),
                         (int)sj_conf_get_int(conf, "redis.timeout-ms"), err, sizeof err);
    if (!rc) {
        fprintf(stderr, "seintje " RCMD ": %s\n", err);
        return SJ_EXIT_FAILURE;
    }
    sj_key_exp(key, c->experiment);
    redisReply *h = redisCommand(rc, "HGETALL %s", key);
    if (!h || h->type != REDIS_REPLY_ARRAY) {
        fprintf(stderr, "seintje " RCMD ": redis: HGETALL %s: %s\n", key,
                h && h->type == REDIS_REPLY_ERROR ? h->str : rc->errstr);
        if (h) freeReplyObject(h);
        redisFree(rc);
        return SJ_EXIT_FAILURE;
    }
    redisFree(rc);
    int ex = SJ_EXIT_OK;
    if (h->elements == 0)
        ex = sj_cli_usage_error(RCMD,
                                "experiment %s (campaign %s): no counters in Redis (%s): "
                                "no resident has been exposed yet, or redis.url points "
                                "elsewhere",
                                c->experiment, c->id, key);
    char weights[SJ_STATS_MAX_ARMS * 8] = "";
    size_t wl = 0;
    bool any = false;
    for (size_t i = 0; ex == SJ_EXIT_OK && i < c->n_variants; i++) {
        const sj_campaign_variant_t *v = &c->variants[i];
        if (v->weight <= 0) continue;
        bool seen = false;
        uint64_t e = counter(h, v->id, "exposed", &seen);
        uint64_t x = counter(h, v->id, "converted", &seen);
        any = any || seen;
        char spec[SJ_STATS_NAME_MAX + 48];
        snprintf(spec, sizeof spec, "%s:%llu:%llu", v->id, (unsigned long long)e,
                 (unsigned long long)x);
        if (sj_stats_input_add_arm(in, spec, err, sizeof err) != SJ_OK) {
            ex = sj_cli_usage_error(RCMD, "experiment %s, variant %s: %s", c->experiment,
                                    v->id, err);
            break;
        }
        in->arms[in->n_arms - 1].holdout = v->holdout;
        wl += (size_t)snprintf(weights + wl, sizeof weights - wl, "%s%g", wl ? "," : "",
                               (double)v->weight);
    }
    for (size_t i = 0; ex == SJ_EXIT_OK && i + 1 < h->elements; i += 2) {
        const char *f = h->element[i]->str, *bar = strchr(f, '|');
        bool known = false;
        for (size_t k = 0; bar && k < in->n_arms; k++)
            known = known || ((size_t)(bar - f) == strlen(in->arms[k].name) &&
                              !strncmp(f, in->arms[k].name, (size_t)(bar - f)));
        if (!known)
            fprintf(stderr,
                    "seintje " RCMD ": warning: counter \"%.80s\" of %s is not a variant "
                    "of campaign %s (any more): left out\n",
                    f, key, c->id);
    }
    freeReplyObject(h);
    if (ex == SJ_EXIT_OK && !any)
        ex = sj_cli_usage_error(RCMD, "%s has no counters of campaign %s's variants", key,
                                c->id);
    if (ex == SJ_EXIT_OK && in->n_arms < 2)
        ex = sj_cli_usage_error(RCMD,
                                "campaign %s has fewer than two variants that can "
                                "be assigned: nothing to compare",
                                c->id);
    if (ex == SJ_EXIT_OK && sj_stats_input_set_weights(in, weights, err, sizeof err))
        ex = sj_cli_usage_error(RCMD, "weights of campaign %s: %s", c->id, err);
    return ex;
}

/* Escapes text for SVG (XML) into out. */
static const char *xml_text(const char *s, char *out, size_t size)
{
    size_t o = 0;
    for (; *s && o + 7 < size; s++) {
        const char *e = *s == '<'   ? "&lt;"
                        : *s == '>' ? "&gt;"
                        : *s == '&' ? "&amp;"
                        : *s == '"' ? "&quot;"
                                    : NULL;
        if (e) {
            memcpy(out + o, e, strlen(e));
            o += strlen(e);
        } else {
            out[o++] = *s;
        }
    }
    out[o] = '\0';
    return out;
}

/* A bar per arm (its uptake) with the Wilson interval as a whisker, the
 * control's rate as a dashed line across. Plain SVG 1.1 text. */
static int write_chart(const char *path, const char *experiment,
                       const sj_stats_input_t *in, const sj_stats_report_t *r)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "seintje " RCMD ": --chart %s: cannot create: %s\n", path,
                strerror(errno));
        return SJ_EXIT_FAILURE;
    }
    const double left = 70, top = 50, plot_h = 260, bar_w = 60, gap = 40;
    double width = fmax(520, left + (double)in->n_arms * (bar_w + gap) + gap),
           height = top + plot_h + 60;
    double ymax = 0;
    for (size_t i = 0; i < in->n_arms; i++) ymax = fmax(ymax, r->arms[i].rate_ci.hi);
    ymax = ymax <= 0 ? 0.01 : fmin(1, ceil(ymax * 1.1 * 100) / 100); /* whole points */
    char name[SJ_STATS_NAME_MAX * 6 + 8], title[256];
#define Y(v) (top + plot_h - (v) / ymax * plot_h)
    fprintf(f,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
            "viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" font-size=\"12\">\n"
            "<title>Uptake per arm of experiment %s</title>\n"
            "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
            "<text x=\"%.0f\" y=\"24\" font-size=\"15\" font-weight=\"bold\">Uptake "
            "per arm: %s (%g%% Wilson intervals)</text>\n",
            width, height, width, height, xml_text(experiment, title, sizeof title), left,
            title, (1 - r->opts.alpha) * 100);
    for (int k = 0; k <= 4; k++) { /* axis ticks */
        double v = ymax * k / 4;
        fprintf(f,
                "<line x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\" "
                "stroke=\"#ddd\"/>\n"
                "<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\">%.1f%%</text>\n",
                left, Y(v), width - 10, Y(v), left - 6, Y(v) + 4, v * 100);
    }
    for (size_t i = 0; i < in->n_arms; i++) {
        const sj_stats_arm_result_t *a = &r->arms[i];
        double x = left + gap + (double)i * (bar_w + gap), cx = x + bar_w / 2;
        bool ctl = i == r->control;
        xml_text(in->arms[i].name, name, sizeof name);
        fprintf(f,
                "<g class=\"arm\" data-arm=\"%s\" data-rate=\"%.6f\" "
                "data-lo=\"%.6f\" data-hi=\"%.6f\">\n"
                "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.0f\" height=\"%.1f\" "
                "fill=\"%s\"/>\n"
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                "stroke=\"black\" stroke-width=\"1.5\"/>\n"
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                "stroke=\"black\"/>\n"
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                "stroke=\"black\"/>\n"
                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s%s</text>\n"
                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.1f%% of "
                "%llu</text>\n</g>\n",
                name, a->rate, a->rate_ci.lo, a->rate_ci.hi, x, Y(a->rate), bar_w,
                a->rate / ymax * plot_h, ctl ? "#9e9e9e" : "#3f7fbf", cx,
                Y(a->rate_ci.hi), cx, Y(a->rate_ci.lo), cx - 8, Y(a->rate_ci.hi), cx + 8,
                Y(a->rate_ci.hi), cx - 8, Y(a->rate_ci.lo), cx + 8, Y(a->rate_ci.lo), cx,
                top + plot_h + 18, name, ctl ? " (control)" : "", cx, top + plot_h + 34,
                a->rate * 100, (unsigned long long)in->arms[i].exposed);
    }
    double cy = Y(r->arms[r->control].rate);
    fprintf(f,
            "<line x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\" stroke=\"#555\" "
            "stroke-dasharray=\"4 3\"/>\n</svg>\n",
            left, cy, width - 10, cy);
#undef Y
    bool bad = ferror(f) != 0;
    if (fclose(f) != 0) bad = true;
    if (bad) {
        fprintf(stderr, "seintje " RCMD ": --chart %s: cannot write: %s\n", path,
                strerror(errno));
        return SJ_EXIT_FAILURE;
    }
    return SJ_EXIT_OK;
}

static int cmd_report(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"format", required_argument, NULL, OPT_FORMAT},
        {"chart", required_argument, NULL, OPT_JSON},
        {"alpha", required_argument, NULL, OPT_ALPHA},
        {"power", required_argument, NULL, OPT_POWER},
        {"effect", required_argument, NULL, OPT_EFFECT},
        {"sequential", no_argument, NULL, OPT_SEQUENTIAL},
        {"tau", required_argument, NULL, OPT_TAU},
        SJ_CLI_COMMON_LONGOPTS,
        {NULL, 0, NULL, 0}};
    static sj_stats_input_t in;
    static sj_stats_report_t report;
    sj_stats_options_t opts;
    sj_stats_input_init(&in);
    sj_stats_options_default(&opts);
    sj_cli_t cli;
    if (sj_cli_init(&cli, "seintje " RCMD) != SJ_OK) return SJ_EXIT_FAILURE;
    format_t format = FMT_TEXT;
    const char *chart = NULL;
    int opt, ex = SJ_EXIT_OK;
    optind = 1;
    opterr = 1;
    while (ex == SJ_EXIT_OK && (opt = getopt_long(argc, argv, SJ_CLI_COMMON_SHORTOPTS,
                                                  longopts, NULL)) != -1) {
        int common = sj_cli_common_opt(&cli, opt, optarg);
        if (common == 1) continue;
        double *num = NULL;
        switch (opt) {
        case OPT_FORMAT:
            if (!strcmp(optarg, "text"))
                format = FMT_TEXT;
            else if (!strcmp(optarg, "json"))
                format = FMT_JSON;
            else if (!strcmp(optarg, "csv"))
                format = FMT_CSV;
            else
                ex = sj_cli_usage_error(RCMD, "--format \"%.40s\": use text, json or csv",
                                        optarg);
            break;
        case OPT_JSON:
            chart = optarg;
            break;
        case OPT_SEQUENTIAL:
            opts.sequential = true;
            break;
        case OPT_ALPHA:
            num = &opts.alpha;
            break;
        case OPT_POWER:
            num = &opts.power;
            break;
        case OPT_EFFECT:
            num = &opts.effect;
            break;
        case OPT_TAU:
            num = &opts.tau;
            break;
        default:
            ex = common < 0 ? SJ_EXIT_USAGE : sj_cli_usage_error(RCMD, "bad option");
        }
        if (num && !parse_number(optarg, num))
            ex = sj_cli_usage_error(RCMD, "\"%.40s\": expected a number", optarg);
    }
    if (ex == SJ_EXIT_OK && cli.help) {
        fputs(report_usage, stdout);
        sj_cli_free(&cli);
        return SJ_EXIT_OK;
    }
    if (ex == SJ_EXIT_OK && optind != argc - 1)
        ex = sj_cli_usage_error(RCMD, "give one experiment id");
    if (ex == SJ_EXIT_OK && sj_cli_finish(&cli) != SJ_OK) ex = SJ_EXIT_USAGE;
    sj_campaigns_t *set = NULL;
    const sj_campaign_t *c = NULL;
    char err[512];
    if (ex == SJ_EXIT_OK) {
        const char *dir = sj_conf_get(cli.conf, "campaigns.dir");
        if (!(set = sj_campaigns_load_dir(dir, err, sizeof err)))
            ex = sj_cli_usage_error(RCMD, "%s", err);
        else if (!(c = experiment_campaign(set, argv[optind])))
            ex = sj_cli_usage_error(RCMD,
                                    "unknown experiment \"%.64s\": no campaign in %s has "
                                    "it as \"experiment\" or id",
                                    argv[optind], dir);
    }
    if (ex == SJ_EXIT_OK) ex = arms_from_redis(cli.conf, c, &in);
    if (ex == SJ_EXIT_OK) {
        size_t ctl = 0;
        for (size_t i = 0; i < in.n_arms; i++)
            if (in.arms[i].holdout) ctl = i;
        if (sj_stats_input_set_control(&in, in.arms[ctl].name, err, sizeof err) ||
            sj_stats_input_finish(&in, err, sizeof err))
            ex = sj_cli_usage_error(RCMD, "%s", err);
    }
    if (ex == SJ_EXIT_OK && sj_stats_analyse(&in, &opts, &report, err, sizeof err))
        ex = sj_cli_usage_error(RCMD, "--%s", err);
    if (ex == SJ_EXIT_OK && format == FMT_TEXT)
        printf("Experiment %s (campaign %s), counters from Redis\n", c->experiment,
               c->id);
    if (ex == SJ_EXIT_OK) ex = print_report(&in, &report, format, c->experiment, c->id);
    if (ex == SJ_EXIT_OK && chart) ex = write_chart(chart, c->experiment, &in, &report);
    sj_campaigns_destroy(set);
    sj_cli_free(&cli);
    return ex;
}

int sj_cmd_experiment(int argc, char **argv)
{
    if (argc < 2) {
        fputs(experiment_usage, stderr);
        return SJ_EXIT_USAGE;
    }
    const char *sub = argv[1];
    if (!strcmp(sub, "-h") || !strcmp(sub, "--help") || !strcmp(sub, "help")) {
        fputs(experiment_usage, stdout);
        return SJ_EXIT_OK;
    }
    if (!strcmp(sub, "stats")) return cmd_stats(argc - 1, argv + 1);
    if (!strcmp(sub, "report")) return cmd_report(argc - 1, argv + 1);
    if (!strcmp(sub, "rebuild")) return sj_experiment_rebuild_cmd(argc - 1, argv + 1);
    fprintf(stderr, "seintje experiment: unknown subcommand \"%.40s\"\n\n", sub);
    fputs(experiment_usage, stderr);
    return SJ_EXIT_USAGE;
}
