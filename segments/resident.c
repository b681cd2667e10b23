/* `seintje resident show|forget`: what Seintje keeps about one resident, for
 * access requests and the right to erasure.
 *
 *     seintje resident show 3f2a...                 # by pseudonym
 *     printf '85.07.30-033.28\n' | seintje resident forget --nrn
 *
 * The resident is named by pseudonym, or with --nrn by the national register
 * number read from stdin (never argv, where `ps` and shell history would see
 * it), normalised and pseudonymised exactly as `seintje produce` does (same
 * key loading: pseudonym.key-file, SEINTJE_PSEUDONYM_KEY, --insecure-dev-key).
 * The number is never printed or logged and is wiped from memory after use.
 *
 * show prints every per-resident key of segments/keys.h as one JSON document
 * with a stable key order (maps sorted by key). forget deletes them and takes
 * the resident's pending steps out of the shared schedule: one MULTI/EXEC for
 * the resident's keys (one hash slot) and one for the schedule (a slot of its
 * own), with the schedule first so that an interrupted forget can be run
 * again. See the README for the exact output. */
#include <ctype.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <jansson.h>

#include "cli/commands.h"
#include "core/cli.h"
#include "core/common.h"
#include "core/crypto.h"
#include "core/redis.h"
#include "core/text.h"
#include "core/timeutil.h"
#include "producers/validate.h" /* sj_nrn_normalize: pure, shared with produce */
#include "segments/keys.h"
#include "segments/profile.h"

#define CMD         "resident"
#define NRN_INPUT   128 /* bytes of the stdin line holding the register number */
#define MAX_KEYS    16
#define KEY_COLUMN  82     /* strlen("sj:res:{<64 hex>}:exposure") */
#define PENDING_MAX 100000 /* pending ids per resident that forget handles */

static const char help_show[] =
    "usage: seintje resident show PSEUDONYM|--nrn [options]\n"
    "\n"
    "Prints what Seintje keeps about one resident as JSON (keys in a stable order):\n"
    "the profile, consents (with the time and source of each), pending steps (due\n"
    "time and body), intent states, goals reached, experiment exposures and\n"
    "conversions (experiment -> time of the goal event that counted) and the\n"
    "sends that count against the frequency cap. A resident Seintje does not know\n"
    "prints \"found\": false (exit 0).\n";

static const char help_forget[] =
    "usage: seintje resident forget PSEUDONYM|--nrn [options]\n"
    "\n"
    "Deletes every key Seintje keeps about one resident (profile, consents, intent\n"
    "states, pending steps and their bodies, sends, goals, exposures,\n"
    "conversions), takes the resident's pending steps out of the shared schedule\n"
    "and prints what it removed. A resident Seintje does not know prints \"nothing\n"
    "to forget\" (exit 0). Events about the resident that arrive later build a\n"
    "new profile: stop them at the source first.\n";

static const char help_both[] =
    "usage: seintje resident show|forget PSEUDONYM|--nrn [options]\n"
    "\n"
    "  show     print what Seintje keeps about one resident, as JSON\n"
    "  forget   delete it, and take the resident's pending steps out of the schedule\n"
    "\n"
    "seintje resident show --help and seintje resident forget --help say more.\n";

static const char help_common[] =
    "\n"
    "The resident is a pseudonym (64 hex characters) or, with --nrn, the national\n"
    "register number read from stdin (one line, any usual form), pseudonymised\n"
    "with the key of `seintje produce`. The number is never taken from the command\n"
    "line, printed or logged.\n"
    "\n"
    "options:\n"
    "      --nrn              read the national register number from stdin\n"
    "      --insecure-dev-key use the PUBLIC development key when no key is "
    "set\n" SJ_CLI_COMMON_HELP "\n"
    "Settings: redis.url, redis.timeout-ms, pseudonym.key-file (or the environment\n"
    "variable SEINTJE_PSEUDONYM_KEY).\n"
    "Exit codes: 0 ok (also when there was nothing to show or forget); 1 Redis\n"
    "failed; 2 bad usage, a bad pseudonym or register number, no pseudonym key.\n";

