/* Unit tests for the experiment statistics (segments/stats.h): the special
 * functions against values checked by hand or in closed form (normal
 * quantiles, chi-square with 2 degrees of freedom, incomplete beta of
 * integer parameters as a binomial sum), the Wilson, Newcombe and log-ratio
 * intervals, the z-test and Holm, the Bayesian integrals against closed forms
 * (Evan Miller's sum for P(B > A), 2/3 for Beta(2,1) against the uniform),
 * the SRM check, power, the sequential interval, the verdicts, and the edge
 * cases that must stay finite: 0 exposed, no or full conversion, n = 1 and
 * n = 1e12. The comparison with SciPy and statsmodels is stats_check.py. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "segments/stats.h"

#define assert_close(got, want, tol)                                                     \
    do {                                                                                 \
        double g_ = (got), w_ = (want);                                                  \
        if (!(fabs(g_ - w_) <= (tol))) {                                                 \
            print_error("%s = %.17g, want %.17g (tolerance %g)\n", #got, g_, w_,         \
                        (double)(tol));                                                  \
            fail();                                                                      \
        }                                                                                \
    } while (0)

static char err[512];

/* Builds a finished input from "name:n:x" specs (NULL-terminated). */
static void input(sj_stats_input_t *in, const char *const *specs)
{
    sj_stats_input_init(in);
    for (size_t i = 0; specs[i]; i++)
        assert_int_equal(sj_stats_input_add_arm(in, specs[i], err, sizeof err), SJ_OK);
    assert_int_equal(sj_stats_input_finish(in, err, sizeof err), SJ_OK);
}

static void analyse(const char *const *specs, const sj_stats_options_t *o,
                    sj_stats_report_t *r)
{
    static sj_stats_input_t in;
    sj_stats_options_t def;
    sj_stats_options_default(&def);
    input(&in, specs);
    assert_int_equal(sj_stats_analyse(&in, o ? o : &def, r, err, sizeof err), SJ_OK);
}

static bool finite_ci(sj_stats_ci_t ci)
{
    return isfinite(ci.lo) && isfinite(ci.hi) && ci.lo <= ci.hi;
}

/* Every number of a report is finite and in its range. */
static void assert_sane(const sj_stats_report_t *r)
{
    double best = 0;
    for (size_t i = 0; i < r->n_arms; i++) {
        const sj_stats_arm_result_t *a = &r->arms[i];
        assert_true(isfinite(a->rate) && a->rate >= 0 && a->rate <= 1);
        assert_true(finite_ci(a->rate_ci) && a->rate_ci.lo >= 0 && a->rate_ci.hi <= 1);
        assert_true(a->prob_best >= 0 && a->prob_best <= 1);
        assert_true(isfinite(a->expected_loss) && a->expected_loss >= 0);
        best += a->prob_best;
        if (i == r->control) continue;
        assert_true(isfinite(a->diff) && finite_ci(a->diff_ci));
        assert_true(a->diff_ci.lo >= -1 && a->diff_ci.hi <= 1);
        assert_true(isfinite(a->rel) && finite_ci(a->rel_ci));
        assert_true(isfinite(a->z) && a->p_value >= 0 && a->p_value <= 1);
        assert_true(a->p_holm >= a->p_value && a->p_holm <= 1);
        assert_true(a->prob_beat >= 0 && a->prob_beat <= 1);
        assert_true(isfinite(a->mde) && a->mde >= 0);
        assert_true(finite_ci(a->seq_ci) && a->seq_p >= 0 && a->seq_p <= 1);
        assert_true(a->verdict != SJ_STATS_CONTROL && a->verdict_text[0]);
    }
    assert_close(best, 1, 1e-9);
    assert_true(isfinite(r->srm.chi2) && r->srm.p_value >= 0 && r->srm.p_value <= 1);
    assert_true(isfinite(r->n_per_arm) && isfinite(r->baseline));
}

/* ---- Special functions --------------------------------------------------- */

