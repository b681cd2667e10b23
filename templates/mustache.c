/* Mustache engine: compiler to a flat node list, and a renderer over jansson
 * values. See mustache.h for the behaviour and the bounds.
 *
 * Compiling takes four passes over the source. The tokenizer cuts it into
 * text and tags (following set-delimiter tags), notes for every tag whether
 * only blanks stand left of it on its line ("left clear") and right of it up
 * to the line end ("right clear"), and matches sections with their closing
 * tags. Then the standalone rules decide which tags swallow the blanks and the
 * line ending around them, and the builder copies text into one string pool
 * (removing the intrinsic indentation of argument blocks) and emits nodes.
 * Containers (sections, parents, blocks) store the index one past their last
 * child, so the renderer walks the node array with plain index arithmetic.
 * Text directly before a tag is stored in the tag's node (its prefix), so a
 * template of text and variables takes about one node per variable. Name
 * parts are interned, one pool string each, so that a pool address stands
 * for a name.
 *
 * The renderer is a recursive walk that keeps all of its state on the C
 * stack: the context stack and the chain of block overrides are linked lists
 * of stack frames, so a render allocates nothing but output. Indentation of
 * standalone partials is applied lazily: the renderer remembers whether the
 * output stands at the beginning of a line and writes the indentation just
 * before the first content of each line, which also covers lines that begin
 * with a tag.
 *
 * Speed (issue 3, bench/render_vs_mustachejs.sh): a render is mostly name
 * look-ups in jansson objects (a hash and a bucket walk each), copies of
 * short pieces and the walk itself. The root frame remembers its look-ups for
 * the render, so names that list items lack cost one jansson look-up, not one
 * per item; pieces up to 64 bytes are copied without a call; escaping tests a
 * word at a time. The step budget and every error message are exactly as
 * they were with one node per text (a prefix counts as a step of its own and
 * fails without a position, as text does). */
#include "templates/mustache.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------- */
/* Compiled form                                                           */

enum {
    OP_TEXT = 1, /* off/len: pool text */
    OP_VAR,      /* name: dotted name (off/len: its first part); NF_ESCAPE */
    OP_SECTION,  /* name (off/len: its first part), end */
    OP_INVERTED, /* name (off/len: its first part), end */
    OP_PARTIAL,  /* off/len: static name, or name (and off/len its first part)
                    when NF_DYNAMIC; indentation */
    OP_PARENT,   /* like OP_PARTIAL, plus end; children are OP_ARG only */
    OP_BLOCK,    /* parameter block: off/len block name, end, override indentation */
    OP_ARG       /* argument block inside a parent: off/len block name, end */
};

#define NF_ESCAPE   0x01u /* HTML-escape this variable */
#define NF_DYNAMIC  0x02u /* the partial/parent name is a context value */
#define NF_INDENT   0x04u /* ind_off/ind_len hold an indentation */
#define NF_STRIPPED 0x08u /* the tag's own leading blanks were removed */
#define NF_EOL      0x10u /* OP_TEXT: the text ends with a line ending */
#define NF_PEOL     0x20u /* the prefix ends with a line ending */
#define NF_SAMEPREV 0x40u /* the previous sibling looks the same name up */

typedef struct tnode {
    uint8_t op;
    uint8_t flags;
    uint16_t nparts; /* dotted name: parts[name .. name+nparts); 0 = "." */
    uint32_t end;    /* containers: index one past the last child */
    uint32_t off, len;
    uint32_t name;
    uint32_t ind_off, ind_len;
    uint32_t line, col;
    uint32_t poff, plen; /* tags: pool text output just before the tag */
} tnode_t;

typedef struct part {
    uint32_t off, len; /* NUL-terminated in the pool */
} part_t;

struct sj_tmpl {
    char *name;
    tnode_t *nodes;
    uint32_t nnodes;
    part_t *parts;
    char *pool;
};

/* ---------------------------------------------------------------------- */
/* Errors                                                                  */

static void err_clear(sj_tmpl_error_t *err)
{
    if (!err) return;
    err->status = SJ_OK;
    err->line = err->column = 0;
    err->source[0] = err->text[0] = err->message[0] = '\0';
}

static void err_set(sj_tmpl_error_t *err, sj_status_t st, const char *source,
                    uint32_t line, uint32_t col, const char *fmt, ...) SJ_PRINTF(6, 7);

static void err_set(sj_tmpl_error_t *err, sj_status_t st, const char *source,
                    uint32_t line, uint32_t col, const char *fmt, ...)
{
    if (!err) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->text, sizeof err->text, fmt, ap);
    va_end(ap);
    err->status = st;
    err->line = (int)line;
    err->column = line ? (int)col : 0;
    snprintf(err->source, sizeof err->source, "%s", source ? source : "template");
    if (line)
        snprintf(err->message, sizeof err->message, "%s:%d:%d: %s", err->source,
                 err->line, err->column, err->text);
    else
        snprintf(err->message, sizeof err->message, "%s: %s", err->source, err->text);
}

/* ---------------------------------------------------------------------- */
/* Tokenizer                                                               */

enum {
    TK_TEXT = 1,
    TK_VAR,      /* {{x}} */
    TK_RAW,      /* {{{x}}} and {{&x}} */
    TK_SECTION,  /* {{#x}} */
    TK_INVERTED, /* {{^x}} */
    TK_CLOSE,    /* {{/x}} */
    TK_COMMENT,  /* {{!x}} */
    TK_PARTIAL,  /* {{>x}} */
    TK_PARENT,   /* {{<x}} */
    TK_BLOCK,    /* {{$x}} */
    TK_DELIM     /* {{=a b=}} */
};

#define MAX_DELIM 32

typedef struct token {
    uint8_t kind;
    bool dynamic; /* {{>*x}} / {{<*x}} */
    bool lclear;  /* only blanks between the line start and the tag */
    bool rclear;  /* only blanks between the tag and the line end (or EOF) */
    bool is_arg;  /* a block that is a direct child of a parent */
    bool strip_before, strip_after;
    size_t start, end;  /* the whole tag, or the text */
    size_t name, nlen;  /* the tag's name, trimmed (after '*' when dynamic) */
    size_t ws_start;    /* start of the blanks left of the tag (== start if !lclear) */
    size_t nl_end;      /* end of the blanks and line ending right of it */
    uint32_t line, col; /* of the tag's first byte */
    size_t match;       /* open <-> close token */
} token_t;

typedef struct name_slot {
    uint32_t off, len; /* len 0: a free slot */
    uint64_t hash;
} name_slot_t;

typedef struct comp {
    const char *name;
    const char *src;
    size_t len;
    sj_tmpl_error_t *err;

    token_t *toks;
    size_t ntoks, captoks;

    /* line/column tracking while tokenizing */
    size_t lc_pos;
    uint32_t line, col;

    tnode_t *nodes;
    size_t nnodes, capnodes;
    part_t *parts;
    size_t nparts, capparts;
    sj_buf_t pool;

    /* builder state */
    uint32_t stack[SJ_TMPL_MAX_SECTION_DEPTH]; /* open container nodes */
    size_t nstack;
    struct {
        size_t off, len; /* intrinsic indentation of open argument blocks (source) */
    } args[SJ_TMPL_MAX_SECTION_DEPTH];
    size_t nargs;
    size_t merge; /* TEXT node that following text may extend, or SIZE_MAX */

    /* Names are interned: one pool string per distinct name part, so that a
     * pool address identifies a name (the renderer's look-up memo keys on it).
     * Open addressing over pool offsets; capnames is a power of two. */
    name_slot_t *names;
    size_t nnames, capnames;
} comp_t;

/* memmem() is a GNU extension; delimiters are short, so memchr + memcmp. */
static const char *find(const char *h, size_t hn, const char *nd, size_t nn)
{
    while (hn >= nn) {
        const char *p = memchr(h, nd[0], hn - nn + 1);
        if (!p) return NULL;
        if (memcmp(p, nd, nn) == 0) return p;
        hn -= (size_t)(p + 1 - h);
        h = p + 1;
    }
    return NULL;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Counts UTF-8 characters (bytes that do not continue a sequence). */
static uint32_t utf8_chars(const char *s, size_t n)
{
    uint32_t k = 0;
    for (size_t i = 0; i < n; i++) k += ((unsigned char)s[i] & 0xC0) != 0x80;
    return k;
}

/* Moves the line/column tracker forward to pos; O(n) over a whole compile. */
static void track_to(comp_t *c, size_t pos)
{
    while (c->lc_pos < pos) {
        const char *nl = memchr(c->src + c->lc_pos, '\n', pos - c->lc_pos);
        if (!nl) {
            c->col += utf8_chars(c->src + c->lc_pos, pos - c->lc_pos);
            c->lc_pos = pos;
            break;
        }
        c->line++;
        c->col = 1;
        c->lc_pos = (size_t)(nl - c->src) + 1;
    }
}

/* A short, printable excerpt of the source for error messages. */
static const char *excerpt(const comp_t *c, size_t from, size_t to, char *buf,
                           size_t size)
{
    size_t n = to - from, o = 0;
    size_t max = 40;
    for (size_t i = 0; i < n && i < max && o + 2 < size; i++) {
        unsigned char ch = (unsigned char)c->src[from + i];
        buf[o++] = (ch >= 0x20 && ch < 0x7F) || ch >= 0x80 ? (char)ch : ' ';
    }
    if (n > max && o + 4 < size) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o] = '\0';
    return buf;
}

