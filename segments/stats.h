/* Experiment statistics: from per-arm counts (exposed, converted) to the
 * numbers and the plain-language verdict an officer reads in
 * `seintje experiment stats` (segments/experiment_cmd.c). Pure code: no I/O,
 * no allocation, no global state; every result is a finite number (an
 * undefined quantity is marked by a has_* flag and left 0, never NaN).
 *
 *     sj_stats_input_t in;
 *     sj_stats_input_init(&in);
 *     sj_stats_input_add_arm(&in, "control:1000:120", err, sizeof err);
 *     sj_stats_input_add_arm(&in, "B:1000:150", err, sizeof err);
 *     sj_stats_input_finish(&in, err, sizeof err);
 *     sj_stats_options_t o;
 *     sj_stats_options_default(&o);
 *     sj_stats_report_t r;
 *     sj_stats_analyse(&in, &o, &r, err, sizeof err);
 *     puts(r.arms[1].verdict_text);    -> "variant B: too early to tell (...)"
 *
 * What is computed, and with which method (alpha is two-sided, default 0.05):
 *  - per arm: rate x/n with the Wilson score interval;
 *  - each variant against the control (or holdout): the absolute difference
 *    p_v - p_c with Newcombe's hybrid score interval (method 10 of Newcombe
 *    1998, built from the two Wilson intervals: it stays inside [-1, 1] and
 *    is defined at 0 and full conversion, unlike Wald); the relative
 *    difference p_v/p_c - 1 with the log-ratio delta-method interval
 *    (ln r +- z sqrt(1/x_v - 1/n_v + 1/x_c - 1/n_c), Katz et al. 1978),
 *    defined when both arms have conversions; the pooled two-proportion
 *    z-test with its two-sided p-value, and Holm's step-down adjustment over
 *    the variants when there are several;
 *  - Bayesian view with Beta(1,1) priors, so the posteriors are
 *    Beta(1 + x, 1 + n - x): the probability that each variant beats the
 *    control, that each arm is best, and each arm's expected loss
 *    E[max_j p_j - p_i] (for two arms, E[max(p_c - p_v, 0)] for the
 *    variant). These are exact up to quadrature (about 1e-12): integrals
 *    of Beta densities times Beta distribution functions by 10-point
 *    Gauss-Legendre on panels one posterior standard deviation wide around
 *    every arm's mean, out to 40 standard deviations (beyond that the
 *    log-concave posteriors hold less than 1e-17); each distribution
 *    function is its incomplete beta function at the lower end plus the
 *    integral of its density from there, so the cost does not grow with n.
 *    No simulation, so no seed;
 *  - sample-ratio mismatch: Pearson's chi-square of the exposures against
 *    the configured weights (equal weights when none are given), k - 1
 *    degrees of freedom, flagged when p < 0.001;
 *  - power: the minimum detectable effect (absolute) of each comparison at
 *    the current sample, (z_{1-alpha/2} + z_power) sqrt(p(1-p)(1/n_c +
 *    1/n_v)) with p the pair's pooled rate, and the exposures per arm needed
 *    for a given absolute effect, 2 (z_{1-alpha/2} + z_power)^2 p(1-p) /
 *    effect^2 with p the baseline (the control's rate unless given): the
 *    normal approximation that statsmodels' NormalIndPower also solves;
 *  - sequential (optional): an always-valid confidence sequence and p-value
 *    for the difference, so officers may look every day: the mixture SPRT
 *    of Johari, Koomen, Pekelis and Walsh (2017, 2022) with a normal
 *    approximation and a N(0, tau^2) mixture over the difference (tau
 *    default 0.02, two points, the size of effect nudges have at scale), on
 *    the Agresti-Caffo estimates (one success and one failure added per arm,
 *    so the variance is never 0): with V = sum p~(1-p~)/(n+2),
 *    half-width sqrt(V (V + tau^2) / tau^2 (2 ln(1/alpha) + ln((V + tau^2)/V)))
 *    and p = min(1, sqrt((V + tau^2)/V) exp(-tau^2 d^2 / (2 V (V + tau^2))));
 *  - a verdict per variant: raised or lowered when the (Holm-adjusted)
 *    p-value is below alpha and the interval excludes 0 (the always-valid
 *    ones in sequential mode); "too early to tell" when an arm has fewer
 *    than 30 exposures or the MDE is larger than the effect of interest;
 *    else "no detectable difference".
 *
 * The special functions behind them (normal distribution and quantile,
 * regularized incomplete gamma and beta by Lentz's continued fractions) are
 * public so that the unit tests can check them on their own. */
#ifndef SJ_STATS_H
#define SJ_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/common.h"

