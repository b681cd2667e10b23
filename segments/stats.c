/* Experiment statistics (see stats.h for what is computed and why these
 * methods). The file reads top-down: special functions, the input (--arm
 * specs and the JSON document), then the analysis: frequentist
 * comparisons, the Bayesian integrals, sample-ratio mismatch, power, the
 * sequential test and the verdicts.
 *
 * Numerical care taken, since the inputs go from n = 0 to n = 1e12:
 *  - no subtraction of huge log-gamma values: the Beta prefactor
 *    x^a (1-x)^b / B(a, b) is computed from Stirling's series and log1p(u) - u,
 *    which keeps about 12 significant digits at a + b = 1e9 where the naive
 *    lgamma(a+b) - lgamma(a) - lgamma(b) keeps 6;
 *  - the Bayesian integrals never call the incomplete beta function inside
 *    the quadrature (its continued fraction needs O(sqrt(n)) steps near the
 *    mean): each posterior's distribution function is accumulated from its
 *    density on the same panels, so the cost does not grow with n;
 *  - every quantity that is undefined (a rate of 0 exposures, a ratio with
 *    no conversions) has a has_* flag and stays 0; nothing returns NaN. */
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/text.h"
#include "segments/campaign.h"
#include "segments/stats.h"

#define LN_SQRT_2PI 0.91893853320467274178 /* ln sqrt(2 pi) */
#define SQRT_2PI    2.50662827463100050242
#define SQRT_2      1.41421356237309504880
#define CF_EPS      1e-15 /* relative convergence of series and fractions */
#define CF_TINY     1e-300
#define CF_MAXIT    100000

/* lgamma without its write to the global signgam (arguments are > 0). */
static double lgam(double x)
{
    int sign;
    return lgamma_r(x, &sign);
}

/* ---- Special functions ------------------------------------------------- */

double sj_stats_norm_cdf(double z)
{
    return 0.5 * erfc(-z / SQRT_2);
}

/* Acklam's approximation (relative error 1.15e-9) for p <= 0.5, then one
 * Halley step on erfc, which is accurate in the lower tail. */
static double norm_quantile_lower(double p)
{
    static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
                               -2.759285104469687e+02, 1.383577518672690e+02,
                               -3.066479806614716e+01, 2.506628277459239e+00};
    static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
                               -1.556989798598866e+02, 6.680131188771972e+01,
                               -1.328068155288572e+01};
    static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
                               -2.400758277161838e+00, -2.549732539343734e+00,
                               4.374664141464968e+00,  2.938163982698783e+00};
    static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01,
                               2.445134137142996e+00, 3.754408661907416e+00};
    double x;
    if (p < 0.02425) {
        double q = sqrt(-2 * log(p));
        x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    } else {
        double q = p - 0.5, r = q * q;
        x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
            (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
    }
    double e = sj_stats_norm_cdf(x) - p;
    double u = e * SQRT_2PI * exp(x * x / 2);
    return x - u / (1 + x * u / 2);
}

double sj_stats_norm_quantile(double p)
{
    if (!(p > 0)) return -HUGE_VAL;
    if (p >= 1) return HUGE_VAL;
    return p <= 0.5 ? norm_quantile_lower(p) : -norm_quantile_lower(1 - p);
}

/* P(a, x) by its series; lnpre = -x + a ln x - lgamma(a). */
static double gamma_series(double a, double x, double lnpre)
{
    double ap = a, del = 1 / a, sum = del;
    for (int n = 0; n < CF_MAXIT; n++) {
        ap += 1;
        del *= x / ap;
        sum += del;
        if (fabs(del) < fabs(sum) * CF_EPS) break;
    }
    return sum * exp(lnpre);
}

/* Q(a, x) by its continued fraction (modified Lentz). */
static double gamma_fraction(double a, double x, double lnpre)
{
    double b = x + 1 - a, c = 1 / CF_TINY, d = 1 / b, h = d;
    for (int i = 1; i <= CF_MAXIT; i++) {
        double an = -i * (i - a);
        b += 2;
        d = an * d + b;
        if (fabs(d) < CF_TINY) d = CF_TINY;
        c = b + an / c;
        if (fabs(c) < CF_TINY) c = CF_TINY;
        d = 1 / d;
        double del = d * c;
        h *= del;
        if (fabs(del - 1) < CF_EPS) break;
    }
    return exp(lnpre) * h;
}

double sj_stats_gamma_p(double a, double x)
{
    if (!(a > 0) || !(x > 0)) return 0;
    if (isinf(x)) return 1;
    double lnpre = -x + a * log(x) - lgam(a);
    if (x < a + 1) return fmin(1, gamma_series(a, x, lnpre));
    return fmax(0, 1 - gamma_fraction(a, x, lnpre));
}

double sj_stats_gamma_q(double a, double x)
{
    if (!(a > 0) || !(x > 0)) return 1;
    if (isinf(x)) return 0;
    double lnpre = -x + a * log(x) - lgam(a);
    if (x < a + 1) return fmax(0, 1 - gamma_series(a, x, lnpre));
    return fmin(1, gamma_fraction(a, x, lnpre));
}

double sj_stats_chi2_sf(double x, double k)
{
    return sj_stats_gamma_q(k / 2, x / 2);
}

/* lgamma(a) - ((a - 1/2) ln a - a + ln sqrt(2 pi)): Stirling's series for
 * a >= 10 (error below 1e-14 there), lgamma itself below. */
static double stirling_corr(double a)
{
    if (a < 10) return lgam(a) - ((a - 0.5) * log(a) - a + LN_SQRT_2PI);
    double r = 1 / a, r2 = r * r;
    return r * (1.0 / 12 -
                r2 * (1.0 / 360 - r2 * (1.0 / 1260 - r2 * (1.0 / 1680 - r2 / 1188))));
}

