/* Private helper of the channel renderers (email, sms, app, locale): walking
 * text that sj_utf8_valid() has already accepted, one code point at a time.
 *
 * Not a public API: it trusts its input and exists so the four renderers share
 * one decoder instead of four. Everything is static inline, so there is no
 * state and no symbol to collide with; safe from any thread. */
#ifndef SJ_TEMPLATES_CHAN_UTF8_H
#define SJ_TEMPLATES_CHAN_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Length in bytes of the UTF-8 sequence that starts with lead byte c
 * (1 for ASCII and, defensively, for stray continuation bytes). */
static inline size_t sj_chan_utf8_seqlen(unsigned char c)
{
    if (c >= 0xF0) return 4;
    if (c >= 0xE0) return 3;
    if (c >= 0xC0) return 2;
    return 1;
}

/* Decodes the code point at s[*i] and advances *i past it. s[*i..n) must be
 * valid UTF-8 (checked beforehand with sj_utf8_valid). */
static inline uint32_t sj_chan_utf8_next(const char *s, size_t n, size_t *i)
{
    const unsigned char *p = (const unsigned char *)s + *i;
    size_t k = sj_chan_utf8_seqlen(p[0]);
    if (k > n - *i) k = n - *i; /* never read past the end, even if misused */
    uint32_t cp = k == 1 ? p[0] : (uint32_t)(p[0] & (0x7F >> k));
    for (size_t j = 1; j < k; j++) cp = (cp << 6) | (p[j] & 0x3F);
    *i += k;
    return cp;
}

/* Number of code points in valid UTF-8 s[0..n): every byte that is not a
 * continuation byte starts one. */
static inline size_t sj_chan_utf8_count(const char *s, size_t n)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80) count++;
    return count;
}

#endif
