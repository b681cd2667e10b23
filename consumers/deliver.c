/* The delivery stage: consumes notification intents, parks those not yet
 * due in a small Redis schedule, reads each due resident's profile at send
 * time, chooses the channel, renders the message and writes it to the
 * outbox, acknowledging input only once the output is durable (see
 * deliver.h). Also the `seintje deliver` command.
 *
 * Work happens in batches, from Kafka or from the schedule, through one
 * path (process()): classify (hold, expired, send), one pipelined Redis
 * round trip (profiles to read, intents to park), compose and write, one
 * fsync per outbox directory, then acknowledge. */
#include "deliver.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>

#include "cli/commands.h"
#include "consumers/compose.h"
#include "consumers/outbox.h"
#include "core/cli.h"
#include "core/kafka.h"
#include "core/log.h"
#include "core/redis.h"
#include "core/text.h"
#include "core/timeutil.h"

#define FAC     "deliver"
#define POLL_MS 100

/* ---- intents -------------------------------------------------------------- */

typedef enum { W_BAD = 0, W_HOLD, W_EXPIRED, W_SEND } what_t;

/* One intent in a batch; strings are borrowed from root. */
typedef struct {
    json_t *root;
    what_t what;
    const char *id, *resident, *language, *template_ref, *campaign, *reason, *expires_s,
        *topic;
    int64_t not_before, expires_at;
    sj_route_channel_t channels[SJ_ROUTE_CHANNELS];
    size_t n_channels;
    bool mandatory;
    const json_t *context;
    sj_contact_t contact;
} work_t;

static bool is_hex(const char *s, size_t min, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    if (n < min || n > max) return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
    return true;
}

static const char *str_of(const json_t *o, const char *key)
{
    const json_t *j = json_object_get(o, key);
    return json_is_string(j) ? json_string_value(j) : NULL;
}

static bool get_time(const json_t *o, const char *key, int64_t *ms)
{
    const char *s = str_of(o, key);
    return s && sj_time_parse_rfc3339(s, strlen(s), ms) == SJ_OK;
}

/* Parses and checks one intent; on failure problem says what, without data. */
static bool parse_intent(const char *p, size_t len, work_t *w, char *problem,
                         size_t psize)
{
    memset(w, 0, sizeof *w);
    if (len > SJ_DELIVER_INTENT_MAX) {
        snprintf(problem, psize, "larger than %d bytes", SJ_DELIVER_INTENT_MAX);
        return false;
    }
    json_error_t jerr;
    if (!(w->root = json_loadb(p ? p : "", len, JSON_REJECT_DUPLICATES, &jerr))) {
        snprintf(problem, psize, "invalid JSON at line %d column %d", jerr.line,
                 jerr.column);
        return false;
    }
    const json_t *r = w->root;
    w->id = str_of(r, "id");
    w->resident = str_of(r, "resident");
    w->language = str_of(r, "language");
    w->template_ref = str_of(r, "template");
    w->campaign = str_of(r, "campaign");
    w->reason = str_of(r, "reason");
    w->expires_s = str_of(r, "expires_at");
    w->topic = str_of(r, "topic");
    w->context = json_object_get(r, "context");
    w->mandatory = json_is_true(json_object_get(r, "mandatory"));
    const json_t *ch = json_object_get(r, "channels");
    const char *bad = !is_hex(w->id, 16, 64)                       ? "id"
                      : !is_hex(w->resident, 64, 64)               ? "resident"
                      : !w->language || !w->template_ref           ? "language/template"
                      : !w->campaign                               ? "campaign"
                      : !json_is_object(w->context)                ? "context"
                      : !get_time(r, "not_before", &w->not_before) ? "not_before"
                      : !get_time(r, "expires_at", &w->expires_at) ? "expires_at"
                      : !json_is_array(ch) || json_array_size(ch) == 0 ||
                              json_array_size(ch) > SJ_ROUTE_CHANNELS
                          ? "channels"
                          : NULL;
    for (size_t i = 0; !bad && i < json_array_size(ch); i++) {
        const char *s = json_string_value(json_array_get(ch, i));
        if (!s || sj_route_channel_parse(s, &w->channels[i]) != SJ_OK) bad = "channels";
    }
    if (bad) {
        snprintf(problem, psize, "%s is missing or invalid", bad);
        return false;
    }
    w->n_channels = json_array_size(ch);
    w->what = W_SEND;
    return true;
}

