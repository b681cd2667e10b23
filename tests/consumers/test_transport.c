/* Unit tests for the transport's pure parts: the token bucket (rate,
 * burst, waiting time), the circuit breaker's state machine (opening after
 * consecutive faults, fail-fast while open, one probe when half open,
 * doubling periods up to the cap, stale results ignored) and the bounds of
 * exponential backoff with jitter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "consumers/transport.h"

static void test_bucket_unlimited(void **state)
{
    (void)state;
    sj_bucket_t b;
    sj_bucket_init(&b, 0, 0, 0);
    for (int i = 0; i < 100000; i++) assert_true(sj_bucket_take(&b, 0));
    assert_int_equal(sj_bucket_wait_us(&b, 0), 0);
}

static void test_bucket_burst_then_rate(void **state)
{
    (void)state;
    sj_bucket_t b;
    sj_bucket_init(&b, 100, 10, 1000000); /* 100/s, burst 10 */
    for (int i = 0; i < 10; i++) assert_true(sj_bucket_take(&b, 1000000));
    assert_false(sj_bucket_take(&b, 1000000));
    int64_t w = sj_bucket_wait_us(&b, 1000000);
    assert_true(w >= 10000 && w <= 10002); /* one token per 10 ms */
    assert_false(sj_bucket_take(&b, 1000000 + 9000));
    assert_true(sj_bucket_take(&b, 1000000 + 10000));
    /* Over one second exactly `rate` more tokens, never more than burst. */
    int64_t t = 1000000 + 10000, taken = 0;
    for (int64_t us = t; us <= t + 1000000; us += 1000)
        while (sj_bucket_take(&b, us)) taken++;
    assert_true(taken >= 99 && taken <= 101);
    assert_true(sj_bucket_take(&b, t + 60000000)); /* long idle: full again */
    taken = 1;
    while (sj_bucket_take(&b, t + 60000000)) taken++;
    assert_int_equal(taken, 10);
}

static void test_bucket_default_burst(void **state)
{
    (void)state;
    sj_bucket_t b;
    sj_bucket_init(&b, 50, 0, 0); /* burst defaults to the rate */
    int n = 0;
    while (sj_bucket_take(&b, 0)) n++;
    assert_int_equal(n, 50);
    sj_bucket_init(&b, 0.5, 0, 0); /* slow: burst at least 1 */
    assert_true(sj_bucket_take(&b, 0));
    assert_false(sj_bucket_take(&b, 1000000));
    assert_true(sj_bucket_take(&b, 2000000));
}

static void test_breaker_opens_after_consecutive_faults(void **state)
{
    (void)state;
    sj_breaker_t b;
    bool probe;
    sj_breaker_init(&b, 3, 1000, 8000);
    assert_true(sj_breaker_allow(&b, 0, &probe));
    assert_false(probe);
    sj_breaker_record(&b, true, false, 0);
    sj_breaker_record(&b, true, false, 0);
    sj_breaker_record(&b, false, false, 0); /* a success resets the count */
    sj_breaker_record(&b, true, false, 0);
    sj_breaker_record(&b, true, false, 0);
    assert_int_equal(b.state, SJ_BREAKER_CLOSED);
    assert_int_equal(sj_breaker_record(&b, true, false, 100), SJ_BREAKER_OPEN);
    assert_int_equal(b.opened, 1);
    assert_false(sj_breaker_allow(&b, 500, &probe));
    assert_int_equal(sj_breaker_wait_ms(&b, 500), 600);
    /* A transfer that started before it opened says nothing new. */
    sj_breaker_record(&b, false, false, 600);
    assert_int_equal(b.state, SJ_BREAKER_OPEN);
}

