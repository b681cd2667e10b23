/* Unit tests for the JsonLogic evaluator beyond the reference suite: the
 * date helpers, compile errors with their exact messages and JSON paths, the
 * bounds (depth, steps, array and string sizes), constant folding, JavaScript
 * number text, one compiled rule evaluated from several threads at once, and
 * campaign-like audience rules. */
#include <locale.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "segments/jsonlogic.h"

/* Evaluates rule over data (both JSON text) and returns the result as
 * compact JSON (static buffer), or "ERR <message>". */
static const char *evalr(const char *rule, const char *data)
{
    static char out[4096];
    json_error_t jerr;
    json_t *r = json_loads(rule, JSON_DECODE_ANY, &jerr);
    if (!r) fail_msg("bad test rule %s: %s", rule, jerr.text);
    json_t *d = data ? json_loads(data, JSON_DECODE_ANY, &jerr) : NULL;
    if (data && !d) fail_msg("bad test data %s: %s", data, jerr.text);
    sj_rule_error_t err;
    sj_rule_t *c = sj_rule_compile(r, &err);
    json_decref(r);
    json_t *v = c ? sj_rule_eval(c, d, &err) : NULL;
    if (!v) {
        snprintf(out, sizeof out, "ERR %s", err.message);
    } else {
        sj_buf_t b;
        sj_buf_init(&b, sizeof out - 1);
        assert_int_equal(sj_rule_dump(v, &b), SJ_OK);
        snprintf(out, sizeof out, "%s", sj_buf_cstr(&b));
        sj_buf_free(&b);
    }
    json_decref(v);
    json_decref(d);
    sj_rule_destroy(c);
    return out;
}

/* The compile error message for rule, or "" when it compiles. */
static const char *compile_error(const char *rule, sj_status_t *status)
{
    static sj_rule_error_t err;
    json_t *r = json_loads(rule, JSON_DECODE_ANY, NULL);
    assert_non_null(r);
    sj_rule_t *c = sj_rule_compile(r, &err);
    json_decref(r);
    if (status) *status = err.status;
    if (c) {
        sj_rule_destroy(c);
        return "";
    }
    return err.message;
}

#define EXPECT(rule, data, want) assert_string_equal(evalr(rule, data), want)

static void test_age_on(void **state)
{
    (void)state;
    EXPECT("{\"age_on\":[\"1960-03-01\",\"2026-03-01\"]}", NULL, "66");
    EXPECT("{\"age_on\":[\"1960-03-01\",\"2026-02-28\"]}", NULL, "65");
    EXPECT("{\"age_on\":[\"2008-06-15\",\"2026-06-15\"]}", NULL, "18");
    EXPECT("{\"age_on\":[\"2008-06-15\",\"2026-06-14\"]}", NULL, "17");
    /* Born on 29 February: a year older on 1 March in common years. */
    EXPECT("{\"age_on\":[\"2008-02-29\",\"2026-02-28\"]}", NULL, "17");
    EXPECT("{\"age_on\":[\"2008-02-29\",\"2026-03-01\"]}", NULL, "18");
    EXPECT("{\"age_on\":[\"2008-02-29\",\"2028-02-29\"]}", NULL, "20");
    EXPECT("{\"age_on\":[\"2026-05-01\",\"2026-05-01\"]}", NULL, "0");
    /* Timestamps stand for their Europe/Brussels date: 23:30 UTC on the 28th
     * of November is already the 29th in Brussels (CET, UTC+1). */
    EXPECT("{\"age_on\":[\"1961-11-29\",\"2026-11-28T22:59:59Z\"]}", NULL, "64");
    EXPECT("{\"age_on\":[\"1961-11-29\",\"2026-11-28T23:30:00Z\"]}", NULL, "65");
    EXPECT("{\"age_on\":[\"1961-06-30\",\"2026-06-29T22:00:00Z\"]}", NULL,
           "65"); /* CEST */
    EXPECT("{\"age_on\":[\"1961-06-30\",\"2026-06-29T21:59:59Z\"]}", NULL, "64");
    EXPECT("{\"age_on\":[\"1961-06-30T10:00:00+02:00\",\"2026-06-30\"]}", NULL, "65");
    /* Not a date, an impossible date, or a date before the birth: null. */
    EXPECT("{\"age_on\":[\"1961-02-30\",\"2026-03-01\"]}", NULL, "null");
    EXPECT("{\"age_on\":[\"yesterday\",\"2026-03-01\"]}", NULL, "null");
    EXPECT("{\"age_on\":[19610101,\"2026-03-01\"]}", NULL, "null");
    EXPECT("{\"age_on\":[null,\"2026-03-01\"]}", NULL, "null");
    EXPECT("{\"age_on\":[\"2026-03-02\",\"2026-03-01\"]}", NULL, "null");
    EXPECT("{\">=\":[{\"age_on\":[{\"var\":\"b\"},\"2026-03-01\"]},65]}", "{}", "false");
}