/* log(1 + u) - u for u > -1, without the cancellation near 0. */
static double log1pmx(double u)
{
    if (fabs(u) > 0.1) return log1p(u) - u;
    double pw = u * u, sum = 0;
    for (int k = 2; k < 40 && pw != 0; k++) {
        double t = pw / k;
        sum += (k & 1) ? t : -t;
        if (fabs(t) < 1e-17 * fabs(sum)) break;
        pw *= u;
    }
    return sum;
}

/* ln(x^a y^b / B(a, b)) with y = 1 - x, 0 < x < 1. Large parameters go
 * through Stirling's series so that no two huge numbers are subtracted. */
static double log_kernel(double a, double b, double x, double y)
{
    double lx = x < 0.5 ? log(x) : log1p(-y);
    double ly = x < 0.5 ? log1p(-x) : log(y);
    double s = a + b;
    if (a >= 10 && b >= 10) {
        double x0 = a / s, y0 = b / s, d = x < 0.5 ? x - x0 : y0 - y;
        return a * log1pmx(d / x0) + b * log1pmx(-d / y0) + 0.5 * log(a / s * b) -
               LN_SQRT_2PI - (stirling_corr(a) + stirling_corr(b) - stirling_corr(s));
    }
    if (b >= 10) /* a small: lgam(s) - lgam(b) by Stirling */
        return a * lx + b * ly - lgam(a) + (b - 0.5) * log1p(a / b) + a * log(s) - a +
               stirling_corr(s) - stirling_corr(b);
    if (a >= 10)
        return a * lx + b * ly - lgam(b) + (a - 0.5) * log1p(b / a) + b * log(s) - b +
               stirling_corr(s) - stirling_corr(a);
    return a * lx + b * ly - lgam(a) - lgam(b) + lgam(s);
}

/* The continued fraction of I_x(a, b) (Numerical Recipes' betacf, modified
 * Lentz); converges fast for x < (a + 1) / (a + b + 2). */
static double beta_fraction(double a, double b, double x)
{
    double qab = a + b, qap = a + 1, qam = a - 1;
    double c = 1, d = 1 - qab * x / qap;
    if (fabs(d) < CF_TINY) d = CF_TINY;
    d = 1 / d;
    double h = d;
    for (int m = 1; m <= CF_MAXIT; m++) {
        double m2 = 2.0 * m;
        double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1 + aa * d;
        if (fabs(d) < CF_TINY) d = CF_TINY;
        c = 1 + aa / c;
        if (fabs(c) < CF_TINY) c = CF_TINY;
        d = 1 / d;
        h *= d * c;
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1 + aa * d;
        if (fabs(d) < CF_TINY) d = CF_TINY;
        c = 1 + aa / c;
        if (fabs(c) < CF_TINY) c = CF_TINY;
        d = 1 / d;
        double del = d * c;
        h *= del;
        if (fabs(del - 1) < CF_EPS) break;
    }
    return h;
}

double sj_stats_beta_inc(double a, double b, double x)
{
    if (!(a > 0) || !(b > 0) || !(x > 0)) return 0;
    if (x >= 1) return 1;
    double y = 1 - x, pre = exp(log_kernel(a, b, x, y));
    if (x < (a + 1) / (a + b + 2)) return fmin(1, pre * beta_fraction(a, b, x) / a);
    return fmax(0, 1 - pre * beta_fraction(b, a, y) / b);
}

sj_stats_ci_t sj_stats_wilson(uint64_t x, uint64_t n, double alpha)
{
    sj_stats_ci_t ci = {0, 1};
    if (n == 0 || x > n) return ci;
    if (x > n - x) { /* by symmetry, so that p (1 - p) keeps its digits near 1 */
        sj_stats_ci_t m = sj_stats_wilson(n - x, n, alpha);
        ci.lo = 1 - m.hi;
        ci.hi = 1 - m.lo;
        return ci;
    }
    double z = sj_stats_norm_quantile(1 - alpha / 2), z2 = z * z;
    double nn = (double)n, p = (double)x / nn, q = (double)(n - x) / nn;
    double denom = 1 + z2 / nn, centre = (p + z2 / (2 * nn)) / denom;
    double half = z * sqrt(p * q / nn + z2 / (4 * nn * nn)) / denom;
    ci.lo = x == 0 ? 0 : fmax(0, centre - half);
    ci.hi = fmin(1, centre + half);
    return ci;
}

/* ---- Input ------------------------------------------------------------- */

static sj_status_t fail(char *errstr, size_t errstr_size, const char *fmt, ...)
    SJ_PRINTF(3, 4);

static sj_status_t fail(char *errstr, size_t errstr_size, const char *fmt, ...)
{
    if (errstr && errstr_size) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errstr, errstr_size, fmt, ap);
        va_end(ap);
    }
    return SJ_ERR_INPUT;
}

void sj_stats_input_init(sj_stats_input_t *in)
{
    memset(in, 0, sizeof *in);
}

static bool valid_name(const char *s, size_t n)
{
    if (n == 0 || n >= SJ_STATS_NAME_MAX) return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.'))
            return false;
    }
    return true;
}

#define NAME_RULE "1 to 63 letters, digits, '-', '_' or '.'"

/* Checks counts shared by both input forms; `where` names the arm. */
static sj_status_t check_counts(uint64_t exposed, uint64_t converted, const char *where,
                                char *errstr, size_t errstr_size)
{
    if (exposed > SJ_STATS_MAX_COUNT)
        return fail(errstr, errstr_size,
                    "%s: %llu exposures is more than the limit of %llu", where,
                    (unsigned long long)exposed, (unsigned long long)SJ_STATS_MAX_COUNT);
    if (converted > exposed)
        return fail(errstr, errstr_size,
                    "%s: %llu converted is more than the %llu exposed; count only "
                    "exposed residents who reached the goal",
                    where, (unsigned long long)converted, (unsigned long long)exposed);
    return SJ_OK;
}