static void test_normal(void **state)
{
    (void)state;
    assert_close(sj_stats_norm_cdf(0), 0.5, 1e-16);
    assert_close(sj_stats_norm_cdf(1.959963984540054), 0.975, 1e-15);
    assert_close(sj_stats_norm_cdf(-8), 6.220960574271785e-16, 1e-29);
    assert_close(sj_stats_norm_quantile(0.975), 1.959963984540054, 1e-14);
    assert_close(sj_stats_norm_quantile(0.8), 0.8416212335729143, 1e-14);
    assert_close(sj_stats_norm_quantile(0.5), 0, 1e-16);
    assert_close(sj_stats_norm_quantile(0.0005), -3.2905267314918945, 1e-13);
    assert_close(sj_stats_norm_quantile(1e-300), -37.0470962993612, 1e-12);
    /* round trips across the whole range, both tails */
    for (double p = 1e-15; p < 1; p = p < 0.01 ? p * 7 : p + 0.0137) {
        double x = sj_stats_norm_quantile(p);
        /* relative error of x near 1e-16, of p near |x| times that */
        assert_close(sj_stats_norm_cdf(x), p, 4e-16 * (1 + x * x) * p);
    }
    assert_true(isinf(sj_stats_norm_quantile(0)) && sj_stats_norm_quantile(0) < 0);
    assert_true(isinf(sj_stats_norm_quantile(1)) && sj_stats_norm_quantile(1) > 0);
}

static void test_gamma(void **state)
{
    (void)state;
    /* Q(1, x) = exp(-x); chi-square with 2 df: sf(x) = exp(-x/2) */
    for (double x = 0.01; x < 700; x *= 1.7) {
        /* the prefactor exp(-x + ...) carries x * 1e-16 of relative error */
        assert_close(sj_stats_gamma_q(1, x), exp(-x), 1e-15 * (1 + x) * exp(-x));
        assert_close(sj_stats_chi2_sf(x, 2), exp(-x / 2), 1e-15 * (1 + x) * exp(-x / 2));
    }
    /* Q(1/2, x) = erfc(sqrt x): chi-square with 1 df */
    for (double x = 0.001; x < 600; x *= 1.9)
        assert_close(sj_stats_gamma_q(0.5, x), erfc(sqrt(x)), 1e-13 * erfc(sqrt(x)));
    /* chi-square 3.841459 with 1 df is the 5% point; 16.266 with 3 df the 0.1% */
    assert_close(sj_stats_chi2_sf(3.841458820694124, 1), 0.05, 1e-14);
    assert_close(sj_stats_chi2_sf(16.26623619623813, 3), 0.001, 1e-15);
    /* Q(3, x) = exp(-x)(1 + x + x^2/2) */
    assert_close(sj_stats_gamma_q(3, 2), exp(-2) * 5, 1e-15);
    assert_close(sj_stats_gamma_p(3, 2) + sj_stats_gamma_q(3, 2), 1, 1e-15);
    assert_close(sj_stats_gamma_q(2, 0), 1, 0);
    assert_close(sj_stats_gamma_q(2, 1e9), 0, 0);
    assert_close(sj_stats_gamma_q(7.5, INFINITY), 0, 0);
}

/* I_x(a, b) for integers: P(Binomial(a + b - 1, x) >= a), summing the
 * smaller tail. */
static double binomial_tail(int a, int b, double x)
{
    int n = a + b - 1;
    double lower = 0, upper = 0;
    for (int k = 0; k <= n; k++) {
        double t = exp(lgamma(n + 1.0) - lgamma(k + 1.0) - lgamma(n - k + 1.0) +
                       k * log(x) + (n - k) * log1p(-x));
        if (k < a)
            lower += t;
        else
            upper += t;
    }
    return upper < lower ? upper : 1 - lower;
}

