/* Population-register CSV reader: splits RFC 4180 lines and maps the columns
 * of a register export onto the input form of a CloudEvents life event. See
 * register_csv.h for the accepted format and the column table.
 *
 * One table (`columns` below) drives the header check, the list of known
 * columns in error messages and the order of keys in the event, so adding a
 * column is one line here plus one line in the header's documentation. */
#include "producers/register_csv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/text.h"
#include "core/timeutil.h"
#include "producers/validate.h"

/* How a column's cell ends up in the event. */
typedef enum {
    COL_SUBJECT, /* nrn -> subject, as given */
    COL_TYPE,    /* event_type -> type, mapped to the catalogue namespace */
    COL_TIME,    /* event_date -> time */
    COL_ID,      /* event_id -> id */
    COL_SOURCE,  /* source -> source */
    COL_TEXT,    /* data.<name> as a string */
    COL_NIS,     /* data.nis, also used for the default source */
    COL_AGE,     /* data.age as an integer */
    COL_CONSENTS /* data.consents as {channel: bool} */
} col_kind_t;

typedef struct column {
    const char *name;
    bool required;
    col_kind_t kind;
} column_t;

static const column_t columns[] = {
    {"nrn", true, COL_SUBJECT},     {"event_type", true, COL_TYPE},
    {"event_date", true, COL_TIME}, {"event_id", false, COL_ID},
    {"source", false, COL_SOURCE},  {"birth_date", false, COL_TEXT},
    {"nis", false, COL_NIS},        {"postcode", false, COL_TEXT},
    {"language", false, COL_TEXT},  {"given_name", false, COL_TEXT},
    {"email", false, COL_TEXT},     {"phone", false, COL_TEXT},
    {"app_inbox", false, COL_TEXT}, {"consents", false, COL_CONSENTS},
    {"household", false, COL_TEXT}, {"expires", false, COL_TEXT},
    {"age", false, COL_AGE},
};
#define NCOLUMNS SJ_ARRAY_LEN(columns)

#define MAX_AGE      150
#define MAX_TYPE_LEN 128 /* bytes of the full type, "be.seintje...." included */

struct sj_csv_reader_s {
    char delim;
    size_t ncols;         /* fields per row */
    int pos[NCOLUMNS];    /* position of each known column, -1 if absent */
    char *default_source; /* owned, may be NULL */
    char *buf;            /* scratch for unescaped fields, owned */
    size_t bufcap;
    sj_csv_field_t fields[SJ_CSV_MAX_COLUMNS];
};

/* ---- splitting ------------------------------------------------------------- */