static sj_status_t add_arm(sj_stats_input_t *in, const char *name, size_t name_len,
                           char *errstr, size_t errstr_size, sj_stats_arm_t **out)
{
    if (in->n_arms >= SJ_STATS_MAX_ARMS) {
        fail(errstr, errstr_size, "more than %d arms; compare at most %d at once",
             SJ_STATS_MAX_ARMS, SJ_STATS_MAX_ARMS);
        return SJ_ERR_TOO_BIG;
    }
    sj_stats_arm_t *arm = &in->arms[in->n_arms++];
    memset(arm, 0, sizeof *arm);
    memcpy(arm->name, name, name_len);
    arm->name[name_len] = '\0';
    *out = arm;
    return SJ_OK;
}

sj_status_t sj_stats_input_add_arm(sj_stats_input_t *in, const char *spec, char *errstr,
                                   size_t errstr_size)
{
    char pv[48];
    sj_preview(spec, strlen(spec), pv, sizeof pv, 40);
    const char *c1 = strchr(spec, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (!c1 || !c2 || strchr(c2 + 1, ':'))
        return fail(errstr, errstr_size,
                    "\"%s\": expected NAME:EXPOSED:CONVERTED, e.g. B:1000:150", pv);
    size_t name_len = (size_t)(c1 - spec);
    if (!valid_name(spec, name_len))
        return fail(errstr, errstr_size, "\"%s\": the name must be " NAME_RULE, pv);
    uint64_t exposed, converted;
    if (sj_parse_u64(c1 + 1, (size_t)(c2 - c1 - 1), &exposed) != SJ_OK)
        return fail(errstr, errstr_size,
                    "\"%s\": EXPOSED must be a whole number (digits only), e.g. "
                    "B:1000:150",
                    pv);
    if (sj_parse_u64(c2 + 1, strlen(c2 + 1), &converted) != SJ_OK)
        return fail(errstr, errstr_size,
                    "\"%s\": CONVERTED must be a whole number (digits only), e.g. "
                    "B:1000:150",
                    pv);
    char where[64];
    snprintf(where, sizeof where, "\"%s\"", pv);
    sj_status_t st = check_counts(exposed, converted, where, errstr, errstr_size);
    sj_stats_arm_t *arm;
    if (st == SJ_OK) st = add_arm(in, spec, name_len, errstr, errstr_size, &arm);
    if (st != SJ_OK) return st;
    arm->exposed = exposed;
    arm->converted = converted;
    return SJ_OK;
}

/* A weight: a finite number > 0 and <= 1e9, all of s[0..n). */
static bool parse_weight(const char *s, size_t n, double *out)
{
    char buf[64];
    if (n == 0 || n >= sizeof buf) return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (!((buf[0] >= '0' && buf[0] <= '9') || buf[0] == '.')) return false;
    char *end;
    double w = strtod(buf, &end);
    if (*end != '\0' || !isfinite(w) || !(w > 0) || w > 1e9) return false;
    *out = w;
    return true;
}

sj_status_t sj_stats_input_set_weights(sj_stats_input_t *in, const char *list,
                                       char *errstr, size_t errstr_size)
{
    char pv[48];
    sj_preview(list, strlen(list), pv, sizeof pv, 40);
    double w[SJ_STATS_MAX_ARMS];
    size_t n = 0;
    for (const char *p = list;; n++) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (n == SJ_STATS_MAX_ARMS || n >= in->n_arms)
            return fail(errstr, errstr_size,
                        "\"%s\": more weights than the %zu arms; give one per --arm, "
                        "in the same order",
                        pv, in->n_arms);
        if (!parse_weight(p, len, &w[n]))
            return fail(errstr, errstr_size,
                        "\"%s\": weight %zu is not a number above 0 (at most 1e9), e.g. "
                        "50,50 or 45,45,10",
                        pv, n + 1);
        if (!comma) break;
        p = comma + 1;
    }
    if (++n != in->n_arms)
        return fail(errstr, errstr_size,
                    "\"%s\": %zu weight%s for %zu arms; give one per --arm, in the same "
                    "order",
                    pv, n, n == 1 ? "" : "s", in->n_arms);
    for (size_t i = 0; i < n; i++) in->arms[i].weight = w[i];
    return SJ_OK;
}

sj_status_t sj_stats_input_set_control(sj_stats_input_t *in, const char *name,
                                       char *errstr, size_t errstr_size)
{
    size_t n = strlen(name);
    if (!valid_name(name, n)) {
        char pv[48];
        sj_preview(name, n, pv, sizeof pv, 40);
        return fail(errstr, errstr_size, "\"%s\": an arm name is " NAME_RULE, pv);
    }
    memcpy(in->control_name, name, n + 1);
    return SJ_OK;
}

/* A whole number 0..SJ_STATS_MAX_COUNT at obj.key (required). */
static sj_status_t json_count(const json_t *obj, const char *path, const char *key,
                              uint64_t *out, char *errstr, size_t errstr_size)
{
    json_t *j = json_object_get(obj, key);
    if (!j)
        return fail(errstr, errstr_size, "%s.%s: missing; give the number of %s", path,
                    key,
                    !strcmp(key, "exposed") ? "residents exposed to the arm"
                                            : "exposed residents who converted");
    if (!json_is_integer(j) || json_integer_value(j) < 0)
        return fail(errstr, errstr_size, "%s.%s: expected a whole number >= 0, got %s",
                    path, key,
                    json_is_integer(j) ? "a negative number" : sj_json_kind(j));
    *out = (uint64_t)json_integer_value(j);
    return SJ_OK;
}

