/* `seintje produce`: the first stage of the pipeline. See produce.h.
 *
 * The hot loop is: read a line (lines.h), check and rewrite it without
 * building a tree (lifeevent.h), hand it to librdkafka with the pseudonym as
 * key, serve delivery reports every few hundred messages. Accounting is
 * exact: every line read ends up published, rejected or failed, and the
 * command exits 0 only when nothing was rejected or failed. */
#include "produce.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "core/buf.h"
#include "core/cli.h"
#include "core/crypto.h"
#include "core/kafka.h"
#include "core/lines.h"
#include "core/log.h"
#include "core/progress.h"
#include "core/text.h"
#include "core/timeutil.h"
#include "producers/lifeevent.h"
#include "producers/register_csv.h"
#include "producers/synthetic.h"

#define MAX_ERRORS_SHOWN 100
#define OUT_MAX          (16u << 20)

typedef struct job {
    const sj_conf_t *conf;
    const sj_produce_opts_t *o;
    sj_produce_stats_t *st;
    sj_hmac_t *h;
    rd_kafka_t *rk;
    rd_kafka_topic_t *rkt;
    const char *name; /* input name for messages */
    const char *reject_path;
    FILE *rejects;
    uint64_t shown;
    sj_buf_t out;
    sj_lines_t *lines;
    sj_synth_t *synth;
    sj_csv_reader_t *csv;
    sj_buf_t synth_line;
} job_t;

static volatile sig_atomic_t stop_requested;

/* Records a refused or failed line: on stderr (bounded) and in the reject
 * file. The raw input goes only to the reject file, which holds personal
 * data like the input itself and is created mode 0600. */
static void reject(job_t *j, uint64_t lineno, const char *field, const char *problem,
                   const char *raw, size_t rawlen)
{
    if (!j->o->quiet) {
        if (j->shown < MAX_ERRORS_SHOWN)
            fprintf(stderr, "%s:%llu: %s: %s\n", j->name, (unsigned long long)lineno,
                    field, problem);
        else if (j->shown == MAX_ERRORS_SHOWN)
            fprintf(stderr, "%s: more than %d problems; the rest are only in %s\n",
                    j->name, MAX_ERRORS_SHOWN, j->reject_path);
        j->shown++;
    }
    if (!j->rejects) {
        int fd = open(j->reject_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        j->rejects = fd >= 0 ? fdopen(fd, "w") : NULL;
        if (!j->rejects) {
            sj_log(SJ_LOG_ERROR, "produce", "%s: cannot write reject file: %s",
                   j->reject_path, strerror(errno));
            if (fd >= 0) close(fd);
            j->reject_path = "/dev/null";
            j->rejects = fopen("/dev/null", "w");
            if (!j->rejects) return;
        }
    }
    json_t *r = json_pack("{s:s, s:I, s:s, s:s}", "file", j->name, "line",
                          (json_int_t)lineno, "field", field, "problem", problem);
    if (r && raw && sj_utf8_valid(raw, rawlen, NULL))
        json_object_set_new(r, "input", json_stringn(raw, rawlen));
    else if (r && raw)
        json_object_set_new(r, "input_note",
                            json_string("input is not valid UTF-8; see line"));
    if (r) {
        json_dumpf(r, j->rejects, JSON_COMPACT | JSON_ENSURE_ASCII);
        fputc('\n', j->rejects);
        json_decref(r);
    }
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    job_t *j = opaque;
    if (m->err) {
        j->st->failed++;
        char problem[300];
        snprintf(problem, sizeof problem, "not acknowledged by Kafka: %s",
                 rd_kafka_err2str(m->err));
        reject(j, (uint64_t)(uintptr_t)m->_private, "kafka", problem, NULL, 0);
    } else {
        j->st->published++;
    }
}

/* Sends one checked event; waits for queue space instead of dropping. */
static sj_status_t publish(job_t *j, const char *key, uint64_t lineno)
{
    if (j->o->dry_run) {
        fwrite(j->out.data, 1, j->out.len, stdout);
        fputc('\n', stdout);
        j->st->published++;
        return SJ_OK;
    }
    for (;;) {
        if (rd_kafka_produce(j->rkt, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY,
                             j->out.data, j->out.len, key, SJ_PSEUDONYM_LEN,
                             (void *)(uintptr_t)lineno) == 0)
            break;
        rd_kafka_resp_err_t e = rd_kafka_last_error();
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            j->st->failed++;
            reject(j, lineno, "kafka", rd_kafka_err2str(e), NULL, 0);
            return SJ_OK;
        }
        rd_kafka_poll(j->rk, 50);
    }
    if ((j->st->read & 255) == 0) rd_kafka_poll(j->rk, 0);
    return SJ_OK;
}

