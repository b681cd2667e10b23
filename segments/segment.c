/* The segment stage: consumes life events, keeps resident profiles in Redis,
 * matches campaigns and produces notification intents, at-least-once (see
 * segment.h for the contract). Also the `seintje segment` and `seintje
 * campaign validate` commands.
 *
 * The loop works in poll batches: collect up to batch_max events, pipeline
 * every profile update and read-back to Redis in one round trip, produce the
 * intents, wait for their delivery reports, and only then store the events'
 * offsets. A batch is the unit of progress, so a failure anywhere leaves the
 * batch unacknowledged and it is replayed, never half-lost. */
#include "segment.h"

#include <getopt.h>
#include <string.h>
#include <stdlib.h>

#include <hiredis/hiredis.h>
#include <librdkafka/rdkafka.h>

#include "cli/commands.h"
#include "core/cli.h"
#include "core/kafka.h"
#include "core/log.h"
#include "core/redis.h"
#include "core/text.h"
#include "core/timeutil.h"
#include "segments/campaign.h"
#include "segments/profile.h"

#define FAC                "segment"
#define POLL_MS            100
#define QUEUE_FULL_RETRIES 600 /* x 100 ms: a full local queue for a minute is fatal */

/* ---- Kafka helpers -------------------------------------------------------- */

typedef struct {
    uint64_t acked, failed;
    char first_error[256];
} dr_state_t;

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    dr_state_t *d = opaque;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        d->acked++;
        return;
    }
    if (d->failed++ == 0)
        snprintf(d->first_error, sizeof d->first_error, "%s", rd_kafka_err2str(m->err));
}

static sj_status_t produce(rd_kafka_t *p, const char *topic, const char *key,
                           const char *val, size_t len, char *errstr, size_t errstr_size)
{
    for (int tries = 0;; tries++) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, strlen(key)),
            RD_KAFKA_V_VALUE((void *)val, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_END);
        if (!e) return SJ_OK;
        if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL && tries < QUEUE_FULL_RETRIES) {
            rd_kafka_poll(p, 100);
            continue;
        }
        sj_seterr(errstr, errstr_size, "kafka: producing to %s: %s", topic,
                  rd_kafka_err2str(e));
        return SJ_ERR;
    }
}

/* ---- the stage ------------------------------------------------------------ */

typedef struct {
    json_t *root;
    sj_event_view_t ev;
    bool ok;
    size_t update_replies;
    bool wants_profile;
    sj_profile_t profile;
} item_t;

typedef struct {
    const sj_conf_t *conf;
    const sj_segment_opts_t *o;
    sj_segment_stats_t *st;
    sj_campaigns_t *campaigns;
    redisContext *redis;
    rd_kafka_t *consumer, *producer;
    dr_state_t dr;
    const char *out_topic;
    int timeout_ms;
    item_t *items;
    sj_buf_t intent;
} stage_t;

static bool any_campaign(const stage_t *s, const char *type)
{
    for (size_t i = 0; i < sj_campaigns_count(s->campaigns); i++)
        if (!strcmp(sj_campaigns_get(s->campaigns, i)->trigger_event, type)) return true;
    return false;
}

/* Parses one message into it; malformed ones are logged by position only. */
static void parse_item(stage_t *s, const rd_kafka_message_t *m, item_t *it)
{
    memset(it, 0, sizeof *it);
    char problem[160] = "";
    if (m->len > SJ_SEGMENT_EVENT_MAX) {
        snprintf(problem, sizeof problem, "larger than %d bytes", SJ_SEGMENT_EVENT_MAX);
    } else {
        json_error_t jerr;
        it->root = json_loadb(m->payload ? m->payload : "", m->len,
                              JSON_REJECT_DUPLICATES, &jerr);
        if (!it->root)
            snprintf(problem, sizeof problem, "invalid JSON at line %d column %d",
                     jerr.line, jerr.column);
        else if (sj_event_view(it->root, &it->ev, problem, sizeof problem) == SJ_OK) {
            bool key_ok = !m->key || (m->key_len == SJ_PSEUDONYM_LEN &&
                                      !memcmp(m->key, it->ev.subject, SJ_PSEUDONYM_LEN));
            if (key_ok)
                it->ok = true;
            else
                snprintf(problem, sizeof problem, "message key differs from subject");
        }
    }
    if (it->ok) return;
    s->st->malformed++;
    sj_log(SJ_LOG_WARN, FAC, "%s [%d] offset %lld: malformed event skipped: %s",
           rd_kafka_topic_name(m->rkt), (int)m->partition, (long long)m->offset, problem);
}

