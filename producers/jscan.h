/* A strict, allocation-free JSON scanner for the producer's hot path.
 *
 * `seintje produce` must validate and rewrite hundreds of thousands of life
 * events a second; building a jansson tree per line and dumping it again costs
 * more than the Kafka client itself. This scanner validates a line against
 * RFC 8259 in one pass (depth-bounded), then lets the caller walk an object's
 * members as spans of the original text and decode only the strings it needs.
 * The rewritten event is the original line with one span (the subject)
 * replaced, so formatting and every other byte are preserved exactly.
 *
 *     sj_jval_t root, key, val;
 *     if (sj_json_scan(line, len, 32, &root, &err) != SJ_OK) ...;
 *     sj_jiter_t it;
 *     sj_jiter_init(&it, &root);
 *     while (sj_jiter_next(&it, &key, &val)) ...
 */
#ifndef SJ_JSCAN_H
#define SJ_JSCAN_H

#include <stdbool.h>
#include <stddef.h>

#include "core/common.h"

typedef enum {
    SJ_JSON_OBJECT,
    SJ_JSON_ARRAY,
    SJ_JSON_STRING,
    SJ_JSON_NUMBER,
    SJ_JSON_TRUE,
    SJ_JSON_FALSE,
    SJ_JSON_NULL
} sj_json_type_t;

/* A value as a span of the scanned text. For strings the span includes the
 * quotes. Valid as long as the text is. */
typedef struct sj_jval {
    sj_json_type_t type;
    const char *p;
    size_t len;
} sj_jval_t;

typedef struct sj_json_error {
    size_t offset;    /* 0-based byte offset of the problem */
    const char *what; /* static text, e.g. "unterminated string" */
} sj_json_error_t;

/* Validates that s[0..n) is exactly one JSON value (surrounding whitespace
 * allowed), nesting at most max_depth, strings valid UTF-8 without raw
 * control characters and without lone surrogate escapes. Fills *root. */
sj_status_t sj_json_scan(const char *s, size_t n, unsigned max_depth, sj_jval_t *root,
                         sj_json_error_t *err);

/* An index of object members, filled while scanning so that callers need not
 * walk the text again: every member of the root object and of the objects
 * nested in it through object members only, down to max_depth (root = 1).
 * Members of one object appear in text order; children of an object value
 * follow their member's entry (parent = its index; -1 for the root object).
 * Caller-provided storage: when it runs out, overflow is set and the index
 * is incomplete (the scan itself still validates everything). */
typedef struct sj_jmember {
    sj_jval_t key, val;
    int parent;
} sj_jmember_t;

typedef struct sj_jindex {
    sj_jmember_t *m;
    size_t cap, count;
    unsigned max_depth;
    bool overflow;
} sj_jindex_t;

/* sj_json_scan that also fills *idx (when not NULL). */
sj_status_t sj_json_scan_indexed(const char *s, size_t n, unsigned max_depth,
                                 sj_jval_t *root, sj_jindex_t *idx, sj_json_error_t *err);

/* Iterates the members of an object, or the elements of an array (then key is
 * left untouched), of text that sj_json_scan accepted. */
typedef struct sj_jiter {
    const char *p, *end;
    bool object;
} sj_jiter_t;
void sj_jiter_init(sj_jiter_t *it, const sj_jval_t *container);
bool sj_jiter_next(sj_jiter_t *it, sj_jval_t *key, sj_jval_t *val);

/* Decodes a string value (escapes resolved, UTF-8 out) into out[0..outsize),
 * NUL-terminated. SJ_ERR_TOO_BIG when it does not fit. */
sj_status_t sj_jstr_decode(const sj_jval_t *v, char *out, size_t outsize, size_t *outlen);
/* True when the string value v decodes to exactly lit (fast path without escapes). */
bool sj_jstr_eq(const sj_jval_t *v, const char *lit);

#endif
