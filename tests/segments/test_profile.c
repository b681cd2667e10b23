/* Unit tests for profile v2 without a Redis server: the commands
 * sj_profile_append_event() pipelines (read back from hiredis' output buffer
 * of a context that never connected), the derived facts and their
 * Europe/Brussels dates, consent values and the topic field, and reading
 * profiles back from replies built with hiredis' own reply parser (fields,
 * consents, topic bounds, legacy consent.* fields, the rule object, age and
 * contact). The Lua compare of consent times runs in the integration test
 * test_resident.sh against a real redis-server. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/timeutil.h"
#include "segments/keys.h"
#include "segments/profile.h"

#define PSEUDO "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define KEY    "sj:res:{" PSEUDO "}"

/* ---- helpers ------------------------------------------------------------- */

/* A context that buffers commands but has no server (connect fails). */
static redisContext *offline(void)
{
    redisContext *c = redisConnectUnix("/nonexistent/seintje-test.sock");
    assert_non_null(c);
    assert_non_null(c->obuf);
    return c;
}

/* The commands buffered in c, parsed back (RESP requests are arrays of bulk
 * strings, which the reply parser reads like any reply). */
typedef struct {
    redisReply *cmd[16];
    size_t n;
} cmds_t;

static void parse_cmds(redisContext *c, cmds_t *out)
{
    redisReader *r = redisReaderCreate();
    assert_non_null(r);
    assert_int_equal(redisReaderFeed(r, c->obuf, strlen(c->obuf)), REDIS_OK);
    out->n = 0;
    for (;;) {
        void *reply = NULL;
        assert_int_equal(redisReaderGetReply(r, &reply), REDIS_OK);
        if (!reply) break;
        assert_true(out->n < 16);
        out->cmd[out->n++] = reply;
    }
    redisReaderFree(r);
}

static void free_cmds(cmds_t *c)
{
    for (size_t i = 0; i < c->n; i++) freeReplyObject(c->cmd[i]);
}

static const char *arg(const redisReply *cmd, size_t i)
{
    assert_true(i < cmd->elements);
    return cmd->element[i]->str;
}

/* The value of field f in an HSET-like command (pairs after the key), or NULL. */
static const char *pair(const redisReply *cmd, size_t first, const char *f)
{
    for (size_t i = first; i + 1 < cmd->elements; i += 2)
        if (!strcmp(cmd->element[i]->str, f)) return cmd->element[i + 1]->str;
    return NULL;
}

/* Whether word w is among the arguments from `first` on. */
static bool has_arg(const redisReply *cmd, size_t first, const char *w)
{
    for (size_t i = first; i < cmd->elements; i++)
        if (!strcmp(cmd->element[i]->str, w)) return true;
    return false;
}

/* Applies one event (JSON) offline and parses the commands; returns the
 * replies counted. */
static size_t apply(const char *event, const char *source, const char *now, cmds_t *out)
{
    json_t *root = json_loads(event, 0, NULL);
    assert_non_null(root);
    sj_event_view_t ev;
    char problem[128];
    assert_int_equal(sj_event_view(root, &ev, problem, sizeof problem), SJ_OK);
    int64_t now_ms;
    assert_int_equal(sj_time_parse_rfc3339(now, strlen(now), &now_ms), SJ_OK);
    redisContext *c = offline();
    size_t replies = 0;
    assert_int_equal(sj_profile_append_event(c, &ev, source, now_ms, &replies), SJ_OK);
    parse_cmds(c, out);
    assert_int_equal(out->n, replies);
    redisFree(c);
    json_decref(root);
    return replies;
}

#define EV(id, type, time, data)                                                         \
    "{\"id\":\"" id "\",\"type\":\"be.seintje.life." type "\",\"time\":\"" time          \
    "\",\"subject\":\"" PSEUDO "\",\"data\":" data "}"

#define NOW "2026-12-01T12:00:00Z"