/* ---- the resident's pseudonym ---------------------------------------------- */

static bool is_pseudonym(char *s)
{
    if (strlen(s) != SJ_PSEUDONYM_LEN) return false;
    for (char *p = s; *p; p++) {
        if (!isxdigit((unsigned char)*p)) return false;
        *p = (char)tolower((unsigned char)*p);
    }
    return true;
}

/* memset that the compiler may not drop. */
static void wipe(void *p, size_t n)
{
    volatile unsigned char *v = p;
    while (n--) *v++ = 0;
}

/* Reads the register number from stdin and pseudonymises it. Returns an
 * exit code; the number never leaves this function. */
static int pseudonym_from_stdin(const sj_conf_t *conf, bool dev_ok,
                                char out[SJ_PSEUDONYM_LEN + 1])
{
    char line[NRN_INPUT], nrn[SJ_NRN_LEN + 1], problem[200], err[512];
    int rc = SJ_EXIT_OK;
    if (isatty(STDIN_FILENO)) fputs("national register number: ", stderr);
    if (!fgets(line, sizeof line, stdin)) {
        fprintf(stderr, "seintje %s: --nrn: no register number on stdin\n", CMD);
        return SJ_EXIT_USAGE;
    }
    size_t n = strcspn(line, "\r\n");
    if (line[n] == '\0' && !feof(stdin)) {
        int c;
        while ((c = getchar()) != EOF && c != '\n') {
        }
        rc = sj_cli_usage_error(CMD, "--nrn: the line on stdin is longer than %d bytes",
                                NRN_INPUT - 2);
    } else if (sj_nrn_normalize(line, n, nrn, problem, sizeof problem) != SJ_OK) {
        rc = sj_cli_usage_error(CMD, "--nrn: not a valid national register number: %s",
                                problem);
    } else {
        unsigned char key[SJ_KEY_MAX_LEN];
        size_t keylen = 0;
        bool dev = false;
        sj_status_t st = sj_key_load(sj_conf_get(conf, "pseudonym.key-file"), dev_ok, key,
                                     &keylen, &dev, err, sizeof err);
        sj_hmac_t *h = st == SJ_OK ? sj_hmac_new(key, keylen, err, sizeof err) : NULL;
        wipe(key, sizeof key);
        if (dev && h)
            fprintf(stderr,
                    "seintje %s: INSECURE: using the public development "
                    "pseudonym key\n",
                    CMD);
        if (!h || sj_hmac_hex(h, nrn, SJ_NRN_LEN, out) != SJ_OK) {
            fprintf(stderr, "seintje %s: %s\n", CMD, h ? "pseudonymisation failed" : err);
            rc = st == SJ_ERR_INPUT || st == SJ_ERR_IO ? SJ_EXIT_USAGE : SJ_EXIT_FAILURE;
        }
        sj_hmac_destroy(h);
    }
    wipe(line, sizeof line);
    wipe(nrn, sizeof nrn);
    return rc;
}

/* ---- Redis plumbing ------------------------------------------------------------ */

/* The per-resident key suffixes: SJ_RES_SUFFIXES, plus ":body" (documented
 * in keys.h but missing from the list there), each once. */
static size_t resident_suffixes(const char *out[MAX_KEYS])
{
    static const char *const listed[] = SJ_RES_SUFFIXES;
    size_t n = 0;
    bool body = false;
    for (size_t i = 0; i < SJ_ARRAY_LEN(listed) && n < MAX_KEYS - 1; i++) {
        out[n++] = listed[i];
        body = body || !strcmp(listed[i], ":body");
    }
    if (!body) out[n++] = ":body";
    return n;
}

/* The command that counts what a key holds, by suffix (keys.h types). */
static const char *size_command(const char *suffix)
{
    static const char *const map[][2] = {
        {"", "HLEN"},          {":consent", "HLEN"},  {":intents", "HLEN"},
        {":pending", "SCARD"}, {":body", "HLEN"},     {":sent", "ZCARD"},
        {":goals", "HLEN"},    {":exposure", "HLEN"}, {":converted", "HLEN"},
    };
    for (size_t i = 0; i < SJ_ARRAY_LEN(map); i++)
        if (!strcmp(suffix, map[i][0])) return map[i][1];
    return "EXISTS";
}