static const char *kind_word(uint8_t kind)
{
    switch (kind) {
    case TK_SECTION:
        return "section";
    case TK_INVERTED:
        return "inverted section";
    case TK_PARENT:
        return "parent";
    case TK_BLOCK:
        return "block";
    default:
        return "tag";
    }
}

static sj_status_t push_token(comp_t *c, const token_t *t)
{
    if (c->ntoks == c->captoks) {
        size_t cap = c->captoks ? c->captoks * 2 : 64;
        token_t *p = realloc(c->toks, cap * sizeof *p);
        if (!p) return SJ_ERR_NOMEM;
        c->toks = p;
        c->captoks = cap;
    }
    c->toks[c->ntoks++] = *t;
    return SJ_OK;
}

static void trim(const char *s, size_t *a, size_t *b)
{
    while (*a < *b && is_space(s[*a])) (*a)++;
    while (*b > *a && is_space(s[*b - 1])) (*b)--;
}

static void find_clearance(comp_t *c, token_t *t)
{
    size_t p = t->start;
    while (p > 0 && is_blank(c->src[p - 1])) p--;
    t->lclear = p == 0 || c->src[p - 1] == '\n';
    t->ws_start = t->lclear ? p : t->start;
    size_t q = t->end;
    while (q < c->len && is_blank(c->src[q])) q++;
    if (q == c->len) {
        t->rclear = true;
        t->nl_end = q;
    } else if (c->src[q] == '\n') {
        t->rclear = true;
        t->nl_end = q + 1;
    } else if (c->src[q] == '\r' && q + 1 < c->len && c->src[q + 1] == '\n') {
        t->rclear = true;
        t->nl_end = q + 2;
    } else {
        t->rclear = false;
        t->nl_end = t->end;
    }
}

/* Parses the inside of {{=open close=}} into new delimiters. */
static sj_status_t parse_delims(comp_t *c, const token_t *t, size_t a, size_t b,
                                const char **open, size_t *olen, const char **close,
                                size_t *clen)
{
    trim(c->src, &a, &b);
    size_t m = a;
    while (m < b && !is_space(c->src[m])) m++;
    size_t a2 = m, b2 = b;
    trim(c->src, &a2, &b2);
    bool ok = m > a && b2 > a2 && m - a <= MAX_DELIM && b2 - a2 <= MAX_DELIM;
    for (size_t i = a2; ok && i < b2; i++) ok = !is_space(c->src[i]) && c->src[i] != '=';
    for (size_t i = a; ok && i < m; i++) ok = c->src[i] != '=';
    if (!ok) {
        char ex[64];
        err_set(
            c->err, SJ_ERR_INPUT, c->name, t->line, t->col,
            "invalid set-delimiter tag \"%s\": expected two delimiters of at most %d "
            "characters, without spaces or '=', separated by a space, like {{=<%% %%>=}}",
            excerpt(c, t->start, t->end, ex, sizeof ex), MAX_DELIM);
        return SJ_ERR_INPUT;
    }
    *open = c->src + a;
    *olen = m - a;
    *close = c->src + a2;
    *clen = b2 - a2;
    return SJ_OK;
}

/* Checks a tag name: not empty, no blanks inside. */
static sj_status_t check_name(comp_t *c, const token_t *t)
{
    char ex[64];
    if (t->nlen == 0) {
        err_set(c->err, SJ_ERR_INPUT, c->name, t->line, t->col,
                "empty name in tag \"%s\"", excerpt(c, t->start, t->end, ex, sizeof ex));
        return SJ_ERR_INPUT;
    }
    for (size_t i = 0; i < t->nlen; i++) {
        if (is_space(c->src[t->name + i])) {
            char nm[64];
            err_set(c->err, SJ_ERR_INPUT, c->name, t->line, t->col,
                    "invalid name \"%s\" in tag \"%s\": names cannot contain spaces",
                    excerpt(c, t->name, t->name + t->nlen, nm, sizeof nm),
                    excerpt(c, t->start, t->end, ex, sizeof ex));
            return SJ_ERR_INPUT;
        }
    }
    return SJ_OK;
}

/* What the character after the opening delimiter makes of a tag, and what
 * ends it: the closing delimiter, preceded by '}' for {{{x}}} and by '=' for
 * {{=a b=}}. Any other character starts the name of a plain variable. */
static const struct {
    char sigil;
    uint8_t kind;
    char term; /* extra character before the closing delimiter, or 0 */
} sigils[] = {
    {'{', TK_RAW, '}'}, {'&', TK_RAW, 0},     {'#', TK_SECTION, 0}, {'^', TK_INVERTED, 0},
    {'/', TK_CLOSE, 0}, {'!', TK_COMMENT, 0}, {'>', TK_PARTIAL, 0}, {'<', TK_PARENT, 0},
    {'$', TK_BLOCK, 0}, {'=', TK_DELIM, '='},
};

typedef struct delims {
    const char *open, *close;
    size_t olen, clen;
} delims_t;

/* Reads the tag that starts at t->start: its kind, its end and its name (or,
 * for {{=a b=}}, the new delimiters). */
static sj_status_t scan_tag(comp_t *c, delims_t *d, token_t *t)
{
    size_t p = t->start + d->olen;
    char term[MAX_DELIM + 1];
    size_t tlen = 0;
    t->kind = TK_VAR;
    for (size_t k = 0; p < c->len && k < SJ_ARRAY_LEN(sigils); k++) {
        if (c->src[p] != sigils[k].sigil) continue;
        t->kind = sigils[k].kind;
        if (sigils[k].term) term[tlen++] = sigils[k].term;
        p++;
        break;
    }
    memcpy(term + tlen, d->close, d->clen);
    tlen += d->clen;
    const char *e = find(c->src + p, c->len - p, term, tlen);
    if (!e) {
        char ex[64];
        err_set(c->err, SJ_ERR_INPUT, c->name, t->line, t->col,
                "unclosed tag \"%s\": no \"%.*s\" follows",
                excerpt(c, t->start, c->len, ex, sizeof ex), (int)tlen, term);
        return SJ_ERR_INPUT;
    }
    size_t a = p, b = (size_t)(e - c->src);
    t->end = b + tlen;
    if (t->kind == TK_DELIM)
        return parse_delims(c, t, a, b, &d->open, &d->olen, &d->close, &d->clen);
    if (t->kind == TK_COMMENT) return SJ_OK;
    trim(c->src, &a, &b);
    if ((t->kind == TK_PARTIAL || t->kind == TK_PARENT) && a < b && c->src[a] == '*') {
        t->dynamic = true;
        a++;
        trim(c->src, &a, &b);
    }
    t->name = a;
    t->nlen = b - a;
    return check_name(c, t);
}

/* Does closing tag t name the open token o? A dynamic parent {{<*x}} closes
 * with a slash, a star and x. */
static bool closes(const comp_t *c, const token_t *t, const token_t *o)
{
    size_t na = t->name, nb = t->name + t->nlen;
    if (o->dynamic) {
        if (na == nb || c->src[na] != '*') return false;
        na++;
        trim(c->src, &na, &nb);
    }
    return nb - na == o->nlen && memcmp(c->src + na, c->src + o->name, o->nlen) == 0;
}

/* Keeps the stack of open sections: pushes openers (bounded depth), matches
 * closers with their opener, and marks blocks that are arguments of a parent. */
static sj_status_t nest_tag(comp_t *c, token_t *t, size_t *stack, size_t *depth)
{
    char ex[64], nm[64];
    if (t->kind == TK_SECTION || t->kind == TK_INVERTED || t->kind == TK_PARENT ||
        t->kind == TK_BLOCK) {
        if (*depth == SJ_TMPL_MAX_SECTION_DEPTH) {
            err_set(c->err, SJ_ERR_TOO_BIG, c->name, t->line, t->col,
                    "sections nested deeper than %d levels at \"%s\"",
                    SJ_TMPL_MAX_SECTION_DEPTH,
                    excerpt(c, t->start, t->end, ex, sizeof ex));
            return SJ_ERR_TOO_BIG;
        }
        t->is_arg = t->kind == TK_BLOCK && *depth > 0 &&
                    c->toks[stack[*depth - 1]].kind == TK_PARENT;
        stack[(*depth)++] = c->ntoks;
        return SJ_OK;
    }
    if (t->kind != TK_CLOSE) return SJ_OK;
    if (*depth == 0) {
        err_set(c->err, SJ_ERR_INPUT, c->name, t->line, t->col,
                "closing tag \"%s\" without an open section",
                excerpt(c, t->start, t->end, ex, sizeof ex));
        return SJ_ERR_INPUT;
    }
    token_t *o = &c->toks[stack[*depth - 1]];
    if (!closes(c, t, o)) {
        err_set(
            c->err, SJ_ERR_INPUT, c->name, t->line, t->col,
            "closing tag \"%s\" does not match the open %s \"%s%s\" (opened at %u:%u)",
            excerpt(c, t->start, t->end, ex, sizeof ex), kind_word(o->kind),
            o->dynamic ? "*" : "", excerpt(c, o->name, o->name + o->nlen, nm, sizeof nm),
            o->line, o->col);
        return SJ_ERR_INPUT;
    }
    t->match = stack[--*depth];
    o->match = c->ntoks;
    t->is_arg = o->is_arg;
    return SJ_OK;
}

