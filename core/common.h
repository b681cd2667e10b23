/* Seintje core: status codes and small macros shared by every module.
 *
 * Every function that can fail returns an sj_status_t (SJ_OK is 0) or, for
 * constructors, NULL plus a message in a caller-owned `char *errstr, size_t
 * errstr_size` buffer, in the style of librdkafka. Library code never prints
 * and never exits; only main() and the logger write to the terminal. */
#ifndef SJ_COMMON_H
#define SJ_COMMON_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    SJ_OK = 0,
    SJ_ERR = -1,         /* generic failure, see errstr */
    SJ_ERR_NOMEM = -2,   /* allocation failed */
    SJ_ERR_TOO_BIG = -3, /* a configured bound was reached */
    SJ_ERR_INPUT = -4,   /* the input is invalid (user's data) */
    SJ_ERR_IO = -5,      /* a read or write failed */
    SJ_ERR_TIMEOUT = -6, /* a service did not answer in time */
    SJ_ERR_AGAIN = -7    /* a transient failure: undo and retry the operation */
} sj_status_t;

/* Process exit codes, as documented in DESIGN.md. */
#define SJ_EXIT_OK      0
#define SJ_EXIT_FAILURE 1
#define SJ_EXIT_USAGE   2

#define SJ_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#if defined(__GNUC__)
#define SJ_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define SJ_PRINTF(f, a)
#endif

/* snprintf into errstr if it is non-NULL; safe with errstr_size 0. */
void sj_seterr(char *errstr, size_t errstr_size, const char *fmt, ...) SJ_PRINTF(3, 4);

#endif