/* ---- the stage ------------------------------------------------------------ */

typedef struct {
    const sj_conf_t *conf;
    const sj_deliver_opts_t *o;
    sj_deliver_stats_t *st;
    redisContext *redis;
    rd_kafka_t *consumer;
    sj_compose_t *compose;
    sj_outbox_t *outbox;
    work_t *work;
    size_t batch;
    sj_buf_t msg;
} stage_t;

static int64_t now_of(const stage_t *s)
{
    return s->o->now_ms ? s->o->now_ms : sj_now_ms();
}

static sj_status_t redis_io_error(const stage_t *s, char *errstr, size_t errstr_size)
{
    sj_seterr(errstr, errstr_size, "redis: %s",
              s->redis->errstr[0] ? s->redis->errstr : "error");
    return SJ_ERR_IO;
}

/* Appends the commands for the batch and reads the replies: HMGET of the
 * profile for intents to send, ZADD + HSET for intents to park. */
static sj_status_t redis_round_trip(stage_t *s, size_t n, char *errstr,
                                    size_t errstr_size)
{
    size_t replies = 0;
    for (size_t i = 0; i < n; i++) {
        work_t *w = &s->work[i];
        int rc = REDIS_OK;
        if (w->what == W_SEND) {
            if (sj_profile_append_read_full(s->redis, w->resident, &replies) != SJ_OK)
                rc = REDIS_ERR;
        } else if (w->what == W_HOLD) {
            char score[32];
            snprintf(score, sizeof score, "%lld", (long long)w->not_before);
            char *json = json_dumps(w->root, JSON_COMPACT);
            if (!json) return SJ_ERR_NOMEM;
            rc = redisAppendCommand(s->redis, "HSET %s %s %s", SJ_SCHEDULE_INTENTS_KEY,
                                    w->id, json);
            if (rc == REDIS_OK)
                rc = redisAppendCommand(s->redis, "ZADD %s %s %s", SJ_SCHEDULE_DUE_KEY,
                                        score, w->id);
            free(json);
            replies += 2;
        }
        if (rc != REDIS_OK) return redis_io_error(s, errstr, errstr_size);
    }
    sj_status_t st = SJ_OK;
    for (size_t i = 0; i < n; i++) {
        work_t *w = &s->work[i];
        if (w->what == W_HOLD) {
            sj_status_t e = sj_redis_drain(s->redis, 2, errstr, errstr_size);
            if (e == SJ_ERR_IO) return e;
            if (e != SJ_OK) st = e;
            replies -= 2;
        } else if (w->what == W_SEND) {
            redisReply *r[2] = {NULL, NULL};
            for (int k = 0; k < 2; k++) {
                void *v = NULL;
                if (redisGetReply(s->redis, &v) != REDIS_OK) {
                    if (r[0]) freeReplyObject(r[0]);
                    return redis_io_error(s, errstr, errstr_size);
                }
                r[k] = v;
            }
            replies -= 2;
            sj_profile_full_t *p = malloc(sizeof *p);
            if (p && sj_profile_from_replies(r, 2, p) == SJ_OK) {
                sj_contact_from_profile(p, w->topic, &w->contact);
            } else {
                sj_seterr(errstr, errstr_size,
                          "redis: unexpected reply reading a profile");
                st = p ? SJ_ERR : SJ_ERR_NOMEM;
            }
            free(p);
            freeReplyObject(r[0]);
            freeReplyObject(r[1]);
        }
    }
    return st;
}

/* Composes and writes one intent's message. Returns SJ_OK also when the
 * intent was suppressed or could not be rendered (both counted); an error
 * only for what must stop the stage (the outbox is not writable). */
