/* Field validators for life-event input. See validate.h for what each accepts.
 *
 * The functions work on byte spans and never allocate. Problem texts are
 * fixed strings (or carry only counts), never the value under test, because
 * the value may be personal data and problem texts are logged. */
#include "producers/validate.h"

#include <stdio.h>
#include <string.h>

#include "core/timeutil.h"

static sj_status_t fail(char *problem, size_t problem_size, const char *msg)
{
    if (problem && problem_size) {
        size_t n = strlen(msg);
        if (n >= problem_size) n = problem_size - 1;
        memcpy(problem, msg, n);
        problem[n] = '\0';
    }
    return SJ_ERR_INPUT;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_alnum(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!is_digit(s[i])) return false;
    return true;
}

static unsigned two_digits(const char *s)
{
    return (unsigned)(s[0] - '0') * 10 + (unsigned)(s[1] - '0');
}

/* ---- national register number --------------------------------------------- */

typedef struct nrn {
    char digits[SJ_NRN_LEN + 1];
    int year;       /* full year, from the rule the check digits matched */
    unsigned month; /* 1..12, 0 when unknown; BIS offset removed */
    unsigned day;   /* 1..31, 0 when unknown */
} nrn_t;

/* Collects the 11 digits, allowing single separators only between digits so
 * that a stray "85..07" or "-85073003328" is refused rather than guessed at. */
static sj_status_t nrn_collect(const char *s, size_t n, char digits[SJ_NRN_LEN + 1],
                               char *problem, size_t problem_size)
{
    while (n > 0 && s[0] == ' ') s++, n--;
    while (n > 0 && s[n - 1] == ' ') n--;
    if (n == 0) return fail(problem, problem_size, "is empty, expected 11 digits");
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (is_digit(c)) {
            if (count < SJ_NRN_LEN) digits[count] = c;
            count++;
        } else if (c == '.' || c == '-' || c == ' ') {
            if (i == 0 || !is_digit(s[i - 1]) || i + 1 == n || !is_digit(s[i + 1]))
                return fail(problem, problem_size,
                            "separators ('.', '-', ' ') may only stand between digits");
        } else {
            return fail(problem, problem_size,
                        "expected 11 digits, optionally separated by '.', '-' or ' '");
        }
    }
    if (count != SJ_NRN_LEN) {
        if (problem && problem_size)
            snprintf(problem, problem_size, "has %zu digits, expected 11", count);
        return SJ_ERR_INPUT;
    }
    digits[SJ_NRN_LEN] = '\0';
    return SJ_OK;
}

static sj_status_t nrn_parse(const char *s, size_t n, nrn_t *out, char *problem,
                             size_t problem_size)
{
    char *d = out->digits;
    if (nrn_collect(s, n, d, problem, problem_size) != SJ_OK) return SJ_ERR_INPUT;

    unsigned mm = two_digits(d + 2), dd = two_digits(d + 4);
    if (mm <= 12)
        out->month = mm;
    else if (mm >= 20 && mm <= 32)
        out->month = mm - 20;
    else if (mm >= 40 && mm <= 52)
        out->month = mm - 40;
    else
        return fail(problem, problem_size,
                    "birth month (digits 3-4) must be 00-12, or 20-32 or 40-52 for a bis "
                    "number");
    if (dd > 31)
        return fail(problem, problem_size, "birth day (digits 5-6) must be 00-31");
    out->day = dd;

    unsigned serial = two_digits(d + 6) * 10 + (unsigned)(d[8] - '0');
    if (serial < 1 || serial > 997)
        return fail(problem, problem_size, "serial number (digits 7-9) must be 001-997");

    uint64_t base = 0;
    for (int i = 0; i < 9; i++) base = base * 10 + (uint64_t)(d[i] - '0');
    unsigned check = two_digits(d + 9);
    unsigned yy = two_digits(d);
    if (97 - base % 97 == check)
        out->year = 1900 + (int)yy;
    else if (97 - (2000000000u + base) % 97 == check)
        out->year = 2000 + (int)yy;
    else
        return fail(
            problem, problem_size,
            "check digits do not match (neither the pre-2000 nor the post-2000 rule)");

    if (out->month && out->day && !sj_date_valid(out->year, out->month, out->day))
        return fail(
            problem, problem_size,
            "birth date (digits 1-6) does not exist in the century the check digits "
            "imply");
    return SJ_OK;
}

