/* Bounded line reader over read(2) with one large buffer and memchr, so the
 * producer's hot loop does not pay for stdio locking per line. See lines.h. */
#include "lines.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define READ_CHUNK (1 << 20)

struct sj_lines_s {
    int fd;
    char *name;
    char *buf;
    size_t cap;        /* max_len + READ_CHUNK + 1 */
    size_t start, end; /* unread bytes are buf[start..end) */
    size_t max_len;
    uint64_t lineno, offset, size;
    int eof;
};

sj_lines_t *sj_lines_open(const char *path, size_t max_len, char *errstr,
                          size_t errstr_size)
{
    sj_lines_t *r = calloc(1, sizeof *r);
    if (!r) return NULL;
    r->max_len = max_len;
    r->cap = max_len + READ_CHUNK + 2;
    r->buf = malloc(r->cap);
    bool is_stdin = !strcmp(path, "-");
    r->name = strdup(is_stdin ? "<stdin>" : path);
    if (!r->buf || !r->name) {
        sj_lines_close(r);
        sj_seterr(errstr, errstr_size, "out of memory");
        return NULL;
    }
    r->fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0) {
        sj_seterr(errstr, errstr_size, "%s: cannot open: %s", path, strerror(errno));
        sj_lines_close(r);
        return NULL;
    }
    struct stat st;
    if (fstat(r->fd, &st) == 0 && S_ISREG(st.st_mode)) r->size = (uint64_t)st.st_size;
    return r;
}

void sj_lines_close(sj_lines_t *r)
{
    if (!r) return;
    if (r->fd > STDIN_FILENO) close(r->fd);
    free(r->buf);
    free(r->name);
    free(r);
}

/* Moves unread bytes to the front and reads more. Returns bytes read, 0 at
 * EOF, -1 on error. */
static ssize_t fill(sj_lines_t *r)
{
    if (r->start > 0) {
        memmove(r->buf, r->buf + r->start, r->end - r->start);
        r->end -= r->start;
        r->start = 0;
    }
    size_t room = r->cap - 1 - r->end;
    if (room == 0) return -2;
    for (;;) {
        ssize_t n = read(r->fd, r->buf + r->end, room);
        if (n < 0 && errno == EINTR) continue;
        if (n > 0) r->end += (size_t)n;
        if (n == 0) r->eof = 1;
        return n;
    }
}

int sj_lines_next(sj_lines_t *r, const char **line, size_t *len)
{
    size_t scanned = 0;   /* bytes of the current line already known to hold no '\n' */
    uint64_t skipped = 0; /* bytes of an over-long line already discarded */
    for (;;) {
        char *p = r->buf + r->start;
        size_t avail = r->end - r->start;
        char *nl = memchr(p + scanned, '\n', avail - scanned);
        if (nl || (r->eof && avail > 0)) {
            size_t n = nl ? (size_t)(nl - p) : avail;
            r->start += n + (nl ? 1 : 0);
            r->offset += n + (nl ? 1 : 0);
            r->lineno++;
            if (skipped || n > r->max_len + (n > 0 && p[n - 1] == '\r')) {
                *len = (size_t)skipped + n;
                *line = NULL;
                return SJ_ERR_TOO_BIG;
            }
            if (n > 0 && p[n - 1] == '\r') n--;
            p[n] = '\0';
            *line = p;
            *len = n;
            return SJ_OK;
        }
        if (r->eof) {
            if (skipped) { /* an over-long last line without newline */
                r->lineno++;
                *len = (size_t)skipped;
                *line = NULL;
                return SJ_ERR_TOO_BIG;
            }
            return SJ_EOF;
        }
        scanned = avail;
        if (avail > r->max_len + 1) {
            /* Too long already: drop what we have, keep looking for its end. */
            skipped += avail;
            r->offset += avail;
            r->start = r->end = 0;
            scanned = 0;
        }
        ssize_t n = fill(r);
        if (n < 0) return SJ_ERR_IO;
    }
}

uint64_t sj_lines_lineno(const sj_lines_t *r)
{
    return r->lineno;
}
uint64_t sj_lines_offset(const sj_lines_t *r)
{
    return r->offset;
}
uint64_t sj_lines_size(const sj_lines_t *r)
{
    return r->size;
}
const char *sj_lines_name(const sj_lines_t *r)
{
    return r->name;
}