static sj_status_t send_one(stage_t *s, const work_t *w, char *errstr, size_t errstr_size)
{
    sj_route_channel_t ch;
    sj_suppress_t why;
    if (!sj_route_choose(w->channels, w->n_channels, &w->contact, w->mandatory, &ch,
                         &why)) {
        s->st->suppressed[why]++;
        return SJ_OK;
    }
    char name[96];
    snprintf(name, sizeof name, "%s.%s", w->id, ch == SJ_ROUTE_EMAIL ? "eml" : "json");
    for (int k = 0; k < SJ_ROUTE_CHANNELS; k++) {
        char other[96];
        snprintf(other, sizeof other, "%s.%s", w->id,
                 k == SJ_ROUTE_EMAIL ? "eml" : "json");
        if (k != (int)ch &&
            sj_outbox_exists(s->outbox, sj_route_channel_name(k), other)) {
            s->st->duplicates++;
            return SJ_OK;
        }
    }
    int64_t send_ms = s->o->replay_clock ? w->not_before : now_of(s);
    sj_compose_in_t in = {.id = w->id,
                          .campaign = w->campaign,
                          .template_ref = w->template_ref,
                          .language = w->language,
                          .reason = w->reason,
                          .expires_at = w->expires_s,
                          .mandatory = w->mandatory,
                          .context = w->context,
                          .send_ms = send_ms,
                          .channel = ch,
                          .contact = &w->contact};
    char err[1024];
    sj_buf_reset(&s->msg);
    sj_status_t st = sj_compose_message(s->compose, &in, &s->msg, err, sizeof err);
    if (st == SJ_ERR_NOMEM) {
        sj_seterr(errstr, errstr_size, "out of memory composing a message");
        return st;
    }
    if (st != SJ_OK) {
        s->st->failed++;
        sj_log(SJ_LOG_ERROR, FAC, "intent %s (%s, %s): not sent: %s", w->id,
               w->template_ref, w->language, err);
        return SJ_OK;
    }
    st = sj_outbox_write(s->outbox, sj_route_channel_name(ch), name, s->msg.data,
                         s->msg.len, errstr, errstr_size);
    if (st == SJ_OK) s->st->sent[ch]++;
    return st;
}

/* Classifies, reads profiles / parks, sends, syncs. from_schedule: the
 * items came from the schedule (never parked again). */
static sj_status_t process(stage_t *s, size_t n, bool from_schedule, char *errstr,
                           size_t errstr_size)
{
    int64_t now = now_of(s);
    for (size_t i = 0; i < n; i++) {
        work_t *w = &s->work[i];
        if (w->what != W_SEND) continue;
        int64_t at = s->o->replay_clock ? w->not_before : now;
        if (w->not_before > now && !from_schedule)
            w->what = W_HOLD;
        else if (w->expires_at <= at)
            w->what = W_EXPIRED;
    }
    sj_status_t st = redis_round_trip(s, n, errstr, errstr_size);
    for (size_t i = 0; i < n && st == SJ_OK; i++) {
        work_t *w = &s->work[i];
        if (w->what == W_HOLD)
            s->st->scheduled++;
        else if (w->what == W_EXPIRED)
            s->st->suppressed[SJ_SUPPRESS_EXPIRED]++;
        else if (w->what == W_SEND)
            st = send_one(s, w, errstr, errstr_size);
    }
    if (st == SJ_OK) st = sj_outbox_sync(s->outbox, errstr, errstr_size);
    return st;
}

static void free_work(stage_t *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        json_decref(s->work[i].root);
        s->work[i].root = NULL;
    }
}

static sj_status_t kafka_batch(stage_t *s, rd_kafka_message_t **msgs, size_t n,
                               char *errstr, size_t errstr_size)
{
    for (size_t i = 0; i < n; i++) {
        char problem[160];
        if (parse_intent(msgs[i]->payload, msgs[i]->len, &s->work[i], problem,
                         sizeof problem))
            continue;
        s->work[i].what = W_BAD;
        s->st->malformed++;
        sj_log(SJ_LOG_WARN, FAC, "%s [%d] offset %lld: malformed intent skipped: %s",
               rd_kafka_topic_name(msgs[i]->rkt), (int)msgs[i]->partition,
               (long long)msgs[i]->offset, problem);
    }
    sj_status_t st = process(s, n, false, errstr, errstr_size);
    free_work(s, n);
    if (st != SJ_OK) return st;
    s->st->intents += n;
    s->st->batches++;
    sj_kafka_store_offsets(s->consumer, msgs, n);
    return SJ_OK;
}

/* Takes up to batch due intents from the schedule, processes them and
 * removes them. Returns the number taken in *taken. */
