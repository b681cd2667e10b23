/* Unit tests for producers/validate.c: national register numbers (both
 * century rules, BIS numbers, unknown dates, formatting), E.164, e-mail, NIS,
 * postcode, language and channel names. Every check digit used here was
 * computed by hand from the rule in validate.h, not taken from the code under
 * test. Every refusal also checks that the problem text does not repeat the
 * value, because problem texts are logged. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "producers/validate.h"

typedef sj_status_t (*validator_fn)(const char *, size_t, char *, size_t);

/* Asserts that fn accepts s. */
static void accepts(validator_fn fn, const char *s)
{
    char problem[256] = "";
    sj_status_t st = fn(s, strlen(s), problem, sizeof problem);
    if (st != SJ_OK) print_error("refused \"%s\": %s\n", s, problem);
    assert_int_equal(st, SJ_OK);
}

/* Asserts that fn refuses s with a problem text containing `want`, that the
 * text is lowercase-led, has no trailing period and does not quote s. */
static void refuses(validator_fn fn, const char *s, const char *want)
{
    char problem[256] = "";
    sj_status_t st = fn(s, strlen(s), problem, sizeof problem);
    if (st != SJ_ERR_INPUT) print_error("accepted \"%s\"\n", s);
    assert_int_equal(st, SJ_ERR_INPUT);
    if (!strstr(problem, want)) print_error("for \"%s\": got \"%s\"\n", s, problem);
    assert_non_null(strstr(problem, want));
    size_t n = strlen(problem);
    assert_true(n > 0);
    assert_true(problem[n - 1] != '.');
    assert_false(problem[0] >= 'A' && problem[0] <= 'Z');
    if (strlen(s) >= 4) assert_null(strstr(problem, s));
}

/* Adapters so the NRN functions fit validator_fn. */
static sj_status_t nrn_fn(const char *s, size_t n, char *problem, size_t problem_size)
{
    char out[SJ_NRN_LEN + 1];
    sj_status_t st = sj_nrn_normalize(s, n, out, problem, problem_size);
    /* looks_like must agree with normalize on every input. */
    assert_int_equal(sj_nrn_looks_like(s, n), st == SJ_OK);
    if (st != SJ_OK) assert_string_equal(out, "");
    return st;
}

static sj_status_t birth_fn(const char *s, size_t n, char *problem, size_t problem_size)
{
    char out[11];
    return sj_nrn_birth_date(s, n, out, problem, problem_size);
}

static sj_status_t channel_fn(const char *s, size_t n, char *problem, size_t problem_size)
{
    unsigned i;
    return sj_channel_parse(s, n, &i, problem, problem_size);
}

static void expect_nrn(const char *in, const char *digits)
{
    char out[SJ_NRN_LEN + 1], problem[256] = "";
    sj_status_t st = sj_nrn_normalize(in, strlen(in), out, problem, sizeof problem);
    if (st != SJ_OK) print_error("refused \"%s\": %s\n", in, problem);
    assert_int_equal(st, SJ_OK);
    assert_string_equal(out, digits);
    assert_true(sj_nrn_looks_like(in, strlen(in)));
}

static void expect_birth(const char *in, const char *date)
{
    char out[11], problem[256] = "";
    sj_status_t st = sj_nrn_birth_date(in, strlen(in), out, problem, sizeof problem);
    if (st != SJ_OK) print_error("refused \"%s\": %s\n", in, problem);
    assert_int_equal(st, SJ_OK);
    assert_string_equal(out, date);
}

/* 850730033 mod 97 = 69, 97 - 69 = 28: born 30 July 1985. */
static void test_nrn_pre2000(void **state)
{
    (void)state;
    expect_nrn("85073003328", "85073003328");
    expect_birth("85073003328", "1985-07-30");
    /* 850730061 is a multiple of 97, so the check digits are 97, not 00. */
    expect_nrn("85073006197", "85073006197");
    refuses(nrn_fn, "85073006100", "check digits do not match");
}

/* (2000000000 + 170612345) mod 97 = 83, 97 - 83 = 14: born 12 June 2017. The
 * pre-2000 rule would give 82. */
static void test_nrn_post2000(void **state)
{
    (void)state;
    expect_nrn("17061234514", "17061234514");
    expect_birth("17061234514", "2017-06-12");
    /* The same digits with pre-2000 check digits are someone born in 1917. */
    expect_birth("17061234582", "1917-06-12");
    expect_nrn("17061206897", "17061206897"); /* post-2000 check digits 97 */
    expect_nrn("00010100105", "00010100105"); /* 1 January 2000 */
    expect_birth("00010100105", "2000-01-01");
    expect_nrn("00010100173", "00010100173"); /* 1 January 1900 */
    expect_birth("00010100173", "1900-01-01");
}

