/* `seintje batch --campaign ID [--date D]`: a scheduled campaign over the
 * whole population.
 *
 * Scans every resident profile in Redis (SCAN, pipelined reads of a page of
 * profiles at a time), evaluates the campaign's audience rule over
 * {"resident": ..., "event": {"type": "be.seintje.batch", "id":
 * "batch-<campaign>-<date>", "time": "<date>T00:00:00Z"}, "now": ...} and
 * publishes, for each resident in the audience, a batch trigger to
 * topic.segment-due:
 *
 *     {"batch": "<campaign>", "date": "YYYY-MM-DD", "resident": "<pseudonym>"}
 *
 * The segmentation engine consumes it like a life event: the same nudging
 * rules, the same exactly-once transaction, and the intent id depends on the
 * campaign, the resident and the date, so running the same batch twice (or
 * resuming an interrupted run from the start) sends nothing twice. Memory is
 * one page of profiles, whatever the population. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>
#include <librdkafka/rdkafka.h>

#include "cli/commands.h"
#include "core/cli.h"
#include "core/kafka.h"
#include "core/log.h"
#include "core/progress.h"
#include "core/redis.h"
#include "core/timeutil.h"
#include "segments/campaign.h"
#include "segments/intent.h"
#include "segments/jsonlogic.h"
#include "segments/keys.h"
#include "segments/profile.h"

#define FAC   "batch"
#define PAGE  2000 /* SCAN COUNT: profiles read per round trip, roughly */
#define MATCH "sj:res:{*}"

typedef struct {
    uint64_t scanned, residents, matched, published, failed, rule_errors;
    char first_error[256];
} batch_stats_t;

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    batch_stats_t *b = opaque;
    if (!m->err) {
        b->published++;
    } else if (b->failed++ == 0) {
        snprintf(b->first_error, sizeof b->first_error, "%s", rd_kafka_err2str(m->err));
    }
}

/* A profile key is "sj:res:{<64 hex>}" with nothing after the brace. */
static bool profile_key(const redisReply *k, char pseudonym[SJ_PSEUDONYM_LEN + 1])
{
    if (k->type != REDIS_REPLY_STRING || k->len != 8 + SJ_PSEUDONYM_LEN + 1) return false;
    if (memcmp(k->str, "sj:res:{", 8) || k->str[k->len - 1] != '}') return false;
    memcpy(pseudonym, k->str + 8, SJ_PSEUDONYM_LEN);
    pseudonym[SJ_PSEUDONYM_LEN] = 0;
    return true;
}

static sj_status_t publish(rd_kafka_t *p, const char *topic, const char *campaign,
                           const char *date, const char *pseudonym, char *errstr,
                           size_t errstr_size)
{
    char val[256];
    int n = snprintf(val, sizeof val,
                     "{\"batch\":\"%s\",\"date\":\"%s\",\"resident\":\"%s\"}", campaign,
                     date, pseudonym);
    return sj_kafka_produce_copy(p, topic, pseudonym, val, (size_t)n, errstr,
                                 errstr_size);
}

/* What a page needs to know about the run. */
typedef struct {
    redisContext *rc;
    sj_redis_pipe_t pipe;
    rd_kafka_t *p;
    const char *topic, *date;
    const sj_campaign_t *c;
    json_t *event;
    int64_t now;
    /* the resident members the audience rule reads, when known */
    char names[32][SJ_RULE_MEMBER_MAX];
    size_t n_names;
    bool known, consents, goals; /* consents, goals: the rule reads them */
} run_t;

static const char *const consent_members[] = {"consents", "topic_consents"};

/* One SCAN page: read the profiles it named (and then, in the same round
 * trip, SCAN from next_cursor, unless NULL), evaluate, publish. The next
 * SCAN's reply is left for the caller. */
