/* `seintje experiment rebuild`: an experiment's counters (sj:{exp}:<id>)
 * counted again from the Kafka topics they come from, compared with the live
 * ones and, with --write, put in their place. See experiment_rebuild.c. */
#ifndef SJ_EXPERIMENT_REBUILD_H
#define SJ_EXPERIMENT_REBUILD_H

/* The subcommand, called by `seintje experiment` (segments/experiment_cmd.c)
 * with argv[0] = "rebuild". Prints the comparison on stdout, problems on
 * stderr; returns SJ_EXIT_OK, SJ_EXIT_FAILURE (Kafka, Redis, memory or the
 * output failed) or SJ_EXIT_USAGE (bad usage, an unknown experiment). Main
 * thread only: it uses getopt. */
int sj_experiment_rebuild_cmd(int argc, char **argv);

#endif