/* A reply parsed from RESP text: a flat array of bulk strings. */
static redisReply *array_reply(const char *const *items, size_t n)
{
    char buf[16384];
    size_t len = (size_t)snprintf(buf, sizeof buf, "*%zu\r\n", n);
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(buf + len, sizeof buf - len, "$%zu\r\n%s\r\n",
                                strlen(items[i]), items[i]);
    assert_true(len < sizeof buf);
    redisReader *r = redisReaderCreate();
    assert_int_equal(redisReaderFeed(r, buf, len), REDIS_OK);
    void *reply = NULL;
    assert_int_equal(redisReaderGetReply(r, &reply), REDIS_OK);
    assert_non_null(reply);
    redisReaderFree(r);
    return reply;
}

static redisReply *raw_reply(const char *resp)
{
    redisReader *r = redisReaderCreate();
    assert_int_equal(redisReaderFeed(r, resp, strlen(resp)), REDIS_OK);
    void *reply = NULL;
    assert_int_equal(redisReaderGetReply(r, &reply), REDIS_OK);
    assert_non_null(reply);
    redisReaderFree(r);
    return reply;
}

static void read_profile(const char *const *fields, size_t nf,
                         const char *const *consents, size_t nc, sj_profile_full_t *p)
{
    redisReply *r[2] = {array_reply(fields, nf), array_reply(consents, nc)};
    assert_int_equal(sj_profile_from_replies(r, 2, p), SJ_OK);
    freeReplyObject(r[0]);
    freeReplyObject(r[1]);
}

static int64_t ms(const char *s)
{
    int64_t v = 0;
    assert_int_equal(sj_time_parse_rfc3339(s, strlen(s), &v), SJ_OK);
    return v;
}

/* ---- writing --------------------------------------------------------------- */

static void test_registered(void **state)
{
    (void)state;
    cmds_t c;
    apply(EV("r1", "registered", "2026-01-01T00:00:00Z",
             "{\"given_name\":\"Zoë\",\"birth_date\":\"1985-07-30\",\"email\":\"z@"
             "example.org\",\"phone\":null}"),
          "urn:nis:44084:population", NOW, &c);
    assert_int_equal(c.n, 3); /* HSET, HDEL, HSETNX; no consents: no EVAL */
    assert_string_equal(arg(c.cmd[0], 0), "HSET");
    assert_string_equal(arg(c.cmd[0], 1), KEY);
    assert_string_equal(pair(c.cmd[0], 2, "given_name"), "Zoë");
    assert_string_equal(pair(c.cmd[0], 2, "birth_date"), "1985-07-30");
    assert_string_equal(pair(c.cmd[0], 2, "email"), "z@example.org");
    assert_string_equal(pair(c.cmd[0], 2, "status"), "active");
    assert_string_equal(pair(c.cmd[0], 2, "last_event_type"),
                        "be.seintje.life.registered");
    assert_string_equal(pair(c.cmd[0], 2, "last_event_id"), "r1");
    assert_string_equal(pair(c.cmd[0], 2, "last_event_time"), "2026-01-01T00:00:00Z");
    assert_string_equal(pair(c.cmd[0], 2, "updated_at"), "2026-12-01T12:00:00Z");
    assert_null(pair(c.cmd[0], 2, "resident_since")); /* only if absent: HSETNX */
    assert_null(pair(c.cmd[0], 2, "consent.email"));  /* v2: consents have their hash */
    assert_string_equal(arg(c.cmd[1], 0), "HDEL");
    assert_true(has_arg(c.cmd[1], 2, "phone"));
    assert_true(has_arg(c.cmd[1], 2, "moved_out_on"));
    assert_true(has_arg(c.cmd[1], 2, "moved_to"));
    assert_string_equal(arg(c.cmd[2], 0), "HSETNX");
    assert_string_equal(arg(c.cmd[2], 1), KEY);
    assert_string_equal(arg(c.cmd[2], 2), "resident_since");
    /* 00:00 UTC on 1 January is 01:00 in Brussels: the same date */
    assert_string_equal(arg(c.cmd[2], 3), "2026-01-01");
    free_cmds(&c);
}