static sj_status_t json_arm(sj_stats_input_t *in, const json_t *a, size_t index,
                            char *errstr, size_t errstr_size)
{
    char path[48];
    snprintf(path, sizeof path, "$.arms[%zu]", index);
    if (!json_is_object(a))
        return fail(errstr, errstr_size, "%s: expected an object, got %s", path,
                    sj_json_kind(a));
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)a, key, val)
    {
        static const char *const allowed[] = {"name", "exposed", "converted", "weight",
                                              "holdout"};
        bool ok = false;
        for (size_t i = 0; i < SJ_ARRAY_LEN(allowed) && !ok; i++)
            ok = !strcmp(key, allowed[i]);
        if (!ok) {
            char pv[48];
            sj_preview(key, strlen(key), pv, sizeof pv, 40);
            return fail(errstr, errstr_size,
                        "%s.%s: unknown key (allowed: name, exposed, converted, weight, "
                        "holdout)",
                        path, pv);
        }
    }
    json_t *name = json_object_get(a, "name");
    if (!json_is_string(name))
        return fail(errstr, errstr_size, "%s.name: %s; give the arm's name", path,
                    name ? "expected a string" : "missing");
    size_t name_len = json_string_length(name);
    if (!valid_name(json_string_value(name), name_len)) {
        char pv[48];
        sj_preview(json_string_value(name), name_len, pv, sizeof pv, 40);
        return fail(errstr, errstr_size, "%s.name: \"%s\" must be " NAME_RULE, path, pv);
    }
    uint64_t exposed, converted;
    sj_status_t st = json_count(a, path, "exposed", &exposed, errstr, errstr_size);
    if (st == SJ_OK)
        st = json_count(a, path, "converted", &converted, errstr, errstr_size);
    if (st == SJ_OK) st = check_counts(exposed, converted, path, errstr, errstr_size);
    if (st != SJ_OK) return st;
    double weight = 0;
    json_t *w = json_object_get(a, "weight");
    if (w &&
        (!json_is_number(w) || !(json_number_value(w) > 0) || json_number_value(w) > 1e9))
        return fail(errstr, errstr_size,
                    "%s.weight: expected a number above 0 (at most "
                    "1e9), the arm's configured share",
                    path);
    if (w) weight = json_number_value(w);
    json_t *h = json_object_get(a, "holdout");
    if (h && !json_is_boolean(h))
        return fail(errstr, errstr_size, "%s.holdout: expected true or false, got %s",
                    path, sj_json_kind(h));
    sj_stats_arm_t *arm;
    st = add_arm(in, json_string_value(name), name_len, errstr, errstr_size, &arm);
    if (st != SJ_OK) return st;
    arm->exposed = exposed;
    arm->converted = converted;
    arm->weight = weight;
    arm->holdout = h && json_is_true(h);
    return SJ_OK;
}

sj_status_t sj_stats_input_from_json(sj_stats_input_t *in, const char *text, size_t len,
                                     const char *source, char *errstr, size_t errstr_size)
{
    if (len > SJ_STATS_MAX_JSON)
        return fail(errstr, errstr_size, "%s: %zu bytes is more than the limit of %u",
                    source, len, SJ_STATS_MAX_JSON);
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return fail(errstr, errstr_size, "%s:%d:%d: %s", source, jerr.line, jerr.column,
                    jerr.text);
    sj_status_t st = SJ_OK;
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val)
    {
        if (strcmp(key, "arms") && strcmp(key, "control")) {
            char pv[48];
            sj_preview(key, strlen(key), pv, sizeof pv, 40);
            st = fail(errstr, errstr_size, "$.%s: unknown key (allowed: arms, control)",
                      pv);
            goto out;
        }
    }
    json_t *arms = json_object_get(root, "arms");
    if (!json_is_array(arms)) {
        st = fail(errstr, errstr_size,
                  "$.arms: %s; give an array of {\"name\", \"exposed\", \"converted\"}",
                  arms ? "expected an array" : "missing");
        goto out;
    }
    for (size_t i = 0; i < json_array_size(arms) && st == SJ_OK; i++)
        st = json_arm(in, json_array_get(arms, i), i, errstr, errstr_size);
    json_t *control = json_object_get(root, "control");
    if (st == SJ_OK && control) {
        if (!json_is_string(control) ||
            strlen(json_string_value(control)) != json_string_length(control))
            st = fail(errstr, errstr_size, "$.control: expected the name of an arm");
        else if (sj_stats_input_set_control(in, json_string_value(control), errstr,
                                            errstr_size) != SJ_OK) {
            char msg[200];
            snprintf(msg, sizeof msg, "%s", errstr ? errstr : "");
            st = fail(errstr, errstr_size, "$.control: %s", msg);
        }
    }
out:
    json_decref(root);
    return st;
}

static int find_arm(const sj_stats_input_t *in, const char *name)
{
    for (size_t i = 0; i < in->n_arms; i++)
        if (!strcmp(in->arms[i].name, name)) return (int)i;
    return -1;
}

sj_status_t sj_stats_input_finish(sj_stats_input_t *in, char *errstr, size_t errstr_size)
{
    if (in->n_arms < 2)
        return fail(errstr, errstr_size,
                    "%zu arm%s: give at least two (the control and a variant)",
                    in->n_arms, in->n_arms == 1 ? "" : "s");
    size_t weighted = 0, holdouts = 0, holdout = 0;
    for (size_t i = 0; i < in->n_arms; i++) {
        for (size_t j = 0; j < i; j++)
            if (!strcmp(in->arms[i].name, in->arms[j].name))
                return fail(errstr, errstr_size,
                            "arm \"%s\" is given twice; every arm needs its own name",
                            in->arms[i].name);
        weighted += in->arms[i].weight > 0;
        if (in->arms[i].holdout) holdouts++, holdout = i;
    }
    if (weighted && weighted != in->n_arms)
        return fail(errstr, errstr_size,
                    "%zu of the %zu arms have a weight; give a weight for every arm or "
                    "for none",
                    weighted, in->n_arms);
    if (holdouts > 1)
        return fail(errstr, errstr_size,
                    "%zu arms are marked holdout; at most one may be", holdouts);
    int c;
    if (in->control_name[0]) {
        if ((c = find_arm(in, in->control_name)) < 0)
            return fail(errstr, errstr_size,
                        "control \"%s\" is not one of the arms; name one of them",
                        in->control_name);
    } else if (holdouts) {
        c = (int)holdout;
    } else if ((c = find_arm(in, "control")) < 0 && (c = find_arm(in, "holdout")) < 0) {
        c = 0;
    }
    in->control = (size_t)c;
    return SJ_OK;
}