static sj_status_t page(run_t *x, const redisReply *keys, const char *next_cursor,
                        batch_stats_t *b, char *errstr, size_t errstr_size)
{
    size_t n = keys->elements, per = 1 + x->consents + x->goals, k = 0;
    char(*ps)[SJ_PSEUDONYM_LEN + 1] = malloc(sizeof *ps * (n ? n : 1));
    if (!ps) return SJ_ERR_NOMEM;
    sj_status_t st = SJ_OK;
    for (size_t i = 0; st == SJ_OK && i < n; i++) {
        b->scanned++;
        if (!profile_key(keys->element[i], ps[k])) continue;
        const char *argv[2] = {"HGETALL", keys->element[i]->str};
        st = sj_redis_pipe_cmd(&x->pipe, 2, argv, NULL);
        char ck[SJ_KEY_MAX];
        if (st == SJ_OK && x->consents) {
            sj_key_res(ck, ps[k], ":consent");
            argv[1] = ck;
            st = sj_redis_pipe_cmd(&x->pipe, 2, argv, NULL);
        }
        if (st == SJ_OK && x->goals) {
            sj_key_res(ck, ps[k], ":goals");
            argv[1] = ck;
            st = sj_redis_pipe_cmd(&x->pipe, 2, argv, NULL);
        }
        k++;
    }
    if (st == SJ_OK && next_cursor) {
        char count[16];
        snprintf(count, sizeof count, "%d", PAGE);
        const char *argv[] = {"SCAN",  next_cursor, "MATCH", MATCH,
                              "COUNT", count,       "TYPE",  "hash"};
        st = sj_redis_pipe_cmd(&x->pipe, 8, argv, NULL);
    }
    if (st == SJ_OK)
        st = sj_redis_pipe_flush(&x->pipe, errstr, errstr_size);
    else
        sj_seterr(errstr, errstr_size, "redis: out of memory pipelining reads");
    if (st != SJ_OK) {
        free(ps);
        return st;
    }
    sj_profile_full_t *prof = malloc(sizeof *prof);
    redisReply *r[3] = {NULL, NULL, NULL}, none = {.type = REDIS_REPLY_ARRAY};
    if (!prof) st = SJ_ERR_NOMEM;
    for (size_t i = 0; i < k; i++) {
        size_t got = 0;
        for (; got < per; got++) {
            void *v = NULL;
            if (redisGetReply(x->rc, &v) != REDIS_OK) break;
            r[got] = v;
        }
        if (got < per) {
            sj_seterr(errstr, errstr_size, "redis: %s", x->rc->errstr);
            for (size_t j = 0; j < got; j++) freeReplyObject(r[j]);
            st = SJ_ERR_IO;
            break;
        }
        redisReply *pr[2] = {r[0], x->consents ? r[1] : &none}; /* none: not read */
        const redisReply *goals = x->goals ? r[per - 1] : NULL;
        if (st == SJ_OK && sj_profile_from_replies(pr, 2, prof) == SJ_OK && prof->found) {
            b->residents++;
            bool match = true;
            if (x->c->audience) {
                json_t *res = x->known ? sj_profile_to_json_members(prof, x->now,
                                                                    x->names, x->n_names)
                                       : sj_profile_to_json(prof, x->now);
                if (res && goals && sj_profile_add_goals(res, goals) != SJ_OK) {
                    json_decref(res);
                    res = NULL;
                }
                json_t *data = res ? sj_rule_data_new(res, x->event, x->now) : NULL;
                sj_rule_error_t rerr;
                if (!data) {
                    st = SJ_ERR_NOMEM;
                } else if (sj_rule_match(x->c->audience, data, NULL, &match, &rerr) !=
                           SJ_OK) {
                    if (b->rule_errors++ == 0)
                        sj_log(SJ_LOG_WARN, FAC, "campaign %s: audience rule failed: %s",
                               x->c->id, rerr.message);
                    match = false;
                }
                json_decref(data);
                json_decref(res);
            }
            if (st == SJ_OK && match) {
                b->matched++;
                st = publish(x->p, x->topic, x->c->id, x->date, ps[i], errstr,
                             errstr_size);
            }
        }
        for (size_t j = 0; j < per; j++) freeReplyObject(r[j]);
    }
    rd_kafka_poll(x->p, 0);
    free(prof);
    free(ps);
    return st;
}

static const char batch_help[] =
    "usage: seintje batch --campaign ID [--date YYYY-MM-DD] [options]\n"
    "Evaluates the batch campaign ID (trigger {\"schedule\": \"batch\"}) over every\n"
    "resident profile in Redis and publishes a trigger for each resident in its\n"
    "audience to topic.segment-due; `seintje segment` turns them into intents with\n"
    "the usual nudging rules. Running the same campaign and date again sends nothing\n"
    "twice. Progress on a terminal; a summary on stdout.\n\n"
    "options:\n"
    "      --campaign ID      the campaign (from campaigns.dir)\n"
    "      --date DATE        the batch date (default: today, Europe/Brussels); it is\n"
    "                         the event time that timing and expiry count from\n"
    "      --now TIME         \"now\" for audience rules (RFC 3339; default: the wall\n"
    "                         clock, or SEINTJE_NOW)\n" SJ_CLI_COMMON_HELP;

