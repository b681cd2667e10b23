/* `seintje`: one binary, git-style subcommands. This file only dispatches;
 * each command lives with the stage it belongs to (see commands.h). */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "core/cli.h"
#include "core/common.h"
#include "core/config.h"

typedef struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} command_t;

static const command_t commands[] = {
    {"produce", sj_cmd_produce, "validate life events, pseudonymise, publish to Kafka"},
    {"synth", sj_cmd_synth, "write a synthetic population's life events as JSON lines"},
    {"segment", sj_cmd_segment, "turn life events into notification intents"},
    {"batch", sj_cmd_batch, "run a batch campaign over every resident profile"},
    {"campaign", sj_cmd_campaign, "validate campaign files"},
    {"resident", sj_cmd_resident, "show or forget what Seintje keeps about one resident"},
    {"deliver", sj_cmd_deliver, "render and deliver notification intents"},
    {"dead-letter", sj_cmd_dead_letter, "list or replay messages that failed for good"},
    {"render", sj_cmd_render, "render a Mustache template (for officers and tests)"},
    {"rule", sj_cmd_rule,
     "evaluate a JsonLogic rule over JSON data (try audience rules)"},
    {"experiment", sj_cmd_experiment,
     "experiment statistics from counts per arm (stats)"},
    {"demo", sj_cmd_demo, "run the whole pipeline in one process on embedded defaults"},
    {"config", sj_cmd_config, "print the configuration reference"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: seintje <command> [options]   (seintje <command> --help)\n\n"
                 "Proactive notifications for local governments: life events in,\n"
                 "the right message at the right moment out.\n\ncommands:\n");
    for (size_t i = 0; i < SJ_ARRAY_LEN(commands); i++)
        fprintf(out, "  %-11s %s\n", commands[i].name, commands[i].summary);
}

int sj_cmd_config(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--reference") != 0) {
        fprintf(argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))
                    ? stdout
                    : stderr,
                "usage: seintje config [--reference]\n"
                "Prints every setting with its default and meaning, as Markdown.\n"
                "Settings come from -c FILE, SEINTJE_* environment variables and -X.\n");
        return (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) ? SJ_EXIT_OK
                                                                      : SJ_EXIT_USAGE;
    }
    sj_conf_print_reference(stdout);
    return SJ_EXIT_OK;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return SJ_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
        !strcmp(argv[1], "help")) {
        usage(stdout);
        return SJ_EXIT_OK;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("seintje 0.1.0\n");
        return SJ_EXIT_OK;
    }
    for (size_t i = 0; i < SJ_ARRAY_LEN(commands); i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "seintje: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return SJ_EXIT_USAGE;
}