static void test_days_until_and_date_add(void **state)
{
    (void)state;
    EXPECT("{\"days_until\":[\"2026-12-25\",\"2026-12-01\"]}", NULL, "24");
    EXPECT("{\"days_until\":[\"2026-12-01\",\"2026-12-25\"]}", NULL, "-24");
    EXPECT("{\"days_until\":[\"2027-01-01\",\"2026-01-01\"]}", NULL, "365");
    EXPECT("{\"days_until\":[\"2029-01-01\",\"2028-01-01\"]}", NULL, "366");
    EXPECT("{\"days_until\":[\"2026-03-30\",\"2026-03-29T22:30:00Z\"]}", NULL, "0");
    EXPECT("{\"days_until\":[\"2026-13-01\",\"2026-03-29\"]}", NULL, "null");
    EXPECT("{\"date_add\":[\"2026-02-28\",1]}", NULL, "\"2026-03-01\"");
    EXPECT("{\"date_add\":[\"2028-02-28\",1]}", NULL, "\"2028-02-29\"");
    EXPECT("{\"date_add\":[\"2026-01-01\",-1]}", NULL, "\"2025-12-31\"");
    EXPECT("{\"date_add\":[\"2026-11-28T23:30:00Z\",0]}", NULL, "\"2026-11-29\"");
    EXPECT("{\"date_add\":[\"2026-01-01\",\"60\"]}", NULL, "\"2026-03-02\"");
    EXPECT("{\"date_add\":[\"2026-01-01\",1.5]}", NULL, "null");
    EXPECT("{\"date_add\":[\"2026-01-01\",\"x\"]}", NULL, "null");
    EXPECT("{\"date_add\":[\"9999-12-31\",1]}", NULL, "null");
    EXPECT("{\"date_add\":[\"0000-01-01\",-1]}", NULL, "null");
    EXPECT("{\"date_add\":[\"2026-01-01\",1e300]}", NULL, "null");
    /* Composes: 60 days before the expiry date, compared as text. */
    EXPECT("{\"<=\":[{\"date_add\":[{\"var\":\"exp\"},-60]},\"2026-05-01\"]}",
           "{\"exp\":\"2026-06-30\"}", "true");
}