static void test_breaker_half_open_probe(void **state)
{
    (void)state;
    sj_breaker_t b;
    bool probe;
    sj_breaker_init(&b, 1, 1000, 3000);
    sj_breaker_record(&b, true, false, 0);
    assert_int_equal(b.state, SJ_BREAKER_OPEN);
    assert_true(sj_breaker_allow(&b, 1000, &probe)); /* the probe */
    assert_true(probe);
    assert_int_equal(b.state, SJ_BREAKER_HALF_OPEN);
    assert_false(sj_breaker_allow(&b, 1001, &probe)); /* one at a time */
    sj_breaker_record(&b, false, false, 1002);        /* not the probe: ignored */
    assert_int_equal(b.state, SJ_BREAKER_HALF_OPEN);
    /* The probe fails: open again, twice as long; then capped. */
    assert_int_equal(sj_breaker_record(&b, true, true, 1100), SJ_BREAKER_OPEN);
    assert_int_equal(b.period_ms, 2000);
    assert_false(sj_breaker_allow(&b, 3099, &probe));
    assert_true(sj_breaker_allow(&b, 3100, &probe));
    sj_breaker_record(&b, true, true, 3100);
    assert_int_equal(b.period_ms, 3000);
    assert_true(sj_breaker_allow(&b, 6100, &probe));
    sj_breaker_record(&b, true, true, 6100);
    assert_int_equal(b.period_ms, 3000);
    assert_int_equal(b.opened, 4);
    /* The probe succeeds: closed, and the period starts over. */
    assert_true(sj_breaker_allow(&b, 9100, &probe));
    assert_int_equal(sj_breaker_record(&b, false, true, 9200), SJ_BREAKER_CLOSED);
    assert_int_equal(b.period_ms, 1000);
    assert_true(sj_breaker_allow(&b, 9200, &probe));
    assert_false(probe);
    assert_string_equal(sj_breaker_state_name(SJ_BREAKER_HALF_OPEN), "half-open");
}

static void test_breaker_disabled(void **state)
{
    (void)state;
    sj_breaker_t b;
    bool probe;
    sj_breaker_init(&b, 0, 1000, 1000);
    for (int i = 0; i < 1000; i++) sj_breaker_record(&b, true, false, i);
    assert_int_equal(b.state, SJ_BREAKER_CLOSED);
    assert_true(sj_breaker_allow(&b, 2000, &probe));
}

static void test_backoff_bounds(void **state)
{
    (void)state;
    /* attempt n: within [d/2, d], d = min(max, base * 2^(n-1)) */
    for (unsigned n = 1; n <= 40; n++) {
        int64_t d = 1000;
        for (unsigned i = 1; i < n && d < 60000; i++) d *= 2;
        if (d > 60000) d = 60000;
        int64_t lo = INT64_MAX, hi = 0;
        for (uint64_t r = 0; r < 5000; r++) {
            uint64_t rnd = r * 0x9E3779B97F4A7C15ull;
            int64_t v = sj_backoff_delay_ms(n, 1000, 60000, rnd);
            assert_true(v >= d / 2 && v <= d);
            if (v < lo) lo = v;
            if (v > hi) hi = v;
        }
        /* the jitter really spreads over the range */
        assert_true(lo < d / 2 + d / 10);
        assert_true(hi > d - d / 10);
    }
    assert_true(sj_backoff_delay_ms(1, 1, 1, 12345) <= 1);
    assert_true(sj_backoff_delay_ms(0, 0, 0, 7) <= 1);         /* clamped inputs */
    assert_true(sj_backoff_delay_ms(100, 500, 100, 0) >= 250); /* max < base */
    assert_true(sj_backoff_delay_ms(1000, INT64_MAX / 4, INT64_MAX / 2, ~0ull) <=
                INT64_MAX / 2); /* no overflow */
}

static void test_class_names(void **state)
{
    (void)state;
    assert_string_equal(sj_class_name(SJ_CLASS_OK), "ok");
    assert_string_equal(sj_class_name(SJ_CLASS_TEMPORARY), "temporary");
    assert_string_equal(sj_class_name(SJ_CLASS_PERMANENT), "permanent");
    assert_string_equal(sj_class_name((sj_class_t)9), "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bucket_unlimited),
        cmocka_unit_test(test_bucket_burst_then_rate),
        cmocka_unit_test(test_bucket_default_burst),
        cmocka_unit_test(test_breaker_opens_after_consecutive_faults),
        cmocka_unit_test(test_breaker_half_open_probe),
        cmocka_unit_test(test_breaker_disabled),
        cmocka_unit_test(test_backoff_bounds),
        cmocka_unit_test(test_class_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