static sj_status_t release_due(stage_t *s, size_t *taken, char *errstr,
                               size_t errstr_size)
{
    *taken = 0;
    redisReply *ids =
        redisCommand(s->redis, "ZRANGEBYSCORE %s -inf %lld LIMIT 0 %lld",
                     SJ_SCHEDULE_DUE_KEY, (long long)now_of(s), (long long)s->batch);
    if (!ids) return redis_io_error(s, errstr, errstr_size);
    if (ids->type != REDIS_REPLY_ARRAY || ids->elements == 0) {
        freeReplyObject(ids);
        return SJ_OK;
    }
    size_t n = ids->elements;
    const char **argv = calloc(n + 2, sizeof *argv);
    if (!argv) {
        freeReplyObject(ids);
        return SJ_ERR_NOMEM;
    }
    argv[0] = "HMGET";
    argv[1] = SJ_SCHEDULE_INTENTS_KEY;
    for (size_t i = 0; i < n; i++) argv[2 + i] = ids->element[i]->str;
    redisReply *vals = redisCommandArgv(s->redis, (int)n + 2, argv, NULL);
    sj_status_t st = vals && vals->type == REDIS_REPLY_ARRAY && vals->elements == n
                         ? SJ_OK
                         : redis_io_error(s, errstr, errstr_size);
    for (size_t i = 0; st == SJ_OK && i < n; i++) {
        const redisReply *v = vals->element[i];
        char problem[160];
        if (v->type == REDIS_REPLY_STRING &&
            parse_intent(v->str, (size_t)v->len, &s->work[i], problem, sizeof problem))
            continue;
        s->work[i].what = W_BAD;
        s->st->malformed++;
        sj_log(SJ_LOG_WARN, FAC, "scheduled intent %.64s: malformed, dropped",
               argv[2 + i]);
    }
    if (st == SJ_OK) st = process(s, n, true, errstr, errstr_size);
    free_work(s, n);
    if (st == SJ_OK) { /* outcomes are durable: forget them */
        argv[0] = "HDEL";
        redisAppendCommandArgv(s->redis, (int)n + 2, argv, NULL);
        argv[0] = "ZREM";
        argv[1] = SJ_SCHEDULE_DUE_KEY;
        redisAppendCommandArgv(s->redis, (int)n + 2, argv, NULL);
        st = sj_redis_drain(s->redis, 2, errstr, errstr_size);
        s->st->released += n;
        *taken = n;
    }
    if (vals) freeReplyObject(vals);
    freeReplyObject(ids);
    free(argv);
    return st;
}

static sj_status_t setup(stage_t *s, char *errstr, size_t errstr_size)
{
    const sj_conf_t *c = s->conf;
    const char *tdir =
        s->o->templates_dir ? s->o->templates_dir : sj_conf_get(c, "templates.dir");
    const char *odir = s->o->outbox_dir ? s->o->outbox_dir : sj_conf_get(c, "outbox.dir");
    if (!(s->compose =
              sj_compose_new(tdir, sj_conf_get(c, "email.from"),
                             sj_conf_get(c, "email.domain"), errstr, errstr_size)))
        return SJ_ERR_INPUT;
    if (!(s->outbox = sj_outbox_new(odir, errstr, errstr_size))) return SJ_ERR_IO;
    s->redis = sj_redis_connect(sj_conf_get(c, "redis.url"),
                                (int)sj_conf_get_int(c, "redis.timeout-ms"), errstr,
                                errstr_size);
    if (!s->redis) return SJ_ERR_IO;
    const char *topic = sj_conf_get(c, "topic.notifications");
    s->consumer = sj_kafka_consumer_new(c, sj_conf_get(c, "deliver.group"), topic, errstr,
                                        errstr_size);
    return s->consumer ? SJ_OK : SJ_ERR;
}

static void teardown(stage_t *s)
{
    if (s->redis && s->redis->err == 0) {
        redisReply *r = redisCommand(s->redis, "ZCARD %s", SJ_SCHEDULE_DUE_KEY);
        if (r && r->type == REDIS_REPLY_INTEGER) s->st->pending = (uint64_t)r->integer;
        if (r) freeReplyObject(r);
    }
    if (s->consumer) {
        rd_kafka_commit(s->consumer, NULL, 0);
        rd_kafka_consumer_close(s->consumer);
        rd_kafka_destroy(s->consumer);
    }
    if (s->redis) redisFree(s->redis);
    sj_compose_destroy(s->compose);
    sj_outbox_destroy(s->outbox);
    free(s->work);
    sj_buf_free(&s->msg);
}