static void test_compile_errors(void **state)
{
    (void)state;
    sj_status_t st;
    assert_string_equal(
        compile_error("{\"and\":[{\"==\":[1,1]},{\"equals\":[{\"var\":\"a\"},1]}]}", &st),
        "$.and[1]: unknown operator \"equals\"");
    assert_int_equal(st, SJ_ERR_INPUT);
    assert_string_equal(compile_error("{\"if\":[{\"==\":[1,2,3]},1,2]}", NULL),
                        "$.if[0]: \"==\" takes 2 arguments, got 3");
    assert_string_equal(compile_error("{\"substr\":[\"abc\"]}", NULL),
                        "$: \"substr\" takes 2 or 3 arguments, got 1");
    assert_string_equal(compile_error("{\"and\":[]}", NULL),
                        "$: \"and\" takes at least 1 argument, got 0");
    assert_string_equal(compile_error("{\"!\":[1,2]}", NULL),
                        "$: \"!\" takes 1 argument, got 2");
    assert_string_equal(compile_error("{\"var\":[\"a\",1,2]}", NULL),
                        "$: \"var\" takes at most 2 arguments, got 3");
    /* Operators that are not identifiers appear in brackets; an argument
     * written without the array has no index. */
    assert_string_equal(compile_error("{\"and\":[{\"==\":[1,{\"bad\":1}]}]}", NULL),
                        "$.and[0][\"==\"][1]: unknown operator \"bad\"");
    assert_string_equal(compile_error("{\"!\":{\"foo\":1}}", NULL),
                        "$[\"!\"]: unknown operator \"foo\"");
    assert_string_equal(compile_error("[1,{\"x\":1}]", NULL),
                        "$[1]: unknown operator \"x\"");
    assert_string_equal(compile_error("{\"map\":[{\"var\":\"a\"},{\"nope\":[]}]}", NULL),
                        "$.map[1]: unknown operator \"nope\"");
    /* An object that is not exactly one operation. */
    assert_string_equal(
        compile_error("{\"or\":[{\"==\":[1,1],\"and\":[true]}]}", &st),
        "$.or[0]: an operation is an object with exactly one key, the operator; this one "
        "has 2");
    assert_int_equal(st, SJ_ERR_INPUT);
    assert_string_equal(
        compile_error("{}", NULL),
        "$: an operation is an object with exactly one key, the operator; "
        "this one has 0");
    /* Long operator names are cut in the message. */
    assert_string_equal(
        compile_error("{\"an_operator_name_that_goes_on_and_on_and_on_forever\":1}",
                      NULL),
        "$: unknown operator \"an_operator_name_that_goes_on_and_on_and...\"");
    /* Errors are found even inside constant parts that would be folded. */
    assert_string_equal(compile_error("{\"+\":[1,{\"cat\":[\"a\",{\"x\":2}]}]}", NULL),
                        "$[\"+\"][1].cat[1]: unknown operator \"x\"");
    assert_string_equal(compile_error("{\"var\":\"a\"}", NULL), "");
}

/* Builds {"!!": {"!!": ... x ...}} nested n levels deep. */
static char *nested(int n, const char *x)
{
    sj_buf_t b;
    sj_buf_init(&b, 1 << 20);
    for (int i = 0; i < n; i++) sj_buf_adds(&b, "{\"!!\":");
    sj_buf_adds(&b, x);
    for (int i = 0; i < n; i++) sj_buf_addc(&b, '}');
    return sj_buf_detach(&b, NULL);
}

static void test_depth_bound(void **state)
{
    (void)state;
    /* 63 operations around a var: 64 levels, the most a rule may have. */
    char *ok = nested(SJ_RULE_MAX_DEPTH - 1, "{\"var\":\"a\"}");
    assert_string_equal(evalr(ok, "{\"a\":1}"), "true");
    free(ok);
    char *deep = nested(SJ_RULE_MAX_DEPTH, "{\"var\":\"a\"}");
    sj_status_t st;
    const char *msg = compile_error(deep, &st);
    free(deep);
    assert_int_equal(st, SJ_ERR_TOO_BIG);
    assert_non_null(strstr(msg, ": rule nested deeper than 64 levels"));
    assert_non_null(strstr(msg, "$[\"!!\"][\"!!\"]")); /* the start of the path... */
    assert_non_null(strstr(msg, "...["));              /* ...its middle cut... */
    assert_true(strlen(msg) < sizeof(((sj_rule_error_t *)0)->message));
    /* Nested arrays count too, and very deep JSON fails just as cleanly. */
    char big[8192];
    size_t n = 0;
    for (int i = 0; i < 2000; i++) big[n++] = '[';
    for (int i = 0; i < 2000; i++) big[n++] = ']';
    big[n] = '\0';
    msg = compile_error(big, &st);
    assert_int_equal(st, SJ_ERR_TOO_BIG);
    assert_non_null(strstr(msg, "rule nested deeper than 64 levels"));
}

static json_t *range(int n)
{
    json_t *a = json_array();
    for (int i = 0; i < n; i++) json_array_append_new(a, json_integer(i));
    return a;
}

