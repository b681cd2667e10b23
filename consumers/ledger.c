/* The delivery ledger's Redis commands and scripts. See ledger.h. */
#include "ledger.h"

#include <stdio.h>
#include <string.h>

/* KEYS[1] the state key; ARGV owner, now, lease, from_kafka ("1"/"0"), ttl.
 * Returns {result, since, pub, t, dl, state}. */
static const char claim_lua[] =
    "local s = redis.call('HMGET', KEYS[1], 'state', 'owner', 'since', 'pub', 't', "
    "'dl') "
    "local st, pub, t, dl = s[1] or '', s[4] or '1', s[5] or '', s[6] or '' "
    "local res = 'ok' "
    "if st == 'sent' or st == 'dead' or st == 'suppressed' then "
    "  return {'final', s[3] or '0', pub, t, dl, st} end "
    "if st == 'retry' and ARGV[4] == '1' then "
    "  return {'scheduled', s[3] or '0', pub, t, dl, st} end "
    "if st == 'sending' then "
    "  local since = tonumber(s[3] or '0') or 0 "
    "  if s[2] ~= ARGV[1] and since + tonumber(ARGV[3]) > tonumber(ARGV[2]) then "
    "    return {'busy', s[3] or '0', pub, t, dl, st} end "
    "  res = 'recovered' end "
    "redis.call('HSET', KEYS[1], 'state', 'sending', 'owner', ARGV[1], 'since', ARGV[2]) "
    "redis.call('EXPIRE', KEYS[1], ARGV[5]) "
    "return {res, ARGV[2], pub, t, dl, st}";

/* KEYS[1] due zset, KEYS[2] intents hash; ARGV now, lease, limit. */
static const char take_lua[] =
    "local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, "
    "ARGV[3]) "
    "local out = {} "
    "local later = tonumber(ARGV[1]) + tonumber(ARGV[2]) "
    "for _, id in ipairs(ids) do "
    "  redis.call('ZADD', KEYS[1], later, id) "
    "  out[#out + 1] = id "
    "  out[#out + 1] = redis.call('HGET', KEYS[2], id) "
    "end "
    "return out";

/* KEYS[1] the state key: pub = 1 unless it is gone. */
static const char published_lua[] =
    "if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'pub', "
    "'1') end return 1";

void sj_ledger_key(const char *id, char out[SJ_LEDGER_KEY_MAX])
{
    snprintf(out, SJ_LEDGER_KEY_MAX, "sj:dlv:{%.64s}", id);
}

static sj_status_t append(redisContext *rc, int argc, const char **argv)
{
    return redisAppendCommandArgv(rc, argc, argv, NULL) == REDIS_OK ? SJ_OK
                                                                    : SJ_ERR_NOMEM;
}

sj_status_t sj_ledger_append_claim(redisContext *rc, const char *id, const char *owner,
                                   int64_t now_ms, int64_t lease_ms, bool from_kafka,
                                   int64_t ttl_s)
{
    char key[SJ_LEDGER_KEY_MAX], now[24], lease[24], ttl[24];
    sj_ledger_key(id, key);
    snprintf(now, sizeof now, "%lld", (long long)now_ms);
    snprintf(lease, sizeof lease, "%lld", (long long)lease_ms);
    snprintf(ttl, sizeof ttl, "%lld", (long long)(ttl_s > 0 ? ttl_s : 1));
    const char *argv[] = {
        "EVAL", claim_lua, "1", key, owner, now, lease, from_kafka ? "1" : "0", ttl};
    return append(rc, (int)SJ_ARRAY_LEN(argv), argv);
}

const char *sj_claim_name(sj_claim_result_t r)
{
    static const char *const names[] = {"ok",        "recovered", "final",
                                        "scheduled", "busy",      "error"};
    return (size_t)r < SJ_ARRAY_LEN(names) ? names[r] : "?";
}

static const char *elem(const redisReply *r, size_t i, size_t *len)
{
    const redisReply *e = r->element[i];
    if (e->type != REDIS_REPLY_STRING) {
        *len = 0;
        return "";
    }
    *len = e->len;
    return e->str;
}

void sj_ledger_parse_claim(const redisReply *r, sj_claim_t *c)
{
    memset(c, 0, sizeof *c);
    c->result = SJ_CLAIM_ERROR;
    c->t = c->dl = c->state = "";
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 6) return;
    size_t n;
    const char *res = elem(r, 0, &n), *since = elem(r, 1, &n), *pub = elem(r, 2, &n);
    for (int k = SJ_CLAIM_OK; k < SJ_CLAIM_ERROR; k++)
        if (!strcmp(res, sj_claim_name((sj_claim_result_t)k)))
            c->result = (sj_claim_result_t)k;
    for (const char *p = since; *p >= '0' && *p <= '9'; p++)
        c->since = c->since * 10 + (*p - '0');
    c->unpublished = !strcmp(pub, "0");
    c->t = elem(r, 3, &c->t_len);
    c->dl = elem(r, 4, &c->dl_len);
    c->state = elem(r, 5, &n);
}

