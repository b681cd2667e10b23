/* Unit tests for campaign loading: the example campaigns load, and every
 * kind of mistake an officer can make is refused with the exact message
 * (file, JSON path, problem) that the documentation promises. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "segments/campaign.h"

/* A valid campaign; tests replace one part of it with printf-style edits. */
#define BASE_HEAD     "{\"id\":\"c1\",\"name\":\"Campaign one\",\"topic\":\"identity\","
#define BASE_TRIGGER  "\"trigger\":{\"event\":\"be.seintje.life.id-card-expiring\"},"
#define BASE_TIMING   "\"timing\":{\"relative_to\":\"data.expires\",\"offset_days\":-60},"
#define BASE_EXPIRY   "\"expiry\":{\"relative_to\":\"data.expires\",\"offset_days\":0},"
#define BASE_CHANNELS "\"channels\":[\"app\",\"email\",\"sms\"],"
#define BASE_VARIANTS "\"variants\":[{\"id\":\"plain\",\"weight\":100}],"
#define BASE_LANGS    "\"languages\":[\"nl\",\"fr\",\"en\"],\"default_language\":\"nl\""
#define BASE_TAIL     "}"

static char err[1024];

static int parse(const char *json, sj_campaign_t *c)
{
    err[0] = '\0';
    return sj_campaign_parse(json, strlen(json), "t.json", c, err, sizeof err);
}

static void expect_error(const char *json, const char *message)
{
    sj_campaign_t c;
    assert_int_equal(parse(json, &c), SJ_ERR_INPUT);
    assert_string_equal(err, message);
}

static void test_valid_minimal(void **state)
{
    (void)state;
    sj_campaign_t c;
    const char *j = BASE_HEAD BASE_TRIGGER BASE_TIMING BASE_EXPIRY BASE_CHANNELS
        BASE_VARIANTS BASE_LANGS BASE_TAIL;
    assert_int_equal(parse(j, &c), SJ_OK);
    assert_string_equal(c.id, "c1");
    assert_string_equal(c.trigger_event, "be.seintje.life.id-card-expiring");
    assert_string_equal(c.timing.relative_to, "data.expires");
    assert_int_equal(c.timing.offset_days, -60);
    assert_int_equal(c.timing.at_minutes, 9 * 60); /* default send time */
    assert_int_equal(c.expiry.at_minutes, 0);
    assert_int_equal(c.n_channels, 3);
    assert_int_equal(c.channels[0], SJ_CHANNEL_APP);
    assert_int_equal(c.channels[2], SJ_CHANNEL_SMS);
    assert_int_equal(c.n_variants, 1);
    assert_int_equal(c.variants[0].weight, 100);
    assert_string_equal(c.default_language, "nl");
    assert_false(c.mandatory);
    assert_int_equal(c.priority, 5);
}

static void test_examples_load(void **state)
{
    (void)state;
    const char *src = getenv("SEINTJE_SOURCE_DIR");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/segments/campaigns", src ? src : ".");
    sj_campaigns_t *set = sj_campaigns_load_dir(dir, err, sizeof err);
    if (!set) fail_msg("%s", err);
    assert_true(sj_campaigns_count(set) >= 2);
    bool id_card = false, welcome = false;
    for (size_t i = 0; i < sj_campaigns_count(set); i++) {
        const sj_campaign_t *c = sj_campaigns_get(set, i);
        if (!strcmp(c->id, "id-card-renewal")) {
            id_card = true;
            assert_int_equal(c->timing.offset_days, -60);
            assert_string_equal(c->expiry.relative_to, "data.expires");
        }
        if (!strcmp(c->id, "welcome-new-resident")) {
            welcome = true;
            assert_string_equal(c->trigger_event, "be.seintje.life.moved-in");
            assert_int_equal(c->timing.offset_days, 1);
        }
    }
    assert_true(id_card && welcome);
    sj_campaigns_destroy(set);
}

static void test_syntax_error(void **state)
{
    (void)state;
    expect_error("{\"id\": }", "t.json:1:8: invalid JSON: unexpected token near '}'");
    expect_error("{\"id\":\"a\",\"id\":\"b\"}",
                 "t.json:1:14: invalid JSON: duplicate object key near '\"id\"'");
}