/* Checks one JSON line and publishes it, or rejects it. */
static void handle_json(job_t *j, const char *line, size_t len, uint64_t lineno)
{
    sj_event_problem_t why;
    char key[SJ_PSEUDONYM_LEN + 1];
    size_t bad;
    if (!sj_utf8_valid(line, len, &bad)) {
        char problem[96];
        snprintf(problem, sizeof problem, "invalid UTF-8 at byte %zu", bad + 1);
        reject(j, lineno, "utf8", problem, line, len);
        return;
    }
    sj_buf_reset(&j->out);
    sj_status_t st = sj_lifeevent_check(j->h, line, len, &j->out, key, &why);
    if (st == SJ_ERR_TOO_BIG) {
        reject(j, lineno, "json", "event too large after rewriting", line, len);
    } else if (st != SJ_OK) {
        reject(j, lineno, why.field, why.problem, line, len);
    } else {
        publish(j, key, lineno);
    }
}

/* A CSV row becomes an input-form event (register_csv.h), then takes the
 * same path as a JSON line. Rows without event_id get a stable id derived
 * with the pseudonym key, so re-importing an export gives the same ids. */
static void handle_csv(job_t *j, const char *line, size_t len, uint64_t lineno)
{
    char field[64] = "line", problem[256] = "";
    json_t *ev = NULL;
    if (sj_csv_row_to_event(j->csv, line, len, &ev, field, sizeof field, problem,
                            sizeof problem) != SJ_OK) {
        reject(j, lineno, field, problem, line, len);
        return;
    }
    if (!ev) { /* an empty row (";;;;" from Excel): nothing to publish, not counted */
        j->st->read--;
        return;
    }
    if (!json_object_get(ev, "id")) {
        char hex[SJ_PSEUDONYM_LEN + 1], id[48];
        sj_buf_t seed;
        sj_buf_init(&seed, len + 16);
        sj_buf_adds(&seed, "csv-row|");
        sj_buf_add(&seed, line, len);
        sj_hmac_hex(j->h, seed.data, seed.len, hex);
        sj_buf_free(&seed);
        snprintf(id, sizeof id, "csv-%.32s", hex);
        json_object_set_new(ev, "id", json_string(id));
    }
    char *s = json_dumps(ev, JSON_COMPACT);
    json_decref(ev);
    if (!s) {
        reject(j, lineno, "line", "out of memory", line, len);
        return;
    }
    handle_json(j, s, strlen(s), lineno);
    free(s);
}

static sj_status_t open_input(job_t *j, char *errstr, size_t errstr_size)
{
    const sj_produce_opts_t *o = j->o;
    if (o->synthetic) {
        sj_synth_opts_t so = {
            .residents = o->synthetic, .seed = o->seed, .year = o->year};
        j->synth = sj_synth_new(&so, errstr, errstr_size);
        j->name = "<synthetic>";
        sj_buf_init(&j->synth_line, OUT_MAX);
        return j->synth ? SJ_OK : SJ_ERR_INPUT;
    }
    size_t max = (size_t)sj_conf_get_int(j->conf, "produce.max-line");
    j->lines = sj_lines_open(o->input, max, errstr, errstr_size);
    if (!j->lines) return SJ_ERR_IO;
    j->name = sj_lines_name(j->lines);
    sj_input_format_t f = o->format;
    if (f == SJ_INPUT_AUTO) {
        size_t n = strlen(o->input);
        f = n > 4 && !strcmp(o->input + n - 4, ".csv") ? SJ_INPUT_CSV : SJ_INPUT_JSON;
    }
    if (f == SJ_INPUT_CSV) {
        const char *hdr;
        size_t hlen;
        int rc = sj_lines_next(j->lines, &hdr, &hlen);
        if (rc != SJ_OK) {
            sj_seterr(errstr, errstr_size, "%s:1: header: %s", j->name,
                      rc == SJ_EOF ? "empty file, a CSV header line is required"
                                   : "header line unreadable or too long");
            return SJ_ERR_INPUT;
        }
        char err[512];
        j->csv = sj_csv_reader_new(hdr, hlen, sj_conf_get(j->conf, "produce.source"), err,
                                   sizeof err);
        if (!j->csv) {
            sj_seterr(errstr, errstr_size, "%s:1: header: %s", j->name, err);
            return SJ_ERR_INPUT;
        }
    }
    return SJ_OK;
}

