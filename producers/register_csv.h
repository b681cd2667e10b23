/* Population-register CSV export reader for `seintje produce`.
 *
 * Municipalities export life events from the population register as CSV: one
 * header line, then one event per line. This module turns each row into the
 * input form of a CloudEvents 1.0 life event (a jansson object). It checks
 * the CSV structure and the fields it must interpret to build the envelope
 * (event type, event date, NIS code for the source, age, consents); every
 * other field is passed through as text and checked by the producer. The producer then
 * validates the event like any JSON-lines input, replaces the register number in
 * `subject` by its pseudonym and derives an `id` when the export has none.
 *
 * Format (RFC 4180 with two practical relaxations):
 *  - fields separated by ',' or by ';' (what Excel writes in Belgian locales);
 *    the separator is the first ',' or ';' outside quotes in the header line;
 *  - fields may be double-quoted with "" for a literal quote; a quoted field
 *    that does not close on its line is refused ("multi-line fields are not
 *    supported"), since input is read line by line; a '"' inside an unquoted
 *    field is refused too;
 *  - unquoted fields are trimmed of surrounding spaces and tabs (quoted ones are
 *    kept exactly); fields must be UTF-8 without control characters;
 *  - a UTF-8 byte order mark before the header is skipped; a trailing '\r' is
 *    ignored; at most 64 columns and lines of at most 1 MiB;
 *  - the header is required; column names are case-insensitive, each may occur
 *    once, and an unknown column is an error (a typo must not silently drop
 *    data);
 *  - every row has exactly as many fields as the header; a row that is empty
 *    or holds only separators (Excel's ";;;;") is skipped;
 *  - an empty cell means "not given": its key is left out of the event
 *    (consents excepted, see (1) below).
 *
 * Columns (copy for the README; "\|" is a literal "|" in Markdown):
 *
 * | column     | req. | format                                   | example           |
 * |------------|------|------------------------------------------|-------------------|
 * | nrn        | yes  | national register number, any usual form | 85.07.30-033.28   |
 * | event_type | yes  | short name, service:<name> or full type  | moved-in          |
 * | event_date | yes  | YYYY-MM-DD (midnight UTC) or RFC 3339    | 2026-11-28        |
 * | event_id   | no   | unique per source; derived when empty    | pr-2026-000123    |
 * | source     | no   | URI, default urn:nis:<nis>:population    | urn:x-gemeente:ab |
 * | birth_date | no   | YYYY-MM-DD                               | 1985-07-30        |
 * | nis        | no   | 5-digit NIS municipality code            | 44021             |
 * | postcode   | no   | 4 digits, 1000-9999                      | 9000              |
 * | language   | no   | nl, fr, de or en                         | nl                |
 * | given_name | no   | text                                     | An                |
 * | email      | no   | e-mail address                           | an@example.be     |
 * | phone      | no   | E.164                                    | +32470123456      |
 * | app_inbox  | no   | citizen-app inbox id                     | inbox-7f3a        |
 * | consents   | no   | channels, `\|`- or `;`-separated (1)     | email\|app        |
 * | household  | no   | household id                             | hh-000042         |
 * | expires    | no   | YYYY-MM-DD (id-card-expiring)            | 2027-01-31        |
 * | age        | no   | whole number 0-150 (birthday)            | 18                |
 *
 * (1) of email, sms, app; an empty cell means no consent on any channel,
 *     "-" means unknown (the event then carries no consents).
 *
 * Mapping to the event:
 *  - specversion "1.0", datacontenttype "application/json";
 *  - subject = nrn exactly as given (trimmed), to be pseudonymised by the caller;
 *  - type: "moved-in" -> "be.seintje.life.moved-in",
 *    "service:parking-permit-requested" -> "be.seintje.service.parking-permit-requested",
 *    a full "be.seintje.life.*" / "be.seintje.service.*" type is kept; names are
 *    lowercased; whether the type is in the catalogue is checked by the caller;
 *  - time: event_date as given when it is RFC 3339, "<date>T00:00:00Z" for a date;
 *  - id: event_id, or no "id" key at all (the caller derives one);
 *  - source: the source column, else "urn:nis:<nis>:population" when nis is
 *    given, else the reader's default source (no "source" key if that is NULL);
 *  - data: birth_date, nis, postcode, language, given_name, email, phone,
 *    app_inbox, household, expires as strings; age as an integer; consents as
 *    {"email":bool,"sms":bool,"app":bool}.
 *
 *     sj_csv_reader_t *r = sj_csv_reader_new(header, hlen, NULL, err, sizeof err);
 *     json_t *ev;
 *     char field[32], why[256];
 *     if (sj_csv_row_to_event(r, line, len, &ev, field, sizeof field, why, sizeof why)
 *             != SJ_OK)
 *         fprintf(stderr, "%s:%lu: %s: %s\n", path, lineno, field, why);
 *     else if (ev) { ...; json_decref(ev); }
 *     sj_csv_reader_destroy(r);
 *
 * Thread-safety: a reader keeps a scratch buffer; use one reader per thread.
 */
