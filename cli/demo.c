/* `seintje demo`: the whole pipeline in one process on embedded defaults,
 * so a newcomer sees it work with one command and no services to install.
 *
 * It starts an in-process Kafka (librdkafka's mock cluster, owned by a
 * dedicated rd_kafka_t) and a private redis-server (forked, on a Unix socket
 * in a temporary directory, no persistence), generates a synthetic
 * population and publishes its life events (producers/produce.h), runs the
 * segment stage with the example campaigns and the delivery stage into an
 * outbox directory, prints what happened, and stops everything again, also
 * on errors and on Ctrl-C.
 *
 * Clock: the synthetic events cover one year. The demo replays that year as
 * if it had run live: the segment stage takes each event's own time as "now"
 * (so "60 days before expiry" and "the day after moving in" are computed as
 * they would have been), and the delivery stage sends every intent that is
 * due by the end of the simulated period as if at its not_before moment.
 * Intents due later (an ID card expiring next February) stay in the Redis
 * schedule and are reported as pending. The end of the period is --date, or
 * SEINTJE_NOW, or the last second of the synthetic year.
 *
 * Data files: campaigns.dir and templates.dir default to paths relative to
 * the source tree; when they do not exist relative to the working directory
 * the demo looks for them next to the executable's parent directories, so
 * `build/cli/seintje demo` works from anywhere inside a checkout. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#include <hiredis/hiredis.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "cli/commands.h"
#include "consumers/deliver.h"
#include "core/cli.h"
#include "core/log.h"
#include "core/text.h"
#include "core/timeutil.h"
#include "producers/produce.h"
#include "segments/segment.h"

#define FAC "demo"
/* The mock cluster keeps at most 5 MB per partition and silently drops older
 * messages beyond that; a resident's year of events is about 1 KB, so the
 * demo uses one partition per DEMO_RESIDENTS_PER_PARTITION residents (2.5 MB
 * each, half the limit), and checks that segment saw every event. */
#define DEMO_MIN_PARTITIONS          4
#define DEMO_RESIDENTS_PER_PARTITION 2500
#define DEMO_IDLE_MS                 300
#define REDIS_START_MS               10000
#define REDIS_STOP_MS                5000
#define DEFAULT_RESIDENTS            5000
#define MAX_RESIDENTS                200000

static volatile sig_atomic_t demo_stop;

static void on_signal(int sig)
{
    (void)sig;
    demo_stop = 1;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* ---- private redis-server ------------------------------------------------- */

typedef struct {
    pid_t pid;
    char dir[64];
    char sock[128];
    char log[128];
} redis_proc_t;

/* Starts redis-server on a Unix socket in r->dir and waits until it answers
 * PING. The server binary is redis-server on PATH, or SEINTJE_REDIS_SERVER. */
static sj_status_t redis_start(redis_proc_t *r, char *errstr, size_t errstr_size)
{
    snprintf(r->sock, sizeof r->sock, "%s/redis.sock", r->dir);
    snprintf(r->log, sizeof r->log, "%s/redis.log", r->dir);
    const char *bin = getenv("SEINTJE_REDIS_SERVER");
    if (!bin || !*bin) bin = "redis-server";
    r->pid = fork();
    if (r->pid < 0) {
        sj_seterr(errstr, errstr_size, "fork: %s", strerror(errno));
        return SJ_ERR;
    }
    if (r->pid == 0) {
        int fd = open(r->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
            close(fd);
        }
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0) dup2(devnull, STDIN_FILENO);
        execlp(bin, bin, "--port", "0", "--unixsocket", r->sock, "--unixsocketperm",
               "700", "--save", "", "--appendonly", "no", "--dir", r->dir, (char *)NULL);
        _exit(127);
    }
    for (int64_t t0 = sj_mono_ms(); sj_mono_ms() - t0 < REDIS_START_MS;) {
        int status;
        if (waitpid(r->pid, &status, WNOHANG) == r->pid) {
            r->pid = 0;
            sj_seterr(errstr, errstr_size,
                      "%s did not start (exit status %d); is it installed? see %s", bin,
                      WIFEXITED(status) ? WEXITSTATUS(status) : -1, r->log);
            return SJ_ERR;
        }
        struct timeval tv = {0, 200000};
        redisContext *rc = redisConnectUnixWithTimeout(r->sock, tv);
        if (rc && !rc->err) {
            redisReply *rep = redisCommand(rc, "PING");
            bool ok = rep && rep->type == REDIS_REPLY_STATUS;
            if (rep) freeReplyObject(rep);
            redisFree(rc);
            if (ok) return SJ_OK;
        } else if (rc) {
            redisFree(rc);
        }
        sleep_ms(20);
    }
    sj_seterr(errstr, errstr_size, "%s did not answer PING within %d ms (see %s)", bin,
              REDIS_START_MS, r->log);
    return SJ_ERR_TIMEOUT;
}