/* What a count of size_command() counts, for the forget report. */
static const char *unit(const char *size_cmd, long long n)
{
    if (!strcmp(size_cmd, "HLEN")) return n == 1 ? "field" : "fields";
    if (!strcmp(size_cmd, "EXISTS")) return n == 1 ? "key" : "keys";
    return n == 1 ? "member" : "members";
}

static int redis_failed(redisContext *rc, const char *what)
{
    fprintf(stderr, "seintje %s: redis: %s: %s\n", CMD, what,
            rc->err ? rc->errstr : "unexpected reply");
    return SJ_EXIT_FAILURE;
}

/* A growable argv for commands with one argument per pending id. */
typedef struct {
    const char **argv;
    char **owned;
    size_t n, cap;
} argv_t;

static bool argv_add(argv_t *a, const char *s, bool copy)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? 2 * a->cap : 16;
        const char **v = realloc(a->argv, cap * sizeof *v);
        if (!v) return false;
        a->argv = v;
        char **o = realloc(a->owned, cap * sizeof *o);
        if (!o) return false;
        a->owned = o;
        a->cap = cap;
    }
    a->owned[a->n] = copy ? strdup(s) : NULL;
    if (copy && !a->owned[a->n]) return false;
    a->argv[a->n] = copy ? a->owned[a->n] : s;
    a->n++;
    return true;
}

static void argv_free(argv_t *a)
{
    for (size_t i = 0; i < a->n; i++) free(a->owned[i]);
    free(a->owned);
    free(a->argv);
}

/* Runs cmds[0..n) inside MULTI/EXEC, pipelined, and returns the EXEC reply
 * (an array of n replies; the caller frees it) or NULL on failure. */
static redisReply *transaction(redisContext *rc, argv_t *cmds, size_t n)
{
    if (redisAppendCommand(rc, "MULTI") != REDIS_OK) return NULL;
    for (size_t i = 0; i < n; i++)
        if (redisAppendCommandArgv(rc, (int)cmds[i].n, cmds[i].argv, NULL) != REDIS_OK)
            return NULL;
    if (redisAppendCommand(rc, "EXEC") != REDIS_OK) return NULL;
    bool ok = true;
    for (size_t i = 0; i < n + 1; i++) { /* +OK and n times +QUEUED */
        void *r = NULL;
        if (redisGetReply(rc, &r) != REDIS_OK) return NULL;
        ok = ok && ((redisReply *)r)->type == REDIS_REPLY_STATUS;
        freeReplyObject(r);
    }
    void *exec = NULL;
    if (redisGetReply(rc, &exec) != REDIS_OK) return NULL;
    redisReply *e = exec;
    if (!ok || e->type != REDIS_REPLY_ARRAY || e->elements != n) {
        freeReplyObject(e);
        return NULL;
    }
    return e;
}

static long long int_reply(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
}

/* ---- show ------------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The field indexes of a hash (or WITHSCORES) reply, sorted by field. */
static const char **sorted_fields(const redisReply *h, size_t *n)
{
    *n = 0;
    if (!h || h->type != REDIS_REPLY_ARRAY) return NULL;
    const char **f = malloc((h->elements / 2 + 1) * sizeof *f);
    if (!f) return NULL;
    for (size_t i = 0; i + 1 < h->elements; i += 2)
        if (h->element[i]->type == REDIS_REPLY_STRING) f[(*n)++] = h->element[i]->str;
    qsort(f, *n, sizeof *f, cmp_str);
    return f;
}

static const redisReply *hash_value(const redisReply *h, const char *field)
{
    for (size_t i = 0; i + 1 < h->elements; i += 2)
        if (h->element[i]->str == field) return h->element[i + 1];
    return NULL;
}