static void test_eval_bounds(void **state)
{
    (void)state;
    sj_rule_error_t err;
    json_t *data = json_pack("{s:o}", "a", range(1000));
    json_t *rule = json_loads("{\"merge\":[{\"var\":\"a\"},{\"var\":\"a\"}]}", 0, NULL);
    sj_rule_t *r = sj_rule_compile(rule, &err);
    assert_non_null(r);
    sj_rule_opts_t small = {0, 1500, 0};
    assert_null(sj_rule_eval_opts(r, data, &small, &err));
    assert_int_equal(err.status, SJ_ERR_TOO_BIG);
    assert_string_equal(err.message, "$: array of more than 1500 elements");
    json_t *v = sj_rule_eval(r, data, &err);
    assert_int_equal(json_array_size(v), 2000);
    json_decref(v);
    sj_rule_destroy(r);
    json_decref(rule);

    /* The step budget, with the path of the operation that ran out. */
    rule = json_loads("{\"and\":[true,{\"reduce\":[{\"var\":\"a\"},{\"+\":[{\"var\":"
                      "\"accumulator\"},1]},0]}]}",
                      0, NULL);
    r = sj_rule_compile(rule, &err);
    sj_rule_opts_t steps = {500, 0, 0};
    bool match = true;
    assert_int_equal(sj_rule_match(r, data, &steps, &match, &err), SJ_ERR_TOO_BIG);
    assert_false(match);
    /* The path names the operation that was running when it tripped. */
    assert_non_null(strstr(err.message, "$.and[1].reduce[1][\"+\"]"));
    assert_non_null(strstr(err.message,
                           ": step budget of 500 exceeded (the rule does too "
                           "much work for this data)"));
    v = sj_rule_eval(r, data, &err);
    assert_int_equal(json_integer_value(v), 1000);
    json_decref(v);
    sj_rule_destroy(r);
    json_decref(rule);

    /* Strings: cat of a long text with itself. */
    rule = json_loads("{\"cat\":[{\"var\":\"s\"},{\"var\":\"s\"}]}", 0, NULL);
    r = sj_rule_compile(rule, &err);
    json_t *sdata = json_pack("{s:s}", "s", "0123456789");
    sj_rule_opts_t str = {0, 0, 15};
    assert_null(sj_rule_eval_opts(r, sdata, &str, &err));
    assert_string_equal(err.message, "$: string longer than 15 bytes");
    sj_rule_destroy(r);
    json_decref(rule);
    json_decref(sdata);
    json_decref(data);

    /* A doubling accumulator trips the array bound, long loops the default
     * step budget: errors, never a hang or an exhausted machine. */
    const char *doubling = "{\"reduce\":[{\"var\":\"a\"},{\"merge\":[{\"var\":"
                           "\"accumulator\"},{\"var\":\"accumulator\"},[1]]},[]]}";
    assert_string_equal(evalr(doubling,
                              "{\"a\":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,"
                              "18,19,20]}"),
                        "ERR $.reduce[1]: array of more than 100000 elements");
    /* Feeding the accumulator back into a new array nests it one level per
     * element: bounded, so that freeing or printing it cannot overflow the
     * stack. Within the bound the value is built as asked. */
    sj_buf_t nums;
    sj_buf_init(&nums, 1 << 20);
    sj_buf_adds(&nums, "{\"a\":[0");
    for (int i = 1; i < 300; i++) sj_buf_addf(&nums, ",%d", i);
    sj_buf_adds(&nums, "]}");
    assert_string_equal(
        evalr("{\"reduce\":[{\"var\":\"a\"},[{\"var\":\"accumulator\"}],0]}",
              sj_buf_cstr(&nums)),
        "ERR $.reduce[1]: value nested deeper than 256 levels");
    assert_string_equal(
        evalr("{\"reduce\":[{\"var\":\"a\"},{\"var\":\"\"},0]}", sj_buf_cstr(&nums)),
        "ERR $.reduce[1]: value nested deeper than 256 levels");
    assert_string_equal(
        evalr("{\"reduce\":[[1,2,3],[{\"var\":\"accumulator\"}],0]}", NULL), "[[[0]]]");
    sj_buf_free(&nums);
    data = json_pack("{s:o}", "a", range(600000));
    rule =
        json_loads("{\"reduce\":[{\"var\":\"a\"},{\"+\":[{\"var\":\"accumulator\"},1]},"
                   "0]}",
                   0, NULL);
    r = sj_rule_compile(rule, &err);
    assert_null(sj_rule_eval(r, data, &err));
    assert_int_equal(err.status, SJ_ERR_TOO_BIG);
    assert_non_null(strstr(err.message, "step budget of 1000000 exceeded"));
    sj_rule_destroy(r);
    json_decref(rule);
    json_decref(data);
}

