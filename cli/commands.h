/* Every `seintje <command>` entry point. Each returns a process exit code
 * (SJ_EXIT_OK, SJ_EXIT_FAILURE, SJ_EXIT_USAGE) and is defined by the stage it
 * belongs to; argv[0] is the command name. */
#ifndef SJ_COMMANDS_H
#define SJ_COMMANDS_H

int sj_cmd_produce(int argc, char **argv);     /* producers/produce.c */
int sj_cmd_synth(int argc, char **argv);       /* producers/produce.c */
int sj_cmd_segment(int argc, char **argv);     /* segments/segment.c */
int sj_cmd_campaign(int argc, char **argv);    /* segments/segment.c */
int sj_cmd_batch(int argc, char **argv);       /* segments/batch.c */
int sj_cmd_resident(int argc, char **argv);    /* segments/resident.c */
int sj_cmd_deliver(int argc, char **argv);     /* consumers/deliver.c */
int sj_cmd_dead_letter(int argc, char **argv); /* consumers/deadletter.c */
int sj_cmd_render(int argc, char **argv);      /* templates/render_cmd.c */
int sj_cmd_rule(int argc, char **argv);        /* segments/rule_cmd.c */
int sj_cmd_experiment(int argc, char **argv);  /* segments/experiment_cmd.c */
int sj_cmd_demo(int argc, char **argv);        /* cli/demo.c */
int sj_cmd_config(int argc, char **argv);      /* cli/main.c */

#endif