sj_status_t sj_deliver_run(const sj_conf_t *conf, const sj_deliver_opts_t *o,
                           sj_deliver_stats_t *stats, char *errstr, size_t errstr_size)
{
    memset(stats, 0, sizeof *stats);
    int64_t t0 = sj_mono_ms();
    stage_t s = {.conf = conf, .o = o, .st = stats};
    s.batch = o->batch_max ? o->batch_max : SJ_DELIVER_BATCH_DEFAULT;
    if (s.batch > SJ_DELIVER_BATCH_MAX) s.batch = SJ_DELIVER_BATCH_MAX;
    sj_buf_init(&s.msg, SJ_COMPOSE_MAX_OUTPUT * 2);
    rd_kafka_message_t **msgs = calloc(s.batch, sizeof *msgs);
    s.work = calloc(s.batch, sizeof *s.work);
    sj_status_t st = msgs && s.work ? setup(&s, errstr, errstr_size) : SJ_ERR_NOMEM;
    if (st == SJ_ERR_NOMEM) sj_seterr(errstr, errstr_size, "out of memory");
    sj_kafka_idle_t idle;
    sj_kafka_idle_init(&idle);
    while (st == SJ_OK && !(o->stop && *o->stop)) {
        size_t n = sj_kafka_poll_batch(s.consumer, msgs, s.batch, POLL_MS, &idle),
               due = 0;
        if (n) {
            st = kafka_batch(&s, msgs, n, errstr, errstr_size);
            for (size_t i = 0; i < n; i++) rd_kafka_message_destroy(msgs[i]);
        }
        if (st == SJ_OK) st = release_due(&s, &due, errstr, errstr_size);
        if (st == SJ_OK && !n && !due && o->until_idle_ms >= 0 &&
            sj_kafka_idle_reached(&idle, s.consumer, o->until_idle_ms))
            break;
    }
    teardown(&s);
    free(msgs);
    sj_kafka_idle_free(&idle);
    stats->seconds = (double)(sj_mono_ms() - t0) / 1000.0;
    return st;
}

void sj_deliver_print_summary(FILE *out, const char *prefix, const sj_deliver_stats_t *s)
{
    fprintf(out, "%sintents:         %llu (%llu malformed, skipped)\n", prefix,
            (unsigned long long)s->intents, (unsigned long long)s->malformed);
    fprintf(out, "%smessages:        email %llu, sms %llu, app %llu\n", prefix,
            (unsigned long long)s->sent[SJ_ROUTE_EMAIL],
            (unsigned long long)s->sent[SJ_ROUTE_SMS],
            (unsigned long long)s->sent[SJ_ROUTE_APP]);
    fprintf(out, "%ssuppressed:     ", prefix);
    for (int k = 0; k < SJ_SUPPRESS_REASONS; k++)
        fprintf(out, " %s %llu%s", sj_suppress_name((sj_suppress_t)k),
                (unsigned long long)s->suppressed[k],
                k + 1 < SJ_SUPPRESS_REASONS ? "," : "\n");
    fprintf(out, "%sfailed:          %llu (not renderable, see log), %llu duplicates\n",
            prefix, (unsigned long long)s->failed, (unsigned long long)s->duplicates);
    fprintf(
        out,
        "%sscheduled:       %llu parked, %llu released when due, %llu still pending\n",
        prefix, (unsigned long long)s->scheduled, (unsigned long long)s->released,
        (unsigned long long)s->pending);
    fprintf(out, "%selapsed:         %.2f s\n", prefix, s->seconds);
}

/* ---- command -------------------------------------------------------------- */

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

#define OPT_UNTIL_IDLE 2000
#define OPT_REPLAY     2001
#define OPT_NOW        2002
#define OPT_BATCH      2003
#define OPT_OUTBOX     2004

