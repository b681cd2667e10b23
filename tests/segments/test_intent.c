/* Unit tests for notification intents: deterministic ids, timing relative
 * to event dates in Europe/Brussels time, skipping what would expire before
 * it may be sent, language fallback, the context (and no contact data), and
 * the profile commands that the segment stage pipelines to Redis. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/timeutil.h"
#include "segments/intent.h"
#include "segments/profile.h"

#define PSEUDO "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static const char *id_card_campaign =
    "{\"id\":\"id-card-renewal\",\"name\":\"Renew\",\"topic\":\"identity\","
    "\"trigger\":{\"event\":\"be.seintje.life.id-card-expiring\"},"
    "\"timing\":{\"relative_to\":\"data.expires\",\"offset_days\":-60,\"at\":\"09:00\"},"
    "\"expiry\":{\"relative_to\":\"data.expires\",\"offset_days\":0},"
    "\"channels\":[\"app\",\"email\",\"sms\"],\"variants\":[{\"id\":\"plain\",\"weight\":"
    "100}],"
    "\"languages\":[\"nl\",\"fr\",\"en\"],\"default_language\":\"nl\"}";

static sj_campaign_t campaign;

static int setup(void **state)
{
    (void)state;
    char err[512];
    if (sj_campaign_parse(id_card_campaign, strlen(id_card_campaign), "c", &campaign, err,
                          sizeof err) != SJ_OK) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    return 0;
}

static int64_t t(const char *s)
{
    int64_t ms = 0;
    assert_int_equal(sj_time_parse_rfc3339(s, strlen(s), &ms), SJ_OK);
    return ms;
}

/* Parses an event and builds the intent; returns the parsed intent or NULL. */
static json_t *build(const char *event_json, const sj_resident_view_t *r, const char *now,
                     sj_intent_outcome_t *outcome)
{
    json_t *root = json_loads(event_json, 0, NULL);
    assert_non_null(root);
    sj_event_view_t ev;
    char problem[128];
    assert_int_equal(sj_event_view(root, &ev, problem, sizeof problem), SJ_OK);
    sj_buf_t b;
    sj_buf_init(&b, 1 << 20);
    char id[SJ_INTENT_ID_LEN + 1] = "";
    assert_int_equal(sj_intent_build(&campaign, &ev, r, t(now), &b, outcome, id), SJ_OK);
    json_t *intent =
        *outcome == SJ_INTENT_MADE ? json_loads(sj_buf_cstr(&b), 0, NULL) : NULL;
    if (intent) assert_string_equal(json_string_value(json_object_get(intent, "id")), id);
    sj_buf_free(&b);
    json_decref(root);
    return intent;
}

static const char *get(const json_t *o, const char *path)
{
    char key[64];
    const char *dot = strchr(path, '.');
    if (!dot) return json_string_value(json_object_get(o, path));
    snprintf(key, sizeof key, "%.*s", (int)(dot - path), path);
    return get(json_object_get(o, key), dot + 1);
}

#define EVENT(data)                                                                      \
    "{\"specversion\":\"1.0\",\"id\":\"ev-1\",\"source\":\"urn:nis:44021:population\","  \
    "\"type\":\"be.seintje.life.id-card-expiring\",\"time\":\"2026-02-01T08:00:00Z\","   \
    "\"subject\":\"" PSEUDO "\",\"data\":" data "}"

static void test_intent_id_deterministic(void **state)
{
    (void)state;
    char a[SJ_INTENT_ID_LEN + 1], b[SJ_INTENT_ID_LEN + 1], c[SJ_INTENT_ID_LEN + 1];
    sj_intent_id("id-card-renewal", "initial", PSEUDO, "ev-1", a);
    sj_intent_id("id-card-renewal", "initial", PSEUDO, "ev-1", b);
    sj_intent_id("id-card-renewal", "initial", PSEUDO, "ev-2", c);
    assert_string_equal(a, b);
    assert_string_not_equal(a, c);
    assert_int_equal(strlen(a), 32);
    /* First 32 hex of SHA-256("id-card-renewal|initial|<pseudo>|ev-1"), computed with
     * `printf '%s' 'id-card-renewal|initial|0123...|ev-1' | sha256sum`. */
    assert_string_equal(a, "f1a53991884366009b702471b09302f6");
}

/* Intents of a campaign with an experiment name it (the delivery stage
 * records the exposure by it); those of a campaign with one variant do not. */
