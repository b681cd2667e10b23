/* SMS channel: how an already-rendered text will travel and what it costs.
 *
 * An SMS is sent either in the GSM 03.38 7-bit default alphabet (160 septets
 * in one message, 153 per part once it has to be concatenated) or, as soon as
 * one character is missing from that alphabet, entirely in UCS-2 (70 UTF-16
 * code units, 67 per part). Operators bill per part, so a single "ë" in a
 * Dutch name can double or triple the cost of a campaign. This module decides
 * the encoding, counts characters the way the operator bills them, and counts
 * parts without ever splitting an extension character (2 septets) or a
 * surrogate pair across two parts. It never replaces characters: the text is
 * sent exactly as the template produced it, and the analysis says which
 * character forced UCS-2 so an officer can decide.
 *
 *     sj_sms_info_t info;
 *     char err[256];
 *     if (sj_sms_analyse(text, len, 3, &info, err, sizeof err) != SJ_OK)
 *         fail(err);                  // invalid UTF-8, empty, or > 3 parts
 *     json_t *j = sj_sms_to_json(text, len, &info);
 *
 * Pure functions without I/O or global state: safe to call from any thread. */
#ifndef SJ_TEMPLATES_SMS_H
#define SJ_TEMPLATES_SMS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/common.h"

/* The most parts a concatenated SMS can have (the UDH part counter is one
 * octet); also the limit used when the caller passes max_segments 0. */
#define SJ_SMS_MAX_SEGMENTS 255

/* The most parts a Seintje SMS may have: deliver refuses a longer message
 * (each part is billed) and `seintje render --channel sms` checks the same
 * limit unless --max-segments says otherwise. */
#define SJ_SMS_SEND_MAX_SEGMENTS 3

#define SJ_SMS_GSM7_SINGLE 160 /* septets in a single message */
#define SJ_SMS_GSM7_PART   153 /* septets per part of a concatenated message */
#define SJ_SMS_UCS2_SINGLE 70  /* UTF-16 code units in a single message */
#define SJ_SMS_UCS2_PART   67  /* UTF-16 code units per concatenated part */

typedef enum { SJ_SMS_GSM7 = 0, SJ_SMS_UCS2 = 1 } sj_sms_encoding_t;

typedef struct sj_sms_info {
    sj_sms_encoding_t encoding;
    /* Characters as billed: septets for GSM-7 (an extension character such as
     * '€' or '{' counts 2), UTF-16 code units for UCS-2 (an emoji counts 2). */
    size_t characters;
    size_t segments;        /* parts the operator will bill */
    size_t per_segment;     /* capacity of each part at this length: 160/153/70/67 */
    size_t codepoints;      /* Unicode code points, what a reader would count */
    size_t extension_chars; /* GSM-7 extension characters (each 2 septets) */
    /* Byte offset and code point of the first character outside GSM 03.38,
     * the one that forced UCS-2; SIZE_MAX and 0 when the text is all GSM-7. */
    size_t first_non_gsm_offset;
    uint32_t first_non_gsm;
} sj_sms_info_t;

/* Analyses text[0..len) (UTF-8) and fills *info.
 *
 * max_segments is the campaign's limit on parts (0 means SJ_SMS_MAX_SEGMENTS;
 * larger values are clamped to it). Returns:
 *   SJ_OK          and a complete *info;
 *   SJ_ERR_TOO_BIG when the text needs more parts than allowed: *info is still
 *                  complete, errstr states the count, the limit and (for UCS-2)
 *                  which character forced UCS-2;
 *   SJ_ERR_INPUT   for invalid UTF-8, an empty text or a NUL character
 *                  (errstr gives the byte offset); *info is zeroed.
 * text need not be NUL-terminated. errstr may be NULL. */
sj_status_t sj_sms_analyse(const char *text, size_t len, size_t max_segments,
                           sj_sms_info_t *info, char *errstr, size_t errstr_size);

/* "GSM-7" or "UCS-2". Returns a static string. */
const char *sj_sms_encoding_name(sj_sms_encoding_t enc);

/* Builds the preview/outbox object for an analysed text:
 *   {"text":…, "encoding":"GSM-7"|"UCS-2", "characters":N, "segments":N}
 * plus, when UCS-2 was forced, "first_non_gsm" (the character as a string) and
 * "first_non_gsm_offset" (its byte offset), so the reason is visible.
 * text must be the same valid UTF-8 that was analysed. Returns a new reference
 * (the caller owns it and calls json_decref), or NULL when allocation fails. */
json_t *sj_sms_to_json(const char *text, size_t len, const sj_sms_info_t *info);

#endif