static void test_folding_and_ownership(void **state)
{
    (void)state;
    sj_rule_error_t err;
    json_t *src = json_loads("{\"+\":[1,{\"*\":[2,3]}]}", 0, NULL);
    sj_rule_t *r = sj_rule_compile(src, &err);
    json_decref(src); /* the compiled rule keeps its own copies */
    assert_int_equal(sj_rule_node_count(r), 1);
    json_t *v = sj_rule_eval(r, NULL, &err);
    assert_int_equal(json_integer_value(v), 7);
    json_decref(v);
    sj_rule_destroy(r);

    src = json_loads("{\"in\":[{\"var\":\"resident.nis\"},[\"44021\",\"44084\"]]}", 0,
                     NULL);
    r = sj_rule_compile(src, &err);
    json_decref(src);
    assert_int_equal(sj_rule_node_count(r), 4); /* in, var, its path, the list */
    sj_rule_destroy(r);

    /* var returns the data's own value (borrowed, then referenced). */
    json_t *data = json_loads("{\"a\":{\"b\":[1,2]}}", 0, NULL);
    src = json_loads("{\"var\":\"a.b\"}", 0, NULL);
    r = sj_rule_compile(src, &err);
    json_decref(src);
    v = sj_rule_eval(r, data, &err);
    assert_ptr_equal(v, json_object_get(json_object_get(data, "a"), "b"));
    json_decref(v);
    sj_rule_destroy(r);
    json_decref(data);

    sj_rule_destroy(NULL);
    assert_null(sj_rule_eval(NULL, NULL, &err));
    assert_string_equal(err.message, "$: no rule");
    assert_false(sj_rule_truthy(NULL));
}

static void test_var_and_coercions(void **state)
{
    (void)state;
    const char *d = "{\"a\":{\"b\":[10,{\"c\":\"x\"}]},\"s\":\"h\\u00e9llo\",\"n\":null,"
                    "\"z\":0,\"e\":\"\"}";
    EXPECT("{\"var\":\"a.b.1.c\"}", d, "\"x\"");
    EXPECT("{\"var\":\"a.b.length\"}", d, "2");
    EXPECT("{\"var\":\"s.length\"}", d, "5");
    EXPECT("{\"var\":[\"a.q\",\"dflt\"]}", d, "\"dflt\"");
    EXPECT("{\"var\":[\"n\",\"dflt\"]}", d, "null"); /* present but null */
    EXPECT("{\"var\":[\"n.x\",\"dflt\"]}", d, "\"dflt\"");
    EXPECT("{\"var\":[\"z\",\"dflt\"]}", d, "0");
    EXPECT("{\"var\":\"a.b.01\"}", d, "null"); /* not an array index */
    EXPECT("{\"var\":{\"cat\":[\"a.b.\",1,\".c\"]}}", d, "\"x\"");
    EXPECT("{\"var\":\"\"}", NULL, "null");
    EXPECT("{\"missing\":[\"a.b\",\"n\",\"e\",\"z\",\"q\"]}", d, "[\"n\",\"e\",\"q\"]");
    EXPECT("{\"missing_some\":[1,[\"q\",\"a\"]]}", d, "[]");
    /* JavaScript's coercions where json-logic-js relies on them. */
    EXPECT("{\"==\":[[],false]}", NULL, "true");
    EXPECT("{\"==\":[null,0]}", NULL, "false");
    EXPECT("{\"==\":[\" 12 \",12]}", NULL, "true");
    EXPECT("{\"==\":[\"0x10\",16]}", NULL, "true");
    EXPECT("{\"<\":[\"10\",\"9\"]}", NULL, "true"); /* both strings: as text */
    EXPECT("{\"<\":[\"10\",9]}", NULL, "false");
    EXPECT("{\"+\":[\"1.5abc\",\" 2\"]}", NULL, "3.5");
    EXPECT("{\"-\":[\"1.5abc\",1]}", NULL, "null"); /* NaN */
    EXPECT("{\"*\":[\"3\"]}", NULL, "\"3\"");
    EXPECT("{\"/\":[1,0]}", NULL, "null");
    EXPECT("{\"%\":[-7,3]}", NULL, "-1");
    EXPECT("{\"cat\":[0.1,\" \",1e21,\" \",1.5e-7,\" \",null,\" \",[1,[2,null]],\" "
           "\",{\"!\":0}]}",
           NULL, "\"0.1 1e+21 1.5e-7  1,2, true\"");
    EXPECT("{\"substr\":[\"h\\u00e9llo\",1,2]}", NULL, "\"\xc3\xa9l\"");
    EXPECT("{\"substr\":[12345,-2]}", NULL, "\"45\"");
    EXPECT("{\"in\":[\"\\u00e9l\",\"h\\u00e9llo\"]}", NULL, "true");
    EXPECT("{\">\":[5,3,1]}", NULL, "true"); /* between, descending */
    EXPECT("{\">=\":[5,6,1]}", NULL, "false");
}

