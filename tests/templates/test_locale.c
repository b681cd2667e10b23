/* Unit tests for templates/locale: long dates, weekdays and euro amounts in
 * Dutch, French, English and German (expected strings as ICU/CLDR prints them
 * for nl-BE, fr-BE, en, de-BE, plus the French "1er"), language tags, and the
 * context enrichment including nesting, existing keys and invalid dates. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/timeutil.h"
#include "templates/locale.h"

#define NBSP  "\xC2\xA0"
#define NNBSP "\xE2\x80\xAF"
#define EURO  "\xE2\x82\xAC"

static int32_t day(const char *iso)
{
    int32_t d;
    assert_int_equal(sj_date_parse(iso, strlen(iso), &d), SJ_OK);
    return d;
}

static void check_date(const char *iso, sj_lang_t lang, const char *long_, const char *wd)
{
    char out[SJ_LOCALE_OUT_MAX];
    assert_int_equal(sj_locale_date_long(day(iso), lang, out, sizeof out), SJ_OK);
    assert_string_equal(out, long_);
    assert_int_equal(sj_locale_weekday(day(iso), lang, out, sizeof out), SJ_OK);
    assert_string_equal(out, wd);
}

static void test_dates(void **state)
{
    (void)state;
    check_date("2026-11-28", SJ_LANG_NL, "28 november 2026", "zaterdag");
    check_date("2026-11-28", SJ_LANG_FR, "28 novembre 2026", "samedi");
    check_date("2026-11-28", SJ_LANG_EN, "28 November 2026", "Saturday");
    check_date("2026-11-28", SJ_LANG_DE, "28. November 2026", "Samstag");
    check_date("2026-12-01", SJ_LANG_FR,
               "1er d\xC3\xA9"
               "cembre 2026",
               "mardi");
    check_date("2026-12-01", SJ_LANG_NL, "1 december 2026", "dinsdag");
    check_date("2027-02-01", SJ_LANG_FR, "1er f\xC3\xA9vrier 2027", "lundi");
    check_date("2026-08-15", SJ_LANG_FR, "15 ao\xC3\xBBt 2026", "samedi");
    check_date("2027-03-07", SJ_LANG_DE, "7. M\xC3\xA4rz 2027", "Sonntag");
    check_date("1970-01-01", SJ_LANG_EN, "1 January 1970", "Thursday");
    check_date("1969-12-31", SJ_LANG_NL, "31 december 1969", "woensdag");
    check_date("2024-02-29", SJ_LANG_EN, "29 February 2024", "Thursday");
    check_date("2026-05-20", SJ_LANG_NL, "20 mei 2026", "woensdag");
    check_date("2026-06-01", SJ_LANG_EN, "1 June 2026", "Monday");
    check_date("0001-01-01", SJ_LANG_EN, "1 January 1", "Monday");
    check_date("9999-12-31", SJ_LANG_EN, "31 December 9999", "Friday");
}

static void test_date_errors(void **state)
{
    (void)state;
    char out[SJ_LOCALE_OUT_MAX];
    assert_int_equal(sj_locale_date_long(INT32_MAX, SJ_LANG_NL, out, sizeof out),
                     SJ_ERR_INPUT);
    assert_int_equal(sj_locale_weekday(INT32_MIN, SJ_LANG_NL, out, sizeof out),
                     SJ_ERR_INPUT);
    assert_int_equal(sj_locale_date_long(0, (sj_lang_t)9, out, sizeof out), SJ_ERR_INPUT);
    char tiny[8];
    assert_int_equal(
        sj_locale_date_long(day("2026-11-28"), SJ_LANG_NL, tiny, sizeof tiny),
        SJ_ERR_TOO_BIG);
    assert_string_equal(tiny, "");
}

static void check_euro(int64_t cents, sj_lang_t lang, const char *want)
{
    char out[SJ_LOCALE_OUT_MAX];
    assert_int_equal(sj_locale_euro(cents, lang, out, sizeof out), SJ_OK);
    assert_string_equal(out, want);
}

static void test_euro(void **state)
{
    (void)state;
    check_euro(123456, SJ_LANG_NL, EURO NBSP "1.234,56");
    check_euro(123456, SJ_LANG_FR, "1" NNBSP "234,56" NBSP EURO);
    check_euro(123456, SJ_LANG_EN, EURO "1,234.56");
    check_euro(123456, SJ_LANG_DE, "1.234,56" NBSP EURO);
    check_euro(-123456, SJ_LANG_NL, EURO NBSP "-1.234,56");
    check_euro(-123456, SJ_LANG_FR, "-1" NNBSP "234,56" NBSP EURO);
    check_euro(-123456, SJ_LANG_EN, "-" EURO "1,234.56");
    check_euro(0, SJ_LANG_NL, EURO NBSP "0,00");
    check_euro(5, SJ_LANG_EN, EURO "0.05");
    check_euro(-5, SJ_LANG_EN, "-" EURO "0.05");
    check_euro(3000, SJ_LANG_FR, "30,00" NBSP EURO);
    check_euro(99999, SJ_LANG_NL, EURO NBSP "999,99");
    check_euro(100000, SJ_LANG_NL, EURO NBSP "1.000,00");
    check_euro(123456789012, SJ_LANG_EN, EURO "1,234,567,890.12");
    check_euro(INT64_MAX, SJ_LANG_EN, EURO "92,233,720,368,547,758.07");
    check_euro(INT64_MIN, SJ_LANG_FR,
               "-92" NNBSP "233" NNBSP "720" NNBSP "368" NNBSP "547" NNBSP
               "758,08" NBSP EURO);
    char tiny[6];
    assert_int_equal(sj_locale_euro(123456, SJ_LANG_NL, tiny, sizeof tiny),
                     SJ_ERR_TOO_BIG);
}

static void test_lang_parse(void **state)
{
    (void)state;
    sj_lang_t l;
    char err[256];
    assert_int_equal(sj_lang_parse("nl", &l, err, sizeof err), SJ_OK);
    assert_int_equal(l, SJ_LANG_NL);
    assert_int_equal(sj_lang_parse("fr-BE", &l, err, sizeof err), SJ_OK);
    assert_int_equal(l, SJ_LANG_FR);
    assert_int_equal(sj_lang_parse("EN_gb", &l, err, sizeof err), SJ_OK);
    assert_int_equal(l, SJ_LANG_EN);
    assert_int_equal(sj_lang_parse("de-BE", &l, err, sizeof err), SJ_OK);
    assert_string_equal(sj_lang_code(l), "de");
    const char *bad[] = {"", "es", "nld", "nl-", "n", "nl-BE-x", "nlBE"};
    for (size_t i = 0; i < SJ_ARRAY_LEN(bad); i++)
        assert_int_equal(sj_lang_parse(bad[i], &l, err, sizeof err), SJ_ERR_INPUT);
    assert_non_null(strstr(err, "nl, fr, en or de"));
    assert_int_equal(sj_lang_parse(NULL, &l, NULL, 0), SJ_ERR_INPUT);
}

static json_t *load(const char *text)
{
    json_error_t jerr;
    json_t *j = json_loads(text, 0, &jerr);
    if (!j) fail_msg("bad test JSON: %s", jerr.text);
    return j;
}

static void test_enrich(void **state)
{
    (void)state;
    json_t *ctx =
        load("{\"expiry_date\":\"2026-12-01\",\"name\":\"Zo\\u00eb\","
             "\"fee_cents\":3000,\"count\":3,\"note\":\"2026-12-01 morgen\","
             "\"resident\":{\"birth\":\"2008-11-28\",\"moves\":[{\"on\":"
             "\"2026-01-02\"}]},\"given_long\":\"keep\",\"given\":\"2026-01-01\"}");
    char err[256] = "";
    assert_int_equal(sj_locale_enrich(ctx, SJ_LANG_FR, err, sizeof err), SJ_OK);
    assert_string_equal(json_string_value(json_object_get(ctx, "expiry_date_long")),
                        "1er d\xC3\xA9"
                        "cembre 2026");
    assert_string_equal(json_string_value(json_object_get(ctx, "expiry_date_weekday")),
                        "mardi");
    assert_string_equal(json_string_value(json_object_get(ctx, "fee_eur")),
                        "30,00" NBSP EURO);
    assert_null(json_object_get(ctx, "count_eur"));
    assert_null(json_object_get(ctx, "note_long"));
    assert_null(json_object_get(ctx, "name_long"));
    json_t *res = json_object_get(ctx, "resident");
    assert_string_equal(json_string_value(json_object_get(res, "birth_long")),
                        "28 novembre 2008");
    json_t *mv = json_array_get(json_object_get(res, "moves"), 0);
    assert_string_equal(json_string_value(json_object_get(mv, "on_weekday")), "vendredi");
    /* A key the caller already set wins. */
    assert_string_equal(json_string_value(json_object_get(ctx, "given_long")), "keep");
    assert_string_equal(json_string_value(json_object_get(ctx, "given_weekday")),
                        "jeudi");
    /* Enriching twice changes nothing. */
    char *once = json_dumps(ctx, JSON_SORT_KEYS);
    assert_int_equal(sj_locale_enrich(ctx, SJ_LANG_FR, err, sizeof err), SJ_OK);
    char *twice = json_dumps(ctx, JSON_SORT_KEYS);
    assert_string_equal(once, twice);
    free(once);
    free(twice);
    json_decref(ctx);
}