static json_t *time_of_ms(const char *s)
{
    int64_t ms;
    char t[40];
    if (sj_parse_i64(s, &ms) != SJ_OK) return json_string(s);
    sj_time_format_rfc3339(ms, t);
    return json_string(t);
}

static json_t *consent_json(const char *v)
{
    sj_profile_consent_t c;
    char src[SJ_PROFILE_SOURCE_MAX];
    if (sj_profile_consent_parse(v, strlen(v), &c, src, sizeof src) != SJ_OK)
        return json_pack("{s:s}", "unreadable", v);
    return json_pack("{s:b, s:s, s:s?}", "given", c.given, "time", c.time, "source",
                     *src ? src : NULL);
}

static json_t *exposure_json(const char *v)
{
    const char *sp = strrchr(v, ' ');
    int64_t ms;
    char t[40];
    if (!sp || sj_parse_i64(sp + 1, &ms) != SJ_OK) return json_string(v);
    sj_time_format_rfc3339(ms, t);
    return json_pack("{s:s%, s:s}", "variant", v, (size_t)(sp - v), "time", t);
}

/* A hash reply as a JSON object sorted by field, each value converted. */
static json_t *hash_json(const redisReply *h, json_t *(*conv)(const char *))
{
    size_t n;
    const char **f = sorted_fields(h, &n);
    json_t *o = json_object();
    for (size_t i = 0; o && i < n; i++) {
        const redisReply *v = hash_value(h, f[i]);
        json_t *j = v && v->type == REDIS_REPLY_STRING ? conv(v->str) : json_null();
        if (json_object_set_new(o, f[i], j) != 0) {
            json_decref(o);
            o = NULL;
        }
    }
    free(f);
    return o;
}

static json_t *as_string(const char *s)
{
    return json_string(s);
}

/* Pending steps: id, due time in the schedule, body; sorted by id. */
static json_t *pending_json(const redisReply *ids, const redisReply *bodies,
                            redisReply **due)
{
    json_t *a = json_array();
    size_t n = ids->elements;
    const char **sorted = malloc((n + 1) * sizeof *sorted);
    if (!a || !sorted) {
        free(sorted);
        json_decref(a);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) sorted[i] = ids->element[i]->str;
    qsort(sorted, n, sizeof *sorted, cmp_str);
    for (size_t i = 0; i < n; i++) {
        size_t k = 0;
        while (k < n && ids->element[k]->str != sorted[i]) k++;
        json_t *due_j = json_null(), *body_j = json_null();
        if (due[k] && due[k]->type == REDIS_REPLY_STRING) {
            json_decref(due_j);
            due_j = time_of_ms(due[k]->str);
        }
        for (size_t b = 0; b + 1 < bodies->elements; b += 2)
            if (!strcmp(bodies->element[b]->str, sorted[i])) {
                json_decref(body_j);
                const redisReply *v = bodies->element[b + 1];
                body_j = json_loadb(v->str, (size_t)v->len, 0, NULL);
                if (!body_j) body_j = json_stringn(v->str, (size_t)v->len);
            }
        json_array_append_new(a, json_pack("{s:s, s:o, s:o}", "id", sorted[i], "due",
                                           due_j, "intent", body_j));
    }
    free(sorted);
    return a;
}

/* Sends (zset WITHSCORES): [{"id", "time"}] in time order (as Redis gives). */
static json_t *sent_json(const redisReply *z)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i + 1 < z->elements; i += 2)
        json_array_append_new(a, json_pack("{s:s, s:o}", "id", z->element[i]->str, "time",
                                           time_of_ms(z->element[i + 1]->str)));
    return a;
}

enum {
    R_PROFILE,
    R_CONSENT,
    R_INTENTS,
    R_PENDING,
    R_BODY,
    R_SENT,
    R_GOALS,
    R_EXPOSURE,
    R_CONVERTED,
    R_N
};