sj_status_t sj_nrn_normalize(const char *s, size_t n, char out[SJ_NRN_LEN + 1],
                             char *problem, size_t problem_size)
{
    nrn_t v;
    out[0] = '\0';
    if (nrn_parse(s, n, &v, problem, problem_size) != SJ_OK) return SJ_ERR_INPUT;
    memcpy(out, v.digits, SJ_NRN_LEN + 1);
    return SJ_OK;
}

bool sj_nrn_looks_like(const char *s, size_t n)
{
    nrn_t v;
    return nrn_parse(s, n, &v, NULL, 0) == SJ_OK;
}

sj_status_t sj_nrn_birth_date(const char *s, size_t n, char out[11], char *problem,
                              size_t problem_size)
{
    nrn_t v;
    out[0] = '\0';
    if (nrn_parse(s, n, &v, problem, problem_size) != SJ_OK) return SJ_ERR_INPUT;
    if (v.month == 0 || v.day == 0)
        return fail(problem, problem_size,
                    "birth date is not fully recorded in the number (month or day 00)");
    /* The year is 1900..2099 and month/day are two digits, so this always fits. */
    char tmp[32];
    snprintf(tmp, sizeof tmp, "%04d-%02u-%02u", v.year, v.month, v.day);
    memcpy(out, tmp, 10);
    out[10] = '\0';
    return SJ_OK;
}

/* ---- E.164 ----------------------------------------------------------------- */

sj_status_t sj_e164_valid(const char *s, size_t n, char *problem, size_t problem_size)
{
    if (n == 0)
        return fail(problem, problem_size, "is empty, expected '+' and 8 to 15 digits");
    if (s[0] != '+')
        return fail(problem, problem_size,
                    "must start with '+' and the country code (e.g. +32 for Belgium)");
    if (!all_digits(s + 1, n - 1))
        return fail(problem, problem_size,
                    "expected only digits after '+', without spaces or punctuation");
    size_t digits = n - 1;
    if (digits < 8 || digits > 15)
        return fail(problem, problem_size, "expected 8 to 15 digits after '+'");
    if (s[1] == '0')
        return fail(problem, problem_size, "country code must not start with 0");
    if (s[1] == '3' && s[2] == '2') {
        if (s[3] == '0')
            return fail(
                problem, problem_size,
                "drop the trunk prefix 0 after +32 (+32 470..., not +32 0470...)");
        if (digits - 2 != 8 && digits - 2 != 9)
            return fail(
                problem, problem_size,
                "belgian numbers have 8 (landline) or 9 (mobile) digits after +32");
    }
    return SJ_OK;
}

/* ---- e-mail ---------------------------------------------------------------- */

static bool is_atext(char c)
{
    return is_alnum(c) || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

static sj_status_t email_local_valid(const char *s, size_t n, char *problem,
                                     size_t problem_size)
{
    if (n == 0) return fail(problem, problem_size, "nothing before the '@'");
    if (n > 64)
        return fail(problem, problem_size,
                    "part before the '@' is longer than 64 characters");
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] >= 0x80)
            return fail(problem, problem_size,
                        "non-ascii characters before the '@' are not supported");
    if (s[0] == '.' || s[n - 1] == '.')
        return fail(problem, problem_size,
                    "part before the '@' must not start or end with a dot");
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '.') {
            if (s[i + 1] == '.')
                return fail(problem, problem_size,
                            "part before the '@' must not contain two dots in a row");
        } else if (!is_atext(s[i])) {
            return fail(problem, problem_size,
                        "part before the '@' may contain only letters, digits, dots and "
                        "!#$%&'*+-/=?^_`{|}~");
        }
    }
    return SJ_OK;
}