/* Cuts the source into text and tag tokens, following set-delimiter tags,
 * and matches open and close tags. */
static sj_status_t tokenize(comp_t *c)
{
    delims_t d = {"{{", "}}", 2, 2};
    size_t stack[SJ_TMPL_MAX_SECTION_DEPTH];
    size_t depth = 0, pos = 0;
    sj_status_t st;
    while (pos < c->len) {
        const char *hit = find(c->src + pos, c->len - pos, d.open, d.olen);
        size_t s = hit ? (size_t)(hit - c->src) : c->len;
        if (s > pos) {
            token_t tx = {.kind = TK_TEXT, .start = pos, .end = s};
            if ((st = push_token(c, &tx)) != SJ_OK) return st;
        }
        if (!hit) break;
        token_t t = {.start = s};
        track_to(c, s);
        t.line = c->line;
        t.col = c->col;
        if ((st = scan_tag(c, &d, &t)) != SJ_OK) return st;
        find_clearance(c, &t);
        if ((st = nest_tag(c, &t, stack, &depth)) != SJ_OK) return st;
        if ((st = push_token(c, &t)) != SJ_OK) return st;
        pos = t.end;
    }
    if (depth > 0) {
        const token_t *o = &c->toks[stack[depth - 1]];
        char nm[64];
        track_to(c, c->len);
        err_set(c->err, SJ_ERR_INPUT, c->name, c->line, c->col,
                "unclosed %s \"%s%s\" (opened at %u:%u)", kind_word(o->kind),
                o->dynamic ? "*" : "",
                excerpt(c, o->name, o->name + o->nlen, nm, sizeof nm), o->line, o->col);
        return SJ_ERR_INPUT;
    }
    return SJ_OK;
}

/* ---------------------------------------------------------------------- */
/* Standalone rules                                                        */

/* Decides which tags swallow the blanks left of them (strip_before) and the
 * blanks plus line ending right of them (strip_after), then trims the
 * neighbouring text tokens accordingly.
 *
 * Most tags follow the spec's rule: a tag alone on its line (apart from
 * blanks) is standalone and its line disappears. Parents and blocks need the
 * refinements that the ~inheritance tests encode (see the spec's
 * whitespace notes and issue #130): text directly inside a parent is
 * ignored, so what stands right of a parent's opening tag, or left of its
 * closing tag, does not count; a parent pair whose opening tag is left clear
 * and whose closing tag is right clear is standalone as a whole. An
 * argument block's opening tag swallows its line ending when it ends the
 * line; its closing tag swallows the blanks left of it. Parameter blocks
 * follow the plain rule tag by tag. */
static void decide_standalone(comp_t *c)
{
    for (size_t i = 0; i < c->ntoks; i++) {
        token_t *t = &c->toks[i];
        const token_t *o;
        switch (t->kind) {
        case TK_TEXT:
        case TK_VAR:
        case TK_RAW:
            break;
        case TK_PARENT: {
            bool pair = t->lclear && c->toks[t->match].rclear;
            t->strip_before = t->lclear && (t->rclear || pair);
            t->strip_after = t->lclear && t->rclear;
            break;
        }
        case TK_BLOCK:
            if (t->is_arg) {
                t->strip_after = t->rclear;
            } else {
                t->strip_before = t->strip_after = t->lclear && t->rclear;
            }
            break;
        case TK_CLOSE:
            o = &c->toks[t->match];
            if (o->kind == TK_PARENT) {
                bool pair = o->lclear && t->rclear;
                t->strip_after = t->rclear && (t->lclear || pair);
                t->strip_before = t->lclear && t->rclear;
            } else if (o->kind == TK_BLOCK && o->is_arg) {
                t->strip_before = t->lclear;
            } else {
                t->strip_before = t->strip_after = t->lclear && t->rclear;
            }
            break;
        default:
            t->strip_before = t->strip_after = t->lclear && t->rclear;
            break;
        }
    }
    /* Blanks left of a tag that is left clear contain no other tag, so they
     * lie in the text token just before it; likewise on the right. */
    for (size_t i = 0; i < c->ntoks; i++) {
        const token_t *t = &c->toks[i];
        if (t->strip_before && i > 0 && c->toks[i - 1].kind == TK_TEXT)
            c->toks[i - 1].end = t->ws_start;
        if (t->strip_after && i + 1 < c->ntoks && c->toks[i + 1].kind == TK_TEXT)
            c->toks[i + 1].start = t->nl_end;
    }
}

/* ---------------------------------------------------------------------- */
/* Builder                                                                 */

static sj_status_t pool_add(comp_t *c, const char *s, size_t n)
{
    return sj_buf_add(&c->pool, s, n);
}

/* Adds a NUL-terminated string to the pool; returns its offset in *off. */
static sj_status_t pool_str(comp_t *c, const char *s, size_t n, uint32_t *off)
{
    *off = (uint32_t)c->pool.len;
    sj_status_t st = pool_add(c, s, n);
    return st == SJ_OK ? sj_buf_addc(&c->pool, '\0') : st;
}

/* Whether a tag node created now takes the TEXT node just before it, a
 * sibling, as its prefix (instead of being appended after it). */
static bool fuses(const comp_t *c)
{
    return c->merge != SIZE_MAX && c->merge + 1 == c->nnodes;
}

/* The index the next new_node() of a tag gets. */
static uint32_t tag_index(const comp_t *c)
{
    return (uint32_t)(fuses(c) ? c->nnodes - 1 : c->nnodes);
}

/* Appends a node. A tag right after text in the same container takes over the
 * text's node as its prefix, which halves the nodes the renderer visits in
 * text with variables; the renderer still counts the text as a step of its
 * own and reports errors in it without a position, as for a TEXT node. */
static sj_status_t new_node(comp_t *c, uint8_t op, const token_t *t, tnode_t **out)
{
    uint32_t poff = 0, plen = 0;
    tnode_t *n;
    if (op != OP_TEXT && fuses(c)) {
        n = &c->nodes[c->nnodes - 1];
        poff = n->off;
        plen = n->len;
    } else {
        if (c->nnodes == c->capnodes) {
            size_t cap = c->capnodes ? c->capnodes * 2 : 32;
            tnode_t *p = realloc(c->nodes, cap * sizeof *p);
            if (!p) return SJ_ERR_NOMEM;
            c->nodes = p;
            c->capnodes = cap;
        }
        n = &c->nodes[c->nnodes++];
    }
    memset(n, 0, sizeof *n);
    n->op = op;
    n->end = (uint32_t)c->nnodes;
    n->poff = poff;
    n->plen = plen;
    if (t) {
        n->line = t->line;
        n->col = t->col;
    }
    c->merge = SIZE_MAX;
    *out = n;
    return SJ_OK;
}

/* How many bytes of intrinsic indentation to skip at line start `p` (before
 * `limit`): the innermost open argument block whose indentation is found
 * there wins. */
static size_t intrinsic_at(const comp_t *c, size_t p, size_t limit)
{
    for (size_t k = c->nargs; k-- > 0;) {
        size_t n = c->args[k].len;
        if (n && n <= limit - p && memcmp(c->src + p, c->src + c->args[k].off, n) == 0)
            return n;
    }
    return 0;
}

static bool line_start(const comp_t *c, size_t p)
{
    return p == 0 || c->src[p - 1] == '\n';
}

/* Copies text [a,b) into the pool, dropping argument-block indentation at the
 * start of each line, and emits or extends a TEXT node. */
static sj_status_t emit_text(comp_t *c, const token_t *t, size_t a, size_t b)
{
    size_t before = c->pool.len;
    sj_status_t st;
    size_t p = a;
    while (p < b) {
        if (c->nargs && line_start(c, p)) p += intrinsic_at(c, p, b);
        const char *nl = memchr(c->src + p, '\n', b - p);
        size_t q = nl ? (size_t)(nl - c->src) + 1 : b;
        if ((st = pool_add(c, c->src + p, q - p)) != SJ_OK) return st;
        p = q;
    }
    size_t n = c->pool.len - before;
    if (n == 0) return SJ_OK;
    if (c->merge != SIZE_MAX) {
        tnode_t *m = &c->nodes[c->merge];
        if (m->off + m->len == before) {
            m->len += (uint32_t)n;
            return SJ_OK;
        }
    }
    tnode_t *node;
    if ((st = new_node(c, OP_TEXT, t, &node)) != SJ_OK) return st;
    node->off = (uint32_t)before;
    node->len = (uint32_t)n;
    c->merge = c->nnodes - 1;
    return SJ_OK;
}

static uint64_t hash_name(const char *s, size_t n);