#define OPT_CAMPAIGN 3000
#define OPT_DATE     3001
#define OPT_NOW      3002

int sj_cmd_batch(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"campaign", required_argument, NULL, OPT_CAMPAIGN},
        {"date", required_argument, NULL, OPT_DATE},
        {"now", required_argument, NULL, OPT_NOW},
        SJ_CLI_COMMON_LONGOPTS,
        {NULL, 0, NULL, 0}};
    sj_cli_t cli;
    if (sj_cli_init(&cli, "seintje batch") != SJ_OK) return SJ_EXIT_FAILURE;
    const char *campaign = NULL, *date_arg = NULL;
    int64_t now = 0;
    int opt, rc = SJ_EXIT_OK;
    optind = 1;
    while (rc == SJ_EXIT_OK && (opt = getopt_long(argc, argv, SJ_CLI_COMMON_SHORTOPTS,
                                                  longopts, NULL)) != -1) {
        switch (opt) {
        case OPT_CAMPAIGN:
            campaign = optarg;
            break;
        case OPT_DATE:
            date_arg = optarg;
            break;
        case OPT_NOW:
            if (sj_time_parse_rfc3339(optarg, strlen(optarg), &now) != SJ_OK)
                rc = sj_cli_usage_error("batch", "--now: \"%s\" is not an RFC 3339 time",
                                        optarg);
            break;
        default:
            if (sj_cli_common_opt(&cli, opt, optarg) != 1)
                rc = opt == '?' ? SJ_EXIT_USAGE
                                : sj_cli_usage_error("batch", "bad option");
        }
    }
    if (rc == SJ_EXIT_OK && cli.help) {
        fputs(batch_help, stdout);
        sj_cli_free(&cli);
        return SJ_EXIT_OK;
    }
    if (rc == SJ_EXIT_OK && optind < argc)
        rc = sj_cli_usage_error("batch", "unexpected argument \"%s\"", argv[optind]);
    if (rc == SJ_EXIT_OK && !campaign)
        rc = sj_cli_usage_error("batch", "--campaign ID is required");
    if (rc == SJ_EXIT_OK && sj_cli_finish(&cli) != SJ_OK) rc = SJ_EXIT_USAGE;
    if (rc != SJ_EXIT_OK) {
        sj_cli_free(&cli);
        return rc;
    }
    if (!now) {
        const char *env = getenv("SEINTJE_NOW");
        if (!env || sj_time_parse_rfc3339(env, strlen(env), &now) != SJ_OK)
            now = sj_now_ms();
    }
    int32_t day;
    char date[11];
    if (date_arg) {
        if (sj_date_parse(date_arg, strlen(date_arg), &day) != SJ_OK) {
            sj_cli_free(&cli);
            return sj_cli_usage_error("batch", "--date: \"%s\" is not YYYY-MM-DD",
                                      date_arg);
        }
    } else {
        day = sj_brussels_date(now);
    }
    sj_date_format(day, date);

    char err[1024];
    const sj_conf_t *conf = cli.conf;
    const char *dir = sj_conf_get(conf, "campaigns.dir");
    sj_campaigns_t *set = sj_campaigns_load_dir(dir, err, sizeof err);
    const sj_campaign_t *c = NULL;
    for (size_t i = 0; set && i < sj_campaigns_count(set); i++)
        if (!strcmp(sj_campaigns_get(set, i)->id, campaign)) c = sj_campaigns_get(set, i);
    if (!set) {
        fprintf(stderr, "seintje batch: %s\n", err);
        sj_cli_free(&cli);
        return SJ_EXIT_USAGE;
    }
    if (!c || c->trigger_kind != SJ_TRIGGER_BATCH) {
        rc = sj_cli_usage_error("batch",
                                c ? "campaign %s is not a batch campaign (its "
                                    "trigger is an event)"
                                  : "no campaign %s in %s",
                                campaign, dir);
        sj_campaigns_destroy(set);
        sj_cli_free(&cli);
        return rc;
    }

    batch_stats_t b = {0};
    const char *topic = sj_conf_get(conf, "topic.segment-due");
    int timeout = (int)sj_conf_get_int(conf, "kafka.timeout-ms");
    redisContext *redis =
        sj_redis_connect(sj_conf_get(conf, "redis.url"),
                         (int)sj_conf_get_int(conf, "redis.timeout-ms"), err, sizeof err);
    rd_kafka_t *p =
        redis ? sj_kafka_producer_new(conf, dr_cb, &b, err, sizeof err) : NULL;
    sj_status_t st = p ? sj_kafka_topic_ensure(
                             p, topic, (int)sj_conf_get_int(conf, "topic.partitions"),
                             timeout, err, sizeof err)
                       : SJ_ERR;
    char evid[160], evtime[32];
    snprintf(evid, sizeof evid, "batch-%s-%s", c->id, date);
    snprintf(evtime, sizeof evtime, "%sT00:00:00Z", date);
    json_t *event = json_pack("{s:s, s:s, s:s}", "type", "be.seintje.batch", "id", evid,
                              "time", evtime);
    int64_t t0 = sj_mono_ms();
    sj_progress_t *prog = st == SJ_OK ? sj_progress_new("batch", 0, "keys") : NULL;
    run_t x = {.rc = redis,
               .p = p,
               .topic = topic,
               .date = date,
               .c = c,
               .event = event,
               .now = now};
    if (redis) sj_redis_pipe_init(&x.pipe, redis);
    x.known = c->audience && sj_rule_members(c->audience, "resident", x.names,
                                             SJ_ARRAY_LEN(x.names), &x.n_names);
    x.consents = x.goals = !x.known;
    for (size_t i = 0; x.known && i < x.n_names; i++) {
        for (size_t j = 0; j < SJ_ARRAY_LEN(consent_members); j++)
            if (!strcmp(x.names[i], consent_members[j])) x.consents = true;
        if (!strcmp(x.names[i], "goals")) x.goals = true;
    }
    redisReply *r =
        st == SJ_OK
            ? redisCommand(redis, "SCAN 0 MATCH %s COUNT %d TYPE hash", MATCH, PAGE)
            : NULL;
    while (st == SJ_OK) {
        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
            snprintf(err, sizeof err, "redis: SCAN failed: %s",
                     r && r->type == REDIS_REPLY_ERROR ? r->str : redis->errstr);
            st = SJ_ERR_IO;
            break;
        }
        const char *next = strcmp(r->element[0]->str, "0") ? r->element[0]->str : NULL;
        st = page(&x, r->element[1], next, &b, err, sizeof err);
        freeReplyObject(r);
        r = NULL;
        sj_progress_update(prog, b.scanned);
        if (!next || st != SJ_OK) break;
        void *v = NULL;
        if (redisGetReply(redis, &v) == REDIS_OK) r = v;
    }
    if (r) freeReplyObject(r);
    if (redis) sj_redis_pipe_free(&x.pipe);
    sj_progress_finish(prog, b.scanned);
    if (p) {
        if (rd_kafka_flush(p, timeout) != RD_KAFKA_RESP_ERR_NO_ERROR && st == SJ_OK) {
            snprintf(err, sizeof err, "kafka: triggers not acknowledged within %d ms",
                     timeout);
            st = SJ_ERR_TIMEOUT;
        }
        if (b.failed && st == SJ_OK) {
            snprintf(err, sizeof err, "kafka: %llu triggers not delivered: %s",
                     (unsigned long long)b.failed, b.first_error);
            st = SJ_ERR;
        }
        rd_kafka_destroy(p);
    }
    double secs = (double)(sj_mono_ms() - t0) / 1000.0;
    printf("batch: campaign %s, date %s: %llu residents, %llu in the audience, %llu "
           "triggers published in %.2f s (%.0f residents/s)\n",
           c->id, date, (unsigned long long)b.residents, (unsigned long long)b.matched,
           (unsigned long long)b.published, secs,
           secs > 0 ? (double)b.residents / secs : 0.0);
    if (b.rule_errors)
        printf("batch: %llu residents skipped: the audience rule failed\n",
               (unsigned long long)b.rule_errors);
    if (st != SJ_OK) sj_log(SJ_LOG_ERROR, FAC, "%s", err);
    json_decref(event);
    if (redis) redisFree(redis);
    sj_campaigns_destroy(set);
    sj_cli_free(&cli);
    return st == SJ_OK ? SJ_EXIT_OK : SJ_EXIT_FAILURE;
}
