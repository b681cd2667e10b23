/* SMS encoding and billing analysis (GSM 03.38 / UCS-2). See sms.h.
 *
 * Two passes over the text: the first decides the encoding (one character
 * outside the GSM default alphabet makes the whole message UCS-2), the second
 * counts billed characters and parts with the cost of each character in that
 * encoding. Parts are counted by filling them greedily, because a character
 * that costs 2 (an extension character in GSM-7, a surrogate pair in UCS-2)
 * must not be split: when only one slot is left in a part, the part ends one
 * short and the character starts the next one. That is why 306 septets of
 * plain text fit in two parts but the same 306 with a '€' at septets 153-154
 * need three. */
#include "sms.h"

#include <stdbool.h>
#include <string.h>

#include "chan_utf8.h"
#include "core/text.h"

/* Non-ASCII characters of the GSM 03.38 basic set, in table order. */
static const uint32_t gsm_basic_nonascii[] = {
    0x00A3, 0x00A5, 0x00E8, 0x00E9, 0x00F9, 0x00EC, 0x00F2, 0x00C7, /* £¥èéùìòÇ */
    0x00D8, 0x00F8, 0x00C5, 0x00E5, 0x0394, 0x03A6, 0x0393, 0x039B, /* ØøÅåΔΦΓΛ */
    0x03A9, 0x03A0, 0x03A8, 0x03A3, 0x0398, 0x039E, 0x00C6, 0x00E6, /* ΩΠΨΣΘΞÆæ */
    0x00DF, 0x00C9, 0x00A4, 0x00A1, 0x00C4, 0x00D6, 0x00D1, 0x00DC, /* ßÉ¤¡ÄÖÑÜ */
    0x00A7, 0x00BF, 0x00E4, 0x00F6, 0x00F1, 0x00FC, 0x00E0,         /* §¿äöñüà */
};

/* Septets the character costs in GSM-7: 1 for the basic set, 2 for the
 * extension table (escape + code), 0 when it is not in the alphabet at all. */
static unsigned gsm_cost(uint32_t cp)
{
    if (cp == '\n' || cp == '\r') return 1;
    if (cp == '\f') return 2; /* form feed is in the extension table */
    if (cp >= 0x20 && cp < 0x7F) {
        if (cp == '`') return 0;
        if (strchr("^{}\\[~]|", (int)cp)) return 2;
        return 1;
    }
    if (cp == 0x20AC) return 2; /* € */
    for (size_t i = 0; i < SJ_ARRAY_LEN(gsm_basic_nonascii); i++)
        if (gsm_basic_nonascii[i] == cp) return 1;
    return 0;
}

/* UTF-16 code units: astral characters (most emoji) need a surrogate pair. */
static unsigned ucs2_cost(uint32_t cp)
{
    return cp >= 0x10000 ? 2 : 1;
}

/* Fills info->characters, ->segments and ->per_segment for the chosen
 * encoding by greedy part filling (see the file comment). */
static void count_parts(const char *text, size_t len, sj_sms_info_t *info)
{
    bool gsm = info->encoding == SJ_SMS_GSM7;
    size_t single = gsm ? SJ_SMS_GSM7_SINGLE : SJ_SMS_UCS2_SINGLE;
    size_t part = gsm ? SJ_SMS_GSM7_PART : SJ_SMS_UCS2_PART;
    size_t total = 0, parts = 1, used = 0;
    for (size_t i = 0; i < len;) {
        uint32_t cp = sj_chan_utf8_next(text, len, &i);
        unsigned c = gsm ? gsm_cost(cp) : ucs2_cost(cp);
        if (gsm && c == 2) info->extension_chars++;
        total += c;
        if (used + c > part) {
            parts++;
            used = 0;
        }
        used += c;
    }
    info->characters = total;
    info->segments = total <= single ? 1 : parts;
    info->per_segment = total <= single ? single : part;
}

