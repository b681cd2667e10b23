/* The logger: text on a terminal, JSON lines otherwise, on stderr, one
 * write(2) per record so lines from several threads never interleave. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "timeutil.h"

static const char *log_prog = "seintje";
static sj_log_level_t log_min = SJ_LOG_INFO;
static sj_log_format_t log_fmt = SJ_LOG_FORMAT_AUTO;
static const char *level_names[] = {"debug", "info", "warn", "error"};

void sj_log_setup(const char *prog, sj_log_level_t min, sj_log_format_t fmt)
{
    if (prog) log_prog = prog;
    log_min = min;
    log_fmt = fmt;
}

sj_status_t sj_log_level_parse(const char *s, sj_log_level_t *out)
{
    for (size_t i = 0; i < SJ_ARRAY_LEN(level_names); i++)
        if (!strcmp(s, level_names[i])) {
            *out = (sj_log_level_t)i;
            return SJ_OK;
        }
    return SJ_ERR_INPUT;
}

sj_status_t sj_log_format_parse(const char *s, sj_log_format_t *out)
{
    if (!strcmp(s, "auto"))
        *out = SJ_LOG_FORMAT_AUTO;
    else if (!strcmp(s, "text"))
        *out = SJ_LOG_FORMAT_TEXT;
    else if (!strcmp(s, "json"))
        *out = SJ_LOG_FORMAT_JSON;
    else
        return SJ_ERR_INPUT;
    return SJ_OK;
}

bool sj_log_enabled(sj_log_level_t lvl)
{
    return lvl >= log_min;
}

/* Appends s as the body of a JSON string (without quotes). */
static size_t json_escape(char *out, size_t cap, size_t k, const char *s)
{
    for (; *s && k + 7 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[k++] = '\\';
            out[k++] = (char)c;
        } else if (c < 0x20) {
            k += (size_t)snprintf(out + k, cap - k, "\\u%04x", c);
        } else {
            out[k++] = (char)c;
        }
    }
    return k;
}

void sj_log(sj_log_level_t lvl, const char *facility, const char *fmt, ...)
{
    if (lvl < log_min) return;
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);

    char line[4608];
    size_t k;
    bool json = log_fmt == SJ_LOG_FORMAT_JSON ||
                (log_fmt == SJ_LOG_FORMAT_AUTO && !isatty(STDERR_FILENO));
    if (json) {
        char ts[32];
        sj_time_format_rfc3339(sj_now_ms(), ts);
        k = (size_t)snprintf(
            line, sizeof line,
            "{\"time\":\"%s\",\"level\":\"%s\",\"prog\":\"%s\",\"facility\":\"", ts,
            level_names[lvl], log_prog);
        k = json_escape(line, sizeof line, k, facility);
        k += (size_t)snprintf(line + k, sizeof line - k, "\",\"msg\":\"");
        k = json_escape(line, sizeof line, k, msg);
        k += (size_t)snprintf(line + k, sizeof line - k, "\"}\n");
    } else {
        /* On a terminal the facility names the part: "seintje kafka: warn: ..." */
        k = (size_t)snprintf(line, sizeof line, "seintje %s: %s: %s\n", facility,
                             level_names[lvl], msg);
    }
    if (k >= sizeof line) {
        k = sizeof line - 1;
        line[k - 1] = '\n';
    }
    ssize_t w = write(STDERR_FILENO, line, k);
    (void)w;
}