static void test_moves_and_dates(void **state)
{
    (void)state;
    cmds_t c;
    /* 23:30 UTC on 28 March is 00:30 on the 29th in Brussels (CET) */
    apply(EV("m1", "moved-in", "2026-03-28T23:30:00Z", "{\"postcode\":\"9000\"}"), NULL,
          NOW, &c);
    assert_int_equal(c.n, 2);
    assert_string_equal(pair(c.cmd[0], 2, "resident_since"), "2026-03-29");
    assert_string_equal(pair(c.cmd[0], 2, "status"), "active");
    assert_string_equal(arg(c.cmd[1], 0), "HDEL");
    assert_true(has_arg(c.cmd[1], 2, "moved_out_on"));
    free_cmds(&c);

    /* 22:30 UTC on 30 June is 00:30 on 1 July in Brussels (CEST) */
    apply(EV("o1", "moved-out", "2026-06-30T22:30:00Z", "{\"to_nis\":\"11002\"}"), NULL,
          NOW, &c);
    assert_int_equal(c.n, 1);
    assert_string_equal(pair(c.cmd[0], 2, "status"), "moved-out");
    assert_string_equal(pair(c.cmd[0], 2, "moved_to"), "11002");
    assert_string_equal(pair(c.cmd[0], 2, "moved_out_on"), "2026-07-01");
    assert_null(pair(c.cmd[0], 2, "resident_since"));
    free_cmds(&c);

    apply(EV("d1", "deceased", "2026-08-10T10:00:00Z", "{}"), NULL, NOW, &c);
    assert_int_equal(c.n, 1);
    assert_string_equal(pair(c.cmd[0], 2, "status"), "deceased");
    assert_string_equal(pair(c.cmd[0], 2, "deceased_on"), "2026-08-10");
    free_cmds(&c);

    apply(EV("w1", "moved-within", "2026-08-10T10:00:00Z", "{\"postcode\":\"9050\"}"),
          NULL, NOW, &c);
    assert_int_equal(c.n, 1);
    assert_null(pair(c.cmd[0], 2, "resident_since"));
    assert_string_equal(pair(c.cmd[0], 2, "postcode"), "9050");
    free_cmds(&c);
}

static void test_id_card(void **state)
{
    (void)state;
    cmds_t c;
    apply(EV("i1", "id-card-expiring", "2026-02-01T08:00:00Z",
             "{\"expires\":\"2026-05-01\"}"),
          NULL, NOW, &c);
    assert_int_equal(c.n, 1);
    assert_string_equal(pair(c.cmd[0], 2, "id_card_expires"), "2026-05-01");
    assert_null(pair(c.cmd[0], 2, "expires")); /* only the derived fact */
    free_cmds(&c);
    apply(EV("i2", "id-card-expiring", "2026-02-01T08:00:00Z", "{\"expires\":null}"),
          NULL, NOW, &c);
    assert_int_equal(c.n, 2);
    assert_true(has_arg(c.cmd[1], 2, "id_card_expires"));
    free_cmds(&c);
    /* data.expires of another type is no ID card fact */
    apply(EV("b1", "birthday", "2026-02-01T08:00:00Z", "{\"age\":18}"), NULL, NOW, &c);
    assert_null(pair(c.cmd[0], 2, "id_card_expires"));
    free_cmds(&c);
}