static void redis_stop(redis_proc_t *r)
{
    if (r->pid <= 0) return;
    kill(r->pid, SIGTERM);
    for (int64_t t0 = sj_mono_ms(); sj_mono_ms() - t0 < REDIS_STOP_MS; sleep_ms(10))
        if (waitpid(r->pid, NULL, WNOHANG) == r->pid) {
            r->pid = 0;
            return;
        }
    kill(r->pid, SIGKILL);
    waitpid(r->pid, NULL, 0);
    r->pid = 0;
}

/* Removes the files the demo put in its temporary directory, then it. */
static void remove_tmpdir(const char *dir)
{
    static const char *const files[] = {"redis.sock", "redis.log", "rejects.jsonl",
                                        "dump.rdb"};
    char path[256];
    for (size_t i = 0; i < SJ_ARRAY_LEN(files); i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        unlink(path);
    }
    if (rmdir(dir) != 0)
        sj_log(SJ_LOG_WARN, FAC, "could not remove %s: %s", dir, strerror(errno));
}

/* ---- data files and outbox ------------------------------------------------ */

static bool is_dir(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* When setting `name` names a relative directory that does not exist here,
 * looks for it under the parents of the executable's directory. */
static void locate_data_dir(sj_conf_t *conf, const char *name)
{
    const char *rel = sj_conf_get(conf, name);
    if (!rel || rel[0] == '/' || is_dir(rel)) return;
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return;
    exe[n] = '\0';
    for (int up = 0; up < 5; up++) {
        char *slash = strrchr(exe, '/');
        if (!slash || slash == exe) return;
        *slash = '\0';
        char cand[PATH_MAX + 256];
        int k = snprintf(cand, sizeof cand, "%s/%s", exe, rel);
        if (k > 0 && (size_t)k < sizeof cand && is_dir(cand)) {
            sj_conf_set(conf, name, cand, NULL, 0);
            return;
        }
    }
}

/* Removes the message files a previous demo left (<hex>.eml / <hex>.json in
 * email/, sms/, app/), so the counts on disk match this run. Nothing else
 * in the directory is touched. */
static void clear_outbox(const char *outbox)
{
    static const char *const subs[] = {"email", "sms", "app"};
    for (size_t i = 0; i < SJ_ARRAY_LEN(subs); i++) {
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%s/%s", outbox, subs[i]);
        DIR *d = opendir(dir);
        if (!d) continue;
        struct dirent *e;
        while ((e = readdir(d))) {
            const char *dot = strchr(e->d_name, '.');
            size_t hex = dot ? (size_t)(dot - e->d_name) : 0;
            bool ok = hex >= 16 && (!strcmp(dot, ".eml") || !strcmp(dot, ".json"));
            for (size_t k = 0; ok && k < hex; k++)
                ok = (e->d_name[k] >= '0' && e->d_name[k] <= '9') ||
                     (e->d_name[k] >= 'a' && e->d_name[k] <= 'f');
            if (!ok) continue;
            char path[PATH_MAX + 512];
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
        closedir(d);
    }
}

/* ---- in-process Kafka ----------------------------------------------------- */

typedef struct {
    rd_kafka_t *rk;
    rd_kafka_mock_cluster_t *mc;
} mock_kafka_t;

static sj_status_t kafka_start(mock_kafka_t *k, const sj_conf_t *conf, uint64_t residents,
                               char *errstr, size_t errstr_size)
{
    int partitions = (int)((residents + DEMO_RESIDENTS_PER_PARTITION - 1) /
                           DEMO_RESIDENTS_PER_PARTITION);
    if (partitions < DEMO_MIN_PARTITIONS) partitions = DEMO_MIN_PARTITIONS;
    char err[512];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    rd_kafka_conf_set(c, "client.id", "seintje-demo-mock", err, sizeof err);
    rd_kafka_conf_set(c, "log_level", "3", err, sizeof err);
    if (!(k->rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof err))) {
        rd_kafka_conf_destroy(c);
        sj_seterr(errstr, errstr_size, "mock kafka: %s", err);
        return SJ_ERR;
    }
    if (!(k->mc = rd_kafka_mock_cluster_new(k->rk, 1))) {
        sj_seterr(errstr, errstr_size, "mock kafka: cannot create the cluster");
        return SJ_ERR;
    }
    static const char *const topics[] = {"topic.life-events", "topic.notifications",
                                         "topic.segment-due", "topic.delivery-status",
                                         "topic.dead-letter"};
    for (size_t i = 0; i < SJ_ARRAY_LEN(topics); i++) {
        rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(
            k->mc, sj_conf_get(conf, topics[i]), partitions, 1);
        if (e) {
            sj_seterr(errstr, errstr_size, "mock kafka: topic %s: %s",
                      sj_conf_get(conf, topics[i]), rd_kafka_err2str(e));
            return SJ_ERR;
        }
    }
    return SJ_OK;
}

static void kafka_stop(mock_kafka_t *k)
{
    if (k->mc) rd_kafka_mock_cluster_destroy(k->mc);
    if (k->rk) rd_kafka_destroy(k->rk);
    k->mc = NULL;
    k->rk = NULL;
}

/* ---- the command ---------------------------------------------------------- */

typedef struct {
    uint64_t residents, seed;
    int year;
    int64_t until_ms;
    const char *outbox;
    bool keep;
} demo_opts_t;

static const char demo_help[] =
    "usage: seintje demo [options]\n"
    "Runs the whole pipeline in one process: an in-process Kafka, a private\n"
    "redis-server, a synthetic population, the example campaigns and the outbox\n"
    "channel. Replays one synthetic year as if live (see the README) and prints\n"
    "what happened. Needs redis-server on PATH (or SEINTJE_REDIS_SERVER).\n\n"
    "options:\n"
    "  -n, --residents N      synthetic residents (default 5000)\n"
    "      --seed S           seed of the synthetic population (default 1)\n"
    "      --year Y           synthetic year (default 2026)\n"
    "      --date TIME        end of the simulated period, RFC 3339 (default\n"
    "                         SEINTJE_NOW, else the last second of the year)\n"
    "  -o, --outbox DIR       where messages are written (default ./demo-outbox)\n"
    "      --keep             leave redis-server running with its data "
    "afterwards\n" SJ_CLI_COMMON_HELP;

static int parse_args(int argc, char **argv, sj_cli_t *cli, demo_opts_t *o)
{
    enum { OPT_SEED = 3000, OPT_YEAR, OPT_DATE, OPT_KEEP };
    static const struct option longopts[] = {{"residents", required_argument, NULL, 'n'},
                                             {"seed", required_argument, NULL, OPT_SEED},
                                             {"year", required_argument, NULL, OPT_YEAR},
                                             {"date", required_argument, NULL, OPT_DATE},
                                             {"outbox", required_argument, NULL, 'o'},
                                             {"keep", no_argument, NULL, OPT_KEEP},
                                             SJ_CLI_COMMON_LONGOPTS,
                                             {NULL, 0, NULL, 0}};
    int opt;
    int64_t v;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "n:o:" SJ_CLI_COMMON_SHORTOPTS, longopts,
                              NULL)) != -1) {
        switch (opt) {
        case 'n':
            if (sj_parse_i64(optarg, &v) != SJ_OK || v < 1 || v > MAX_RESIDENTS)
                return sj_cli_usage_error("demo", "--residents: \"%s\" is not 1..%d",
                                          optarg, MAX_RESIDENTS);
            o->residents = (uint64_t)v;
            break;
        case OPT_SEED:
            if (sj_parse_i64(optarg, &v) != SJ_OK || v < 0)
                return sj_cli_usage_error("demo", "--seed: \"%s\" is not a number",
                                          optarg);
            o->seed = (uint64_t)v;
            break;
        case OPT_YEAR:
            if (sj_parse_i64(optarg, &v) != SJ_OK || v < 2005 || v > 2099)
                return sj_cli_usage_error("demo", "--year: \"%s\" is not 2005..2099",
                                          optarg);
            o->year = (int)v;
            break;
        case OPT_DATE:
            if (sj_time_parse_rfc3339(optarg, strlen(optarg), &o->until_ms) != SJ_OK)
                return sj_cli_usage_error(
                    "demo", "--date: \"%s\" is not an RFC 3339 time", optarg);
            break;
        case 'o':
            o->outbox = optarg;
            break;
        case OPT_KEEP:
            o->keep = true;
            break;
        default:
            if (sj_cli_common_opt(cli, opt, optarg) != 1) return SJ_EXIT_USAGE;
        }
    }
    if (optind < argc)
        return sj_cli_usage_error("demo", "unexpected argument \"%s\"", argv[optind]);
    return SJ_EXIT_OK;
}