static void test_experiment_member(void **state)
{
    (void)state;
    sj_resident_view_t r = {"An", "nl", "44021", "9000", "active"};
    sj_intent_outcome_t o;
    json_t *i =
        build(EVENT("{\"expires\":\"2026-05-01\"}"), &r, "2026-02-01T08:00:00Z", &o);
    assert_int_equal(o, SJ_INTENT_MADE);
    assert_null(json_object_get(i, "experiment"));
    json_decref(i);

    static const char exp_campaign[] =
        "{\"id\":\"id-card-renewal\",\"name\":\"Renew\",\"topic\":\"identity\","
        "\"trigger\":{\"event\":\"be.seintje.life.id-card-expiring\"},"
        "\"timing\":{\"relative_to\":\"data.expires\",\"offset_days\":-60,"
        "\"at\":\"09:00\"},\"expiry\":{\"relative_to\":\"data.expires\","
        "\"offset_days\":0},\"goal\":{\"events\":[\"be.seintje.service.id-card-"
        "requested\"],\"window_days\":90},\"channels\":[\"email\"],"
        "\"variants\":[{\"id\":\"plain\",\"weight\":50},{\"id\":\"deadline\","
        "\"weight\":50}],\"experiment\":\"id-card-2026\",\"languages\":[\"nl\"],"
        "\"default_language\":\"nl\"}";
    sj_campaign_t saved = campaign, c;
    char err[512] = "";
    sj_status_t st =
        sj_campaign_parse(exp_campaign, strlen(exp_campaign), "exp", &c, err, sizeof err);
    if (st != SJ_OK) fprintf(stderr, "%s\n", err);
    assert_int_equal(st, SJ_OK);
    assert_true(sj_campaign_is_experiment(&c));
    campaign = c;
    i = build(EVENT("{\"expires\":\"2026-05-01\"}"), &r, "2026-02-01T08:00:00Z", &o);
    campaign = saved;
    assert_int_equal(o, SJ_INTENT_MADE);
    assert_string_equal(get(i, "experiment"), "id-card-2026");
    const char *v = get(i, "variant");
    assert_true(!strcmp(v, "plain") || !strcmp(v, "deadline"));
    json_decref(i);
    sj_campaign_release(&c);
}

static void test_timing_and_context(void **state)
{
    (void)state;
    sj_resident_view_t r = {"An", "fr", "44021", "9000", "active"};
    sj_intent_outcome_t o;
    json_t *i = build(EVENT("{\"expires\":\"2026-05-01\",\"email\":\"an@example.org\"}"),
                      &r, "2026-02-01T08:00:00Z", &o);
    assert_int_equal(o, SJ_INTENT_MADE);
    /* 60 days before 1 May = 2 March, 09:00 in Brussels (CET, UTC+1). */
    assert_string_equal(get(i, "not_before"), "2026-03-02T08:00:00Z");
    /* 1 May 00:00 in Brussels (CEST, UTC+2). */
    assert_string_equal(get(i, "expires_at"), "2026-04-30T22:00:00Z");
    assert_string_equal(get(i, "created_at"), "2026-02-01T08:00:00Z");
    assert_string_equal(get(i, "language"), "fr");
    assert_string_equal(get(i, "template"), "id-card-renewal/plain");
    assert_string_equal(get(i, "step"), "initial");
    assert_string_equal(get(i, "resident"), PSEUDO);
    assert_string_equal(get(i, "trigger.id"), "ev-1");
    assert_string_equal(get(i, "trigger.type"), "be.seintje.life.id-card-expiring");
    assert_string_equal(get(i, "context.given_name"), "An");
    assert_string_equal(get(i, "context.expires"), "2026-05-01");
    assert_string_equal(get(i, "context.send_date"), "2026-03-02");
    assert_string_equal(get(i, "context.deadline"), "2026-04-30");
    assert_string_equal(get(i, "context.event_date"), "2026-02-01");
    assert_null(json_object_get(json_object_get(i, "context"), "email"));
    const json_t *ch = json_object_get(i, "channels");
    assert_int_equal(json_array_size(ch), 3);
    assert_string_equal(json_string_value(json_array_get(ch, 0)), "app");
    assert_non_null(
        strstr(get(i, "reason"), "60 days before the expires date (2026-05-01)"));
    /* No contact data anywhere in the intent. */
    char *s = json_dumps(i, 0);
    assert_null(strstr(s, "example.org"));
    free(s);
    json_decref(i);
}