static void test_consents_channel(void **state)
{
    (void)state;
    cmds_t c;
    apply(EV("c1", "consent-changed", "2026-11-28T10:30:00.5+01:00",
             "{\"consents\":{\"email\":true,\"sms\":false}}"),
          "urn:nis:44084:desk", NOW, &c);
    assert_int_equal(c.n, 2); /* HSET, EVAL */
    const redisReply *e = c.cmd[1];
    assert_string_equal(arg(e, 0), "EVAL");
    assert_non_null(strstr(arg(e, 1), "redis.call('HSET'"));
    assert_string_equal(arg(e, 2), "1");
    assert_string_equal(arg(e, 3), KEY ":consent");
    /* UTC, fixed width with milliseconds */
    assert_string_equal(arg(e, 4), "2026-11-28T09:30:00.500Z");
    assert_int_equal(e->elements, 9);
    assert_string_equal(pair(e, 5, "email"),
                        "1 2026-11-28T09:30:00.500Z urn:nis:44084:desk");
    assert_string_equal(pair(e, 5, "sms"),
                        "0 2026-11-28T09:30:00.500Z urn:nis:44084:desk");
    assert_null(pair(e, 5, "app"));
    assert_null(pair(c.cmd[0], 2, "consent.email"));
    free_cmds(&c);

    /* whole seconds still get ".000"; no source: "-" */
    apply(EV("c2", "registered", "2026-01-01T00:00:00Z", "{\"consents\":{\"app\":true}}"),
          NULL, NOW, &c);
    assert_string_equal(arg(c.cmd[c.n - 1], 0), "EVAL");
    assert_string_equal(pair(c.cmd[c.n - 1], 5, "app"), "1 2026-01-01T00:00:00.000Z -");
    free_cmds(&c);

    /* sj_profile_append_update(): the v1 signature, source unknown */
    json_t *root = json_loads(EV("c3", "consent-changed", "2026-01-01T00:00:00Z",
                                 "{\"consents\":{\"sms\":true}}"),
                              0, NULL);
    sj_event_view_t ev;
    assert_int_equal(sj_event_view(root, &ev, NULL, 0), SJ_OK);
    redisContext *rc = offline();
    size_t n = 0;
    assert_int_equal(sj_profile_append_update(rc, &ev, ms(NOW), &n), SJ_OK);
    parse_cmds(rc, &c);
    assert_int_equal(n, 2);
    assert_string_equal(pair(c.cmd[1], 5, "sms"), "1 2026-01-01T00:00:00.000Z -");
    free_cmds(&c);
    redisFree(rc);
    json_decref(root);
}

static void test_consents_topic(void **state)
{
    (void)state;
    cmds_t c;
    apply(EV("t1", "consent-changed", "2026-11-28T09:30:00Z",
             "{\"consents\":{\"email\":false,\"app\":true},\"topic\":\"identity\"}"),
          "urn:x", NOW, &c);
    assert_int_equal(c.n, 2);
    assert_string_equal(pair(c.cmd[1], 5, "email/identity"),
                        "0 2026-11-28T09:30:00.000Z urn:x");
    assert_string_equal(pair(c.cmd[1], 5, "app/identity"),
                        "1 2026-11-28T09:30:00.000Z urn:x");
    assert_null(pair(c.cmd[1], 5, "email"));
    free_cmds(&c);

    /* topic null: "not known" is no topic, the channel as a whole */
    apply(EV("t2", "consent-changed", "2026-11-28T09:30:00Z",
             "{\"consents\":{\"email\":false},\"topic\":null}"),
          "urn:x", NOW, &c);
    assert_non_null(pair(c.cmd[c.n - 1], 5, "email"));
    free_cmds(&c);

    /* a topic that is not a 1-63 byte string: the consents are ignored */
    const char *bad[] = {
        EV("t3", "consent-changed", "2026-11-28T09:30:00Z",
           "{\"consents\":{\"email\":false},\"topic\":\"\"}"),
        EV("t4", "consent-changed", "2026-11-28T09:30:00Z",
           "{\"consents\":{\"email\":false},\"topic\":7}"),
        EV("t5", "consent-changed", "2026-11-28T09:30:00Z",
           "{\"consents\":{\"email\":false},\"topic\":"
           "\"0123456789012345678901234567890123456789012345678901234567890123\"}"),
    };
    for (size_t i = 0; i < SJ_ARRAY_LEN(bad); i++) {
        apply(bad[i], "urn:x", NOW, &c);
        assert_int_equal(c.n, 1);
        assert_string_equal(arg(c.cmd[0], 0), "HSET");
        free_cmds(&c);
    }
    /* no channel the stage knows: no EVAL */
    apply(EV("t6", "consent-changed", "2026-11-28T09:30:00Z",
             "{\"consents\":{\"fax\":true}}"),
          "urn:x", NOW, &c);
    assert_int_equal(c.n, 1);
    free_cmds(&c);
}