static void set_text(char *dst, size_t dst_size, const char *msg)
{
    if (!dst || !dst_size) return;
    size_t n = strlen(msg);
    if (n >= dst_size) n = dst_size - 1;
    memcpy(dst, msg, n);
    dst[n] = '\0';
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Copies a quoted field starting after its opening quote at line[*i] into
 * buf[*out..]; leaves *i after the closing quote. */
static sj_status_t split_quoted(const char *line, size_t len, size_t *i, char *buf,
                                size_t *out, char *problem, size_t problem_size)
{
    for (;;) {
        if (*i == len) {
            set_text(problem, problem_size,
                     "quoted field is not closed on this line (multi-line fields are not "
                     "supported)");
            return SJ_ERR_INPUT;
        }
        char c = line[(*i)++];
        if (c == '"') {
            if (*i < len && line[*i] == '"') {
                (*i)++;
            } else {
                return SJ_OK;
            }
        }
        buf[(*out)++] = c;
    }
}

sj_status_t sj_csv_split(const char *line, size_t len, char delim, char *buf,
                         size_t bufsize, sj_csv_field_t *fields, size_t max_fields,
                         size_t *nfields, char *problem, size_t problem_size)
{
    /* Unescaped text never outgrows the raw text, and each field's NUL takes
     * the place of the delimiter after it (the last one of the +1). */
    *nfields = 0;
    if (bufsize < len + 1) {
        set_text(problem, problem_size, "line is too long for the split buffer");
        return SJ_ERR_TOO_BIG;
    }
    size_t i = 0, out = 0, nf = 0;
    for (;;) {
        if (nf == max_fields) {
            if (problem && problem_size)
                snprintf(problem, problem_size, "more than %zu fields", max_fields);
            return SJ_ERR_TOO_BIG;
        }
        size_t start = out;
        while (i < len && is_blank(line[i])) i++;
        if (i < len && line[i] == '"') {
            i++;
            if (split_quoted(line, len, &i, buf, &out, problem, problem_size) != SJ_OK)
                return SJ_ERR_INPUT;
            while (i < len && is_blank(line[i])) i++;
            if (i < len && line[i] != delim) {
                set_text(problem, problem_size,
                         "unexpected text after a closing quote (write a quote inside a "
                         "quoted field as \"\")");
                return SJ_ERR_INPUT;
            }
        } else {
            while (i < len && line[i] != delim) {
                if (line[i] == '"') {
                    set_text(problem, problem_size,
                             "a '\"' inside an unquoted field (quote the whole field and "
                             "double the quote)");
                    return SJ_ERR_INPUT;
                }
                buf[out++] = line[i++];
            }
            while (out > start && is_blank(buf[out - 1])) out--;
        }
        fields[nf].p = buf + start;
        fields[nf].len = out - start;
        nf++;
        buf[out++] = '\0';
        if (i == len) break;
        i++; /* the delimiter */
    }
    *nfields = nf;
    return SJ_OK;
}

/* ---- header ---------------------------------------------------------------- */

/* The first ',' or ';' outside quotes decides; a header without either has a
 * single column and fails the required-column check with a clear message. */
static char detect_delimiter(const char *s, size_t n)
{
    bool quoted = false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"')
            quoted = !quoted;
        else if (!quoted && (s[i] == ',' || s[i] == ';'))
            return s[i];
    }
    return ',';
}

static int column_find(const char *name, size_t n)
{
    for (size_t c = 0; c < NCOLUMNS; c++) {
        const char *k = columns[c].name;
        size_t i = 0;
        while (i < n && k[i]) {
            char ch = name[i];
            if (ch >= 'A' && ch <= 'Z') ch = (char)(ch - 'A' + 'a');
            if (ch != k[i]) break;
            i++;
        }
        if (i == n && k[i] == '\0') return (int)c;
    }
    return -1;
}

/* Whether a header cell may be echoed in an error. A file without its header
 * line has data in its first line, and that data (a register number, an
 * e-mail address) must not reach the logs; real column names have no digits,
 * '@' or '+'. */
static bool plausible_name(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((s[i] >= '0' && s[i] <= '9') || s[i] == '@' || s[i] == '+') return false;
    return true;
}

static void known_columns(char *out, size_t outsize)
{
    size_t k = 0;
    out[0] = '\0';
    for (size_t c = 0; c < NCOLUMNS && k + 1 < outsize; c++) {
        int w = snprintf(out + k, outsize - k, "%s%s", c ? ", " : "", columns[c].name);
        if (w < 0) break;
        k += (size_t)w;
    }
}

/* Explains an unknown column without echoing data: when most columns are
 * unknown the first line is probably a data row (the header is missing), and
 * a cell that could be personal data is named by its position only. */
static void unknown_column_error(const sj_csv_reader_t *r, size_t nf, size_t f,
                                 char *errstr, size_t errstr_size)
{
    char name[64], known[512];
    size_t unknown = 0;
    for (size_t i = 0; i < nf; i++)
        if (column_find(r->fields[i].p, r->fields[i].len) < 0) unknown++;
    known_columns(known, sizeof known);
    const sj_csv_field_t *fl = &r->fields[f];
    if (nf > 1 && unknown * 2 > nf)
        sj_seterr(
            errstr, errstr_size,
            "the first line does not look like a header (%zu of %zu columns unknown); "
            "a header line naming the columns is required (known columns: %s)",
            unknown, nf, known);
    else if (!plausible_name(fl->p, fl->len))
        sj_seterr(errstr, errstr_size,
                  "column %zu is not a column name (is the header line missing?); known "
                  "columns: %s",
                  f + 1, known);
    else {
        sj_preview(fl->p, fl->len, name, sizeof name, 40);
        sj_seterr(errstr, errstr_size, "unknown column '%s' (known columns: %s)%s", name,
                  known, nf == 1 ? "; columns are separated by ',' or ';'" : "");
    }
}