static void test_not_an_object(void **state)
{
    (void)state;
    expect_error("[1]", "t.json: $: expected a campaign object, got an array");
}

static void test_audience_refused(void **state)
{
    (void)state;
    expect_error(BASE_HEAD "\"audience\":{\"==\":[1,1]}," BASE_TRIGGER BASE_TIMING
                     BASE_EXPIRY BASE_CHANNELS BASE_VARIANTS BASE_LANGS BASE_TAIL,
                 "t.json: $.audience: audience rules (JsonLogic) are not supported yet; "
                 "remove the key to target every resident with the trigger event");
    expect_error(BASE_HEAD "\"reminders\":[]," BASE_TRIGGER BASE_TIMING BASE_EXPIRY
                     BASE_CHANNELS BASE_VARIANTS BASE_LANGS BASE_TAIL,
                 "t.json: $.reminders: not supported yet");
}

static void test_unknown_keys(void **state)
{
    (void)state;
    expect_error(
        BASE_HEAD "\"chanels\":[]," BASE_TRIGGER BASE_TIMING BASE_EXPIRY BASE_CHANNELS
            BASE_VARIANTS BASE_LANGS BASE_TAIL,
        "t.json: $.chanels: unknown key (allowed: id, name, description, topic, "
        "trigger, timing, expiry, channels, variants, languages, default_language, "
        "mandatory, priority)");
    expect_error(BASE_HEAD "\"trigger\":{\"evnt\":\"x\"}," BASE_TIMING BASE_EXPIRY
                     BASE_CHANNELS BASE_VARIANTS BASE_LANGS BASE_TAIL,
                 "t.json: $.trigger.evnt: unknown key (allowed: event)");
    expect_error(
        BASE_HEAD BASE_TRIGGER
        "\"timing\":{\"relative_to\":\"time\",\"offset_days\":1,\"hour\":9}," BASE_EXPIRY
            BASE_CHANNELS BASE_VARIANTS BASE_LANGS BASE_TAIL,
        "t.json: $.timing.hour: unknown key (allowed: relative_to, offset_days, at)");
}

static void test_missing_and_types(void **state)
{
    (void)state;
    expect_error("{\"name\":\"x\"}",
                 "t.json: $.id: missing (a name of lowercase letters, digits and '-')");
    expect_error(
        "{\"id\":\"Bad Id\"}",
        "t.json: $.id: \"Bad Id\" must be 1 to 63 lowercase letters, digits or '-', "
        "not starting with '-'");
    expect_error(BASE_HEAD BASE_TRIGGER
                 "\"timing\":{\"relative_to\":\"time\"}," BASE_EXPIRY BASE_CHANNELS
                     BASE_VARIANTS BASE_LANGS BASE_TAIL,
                 "t.json: $.timing.offset_days: missing (an integer from -3650 to 3650)");
    expect_error(
        BASE_HEAD BASE_TRIGGER
        "\"timing\":{\"relative_to\":\"time\",\"offset_days\":\"-60\"}," BASE_EXPIRY
            BASE_CHANNELS BASE_VARIANTS BASE_LANGS BASE_TAIL,
        "t.json: $.timing.offset_days: expected an integer from -3650 to 3650, got a "
        "string");
    expect_error(BASE_HEAD BASE_TRIGGER
                 "\"timing\":{\"relative_to\":\"expires\",\"offset_days\":1}," BASE_EXPIRY
                     BASE_CHANNELS BASE_VARIANTS BASE_LANGS BASE_TAIL,
                 "t.json: $.timing.relative_to: \"expires\" is not \"time\" or "
                 "\"data.<field>\" (field: lowercase letters, digits, '_')");
    expect_error(
        BASE_HEAD BASE_TRIGGER
        "\"timing\":{\"relative_to\":\"time\",\"offset_days\":1,\"at\":\"25:00\"}"
        "," BASE_EXPIRY BASE_CHANNELS BASE_VARIANTS BASE_LANGS BASE_TAIL,
        "t.json: $.timing.at: \"25:00\" is not a time of day \"HH:MM\" (00:00 to "
        "23:59)");
    expect_error(
        BASE_HEAD BASE_TRIGGER BASE_TIMING BASE_CHANNELS BASE_VARIANTS BASE_LANGS
            BASE_TAIL,
        "t.json: $.expiry: missing (an object with relative_to and offset_days)");
    expect_error(BASE_HEAD BASE_TRIGGER BASE_TIMING BASE_EXPIRY BASE_CHANNELS
                     BASE_VARIANTS BASE_LANGS ",\"priority\":11" BASE_TAIL,
                 "t.json: $.priority: 11 is not an integer from 1 to 10");
    expect_error(BASE_HEAD BASE_TRIGGER BASE_TIMING BASE_EXPIRY BASE_CHANNELS
                     BASE_VARIANTS BASE_LANGS ",\"mandatory\":\"yes\"" BASE_TAIL,
                 "t.json: $.mandatory: expected true or false, got a string");
    expect_error(BASE_HEAD "\"trigger\":{\"event\":\"id-card\"}," BASE_TIMING BASE_EXPIRY
                     BASE_CHANNELS BASE_VARIANTS BASE_LANGS BASE_TAIL,
                 "t.json: $.trigger.event: \"id-card\" is not a Seintje event type "
                 "(be.seintje.life.<event> or be.seintje.service.<name>)");
}