/* The century from the check digits decides whether 29 February exists. */
static void test_nrn_leap_day(void **state)
{
    (void)state;
    expect_birth("00022900145", "2000-02-29");
    refuses(nrn_fn, "00022900116", "does not exist"); /* 1900 was no leap year */
    refuses(nrn_fn, "99022900158", "does not exist"); /* 1999 neither */
    refuses(nrn_fn, "85023100192", "does not exist"); /* 31 February */
}

static void test_nrn_wrong(void **state)
{
    (void)state;
    refuses(nrn_fn, "85073003329",
            "check digits do not match (neither the pre-2000 nor "
            "the post-2000 rule)");
    refuses(nrn_fn, "85073003382", "check digits do not match");
    refuses(nrn_fn, "8507300332", "has 10 digits, expected 11");
    refuses(nrn_fn, "850730033280", "has 12 digits, expected 11");
    refuses(nrn_fn, "", "is empty");
    refuses(nrn_fn, "   ", "is empty");
    refuses(nrn_fn, "8507300332A", "expected 11 digits");
    refuses(nrn_fn, "85073003328x", "expected 11 digits");
    refuses(nrn_fn, "85/07/30-033.28", "expected 11 digits");
    refuses(nrn_fn, "85073003328\n", "expected 11 digits");
    refuses(nrn_fn, "８5073003328", "expected 11 digits"); /* fullwidth digit */
    refuses(nrn_fn, "85133003370", "birth month");         /* month 13 */
    refuses(nrn_fn, "85333003316", "birth month");         /* month 33 */
    refuses(nrn_fn, "85073203365", "birth day");           /* day 32 */
    refuses(nrn_fn, "85073000061", "serial number (digits 7-9) must be 001-997");
    refuses(nrn_fn, "85073099833", "serial number");
    refuses(nrn_fn, "85023000100", "check digits");
}

static void test_nrn_formatted(void **state)
{
    (void)state;
    expect_nrn("85.07.30-033.28", "85073003328");
    expect_nrn("85 07 30 033 28", "85073003328");
    expect_nrn("850730-033-28", "85073003328");
    expect_nrn("  85073003328 ", "85073003328");
    expect_nrn("17.06.12-345.14", "17061234514");
    refuses(nrn_fn, "85..07.30-033.28", "separators");
    refuses(nrn_fn, "85.07.30--033.28", "separators");
    refuses(nrn_fn, "-85073003328", "separators");
    refuses(nrn_fn, "85073003328.", "separators");
    refuses(nrn_fn, "85.07.30-033.2", "has 10 digits");
}

/* BIS numbers: month + 20 (sex unknown) or + 40 (sex known). */
static void test_nrn_bis(void **state)
{
    (void)state;
    expect_nrn("85213003329", "85213003329"); /* 852130033: 97 - 68 = 29 */
    expect_birth("85213003329", "1985-01-30");
    expect_nrn("85443003393", "85443003393");
    expect_birth("85443003393", "1985-04-30");
    refuses(nrn_fn, "85213003328", "check digits");
}

/* The register uses 00 for an unknown month or day. */
static void test_nrn_unknown_date(void **state)
{
    (void)state;
    expect_nrn("85000000138", "85000000138");
    expect_nrn("85070001276", "85070001276");
    refuses(birth_fn, "85000000138", "not fully recorded");
    refuses(birth_fn, "85070001276", "not fully recorded");
    refuses(birth_fn, "85073003329", "check digits");
}

static void test_nrn_looks_like(void **state)
{
    (void)state;
    assert_true(sj_nrn_looks_like("85073003328", 11));
    assert_true(sj_nrn_looks_like("85.07.30-033.28", 15));
    assert_false(sj_nrn_looks_like("85073003329", 11));
    assert_false(sj_nrn_looks_like("hh-85073003328", 14));
    assert_false(sj_nrn_looks_like("12345678901", 11));
    assert_false(sj_nrn_looks_like("", 0));
    /* Only the first 11 bytes count when n says so. */
    assert_true(sj_nrn_looks_like("85073003328999", 11));
}

static void test_nrn_problem_buffer(void **state)
{
    (void)state;
    char out[SJ_NRN_LEN + 1], small[8];
    assert_int_equal(sj_nrn_normalize("x", 1, out, NULL, 0), SJ_ERR_INPUT);
    assert_int_equal(sj_nrn_normalize("x", 1, out, small, sizeof small), SJ_ERR_INPUT);
    assert_int_equal(strlen(small), sizeof small - 1);
    assert_int_equal(sj_nrn_normalize("1", 1, out, small, sizeof small), SJ_ERR_INPUT);
    assert_int_equal(strlen(small), sizeof small - 1);
}