/* The pool offset of name part s[0..n) (n > 0), added on first use. */
static sj_status_t intern(comp_t *c, const char *s, size_t n, uint32_t *off)
{
    if ((c->nnames + 1) * 2 > c->capnames) {
        size_t cap = c->capnames ? c->capnames * 2 : 64;
        name_slot_t *tab = calloc(cap, sizeof *tab);
        if (!tab) return SJ_ERR_NOMEM;
        for (size_t i = 0; i < c->capnames; i++) {
            if (!c->names[i].len) continue;
            size_t j = (size_t)c->names[i].hash & (cap - 1);
            while (tab[j].len) j = (j + 1) & (cap - 1);
            tab[j] = c->names[i];
        }
        free(c->names);
        c->names = tab;
        c->capnames = cap;
    }
    uint64_t h = hash_name(s, n);
    size_t i = (size_t)h & (c->capnames - 1);
    for (; c->names[i].len; i = (i + 1) & (c->capnames - 1)) {
        if (c->names[i].hash == h && c->names[i].len == n &&
            memcmp(c->pool.data + c->names[i].off, s, n) == 0) {
            *off = c->names[i].off;
            return SJ_OK;
        }
    }
    /* Names start 4-aligned (the pool's allocation is): jansson's hash reads
     * aligned keys a word at a time, unaligned ones byte by byte. */
    sj_status_t st = SJ_OK;
    while (st == SJ_OK && c->pool.len % 4) st = sj_buf_addc(&c->pool, '\0');
    if (st == SJ_OK) st = pool_str(c, s, n, off);
    if (st != SJ_OK) return st;
    c->names[i].off = *off;
    c->names[i].len = (uint32_t)n;
    c->names[i].hash = h;
    c->nnames++;
    return SJ_OK;
}

/* Splits a dotted name into interned pool strings; "." is the implicit
 * iterator. An empty part ("a..b") is stored as its own empty string. */
static sj_status_t add_dotted(comp_t *c, const token_t *t, tnode_t *n)
{
    const char *s = c->src + t->name;
    size_t len = t->nlen;
    n->name = (uint32_t)c->nparts;
    n->nparts = 0;
    if (len == 1 && s[0] == '.') return SJ_OK;
    size_t i = 0;
    for (;;) {
        const char *dot = memchr(s + i, '.', len - i);
        size_t j = dot ? (size_t)(dot - s) : len;
        if (c->nparts == c->capparts) {
            size_t cap = c->capparts ? c->capparts * 2 : 16;
            part_t *p = realloc(c->parts, cap * sizeof *p);
            if (!p) return SJ_ERR_NOMEM;
            c->parts = p;
            c->capparts = cap;
        }
        part_t *pt = &c->parts[c->nparts++];
        sj_status_t st =
            j > i ? intern(c, s + i, j - i, &pt->off) : pool_str(c, s + i, 0, &pt->off);
        if (st != SJ_OK) return st;
        pt->len = (uint32_t)(j - i);
        if (n->nparts == UINT16_MAX) {
            err_set(c->err, SJ_ERR_TOO_BIG, c->name, t->line, t->col,
                    "name with more than %u parts", UINT16_MAX);
            return SJ_ERR_TOO_BIG;
        }
        if (n->nparts++ == 0) {
            n->off = pt->off;
            n->len = pt->len;
        }
        if (!dot) break;
        i = j + 1;
    }
    return SJ_OK;
}

/* Stores blanks [from, from+n) (which start a line) as the node's
 * indentation, less the intrinsic indentation of enclosing argument blocks. */
static sj_status_t set_indent(comp_t *c, tnode_t *n, size_t from, size_t len,
                              bool stripped)
{
    size_t skip = c->nargs ? intrinsic_at(c, from, from + len) : 0;
    from += skip;
    len -= skip;
    if (len == 0) return SJ_OK;
    uint32_t off;
    sj_status_t st = pool_str(c, c->src + from, len, &off);
    if (st != SJ_OK) return st;
    n->ind_off = off;
    n->ind_len = (uint32_t)len;
    n->flags |= NF_INDENT | (stripped ? NF_STRIPPED : 0);
    return SJ_OK;
}

static size_t blanks_at(const comp_t *c, size_t p)
{
    size_t q = p;
    while (q < c->len && is_blank(c->src[q])) q++;
    return q - p;
}

static sj_status_t open_container(comp_t *c, uint32_t idx)
{
    c->stack[c->nstack++] = idx;
    c->merge = SIZE_MAX;
    return SJ_OK;
}

static sj_status_t build_tag(comp_t *c, size_t i)
{
    const token_t *t = &c->toks[i];
    tnode_t *n;
    sj_status_t st = SJ_OK;
    uint32_t idx = tag_index(c);
    switch (t->kind) {
    case TK_VAR:
    case TK_RAW:
        if ((st = new_node(c, OP_VAR, t, &n)) != SJ_OK) return st;
        if (t->kind == TK_VAR) n->flags |= NF_ESCAPE;
        return add_dotted(c, t, n);
    case TK_SECTION:
    case TK_INVERTED:
        if ((st = new_node(c, t->kind == TK_SECTION ? OP_SECTION : OP_INVERTED, t, &n)) !=
            SJ_OK)
            return st;
        if ((st = add_dotted(c, t, n)) != SJ_OK) return st;
        return open_container(c, idx);
    case TK_PARTIAL:
    case TK_PARENT:
        if ((st = new_node(c, t->kind == TK_PARTIAL ? OP_PARTIAL : OP_PARENT, t, &n)) !=
            SJ_OK)
            return st;
        if (t->dynamic) {
            n->flags |= NF_DYNAMIC;
            st = add_dotted(c, t, n);
        } else {
            st = pool_str(c, c->src + t->name, t->nlen, &n->off);
            n->len = (uint32_t)t->nlen;
        }
        n = &c->nodes[idx];
        if (st == SJ_OK && t->strip_before)
            st = set_indent(c, n, t->ws_start, t->start - t->ws_start, true);
        if (st != SJ_OK || t->kind == TK_PARTIAL) return st;
        return open_container(c, idx);
    case TK_BLOCK: {
        /* A parameter block (arguments are built in build_parent_body()). */
        if ((st = new_node(c, OP_BLOCK, t, &n)) != SJ_OK) return st;
        if ((st = pool_str(c, c->src + t->name, t->nlen, &n->off)) != SJ_OK) return st;
        n = &c->nodes[idx];
        n->len = (uint32_t)t->nlen;
        const token_t *close = &c->toks[t->match];
        if (t->lclear && close->rclear) {
            /* Standalone pair: overriding content gets the block's intrinsic
             * indentation when the tag ends its line, else the blanks left
             * of the tag (which stay in the output as text). */
            if (t->rclear)
                st = set_indent(c, n, t->nl_end, blanks_at(c, t->nl_end), true);
            else
                st = set_indent(c, n, t->ws_start, t->start - t->ws_start, false);
            if (st != SJ_OK) return st;
        }
        return open_container(c, idx);
    }
    case TK_CLOSE:
        c->nodes[c->stack[--c->nstack]].end = (uint32_t)c->nnodes;
        c->merge = SIZE_MAX;
        return SJ_OK;
    default: /* comments, set delimiters */
        return SJ_OK;
    }
}

/* Inside a parent only argument blocks count; everything else is skipped,
 * including whole sections (their blocks are not arguments). */
static sj_status_t build_parent_body(comp_t *c, size_t *i)
{
    const token_t *t = &c->toks[*i];
    tnode_t *n;
    sj_status_t st;
    uint32_t idx = tag_index(c);
    switch (t->kind) {
    case TK_BLOCK:
        if ((st = new_node(c, OP_ARG, t, &n)) != SJ_OK) return st;
        if ((st = pool_str(c, c->src + t->name, t->nlen, &n->off)) != SJ_OK) return st;
        c->nodes[idx].len = (uint32_t)t->nlen;
        c->args[c->nargs].off = t->nl_end;
        c->args[c->nargs].len = t->rclear ? blanks_at(c, t->nl_end) : 0;
        c->nargs++;
        return open_container(c, idx);
    case TK_CLOSE: /* the parent's own closing tag */
        c->nodes[c->stack[--c->nstack]].end = (uint32_t)c->nnodes;
        c->merge = SIZE_MAX;
        return SJ_OK;
    case TK_SECTION:
    case TK_INVERTED:
    case TK_PARENT:
        *i = t->match;
        return SJ_OK;
    default:
        return SJ_OK;
    }
}

static bool looks_up(const tnode_t *n)
{
    return (n->op == OP_VAR || n->op == OP_SECTION || n->op == OP_INVERTED) &&
           n->nparts > 0;
}

/* Whether named nodes a and b have the same dotted name. */
static bool same_name(const comp_t *c, const tnode_t *a, const tnode_t *b)
{
    if (a->nparts != b->nparts) return false;
    for (uint16_t k = 0; k < a->nparts; k++)
        if (c->parts[a->name + k].off != c->parts[b->name + k].off) return false;
    return true; /* parts are interned: equal names have equal offsets */
}

