/* Unit tests for the nudging rules (segments/nudge.h): the send window in
 * Europe/Brussels time across the weekend and both daylight-saving changes
 * (exact UTC instants, plus a minute-by-minute brute force against an
 * independent reading of the EU rules), its text form and every parse error,
 * the frequency cap, consent and channel choice, and the experiment bucket
 * and assignment (known answers and chi-square goodness of fit). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/crypto.h"
#include "core/timeutil.h"
#include "segments/nudge.h"

#define MIN_MS  60000LL
#define HOUR_MS 3600000LL
#define DAY_MS  86400000LL

#define MON 0x01
#define FRI 0x10
#define SAT 0x20
#define SUN 0x40

static int64_t t(const char *s)
{
    int64_t ms = 0;
    assert_int_equal(sj_time_parse_rfc3339(s, strlen(s), &ms), SJ_OK);
    return ms;
}

static sj_send_window_t win(uint8_t days, int from_h, int from_m, int to_h, int to_m)
{
    sj_send_window_t w = {true, days, from_h * 60 + from_m, to_h * 60 + to_m};
    return w;
}

/* Asserts that the next opening from `at` is `want` (both RFC 3339). */
static void expect_next(const sj_send_window_t *w, const char *at, const char *want)
{
    int64_t got = sj_nudge_window_next(w, t(at));
    if (got != t(want)) {
        char g[32];
        sj_time_format_rfc3339(got, g);
        fail_msg("window from %s: got %s, want %s", at, g, want);
    }
}

/* ---- send window: ordinary days ------------------------------------------- */

static void test_window_weekdays(void **state)
{
    (void)state;
    sj_send_window_t w = win(0x1f, 9, 0, 18, 0); /* mon-fri 09:00-18:00, CET = UTC+1 */
    /* inside: Monday 2 March 2026, 10:00 CET */
    expect_next(&w, "2026-03-02T09:00:00Z", "2026-03-02T09:00:00Z");
    expect_next(&w, "2026-03-02T09:00:00.123Z", "2026-03-02T09:00:00.123Z");
    /* the opening minute is inside, the closing minute is not */
    expect_next(&w, "2026-03-03T08:00:00Z", "2026-03-03T08:00:00Z");
    expect_next(&w, "2026-03-03T16:59:59.999Z", "2026-03-03T16:59:59.999Z");
    expect_next(&w, "2026-03-03T17:00:00Z", "2026-03-04T08:00:00Z");
    /* before the opening on a weekday: Tuesday 07:30 CET */
    expect_next(&w, "2026-03-03T06:30:00Z", "2026-03-03T08:00:00Z");
    /* just after local midnight (still the previous day in UTC) */
    expect_next(&w, "2026-03-02T23:30:00Z", "2026-03-03T08:00:00Z");
    /* after the closing on Friday: Monday's opening */
    expect_next(&w, "2026-03-06T17:30:00Z", "2026-03-09T08:00:00Z");
    expect_next(&w, "2026-03-06T17:00:00Z", "2026-03-09T08:00:00Z");
    /* weekend */
    expect_next(&w, "2026-03-07T12:00:00Z", "2026-03-09T08:00:00Z");
    expect_next(&w, "2026-03-08T22:59:59Z", "2026-03-09T08:00:00Z");
    /* summer time: 09:00 CEST is 07:00 UTC */
    expect_next(&w, "2026-06-01T05:00:00Z", "2026-06-01T07:00:00Z");
    expect_next(&w, "2026-06-05T16:00:00Z", "2026-06-08T07:00:00Z");
    /* one day only, and a window up to midnight */
    sj_send_window_t sat = win(SAT, 10, 0, 12, 30);
    expect_next(&sat, "2026-03-07T08:59:00Z", "2026-03-07T09:00:00Z");
    expect_next(&sat, "2026-03-07T11:29:59.999Z", "2026-03-07T11:29:59.999Z");
    expect_next(&sat, "2026-03-07T11:30:00Z", "2026-03-14T09:00:00Z");
    sj_send_window_t late = win(0x7f, 20, 0, 24, 0);
    expect_next(&late, "2026-01-10T22:59:59.999Z", "2026-01-10T22:59:59.999Z");
    expect_next(&late, "2026-01-10T23:00:00Z", "2026-01-11T19:00:00Z");
    /* an unset (or absent) window lets everything through */
    sj_send_window_t unset = {0};
    assert_int_equal(sj_nudge_window_next(&unset, 1234567), 1234567);
    assert_int_equal(sj_nudge_window_next(NULL, -5), -5);
}

/* ---- send window: daylight-saving changes ---------------------------------- */