static sj_status_t email_label_valid(const char *s, size_t n, char *problem,
                                     size_t problem_size)
{
    if (n == 0)
        return fail(problem, problem_size,
                    "domain has an empty label (a leading, trailing or double dot)");
    if (n > 63)
        return fail(problem, problem_size, "domain label is longer than 63 characters");
    for (size_t i = 0; i < n; i++)
        if (!is_alnum(s[i]) && s[i] != '-')
            return fail(problem, problem_size,
                        "domain may contain only letters, digits, hyphens and dots");
    if (s[0] == '-' || s[n - 1] == '-')
        return fail(problem, problem_size,
                    "domain label must not start or end with a hyphen");
    return SJ_OK;
}

static sj_status_t email_domain_valid(const char *s, size_t n, char *problem,
                                      size_t problem_size)
{
    if (n == 0) return fail(problem, problem_size, "nothing after the '@'");
    if (s[0] == '[')
        return fail(problem, problem_size,
                    "address literals ([...]) are not supported, use a domain name");
    if (n > 253)
        return fail(problem, problem_size, "domain is longer than 253 characters");
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] >= 0x80)
            return fail(
                problem, problem_size,
                "domain contains non-ascii characters: use its punycode (xn--) form");
    if (!memchr(s, '.', n))
        return fail(problem, problem_size,
                    "domain needs at least one dot (e.g. example.be)");
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != '.') continue;
        if (email_label_valid(s + start, i - start, problem, problem_size) != SJ_OK)
            return SJ_ERR_INPUT;
        if (i == n && all_digits(s + start, i - start))
            return fail(problem, problem_size, "top-level domain must not be all digits");
        start = i + 1;
    }
    return SJ_OK;
}

sj_status_t sj_email_valid(const char *s, size_t n, char *problem, size_t problem_size)
{
    if (n == 0) return fail(problem, problem_size, "is empty, expected name@domain");
    if (n > 254) return fail(problem, problem_size, "longer than 254 characters");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c == 0x7F)
            return fail(problem, problem_size,
                        "contains whitespace or control characters");
    }
    if (s[0] == '"')
        return fail(problem, problem_size,
                    "quoted local parts (\"...\"@domain) are not supported");
    const char *at = memchr(s, '@', n);
    if (!at) return fail(problem, problem_size, "has no '@', expected name@domain");
    size_t local_len = (size_t)(at - s);
    if (memchr(at + 1, '@', n - local_len - 1))
        return fail(problem, problem_size, "has more than one '@'");
    if (email_local_valid(s, local_len, problem, problem_size) != SJ_OK)
        return SJ_ERR_INPUT;
    return email_domain_valid(at + 1, n - local_len - 1, problem, problem_size);
}

/* ---- codes ----------------------------------------------------------------- */

sj_status_t sj_nis_valid(const char *s, size_t n, char *problem, size_t problem_size)
{
    if (n != 5 || !all_digits(s, n))
        return fail(problem, problem_size, "expected a 5-digit nis code (e.g. 44021)");
    if (s[0] == '0') return fail(problem, problem_size, "nis code must not start with 0");
    return SJ_OK;
}

sj_status_t sj_postcode_valid(const char *s, size_t n, char *problem, size_t problem_size)
{
    if (n != 4 || !all_digits(s, n) || s[0] == '0')
        return fail(problem, problem_size,
                    "expected a belgian postcode, 4 digits 1000-9999");
    return SJ_OK;
}

static const char *const languages[] = {"nl", "fr", "de", "en"};

sj_status_t sj_language_valid(const char *s, size_t n, char *problem, size_t problem_size)
{
    for (size_t i = 0; i < SJ_ARRAY_LEN(languages); i++)
        if (n == 2 && memcmp(s, languages[i], 2) == 0) return SJ_OK;
    return fail(problem, problem_size, "expected nl, fr, de or en (lowercase)");
}

/* ---- channels -------------------------------------------------------------- */

static const char *const channel_names[SJ_VALIDATE_CHANNELS] = {"email", "sms", "app"};

sj_status_t sj_channel_parse(const char *s, size_t n, unsigned *index, char *problem,
                             size_t problem_size)
{
    for (unsigned i = 0; i < SJ_VALIDATE_CHANNELS; i++) {
        if (strlen(channel_names[i]) == n && memcmp(s, channel_names[i], n) == 0) {
            *index = i;
            return SJ_OK;
        }
    }
    return fail(problem, problem_size, "expected a channel: email, sms or app");
}
