/* Unit tests of the life-event check: one good event rewritten exactly, and
 * every class of bad input refused with the documented field and problem.
 * Expected pseudonyms were computed independently with Python's hmac module. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "core/crypto.h"
#include "producers/lifeevent.h"

static const char KEY[] = "test-key-0123456789abcdef";
static const char P85[] =
    "d19553acbd10aa832188a727106b37309d98143e26760e4c678776e9b1ef32c9";

#define HEAD                                                                             \
    "{\"specversion\":\"1.0\",\"id\":\"e1\",\"source\":\"urn:nis:44021:population\","

static sj_hmac_t *hmac(void)
{
    sj_hmac_t *h = sj_hmac_new((const unsigned char *)KEY, strlen(KEY), NULL, 0);
    assert_non_null(h);
    return h;
}

/* Runs the check; returns the status and fills why/out. */
static sj_status_t check(const char *line, sj_buf_t *out, char *key,
                         sj_event_problem_t *why)
{
    sj_hmac_t *h = hmac();
    sj_buf_reset(out);
    sj_status_t st = sj_lifeevent_check(h, line, strlen(line), out, key, why);
    sj_hmac_destroy(h);
    return st;
}

static void expect_refused(const char *line, const char *field, const char *problem)
{
    sj_buf_t out;
    sj_buf_init(&out, 1 << 16);
    char key[65];
    sj_event_problem_t why;
    sj_status_t st = check(line, &out, key, &why);
    if (st != SJ_ERR_INPUT) fail_msg("accepted: %s", line);
    assert_string_equal(why.field, field);
    assert_string_equal(why.problem, problem);
    /* No national register number may appear in a problem text. */
    assert_null(strstr(why.problem, "85073003328"));
    sj_buf_free(&out);
}

static void good_event_is_rewritten_byte_for_byte(void **state)
{
    (void)state;
    const char *in =
        HEAD "\"type\":\"be.seintje.life.id-card-expiring\","
             "\"time\":\"2026-11-28T09:30:00+01:00\", \"subject\": \"85.07.30-033.28\","
             "\"datacontenttype\":\"application/json\",\"data\":{\"given_name\":"
             "\"Zo\\u00eb\",\"expires\":\"2027-01-27\",\"language\":\"nl\",\"email\":"
             "\"zoe@example.org\",\"phone\":\"+32470123456\",\"consents\":{\"email\":"
             "true,\"sms\":false},\"age\":null}}";
    sj_buf_t out;
    sj_buf_init(&out, 1 << 16);
    char key[65], expect[2048];
    sj_event_problem_t why;
    sj_status_t st = check(in, &out, key, &why);
    if (st != SJ_OK) fail_msg("%s: %s", why.field, why.problem);
    assert_string_equal(key, P85);
    snprintf(expect, sizeof expect, "%s", in);
    char *subj = strstr(expect, "\"85.07.30-033.28\"");
    assert_non_null(subj);
    char tail[2048];
    snprintf(tail, sizeof tail, "%s", subj + strlen("\"85.07.30-033.28\""));
    snprintf(subj, sizeof expect - (size_t)(subj - expect), "\"%s\"%s", P85, tail);
    assert_string_equal(sj_buf_cstr(&out), expect);
    sj_buf_free(&out);
}

static void post_2000_number_accepted(void **state)
{
    (void)state;
    const char *in =
        HEAD "\"type\":\"be.seintje.life.registered\",\"time\":\"2026-01-01T00:00:00Z\","
             "\"subject\":\"05031500291\",\"data\":{}}";
    sj_buf_t out;
    sj_buf_init(&out, 1 << 16);
    char key[65];
    sj_event_problem_t why;
    assert_int_equal(check(in, &out, key, &why), SJ_OK);
    assert_string_equal(
        key, "ef629775185676b035830a9d8cb4ee131fd1aee0ec29d7e83b9dab9372502fac");
    sj_buf_free(&out);
}

#define OKTAIL "\"time\":\"2026-01-01T00:00:00Z\",\"subject\":\"85073003328\""
#define REG    "\"type\":\"be.seintje.life.registered\","

static void bad_json(void **state)
{
    (void)state;
    expect_refused("{\"specversion\":\"1.0\",", "json", "unclosed object at column 1");
    expect_refused("[1,2]", "json", "a life event must be a JSON object, not an array");
    expect_refused("{\"a\":tru}", "json",
                   "invalid literal (expected true, false or null) at column 6");
    expect_refused("{\"a\":\"x\ty\"}", "json",
                   "control character in string (escape it) at column 8");
    expect_refused("{\"a\":\"\\ud800\"}", "json",
                   "lone high surrogate escape at column 7");
    expect_refused("{\"a\":1} x", "json",
                   "unexpected text after the JSON value at column 9");
    expect_refused("{\"a\":01}", "json", "',' or '}' expected at column 7");
    expect_refused("{\"id\":\"a\",\"id\":\"b\"}", "json", "member \"id\" appears twice");
}