static void test_window_spring_forward(void **state)
{
    (void)state;
    /* Sunday 29 March 2026: 02:00 CET (01:00 UTC) becomes 03:00 CEST. */
    sj_send_window_t daily = win(0x7f, 9, 0, 18, 0);
    expect_next(&daily, "2026-03-28T17:30:00Z", "2026-03-29T07:00:00Z");
    expect_next(&daily, "2026-03-29T00:59:59Z", "2026-03-29T07:00:00Z");
    expect_next(&daily, "2026-03-29T15:59:59Z", "2026-03-29T15:59:59Z");
    expect_next(&daily, "2026-03-29T16:00:00Z", "2026-03-30T07:00:00Z");
    sj_send_window_t weekdays = win(0x1f, 9, 0, 18, 0);
    expect_next(&weekdays, "2026-03-27T17:00:00Z", "2026-03-30T07:00:00Z");
    /* an opening inside the skipped hour: the first minute after the gap */
    sj_send_window_t gap = win(0x7f, 2, 30, 4, 0);
    expect_next(&gap, "2026-03-29T00:00:00Z", "2026-03-29T01:00:00Z");
    expect_next(&gap, "2026-03-28T03:00:00Z", "2026-03-29T01:00:00Z");
    expect_next(&gap, "2026-03-29T01:59:59.999Z", "2026-03-29T01:59:59.999Z");
    expect_next(&gap, "2026-03-29T02:00:00Z", "2026-03-30T00:30:00Z");
    sj_send_window_t at_two = win(SUN, 2, 0, 5, 0);
    expect_next(&at_two, "2026-03-28T23:30:00Z", "2026-03-29T01:00:00Z");
    /* a window that lies wholly in the gap is not open that day */
    sj_send_window_t lost = win(0x7f, 2, 0, 2, 30);
    expect_next(&lost, "2026-03-29T00:00:00Z", "2026-03-30T00:00:00Z");
    sj_send_window_t lost_sunday = win(SUN, 2, 5, 2, 55);
    expect_next(&lost_sunday, "2026-03-28T12:00:00Z", "2026-04-05T00:05:00Z");
}

static void test_window_fall_back(void **state)
{
    (void)state;
    /* Sunday 25 October 2026: 03:00 CEST (01:00 UTC) becomes 02:00 CET. */
    sj_send_window_t daily = win(0x7f, 9, 0, 18, 0);
    expect_next(&daily, "2026-10-24T16:00:00Z", "2026-10-25T08:00:00Z");
    expect_next(&daily, "2026-10-25T00:30:00Z", "2026-10-25T08:00:00Z");
    expect_next(&daily, "2026-10-25T16:59:00Z", "2026-10-25T16:59:00Z");
    expect_next(&daily, "2026-10-25T17:00:00Z", "2026-10-26T08:00:00Z");
    sj_send_window_t weekdays = win(0x1f, 9, 0, 18, 0);
    expect_next(&weekdays, "2026-10-23T16:00:00Z", "2026-10-26T08:00:00Z");
    /* the repeated hour 02:00-03:00 is inside both times */
    sj_send_window_t twice = win(SUN, 2, 0, 3, 0);
    expect_next(&twice, "2026-10-24T23:00:00Z", "2026-10-25T00:00:00Z");
    expect_next(&twice, "2026-10-25T00:59:00Z", "2026-10-25T00:59:00Z");
    expect_next(&twice, "2026-10-25T01:00:00Z", "2026-10-25T01:00:00Z");
    expect_next(&twice, "2026-10-25T01:59:59Z", "2026-10-25T01:59:59Z");
    expect_next(&twice, "2026-10-25T02:00:00Z", "2026-11-01T01:00:00Z");
    /* after the first 02:15-02:45, the second one opens */
    sj_send_window_t quarter = win(SUN, 2, 15, 2, 45);
    expect_next(&quarter, "2026-10-25T00:50:00Z", "2026-10-25T01:15:00Z");
    /* after 02:30 CEST, the clock goes back to 02:00 inside 01:30-02:30 */
    sj_send_window_t across = win(SUN, 1, 30, 2, 30);
    expect_next(&across, "2026-10-25T00:45:00Z", "2026-10-25T01:00:00Z");
    expect_next(&across, "2026-10-25T01:30:00Z", "2026-11-01T00:30:00Z");
}

/* An independent reading of Europe/Brussels time for the brute force: the
 * EU rule spelled out (last Sunday of March / October, 01:00 UTC). */