static void print_summary(const demo_opts_t *o, const sj_conf_t *conf,
                          const sj_produce_stats_t *p, const sj_segment_stats_t *s,
                          const sj_deliver_stats_t *d, double elapsed)
{
    char until[32];
    sj_time_format_rfc3339(o->until_ms, until);
    printf("seintje demo: %llu residents (seed %llu), year %d, replayed until %s\n",
           (unsigned long long)o->residents, (unsigned long long)o->seed, o->year, until);
    printf("  produce:  %llu life events published, %llu rejected (%.2f s)\n",
           (unsigned long long)p->published, (unsigned long long)p->rejected, p->seconds);
    printf("  segment:  %llu events, %llu profile updates; intents %llu emitted, %llu "
           "scheduled, %llu deferred (cap, window), %llu suppressed (consent, holdout, "
           "expiry), %llu cancelled (goal reached); %llu outside the audience (%.2f s)\n",
           (unsigned long long)(s->events - s->ticks),
           (unsigned long long)s->profile_updates, (unsigned long long)s->emitted,
           (unsigned long long)s->scheduled, (unsigned long long)s->deferred,
           (unsigned long long)s->suppressed, (unsigned long long)s->cancelled,
           (unsigned long long)s->audience, s->seconds);
    printf(
        "  deliver:  %llu intents; messages: email %llu, sms %llu, app %llu (%.2f s)\n",
        (unsigned long long)d->intents, (unsigned long long)d->sent[SJ_ROUTE_EMAIL],
        (unsigned long long)d->sent[SJ_ROUTE_SMS],
        (unsigned long long)d->sent[SJ_ROUTE_APP], d->seconds);
    printf("  suppressed:");
    for (int k = 0; k < SJ_SUPPRESS_REASONS; k++)
        printf(" %s %llu%s", sj_suppress_name((sj_suppress_t)k),
               (unsigned long long)d->suppressed[k],
               k + 1 < SJ_SUPPRESS_REASONS ? "," : "");
    printf("; failed %llu\n", (unsigned long long)d->failed);
    printf("  scheduled: %llu intents due after %s wait in Redis\n",
           (unsigned long long)d->pending, until);
    printf("  outbox:   %s/{email,sms,app}/\n", sj_conf_get(conf, "outbox.dir"));
    printf("  elapsed:  %.2f s\n", elapsed);
}

