/* Conformance: every case of the JsonLogic reference tests (the tests.json
 * that jsonlogic.com publishes) through sj_rule_compile() + sj_rule_eval().
 * The file comes from SEINTJE_CONFORMANCE_DIR, or from
 * $SEINTJE_SOURCE_DIR/../shared/conformance, + "/jsonlogic/tests.json". It is
 * a JSON array: strings are section headers, every other item is
 * [rule, data, expected]. Numbers compare numerically (1 equals 1.0). Each
 * failing case is printed with its section; the summary line is
 * "jsonlogic: N passed, M failed", and the test fails if any case failed or
 * none ran. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "segments/jsonlogic.h"

/* json_equal(), except that numbers compare by value across integer/real. */
static int same(const json_t *a, const json_t *b)
{
    if (json_is_number(a) && json_is_number(b))
        return json_number_value(a) == json_number_value(b);
    if (json_is_array(a) && json_is_array(b)) {
        if (json_array_size(a) != json_array_size(b)) return 0;
        for (size_t i = 0; i < json_array_size(a); i++)
            if (!same(json_array_get(a, i), json_array_get(b, i))) return 0;
        return 1;
    }
    if (json_is_object(a) && json_is_object(b)) {
        if (json_object_size(a) != json_object_size(b)) return 0;
        const char *key;
        json_t *v;
        json_object_foreach((json_t *)a, key, v)
        {
            if (!same(v, json_object_get(b, key))) return 0;
        }
        return 1;
    }
    return json_equal(a, b);
}

static char *compact(const json_t *v)
{
    return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

static void report(const char *section, size_t index, const json_t *rule,
                   const json_t *data, const char *got, const char *expected)
{
    char *r = compact(rule), *d = compact(data);
    printf("FAIL [%s] case %zu: rule %s data %s: got %s, expected %s\n", section, index,
           r ? r : "?", d ? d : "?", got, expected);
    free(r);
    free(d);
}

/* Runs one [rule, data, expected] case; returns 1 when it passes. */
static int run_case(const char *section, size_t index, json_t *c)
{
    json_t *rule = json_array_get(c, 0), *data = json_array_get(c, 1),
           *expected = json_array_get(c, 2);
    char *want = compact(expected);
    if (!json_is_array(c) || json_array_size(c) != 3) {
        printf("FAIL [%s] case %zu: not a [rule, data, expected] triple\n", section,
               index);
        free(want);
        return 0;
    }
    sj_rule_error_t err;
    sj_rule_t *r = sj_rule_compile(rule, &err);
    json_t *got = r ? sj_rule_eval(r, data, &err) : NULL;
    int ok = got && same(got, expected);
    if (!ok) {
        char *g = got ? compact(got) : NULL;
        char msg[400];
        snprintf(msg, sizeof msg, "error \"%s\"", err.message);
        report(section, index, rule, data, g ? g : msg, want ? want : "?");
        free(g);
    }
    /* The audience test must agree with the value's truthiness. */
    bool match = false;
    if (ok && (sj_rule_match(r, data, NULL, &match, &err) != SJ_OK ||
               match != sj_rule_truthy(got))) {
        printf("FAIL [%s] case %zu: sj_rule_match disagrees with the value\n", section,
               index);
        ok = 0;
    }
    json_decref(got);
    sj_rule_destroy(r);
    free(want);
    return ok;
}

static void test_reference_suite(void **state)
{
    (void)state;
    char path[4096];
    const char *dir = getenv("SEINTJE_CONFORMANCE_DIR");
    const char *src = getenv("SEINTJE_SOURCE_DIR");
    if (dir && *dir)
        snprintf(path, sizeof path, "%s/jsonlogic/tests.json", dir);
    else
        snprintf(path, sizeof path, "%s/../shared/conformance/jsonlogic/tests.json",
                 src && *src ? src : ".");
    json_error_t jerr;
    json_t *suite = json_load_file(path, 0, &jerr);
    if (!suite) fail_msg("%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
    assert_true(json_is_array(suite));

    const char *section = "(start)";
    size_t passed = 0, failed = 0, i;
    json_t *item;
    json_array_foreach(suite, i, item)
    {
        if (json_is_string(item)) {
            section = json_string_value(item);
            continue;
        }
        if (run_case(section, i, item))
            passed++;
        else
            failed++;
    }
    printf("jsonlogic: %zu passed, %zu failed\n", passed, failed);
    json_decref(suite);
    assert_int_equal(failed, 0);
    assert_true(passed > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_suite),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
