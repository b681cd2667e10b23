/* Dead-letter records and `seintje dead-letter list|replay`. See
 * deadletter.h. */
#include "deadletter.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>
#include <librdkafka/rdkafka.h>

#include "cli/commands.h"
#include "consumers/ledger.h"
#include "core/cli.h"
#include "core/kafka.h"
#include "core/log.h"
#include "core/redis.h"
#include "core/text.h"
#include "core/timeutil.h"

#define FAC "dead-letter"
#define CMD "dead-letter"

static const char *str_of(const json_t *o, const char *key)
{
    const json_t *j = json_object_get(o, key);
    return json_is_string(j) ? json_string_value(j) : NULL;
}

bool sj_dl_record_valid(const json_t *r, char *problem, size_t problem_size)
{
    static const char *const strings[] = {"intent",  "campaign",     "resident",
                                          "channel", "class",        "reason",
                                          "time",    "first_attempt"};
    const char *bad = NULL;
    int64_t ms;
    if (!json_is_object(r)) bad = "the record is not a JSON object";
    for (size_t i = 0; !bad && i < SJ_ARRAY_LEN(strings); i++)
        if (!str_of(r, strings[i])) bad = strings[i];
    if (!bad && sj_time_parse_rfc3339(str_of(r, "time"), strlen(str_of(r, "time")), &ms))
        bad = "time";
    if (!bad && !json_is_integer(json_object_get(r, "attempts"))) bad = "attempts";
    if (!bad && !json_is_boolean(json_object_get(r, "final"))) bad = "final";
    if (!bad && !json_is_object(json_object_get(r, "notification"))) bad = "notification";
    if (!bad) return true;
    snprintf(problem, problem_size, "%s is missing or invalid", bad);
    return false;
}

static bool eq(const char *want, const char *have)
{
    return !want || (have && !strcmp(want, have));
}

bool sj_dl_match(const json_t *r, const sj_dl_filter_t *f)
{
    const char *id = str_of(r, "intent");
    int64_t t = 0;
    const char *ts = str_of(r, "time");
    sj_time_parse_rfc3339(ts, strlen(ts), &t);
    return eq(f->campaign, str_of(r, "campaign")) &&
           eq(f->channel, str_of(r, "channel")) && eq(f->klass, str_of(r, "class")) &&
           (!f->intent_prefix ||
            !strncmp(id, f->intent_prefix, strlen(f->intent_prefix))) &&
           (!f->since_ms || t >= f->since_ms) && (!f->until_ms || t < f->until_ms) &&
           (!f->final_only || json_is_true(json_object_get(r, "final")));
}

/* ---- reading the topic ------------------------------------------------------ */

typedef bool (*record_fn)(void *opaque, json_t *r, int32_t partition, int64_t offset);

typedef struct {
    const char *topic;
    record_fn fn;
    void *opaque;
    uint64_t *invalid;
} reading_t;

/* sj_kafka_read_topic()'s callback: the valid records go on to fn. */
static bool on_message(void *opaque, const rd_kafka_message_t *m)
{
    reading_t *x = opaque;
    bool go = true;
    json_t *r = json_loadb(m->payload, m->len, JSON_REJECT_DUPLICATES, NULL);
    char problem[128];
    if (r && sj_dl_record_valid(r, problem, sizeof problem)) {
        go = x->fn(x->opaque, r, m->partition, m->offset);
    } else {
        (*x->invalid)++;
        sj_log(SJ_LOG_WARN, FAC, "%s [%d] offset %lld: not a dead-letter record: %s",
               x->topic, (int)m->partition, (long long)m->offset,
               r ? problem : "invalid JSON");
    }
    json_decref(r);
    return go;
}

/* Calls fn for every valid record of topic, partition by partition from the
 * beginning to the end as it was when reading started. */