#define SJ_STATS_MAX_ARMS    16               /* control included */
#define SJ_STATS_NAME_MAX    64               /* bytes of an arm name, NUL included */
#define SJ_STATS_MAX_COUNT   1000000000000ULL /* 1e12 exposures in one arm */
#define SJ_STATS_MAX_JSON    (1u << 20)       /* bytes of a JSON input document */
#define SJ_STATS_MIN_COUNT   30               /* below: "small sample" warnings */
#define SJ_STATS_SRM_ALPHA   0.001            /* sample-ratio mismatch threshold */
#define SJ_STATS_VERDICT_MAX 256

/* ---- Input ------------------------------------------------------------- */

typedef struct sj_stats_arm {
    char name[SJ_STATS_NAME_MAX]; /* letters, digits, '-', '_', '.' */
    uint64_t exposed;             /* residents who entered the arm */
    uint64_t converted;           /* of them, those who reached the goal */
    double weight;                /* configured share, > 0; 0 when not given */
    bool holdout;                 /* the holdout group (a default control) */
} sj_stats_arm_t;

typedef struct sj_stats_input {
    sj_stats_arm_t arms[SJ_STATS_MAX_ARMS];
    size_t n_arms;
    char control_name[SJ_STATS_NAME_MAX]; /* "" until named */
    size_t control;                       /* index, set by sj_stats_input_finish() */
} sj_stats_input_t;

void sj_stats_input_init(sj_stats_input_t *in);

/* Adds an arm from "NAME:EXPOSED:CONVERTED" (the --arm syntax), e.g.
 * "B:1000:150". SJ_ERR_INPUT with a message naming the part at fault and
 * the expected form; SJ_ERR_TOO_BIG past SJ_STATS_MAX_ARMS arms. */
sj_status_t sj_stats_input_add_arm(sj_stats_input_t *in, const char *spec, char *errstr,
                                   size_t errstr_size);

/* Sets the arms' weights from "50,50" or "45,45,10", in the order the arms
 * were added: one positive number per arm (they need not add up to 100). */
sj_status_t sj_stats_input_set_weights(sj_stats_input_t *in, const char *list,
                                       char *errstr, size_t errstr_size);

/* Names the control arm (checked by sj_stats_input_finish()). */
sj_status_t sj_stats_input_set_control(sj_stats_input_t *in, const char *name,
                                       char *errstr, size_t errstr_size);

/* Reads a JSON document (text, len bytes, at most SJ_STATS_MAX_JSON):
 *   {"arms": [{"name": "control", "exposed": 1000, "converted": 120,
 *              "weight": 50, "holdout": false}, ...],
 *    "control": "control"}
 * weight, holdout and control are optional; unknown keys are errors. Errors
 * name `source`:line:column for bad JSON and the field's path ($.arms[1].
 * converted) otherwise. Arms are added to those already in `in`. */
sj_status_t sj_stats_input_from_json(sj_stats_input_t *in, const char *text, size_t len,
                                     const char *source, char *errstr,
                                     size_t errstr_size);

/* Checks the whole input and resolves the control: 2 to SJ_STATS_MAX_ARMS
 * arms with distinct names, weights for every arm or for none, the named
 * control if any, else the holdout arm, else the arm called "control", else
 * the one called "holdout", else the first arm. */
sj_status_t sj_stats_input_finish(sj_stats_input_t *in, char *errstr, size_t errstr_size);

/* ---- Options and report ------------------------------------------------ */

typedef struct sj_stats_options {
    double alpha;    /* two-sided level of every interval and test, 0.05 */
    double power;    /* for the MDE and the sample size, 0.8 */
    double effect;   /* absolute difference of interest, 0.01 (one point) */
    double baseline; /* rate for the sample size; < 0: the control's rate */
    bool sequential; /* verdicts from the always-valid intervals */
    double tau;      /* mixing standard deviation of the sequential test, 0.02 */
} sj_stats_options_t;

void sj_stats_options_default(sj_stats_options_t *o);

typedef struct sj_stats_ci {
    double lo, hi;
} sj_stats_ci_t;

typedef enum {
    SJ_STATS_CONTROL = 0,   /* the arm is the control: no verdict */
    SJ_STATS_TOO_EARLY,     /* not enough data to say either way */
    SJ_STATS_RAISED,        /* the variant raised uptake */
    SJ_STATS_LOWERED,       /* the variant lowered uptake */
    SJ_STATS_NO_DIFFERENCE, /* enough data, and no effect of the size of interest */
} sj_stats_verdict_t;

/* Warning bits of an arm. */
#define SJ_STATS_WARN_FEW_EXPOSED       1u /* fewer than SJ_STATS_MIN_COUNT exposures */
#define SJ_STATS_WARN_FEW_CONVERTED     2u /* fewer than SJ_STATS_MIN_COUNT conversions */
#define SJ_STATS_WARN_FEW_NOT_CONVERTED 4u /* fewer non-conversions than that */

