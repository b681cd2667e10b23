/* Unit tests of core: time parsing, UTF-8, integer parsing, the capped
 * buffer, the bounded line reader, configuration and HMAC pseudonyms. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/config.h"
#include "core/crypto.h"
#include "core/lines.h"
#include "core/text.h"
#include "core/timeutil.h"

static void rfc3339(void **state)
{
    (void)state;
    int64_t ms;
    char out[32];
    assert_int_equal(sj_time_parse_rfc3339("2026-11-28T09:30:00Z", 20, &ms), SJ_OK);
    sj_time_format_rfc3339(ms, out);
    assert_string_equal(out, "2026-11-28T09:30:00Z");
    const char *s = "2026-11-28T10:30:00.25+01:00";
    assert_int_equal(sj_time_parse_rfc3339(s, strlen(s), &ms), SJ_OK);
    sj_time_format_rfc3339(ms, out);
    assert_string_equal(out, "2026-11-28T09:30:00.250Z");
    const char *bad[] = {"2026-11-28 09:30:00Z",  "2026-02-29T00:00:00Z",
                         "2026-11-28T24:00:00Z",  "2026-11-28T09:30:00",
                         "2026-11-28T09:30:00.Z", "2026-11-28T09:30:00+0100"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(sj_time_parse_rfc3339(bad[i], strlen(bad[i]), &ms),
                         SJ_ERR_INPUT);
    assert_int_equal(sj_time_parse_rfc3339("2024-02-29T00:00:00Z", 20, &ms), SJ_OK);
    sj_time_format_rfc3339(-1, out);
    assert_string_equal(out, "1969-12-31T23:59:59.999Z");
}

static void dates(void **state)
{
    (void)state;
    int32_t d;
    char out[11];
    assert_int_equal(sj_date_parse("1970-01-01", 10, &d), SJ_OK);
    assert_int_equal(d, 0);
    assert_int_equal(sj_date_parse("2000-02-29", 10, &d), SJ_OK);
    sj_date_format(d + 1, out);
    assert_string_equal(out, "2000-03-01");
    assert_int_equal(sj_date_parse("1900-02-29", 10, &d), SJ_ERR_INPUT);
    assert_int_equal(sj_date_parse("2026-1-01", 9, &d), SJ_ERR_INPUT);
}

static void utf8(void **state)
{
    (void)state;
    size_t bad;
    assert_true(sj_utf8_valid("Zo\xc3\xab \xf0\x9f\xaa\xaa", 9, NULL));
    assert_false(sj_utf8_valid("a\xc0\xaf", 3, &bad)); /* overlong '/' */
    assert_int_equal(bad, 1);
    assert_false(sj_utf8_valid("\xed\xa0\x80", 3, &bad));     /* surrogate */
    assert_false(sj_utf8_valid("\xf4\x90\x80\x80", 4, &bad)); /* > U+10FFFF */
    assert_false(sj_utf8_valid("ab\xe2\x82", 4, &bad));       /* truncated */
    assert_int_equal(bad, 2);
}

static void integers(void **state)
{
    (void)state;
    uint64_t u;
    int64_t i;
    assert_int_equal(sj_parse_u64("18446744073709551615", 20, &u), SJ_OK);
    assert_int_equal(sj_parse_u64("18446744073709551616", 20, &u), SJ_ERR_INPUT);
    assert_int_equal(sj_parse_u64("", 0, &u), SJ_ERR_INPUT);
    assert_int_equal(sj_parse_i64("-9223372036854775808", &i), SJ_OK);
    assert_true(i == INT64_MIN);
    assert_int_equal(sj_parse_i64("12a", &i), SJ_ERR_INPUT);
    assert_int_equal(sj_parse_i64("-", &i), SJ_ERR_INPUT);
}

static void buffer_cap(void **state)
{
    (void)state;
    sj_buf_t b;
    sj_buf_init(&b, 10);
    assert_int_equal(sj_buf_adds(&b, "0123456789"), SJ_OK);
    assert_int_equal(sj_buf_addc(&b, 'x'), SJ_ERR_TOO_BIG);
    assert_string_equal(sj_buf_cstr(&b), "0123456789");
    sj_buf_reset(&b);
    assert_int_equal(sj_buf_addf(&b, "%d-%s", 42, "ok"), SJ_OK);
    assert_string_equal(sj_buf_cstr(&b), "42-ok");
    sj_buf_free(&b);
    sj_buf_free(NULL);
}