static void test_e164(void **state)
{
    (void)state;
    validator_fn f = sj_e164_valid;
    accepts(f, "+32470123456");     /* Belgian mobile: 9 digits after +32 */
    accepts(f, "+3222223344");      /* Belgian landline, Brussels: 8 digits */
    accepts(f, "+31612345678");     /* Netherlands */
    accepts(f, "+12025550123");     /* 11 digits */
    accepts(f, "+49123456");        /* 8 digits, the shortest accepted */
    accepts(f, "+123456789012345"); /* 15, the longest */
    refuses(f, "", "is empty");
    refuses(f, "32470123456", "must start with '+'");
    refuses(f, "0470123456", "must start with '+'");
    refuses(f, "+", "8 to 15 digits");
    refuses(f, "+4912345", "8 to 15 digits");
    refuses(f, "+1234567890123456", "8 to 15 digits");
    refuses(f, "+32 470 12 34 56", "without spaces");
    refuses(f, "+32-470-123456", "without spaces");
    refuses(f, "+32470123456 ", "without spaces");
    refuses(f, "++32470123456", "without spaces");
    refuses(f, "+0032470123456", "country code must not start with 0");
    refuses(f, "+320470123456", "trunk prefix 0");
    refuses(f, "+32470123", "8 (landline) or 9 (mobile)");     /* 6 after +32 */
    refuses(f, "+324701234", "8 (landline) or 9 (mobile)");    /* 7 after +32 */
    refuses(f, "+324701234567", "8 (landline) or 9 (mobile)"); /* 10 after +32 */
}

static void test_e164_landline_edge(void **state)
{
    (void)state;
    accepts(sj_e164_valid, "+3292345678"); /* Ghent: 9 2345678, 8 digits */
    refuses(sj_e164_valid, "+32923456789012", "8 (landline) or 9 (mobile)");
}

static char *repeat(char *buf, char c, size_t n, const char *suffix)
{
    memset(buf, c, n);
    buf[n] = '\0';
    strcat(buf, suffix);
    return buf;
}

static void test_email_valid(void **state)
{
    (void)state;
    validator_fn f = sj_email_valid;
    char buf[600];
    accepts(f, "an@example.be");
    accepts(f, "An.Peeters@Gent.be");
    accepts(f, "a.b+tag@sub.example.co.uk");
    accepts(f, "o'brien@example.ie");
    accepts(f, "x!#$%&'*+-/=?^_`{|}~@example.be");
    accepts(f, "info@xn--bcher-kva.de"); /* IDNA A-label */
    accepts(f, "a@b.c");
    accepts(f, "a@123.example.be"); /* numeric labels are fine below the TLD */
    accepts(f, "a@ex-ample.be");
    accepts(f, repeat(buf, 'l', 64, "@example.be"));
    /* A 63-byte label is the longest. */
    char dom[100] = "a@";
    strcat(repeat(dom + 2, 'd', 63, ""), ".be");
    accepts(f, dom);
    /* 254 bytes in all, the longest: "a@" + 3 labels of 63 + 3 dots + 57 + ".be". */
    char big[300] = "a@";
    for (int i = 0; i < 3; i++) strcat(repeat(big + strlen(big), 'd', 63, ""), ".");
    strcat(repeat(big + strlen(big), 'd', 57, ""), ".be");
    assert_int_equal(strlen(big), 254);
    accepts(f, big);
}

static void test_email_invalid(void **state)
{
    (void)state;
    validator_fn f = sj_email_valid;
    char buf[600];
    refuses(f, "", "is empty");
    refuses(f, "an.example.be", "has no '@'");
    refuses(f, "an@example@be.be", "more than one '@'");
    refuses(f, "\"an peeters\"@example.be", "whitespace");
    refuses(f, "\"an.peeters\"@example.be", "quoted local parts");
    refuses(f, "an peeters@example.be", "whitespace");
    refuses(f, "an@example.be ", "whitespace");
    refuses(f, "an\t@example.be", "whitespace or control");
    refuses(f, "an\x7f@example.be", "control");
    refuses(f, "@example.be", "nothing before the '@'");
    refuses(f, "an@", "nothing after the '@'");
    refuses(f, ".an@example.be", "must not start or end with a dot");
    refuses(f, "an.@example.be", "must not start or end with a dot");
    refuses(f, "a..n@example.be", "two dots in a row");
    refuses(f, "a(n)@example.be", "may contain only letters");
    refuses(f, "a,n@example.be", "may contain only letters");
    refuses(f, "jos\xc3\xa9@example.be", "non-ascii characters before the '@'");
    refuses(f,
            "an@b\xc3\xbc"
            "cher.de",
            "punycode (xn--)");
    refuses(f, "an@localhost", "at least one dot");
    refuses(f, "an@[192.0.2.1]", "address literals");
    refuses(f, "an@-example.be", "must not start or end with a hyphen");
    refuses(f, "an@example-.be", "must not start or end with a hyphen");
    refuses(f, "an@example.be-", "must not start or end with a hyphen");
    refuses(f, "an@exa_mple.be", "only letters, digits, hyphens and dots");
    refuses(f, "an@example..be", "empty label");
    refuses(f, "an@.example.be", "empty label");
    refuses(f, "an@example.be.", "empty label");
    refuses(f, "an@192.0.2.1", "top-level domain must not be all digits");
    refuses(f, repeat(buf, 'l', 65, "@example.be"), "longer than 64");
    char dom[100] = "a@";
    strcat(repeat(dom + 2, 'd', 64, ""), ".be");
    refuses(f, dom, "longer than 63");
    refuses(f, repeat(buf, 'l', 250, "@x.be"), "longer than 254");
    /* One byte more than the longest accepted above. */
    char big[300] = "a@";
    for (int i = 0; i < 3; i++) strcat(repeat(big + strlen(big), 'd', 63, ""), ".");
    strcat(repeat(big + strlen(big), 'd', 58, ""), ".be");
    refuses(f, big, "longer than 254");
}

