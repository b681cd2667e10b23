/* Growable, capped byte buffer. See buf.h. */
#include "buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sj_seterr(char *errstr, size_t errstr_size, const char *fmt, ...)
{
    if (!errstr || errstr_size == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errstr, errstr_size, fmt, ap);
    va_end(ap);
}

void sj_buf_init(sj_buf_t *b, size_t max)
{
    b->data = NULL;
    b->len = b->cap = 0;
    b->max = max;
}

void sj_buf_free(sj_buf_t *b)
{
    if (!b) return;
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void sj_buf_reset(sj_buf_t *b)
{
    b->len = 0;
    if (b->data) b->data[0] = '\0';
}

/* Ensures room for `extra` more bytes plus the terminating NUL. */
static sj_status_t buf_reserve(sj_buf_t *b, size_t extra)
{
    if (extra > b->max || b->len > b->max - extra) return SJ_ERR_TOO_BIG;
    size_t need = b->len + extra + 1;
    if (need <= b->cap) return SJ_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    if (cap > b->max + 1) cap = b->max + 1;
    char *p = realloc(b->data, cap);
    if (!p) return SJ_ERR_NOMEM;
    b->data = p;
    b->cap = cap;
    return SJ_OK;
}

/* The external definitions of the inline functions in buf.h. */
extern inline sj_status_t sj_buf_add(sj_buf_t *b, const void *p, size_t n);
extern inline char *sj_buf_room(sj_buf_t *b, size_t n);
extern inline void sj_buf_commit(sj_buf_t *b, size_t n);

char *sj_buf_reserve(sj_buf_t *b, size_t n)
{
    char *p = sj_buf_room(b, n);
    return p || buf_reserve(b, n) != SJ_OK ? p : b->data + b->len;
}

sj_status_t sj_buf_add_grow(sj_buf_t *b, const void *p, size_t n)
{
    sj_status_t st = buf_reserve(b, n);
    if (st != SJ_OK) return st;
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return SJ_OK;
}

sj_status_t sj_buf_adds(sj_buf_t *b, const char *s)
{
    return sj_buf_add(b, s, strlen(s));
}

sj_status_t sj_buf_addc(sj_buf_t *b, char c)
{
    return sj_buf_add(b, &c, 1);
}

sj_status_t sj_buf_vaddf(sj_buf_t *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0) return SJ_ERR;
    sj_status_t st = buf_reserve(b, (size_t)n);
    if (st != SJ_OK) return st;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return SJ_OK;
}

sj_status_t sj_buf_addf(sj_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sj_status_t st = sj_buf_vaddf(b, fmt, ap);
    va_end(ap);
    return st;
}

const char *sj_buf_cstr(const sj_buf_t *b)
{
    return b->data ? b->data : "";
}

char *sj_buf_detach(sj_buf_t *b, size_t *len)
{
    char *p = b->data;
    if (!p) p = calloc(1, 1);
    if (len) *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

sj_status_t sj_read_stream(FILE *f, size_t max, char **out, size_t *len)
{
    sj_buf_t b;
    sj_buf_init(&b, max);
    char chunk[65536];
    size_t n;
    sj_status_t st = SJ_OK;
    while (st == SJ_OK && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        st = sj_buf_add(&b, chunk, n);
    if (st == SJ_OK && ferror(f)) st = SJ_ERR_IO;
    if (st != SJ_OK) {
        sj_buf_free(&b);
        return st;
    }
    *out = sj_buf_detach(&b, len);
    return *out ? SJ_OK : SJ_ERR_NOMEM;
}
