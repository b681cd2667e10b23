/* Fuzz target: the population-register CSV reader. The first line of the
 * input is the header, every further line a row (at most 256). Invariants:
 * never crash or leak; an accepted row is an object with the CloudEvents
 * envelope the producer relies on; a refused row names a field and a
 * problem; and no message ever carries a run of 11 digits (a register
 * number must not reach the logs through an error). Lines are copied into
 * exact-size buffers so that ASan sees any read past their end. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/timeutil.h"
#include "producers/register_csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ROWS 256

static void no_long_digit_run(const char *s)
{
    size_t run = 0;
    for (; *s; s++) {
        run = (*s >= '0' && *s <= '9') ? run + 1 : 0;
        if (run >= 11) abort();
    }
}

static char *copy(const uint8_t *p, size_t n)
{
    char *c = malloc(n ? n : 1);
    if (!c) abort();
    if (n) memcpy(c, p, n);
    return c;
}

static const char *str_member(const json_t *ev, const char *key)
{
    const char *s = json_string_value(json_object_get(ev, key));
    if (!s) abort();
    return s;
}

static void check_event(json_t *ev)
{
    if (!json_is_object(ev) || ev->refcount != 1) abort();
    if (strcmp(str_member(ev, "specversion"), "1.0") != 0) abort();
    if (strcmp(str_member(ev, "datacontenttype"), "application/json") != 0) abort();
    if (!*str_member(ev, "subject")) abort();
    if (strncmp(str_member(ev, "type"), "be.seintje.", 11) != 0) abort();
    const char *t = str_member(ev, "time");
    int64_t ms;
    if (sj_time_parse_rfc3339(t, strlen(t), &ms) != SJ_OK) abort();
    if (!json_is_object(json_object_get(ev, "data"))) abort();
    json_t *id = json_object_get(ev, "id");
    if (id && (!json_is_string(id) || !*json_string_value(id))) abort();
    char *s = json_dumps(ev, JSON_COMPACT);
    if (!s) abort();
    free(s);
}

static void row(sj_csv_reader_t *r, const uint8_t *p, size_t n)
{
    char *line = copy(p, n);
    char field[64], problem[256];
    static char marker;
    json_t *ev = (json_t *)(void *)&marker; /* must be overwritten */
    sj_status_t st = sj_csv_row_to_event(r, line, n, &ev, field, sizeof field, problem,
                                         sizeof problem);
    if (ev == (json_t *)(void *)&marker) abort();
    if (st == SJ_OK) {
        if (ev) check_event(ev);
        json_decref(ev);
    } else {
        if (st != SJ_ERR_INPUT || ev || !field[0] || !problem[0]) abort();
        no_long_digit_run(field);
        no_long_digit_run(problem);
    }
    /* The splitter alone, with the tightest buffer it allows. */
    char *buf = malloc(n + 1);
    sj_csv_field_t f[8];
    size_t nf;
    if (!buf) abort();
    if (sj_csv_split(line, n, ';', buf, n + 1, f, 8, &nf, NULL, 0) == SJ_OK) {
        for (size_t i = 0; i < nf; i++)
            if (f[i].p < buf || f[i].p + f[i].len >= buf + n + 1 || f[i].p[f[i].len])
                abort();
    }
    free(buf);
    free(line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t hlen = nl ? (size_t)(nl - data) : size;
    char *header = copy(data, hlen);
    char err[512] = "";
    sj_csv_reader_t *r = sj_csv_reader_new(header, hlen, "urn:fuzz", err, sizeof err);
    free(header);
    if (!r) {
        if (!err[0]) abort();
        no_long_digit_run(err);
        return 0;
    }
    if (sj_csv_reader_delimiter(r) != ',' && sj_csv_reader_delimiter(r) != ';') abort();
    size_t pos = nl ? hlen + 1 : size;
    for (int rows = 0; pos < size && rows < MAX_ROWS; rows++) {
        const uint8_t *end = memchr(data + pos, '\n', size - pos);
        size_t n = end ? (size_t)(end - (data + pos)) : size - pos;
        row(r, data + pos, n);
        pos += n + 1;
    }
    sj_csv_reader_destroy(r);
    return 0;
}
