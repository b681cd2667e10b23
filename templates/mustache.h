/* Mustache templates over jansson values: the engine behind every channel.
 *
 * A template is compiled once into an immutable, flat node list and then
 * rendered any number of times, from any number of threads at once, against
 * a json_t context. Partials, parents and dynamic names are looked up by name
 * in a template set at render time. The engine implements the Mustache
 * specification v1.4 (interpolation, sections, inverted sections, comments,
 * partials, set delimiters, standalone lines) plus the optional modules
 * ~inheritance ({{<parent}} and {{$block}}) and ~dynamic-names ({{>*name}}).
 * Lambdas (~lambdas) do not apply: the data comes from JSON, which has no
 * functions, so a context value is never called.
 *
 *     sj_tmpl_error_t err;
 *     sj_tmpl_set_t *set = sj_tmpl_set_new();
 *     sj_tmpl_set_add(set, "footer", "-- {{town}}\n", 12, &err);
 *     sj_tmpl_t *t = sj_tmpl_compile("mail", src, len, &err);
 *     if (!t) fprintf(stderr, "%s\n", err.message);   // mail:3:14: unclosed ...
 *     sj_buf_t out;
 *     sj_buf_init(&out, 1 << 20);
 *     if (sj_tmpl_render(t, set, data, 0, &out, &err) == SJ_OK) use(out.data, out.len);
 *     sj_buf_free(&out);
 *     sj_tmpl_destroy(t);
 *     sj_tmpl_set_destroy(set);
 *
 * Behaviour where the specification leaves room, mostly as mustache.js (the
 * reference JavaScript implementation) does; differences are marked:
 *  - Escaping: {{x}} HTML-escapes exactly & < > " (to &amp; &lt; &gt; &quot;),
 *    as the specification expects; a single quote is left alone, so put HTML
 *    attribute values in double quotes. SJ_TMPL_NO_ESCAPE turns escaping off
 *    for plain-text channels (SMS, text mail parts).
 *  - Values: strings as they are; integers in decimal; reals in the shortest
 *    form that reads back to the same double (the first of %.15g, %.16g,
 *    %.17g that round-trips), integral reals without ".0" (1.0 gives "1",
 *    1.21 gives "1.21"), exponents without leading zeros ("1e+21", "1.5e-7"),
 *    and always '.' as decimal point whatever LC_NUMERIC says; true and false
 *    as "true" and "false"; null and missing names as ""; arrays and objects
 *    as compact JSON (nested at most 32 deep), which makes a template that
 *    prints a whole object easy to spot in a preview (mustache.js differs:
 *    "1,2" and "[object Object]"; it also escapes ' / ` and =).
 *  - Truthiness for {{#x}} and {{^x}}: missing, null, false, "", 0, 0.0 and []
 *    are false; everything else, including {}, is true.
 *  - Indentation of standalone partials and parents is added to every line
 *    of the expanded template that has content; empty lines stay empty, and
 *    newlines inside interpolated values are not indented (as the spec says).
 *  - Block whitespace follows the spec's ~inheritance tests and its
 *    whitespace notes: argument blocks lose their intrinsic indentation,
 *    standalone parameter blocks give overriding content their indentation.
 *  - A missing partial or parent renders as "", as the spec requires.
 *    {{>*x}} and {{<*x}} name the template that x's value prints as (so a
 *    number works too); a value that prints as "" names none.
 *  - Text directly inside {{<parent}}...{{/parent}} (outside blocks) is
 *    ignored, as the spec requires; so are sections and variables there.
 *
 * Bounds (each one a clear error, never a crash or a silent truncation):
 * template source size, section nesting at compile time, expansion depth of
 * partials/parents/blocks and total nesting at render time, the output size
 * (the max of the caller's sj_buf_t) and a step budget against nested
 * sections over large lists.
 *
 * Errors carry the template name, a 1-based line and column (columns count
 * UTF-8 characters) and the problem, ready to print in `message`:
 *     footer.mustache:3:14: unclosed section "items" (opened at 2:1)
 */
#ifndef SJ_MUSTACHE_H
#define SJ_MUSTACHE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/common.h"

/* Largest template source accepted by sj_tmpl_compile(), in bytes. */
#define SJ_TMPL_MAX_SOURCE (1u << 20)
/* Sections, inverted sections, parents and blocks nested inside each other in
 * one template (compile time). */
#define SJ_TMPL_MAX_SECTION_DEPTH 64
/* Default and hard maximum for partial/parent/block expansions nested at
 * render time (sj_tmpl_opts_t.max_depth). */
#define SJ_TMPL_MAX_DEPTH   64
#define SJ_TMPL_DEPTH_LIMIT 256
/* Sections and expansions nested at render time, all templates together: this
 * bounds the C stack a render uses (about 250 bytes a level, 128 KB at most;
 * several times that under AddressSanitizer). */
#define SJ_TMPL_MAX_NESTING 512
/* Default step budget (nodes visited) of one render (sj_tmpl_opts_t.max_steps). */
#define SJ_TMPL_MAX_STEPS 100000000u