static void test_number_text(void **state)
{
    (void)state;
    static const struct {
        double d;
        const char *s;
    } cases[] = {
        {0.1, "0.1"},
        {100, "100"},
        {-0.0, "0"},
        {1e21, "1e+21"},
        {1e20, "100000000000000000000"},
        {1.5e-7, "1.5e-7"},
        {0.000001, "0.000001"},
        {123.456, "123.456"},
        {-2.5, "-2.5"},
        {1.0 / 3, "0.3333333333333333"},
        {9007199254740993.0, "9007199254740992"},
        {5e-324, "5e-324"},
        {1.7976931348623157e308, "1.7976931348623157e+308"},
    };
    char buf[SJ_RULE_NUMBER_TEXT];
    for (size_t i = 0; i < SJ_ARRAY_LEN(cases); i++) {
        sj_rule_number_text(cases[i].d, buf);
        assert_string_equal(buf, cases[i].s);
    }
    /* A decimal comma locale changes neither printing nor parsing. */
    if (setlocale(LC_NUMERIC, "de_DE.UTF-8") || setlocale(LC_NUMERIC, "nl_BE.UTF-8") ||
        setlocale(LC_NUMERIC, "fr_FR.UTF-8")) {
        sj_rule_number_text(0.1, buf);
        assert_string_equal(buf, "0.1");
        EXPECT("{\"+\":[\"1.25\",\"0.1234567890123456789\"]}", NULL,
               "1.3734567890123457");
        setlocale(LC_NUMERIC, "C");
    }
    sj_buf_t b;
    sj_buf_init(&b, 1 << 10);
    json_t *v =
        json_loads("{\"q\\\"\\n\\u0001\":[0.1,-3,\"\\u00e9\",null,true,{}]}", 0, NULL);
    assert_int_equal(sj_rule_dump(v, &b), SJ_OK);
    assert_string_equal(sj_buf_cstr(&b),
                        "{\"q\\\"\\n\\u0001\":[0.1,-3,\"\xc3\xa9\",null,true,{}]}");
    json_decref(v);
    sj_buf_free(&b);
}

/* ---- campaign-like rules, also from several threads ------------------------ */

static const char *campaign_rule =
    "{\"and\":[{\">=\":[{\"age_on\":[{\"var\":\"resident.birth_date\"},{\"var\":\"now\"}]"
    "},"
    "65]},{\"==\":[{\"var\":\"resident.nis\"},\"44021\"]}]}";

static json_t *resident(int i)
{
    char birth[16];
    snprintf(birth, sizeof birth, "%04d-%02d-%02d", 1940 + i % 60, 1 + i % 12,
             1 + i % 28);
    return json_pack("{s:s,s:s,s:s}", "birth_date", birth, "nis",
                     i % 3 ? "44021" : "44084", "language", i % 2 ? "nl" : "fr");
}

/* What the campaign rule should say, computed independently. */
static bool expected_match(int i, int now_y, int now_m, int now_d)
{
    int y = 1940 + i % 60, m = 1 + i % 12, d = 1 + i % 28;
    int age = now_y - y - (now_m < m || (now_m == m && now_d < d));
    return age >= 65 && i % 3 != 0;
}

