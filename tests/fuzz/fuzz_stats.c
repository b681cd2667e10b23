/* Fuzz target: the input of `seintje experiment stats` (segments/stats.h) on
 * arbitrary bytes, read two ways: as the JSON document, and as lines of the
 * command-line forms ("NAME:EXPOSED:CONVERTED" per arm, "w 50,50" for the
 * weights, "c NAME" for the control, "s" for sequential). Invariants: never
 * crash; a refusal explains itself; an accepted input gives a report whose
 * every number is finite and in its range (probabilities in [0, 1] summing
 * to 1 over the arms, intervals ordered, a verdict for every variant). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "segments/stats.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_ci(sj_stats_ci_t ci)
{
    if (!isfinite(ci.lo) || !isfinite(ci.hi) || ci.lo > ci.hi) abort();
}

static void check_prob(double p)
{
    if (!(p >= 0 && p <= 1)) abort();
}

static void analyse(sj_stats_input_t *in, bool sequential)
{
    char err[512] = "";
    if (sj_stats_input_finish(in, err, sizeof err) != SJ_OK) {
        if (!err[0]) abort();
        return;
    }
    static sj_stats_report_t r;
    sj_stats_options_t o;
    sj_stats_options_default(&o);
    o.sequential = sequential;
    if (sj_stats_analyse(in, &o, &r, err, sizeof err) != SJ_OK) abort();
    double best = 0;
    for (size_t i = 0; i < r.n_arms; i++) {
        const sj_stats_arm_result_t *a = &r.arms[i];
        check_prob(a->rate);
        check_ci(a->rate_ci);
        check_prob(a->prob_best);
        best += a->prob_best;
        if (!(a->expected_loss >= 0 && a->expected_loss <= 1)) abort();
        if (i == r.control) continue;
        check_ci(a->diff_ci);
        check_ci(a->rel_ci);
        check_ci(a->seq_ci);
        check_prob(a->p_value);
        check_prob(a->p_holm);
        check_prob(a->seq_p);
        check_prob(a->prob_beat);
        if (!isfinite(a->diff) || !isfinite(a->rel) || !isfinite(a->z) ||
            !isfinite(a->mde))
            abort();
        if (a->verdict == SJ_STATS_CONTROL || !a->verdict_text[0]) abort();
    }
    if (fabs(best - 1) > 1e-6) abort();
    check_prob(r.srm.p_value);
    if (!isfinite(r.srm.chi2) || !isfinite(r.n_per_arm)) abort();
}

static void from_lines(const char *s)
{
    static sj_stats_input_t in;
    sj_stats_input_init(&in);
    char err[512], line[256];
    bool sequential = false;
    while (*s) {
        size_t n = strcspn(s, "\n");
        if (n < sizeof line) {
            memcpy(line, s, n);
            line[n] = '\0';
            sj_status_t st = SJ_OK;
            err[0] = '\0';
            if (!strncmp(line, "w ", 2))
                st = sj_stats_input_set_weights(&in, line + 2, err, sizeof err);
            else if (!strncmp(line, "c ", 2))
                st = sj_stats_input_set_control(&in, line + 2, err, sizeof err);
            else if (!strcmp(line, "s"))
                sequential = true;
            else
                st = sj_stats_input_add_arm(&in, line, err, sizeof err);
            if (st != SJ_OK && !err[0]) abort();
        }
        s += n + (s[n] == '\n');
    }
    analyse(&in, sequential);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static sj_stats_input_t in;
    char err[512] = "";
    sj_stats_input_init(&in);
    if (sj_stats_input_from_json(&in, (const char *)data, size, "fuzz", err,
                                 sizeof err) == SJ_OK)
        analyse(&in, size % 2 == 1);
    else if (!err[0])
        abort();
    char *s = malloc(size + 1);
    if (!s) return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    from_lines(s);
    free(s);
    return 0;
}