static void test_beta_inc(void **state)
{
    (void)state;
    static const int ab[][2] = {{1, 1},   {2, 1},  {1, 5},   {3, 7},
                                {12, 30}, {40, 9}, {120, 80}};
    for (size_t i = 0; i < sizeof ab / sizeof ab[0]; i++)
        for (double x = 0.01; x < 1; x += 0.049) {
            double want = binomial_tail(ab[i][0], ab[i][1], x);
            assert_close(sj_stats_beta_inc(ab[i][0], ab[i][1], x), want, 1e-13);
        }
    assert_close(sj_stats_beta_inc(0.5, 0.5, 0.5), 0.5, 1e-15);
    assert_close(sj_stats_beta_inc(2, 3, 0), 0, 0);
    assert_close(sj_stats_beta_inc(2, 3, 1), 1, 0);
    /* symmetry I_x(a, b) = 1 - I_{1-x}(b, a), also with huge parameters */
    assert_close(sj_stats_beta_inc(1e6, 3e6, 0.2501) +
                     sj_stats_beta_inc(3e6, 1e6, 0.7499),
                 1, 1e-11);
    /* at the median of a near-normal Beta(a, a): 1/2 */
    assert_close(sj_stats_beta_inc(5e8, 5e8, 0.5), 0.5, 1e-9);
    /* Beta(1, b): 1 - (1 - x)^b, exact for any b */
    assert_close(sj_stats_beta_inc(1, 1e9, 1e-9), -expm1(1e9 * log1p(-1e-9)), 1e-13);
}

/* ---- Frequentist parts ------------------------------------------------------ */

static void test_wilson(void **state)
{
    (void)state;
    /* 120 of 1000: statsmodels proportion_confint(120, 1000, method='wilson') */
    sj_stats_ci_t ci = sj_stats_wilson(120, 1000, 0.05);
    assert_close(ci.lo, 0.10129926060130913, 1e-15);
    assert_close(ci.hi, 0.14160907584771276, 1e-15);
    /* 0 of n: [0, z^2 / (n + z^2)]; n of n mirrors it */
    double z2 = 1.959963984540054 * 1.959963984540054;
    ci = sj_stats_wilson(0, 50, 0.05);
    assert_close(ci.lo, 0, 0);
    assert_close(ci.hi, z2 / (50 + z2), 1e-15);
    ci = sj_stats_wilson(50, 50, 0.05);
    assert_close(ci.lo, 50 / (50 + z2), 1e-15);
    assert_close(ci.hi, 1, 0);
    ci = sj_stats_wilson(0, 0, 0.05);
    assert_true(ci.lo == 0 && ci.hi == 1);
    ci = sj_stats_wilson(1, 1, 0.05);
    assert_close(ci.lo, 1 / (1 + z2), 1e-15);
    ci = sj_stats_wilson(999999990, 1000000000, 0.05);
    assert_true(ci.lo < 0.99999999 && ci.hi > 0.99999999 && ci.hi < 1);
}

static void test_comparison(void **state)
{
    (void)state;
    sj_stats_report_t r;
    analyse((const char *const[]){"control:1000:120", "B:1000:150", NULL}, NULL, &r);
    assert_sane(&r);
    const sj_stats_arm_result_t *b = &r.arms[1];
    assert_int_equal(r.control, 0);
    assert_close(b->diff, 0.03, 1e-16);
    /* statsmodels confint_proportions_2indep(150, 1000, 120, 1000, 'newcomb') */
    assert_close(b->diff_ci.lo, 1.3782434204051563e-05, 1e-15);
    assert_close(b->diff_ci.hi, 0.060008258570126566, 1e-15);
    /* log ratio: ln(1.25) -+ 1.96 sqrt(1/150 - 1/1000 + 1/120 - 1/1000) */
    double se = sqrt(1.0 / 150 - 1.0 / 1000 + 1.0 / 120 - 1.0 / 1000);
    assert_close(b->rel, 0.25, 1e-15);
    assert_close(b->rel_ci.lo, 1.25 * exp(-1.959963984540054 * se) - 1, 1e-14);
    assert_close(b->rel_ci.hi, 1.25 * exp(1.959963984540054 * se) - 1, 1e-14);
    /* pooled z: 0.03 / sqrt(0.135 * 0.865 * 2 / 1000) */
    assert_close(b->z, 0.03 / sqrt(0.135 * 0.865 * 0.002), 1e-13);
    assert_close(b->p_value, erfc(b->z / sqrt(2)), 1e-16);
    assert_close(b->p_holm, b->p_value, 0);
    /* MDE: (1.959964 + 0.841621) sqrt(0.135 * 0.865 * 0.002) */
    assert_close(b->mde,
                 (1.959963984540054 + 0.8416212335729143) * sqrt(0.135 * 0.865 * 0.002),
                 1e-15);
    /* sample size at 12%: 2 (z_a + z_b)^2 0.12 0.88 / 0.01^2 = 16,576.x */
    assert_true(r.has_n_per_arm);
    assert_close(r.n_per_arm,
                 2 * pow(1.959963984540054 + 0.8416212335729143, 2) * 0.12 * 0.88 / 1e-4,
                 1e-9);
    assert_int_equal(b->verdict, SJ_STATS_RAISED);
    assert_string_equal(b->verdict_text,
                        "variant B raised uptake by 3.0 points (0.0\xe2\x80\x93"
                        "6.0)");
}