/* Marks the look-ups in nodes [i, end) (siblings) that repeat the one of
 * the sibling just before ({{#x}}..{{/x}}{{^x}}..{{/x}}): same context, same
 * value. Recursion depth is bounded by SJ_TMPL_MAX_SECTION_DEPTH. */
static void mark_repeats(comp_t *c, uint32_t i, uint32_t end)
{
    const tnode_t *prev = NULL;
    while (i < end) {
        tnode_t *n = &c->nodes[i];
        if (prev && looks_up(prev) && looks_up(n) && same_name(c, prev, n))
            n->flags |= NF_SAMEPREV;
        if (n->end > i + 1) mark_repeats(c, i + 1, n->end);
        prev = n;
        i = n->end;
    }
}

/* Facts the renderer would otherwise find out on every render: whether a
 * text or a prefix ends a line, and which look-ups repeat the one before. */
static void finish_nodes(comp_t *c)
{
    mark_repeats(c, 0, (uint32_t)c->nnodes);
    for (size_t i = 0; i < c->nnodes; i++) {
        tnode_t *n = &c->nodes[i];
        if (n->op == OP_TEXT && n->len && c->pool.data[n->off + n->len - 1] == '\n')
            n->flags |= NF_EOL;
        if (n->plen && c->pool.data[n->poff + n->plen - 1] == '\n') n->flags |= NF_PEOL;
    }
}

static sj_status_t build(comp_t *c)
{
    sj_status_t st = SJ_OK;
    c->merge = SIZE_MAX;
    for (size_t i = 0; i < c->ntoks && st == SJ_OK; i++) {
        const token_t *t = &c->toks[i];
        bool in_parent = c->nstack && c->nodes[c->stack[c->nstack - 1]].op == OP_PARENT;
        if (in_parent) {
            st = build_parent_body(c, &i);
        } else if (t->kind == TK_TEXT) {
            st = emit_text(c, t, t->start, t->end);
        } else if (t->kind == TK_CLOSE && c->toks[t->match].is_arg) {
            c->nodes[c->stack[--c->nstack]].end = (uint32_t)c->nnodes;
            c->merge = SIZE_MAX;
            c->nargs--;
        } else {
            st = build_tag(c, i);
        }
    }
    return st;
}

sj_tmpl_t *sj_tmpl_compile(const char *name, const char *src, size_t len,
                           sj_tmpl_error_t *err)
{
    err_clear(err);
    if (!name) name = "template";
    if (!src && len) {
        err_set(err, SJ_ERR_INPUT, name, 0, 0, "no template source");
        return NULL;
    }
    if (len > SJ_TMPL_MAX_SOURCE) {
        err_set(err, SJ_ERR_TOO_BIG, name, 0, 0,
                "template is %zu bytes, more than the limit of %u bytes", len,
                SJ_TMPL_MAX_SOURCE);
        return NULL;
    }
    comp_t c = {.name = name, .src = src ? src : "", .len = len, .err = err};
    c.line = c.col = 1;
    /* The pool holds at most the source plus a NUL per name. */
    sj_buf_init(&c.pool, 2 * (size_t)SJ_TMPL_MAX_SOURCE + 64);
    sj_tmpl_t *t = NULL;
    sj_status_t st = tokenize(&c);
    if (st == SJ_OK) {
        decide_standalone(&c);
        st = build(&c);
    }
    if (st == SJ_OK) finish_nodes(&c);
    /* The pool is never empty, and a word read of its last name stays in it. */
    if (st == SJ_OK) st = sj_buf_add(&c.pool, "\0\0\0", 4);
    if (st == SJ_OK) {
        t = calloc(1, sizeof *t);
        char *nm = strdup(name);
        if (!t || !nm) {
            free(t);
            free(nm);
            t = NULL;
            st = SJ_ERR_NOMEM;
        } else {
            t->name = nm;
            t->nodes = c.nodes;
            t->nnodes = (uint32_t)c.nnodes;
            t->parts = c.parts;
            t->pool = sj_buf_detach(&c.pool, NULL);
            c.nodes = NULL;
            c.parts = NULL;
        }
    }
    if (st != SJ_OK && (!err || err->status == SJ_OK)) {
        if (st == SJ_ERR_NOMEM)
            err_set(err, st, name, 0, 0, "out of memory while compiling");
        else
            err_set(err, st, name, 0, 0, "template too large to compile");
    }
    free(c.toks);
    free(c.nodes);
    free(c.parts);
    free(c.names);
    sj_buf_free(&c.pool);
    return t;
}

void sj_tmpl_destroy(sj_tmpl_t *t)
{
    if (!t) return;
    free(t->name);
    free(t->nodes);
    free(t->parts);
    free(t->pool);
    free(t);
}

const char *sj_tmpl_name(const sj_tmpl_t *t)
{
    return t ? t->name : NULL;
}

/* ---------------------------------------------------------------------- */
/* Template sets: an open-addressing hash table from name to template.     */

typedef struct set_entry {
    char *key;
    size_t klen;
    uint64_t hash;
    sj_tmpl_t *tmpl;
} set_entry_t;

struct sj_tmpl_set {
    set_entry_t *slots;
    size_t cap; /* power of two */
    size_t count;
};

static uint64_t hash_name(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

sj_tmpl_set_t *sj_tmpl_set_new(void)
{
    sj_tmpl_set_t *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->cap = 16;
    s->slots = calloc(s->cap, sizeof *s->slots);
    if (!s->slots) {
        free(s);
        return NULL;
    }
    return s;
}

void sj_tmpl_set_destroy(sj_tmpl_set_t *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->cap; i++) {
        free(s->slots[i].key);
        sj_tmpl_destroy(s->slots[i].tmpl);
    }
    free(s->slots);
    free(s);
}

static const set_entry_t *set_find(const sj_tmpl_set_t *s, const char *name, size_t n)
{
    if (!s || s->count == 0) return NULL;
    uint64_t h = hash_name(name, n);
    for (size_t i = (size_t)h & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
        const set_entry_t *e = &s->slots[i];
        if (!e->key) return NULL;
        if (e->hash == h && e->klen == n && memcmp(e->key, name, n) == 0) return e;
    }
}

static sj_status_t set_grow(sj_tmpl_set_t *s)
{
    size_t cap = s->cap * 2;
    set_entry_t *slots = calloc(cap, sizeof *slots);
    if (!slots) return SJ_ERR_NOMEM;
    for (size_t i = 0; i < s->cap; i++) {
        if (!s->slots[i].key) continue;
        size_t j = (size_t)s->slots[i].hash & (cap - 1);
        while (slots[j].key) j = (j + 1) & (cap - 1);
        slots[j] = s->slots[i];
    }
    free(s->slots);
    s->slots = slots;
    s->cap = cap;
    return SJ_OK;
}

sj_status_t sj_tmpl_set_put(sj_tmpl_set_t *s, const char *name, sj_tmpl_t *t)
{
    if (!s || !name || !t) return SJ_ERR_INPUT;
    size_t n = strlen(name);
    uint64_t h = hash_name(name, n);
    if ((s->count + 1) * 4 > s->cap * 3 && set_grow(s) != SJ_OK) return SJ_ERR_NOMEM;
    size_t i = (size_t)h & (s->cap - 1);
    while (s->slots[i].key) {
        set_entry_t *e = &s->slots[i];
        if (e->hash == h && e->klen == n && memcmp(e->key, name, n) == 0) {
            if (e->tmpl != t) sj_tmpl_destroy(e->tmpl);
            e->tmpl = t;
            return SJ_OK;
        }
        i = (i + 1) & (s->cap - 1);
    }
    char *key = malloc(n + 1);
    if (!key) return SJ_ERR_NOMEM;
    memcpy(key, name, n + 1);
    s->slots[i] = (set_entry_t){.key = key, .klen = n, .hash = h, .tmpl = t};
    s->count++;
    return SJ_OK;
}

sj_status_t sj_tmpl_set_add(sj_tmpl_set_t *s, const char *name, const char *src,
                            size_t len, sj_tmpl_error_t *err)
{
    err_clear(err);
    if (!s || !name) {
        err_set(err, SJ_ERR_INPUT, name, 0, 0, "no template set or no name");
        return SJ_ERR_INPUT;
    }
    sj_tmpl_t *t = sj_tmpl_compile(name, src, len, err);
    if (!t) return err ? err->status : SJ_ERR_INPUT;
    sj_status_t st = sj_tmpl_set_put(s, name, t);
    if (st != SJ_OK) {
        sj_tmpl_destroy(t);
        err_set(err, st, name, 0, 0, "out of memory while adding to the template set");
    }
    return st;
}

const sj_tmpl_t *sj_tmpl_set_get(const sj_tmpl_set_t *s, const char *name)
{
    if (!name) return NULL;
    const set_entry_t *e = set_find(s, name, strlen(name));
    return e ? e->tmpl : NULL;
}

size_t sj_tmpl_set_count(const sj_tmpl_set_t *s)
{
    return s ? s->count : 0;
}

/* ---------------------------------------------------------------------- */
/* Renderer                                                                */

/* The context stack: one frame per section level, on the C stack. */
typedef struct ctx {
    const json_t *v;
    const struct ctx *up;
} ctx_t;