static void test_channels(void **state)
{
    (void)state;
    expect_error(BASE_HEAD BASE_TRIGGER BASE_TIMING BASE_EXPIRY
                 "\"channels\":[\"app\",\"fax\"]," BASE_VARIANTS BASE_LANGS BASE_TAIL,
                 "t.json: $.channels[1]: \"fax\" is not a channel (email, sms, app)");
    expect_error(BASE_HEAD BASE_TRIGGER BASE_TIMING BASE_EXPIRY
                 "\"channels\":[\"app\",\"app\"]," BASE_VARIANTS BASE_LANGS BASE_TAIL,
                 "t.json: $.channels[1]: \"app\" appears twice");
    expect_error(BASE_HEAD BASE_TRIGGER BASE_TIMING BASE_EXPIRY
                 "\"channels\":[]," BASE_VARIANTS BASE_LANGS BASE_TAIL,
                 "t.json: $.channels: must name at least one channel");
    expect_error(
        BASE_HEAD BASE_TRIGGER BASE_TIMING BASE_EXPIRY
        "\"channels\":\"email\"," BASE_VARIANTS BASE_LANGS BASE_TAIL,
        "t.json: $.channels: expected a list of channels (email, sms, app), got a "
        "string");
    expect_error(BASE_HEAD BASE_TRIGGER BASE_TIMING BASE_EXPIRY
                 "\"channels\":[3]," BASE_VARIANTS BASE_LANGS BASE_TAIL,
                 "t.json: $.channels[0]: expected a channel name, got an integer");
}

static void test_variants(void **state)
{
    (void)state;
    expect_error(BASE_HEAD BASE_TRIGGER BASE_TIMING BASE_EXPIRY BASE_CHANNELS
                 "\"variants\":[{\"id\":\"a\",\"weight\":50},{\"id\":\"b\",\"weight\":40}"
                 "]," BASE_LANGS BASE_TAIL,
                 "t.json: $.variants: weights add up to 90; they must add up to 100");
    expect_error(BASE_HEAD BASE_TRIGGER BASE_TIMING BASE_EXPIRY BASE_CHANNELS
                 "\"variants\":[{\"id\":\"a\",\"weight\":50},{\"id\":\"a\",\"weight\":50}"
                 "]," BASE_LANGS BASE_TAIL,
                 "t.json: $.variants[1]: variant id \"a\" appears twice");
    expect_error(BASE_HEAD BASE_TRIGGER BASE_TIMING BASE_EXPIRY BASE_CHANNELS
                 "\"variants\":[{\"id\":\"a\",\"weight\":150}]," BASE_LANGS BASE_TAIL,
                 "t.json: $.variants[0].weight: 150 is not an integer from 0 to 100");
    expect_error(BASE_HEAD BASE_TRIGGER BASE_TIMING BASE_EXPIRY BASE_CHANNELS
                 "\"variants\":[{\"id\":\"a\"}]," BASE_LANGS BASE_TAIL,
                 "t.json: $.variants[0].weight: missing (an integer from 0 to 100)");
    expect_error(
        BASE_HEAD BASE_TRIGGER BASE_TIMING BASE_EXPIRY BASE_CHANNELS
        "\"variants\":[{\"id\":\"a\",\"weight\":100,\"template\":\"x\"}]," BASE_LANGS
            BASE_TAIL,
        "t.json: $.variants[0].template: unknown key (allowed: id, weight)");
}

