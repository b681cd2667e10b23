/* Unit tests for templates/sms: GSM 03.38 versus UCS-2, billed characters and
 * parts at every boundary (160/161, 306/307, 70/71, 134/135), extension
 * characters and surrogate pairs that must not straddle a part, Dutch and
 * French names, the max-segments error and invalid input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "templates/sms.h"

/* Builds a string of n copies of the UTF-8 sequence unit, plus tail. */
static char *repeat(const char *unit, size_t n, const char *tail)
{
    size_t u = strlen(unit), t = strlen(tail);
    char *s = malloc(u * n + t + 1);
    assert_non_null(s);
    for (size_t i = 0; i < n; i++) memcpy(s + i * u, unit, u);
    memcpy(s + u * n, tail, t + 1);
    return s;
}

static sj_sms_info_t analyse_ok(const char *s)
{
    sj_sms_info_t info;
    char err[256] = "";
    sj_status_t st = sj_sms_analyse(s, strlen(s), 0, &info, err, sizeof err);
    if (st != SJ_OK) fail_msg("unexpected error: %s", err);
    return info;
}

static void expect(const char *unit, size_t n, const char *tail, sj_sms_encoding_t enc,
                   size_t chars, size_t segs)
{
    char *s = repeat(unit, n, tail);
    sj_sms_info_t info = analyse_ok(s);
    if (info.encoding != enc || info.characters != chars || info.segments != segs)
        fail_msg("%zu x '%s' + '%s': got %s %zu chars %zu segs, want %s %zu %zu", n, unit,
                 tail, sj_sms_encoding_name(info.encoding), info.characters,
                 info.segments, sj_sms_encoding_name(enc), chars, segs);
    free(s);
}

static void test_gsm_single_boundary(void **state)
{
    (void)state;
    expect("a", 1, "", SJ_SMS_GSM7, 1, 1);
    expect("a", 160, "", SJ_SMS_GSM7, 160, 1);
    expect("a", 161, "", SJ_SMS_GSM7, 161, 2);
    sj_sms_info_t info = analyse_ok("Hallo");
    assert_int_equal(info.per_segment, 160);
    assert_int_equal(info.first_non_gsm_offset, SIZE_MAX);
}

static void test_gsm_multi_boundary(void **state)
{
    (void)state;
    expect("a", 306, "", SJ_SMS_GSM7, 306, 2);
    expect("a", 307, "", SJ_SMS_GSM7, 307, 3);
    expect("a", 459, "", SJ_SMS_GSM7, 459, 3);
    expect("a", 460, "", SJ_SMS_GSM7, 460, 4);
    char *s = repeat("a", 200, "");
    sj_sms_info_t info = analyse_ok(s);
    assert_int_equal(info.per_segment, 153);
    free(s);
}

static void test_extension_counts_double(void **state)
{
    (void)state;
    /* 158 + '€' (2) = 160: still one message; 159 + '€' = 161: two. */
    expect("a", 158, "\xE2\x82\xAC", SJ_SMS_GSM7, 160, 1);
    expect("a", 159, "\xE2\x82\xAC", SJ_SMS_GSM7, 161, 2);
    expect("{", 80, "", SJ_SMS_GSM7, 160, 1);
    expect("{", 81, "", SJ_SMS_GSM7, 162, 2);
    sj_sms_info_t info = analyse_ok("^{}\\[~]|\xE2\x82\xAC");
    assert_int_equal(info.encoding, SJ_SMS_GSM7);
    assert_int_equal(info.characters, 18);
    assert_int_equal(info.extension_chars, 9);
}

static void test_extension_at_part_boundary(void **state)
{
    (void)state;
    /* 152 septets then '€': the escape and the code would straddle parts 1
     * and 2, so part 1 ends at 152 and '€' opens part 2. 152+2+152 = 306
     * septets then need three parts although 306 plain septets fit in two. */
    char *s = repeat("a", 152, "\xE2\x82\xAC");
    char *t = repeat("b", 152, "");
    size_t n = strlen(s) + strlen(t) + 1;
    char *all = malloc(n);
    assert_non_null(all);
    snprintf(all, n, "%s%s", s, t);
    sj_sms_info_t info = analyse_ok(all);
    assert_int_equal(info.characters, 306);
    assert_int_equal(info.segments, 3);
    /* The same 306 septets with '€' not at the boundary fit in two. */
    memmove(all + 3, all, 152); /* a×152 shifted */
    memcpy(all, "\xE2\x82\xAC", 3);
    info = analyse_ok(all);
    assert_int_equal(info.characters, 306);
    assert_int_equal(info.segments, 2);
    free(s);
    free(t);
    free(all);
}

