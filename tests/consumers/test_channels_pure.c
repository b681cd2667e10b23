/* Unit tests for what the channel modules decide without a network:
 * envelope address validation (CR/LF/NUL injection and the rest), the
 * classification of SMTP and HTTP outcomes into ok / temporary / permanent
 * and provider faults, Retry-After in all three date forms and as seconds,
 * OAuth2 token answers, provider answers (Twilio errors, ids), form
 * encoding and SMS sender ids. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "consumers/http_gateway.h"
#include "consumers/smtp.h"

static sj_status_t addr(const char *a)
{
    char why[160];
    return sj_smtp_check_address(a, strlen(a), why, sizeof why);
}

static void test_envelope_valid(void **state)
{
    (void)state;
    assert_int_equal(addr("an@example.org"), SJ_OK);
    assert_int_equal(addr("first.last+tag@sub.example-town.be"), SJ_OK);
    assert_int_equal(addr("o'brien@example.ie"), SJ_OK);
    assert_int_equal(addr("x@localhost"), SJ_OK);
}

static void test_envelope_injection(void **state)
{
    (void)state;
    char why[160];
    const char *bad[] = {"a@example.org\r\nRCPT TO:<b@evil.test>",
                         "a@example.org\n",
                         "a\r@example.org",
                         "a b@example.org",
                         "a\t@example.org",
                         "<a@example.org>",
                         "a@example.org>",
                         "zoë@example.org",
                         "a@@example.org",
                         "a@b@example.org",
                         "@example.org",
                         "a@",
                         "a",
                         "",
                         ".a@example.org",
                         "a.@example.org",
                         "a..b@example.org",
                         "a@example..org",
                         "a@.example.org",
                         "a@exam_ple.org",
                         "\"quoted\"@example.org",
                         "a@example.org\x7f"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (addr(bad[i]) != SJ_ERR_INPUT) fail_msg("accepted bad address #%zu", i);
    }
    /* An embedded NUL is seen, not taken as the end. */
    assert_int_equal(sj_smtp_check_address("a@x.org\0b@y.org", 15, why, sizeof why),
                     SJ_ERR_INPUT);
    assert_non_null(strstr(why, "CR, LF or NUL"));
    /* The reason never quotes the address. */
    sj_smtp_check_address("secret.person@example.org\r\n", 27, why, sizeof why);
    assert_null(strstr(why, "secret"));
    /* RFC 5321 lengths: local part 64, path 254. */
    char local[80], longaddr[300];
    memset(local, 'a', 65);
    snprintf(local + 65, sizeof local - 65, "@example.org");
    assert_int_equal(addr(local), SJ_ERR_INPUT);
    local[64] = '@';
    memmove(local + 64, "@example.org", 13);
    assert_int_equal(addr(local), SJ_OK);
    memset(longaddr, 'b', sizeof longaddr);
    memcpy(longaddr, "a@", 2);
    for (size_t i = 10; i < 250; i += 10) longaddr[i] = '.';
    longaddr[255] = '\0';
    assert_int_equal(addr(longaddr), SJ_ERR_INPUT);
    longaddr[254] = '\0';
    assert_int_equal(addr(longaddr), SJ_OK);
}