/* The root frame remembers look-ups (direct-mapped by the name's pool address;
 * names are interned, so the address identifies the name): a name that list
 * items lack is then looked up in the root once, not once per item, and
 * {{#x}}{{x}}{{/x}} looks x up once. The data does not change during a
 * render, so a remembered value (or absence, NULL) stays right. */
#define MEMO_BITS 4

typedef struct memo {
    const char *key;
    const json_t *v;
} memo_t;

/* Block overrides: one frame per parent expansion. `outer` is the chain that
 * was active where the parent tag was written, so an argument renders with
 * the overrides of its own site (which also ends self-referring blocks). */
typedef struct bframe {
    const sj_tmpl_t *t;
    uint32_t parent; /* index of the OP_PARENT node whose OP_ARG children apply */
    const struct bframe *outer;
} bframe_t;

typedef struct rstate {
    sj_buf_t *out;
    const sj_tmpl_set_t *set;
    sj_tmpl_error_t *err;
    bool escape;
    bool bol; /* the output stands at the beginning of a line */
    unsigned depth, max_depth, nest;
    uint64_t steps, max_steps;
    size_t nind;
    struct {
        const char *p;
        size_t n;
    } ind[SJ_TMPL_DEPTH_LIMIT];
    /* where the renderer is, for error messages */
    const sj_tmpl_t *cur_t;
    const tnode_t *cur_n;
    /* the root frame's look-up memo */
    const ctx_t *root;
    uint32_t memo_valid; /* bit i: memo[i] is filled */
    memo_t memo[1u << MEMO_BITS];
} rstate_t;

static sj_status_t render_fail(rstate_t *st, sj_status_t code, const char *fmt, ...)
    SJ_PRINTF(3, 4);

static sj_status_t render_fail(rstate_t *st, sj_status_t code, const char *fmt, ...)
{
    if (!st->err || st->err->status != SJ_OK) return code;
    char text[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    const tnode_t *n = st->cur_n;
    err_set(st->err, code, st->cur_t ? st->cur_t->name : NULL, n ? n->line : 0,
            n ? n->col : 0, "%s", text);
    return code;
}

static sj_status_t out_fail(rstate_t *st, sj_status_t code)
{
    if (code == SJ_ERR_TOO_BIG)
        return render_fail(st, code, "rendered output exceeds the limit of %zu bytes",
                           st->out->max);
    return render_fail(st, code, "out of memory while rendering");
}

/* Copies n <= 64 bytes with fixed-size copies (no call), the last ones
 * overlapping the first: most pieces of a render are that short. */
static inline void copy_short(char *d, const char *s, size_t n)
{
    if (n > 16) {
        memcpy(d, s, 16);
        if (n > 32) {
            memcpy(d + 16, s + 16, 16);
            memcpy(d + n - 32, s + n - 32, 16);
        }
        memcpy(d + n - 16, s + n - 16, 16);
    } else if (n >= 8) {
        memcpy(d, s, 8);
        memcpy(d + n - 8, s + n - 8, 8);
    } else if (n >= 4) {
        memcpy(d, s, 4);
        memcpy(d + n - 4, s + n - 4, 4);
    } else if (n) {
        d[0] = s[0];
        d[n / 2] = s[n / 2];
        d[n - 1] = s[n - 1];
    }
}

static inline sj_status_t out_raw(rstate_t *st, const char *p, size_t n)
{
    char *d;
    if (n <= 64 && (d = sj_buf_room(st->out, n)) != NULL) {
        copy_short(d, p, n);
        sj_buf_commit(st->out, n);
        return SJ_OK;
    }
    sj_status_t s = sj_buf_add(st->out, p, n);
    return s == SJ_OK ? SJ_OK : out_fail(st, s);
}

static sj_status_t out_indent(rstate_t *st)
{
    for (size_t k = 0; k < st->nind; k++) {
        sj_status_t s = out_raw(st, st->ind[k].p, st->ind[k].n);
        if (s != SJ_OK) return s;
    }
    return SJ_OK;
}

/* Template text: indentation goes before the first byte of every line that
 * has content (a line that is just a line ending stays empty). eol: the text
 * ends with a line ending. */
static sj_status_t out_text_indented(rstate_t *st, const char *p, size_t n);

static inline sj_status_t out_text(rstate_t *st, const char *p, size_t n, bool eol)
{
    if (st->nind == 0) {
        st->bol = eol;
        return out_raw(st, p, n);
    }
    return out_text_indented(st, p, n);
}

static sj_status_t out_text_indented(rstate_t *st, const char *p, size_t n)
{
    sj_status_t s;
    size_t i = 0;
    while (i < n) {
        if (st->bol && p[i] != '\n' && !(p[i] == '\r' && i + 1 < n && p[i + 1] == '\n') &&
            (s = out_indent(st)) != SJ_OK)
            return s;
        const char *nl = memchr(p + i, '\n', n - i);
        size_t j = nl ? (size_t)(nl - p) + 1 : n;
        if ((s = out_raw(st, p + i, j - i)) != SJ_OK) return s;
        st->bol = nl != NULL;
        i = j;
    }
    return SJ_OK;
}

/* Interpolated values: indentation before the value if it starts a line,
 * none for newlines inside it. */
static sj_status_t value_begin(rstate_t *st)
{
    sj_status_t s = SJ_OK;
    if (st->bol && st->nind) s = out_indent(st);
    st->bol = false;
    return s;
}

/* &amp; &lt; &gt; &quot; for the four characters the spec escapes, and the
 * length of each (0: the byte stays as it is). */
static const char *const html_esc[256] = {
    ['&'] = "&amp;", ['<'] = "&lt;", ['>'] = "&gt;", ['"'] = "&quot;"};
static const uint8_t html_esc_len[256] = {['&'] = 5, ['<'] = 4, ['>'] = 4, ['"'] = 6};

static inline uint64_t load64(const char *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
    return w;
}

static inline uint32_t load32(const char *p)
{
    uint32_t w;
    memcpy(&w, p, 4);
    return w;
}

#define ONES  0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

/* Index of the first byte in p[i..n) that needs escaping, or n. Eight bytes at
 * a time first: '<' (3C) and '>' (3E) differ only in bit 1, '"' (22) and '&'
 * (26) only in bit 2, so two "has a zero byte" tests cover all four. */
static inline bool esc_word(uint64_t w)
{
    uint64_t a = (w | 0x02 * ONES) ^ (0x3E * ONES);
    uint64_t b = (w | 0x04 * ONES) ^ (0x26 * ONES);
    return ((a - ONES) & ~a & HIGHS) | ((b - ONES) & ~b & HIGHS);
}

/* Whether p[0..n) has a byte to escape. Words of 8 (the last one overlapping
 * the one before) or two overlapping words of 4, so that short values take no
 * loop; a 4-byte word is tested as the low half of an 8-byte one whose upper
 * bytes are zero, which never match. */
static inline bool esc_any(const char *p, size_t n)
{
    if (n >= 8) {
        for (size_t i = 0; i + 8 < n; i += 8)
            if (esc_word(load64(p + i))) return true;
        return esc_word(load64(p + n - 8));
    }
    if (n >= 4) return esc_word(load32(p)) || esc_word(load32(p + n - 4));
    for (size_t i = 0; i < n; i++)
        if (html_esc_len[(unsigned char)p[i]]) return true;
    return false;
}

/* Index of the next byte to escape in p[i..n), or n: whole words skipped. */
static size_t esc_next(const char *p, size_t i, size_t n)
{
    while (n - i >= 8 && !esc_word(load64(p + i))) i += 8;
    while (i < n && !html_esc_len[(unsigned char)p[i]]) i++;
    return i;
}

/* Writes p[0..n), which has bytes to escape: the runs between them go out in
 * one piece. */
static sj_status_t out_escaped(rstate_t *st, const char *p, size_t n)
{
    size_t run = 0;
    for (size_t i = esc_next(p, 0, n); i < n; i = esc_next(p, run, n)) {
        unsigned char ch = (unsigned char)p[i];
        sj_status_t s = out_raw(st, p + run, i - run);
        if (s == SJ_OK) s = out_raw(st, html_esc[ch], html_esc_len[ch]);
        if (s != SJ_OK) return s;
        run = i + 1;
    }
    return out_raw(st, p + run, n - run);
}

static inline sj_status_t out_value(rstate_t *st, const char *p, size_t n, bool esc)
{
    if (esc && esc_any(p, n)) return out_escaped(st, p, n);
    return out_raw(st, p, n);
}

/* Formats an integer into buf (>= 24 bytes); returns the length. */
static size_t fmt_int(json_int_t v, char *buf)
{
    char tmp[24];
    size_t n = 0;
    unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    size_t o = 0;
    if (v < 0) buf[o++] = '-';
    while (n) buf[o++] = tmp[--n];
    buf[o] = '\0';
    return o;
}

/* Formats a double in the shortest %g form that reads back unchanged, with '.'
 * as decimal point and no leading zeros in the exponent. buf >= 40 bytes. */
static size_t fmt_real(double d, char *buf)
{
    if (d == 0) d = 0; /* -0 prints as 0, as in JavaScript */
    if (d == floor(d) && fabs(d) < 9.2e18) return fmt_int((json_int_t)d, buf);
    if (!isfinite(d)) {
        /* Not reachable from parsed JSON; JavaScript's spelling. */
        return (size_t)snprintf(buf, 40, "%s",
                                isnan(d) ? "NaN"
                                : d < 0  ? "-Infinity"
                                         : "Infinity");
    }
    char tmp[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, d);
        if (prec == 17 || strtod(tmp, NULL) == d) break;
    }
    /* Normalise: any decimal separator becomes '.', "e-07" becomes "e-7". */
    size_t o = 0;
    bool sep = false;
    for (size_t i = 0; tmp[i]; i++) {
        char ch = tmp[i];
        bool plain = (ch >= '0' && ch <= '9') || ch == '-' || ch == '+' || ch == 'e';
        if (!plain) {
            if (!sep) buf[o++] = '.';
            sep = true;
            continue;
        }
        sep = false;
        buf[o++] = ch;
        if (ch == 'e' && (tmp[i + 1] == '-' || tmp[i + 1] == '+')) {
            buf[o++] = tmp[++i];
            while (tmp[i + 1] == '0' && tmp[i + 2]) i++;
        }
    }
    buf[o] = '\0';
    return o;
}