static void test_ucs2_boundaries(void **state)
{
    (void)state;
    /* 'ç' is not in GSM 03.38. */
    expect("\xC3\xA7", 70, "", SJ_SMS_UCS2, 70, 1);
    expect("\xC3\xA7", 71, "", SJ_SMS_UCS2, 71, 2);
    expect("\xC3\xA7", 134, "", SJ_SMS_UCS2, 134, 2);
    expect("\xC3\xA7", 135, "", SJ_SMS_UCS2, 135, 3);
    expect("\xC3\xA7", 201, "", SJ_SMS_UCS2, 201, 3);
    expect("\xC3\xA7", 202, "", SJ_SMS_UCS2, 202, 4);
    char *s = repeat("\xC3\xA7", 100, "");
    assert_int_equal(analyse_ok(s).per_segment, 67);
    free(s);
}

static void test_emoji_surrogate_pairs(void **state)
{
    (void)state;
    const char *card = "\xF0\x9F\xAA\xAA"; /* U+1FAAA identification card */
    expect(card, 35, "", SJ_SMS_UCS2, 70, 1);
    expect(card, 36, "", SJ_SMS_UCS2, 72, 2);
    expect("x", 68, card, SJ_SMS_UCS2, 70, 1);
    expect("x", 69, card, SJ_SMS_UCS2, 71, 2);
    /* 66 units then an emoji: the pair may not straddle units 67/68. */
    char *s = repeat("x", 66, card);
    char *t = repeat("y", 66, "");
    size_t n = strlen(s) + strlen(t) + 1;
    char *all = malloc(n);
    assert_non_null(all);
    snprintf(all, n, "%s%s", s, t);
    sj_sms_info_t info = analyse_ok(all);
    assert_int_equal(info.characters, 134);
    assert_int_equal(info.segments, 3);
    assert_int_equal(info.codepoints, 133);
    /* An even split (emoji at 0..1) keeps it to two parts. */
    char *u = repeat(card, 1, "");
    char *v = repeat("x", 132, "");
    snprintf(all, n, "%s%s", u, v);
    info = analyse_ok(all);
    assert_int_equal(info.characters, 134);
    assert_int_equal(info.segments, 2);
    free(s);
    free(t);
    free(u);
    free(v);
    free(all);
}

static void test_dutch_french_names(void **state)
{
    (void)state;
    /* é, è, ü, ä, ö, ñ, à, É, Ç, ß are in the basic set. */
    sj_sms_info_t info =
        analyse_ok("Beste Ren\xC3\xA9 en H\xC3\xA9l\xC3\xA8ne, "
                   "\xC3\x89lise, \xC3\x87\xC3\xBC\xC3\xA4\xC3\xB6\xC3\xB1"
                   "\xC3\xA0\xC3\x9F\xC3\xB9\xC3\xAC\xC3\xB2\xC3\x85\xC3\x84"
                   "\xC3\x96\xC3\x91\xC3\x9C\xC2\xA7\xC2\xBF\xC3\x86\xC3\xA6"
                   "\xC3\x98");
    assert_int_equal(info.encoding, SJ_SMS_GSM7);
    assert_int_equal(info.first_non_gsm, 0);

    /* Zoë: ë forces UCS-2 and the analysis says which character and where. */
    const char *zoe = "Beste Zo\xC3\xAB, uw ID-kaart vervalt.";
    info = analyse_ok(zoe);
    assert_int_equal(info.encoding, SJ_SMS_UCS2);
    assert_int_equal(info.first_non_gsm, 0xEB);
    assert_int_equal(info.first_non_gsm_offset, 8);
    assert_int_equal(info.characters, 31);

    /* French: ç, ê, ï, ô are not in GSM either. */
    const char *non_gsm[] = {"Fran\xC3\xA7ois", "for\xC3\xAAt", "na\xC3\xAFve",
                             "h\xC3\xB4tel", "`"};
    for (size_t i = 0; i < SJ_ARRAY_LEN(non_gsm); i++)
        assert_int_equal(analyse_ok(non_gsm[i]).encoding, SJ_SMS_UCS2);
}