static void test_smtp_classify(void **state)
{
    (void)state;
    bool fault;
    assert_int_equal(sj_smtp_classify(CURLE_OK, 250, &fault), SJ_CLASS_OK);
    assert_false(fault);
    /* a bad mailbox or a refused message: permanent, the relay is fine */
    assert_int_equal(sj_smtp_classify(CURLE_SEND_ERROR, 550, &fault), SJ_CLASS_PERMANENT);
    assert_false(fault);
    assert_int_equal(sj_smtp_classify(CURLE_WEIRD_SERVER_REPLY, 554, &fault),
                     SJ_CLASS_PERMANENT);
    assert_int_equal(sj_smtp_classify(CURLE_SEND_ERROR, 552, &fault), SJ_CLASS_PERMANENT);
    /* 4xx: try again later */
    assert_int_equal(sj_smtp_classify(CURLE_WEIRD_SERVER_REPLY, 451, &fault),
                     SJ_CLASS_TEMPORARY);
    assert_false(fault);
    assert_int_equal(sj_smtp_classify(CURLE_SEND_ERROR, 452, &fault), SJ_CLASS_TEMPORARY);
    assert_int_equal(sj_smtp_classify(CURLE_WEIRD_SERVER_REPLY, 421, &fault),
                     SJ_CLASS_TEMPORARY);
    assert_true(fault);
    /* authentication refused: our configuration, not the message */
    assert_int_equal(sj_smtp_classify(CURLE_LOGIN_DENIED, 535, &fault),
                     SJ_CLASS_TEMPORARY);
    assert_true(fault);
    /* no answer at all */
    const CURLcode net[] = {CURLE_COULDNT_CONNECT,   CURLE_OPERATION_TIMEDOUT,
                            CURLE_RECV_ERROR,        CURLE_GOT_NOTHING,
                            CURLE_SSL_CONNECT_ERROR, CURLE_USE_SSL_FAILED};
    for (size_t i = 0; i < sizeof net / sizeof *net; i++) {
        assert_int_equal(sj_smtp_classify(net[i], 0, &fault), SJ_CLASS_TEMPORARY);
        assert_true(fault);
    }
    /* dropped after a 250 to RCPT or 354 to DATA: unknown, temporary */
    assert_int_equal(sj_smtp_classify(CURLE_RECV_ERROR, 354, &fault), SJ_CLASS_TEMPORARY);
    assert_true(fault);
}

static void test_smtp_tls_parse(void **state)
{
    (void)state;
    sj_smtp_tls_t t;
    assert_int_equal(sj_smtp_tls_parse("starttls", &t), SJ_OK);
    assert_int_equal(t, SJ_SMTP_STARTTLS);
    assert_int_equal(sj_smtp_tls_parse("implicit", &t), SJ_OK);
    assert_int_equal(t, SJ_SMTP_IMPLICIT);
    assert_int_equal(sj_smtp_tls_parse("none", &t), SJ_OK);
    assert_int_equal(t, SJ_SMTP_PLAIN);
    assert_int_equal(sj_smtp_tls_parse("STARTTLS", &t), SJ_ERR_INPUT);
    assert_int_equal(sj_smtp_tls_parse(NULL, &t), SJ_ERR_INPUT);
}

static void test_http_classify(void **state)
{
    (void)state;
    bool fault;
    assert_int_equal(sj_http_classify(CURLE_OK, 200, &fault), SJ_CLASS_OK);
    assert_int_equal(sj_http_classify(CURLE_OK, 201, &fault), SJ_CLASS_OK);
    assert_int_equal(sj_http_classify(CURLE_OK, 202, &fault), SJ_CLASS_OK);
    assert_int_equal(sj_http_classify(CURLE_OK, 429, &fault), SJ_CLASS_TEMPORARY);
    assert_false(fault); /* rate limited: alive, but slow down */
    assert_int_equal(sj_http_classify(CURLE_OK, 408, &fault), SJ_CLASS_TEMPORARY);
    for (long s = 500; s < 600; s += 1) {
        assert_int_equal(sj_http_classify(CURLE_OK, s, &fault), SJ_CLASS_TEMPORARY);
        assert_true(fault);
    }
    assert_int_equal(sj_http_classify(CURLE_OK, 401, &fault), SJ_CLASS_TEMPORARY);
    assert_true(fault);
    assert_int_equal(sj_http_classify(CURLE_OK, 403, &fault), SJ_CLASS_TEMPORARY);
    const long perm[] = {400, 404, 405, 409, 410, 413, 415, 422, 301, 302};
    for (size_t i = 0; i < sizeof perm / sizeof *perm; i++) {
        assert_int_equal(sj_http_classify(CURLE_OK, perm[i], &fault), SJ_CLASS_PERMANENT);
        assert_false(fault);
    }
    assert_int_equal(sj_http_classify(CURLE_COULDNT_CONNECT, 0, &fault),
                     SJ_CLASS_TEMPORARY);
    assert_true(fault);
    assert_int_equal(sj_http_classify(CURLE_OPERATION_TIMEDOUT, 0, &fault),
                     SJ_CLASS_TEMPORARY);
    assert_int_equal(sj_http_classify(CURLE_GOT_NOTHING, 0, &fault), SJ_CLASS_TEMPORARY);
    assert_int_equal(sj_http_classify(CURLE_PARTIAL_FILE, 200, &fault),
                     SJ_CLASS_TEMPORARY);
    assert_true(fault);
}

