/* Bounded line reader for JSON-lines and CSV input, from a file or stdin.
 *
 * Lines longer than the bound are reported (SJ_ERR_TOO_BIG) and skipped up to
 * the next newline, so one bad line never stops the good ones. A final line
 * without a newline is returned as a line. "\r\n" endings are accepted.
 *
 *     sj_lines_t *r = sj_lines_open("-", 65536, err, sizeof err);
 *     const char *line; size_t len; sj_status_t st;
 *     while ((st = sj_lines_next(r, &line, &len)) != SJ_EOF) { ... }
 */
#ifndef SJ_LINES_H
#define SJ_LINES_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

#define SJ_EOF 1

typedef struct sj_lines_s sj_lines_t;

/* Opens path ("-" for stdin). max_len bounds a line in bytes, without the newline. */
sj_lines_t *sj_lines_open(const char *path, size_t max_len, char *errstr,
                          size_t errstr_size);
void sj_lines_close(sj_lines_t *r);
/* Returns SJ_OK with a borrowed pointer valid until the next call (the line is
 * NUL-terminated, without its newline), SJ_EOF at the end, SJ_ERR_TOO_BIG for an
 * over-long line (skipped; *len is its full length), or SJ_ERR_IO. */
int sj_lines_next(sj_lines_t *r, const char **line, size_t *len);
/* 1-based number of the line last returned. */
uint64_t sj_lines_lineno(const sj_lines_t *r);
/* Bytes consumed so far, and total size when known (regular file), else 0. */
uint64_t sj_lines_offset(const sj_lines_t *r);
uint64_t sj_lines_size(const sj_lines_t *r);
/* The name used in messages: the path, or "<stdin>". */
const char *sj_lines_name(const sj_lines_t *r);

#endif