static sj_status_t read_topic(const sj_conf_t *conf, const char *topic, record_fn fn,
                              void *opaque, uint64_t *invalid, char *errstr,
                              size_t errstr_size)
{
    reading_t x = {topic, fn, opaque, invalid};
    return sj_kafka_read_topic(conf, topic, "topic.dead-letter", "seintje-dead-letter",
                               on_message, &x, errstr, errstr_size);
}

/* ---- list ------------------------------------------------------------------- */

typedef struct {
    const sj_dl_filter_t *f;
    bool json;
    uint64_t seen, shown, limit;
    json_t *latest; /* replay: intent id -> the latest matching record */
} scan_t;

static bool on_list(void *opaque, json_t *r, int32_t partition, int64_t offset)
{
    scan_t *x = opaque;
    x->seen++;
    if (!sj_dl_match(r, x->f)) return true;
    x->shown++;
    if (x->json) {
        char *s = json_dumps(r, JSON_COMPACT);
        if (s) puts(s);
        free(s);
    } else {
        const json_t *fb = json_object_get(r, "fallback");
        printf("%s  %s  %s/%s  %-5s  %-9s  %lld attempt%s  %s%s  %s\n", str_of(r, "time"),
               str_of(r, "intent"), str_of(r, "campaign"),
               str_of(r, "variant") ? str_of(r, "variant") : "-", str_of(r, "channel"),
               str_of(r, "class"),
               (long long)json_integer_value(json_object_get(r, "attempts")),
               json_integer_value(json_object_get(r, "attempts")) == 1 ? "" : "s",
               json_is_string(fb) ? "-> " : "final",
               json_is_string(fb) ? json_string_value(fb) : "", str_of(r, "reason"));
    }
    (void)partition;
    (void)offset;
    return !x->limit || x->shown < x->limit;
}

static bool on_replay_scan(void *opaque, json_t *r, int32_t partition, int64_t offset)
{
    scan_t *x = opaque;
    (void)partition;
    (void)offset;
    x->seen++;
    if (sj_dl_match(r, x->f)) json_object_set(x->latest, str_of(r, "intent"), r);
    return true;
}

/* ---- replay ----------------------------------------------------------------- */

/* KEYS[1] the state key: "dead" (or "replay", or gone) becomes "replay". */
static const char mark_lua[] =
    "local st = redis.call('HGET', KEYS[1], 'state') "
    "if not st or st == 'dead' or st == 'replay' then "
    "  if st then redis.call('HSET', KEYS[1], 'state', 'replay') end "
    "  return 'ok' end "
    "return st";

typedef struct {
    uint64_t acked, failed;
} dr_t;

static void on_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    dr_t *d = opaque;
    if (m->err) {
        d->failed++;
        sj_log(SJ_LOG_ERROR, FAC, "replaying to %s: %s", rd_kafka_topic_name(m->rkt),
               rd_kafka_err2str(m->err));
    } else {
        d->acked++;
    }
}

typedef struct {
    uint64_t replayed, delivered, busy;
} replay_counts_t;

