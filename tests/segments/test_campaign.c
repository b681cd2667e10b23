/* Unit tests for campaign loading (format v2): the example campaigns load,
 * every key is read into the struct, every kind of mistake an officer can
 * make is refused with the exact message (file, JSON path, problem) that the
 * documentation promises, the audience rule is owned and released (run under
 * ASan to see leaks), variants come from the experiment bucket, the template
 * check names what is missing (fixtures in tests/segments/data/), and the
 * one-line description `seintje campaign validate` prints. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
#define BASE_GOAL     "\"goal\":{\"events\":[\"be.seintje.service.id-card-requested\"]},"
#define BASE_REST     BASE_CHANNELS BASE_VARIANTS BASE_LANGS BASE_TAIL

/* The base campaign with `extra` (keys and a trailing comma) before channels. */
#define WITH(extra) BASE_HEAD BASE_TRIGGER BASE_TIMING BASE_EXPIRY extra BASE_REST

static char err[1024];

static int parse(const char *json, sj_campaign_t *c)
{
    err[0] = '\0';
    return sj_campaign_parse(json, strlen(json), "t.json", c, err, sizeof err);
}

static void expect_error(const char *json, const char *message)
{
    sj_campaign_t c;
    int st = parse(json, &c);
    if (st == SJ_OK) sj_campaign_release(&c);
    assert_int_equal(st, SJ_ERR_INPUT);
    assert_string_equal(err, message);
    /* A refused campaign is zeroed and owns nothing. */
    static const sj_campaign_t zero;
    assert_memory_equal(&c, &zero, sizeof c);
}

static void source_path(char *out, size_t size, const char *rel)
{
    const char *src = getenv("SEINTJE_SOURCE_DIR");
    snprintf(out, size, "%s/%s", src ? src : ".", rel);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* ---- valid campaigns --------------------------------------------------------- */

static void test_valid_minimal(void **state)
{
    (void)state;
    sj_campaign_t c;
    assert_int_equal(parse(WITH(""), &c), SJ_OK);
    assert_string_equal(c.id, "c1");
    assert_int_equal(c.trigger_kind, SJ_TRIGGER_EVENT);
    assert_string_equal(c.trigger_event, "be.seintje.life.id-card-expiring");
    assert_null(c.audience);
    assert_string_equal(c.timing.relative_to, "data.expires");
    assert_int_equal(c.timing.offset_days, -60);
    assert_int_equal(c.timing.at_minutes, 9 * 60); /* default send time */
    assert_true(c.has_expiry);
    assert_int_equal(c.expiry.at_minutes, 0);
    assert_int_equal(c.n_reminders, 0);
    assert_int_equal(c.n_goal_events, 0);
    assert_int_equal(c.goal_window_days, 0);
    assert_false(c.window.set);
    assert_int_equal(c.n_channels, 3);
    assert_int_equal(c.channels[0], SJ_CHANNEL_APP);
    assert_int_equal(c.channels[2], SJ_CHANNEL_SMS);
    assert_int_equal(c.n_variants, 1);
    assert_int_equal(c.variants[0].weight, 100);
    assert_false(c.variants[0].holdout);
    assert_string_equal(c.experiment, "c1"); /* defaults to the campaign id */
    assert_string_equal(c.default_language, "nl");
    assert_false(c.mandatory);
    assert_int_equal(c.priority, 5);
    assert_string_equal(c.source, "t.json");
    sj_campaign_release(&c);
}

static const char full_v2[] =
    "{\"id\":\"id-card\",\"name\":\"Renew\",\"description\":\"d\",\"topic\":\"identity\","
    "\"trigger\":{\"event\":\"be.seintje.life.id-card-expiring\"},"
    "\"audience\":{\">=\":[{\"var\":\"resident.age\"},18]},"
    "\"timing\":{\"relative_to\":\"data.expires\",\"offset_days\":-60,\"at\":\"09:30\"},"
    "\"expiry\":{\"relative_to\":\"data.expires\",\"offset_days\":0,\"at\":\"06:00\"},"
    "\"reminders\":[{\"id\":\"reminder-1\",\"after_days\":21,\"at\":\"10:00\"},"
    "{\"id\":\"reminder-2\",\"after_days\":42}],"
    "\"goal\":{\"events\":[\"be.seintje.service.id-card-requested\","
    "\"be.seintje.life.moved-out\"],\"window_days\":120},"
    "\"send_window\":{\"days\":[\"mon\",\"wed\",\"sun\"],\"from\":\"08:00\","
    "\"to\":\"24:00\"},"
    "\"channels\":[\"app\",\"email\",\"sms\"],"
    "\"variants\":[{\"id\":\"plain\",\"weight\":45},{\"id\":\"deadline\",\"weight\":45,"
    "\"holdout\":false},{\"id\":\"holdout\",\"weight\":10,\"holdout\":true}],"
    "\"experiment\":\"id-card-2026\","
    "\"languages\":[\"nl\",\"fr\",\"en\"],\"default_language\":\"fr\","
    "\"mandatory\":false,\"priority\":7}";

static void test_valid_v2(void **state)
{
    (void)state;
    sj_campaign_t c;
    assert_int_equal(parse(full_v2, &c), SJ_OK);
    assert_non_null(c.audience);
    assert_int_equal(c.timing.at_minutes, 9 * 60 + 30);
    assert_true(c.has_expiry);
    assert_int_equal(c.expiry.at_minutes, 6 * 60);
    assert_int_equal(c.n_reminders, 2);
    assert_string_equal(c.reminders[0].id, "reminder-1");
    assert_int_equal(c.reminders[0].after_days, 21);
    assert_int_equal(c.reminders[0].at_minutes, 10 * 60);
    assert_string_equal(c.reminders[1].id, "reminder-2");
    assert_int_equal(c.reminders[1].after_days, 42);
    assert_int_equal(c.reminders[1].at_minutes, 9 * 60 + 30); /* timing's at */
    assert_int_equal(c.n_goal_events, 2);
    assert_string_equal(c.goal_events[0], "be.seintje.service.id-card-requested");
    assert_string_equal(c.goal_events[1], "be.seintje.life.moved-out");
    assert_int_equal(c.goal_window_days, 120);
    assert_true(c.window.set);
    assert_int_equal(c.window.days, 1u << 0 | 1u << 2 | 1u << 6); /* bit 0 = Monday */
    assert_int_equal(c.window.from_minutes, 8 * 60);
    assert_int_equal(c.window.to_minutes, 24 * 60);
    assert_int_equal(c.n_variants, 3);
    assert_false(c.variants[0].holdout);
    assert_false(c.variants[1].holdout);
    assert_true(c.variants[2].holdout);
    assert_int_equal(c.variants[2].weight, 10);
    assert_string_equal(c.experiment, "id-card-2026");
    assert_string_equal(c.default_language, "fr");
    assert_int_equal(c.priority, 7);

    /* The audience rule is compiled and sees {resident, event, now}. */
    json_t *adult = json_pack("{s:i}", "age", 30), *child = json_pack("{s:i}", "age", 12);
    json_t *d1 = sj_rule_data_new(adult, NULL, 0), *d2 = sj_rule_data_new(child, NULL, 0);
    bool in = false;
    assert_int_equal(sj_rule_match(c.audience, d1, NULL, &in, NULL), SJ_OK);
    assert_true(in);
    assert_int_equal(sj_rule_match(c.audience, d2, NULL, &in, NULL), SJ_OK);
    assert_false(in);
    json_decref(d1);
    json_decref(d2);
    json_decref(adult);
    json_decref(child);
    sj_campaign_release(&c);
    assert_null(c.audience);
}

static void test_examples_load(void **state)
{
    (void)state;
    char dir[4096];
    source_path(dir, sizeof dir, "segments/campaigns");
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
            assert_int_equal(c->n_reminders, 2);
            assert_string_equal(c->experiment, "id-card-2026");
            assert_true(c->variants[c->n_variants - 1].holdout);
        }
        if (!strcmp(c->id, "welcome-new-resident")) {
            welcome = true;
            assert_string_equal(c->trigger_event, "be.seintje.life.moved-in");
            assert_non_null(c->audience);
        }
    }
    assert_true(id_card && welcome);
    assert_null(sj_campaigns_get(set, sj_campaigns_count(set)));
    sj_campaigns_destroy(set);
    sj_campaigns_destroy(NULL);
}

