/* Unit tests for templates/app: the citizen-app inbox payload, its limits in
 * code points (exact boundary, error instead of truncation), deep-link,
 * category, language, id and expires_at validation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "templates/app.h"

static sj_app_msg_t base(void)
{
    static const char title[] = "Uw identiteitskaart vervalt";
    static const char body[] =
        "Beste Zo\xC3\xAB,\nuw ID-kaart vervalt op 28 november 2026.";
    sj_app_msg_t m = {.id = "n-3f9a2c",
                      .language = "nl-BE",
                      .category = "action-required",
                      .title = title,
                      .title_len = sizeof title - 1,
                      .body = body,
                      .body_len = sizeof body - 1,
                      .deep_link = "https://www.burgerprofiel.be/eid?step=renew#start",
                      .expires_at = "2027-01-28T00:00:00+01:00"};
    return m;
}

static void test_payload(void **state)
{
    (void)state;
    sj_app_msg_t m = base();
    char err[256] = "";
    json_t *j = sj_app_payload(&m, err, sizeof err);
    if (!j) fail_msg("%s", err);
    char *dump = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII);
    assert_string_equal(
        dump, "{\"id\":\"n-3f9a2c\",\"language\":\"nl\",\"category\":"
              "\"action-required\",\"title\":\"Uw identiteitskaart vervalt\","
              "\"body\":\"Beste Zo\\u00EB,\\nuw ID-kaart vervalt op 28 "
              "november 2026.\",\"deep_link\":\"https://www.burgerprofiel.be/"
              "eid?step=renew#start\",\"expires_at\":\"2027-01-27T23:00:00Z\"}");
    free(dump);
    json_decref(j);

    m.expires_at = NULL;
    m.category = "informational";
    j = sj_app_payload(&m, err, sizeof err);
    assert_non_null(j);
    assert_null(json_object_get(j, "expires_at"));
    assert_string_equal(json_string_value(json_object_get(j, "category")),
                        "informational");
    json_decref(j);
}

static json_t *with_title(const char *unit, size_t n, char *err, size_t errsize)
{
    size_t u = strlen(unit);
    char *t = malloc(u * n + 1);
    assert_non_null(t);
    for (size_t i = 0; i < n; i++) memcpy(t + i * u, unit, u);
    sj_app_msg_t m = base();
    m.title = t;
    m.title_len = u * n;
    json_t *j = sj_app_payload(&m, err, errsize);
    free(t);
    return j;
}

static void test_title_limit_in_code_points(void **state)
{
    (void)state;
    char err[256] = "";
    /* 100 'ë' are 200 bytes but 100 characters: accepted. */
    json_t *j = with_title("\xC3\xAB", 100, err, sizeof err);
    assert_non_null(j);
    assert_int_equal(json_string_length(json_object_get(j, "title")), 200);
    json_decref(j);
    /* 100 emoji (4 bytes each) are still 100 code points. */
    j = with_title("\xF0\x9F\xAA\xAA", 100, err, sizeof err);
    assert_non_null(j);
    json_decref(j);
    /* 101: an error with the count and the limit, never a truncated title. */
    assert_null(with_title("a", 101, err, sizeof err));
    assert_non_null(strstr(err, "title is 101 characters"));
    assert_non_null(strstr(err, "limit is 100"));
}

static void test_body_limit_and_custom_limits(void **state)
{
    (void)state;
    char err[256] = "";
    char *b = malloc(4001);
    assert_non_null(b);
    memset(b, 'x', 4001);
    sj_app_msg_t m = base();
    m.body = b;
    m.body_len = 4000;
    json_t *j = sj_app_payload(&m, err, sizeof err);
    assert_non_null(j);
    json_decref(j);
    m.body_len = 4001;
    assert_null(sj_app_payload(&m, err, sizeof err));
    assert_non_null(strstr(err, "body is 4001 characters"));
    m.body_len = 50;
    m.body_max = 49;
    assert_null(sj_app_payload(&m, err, sizeof err));
    assert_non_null(strstr(err, "limit is 49"));
    m.body_max = 0;
    m.title_max = 10;
    assert_null(sj_app_payload(&m, err, sizeof err));
    assert_non_null(strstr(err, "title is 27 characters long, the limit is 10"));
    free(b);
}

