/* Time and date helpers: RFC 3339 timestamps, ISO dates, civil-day
 * arithmetic and Europe/Brussels local time. Times are int64 milliseconds since
 * the Unix epoch (UTC); dates are int32 days since 1970-01-01. */
#ifndef SJ_TIMEUTIL_H
#define SJ_TIMEUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"

/* Parses an RFC 3339 date-time ("2026-11-28T09:30:00Z", "…T09:30:00.123+01:00").
 * Accepts 't'/'z' in lower case and fractional seconds of any length. Rejects
 * impossible dates (2026-02-30), hours > 23, minutes/seconds > 59 (60 is accepted
 * as a leap second and folded into :59). */
sj_status_t sj_time_parse_rfc3339(const char *s, size_t n, int64_t *ms);

/* Formats ms as "YYYY-MM-DDTHH:MM:SS.mmmZ" (or without millis when they are 0).
 * out must hold 32 bytes. */
void sj_time_format_rfc3339(int64_t ms, char *out);

/* Parses "YYYY-MM-DD" into days since 1970-01-01, rejecting impossible dates. */
sj_status_t sj_date_parse(const char *s, size_t n, int32_t *days);
/* Formats days as "YYYY-MM-DD"; out must hold 11 bytes. */
void sj_date_format(int32_t days, char *out);

/* Civil calendar conversions (proleptic Gregorian). */
int32_t sj_days_from_civil(int y, unsigned m, unsigned d);
void sj_civil_from_days(int32_t days, int *y, unsigned *m, unsigned *d);
bool sj_date_valid(int y, unsigned m, unsigned d);

/* Current wall-clock time in ms; SEINTJE_NOW (RFC 3339) overrides it for tests
 * and replays. */
int64_t sj_now_ms(void);
/* Monotonic clock in ms, for rates and timeouts. */
int64_t sj_mono_ms(void);
/* The same clock in microseconds (phase timings). */
int64_t sj_mono_us(void);

#endif