/* The campaigns of the engine's integration test load as well. */
static void test_engine_campaigns_load(void **state)
{
    (void)state;
    char dir[4096];
    source_path(dir, sizeof dir, "tests/segments/engine/campaigns");
    sj_campaigns_t *set = sj_campaigns_load_dir(dir, err, sizeof err);
    if (!set) fail_msg("%s", err);
    assert_true(sj_campaigns_count(set) >= 8);
    sj_campaigns_destroy(set);
}

/* ---- syntax, keys, types ----------------------------------------------------- */

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

static void test_unknown_keys(void **state)
{
    (void)state;
    expect_error(WITH("\"chanels\":[],"),
                 "t.json: $.chanels: unknown key (allowed: id, name, description, topic, "
                 "trigger, audience, timing, expiry, reminders, goal, send_window, "
                 "channels, variants, experiment, languages, default_language, "
                 "mandatory, priority)");
    expect_error(BASE_HEAD
                 "\"trigger\":{\"evnt\":\"x\"}," BASE_TIMING BASE_EXPIRY BASE_REST,
                 "t.json: $.trigger.evnt: unknown key (allowed: event, schedule)");
    expect_error(
        BASE_HEAD BASE_TRIGGER
        "\"timing\":{\"relative_to\":\"time\",\"offset_days\":1,\"hour\":9}," BASE_EXPIRY
            BASE_REST,
        "t.json: $.timing.hour: unknown key (allowed: relative_to, offset_days, at)");
    /* Keys that belong elsewhere say where. */
    expect_error(WITH("\"schedule\":\"batch\","),
                 "t.json: $.schedule: unknown key; a batch campaign says \"trigger\": "
                 "{\"schedule\": \"batch\"}");
    expect_error(WITH("\"holdout\":10,"),
                 "t.json: $.holdout: unknown key; a holdout is a variant with "
                 "\"holdout\": true");
    expect_error(WITH("\"caps\":{},"),
                 "t.json: $.caps: unknown key; frequency caps are the settings "
                 "nudge.cap-count and nudge.cap-days");
    expect_error(WITH("\"window\":{},"),
                 "t.json: $.window: unknown key; did you mean send_window?");
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
                 "\"timing\":{\"relative_to\":\"time\"}," BASE_EXPIRY BASE_REST,
                 "t.json: $.timing.offset_days: missing (an integer from -3650 to 3650)");
    expect_error(
        BASE_HEAD BASE_TRIGGER
        "\"timing\":{\"relative_to\":\"time\",\"offset_days\":\"-60\"}," BASE_EXPIRY
            BASE_REST,
        "t.json: $.timing.offset_days: expected an integer from -3650 to 3650, got a "
        "string");
    expect_error(
        BASE_HEAD BASE_TRIGGER
        "\"timing\":{\"relative_to\":\"time\",\"offset_days\":1,\"at\":\"25:00\"}"
        "," BASE_EXPIRY BASE_REST,
        "t.json: $.timing.at: \"25:00\" is not a time of day \"HH:MM\" (00:00 to "
        "23:59)");
    expect_error(
        BASE_HEAD BASE_TRIGGER BASE_EXPIRY BASE_REST,
        "t.json: $.timing: missing (an object with relative_to and offset_days)");
    expect_error(BASE_HEAD BASE_TRIGGER BASE_TIMING "\"expiry\":[]," BASE_REST,
                 "t.json: $.expiry: expected an object with relative_to and offset_days, "
                 "got an array");
    expect_error(BASE_HEAD BASE_TRIGGER BASE_TIMING BASE_EXPIRY BASE_CHANNELS
                     BASE_VARIANTS BASE_LANGS ",\"priority\":11" BASE_TAIL,
                 "t.json: $.priority: 11 is not an integer from 1 to 10");
    expect_error(BASE_HEAD BASE_TRIGGER BASE_TIMING BASE_EXPIRY BASE_CHANNELS
                     BASE_VARIANTS BASE_LANGS ",\"mandatory\":\"yes\"" BASE_TAIL,
                 "t.json: $.mandatory: expected true or false, got a string");
    expect_error(BASE_HEAD BASE_TRIGGER BASE_TIMING BASE_EXPIRY BASE_CHANNELS
                     BASE_VARIANTS BASE_LANGS ",\"description\":1" BASE_TAIL,
                 "t.json: $.description: expected a text, got an integer");
}

/* ---- trigger ------------------------------------------------------------------- */

#define BATCH_HEAD                                                                       \
    BASE_HEAD "\"trigger\":{\"schedule\":\"batch\"},"                                    \
              "\"timing\":{\"relative_to\":\"time\",\"offset_days\":0},"