/* Render flags. */
#define SJ_TMPL_NO_ESCAPE 0x1u /* {{x}} does not HTML-escape (plain-text channels) */

typedef struct sj_tmpl sj_tmpl_t;
typedef struct sj_tmpl_set sj_tmpl_set_t;

/* What went wrong and where. Filled by every function below that takes one;
 * pass NULL when the details do not matter. */
typedef struct sj_tmpl_error {
    sj_status_t status; /* SJ_OK after success */
    int line;           /* 1-based; 0 when the problem has no position */
    int column;         /* 1-based, in UTF-8 characters; 0 when line is 0 */
    char source[128];   /* template name, possibly cut */
    char text[256];     /* the problem alone: `unclosed section "items" ...` */
    char message[448];  /* "source:line:column: text", or "source: text" */
} sj_tmpl_error_t;

/* Optional render settings; zero fields mean the defaults. */
typedef struct sj_tmpl_opts {
    unsigned flags;     /* SJ_TMPL_NO_ESCAPE */
    unsigned max_depth; /* expansion depth, default SJ_TMPL_MAX_DEPTH, at most
                           SJ_TMPL_DEPTH_LIMIT */
    uint64_t max_steps; /* nodes visited, default SJ_TMPL_MAX_STEPS */
} sj_tmpl_opts_t;

/* Compiles src[0..len) (any bytes; no NUL terminator needed). `name` is used
 * in error messages (a file name reads best) and is copied; NULL means
 * "template". Returns a new template the caller owns (sj_tmpl_destroy()), or
 * NULL with err filled: SJ_ERR_INPUT for a syntax error, SJ_ERR_TOO_BIG for a
 * bound, SJ_ERR_NOMEM. The source is not referenced after the call.
 * Thread-safe: compiles share no state. */
sj_tmpl_t *sj_tmpl_compile(const char *name, const char *src, size_t len,
                           sj_tmpl_error_t *err);

/* Frees a template. NULL is a no-op. Not while a render of it is running. */
void sj_tmpl_destroy(sj_tmpl_t *t);

/* The name given at compile time (borrowed, lives as long as t). */
const char *sj_tmpl_name(const sj_tmpl_t *t);

/* Renders t with `data` as the root context (borrowed, never modified; NULL
 * means an empty context) and appends the result to out, whose max bounds the
 * output. Partials, parents and dynamic names are looked up in `partials`
 * (borrowed; NULL means none). Returns SJ_OK, or an error with err filled
 * naming the template, line and column where rendering stopped:
 * SJ_ERR_TOO_BIG (output limit, depth, step budget), SJ_ERR_NOMEM. On error,
 * out holds a partial result that the caller should discard.
 * Thread-safe: any number of renders of the same template and set may run at
 * once, provided nobody modifies the set, the template or data meanwhile; a
 * render allocates nothing but the growth of out. */
sj_status_t sj_tmpl_render(const sj_tmpl_t *t, const sj_tmpl_set_t *partials,
                           const json_t *data, unsigned flags, sj_buf_t *out,
                           sj_tmpl_error_t *err);

/* sj_tmpl_render() with explicit bounds; opts may be NULL. */
sj_status_t sj_tmpl_render_opts(const sj_tmpl_t *t, const sj_tmpl_set_t *partials,
                                const json_t *data, const sj_tmpl_opts_t *opts,
                                sj_buf_t *out, sj_tmpl_error_t *err);

/* A new, empty set of named templates, owned by the caller
 * (sj_tmpl_set_destroy()); NULL when out of memory. Build it from one thread,
 * then share it read-only: sj_tmpl_set_get() and renders may run concurrently,
 * but never while templates are being added. */
sj_tmpl_set_t *sj_tmpl_set_new(void);

/* Frees the set and every template in it. NULL is a no-op. */
void sj_tmpl_set_destroy(sj_tmpl_set_t *set);

/* Compiles src under `name` (used for look-ups and in error messages) and
 * adds it to the set, replacing and freeing a template of the same name.
 * Returns SJ_OK, or the error from sj_tmpl_compile() with err filled; the set
 * is unchanged on error. Not thread-safe (see sj_tmpl_set_new()). */
sj_status_t sj_tmpl_set_add(sj_tmpl_set_t *set, const char *name, const char *src,
                            size_t len, sj_tmpl_error_t *err);

/* Adds a compiled template under `name` (copied), which may differ from the
 * template's own name: e.g. key "footer" for a template compiled as
 * "partials/footer.mustache" so that errors name the file. On SJ_OK the set
 * owns t (and has freed a template it replaced); on error (SJ_ERR_NOMEM) the
 * caller still owns t. Not thread-safe (see sj_tmpl_set_new()). */
sj_status_t sj_tmpl_set_put(sj_tmpl_set_t *set, const char *name, sj_tmpl_t *t);

/* The template stored under name, borrowed (valid until the set is destroyed
 * or the name replaced), or NULL. Thread-safe against other readers. */
const sj_tmpl_t *sj_tmpl_set_get(const sj_tmpl_set_t *set, const char *name);

/* Number of templates in the set (0 for NULL). */
size_t sj_tmpl_set_count(const sj_tmpl_set_t *set);

#endif
