/* Text helpers shared by all stages: UTF-8 validation, hex, masking personal
 * data for logs, and a few byte-exact parsers that the standard library lacks
 * (no atoi/strtok: see STYLE.md). */
#ifndef SJ_TEXT_H
#define SJ_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"

/* Returns true when s[0..n) is well-formed UTF-8 (no overlongs, no surrogates,
 * nothing above U+10FFFF). On false, *bad_offset (if non-NULL) is the byte
 * offset of the first invalid sequence. */
bool sj_utf8_valid(const char *s, size_t n, size_t *bad_offset);

/* Writes 2*n lowercase hex digits plus NUL into out (size >= 2*n+1). */
void sj_hex_encode(const unsigned char *in, size_t n, char *out);

/* Parses an unsigned decimal of exactly s[0..n) (no sign, no spaces).
 * Returns SJ_ERR_INPUT on anything else, including overflow. */
sj_status_t sj_parse_u64(const char *s, size_t n, uint64_t *out);

/* Parses a signed decimal integer from a whole NUL-terminated string. */
sj_status_t sj_parse_i64(const char *s, int64_t *out);

/* Copies s into out as a short, log-safe preview: at most `max` bytes of
 * printable ASCII, control and non-ASCII bytes shown as '?', with "..." when
 * cut. Use it to name an offending value in an error without flooding it. */
void sj_preview(const char *s, size_t n, char *out, size_t outsize, size_t max);

/* Masks personal data for logs: keeps the first character and the length
 * class only, e.g. "j***@***" for an e-mail, "+32******" for a phone. */
void sj_mask(const char *s, char *out, size_t outsize);

#endif