static void missing_attributes(void **state)
{
    (void)state;
    expect_refused("{\"id\":\"x\"}", "specversion", "required (\"1.0\")");
    expect_refused("{\"specversion\":\"0.3\"}", "specversion",
                   "must be \"1.0\" (CloudEvents 1.0)");
    expect_refused("{\"specversion\":\"1.0\"}", "id", "required (unique per source)");
    expect_refused("{\"specversion\":\"1.0\",\"id\":\"\"}", "id", "must not be empty");
    expect_refused("{\"specversion\":\"1.0\",\"id\":\"a\"}", "source",
                   "required (e.g. urn:nis:44021:population)");
    expect_refused(HEAD "\"time\":\"x\"}", "type",
                   "required (e.g. be.seintje.life.moved-in)");
    expect_refused(HEAD REG "\"subject\":\"85073003328\",\"data\":{}}", "time",
                   "required (RFC 3339, e.g. 2026-11-28T09:30:00Z)");
    expect_refused(HEAD REG "\"time\":\"2026-01-01T00:00:00Z\",\"data\":{}}", "subject",
                   "required (the national register number)");
    expect_refused(HEAD REG OKTAIL "}", "data",
                   "required (an object with the event's fields)");
    expect_refused(HEAD REG OKTAIL ",\"data\":[]}", "data",
                   "must be an object, not an array");
    expect_refused(HEAD REG OKTAIL ",\"Data\":{}}", "Data",
                   "not a CloudEvents attribute, and extension names are 1-20 lowercase "
                   "letters or digits");
    expect_refused(HEAD REG OKTAIL ",\"data_base64\":\"AA==\"}", "data_base64",
                   "binary data is not accepted; send data as a JSON object");
}

static void unknown_type_and_bad_time(void **state)
{
    (void)state;
    expect_refused(
        HEAD "\"type\":\"be.seintje.life.moved-to-mars\"," OKTAIL ",\"data\":{}}", "type",
        "unknown event type \"be.seintje.life.moved-to-mars\" (see `seintje produce "
        "--catalogue`)");
    expect_refused(HEAD REG
                   "\"time\":\"2026-02-30T00:00:00Z\",\"subject\":\"85073003328\","
                   "\"data\":{}}",
                   "time", "not an RFC 3339 date-time (e.g. 2026-11-28T09:30:00Z)");
    expect_refused(HEAD REG
                   "\"time\":\"2026-01-01 10:00:00\",\"subject\":\"85073003328\","
                   "\"data\":{}}",
                   "time", "not an RFC 3339 date-time (e.g. 2026-11-28T09:30:00Z)");
}

static void bad_register_number(void **state)
{
    (void)state;
    const char *bad[] = {"85073003329", "8507300332", "abc", "85073003328x"};
    for (size_t i = 0; i < 4; i++) {
        char line[512];
        snprintf(line, sizeof line,
                 HEAD REG
                 "\"time\":\"2026-01-01T00:00:00Z\",\"subject\":\"%s\",\"data\":{}}",
                 bad[i]);
        sj_buf_t out;
        sj_buf_init(&out, 1 << 16);
        char key[65];
        sj_event_problem_t why;
        assert_int_equal(check(line, &out, key, &why), SJ_ERR_INPUT);
        assert_string_equal(why.field, "subject");
        assert_non_null(strstr(why.problem, "not a valid national register number: "));
        assert_null(strstr(why.problem, bad[i]));
        sj_buf_free(&out);
    }
}

static void bad_data_fields(void **state)
{
    (void)state;
    static const char *cases[][2] = {
        {"\"phone\":\"0470123456\"", "data.phone"},
        {"\"email\":\"zoe@@example.org\"", "data.email"},
        {"\"email\":\"zoe example.org\"", "data.email"},
        {"\"nis\":\"4402\"", "data.nis"},
        {"\"postcode\":\"999\"", "data.postcode"},
        {"\"language\":\"es\"", "data.language"},
        {"\"birth_date\":\"1985-13-01\"", "data.birth_date"},
        {"\"age\":-1", "data.age"},
        {"\"age\":151", "data.age"},
        {"\"consents\":{\"fax\":true}", "data.consents"},
        {"\"consents\":{\"sms\":\"yes\"}", "data.consents"},
        {"\"given_name\":\"Zo\\u0007\"", "data.given_name"},
        {"\"household\":\"hh 85073003328\"", "data.household"},
        {"\"emial\":\"x\"", "data.emial"},
        {"\"income_band\":\"rich\"", "data.income_band"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char line[512];
        snprintf(line, sizeof line, HEAD REG OKTAIL ",\"data\":{%s}}", cases[i][0]);
        sj_buf_t out;
        sj_buf_init(&out, 1 << 16);
        char key[65];
        sj_event_problem_t why;
        if (check(line, &out, key, &why) != SJ_ERR_INPUT) fail_msg("accepted: %s", line);
        assert_string_equal(why.field, cases[i][1]);
        printf("%-20s %s\n", why.field, why.problem);
        assert_true(strlen(why.problem) > 5);
        assert_null(strstr(why.problem, "85073003328"));
        assert_null(strstr(why.problem, "zoe"));
        sj_buf_free(&out);
    }
    expect_refused(HEAD "\"type\":\"be.seintje.life.id-card-expiring\"," OKTAIL
                        ",\"data\":{}}",
                   "data.expires", "required for be.seintje.life.id-card-expiring");
    expect_refused(HEAD REG OKTAIL ",\"data\":{},\"traceparent\":\"85073003328\"}",
                   "traceparent",
                   "contains a national register number; only subject may");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(good_event_is_rewritten_byte_for_byte),
        cmocka_unit_test(post_2000_number_accepted),
        cmocka_unit_test(bad_json),
        cmocka_unit_test(missing_attributes),
        cmocka_unit_test(unknown_type_and_bad_time),
        cmocka_unit_test(bad_register_number),
        cmocka_unit_test(bad_data_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