/* One round trip: every profile update of the batch, then the read-backs. */
static sj_status_t redis_round_trip(stage_t *s, size_t n, char *errstr,
                                    size_t errstr_size)
{
    size_t expected = 0;
    int64_t wall = sj_now_ms();
    for (size_t i = 0; i < n; i++) {
        item_t *it = &s->items[i];
        if (!it->ok) continue;
        if (sj_profile_append_update(s->redis, &it->ev, wall, &it->update_replies) !=
            SJ_OK)
            goto nomem;
        it->wants_profile = any_campaign(s, it->ev.type);
        if (it->wants_profile &&
            sj_profile_append_read(s->redis, it->ev.subject) != SJ_OK)
            goto nomem;
        expected += it->update_replies + it->wants_profile;
    }
    sj_status_t st = SJ_OK;
    for (size_t i = 0; i < n && st == SJ_OK; i++) {
        item_t *it = &s->items[i];
        if (!it->ok) continue;
        st = sj_redis_drain(s->redis, it->update_replies, errstr, errstr_size);
        expected -= it->update_replies;
        if (st == SJ_OK) s->st->profile_updates++;
        if (st != SJ_OK || !it->wants_profile) continue;
        void *reply = NULL;
        expected--;
        if (redisGetReply(s->redis, &reply) != REDIS_OK) {
            sj_seterr(errstr, errstr_size, "redis: %s", s->redis->errstr);
            return SJ_ERR_IO;
        }
        if (sj_profile_from_reply(reply, &it->profile) != SJ_OK) {
            sj_seterr(errstr, errstr_size, "redis: unexpected reply to HMGET");
            st = SJ_ERR;
        }
        freeReplyObject(reply);
    }
    /* Keep the connection in step even after an error reply. */
    if (st == SJ_ERR && expected) sj_redis_drain(s->redis, expected, NULL, 0);
    return st;
nomem:
    sj_seterr(errstr, errstr_size, "redis: out of memory pipelining a batch");
    return SJ_ERR_NOMEM;
}

static sj_status_t make_intents(stage_t *s, const item_t *it, uint64_t *produced,
                                char *errstr, size_t errstr_size)
{
    int64_t now = s->o->now_ms ? s->o->now_ms : sj_now_ms();
    if (s->o->replay_clock && it->ev.time) now = it->ev.time_ms;
    sj_resident_view_t rv;
    sj_profile_view(&it->profile, &rv);
    for (size_t k = 0; k < sj_campaigns_count(s->campaigns); k++) {
        const sj_campaign_t *c = sj_campaigns_get(s->campaigns, k);
        if (strcmp(c->trigger_event, it->ev.type) != 0) continue;
        s->st->matched++;
        sj_intent_outcome_t outcome;
        sj_buf_reset(&s->intent);
        sj_status_t st =
            sj_intent_build(c, &it->ev, &rv, now, &s->intent, &outcome, NULL);
        if (st != SJ_OK) {
            sj_seterr(errstr, errstr_size,
                      "building an intent for campaign %s failed (%s)", c->id,
                      st == SJ_ERR_TOO_BIG ? "too big" : "out of memory");
            return st;
        }
        if (outcome != SJ_INTENT_MADE) {
            s->st->skipped[outcome]++;
            continue;
        }
        st = produce(s->producer, s->out_topic, it->ev.subject, sj_buf_cstr(&s->intent),
                     s->intent.len, errstr, errstr_size);
        if (st != SJ_OK) return st;
        (*produced)++;
    }
    return SJ_OK;
}