static int show(redisContext *rc, const char *p)
{
    static const char *const cmd[R_N][2] = {
        {"HGETALL", ""},          {"HGETALL", ":consent"},  {"HGETALL", ":intents"},
        {"SMEMBERS", ":pending"}, {"HGETALL", ":body"},     {"ZRANGE", ":sent"},
        {"HGETALL", ":goals"},    {"HGETALL", ":exposure"}, {"HGETALL", ":converted"},
    };
    redisReply *r[R_N] = {NULL};
    char key[SJ_KEY_MAX];
    int ex = SJ_EXIT_OK;
    for (int i = 0; i < R_N; i++) {
        sj_key_res(key, p, cmd[i][1]);
        int ok = i == R_SENT ? redisAppendCommand(rc, "ZRANGE %s 0 -1 WITHSCORES", key)
                             : redisAppendCommand(rc, "%s %s", cmd[i][0], key);
        if (ok != REDIS_OK) return redis_failed(rc, "out of memory");
    }
    for (int i = 0; i < R_N && ex == SJ_EXIT_OK; i++) {
        void *v = NULL;
        if (redisGetReply(rc, &v) != REDIS_OK) return redis_failed(rc, "reading");
        r[i] = v;
        if (r[i]->type != REDIS_REPLY_ARRAY) {
            fprintf(stderr, "seintje %s: redis: %s%s: %s\n", CMD, "sj:res:{...}",
                    cmd[i][1],
                    r[i]->type == REDIS_REPLY_ERROR ? r[i]->str : "not a hash");
            ex = SJ_EXIT_FAILURE;
        }
    }
    /* where the pending steps are in the schedule */
    redisReply **due = NULL;
    size_t np = ex == SJ_EXIT_OK ? r[R_PENDING]->elements : 0;
    if (ex == SJ_EXIT_OK && !(due = calloc(np + 1, sizeof *due))) ex = SJ_EXIT_FAILURE;
    for (size_t i = 0; ex == SJ_EXIT_OK && i < np; i++) {
        char member[SJ_KEY_MAX];
        snprintf(member, sizeof member, "%s:%s", p, r[R_PENDING]->element[i]->str);
        if (redisAppendCommand(rc, "ZSCORE %s %s", SJ_KEY_SCHED_DUE, member) != REDIS_OK)
            ex = redis_failed(rc, "out of memory");
    }
    for (size_t i = 0; ex == SJ_EXIT_OK && i < np; i++) {
        void *v = NULL;
        if (redisGetReply(rc, &v) != REDIS_OK) ex = redis_failed(rc, "reading");
        due[i] = v;
    }
    if (ex == SJ_EXIT_OK) {
        bool found = false;
        for (int i = 0; i < R_N; i++) found = found || r[i]->elements > 0;
        json_t *doc = json_pack(
            "{s:s, s:b, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "pseudonym", p, "found",
            found, "profile", hash_json(r[R_PROFILE], as_string), "consents",
            hash_json(r[R_CONSENT], consent_json), "pending",
            pending_json(r[R_PENDING], r[R_BODY], due), "intents",
            hash_json(r[R_INTENTS], as_string), "goals",
            hash_json(r[R_GOALS], time_of_ms), "exposures",
            hash_json(r[R_EXPOSURE], exposure_json), "conversions",
            hash_json(r[R_CONVERTED], time_of_ms), "sent", sent_json(r[R_SENT]));
        if (!doc || json_dumpf(doc, stdout, JSON_INDENT(2)) != 0 ||
            fputc('\n', stdout) < 0 || fflush(stdout) != 0) {
            fprintf(stderr, "seintje %s: could not write the output\n", CMD);
            ex = SJ_EXIT_FAILURE;
        }
        json_decref(doc);
    }
    for (size_t i = 0; due && i < np; i++)
        if (due[i]) freeReplyObject(due[i]);
    free(due);
    for (int i = 0; i < R_N; i++)
        if (r[i]) freeReplyObject(r[i]);
    return ex;
}

/* ---- forget ------------------------------------------------------------------- */

/* Removes "<P>:<id>" for ids[0..n) from the schedule in one MULTI/EXEC;
 * adds the number removed to *removed. */
