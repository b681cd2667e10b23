/* The engine's scanner path for life events (segments/fastevent.h) against
 * the jansson path: plain events are taken and give the same view and
 * profile update; anything unusual is declined (left to jansson). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tests/segments/fastevent_check.h"

#define P "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define HEAD                                                                             \
    "{\"specversion\":\"1.0\",\"id\":\"e-1\",\"source\":\"urn:nis:44084\",\"subject\":"  \
    "\"" P "\","

static bool taken(const char *text)
{
    bool accepted;
    const char *why = fastevent_check(text, strlen(text), &accepted);
    if (why) fail_msg("%s: %s", text, why);
    return accepted;
}

static void test_plain_events_agree(void **state)
{
    (void)state;
    static const char *const events[] = {
        HEAD "\"type\":\"be.seintje.life.registered\",\"time\":\"2026-03-01T08:00:00Z\","
             "\"data\":{\"given_name\":\"Anaïs\",\"birth_date\":\"1990-05-01\",\"nis\":"
             "\"44084\","
             "\"language\":\"fr\",\"email\":\"a@example.org\",\"phone\":null,"
             "\"consents\":{\"email\":true,\"sms\":false,\"app\":true}}}",
        HEAD "\"type\":\"be.seintje.life.consent-changed\",\"time\":\"2026-03-01T08:00:"
             "00.250+01:00\","
             "\"data\":{\"topic\":\"welcome\",\"consents\":{\"email\":false}}}",
        HEAD "\"type\":\"be.seintje.life.moved-out\",\"time\":\"2026-03-01T23:30:00Z\","
             "\"data\":{\"to_nis\":\"11002\"}}",
        HEAD "\"type\":\"be.seintje.life.moved-in\",\"time\":\"2026-03-02T08:00:00Z\","
             "\"data\":{}}",
        HEAD
        "\"type\":\"be.seintje.life.id-card-expiring\",\"time\":\"2026-03-02T08:00:00Z\","
        "\"data\":{\"expires\":\"2026-05-01\",\"n\":12,\"x\":{\"y\":{\"z\":true}}}}",
        HEAD "\"type\":\"be.seintje.life.id-card-expiring\",\"data\":{\"expires\":null}}",
        HEAD "\"type\":\"be.seintje.life.deceased\",\"time\":\"2026-03-02T08:00:00Z\","
             "\"data\":null}",
        HEAD "\"type\":\"be.seintje.life.birthday\",\"time\":\"2026-03-02T08:00:00Z\"}",
        /* a topic that is not a string: the consents are ignored on both paths */
        HEAD "\"type\":\"be.seintje.life.consent-changed\",\"data\":{\"topic\":5,"
             "\"consents\":{\"email\":true}}}",
        /* consents not an object, a consent not a boolean */
        HEAD "\"type\":\"be.seintje.life.registered\",\"data\":{\"consents\":true}}",
        HEAD
        "\"type\":\"be.seintje.life.registered\",\"data\":{\"consents\":{\"sms\":1}}}",
        /* members that are not strings are not copied */
        HEAD
        "\"type\":\"be.seintje.life.registered\",\"data\":{\"given_name\":7,\"time\":1}}",
    };
    for (size_t i = 0; i < sizeof events / sizeof *events; i++)
        if (!taken(events[i])) fail_msg("declined: %s", events[i]);
}

static void test_unusual_events_declined(void **state)
{
    (void)state;
    static const char *const events[] = {
        HEAD
        "\"type\":\"be.seintje.life.registered\",\"data\":{\"given_name\":\"A\\u00e9\"}}",
        HEAD "\"type\":\"be.seintje.life.registered\",\"data\":{\"household\":[1,2]}}",
        HEAD
        "\"type\":\"be.seintje.life.registered\",\"type\":\"be.seintje.life.birth\"}",
        HEAD "\"type\":\"be.seintje.life.registered\",\"data\":{\"a\":1,\"a\":2}}",
        HEAD
        "\"type\":\"be.seintje.life.registered\",\"data\":{\"n\":12345678901234567890}}",
        HEAD "\"type\":\"be.seintje.life.registered\",\"data\":{\"n\":1e999}}",
        HEAD "\"type\":\"be.seintje.life.registered\",\"data\":\"x\"}",
        HEAD "\"type\":\"be.seintje.life.registered\",\"time\":\"yesterday\"}",
        HEAD "\"type\":\"other.registered\"}",
        HEAD "\"type\":5}",
        "{\"id\":\"e\",\"type\":\"be.seintje.life.registered\",\"subject\":\"" P "A\"}",
        "{\"id\":\"e\",\"type\":\"be.seintje.life.registered\",\"subject\":\"AAAA\"}",
        "{\"id\":\"\",\"type\":\"be.seintje.life.registered\",\"subject\":\"" P "\"}",
        "{\"type\":\"be.seintje.life.registered\",\"subject\":\"" P "\"}",
        "[1]",
        "{\"a\":",
        "",
    };
    for (size_t i = 0; i < sizeof events / sizeof *events; i++)
        if (taken(events[i])) fail_msg("taken: %s", events[i]);
    /* larger than SJ_FAST_EVENT_MAX */
    static char big[SJ_FAST_EVENT_MAX + 200];
    size_t n = (size_t)snprintf(
        big, sizeof big,
        HEAD "\"type\":\"be.seintje.life.registered\",\"data\":{\"x\":\"");
    memset(big + n, 'x', SJ_FAST_EVENT_MAX);
    memcpy(big + n + SJ_FAST_EVENT_MAX, "\"}}", 4);
    assert_false(taken(big));
}

static bool skip_birth(void *ctx, const char *type)
{
    (void)ctx;
    return !strcmp(type, "be.seintje.life.birth");
}

static void test_skip(void **state)
{
    (void)state;
    static const char ev[] = HEAD "\"type\":\"be.seintje.life.birth\",\"data\":{}}";
    char arena[SJ_FAST_EVENT_MAX];
    sj_event_view_t v;
    sj_profile_update_t u;
    assert_false(sj_fast_event(ev, strlen(ev), arena, skip_birth, NULL, 0, &v, &u));
    assert_true(sj_fast_event(ev, strlen(ev), arena, NULL, NULL, 0, &v, &u));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_events_agree),
        cmocka_unit_test(test_unusual_events_declined),
        cmocka_unit_test(test_skip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