static void test_holm(void **state)
{
    (void)state;
    sj_stats_report_t r;
    analyse((const char *const[]){"control:5000:400", "B:5000:470", "C:5000:420",
                                  "D:5000:455", NULL},
            NULL, &r);
    assert_sane(&r);
    /* Holm by hand: sort, multiply by 3, 2, 1, running maximum, cap at 1 */
    double p[3] = {r.arms[1].p_value, r.arms[2].p_value, r.arms[3].p_value};
    int order[3] = {0, 1, 2};
    for (int i = 0; i < 3; i++)
        for (int j = i + 1; j < 3; j++)
            if (p[order[j]] < p[order[i]]) {
                int t = order[i];
                order[i] = order[j];
                order[j] = t;
            }
    double running = 0;
    for (int k = 0; k < 3; k++) {
        running = fmax(running, fmin(1, (3 - k) * p[order[k]]));
        assert_close(r.arms[1 + order[k]].p_holm, running, 1e-16);
    }
    assert_int_equal(r.n_variants, 3);
}

static void test_srm(void **state)
{
    (void)state;
    static sj_stats_input_t in;
    sj_stats_report_t r;
    sj_stats_options_t o;
    sj_stats_options_default(&o);
    input(&in, (const char *const[]){"control:1000:100", "B:1200:130", NULL});
    assert_int_equal(sj_stats_input_set_weights(&in, "50,50", err, sizeof err), SJ_OK);
    assert_int_equal(sj_stats_analyse(&in, &o, &r, err, sizeof err), SJ_OK);
    /* (1000-1100)^2/1100 * 2 = 18.1818..., 1 df */
    assert_close(r.srm.chi2, 200.0 / 11, 1e-12);
    assert_close(r.srm.p_value, erfc(sqrt(100.0 / 11)), 1e-18);
    assert_true(r.srm.mismatch && !r.srm.weights_assumed);
    /* 45/45/10 with a holdout: the holdout is the control */
    sj_stats_input_init(&in);
    const char *doc =
        "{\"arms\":[{\"name\":\"plain\",\"exposed\":4500,\"converted\":450,"
        "\"weight\":45},{\"name\":\"deadline\",\"exposed\":4480,"
        "\"converted\":500,\"weight\":45},{\"name\":\"holdout\",\"exposed\":"
        "1020,\"converted\":90,\"weight\":10,\"holdout\":true}]}";
    assert_int_equal(
        sj_stats_input_from_json(&in, doc, strlen(doc), "doc", err, sizeof err), SJ_OK);
    assert_int_equal(sj_stats_input_finish(&in, err, sizeof err), SJ_OK);
    assert_int_equal(in.control, 2);
    assert_int_equal(sj_stats_analyse(&in, &o, &r, err, sizeof err), SJ_OK);
    assert_sane(&r);
    double chi2 = pow(4500 - 4500, 2) / 4500 + pow(4480 - 4500, 2) / 4500 +
                  pow(1020 - 1000, 2) / 1000;
    assert_close(r.srm.chi2, chi2, 1e-12);
    assert_close(r.srm.p_value, exp(-chi2 / 2), 1e-15);
    assert_false(r.srm.mismatch);
    assert_close(r.arms[2].weight, 0.1, 1e-16);
}