static sj_status_t open_kafka(job_t *j, char *errstr, size_t errstr_size)
{
    j->rk = sj_kafka_producer_new(j->conf, dr_cb, j, errstr, errstr_size);
    if (!j->rk) return SJ_ERR;
    const char *topic = sj_conf_get(j->conf, "topic.life-events");
    sj_status_t st = sj_kafka_topic_ensure(
        j->rk, topic, (int)sj_conf_get_int(j->conf, "topic.partitions"),
        (int)sj_conf_get_int(j->conf, "kafka.timeout-ms"), errstr, errstr_size);
    if (st != SJ_OK) return st;
    j->rkt = rd_kafka_topic_new(j->rk, topic, NULL);
    if (!j->rkt) {
        sj_seterr(errstr, errstr_size, "kafka: topic %s: %s", topic,
                  rd_kafka_err2str(rd_kafka_last_error()));
        return SJ_ERR;
    }
    return SJ_OK;
}

/* Waits for every outstanding delivery report; what is still queued after
 * the timeout counts as failed. */
static void drain_kafka(job_t *j)
{
    int timeout = (int)sj_conf_get_int(j->conf, "kafka.timeout-ms");
    int64_t deadline = sj_mono_ms() + timeout;
    while (rd_kafka_outq_len(j->rk) > 0 && sj_mono_ms() < deadline)
        rd_kafka_poll(j->rk, 100);
    int left = rd_kafka_outq_len(j->rk);
    if (left > 0) {
        /* Purge so their delivery reports fire with an error and are counted. */
        rd_kafka_purge(j->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_flush(j->rk, 1000);
        rd_kafka_poll(j->rk, 0);
    }
}

static void job_close(job_t *j)
{
    if (j->rkt) rd_kafka_topic_destroy(j->rkt);
    if (j->rk) rd_kafka_destroy(j->rk);
    sj_lines_close(j->lines);
    sj_synth_destroy(j->synth);
    sj_csv_reader_destroy(j->csv);
    sj_buf_free(&j->out);
    sj_buf_free(&j->synth_line);
    sj_hmac_destroy(j->h);
    if (j->rejects) fclose(j->rejects);
}

sj_status_t sj_produce_run(const sj_conf_t *conf, const sj_produce_opts_t *o,
                           sj_produce_stats_t *st, char *errstr, size_t errstr_size)
{
    job_t j = {.conf = conf, .o = o, .st = st};
    memset(st, 0, sizeof *st);
    sj_buf_init(&j.out, OUT_MAX);
    sj_buf_init(&j.synth_line, OUT_MAX);
    j.reject_path = sj_conf_get(conf, "produce.reject-file");

    unsigned char key[SJ_KEY_MAX_LEN];
    size_t keylen;
    bool dev;
    sj_status_t rc =
        sj_key_load(sj_conf_get(conf, "pseudonym.key-file"), o->insecure_dev_key, key,
                    &keylen, &dev, errstr, errstr_size);
    if (rc == SJ_OK) {
        if (dev)
            sj_log(
                SJ_LOG_WARN, "produce",
                "INSECURE: using the public development pseudonym key; these pseudonyms "
                "protect nobody. Never use --insecure-dev-key with real data.");
        j.h = sj_hmac_new(key, keylen, errstr, errstr_size);
        if (!j.h) rc = SJ_ERR;
    }
    memset(key, 0, sizeof key);
    if (rc == SJ_OK) rc = open_input(&j, errstr, errstr_size);
    if (rc == SJ_OK && !o->dry_run) rc = open_kafka(&j, errstr, errstr_size);
    if (rc != SJ_OK) {
        job_close(&j);
        return rc;
    }

    uint64_t total = j.synth   ? sj_synth_count(j.synth)
                     : j.lines ? sj_lines_size(j.lines)
                               : 0;
    sj_progress_t *bar = sj_progress_new("produce", total, j.synth ? "events" : "bytes");
    int64_t t0 = sj_mono_ms();
    size_t max = (size_t)sj_conf_get_int(conf, "produce.max-line");
    while (!stop_requested) {
        const char *line;
        size_t len;
        uint64_t lineno;
        int r;
        if (j.synth) {
            sj_buf_reset(&j.synth_line);
            r = sj_synth_next(j.synth, &j.synth_line);
            line = j.synth_line.data;
            len = j.synth_line.len;
            lineno = st->read + 1;
        } else {
            r = sj_lines_next(j.lines, &line, &len);
            lineno = sj_lines_lineno(j.lines);
        }
        if (r == SJ_EOF) break;
        if (r == SJ_ERR_IO) {
            sj_seterr(errstr, errstr_size, "%s: read error after line %llu: %s", j.name,
                      (unsigned long long)lineno, strerror(errno));
            rc = SJ_ERR_IO;
            break;
        }
        if (!j.synth && len == 0 && r == SJ_OK) continue; /* blank lines carry nothing */
        st->read++;
        if (r == SJ_ERR_TOO_BIG) {
            char problem[160];
            snprintf(
                problem, sizeof problem,
                "line is %zu bytes, longer than produce.max-line (%zu); raise the bound "
                "or split the event",
                len, max);
            reject(&j, lineno, "line", problem, NULL, 0);
        } else if (j.csv) {
            handle_csv(&j, line, len, lineno);
        } else {
            handle_json(&j, line, len, lineno);
        }
        sj_progress_update(bar, j.synth ? st->read : sj_lines_offset(j.lines));
    }
    if (j.rk) drain_kafka(&j);
    if (o->dry_run) fflush(stdout);
    st->seconds = (double)(sj_mono_ms() - t0) / 1000.0;
    sj_progress_finish(bar, j.synth ? st->read : j.lines ? sj_lines_offset(j.lines) : 0);
    st->rejected = st->read - st->published - st->failed;
    if (!j.rejects && strcmp(j.reject_path, "/dev/null")) unlink(j.reject_path);
    job_close(&j);
    if (rc == SJ_OK && stop_requested) {
        sj_seterr(errstr, errstr_size, "interrupted after %llu lines",
                  (unsigned long long)st->read);
        rc = SJ_ERR;
    }
    return rc;
}

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static const char usage_text[] =
    "usage: seintje produce [options] [FILE|-]\n"
    "       seintje produce --synthetic N [--seed S] [options]\n"
    "\n"
    "Checks life events, replaces the national register number (subject) by its\n"
    "keyed pseudonym and publishes them to Kafka (topic.life-events), waiting for\n"
    "every acknowledgement. Input: CloudEvents 1.0 JSON lines, or a register CSV\n"
    "export (--format csv or a .csv name); '-' or nothing reads stdin.\n"
    "Bad lines are reported as FILE:LINE: FIELD: PROBLEM and written with their\n"
    "reason to the reject file; they never hold back good lines.\n"
    "\n"
    "options:\n"
    "  -f, --format json|csv  input format (default: by file name, else json)\n"
    "  -t, --topic NAME       topic (same as -X topic.life-events=NAME)\n"
    "  -r, --reject-file F    where refused lines go (produce.reject-file)\n"
    "  -n, --dry-run          check and print the events that would be published\n"
    "  -s, --synthetic N      generate a synthetic population of N residents\n"
    "      --seed S           seed of the synthetic population (default 1)\n"
    "      --year Y           year of synthetic life events (default 2026)\n"
    "  -q, --quiet            no per-line messages (the reject file has them)\n"
    "      --catalogue        print the event types and data fields, then exit\n"
    "      --insecure-dev-key use a PUBLIC development key when no key is set;\n"
    "                         never with real data\n" SJ_CLI_COMMON_HELP "\n"
    "The pseudonym key comes from pseudonym.key-file or SEINTJE_PSEUDONYM_KEY.\n"
    "Exit: 0 all published; 1 some valid events were not acknowledged or a\n"
    "runtime failure; 2 bad usage, or some lines were rejected (the rest published).\n";

int sj_cmd_produce(int argc, char **argv)
{
    enum { OPT_SEED = 2000, OPT_YEAR, OPT_CATALOGUE, OPT_DEVKEY };
    static const struct option longopts[] = {
        {"format", required_argument, NULL, 'f'},
        {"topic", required_argument, NULL, 't'},
        {"reject-file", required_argument, NULL, 'r'},
        {"dry-run", no_argument, NULL, 'n'},
        {"synthetic", required_argument, NULL, 's'},
        {"seed", required_argument, NULL, OPT_SEED},
        {"year", required_argument, NULL, OPT_YEAR},
        {"quiet", no_argument, NULL, 'q'},
        {"catalogue", no_argument, NULL, OPT_CATALOGUE},
        {"insecure-dev-key", no_argument, NULL, OPT_DEVKEY},
        SJ_CLI_COMMON_LONGOPTS,
        {NULL, 0, NULL, 0}};
    sj_cli_t cli;
    if (sj_cli_init(&cli, "seintje produce") != SJ_OK) return SJ_EXIT_FAILURE;
    sj_produce_opts_t o = {.input = "-", .seed = 1};
    int c, rc = SJ_EXIT_OK;
    bool catalogue = false;
    const char *topic = NULL, *reject_file = NULL;
    opterr = 1;
    optind = 1;
    while ((c = getopt_long(argc, argv, "f:t:r:ns:q" SJ_CLI_COMMON_SHORTOPTS, longopts,
                            NULL)) != -1) {
        uint64_t v;
        int common = sj_cli_common_opt(&cli, c, optarg);
        if (common == 1) continue;
        if (common < 0) goto usage;
        switch (c) {
        case 'f':
            if (!strcmp(optarg, "json"))
                o.format = SJ_INPUT_JSON;
            else if (!strcmp(optarg, "csv"))
                o.format = SJ_INPUT_CSV;
            else {
                rc = sj_cli_usage_error(
                    "produce", "--format must be json or csv, not \"%s\"", optarg);
                goto out;
            }
            break;
        case 't':
            topic = optarg;
            break;
        case 'r':
            reject_file = optarg;
            break;
        case 'n':
            o.dry_run = true;
            break;
        case 'q':
            o.quiet = true;
            break;
        case 's':
        case OPT_SEED:
        case OPT_YEAR:
            if (sj_parse_u64(optarg, strlen(optarg), &v) != SJ_OK) {
                rc = sj_cli_usage_error("produce", "%s needs a whole number, not \"%s\"",
                                        c == 's'        ? "--synthetic"
                                        : c == OPT_SEED ? "--seed"
                                                        : "--year",
                                        optarg);
                goto out;
            }
            if (c == 's')
                o.synthetic = v;
            else if (c == OPT_SEED)
                o.seed = v;
            else
                o.year = (int)(v > 9999 ? 0 : v);
            break;
        case OPT_CATALOGUE:
            catalogue = true;
            break;
        case OPT_DEVKEY:
            o.insecure_dev_key = true;
            break;
        default:
            goto usage;
        }
    }
    if (cli.help) {
        fputs(usage_text, stdout);
        goto out;
    }
    if (catalogue) {
        sj_lifeevent_print_catalogue(stdout);
        goto out;
    }
    if (optind < argc) o.input = argv[optind++];
    if (optind < argc) {
        rc = sj_cli_usage_error("produce", "one input file at most (got \"%s\" too)",
                                argv[optind]);
        goto out;
    }
    if (o.synthetic && strcmp(o.input, "-")) {
        rc = sj_cli_usage_error("produce",
                                "--synthetic and an input file exclude each other");
        goto out;
    }
    if (sj_cli_finish(&cli) != SJ_OK) {
        rc = SJ_EXIT_USAGE;
        goto out;
    }
    char err[1024];
    if ((topic && sj_conf_set(cli.conf, "topic.life-events", topic, err, sizeof err)) ||
        (reject_file &&
         sj_conf_set(cli.conf, "produce.reject-file", reject_file, err, sizeof err))) {
        rc = sj_cli_usage_error("produce", "%s", err);
        goto out;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    sj_produce_stats_t st;
    sj_status_t s = sj_produce_run(cli.conf, &o, &st, err, sizeof err);
    if (s != SJ_OK) sj_log(SJ_LOG_ERROR, "produce", "%s", err);
    double rate = st.seconds > 0 ? (double)st.published / st.seconds : 0;
    sj_log(SJ_LOG_INFO, "produce",
           "read %llu / published %llu / rejected %llu / failed %llu in %.2f s (%.0f "
           "events/s)%s%s",
           (unsigned long long)st.read, (unsigned long long)st.published,
           (unsigned long long)st.rejected, (unsigned long long)st.failed, st.seconds,
           rate, st.rejected || st.failed ? "; reasons in " : "",
           st.rejected || st.failed ? sj_conf_get(cli.conf, "produce.reject-file") : "");
    if (s == SJ_ERR_INPUT)
        rc = SJ_EXIT_USAGE;
    else if (s != SJ_OK || st.failed)
        rc = SJ_EXIT_FAILURE;
    else if (st.rejected)
        rc = SJ_EXIT_USAGE;
    goto out;
usage:
    fputs(usage_text, stderr);
    rc = SJ_EXIT_USAGE;
out:
    sj_cli_free(&cli);
    return rc;
}

static const char synth_usage[] =
    "usage: seintje synth [--residents N] [--seed S] [--year Y]\n"
    "\n"
    "Writes the life events of a synthetic Flemish municipality of N residents\n"
    "over one year to stdout, as the JSON lines `seintje produce` reads (subject =\n"
    "a generated national register number with valid check digits). Deterministic\n"
    "for a seed. Feed it to `seintje produce -` or use it to compute expectations.\n"
    "\n"
    "options:\n"
    "  -N, --residents N  residents (default 1000)\n"
    "      --seed S       seed (default 1)\n"
    "      --year Y       year of the events (default 2026)\n"
    "  -h, --help         show this help\n";

int sj_cmd_synth(int argc, char **argv)
{
    static const struct option longopts[] = {{"residents", required_argument, NULL, 'N'},
                                             {"seed", required_argument, NULL, 'S'},
                                             {"year", required_argument, NULL, 'Y'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    sj_synth_opts_t so = {.residents = 1000, .seed = 1};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "N:h", longopts, NULL)) != -1) {
        uint64_t v;
        if (c == 'h') {
            fputs(synth_usage, stdout);
            return SJ_EXIT_OK;
        }
        if ((c != 'N' && c != 'S' && c != 'Y') ||
            sj_parse_u64(optarg, strlen(optarg), &v) != SJ_OK) {
            fputs(synth_usage, stderr);
            return SJ_EXIT_USAGE;
        }
        if (c == 'N')
            so.residents = v;
        else if (c == 'S')
            so.seed = v;
        else
            so.year = (int)(v > 9999 ? 0 : v);
    }
    char err[512];
    sj_synth_t *s = sj_synth_new(&so, err, sizeof err);
    if (!s) {
        fprintf(stderr, "seintje synth: %s\n", err);
        return SJ_EXIT_USAGE;
    }
    sj_buf_t line;
    sj_buf_init(&line, OUT_MAX);
    sj_progress_t *bar = sj_progress_new("synth", sj_synth_count(s), "events");
    uint64_t n = 0;
    int rc = SJ_EXIT_OK;
    while (sj_synth_next(s, &line) == SJ_OK) {
        sj_buf_addc(&line, '\n');
        if (fwrite(line.data, 1, line.len, stdout) != line.len) {
            fprintf(stderr, "seintje synth: write error: %s\n", strerror(errno));
            rc = SJ_EXIT_FAILURE;
            break;
        }
        sj_buf_reset(&line);
        sj_progress_update(bar, ++n);
    }
    sj_progress_finish(bar, n);
    sj_buf_free(&line);
    sj_synth_destroy(s);
    if (fflush(stdout) != 0) rc = SJ_EXIT_FAILURE;
    return rc;
}