/* Writes a scalar's text form into buf (>= 40 bytes) or points *s at a
 * string's bytes. Returns false for arrays and objects. */
static bool scalar_text(const json_t *v, char *buf, const char **s, size_t *n)
{
    switch (json_typeof(v)) {
    case JSON_STRING:
        *s = json_string_value(v);
        *n = json_string_length(v);
        return true;
    case JSON_INTEGER:
        *n = fmt_int(json_integer_value(v), buf);
        *s = buf;
        return true;
    case JSON_REAL:
        *n = fmt_real(json_real_value(v), buf);
        *s = buf;
        return true;
    case JSON_TRUE:
        *s = "true";
        *n = 4;
        return true;
    case JSON_FALSE:
        *s = "false";
        *n = 5;
        return true;
    case JSON_NULL:
        *s = "";
        *n = 0;
        return true;
    default:
        return false;
    }
}

#define JSON_OUT_DEPTH 32

/* JSON's two-character escapes; other control characters become \u00XX. */
static const char json_esc[256] = {
    ['"'] = '"',  ['\\'] = '\\', ['\n'] = 'n', ['\r'] = 'r',
    ['\t'] = 't', ['\b'] = 'b',  ['\f'] = 'f'};

static sj_status_t out_json_string(rstate_t *st, const char *p, size_t n, bool esc)
{
    sj_status_t s = out_value(st, "\"", 1, esc);
    size_t run = 0;
    for (size_t i = 0; i < n && s == SJ_OK; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch >= 0x20 && !json_esc[ch]) continue;
        char e[7] = {'\\', json_esc[ch], 0};
        size_t el = 2;
        if (!json_esc[ch]) {
            memcpy(e + 1, "u00", 3);
            e[4] = "0123456789abcdef"[ch >> 4];
            e[5] = "0123456789abcdef"[ch & 15];
            el = 6;
        }
        s = out_value(st, p + run, i - run, esc);
        if (s == SJ_OK) s = out_value(st, e, el, esc);
        run = i + 1;
    }
    if (s == SJ_OK) s = out_value(st, p + run, n - run, esc);
    if (s == SJ_OK) s = out_value(st, "\"", 1, esc);
    return s;
}

/* Compact JSON of an array or object (a template printing a whole object). */
static sj_status_t out_json(rstate_t *st, const json_t *v, bool esc, int depth)
{
    char buf[40];
    const char *s;
    size_t n;
    sj_status_t rc = SJ_OK;
    if (depth > JSON_OUT_DEPTH)
        return render_fail(st, SJ_ERR_TOO_BIG,
                           "value nested deeper than %d levels cannot be interpolated",
                           JSON_OUT_DEPTH);
    if (json_is_string(v))
        return out_json_string(st, json_string_value(v), json_string_length(v), esc);
    if (json_is_null(v)) return out_value(st, "null", 4, esc);
    if (scalar_text(v, buf, &s, &n)) return out_value(st, s, n, esc);
    if (json_is_array(v)) {
        rc = out_value(st, "[", 1, esc);
        for (size_t i = 0; i < json_array_size(v) && rc == SJ_OK; i++) {
            if (i) rc = out_value(st, ",", 1, esc);
            if (rc == SJ_OK) rc = out_json(st, json_array_get(v, i), esc, depth + 1);
        }
        return rc == SJ_OK ? out_value(st, "]", 1, esc) : rc;
    }
    rc = out_value(st, "{", 1, esc);
    bool first = true;
    /* json_object_iter() takes a non-const pointer but only reads. */
    for (void *it = json_object_iter((json_t *)v); it && rc == SJ_OK;
         it = json_object_iter_next((json_t *)v, it)) {
        if (!first) rc = out_value(st, ",", 1, esc);
        first = false;
        const char *k = json_object_iter_key(it);
        if (rc == SJ_OK) rc = out_json_string(st, k, json_object_iter_key_len(it), esc);
        if (rc == SJ_OK) rc = out_value(st, ":", 1, esc);
        if (rc == SJ_OK) rc = out_json(st, json_object_iter_value(it), esc, depth + 1);
    }
    return rc == SJ_OK ? out_value(st, "}", 1, esc) : rc;
}

static sj_status_t interpolate(rstate_t *st, const json_t *v, bool esc)
{
    char buf[40];
    const char *s;
    size_t n;
    if (!v || json_is_null(v)) return SJ_OK;
    if (json_is_string(v)) { /* the common case, without the copy to buf */
        if ((n = json_string_length(v)) == 0) return SJ_OK;
        sj_status_t rc = value_begin(st);
        return rc == SJ_OK ? out_value(st, json_string_value(v), n, esc) : rc;
    }
    if (scalar_text(v, buf, &s, &n)) {
        if (n == 0) return SJ_OK;
        sj_status_t rc = value_begin(st);
        return rc == SJ_OK ? out_value(st, s, n, esc) : rc;
    }
    sj_status_t rc = value_begin(st);
    return rc == SJ_OK ? out_json(st, v, esc, 0) : rc;
}

static inline size_t memo_slot(const char *key)
{
    return (size_t)(((uint64_t)(uintptr_t)key * 0x9E3779B97F4A7C15ull) >>
                    (64 - MEMO_BITS));
}

/* Member key[0..len) of the root, remembered. */
static const json_t *root_get(rstate_t *st, const ctx_t *root, const char *key,
                              size_t len)
{
    size_t slot = memo_slot(key);
    if ((st->memo_valid >> slot & 1) && st->memo[slot].key == key)
        return st->memo[slot].v;
    const json_t *v =
        json_is_object(root->v) ? json_object_getn(root->v, key, len) : NULL;
    st->memo_valid |= 1u << slot;
    st->memo[slot] = (memo_t){key, v};
    return v;
}

/* The parts of a dotted name after the first, inside v. */
static const json_t *lookup_rest(const sj_tmpl_t *t, const tnode_t *n, const json_t *v)
{
    const part_t *p = &t->parts[n->name];
    for (uint16_t k = 1; k < n->nparts && v; k++)
        v = json_is_object(v) ? json_object_getn(v, t->pool + p[k].off, p[k].len) : NULL;
    return v;
}

/* Resolves a dotted name: the first part (interned, at off/len) up the
 * context stack, the rest inside the value found (never up the stack again). */
static inline const json_t *lookup(rstate_t *st, const sj_tmpl_t *t, const tnode_t *n,
                                   const ctx_t *ctx)
{
    if (n->nparts == 0) return ctx ? ctx->v : NULL;
    const char *key = t->pool + n->off;
    const json_t *v = NULL;
    const ctx_t *c = ctx;
    for (; c && c != st->root; c = c->up) {
        if (json_is_object(c->v) && (v = json_object_getn(c->v, key, n->len)) != NULL)
            break;
    }
    if (c == st->root && c) v = root_get(st, c, key, n->len);
    return n->nparts > 1 && v ? lookup_rest(t, n, v) : v;
}

static bool truthy(const json_t *v)
{
    if (!v) return false;
    switch (json_typeof(v)) {
    case JSON_OBJECT:
    case JSON_TRUE:
        return true;
    case JSON_ARRAY:
        return json_array_size(v) > 0;
    case JSON_STRING:
        return json_string_length(v) > 0;
    case JSON_INTEGER:
        return json_integer_value(v) != 0;
    case JSON_REAL:
        return json_real_value(v) != 0;
    default:
        return false;
    }
}

static sj_status_t render_range(rstate_t *st, const sj_tmpl_t *t, uint32_t i,
                                uint32_t end, const ctx_t *ctx, const bframe_t *frames);