static void test_sequential(void **state)
{
    (void)state;
    sj_stats_report_t r;
    sj_stats_options_t o;
    sj_stats_options_default(&o);
    o.sequential = true;
    analyse((const char *const[]){"control:8000:800", "B:8000:900", NULL}, &o, &r);
    assert_sane(&r);
    const sj_stats_arm_result_t *b = &r.arms[1];
    double pc = 801.0 / 8002, pv = 901.0 / 8002, t2 = 0.02 * 0.02;
    double v = pc * (1 - pc) / 8002 + pv * (1 - pv) / 8002, d = pv - pc;
    double half = sqrt(v * (v + t2) / t2 * (2 * log(20) + log((v + t2) / v)));
    assert_close(b->seq_ci.lo, d - half, 1e-15);
    assert_close(b->seq_ci.hi, d + half, 1e-15);
    assert_close(b->seq_p, sqrt((v + t2) / v) * exp(-t2 * d * d / (2 * v * (v + t2))),
                 1e-15);
    /* always-valid intervals are wider than the fixed-horizon ones */
    assert_true(b->seq_ci.hi - b->seq_ci.lo > b->diff_ci.hi - b->diff_ci.lo);
    /* the verdict follows the always-valid interval */
    bool excl = b->seq_ci.lo > 0;
    assert_int_equal(b->verdict, excl ? SJ_STATS_RAISED : SJ_STATS_TOO_EARLY);
}

/* ---- Bayesian ------------------------------------------------------------------ */

/* Evan Miller's closed form of P(p_B > p_A) for integer Beta parameters. */
static double miller(double aa, double ba, double ab, double bb)
{
    double sum = 0;
    for (int i = 0; i < (int)ab; i++)
        sum += exp(lgamma(aa + i) + lgamma(ba + bb) - lgamma(aa + ba + bb + i) -
                   log(bb + i) - (lgamma(1 + i) + lgamma(bb) - lgamma(1 + i + bb)) -
                   (lgamma(aa) + lgamma(ba) - lgamma(aa + ba)));
    return sum;
}

static void test_bayes(void **state)
{
    (void)state;
    sj_stats_report_t r;
    analyse((const char *const[]){"control:1000:120", "B:1000:150", NULL}, NULL, &r);
    assert_close(r.arms[1].prob_beat, miller(121, 881, 151, 851), 1e-11);
    assert_close(r.arms[1].prob_best, r.arms[1].prob_beat, 1e-12);
    analyse((const char *const[]){"control:40:3", "B:35:6", NULL}, NULL, &r);
    assert_close(r.arms[1].prob_beat, miller(4, 38, 7, 30), 1e-12);
    /* Beta(2,1) against the uniform: P = int 2x * x dx = 2/3; the expected
     * loss of the uniform arm: E[max] - 1/2 with E[max] = int 1 - x^3 = 3/4 */
    analyse((const char *const[]){"control:0:0", "B:1:1", NULL}, NULL, &r);
    assert_close(r.arms[1].prob_beat, 2.0 / 3, 1e-13);
    assert_close(r.arms[0].expected_loss, 0.25, 1e-13);
    assert_close(r.arms[1].expected_loss, 0.75 - 2.0 / 3, 1e-13);
    /* equal arms: a coin toss, each of three best with 1/3 */
    analyse((const char *const[]){"a:500:50", "b:500:50", "c:500:50", NULL}, NULL, &r);
    for (int i = 0; i < 3; i++) assert_close(r.arms[i].prob_best, 1.0 / 3, 1e-12);
    assert_close(r.arms[1].prob_beat, 0.5, 1e-12);
    /* huge: symmetric, and the variant 5e-5 up is best with the normal's odds */
    analyse(
        (const char *const[]){"c:1000000000:120000000", "b:1000000000:120000000", NULL},
        NULL, &r);
    assert_close(r.arms[1].prob_beat, 0.5, 1e-12);
    analyse(
        (const char *const[]){"c:1000000000:120000000", "b:1000000000:120050000", NULL},
        NULL, &r);
    assert_sane(&r);
    double sd = sqrt(2 * 0.120025 * 0.879975 / 1e9);
    assert_close(r.arms[1].prob_beat, sj_stats_norm_cdf(5e-5 / sd), 2e-6);
}

/* ---- Edge cases and verdicts ------------------------------------------------------ */