#ifndef SJ_REGISTER_CSV_H
#define SJ_REGISTER_CSV_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "core/common.h"

#define SJ_CSV_MAX_COLUMNS 64
#define SJ_CSV_MAX_LINE    (1024 * 1024) /* bytes, without the newline */

typedef struct sj_csv_reader_s sj_csv_reader_t;

/* Parses the header line header[0..len) (without its newline) and returns a
 * reader, or NULL with a message in errstr (e.g. "unknown column 'adres'
 * (known columns: nrn, event_type, ...)"). default_source may be NULL; it is
 * copied. Free the reader with sj_csv_reader_destroy(). */
sj_csv_reader_t *sj_csv_reader_new(const char *header, size_t len,
                                   const char *default_source, char *errstr,
                                   size_t errstr_size);

/* Frees the reader; NULL is a no-op. */
void sj_csv_reader_destroy(sj_csv_reader_t *r);

/* The field separator detected from the header: ',' or ';'. */
char sj_csv_reader_delimiter(const sj_csv_reader_t *r);

/* Turns one data line line[0..len) (without its newline) into an event.
 *
 * On SJ_OK, *event_out is a new reference the caller must json_decref(), or
 * NULL when the row is blank and should be skipped. On SJ_ERR_INPUT,
 * *event_out is NULL, `field` receives the column at fault ("line" for
 * structural problems) and `problem` a text in the style of validate.h that
 * never quotes personal data. SJ_ERR_NOMEM when memory ran out. field and
 * problem may be NULL. */
sj_status_t sj_csv_row_to_event(sj_csv_reader_t *r, const char *line, size_t len,
                                json_t **event_out, char *field, size_t field_size,
                                char *problem, size_t problem_size);

/* One field of a split line: a pointer into the caller's `buf` (quotes removed,
 * "" unescaped, NUL-terminated) and its length. */
typedef struct sj_csv_field {
    const char *p;
    size_t len;
} sj_csv_field_t;

/* Splits line[0..len) at `delim` (not a space, tab or '"') into at most max_fields
 * fields, unescaping quoted fields into buf, which must hold at least len + 1 bytes (the
 * text only shrinks, and each field's NUL takes the place of its delimiter). Sets
 * *nfields. Returns SJ_ERR_INPUT with a problem text for a quoting error, SJ_ERR_TOO_BIG
 * when the line has more than max_fields fields or buf is too small. Unquoted fields are
 * trimmed of spaces and tabs. */
sj_status_t sj_csv_split(const char *line, size_t len, char delim, char *buf,
                         size_t bufsize, sj_csv_field_t *fields, size_t max_fields,
                         size_t *nfields, char *problem, size_t problem_size);

#endif