static void line_reader(void **state)
{
    (void)state;
    char path[] = "/tmp/sj-lines-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char data[] = "one\r\ntoo-long-line\n\nlast";
    assert_int_equal(write(fd, data, sizeof data - 1), (ssize_t)(sizeof data - 1));
    close(fd);
    sj_lines_t *r = sj_lines_open(path, 8, NULL, 0);
    assert_non_null(r);
    const char *l;
    size_t n;
    assert_int_equal(sj_lines_next(r, &l, &n), SJ_OK);
    assert_string_equal(l, "one");
    assert_int_equal(sj_lines_next(r, &l, &n), SJ_ERR_TOO_BIG);
    assert_int_equal(n, 13);
    assert_int_equal(sj_lines_lineno(r), 2);
    assert_int_equal(sj_lines_next(r, &l, &n), SJ_OK);
    assert_int_equal(n, 0);
    assert_int_equal(sj_lines_next(r, &l, &n), SJ_OK);
    assert_string_equal(l, "last");
    assert_int_equal(sj_lines_lineno(r), 4);
    assert_int_equal(sj_lines_next(r, &l, &n), SJ_EOF);
    sj_lines_close(r);
    unlink(path);
    char err[256];
    assert_null(sj_lines_open("/nonexistent/x", 8, err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent/x: cannot open"));
}

static void configuration(void **state)
{
    (void)state;
    sj_conf_t *c = sj_conf_new();
    char err[512];
    assert_string_equal(sj_conf_get(c, "topic.life-events"), "seintje.life-events");
    assert_int_equal(sj_conf_set(c, "topic.partitions", "0", err, sizeof err),
                     SJ_ERR_INPUT);
    assert_string_equal(err, "topic.partitions: \"0\" is not an integer from 1 to 10000");
    assert_int_equal(sj_conf_set(c, "nope", "1", err, sizeof err), SJ_ERR_INPUT);
    assert_non_null(strstr(err, "unknown setting \"nope\""));
    assert_int_equal(sj_conf_set(c, "kafka.linger.ms", "5", err, sizeof err), SJ_OK);
    setenv("SEINTJE_REDIS_URL", "unix:/tmp/r.sock", 1);
    assert_int_equal(sj_conf_load_env(c, err, sizeof err), SJ_OK);
    assert_string_equal(sj_conf_get(c, "redis.url"), "unix:/tmp/r.sock");
    unsetenv("SEINTJE_REDIS_URL");
    char path[] = "/tmp/sj-conf-XXXXXX";
    int fd = mkstemp(path);
    const char file[] = "# comment\nbrokers = a:1\n\nfoo bar\n";
    assert_int_equal(write(fd, file, sizeof file - 1), (ssize_t)(sizeof file - 1));
    close(fd);
    assert_int_equal(sj_conf_load_file(c, path, err, sizeof err), SJ_ERR_INPUT);
    char expect[128];
    snprintf(expect, sizeof expect, "%s:4: expected \"name = value\"", path);
    assert_string_equal(err, expect);
    assert_string_equal(sj_conf_get(c, "brokers"), "a:1");
    unlink(path);
    sj_conf_destroy(c);
}

static void hmac_matches_rfc4231(void **state)
{
    (void)state;
    /* RFC 4231 test case 2: key "Jefe" is too short for us, so use case 1's
     * structure with a 20-byte key of 0x0b and data "Hi There". */
    unsigned char key[20];
    memset(key, 0x0b, sizeof key);
    sj_hmac_t *h = sj_hmac_new(key, sizeof key, NULL, 0);
    assert_non_null(h);
    char out[65];
    assert_int_equal(sj_hmac_hex(h, "Hi There", 8, out), SJ_OK);
    assert_string_equal(
        out, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    assert_int_equal(sj_hmac_hex(h, "Hi There", 8, out), SJ_OK); /* reusable */
    assert_string_equal(
        out, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    sj_hmac_destroy(h);
    /* A key longer than the SHA-256 block is hashed first (RFC 2104);
     * expected value from Python's hmac module. */
    unsigned char longkey[100];
    memset(longkey, 'x', sizeof longkey);
    h = sj_hmac_new(longkey, sizeof longkey, NULL, 0);
    assert_non_null(h);
    assert_int_equal(sj_hmac_hex(h, "85073003328", 11, out), SJ_OK);
    assert_string_equal(
        out, "eaaa1218c7ac9a36d527b33e9c9474abf0adcfce22918ae856f611d2ab1f2252");
    sj_hmac_destroy(h);
    char err[256];
    assert_null(sj_hmac_new(key, 8, err, sizeof err));
    assert_non_null(strstr(err, "at least 16"));
    unsigned char k[SJ_KEY_MAX_LEN];
    size_t kl;
    bool dev;
    unsetenv("SEINTJE_PSEUDONYM_KEY");
    assert_int_equal(sj_key_load(NULL, false, k, &kl, &dev, err, sizeof err),
                     SJ_ERR_INPUT);
    assert_non_null(strstr(err, "no pseudonym key"));
    assert_int_equal(sj_key_load(NULL, true, k, &kl, &dev, err, sizeof err), SJ_OK);
    assert_true(dev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rfc3339),       cmocka_unit_test(dates),
        cmocka_unit_test(utf8),          cmocka_unit_test(integers),
        cmocka_unit_test(buffer_cap),    cmocka_unit_test(line_reader),
        cmocka_unit_test(configuration), cmocka_unit_test(hmac_matches_rfc4231),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