typedef struct sj_stats_arm_result {
    double weight;         /* normalised share used by the SRM check, 0..1 */
    double rate;           /* x/n; 0 when n = 0 (has_rate false) */
    bool has_rate;         /* n > 0 */
    sj_stats_ci_t rate_ci; /* Wilson; [0, 1] when n = 0 */
    double prob_best;      /* P(this arm has the highest rate) */
    double expected_loss;  /* E[max_j p_j - p_this] */
    unsigned warnings;     /* SJ_STATS_WARN_* */
    /* Against the control (every arm but the control): */
    bool comparable;       /* both arms have exposures */
    double diff;           /* p_v - p_c */
    sj_stats_ci_t diff_ci; /* Newcombe hybrid score */
    bool has_rel;          /* both arms have conversions */
    double rel;            /* p_v / p_c - 1 */
    sj_stats_ci_t rel_ci;  /* log ratio, delta method */
    double z, p_value;     /* pooled z-test; z 0 and p 1 when the pooled rate is 0 or 1 */
    double p_holm;         /* Holm-adjusted over the comparable variants */
    double prob_beat;      /* P(p_v > p_c) */
    bool has_mde;          /* pooled rate strictly between 0 and 1 */
    double mde;            /* minimum detectable absolute effect */
    sj_stats_ci_t seq_ci;  /* always-valid interval of the difference */
    double seq_p, seq_p_holm; /* always-valid p-value, and Holm-adjusted */
    sj_stats_verdict_t verdict;
    char verdict_text[SJ_STATS_VERDICT_MAX]; /* "variant B raised uptake by ..." */
} sj_stats_arm_result_t;

typedef struct sj_stats_report {
    sj_stats_options_t opts;
    size_t n_arms, control;
    sj_stats_arm_result_t arms[SJ_STATS_MAX_ARMS]; /* in input order */
    struct {
        bool tested;          /* some arm has exposures */
        bool weights_assumed; /* no weights given: equal shares */
        double chi2, p_value;
        int df;
        bool mismatch; /* p_value < SJ_STATS_SRM_ALPHA */
    } srm;
    bool has_n_per_arm;
    double baseline;   /* the rate the sample size was computed at */
    double n_per_arm;  /* exposures per arm for opts.effect (not rounded) */
    size_t n_variants; /* comparisons made (arms - 1) */
} sj_stats_report_t;

/* Computes the report of a finished input (sj_stats_input_finish()). The
 * options are checked (alpha in [1e-6, 0.5], power in [0.5, 1 - 1e-6],
 * effect in (0, 1), baseline < 0 or in (0, 1), tau in (0, 1]):
 * SJ_ERR_INPUT names the one at fault. The report is the caller's; no
 * memory is allocated. Cost: about 120 Beta-density evaluations per arm
 * and quadrature panel, whatever n (0.1 s for 16 arms). Thread-safe: no
 * global state (lgamma_r, not lgamma). */
sj_status_t sj_stats_analyse(const sj_stats_input_t *in, const sj_stats_options_t *opts,
                             sj_stats_report_t *r, char *errstr, size_t errstr_size);

/* ---- Building blocks (exposed for the tests) --------------------------- */

/* Standard normal distribution function, from erfc (accurate in both tails). */
double sj_stats_norm_cdf(double z);
/* Its inverse for p in (0, 1) (Acklam's rational approximation refined by
 * one Halley step on erfc: relative error near 1e-15); -HUGE_VAL for p <= 0,
 * HUGE_VAL for p >= 1. */
double sj_stats_norm_quantile(double p);
/* Regularized lower and upper incomplete gamma functions P(a, x), Q(a, x)
 * for a > 0, x >= 0: the series for x < a + 1, Lentz's continued fraction
 * otherwise, so the smaller tail is computed directly. */
double sj_stats_gamma_p(double a, double x);
double sj_stats_gamma_q(double a, double x);
/* Chi-square survival function: Q(k/2, x/2). */
double sj_stats_chi2_sf(double x, double k);
/* Regularized incomplete beta I_x(a, b) for a, b > 0, by Lentz's continued
 * fraction (on the faster-converging side), with the prefactor
 * x^a (1-x)^b / B(a, b) computed in log space from Stirling's series so that
 * it keeps its precision for a, b up to 1e12. */
double sj_stats_beta_inc(double a, double b, double x);
/* Wilson score interval of x successes in n at level 1 - alpha. */
sj_stats_ci_t sj_stats_wilson(uint64_t x, uint64_t n, double alpha);

#endif