static void test_trigger(void **state)
{
    (void)state;
    sj_campaign_t c;
    assert_int_equal(parse(BATCH_HEAD BASE_REST, &c), SJ_OK);
    assert_int_equal(c.trigger_kind, SJ_TRIGGER_BATCH);
    assert_string_equal(c.trigger_event, "");
    assert_false(c.has_expiry);
    sj_campaign_release(&c);
    /* A batch counts from the batch date or a profile date, not event data. */
    assert_int_equal(parse(BASE_HEAD
                           "\"trigger\":{\"schedule\":\"batch\"},"
                           "\"timing\":{\"relative_to\":\"resident.id_card_expires\","
                           "\"offset_days\":-60},"
                           "\"expiry\":{\"relative_to\":\"resident.id_card_expires\","
                           "\"offset_days\":0}," BASE_REST,
                           &c),
                     SJ_OK);
    assert_string_equal(c.timing.relative_to, "resident.id_card_expires");
    assert_true(c.has_expiry);
    sj_campaign_release(&c);
    expect_error(
        BASE_HEAD "\"trigger\":{\"schedule\":\"batch\"}," BASE_TIMING BASE_REST,
        "t.json: $.timing.relative_to: \"data.expires\": a batch campaign has no "
        "event data; count from \"time\" (the batch date) or "
        "\"resident.<field>\"");
    expect_error(
        BATCH_HEAD BASE_EXPIRY BASE_REST,
        "t.json: $.expiry.relative_to: \"data.expires\": a batch campaign has no "
        "event data; count from \"time\" (the batch date) or "
        "\"resident.<field>\"");
    expect_error(BASE_HEAD "\"trigger\":{\"schedule\":\"daily\"}," BASE_TIMING BASE_REST,
                 "t.json: $.trigger.schedule: \"daily\" is not a schedule (batch)");
    expect_error(BASE_HEAD "\"trigger\":{\"schedule\":true}," BASE_TIMING BASE_REST,
                 "t.json: $.trigger.schedule: expected \"batch\", got true/false");
    expect_error(BASE_HEAD "\"trigger\":{\"schedule\":\"batch\",\"event\":"
                           "\"be.seintje.life.birth\"}," BASE_TIMING BASE_REST,
                 "t.json: $.trigger: has both \"event\" and \"schedule\"; a campaign is "
                 "triggered by an event or run as a batch, not both");
    expect_error(BASE_HEAD "\"trigger\":{}," BASE_TIMING BASE_REST,
                 "t.json: $.trigger: needs \"event\" (a life-event type) or \"schedule\" "
                 "(\"batch\")");
    expect_error(BASE_HEAD "\"trigger\":\"batch\"," BASE_TIMING BASE_REST,
                 "t.json: $.trigger: expected an object {\"event\": type} or "
                 "{\"schedule\": \"batch\"}, got a string");
    expect_error(BASE_HEAD
                 "\"trigger\":{\"event\":\"id-card\"}," BASE_TIMING BASE_EXPIRY BASE_REST,
                 "t.json: $.trigger.event: \"id-card\" is not a Seintje event type "
                 "(be.seintje.life.<event> or be.seintje.service.<name>)");
    expect_error(
        BASE_HEAD
        "\"trigger\":{\"event\":\"be.seintje.life.id-card-expirng\"}," BASE_TIMING
            BASE_EXPIRY BASE_REST,
        "t.json: $.trigger.event: \"be.seintje.life.id-card-expirng\" is not in "
        "the life-event catalogue (`seintje produce --catalogue` lists the "
        "types)");
}

/* ---- audience ------------------------------------------------------------------ */

static void test_audience(void **state)
{
    (void)state;
    sj_campaign_t c;
    assert_int_equal(parse(WITH("\"audience\":true,"), &c), SJ_OK);
    assert_non_null(c.audience);
    sj_campaign_release(&c);
    expect_error(WITH("\"audience\":{\"and\":[{\"==\":[1,1]},{\"equals\":[1,2]}]},"),
                 "t.json: $.audience.and[1]: unknown operator \"equals\"");
    expect_error(WITH("\"audience\":{\"==\":[1,2,3]},"),
                 "t.json: $.audience: \"==\" takes 2 arguments, got 3");
    expect_error(WITH("\"audience\":{\"!\":{\"foo\":1}},"),
                 "t.json: $.audience[\"!\"]: unknown operator \"foo\"");
    expect_error(
        WITH("\"audience\":{},"),
        "t.json: $.audience: an operation is an object with exactly one key, the "
        "operator; this one has 0");
    expect_error(
        WITH("\"audience\":null,"),
        "t.json: $.audience: expected a JsonLogic rule, got null (remove the key "
        "to target everyone the trigger concerns)");
}

/* ---- timing and expiry --------------------------------------------------------- */

static void test_relative_to(void **state)
{
    (void)state;
    sj_campaign_t c;
    assert_int_equal(
        parse(BASE_HEAD BASE_TRIGGER
              "\"timing\":{\"relative_to\":\"resident.id_card_expires\",\"offset_days\":"
              "-30}," BASE_REST,
              &c),
        SJ_OK);
    assert_string_equal(c.timing.relative_to, "resident.id_card_expires");
    sj_campaign_release(&c);
    expect_error(
        BASE_HEAD BASE_TRIGGER
        "\"timing\":{\"relative_to\":\"expires\",\"offset_days\":1}," BASE_EXPIRY
            BASE_REST,
        "t.json: $.timing.relative_to: \"expires\" is not \"time\", \"data.<field>\" or "
        "\"resident.<field>\" (field: lowercase letters, digits, '_')");
    expect_error(
        BASE_HEAD BASE_TRIGGER
        "\"timing\":{\"relative_to\":\"data.\",\"offset_days\":1}," BASE_EXPIRY BASE_REST,
        "t.json: $.timing.relative_to: \"data.\" is not \"time\", \"data.<field>\" or "
        "\"resident.<field>\" (field: lowercase letters, digits, '_')");
    expect_error(
        BASE_HEAD BASE_TRIGGER "\"timing\":{\"relative_to\":\"resident.birthdate\","
                               "\"offset_days\":1}," BASE_EXPIRY BASE_REST,
        "t.json: $.timing.relative_to: \"resident.birthdate\" is not a date in the "
        "resident's profile (birth_date, id_card_expires, resident_since, "
        "moved_out_on, deceased_on)");
}

