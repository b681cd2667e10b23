/* Unit tests for the pure parts of the delivery ledger and the dead
 * letters: the claim script's replies (every result, an unpublished last
 * transition to publish again, malformed replies), the key layout, and
 * dead-letter record validation and filters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "consumers/deadletter.h"
#include "consumers/ledger.h"

/* A fake array reply of strings (NULL: a nil element). */
typedef struct {
    redisReply top, el[8];
    redisReply *ptrs[8];
} fake_t;

static const redisReply *fake(fake_t *f, size_t n, const char *const *v)
{
    memset(f, 0, sizeof *f);
    f->top.type = REDIS_REPLY_ARRAY;
    f->top.elements = n;
    f->top.element = f->ptrs;
    for (size_t i = 0; i < n; i++) {
        f->ptrs[i] = &f->el[i];
        f->el[i].type = v[i] ? REDIS_REPLY_STRING : REDIS_REPLY_NIL;
        f->el[i].str = (char *)v[i];
        f->el[i].len = v[i] ? strlen(v[i]) : 0;
    }
    return &f->top;
}

static void test_claim_results(void **state)
{
    (void)state;
    fake_t f;
    sj_claim_t c;
    const char *ok[] = {"ok", "1700000000000", "1", "", "", ""};
    sj_ledger_parse_claim(fake(&f, 6, ok), &c);
    assert_int_equal(c.result, SJ_CLAIM_OK);
    assert_false(c.unpublished);
    assert_int_equal(c.since, 1700000000000LL);
    const char *rec[] = {"recovered", "5", "1", "", "", "sending"};
    sj_ledger_parse_claim(fake(&f, 6, rec), &c);
    assert_int_equal(c.result, SJ_CLAIM_RECOVERED);
    assert_string_equal(c.state, "sending");
    const char *busy[] = {"busy", "1234", "1", "", "", "sending"};
    sj_ledger_parse_claim(fake(&f, 6, busy), &c);
    assert_int_equal(c.result, SJ_CLAIM_BUSY);
    assert_int_equal(c.since, 1234);
    const char *sched[] = {"scheduled", "9", "1", "", "", "retry"};
    sj_ledger_parse_claim(fake(&f, 6, sched), &c);
    assert_int_equal(c.result, SJ_CLAIM_SCHEDULED);
    /* a final state whose records were never acknowledged */
    const char *fin[] = {"final", "9", "0", "{\"status\":\"sent\"}", "", "sent"};
    sj_ledger_parse_claim(fake(&f, 6, fin), &c);
    assert_int_equal(c.result, SJ_CLAIM_FINAL);
    assert_true(c.unpublished);
    assert_int_equal(c.t_len, strlen("{\"status\":\"sent\"}"));
    assert_int_equal(c.dl_len, 0);
    assert_string_equal(sj_claim_name(SJ_CLAIM_BUSY), "busy");
}

static void test_claim_malformed(void **state)
{
    (void)state;
    fake_t f;
    sj_claim_t c;
    sj_ledger_parse_claim(NULL, &c);
    assert_int_equal(c.result, SJ_CLAIM_ERROR);
    const char *few[] = {"ok", "1"};
    sj_ledger_parse_claim(fake(&f, 2, few), &c);
    assert_int_equal(c.result, SJ_CLAIM_ERROR);
    const char *odd[] = {"maybe", "1", "1", "", "", ""};
    sj_ledger_parse_claim(fake(&f, 6, odd), &c);
    assert_int_equal(c.result, SJ_CLAIM_ERROR);
    const char *nils[] = {NULL, NULL, NULL, NULL, NULL, NULL};
    sj_ledger_parse_claim(fake(&f, 6, nils), &c);
    assert_int_equal(c.result, SJ_CLAIM_ERROR);
    assert_string_equal(c.t, "");
    redisReply err = {.type = REDIS_REPLY_ERROR, .str = (char *)"ERR", .len = 3};
    sj_ledger_parse_claim(&err, &c);
    assert_int_equal(c.result, SJ_CLAIM_ERROR);
}

static void test_key(void **state)
{
    (void)state;
    char k[SJ_LEDGER_KEY_MAX];
    sj_ledger_key("00ff00ff00ff00ff00ff00ff00ff00ff", k);
    assert_string_equal(k, "sj:dlv:{00ff00ff00ff00ff00ff00ff00ff00ff}");
}

static json_t *record(void)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:b, s:o, s:n}",
                     "intent", "ab12cd", "campaign", "id-card-renewal", "resident", "r",
                     "channel", "sms", "class", "permanent", "reason", "sms http 400",
                     "time", "2026-11-28T10:00:00Z", "first_attempt",
                     "2026-11-28T09:00:00Z", "attempts", 1, "final", 1, "notification",
                     json_object(), "fallback");
}

static void test_dead_letter_valid(void **state)
{
    (void)state;
    char problem[128];
    json_t *r = record();
    assert_true(sj_dl_record_valid(r, problem, sizeof problem));
    static const char *const required[] = {
        "intent", "campaign",      "resident", "channel", "class",       "reason",
        "time",   "first_attempt", "attempts", "final",   "notification"};
    for (size_t i = 0; i < sizeof required / sizeof *required; i++) {
        json_t *x = json_deep_copy(r);
        json_object_del(x, required[i]);
        assert_false(sj_dl_record_valid(x, problem, sizeof problem));
        assert_non_null(strstr(problem, required[i]));
        json_decref(x);
    }
    json_object_set_new(r, "time", json_string("yesterday"));
    assert_false(sj_dl_record_valid(r, problem, sizeof problem));
    json_decref(r);
    json_t *arr = json_array();
    assert_false(sj_dl_record_valid(arr, problem, sizeof problem));
    json_decref(arr);
}

static void test_dead_letter_match(void **state)
{
    (void)state;
    json_t *r = record();
    sj_dl_filter_t all = {0};
    assert_true(sj_dl_match(r, &all));
    sj_dl_filter_t f = {.campaign = "id-card-renewal",
                        .channel = "sms",
                        .intent_prefix = "ab1",
                        .klass = "permanent",
                        .final_only = true};
    assert_true(sj_dl_match(r, &f));
    f.channel = "email";
    assert_false(sj_dl_match(r, &f));
    f.channel = NULL;
    f.intent_prefix = "ab2";
    assert_false(sj_dl_match(r, &f));
    f.intent_prefix = NULL;
    f.since_ms = 1795860000001LL; /* 2026-11-28T10:00:00.001Z */
    assert_false(sj_dl_match(r, &f));
    f.since_ms = 1795860000000LL;
    assert_true(sj_dl_match(r, &f));
    f.until_ms = 1795860000000LL; /* until is exclusive */
    assert_false(sj_dl_match(r, &f));
    json_object_set_new(r, "final", json_false());
    sj_dl_filter_t fin = {.final_only = true};
    assert_false(sj_dl_match(r, &fin));
    json_decref(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_claim_results),
        cmocka_unit_test(test_claim_malformed),
        cmocka_unit_test(test_key),
        cmocka_unit_test(test_dead_letter_valid),
        cmocka_unit_test(test_dead_letter_match),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
