/* Text helpers: UTF-8 validation, hex, strict integer parsing, log-safe
 * previews and masking of personal data. See text.h. */
#include "text.h"

#include <stdio.h>
#include <string.h>

bool sj_utf8_valid(const char *s, size_t n, size_t *bad_offset)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        /* ASCII fast path, eight bytes at a time. */
        while (n - i >= 8) {
            uint64_t w;
            memcpy(&w, p + i, 8);
            if (w & 0x8080808080808080ull) break;
            i += 8;
        }
        if (i >= n) break;
        unsigned char c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        uint32_t cp;
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            cp = c & 0x07;
        } else {
            goto bad;
        }
        if (n - i <= need) goto bad;
        for (size_t k = 1; k <= need; k++) {
            if ((p[i + k] & 0xC0) != 0x80) goto bad;
            cp = (cp << 6) | (p[i + k] & 0x3F);
        }
        if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            goto bad;
        i += need + 1;
    }
    return true;
bad:
    if (bad_offset) *bad_offset = i;
    return false;
}

void sj_hex_encode(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

sj_status_t sj_parse_u64(const char *s, size_t n, uint64_t *out)
{
    if (n == 0 || n > 20) return SJ_ERR_INPUT;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return SJ_ERR_INPUT;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return SJ_ERR_INPUT;
        v = v * 10 + d;
    }
    *out = v;
    return SJ_OK;
}

sj_status_t sj_parse_i64(const char *s, int64_t *out)
{
    bool neg = s[0] == '-';
    const char *d = neg || s[0] == '+' ? s + 1 : s;
    uint64_t v;
    if (sj_parse_u64(d, strlen(d), &v) != SJ_OK) return SJ_ERR_INPUT;
    if (neg ? v > (uint64_t)INT64_MAX + 1 : v > (uint64_t)INT64_MAX) return SJ_ERR_INPUT;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return SJ_OK;
}

void sj_preview(const char *s, size_t n, char *out, size_t outsize, size_t max)
{
    if (outsize == 0) return;
    size_t k = 0;
    if (max + 4 > outsize) max = outsize > 4 ? outsize - 4 : 0;
    for (size_t i = 0; i < n && k < max; i++) {
        unsigned char c = (unsigned char)s[i];
        out[k++] = (c >= 0x20 && c < 0x7F) ? (char)c : '?';
    }
    if (n > max && k + 3 < outsize) {
        memcpy(out + k, "...", 3);
        k += 3;
    }
    out[k] = '\0';
}

void sj_mask(const char *s, char *out, size_t outsize)
{
    if (!s || !*s) {
        snprintf(out, outsize, "(empty)");
        return;
    }
    if (s[0] == '+')
        snprintf(out, outsize, "%.3s******", s);
    else if (strchr(s, '@'))
        snprintf(out, outsize, "%c***@***", s[0]);
    else
        snprintf(out, outsize, "%c***", s[0]);
}