static void test_expiry(void **state)
{
    (void)state;
    sj_campaign_t c;
    /* Optional: without it, has_expiry is false and expiry zeroed. */
    assert_int_equal(parse(BASE_HEAD BASE_TRIGGER BASE_TIMING BASE_REST, &c), SJ_OK);
    assert_false(c.has_expiry);
    assert_string_equal(c.expiry.relative_to, "");
    assert_int_equal(c.expiry.offset_days, 0);
    sj_campaign_release(&c);
    /* From different dates nothing can be compared: accepted. */
    assert_int_equal(
        parse(BASE_HEAD BASE_TRIGGER BASE_TIMING
              "\"expiry\":{\"relative_to\":\"time\",\"offset_days\":-90}," BASE_REST,
              &c),
        SJ_OK);
    sj_campaign_release(&c);
    expect_error(
        BASE_HEAD BASE_TRIGGER BASE_TIMING
        "\"expiry\":{\"relative_to\":\"data.expires\",\"offset_days\":-60,"
        "\"at\":\"09:00\"}," BASE_REST,
        "t.json: $.expiry: the campaign expires on day -60 from data.expires at "
        "09:00, at or before the first message (day -60 at 09:00): nothing would "
        "ever be sent");
    expect_error(
        BASE_HEAD BASE_TRIGGER BASE_TIMING BASE_EXPIRY BASE_GOAL
        "\"reminders\":[{\"id\":\"r1\",\"after_days\":30},{\"id\":\"r2\","
        "\"after_days\":60}]," BASE_REST,
        "t.json: $.reminders[1].after_days: the reminder falls on day 0 from "
        "data.expires at 09:00 at the earliest, at or after the expiry (day 0 at "
        "00:00): it would never be sent");
}

/* ---- reminders and goal -------------------------------------------------------- */

static void test_reminders(void **state)
{
    (void)state;
    sj_campaign_t c;
    assert_int_equal(parse(WITH(BASE_GOAL "\"reminders\":[],"), &c), SJ_OK);
    assert_int_equal(c.n_reminders, 0);
    sj_campaign_release(&c);
    expect_error(WITH("\"reminders\":[{\"id\":\"r1\",\"after_days\":7}],"),
                 "t.json: $.goal: missing (a campaign with reminders needs a goal: the "
                 "events that stop the reminders once the resident acted)");
    expect_error(WITH(BASE_GOAL "\"reminders\":{},"),
                 "t.json: $.reminders: expected a list of {\"id\", \"after_days\", "
                 "\"at\"} objects, got an object");
    expect_error(WITH(BASE_GOAL
                      "\"reminders\":[{\"id\":\"a\",\"after_days\":1},{\"id\":\"b\","
                      "\"after_days\":2},{\"id\":\"c\",\"after_days\":3},{\"id\":\"d\","
                      "\"after_days\":4},{\"id\":\"e\",\"after_days\":5}],"),
                 "t.json: $.reminders: more than 4 reminders");
    expect_error(WITH(BASE_GOAL "\"reminders\":[7],"),
                 "t.json: $.reminders[0]: expected an object {\"id\", \"after_days\", "
                 "\"at\"}, got an integer");
    expect_error(WITH(BASE_GOAL "\"reminders\":[{\"id\":\"r1\",\"after_days\":7,"
                                "\"channel\":\"sms\"}],"),
                 "t.json: $.reminders[0].channel: unknown key (allowed: id, after_days, "
                 "at)");
    expect_error(
        WITH(BASE_GOAL "\"reminders\":[{\"after_days\":7}],"),
        "t.json: $.reminders[0].id: missing (a name of lowercase letters, digits "
        "and '-')");
    expect_error(
        WITH(BASE_GOAL "\"reminders\":[{\"id\":\"Reminder 1\",\"after_days\":7}],"),
        "t.json: $.reminders[0].id: \"Reminder 1\" must be 1 to 63 lowercase "
        "letters, digits or '-', not starting with '-'");
    expect_error(WITH(BASE_GOAL "\"reminders\":[{\"id\":\"initial\",\"after_days\":7}],"),
                 "t.json: $.reminders[0].id: \"initial\" is the name of the first "
                 "message; choose another id");
    expect_error(WITH(BASE_GOAL "\"reminders\":[{\"id\":\"r\",\"after_days\":7},"
                                "{\"id\":\"r\",\"after_days\":14}],"),
                 "t.json: $.reminders[1].id: \"r\" is also the id of $.reminders[0]");
    expect_error(WITH(BASE_GOAL "\"reminders\":[{\"id\":\"r\"}],"),
                 "t.json: $.reminders[0].after_days: missing (an integer from 1 to 365)");
    expect_error(WITH(BASE_GOAL "\"reminders\":[{\"id\":\"r\",\"after_days\":0}],"),
                 "t.json: $.reminders[0].after_days: 0 is not an integer from 1 to 365");
    expect_error(
        WITH(BASE_GOAL "\"reminders\":[{\"id\":\"r\",\"after_days\":366}],"),
        "t.json: $.reminders[0].after_days: 366 is not an integer from 1 to 365");
    expect_error(WITH(BASE_GOAL "\"reminders\":[{\"id\":\"a\",\"after_days\":14},"
                                "{\"id\":\"b\",\"after_days\":14}],"),
                 "t.json: $.reminders[1].after_days: 14 is not after "
                 "$.reminders[0].after_days (14); reminders come in order");
    expect_error(
        WITH(BASE_GOAL
             "\"reminders\":[{\"id\":\"a\",\"after_days\":14,\"at\":\"9:00\"}],"),
        "t.json: $.reminders[0].at: \"9:00\" is not a time of day \"HH:MM\" "
        "(00:00 to 23:59)");
}

