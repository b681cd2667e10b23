/* libFuzzer target for the Mustache engine: compiles an arbitrary template
 * plus a set of partials taken from the same input, renders it against a
 * small fixed JSON context, and checks the engine's promises: no crash, no
 * leak, bounds honoured (output cap, depth, step budget), every error has a
 * message, and two renders of the same compiled template give the same bytes
 * (no hidden mutable state).
 *
 * Input layout: byte 0 holds flags (bit 0: SJ_TMPL_NO_ESCAPE); the rest is
 * split at NUL bytes. The first piece is the main template; every further
 * piece is a partial written "name:source" (pieces without a ':' in their
 * first 32 bytes are named p1, p2, ... by position). The seed corpus in
 * tests/fuzz/corpus/fuzz_mustache/ is built from the specification's cases in
 * this layout. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "templates/mustache.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define OUT_MAX (1u << 16)

/* Names the spec seeds use, values of every JSON type, HTML specials,
 * newlines for indentation, recursion through "nodes", and dynamic names. */
static const char context_json[] =
    "{\"a\":{\"b\":{\"c\":\"abc & <x>\",\"d\":{\"e\":{\"name\":\"Phil\"}}}},"
    "\"list\":[1,2.5,\"three\",{\"name\":\"four\",\"item\":4},[5,6],null,true,\"\"],"
    "\"empty\":[],\"obj\":{},\"s\":\"str\",\"n\":0,\"f\":1.21,\"t\":true,\"no\":false,"
    "\"nul\":null,\"boolean\":true,\"bool\":false,\"name\":\"Joe \\\"J\\\" <j>\","
    "\"subject\":\"world\",\"data\":\"|\",\"text\":\"Hey!\",\"value\":\"yes\","
    "\"content\":\"<\\n->\",\"dynamic\":\"p1\",\"template\":\"node\",\"partial\":\"p2\","
    "\"nodes\":[{\"content\":\"Y\",\"nodes\":[{\"content\":\"Z\",\"nodes\":[]}]}],"
    "\"person\":{\"name\":\"Joe\",\"tags\":[\"x\",\"y\"]},\"nl\":\"line1\\nline2\\n\","
    "\"html\":\"<b>&amp;</b>\",\"big\":12345678901234567,\"tiny\":-3.5e-9,"
    "\"section\":{\"data\":\"inner\",\"dynamic\":\"p3\"},\"a.b\":\"dotted key\","
    "\"nested\":{\"fruit\":\"bananas\",\"list\":[[1,2],[3]]},\"fruit\":\"apples\","
    "\"deep\":[[[[[[[[\"d\"]]]]]]]]}";

static json_t *context(void)
{
    static json_t *ctx; /* the harness's own fixture, built once */
    if (!ctx) {
        ctx = json_loads(context_json, 0, NULL);
        if (!ctx) abort();
    }
    return ctx;
}

static void check_error(const sj_tmpl_error_t *err)
{
    /* Every failure explains itself, in a terminated string. */
    if (err->status == SJ_OK || err->message[0] == '\0' ||
        memchr(err->message, '\0', sizeof err->message) == NULL)
        abort();
}

static void render_check(const sj_tmpl_t *t, const sj_tmpl_set_t *set, unsigned flags)
{
    sj_tmpl_opts_t opts = {.flags = flags, .max_depth = 24, .max_steps = 50000};
    sj_tmpl_error_t err;
    sj_buf_t a, b;
    sj_buf_init(&a, OUT_MAX);
    sj_buf_init(&b, OUT_MAX);
    sj_status_t s1 = sj_tmpl_render_opts(t, set, context(), &opts, &a, &err);
    if (s1 != SJ_OK) check_error(&err);
    if (a.len > OUT_MAX) abort();
    sj_status_t s2 = sj_tmpl_render_opts(t, set, context(), &opts, &b, &err);
    if (s1 != s2) abort();
    if (s1 == SJ_OK &&
        (a.len != b.len || memcmp(sj_buf_cstr(&a), sj_buf_cstr(&b), a.len)))
        abort();
    sj_buf_free(&a);
    sj_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    unsigned flags = (data[0] & 1) ? SJ_TMPL_NO_ESCAPE : 0;
    const char *p = (const char *)data + 1;
    size_t n = size - 1;

    const char *nul = memchr(p, '\0', n);
    size_t main_len = nul ? (size_t)(nul - p) : n;
    sj_tmpl_set_t *set = sj_tmpl_set_new();
    if (!set) return 0;
    sj_tmpl_error_t err;

    size_t pos = nul ? main_len + 1 : n;
    for (unsigned k = 1; pos <= n && nul; k++) {
        const char *piece = p + pos;
        const char *end = memchr(piece, '\0', n - pos);
        size_t len = end ? (size_t)(end - piece) : n - pos;
        const char *colon = memchr(piece, ':', len < 32 ? len : 32);
        char name[40];
        const char *src = piece;
        size_t slen = len;
        if (colon) {
            snprintf(name, sizeof name, "%.*s", (int)(colon - piece), piece);
            src = colon + 1;
            slen = len - (size_t)(colon + 1 - piece);
        } else {
            snprintf(name, sizeof name, "p%u", k);
        }
        if (sj_tmpl_set_add(set, name, src, slen, &err) != SJ_OK) check_error(&err);
        if (!end) break;
        pos += len + 1;
    }

    sj_tmpl_t *t = sj_tmpl_compile("fuzz", p, main_len, &err);
    if (!t) {
        check_error(&err);
    } else {
        render_check(t, set, flags);
        sj_tmpl_destroy(t);
    }
    /* Partials are templates too: render the first one as a root. */
    const sj_tmpl_t *p1 = sj_tmpl_set_get(set, "p1");
    if (p1) render_check(p1, set, flags);
    sj_tmpl_set_destroy(set);
    return 0;
}