/* Describes code point cp as "'ë' (U+00EB)" for error messages. */
static void describe_char(const char *text, size_t off, uint32_t cp, char *out, size_t n)
{
    size_t len = sj_chan_utf8_seqlen((unsigned char)text[off]);
    sj_seterr(out, n, "'%.*s' (U+%04X)", (int)len, text + off, (unsigned)cp);
}

sj_status_t sj_sms_analyse(const char *text, size_t len, size_t max_segments,
                           sj_sms_info_t *info, char *errstr, size_t errstr_size)
{
    memset(info, 0, sizeof *info);
    info->first_non_gsm_offset = SIZE_MAX;
    size_t bad;
    if (len == 0) {
        sj_seterr(errstr, errstr_size, "SMS text is empty");
        return SJ_ERR_INPUT;
    }
    if (!sj_utf8_valid(text, len, &bad)) {
        sj_seterr(errstr, errstr_size, "SMS text is not valid UTF-8 at byte %zu", bad);
        return SJ_ERR_INPUT;
    }
    const char *nul = memchr(text, '\0', len);
    if (nul) {
        sj_seterr(errstr, errstr_size, "SMS text contains a NUL character at byte %zu",
                  (size_t)(nul - text));
        return SJ_ERR_INPUT;
    }

    info->encoding = SJ_SMS_GSM7;
    for (size_t i = 0; i < len;) {
        size_t at = i;
        uint32_t cp = sj_chan_utf8_next(text, len, &i);
        if (gsm_cost(cp) == 0) {
            info->encoding = SJ_SMS_UCS2;
            info->first_non_gsm_offset = at;
            info->first_non_gsm = cp;
            break;
        }
    }
    info->codepoints = sj_chan_utf8_count(text, len);
    count_parts(text, len, info);

    if (max_segments == 0 || max_segments > SJ_SMS_MAX_SEGMENTS)
        max_segments = SJ_SMS_MAX_SEGMENTS;
    if (info->segments > max_segments) {
        char why[96] = "";
        if (info->encoding == SJ_SMS_UCS2) {
            char ch[32];
            describe_char(text, info->first_non_gsm_offset, info->first_non_gsm, ch,
                          sizeof ch);
            sj_seterr(why, sizeof why,
                      "; UCS-2 because %s at byte %zu is not in GSM 03.38", ch,
                      info->first_non_gsm_offset);
        }
        sj_seterr(errstr, errstr_size,
                  "SMS needs %zu segments (%zu %s characters) but the limit is %zu%s",
                  info->segments, info->characters, sj_sms_encoding_name(info->encoding),
                  max_segments, why);
        return SJ_ERR_TOO_BIG;
    }
    return SJ_OK;
}

const char *sj_sms_encoding_name(sj_sms_encoding_t enc)
{
    return enc == SJ_SMS_GSM7 ? "GSM-7" : "UCS-2";
}

/* Sets obj[key] = v, taking v's reference; false when anything is NULL. */
static bool set_new(json_t *obj, const char *key, json_t *v)
{
    return v && json_object_set_new(obj, key, v) == 0;
}

json_t *sj_sms_to_json(const char *text, size_t len, const sj_sms_info_t *info)
{
    json_t *o = json_object();
    if (!o) return NULL;
    bool ok = set_new(o, "text", json_stringn(text, len)) &&
              set_new(o, "encoding", json_string(sj_sms_encoding_name(info->encoding))) &&
              set_new(o, "characters", json_integer((json_int_t)info->characters)) &&
              set_new(o, "segments", json_integer((json_int_t)info->segments));
    if (ok && info->encoding == SJ_SMS_UCS2 && info->first_non_gsm_offset < len) {
        size_t off = info->first_non_gsm_offset;
        size_t n = sj_chan_utf8_seqlen((unsigned char)text[off]);
        if (n > len - off) n = len - off;
        ok = set_new(o, "first_non_gsm", json_stringn(text + off, n)) &&
             set_new(o, "first_non_gsm_offset", json_integer((json_int_t)off));
    }
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}