static void test_goal(void **state)
{
    (void)state;
    sj_campaign_t c;
    assert_int_equal(parse(WITH(BASE_GOAL), &c), SJ_OK);
    assert_int_equal(c.n_goal_events, 1);
    assert_int_equal(c.goal_window_days, 90); /* default */
    sj_campaign_release(&c);
    /* Required with more than one variant (the experiment's outcome). */
    expect_error(BASE_HEAD BASE_TRIGGER BASE_TIMING BASE_EXPIRY BASE_CHANNELS
                 "\"variants\":[{\"id\":\"a\",\"weight\":50},{\"id\":\"b\",\"weight\":50}"
                 "]," BASE_LANGS BASE_TAIL,
                 "t.json: $.goal: missing (a campaign with more than one variant needs a "
                 "goal: the events an experiment counts as the outcome)");
    expect_error(WITH("\"goal\":\"be.seintje.service.id-card-requested\","),
                 "t.json: $.goal: expected an object {\"events\": [types], "
                 "\"window_days\": days}, got a string");
    expect_error(WITH("\"goal\":{\"event\":[]},"),
                 "t.json: $.goal.event: unknown key (allowed: events, window_days)");
    expect_error(WITH("\"goal\":{\"window_days\":30},"),
                 "t.json: $.goal.events: missing (a list of 1 to 4 life-event types)");
    expect_error(WITH("\"goal\":{\"events\":[]},"),
                 "t.json: $.goal.events: must name at least one event type");
    expect_error(
        WITH("\"goal\":{\"events\":[\"be.seintje.life.birth\",\"be.seintje.life."
             "marriage\",\"be.seintje.life.moved-in\",\"be.seintje.life.moved-out\","
             "\"be.seintje.life.deceased\"]},"),
        "t.json: $.goal.events: more than 4 event types");
    expect_error(WITH("\"goal\":{\"events\":[1]},"),
                 "t.json: $.goal.events[0]: expected a life-event type, got an integer");
    expect_error(WITH("\"goal\":{\"events\":[\"id-card-requested\"]},"),
                 "t.json: $.goal.events[0]: \"id-card-requested\" is not a Seintje event "
                 "type (be.seintje.life.<event> or be.seintje.service.<name>)");
    expect_error(
        WITH("\"goal\":{\"events\":[\"be.seintje.service.id-card-request\"]},"),
        "t.json: $.goal.events[0]: \"be.seintje.service.id-card-request\" is not "
        "in the life-event catalogue (`seintje produce --catalogue` lists the "
        "types)");
    expect_error(WITH("\"goal\":{\"events\":[\"be.seintje.life.birth\","
                      "\"be.seintje.life.birth\"]},"),
                 "t.json: $.goal.events[1]: \"be.seintje.life.birth\" appears twice");
    expect_error(WITH("\"goal\":{\"events\":[\"be.seintje.life.birth\"],"
                      "\"window_days\":0},"),
                 "t.json: $.goal.window_days: 0 is not an integer from 1 to 365");
    expect_error(WITH("\"goal\":{\"events\":[\"be.seintje.life.birth\"],"
                      "\"window_days\":366},"),
                 "t.json: $.goal.window_days: 366 is not an integer from 1 to 365");
}

/* ---- send window ----------------------------------------------------------------- */

static void test_send_window(void **state)
{
    (void)state;
    sj_campaign_t c;
    assert_int_equal(parse(WITH("\"send_window\":{\"days\":[\"sat\",\"fri\"],\"from\":"
                                "\"00:00\",\"to\":\"00:01\"},"),
                           &c),
                     SJ_OK);
    assert_true(c.window.set);
    assert_int_equal(c.window.days, 1u << 4 | 1u << 5);
    assert_int_equal(c.window.from_minutes, 0);
    assert_int_equal(c.window.to_minutes, 1);
    sj_campaign_release(&c);
    expect_error(WITH("\"send_window\":\"mon-fri 09:00-18:00\","),
                 "t.json: $.send_window: expected an object {\"days\": [...], \"from\": "
                 "\"HH:MM\", \"to\": \"HH:MM\"}, got a string");
    expect_error(WITH("\"send_window\":{\"days\":[\"mon\"],\"from\":\"09:00\",\"to\":"
                      "\"18:00\",\"tz\":\"UTC\"},"),
                 "t.json: $.send_window.tz: unknown key (allowed: days, from, to)");
    expect_error(
        WITH("\"send_window\":{\"from\":\"09:00\",\"to\":\"18:00\"},"),
        "t.json: $.send_window.days: missing (a list of days (mon, tue, wed, thu, "
        "fri, sat, sun))");
    expect_error(
        WITH("\"send_window\":{\"days\":[],\"from\":\"09:00\",\"to\":\"18:00\"},"),
        "t.json: $.send_window.days: must name at least one day");
    expect_error(
        WITH("\"send_window\":{\"days\":[\"mon\",\"Tue\"],\"from\":\"09:00\","
             "\"to\":\"18:00\"},"),
        "t.json: $.send_window.days[1]: \"Tue\" is not a day (mon, tue, wed, thu, "
        "fri, sat, sun)");
    expect_error(WITH("\"send_window\":{\"days\":[\"mon\",\"mon\"],\"from\":\"09:00\","
                      "\"to\":\"18:00\"},"),
                 "t.json: $.send_window.days[1]: \"mon\" appears twice");
    expect_error(WITH("\"send_window\":{\"days\":[\"mon\"],\"to\":\"18:00\"},"),
                 "t.json: $.send_window.from: missing (a time of day \"HH:MM\")");
    expect_error(WITH("\"send_window\":{\"days\":[\"mon\"],\"from\":\"24:00\","
                      "\"to\":\"18:00\"},"),
                 "t.json: $.send_window.from: \"24:00\" is not a time of day \"HH:MM\" "
                 "(00:00 to 23:59)");
    expect_error(WITH("\"send_window\":{\"days\":[\"mon\"],\"from\":\"09:00\","
                      "\"to\":\"24:01\"},"),
                 "t.json: $.send_window.to: \"24:01\" is not a time of day \"HH:MM\" "
                 "(00:00 to 24:00)");
    expect_error(WITH("\"send_window\":{\"days\":[\"mon\"],\"from\":\"18:00\","
                      "\"to\":\"09:00\"},"),
                 "t.json: $.send_window.to: \"09:00\" is not after from \"18:00\" (a "
                 "window cannot span midnight)");
    expect_error(WITH("\"send_window\":{\"days\":[\"mon\"],\"from\":\"09:00\","
                      "\"to\":\"09:00\"},"),
                 "t.json: $.send_window.to: \"09:00\" is not after from \"09:00\" (a "
                 "window cannot span midnight)");
}

/* ---- channels, variants, experiment, languages ---------------------------------- */

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

#define VARIANTS(list)                                                                   \
    BASE_HEAD BASE_TRIGGER BASE_TIMING BASE_EXPIRY BASE_GOAL BASE_CHANNELS               \
        "\"variants\":[" list "]," BASE_LANGS

static void test_variants(void **state)
{
    (void)state;
    expect_error(VARIANTS("{\"id\":\"a\",\"weight\":50},{\"id\":\"b\",\"weight\":40}")
                     BASE_TAIL,
                 "t.json: $.variants: weights add up to 90; they must add up to 100");
    expect_error(VARIANTS("{\"id\":\"a\",\"weight\":50},{\"id\":\"a\",\"weight\":50}")
                     BASE_TAIL,
                 "t.json: $.variants[1]: variant id \"a\" appears twice");
    expect_error(VARIANTS("{\"id\":\"a\",\"weight\":150}") BASE_TAIL,
                 "t.json: $.variants[0].weight: 150 is not an integer from 0 to 100");
    expect_error(VARIANTS("{\"id\":\"a\"}") BASE_TAIL,
                 "t.json: $.variants[0].weight: missing (an integer from 0 to 100)");
    expect_error(VARIANTS("{\"id\":\"a\",\"weight\":100,\"template\":\"x\"}") BASE_TAIL,
                 "t.json: $.variants[0].template: unknown key (allowed: id, weight, "
                 "holdout)");
    expect_error(VARIANTS("") BASE_TAIL,
                 "t.json: $.variants: must name at least one variant");
    expect_error(VARIANTS("\"a\"") BASE_TAIL,
                 "t.json: $.variants[0]: expected an object {\"id\", \"weight\"}, got a "
                 "string");
}