static int64_t ra(const char *v, int64_t now)
{
    int64_t d = -1;
    if (sj_retry_after_parse(v, strlen(v), now, &d) != SJ_OK) return -1;
    return d;
}

static void test_retry_after(void **state)
{
    (void)state;
    /* 1994-11-06T08:49:37Z */
    const int64_t t = 784111777000LL;
    assert_int_equal(ra("0", t), 0);
    assert_int_equal(ra("2", t), 2000);
    assert_int_equal(ra(" 120 ", t), 120000);
    assert_int_equal(ra("99999999999999999999999", t), SJ_RETRY_AFTER_MAX_MS);
    assert_int_equal(ra("Sun, 06 Nov 1994 08:49:37 GMT", t - 5000), 5000);
    assert_int_equal(ra("Sunday, 06-Nov-94 08:49:37 GMT", t - 5000), 5000);
    assert_int_equal(ra("Sun Nov  6 08:49:37 1994", t - 5000), 5000);
    assert_int_equal(ra("Sat Nov 12 08:49:37 1994", t), 6LL * 86400000);
    assert_int_equal(ra("Sun, 06 Nov 1994 08:49:37 GMT", t + 1000), 0); /* past */
    assert_int_equal(ra("Fri, 31 Dec 2100 23:59:59 GMT", t), SJ_RETRY_AFTER_MAX_MS);
    const char *bad[] = {"",
                         "-1",
                         "1.5",
                         "2s",
                         "soon",
                         "Sun, 06 Nov 1994 08:49:37",
                         "Sun, 06 Nov 1994 08:49:37 UTC",
                         "Sun, 31 Feb 1994 08:49:37 GMT",
                         "Sun, 06 Xyz 1994 08:49:37 GMT",
                         "Sun, 06 Nov 1994 24:49:37 GMT",
                         "Sun, 6 Nov 1994 08:49:37 GMT",
                         "Sun Nov 6 08:49:37 1994",
                         "Sunday, 06-Nov-1994 08:49:37 GMT",
                         "Sun, 06 Nov 1994 08:49:37 GMT trailing"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (ra(bad[i], t) != -1) fail_msg("accepted Retry-After \"%s\"", bad[i]);
}

static void test_oauth_token(void **state)
{
    (void)state;
    char tok[64], why[200];
    int64_t ttl;
    const char *ok = "{\"access_token\":\"abc.DEF-123_~\",\"token_type\":\"Bearer\","
                     "\"expires_in\":5}";
    assert_int_equal(
        sj_oauth_token_parse(ok, strlen(ok), tok, sizeof tok, &ttl, why, sizeof why),
        SJ_OK);
    assert_string_equal(tok, "abc.DEF-123_~");
    assert_int_equal(ttl, 5000);
    const char *lower = "{\"access_token\":\"x\",\"token_type\":\"bearer\"}";
    assert_int_equal(sj_oauth_token_parse(lower, strlen(lower), tok, sizeof tok, &ttl,
                                          why, sizeof why),
                     SJ_OK);
    assert_int_equal(ttl, SJ_OAUTH_DEFAULT_TTL_S * 1000);
    const char *bad[] = {"",
                         "[]",
                         "{}",
                         "{\"access_token\":\"\"}",
                         "{\"access_token\":\"a b\"}",
                         "{\"access_token\":\"x\",\"token_type\":\"mac\"}",
                         "{\"access_token\":\"x\",\"expires_in\":0}",
                         "{\"access_token\":\"x\",\"expires_in\":\"60\"}",
                         "{\"access_token\":7}",
                         "{\"access_token\":\"x\",\"access_token\":\"y\"}",
                         "{\"access_token\":\"0123456789012345678901234567890123456789012"
                         "34567890123456789012345\"}"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (sj_oauth_token_parse(bad[i], strlen(bad[i]), tok, sizeof tok, &ttl, why,
                                 sizeof why) != SJ_ERR_INPUT)
            fail_msg("accepted token answer #%zu", i);
    }
    /* never quotes the token */
    const char *sp = "{\"access_token\":\"sekrit token\"}";
    sj_oauth_token_parse(sp, strlen(sp), tok, sizeof tok, &ttl, why, sizeof why);
    assert_null(strstr(why, "sekrit"));
}

static void test_provider_answers(void **state)
{
    (void)state;
    char out[64];
    const char *tw = "{\"sid\":\"SM0123\",\"status\":\"queued\"}";
    sj_gateway_member(tw, strlen(tw), "sid", out, sizeof out);
    assert_string_equal(out, "SM0123");
    sj_gateway_member(tw, strlen(tw), "id", out, sizeof out);
    assert_string_equal(out, "");
    sj_gateway_member("not json", 8, "id", out, sizeof out);
    assert_string_equal(out, "");
    const char *ctl = "{\"id\":\"a\\nb\\u00e9\"}";
    sj_gateway_member(ctl, strlen(ctl), "id", out, sizeof out);
    assert_string_equal(out, "a?b??");
    const char *err = "{\"code\":21211,\"message\":\"Invalid 'To' Phone Number\","
                      "\"status\":400}";
    sj_gateway_error_text(err, strlen(err), out, sizeof out);
    assert_string_equal(out, "code 21211: Invalid 'To' Phone Number");
    const char *oauth = "{\"error\":\"invalid_client\"}";
    sj_gateway_error_text(oauth, strlen(oauth), out, sizeof out);
    assert_string_equal(out, "invalid_client");
    sj_gateway_error_text("<html>", 6, out, sizeof out);
    assert_string_equal(out, "");
    const char *pii = "{\"code\":21211,\"message\":\"The 'To' number +32470123456 is not "
                      "valid; mail jan.peeters@example.be, ref 1234\"}";
    char big[160];
    sj_gateway_error_text(pii, strlen(pii), big, sizeof big);
    assert_string_equal(big,
                        "code 21211: The 'To' number *** is not valid; mail ***@***, "
                        "ref 1234");
    char tiny[8];
    sj_gateway_error_text(err, strlen(err), tiny, sizeof tiny);
    assert_string_equal(tiny, "code 21");
}

static void test_form_and_sender(void **state)
{
    (void)state;
    sj_buf_t b;
    sj_buf_init(&b, 1024);
    assert_int_equal(sj_form_add(&b, "To", "+32470000001"), SJ_OK);
    assert_int_equal(sj_form_add(&b, "Body", "Zoë & co: 100% a=b~._-"), SJ_OK);
    assert_string_equal(sj_buf_cstr(&b),
                        "To=%2B32470000001&Body=Zo%C3%AB+%26+co%3A+100%25+a%3Db~._-");
    sj_buf_free(&b);
    sj_buf_init(&b, 8);
    assert_int_equal(sj_form_add(&b, "k", "0123456789"), SJ_ERR_TOO_BIG);
    sj_buf_free(&b);
    assert_true(sj_sms_sender_check("Aalter"));
    assert_true(sj_sms_sender_check("Stad Gent"));
    assert_true(sj_sms_sender_check("Gemeente123"));
    assert_true(sj_sms_sender_check("+32470000001"));
    assert_false(sj_sms_sender_check("Gemeente1234")); /* 12 */
    assert_false(sj_sms_sender_check("12345"));        /* no letter, not E.164 */
    assert_false(sj_sms_sender_check(""));
    assert_false(sj_sms_sender_check("Zoë"));
    assert_false(sj_sms_sender_check("Gent-Stad"));
    assert_false(sj_sms_sender_check("+0470000001"));
    assert_false(sj_sms_sender_check(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_envelope_valid),  cmocka_unit_test(test_envelope_injection),
        cmocka_unit_test(test_smtp_classify),   cmocka_unit_test(test_smtp_tls_parse),
        cmocka_unit_test(test_http_classify),   cmocka_unit_test(test_retry_after),
        cmocka_unit_test(test_oauth_token),     cmocka_unit_test(test_provider_answers),
        cmocka_unit_test(test_form_and_sender),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