static sj_status_t process_batch(stage_t *s, rd_kafka_message_t **msgs, size_t n,
                                 char *errstr, size_t errstr_size)
{
    for (size_t i = 0; i < n; i++) parse_item(s, msgs[i], &s->items[i]);
    sj_status_t st = redis_round_trip(s, n, errstr, errstr_size);
    uint64_t produced = 0, failed_before = s->dr.failed, acked_before = s->dr.acked;
    for (size_t i = 0; i < n && st == SJ_OK; i++)
        if (s->items[i].ok && s->items[i].wants_profile)
            st = make_intents(s, &s->items[i], &produced, errstr, errstr_size);
    if (st == SJ_OK && produced) {
        rd_kafka_resp_err_t e = rd_kafka_flush(s->producer, s->timeout_ms);
        if (e) {
            sj_seterr(errstr, errstr_size,
                      "kafka: intents not acknowledged within %d ms: %s", s->timeout_ms,
                      rd_kafka_err2str(e));
            st = SJ_ERR_TIMEOUT;
        } else if (s->dr.failed != failed_before) {
            sj_seterr(errstr, errstr_size, "kafka: %llu intents were not delivered: %s",
                      (unsigned long long)(s->dr.failed - failed_before),
                      s->dr.first_error);
            st = SJ_ERR;
        }
    }
    for (size_t i = 0; i < n; i++) json_decref(s->items[i].root);
    if (st != SJ_OK) return st;
    s->st->intents += s->dr.acked - acked_before;
    s->st->events += n;
    s->st->batches++;
    sj_kafka_store_offsets(s->consumer, msgs, n);
    return SJ_OK;
}

static sj_status_t setup(stage_t *s, char *errstr, size_t errstr_size)
{
    const sj_conf_t *c = s->conf;
    const char *dir =
        s->o->campaigns_dir ? s->o->campaigns_dir : sj_conf_get(c, "campaigns.dir");
    if (!(s->campaigns = sj_campaigns_load_dir(dir, errstr, errstr_size)))
        return SJ_ERR_INPUT;
    s->st->campaigns = sj_campaigns_count(s->campaigns);
    if (s->st->campaigns == 0)
        sj_log(SJ_LOG_WARN, FAC,
               "no campaigns in %s: profiles are updated, no intents made", dir);
    s->redis = sj_redis_connect(sj_conf_get(c, "redis.url"),
                                (int)sj_conf_get_int(c, "redis.timeout-ms"), errstr,
                                errstr_size);
    if (!s->redis) return SJ_ERR_IO;
    s->out_topic = sj_conf_get(c, "topic.notifications");
    s->timeout_ms = (int)sj_conf_get_int(c, "kafka.timeout-ms");
    if (!(s->producer = sj_kafka_producer_new(c, dr_cb, &s->dr, errstr, errstr_size)))
        return SJ_ERR;
    int parts = (int)sj_conf_get_int(c, "topic.partitions");
    sj_status_t st = sj_kafka_topic_ensure(s->producer, s->out_topic, parts,
                                           s->timeout_ms, errstr, errstr_size);
    if (st != SJ_OK) return st;
    char err[512];
    const char *in_topic = sj_conf_get(c, "topic.life-events");
    if (sj_kafka_topic_ensure(s->producer, in_topic, parts, s->timeout_ms, err,
                              sizeof err))
        sj_log(SJ_LOG_WARN, FAC, "%s", err);
    s->consumer = sj_kafka_consumer_new(c, sj_conf_get(c, "segment.group"), in_topic,
                                        errstr, errstr_size);
    return s->consumer ? SJ_OK : SJ_ERR;
}

static void teardown(stage_t *s)
{
    if (s->consumer) {
        rd_kafka_commit(s->consumer, NULL, 0); /* what was stored; errors: replay later */
        rd_kafka_consumer_close(s->consumer);
        rd_kafka_destroy(s->consumer);
    }
    if (s->producer) {
        rd_kafka_flush(s->producer, s->timeout_ms);
        rd_kafka_destroy(s->producer);
    }
    if (s->redis) redisFree(s->redis);
    sj_campaigns_destroy(s->campaigns);
    free(s->items);
    sj_buf_free(&s->intent);
}