/* Runs produce, segment and deliver against the services in conf. */
static sj_status_t run_pipeline(const sj_conf_t *conf, const demo_opts_t *o,
                                sj_produce_stats_t *p, sj_segment_stats_t *s,
                                sj_deliver_stats_t *d, char *errstr, size_t errstr_size)
{
    sj_produce_opts_t po = {.synthetic = o->residents,
                            .seed = o->seed,
                            .year = o->year,
                            .insecure_dev_key = true,
                            .quiet = true};
    sj_log(SJ_LOG_INFO, FAC, "producing the life events of %llu synthetic residents",
           (unsigned long long)o->residents);
    sj_status_t st = sj_produce_run(conf, &po, p, errstr, errstr_size);
    if (st != SJ_OK || demo_stop) return st != SJ_OK ? st : SJ_ERR;
    sj_segment_opts_t so = {.until_idle_ms = DEMO_IDLE_MS,
                            .replay_clock = true,
                            .replay_until_ms = o->until_ms,
                            .now_ms = o->until_ms,
                            .stop = &demo_stop};
    sj_log(SJ_LOG_INFO, FAC, "segment: matching campaigns");
    if ((st = sj_segment_run(conf, &so, s, errstr, errstr_size)) != SJ_OK || demo_stop)
        return st != SJ_OK ? st : SJ_ERR;
    if (s->events - s->ticks != p->published) {
        sj_seterr(errstr, errstr_size,
                  "segment consumed %llu of %llu published events: the in-process Kafka "
                  "dropped old messages (its partitions hold 5 MB); use fewer residents",
                  (unsigned long long)(s->events - s->ticks),
                  (unsigned long long)p->published);
        return SJ_ERR;
    }
    sj_deliver_opts_t dopt = {.until_idle_ms = DEMO_IDLE_MS,
                              .replay_clock = true,
                              .now_ms = o->until_ms,
                              .stop = &demo_stop};
    sj_log(SJ_LOG_INFO, FAC, "deliver: rendering messages into %s",
           sj_conf_get(conf, "outbox.dir"));
    return sj_deliver_run(conf, &dopt, d, errstr, errstr_size);
}