static int unschedule(redisContext *rc, const char *p, const redisReply *ids,
                      const redisReply *except, long long *removed)
{
    argv_t zrem = {0};
    bool ok = argv_add(&zrem, "ZREM", false) && argv_add(&zrem, SJ_KEY_SCHED_DUE, false);
    for (size_t i = 0; ok && i < ids->elements; i++) {
        const char *id = ids->element[i]->str;
        bool skip = false;
        for (size_t k = 0; except && k < except->elements && !skip; k++)
            skip = !strcmp(except->element[k]->str, id);
        if (skip) continue;
        char member[SJ_KEY_MAX];
        snprintf(member, sizeof member, "%s:%s", p, id);
        ok = argv_add(&zrem, member, true);
    }
    int ex = SJ_EXIT_OK;
    if (!ok) {
        ex = redis_failed(rc, "out of memory");
    } else if (zrem.n > 2) {
        redisReply *e = transaction(rc, &zrem, 1);
        if (!e)
            ex = redis_failed(rc, "removing pending steps from " SJ_KEY_SCHED_DUE);
        else
            *removed += int_reply(e->element[0]);
        if (e) freeReplyObject(e);
    }
    argv_free(&zrem);
    return ex;
}

/* The resident's intents in the delivery stage's queue (the intent JSON
 * holds the given name): a scan of the whole queue, since it is keyed by
 * intent; each entry of this resident is removed from both of its keys.
 * *removed: how many. An intent deliver holds at this moment (taken, not
 * yet parked again) can escape; running forget again catches it. */
static int forget_deliveries(redisContext *rc, const char *p, long long *removed)
{
    char cursor[32] = "0", needle[SJ_PSEUDONYM_LEN + 3];
    snprintf(needle, sizeof needle, "\"%s\"", p);
    int ex = SJ_EXIT_OK;
    do {
        redisReply *r =
            redisCommand(rc, "HSCAN %s %s COUNT 1000", SJ_KEY_DLV_INTENTS, cursor);
        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
            r->element[1]->type != REDIS_REPLY_ARRAY) {
            if (r) freeReplyObject(r);
            return redis_failed(rc, "reading the delivery queue " SJ_KEY_DLV_INTENTS);
        }
        snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
        const redisReply *kv = r->element[1];
        for (size_t i = 0; ex == SJ_EXIT_OK && i + 1 < kv->elements; i += 2) {
            const redisReply *id = kv->element[i], *v = kv->element[i + 1];
            if (v->type != REDIS_REPLY_STRING || !strstr(v->str, needle)) continue;
            json_t *j = json_loadb(v->str, (size_t)v->len, 0, NULL);
            const char *who = json_string_value(json_object_get(j, "resident"));
            bool mine = who && !strcmp(who, p);
            json_decref(j);
            if (!mine) continue;
            redisReply *a = redisCommand(rc, "HDEL %s %b", SJ_KEY_DLV_INTENTS, id->str,
                                         (size_t)id->len);
            redisReply *b = a ? redisCommand(rc, "ZREM %s %b", SJ_KEY_DLV_DUE, id->str,
                                             (size_t)id->len)
                              : NULL;
            if (!a || !b || a->type == REDIS_REPLY_ERROR || b->type == REDIS_REPLY_ERROR)
                ex = redis_failed(rc, "removing from the delivery queue");
            else if (a->integer > 0)
                (*removed)++;
            if (a) freeReplyObject(a);
            if (b) freeReplyObject(b);
        }
        freeReplyObject(r);
    } while (ex == SJ_EXIT_OK && strcmp(cursor, "0"));
    return ex;
}