static void test_read_full_commands(void **state)
{
    (void)state;
    redisContext *rc = offline();
    size_t n = 3;
    assert_int_equal(sj_profile_append_read_full(rc, PSEUDO, &n), SJ_OK);
    assert_int_equal(n, 5);
    cmds_t c;
    parse_cmds(rc, &c);
    assert_int_equal(c.n, 2);
    assert_string_equal(arg(c.cmd[0], 0), "HGETALL");
    assert_string_equal(arg(c.cmd[0], 1), KEY);
    assert_string_equal(arg(c.cmd[1], 0), "HGETALL");
    assert_string_equal(arg(c.cmd[1], 1), KEY ":consent");
    free_cmds(&c);
    redisFree(rc);
}

/* ---- reading --------------------------------------------------------------- */

static void test_from_replies(void **state)
{
    (void)state;
    const char *fields[] = {
        "given_name",      "Zoë",        "birth_date",     "1985-07-30",
        "email",           "z@x.org",    "phone",          "+32470123456",
        "status",          "active",     "resident_since", "2026-03-29",
        "id_card_expires", "2026-05-01", "future_field",   "ignored",
        "consent.sms",     "1"};
    const char *consents[] = {"email",
                              "1 2026-11-28T09:30:00.000Z urn:a",
                              "app",
                              "0 2026-11-20T09:30:00.000Z -",
                              "email/identity",
                              "0 2026-11-28T09:30:00.000Z urn:b",
                              "app/family",
                              "1 2026-11-28T09:30:00.000Z urn:b",
                              "app/identity",
                              "1 2026-11-28T09:30:00.000Z urn:b",
                              "fax",
                              "1 2026-11-28T09:30:00.000Z urn:b",
                              "sms/broken",
                              "yes please"};
    sj_profile_full_t p;
    read_profile(fields, SJ_ARRAY_LEN(fields), consents, SJ_ARRAY_LEN(consents), &p);
    assert_true(p.found);
    assert_string_equal(p.given_name, "Zoë");
    assert_string_equal(p.phone, "+32470123456");
    assert_string_equal(p.resident_since, "2026-03-29");
    assert_string_equal(p.id_card_expires, "2026-05-01");
    assert_string_equal(p.nis, "");
    assert_int_equal(p.consent[SJ_CHANNEL_EMAIL].given, 1);
    assert_string_equal(p.consent[SJ_CHANNEL_EMAIL].time, "2026-11-28T09:30:00.000Z");
    assert_string_equal(p.consent_source[SJ_CHANNEL_EMAIL], "urn:a");
    assert_int_equal(p.consent[SJ_CHANNEL_APP].given, 0);
    assert_string_equal(p.consent_source[SJ_CHANNEL_APP], ""); /* "-" */
    /* no sms entry in the consent hash: the legacy profile field counts */
    assert_int_equal(p.consent[SJ_CHANNEL_SMS].given, 1);
    assert_string_equal(p.consent[SJ_CHANNEL_SMS].time, "");
    /* sorted by channel, then topic; malformed and unknown ones skipped */
    assert_int_equal(p.n_topics, 3);
    assert_int_equal(p.topics[0].channel, SJ_CHANNEL_EMAIL);
    assert_string_equal(p.topics[0].topic, "identity");
    assert_int_equal(p.topics[0].c.given, 0);
    assert_int_equal(p.topics[1].channel, SJ_CHANNEL_APP);
    assert_string_equal(p.topics[1].topic, "family");
    assert_string_equal(p.topics[2].topic, "identity");
    assert_int_equal(p.topics_dropped, 0);

    sj_nudge_contact_t ct;
    sj_profile_contact(&p, "identity", &ct);
    assert_true(ct.reachable[SJ_CHANNEL_EMAIL]);
    assert_true(ct.reachable[SJ_CHANNEL_SMS]);
    assert_false(ct.reachable[SJ_CHANNEL_APP]);
    assert_int_equal(ct.consent[SJ_CHANNEL_EMAIL], 1);
    assert_int_equal(ct.consent[SJ_CHANNEL_SMS], 1);
    assert_int_equal(ct.consent[SJ_CHANNEL_APP], 0);
    assert_int_equal(ct.topic_consent[SJ_CHANNEL_EMAIL], 0);
    assert_int_equal(ct.topic_consent[SJ_CHANNEL_SMS], -1);
    assert_int_equal(ct.topic_consent[SJ_CHANNEL_APP], 1);
    sj_profile_contact(&p, NULL, &ct);
    for (int k = 0; k < SJ_NUDGE_CHANNELS; k++) assert_int_equal(ct.topic_consent[k], -1);
    /* delivery's check: channel consent given and the topic not refused */
    assert_false(sj_profile_consented(&p, SJ_CHANNEL_EMAIL, "identity"));
    assert_true(sj_profile_consented(&p, SJ_CHANNEL_EMAIL, "family"));
    assert_true(sj_profile_consented(&p, SJ_CHANNEL_EMAIL, NULL));
    assert_true(sj_profile_consented(&p, SJ_CHANNEL_SMS, "identity"));
    assert_false(sj_profile_consented(&p, SJ_CHANNEL_APP, "identity")); /* channel: no */
    assert_false(sj_profile_consented(&p, 3, NULL));
    sj_profile_contact(&p, "energy", &ct);
    for (int k = 0; k < SJ_NUDGE_CHANNELS; k++) assert_int_equal(ct.topic_consent[k], -1);
}