static void test_edges(void **state)
{
    (void)state;
    static const char *const cases[][5] = {
        {"c:0:0", "b:0:0", NULL},
        {"c:0:0", "b:10:3", "d:12:4", NULL},
        {"c:1:0", "b:1:1", NULL},
        {"c:1:1", "b:1:1", NULL},
        {"c:500:0", "b:500:0", NULL},
        {"c:500:500", "b:500:500", NULL},
        {"c:500:0", "b:500:7", NULL},
        {"c:1000000000:0", "b:1000000000:1000000000", NULL},
        {"c:1000000000:999999990", "b:1000000000:999999999", NULL},
        {"c:1000000000000:120000000000", "b:1000000000000:120000300000", "d:1:1", NULL},
        {"c:1000000000000:0", "b:1:0", NULL},
    };
    sj_stats_options_t o;
    sj_stats_options_default(&o);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sj_stats_report_t r;
        analyse(cases[i], &o, &r);
        assert_sane(&r);
        o.sequential = !o.sequential;
    }
    sj_stats_report_t r;
    analyse((const char *const[]){"c:0:0", "b:0:0", NULL}, NULL, &r);
    assert_false(r.arms[1].comparable || r.arms[0].has_rate || r.srm.tested);
    assert_false(r.has_n_per_arm);
    assert_close(r.arms[1].prob_beat, 0.5, 1e-14);
    assert_string_equal(r.arms[1].verdict_text,
                        "variant b: too early to tell (no exposures in b yet)");
    analyse((const char *const[]){"c:500:0", "b:500:0", NULL}, NULL, &r);
    assert_true(r.arms[1].comparable && !r.arms[1].has_rel && !r.arms[1].has_mde);
    assert_close(r.arms[1].p_value, 1, 0);
    assert_string_equal(r.arms[1].verdict_text,
                        "variant b: too early to tell (no conversions yet)");
    assert_true(r.arms[0].warnings & SJ_STATS_WARN_FEW_CONVERTED);
    analyse((const char *const[]){"c:500:500", "b:500:500", NULL}, NULL, &r);
    assert_true(r.arms[0].warnings & SJ_STATS_WARN_FEW_NOT_CONVERTED);
    analyse(
        (const char *const[]){"c:1000000000:999999990", "b:1000000000:999999999", NULL},
        NULL, &r);
    assert_close(r.arms[1].diff, 9e-9, 1e-22);
    analyse((const char *const[]){"c:10:1", "b:1000:900", NULL}, NULL, &r);
    assert_true(r.arms[0].warnings & SJ_STATS_WARN_FEW_EXPOSED);
    assert_int_equal(r.arms[1].verdict, SJ_STATS_TOO_EARLY);
}

static void test_verdicts(void **state)
{
    (void)state;
    sj_stats_report_t r;
    analyse((const char *const[]){"control:20000:2400", "B:20000:2000", NULL}, NULL, &r);
    assert_int_equal(r.arms[1].verdict, SJ_STATS_LOWERED);
    assert_string_equal(r.arms[1].verdict_text,
                        "variant B lowered uptake by 2.0 points (1.4\xe2\x80\x93"
                        "2.6)");
    analyse((const char *const[]){"control:20000000:2400000", "B:20000000:2410000", NULL},
            NULL, &r);
    assert_string_equal(r.arms[1].verdict_text,
                        "variant B raised uptake by 0.05 points (0.03\xe2\x80\x93"
                        "0.07)");
    analyse((const char *const[]){"control:100000:12000", "B:100000:12030", NULL}, NULL,
            &r);
    assert_int_equal(r.arms[1].verdict, SJ_STATS_NO_DIFFERENCE);
    assert_string_equal(
        r.arms[1].verdict_text,
        "variant B: no detectable difference from control (MDE 0.4 points)");
    analyse((const char *const[]){"control:2000:240", "B:2000:250", NULL}, NULL, &r);
    assert_int_equal(r.arms[1].verdict, SJ_STATS_TOO_EARLY);
    assert_non_null(
        strstr(r.arms[1].verdict_text, "too early to tell (MDE now 2.9 points"));
    /* a second variant makes Holm stricter than the single test */
    analyse((const char *const[]){"control:1000:120", "B:1000:150", "C:1000:121", NULL},
            NULL, &r);
    assert_true(r.arms[1].p_value < 0.05 && r.arms[1].p_holm > 0.05);
    assert_int_equal(r.arms[1].verdict, SJ_STATS_TOO_EARLY);
}

/* ---- Input ----------------------------------------------------------------------- */