/* Finds the template a partial or parent node names, or NULL. */
static const sj_tmpl_t *resolve(rstate_t *st, const sj_tmpl_t *t, const tnode_t *n,
                                const ctx_t *ctx)
{
    if (!(n->flags & NF_DYNAMIC)) {
        const set_entry_t *e = set_find(st->set, t->pool + n->off, n->len);
        return e ? e->tmpl : NULL;
    }
    /* ~dynamic-names: the value of the name, as interpolation would print it. */
    const json_t *v = lookup(st, t, n, ctx);
    char buf[40];
    const char *s;
    size_t len;
    if (!v || !scalar_text(v, buf, &s, &len) || len == 0) return NULL;
    const set_entry_t *e = set_find(st->set, s, len);
    return e ? e->tmpl : NULL;
}

/* Renders nodes [i, end) of template x as an expansion of node n of template
 * t (a partial, parent or overridden block): depth check and indentation. */
static sj_status_t expand(rstate_t *st, const sj_tmpl_t *t, const tnode_t *n,
                          const sj_tmpl_t *x, uint32_t i, uint32_t end, const ctx_t *ctx,
                          const bframe_t *frames)
{
    sj_status_t rc;
    if (st->depth >= st->max_depth) {
        st->cur_t = t;
        st->cur_n = n;
        return render_fail(st, SJ_ERR_TOO_BIG,
                           "partials, parents and blocks nested deeper than %u levels "
                           "(a partial that includes itself without end?)",
                           st->max_depth);
    }
    bool indent = n->flags & NF_INDENT;
    if (indent) {
        /* A standalone tag removed its blanks from the output; if this
         * template itself started mid-line, write them back for the first line. */
        if ((n->flags & NF_STRIPPED) && !st->bol) {
            st->cur_t = t;
            st->cur_n = n;
            if ((rc = out_raw(st, t->pool + n->ind_off, n->ind_len)) != SJ_OK) return rc;
        }
        st->ind[st->nind].p = t->pool + n->ind_off;
        st->ind[st->nind].n = n->ind_len;
        st->nind++;
    }
    st->depth++;
    rc = render_range(st, x, i, end, ctx, frames);
    st->depth--;
    if (indent) st->nind--;
    return rc;
}

/* The argument that overrides block node n: the outermost frame wins. */
static bool find_override(const sj_tmpl_t *t, const tnode_t *n, const bframe_t *frames,
                          const bframe_t **where, uint32_t *arg)
{
    const char *name = t->pool + n->off;
    bool found = false;
    for (const bframe_t *f = frames; f; f = f->outer) {
        const tnode_t *nodes = f->t->nodes;
        for (uint32_t j = f->parent + 1; j < nodes[f->parent].end; j = nodes[j].end) {
            if (nodes[j].len == n->len &&
                memcmp(f->t->pool + nodes[j].off, name, n->len) == 0) {
                *where = f;
                *arg = j;
                found = true;
                break;
            }
        }
    }
    return found;
}

/* Renders container or partial node i; v is the value of a section's name. */
static sj_status_t render_node(rstate_t *st, const sj_tmpl_t *t, uint32_t i,
                               const ctx_t *ctx, const bframe_t *frames, const json_t *v)
{
    const tnode_t *n = &t->nodes[i];
    sj_status_t rc = SJ_OK;
    switch (n->op) {
    case OP_SECTION:
        if (!truthy(v)) return SJ_OK;
        if (json_is_array(v)) {
            size_t k = json_array_size(v);
            for (size_t j = 0; j < k && rc == SJ_OK; j++) {
                ctx_t c = {json_array_get(v, j), ctx};
                rc = render_range(st, t, i + 1, n->end, &c, frames);
            }
            return rc;
        } else {
            ctx_t c = {v, ctx};
            return render_range(st, t, i + 1, n->end, &c, frames);
        }
    case OP_INVERTED:
        if (truthy(v)) return SJ_OK;
        return render_range(st, t, i + 1, n->end, ctx, frames);
    case OP_PARTIAL: {
        const sj_tmpl_t *p = resolve(st, t, n, ctx);
        return p ? expand(st, t, n, p, 0, p->nnodes, ctx, frames) : SJ_OK;
    }
    case OP_PARENT: {
        const sj_tmpl_t *p = resolve(st, t, n, ctx);
        bframe_t f = {t, i, frames};
        return p ? expand(st, t, n, p, 0, p->nnodes, ctx, &f) : SJ_OK;
    }
    case OP_BLOCK: {
        const bframe_t *where;
        uint32_t arg;
        if (!find_override(t, n, frames, &where, &arg))
            return render_range(st, t, i + 1, n->end, ctx, frames);
        const sj_tmpl_t *x = where->t;
        return expand(st, t, n, x, arg + 1, x->nodes[arg].end, ctx, where->outer);
    }
    default: /* OP_TEXT and OP_VAR are handled in render_range(); OP_ARG is
              * only reached through find_override() */
        return SJ_OK;
    }
}

/* The step budget is spent; the error names the current node. */
static sj_status_t steps_exceeded(rstate_t *st)
{
    return render_fail(st, SJ_ERR_TOO_BIG,
                       "rendering stopped after %llu steps (sections nested over large "
                       "lists?)",
                       (unsigned long long)st->max_steps);
}

/* Renders nodes [i, end) of t. Text and variables, most of the nodes, are
 * handled here; containers and partials go through render_node(). The step
 * budget counts the range and every node in it. */
static sj_status_t render_range(rstate_t *st, const sj_tmpl_t *t, uint32_t i,
                                uint32_t end, const ctx_t *ctx, const bframe_t *frames)
{
    if (st->nest == SJ_TMPL_MAX_NESTING)
        return render_fail(st, SJ_ERR_TOO_BIG,
                           "sections and partials nested deeper than %d levels",
                           SJ_TMPL_MAX_NESTING);
    /* One step for the range itself: a section over a long list with an
     * empty body costs its iterations even though it visits no node. */
    if (++st->steps > st->max_steps) return steps_exceeded(st);
    st->nest++;
    const tnode_t *nodes = t->nodes;
    sj_status_t rc = SJ_OK;
    const json_t *v = NULL; /* the last value looked up in this range */
    while (i < end) {
        const tnode_t *n = &nodes[i];
        st->cur_t = t;
        if (n->plen) {
            /* The text before the tag: a step, and errors without position. */
            st->cur_n = NULL;
            if (++st->steps > st->max_steps) {
                rc = steps_exceeded(st);
                break;
            }
            if ((rc = out_text(st, t->pool + n->poff, n->plen, n->flags & NF_PEOL)) !=
                SJ_OK)
                break;
        }
        st->cur_n = n;
        if (++st->steps > st->max_steps) {
            rc = steps_exceeded(st);
            break;
        }
        if (n->op == OP_TEXT) {
            rc = out_text(st, t->pool + n->off, n->len, n->flags & NF_EOL);
        } else if (n->op == OP_VAR) {
            if (!(n->flags & NF_SAMEPREV)) v = lookup(st, t, n, ctx);
            rc = interpolate(st, v, st->escape && (n->flags & NF_ESCAPE));
        } else {
            if ((n->op == OP_SECTION || n->op == OP_INVERTED) &&
                !(n->flags & NF_SAMEPREV))
                v = lookup(st, t, n, ctx);
            rc = render_node(st, t, i, ctx, frames, v);
        }
        if (rc != SJ_OK) break;
        i = n->end;
    }
    st->nest--;
    return rc;
}

sj_status_t sj_tmpl_render_opts(const sj_tmpl_t *t, const sj_tmpl_set_t *partials,
                                const json_t *data, const sj_tmpl_opts_t *opts,
                                sj_buf_t *out, sj_tmpl_error_t *err)
{
    err_clear(err);
    if (!t || !out) {
        err_set(err, SJ_ERR_INPUT, t ? t->name : NULL, 0, 0,
                "no template or no output buffer");
        return SJ_ERR_INPUT;
    }
    /* Field by field: an initializer would zero the 4 KB indentation stack
     * on every render, and only its first nind entries are ever read. */
    rstate_t st;
    st.out = out;
    st.set = partials;
    st.err = err;
    st.bol = true;
    st.depth = st.nest = 0;
    st.steps = 0;
    st.nind = 0;
    st.cur_t = t;
    st.cur_n = NULL;
    unsigned flags = opts ? opts->flags : 0;
    st.escape = !(flags & SJ_TMPL_NO_ESCAPE);
    st.max_depth = opts && opts->max_depth ? opts->max_depth : SJ_TMPL_MAX_DEPTH;
    if (st.max_depth > SJ_TMPL_DEPTH_LIMIT) st.max_depth = SJ_TMPL_DEPTH_LIMIT;
    st.max_steps = opts && opts->max_steps ? opts->max_steps : SJ_TMPL_MAX_STEPS;
    ctx_t root = {data, NULL};
    st.root = &root;
    st.memo_valid = 0;
    return render_range(&st, t, 0, t->nnodes, data ? &root : NULL, NULL);
}

sj_status_t sj_tmpl_render(const sj_tmpl_t *t, const sj_tmpl_set_t *partials,
                           const json_t *data, unsigned flags, sj_buf_t *out,
                           sj_tmpl_error_t *err)
{
    sj_tmpl_opts_t o = {.flags = flags};
    return sj_tmpl_render_opts(t, partials, data, &o, out, err);
}