/* ---- Options ------------------------------------------------------------ */

void sj_stats_options_default(sj_stats_options_t *o)
{
    o->alpha = 0.05;
    o->power = 0.8;
    o->effect = 0.01;
    o->baseline = -1;
    o->sequential = false;
    o->tau = 0.02;
}

static sj_status_t check_options(const sj_stats_options_t *o, char *errstr,
                                 size_t errstr_size)
{
    if (!(o->alpha >= 1e-6 && o->alpha <= 0.5))
        return fail(errstr, errstr_size,
                    "alpha %g: must be from 0.000001 to 0.5 (0.05 "
                    "gives 95%% intervals)",
                    o->alpha);
    if (!(o->power >= 0.5 && o->power <= 1 - 1e-6))
        return fail(errstr, errstr_size,
                    "power %g: must be from 0.5 to 0.999999 (e.g. 0.8)", o->power);
    if (!(o->effect > 0 && o->effect < 1))
        return fail(errstr, errstr_size,
                    "effect %g: must be an absolute difference between 0 and 1 (0.01 is "
                    "one point)",
                    o->effect);
    if (!(o->baseline < 0 || (o->baseline > 0 && o->baseline < 1)))
        return fail(errstr, errstr_size, "baseline %g: must be a rate between 0 and 1",
                    o->baseline);
    if (!(o->tau > 0 && o->tau <= 1))
        return fail(errstr, errstr_size,
                    "tau %g: must be above 0 and at most 1 (e.g. 0.02)", o->tau);
    return SJ_OK;
}

/* ---- Bayesian integrals ------------------------------------------------- */

/* 10-point Gauss-Legendre on [-1, 1]: the positive nodes and their weights. */
static const double gl_x[5] = {0.14887433898163122, 0.43339539412924721,
                               0.67940956829902444, 0.86506336668898454,
                               0.97390652851717174};
static const double gl_w[5] = {0.29552422471475298, 0.26926671930999652,
                               0.21908636251598201, 0.14945134915058036,
                               0.066671344308688069};
/* Panel edges around each posterior, in standard deviations from its mean. */
static const double panel_sd[] = {-40, -30, -22, -16, -12, -10, -8, -7, -6, -5,
                                  -4,  -3,  -2,  -1,  0,   1,   2,  3,  4,  5,
                                  6,   7,   8,   10,  12,  16,  22, 30, 40};
#define N_PANEL_SD (sizeof panel_sd / sizeof panel_sd[0])
#define MAX_EDGES  (SJ_STATS_MAX_ARMS * N_PANEL_SD)
#define GL_POINTS  10

/* A point of [0, 1] as x and 1 - x, the smaller of the two exact: near 1 a
 * posterior of n = 1e9 is 1e-9 wide, where x alone has only 7 digits. */
typedef struct pt {
    double x, y;
} pt_t;

static pt_t pt_x(double x)
{
    x = fmin(1, fmax(0, x));
    return (pt_t){x, 1 - x};
}

static pt_t pt_y(double y)
{
    y = fmin(1, fmax(0, y));
    return (pt_t){1 - y, y};
}

static bool pt_less(pt_t a, pt_t b)
{
    return a.x < b.x || (a.x == b.x && a.y > b.y);
}

static int pt_cmp(const void *a, const void *b)
{
    pt_t p = *(const pt_t *)a, q = *(const pt_t *)b;
    return pt_less(p, q) ? -1 : pt_less(q, p) ? 1 : 0;
}

typedef struct posterior {
    double a, b, mean, sd; /* Beta(a, b) */
    pt_t lo, hi;           /* mean -+ 40 sd: all but 1e-17 of the mass */
    double cdf;            /* distribution function where the sweep is */
} posterior_t;

/* mean + t sd, in the coordinate that is exact on the posterior's side. */
static pt_t post_at(const posterior_t *p, double t)
{
    if (p->a <= p->b) return pt_x(p->a / (p->a + p->b) + t * p->sd);
    return pt_y(p->b / (p->a + p->b) - t * p->sd);
}

/* Gauss-Legendre nodes of [s, e] in increasing order, with their weights. */
static void gl_nodes(pt_t s, pt_t e, pt_t node[GL_POINTS], double w[GL_POINTS])
{
    bool upper = s.x >= 0.5; /* then y is the exact coordinate */
    double c = upper ? (s.y + e.y) / 2 : (s.x + e.x) / 2;
    double h = upper ? (s.y - e.y) / 2 : (e.x - s.x) / 2;
    for (int k = 0; k < 5; k++) {
        double lo = c - h * gl_x[k], hi = c + h * gl_x[k];
        node[4 - k] = upper ? pt_y(hi) : pt_x(lo);
        node[5 + k] = upper ? pt_y(lo) : pt_x(hi);
        w[4 - k] = w[5 + k] = h * gl_w[k];
    }
}

static double density(const posterior_t *p, pt_t at)
{
    if (!(at.x > 0) || !(at.y > 0)) return 0;
    return exp(log_kernel(p->a, p->b, at.x, at.y)) / (at.x * at.y);
}