static void test_campaign_rules(void **state)
{
    (void)state;
    sj_rule_error_t err;
    json_t *src = json_loads(campaign_rule, 0, NULL);
    sj_rule_t *r = sj_rule_compile(src, &err);
    json_decref(src);
    assert_non_null(r);
    /* 2026-03-01T09:00:00Z */
    int64_t now = (int64_t)20513 * 86400000 + 9 * 3600000;
    for (int i = 0; i < 240; i++) {
        json_t *res = resident(i);
        json_t *data = sj_rule_data_new(res, NULL, now);
        bool match;
        assert_int_equal(sj_rule_match(r, data, NULL, &match, &err), SJ_OK);
        assert_int_equal(match, expected_match(i, 2026, 3, 1));
        json_decref(data);
        json_decref(res);
    }
    sj_rule_destroy(r);

    /* The ID card expires within 60 days and the resident has not renewed. */
    const char *id_rule =
        "{\"and\":[{\"<=\":[0,{\"days_until\":[{\"var\":\"event.data.expires\"},{\"var\":"
        "\"now\"}]},60]},{\"!\":{\"var\":\"resident.renewal_requested\"}},{\"in\":[{"
        "\"var\":["
        "\"resident.language\",\"nl\"]},[\"nl\",\"fr\",\"en\"]]}]}";
    const char *d1 =
        "{\"resident\":{\"language\":\"fr\"},\"event\":{\"data\":{\"expires\":"
        "\"2026-04-15\"}},\"now\":\"2026-03-01T09:00:00Z\"}";
    const char *d2 = "{\"resident\":{},\"event\":{\"data\":{\"expires\":\"2026-06-15\"}},"
                     "\"now\":\"2026-03-01T09:00:00Z\"}";
    const char *d3 = "{\"resident\":{\"renewal_requested\":true},\"event\":{\"data\":{"
                     "\"expires\":\"2026-04-15\"}},\"now\":\"2026-03-01T09:00:00Z\"}";
    EXPECT(id_rule, d1, "true");
    EXPECT(id_rule, d2, "false");
    EXPECT(id_rule, d3, "false");
    /* Families with a child under 3 who moved into one of two towns. */
    const char *fam_rule =
        "{\"and\":[{\"in\":[{\"var\":\"event.data.nis\"},[\"44021\",\"44084\"]]},{"
        "\"some\":["
        "{\"var\":\"resident.children\"},{\"<\":[{\"age_on\":[{\"var\":\"birth_date\"},"
        "\"2026-03-01\"]},3]}]}]}";
    EXPECT(
        fam_rule,
        "{\"event\":{\"data\":{\"nis\":\"44021\"}},\"resident\":{\"children\":[{\"birth_"
        "date\":\"2015-01-01\"},{\"birth_date\":\"2024-05-01\"}]}}",
        "true");
    EXPECT(fam_rule, "{\"event\":{\"data\":{\"nis\":\"44021\"}},\"resident\":{}}",
           "false");
    EXPECT("{\"missing\":[\"resident.email\",\"resident.language\"]}",
           "{\"resident\":{\"language\":\"nl\",\"email\":\"\"}}", "[\"resident.email\"]");
}

typedef struct worker {
    const sj_rule_t *rule;
    const sj_rule_t *list_rule;
    json_t *shared; /* one data object that every thread reads */
    int first, failures;
} worker_t;