static void test_nis(void **state)
{
    (void)state;
    accepts(sj_nis_valid, "44021");
    accepts(sj_nis_valid, "21004");
    accepts(sj_nis_valid, "93090");
    refuses(sj_nis_valid, "04021", "must not start with 0");
    refuses(sj_nis_valid, "9402", "5-digit");
    refuses(sj_nis_valid, "940211", "5-digit");
    refuses(sj_nis_valid, "9402a", "5-digit");
    refuses(sj_nis_valid, " 9402", "5-digit");
    refuses(sj_nis_valid, "", "5-digit");
}

static void test_postcode(void **state)
{
    (void)state;
    accepts(sj_postcode_valid, "1000");
    accepts(sj_postcode_valid, "9000");
    accepts(sj_postcode_valid, "9999");
    refuses(sj_postcode_valid, "0999", "1000-9999");
    refuses(sj_postcode_valid, "999", "4 digits");
    refuses(sj_postcode_valid, "10000", "4 digits");
    refuses(sj_postcode_valid, "10a0", "4 digits");
    refuses(sj_postcode_valid, "B-9000", "4 digits");
    refuses(sj_postcode_valid, "", "4 digits");
}

static void test_language(void **state)
{
    (void)state;
    accepts(sj_language_valid, "nl");
    accepts(sj_language_valid, "fr");
    accepts(sj_language_valid, "de");
    accepts(sj_language_valid, "en");
    refuses(sj_language_valid, "NL", "nl, fr, de or en");
    refuses(sj_language_valid, "nl ", "nl, fr, de or en");
    refuses(sj_language_valid, "es", "nl, fr, de or en");
    refuses(sj_language_valid, "n", "nl, fr, de or en");
    refuses(sj_language_valid, "", "nl, fr, de or en");
    refuses(sj_language_valid, "nl-BE", "nl, fr, de or en");
    /* n is the length: "nlx" cut to 2 bytes is "nl". */
    assert_int_equal(sj_language_valid("nlx", 2, NULL, 0), SJ_OK);
}

static void test_channel(void **state)
{
    (void)state;
    unsigned i = 99;
    assert_int_equal(sj_channel_parse("email", 5, &i, NULL, 0), SJ_OK);
    assert_int_equal(i, 0);
    assert_int_equal(sj_channel_parse("sms", 3, &i, NULL, 0), SJ_OK);
    assert_int_equal(i, 1);
    assert_int_equal(sj_channel_parse("app", 3, &i, NULL, 0), SJ_OK);
    assert_int_equal(i, 2);
    assert_int_equal(SJ_VALIDATE_CHANNELS, 3);
    refuses(channel_fn, "Email", "email, sms or app");
    refuses(channel_fn, "e-mail", "email, sms or app");
    refuses(channel_fn, "push", "email, sms or app");
    refuses(channel_fn, "", "email, sms or app");
    refuses(channel_fn, "emails", "email, sms or app");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nrn_pre2000),
        cmocka_unit_test(test_nrn_post2000),
        cmocka_unit_test(test_nrn_leap_day),
        cmocka_unit_test(test_nrn_wrong),
        cmocka_unit_test(test_nrn_formatted),
        cmocka_unit_test(test_nrn_bis),
        cmocka_unit_test(test_nrn_unknown_date),
        cmocka_unit_test(test_nrn_looks_like),
        cmocka_unit_test(test_nrn_problem_buffer),
        cmocka_unit_test(test_e164),
        cmocka_unit_test(test_e164_landline_edge),
        cmocka_unit_test(test_email_valid),
        cmocka_unit_test(test_email_invalid),
        cmocka_unit_test(test_nis),
        cmocka_unit_test(test_postcode),
        cmocka_unit_test(test_language),
        cmocka_unit_test(test_channel),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
