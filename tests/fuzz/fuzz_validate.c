/* Fuzz target: the field validators on arbitrary bytes. Invariants: never
 * crash or read past the input (it is copied into an exact-size buffer);
 * sj_nrn_looks_like agrees with sj_nrn_normalize, whose output is 11 digits
 * and normalises to itself; a derived birth date is a real date; whatever a
 * validator accepts has the documented shape; a refusal always explains
 * itself, also into a problem buffer too small for the whole text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/timeutil.h"
#include "producers/validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef sj_status_t (*validator_fn)(const char *, size_t, char *, size_t);

static bool all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9') return false;
    return true;
}

/* Runs fn with a full and a tiny problem buffer; both must agree. */
static sj_status_t run(validator_fn fn, const char *s, size_t n, size_t tiny)
{
    char problem[256], small[16];
    memset(small, 'x', sizeof small);
    sj_status_t st = fn(s, n, problem, sizeof problem);
    if (st != SJ_OK && (st != SJ_ERR_INPUT || !problem[0])) abort();
    if (fn(s, n, small, tiny) != st) abort();
    if (st != SJ_OK && tiny &&
        strlen(small) != (strlen(problem) < tiny ? strlen(problem) : tiny - 1))
        abort();
    if (fn(s, n, NULL, 0) != st) abort();
    return st;
}

static void check_nrn(const char *s, size_t n)
{
    char out[SJ_NRN_LEN + 1], again[SJ_NRN_LEN + 1], date[11], problem[256];
    sj_status_t st = sj_nrn_normalize(s, n, out, problem, sizeof problem);
    if (sj_nrn_looks_like(s, n) != (st == SJ_OK)) abort();
    if (st != SJ_OK) {
        if (out[0] || !problem[0]) abort();
    } else {
        if (strlen(out) != SJ_NRN_LEN || !all_digits(out, SJ_NRN_LEN)) abort();
        if (sj_nrn_normalize(out, SJ_NRN_LEN, again, NULL, 0) != SJ_OK) abort();
        if (memcmp(out, again, sizeof out) != 0) abort();
    }
    if (sj_nrn_birth_date(s, n, date, problem, sizeof problem) == SJ_OK) {
        int32_t days;
        if (st != SJ_OK || sj_date_parse(date, 10, &days) != SJ_OK) abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = calloc(size ? size : 1, 1);
    if (!s) abort();
    if (size) memcpy(s, data, size);
    size_t tiny = size ? data[0] % 16 : 0;

    check_nrn(s, size);
    if (run(sj_e164_valid, s, size, tiny) == SJ_OK)
        if (size < 9 || size > 16 || s[0] != '+' || !all_digits(s + 1, size - 1)) abort();
    if (run(sj_email_valid, s, size, tiny) == SJ_OK) {
        const char *at = memchr(s, '@', size);
        if (size > 254 || !at || memchr(at + 1, '@', size - (size_t)(at - s) - 1))
            abort();
        for (size_t i = 0; i < size; i++)
            if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7F) abort();
    }
    if (run(sj_nis_valid, s, size, tiny) == SJ_OK && (size != 5 || !all_digits(s, 5)))
        abort();
    if (run(sj_postcode_valid, s, size, tiny) == SJ_OK &&
        (size != 4 || !all_digits(s, 4)))
        abort();
    if (run(sj_language_valid, s, size, tiny) == SJ_OK && size != 2) abort();
    unsigned ch = 99;
    if (sj_channel_parse(s, size, &ch, NULL, 0) == SJ_OK && ch >= SJ_VALIDATE_CHANNELS)
        abort();
    free(s);
    return 0;
}
