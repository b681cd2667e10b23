/* Fuzz target: SMS analysis on arbitrary bytes. The first byte is the
 * max-segments limit (0 = none), the rest is the text. Invariants: never
 * crash or read past the input (it is copied into an exact-size buffer);
 * the result agrees with an independent recount (segments never below the
 * plain division, never above it by more than the 2-unit characters could
 * push; 1 part exactly when it fits in a single message); the text is GSM-7
 * exactly when no character was reported outside GSM 03.38; an error always
 * explains itself; the JSON preview is an object with the same numbers. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "templates/sms.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_ok(const char *text, size_t len, const sj_sms_info_t *info)
{
    int gsm = info->encoding == SJ_SMS_GSM7;
    size_t single = gsm ? SJ_SMS_GSM7_SINGLE : SJ_SMS_UCS2_SINGLE;
    size_t part = gsm ? SJ_SMS_GSM7_PART : SJ_SMS_UCS2_PART;
    size_t chars = info->characters;
    if (chars == 0 || info->codepoints == 0 || info->codepoints > chars) abort();
    if (chars > 2 * info->codepoints) abort();
    if (gsm != (info->first_non_gsm_offset == SIZE_MAX)) abort();
    if (!gsm && info->first_non_gsm_offset >= len) abort();
    if (chars <= single) {
        if (info->segments != 1 || info->per_segment != single) abort();
    } else {
        size_t low = (chars + part - 1) / part;
        /* each part can lose at most one slot to a 2-unit character */
        size_t high = (chars + part - 2) / (part - 1);
        if (info->segments < low || info->segments > high || info->per_segment != part)
            abort();
    }
    json_t *j = sj_sms_to_json(text, len, info);
    if (!j) abort();
    if ((size_t)json_integer_value(json_object_get(j, "segments")) != info->segments ||
        (size_t)json_integer_value(json_object_get(j, "characters")) != chars ||
        json_string_length(json_object_get(j, "text")) != len)
        abort();
    json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    size_t max = data[0];
    size_t len = size - 1;
    char *text = malloc(len ? len : 1);
    if (!text) return 0;
    if (len) memcpy(text, data + 1, len);
    sj_sms_info_t info;
    char err[256] = "";
    sj_status_t st = sj_sms_analyse(text, len, max, &info, err, sizeof err);
    if (st == SJ_OK || st == SJ_ERR_TOO_BIG) check_ok(text, len, &info);
    if (st != SJ_OK && err[0] == '\0') abort();
    if (st == SJ_ERR_TOO_BIG && info.segments <= (max ? max : SJ_SMS_MAX_SEGMENTS))
        abort();
    if (st != SJ_OK && st != SJ_ERR_TOO_BIG && st != SJ_ERR_INPUT) abort();
    /* Without a limit, only the hard cap can trip. */
    sj_sms_info_t again;
    if (sj_sms_analyse(text, len, 0, &again, NULL, 0) == SJ_OK && st == SJ_OK &&
        memcmp(&again, &info, sizeof info) != 0)
        abort();
    free(text);
    return 0;
}