static sj_status_t replay_one(redisContext *rc, rd_kafka_t *p, const char *topic,
                              const json_t *r, bool dry, replay_counts_t *n, char *errstr,
                              size_t errstr_size)
{
    const char *id = str_of(r, "intent");
    char key[SJ_LEDGER_KEY_MAX];
    sj_ledger_key(id, key);
    const char *state = "ok";
    redisReply *rep = NULL;
    if (!dry) {
        const char *argv[] = {"EVAL", mark_lua, "1", key};
        rep = redisCommandArgv(rc, 4, argv, NULL);
        if (!rep || rep->type != REDIS_REPLY_STRING) {
            sj_seterr(errstr, errstr_size, "redis: marking %s for replay: %s", id,
                      rep && rep->type == REDIS_REPLY_ERROR ? rep->str : rc->errstr);
            if (rep) freeReplyObject(rep);
            return SJ_ERR_IO;
        }
        state = rep->str;
    }
    if (strcmp(state, "ok") != 0) {
        bool sent = !strcmp(state, "sent") || !strcmp(state, "suppressed");
        printf("%s: skipped, %s\n", id,
               sent ? "delivered (or suppressed) since"
                    : "being delivered now (retrying)");
        sent ? n->delivered++ : n->busy++;
        freeReplyObject(rep);
        return SJ_OK;
    }
    if (rep) freeReplyObject(rep);
    json_t *note = json_deep_copy(json_object_get(r, "notification"));
    if (!note) return SJ_ERR_NOMEM;
    json_object_del(note, "delivery");
    char *s = json_dumps(note, JSON_COMPACT);
    json_decref(note);
    if (!s) return SJ_ERR_NOMEM;
    printf("%s: %s (%s, %s)\n", id, dry ? "would be replayed" : "replayed",
           str_of(r, "channel"), str_of(r, "class"));
    sj_status_t st = dry ? SJ_OK
                         : sj_kafka_produce_copy(p, topic, str_of(r, "resident"), s,
                                                 strlen(s), errstr, errstr_size);
    free(s);
    if (st == SJ_OK) n->replayed++;
    return st;
}

static sj_status_t replay(const sj_conf_t *conf, const json_t *latest, bool dry,
                          replay_counts_t *n, char *errstr, size_t errstr_size)
{
    redisContext *rc = NULL;
    rd_kafka_t *p = NULL;
    dr_t dr = {0};
    if (!dry) {
        rc = sj_redis_connect(sj_conf_get(conf, "redis.url"),
                              (int)sj_conf_get_int(conf, "redis.timeout-ms"), errstr,
                              errstr_size);
        if (!rc) return SJ_ERR_IO;
        if (!(p = sj_kafka_producer_new(conf, on_dr, &dr, errstr, errstr_size))) {
            redisFree(rc);
            return SJ_ERR;
        }
    }
    const char *topic = sj_conf_get(conf, "topic.notifications");
    sj_status_t st = SJ_OK;
    const char *id;
    json_t *r;
    json_object_foreach((json_t *)latest, id, r)
    {
        if (st == SJ_OK) st = replay_one(rc, p, topic, r, dry, n, errstr, errstr_size);
    }
    if (p) {
        rd_kafka_flush(p, (int)sj_conf_get_int(conf, "kafka.timeout-ms"));
        if (st == SJ_OK && (dr.failed || dr.acked < n->replayed)) {
            sj_seterr(errstr, errstr_size,
                      "kafka: %llu of %llu replayed intents were not acknowledged; their "
                      "state is \"replay\": run the replay again",
                      (unsigned long long)(n->replayed - dr.acked),
                      (unsigned long long)n->replayed);
            st = SJ_ERR;
        }
        rd_kafka_destroy(p);
    }
    if (rc) redisFree(rc);
    return st;
}

/* ---- command ---------------------------------------------------------------- */

static const char help[] =
    "usage: seintje dead-letter list [filters] [--json] [--limit N]\n"
    "       seintje dead-letter replay (filters | --all) [--dry-run]\n"
    "Reads topic.dead-letter: every channel on which a message failed for good\n"
    "(permanent failure, or retries exhausted), with the reason. A record whose\n"
    "intent went on to its next channel says \"-> <channel>\"; \"final\" means the\n"
    "resident got nothing. `list` prints the records (time, intent, campaign/variant,\n"
    "channel, class, attempts, fallback, reason; --json the whole records, which\n"
    "hold the notification and so personal data). `replay` puts the intents of the\n"
    "matching final records back on topic.notifications, once per intent, after\n"
    "marking their delivery state in Redis so `seintje deliver` sends them again\n"
    "(from their first channel); intents delivered since are skipped.\n\n"
    "filters:\n"
    "      --campaign ID      only this campaign\n"
    "      --channel CH       only failures on email, sms or app\n"
    "      --intent PREFIX    only intent ids starting with PREFIX\n"
    "      --class CLASS      permanent or exhausted\n"
    "      --since TIME       records from TIME on (RFC 3339)\n"
    "      --until TIME       records before TIME\n"
    "      --final            list: only final records (replay takes only those)\n"
    "options:\n"
    "      --json             list: whole records as JSON lines\n"
    "      --limit N          list: at most N records\n"
    "      --all              replay: every final record (no filter needed)\n"
    "      --dry-run          replay: say what would be replayed, change nothing\n"
    "Settings: brokers, topic.dead-letter, topic.notifications, redis.url, kafka.*.\n"
    "Exit: 0 ok, 1 Kafka or Redis failed, 2 bad usage.\n" SJ_CLI_COMMON_HELP;

