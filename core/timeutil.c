/* Dates and times without the locale- and TZ-dependent parts of libc: civil
 * day arithmetic (Howard Hinnant's algorithms), RFC 3339 parsing and
 * formatting. See timeutil.h. */
#include "timeutil.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int32_t sj_days_from_civil(int y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int32_t)doe - 719468;
}

void sj_civil_from_days(int32_t z, int *y, unsigned *m, unsigned *d)
{
    z += 719468;
    const int32_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int)yoe + era * 400 + (*m <= 2);
}

bool sj_date_valid(int y, unsigned m, unsigned d)
{
    static const unsigned mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1 || y > 9999 || m < 1 || m > 12 || d < 1) return false;
    unsigned max = mdays[m - 1];
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) max = 29;
    return d <= max;
}

/* Reads exactly n digits at s. */
static bool digits(const char *s, size_t n, unsigned *out)
{
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    *out = v;
    return true;
}

sj_status_t sj_date_parse(const char *s, size_t n, int32_t *days)
{
    unsigned y, m, d;
    if (n != 10 || s[4] != '-' || s[7] != '-' || !digits(s, 4, &y) ||
        !digits(s + 5, 2, &m) || !digits(s + 8, 2, &d) || !sj_date_valid((int)y, m, d))
        return SJ_ERR_INPUT;
    *days = sj_days_from_civil((int)y, m, d);
    return SJ_OK;
}

/* Writes v as exactly w decimal digits. */
static void put_digits(char *p, unsigned v, int w)
{
    for (int i = w - 1; i >= 0; i--, v /= 10) p[i] = (char)('0' + v % 10);
}

/* "YYYY-MM-DD" of years 0-9999 at out (10 bytes, no NUL); false for others. */
static bool put_date(char *out, int y, unsigned m, unsigned d)
{
    if (y < 0 || y > 9999) return false;
    put_digits(out, (unsigned)y, 4);
    out[4] = '-';
    put_digits(out + 5, m, 2);
    out[7] = '-';
    put_digits(out + 8, d, 2);
    return true;
}

void sj_date_format(int32_t days, char *out)
{
    int y;
    unsigned m, d;
    sj_civil_from_days(days, &y, &m, &d);
    if (!put_date(out, y, m, d)) { /* not on the fast path */
        char tmp[48];
        snprintf(tmp, sizeof tmp, "%04d-%02u-%02u", y, m, d);
        memcpy(out, tmp, 10);
    }
    out[10] = '\0';
}

sj_status_t sj_time_parse_rfc3339(const char *s, size_t n, int64_t *ms)
{
    int32_t days;
    unsigned hh, mi, ss;
    if (n < 20 || sj_date_parse(s, 10, &days) != SJ_OK) return SJ_ERR_INPUT;
    if ((s[10] != 'T' && s[10] != 't') || s[13] != ':' || s[16] != ':' ||
        !digits(s + 11, 2, &hh) || !digits(s + 14, 2, &mi) || !digits(s + 17, 2, &ss) ||
        hh > 23 || mi > 59 || ss > 60)
        return SJ_ERR_INPUT;
    if (ss == 60) ss = 59; /* leap second: fold into :59 */
    size_t i = 19;
    unsigned frac_ms = 0;
    if (s[i] == '.') {
        size_t start = ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            if (i - start < 3) frac_ms = frac_ms * 10 + (unsigned)(s[i] - '0');
            i++;
        }
        if (i == start) return SJ_ERR_INPUT;
        for (size_t k = i - start; k < 3; k++) frac_ms *= 10;
    }
    int offset_min = 0;
    if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    } else if (i + 6 == n && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
        unsigned oh, om;
        if (!digits(s + i + 1, 2, &oh) || !digits(s + i + 4, 2, &om) || oh > 23 ||
            om > 59)
            return SJ_ERR_INPUT;
        offset_min = (int)(oh * 60 + om) * (s[i] == '-' ? -1 : 1);
        i += 6;
    } else {
        return SJ_ERR_INPUT;
    }
    if (i != n) return SJ_ERR_INPUT;
    int64_t secs = (int64_t)days * 86400 + hh * 3600 + mi * 60 + ss - offset_min * 60;
    *ms = secs * 1000 + frac_ms;
    return SJ_OK;
}

void sj_time_format_rfc3339(int64_t ms, char *out)
{
    int64_t secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
    unsigned millis = (unsigned)(ms - secs * 1000);
    int32_t days = (int32_t)(secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400));
    unsigned sod = (unsigned)(secs - (int64_t)days * 86400);
    int y;
    unsigned m, d;
    sj_civil_from_days(days, &y, &m, &d);
    if (!put_date(out, y, m, d)) { /* not on the fast path */
        char tmp[96];
        snprintf(tmp, sizeof tmp, "%04d-%02u-%02uT%02u:%02u:%02u.%03uZ", y, m, d,
                 sod / 3600, sod / 60 % 60, sod % 60, millis);
        if (!millis) memcpy(strrchr(tmp, '.'), "Z", 2);
        size_t n = strlen(tmp) < 31 ? strlen(tmp) : 31;
        memcpy(out, tmp, n);
        out[n] = '\0';
        return;
    }
    out[10] = 'T';
    put_digits(out + 11, sod / 3600, 2);
    out[13] = ':';
    put_digits(out + 14, sod / 60 % 60, 2);
    out[16] = ':';
    put_digits(out + 17, sod % 60, 2);
    size_t n = 19;
    if (millis) {
        out[n++] = '.';
        put_digits(out + n, millis, 3);
        n += 3;
    }
    out[n++] = 'Z';
    out[n] = '\0';
}

int64_t sj_now_ms(void)
{
    const char *fixed = getenv("SEINTJE_NOW");
    int64_t ms;
    if (fixed && sj_time_parse_rfc3339(fixed, strlen(fixed), &ms) == SJ_OK) return ms;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t sj_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t sj_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