static void test_holdout(void **state)
{
    (void)state;
    sj_campaign_t c;
    assert_int_equal(parse(VARIANTS("{\"id\":\"a\",\"weight\":90},{\"id\":\"control\","
                                    "\"weight\":10,\"holdout\":true}") BASE_TAIL,
                           &c),
                     SJ_OK);
    assert_false(c.variants[0].holdout);
    assert_true(c.variants[1].holdout);
    sj_campaign_release(&c);
    /* A holdout of weight 0 holds nobody out, which is allowed. */
    assert_int_equal(parse(VARIANTS("{\"id\":\"a\",\"weight\":100},{\"id\":\"h\","
                                    "\"weight\":0,\"holdout\":true}") BASE_TAIL,
                           &c),
                     SJ_OK);
    sj_campaign_release(&c);
    expect_error(
        VARIANTS("{\"id\":\"a\",\"weight\":80},{\"id\":\"h1\",\"weight\":10,"
                 "\"holdout\":true},{\"id\":\"h2\",\"weight\":10,\"holdout\":"
                 "true}") BASE_TAIL,
        "t.json: $.variants[2]: \"h2\" is a second holdout variant (the first is "
        "$.variants[1]); at most one variant is held out");
    expect_error(VARIANTS("{\"id\":\"a\",\"weight\":90},{\"id\":\"h\",\"weight\":10,"
                          "\"holdout\":\"yes\"}") BASE_TAIL,
                 "t.json: $.variants[1].holdout: expected true or false, got a string");
    expect_error(VARIANTS("{\"id\":\"h\",\"weight\":100,\"holdout\":true}") BASE_TAIL,
                 "t.json: $.variants: the holdout takes every resident; at least one "
                 "variant that is not held out needs a weight above 0");
    expect_error(VARIANTS("{\"id\":\"a\",\"weight\":0},{\"id\":\"h\",\"weight\":100,"
                          "\"holdout\":true}") BASE_TAIL,
                 "t.json: $.variants: the holdout takes every resident; at least one "
                 "variant that is not held out needs a weight above 0");
    expect_error(VARIANTS("{\"id\":\"a\",\"weight\":90},{\"id\":\"h\",\"weight\":10,"
                          "\"holdout\":true}") ",\"mandatory\":true" BASE_TAIL,
                 "t.json: $.variants[1].holdout: a mandatory campaign cannot hold "
                 "residents out (every resident must get a legal notice)");
}