static bool header_columns(sj_csv_reader_t *r, size_t nf, char *errstr,
                           size_t errstr_size)
{
    for (size_t f = 0; f < nf; f++) {
        const sj_csv_field_t *fl = &r->fields[f];
        if (fl->len == 0) {
            sj_seterr(errstr, errstr_size, "column %zu has no name", f + 1);
            return false;
        }
        int c = column_find(fl->p, fl->len);
        if (c < 0) {
            unknown_column_error(r, nf, f, errstr, errstr_size);
            return false;
        }
        if (r->pos[c] >= 0) {
            sj_seterr(errstr, errstr_size, "column '%s' appears twice", columns[c].name);
            return false;
        }
        r->pos[c] = (int)f;
    }
    for (size_t c = 0; c < NCOLUMNS; c++) {
        if (columns[c].required && r->pos[c] < 0) {
            sj_seterr(errstr, errstr_size,
                      "missing required column '%s' (required: nrn, event_type, "
                      "event_date)",
                      columns[c].name);
            return false;
        }
    }
    return true;
}

static bool reserve(sj_csv_reader_t *r, size_t need)
{
    if (need <= r->bufcap) return true;
    size_t cap = r->bufcap ? r->bufcap : 256;
    while (cap < need) cap *= 2;
    char *p = realloc(r->buf, cap);
    if (!p) return false;
    r->buf = p;
    r->bufcap = cap;
    return true;
}

/* Drops a trailing '\r' that a reader other than core/lines.h may leave. */
static size_t strip_cr(const char *s, size_t n)
{
    return n > 0 && s[n - 1] == '\r' ? n - 1 : n;
}

sj_csv_reader_t *sj_csv_reader_new(const char *header, size_t len,
                                   const char *default_source, char *errstr,
                                   size_t errstr_size)
{
    if (len >= 3 && memcmp(header, "\xEF\xBB\xBF", 3) == 0) header += 3, len -= 3;
    len = strip_cr(header, len);
    if (len > SJ_CSV_MAX_LINE) {
        sj_seterr(errstr, errstr_size, "longer than %d bytes", SJ_CSV_MAX_LINE);
        return NULL;
    }
    sj_csv_reader_t *r = calloc(1, sizeof *r);
    if (default_source && !*default_source) default_source = NULL;
    if (!r || (default_source && !(r->default_source = strdup(default_source)))) {
        sj_seterr(errstr, errstr_size, "out of memory");
        sj_csv_reader_destroy(r);
        return NULL;
    }
    for (size_t c = 0; c < NCOLUMNS; c++) r->pos[c] = -1;
    r->delim = detect_delimiter(header, len);

    char problem[160];
    size_t nf;
    if (!reserve(r, len + 1)) {
        sj_seterr(errstr, errstr_size, "out of memory");
        goto fail;
    }
    sj_status_t st = sj_csv_split(header, len, r->delim, r->buf, r->bufcap, r->fields,
                                  SJ_CSV_MAX_COLUMNS, &nf, problem, sizeof problem);
    if (st == SJ_ERR_TOO_BIG) {
        sj_seterr(errstr, errstr_size, "more than %d columns", SJ_CSV_MAX_COLUMNS);
        goto fail;
    }
    if (st != SJ_OK) {
        sj_seterr(errstr, errstr_size, "%s", problem);
        goto fail;
    }
    if (!header_columns(r, nf, errstr, errstr_size)) goto fail;
    r->ncols = nf;
    return r;
fail:
    sj_csv_reader_destroy(r);
    return NULL;
}

