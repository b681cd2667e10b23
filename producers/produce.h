/* `seintje produce`: life events in, pseudonymised CloudEvents into Kafka.
 *
 * Reads JSON lines or a register CSV export (file or stdin) or generates a
 * synthetic population, checks every line (lifeevent.h), publishes the good
 * ones with the idempotent producer (key = pseudonym) and waits for every
 * delivery report. Bad lines are reported as "file:line: field: problem" and
 * written with their reason to the reject file; they never stop good lines.
 * The library entry point serves the command and `seintje demo`. */
#ifndef SJ_PRODUCE_H
#define SJ_PRODUCE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/common.h"
#include "core/config.h"

typedef enum { SJ_INPUT_AUTO = 0, SJ_INPUT_JSON, SJ_INPUT_CSV } sj_input_format_t;

typedef struct sj_produce_opts {
    const char *input;        /* path or "-"; ignored when synthetic > 0 */
    sj_input_format_t format; /* AUTO: .csv extension means CSV */
    uint64_t synthetic;       /* > 0: generate this many residents instead */
    uint64_t seed;            /* synthetic population seed */
    int year;                 /* synthetic year (0 = default) */
    bool dry_run;             /* write checked events to stdout, not to Kafka */
    bool insecure_dev_key;    /* allow the public development key */
    bool quiet;               /* no per-line errors on stderr (reject file only) */
} sj_produce_opts_t;

typedef struct sj_produce_stats {
    uint64_t read;      /* input lines or generated events */
    uint64_t published; /* acknowledged by Kafka (or written, in a dry run) */
    uint64_t rejected;  /* refused by the checks */
    uint64_t failed;    /* valid, but Kafka did not acknowledge them */
    double seconds;
} sj_produce_stats_t;

/* Runs one produce job. Returns SJ_OK when it ran to the end (look at stats
 * for rejected/failed lines), else an error with errstr filled (no key, no
 * input file, Kafka unreachable ...). Not thread-safe: one job at a time per
 * process (it installs no signal handlers; the command does). */
sj_status_t sj_produce_run(const sj_conf_t *conf, const sj_produce_opts_t *o,
                           sj_produce_stats_t *stats, char *errstr, size_t errstr_size);

#endif