static void expect_arm_error(const char *spec, const char *want)
{
    sj_stats_input_t in;
    sj_stats_input_init(&in);
    err[0] = '\0';
    assert_int_equal(sj_stats_input_add_arm(&in, spec, err, sizeof err), SJ_ERR_INPUT);
    if (!strstr(err, want)) {
        print_error("%s: error \"%s\" lacks \"%s\"\n", spec, err, want);
        fail();
    }
    assert_int_equal(in.n_arms, 0);
}

static void expect_json_error(const char *doc, const char *want)
{
    static sj_stats_input_t in;
    sj_stats_input_init(&in);
    err[0] = '\0';
    sj_status_t st =
        sj_stats_input_from_json(&in, doc, strlen(doc), "in.json", err, sizeof err);
    if (st == SJ_OK) st = sj_stats_input_finish(&in, err, sizeof err);
    assert_int_not_equal(st, SJ_OK);
    if (!strstr(err, want)) {
        print_error("%s: error \"%s\" lacks \"%s\"\n", doc, err, want);
        fail();
    }
}

static void test_input(void **state)
{
    (void)state;
    expect_arm_error("B:1000", "expected NAME:EXPOSED:CONVERTED");
    expect_arm_error("B:1:2:3", "expected NAME:EXPOSED:CONVERTED");
    expect_arm_error(":1:1", "the name must be");
    expect_arm_error("a b:1:1", "the name must be");
    expect_arm_error("B:-1:0", "EXPOSED must be a whole number");
    expect_arm_error("B:1e3:0", "EXPOSED must be a whole number");
    expect_arm_error("B:10:", "CONVERTED must be a whole number");
    expect_arm_error("B:10:11", "11 converted is more than the 10 exposed");
    expect_arm_error("B:1000000000001:0", "more than the limit");
    expect_arm_error("B:99999999999999999999999:0", "EXPOSED must be a whole number");

    sj_stats_input_t in;
    sj_stats_input_init(&in);
    char spec[32];
    for (int i = 0; i < SJ_STATS_MAX_ARMS; i++) {
        snprintf(spec, sizeof spec, "a%d:10:1", i);
        assert_int_equal(sj_stats_input_add_arm(&in, spec, err, sizeof err), SJ_OK);
    }
    assert_int_equal(sj_stats_input_add_arm(&in, "x:1:1", err, sizeof err),
                     SJ_ERR_TOO_BIG);
    assert_int_equal(sj_stats_input_set_weights(&in, "1,2", err, sizeof err),
                     SJ_ERR_INPUT);
    assert_non_null(strstr(err, "2 weights for 16 arms"));

    input(&in, (const char *const[]){"x:10:1", "control:10:2", "holdout:10:3", NULL});
    assert_int_equal(in.control, 1);
    input(&in, (const char *const[]){"x:10:1", "holdout:10:3", NULL});
    assert_int_equal(in.control, 1);
    input(&in, (const char *const[]){"x:10:1", "y:10:3", NULL});
    assert_int_equal(in.control, 0);
    sj_stats_input_init(&in);
    sj_stats_input_add_arm(&in, "x:10:1", err, sizeof err);
    sj_stats_input_add_arm(&in, "y:10:1", err, sizeof err);
    assert_int_equal(sj_stats_input_set_weights(&in, "50,0", err, sizeof err),
                     SJ_ERR_INPUT);
    assert_int_equal(sj_stats_input_set_weights(&in, "50,,50", err, sizeof err),
                     SJ_ERR_INPUT);
    assert_int_equal(sj_stats_input_set_weights(&in, "50,nan", err, sizeof err),
                     SJ_ERR_INPUT);
    assert_int_equal(sj_stats_input_set_weights(&in, "2.5,7.5", err, sizeof err), SJ_OK);
    assert_int_equal(sj_stats_input_set_control(&in, "z", err, sizeof err), SJ_OK);
    assert_int_equal(sj_stats_input_finish(&in, err, sizeof err), SJ_ERR_INPUT);
    assert_non_null(strstr(err, "control \"z\" is not one of the arms"));

    expect_json_error("[1,", "in.json:1:3");
    expect_json_error("{\"arms\":[{\"name\":\"a\",\"exposed\":1,\"converted\":0}]}",
                      "give at least two");
    expect_json_error("{\"arms\":[{\"name\":\"a\",\"exposed\":-1,\"converted\":0}]}",
                      "$.arms[0].exposed: expected a whole number >= 0, got a negative");
    expect_json_error("{\"arms\":[{\"name\":\"a\",\"exposed\":\"1\",\"converted\":0}]}",
                      "$.arms[0].exposed: expected a whole number >= 0, got a string");
    expect_json_error("{\"arms\":[{\"name\":\"a\",\"exposed\":5,\"converted\":6}]}",
                      "$.arms[0]: 6 converted is more than the 5 exposed");
    expect_json_error(
        "{\"arms\":[{\"name\":\"a\\u0000b\",\"exposed\":5,\"converted\":1}]}",
        "in.json:1:");
    expect_json_error(
        "{\"arms\":[{\"name\":\"\xc3\xa9\",\"exposed\":5,\"converted\":1}]}",
        "$.arms[0].name: \"??\" must be 1 to 63 letters");
    expect_json_error("{\"arms\":[{\"name\":\"a\",\"exposed\":5,\"converted\":1,"
                      "\"weight\":0}]}",
                      "$.arms[0].weight: expected a number above 0");
    expect_json_error("{\"arms\":[{\"name\":\"a\",\"exposed\":5,\"converted\":1,"
                      "\"holdout\":1}]}",
                      "$.arms[0].holdout: expected true or false");
    expect_json_error("{\"arms\":[{\"name\":\"a\",\"exposed\":5,\"converted\":1,"
                      "\"holdout\":true},{\"name\":\"b\",\"exposed\":5,\"converted\":1,"
                      "\"holdout\":true}]}",
                      "2 arms are marked holdout");
    expect_json_error(
        "{\"arms\":[{\"name\":\"a\",\"exposed\":5,\"converted\":1},"
        "{\"name\":\"b\",\"exposed\":5,\"converted\":1}],\"control\":\"c d\"}",
        "$.control: \"c d\": an arm name is");
    expect_json_error("{\"arms\":[],\"arms\":[]}", "duplicate");
}