static double density_integral(const posterior_t *p, pt_t s, pt_t e)
{
    if (!pt_less(s, e)) return 0;
    pt_t node[GL_POINTS];
    double w[GL_POINTS], sum = 0;
    gl_nodes(s, e, node, w);
    for (int k = 0; k < GL_POINTS; k++) sum += w[k] * density(p, node[k]);
    return sum;
}

/* Fills prob_best, expected_loss and prob_beat of the report. Every
 * integral runs over the same sorted panels; on each, the distribution
 * function F_j of every posterior at the ten nodes is its value at the
 * panel's start plus the integral of its density up to the node, so
 * P(best_i) = int f_i prod_{j != i} F_j, P(v beats c) = int f_v F_c and
 * E[max] = L + int_L^U (1 - prod_j F_j) (below L every F_j is 0). */
static void bayes(const sj_stats_input_t *in, sj_stats_report_t *r)
{
    size_t k = in->n_arms, ne = 0, c = in->control;
    posterior_t post[SJ_STATS_MAX_ARMS];
    pt_t edges[MAX_EDGES];
    for (size_t j = 0; j < k; j++) {
        posterior_t *p = &post[j];
        p->a = 1 + (double)in->arms[j].converted;
        p->b = 1 + (double)(in->arms[j].exposed - in->arms[j].converted);
        double s = p->a + p->b;
        p->mean = p->a / s;
        p->sd = sqrt(p->a / s * (p->b / s) / (s + 1));
        p->lo = post_at(p, -40);
        p->hi = post_at(p, 40);
        for (size_t t = 0; t < N_PANEL_SD; t++) edges[ne++] = post_at(p, panel_sd[t]);
        /* below lo lies less than 1e-17; computed all the same */
        p->cdf = p->lo.x > 0 ? sj_stats_beta_inc(p->a, p->b, p->lo.x) : 0;
    }
    qsort(edges, ne, sizeof edges[0], pt_cmp);
    double best[SJ_STATS_MAX_ARMS] = {0}, beat[SJ_STATS_MAX_ARMS] = {0},
           emax = edges[0].x;
    double f[SJ_STATS_MAX_ARMS][GL_POINTS], F[SJ_STATS_MAX_ARMS][GL_POINTS];
    for (size_t e = 1; e < ne; e++) {
        pt_t s = edges[e - 1], t = edges[e], node[GL_POINTS];
        if (!pt_less(s, t)) continue;
        double w[GL_POINTS];
        gl_nodes(s, t, node, w);
        for (size_t j = 0; j < k; j++) {
            posterior_t *p = &post[j];
            bool inside = !pt_less(s, p->lo) && !pt_less(p->hi, t);
            pt_t prev = s;
            for (int q = 0; q < GL_POINTS; q++) {
                if (inside) {
                    p->cdf += density_integral(p, prev, node[q]);
                    prev = node[q];
                }
                f[j][q] = inside ? density(p, node[q]) : 0;
                F[j][q] = fmin(1, p->cdf);
            }
            if (inside) p->cdf += density_integral(p, prev, t);
        }
        for (int q = 0; q < GL_POINTS; q++) {
            double prefix[SJ_STATS_MAX_ARMS + 1], suffix[SJ_STATS_MAX_ARMS + 1];
            prefix[0] = suffix[k] = 1;
            for (size_t j = 0; j < k; j++) prefix[j + 1] = prefix[j] * F[j][q];
            for (size_t j = k; j-- > 0;) suffix[j] = suffix[j + 1] * F[j][q];
            for (size_t j = 0; j < k; j++) {
                best[j] += w[q] * f[j][q] * prefix[j] * suffix[j + 1];
                if (j != c) beat[j] += w[q] * f[j][q] * F[c][q];
            }
            emax += w[q] * (1 - prefix[k]);
        }
    }
    for (size_t j = 0; j < k; j++) {
        r->arms[j].prob_best = fmin(1, fmax(0, best[j]));
        r->arms[j].expected_loss = fmax(0, emax - post[j].mean);
        r->arms[j].prob_beat = j == c ? 0 : fmin(1, fmax(0, beat[j]));
    }
}

/* ---- Frequentist comparisons, power, sequential ------------------------- */

/* Newcombe's hybrid score interval for p_v - p_c from the Wilson intervals. */
static sj_stats_ci_t newcombe(double pv, sj_stats_ci_t wv, double pc, sj_stats_ci_t wc)
{
    double d = pv - pc;
    sj_stats_ci_t ci = {d - hypot(pv - wv.lo, wc.hi - pc),
                        d + hypot(wv.hi - pv, pc - wc.lo)};
    ci.lo = fmax(-1, ci.lo);
    ci.hi = fmin(1, ci.hi);
    return ci;
}

/* Always-valid interval and p-value (mixture SPRT, see stats.h). */
static void sequential(const sj_stats_arm_t *v, const sj_stats_arm_t *c, double alpha,
                       double tau, sj_stats_arm_result_t *res)
{
    double nv = (double)v->exposed + 2, nc = (double)c->exposed + 2;
    double pv = ((double)v->converted + 1) / nv, pc = ((double)c->converted + 1) / nc;
    double qv = ((double)(v->exposed - v->converted) + 1) / nv;
    double qc = ((double)(c->exposed - c->converted) + 1) / nc;
    double var = pv * qv / nv + pc * qc / nc, t2 = tau * tau;
    double d = pv > 0.5 && pc > 0.5 ? qc - qv : pv - pc;
    double half =
        sqrt(var * (var + t2) / t2 * (2 * log(1 / alpha) + log((var + t2) / var)));
    res->seq_ci.lo = fmax(-1, d - half);
    res->seq_ci.hi = fmin(1, d + half);
    double lnp = 0.5 * log((var + t2) / var) - t2 * d * d / (2 * var * (var + t2));
    res->seq_p = lnp >= 0 ? 1 : exp(lnp);
}

