/* Locale helpers that prepare a render context before Mustache sees it.
 *
 * Mustache has no filters, so a template cannot turn "2026-11-28" into
 * "zaterdag 28 november 2026" or 123456 cents into "€ 1.234,56". Instead the
 * caller formats values in the resident's language first and adds them to the
 * context, and the template writes {{expiry_date_weekday}} {{expiry_date_long}}.
 *
 * Formats follow CLDR (as ICU prints them for nl-BE, fr-BE, en, de-BE), with
 * one deliberate French exception, "1er décembre", the typographic custom:
 *
 *   lang  date_long            weekday    euro (123456 cents)  euro (-123456)
 *   nl    28 november 2026     zaterdag   € 1.234,56           € -1.234,56
 *   fr    28 novembre 2026     samedi     1 234,56 €           -1 234,56 €
 *         1er décembre 2026
 *   en    28 November 2026     Saturday   €1,234.56            -€1,234.56
 *   de    28. November 2026    Samstag    1.234,56 €           -1.234,56 €
 *
 * The space between "€" and the amount (nl) or the amount and "€" (fr, de)
 * is a no-break space U+00A0, and the French thousands separator is the
 * narrow no-break space U+202F, so a line never breaks inside an amount.
 * English uses the day-month order of en-GB/en-BE, never the US one.
 *
 * All functions are pure and reentrant (no global state, no setlocale), so
 * any thread may call them. */
#ifndef SJ_TEMPLATES_LOCALE_H
#define SJ_TEMPLATES_LOCALE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/common.h"

typedef enum { SJ_LANG_NL = 0, SJ_LANG_FR, SJ_LANG_EN, SJ_LANG_DE } sj_lang_t;

/* Room that is always enough for any output of the formatters below. */
#define SJ_LOCALE_OUT_MAX 64
/* Deepest nesting of objects/arrays that sj_locale_enrich() walks. */
#define SJ_LOCALE_ENRICH_DEPTH 16

/* Parses a language tag: "nl", "fr", "en", "de", optionally with a region
 * ("nl-BE", "fr_BE", "en-GB"), case-insensitive. The region does not change
 * the output. Other languages fail with SJ_ERR_INPUT and a message. */
sj_status_t sj_lang_parse(const char *tag, sj_lang_t *lang, char *errstr,
                          size_t errstr_size);
/* "nl", "fr", "en" or "de" (static string). */
const char *sj_lang_code(sj_lang_t lang);

/* Writes the long date for days since 1970-01-01 ("28 november 2026") into
 * out. SJ_ERR_INPUT for a day outside the years 1..9999 or an unknown lang,
 * SJ_ERR_TOO_BIG when outsize is too small (SJ_LOCALE_OUT_MAX always fits). */
sj_status_t sj_locale_date_long(int32_t days, sj_lang_t lang, char *out, size_t outsize);
/* Writes the weekday of days ("zaterdag", "samedi", "Saturday", "Samstag"). */
sj_status_t sj_locale_weekday(int32_t days, sj_lang_t lang, char *out, size_t outsize);
/* Writes an amount of euro cents as the language writes money (table above).
 * Every int64 value is accepted, INT64_MIN included. */
sj_status_t sj_locale_euro(int64_t cents, sj_lang_t lang, char *out, size_t outsize);

/* Adds formatted companions to every object in ctx, recursively through
 * objects and arrays (at most SJ_LOCALE_ENRICH_DEPTH levels):
 *
 *   "<key>": "YYYY-MM-DD"   adds "<key>_long" and "<key>_weekday"
 *   "<key>_cents": integer  adds "<key>_eur"
 *
 * so {"expiry_date":"2026-11-28","fee_cents":3000} gains, for nl,
 * "expiry_date_long":"28 november 2026", "expiry_date_weekday":"zaterdag" and
 * "fee_eur":"€ 30,00". Keys that already exist are left alone: what the
 * caller put in the context wins. A string with the shape of a date that is
 * not a real date ("2026-02-30") is an error rather than a silently missing
 * value in the message; errstr names its path ("resident.id_card.expiry").
 * On error ctx may be partly enriched. ctx is borrowed and modified in place;
 * the caller must not share it with another thread during the call. */
sj_status_t sj_locale_enrich(json_t *ctx, sj_lang_t lang, char *errstr,
                             size_t errstr_size);

#endif
