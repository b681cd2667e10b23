/* Fuzz target: JsonLogic rules over arbitrary data. The input's first line is
 * the rule (JSON), the rest the data (JSON; missing or invalid data is
 * null). Invariants: never crash, leak or hang (small evaluation bounds keep
 * every run short); a refused rule explains itself with a "$..." message; an
 * accepted one evaluates to a value or to an error with a message and a
 * status; evaluating twice prints the same; sj_rule_match() agrees with
 * the value's truthiness (unless the value is null, which NaN and Infinity
 * become); the value prints with sj_rule_dump() as JSON that jansson reads
 * back. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "segments/jsonlogic.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const sj_rule_opts_t opts = {20000, 2000, 1 << 14};

/* Prints v with a bound: results may share structure (reduce can build a
 * value that holds its accumulator several times over), so their unfolded
 * size can be exponential and only a bounded printer is safe. */
static sj_status_t print(const json_t *v, sj_buf_t *b)
{
    sj_buf_init(b, 1 << 20);
    return sj_rule_dump(v, b);
}

static void check_value(const sj_rule_t *r, json_t *d, json_t *v)
{
    sj_rule_error_t err;
    json_t *again = sj_rule_eval_opts(r, d, &opts, &err);
    if (!again) abort();
    sj_buf_t b1, b2;
    sj_status_t st1 = print(v, &b1), st2 = print(again, &b2);
    if (st1 != st2 || b1.len != b2.len || (b1.len && memcmp(b1.data, b2.data, b1.len)))
        abort();
    if (st1 == SJ_OK) {
        json_t *back = json_loadb(b1.data ? b1.data : "", b1.len, JSON_DECODE_ANY, NULL);
        if (!back) abort();
        json_decref(back);
    }
    sj_buf_free(&b1);
    sj_buf_free(&b2);
    json_decref(again);
    bool match;
    /* NaN and Infinity come back as null; otherwise the verdicts agree. */
    if (sj_rule_match(r, d, &opts, &match, &err) != SJ_OK ||
        (!json_is_null(v) && match != sj_rule_truthy(v)))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    const char *nl = memchr(s, '\n', size);
    size_t rule_len = nl ? (size_t)(nl - s) : size;
    json_t *rule = json_loadb(s, rule_len, JSON_DECODE_ANY, NULL);
    if (!rule) return 0;
    json_t *d =
        nl ? json_loadb(nl + 1, size - rule_len - 1, JSON_DECODE_ANY, NULL) : NULL;
    sj_rule_error_t err;
    sj_rule_t *r = sj_rule_compile(rule, &err);
    json_decref(rule);
    if (!r) {
        if (err.status == SJ_OK || strncmp(err.message, "$", 1) != 0) abort();
    } else {
        json_t *v = sj_rule_eval_opts(r, d, &opts, &err);
        if (v)
            check_value(r, d, v);
        else if (err.status == SJ_OK || !err.message[0])
            abort();
        json_decref(v);
        sj_rule_destroy(r);
    }
    json_decref(d);
    return 0;
}
