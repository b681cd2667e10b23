/* Redis connections from a URL (hiredis).
 *
 * URLs: "redis://host:port[/db]" or "unix:/path/to/redis.sock[?db=N]".
 * Keys that belong to a resident carry the pseudonym in a hash tag,
 * "sj:res:{<pseudonym>}", so the layout works unchanged on Redis Cluster. */
#ifndef SJ_REDIS_H
#define SJ_REDIS_H

#include <hiredis/hiredis.h>

#include "common.h"

/* Connects with a timeout (ms) and selects the database. Returns NULL and
 * fills errstr on failure; free with redisFree(). */
redisContext *sj_redis_connect(const char *url, int timeout_ms, char *errstr,
                               size_t errstr_size);

/* Reads n pipelined replies (after n redisAppendCommand calls). Fails on the
 * first I/O error or error reply, naming it in errstr, but always consumes
 * all n replies when the connection is healthy. */
sj_status_t sj_redis_drain(redisContext *rc, size_t n, char *errstr, size_t errstr_size);

#endif