static void test_experiment(void **state)
{
    (void)state;
    sj_campaign_t c;
    assert_int_equal(parse(WITH("\"experiment\":\"exp-2026\","), &c), SJ_OK);
    assert_string_equal(c.experiment, "exp-2026");
    sj_campaign_release(&c);
    expect_error(WITH("\"experiment\":\"Exp 2026\","),
                 "t.json: $.experiment: \"Exp 2026\" must be 1 to 63 lowercase letters, "
                 "digits or '-', not starting with '-'");
    expect_error(WITH("\"experiment\":2026,"),
                 "t.json: $.experiment: expected a name of lowercase letters, digits and "
                 "'-', got an integer");
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

/* ---- choices ------------------------------------------------------------------- */

static void test_variant_and_language_choice(void **state)
{
    (void)state;
    sj_campaign_t c, d;
    assert_int_equal(
        parse(VARIANTS("{\"id\":\"a\",\"weight\":45},{\"id\":\"b\",\"weight\":"
                       "45},{\"id\":\"h\",\"weight\":10,\"holdout\":true}") BASE_TAIL,
              &c),
        SJ_OK);
    /* The same campaign with its own experiment id. */
    assert_int_equal(
        parse(
            VARIANTS(
                "{\"id\":\"a\",\"weight\":45},{\"id\":\"b\",\"weight\":"
                "45},{\"id\":\"h\",\"weight\":10,\"holdout\":true}") ",\"experiment\":"
                                                                     "\"exp\"" BASE_TAIL,
            &d),
        SJ_OK);
    char pseudo[65];
    unsigned a = 0, held = 0, moved = 0;
    const unsigned weights[] = {45, 45, 10};
    for (int i = 0; i < 2000; i++) {
        snprintf(pseudo, sizeof pseudo, "%064d", i);
        const sj_campaign_variant_t *v = sj_campaign_variant_for(&c, pseudo);
        assert_ptr_equal(v, sj_campaign_variant_for(&c, pseudo)); /* sticky */
        /* The experiment bucket of nudge.h decides, salted with the campaign id
         * when there is no experiment key. */
        assert_ptr_equal(
            v, &c.variants[sj_nudge_assign(sj_nudge_bucket("c1", pseudo), weights, 3)]);
        const sj_campaign_variant_t *w = sj_campaign_variant_for(&d, pseudo);
        assert_ptr_equal(
            w, &d.variants[sj_nudge_assign(sj_nudge_bucket("exp", pseudo), weights, 3)]);
        a += !strcmp(v->id, "a");
        held += v->holdout;
        moved += strcmp(v->id, w->id) != 0;
    }
    assert_in_range(a, 800, 1000);   /* about 45 % */
    assert_in_range(held, 140, 260); /* about 10 % */
    assert_true(moved > 500);        /* another experiment id reshuffles */
    /* Language fallback: the resident's language when offered, else default. */
    assert_string_equal(sj_campaign_language_for(&c, "fr"), "fr");
    assert_string_equal(sj_campaign_language_for(&c, "de"), "nl");
    assert_string_equal(sj_campaign_language_for(&c, NULL), "nl");
    sj_campaign_release(&c);
    sj_campaign_release(&d);
}

/* ---- ownership ----------------------------------------------------------------- */

static void test_release(void **state)
{
    (void)state;
    sj_campaign_t c;
    memset(&c, 0, sizeof c);
    sj_campaign_release(&c); /* zeroed: nothing to free */
    sj_campaign_release(NULL);
    assert_int_equal(parse(full_v2, &c), SJ_OK);
    sj_campaign_release(&c);
    sj_campaign_release(&c); /* twice: the pointer was cleared */
    /* An error after the audience was compiled frees it (ASan checks). */
    expect_error(WITH("\"audience\":{\"==\":[{\"var\":\"event.data.age\"},18]},"
                      "\"priority\":0,"),
                 "t.json: $.priority: 0 is not an integer from 1 to 10");
    expect_error(BASE_HEAD BASE_TRIGGER
                 "\"audience\":{\"==\":[1,1]}," BASE_TIMING BASE_EXPIRY
                 "\"channels\":[\"fax\"]," BASE_VARIANTS BASE_LANGS BASE_TAIL,
                 "t.json: $.channels[0]: \"fax\" is not a channel (email, sms, app)");
    /* A long file name is kept by its end. */
    char name[400];
    memset(name, 'x', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    memcpy(name + sizeof name - 8, ".json", 6);
    const char *j = WITH("");
    assert_int_equal(sj_campaign_parse(j, strlen(j), name, &c, err, sizeof err), SJ_OK);
    assert_int_equal(strlen(c.source), SJ_CAMPAIGN_SOURCE_MAX - 1);
    assert_memory_equal(c.source, "...xxx", 6);
    assert_string_equal(c.source + strlen(c.source) - 5, ".json");
    sj_campaign_release(&c);
}

static void test_load_file(void **state)
{
    (void)state;
    sj_campaign_t c;
    memset(&c, 0xff, sizeof c);
    assert_int_equal(sj_campaign_load_file("/nonexistent/c.json", &c, err, sizeof err),
                     SJ_ERR_IO);
    assert_string_equal(err,
                        "/nonexistent/c.json: cannot open: No such file or directory");
    assert_null(c.audience); /* zeroed: safe to release */
    sj_campaign_release(&c);
    char path[4096];
    source_path(path, sizeof path, "segments/campaigns/income-drop.json");
    assert_int_equal(sj_campaign_load_file(path, &c, err, sizeof err), SJ_OK);
    assert_non_null(c.audience);
    assert_string_equal(c.source + strlen(c.source) - 16, "income-drop.json");
    sj_campaign_release(&c);
}

static void test_load_dir(void **state)
{
    (void)state;
    char dir[] = "/tmp/sj_campaigns_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[3][256], expect[512];
    for (int i = 0; i < 3; i++)
        snprintf(path[i], sizeof path[i], "%s/%c.json", dir, 'a' + i);
    /* Every campaign owns a rule: destroying the set frees them all. */
    write_file(path[0], WITH("\"audience\":{\"==\":[1,1]},"));
    char second[2048];
    snprintf(second, sizeof second, "{\"id\":\"c2\"%s",
             WITH("\"audience\":{\"!\":[0]},") + strlen("{\"id\":\"c1\""));
    write_file(path[1], second);
    sj_campaigns_t *set = sj_campaigns_load_dir(dir, err, sizeof err);
    if (!set) fail_msg("%s", err);
    assert_int_equal(sj_campaigns_count(set), 2);
    assert_non_null(sj_campaigns_get(set, 0)->audience);
    assert_string_equal(sj_campaigns_get(set, 1)->id, "c2");
    assert_string_equal(sj_campaigns_get(set, 1)->source, path[1]);
    sj_campaigns_destroy(set);
    /* A bad file after good ones: nothing leaks, the error names the file. */
    write_file(path[2], WITH("\"audience\":{\"==\":[1]},"));
    assert_null(sj_campaigns_load_dir(dir, err, sizeof err));
    snprintf(expect, sizeof expect, "%s: $.audience: \"==\" takes 2 arguments, got 1",
             path[2]);
    assert_string_equal(err, expect);
    /* Two campaigns with the same id. */
    write_file(path[2], WITH(""));
    assert_null(sj_campaigns_load_dir(dir, err, sizeof err));
    snprintf(expect, sizeof expect, "%s: $.id: \"c1\" is also the id of %s/a.json",
             path[2], dir);
    assert_string_equal(err, expect);
    for (int i = 0; i < 3; i++) remove(path[i]);
    remove(dir);
}

/* ---- templates ----------------------------------------------------------------- */

#define TMPL_CAMPAIGN(channels, langs)                                                   \
    BASE_HEAD BASE_TRIGGER BASE_TIMING BASE_EXPIRY BASE_GOAL                             \
        "\"channels\":[" channels                                                        \
        "],\"variants\":[{\"id\":\"plain\",\"weight\":45},{\"id\":\"social\","           \
        "\"weight\":45},{\"id\":\"holdout\",\"weight\":10,\"holdout\":true}],"           \
        "\"languages\":[" langs "],\"default_language\":\"nl\"}"

static void check_templates(const char *json, const char *tdir, sj_status_t want,
                            const char *message)
{
    sj_campaign_t c;
    assert_int_equal(parse(json, &c), SJ_OK);
    err[0] = '\0';
    assert_int_equal(sj_campaign_check_templates(&c, tdir, err, sizeof err), want);
    if (message) assert_string_equal(err, message);
    sj_campaign_release(&c);
}

static void test_check_templates(void **state)
{
    (void)state;
    char tdir[4096], expect[8192];
    source_path(tdir, sizeof tdir, "tests/segments/data/templates");
    /* email and sms exist for both variants and languages; the holdout has
     * no directory and needs none. */
    check_templates(TMPL_CAMPAIGN("\"email\",\"sms\"", "\"nl\",\"fr\""), tdir, SJ_OK,
                    NULL);
    check_templates(TMPL_CAMPAIGN("\"sms\"", "\"nl\""), tdir, SJ_OK, NULL);
    /* A variant of weight 0 is never sent and needs no templates. */
    check_templates(BASE_HEAD BASE_TRIGGER BASE_TIMING BASE_EXPIRY BASE_GOAL
                    "\"channels\":[\"sms\"],\"variants\":[{\"id\":\"plain\",\"weight\":"
                    "100},{\"id\":\"later\",\"weight\":0}],\"languages\":[\"nl\"],"
                    "\"default_language\":\"nl\"}",
                    tdir, SJ_OK, NULL);
    /* social/fr lacks the app files. */
    snprintf(
        expect, sizeof expect,
        "t.json: $.variants[1] / $.languages[1] / $.channels[1]: "
        "%s/c1/social/fr/app.title.mustache is missing (variant \"social\", language "
        "\"fr\", channel app); 1 more template file is missing",
        tdir);
    check_templates(TMPL_CAMPAIGN("\"email\",\"app\"", "\"nl\",\"fr\""), tdir,
                    SJ_ERR_INPUT, expect);
    /* No English at all: every file of both variants, the first named. */
    snprintf(expect, sizeof expect,
             "t.json: $.variants[0] / $.languages[2] / $.channels[0]: "
             "%s/c1/plain/en/sms.mustache is missing (variant \"plain\", language "
             "\"en\", channel sms); 1 more template file is missing",
             tdir);
    check_templates(TMPL_CAMPAIGN("\"sms\"", "\"nl\",\"fr\",\"en\""), tdir, SJ_ERR_INPUT,
                    expect);
    snprintf(expect, sizeof expect,
             "t.json: $.variants[0] / $.languages[0] / $.channels[0]: "
             "%s/c1/plain/de/email.subject.mustache is missing (variant \"plain\", "
             "language \"de\", channel email); 9 more template files are missing",
             tdir);
    check_templates(
        BASE_HEAD BASE_TRIGGER BASE_TIMING BASE_EXPIRY BASE_GOAL
        "\"channels\":[\"email\",\"sms\",\"app\"],\"variants\":[{\"id\":\"plain\","
        "\"weight\":50},{\"id\":\"social\",\"weight\":50}],\"languages\":[\"de\"],"
        "\"default_language\":\"de\"}",
        tdir, SJ_ERR_INPUT, expect);
    /* A directory where a template file should be. */
    snprintf(expect, sizeof expect,
             "t.json: $.variants[0] / $.languages[0] / $.channels[0]: "
             "%s/c2/plain/nl/sms.mustache is not a file (variant \"plain\", language "
             "\"nl\", channel sms)",
             tdir);
    check_templates("{\"id\":\"c2\"," BASE_TRIGGER BASE_TIMING
                    "\"name\":\"n\",\"topic\":\"t\",\"channels\":[\"sms\"],\"variants\":"
                    "[{\"id\":\"plain\",\"weight\":100}],\"languages\":[\"nl\"],"
                    "\"default_language\":\"nl\"}",
                    tdir, SJ_ERR_INPUT, expect);
    check_templates(WITH(""), "/nonexistent/templates", SJ_ERR_INPUT,
                    "templates.dir /nonexistent/templates: not a directory");
}

/* The example campaigns have every template they need. */
static void test_examples_templates(void **state)
{
    (void)state;
    char dir[4096], tdir[4096];
    source_path(dir, sizeof dir, "segments/campaigns");
    source_path(tdir, sizeof tdir, "templates/campaigns");
    sj_campaigns_t *set = sj_campaigns_load_dir(dir, err, sizeof err);
    if (!set) fail_msg("%s", err);
    for (size_t i = 0; i < sj_campaigns_count(set); i++)
        if (sj_campaign_check_templates(sj_campaigns_get(set, i), tdir, err, sizeof err))
            fail_msg("%s", err);
    sj_campaigns_destroy(set);
}

/* ---- description --------------------------------------------------------------- */

static void expect_describe(const char *json, const sj_send_window_t *dw,
                            const char *line)
{
    sj_campaign_t c;
    char out[SJ_CAMPAIGN_DESCRIBE_MAX];
    assert_int_equal(parse(json, &c), SJ_OK);
    assert_string_equal(sj_campaign_describe(&c, dw, out, sizeof out), line);
    /* Short buffers truncate, NUL-terminated. */
    char small[16];
    sj_campaign_describe(&c, dw, small, sizeof small);
    assert_int_equal(strlen(small), sizeof small - 1);
    sj_campaign_release(&c);
}

static void test_describe(void **state)
{
    (void)state;
    sj_send_window_t dw = {
        .set = true, .days = 0x1f, .from_minutes = 540, .to_minutes = 1080};
    expect_describe(
        full_v2, &dw,
        "id-card, on be.seintje.life.id-card-expiring with an audience rule, "
        "60 days before data.expires at 09:30, reminders after 21 days at "
        "10:00 and 42 days at 09:30, goal be.seintje.service.id-card-requested "
        "or be.seintje.life.moved-out within 120 days, window mon,wed,sun "
        "08:00-24:00, experiment id-card-2026: plain 45% / deadline 45% / "
        "holdout 10% held out, channels app,email,sms");
    expect_describe(
        WITH(""), &dw,
        "c1, on be.seintje.life.id-card-expiring, 60 days before data.expires "
        "at 09:00, no reminders, window mon-fri 09:00-18:00 "
        "(nudge.send-window), variant plain 100%, channels app,email,sms");
    expect_describe(BATCH_HEAD BASE_CHANNELS BASE_VARIANTS BASE_LANGS
                    ",\"mandatory\":true" BASE_TAIL,
                    NULL,
                    "c1, batch, mandatory, on the day of the batch date at 09:00, no "
                    "reminders, window nudge.send-window, variant plain 100%, channels "
                    "app,email,sms");
    expect_describe(
        BASE_HEAD BASE_TRIGGER
        "\"timing\":{\"relative_to\":\"time\",\"offset_days\":1,\"at\":\"10:00\"}"
        "," BASE_GOAL "\"reminders\":[{\"id\":\"r1\",\"after_days\":1},{\"id\":\"r2\","
        "\"after_days\":7},{\"id\":\"r3\",\"after_days\":14}]," BASE_REST,
        &dw,
        "c1, on be.seintje.life.id-card-expiring, 1 day after the event at 10:00, "
        "reminders after 1, 7 and 14 days, goal be.seintje.service.id-card-requested "
        "within 90 days, window mon-fri 09:00-18:00 (nudge.send-window), variant plain "
        "100%, channels app,email,sms");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_minimal),
        cmocka_unit_test(test_valid_v2),
        cmocka_unit_test(test_examples_load),
        cmocka_unit_test(test_engine_campaigns_load),
        cmocka_unit_test(test_syntax_error),
        cmocka_unit_test(test_not_an_object),
        cmocka_unit_test(test_unknown_keys),
        cmocka_unit_test(test_missing_and_types),
        cmocka_unit_test(test_trigger),
        cmocka_unit_test(test_audience),
        cmocka_unit_test(test_relative_to),
        cmocka_unit_test(test_expiry),
        cmocka_unit_test(test_reminders),
        cmocka_unit_test(test_goal),
        cmocka_unit_test(test_send_window),
        cmocka_unit_test(test_channels),
        cmocka_unit_test(test_variants),
        cmocka_unit_test(test_holdout),
        cmocka_unit_test(test_experiment),
        cmocka_unit_test(test_languages),
        cmocka_unit_test(test_variant_and_language_choice),
        cmocka_unit_test(test_release),
        cmocka_unit_test(test_load_file),
        cmocka_unit_test(test_load_dir),
        cmocka_unit_test(test_check_templates),
        cmocka_unit_test(test_examples_templates),
        cmocka_unit_test(test_describe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
