/* Test helper: builds one e-mail with sj_email_build() from a JSON object on
 * standard input and writes the message to standard output, so an
 * independent MIME parser (test_email_mime.py, Python's email package) can
 * check what our builder produces. Also handy by hand:
 *
 *     echo '{"subject":"Zo\u00eb", ...}' | mime_sample > msg.eml
 *
 * Keys (strings unless noted; \u0000 inside a string is passed on, to test
 * rejection): from_name, from, to_name, to, reply_to_name, reply_to, subject,
 * text, html, id, domain, date_ms (integer), unsubscribe_url,
 * unsubscribe_mailto. Absent keys are absent fields.
 * Exit status: 0 and the message; 2 and the builder's error on stderr. */
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "core/buf.h"
#include "templates/email.h"

/* Span over obj[key] keeping embedded NULs; absent when the key is missing. */
static sj_email_span_t span(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    sj_email_span_t sp = {NULL, 0};
    if (json_is_string(v)) {
        sp.ptr = json_string_value(v);
        sp.len = json_string_length(v);
    }
    return sp;
}

int main(void)
{
    json_error_t jerr;
    json_t *in = json_loadf(stdin, JSON_ALLOW_NUL, &jerr);
    if (!json_is_object(in)) {
        fprintf(stderr, "mime_sample: stdin is not a JSON object: %s\n", jerr.text);
        return 2;
    }
    sj_email_t m = {
        .from = {span(in, "from_name"), span(in, "from")},
        .to = {span(in, "to_name"), span(in, "to")},
        .reply_to = {span(in, "reply_to_name"), span(in, "reply_to")},
        .subject = span(in, "subject"),
        .text = span(in, "text"),
        .html = span(in, "html"),
        .notification_id = span(in, "id"),
        .domain = span(in, "domain"),
        .date_ms = (int64_t)json_integer_value(json_object_get(in, "date_ms")),
        .unsubscribe_url = span(in, "unsubscribe_url"),
        .unsubscribe_mailto = span(in, "unsubscribe_mailto"),
    };
    sj_buf_t out;
    sj_buf_init(&out, SJ_EMAIL_MAX_MESSAGE);
    char err[512];
    int rc = 0;
    if (sj_email_build(&m, &out, err, sizeof err) != SJ_OK) {
        fprintf(stderr, "mime_sample: %s\n", err);
        rc = 2;
    } else if (fwrite(out.data, 1, out.len, stdout) != out.len || fflush(stdout) != 0) {
        perror("mime_sample: stdout");
        rc = 1;
    }
    sj_buf_free(&out);
    json_decref(in);
    return rc;
}