static void test_late_event_sends_now(void **state)
{
    (void)state;
    sj_resident_view_t r = {"An", "de", NULL, NULL, NULL};
    sj_intent_outcome_t o;
    json_t *i =
        build(EVENT("{\"expires\":\"2026-05-01\"}"), &r, "2026-04-01T12:00:00Z", &o);
    assert_int_equal(o, SJ_INTENT_MADE);
    assert_string_equal(get(i, "not_before"), "2026-04-01T12:00:00Z");
    assert_string_equal(get(i, "language"), "nl"); /* de not offered: default */
    json_decref(i);
}

static void test_expired_and_missing(void **state)
{
    (void)state;
    sj_resident_view_t r = {"An", "nl", NULL, NULL, "active"};
    sj_intent_outcome_t o;
    assert_null(
        build(EVENT("{\"expires\":\"2026-05-01\"}"), &r, "2026-04-30T22:00:00Z", &o));
    assert_int_equal(o, SJ_INTENT_SKIP_EXPIRED);
    assert_null(build(EVENT("{\"given_name\":\"An\"}"), &r, "2026-01-01T00:00:00Z", &o));
    assert_int_equal(o, SJ_INTENT_SKIP_NO_DATE);
    sj_resident_view_t gone = {"An", "nl", NULL, NULL, "moved-out"};
    assert_null(
        build(EVENT("{\"expires\":\"2026-05-01\"}"), &gone, "2026-01-01T00:00:00Z", &o));
    assert_int_equal(o, SJ_INTENT_SKIP_INACTIVE);
}

static void test_event_view_problems(void **state)
{
    (void)state;
    const char *bad[] = {
        "[]",
        "{\"id\":\"x\",\"type\":\"be.seintje.life.birth\",\"subject\":\"85073003328\"}",
        "{\"type\":\"be.seintje.life.birth\",\"subject\":\"" PSEUDO "\"}",
        "{\"id\":\"x\",\"type\":\"com.example\",\"subject\":\"" PSEUDO "\"}",
        "{\"id\":\"x\",\"type\":\"be.seintje.life.birth\",\"subject\":\"" PSEUDO
        "\",\"time\":\"yesterday\"}",
        "{\"id\":\"x\",\"type\":\"be.seintje.life.birth\",\"subject\":\"" PSEUDO
        "\",\"data\":[1]}",
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        json_t *root = json_loads(bad[k], 0, NULL);
        assert_non_null(root);
        sj_event_view_t ev;
        char problem[128] = "";
        assert_int_equal(sj_event_view(root, &ev, problem, sizeof problem), SJ_ERR_INPUT);
        assert_true(problem[0] != '\0');
        assert_null(strstr(problem, "85073003328")); /* never echoes the value */
        json_decref(root);
    }
}

static void test_brussels(void **state)
{
    (void)state;
    int32_t d;
    assert_int_equal(sj_date_parse("2026-03-29", 10, &d), SJ_OK); /* DST starts */
    assert_int_equal(sj_brussels_to_utc(d, 1 * 60), t("2026-03-29T00:00:00Z"));
    assert_int_equal(sj_brussels_to_utc(d, 3 * 60), t("2026-03-29T01:00:00Z"));
    assert_int_equal(sj_date_parse("2026-10-25", 10, &d), SJ_OK); /* DST ends */
    assert_int_equal(sj_brussels_to_utc(d, 9 * 60), t("2026-10-25T08:00:00Z"));
    assert_int_equal(sj_brussels_date(t("2026-06-30T22:30:00Z")),
                     sj_days_from_civil(2026, 7, 1));
    assert_int_equal(sj_brussels_date(t("2026-12-31T22:59:59Z")),
                     sj_days_from_civil(2026, 12, 31));
}

static void test_profile_key(void **state)
{
    (void)state;
    char key[SJ_PROFILE_KEY_MAX];
    sj_profile_key(PSEUDO, key);
    assert_string_equal(key, "sj:res:{" PSEUDO "}");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_intent_id_deterministic),
        cmocka_unit_test(test_timing_and_context),
        cmocka_unit_test(test_experiment_member),
        cmocka_unit_test(test_late_event_sends_now),
        cmocka_unit_test(test_expired_and_missing),
        cmocka_unit_test(test_event_view_problems),
        cmocka_unit_test(test_brussels),
        cmocka_unit_test(test_profile_key),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
