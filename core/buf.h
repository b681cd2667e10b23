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
sj_status_t sj_buf_add(sj_buf_t *b, const void *p, size_t n);
sj_status_t sj_buf_adds(sj_buf_t *b, const char *s);
sj_status_t sj_buf_addc(sj_buf_t *b, char c);
sj_status_t sj_buf_addf(sj_buf_t *b, const char *fmt, ...) SJ_PRINTF(2, 3);
sj_status_t sj_buf_vaddf(sj_buf_t *b, const char *fmt, va_list ap) SJ_PRINTF(2, 0);
/* Borrowed pointer to the NUL-terminated contents ("" when empty). */
const char *sj_buf_cstr(const sj_buf_t *b);
/* Hands the allocation to the caller (free() it) and resets the buffer. */
char *sj_buf_detach(sj_buf_t *b, size_t *len);

#endif