/* Holm's step-down adjustment of p[i] for the indices with use[i]. */
static void holm(const double *p, const bool *use, size_t n, double *adj)
{
    size_t order[SJ_STATS_MAX_ARMS], m = 0;
    for (size_t i = 0; i < n; i++) {
        adj[i] = 1;
        if (!use[i]) continue;
        size_t at = m++;
        while (at > 0 && p[order[at - 1]] > p[i]) {
            order[at] = order[at - 1];
            at--;
        }
        order[at] = i;
    }
    double running = 0;
    for (size_t r = 0; r < m; r++) {
        running = fmax(running, fmin(1, (double)(m - r) * p[order[r]]));
        adj[order[r]] = running;
    }
}

static void compare(const sj_stats_arm_t *v, const sj_stats_arm_t *c,
                    const sj_stats_report_t *r, sj_stats_arm_result_t *res, double z_a,
                    double z_b)
{
    const sj_stats_arm_result_t *rc = &r->arms[r->control];
    res->p_value = 1;
    res->seq_p = 1;
    res->seq_ci.lo = -1;
    res->seq_ci.hi = 1;
    res->diff_ci.lo = -1;
    res->diff_ci.hi = 1;
    if (v->exposed == 0 || c->exposed == 0) return;
    res->comparable = true;
    double nv = (double)v->exposed, nc = (double)c->exposed;
    double xv = (double)v->converted, xc = (double)c->converted;
    double yv = nv - xv, yc = nc - xc; /* non-conversions, exact below 2^53 */
    /* near full conversion the non-conversion rates hold the digits */
    res->diff =
        res->rate > 0.5 && rc->rate > 0.5 ? yc / nc - yv / nv : res->rate - rc->rate;
    res->diff_ci = newcombe(res->rate, res->rate_ci, rc->rate, rc->rate_ci);
    if (xv > 0 && xc > 0) {
        double lr = log(xv * nc / (xc * nv));
        double se = sqrt(yv / (xv * nv) + yc / (xc * nc)); /* 1/x - 1/n, exactly */
        res->has_rel = true;
        res->rel = expm1(lr);
        res->rel_ci.lo = expm1(lr - z_a * se);
        res->rel_ci.hi = expm1(lr + z_a * se);
    }
    double pooled = (xv + xc) / (nv + nc), unpooled = (yv + yc) / (nv + nc);
    double spread = pooled * unpooled * (1 / nv + 1 / nc);
    if (spread > 0) {
        res->z = res->diff / sqrt(spread);
        res->p_value = erfc(fabs(res->z) / SQRT_2);
        res->has_mde = true;
        res->mde = (z_a + z_b) * sqrt(spread);
    }
    sequential(v, c, r->opts.alpha, r->opts.tau, res);
}

/* ---- Verdicts ----------------------------------------------------------- */

/* Percentage points with 1 to 3 decimals, by the interval's half-width:
 * "2.1 points (0.4-3.8)", "0.02 points (0.01-0.04)". */
static int point_decimals(sj_stats_ci_t ci)
{
    double half = (ci.hi - ci.lo) * 50;
    return half >= 0.1 ? 1 : half >= 0.01 ? 2 : 3;
}

/* 12345.2 -> "12,346" (rounded up: a sample size). */
static void fmt_count(double n, char *out, size_t size)
{
    if (!(n < 1e15)) {
        snprintf(out, size, "more than 10^15");
        return;
    }
    char digits[32];
    snprintf(digits, sizeof digits, "%.0f", ceil(n));
    size_t len = strlen(digits), o = 0;
    for (size_t i = 0; i < len && o + 2 < size; i++) {
        if (i > 0 && (len - i) % 3 == 0) out[o++] = ',';
        out[o++] = digits[i];
    }
    out[o] = '\0';
}

static void verdict(const sj_stats_input_t *in, const sj_stats_report_t *r, size_t i,
                    sj_stats_arm_result_t *res, double z_a, double z_b)
{
    const sj_stats_arm_t *v = &in->arms[i], *c = &in->arms[r->control];
    const sj_stats_options_t *o = &r->opts;
    char *out = res->verdict_text;
    size_t size = sizeof res->verdict_text;
    sj_stats_ci_t ci = o->sequential ? res->seq_ci : res->diff_ci;
    double p = o->sequential ? res->seq_p_holm : res->p_holm;
    bool few = v->exposed < SJ_STATS_MIN_COUNT || c->exposed < SJ_STATS_MIN_COUNT;
    res->verdict = SJ_STATS_TOO_EARLY;
    if (!res->comparable) {
        snprintf(out, size, "variant %s: too early to tell (no exposures in %s yet)",
                 v->name, v->exposed == 0 ? v->name : c->name);
        return;
    }
    if (!few && p < o->alpha && (ci.lo > 0 || ci.hi < 0)) {
        int dec = point_decimals(ci);
        bool up = ci.lo > 0;
        res->verdict = up ? SJ_STATS_RAISED : SJ_STATS_LOWERED;
        snprintf(out, size, "variant %s %s uptake by %.*f points (%.*f\xe2\x80\x93%.*f)",
                 v->name, up ? "raised" : "lowered", dec, fabs(res->diff) * 100, dec,
                 (up ? ci.lo : -ci.hi) * 100, dec, (up ? ci.hi : -ci.lo) * 100);
        return;
    }
    if (few) {
        snprintf(out, size,
                 "variant %s: too early to tell (fewer than %d exposures in %s)", v->name,
                 SJ_STATS_MIN_COUNT, v->exposed < SJ_STATS_MIN_COUNT ? v->name : c->name);
        return;
    }
    if (!res->has_mde) {
        snprintf(out, size, "variant %s: too early to tell (%s)", v->name,
                 v->converted + c->converted == 0 ? "no conversions yet"
                                                  : "every exposed resident converted");
        return;
    }
    if (res->mde > o->effect) {
        double pooled =
            (double)(v->converted + c->converted) / (double)(v->exposed + c->exposed);
        double need = 2 * (z_a + z_b) * (z_a + z_b) * pooled * (1 - pooled) /
                      (o->effect * o->effect);
        char n[32];
        fmt_count(need, n, sizeof n);
        snprintf(out, size,
                 "variant %s: too early to tell (MDE now %.1f points; a %.1f-point "
                 "change needs about %s exposures per arm)",
                 v->name, res->mde * 100, o->effect * 100, n);
        return;
    }
    res->verdict = SJ_STATS_NO_DIFFERENCE;
    snprintf(out, size, "variant %s: no detectable difference from %s (MDE %.*f points)",
             v->name, c->name, res->mde < 0.001 ? 2 : 1, res->mde * 100);
}