static void test_from_replies_empty_and_bad(void **state)
{
    (void)state;
    sj_profile_full_t p;
    read_profile(NULL, 0, NULL, 0, &p);
    assert_false(p.found);
    for (int k = 0; k < SJ_NUDGE_CHANNELS; k++) assert_int_equal(p.consent[k].given, -1);
    sj_nudge_contact_t ct;
    sj_profile_contact(&p, "identity", &ct);
    for (int k = 0; k < SJ_NUDGE_CHANNELS; k++) {
        assert_false(ct.reachable[k]);
        assert_int_equal(ct.consent[k], -1);
        assert_int_equal(ct.topic_consent[k], -1);
    }
    json_t *j = sj_profile_to_json(&p, ms(NOW));
    char *s = json_dumps(j, JSON_COMPACT);
    assert_string_equal(s, "{\"consents\":{},\"topic_consents\":{}}");
    free(s);
    json_decref(j);

    /* wrong count, error replies, odd arrays, a non-array */
    redisReply *ok = array_reply(NULL, 0);
    redisReply *err = raw_reply("-WRONGTYPE Operation against a key\r\n");
    redisReply *odd = raw_reply("*1\r\n$1\r\na\r\n");
    redisReply *num = raw_reply(":1\r\n");
    redisReply *r[2] = {ok, ok};
    assert_int_equal(sj_profile_from_replies(r, 1, &p), SJ_ERR);
    r[1] = err;
    assert_int_equal(sj_profile_from_replies(r, 2, &p), SJ_ERR);
    r[1] = odd;
    assert_int_equal(sj_profile_from_replies(r, 2, &p), SJ_ERR);
    r[0] = num;
    r[1] = ok;
    assert_int_equal(sj_profile_from_replies(r, 2, &p), SJ_ERR);
    assert_false(p.found);
    assert_int_equal(p.consent[0].given, -1);
    freeReplyObject(ok);
    freeReplyObject(err);
    freeReplyObject(odd);
    freeReplyObject(num);

    /* a value longer than its field counts as unknown */
    char longname[400];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    const char *fields[] = {"given_name", longname, "nis", "44084"};
    read_profile(fields, 4, NULL, 0, &p);
    assert_string_equal(p.given_name, "");
    assert_string_equal(p.nis, "44084");
}

