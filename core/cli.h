/* Command-line plumbing shared by every `seintje <command>`: the common
 * options (-c FILE, -X name=value, --log-level, -h), configuration loading
 * in the documented order, and usage printing. */
#ifndef SJ_CLI_H
#define SJ_CLI_H

#include <getopt.h>
#include <stdbool.h>

#include "common.h"
#include "config.h"

/* Options every command accepts; add them to a getopt_long table with
 * SJ_CLI_COMMON_LONGOPTS and handle them with sj_cli_common_opt(). */
#define SJ_CLI_COMMON_SHORTOPTS "c:X:h"
#define SJ_CLI_OPT_LOG_LEVEL    1000
#define SJ_CLI_OPT_LOG_FORMAT   1001
#define SJ_CLI_COMMON_LONGOPTS                                                           \
    {"config", required_argument, NULL, 'c'}, {"set", required_argument, NULL, 'X'},     \
        {"help", no_argument, NULL, 'h'},                                                \
        {"log-level", required_argument, NULL, SJ_CLI_OPT_LOG_LEVEL},                    \
    {                                                                                    \
        "log-format", required_argument, NULL, SJ_CLI_OPT_LOG_FORMAT                     \
    }

#define SJ_CLI_COMMON_HELP                                                               \
    "  -c, --config FILE      read settings from FILE (name = value lines)\n"            \
    "  -X, --set NAME=VALUE   set one setting (repeatable; kafka.* goes to "             \
    "librdkafka)\n"                                                                      \
    "      --log-level LVL    debug, info, warn or error (default info)\n"               \
    "      --log-format FMT   auto, text or json (default auto: text on a terminal)\n"   \
    "  -h, --help             show this help\n"

typedef struct sj_cli {
    sj_conf_t *conf;
    const char *config_file;
    bool help;
} sj_cli_t;

/* Initialises cli with the defaults and the environment. Returns SJ_OK or
 * prints the problem and returns SJ_ERR_INPUT. */
sj_status_t sj_cli_init(sj_cli_t *cli, const char *prog);
/* Handles one common option. Returns 1 if handled, 0 if not a common option,
 * -1 on a bad value (already reported on stderr). -X values are applied after
 * the config file, in sj_cli_finish(), so the documented order holds. */
int sj_cli_common_opt(sj_cli_t *cli, int opt, const char *arg);
/* Loads the config file and replays -X settings over it. SJ_OK or SJ_ERR_INPUT
 * (reported). */
sj_status_t sj_cli_finish(sj_cli_t *cli);
void sj_cli_free(sj_cli_t *cli);
/* Prints "seintje <cmd>: <message>" to stderr and returns SJ_EXIT_USAGE. */
int sj_cli_usage_error(const char *cmd, const char *fmt, ...) SJ_PRINTF(2, 3);

#endif