static int64_t ref_last_sunday_ms(int y, unsigned m)
{
    int32_t last = sj_days_from_civil(y, m, 31);
    while (((last % 7) + 7 + 4) % 7 != 0) last--; /* 1970-01-01 was a Thursday */
    return (int64_t)last * DAY_MS + HOUR_MS;
}

static int64_t ref_floor(int64_t a, int64_t b)
{
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

static bool ref_inside(const sj_send_window_t *w, int64_t utc)
{
    int y;
    unsigned m, d;
    sj_civil_from_days((int32_t)ref_floor(utc, DAY_MS), &y, &m, &d);
    bool summer = utc >= ref_last_sunday_ms(y, 3) && utc < ref_last_sunday_ms(y, 10);
    int64_t local = utc + (summer ? 2 : 1) * HOUR_MS;
    int64_t day = ref_floor(local, DAY_MS);
    int64_t minute = (local - day * DAY_MS) / MIN_MS;
    int wd = (int)(((day % 7) + 7 + 3) % 7); /* Monday 0 */
    return (w->days >> wd & 1) && minute >= w->from_minutes && minute < w->to_minutes;
}

static int64_t ref_next(const sj_send_window_t *w, int64_t utc)
{
    if (ref_inside(w, utc)) return utc;
    for (int64_t m = ref_floor(utc, MIN_MS) + 1; m < utc / MIN_MS + 9 * 1440; m++)
        if (ref_inside(w, m * MIN_MS)) return m * MIN_MS;
    return -1;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Random windows and instants within ten days of every change in 2025-2027. */
static void test_window_brute_force(void **state)
{
    (void)state;
    int64_t changes[6];
    for (int y = 2025, i = 0; y <= 2027; y++) {
        changes[i++] = ref_last_sunday_ms(y, 3);
        changes[i++] = ref_last_sunday_ms(y, 10);
    }
    for (int i = 0; i < 1200; i++) {
        sj_send_window_t w = {true, 0, 0, 0};
        while (!w.days) w.days = (uint8_t)(rng() & 0x7f);
        /* short windows near the changes half of the time */
        if (i % 2) {
            w.from_minutes = (int32_t)(60 + rng() % 180);
            w.to_minutes = w.from_minutes + 1 + (int32_t)(rng() % 90);
        } else {
            w.from_minutes = (int32_t)(rng() % 1440);
            w.to_minutes =
                w.from_minutes + 1 + (int32_t)(rng() % (1440 - w.from_minutes));
        }
        int64_t at = changes[i % 6] - 10 * DAY_MS + (int64_t)(rng() % (20 * DAY_MS));
        if (i % 3 == 0) at -= at % MIN_MS; /* whole minutes too */
        int64_t want = ref_next(&w, at), got = sj_nudge_window_next(&w, at);
        if (got != want) {
            char a[32], g[32], x[32], text[64];
            sj_time_format_rfc3339(at, a);
            sj_time_format_rfc3339(got, g);
            sj_time_format_rfc3339(want, x);
            sj_nudge_window_format(&w, text, sizeof text);
            fail_msg("\"%s\" from %s: got %s, want %s", text, a, g, x);
        }
        /* the answer is inside: asking again from it gives it back */
        assert_int_equal(sj_nudge_window_next(&w, got), got);
    }
}

/* ---- send window: text form ------------------------------------------------ */

static void expect_format(const char *in, const char *want)
{
    sj_send_window_t w, again;
    char err[256] = "", out[64];
    if (sj_nudge_window_parse(in, &w, err, sizeof err) != SJ_OK)
        fail_msg("\"%s\" refused: %s", in, err);
    assert_true(w.set);
    sj_nudge_window_format(&w, out, sizeof out);
    assert_string_equal(out, want);
    assert_int_equal(sj_nudge_window_parse(out, &again, err, sizeof err), SJ_OK);
    assert_true(again.set == w.set && again.days == w.days &&
                again.from_minutes == w.from_minutes && again.to_minutes == w.to_minutes);
}

static void test_window_parse_format(void **state)
{
    (void)state;
    sj_send_window_t w;
    char err[256];
    assert_int_equal(sj_nudge_window_parse("mon-fri 09:00-18:00", &w, err, sizeof err),
                     SJ_OK);
    assert_int_equal(w.days, 0x1f);
    assert_int_equal(w.from_minutes, 540);
    assert_int_equal(w.to_minutes, 1080);
    assert_int_equal(
        sj_nudge_window_parse("mon,wed,sat 10:00-12:30", &w, err, sizeof err), SJ_OK);
    assert_int_equal(w.days, 0x01 | 0x04 | 0x20);
    assert_int_equal(w.from_minutes, 600);
    assert_int_equal(w.to_minutes, 750);
    assert_int_equal(sj_nudge_window_parse("fri-mon 9:00-24:00", &w, err, sizeof err),
                     SJ_OK);
    assert_int_equal(w.days, MON | FRI | SAT | SUN);
    assert_int_equal(w.to_minutes, 1440);

    expect_format("mon-fri 09:00-18:00", "mon-fri 09:00-18:00");
    expect_format("mon,wed,sat 10:00-12:30", "mon,wed,sat 10:00-12:30");
    expect_format("daily 08:00-20:00", "daily 08:00-20:00");
    expect_format("mon-sun 08:00-20:00", "daily 08:00-20:00");
    expect_format("sat,sun 10:00-16:00", "sat,sun 10:00-16:00");
    expect_format("fri-mon 09:00-17:00", "mon,fri-sun 09:00-17:00");
    expect_format("mon,tue,thu-sun 00:00-24:00", "mon,tue,thu-sun 00:00-24:00");
    expect_format("sun-thu 07:05-07:06", "mon-thu,sun 07:05-07:06");
    expect_format("wed-wed 12:00-13:00", "wed 12:00-13:00");
    expect_format("mon,mon 12:00-13:00", "mon 12:00-13:00");
    expect_format("  MON-Fri \t 9:00-18:00 \n", "mon-fri 09:00-18:00");
    expect_format("Daily 23:59-24:00", "daily 23:59-24:00");

    /* every day set, formatted both ways; a short buffer stays terminated */
    char small[8];
    sj_send_window_t d = win(0x7f, 8, 0, 20, 0);
    sj_nudge_window_format(&d, small, sizeof small);
    assert_string_equal(small, "daily 0");
    sj_send_window_t unset = {0};
    char out[32] = "x";
    sj_nudge_window_format(&unset, out, sizeof out);
    assert_string_equal(out, "");
}

static void expect_error(const char *in, const char *part)
{
    sj_send_window_t w = {true, 0x7f, 1, 2};
    char err[256] = "";
    assert_int_equal(sj_nudge_window_parse(in, &w, err, sizeof err), SJ_ERR_INPUT);
    assert_false(w.set);
    if (!strstr(err, part)) fail_msg("\"%s\": \"%s\" lacks \"%s\"", in, err, part);
    /* a short buffer, or none, is fine */
    char tiny[6];
    assert_int_equal(sj_nudge_window_parse(in, &w, tiny, sizeof tiny), SJ_ERR_INPUT);
    assert_true(strlen(tiny) < sizeof tiny);
    assert_int_equal(sj_nudge_window_parse(in, &w, NULL, 0), SJ_ERR_INPUT);
}

static void test_window_parse_errors(void **state)
{
    (void)state;
    expect_error(NULL, "empty send window: expected days and hours");
    expect_error("", "empty send window");
    expect_error(" \t ", "empty send window");
    expect_error("mon-fri", "missing hours after \"mon-fri\"");
    expect_error("09:00-18:00", "missing hours after \"09:00-18:00\"");
    expect_error("mon-fri 09:00-18:00 CET", "unexpected \"CET\" after the hours");
    expect_error("mon, fri 09:00-18:00", "unexpected \"09:00-18:00\" after the hours");
    expect_error("mon,,fri 09:00-18:00", "empty day in \"mon,,fri\"");
    expect_error("mon, 09:00-18:00", "empty day in \"mon,\"");
    expect_error(",mon 09:00-18:00", "empty day in \",mon\"");
    expect_error("funday 09:00-18:00", "unknown day \"funday\": use mon, tue");
    expect_error("monday 09:00-18:00", "unknown day \"monday\"");
    expect_error("mon-xyz 09:00-18:00", "unknown day \"mon-xyz\"");
    expect_error("mon- 09:00-18:00", "unknown day \"mon-\"");
    expect_error("mon-tue-wed 09:00-18:00", "unknown day \"mon-tue-wed\"");
    expect_error("weekdays-and-more-text 09:00-18:00", "unknown day \"weekdays-and-mo\"");
    expect_error("mon-fri 09:00", "bad hours \"09:00\": expected opening-closing");
    expect_error("mon-fri 0900-1800", "bad time \"0900\": expected HH:MM");
    expect_error("mon-fri 9h-18h", "bad time \"9h\"");
    expect_error("mon-fri 09:00-", "bad time \"\"");
    expect_error("mon-fri 09:0-18:00", "bad time \"09:0\"");
    expect_error("mon-fri 009:00-18:00", "bad time \"009:00\"");
    expect_error("mon-fri 09:00-18:00-20:00", "bad time \"18:00-20:00\"");
    expect_error("mon-fri +9:00-18:00", "bad time \"+9:00\"");
    expect_error("mon-fri 25:00-26:00", "time \"25:00\" out of range: hours 00-23");
    expect_error("mon-fri 09:60-18:00", "time \"09:60\" out of range");
    expect_error("mon-fri 09:00-24:30", "time \"24:30\" out of range");
    expect_error("mon-fri 18:00-09:00", "hours \"18:00-09:00\" close before they open");
    expect_error("mon-fri 09:00-09:00", "hours \"09:00-09:00\" close before they open");
    expect_error("mon-fri 24:00-24:00", "close before they open");
    char lng[200];
    memset(lng, 'a', sizeof lng - 1);
    lng[sizeof lng - 1] = '\0';
    expect_error(lng, "send window is longer than 128 characters");
}

/* ---- frequency cap --------------------------------------------------------- */

static void test_cap(void **state)
{
    (void)state;
    const int64_t now = t("2026-05-11T10:00:00Z"), day = DAY_MS;
    int64_t next = 0;
    /* 2 per 7 days */
    assert_true(sj_nudge_cap(NULL, 0, now, 2, 7, &next));
    assert_int_equal(next, now);
    int64_t one[] = {now - day};
    assert_true(sj_nudge_cap(one, 1, now, 2, 7, &next));
    int64_t two[] = {now - 3 * day, now - day};
    assert_false(sj_nudge_cap(two, 2, now, 2, 7, &next));
    assert_int_equal(next, now + 4 * day); /* the older one + 7 days */
    /* unsorted, with old sends that no longer count */
    int64_t many[] = {now - 2 * day, now - 30 * day, now - 5 * day - 123,
                      now - 1000,    now - 8 * day,  now - 6 * day};
    assert_false(sj_nudge_cap(many, 6, now, 2, 7, &next));
    assert_int_equal(next, now + 5 * day); /* 2nd most recent: now - 2 days */
    assert_false(sj_nudge_cap(many, 6, now, 4, 7, &next));
    assert_int_equal(next, now + 1 * day); /* 4th: now - 6 days */
    assert_true(sj_nudge_cap(many, 6, now, 5, 7, &next));
    assert_false(sj_nudge_cap(many, 6, now, 1, 7, &next));
    assert_int_equal(next, now + 7 * day - 1000);
    /* the boundary: a send exactly cap_days ago no longer counts */
    int64_t edge[] = {now - 7 * day, now - day};
    assert_true(sj_nudge_cap(edge, 2, now, 2, 7, NULL));
    int64_t inside[] = {now - 7 * day + 1, now - day};
    assert_false(sj_nudge_cap(inside, 2, now, 2, 7, &next));
    assert_int_equal(next, now + 1);
    /* ...and at next_ms itself one more may go */
    assert_true(sj_nudge_cap(inside, 2, next, 2, 7, NULL));
    assert_false(sj_nudge_cap(inside, 2, next - 1, 2, 7, NULL));
    /* equal send times count each */
    int64_t same[] = {now - day, now - day, now - day};
    assert_false(sj_nudge_cap(same, 3, now, 3, 7, &next));
    assert_int_equal(next, now + 6 * day);
    assert_false(sj_nudge_cap(same, 3, now, 2, 7, &next));
    assert_int_equal(next, now + 6 * day);
    /* a send recorded after `now` (a replay) counts too */
    int64_t future[] = {now + 1000, now - day};
    assert_false(sj_nudge_cap(future, 2, now, 2, 7, &next));
    assert_int_equal(next, now + 6 * day);
    assert_false(sj_nudge_cap(future, 2, now, 1, 7, &next));
    assert_int_equal(next, now + 7 * day + 1000);
    /* cap_count 0 disables the cap */
    assert_true(sj_nudge_cap(many, 6, now, 0, 7, &next));
    assert_int_equal(next, now);
    /* extremes do not overflow */
    int64_t big[] = {INT64_MAX, INT64_MAX - 1};
    assert_false(sj_nudge_cap(big, 2, INT64_MAX, 1, 365, &next));
    assert_int_equal(next, INT64_MAX);
    int64_t low[] = {INT64_MIN + 5, INT64_MIN + 9};
    assert_false(sj_nudge_cap(low, 2, INT64_MIN + 10, 2, 1, &next));
    assert_int_equal(next, INT64_MIN + 5 + DAY_MS);
}

/* ---- consent and channels -------------------------------------------------- */

enum { EMAIL = 0, SMS = 1, APP = 2 };

static sj_nudge_contact_t contact(int c_email, int c_sms, int c_app)
{
    sj_nudge_contact_t c = {{true, true, true}, {c_email, c_sms, c_app}, {-1, -1, -1}};
    return c;
}

static void test_channels(void **state)
{
    (void)state;
    const int order[] = {APP, EMAIL, SMS};
    int out[3];
    size_t n = 99;
    /* all usable: the campaign's order is kept */
    sj_nudge_contact_t c = contact(1, 1, 1);
    assert_int_equal(sj_nudge_channels(order, 3, &c, true, out, &n), SJ_NUDGE_OK);
    assert_int_equal(n, 3);
    assert_int_equal(out[0], APP);
    assert_int_equal(out[1], EMAIL);
    assert_int_equal(out[2], SMS);
    const int other[] = {SMS, APP};
    assert_int_equal(sj_nudge_channels(other, 2, &c, true, out, &n), SJ_NUDGE_OK);
    assert_int_equal(n, 2);
    assert_int_equal(out[0], SMS);
    assert_int_equal(out[1], APP);
    /* unreachable channels are left out */
    c.reachable[APP] = false;
    assert_int_equal(sj_nudge_channels(order, 3, &c, true, out, &n), SJ_NUDGE_OK);
    assert_int_equal(n, 2);
    assert_int_equal(out[0], EMAIL);
    assert_int_equal(out[1], SMS);
    /* no-channel: nothing reachable, or only channels outside the campaign */
    c.reachable[EMAIL] = c.reachable[SMS] = false;
    assert_int_equal(sj_nudge_channels(order, 3, &c, true, out, &n), SJ_NUDGE_NO_CHANNEL);
    assert_int_equal(n, 0);
    c = contact(1, 1, 1);
    c.reachable[APP] = false;
    const int app_only[] = {APP};
    assert_int_equal(sj_nudge_channels(app_only, 1, &c, false, out, &n),
                     SJ_NUDGE_NO_CHANNEL);
    assert_int_equal(sj_nudge_channels(order, 0, &c, false, out, &n),
                     SJ_NUDGE_NO_CHANNEL);
    /* no-consent: refused, or never stated while consent is required */
    c = contact(0, -1, 0);
    assert_int_equal(sj_nudge_channels(order, 3, &c, true, out, &n), SJ_NUDGE_NO_CONSENT);
    assert_int_equal(n, 0);
    /* never stated counts as yes when consent is not required; a refusal
     * never does */
    assert_int_equal(sj_nudge_channels(order, 3, &c, false, out, &n), SJ_NUDGE_OK);
    assert_int_equal(n, 1);
    assert_int_equal(out[0], SMS);
    c = contact(-1, -1, -1);
    assert_int_equal(sj_nudge_channels(order, 3, &c, true, out, &n), SJ_NUDGE_NO_CONSENT);
    assert_int_equal(sj_nudge_channels(order, 3, &c, false, out, &n), SJ_NUDGE_OK);
    assert_int_equal(n, 3);
    c = contact(0, 0, 0);
    assert_int_equal(sj_nudge_channels(order, 3, &c, false, out, &n),
                     SJ_NUDGE_NO_CONSENT);
    /* opted-out: the topic refused on every channel with consent */
    c = contact(1, 1, 1);
    c.topic_consent[EMAIL] = c.topic_consent[SMS] = c.topic_consent[APP] = 0;
    assert_int_equal(sj_nudge_channels(order, 3, &c, true, out, &n), SJ_NUDGE_OPTED_OUT);
    assert_int_equal(n, 0);
    assert_int_equal(sj_nudge_channels(order, 3, &c, false, out, &n), SJ_NUDGE_OPTED_OUT);
    /* a topic refusal on one channel leaves the others */
    c = contact(1, 1, 1);
    c.topic_consent[APP] = 0;
    assert_int_equal(sj_nudge_channels(order, 3, &c, true, out, &n), SJ_NUDGE_OK);
    assert_int_equal(n, 2);
    assert_int_equal(out[0], EMAIL);
    assert_int_equal(out[1], SMS);
    /* decisive: app blocked only by its topic refusal, the rest by consent */
    c = contact(0, -1, 1);
    c.topic_consent[APP] = 0;
    assert_int_equal(sj_nudge_channels(order, 3, &c, true, out, &n), SJ_NUDGE_OPTED_OUT);
    /* a channel refusal wins over the topic's: no-consent */
    c = contact(0, 0, 0);
    c.topic_consent[EMAIL] = 0;
    assert_int_equal(sj_nudge_channels(order, 3, &c, true, out, &n), SJ_NUDGE_NO_CONSENT);
    /* a yes for the topic is consent for it when the channel was never
     * stated, but not against a channel refusal */
    c = contact(-1, 0, -1);
    c.topic_consent[SMS] = c.topic_consent[APP] = 1;
    assert_int_equal(sj_nudge_channels(order, 3, &c, true, out, &n), SJ_NUDGE_OK);
    assert_int_equal(n, 1);
    assert_int_equal(out[0], APP);
    /* values outside sj_channel_t and repeats are ignored */
    const int odd[] = {7, -1, SMS, SMS, EMAIL};
    c = contact(1, 1, 1);
    assert_int_equal(sj_nudge_channels(odd, 5, &c, true, out, &n), SJ_NUDGE_OK);
    assert_int_equal(n, 2);
    assert_int_equal(out[0], SMS);
    assert_int_equal(out[1], EMAIL);
}

static void test_reason_names(void **state)
{
    (void)state;
    static const char *const want[] = {"ok",           "no-consent",    "opted-out",
                                       "no-channel",   "frequency-cap", "send-window",
                                       "duplicate",    "holdout",       "audience",
                                       "goal-reached", "expired",       "inactive"};
    assert_int_equal(SJ_ARRAY_LEN(want), SJ_NUDGE_REASONS);
    for (int r = 0; r < SJ_NUDGE_REASONS; r++)
        assert_string_equal(sj_nudge_reason_name((sj_nudge_reason_t)r), want[r]);
    assert_string_equal(sj_nudge_reason_name(SJ_NUDGE_REASONS), "?");
}

/* ---- experiments ----------------------------------------------------------- */

#define PSEUDO "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void test_bucket_known(void **state)
{
    (void)state;
    /* python3 -c "import hashlib; d=hashlib.sha256(b'<experiment>|<pseudonym>')
     *   .digest(); print(int.from_bytes(d[:8], 'big') % 10000)" */
    assert_int_equal(sj_nudge_bucket("id-card-framing", PSEUDO),
                     7390); /* 67e59af16451f99e */
    assert_int_equal(sj_nudge_bucket("welcome-2026", "resident-1"), 1923);
    assert_int_equal(sj_nudge_bucket("", ""), 1657);
    assert_int_equal(sj_nudge_bucket(NULL, NULL), 1657);
    char p[SJ_PSEUDONYM_LEN + 1];
    sj_sha256_hex("resident-0", 10, p, SJ_PSEUDONYM_LEN);
    assert_string_equal(
        p, "0e1d89feaea082ef6d701190685b2d623a7b69131d953f3a0873e80c92bda2cc");
    assert_int_equal(sj_nudge_bucket("id-card-framing", p), 5831);
    /* stable from call to call */
    assert_int_equal(sj_nudge_bucket("id-card-framing", p),
                     sj_nudge_bucket("id-card-framing", p));
}

static void test_assign(void **state)
{
    (void)state;
    const unsigned w3[] = {45, 45, 10};
    assert_int_equal(sj_nudge_assign(0, w3, 3), 0);
    assert_int_equal(sj_nudge_assign(4499, w3, 3), 0);
    assert_int_equal(sj_nudge_assign(4500, w3, 3), 1);
    assert_int_equal(sj_nudge_assign(8999, w3, 3), 1);
    assert_int_equal(sj_nudge_assign(9000, w3, 3), 2);
    assert_int_equal(sj_nudge_assign(9999, w3, 3), 2);
    const unsigned zero_first[] = {0, 100};
    assert_int_equal(sj_nudge_assign(0, zero_first, 2), 1);
    const unsigned zero_mid[] = {50, 0, 50};
    assert_int_equal(sj_nudge_assign(4999, zero_mid, 3), 0);
    assert_int_equal(sj_nudge_assign(5000, zero_mid, 3), 2);
    const unsigned all[] = {100};
    assert_int_equal(sj_nudge_assign(9999, all, 1), 0);
    /* defensive: weights short of 100 leave the rest to the last variant */
    const unsigned short_of[] = {10, 20};
    assert_int_equal(sj_nudge_assign(5000, short_of, 2), 1);
    assert_int_equal(sj_nudge_assign(5000, NULL, 0), 0);
}

#define N_RESIDENTS 100000

static unsigned buckets[N_RESIDENTS];

static int setup_buckets(void **state)
{
    (void)state;
    char name[32], p[SJ_PSEUDONYM_LEN + 1];
    for (int i = 0; i < N_RESIDENTS; i++) {
        int len = snprintf(name, sizeof name, "resident-%d", i);
        sj_sha256_hex(name, (size_t)len, p, SJ_PSEUDONYM_LEN);
        buckets[i] = sj_nudge_bucket("id-card-framing-2026", p);
    }
    return 0;
}

/* Pearson's statistic of observed counts against the expected shares. */
static double chi_square(const unsigned long *observed, const double *share, size_t k,
                         unsigned long total)
{
    double x2 = 0;
    for (size_t i = 0; i < k; i++) {
        double e = share[i] * (double)total, d = (double)observed[i] - e;
        x2 += d * d / e;
    }
    return x2;
}

/* Assigns every resident with `used` weights and measures the fit to
 * `expected` weights (the same, except for the deliberately skewed case). */
static double assignment_fit(const unsigned *used, const unsigned *expected, size_t k)
{
    unsigned long count[8] = {0};
    double share[8];
    for (int i = 0; i < N_RESIDENTS; i++) count[sj_nudge_assign(buckets[i], used, k)]++;
    for (size_t i = 0; i < k; i++) share[i] = expected[i] / 100.0;
    return chi_square(count, share, k, N_RESIDENTS);
}

/* Critical values of chi-square at p = 0.001 (upper tail). */
#define CHI2_001_DF1  10.828
#define CHI2_001_DF2  13.816
#define CHI2_001_DF99 148.230

static void test_assign_chi_square(void **state)
{
    (void)state;
    const unsigned a[] = {45, 45, 10}, b[] = {34, 33, 33}, c[] = {50, 50};
    double xa = assignment_fit(a, a, 3), xb = assignment_fit(b, b, 3),
           xc = assignment_fit(c, c, 2);
    print_message("chi-square over %d residents: {45,45,10} %.3f (df 2, critical %.3f); "
                  "{34,33,33} %.3f (df 2, critical %.3f); {50,50} %.3f (df 1, critical "
                  "%.3f)\n",
                  N_RESIDENTS, xa, CHI2_001_DF2, xb, CHI2_001_DF2, xc, CHI2_001_DF1);
    assert_true(xa < CHI2_001_DF2);
    assert_true(xb < CHI2_001_DF2);
    assert_true(xc < CHI2_001_DF1);
    /* The check has teeth: one point moved between two arms, or a mapping
     * that ignores the weights' order, fails it. */
    const unsigned a_skew[] = {46, 44, 10}, c_skew[] = {51, 49};
    double sa = assignment_fit(a_skew, a, 3), sc = assignment_fit(c_skew, c, 2);
    const unsigned b_rev[] = {33, 33, 34};
    double sb = assignment_fit(b_rev, b, 3);
    print_message("skewed: {46,44,10} vs {45,45,10} %.3f; {51,49} vs {50,50} %.3f; "
                  "{33,33,34} vs {34,33,33} %.3f\n",
                  sa, sc, sb);
    assert_true(sa > CHI2_001_DF2);
    assert_true(sc > CHI2_001_DF1);
    assert_true(sb > CHI2_001_DF2);
}

/* The buckets themselves: uniform over 100 groups of 100. */
static void test_bucket_chi_square(void **state)
{
    (void)state;
    unsigned long count[100] = {0}, skewed[100] = {0};
    double share[100];
    for (int i = 0; i < 100; i++) share[i] = 0.01;
    for (int i = 0; i < N_RESIDENTS; i++) {
        count[buckets[i] / 100]++;
        /* a biased bucket: squares modulo 10000 are not uniform */
        skewed[(unsigned)((unsigned long)buckets[i] * buckets[i] % 10000) / 100]++;
    }
    double x = chi_square(count, share, 100, N_RESIDENTS);
    double xs = chi_square(skewed, share, 100, N_RESIDENTS);
    print_message(
        "bucket uniformity: %.3f (df 99, critical %.3f); squared buckets %.3f\n", x,
        CHI2_001_DF99, xs);
    assert_true(x < CHI2_001_DF99);
    assert_true(xs > CHI2_001_DF99);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_window_weekdays),
        cmocka_unit_test(test_window_spring_forward),
        cmocka_unit_test(test_window_fall_back),
        cmocka_unit_test(test_window_brute_force),
        cmocka_unit_test(test_window_parse_format),
        cmocka_unit_test(test_window_parse_errors),
        cmocka_unit_test(test_cap),
        cmocka_unit_test(test_channels),
        cmocka_unit_test(test_reason_names),
        cmocka_unit_test(test_bucket_known),
        cmocka_unit_test(test_assign),
        cmocka_unit_test(test_assign_chi_square),
        cmocka_unit_test(test_bucket_chi_square),
    };
    return cmocka_run_group_tests(tests, setup_buckets, NULL);
}