sj_status_t sj_ledger_append_transition(redisContext *rc, const char *id,
                                        const char *state, const char *owner,
                                        int64_t now_ms, const char *status,
                                        const char *dead_letter, int64_t ttl_s)
{
    char key[SJ_LEDGER_KEY_MAX], now[24], ttl[24];
    sj_ledger_key(id, key);
    snprintf(now, sizeof now, "%lld", (long long)now_ms);
    snprintf(ttl, sizeof ttl, "%lld", (long long)(ttl_s > 0 ? ttl_s : 1));
    const char *hset[] = {"HSET",  key,    "state", state,
                          "owner", owner,  "since", now,
                          "t",     status, "dl",    dead_letter ? dead_letter : "",
                          "pub",   "0"};
    const char *expire[] = {"EXPIRE", key, ttl};
    sj_status_t st = append(rc, (int)SJ_ARRAY_LEN(hset), hset);
    return st == SJ_OK ? append(rc, 3, expire) : st;
}

sj_status_t sj_ledger_append_published(redisContext *rc, const char *id)
{
    char key[SJ_LEDGER_KEY_MAX];
    sj_ledger_key(id, key);
    const char *argv[] = {"EVAL", published_lua, "1", key};
    return append(rc, 4, argv);
}

sj_status_t sj_ledger_append_schedule(redisContext *rc, const char *id, const char *json,
                                      int64_t due_ms)
{
    char due[24];
    snprintf(due, sizeof due, "%lld", (long long)due_ms);
    const char *hset[] = {"HSET", SJ_SCHEDULE_INTENTS_KEY, id, json};
    const char *zadd[] = {"ZADD", SJ_SCHEDULE_DUE_KEY, due, id};
    sj_status_t st = append(rc, 4, hset);
    return st == SJ_OK ? append(rc, 4, zadd) : st;
}

sj_status_t sj_ledger_append_unschedule(redisContext *rc, const char *id)
{
    const char *hdel[] = {"HDEL", SJ_SCHEDULE_INTENTS_KEY, id};
    const char *zrem[] = {"ZREM", SJ_SCHEDULE_DUE_KEY, id};
    sj_status_t st = append(rc, 3, hdel);
    return st == SJ_OK ? append(rc, 3, zrem) : st;
}

redisReply *sj_ledger_take_due(redisContext *rc, int64_t now_ms, int64_t lease_ms,
                               size_t limit, char *errstr, size_t errstr_size)
{
    char now[24], lease[24], lim[24];
    snprintf(now, sizeof now, "%lld", (long long)now_ms);
    snprintf(lease, sizeof lease, "%lld", (long long)lease_ms);
    snprintf(lim, sizeof lim, "%zu", limit);
    const char *argv[] = {
        "EVAL", take_lua, "2", SJ_SCHEDULE_DUE_KEY, SJ_SCHEDULE_INTENTS_KEY,
        now,    lease,    lim};
    redisReply *r = redisCommandArgv(rc, (int)SJ_ARRAY_LEN(argv), argv, NULL);
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements % 2) {
        sj_seterr(errstr, errstr_size, "redis: taking due intents: %s",
                  !r ? (rc->errstr[0] ? rc->errstr : "no reply")
                  : r->type == REDIS_REPLY_ERROR ? r->str
                                                 : "unexpected reply");
        if (r) freeReplyObject(r);
        return NULL;
    }
    return r;
}

int64_t sj_ledger_next_due(redisContext *rc, uint64_t *count, char *errstr,
                           size_t errstr_size)
{
    redisAppendCommand(rc, "ZRANGE %s 0 0 WITHSCORES", SJ_SCHEDULE_DUE_KEY);
    redisAppendCommand(rc, "ZCARD %s", SJ_SCHEDULE_DUE_KEY);
    void *a = NULL, *b = NULL;
    int ok = redisGetReply(rc, &a) == REDIS_OK && redisGetReply(rc, &b) == REDIS_OK;
    redisReply *ra = a, *rb = b;
    int64_t due = INT64_MIN;
    if (ok && ra->type == REDIS_REPLY_ARRAY && rb->type == REDIS_REPLY_INTEGER) {
        due = -1;
        if (ra->elements == 2 && ra->element[1]->type == REDIS_REPLY_STRING) {
            due = 0;
            for (const char *p = ra->element[1]->str; *p >= '0' && *p <= '9'; p++)
                due = due * 10 + (*p - '0');
        }
        if (count) *count = (uint64_t)rb->integer;
    } else {
        sj_seterr(errstr, errstr_size, "redis: reading the schedule: %s",
                  rc->errstr[0] ? rc->errstr : "unexpected reply");
    }
    if (ra) freeReplyObject(ra);
    if (rb) freeReplyObject(rb);
    return due;
}