sj_status_t sj_segment_run(const sj_conf_t *conf, const sj_segment_opts_t *o,
                           sj_segment_stats_t *stats, char *errstr, size_t errstr_size)
{
    memset(stats, 0, sizeof *stats);
    int64_t t0 = sj_mono_ms();
    size_t batch = o->batch_max ? o->batch_max : SJ_SEGMENT_BATCH_DEFAULT;
    if (batch > SJ_SEGMENT_BATCH_MAX) batch = SJ_SEGMENT_BATCH_MAX;
    stage_t s = {.conf = conf, .o = o, .st = stats};
    sj_buf_init(&s.intent, SJ_INTENT_MAX + 1);
    rd_kafka_message_t **msgs = calloc(batch, sizeof *msgs);
    s.items = calloc(batch, sizeof *s.items);
    sj_status_t st = msgs && s.items ? setup(&s, errstr, errstr_size) : SJ_ERR_NOMEM;
    if (st == SJ_ERR_NOMEM && !msgs) sj_seterr(errstr, errstr_size, "out of memory");
    sj_kafka_idle_t idle;
    sj_kafka_idle_init(&idle);
    while (st == SJ_OK && !(o->stop && *o->stop)) {
        size_t n = sj_kafka_poll_batch(s.consumer, msgs, batch, POLL_MS, &idle);
        if (n) {
            st = process_batch(&s, msgs, n, errstr, errstr_size);
            for (size_t i = 0; i < n; i++) rd_kafka_message_destroy(msgs[i]);
        } else if (o->until_idle_ms >= 0 &&
                   sj_kafka_idle_reached(&idle, s.consumer, o->until_idle_ms)) {
            break;
        }
        char fatal[256];
        if (st == SJ_OK && rd_kafka_fatal_error(s.producer, fatal, sizeof fatal)) {
            sj_seterr(errstr, errstr_size, "kafka producer: fatal error: %s", fatal);
            st = SJ_ERR;
        }
    }
    teardown(&s);
    free(msgs);
    sj_kafka_idle_free(&idle);
    stats->seconds = (double)(sj_mono_ms() - t0) / 1000.0;
    return st;
}

void sj_segment_print_summary(FILE *out, const char *prefix, const sj_segment_stats_t *s)
{
    fprintf(out, "%sevents:          %llu (%llu malformed, skipped)\n", prefix,
            (unsigned long long)s->events, (unsigned long long)s->malformed);
    fprintf(out, "%sprofile updates: %llu\n", prefix,
            (unsigned long long)s->profile_updates);
    fprintf(out, "%sintents:         %llu (from %llu campaign matches, %zu campaigns)\n",
            prefix, (unsigned long long)s->intents, (unsigned long long)s->matched,
            s->campaigns);
    fprintf(out, "%sskipped:        ", prefix);
    for (int k = 1; k < SJ_INTENT_OUTCOMES; k++)
        fprintf(out, " %s %llu%s", sj_intent_outcome_name((sj_intent_outcome_t)k),
                (unsigned long long)s->skipped[k],
                k + 1 < SJ_INTENT_OUTCOMES ? "," : "\n");
    fprintf(out, "%selapsed:         %.2f s\n", prefix, s->seconds);
}

/* ---- commands ------------------------------------------------------------- */

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

#define OPT_UNTIL_IDLE 2000
#define OPT_REPLAY     2001
#define OPT_NOW        2002
#define OPT_BATCH      2003