static void test_options(void **state)
{
    (void)state;
    static sj_stats_input_t in;
    sj_stats_report_t r;
    input(&in, (const char *const[]){"x:10:1", "y:10:3", NULL});
    sj_stats_options_t o;
    sj_stats_options_default(&o);
    o.alpha = 0;
    assert_int_equal(sj_stats_analyse(&in, &o, &r, err, sizeof err), SJ_ERR_INPUT);
    assert_non_null(strstr(err, "alpha 0:"));
    sj_stats_options_default(&o);
    o.power = 1;
    assert_int_equal(sj_stats_analyse(&in, &o, &r, err, sizeof err), SJ_ERR_INPUT);
    sj_stats_options_default(&o);
    o.effect = NAN;
    assert_int_equal(sj_stats_analyse(&in, &o, &r, err, sizeof err), SJ_ERR_INPUT);
    sj_stats_options_default(&o);
    o.baseline = 1;
    assert_int_equal(sj_stats_analyse(&in, &o, &r, err, sizeof err), SJ_ERR_INPUT);
    sj_stats_options_default(&o);
    o.tau = 0;
    assert_int_equal(sj_stats_analyse(&in, &o, &r, err, sizeof err), SJ_ERR_INPUT);
    sj_stats_options_default(&o);
    o.baseline = 0.3;
    o.alpha = 0.1;
    o.power = 0.9;
    o.effect = 0.05;
    assert_int_equal(sj_stats_analyse(&in, &o, &r, err, sizeof err), SJ_OK);
    double z = 1.6448536269514722 + 1.2815515655446004;
    assert_close(r.n_per_arm, 2 * z * z * 0.21 / 0.0025, 1e-9);
    assert_close(r.baseline, 0.3, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normal),     cmocka_unit_test(test_gamma),
        cmocka_unit_test(test_beta_inc),   cmocka_unit_test(test_wilson),
        cmocka_unit_test(test_comparison), cmocka_unit_test(test_holm),
        cmocka_unit_test(test_srm),        cmocka_unit_test(test_sequential),
        cmocka_unit_test(test_bayes),      cmocka_unit_test(test_edges),
        cmocka_unit_test(test_verdicts),   cmocka_unit_test(test_input),
        cmocka_unit_test(test_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