static void test_max_segments_error(void **state)
{
    (void)state;
    char err[256] = "";
    sj_sms_info_t info;
    char *s = repeat("a", 307, "");
    assert_int_equal(sj_sms_analyse(s, strlen(s), 2, &info, err, sizeof err),
                     SJ_ERR_TOO_BIG);
    assert_int_equal(info.segments, 3); /* still filled in */
    assert_non_null(strstr(err, "3 segments"));
    assert_non_null(strstr(err, "limit is 2"));
    assert_int_equal(sj_sms_analyse(s, strlen(s), 3, &info, err, sizeof err), SJ_OK);
    free(s);

    s = repeat("a", 100, "\xC3\xAB");
    assert_int_equal(sj_sms_analyse(s, strlen(s), 1, &info, err, sizeof err),
                     SJ_ERR_TOO_BIG);
    assert_non_null(strstr(err, "UCS-2"));
    assert_non_null(strstr(err, "U+00EB"));
    assert_non_null(strstr(err, "byte 100"));
    free(s);

    /* The hard cap of 255 parts applies even with "no limit" (0). */
    s = repeat("a", 153 * 255 + 1, "");
    assert_int_equal(sj_sms_analyse(s, strlen(s), 0, &info, err, sizeof err),
                     SJ_ERR_TOO_BIG);
    assert_int_equal(info.segments, 256);
    free(s);
}

static void test_invalid_input(void **state)
{
    (void)state;
    char err[256] = "";
    sj_sms_info_t info;
    assert_int_equal(sj_sms_analyse("", 0, 0, &info, err, sizeof err), SJ_ERR_INPUT);
    assert_non_null(strstr(err, "empty"));
    assert_int_equal(sj_sms_analyse("ab\xC3", 3, 0, &info, err, sizeof err),
                     SJ_ERR_INPUT);
    assert_non_null(strstr(err, "byte 2"));
    assert_int_equal(sj_sms_analyse("\xED\xA0\x80", 3, 0, &info, err, sizeof err),
                     SJ_ERR_INPUT); /* a lone surrogate in UTF-8 */
    assert_int_equal(sj_sms_analyse("a\0b", 3, 0, &info, err, sizeof err), SJ_ERR_INPUT);
    assert_non_null(strstr(err, "NUL"));
    /* errstr may be NULL */
    assert_int_equal(sj_sms_analyse("\xFF", 1, 0, &info, NULL, 0), SJ_ERR_INPUT);
}

static void test_json(void **state)
{
    (void)state;
    const char *zoe = "Zo\xC3\xAB";
    sj_sms_info_t info = analyse_ok(zoe);
    json_t *j = sj_sms_to_json(zoe, strlen(zoe), &info);
    assert_non_null(j);
    char *dump = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII);
    assert_string_equal(dump,
                        "{\"text\":\"Zo\\u00EB\",\"encoding\":\"UCS-2\",\"characters\""
                        ":3,\"segments\":1,\"first_non_gsm\":\"\\u00EB\","
                        "\"first_non_gsm_offset\":2}");
    free(dump);
    json_decref(j);

    info = analyse_ok("Tot {morgen}");
    j = sj_sms_to_json("Tot {morgen}", 12, &info);
    dump = json_dumps(j, JSON_COMPACT);
    assert_string_equal(dump, "{\"text\":\"Tot {morgen}\",\"encoding\":\"GSM-7\","
                              "\"characters\":14,\"segments\":1}");
    free(dump);
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gsm_single_boundary),
        cmocka_unit_test(test_gsm_multi_boundary),
        cmocka_unit_test(test_extension_counts_double),
        cmocka_unit_test(test_extension_at_part_boundary),
        cmocka_unit_test(test_ucs2_boundaries),
        cmocka_unit_test(test_emoji_surrogate_pairs),
        cmocka_unit_test(test_dutch_french_names),
        cmocka_unit_test(test_max_segments_error),
        cmocka_unit_test(test_invalid_input),
        cmocka_unit_test(test_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
