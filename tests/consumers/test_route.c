/* Unit tests for channel choice at send time: preference order, contact
 * point and consent per channel, mandatory notices, inactive residents and
 * missing profiles, and reading the profile reply from Redis. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "consumers/route.h"

static sj_contact_t contact(const char *email, const char *phone, const char *inbox,
                            bool ce, bool cs, bool ca)
{
    sj_contact_t c;
    memset(&c, 0, sizeof c);
    c.found = true;
    snprintf(c.email, sizeof c.email, "%s", email);
    snprintf(c.phone, sizeof c.phone, "%s", phone);
    snprintf(c.app_inbox, sizeof c.app_inbox, "%s", inbox);
    c.consent[SJ_ROUTE_EMAIL] = ce;
    c.consent[SJ_ROUTE_SMS] = cs;
    c.consent[SJ_ROUTE_APP] = ca;
    snprintf(c.status, sizeof c.status, "active");
    return c;
}

static const sj_route_channel_t app_email_sms[] = {SJ_ROUTE_APP, SJ_ROUTE_EMAIL,
                                                   SJ_ROUTE_SMS};

static void test_first_preferred_with_contact_and_consent(void **state)
{
    (void)state;
    sj_route_channel_t ch;
    sj_suppress_t why;
    sj_contact_t c =
        contact("a@example.org", "+32470000000", "inbox-1", true, true, true);
    assert_true(sj_route_choose(app_email_sms, 3, &c, false, &ch, &why));
    assert_int_equal(ch, SJ_ROUTE_APP);
    c = contact("a@example.org", "+32470000000", "", true, true, true); /* no app inbox */
    assert_true(sj_route_choose(app_email_sms, 3, &c, false, &ch, &why));
    assert_int_equal(ch, SJ_ROUTE_EMAIL);
    c = contact("a@example.org", "+32470000000", "inbox-1", false, true,
                false); /* consents */
    assert_true(sj_route_choose(app_email_sms, 3, &c, false, &ch, &why));
    assert_int_equal(ch, SJ_ROUTE_SMS);
}

static void test_no_channel(void **state)
{
    (void)state;
    sj_route_channel_t ch;
    sj_suppress_t why;
    sj_contact_t c = contact("a@example.org", "", "", false, true, true);
    assert_false(sj_route_choose(app_email_sms, 3, &c, false, &ch, &why));
    assert_int_equal(why, SJ_SUPPRESS_NO_CHANNEL);
    assert_string_equal(sj_suppress_name(why), "no-channel");
    /* Only channels the campaign lists are considered. */
    c = contact("a@example.org", "", "", true, false, false);
    const sj_route_channel_t sms_only[] = {SJ_ROUTE_SMS};
    assert_false(sj_route_choose(sms_only, 1, &c, false, &ch, &why));
}

static void test_mandatory_ignores_consent_not_contact(void **state)
{
    (void)state;
    sj_route_channel_t ch;
    sj_suppress_t why;
    sj_contact_t c = contact("a@example.org", "", "", false, false, false);
    assert_true(sj_route_choose(app_email_sms, 3, &c, true, &ch, &why));
    assert_int_equal(ch, SJ_ROUTE_EMAIL);
    c = contact("", "", "", true, true, true);
    assert_false(sj_route_choose(app_email_sms, 3, &c, true, &ch, &why));
    assert_int_equal(why, SJ_SUPPRESS_NO_CHANNEL);
}

static void test_inactive_and_missing(void **state)
{
    (void)state;
    sj_route_channel_t ch;
    sj_suppress_t why;
    sj_contact_t c = contact("a@example.org", "", "", true, true, true);
    snprintf(c.status, sizeof c.status, "moved-out");
    assert_false(sj_route_choose(app_email_sms, 3, &c, true, &ch, &why));
    assert_int_equal(why, SJ_SUPPRESS_INACTIVE);
    memset(&c, 0, sizeof c);
    assert_false(sj_route_choose(app_email_sms, 3, &c, false, &ch, &why));
    assert_int_equal(why, SJ_SUPPRESS_NO_PROFILE);
}

static void test_contact_from_reply(void **state)
{
    (void)state;
    /* Build an HMGET reply by hand: email, phone, app_inbox, consents, status, name. */
    const char *vals[] = {"a@example.org", NULL, "inbox-9", "1", "0", "1",
                          "active",        "An"};
    assert_int_equal(sj_contact_nfields, 8);
    redisReply *elems[8], arr;
    redisReply items[8];
    memset(items, 0, sizeof items);
    for (int i = 0; i < 8; i++) {
        items[i].type = vals[i] ? REDIS_REPLY_STRING : REDIS_REPLY_NIL;
        items[i].str = (char *)vals[i];
        items[i].len = vals[i] ? strlen(vals[i]) : 0;
        elems[i] = &items[i];
    }
    memset(&arr, 0, sizeof arr);
    arr.type = REDIS_REPLY_ARRAY;
    arr.elements = 8;
    arr.element = elems;
    sj_contact_t c;
    assert_int_equal(sj_contact_from_reply(&arr, &c), SJ_OK);
    assert_true(c.found);
    assert_string_equal(c.email, "a@example.org");
    assert_string_equal(c.phone, "");
    assert_true(c.consent[SJ_ROUTE_EMAIL] && !c.consent[SJ_ROUTE_SMS] &&
                c.consent[SJ_ROUTE_APP]);
    assert_string_equal(c.given_name, "An");
    for (int i = 0; i < 8; i++) items[i].type = REDIS_REPLY_NIL;
    assert_int_equal(sj_contact_from_reply(&arr, &c), SJ_OK);
    assert_false(c.found);
    arr.elements = 3;
    assert_int_equal(sj_contact_from_reply(&arr, &c), SJ_ERR);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_preferred_with_contact_and_consent),
        cmocka_unit_test(test_no_channel),
        cmocka_unit_test(test_mandatory_ignores_consent_not_contact),
        cmocka_unit_test(test_inactive_and_missing),
        cmocka_unit_test(test_contact_from_reply),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
