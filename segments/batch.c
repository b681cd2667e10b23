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

/* One SCAN page: read the profiles it named, evaluate, publish. */
static sj_status_t page(redisContext *rc, rd_kafka_t *p, const char *topic,
                        const sj_campaign_t *c, const char *date, json_t *event,
                        int64_t now, const redisReply *keys, batch_stats_t *b,
                        char *errstr, size_t errstr_size)
{
    size_t n = keys->elements, per = 0, k = 0;
    char(*ps)[SJ_PSEUDONYM_LEN + 1] = malloc(sizeof *ps * (n ? n : 1));
    if (!ps) return SJ_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        b->scanned++;
        if (!profile_key(keys->element[i], ps[k])) continue;
        per = 0;
        if (sj_profile_append_read_full(rc, ps[k], &per) != SJ_OK) {
            free(ps);
            sj_seterr(errstr, errstr_size, "redis: out of memory pipelining reads");
            return SJ_ERR_NOMEM;
        }
        k++;
    }
    sj_status_t st = SJ_OK;
    sj_profile_full_t *prof = malloc(sizeof *prof);
    redisReply **r = calloc(per ? per : 1, sizeof *r);
    if (!prof || !r) st = SJ_ERR_NOMEM;
    for (size_t i = 0; i < k; i++) {
        size_t got = 0;
        for (; got < per; got++) {
            void *x = NULL;
            if (redisGetReply(rc, &x) != REDIS_OK) break;
            r[got] = x;
        }
        if (got < per) {
            sj_seterr(errstr, errstr_size, "redis: %s", rc->errstr);
            for (size_t j = 0; j < got; j++) freeReplyObject(r[j]);
            st = SJ_ERR_IO;
            break;
        }
        if (st == SJ_OK && sj_profile_from_replies(r, per, prof) == SJ_OK &&
            prof->found) {
            b->residents++;
            bool match = true;
            if (c->audience) {
                json_t *res = sj_profile_to_json(prof, now);
                json_t *data = res ? sj_rule_data_new(res, event, now) : NULL;
                sj_rule_error_t rerr;
                if (!data) {
                    st = SJ_ERR_NOMEM;
                } else if (sj_rule_match(c->audience, data, NULL, &match, &rerr) !=
                           SJ_OK) {
                    if (b->rule_errors++ == 0)
                        sj_log(SJ_LOG_WARN, FAC, "campaign %s: audience rule failed: %s",
                               c->id, rerr.message);
                    match = false;
                }
                json_decref(data);
                json_decref(res);
            }
            if (st == SJ_OK && match) {
                b->matched++;
                st = publish(p, topic, c->id, date, ps[i], errstr, errstr_size);
            }
        }
        for (size_t j = 0; j < per; j++) freeReplyObject(r[j]);
    }
    rd_kafka_poll(p, 0);
    free(r);
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
    char cursor[32] = "0";
    while (st == SJ_OK) {
        redisReply *r = redisCommand(redis, "SCAN %s MATCH %s COUNT %d TYPE hash", cursor,
                                     MATCH, PAGE);
        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
            snprintf(err, sizeof err, "redis: SCAN failed: %s",
                     r && r->type == REDIS_REPLY_ERROR ? r->str : redis->errstr);
            if (r) freeReplyObject(r);
            st = SJ_ERR_IO;
            break;
        }
        snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
        st = page(redis, p, topic, c, date, event, now, r->element[1], &b, err,
                  sizeof err);
        freeReplyObject(r);
        sj_progress_update(prog, b.scanned);
        if (!strcmp(cursor, "0")) break;
    }
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
