/* Configuration: one table of settings drives parsing, validation, `--help`
 * and the configuration reference in the README (`seintje config --reference`).
 *
 * Sources, later ones win: built-in defaults, the file given with -c/--config
 * ("name = value" lines, '#' comments), environment variables SEINTJE_<NAME>
 * (name upper-cased, '.' and '-' turned into '_', e.g. SEINTJE_REDIS_URL),
 * and -X name=value on the command line. Settings under `kafka.` are passed
 * to librdkafka unchanged (file and -X only). */
#ifndef SJ_CONFIG_H
#define SJ_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "common.h"

typedef enum { SJ_CONF_STRING, SJ_CONF_INT, SJ_CONF_BOOL } sj_conf_type_t;

typedef struct sj_conf_def {
    const char *name;
    sj_conf_type_t type;
    const char *def;  /* default as text; NULL = unset */
    int64_t min, max; /* for SJ_CONF_INT */
    const char *doc;
} sj_conf_def_t;

typedef struct sj_conf_s sj_conf_t;

/* New configuration holding the defaults. Never fails except on ENOMEM (NULL). */
sj_conf_t *sj_conf_new(void);
void sj_conf_destroy(sj_conf_t *c);

/* Sets one setting, validating name, type and range. Errors name the setting
 * and the value and say what is allowed. */
sj_status_t sj_conf_set(sj_conf_t *c, const char *name, const char *value, char *errstr,
                        size_t errstr_size);
/* Reads a file of "name = value" lines; errors are "file:line: ...". */
sj_status_t sj_conf_load_file(sj_conf_t *c, const char *path, char *errstr,
                              size_t errstr_size);
/* Applies SEINTJE_* environment variables that name known settings. */
sj_status_t sj_conf_load_env(sj_conf_t *c, char *errstr, size_t errstr_size);

/* Borrowed value, or NULL when unset. Asking for an unknown name aborts: it is
 * a programming error, not a user error. */
const char *sj_conf_get(const sj_conf_t *c, const char *name);
int64_t sj_conf_get_int(const sj_conf_t *c, const char *name);
bool sj_conf_get_bool(const sj_conf_t *c, const char *name);

/* Calls fn for every kafka.* setting, with the prefix removed. */
typedef sj_status_t (*sj_conf_kafka_fn)(void *opaque, const char *name,
                                        const char *value);
sj_status_t sj_conf_each_kafka(const sj_conf_t *c, sj_conf_kafka_fn fn, void *opaque);

/* The settings table, and a Markdown reference table generated from it. */
const sj_conf_def_t *sj_conf_defs(size_t *count);
void sj_conf_print_reference(FILE *out);

#endif