/* ---- Analysis ----------------------------------------------------------- */

static void srm(const sj_stats_input_t *in, sj_stats_report_t *r)
{
    double total = 0, wsum = 0;
    for (size_t i = 0; i < in->n_arms; i++) {
        total += (double)in->arms[i].exposed;
        wsum += in->arms[i].weight;
    }
    r->srm.weights_assumed = !(wsum > 0);
    r->srm.df = (int)in->n_arms - 1;
    r->srm.p_value = 1;
    for (size_t i = 0; i < in->n_arms; i++)
        r->arms[i].weight =
            r->srm.weights_assumed ? 1.0 / (double)in->n_arms : in->arms[i].weight / wsum;
    if (!(total > 0)) return;
    r->srm.tested = true;
    double chi2 = 0;
    for (size_t i = 0; i < in->n_arms; i++) {
        double expect = total * r->arms[i].weight,
               d = (double)in->arms[i].exposed - expect;
        chi2 += d * d / expect;
    }
    r->srm.chi2 = chi2;
    r->srm.p_value = sj_stats_chi2_sf(chi2, r->srm.df);
    r->srm.mismatch = r->srm.p_value < SJ_STATS_SRM_ALPHA;
}

sj_status_t sj_stats_analyse(const sj_stats_input_t *in, const sj_stats_options_t *opts,
                             sj_stats_report_t *r, char *errstr, size_t errstr_size)
{
    sj_status_t st = check_options(opts, errstr, errstr_size);
    if (st != SJ_OK) return st;
    if (in->n_arms < 2 || in->n_arms > SJ_STATS_MAX_ARMS || in->control >= in->n_arms)
        return fail(errstr, errstr_size,
                    "the input is not finished (sj_stats_input_finish)");
    memset(r, 0, sizeof *r);
    r->opts = *opts;
    r->n_arms = in->n_arms;
    r->control = in->control;
    r->n_variants = in->n_arms - 1;
    double z_a = sj_stats_norm_quantile(1 - opts->alpha / 2);
    double z_b = sj_stats_norm_quantile(opts->power);
    for (size_t i = 0; i < in->n_arms; i++) {
        const sj_stats_arm_t *a = &in->arms[i];
        sj_stats_arm_result_t *res = &r->arms[i];
        res->has_rate = a->exposed > 0;
        res->rate = res->has_rate ? (double)a->converted / (double)a->exposed : 0;
        res->rate_ci = sj_stats_wilson(a->converted, a->exposed, opts->alpha);
        if (a->exposed < SJ_STATS_MIN_COUNT)
            res->warnings |= SJ_STATS_WARN_FEW_EXPOSED;
        else if (a->converted < SJ_STATS_MIN_COUNT)
            res->warnings |= SJ_STATS_WARN_FEW_CONVERTED;
        else if (a->exposed - a->converted < SJ_STATS_MIN_COUNT)
            res->warnings |= SJ_STATS_WARN_FEW_NOT_CONVERTED;
    }
    double p[SJ_STATS_MAX_ARMS] = {0}, sp[SJ_STATS_MAX_ARMS] = {0},
           adj[SJ_STATS_MAX_ARMS] = {0}, sadj[SJ_STATS_MAX_ARMS] = {0};
    bool use[SJ_STATS_MAX_ARMS] = {false};
    for (size_t i = 0; i < in->n_arms; i++) {
        sj_stats_arm_result_t *res = &r->arms[i];
        if (i != in->control)
            compare(&in->arms[i], &in->arms[in->control], r, res, z_a, z_b);
        p[i] = res->p_value;
        sp[i] = res->seq_p;
        use[i] = i != in->control && res->comparable;
    }
    holm(p, use, in->n_arms, adj);
    holm(sp, use, in->n_arms, sadj);
    for (size_t i = 0; i < in->n_arms; i++) {
        r->arms[i].p_holm = i == in->control ? 1 : adj[i];
        r->arms[i].seq_p_holm = i == in->control ? 1 : sadj[i];
    }
    bayes(in, r);
    srm(in, r);
    const sj_stats_arm_t *c = &in->arms[in->control];
    r->baseline = opts->baseline;
    if (r->baseline < 0)
        r->baseline = c->exposed ? (double)c->converted / (double)c->exposed : 0;
    if (r->baseline > 0 && r->baseline < 1) {
        r->has_n_per_arm = true;
        r->n_per_arm = 2 * (z_a + z_b) * (z_a + z_b) * r->baseline * (1 - r->baseline) /
                       (opts->effect * opts->effect);
    }
    for (size_t i = 0; i < in->n_arms; i++) {
        if (i == in->control)
            r->arms[i].verdict = SJ_STATS_CONTROL;
        else
            verdict(in, r, i, &r->arms[i], z_a, z_b);
    }
    return SJ_OK;
}