static void test_enrich_errors(void **state)
{
    (void)state;
    char err[256] = "";
    json_t *ctx = load("{\"resident\":{\"id_card\":{\"expiry\":\"2026-02-30\"}}}");
    assert_int_equal(sj_locale_enrich(ctx, SJ_LANG_NL, err, sizeof err), SJ_ERR_INPUT);
    assert_non_null(strstr(err, "resident.id_card.expiry"));
    assert_non_null(strstr(err, "2026-02-30"));
    json_decref(ctx);

    ctx = json_array();
    assert_int_equal(sj_locale_enrich(ctx, SJ_LANG_NL, err, sizeof err), SJ_ERR_INPUT);
    json_decref(ctx);

    /* Nesting deeper than the bound is an error, not a stack overflow. */
    ctx = json_object();
    json_t *cur = ctx;
    for (int i = 0; i < SJ_LOCALE_ENRICH_DEPTH + 5; i++) {
        json_t *child = json_object();
        json_object_set_new(cur, "n", child);
        cur = child;
    }
    assert_int_equal(sj_locale_enrich(ctx, SJ_LANG_NL, err, sizeof err), SJ_ERR_TOO_BIG);
    assert_non_null(strstr(err, "deeper"));
    json_decref(ctx);

    ctx = load("{}");
    assert_int_equal(sj_locale_enrich(ctx, (sj_lang_t)7, err, sizeof err), SJ_ERR_INPUT);
    json_decref(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dates),  cmocka_unit_test(test_date_errors),
        cmocka_unit_test(test_euro),   cmocka_unit_test(test_lang_parse),
        cmocka_unit_test(test_enrich), cmocka_unit_test(test_enrich_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