static sj_status_t configure(sj_conf_t *conf, const demo_opts_t *o, const redis_proc_t *r,
                             const mock_kafka_t *k, char *errstr, size_t errstr_size)
{
    char url[160], rejects[128];
    snprintf(url, sizeof url, "unix:%s", r->sock);
    snprintf(rejects, sizeof rejects, "%s/rejects.jsonl", r->dir);
    sj_status_t st = sj_conf_set(conf, "brokers", rd_kafka_mock_cluster_bootstraps(k->mc),
                                 errstr, errstr_size);
    if (st == SJ_OK) st = sj_conf_set(conf, "redis.url", url, errstr, errstr_size);
    if (st == SJ_OK)
        st = sj_conf_set(conf, "produce.reject-file", rejects, errstr, errstr_size);
    if (st == SJ_OK) st = sj_conf_set(conf, "outbox.dir", o->outbox, errstr, errstr_size);
    /* The mock cluster runs in this process: short timeouts surface mistakes fast. */
    if (st == SJ_OK)
        st = sj_conf_set(conf, "kafka.timeout-ms", "10000", errstr, errstr_size);
    if (st == SJ_OK) st = sj_conf_set(conf, "kafka.log_level", "3", errstr, errstr_size);
    return st;
}

int sj_cmd_demo(int argc, char **argv)
{
    sj_cli_t cli;
    if (sj_cli_init(&cli, "seintje demo") != SJ_OK) return SJ_EXIT_FAILURE;
    demo_opts_t o = {
        .residents = DEFAULT_RESIDENTS, .seed = 1, .year = 2026, .outbox = "demo-outbox"};
    int rc = parse_args(argc, argv, &cli, &o);
    if (rc == SJ_EXIT_OK && cli.help) {
        fputs(demo_help, stdout);
        sj_cli_free(&cli);
        return SJ_EXIT_OK;
    }
    if (rc == SJ_EXIT_OK && sj_cli_finish(&cli) != SJ_OK) rc = SJ_EXIT_USAGE;
    if (rc != SJ_EXIT_OK) {
        sj_cli_free(&cli);
        return rc;
    }
    if (!o.until_ms) {
        const char *env = getenv("SEINTJE_NOW");
        if (!env || sj_time_parse_rfc3339(env, strlen(env), &o.until_ms) != SJ_OK)
            o.until_ms =
                (int64_t)sj_days_from_civil(o.year + 1, 1, 1) * 86400000LL - 1000;
    }
    locate_data_dir(cli.conf, "campaigns.dir");
    locate_data_dir(cli.conf, "templates.dir");

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    int64_t t0 = sj_mono_ms();
    char err[1024] = "";
    redis_proc_t redis = {0};
    mock_kafka_t kafka = {0};
    snprintf(redis.dir, sizeof redis.dir, "/tmp/seintje-demo-XXXXXX");
    sj_status_t st = SJ_OK;
    if (!mkdtemp(redis.dir)) {
        snprintf(err, sizeof err, "cannot create a temporary directory: %s",
                 strerror(errno));
        st = SJ_ERR_IO;
    }
    if (st == SJ_OK) st = redis_start(&redis, err, sizeof err);
    if (st == SJ_OK) st = kafka_start(&kafka, cli.conf, o.residents, err, sizeof err);
    if (st == SJ_OK) st = configure(cli.conf, &o, &redis, &kafka, err, sizeof err);
    sj_produce_stats_t ps = {0};
    sj_segment_stats_t ss = {0};
    sj_deliver_stats_t ds = {0};
    if (st == SJ_OK) {
        clear_outbox(o.outbox);
        st = run_pipeline(cli.conf, &o, &ps, &ss, &ds, err, sizeof err);
    }
    kafka_stop(&kafka);
    if (o.keep && redis.pid > 0) {
        printf("redis-server (pid %ld) keeps running: redis-cli -s %s; stop it with kill "
               "%ld\n",
               (long)redis.pid, redis.sock, (long)redis.pid);
    } else {
        redis_stop(&redis);
        if (redis.dir[0] && strcmp(redis.dir, "/tmp/seintje-demo-XXXXXX"))
            remove_tmpdir(redis.dir);
    }
    if (st == SJ_OK) {
        print_summary(&o, cli.conf, &ps, &ss, &ds, (double)(sj_mono_ms() - t0) / 1000.0);
    } else {
        if (demo_stop && !err[0]) snprintf(err, sizeof err, "interrupted");
        sj_log(SJ_LOG_ERROR, FAC, "%s", err);
        rc = SJ_EXIT_FAILURE;
    }
    sj_cli_free(&cli);
    return rc;
}