void sj_csv_reader_destroy(sj_csv_reader_t *r)
{
    if (!r) return;
    free(r->default_source);
    free(r->buf);
    free(r);
}

char sj_csv_reader_delimiter(const sj_csv_reader_t *r)
{
    return r->delim;
}

/* ---- cells to event -------------------------------------------------------- */

/* Where a row went wrong: the column and the problem, for the caller's
 * "file:line: field: problem" message. */
typedef struct row_err {
    char *field;
    size_t field_size;
    char *problem;
    size_t problem_size;
} row_err_t;

static sj_status_t row_fail(row_err_t *e, const char *field, const char *problem)
{
    set_text(e->field, e->field_size, field);
    set_text(e->problem, e->problem_size, problem);
    return SJ_ERR_INPUT;
}

static sj_status_t set_str(json_t *obj, const char *key, const char *s, size_t n)
{
    return json_object_set_new(obj, key, json_stringn(s, n)) == 0 ? SJ_OK : SJ_ERR_NOMEM;
}

static bool is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

static bool all_name_chars(const char *s, size_t n)
{
    if (n == 0) return false;
    for (size_t i = 0; i < n; i++)
        if (!is_name_char(s[i])) return false;
    return true;
}

/* Maps the event_type cell onto the catalogue's namespace. The catalogue
 * itself is the caller's business; here only the shape is checked. */