static const char segment_help[] =
    "usage: seintje segment [options]\n"
    "Consumes life events (topic.life-events), updates resident profiles in Redis,\n"
    "matches the campaigns in campaigns.dir and produces notification intents\n"
    "(topic.notifications). Runs until SIGINT/SIGTERM, or until idle with -e.\n\n"
    "options:\n"
    "  -e                     stop once every partition is consumed (idle 2000 ms)\n"
    "      --until-idle MS    same, with MS ms of silence before stopping\n"
    "      --replay-clock     use each event's time as \"now\" (replaying history)\n"
    "      --now TIME         fixed \"now\" (RFC 3339; also SEINTJE_NOW)\n"
    "      --batch N          events per poll batch (default 500, at most "
    "10000)\n" SJ_CLI_COMMON_HELP;

int sj_cmd_segment(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"until-idle", required_argument, NULL, OPT_UNTIL_IDLE},
        {"replay-clock", no_argument, NULL, OPT_REPLAY},
        {"now", required_argument, NULL, OPT_NOW},
        {"batch", required_argument, NULL, OPT_BATCH},
        SJ_CLI_COMMON_LONGOPTS,
        {NULL, 0, NULL, 0}};
    sj_cli_t cli;
    if (sj_cli_init(&cli, "seintje segment") != SJ_OK) return SJ_EXIT_FAILURE;
    sj_segment_opts_t o = {.until_idle_ms = -1};
    int opt, rc = SJ_EXIT_OK;
    int64_t v;
    optind = 1;
    while (rc == SJ_EXIT_OK && (opt = getopt_long(argc, argv, "e" SJ_CLI_COMMON_SHORTOPTS,
                                                  longopts, NULL)) != -1) {
        switch (opt) {
        case 'e':
            o.until_idle_ms = 2000;
            break;
        case OPT_UNTIL_IDLE:
            if (sj_parse_i64(optarg, &v) != SJ_OK || v < 0 || v > 3600000)
                rc = sj_cli_usage_error(
                    "segment", "--until-idle: \"%s\" is not 0..3600000 ms", optarg);
            else
                o.until_idle_ms = (int)v;
            break;
        case OPT_REPLAY:
            o.replay_clock = true;
            break;
        case OPT_NOW:
            if (sj_time_parse_rfc3339(optarg, strlen(optarg), &o.now_ms) != SJ_OK)
                rc = sj_cli_usage_error("segment",
                                        "--now: \"%s\" is not an RFC 3339 time", optarg);
            break;
        case OPT_BATCH:
            if (sj_parse_i64(optarg, &v) != SJ_OK || v < 1 || v > SJ_SEGMENT_BATCH_MAX)
                rc = sj_cli_usage_error("segment", "--batch: \"%s\" is not 1..%d", optarg,
                                        SJ_SEGMENT_BATCH_MAX);
            else
                o.batch_max = (size_t)v;
            break;
        default:
            if (sj_cli_common_opt(&cli, opt, optarg) != 1)
                rc = opt == '?' ? SJ_EXIT_USAGE
                                : sj_cli_usage_error("segment", "bad option");
        }
    }
    if (rc == SJ_EXIT_OK && cli.help)
        fputs(segment_help, stdout);
    else if (rc == SJ_EXIT_OK && optind < argc)
        rc = sj_cli_usage_error("segment", "unexpected argument \"%s\"", argv[optind]);
    else if (rc == SJ_EXIT_OK && sj_cli_finish(&cli) != SJ_OK)
        rc = SJ_EXIT_USAGE;
    if (rc != SJ_EXIT_OK || cli.help) {
        sj_cli_free(&cli);
        return rc;
    }
    install_signals();
    o.stop = &stop_flag;
    sj_segment_stats_t stats;
    char err[1024];
    sj_status_t st = sj_segment_run(cli.conf, &o, &stats, err, sizeof err);
    sj_segment_print_summary(stdout, "segment: ", &stats);
    if (st != SJ_OK) {
        sj_log(SJ_LOG_ERROR, FAC, "%s", err);
        rc = st == SJ_ERR_INPUT ? SJ_EXIT_USAGE : SJ_EXIT_FAILURE;
    }
    sj_cli_free(&cli);
    return rc;
}

