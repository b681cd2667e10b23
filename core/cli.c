/* Shared command-line plumbing: common options and configuration loading
 * in the documented order (defaults, file, environment, -X). See cli.h. */
#include "cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define MAX_SETS 64

static const char *pending_sets[MAX_SETS];
static size_t n_pending;

sj_status_t sj_cli_init(sj_cli_t *cli, const char *prog)
{
    memset(cli, 0, sizeof *cli);
    n_pending = 0;
    sj_log_setup(prog, SJ_LOG_INFO, SJ_LOG_FORMAT_AUTO);
    cli->conf = sj_conf_new();
    if (!cli->conf) {
        fprintf(stderr, "%s: out of memory\n", prog);
        return SJ_ERR_NOMEM;
    }
    return SJ_OK;
}

int sj_cli_common_opt(sj_cli_t *cli, int opt, const char *arg)
{
    switch (opt) {
    case 'c':
        cli->config_file = arg;
        return 1;
    case 'X':
        if (n_pending == MAX_SETS) {
            fprintf(stderr, "seintje: more than %d -X settings\n", MAX_SETS);
            return -1;
        }
        if (!strchr(arg, '=')) {
            fprintf(stderr, "seintje: -X %s: expected NAME=VALUE\n", arg);
            return -1;
        }
        pending_sets[n_pending++] = arg;
        return 1;
    case 'h':
        cli->help = true;
        return 1;
    case SJ_CLI_OPT_LOG_LEVEL:
    case SJ_CLI_OPT_LOG_FORMAT: {
        char set[160];
        snprintf(set, sizeof set, "%s=%s",
                 opt == SJ_CLI_OPT_LOG_LEVEL ? "log.level" : "log.format", arg);
        char *copy = strdup(set);
        if (!copy || n_pending == MAX_SETS) return -1;
        pending_sets[n_pending++] = copy; /* lives until exit */
        return 1;
    }
    default:
        return 0;
    }
}

sj_status_t sj_cli_finish(sj_cli_t *cli)
{
    char err[768];
    if (cli->config_file &&
        sj_conf_load_file(cli->conf, cli->config_file, err, sizeof err)) {
        fprintf(stderr, "seintje: %s\n", err);
        return SJ_ERR_INPUT;
    }
    if (sj_conf_load_env(cli->conf, err, sizeof err) != SJ_OK) {
        fprintf(stderr, "seintje: %s\n", err);
        return SJ_ERR_INPUT;
    }
    for (size_t i = 0; i < n_pending; i++) {
        char name[256];
        const char *eq = strchr(pending_sets[i], '=');
        size_t n = (size_t)(eq - pending_sets[i]);
        if (n >= sizeof name) n = sizeof name - 1;
        memcpy(name, pending_sets[i], n);
        name[n] = '\0';
        if (sj_conf_set(cli->conf, name, eq + 1, err, sizeof err) != SJ_OK) {
            fprintf(stderr, "seintje: -X %s\n", err);
            return SJ_ERR_INPUT;
        }
    }
    sj_log_level_t lvl;
    sj_log_format_t fmt;
    if (sj_log_level_parse(sj_conf_get(cli->conf, "log.level"), &lvl) != SJ_OK ||
        sj_log_format_parse(sj_conf_get(cli->conf, "log.format"), &fmt) != SJ_OK) {
        fprintf(stderr, "seintje: log.level must be debug|info|warn|error and log.format "
                        "auto|text|json\n");
        return SJ_ERR_INPUT;
    }
    sj_log_setup(NULL, lvl, fmt);
    return SJ_OK;
}

void sj_cli_free(sj_cli_t *cli)
{
    sj_conf_destroy(cli->conf);
    cli->conf = NULL;
}

int sj_cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "seintje %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see seintje %s --help)\n", cmd);
    return SJ_EXIT_USAGE;
}
