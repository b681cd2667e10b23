/* Unit tests for the Mustache engine beyond the specification: escaping and
 * value formatting, truthiness, every bound and error message (exact text,
 * with line and column), template sets, indentation corner cases, and one
 * compiled template rendered from several threads at once. */
#include <jansson.h>
#include <locale.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "templates/mustache.h"

/* Renders src with data (JSON text, NULL for none) and partials given as
 * alternating name, source strings ending with NULL; returns a malloc'd
 * string, or NULL with *err filled. */
static char *render_full(const char *src, const char *json, unsigned flags, size_t max,
                         sj_tmpl_error_t *err, ...)
{
    json_t *data = NULL;
    if (json) {
        json_error_t jerr;
        data = json_loads(json, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
        if (!data) fail_msg("bad test JSON: %s", jerr.text);
    }
    sj_tmpl_set_t *set = sj_tmpl_set_new();
    assert_non_null(set);
    va_list ap;
    va_start(ap, err);
    const char *name;
    while ((name = va_arg(ap, const char *)) != NULL) {
        const char *p = va_arg(ap, const char *);
        assert_int_equal(sj_tmpl_set_add(set, name, p, strlen(p), err), SJ_OK);
    }
    va_end(ap);
    char *res = NULL;
    sj_tmpl_t *t = sj_tmpl_compile("t", src, strlen(src), err);
    if (t) {
        sj_buf_t out;
        sj_buf_init(&out, max);
        if (sj_tmpl_render(t, set, data, flags, &out, err) == SJ_OK) {
            res = sj_buf_detach(&out, NULL);
        } else {
            assert_int_not_equal(err->status, SJ_OK);
            sj_buf_free(&out);
        }
        sj_tmpl_destroy(t);
    }
    sj_tmpl_set_destroy(set);
    json_decref(data);
    return res;
}

/* Renders and compares with the expected output. */
static void check(const char *src, const char *json, const char *want)
{
    sj_tmpl_error_t err;
    char *got = render_full(src, json, 0, 1 << 20, &err, NULL);
    if (!got) fail_msg("%s", err.message);
    assert_string_equal(got, want);
    free(got);
}

/* Compiles src as "t" and expects the exact error message. */
static void check_compile_error(const char *src, size_t len, sj_status_t code,
                                const char *want)
{
    sj_tmpl_error_t err;
    sj_tmpl_t *t = sj_tmpl_compile("t", src, len, &err);
    assert_null(t);
    assert_int_equal(err.status, code);
    assert_string_equal(err.message, want);
}

static void test_escaping(void **state)
{
    (void)state;
    const char *data = "{\"x\":\"& < > \\\" ' / =\"}";
    check("{{x}}", data, "&amp; &lt; &gt; &quot; ' / =");
    check("{{{x}}}|{{&x}}", data, "& < > \" ' / =|& < > \" ' / =");
    sj_tmpl_error_t err;
    char *got = render_full("{{x}}", data, SJ_TMPL_NO_ESCAPE, 1 << 20, &err, NULL);
    assert_non_null(got);
    assert_string_equal(got, "& < > \" ' / =");
    free(got);
    /* Multi-byte text and NUL bytes pass through untouched. */
    check("{{x}}", "{\"x\":\"caf\\u00e9 \\u20ac<\"}", "caf\xc3\xa9 \xe2\x82\xac&lt;");
    got = render_full("[{{x}}]", "{\"x\":\"a\\u0000b\"}", 0, 1 << 20, &err, NULL);
    assert_non_null(got);
    assert_memory_equal(got, "[a\0b]", 6);
    free(got);
}

/* Escaping scans for the next byte to escape and copies the run before it in
 * one piece: escapes at either end, back to back, alone, and a long value
 * against a byte-by-byte reference. */
static void test_escaping_runs(void **state)
{
    (void)state;
    check("{{x}}", "{\"x\":\"<a>\"}", "&lt;a&gt;");
    check("{{x}}", "{\"x\":\"&&\\\"\\\"<<>>\"}",
          "&amp;&amp;&quot;&quot;&lt;&lt;&gt;&gt;");
    check("[{{x}}]", "{\"x\":\"&\"}", "[&amp;]");
    check("[{{x}}]", "{\"x\":\"plain text, nothing to escape\"}",
          "[plain text, nothing to escape]");
    sj_tmpl_error_t err;
    char *got = render_full("[{{x}}][{{y}}]", "{\"x\":\"\",\"y\":\"\\u0000&\"}", 0,
                            1 << 20, &err, NULL);
    assert_non_null(got);
    assert_memory_equal(got, "[][\0&amp;]", 11);
    free(got);

    char src[1200], want[6200], json[1300];
    size_t ns = 0, nw = 0;
    /* Pieces, so that multi-byte characters stay whole (valid UTF-8). */
    const char *const pieces[] = {"a", "b", "<", ">", "&",        "\"",
                                  "'", "/", " ", "=", "\xc3\xa9", "\xe2\x82\xac"};
    unsigned seed = 12345;
    while (ns < 1000) {
        seed = seed * 1103515245u + 12345u;
        const char *pc = pieces[(seed >> 16) % SJ_ARRAY_LEN(pieces)];
        size_t pl = strlen(pc);
        memcpy(src + ns, pc, pl);
        ns += pl;
        const char *e = pc[0] == '&'   ? "&amp;"
                        : pc[0] == '<' ? "&lt;"
                        : pc[0] == '>' ? "&gt;"
                        : pc[0] == '"' ? "&quot;"
                                       : pc;
        memcpy(want + nw, e, strlen(e));
        nw += strlen(e);
    }
    src[ns] = want[nw] = '\0';
    json_t *d = json_pack("{s:s#}", "x", src, (int)ns);
    assert_non_null(d);
    char *txt = json_dumps(d, JSON_COMPACT);
    assert_non_null(txt);
    assert_true(strlen(txt) < sizeof json);
    strcpy(json, txt);
    free(txt);
    json_decref(d);
    check("{{x}}", json, want);
    check("{{{x}}}", json, src);

    /* The output cap can cut an escape: the whole entity fits or the render
     * fails, never half of it. */
    got = render_full("ab{{x}}", "{\"x\":\"<\"}", 0, 5, &err, NULL);
    assert_null(got);
    assert_string_equal(err.message,
                        "t:1:3: rendered output exceeds the limit of 5 bytes");
    got = render_full("ab{{x}}", "{\"x\":\"<\"}", 0, 6, &err, NULL);
    assert_non_null(got);
    assert_string_equal(got, "ab&lt;");
    free(got);
}

/* Pieces of every length up to past the renderer's short-copy limit (64),
 * as values, text and escaped runs. */
static void test_piece_sizes(void **state)
{
    (void)state;
    for (size_t n = 0; n <= 80; n++) {
        char v[81], src[200], json[200], want[400];
        for (size_t i = 0; i < n; i++) v[i] = (char)('a' + (i * 7 + n) % 26);
        v[n] = '\0';
        snprintf(json, sizeof json, "{\"x\":\"%s\",\"y\":\"%s<\"}", v, v);
        snprintf(src, sizeof src, "%s|{{x}}|{{{x}}}|{{y}}|", v);
        snprintf(want, sizeof want, "%s|%s|%s|%s&lt;|", v, v, v, v);
        check(src, json, want);
    }
}

/* The output buffer's inline fast path: appends that fit, appends that grow
 * the allocation, the exact cap, and reuse after a reset. */
static void test_buf_fast_path(void **state)
{
    (void)state;
    sj_buf_t b;
    sj_buf_init(&b, 100);
    assert_int_equal(sj_buf_add(&b, "", 0), SJ_OK); /* allocates nothing */
    assert_string_equal(sj_buf_cstr(&b), "");
    for (int i = 0; i < 10; i++)
        assert_int_equal(sj_buf_add(&b, "0123456789", 10), SJ_OK);
    assert_int_equal(b.len, 100);
    assert_int_equal(sj_buf_add(&b, "x", 1), SJ_ERR_TOO_BIG);
    assert_int_equal(sj_buf_add(&b, "", 0), SJ_OK);
    assert_int_equal(b.len, 100);
    assert_int_equal(b.data[100], '\0');
    sj_buf_reset(&b);
    assert_int_equal(sj_buf_add(&b, "abc", 3), SJ_OK);
    assert_string_equal(sj_buf_cstr(&b), "abc");
    size_t len;
    char *p = sj_buf_detach(&b, &len);
    assert_int_equal(len, 3);
    assert_string_equal(p, "abc");
    free(p);
    /* Detached: the next append allocates again. */
    assert_int_equal(sj_buf_add(&b, "de", 2), SJ_OK);
    assert_string_equal(sj_buf_cstr(&b), "de");
    sj_buf_free(&b);
    /* In-place appends: room only while the allocation has it. */
    sj_buf_init(&b, 16);
    assert_null(sj_buf_room(&b, 1)); /* nothing allocated yet */
    assert_int_equal(sj_buf_add(&b, "ab", 2), SJ_OK);
    char *w = sj_buf_room(&b, 3);
    assert_non_null(w);
    memcpy(w, "cde", 3);
    sj_buf_commit(&b, 3);
    assert_string_equal(sj_buf_cstr(&b), "abcde");
    assert_null(sj_buf_room(&b, b.cap)); /* one byte always stays for the NUL */
    sj_buf_free(&b);
    /* A cap of 0 takes nothing but empty appends. */
    sj_buf_init(&b, 0);
    assert_int_equal(sj_buf_add(&b, "", 0), SJ_OK);
    assert_int_equal(sj_buf_add(&b, "x", 1), SJ_ERR_TOO_BIG);
    sj_buf_free(&b);
}

/* Names are interned and the root frame remembers look-ups: names that list
 * items lack come from the root, the same name in a partial and in the main
 * template, dotted names that share their first part, section then inverted
 * section of one name, and more names than the memo has slots. */
static void test_lookups(void **state)
{
    (void)state;
    check("{{#l}}[{{a}}{{b}}{{c}}]{{/l}}", "{\"a\":\"A\",\"l\":[{\"b\":1},{\"a\":2},{}]}",
          "[A1][2][A]");
    check("{{#l}}{{#x}}y{{/x}}{{^x}}n{{/x}}{{/l}}",
          "{\"l\":[{\"x\":1},{},{\"x\":0}],\"x\":true}", "yyn");
    check("{{#a}}{{a}}{{/a}}{{^a}}-{{/a}}{{a}}", "{\"a\":\"v\"}", "vv");
    check("{{a.b}} {{a.c}} {{a}} {{a.b.c}}", "{\"a\":{\"b\":\"B\",\"c\":\"C\"}}",
          "B C {&quot;b&quot;:&quot;B&quot;,&quot;c&quot;:&quot;C&quot;} ");
    check("{{#o}}{{a.b}}{{/o}}|{{a.b}}", "{\"o\":{\"a\":{}},\"a\":{\"b\":1}}", "|1");
    sj_tmpl_error_t err;
    char *got =
        render_full("{{x}}{{>p}}{{#l}}{{>p}}{{/l}}", "{\"x\":1,\"l\":[{\"x\":2},{}]}", 0,
                    1 << 20, &err, "p", "({{x}})", NULL);
    assert_non_null(got);
    assert_string_equal(got, "1(1)(2)(1)");
    free(got);
    /* 40 names at the root, each looked up twice, with list items between. */
    char src[4096], json[1024], want[1024];
    size_t ns = 0, nj = 0, nw = 0;
    nj += (size_t)snprintf(json + nj, sizeof json - nj, "{\"l\":[{},{\"n7\":\"i\"}]");
    for (int r = 0; r < 2; r++) {
        for (int i = 0; i < 40; i++) {
            ns += (size_t)snprintf(src + ns, sizeof src - ns,
                                   "{{#l}}{{n%d}}{{/l}}{{n%d}}.", i, i);
            if (r == 0)
                nj += (size_t)snprintf(json + nj, sizeof json - nj, ",\"n%d\":%d", i, i);
            nw += (size_t)(i == 7 ? snprintf(want + nw, sizeof want - nw, "7i7.")
                                  : snprintf(want + nw, sizeof want - nw, "%d%d%d.", i, i,
                                             i));
        }
    }
    snprintf(json + nj, sizeof json - nj, "}");
    check(src, json, want);
    /* A root that is not an object has no names. */
    check("{{#.}}{{a}}{{/.}}|{{a}}", "[{\"a\":1},{}]", "1|");
    /* A name looked up right after the same name in the same range reuses
     * the value; only an immediate sibling does. */
    const char *d = "{\"l\":[{\"a\":1,\"x\":\"X\"},{\"a\":0},{\"b\":{\"c\":2}}],"
                    "\"x\":\"R\",\"b\":{\"d\":3}}";
    check("{{#l}}{{#a}}y{{/a}} {{^a}}n{{/a}}{{a}}{{a}};{{/l}}", d, "y 11; n00; n;");
    check("{{#l}}{{#b}}{{x}}{{/b}}{{x}}|{{/l}}", d, "XX|RR|RR|");
    check("{{#l}}{{#b.c}}c{{/b.c}}{{^b.d}}!d{{/b.d}}{{b.d}}|{{/l}}", d, "3|3|c!d|");
    check("{{#l}}{{x}}{{! c }}{{x}}{{#a}}{{x}}{{/a}}{{x}}|{{/l}}", d, "XXXX|RRR|RRR|");
}

/* Text right before a tag is rendered with the tag (one node), but still
 * counts as a step of its own and fails without a position, like other text. */
static void test_text_before_tags(void **state)
{
    (void)state;
    sj_tmpl_error_t err;
    char *got = render_full("abcdef{{x}}", "{\"x\":1}", 0, 3, &err, NULL);
    assert_null(got);
    assert_string_equal(err.message, "t: rendered output exceeds the limit of 3 bytes");
    got = render_full("abcdef\n{{x}}", "{\"x\":\"1234\"}", 0, 9, &err, NULL);
    assert_null(got);
    assert_string_equal(err.message,
                        "t:2:1: rendered output exceeds the limit of 9 bytes");

    sj_tmpl_t *t = sj_tmpl_compile("t", "ab{{x}}cd", 9, &err);
    assert_non_null(t);
    json_t *d = json_pack("{s:i}", "x", 5);
    sj_buf_t out;
    sj_buf_init(&out, 1024);
    /* Steps: the range, "ab", {{x}}, "cd". */
    sj_tmpl_opts_t o = {.max_steps = 1};
    assert_int_equal(sj_tmpl_render_opts(t, NULL, d, &o, &out, &err), SJ_ERR_TOO_BIG);
    assert_string_equal(err.message,
                        "t: rendering stopped after 1 steps (sections nested "
                        "over large lists?)");
    o.max_steps = 2;
    sj_buf_reset(&out);
    assert_int_equal(sj_tmpl_render_opts(t, NULL, d, &o, &out, &err), SJ_ERR_TOO_BIG);
    assert_string_equal(err.message, "t:1:3: rendering stopped after 2 steps (sections "
                                     "nested over large lists?)");
    o.max_steps = 3;
    sj_buf_reset(&out);
    assert_int_equal(sj_tmpl_render_opts(t, NULL, d, &o, &out, &err), SJ_ERR_TOO_BIG);
    assert_string_equal(err.message,
                        "t: rendering stopped after 3 steps (sections nested "
                        "over large lists?)");
    o.max_steps = 4;
    sj_buf_reset(&out);
    assert_int_equal(sj_tmpl_render_opts(t, NULL, d, &o, &out, &err), SJ_OK);
    assert_string_equal(sj_buf_cstr(&out), "ab5cd");
    sj_buf_free(&out);
    json_decref(d);
    sj_tmpl_destroy(t);
    /* Text before sections, partials, parents and blocks. */
    got = render_full("a{{#t}}b{{/t}}c{{>p}}d{{<p}}{{/p}}e{{$b}}f{{/b}}", "{\"t\":1}", 0,
                      1 << 20, &err, "p", "P", NULL);
    assert_non_null(got);
    assert_string_equal(got, "abcPdPef");
    free(got);
}

static void test_numbers(void **state)
{
    (void)state;
    check("{{a}} {{b}} {{c}} {{d}}",
          "{\"a\":85,\"b\":-7,\"c\":0,\"d\":-9223372036854775808}",
          "85 -7 0 -9223372036854775808");
    check("{{a}} {{b}} {{c}} {{d}}", "{\"a\":1.21,\"b\":1.0,\"c\":-0.0,\"d\":123456.789}",
          "1.21 1 0 123456.789");
    check("{{a}} {{b}} {{c}} {{d}}",
          "{\"a\":1e21,\"b\":1.5e-7,\"c\":1e300,\"d\":-2.5e-300}",
          "1e+21 1.5e-7 1e+300 -2.5e-300");
    check("{{a}} {{b}}", "{\"a\":1e18,\"b\":0.1}", "1000000000000000000 0.1");
    /* 0.1 + 0.2 needs all 17 digits to read back. */
    json_t *d = json_pack("{s:f}", "x", 0.1 + 0.2);
    sj_tmpl_t *t = sj_tmpl_compile("t", "{{x}}", 5, NULL);
    sj_buf_t out;
    sj_buf_init(&out, 1024);
    assert_int_equal(sj_tmpl_render(t, NULL, d, 0, &out, NULL), SJ_OK);
    assert_string_equal(sj_buf_cstr(&out), "0.30000000000000004");
    /* A decimal comma locale must not leak into the output. */
    if (setlocale(LC_NUMERIC, "de_DE.UTF-8") || setlocale(LC_NUMERIC, "nl_BE.UTF-8") ||
        setlocale(LC_NUMERIC, "fr_FR.UTF-8")) {
        sj_buf_reset(&out);
        assert_int_equal(sj_tmpl_render(t, NULL, d, 0, &out, NULL), SJ_OK);
        assert_string_equal(sj_buf_cstr(&out), "0.30000000000000004");
        setlocale(LC_NUMERIC, "C");
    }
    sj_buf_free(&out);
    sj_tmpl_destroy(t);
    json_decref(d);
}

static void test_values(void **state)
{
    (void)state;
    check("{{t}} {{f}} [{{n}}] [{{missing}}]", "{\"t\":true,\"f\":false,\"n\":null}",
          "true false [] []");
    check("{{{v}}}", "{\"v\":{\"a\":[1,2.5,\"x\\\"<\\n\",null,true,{}],\"b\":[]}}",
          "{\"a\":[1,2.5,\"x\\\"<\\n\",null,true,{}],\"b\":[]}");
    check("{{v}}", "{\"v\":[\"<&>\"]}", "[&quot;&lt;&amp;&gt;&quot;]");
    check("{{{v}}}", "{\"v\":[\"a\\u0001b\\tc\\\\\"]}", "[\"a\\u0001b\\tc\\\\\"]");
    /* No data at all: every name is missing. */
    check("[{{a}}]{{^a}}none{{/a}}[{{.}}]", NULL, "[]none[]");
    /* A root that is not an object. */
    check("{{#.}}({{.}}){{/.}}", "[1,\"a\"]", "(1)(a)");
}

static void test_truthiness(void **state)
{
    (void)state;
    const char *data = "{\"es\":\"\",\"z\":0,\"zf\":0.0,\"ea\":[],\"n\":null,\"f\":false,"
                       "\"eo\":{},\"sp\":\" \",\"one\":1,\"s\":\"x\"}";
    check("{{#es}}1{{/es}}{{#z}}2{{/z}}{{#zf}}3{{/zf}}{{#ea}}4{{/ea}}{{#n}}5{{/n}}"
          "{{#f}}6{{/f}}{{#nope}}7{{/nope}}",
          data, "");
    check("{{^es}}1{{/es}}{{^z}}2{{/z}}{{^zf}}3{{/zf}}{{^ea}}4{{/ea}}{{^n}}5{{/n}}"
          "{{^f}}6{{/f}}{{^nope}}7{{/nope}}",
          data, "1234567");
    check("{{#eo}}a{{/eo}}{{#sp}}[{{.}}]{{/sp}}{{#one}}{{.}}{{/one}}{{#s}}{{.}}{{/s}}",
          data, "a[ ]1x");
}

static void test_compile_errors(void **state)
{
    (void)state;
    const char *src = "x\n{{#items}}\n0123456789abc";
    sj_tmpl_error_t err;
    assert_null(sj_tmpl_compile("footer.mustache", src, strlen(src), &err));
    assert_string_equal(
        err.message, "footer.mustache:3:14: unclosed section \"items\" (opened at 2:1)");
    assert_string_equal(err.source, "footer.mustache");
    assert_string_equal(err.text, "unclosed section \"items\" (opened at 2:1)");
    assert_int_equal(err.line, 3);
    assert_int_equal(err.column, 14);
    assert_int_equal(err.status, SJ_ERR_INPUT);

#define E(s, code, msg) check_compile_error(s, strlen(s), code, msg)
    E("{{#a}}{{/b}}", SJ_ERR_INPUT,
      "t:1:7: closing tag \"{{/b}}\" does not match the open section \"a\" (opened at "
      "1:1)");
    E("{{^a}}\n  {{/ b }}", SJ_ERR_INPUT,
      "t:2:3: closing tag \"{{/ b }}\" does not match the open inverted section \"a\" "
      "(opened at 1:1)");
    E("x{{/a}}", SJ_ERR_INPUT, "t:1:2: closing tag \"{{/a}}\" without an open section");
    E("{{<layout}}{{$b}}", SJ_ERR_INPUT, "t:1:18: unclosed block \"b\" (opened at 1:12)");
    E("{{<*dyn}}x", SJ_ERR_INPUT, "t:1:11: unclosed parent \"*dyn\" (opened at 1:1)");
    E("ab {{name", SJ_ERR_INPUT, "t:1:4: unclosed tag \"{{name\": no \"}}\" follows");
    E("{{{x}}", SJ_ERR_INPUT, "t:1:1: unclosed tag \"{{{x}}\": no \"}}}\" follows");
    E("{{=<% %>}}", SJ_ERR_INPUT,
      "t:1:1: unclosed tag \"{{=<% %>}}\": no \"=}}\" follows");
    E("{{=<%=}}", SJ_ERR_INPUT,
      "t:1:1: invalid set-delimiter tag \"{{=<%=}}\": expected two delimiters of at most "
      "32 "
      "characters, without spaces or '=', separated by a space, like {{=<% %>=}}");
    E("{{=a b c=}}", SJ_ERR_INPUT,
      "t:1:1: invalid set-delimiter tag \"{{=a b c=}}\": expected two delimiters of at "
      "most "
      "32 characters, without spaces or '=', separated by a space, like {{=<% %>=}}");
    E("{{}}", SJ_ERR_INPUT, "t:1:1: empty name in tag \"{{}}\"");
    E("{{# }}", SJ_ERR_INPUT, "t:1:1: empty name in tag \"{{# }}\"");
    E("{{>*}}", SJ_ERR_INPUT, "t:1:1: empty name in tag \"{{>*}}\"");
    E("Dear {{first name}},", SJ_ERR_INPUT,
      "t:1:6: invalid name \"first name\" in tag \"{{first name}}\": names cannot "
      "contain "
      "spaces");
    /* Columns count characters, not bytes; custom delimiters are quoted as written. */
    E("\xc3\xa9\xc3\xa9{{#a}}", SJ_ERR_INPUT,
      "t:1:9: unclosed section \"a\" (opened at 1:3)");
    E("{{=<% %>=}}\n<%#a%><%/b%>", SJ_ERR_INPUT,
      "t:2:7: closing tag \"<%/b%>\" does not match the open section \"a\" (opened at "
      "2:1)");
    /* Long tags are cut in messages. */
    E("{{#aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa}}", SJ_ERR_INPUT,
      "t:1:58: unclosed section \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...\" (opened "
      "at "
      "1:1)");
#undef E

    /* NULL err is fine; NULL name reads "template". */
    assert_null(sj_tmpl_compile("t", "{{#a}}", 6, NULL));
    assert_null(sj_tmpl_compile(NULL, "{{/a}}", 6, &err));
    assert_string_equal(err.message,
                        "template:1:1: closing tag \"{{/a}}\" without an open section");
}

static void test_compile_bounds(void **state)
{
    (void)state;
    /* Section nesting: 64 levels compile, 65 do not. */
    char src[65 * 12 + 1];
    size_t n = 0;
    for (int i = 0; i < 64; i++) n += (size_t)snprintf(src + n, sizeof src - n, "{{#a}}");
    for (int i = 0; i < 64; i++) n += (size_t)snprintf(src + n, sizeof src - n, "{{/a}}");
    sj_tmpl_t *t = sj_tmpl_compile("t", src, n, NULL);
    assert_non_null(t);
    sj_tmpl_destroy(t);
    n = 0;
    for (int i = 0; i < 65; i++) n += (size_t)snprintf(src + n, sizeof src - n, "{{#a}}");
    check_compile_error(src, n, SJ_ERR_TOO_BIG,
                        "t:1:385: sections nested deeper than 64 levels at \"{{#a}}\"");

    /* Source size. */
    size_t big = SJ_TMPL_MAX_SOURCE + 1;
    char *s = malloc(big);
    assert_non_null(s);
    memset(s, 'x', big);
    check_compile_error(
        s, big, SJ_ERR_TOO_BIG,
        "t: template is 1048577 bytes, more than the limit of 1048576 bytes");
    t = sj_tmpl_compile("t", s, big - 1, NULL);
    assert_non_null(t);
    sj_tmpl_destroy(t);
    free(s);
}

static void test_render_bounds(void **state)
{
    (void)state;
    sj_tmpl_error_t err;
    /* Output cap: the error names the node being written. */
    char *got = render_full("abc\n  {{x}}", "{\"x\":\"0123456789\"}", 0, 8, &err, NULL);
    assert_null(got);
    assert_int_equal(err.status, SJ_ERR_TOO_BIG);
    assert_string_equal(err.message,
                        "t:2:3: rendered output exceeds the limit of 8 bytes");
    /* Exactly at the cap is fine. */
    got = render_full("abc{{x}}", "{\"x\":\"12345\"}", 0, 8, &err, NULL);
    assert_non_null(got);
    assert_string_equal(got, "abc12345");
    free(got);

    /* A partial that includes itself. */
    got = render_full("x{{>p}}", NULL, 0, 1 << 20, &err, "p", "\n {{>p}}", NULL);
    assert_null(got);
    assert_string_equal(
        err.message,
        "p:2:2: partials, parents and blocks nested deeper than 64 levels (a "
        "partial that includes itself without end?)");
    /* Same for parents. */
    got = render_full("{{<p}}{{/p}}", NULL, 0, 1 << 20, &err, "p", "{{<p}}{{/p}}", NULL);
    assert_null(got);
    assert_int_equal(err.status, SJ_ERR_TOO_BIG);

    /* Explicit depth and step budgets. */
    sj_tmpl_set_t *set = sj_tmpl_set_new();
    assert_int_equal(
        sj_tmpl_set_add(set, "node", "{{#nodes}}<{{>node}}>{{/nodes}}", 31, &err), SJ_OK);
    json_t *d =
        json_loads("{\"nodes\":[{\"nodes\":[{\"nodes\":[{\"nodes\":[]}]}]}]}", 0, NULL);
    const sj_tmpl_t *node = sj_tmpl_set_get(set, "node");
    sj_buf_t out;
    sj_buf_init(&out, 1 << 20);
    sj_tmpl_opts_t o = {.max_depth = 3};
    assert_int_equal(sj_tmpl_render_opts(node, set, d, &o, &out, &err), SJ_OK);
    assert_string_equal(sj_buf_cstr(&out), "<<<>>>");
    o.max_depth = 2;
    assert_int_equal(sj_tmpl_render_opts(node, set, d, &o, &out, &err), SJ_ERR_TOO_BIG);
    assert_string_equal(
        err.message,
        "node:1:12: partials, parents and blocks nested deeper than 2 levels (a "
        "partial that includes itself without end?)");
    sj_buf_free(&out);
    json_decref(d);
    sj_tmpl_set_destroy(set);

    /* Nested loops over a list: the step budget stops them. */
    d = json_loads("{\"l\":[1,2,3,4,5,6,7,8,9,10]}", 0, NULL);
    sj_tmpl_t *t = sj_tmpl_compile("loops",
                                   "{{#l}}{{#l}}{{#l}}{{#l}}{{#l}}{{/l}}{{/l}}{{/l}}"
                                   "{{/l}}{{/l}}",
                                   60, &err);
    assert_non_null(t);
    sj_buf_init(&out, 1 << 20);
    o = (sj_tmpl_opts_t){.max_steps = 1000};
    assert_int_equal(sj_tmpl_render_opts(t, NULL, d, &o, &out, &err), SJ_ERR_TOO_BIG);
    assert_string_equal(err.message,
                        "loops:1:25: rendering stopped after 1000 steps (sections "
                        "nested over large lists?)");
    o.max_steps = 200000;
    sj_buf_reset(&out);
    assert_int_equal(sj_tmpl_render_opts(t, NULL, d, &o, &out, &err), SJ_OK);
    sj_buf_free(&out);
    sj_tmpl_destroy(t);
    json_decref(d);

    /* Empty bodies still cost their iterations: 1000^3 loops stop early. */
    json_t *list = json_array();
    for (int i = 0; i < 1000; i++) json_array_append_new(list, json_integer(i));
    d = json_pack("{s:o}", "l", list);
    t = sj_tmpl_compile("empty", "{{#l}}{{#l}}{{#l}}{{/l}}{{/l}}{{/l}}", 36, &err);
    assert_non_null(t);
    sj_buf_init(&out, 1 << 20);
    o = (sj_tmpl_opts_t){.max_steps = 100000};
    assert_int_equal(sj_tmpl_render_opts(t, NULL, d, &o, &out, &err), SJ_ERR_TOO_BIG);
    assert_non_null(strstr(err.text, "rendering stopped after 100000 steps"));
    sj_buf_free(&out);
    sj_tmpl_destroy(t);
    json_decref(d);

    /* Total nesting: 30 sections per level of a recursive partial (30 * 17 > 512). */
    char src[30 * 12 + 16];
    size_t n = 0;
    for (int i = 0; i < 30; i++) n += (size_t)snprintf(src + n, sizeof src - n, "{{#a}}");
    n += (size_t)snprintf(src + n, sizeof src - n, "{{>p}}");
    for (int i = 0; i < 30; i++) n += (size_t)snprintf(src + n, sizeof src - n, "{{/a}}");
    got = render_full("{{>p}}", "{\"a\":true}", 0, 1 << 20, &err, "p", src, NULL);
    assert_null(got);
    assert_int_equal(err.status, SJ_ERR_TOO_BIG);
    assert_string_equal(err.text, "sections and partials nested deeper than 512 levels");

    /* Values too deep to print. */
    char deep[100];
    snprintf(deep, sizeof deep, "{\"x\":%.40s%.40s}",
             "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
             "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]");
    got = render_full("a\n {{x}}", deep, 0, 1 << 20, &err, NULL);
    assert_null(got);
    assert_string_equal(
        err.message, "t:2:2: value nested deeper than 32 levels cannot be interpolated");

    /* Bad arguments. */
    assert_int_equal(sj_tmpl_render(NULL, NULL, NULL, 0, &out, &err), SJ_ERR_INPUT);
}

static void test_sets(void **state)
{
    (void)state;
    sj_tmpl_error_t err;
    sj_tmpl_set_destroy(NULL);
    sj_tmpl_destroy(NULL);
    assert_int_equal(sj_tmpl_set_count(NULL), 0);
    assert_null(sj_tmpl_set_get(NULL, "x"));
    sj_tmpl_set_t *set = sj_tmpl_set_new();
    assert_non_null(set);
    assert_null(sj_tmpl_set_get(set, "x"));
    /* Many entries force the table to grow. */
    for (int i = 0; i < 100; i++) {
        char name[16], src[32];
        snprintf(name, sizeof name, "p%d", i);
        snprintf(src, sizeof src, "<%d>", i);
        assert_int_equal(sj_tmpl_set_add(set, name, src, strlen(src), &err), SJ_OK);
    }
    assert_int_equal(sj_tmpl_set_count(set), 100);
    assert_string_equal(sj_tmpl_name(sj_tmpl_set_get(set, "p42")), "p42");
    /* Replacing keeps the count; a failed add leaves the old one in place. */
    assert_int_equal(sj_tmpl_set_add(set, "p42", "new", 3, &err), SJ_OK);
    assert_int_equal(sj_tmpl_set_count(set), 100);
    assert_int_equal(sj_tmpl_set_add(set, "p42", "{{#x}}", 6, &err), SJ_ERR_INPUT);
    assert_string_equal(err.message, "p42:1:7: unclosed section \"x\" (opened at 1:1)");
    sj_tmpl_t *t = sj_tmpl_compile("main", "{{>p42}}{{>p7}}{{>nope}}.", 25, &err);
    assert_non_null(t);
    sj_buf_t out;
    sj_buf_init(&out, 1024);
    assert_int_equal(sj_tmpl_render(t, set, NULL, 0, &out, &err), SJ_OK);
    assert_string_equal(sj_buf_cstr(&out), "new<7>.");
    /* The key can differ from the template's name, which errors report. */
    sj_tmpl_t *f = sj_tmpl_compile("dir/footer.mustache", "{{x}}", 5, &err);
    assert_non_null(f);
    assert_int_equal(sj_tmpl_set_put(set, "footer", f), SJ_OK);
    assert_ptr_equal(sj_tmpl_set_get(set, "footer"), f);
    assert_int_equal(sj_tmpl_set_put(set, "footer", f), SJ_OK); /* same pointer: kept */
    assert_int_equal(sj_tmpl_set_put(set, NULL, f), SJ_ERR_INPUT);
    sj_buf_free(&out);
    sj_tmpl_destroy(t);
    sj_tmpl_set_destroy(set);
}

static void test_indentation(void **state)
{
    (void)state;
    sj_tmpl_error_t err;
    struct {
        const char *tmpl, *partial, *data, *want;
    } cases[] = {
        /* Empty lines stay empty; value newlines are not indented. */
        {"  {{>p}}\n", "a\n\nb {{nl}}\n", "{\"nl\":\"1\\n2\"}", "  a\n\n  b 1\n2\n"},
        /* A line that starts with a tag gets the indentation before it. */
        {"- {{x}}\n  {{>p}}\n", "{{x}}\n{{#t}}{{x}}{{/t}}!\n", "{\"x\":\"v\",\"t\":true}",
         "- v\n  v\n  v!\n"},
        /* A missing partial leaves nothing, not even the indentation. */
        {"a\n  {{>nope}}\nb\n", "", NULL, "a\nb\n"},
        /* CRLF lines. */
        {"|\r\n  {{>p}}\r\n|", "x\r\n\r\ny", NULL, "|\r\n  x\r\n\r\n  y|"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = render_full(cases[i].tmpl, cases[i].data, 0, 1 << 20, &err, "p",
                                cases[i].partial, NULL);
        if (!got) fail_msg("case %zu: %s", i, err.message);
        if (strcmp(got, cases[i].want) != 0)
            fail_msg("case %zu: got \"%s\", want \"%s\"", i, got, cases[i].want);
        free(got);
    }
    /* Nested standalone partials add up; an inline partial inside an indented
     * one keeps the outer indentation on its later lines. */
    char *got = render_full("  {{>a}}\n", NULL, 0, 1 << 20, &err, "a",
                            "A\n  {{>b}}\nx{{>b}}\n", "b", "1\n2\n", NULL);
    assert_non_null(got);
    assert_string_equal(got, "  A\n    1\n    2\n  x1\n  2\n\n");
    free(got);
    /* A standalone partial in a template that was itself included mid-line
     * still indents its first line. */
    got = render_full("x {{>a}}|", NULL, 0, 1 << 20, &err, "a", "  {{>b}}\n", "b", "1\n2",
                      NULL);
    assert_non_null(got);
    assert_string_equal(got, "x   1\n  2|");
    free(got);
}

/* Blocks: overrides render with the overrides of their own site, so a block
 * that names itself ends instead of recursing. */
static void test_blocks(void **state)
{
    (void)state;
    sj_tmpl_error_t err;
    char *got = render_full("{{<p}}{{$a}}[{{$a}}inner{{/a}}]{{/a}}{{/p}}", NULL, 0,
                            1 << 20, &err, "p", "<{{$a}}default{{/a}}>", NULL);
    assert_non_null(got);
    assert_string_equal(got, "<[inner]>");
    free(got);
    /* A missing parent renders nothing, its arguments included. */
    check("a{{<nope}}{{$x}}X{{/x}}{{/nope}}b", NULL, "ab");
    /* A star only makes a dynamic name in partials and parents. */
    check("{{#*a}}[{{*a}}]{{/*a}}", "{\"*a\":\"x\"}", "[x]");
    /* Dynamic names that resolve to nothing render nothing. */
    got = render_full("<{{>*n}}{{>*e}}{{>*m}}>", "{\"n\":null,\"e\":\"\"}", 0, 1 << 20,
                      &err, "", "EMPTY", NULL);
    assert_non_null(got);
    assert_string_equal(got, "<>");
    free(got);
    /* Numbers name partials as they would print. */
    got = render_full("<{{>*n}}>", "{\"n\":7}", 0, 1 << 20, &err, "7", "seven", NULL);
    assert_non_null(got);
    assert_string_equal(got, "<seven>");
    free(got);
    /* Dynamic parent names. */
    got = render_full("{{<*layout}}{{$t}}T{{/t}}{{/*layout}}", "{\"layout\":\"l\"}", 0,
                      1 << 20, &err, "l", "({{$t}}-{{/t}})", NULL);
    assert_non_null(got);
    assert_string_equal(got, "(T)");
    free(got);
}

#define THREADS 8
#define ROUNDS  300

typedef struct {
    const sj_tmpl_t *t;
    const sj_tmpl_set_t *set;
    const json_t *data;
    const char *want;
    int failures;
} job_t;

static void *worker(void *arg)
{
    job_t *j = arg;
    sj_buf_t out;
    sj_buf_init(&out, 1 << 20);
    for (int r = 0; r < ROUNDS; r++) {
        sj_buf_reset(&out);
        sj_tmpl_error_t err;
        if (sj_tmpl_render(j->t, j->set, j->data, 0, &out, &err) != SJ_OK ||
            strcmp(sj_buf_cstr(&out), j->want) != 0)
            j->failures++;
    }
    sj_buf_free(&out);
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    sj_tmpl_error_t err;
    sj_tmpl_set_t *set = sj_tmpl_set_new();
    const char *layout =
        "<h1>{{$title}}Seintje{{/title}}</h1>\n  {{$body}}\n  {{/body}}\n"
        "{{>footer}}";
    const char *footer = "-- {{town}} ({{year}}, {{rate}})\n";
    assert_int_equal(sj_tmpl_set_add(set, "layout", layout, strlen(layout), &err), SJ_OK);
    assert_int_equal(sj_tmpl_set_add(set, "footer", footer, strlen(footer), &err), SJ_OK);
    const char *src =
        "{{<layout}}{{$title}}Hello {{name}}{{/title}}{{$body}}\n"
        "{{#kids}}\n* {{first}} & {{age}}\n{{/kids}}\n{{^kids}}\nnone\n{{/kids}}\n"
        "{{/body}}{{/layout}}\n";
    sj_tmpl_t *t = sj_tmpl_compile("mail", src, strlen(src), &err);
    if (!t) fail_msg("%s", err.message);
    json_t *data =
        json_loads("{\"name\":\"An <Peeters>\",\"town\":\"Gent\",\"year\":2026,"
                   "\"rate\":0.25,\"kids\":[{\"first\":\"Lou\",\"age\":3},"
                   "{\"first\":\"Mo\",\"age\":5}]}",
                   0, NULL);
    assert_non_null(data);
    sj_buf_t ref;
    sj_buf_init(&ref, 1 << 20);
    assert_int_equal(sj_tmpl_render(t, set, data, 0, &ref, &err), SJ_OK);
    assert_string_equal(sj_buf_cstr(&ref), "<h1>Hello An &lt;Peeters&gt;</h1>\n"
                                           "  * Lou & 3\n  * Mo & 5\n"
                                           "-- Gent (2026, 0.25)\n");
    pthread_t th[THREADS];
    job_t jobs[THREADS];
    for (int i = 0; i < THREADS; i++) {
        jobs[i] = (job_t){t, set, data, sj_buf_cstr(&ref), 0};
        assert_int_equal(pthread_create(&th[i], NULL, worker, &jobs[i]), 0);
    }
    int failures = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        failures += jobs[i].failures;
    }
    assert_int_equal(failures, 0);
    sj_buf_free(&ref);
    json_decref(data);
    sj_tmpl_destroy(t);
    sj_tmpl_set_destroy(set);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escaping),       cmocka_unit_test(test_escaping_runs),
        cmocka_unit_test(test_buf_fast_path),  cmocka_unit_test(test_piece_sizes),
        cmocka_unit_test(test_lookups),        cmocka_unit_test(test_text_before_tags),
        cmocka_unit_test(test_numbers),        cmocka_unit_test(test_values),
        cmocka_unit_test(test_truthiness),     cmocka_unit_test(test_compile_errors),
        cmocka_unit_test(test_compile_bounds), cmocka_unit_test(test_render_bounds),
        cmocka_unit_test(test_sets),           cmocka_unit_test(test_indentation),
        cmocka_unit_test(test_blocks),         cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