enum {
    O_CAMPAIGN = 3000,
    O_CHANNEL,
    O_INTENT,
    O_CLASS,
    O_SINCE,
    O_UNTIL,
    O_FINAL,
    O_JSON,
    O_LIMIT,
    O_ALL,
    O_DRY
};

typedef struct {
    sj_dl_filter_t f;
    bool json, all, dry, any_filter;
    uint64_t limit;
} opts_t;

static int parse_time_opt(const char *name, const char *arg, int64_t *ms)
{
    if (sj_time_parse_rfc3339(arg, strlen(arg), ms) == SJ_OK) return SJ_EXIT_OK;
    return sj_cli_usage_error(CMD, "%s: \"%s\" is not an RFC 3339 time", name, arg);
}

static int parse_args(int argc, char **argv, sj_cli_t *cli, opts_t *o)
{
    static const struct option longopts[] = {
        {"campaign", required_argument, NULL, O_CAMPAIGN},
        {"channel", required_argument, NULL, O_CHANNEL},
        {"intent", required_argument, NULL, O_INTENT},
        {"class", required_argument, NULL, O_CLASS},
        {"since", required_argument, NULL, O_SINCE},
        {"until", required_argument, NULL, O_UNTIL},
        {"final", no_argument, NULL, O_FINAL},
        {"json", no_argument, NULL, O_JSON},
        {"limit", required_argument, NULL, O_LIMIT},
        {"all", no_argument, NULL, O_ALL},
        {"dry-run", no_argument, NULL, O_DRY},
        SJ_CLI_COMMON_LONGOPTS,
        {NULL, 0, NULL, 0}};
    int opt, rc = SJ_EXIT_OK;
    int64_t v;
    optind = 1;
    while (rc == SJ_EXIT_OK && (opt = getopt_long(argc, argv, SJ_CLI_COMMON_SHORTOPTS,
                                                  longopts, NULL)) != -1) {
        o->any_filter |= opt >= O_CAMPAIGN && opt <= O_UNTIL;
        switch (opt) {
        case O_CAMPAIGN:
            o->f.campaign = optarg;
            break;
        case O_CHANNEL:
            if (strcmp(optarg, "email") && strcmp(optarg, "sms") && strcmp(optarg, "app"))
                return sj_cli_usage_error(
                    CMD, "--channel: \"%s\" is not email, sms or app", optarg);
            o->f.channel = optarg;
            break;
        case O_INTENT:
            o->f.intent_prefix = optarg;
            break;
        case O_CLASS:
            if (strcmp(optarg, "permanent") && strcmp(optarg, "exhausted"))
                return sj_cli_usage_error(
                    CMD, "--class: \"%s\" is not permanent or exhausted", optarg);
            o->f.klass = optarg;
            break;
        case O_SINCE:
            rc = parse_time_opt("--since", optarg, &o->f.since_ms);
            break;
        case O_UNTIL:
            rc = parse_time_opt("--until", optarg, &o->f.until_ms);
            break;
        case O_FINAL:
            o->f.final_only = true;
            break;
        case O_JSON:
            o->json = true;
            break;
        case O_LIMIT:
            if (sj_parse_i64(optarg, &v) != SJ_OK || v < 1)
                return sj_cli_usage_error(CMD, "--limit: \"%s\" is not a positive number",
                                          optarg);
            o->limit = (uint64_t)v;
            break;
        case O_ALL:
            o->all = true;
            break;
        case O_DRY:
            o->dry = true;
            break;
        default:
            if (sj_cli_common_opt(cli, opt, optarg) != 1) return SJ_EXIT_USAGE;
        }
    }
    return rc;
}

