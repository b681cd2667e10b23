/* Redis connections from URLs, and pipelined reply draining. See redis.h. */
#include "redis.h"

#include <stdbool.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "text.h"

redisContext *sj_redis_connect(const char *url, int timeout_ms, char *errstr,
                               size_t errstr_size)
{
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    char host[256] = "";
    int port = 6379;
    long db = 0;
    redisContext *rc = NULL;
    if (!strncmp(url, "unix:", 5)) {
        const char *path = url + 5;
        const char *q = strstr(path, "?db=");
        size_t n = q ? (size_t)(q - path) : strlen(path);
        if (n == 0 || n >= sizeof host) goto bad;
        memcpy(host, path, n);
        host[n] = '\0';
        int64_t v;
        if (q && (sj_parse_i64(q + 4, &v) != SJ_OK || v < 0 || v > SJ_REDIS_DB_MAX))
            goto bad;
        if (q) db = (long)v;
        rc = redisConnectUnixWithTimeout(host, tv);
    } else if (!strncmp(url, "redis://", 8)) {
        const char *h = url + 8;
        const char *colon = strchr(h, ':'), *slash = strchr(h, '/');
        const char *hend = colon ? colon : slash ? slash : h + strlen(h);
        if (hend == h || (size_t)(hend - h) >= sizeof host) goto bad;
        memcpy(host, h, (size_t)(hend - h));
        host[hend - h] = '\0';
        if (colon) {
            const char *pend = slash ? slash : colon + strlen(colon);
            uint64_t p;
            if (sj_parse_u64(colon + 1, (size_t)(pend - colon - 1), &p) != SJ_OK ||
                p == 0 || p > 65535)
                goto bad;
            port = (int)p;
        }
        if (slash && slash[1]) {
            int64_t v;
            if (sj_parse_i64(slash + 1, &v) != SJ_OK || v < 0 || v > SJ_REDIS_DB_MAX)
                goto bad;
            db = (long)v;
        }
        rc = redisConnectWithTimeout(host, port, tv);
    } else {
        goto bad;
    }
    if (!rc || rc->err) {
        sj_seterr(errstr, errstr_size, "redis %s: cannot connect: %s", url,
                  rc ? rc->errstr : "out of memory");
        if (rc) redisFree(rc);
        return NULL;
    }
    redisSetTimeout(rc, tv);
    if (db != 0) {
        redisReply *r = redisCommand(rc, "SELECT %ld", db);
        bool ok = r && r->type != REDIS_REPLY_ERROR;
        if (!ok) {
            sj_seterr(errstr, errstr_size,
                      "redis %s: SELECT %ld failed: %s (is there a database %ld? see the "
                      "server's `databases` setting)",
                      url, db, r ? r->str : rc->errstr, db);
            if (r) freeReplyObject(r);
            redisFree(rc);
            return NULL;
        }
        freeReplyObject(r);
    }
    return rc;
bad:
    sj_seterr(errstr, errstr_size,
              "redis.url \"%s\" is not redis://host:port[/db] or unix:/path[?db=N]", url);
    return NULL;
}

sj_status_t sj_redis_drain(redisContext *rc, size_t n, char *errstr, size_t errstr_size)
{
    sj_status_t st = SJ_OK;
    for (size_t i = 0; i < n; i++) {
        void *reply = NULL;
        if (redisGetReply(rc, &reply) != REDIS_OK) {
            sj_seterr(errstr, errstr_size, "redis: %s", rc->errstr);
            return SJ_ERR_IO;
        }
        redisReply *r = reply;
        if (r->type == REDIS_REPLY_ERROR && st == SJ_OK) {
            sj_seterr(errstr, errstr_size, "redis: %s", r->str);
            st = SJ_ERR;
        }
        freeReplyObject(r);
    }
    return st;
}

/* "<c><n>\r\n" at p; returns the bytes written (at most 24). */
static size_t resp_head(char *p, char c, size_t n)
{
    char tmp[20];
    size_t k = 0, w = 0;
    do tmp[k++] = (char)('0' + n % 10);
    while ((n /= 10) != 0);
    p[w++] = c;
    while (k) p[w++] = tmp[--k];
    p[w++] = '\r';
    p[w++] = '\n';
    return w;
}

void sj_redis_pipe_init(sj_redis_pipe_t *p, redisContext *rc)
{
    p->rc = rc;
    sj_buf_init(&p->out, (size_t)1 << 30);
}

void sj_redis_pipe_free(sj_redis_pipe_t *p)
{
    sj_buf_free(&p->out);
}

sj_status_t sj_redis_pipe_cmd(sj_redis_pipe_t *p, int argc, const char **argv,
                              const size_t *len)
{
    char *w = sj_buf_reserve(&p->out, 24);
    if (!w) return SJ_ERR_NOMEM;
    sj_buf_commit(&p->out, resp_head(w, '*', (size_t)argc));
    for (int i = 0; i < argc; i++) {
        size_t n = len ? len[i] : strlen(argv[i]);
        if (!(w = sj_buf_reserve(&p->out, 24 + n + 2))) return SJ_ERR_NOMEM;
        size_t h = resp_head(w, '$', n);
        memcpy(w + h, argv[i], n);
        w[h + n] = '\r';
        w[h + n + 1] = '\n';
        sj_buf_commit(&p->out, h + n + 2);
    }
    return SJ_OK;
}

sj_status_t sj_redis_pipe_flush(sj_redis_pipe_t *p, char *errstr, size_t errstr_size)
{
    int done = 0;
    while (!done)
        if (redisBufferWrite(p->rc, &done) != REDIS_OK) {
            sj_seterr(errstr, errstr_size, "redis: %s", p->rc->errstr);
            return SJ_ERR_IO;
        }
    size_t off = 0;
    while (off < p->out.len) {
        ssize_t n = send(p->rc->fd, p->out.data + off, p->out.len - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            sj_seterr(errstr, errstr_size, "redis: writing commands: %s",
                      n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)
                          ? "timed out"
                          : strerror(n < 0 ? errno : EPIPE));
            return SJ_ERR_IO;
        }
        off += (size_t)n;
    }
    sj_buf_reset(&p->out);
    return SJ_OK;
}