static void test_languages(void **state)
{
    (void)state;
    expect_error(
        BASE_HEAD BASE_TRIGGER BASE_TIMING BASE_EXPIRY BASE_CHANNELS BASE_VARIANTS
        "\"languages\":[\"nl\",\"es\"],\"default_language\":\"nl\"" BASE_TAIL,
        "t.json: $.languages[1]: \"es\" is not a language (nl, fr, de, en)");
    expect_error(
        BASE_HEAD BASE_TRIGGER BASE_TIMING BASE_EXPIRY BASE_CHANNELS BASE_VARIANTS
        "\"languages\":[\"nl\",\"fr\"],\"default_language\":\"de\"" BASE_TAIL,
        "t.json: $.default_language: \"de\" is not one of $.languages");
}

static void test_variant_and_language_choice(void **state)
{
    (void)state;
    sj_campaign_t c;
    assert_int_equal(parse(BASE_HEAD BASE_TRIGGER BASE_TIMING BASE_EXPIRY BASE_CHANNELS
                           "\"variants\":[{\"id\":\"a\",\"weight\":50},{\"id\":\"b\","
                           "\"weight\":50}]," BASE_LANGS BASE_TAIL,
                           &c),
                     SJ_OK);
    char pseudo[65];
    unsigned a = 0;
    for (int i = 0; i < 1000; i++) {
        snprintf(pseudo, sizeof pseudo, "%064d", i);
        const sj_campaign_variant_t *v = sj_campaign_variant_for(&c, pseudo);
        assert_ptr_equal(v, sj_campaign_variant_for(&c, pseudo)); /* sticky */
        a += !strcmp(v->id, "a");
    }
    assert_in_range(a, 420, 580); /* about half */
    /* Language fallback: the resident's language when offered, else default. */
    assert_string_equal(sj_campaign_language_for(&c, "fr"), "fr");
    assert_string_equal(sj_campaign_language_for(&c, "de"), "nl");
    assert_string_equal(sj_campaign_language_for(&c, NULL), "nl");
}

static void test_duplicate_ids_in_dir(void **state)
{
    (void)state;
    char dir[] = "/tmp/sj_campaigns_XXXXXX";
    assert_non_null(mkdtemp(dir));
    const char *j = BASE_HEAD BASE_TRIGGER BASE_TIMING BASE_EXPIRY BASE_CHANNELS
        BASE_VARIANTS BASE_LANGS BASE_TAIL;
    char path[256], expect[512];
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%c.json", dir, 'a' + i);
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs(j, f);
        fclose(f);
    }
    assert_null(sj_campaigns_load_dir(dir, err, sizeof err));
    snprintf(expect, sizeof expect, "%s/b.json: $.id: \"c1\" is also the id of %s/a.json",
             dir, dir);
    assert_string_equal(err, expect);
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%c.json", dir, 'a' + i);
        remove(path);
    }
    remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_minimal),
        cmocka_unit_test(test_examples_load),
        cmocka_unit_test(test_syntax_error),
        cmocka_unit_test(test_not_an_object),
        cmocka_unit_test(test_audience_refused),
        cmocka_unit_test(test_unknown_keys),
        cmocka_unit_test(test_missing_and_types),
        cmocka_unit_test(test_channels),
        cmocka_unit_test(test_variants),
        cmocka_unit_test(test_languages),
        cmocka_unit_test(test_variant_and_language_choice),
        cmocka_unit_test(test_duplicate_ids_in_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