static int forget(redisContext *rc, const char *p)
{
    const char *suffix[MAX_KEYS];
    size_t nk = resident_suffixes(suffix);
    char keys[MAX_KEYS][SJ_KEY_MAX], pending_key[SJ_KEY_MAX];
    for (size_t i = 0; i < nk; i++) sj_key_res(keys[i], p, suffix[i]);
    sj_key_res(pending_key, p, ":pending");
    long long unscheduled = 0;

    /* 1. the schedule first, from the pending ids as they are now */
    redisReply *before = redisCommand(rc, "SMEMBERS %s", pending_key);
    if (!before || before->type != REDIS_REPLY_ARRAY) {
        if (before) freeReplyObject(before);
        return redis_failed(rc, "reading the pending steps");
    }
    if (before->elements > PENDING_MAX) {
        fprintf(stderr, "seintje %s: %zu pending steps, more than %d: not forgotten\n",
                CMD, before->elements, PENDING_MAX);
        freeReplyObject(before);
        return SJ_EXIT_FAILURE;
    }
    int ex = unschedule(rc, p, before, NULL, &unscheduled);

    /* 2. the resident's keys, reading the pending ids once more inside */
    argv_t cmds[MAX_KEYS + 2];
    memset(cmds, 0, sizeof cmds);
    size_t nc = 0;
    bool ok =
        argv_add(&cmds[nc], "SMEMBERS", false) && argv_add(&cmds[nc], pending_key, false);
    nc++;
    for (size_t i = 0; ok && i < nk; i++, nc++)
        ok = argv_add(&cmds[nc], size_command(suffix[i]), false) &&
             argv_add(&cmds[nc], keys[i], false);
    ok = ok && argv_add(&cmds[nc], "DEL", false);
    for (size_t i = 0; ok && i < nk; i++) ok = argv_add(&cmds[nc], keys[i], false);
    nc++;
    redisReply *e = NULL;
    if (ex == SJ_EXIT_OK && !ok) ex = redis_failed(rc, "out of memory");
    if (ex == SJ_EXIT_OK && !(e = transaction(rc, cmds, nc)))
        ex = redis_failed(rc, "deleting the resident's keys");
    for (size_t i = 0; i < nc; i++) argv_free(&cmds[i]);

    /* 3. steps that became pending in between */
    const redisReply *after = e ? e->element[0] : NULL;
    if (ex == SJ_EXIT_OK && after && after->type == REDIS_REPLY_ARRAY)
        ex = unschedule(rc, p, after, before, &unscheduled);

    /* 4. intents waiting in the delivery stage's queue */
    long long queued = 0;
    if (ex == SJ_EXIT_OK) ex = forget_deliveries(rc, p, &queued);

    if (ex == SJ_EXIT_OK) {
        long long deleted = int_reply(e->element[nc - 1]);
        if (deleted == 0 && unscheduled == 0 && queued == 0) {
            printf("resident %s: nothing to forget\n", p);
        } else {
            printf("resident %s: forgotten: %lld %s, %lld schedule %s, %lld queued %s\n",
                   p, deleted, deleted == 1 ? "key" : "keys", unscheduled,
                   unscheduled == 1 ? "entry" : "entries", queued,
                   queued == 1 ? "intent" : "intents");
            for (size_t i = 0; i < nk; i++) {
                long long c = int_reply(e->element[1 + i]);
                if (c > 0)
                    printf("  %-*s %6lld %s\n", KEY_COLUMN, keys[i], c,
                           unit(size_command(suffix[i]), c));
            }
            if (unscheduled > 0)
                printf("  %-*s %6lld %s\n", KEY_COLUMN, SJ_KEY_SCHED_DUE, unscheduled,
                       unit("ZCARD", unscheduled));
            if (queued > 0)
                printf("  %-*s %6lld %s\n", KEY_COLUMN, SJ_KEY_DLV_INTENTS, queued,
                       unit("HLEN", queued));
        }
        if (fflush(stdout) != 0) ex = SJ_EXIT_FAILURE;
    }
    if (e) freeReplyObject(e);
    freeReplyObject(before);
    return ex;
}

/* ---- the command ------------------------------------------------------------- */