static void test_topics_bound(void **state)
{
    (void)state;
    /* 40 consents and 10 refusals for topics: every refusal is kept */
    enum { N = 50 };
    static char names[N][32];
    const char *consents[2 * N];
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "email/topic-%02d", i);
        consents[2 * i] = names[i];
        consents[2 * i + 1] =
            i % 5 == 0 ? "0 2026-01-01T00:00:00.000Z -" : "1 2026-01-01T00:00:00.000Z -";
    }
    sj_profile_full_t p;
    read_profile(NULL, 0, consents, 2 * N, &p);
    assert_int_equal(p.n_topics, SJ_PROFILE_TOPICS_MAX);
    assert_int_equal(p.topics_dropped, N - SJ_PROFILE_TOPICS_MAX);
    assert_false(p.topics_dropped_refusal);
    sj_nudge_contact_t ct;
    for (int i = 0; i < N; i += 5) {
        sj_profile_contact(&p, names[i] + 6, &ct);
        assert_int_equal(ct.topic_consent[SJ_CHANNEL_EMAIL], 0);
    }
    sj_profile_contact(&p, "unknown", &ct);
    assert_int_equal(ct.topic_consent[SJ_CHANNEL_EMAIL], -1);

    /* more refusals than fit: an unknown topic counts as refused */
    for (int i = 0; i < N; i++) consents[2 * i + 1] = "0 2026-01-01T00:00:00.000Z -";
    read_profile(NULL, 0, consents, 2 * N, &p);
    assert_true(p.topics_dropped_refusal);
    sj_profile_contact(&p, "unknown", &ct);
    assert_int_equal(ct.topic_consent[SJ_CHANNEL_EMAIL], 0);
    assert_int_equal(ct.topic_consent[SJ_CHANNEL_SMS], 0);
}

static void test_age(void **state)
{
    (void)state;
    sj_profile_full_t p;
    memset(&p, 0, sizeof p);
    assert_int_equal(sj_profile_age(&p, ms(NOW)), -1);
    strcpy(p.birth_date, "2008-02-29");
    assert_int_equal(sj_profile_age(&p, ms("2026-02-28T12:00:00Z")), 17);
    assert_int_equal(sj_profile_age(&p, ms("2026-03-01T12:00:00Z")), 18);
    /* 23:30 UTC on 28 February is 1 March in Brussels */
    assert_int_equal(sj_profile_age(&p, ms("2026-02-28T23:30:00Z")), 18);
    assert_int_equal(sj_profile_age(&p, ms("2028-02-29T00:00:00Z")), 20);
    strcpy(p.birth_date, "1960-07-01");
    /* 22:00 UTC on 30 June is 1 July in Brussels (summer time) */
    assert_int_equal(sj_profile_age(&p, ms("2026-06-30T21:59:59Z")), 65);
    assert_int_equal(sj_profile_age(&p, ms("2026-06-30T22:00:00Z")), 66);
    assert_int_equal(sj_profile_age(&p, ms("1960-07-01T10:00:00Z")), 0);
    assert_int_equal(sj_profile_age(&p, ms("1960-06-30T10:00:00Z")), -1);
    strcpy(p.birth_date, "1960-02-30");
    assert_int_equal(sj_profile_age(&p, ms(NOW)), -1);
}

