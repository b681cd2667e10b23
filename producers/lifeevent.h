/* Life events: the documented catalogue of event types and their data
 * fields, and the check that turns an input event (subject = national register
 * number) into the event Seintje publishes (subject = keyed pseudonym).
 *
 * Input is one CloudEvents 1.0 structured-mode JSON object per line. The
 * check validates JSON syntax, the required attributes (specversion "1.0", id,
 * source, type, time, subject), the type against the catalogue, RFC 3339 time,
 * the national register number's check digits, every data field against its
 * format (dates, NIS code, postcode, language, E.164 phone, e-mail, consents),
 * and refuses register numbers hiding in other fields. The output is the input
 * line byte for byte except the subject, so nothing else is reinterpreted. */
#ifndef SJ_LIFEEVENT_H
#define SJ_LIFEEVENT_H

#include <stdio.h>

#include "core/buf.h"
#include "core/common.h"
#include "core/crypto.h"

#define SJ_EVENT_MAX_MEMBERS 64 /* per object, top level and data */
#define SJ_EVENT_MAX_DEPTH   16

/* Where and why an event was refused: field is "json", "subject",
 * "data.email", ...; problem is plain text without the offending personal
 * data. */
typedef struct sj_event_problem {
    char field[64];
    char problem[256];
} sj_event_problem_t;

/* Checks one input line and appends the output event to out (which the
 * caller resets); writes the resident pseudonym (the Kafka key) into key.
 * Returns SJ_OK, SJ_ERR_INPUT with *why filled, or SJ_ERR_TOO_BIG when out's
 * bound is reached. Thread-safety: h is used, so one call at a time per h. */
sj_status_t sj_lifeevent_check(sj_hmac_t *h, const char *line, size_t len, sj_buf_t *out,
                               char key[SJ_PSEUDONYM_LEN + 1], sj_event_problem_t *why);

/* Whether type is in the catalogue. */
int sj_lifeevent_type_known(const char *type);

/* Prints the catalogue (types, required and optional data fields) as Markdown. */
void sj_lifeevent_print_catalogue(FILE *out);

#endif