/* What the arguments after the options ask for; an exit code. */
static int parse_target(int argc, char **argv, bool nrn, bool *is_show,
                        char pseudonym[SJ_PSEUDONYM_LEN + 1])
{
    const char *sub = optind < argc ? argv[optind] : NULL;
    *is_show = sub && !strcmp(sub, "show");
    if (!sub) return sj_cli_usage_error(CMD, "expected show or forget");
    if (!*is_show && strcmp(sub, "forget") != 0)
        return sj_cli_usage_error(CMD, "unknown subcommand \"%.40s\" (show or forget)",
                                  sub);
    int rest = argc - optind - 1;
    if (rest > 1) return sj_cli_usage_error(CMD, "one resident at a time");
    if (nrn && rest == 1)
        return sj_cli_usage_error(
            CMD, "--nrn reads the register number from stdin: give no pseudonym");
    if (nrn) return SJ_EXIT_OK;
    if (rest == 0)
        return sj_cli_usage_error(CMD, "which resident? give a pseudonym or --nrn");
    /* An argument that is no pseudonym may be a register number: never echo it. */
    const char *arg = argv[optind + 1];
    size_t n = strlen(arg);
    if (n == SJ_PSEUDONYM_LEN) memcpy(pseudonym, arg, n + 1);
    if (n != SJ_PSEUDONYM_LEN || !is_pseudonym(pseudonym))
        return sj_cli_usage_error(CMD, "not a pseudonym (64 hex characters); for a "
                                       "national register number use --nrn and stdin");
    return SJ_EXIT_OK;
}

int sj_cmd_resident(int argc, char **argv)
{
    enum { OPT_NRN = 2000, OPT_DEVKEY };
    static const struct option longopts[] = {
        {"nrn", no_argument, NULL, OPT_NRN},
        {"insecure-dev-key", no_argument, NULL, OPT_DEVKEY},
        SJ_CLI_COMMON_LONGOPTS,
        {NULL, 0, NULL, 0}};
    sj_cli_t cli;
    if (sj_cli_init(&cli, "seintje resident") != SJ_OK) return SJ_EXIT_FAILURE;
    bool nrn = false, dev_ok = false, is_show = false;
    int opt, rc = SJ_EXIT_OK;
    opterr = 1;
    optind = 1;
    while (rc == SJ_EXIT_OK && (opt = getopt_long(argc, argv, SJ_CLI_COMMON_SHORTOPTS,
                                                  longopts, NULL)) != -1) {
        int common = sj_cli_common_opt(&cli, opt, optarg);
        if (common == 1) continue;
        if (opt == OPT_NRN)
            nrn = true;
        else if (opt == OPT_DEVKEY)
            dev_ok = true;
        else
            rc = common < 0 ? SJ_EXIT_USAGE : sj_cli_usage_error(CMD, "bad option");
    }
    char pseudonym[SJ_PSEUDONYM_LEN + 1] = "";
    redisContext *redis = NULL;
    if (rc == SJ_EXIT_OK && cli.help) {
        const char *sub = optind < argc ? argv[optind] : "";
        fputs(!strcmp(sub, "show")     ? help_show
              : !strcmp(sub, "forget") ? help_forget
                                       : help_both,
              stdout);
        fputs(help_common, stdout);
    } else if (rc == SJ_EXIT_OK &&
               (rc = parse_target(argc, argv, nrn, &is_show, pseudonym)) != SJ_EXIT_OK) {
        /* reported */
    } else if (rc == SJ_EXIT_OK && sj_cli_finish(&cli) != SJ_OK) {
        rc = SJ_EXIT_USAGE;
    } else if (rc == SJ_EXIT_OK && nrn &&
               (rc = pseudonym_from_stdin(cli.conf, dev_ok, pseudonym)) != SJ_EXIT_OK) {
        /* reported */
    } else if (rc == SJ_EXIT_OK) {
        char err[512];
        redis = sj_redis_connect(sj_conf_get(cli.conf, "redis.url"),
                                 (int)sj_conf_get_int(cli.conf, "redis.timeout-ms"), err,
                                 sizeof err);
        if (!redis) {
            fprintf(stderr, "seintje %s: %s\n", CMD, err);
            rc = SJ_EXIT_FAILURE;
        } else {
            rc = is_show ? show(redis, pseudonym) : forget(redis, pseudonym);
        }
    }
    if (redis) redisFree(redis);
    sj_cli_free(&cli);
    return rc;
}