static const char campaign_help[] =
    "usage: seintje campaign validate [FILE...]\n"
    "Checks campaign files (format v2, see segments/campaign.h) and names the file,\n"
    "JSON path and problem of each error, then checks that templates.dir holds the\n"
    "templates of every variant that is sent (not the holdout, not one of weight 0),\n"
    "language and channel. Prints one line per valid campaign: trigger, timing,\n"
    "reminders, goal, send window, variants with weights and holdout, channels.\n"
    "Without FILE, checks every *.json in campaigns.dir.\n\n"
    "options:\n" SJ_CLI_COMMON_HELP;

/* Checks the templates of a loaded campaign and prints its line (name: ok:
 * description); 1 when a template is missing. */
static int validate_loaded(const sj_conf_t *conf, const sj_campaign_t *c,
                           const char *name)
{
    char err[1024], line[SJ_CAMPAIGN_DESCRIBE_MAX];
    if (sj_campaign_check_templates(c, sj_conf_get(conf, "templates.dir"), err,
                                    sizeof err) != SJ_OK) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    sj_send_window_t w;
    if (sj_nudge_window_parse(sj_conf_get(conf, "nudge.send-window"), &w, err,
                              sizeof err) != SJ_OK)
        w.set = false;
    printf("%s: ok: %s\n", name, sj_campaign_describe(c, &w, line, sizeof line));
    return 0;
}

static int validate_one(const sj_conf_t *conf, const char *path)
{
    sj_campaign_t c;
    char err[1024];
    if (sj_campaign_load_file(path, &c, err, sizeof err) != SJ_OK) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    int bad = validate_loaded(conf, &c, path);
    sj_campaign_release(&c);
    return bad;
}

/* Every campaign of campaigns.dir; returns the exit code. */
static int validate_dir(const sj_conf_t *conf)
{
    char err[1024];
    const char *dir = sj_conf_get(conf, "campaigns.dir");
    sj_campaigns_t *set = sj_campaigns_load_dir(dir, err, sizeof err);
    if (!set) {
        fprintf(stderr, "%s\n", err);
        return SJ_EXIT_USAGE;
    }
    int bad = 0;
    for (size_t i = 0; i < sj_campaigns_count(set); i++) {
        const sj_campaign_t *c = sj_campaigns_get(set, i);
        bad += validate_loaded(conf, c, c->source);
    }
    if (!bad) printf("%s: %zu campaigns ok\n", dir, sj_campaigns_count(set));
    sj_campaigns_destroy(set);
    return bad ? SJ_EXIT_USAGE : SJ_EXIT_OK;
}

int sj_cmd_campaign(int argc, char **argv)
{
    static const struct option longopts[] = {SJ_CLI_COMMON_LONGOPTS, {NULL, 0, NULL, 0}};
    sj_cli_t cli;
    if (sj_cli_init(&cli, "seintje campaign") != SJ_OK) return SJ_EXIT_FAILURE;
    int opt, rc = SJ_EXIT_OK;
    optind = 1;
    while (rc == SJ_EXIT_OK &&
           (opt = getopt_long(argc, argv, SJ_CLI_COMMON_SHORTOPTS, longopts, NULL)) != -1)
        if (sj_cli_common_opt(&cli, opt, optarg) != 1) rc = SJ_EXIT_USAGE;
    if (rc == SJ_EXIT_OK && cli.help) {
        fputs(campaign_help, stdout);
    } else if (rc == SJ_EXIT_OK &&
               (optind >= argc || strcmp(argv[optind], "validate") != 0)) {
        rc = sj_cli_usage_error("campaign", "expected \"validate\"");
    } else if (rc == SJ_EXIT_OK && sj_cli_finish(&cli) != SJ_OK) {
        rc = SJ_EXIT_USAGE;
    } else if (rc == SJ_EXIT_OK && optind + 1 < argc) {
        int bad = 0;
        for (int i = optind + 1; i < argc; i++) bad += validate_one(cli.conf, argv[i]);
        rc = bad ? SJ_EXIT_USAGE : SJ_EXIT_OK;
    } else if (rc == SJ_EXIT_OK) {
        rc = validate_dir(cli.conf);
    }
    sj_cli_free(&cli);
    return rc;
}