static void *work(void *arg)
{
    worker_t *w = arg;
    int64_t now = (int64_t)20513 * 86400000 + 9 * 3600000;
    for (int i = w->first; i < w->first + 3000; i++) {
        json_t *res = resident(i);
        json_t *data = sj_rule_data_new(res, NULL, now);
        bool match;
        if (sj_rule_match(w->rule, data, NULL, &match, NULL) != SJ_OK ||
            match != expected_match(i, 2026, 3, 1))
            w->failures++;
        json_t *v = sj_rule_eval(w->rule, data, NULL);
        if (!v || sj_rule_truthy(v) != match) w->failures++;
        json_decref(v);
        /* Borrowed results out of shared data and the rule's literals. */
        v = sj_rule_eval(w->list_rule, w->shared, NULL);
        if (json_array_size(v) != 4) w->failures++;
        json_decref(v);
        json_decref(data);
        json_decref(res);
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    sj_rule_error_t err;
    json_t *src = json_loads(campaign_rule, 0, NULL);
    sj_rule_t *r = sj_rule_compile(src, &err);
    json_decref(src);
    src = json_loads("{\"merge\":[{\"var\":\"xs\"},[\"a\",[\"b\"]],{\"filter\":[{\"var\":"
                     "\"xs\"},true]}]}",
                     0, NULL);
    sj_rule_t *list = sj_rule_compile(src, &err);
    json_decref(src);
    json_t *shared = json_loads("{\"xs\":[{\"k\":1}]}", 0, NULL);
    assert_non_null(r);
    assert_non_null(list);
    enum { NTHREADS = 8 };
    pthread_t tid[NTHREADS];
    worker_t w[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        w[i] = (worker_t){r, list, shared, i * 3000, 0};
        assert_int_equal(pthread_create(&tid[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < NTHREADS; i++) {
        assert_int_equal(pthread_join(tid[i], NULL), 0);
        assert_int_equal(w[i].failures, 0);
    }
    /* Every reference the threads took was given back. */
    assert_int_equal(json_array_get(json_object_get(shared, "xs"), 0)->refcount, 1);
    json_decref(shared);
    sj_rule_destroy(list);
    sj_rule_destroy(r);
}

/* The resident members a rule reads, joined with ',' ("?" when unknown). */
static const char *members(const char *rule)
{
    static char out[512];
    json_t *j = json_loads(rule, JSON_DECODE_ANY, NULL);
    assert_non_null(j);
    sj_rule_error_t err;
    sj_rule_t *r = sj_rule_compile(j, &err);
    json_decref(j);
    assert_non_null(r);
    char names[4][SJ_RULE_MEMBER_MAX];
    size_t n = 0;
    bool known = sj_rule_members(r, "resident", names, 4, &n);
    sj_rule_destroy(r);
    out[0] = '\0';
    if (!known) return "?";
    for (size_t i = 0; i < n; i++) {
        if (i) strcat(out, ",");
        strcat(out, names[i]);
    }
    return out;
}

static void test_members(void **state)
{
    (void)state;
    assert_string_equal(
        members("{\"and\": [{\">=\": [{\"var\": \"resident.age\"}, 65]},"
                "{\"==\": [{\"var\": \"resident.status\"}, \"active\"]}]}"),
        "age,status");
    /* other tops, literals, duplicates, defaults */
    assert_string_equal(
        members("{\"if\": [{\"var\": \"event.type\"}, "
                "{\"var\": [\"resident.age\", {\"var\": \"resident.nis\"}]},"
                " {\"var\": \"resident.age.x\"}]}"),
        "age,nis");
    assert_string_equal(members("true"), "");
    /* elements of map/filter/all are not the data; the array is */
    assert_string_equal(members("{\"some\": [{\"var\": \"resident.household\"}, "
                                "{\"==\": [{\"var\": \"resident.x\"}, 1]}]}"),
                        "household");
    assert_string_equal(
        members("{\"reduce\": [{\"var\": \"resident.a\"}, "
                "{\"+\": [{\"var\": \"current\"}, 1]}, {\"var\": \"resident.b\"}]}"),
        "a,b");
    /* unknown: the whole object, a computed path, missing, too many names */
    assert_string_equal(members("{\"var\": \"resident\"}"), "?");
    assert_string_equal(members("{\"var\": \"\"}"), "?");
    assert_string_equal(members("{\"var\": {\"cat\": [\"resident.\", \"age\"]}}"), "age");
    /* (a path of literals is folded into a static one) */
    assert_string_equal(
        members("{\"var\": {\"cat\": [\"resident.\", {\"var\": \"event.f\"}]}}"), "?");
    assert_string_equal(members("{\"missing\": [\"resident.email\"]}"), "?");
    assert_string_equal(
        members("{\"and\": [{\"var\": \"resident.a\"}, {\"var\": \"resident.b\"},"
                "{\"var\": \"resident.c\"}, {\"var\": \"resident.d\"},"
                "{\"var\": \"resident.e\"}]}"),
        "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_age_on),
        cmocka_unit_test(test_days_until_and_date_add),
        cmocka_unit_test(test_compile_errors),
        cmocka_unit_test(test_depth_bound),
        cmocka_unit_test(test_eval_bounds),
        cmocka_unit_test(test_folding_and_ownership),
        cmocka_unit_test(test_var_and_coercions),
        cmocka_unit_test(test_number_text),
        cmocka_unit_test(test_campaign_rules),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_members),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
