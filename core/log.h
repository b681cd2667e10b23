/* Logging: levels plus a facility, human text on a terminal, JSON lines
 * otherwise, always on stderr. Never log personal data: mask with sj_mask().
 *
 *     sj_log(SJ_LOG_INFO, "produce", "published %zu events", n);
 */
#ifndef SJ_LOG_H
#define SJ_LOG_H

#include <stdbool.h>

#include "common.h"

typedef enum { SJ_LOG_DEBUG = 0, SJ_LOG_INFO, SJ_LOG_WARN, SJ_LOG_ERROR } sj_log_level_t;
typedef enum {
    SJ_LOG_FORMAT_AUTO = 0,
    SJ_LOG_FORMAT_TEXT,
    SJ_LOG_FORMAT_JSON
} sj_log_format_t;

/* Sets the program name, minimum level and format. Call from main() only. */
void sj_log_setup(const char *prog, sj_log_level_t min, sj_log_format_t fmt);
/* Parses "debug|info|warn|error"; returns SJ_ERR_INPUT on anything else. */
sj_status_t sj_log_level_parse(const char *s, sj_log_level_t *out);
sj_status_t sj_log_format_parse(const char *s, sj_log_format_t *out);
bool sj_log_enabled(sj_log_level_t lvl);
/* Thread-safe: one write(2) per record. */
void sj_log(sj_log_level_t lvl, const char *facility, const char *fmt, ...)
    SJ_PRINTF(3, 4);

#endif
