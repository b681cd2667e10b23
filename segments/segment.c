/* The `seintje segment` and `seintje campaign validate` commands. The stage
 * itself is engine.c; this file is the command line around it. */
#include "segment.h"

#include <getopt.h>
#include <string.h>
#include <stdlib.h>

#include "cli/commands.h"
#include "core/cli.h"
#include "core/log.h"
#include "core/text.h"
#include "core/timeutil.h"
#include "segments/campaign.h"

#define FAC "segment"

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
#define OPT_UNTIL      2004

static const char segment_help[] =
    "usage: seintje segment [options]\n"
    "Consumes life events (topic.life-events), updates resident profiles in Redis,\n"
    "matches the campaigns in campaigns.dir and produces notification intents\n"
    "(topic.notifications). Runs until SIGINT/SIGTERM, or until idle with -e.\n\n"
    "options:\n"
    "  -e                     stop once every partition is consumed (idle 2000 ms)\n"
    "      --until-idle MS    same, with MS ms of silence before stopping\n"
    "      --replay-clock     use each event's time as \"now\" (replaying history)\n"
    "      --replay-until T   with --replay-clock: once idle, move the clock to T and\n"
    "                         release every step due by then\n"
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
        {"replay-until", required_argument, NULL, OPT_UNTIL},
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
        case OPT_UNTIL:
            if (sj_time_parse_rfc3339(optarg, strlen(optarg), &o.replay_until_ms) !=
                SJ_OK)
                rc = sj_cli_usage_error(
                    "segment", "--replay-until: \"%s\" is not an RFC 3339 time", optarg);
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