static int run(sj_cli_t *cli, const char *verb, const opts_t *o)
{
    char err[1024];
    uint64_t invalid = 0;
    const char *topic = sj_conf_get(cli->conf, "topic.dead-letter");
    sj_status_t st;
    if (!strcmp(verb, "list")) {
        scan_t x = {.f = &o->f, .json = o->json, .limit = o->limit};
        st = read_topic(cli->conf, topic, on_list, &x, &invalid, err, sizeof err);
        fprintf(stderr, "dead-letter: %llu records read, %llu shown, %llu invalid\n",
                (unsigned long long)x.seen, (unsigned long long)x.shown,
                (unsigned long long)invalid);
    } else {
        sj_dl_filter_t f = o->f;
        f.final_only = true;
        scan_t x = {.f = &f, .latest = json_object()};
        replay_counts_t n = {0};
        st = x.latest ? read_topic(cli->conf, topic, on_replay_scan, &x, &invalid, err,
                                   sizeof err)
                      : SJ_ERR_NOMEM;
        if (st == SJ_OK) st = replay(cli->conf, x.latest, o->dry, &n, err, sizeof err);
        printf("dead-letter: %llu records read, %llu intents %s, %llu delivered since, "
               "%llu being retried, %llu invalid records\n",
               (unsigned long long)x.seen, (unsigned long long)n.replayed,
               o->dry ? "would be replayed" : "replayed", (unsigned long long)n.delivered,
               (unsigned long long)n.busy, (unsigned long long)invalid);
        json_decref(x.latest);
    }
    if (st == SJ_OK) return SJ_EXIT_OK;
    sj_log(SJ_LOG_ERROR, FAC, "%s", st == SJ_ERR_NOMEM ? "out of memory" : err);
    return SJ_EXIT_FAILURE;
}

int sj_cmd_dead_letter(int argc, char **argv)
{
    const char *verb = argc > 1 ? argv[1] : NULL;
    if (verb && (!strcmp(verb, "-h") || !strcmp(verb, "--help"))) {
        fputs(help, stdout);
        return SJ_EXIT_OK;
    }
    if (!verb || (strcmp(verb, "list") && strcmp(verb, "replay")))
        return sj_cli_usage_error(CMD,
                                  "expected list or replay (seintje dead-letter --help)");
    sj_cli_t cli;
    if (sj_cli_init(&cli, "seintje dead-letter") != SJ_OK) return SJ_EXIT_FAILURE;
    opts_t o = {0};
    int rc = parse_args(argc - 1, argv + 1, &cli, &o);
    if (rc == SJ_EXIT_OK && cli.help) {
        fputs(help, stdout);
        sj_cli_free(&cli);
        return SJ_EXIT_OK;
    }
    if (rc == SJ_EXIT_OK && optind < argc - 1)
        rc = sj_cli_usage_error(CMD, "unexpected argument \"%s\"", argv[optind + 1]);
    if (rc == SJ_EXIT_OK && !strcmp(verb, "replay") && !o.all && !o.any_filter)
        rc = sj_cli_usage_error(CMD, "replay needs a filter or --all");
    if (rc == SJ_EXIT_OK && sj_cli_finish(&cli) != SJ_OK) rc = SJ_EXIT_USAGE;
    if (rc == SJ_EXIT_OK) rc = run(&cli, verb, &o);
    sj_cli_free(&cli);
    return rc;
}