static const char deliver_help[] =
    "usage: seintje deliver [options]\n"
    "Consumes notification intents (topic.notifications), reads each resident's profile\n"
    "from Redis at send time, chooses the channel, renders the templates in\n"
    "templates.dir and writes one file per message under outbox.dir\n"
    "(email/<id>.eml, sms/<id>.json, app/<id>.json). Intents not yet due wait in a\n"
    "Redis schedule. Runs until SIGINT/SIGTERM, or until idle with -e.\n\n"
    "options:\n"
    "  -e                     stop once every partition is consumed (idle 2000 ms)\n"
    "      --until-idle MS    same, with MS ms of silence before stopping\n"
    "      --replay-clock     send each due intent as if at its not_before time\n"
    "      --now TIME         fixed \"now\" (RFC 3339; also SEINTJE_NOW)\n"
    "      --outbox DIR       same as -X outbox.dir=DIR\n"
    "      --batch N          intents per poll batch (default 500, at most "
    "10000)\n" SJ_CLI_COMMON_HELP;

static int parse_args(int argc, char **argv, sj_cli_t *cli, sj_deliver_opts_t *o)
{
    static const struct option longopts[] = {
        {"until-idle", required_argument, NULL, OPT_UNTIL_IDLE},
        {"replay-clock", no_argument, NULL, OPT_REPLAY},
        {"now", required_argument, NULL, OPT_NOW},
        {"batch", required_argument, NULL, OPT_BATCH},
        {"outbox", required_argument, NULL, OPT_OUTBOX},
        SJ_CLI_COMMON_LONGOPTS,
        {NULL, 0, NULL, 0}};
    int opt;
    int64_t v;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "e" SJ_CLI_COMMON_SHORTOPTS, longopts, NULL)) !=
           -1) {
        switch (opt) {
        case 'e':
            o->until_idle_ms = 2000;
            break;
        case OPT_UNTIL_IDLE:
            if (sj_parse_i64(optarg, &v) != SJ_OK || v < 0 || v > 3600000)
                return sj_cli_usage_error(
                    "deliver", "--until-idle: \"%s\" is not 0..3600000 ms", optarg);
            o->until_idle_ms = (int)v;
            break;
        case OPT_REPLAY:
            o->replay_clock = true;
            break;
        case OPT_NOW:
            if (sj_time_parse_rfc3339(optarg, strlen(optarg), &o->now_ms) != SJ_OK)
                return sj_cli_usage_error(
                    "deliver", "--now: \"%s\" is not an RFC 3339 time", optarg);
            break;
        case OPT_BATCH:
            if (sj_parse_i64(optarg, &v) != SJ_OK || v < 1 || v > SJ_DELIVER_BATCH_MAX)
                return sj_cli_usage_error("deliver", "--batch: \"%s\" is not 1..%d",
                                          optarg, SJ_DELIVER_BATCH_MAX);
            o->batch_max = (size_t)v;
            break;
        case OPT_OUTBOX:
            o->outbox_dir = optarg;
            break;
        default:
            if (sj_cli_common_opt(cli, opt, optarg) != 1) return SJ_EXIT_USAGE;
        }
    }
    if (optind < argc)
        return sj_cli_usage_error("deliver", "unexpected argument \"%s\"", argv[optind]);
    return SJ_EXIT_OK;
}

int sj_cmd_deliver(int argc, char **argv)
{
    sj_cli_t cli;
    if (sj_cli_init(&cli, "seintje deliver") != SJ_OK) return SJ_EXIT_FAILURE;
    sj_deliver_opts_t o = {.until_idle_ms = -1};
    int rc = parse_args(argc, argv, &cli, &o);
    if (rc == SJ_EXIT_OK && cli.help) {
        fputs(deliver_help, stdout);
        sj_cli_free(&cli);
        return SJ_EXIT_OK;
    }
    if (rc == SJ_EXIT_OK && sj_cli_finish(&cli) != SJ_OK) rc = SJ_EXIT_USAGE;
    if (rc != SJ_EXIT_OK) {
        sj_cli_free(&cli);
        return rc;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    o.stop = &stop_flag;
    sj_deliver_stats_t stats;
    char err[1024];
    sj_status_t st = sj_deliver_run(cli.conf, &o, &stats, err, sizeof err);
    sj_deliver_print_summary(stdout, "deliver: ", &stats);
    if (st != SJ_OK) {
        sj_log(SJ_LOG_ERROR, FAC, "%s", err);
        rc = st == SJ_ERR_INPUT ? SJ_EXIT_USAGE : SJ_EXIT_FAILURE;
    }
    sj_cli_free(&cli);
    return rc;
}
