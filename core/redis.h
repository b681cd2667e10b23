/* Redis connections from a URL (hiredis).
 *
 * URLs: "redis://host:port[/db]" or "unix:/path/to/redis.sock[?db=N]".
 * Keys that belong to a resident carry the pseudonym in a hash tag,
 * "sj:res:{<pseudonym>}", so the layout works unchanged on Redis Cluster. */
#ifndef SJ_REDIS_H
#define SJ_REDIS_H

#include <hiredis/hiredis.h>

#include "buf.h"
#include "common.h"

/* Highest database number a URL may name; the server decides which exist
 * (its `databases` setting, 16 by default): SELECT of one it lacks fails
 * with the server's message. */
#define SJ_REDIS_DB_MAX 65535

/* Connects with a timeout (ms) and selects the database. Returns NULL and
 * fills errstr on failure; free with redisFree(). */
redisContext *sj_redis_connect(const char *url, int timeout_ms, char *errstr,
                               size_t errstr_size);

/* Reads n pipelined replies (after n redisAppendCommand calls). Fails on the
 * first I/O error or error reply, naming it in errstr, but always consumes
 * all n replies when the connection is healthy. */
sj_status_t sj_redis_drain(redisContext *rc, size_t n, char *errstr, size_t errstr_size);

/* A pipeline that formats commands itself, in one buffer reused from batch
 * to batch, and writes them to the connection's socket when flushed --
 * hiredis' own buffer is regrown and freed on every flush and formats each
 * argument through sds, which costs a busy pipeline about a tenth of its
 * time. Replies are read with hiredis as usual (redisGetReply(),
 * sj_redis_drain()), but only after sj_redis_pipe_flush(): commands given
 * to hiredis directly (redisCommand(), redisAppendCommand()) must also wait
 * for a flush, or they would overtake the ones buffered here. */
typedef struct sj_redis_pipe {
    redisContext *rc;
    sj_buf_t out;
} sj_redis_pipe_t;

void sj_redis_pipe_init(sj_redis_pipe_t *p, redisContext *rc);
void sj_redis_pipe_free(sj_redis_pipe_t *p);

/* Appends one command: argv[0..argc), lengths len (NULL: strlen of each).
 * SJ_ERR_NOMEM when the buffer cannot grow. */
sj_status_t sj_redis_pipe_cmd(sj_redis_pipe_t *p, int argc, const char **argv,
                              const size_t *len);

/* Writes everything buffered (after what hiredis still holds), blocking as
 * needed. SJ_ERR_IO with errstr filled on a write error or timeout. */
sj_status_t sj_redis_pipe_flush(sj_redis_pipe_t *p, char *errstr, size_t errstr_size);

#endif