static sj_status_t map_type(json_t *ev, const sj_csv_field_t *f, row_err_t *e)
{
    static const char bad[] = "expected a short name such as moved-in, "
                              "service:<name>-requested, or a full type "
                              "be.seintje.life.<name>";
    char low[MAX_TYPE_LEN + 1], full[MAX_TYPE_LEN + 1];
    if (f->len > MAX_TYPE_LEN)
        return row_fail(e, "event_type", "longer than 128 characters");
    for (size_t i = 0; i < f->len; i++) {
        char c = f->p[i];
        low[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    low[f->len] = '\0';

    /* {what the cell starts with, what replaces that} */
    static const char *const forms[][2] = {
        {"be.seintje.life.", "be.seintje.life."},
        {"be.seintje.service.", "be.seintje.service."},
        {"service:", "be.seintje.service."},
        {"", "be.seintje.life."},
    };
    size_t k = 0;
    while (strncmp(low, forms[k][0], strlen(forms[k][0])) != 0)
        k++; /* "" always matches */
    const char *name = low + strlen(forms[k][0]);
    if (!all_name_chars(name, strlen(name))) return row_fail(e, "event_type", bad);
    int w = snprintf(full, sizeof full, "%s%s", forms[k][1], name);
    if (w < 0 || (size_t)w >= sizeof full)
        return row_fail(e, "event_type", "longer than 128 characters");
    return set_str(ev, "type", full, (size_t)w);
}

static sj_status_t map_time(json_t *ev, const sj_csv_field_t *f, row_err_t *e)
{
    int32_t days;
    int64_t ms;
    if (f->len == 10 && sj_date_parse(f->p, f->len, &days) == SJ_OK) {
        char t[32];
        memcpy(t, f->p, 10);
        memcpy(t + 10, "T00:00:00Z", 11);
        return set_str(ev, "time", t, 20);
    }
    if (sj_time_parse_rfc3339(f->p, f->len, &ms) == SJ_OK)
        return set_str(ev, "time", f->p, f->len);
    return row_fail(e, "event_date",
                    "expected a date YYYY-MM-DD or an RFC 3339 time such as "
                    "2026-11-28T09:30:00Z");
}

static sj_status_t map_age(json_t *data, const sj_csv_field_t *f, row_err_t *e)
{
    uint64_t age;
    if (sj_parse_u64(f->p, f->len, &age) != SJ_OK || age > MAX_AGE)
        return row_fail(e, "age", "expected a whole number of years, 0-150");
    return json_object_set_new(data, "age", json_integer((json_int_t)age)) == 0
               ? SJ_OK
               : SJ_ERR_NOMEM;
}

/* "email|app" -> {"email":true,"sms":false,"app":true}. Items are trimmed and
 * lowercased; empty items are ignored so "email;" or "email||app" still read
 * as meant. */
static sj_status_t map_consents(json_t *data, const sj_csv_field_t *f, row_err_t *e)
{
    static const char *const keys[SJ_VALIDATE_CHANNELS] = {"email", "sms", "app"};
    bool on[SJ_VALIDATE_CHANNELS] = {false};
    size_t i = 0;
    while (i <= f->len) {
        size_t start = i;
        while (i < f->len && f->p[i] != '|' && f->p[i] != ';') i++;
        size_t a = start, b = i;
        while (a < b && is_blank(f->p[a])) a++;
        while (b > a && is_blank(f->p[b - 1])) b--;
        i++;
        if (a == b) continue;
        char item[16];
        unsigned ch;
        if (b - a >= sizeof item) goto bad;
        for (size_t k = a; k < b; k++) {
            char c = f->p[k];
            item[k - a] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
        }
        if (sj_channel_parse(item, b - a, &ch, NULL, 0) != SJ_OK) goto bad;
        on[ch] = true;
    }
    json_t *obj = json_object();
    if (!obj || json_object_set_new(data, "consents", obj) != 0) return SJ_ERR_NOMEM;
    for (size_t c = 0; c < SJ_VALIDATE_CHANNELS; c++)
        if (json_object_set_new(obj, keys[c], json_boolean(on[c])) != 0)
            return SJ_ERR_NOMEM;
    return SJ_OK;
bad:
    return row_fail(
        e, "consents",
        "expected channels email, sms, app separated by '|' or ';' (empty for "
        "none, '-' for unknown)");
}

/* Position of the (single) column of a kind, -1 when the header lacks it. */
static int pos_of(const sj_csv_reader_t *r, col_kind_t kind)
{
    for (size_t c = 0; c < NCOLUMNS; c++)
        if (columns[c].kind == kind) return r->pos[c];
    return -1;
}

static sj_status_t map_source(const sj_csv_reader_t *r, json_t *ev)
{
    int sp = pos_of(r, COL_SOURCE), np = pos_of(r, COL_NIS);
    if (sp >= 0 && r->fields[sp].len)
        return set_str(ev, "source", r->fields[sp].p, r->fields[sp].len);
    if (np >= 0 && r->fields[np].len) {
        char urn[64];
        int w = snprintf(urn, sizeof urn, "urn:nis:%s:population", r->fields[np].p);
        return set_str(ev, "source", urn, (size_t)w);
    }
    if (r->default_source)
        return set_str(ev, "source", r->default_source, strlen(r->default_source));
    return SJ_OK;
}

/* Cells must be UTF-8 (jansson refuses anything else) without control
 * characters (they would corrupt logs and templates downstream). */
static sj_status_t check_cells(const sj_csv_reader_t *r, row_err_t *e)
{
    for (size_t c = 0; c < NCOLUMNS; c++) {
        if (r->pos[c] < 0) continue;
        const sj_csv_field_t *f = &r->fields[r->pos[c]];
        if (!sj_utf8_valid(f->p, f->len, NULL))
            return row_fail(e, columns[c].name,
                            "is not valid utf-8 (export the file as \"csv utf-8\")");
        for (size_t i = 0; i < f->len; i++) {
            unsigned char ch = (unsigned char)f->p[i];
            if (ch < 0x20 || ch == 0x7F)
                return row_fail(e, columns[c].name, "contains a control character");
        }
    }
    return SJ_OK;
}

static sj_status_t map_cell(const sj_csv_reader_t *r, size_t c, json_t *ev, json_t *data,
                            row_err_t *e)
{
    const sj_csv_field_t *f = &r->fields[r->pos[c]];
    if (f->len == 0 && columns[c].kind != COL_CONSENTS) {
        if (columns[c].required) return row_fail(e, columns[c].name, "is required");
        return SJ_OK;
    }
    char why[128];
    switch (columns[c].kind) {
    case COL_SUBJECT:
        return set_str(ev, "subject", f->p, f->len);
    case COL_TYPE:
        return map_type(ev, f, e);
    case COL_TIME:
        return map_time(ev, f, e);
    case COL_ID:
        return set_str(ev, "id", f->p, f->len);
    case COL_SOURCE:
        return SJ_OK; /* map_source() decides, once nis is known */
    case COL_NIS:
        if (sj_nis_valid(f->p, f->len, why, sizeof why) != SJ_OK)
            return row_fail(e, columns[c].name, why);
        return set_str(data, columns[c].name, f->p, f->len);
    case COL_TEXT:
        return set_str(data, columns[c].name, f->p, f->len);
    case COL_AGE:
        return map_age(data, f, e);
    case COL_CONSENTS:
        if (f->len == 1 && f->p[0] == '-') return SJ_OK;
        return map_consents(data, f, e);
    }
    return SJ_OK;
}

static bool row_blank(const sj_csv_field_t *fields, size_t nf)
{
    for (size_t i = 0; i < nf; i++)
        if (fields[i].len) return false;
    return true;
}

/* Splits the line into r->fields and checks the field count. On SJ_OK *blank
 * tells whether the row holds nothing at all. */
static sj_status_t row_split(sj_csv_reader_t *r, const char *line, size_t len,
                             bool *blank, row_err_t *e)
{
    char problem[160];
    size_t nf;
    if (len > SJ_CSV_MAX_LINE) return row_fail(e, "line", "longer than 1048576 bytes");
    if (!reserve(r, len + 1)) return SJ_ERR_NOMEM;
    sj_status_t st = sj_csv_split(line, len, r->delim, r->buf, r->bufcap, r->fields,
                                  r->ncols, &nf, problem, sizeof problem);
    if (st == SJ_ERR_TOO_BIG) {
        snprintf(problem, sizeof problem, "row has more fields than the header (%zu)",
                 r->ncols);
        return row_fail(e, "line", problem);
    }
    if (st != SJ_OK) return row_fail(e, "line", problem);
    *blank = row_blank(r->fields, nf);
    if (!*blank && nf != r->ncols) {
        snprintf(problem, sizeof problem, "row has %zu fields, the header has %zu", nf,
                 r->ncols);
        return row_fail(e, "line", problem);
    }
    return SJ_OK;
}

static sj_status_t build_event(const sj_csv_reader_t *r, json_t *ev, json_t *data,
                               row_err_t *e)
{
    sj_status_t st = SJ_OK;
    if (set_str(ev, "specversion", "1.0", 3) != SJ_OK) return SJ_ERR_NOMEM;
    /* Envelope first, in table order (which is also the order of keys in the
     * event), then the source, which depends on nis. */
    for (size_t c = 0; c < NCOLUMNS && st == SJ_OK; c++)
        if (r->pos[c] >= 0) st = map_cell(r, c, ev, data, e);
    if (st != SJ_OK) return st;
    if (map_source(r, ev) != SJ_OK ||
        set_str(ev, "datacontenttype", "application/json", 16) != SJ_OK ||
        json_object_set(ev, "data", data) != 0)
        return SJ_ERR_NOMEM;
    return SJ_OK;
}

sj_status_t sj_csv_row_to_event(sj_csv_reader_t *r, const char *line, size_t len,
                                json_t **event_out, char *field, size_t field_size,
                                char *problem, size_t problem_size)
{
    row_err_t e = {field, field_size, problem, problem_size};
    bool blank = false;
    *event_out = NULL;
    len = strip_cr(line, len);
    sj_status_t st = row_split(r, line, len, &blank, &e);
    if (st != SJ_OK || blank) return st;
    if ((st = check_cells(r, &e)) != SJ_OK) return st;

    json_t *ev = json_object(), *data = json_object();
    st = ev && data ? build_event(r, ev, data, &e) : SJ_ERR_NOMEM;
    json_decref(data);
    if (st != SJ_OK) {
        if (st == SJ_ERR_NOMEM) row_fail(&e, "line", "out of memory");
        json_decref(ev);
        return st;
    }
    *event_out = ev;
    return SJ_OK;
}