static void expect_error(sj_app_msg_t m, const char *fragment)
{
    char err[256] = "";
    json_t *j = sj_app_payload(&m, err, sizeof err);
    if (j) fail_msg("accepted, expected an error with '%s'", fragment);
    if (!strstr(err, fragment)) fail_msg("error '%s' lacks '%s'", err, fragment);
}

static void test_text_errors(void **state)
{
    (void)state;
    sj_app_msg_t m = base();
    m.title_len = 0;
    expect_error(m, "title is empty");
    m = base();
    m.title = "Hallo\nwereld";
    m.title_len = 12;
    expect_error(m, "title contains control character 0x0A at byte 5");
    m.title = "ab\0cd";
    m.title_len = 5;
    expect_error(m, "0x00 at byte 2");
    m = base();
    m.body = "Zo\xC3";
    m.body_len = 3;
    expect_error(m, "body is not valid UTF-8 at byte 2");
    m.body = "bel\x07";
    m.body_len = 4;
    expect_error(m, "body contains control character 0x07");
    m.body = "lijn\r\nlijn\ttab";
    m.body_len = strlen(m.body);
    char err[256];
    json_t *j = sj_app_payload(&m, err, sizeof err);
    assert_non_null(j); /* line breaks and tabs are fine in a body */
    json_decref(j);
}

static void test_link_errors(void **state)
{
    (void)state;
    sj_app_msg_t m = base();
    const char *bad[][2] = {
        {"http://www.burgerprofiel.be/eid", "https://"},
        {"javascript:alert(1)", "https://"},
        {"https://", "https://"},
        {"https:///path", "host"},
        {"https://www.burgerprofiel.be@evil.example/", "user@"},
        {"https://x.be/a b", "a space 0x20 at byte 14"},
        {"https://x.be/a\r\nSet-Cookie: x", "control character 0x0D"},
        {"https://x.be/\xC3\xAB", "0xC3"},
        {"https://x.be/<script>", "0x3C"},
        {"", "missing"},
    };
    for (size_t i = 0; i < SJ_ARRAY_LEN(bad); i++) {
        m.deep_link = bad[i][0];
        expect_error(m, bad[i][1]);
    }
    m.deep_link = NULL;
    expect_error(m, "missing");
    char *longurl = malloc(3000);
    assert_non_null(longurl);
    memcpy(longurl, "https://x.be/", 13);
    memset(longurl + 13, 'a', 3000 - 14);
    longurl[2999] = '\0';
    m.deep_link = longurl;
    expect_error(m, "limit is 2048");
    free(longurl);
}

static void test_other_field_errors(void **state)
{
    (void)state;
    sj_app_msg_t m = base();
    m.category = "urgent";
    expect_error(m, "category 'urgent' is unknown");
    m.category = NULL;
    expect_error(m, "category");
    m = base();
    m.language = "es";
    expect_error(m, "unsupported language 'es'");
    m = base();
    m.expires_at = "2027-02-30T00:00:00Z";
    expect_error(m, "expires_at '2027-02-30T00:00:00Z'");
    m.expires_at = "morgen";
    expect_error(m, "RFC 3339");
    m = base();
    m.id = "";
    expect_error(m, "id must be");
    m.id = "a b";
    expect_error(m, "0x20 at 1");
    m.id = NULL;
    expect_error(m, "id must be");
    /* errstr may be NULL */
    assert_null(sj_app_payload(&m, NULL, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_payload),
        cmocka_unit_test(test_title_limit_in_code_points),
        cmocka_unit_test(test_body_limit_and_custom_limits),
        cmocka_unit_test(test_text_errors),
        cmocka_unit_test(test_link_errors),
        cmocka_unit_test(test_other_field_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