static void test_to_json(void **state)
{
    (void)state;
    const char *fields[] = {"given_name",  "An",    "birth_date",      "1960-07-01",
                            "nis",         "44084", "status",          "active",
                            "postcode",    "9880",  "last_event_type", "x",
                            "deceased_on", ""};
    const char *consents[] = {"email",
                              "1 2026-11-28T09:30:00.000Z urn:a",
                              "sms",
                              "0 2026-11-28T09:30:00.000Z urn:a",
                              "email/identity",
                              "0 2026-11-28T09:30:00.000Z urn:b",
                              "sms/identity",
                              "1 2026-11-28T09:30:00.000Z urn:b",
                              "app/energy",
                              "1 2026-11-28T09:30:00.000Z urn:b"};
    sj_profile_full_t p;
    read_profile(fields, SJ_ARRAY_LEN(fields), consents, SJ_ARRAY_LEN(consents), &p);
    json_t *j = sj_profile_to_json(&p, ms("2026-07-01T08:00:00Z"));
    assert_non_null(j);
    char *s = json_dumps(j, JSON_COMPACT);
    assert_string_equal(s, "{\"given_name\":\"An\",\"birth_date\":\"1960-07-01\",\"nis\":"
                           "\"44084\",\"postcode\":\"9880\",\"status\":\"active\","
                           "\"last_event_type\":\"x\",\"age\":66,\"consents\":{\"email\":"
                           "true,\"sms\":false},\"topic_consents\":{\"identity\":{"
                           "\"email\":false,\"sms\":true},\"energy\":{\"app\":true}}}");
    free(s);
    json_decref(j);
}

static void test_consent_parse(void **state)
{
    (void)state;
    sj_profile_consent_t c;
    char src[64];
    const char *v = "1 2026-11-28T09:30:00.000Z urn:nis:44084:population";
    assert_int_equal(sj_profile_consent_parse(v, strlen(v), &c, src, sizeof src), SJ_OK);
    assert_int_equal(c.given, 1);
    assert_string_equal(c.time, "2026-11-28T09:30:00.000Z");
    assert_string_equal(src, "urn:nis:44084:population");
    v = "0 2026-11-28T09:30:00Z";
    assert_int_equal(sj_profile_consent_parse(v, strlen(v), &c, src, sizeof src), SJ_OK);
    assert_int_equal(c.given, 0);
    assert_string_equal(src, "");
    const char *bad[] = {"", "1", "1 ", "2 2026-11-28T09:30:00Z x", "1x2026", "yes"};
    for (size_t i = 0; i < SJ_ARRAY_LEN(bad); i++) {
        assert_int_equal(
            sj_profile_consent_parse(bad[i], strlen(bad[i]), &c, src, sizeof src),
            SJ_ERR_INPUT);
        assert_int_equal(c.given, -1);
    }
}

/* The v1 path segment.c uses until the engine moves over. */
static void test_v1_read(void **state)
{
    (void)state;
    redisContext *rc = offline();
    assert_int_equal(sj_profile_append_read(rc, PSEUDO), SJ_OK);
    cmds_t c;
    parse_cmds(rc, &c);
    assert_int_equal(c.n, 1);
    assert_string_equal(arg(c.cmd[0], 0), "HMGET");
    assert_int_equal(c.cmd[0]->elements, 7);
    free_cmds(&c);
    redisFree(rc);
    redisReply *r = raw_reply("*5\r\n$2\r\nAn\r\n$2\r\nnl\r\n$-1\r\n$4\r\n9000\r\n$6\r\n"
                              "active\r\n");
    sj_profile_t p;
    assert_int_equal(sj_profile_from_reply(r, &p), SJ_OK);
    sj_resident_view_t v;
    sj_profile_view(&p, &v);
    assert_string_equal(v.given_name, "An");
    assert_null(v.nis);
    assert_string_equal(v.status, "active");
    freeReplyObject(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registered),
        cmocka_unit_test(test_moves_and_dates),
        cmocka_unit_test(test_id_card),
        cmocka_unit_test(test_consents_channel),
        cmocka_unit_test(test_consents_topic),
        cmocka_unit_test(test_read_full_commands),
        cmocka_unit_test(test_from_replies),
        cmocka_unit_test(test_from_replies_empty_and_bad),
        cmocka_unit_test(test_topics_bound),
        cmocka_unit_test(test_age),
        cmocka_unit_test(test_to_json),
        cmocka_unit_test(test_consent_parse),
        cmocka_unit_test(test_v1_read),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
