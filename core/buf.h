/* Growable byte buffer with a hard size cap, in the spirit of curl's dynbuf.
 *
 * The struct is public so buffers can live on the stack, but only the functions
 * below touch its fields. Contents are always NUL-terminated. A buffer that
 * would grow past `max` fails with SJ_ERR_TOO_BIG and keeps what it had.
 *
 *     sj_buf_t b;
 *     sj_buf_init(&b, 1 << 20);
 *     sj_buf_addf(&b, "%d events", n);
 *     puts(sj_buf_cstr(&b));
 *     sj_buf_free(&b);
 */
#ifndef SJ_BUF_H
#define SJ_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "common.h"

typedef struct sj_buf {
    char *data;
    size_t len;
    size_t cap;
    size_t max;
} sj_buf_t;

void sj_buf_init(sj_buf_t *b, size_t max);
/* Frees the memory; the buffer can be reused after sj_buf_init(). NULL is a no-op. */
void sj_buf_free(sj_buf_t *b);
/* Sets the length to 0 and keeps the allocation. */
void sj_buf_reset(sj_buf_t *b);
/* Appends n bytes. The common case, room left in the allocation, is inline
 * (hot in the template renderer, which appends piece by piece); growth and the
 * size cap are in sj_buf_add_grow(). The fast path needs no check against max:
 * an allocation never exceeds max + 1 bytes, and one byte stays for the NUL. */
inline sj_status_t sj_buf_add(sj_buf_t *b, const void *p, size_t n);
/* sj_buf_add() when the allocation has to grow; call sj_buf_add() instead. */
sj_status_t sj_buf_add_grow(sj_buf_t *b, const void *p, size_t n);
inline char *sj_buf_room(sj_buf_t *b, size_t n);
/* sj_buf_room() that grows the buffer when needed; NULL when it cannot
 * (out of memory or past max). */
char *sj_buf_reserve(sj_buf_t *b, size_t n);

inline void sj_buf_commit(sj_buf_t *b, size_t n);
sj_status_t sj_buf_adds(sj_buf_t *b, const char *s);
sj_status_t sj_buf_addc(sj_buf_t *b, char c);
sj_status_t sj_buf_addf(sj_buf_t *b, const char *fmt, ...) SJ_PRINTF(2, 3);
sj_status_t sj_buf_vaddf(sj_buf_t *b, const char *fmt, va_list ap) SJ_PRINTF(2, 0);
/* Borrowed pointer to the NUL-terminated contents ("" when empty). */
const char *sj_buf_cstr(const sj_buf_t *b);
/* Hands the allocation to the caller (free() it) and resets the buffer. */
char *sj_buf_detach(sj_buf_t *b, size_t *len);
/* Reads the rest of f into a new NUL-terminated allocation (free() it) of at
 * most max bytes: SJ_ERR_TOO_BIG past max, SJ_ERR_IO on a read error,
 * SJ_ERR_NOMEM; *out is untouched on failure. */
sj_status_t sj_read_stream(FILE *f, size_t max, char **out, size_t *len);

/* C99 inline definition; buf.c emits the external one. len < cap whenever data
 * is allocated (room for the NUL), and cap == len == 0 when it is not, so
 * n < cap - len never wraps and fails for an unallocated buffer. */
inline sj_status_t sj_buf_add(sj_buf_t *b, const void *p, size_t n)
{
    if (n < b->cap - b->len) {
        if (n) memcpy(b->data + b->len, p, n);
        b->len += n;
        b->data[b->len] = '\0';
        return SJ_OK;
    }
    return sj_buf_add_grow(b, p, n);
}

/* Appending in place, for writers that put the bytes there themselves (as
 * sds's sdsMakeRoomFor()/sdsIncrLen()): sj_buf_room() returns where n more
 * bytes go if they fit in the allocation as it is, else NULL (then use
 * sj_buf_add(), which grows it or fails at max); after writing them,
 * sj_buf_commit(b, n) with the same n. */
inline char *sj_buf_room(sj_buf_t *b, size_t n)
{
    return n < b->cap - b->len ? b->data + b->len : NULL;
}

inline void sj_buf_commit(sj_buf_t *b, size_t n)
{
    b->len += n;
    b->data[b->len] = '\0';
}

#endif
