/* Strict JSON scanner (RFC 8259) without allocation. See jscan.h. */
#include "jscan.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/text.h"

typedef struct {
    const char *s, *p, *end;
    unsigned depth, max_depth;
    sj_json_error_t *err;
    sj_jindex_t *idx; /* NULL: no index */
    int parent;       /* index entry of the object being scanned, -1 root, -2 none */
} scan_t;

static sj_status_t fail(scan_t *sc, const char *at, const char *what)
{
    if (sc->err) {
        sc->err->offset = (size_t)(at - sc->s);
        sc->err->what = what;
    }
    return SJ_ERR_INPUT;
}

static void skip_ws(scan_t *sc)
{
    while (sc->p < sc->end &&
           (*sc->p == ' ' || *sc->p == '\t' || *sc->p == '\n' || *sc->p == '\r'))
        sc->p++;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static bool hex4(const char *p, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(p[i]);
        if (h < 0) return false;
        v = v << 4 | (unsigned)h;
    }
    *out = v;
    return true;
}

static sj_status_t scan_string(scan_t *sc)
{
    const char *start = sc->p++;
    for (;;) {
        /* Fast skip over plain bytes, eight at a time (SWAR): stop at a word
         * holding a control byte, '"', '\\' or a non-ASCII byte. */
        while (sc->end - sc->p >= 8) {
            uint64_t w;
            memcpy(&w, sc->p, 8);
            const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
            uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
            uint64_t special =
                ((w - ones * 0x20) & ~w) | ((q - ones) & ~q) | ((b - ones) & ~b) | w;
            if (special & high) break;
            sc->p += 8;
        }
        while (sc->p < sc->end && (unsigned char)*sc->p >= 0x20 && *sc->p != '"' &&
               *sc->p != '\\' && (unsigned char)*sc->p < 0x80)
            sc->p++;
        if (sc->p >= sc->end) return fail(sc, start, "unterminated string");
        unsigned char c = (unsigned char)*sc->p;
        if (c == '"') {
            sc->p++;
            return SJ_OK;
        }
        if (c < 0x20) return fail(sc, sc->p, "control character in string (escape it)");
        if (c >= 0x80) {
            /* Validate one UTF-8 sequence. */
            size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
            size_t bad;
            if ((size_t)(sc->end - sc->p) < n || !sj_utf8_valid(sc->p, n, &bad))
                return fail(sc, sc->p, "invalid UTF-8 in string");
            sc->p += n;
            continue;
        }
        /* Backslash escape. */
        if (sc->end - sc->p < 2) return fail(sc, sc->p, "unterminated escape");
        char e = sc->p[1];
        if (strchr("\"\\/bfnrt", e) && e) {
            sc->p += 2;
            continue;
        }
        if (e != 'u') return fail(sc, sc->p, "invalid escape");
        unsigned u;
        if (sc->end - sc->p < 6 || !hex4(sc->p + 2, &u))
            return fail(sc, sc->p, "invalid \\u escape");
        if (u >= 0xDC00 && u <= 0xDFFF)
            return fail(sc, sc->p, "lone low surrogate escape");
        if (u >= 0xD800 && u <= 0xDBFF) {
            unsigned lo;
            if (sc->end - sc->p < 12 || sc->p[6] != '\\' || sc->p[7] != 'u' ||
                !hex4(sc->p + 8, &lo) || lo < 0xDC00 || lo > 0xDFFF)
                return fail(sc, sc->p, "lone high surrogate escape");
            sc->p += 12;
        } else {
            sc->p += 6;
        }
    }
}

static sj_status_t scan_number(scan_t *sc)
{
    const char *p = sc->p;
    if (p < sc->end && *p == '-') p++;
    if (p >= sc->end) return fail(sc, sc->p, "invalid number");
    if (*p == '0') {
        p++;
    } else if (*p >= '1' && *p <= '9') {
        while (p < sc->end && *p >= '0' && *p <= '9') p++;
    } else {
        return fail(sc, sc->p, "invalid number");
    }
    if (p < sc->end && *p == '.') {
        const char *d = ++p;
        while (p < sc->end && *p >= '0' && *p <= '9') p++;
        if (p == d) return fail(sc, p, "digits expected after '.'");
    }
    if (p < sc->end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < sc->end && (*p == '+' || *p == '-')) p++;
        const char *d = p;
        while (p < sc->end && *p >= '0' && *p <= '9') p++;
        if (p == d) return fail(sc, p, "digits expected in exponent");
    }
    sc->p = p;
    return SJ_OK;
}

static sj_status_t scan_value(scan_t *sc, sj_jval_t *out);

static sj_status_t scan_container(scan_t *sc, bool object)
{
    const char *open = sc->p++;
    if (++sc->depth > sc->max_depth) return fail(sc, open, "nested too deeply");
    char close = object ? '}' : ']';
    /* Members of objects reached through objects only, up to the index depth,
     * go into the index; array elements and what lies below them do not. */
    int parent = sc->parent;
    bool record = sc->idx && object && parent != -2 && sc->depth <= sc->idx->max_depth;
    if (!object) sc->parent = -2;
    sj_status_t st = SJ_OK;
    skip_ws(sc);
    if (sc->p < sc->end && *sc->p == close) {
        sc->p++;
        goto done;
    }
    for (;;) {
        sj_jval_t v;
        const char *key = NULL;
        int slot = -2;
        skip_ws(sc);
        if (sc->p >= sc->end) {
            st = fail(sc, open, object ? "unclosed object" : "unclosed array");
            goto done;
        }
        if (object) {
            if (*sc->p != '"') {
                st = fail(sc, sc->p, "object member name (a string) expected");
                goto done;
            }
            key = sc->p;
            if ((st = scan_string(sc)) != SJ_OK) goto done;
            if (record) {
                if (sc->idx->count == sc->idx->cap) {
                    sc->idx->overflow = true;
                } else {
                    slot = (int)sc->idx->count++;
                    sj_jmember_t *m = &sc->idx->m[slot];
                    m->key = (sj_jval_t){SJ_JSON_STRING, key, (size_t)(sc->p - key)};
                    m->parent = parent;
                }
            }
            skip_ws(sc);
            if (sc->p >= sc->end || *sc->p != ':') {
                st = fail(sc, sc->p, "':' expected");
                goto done;
            }
            sc->p++;
            sc->parent = slot;
        }
        if ((st = scan_value(sc, &v)) != SJ_OK) goto done;
        if (slot >= 0) sc->idx->m[slot].val = v;
        skip_ws(sc);
        if (sc->p < sc->end && *sc->p == ',') {
            sc->p++;
            continue;
        }
        if (sc->p < sc->end && *sc->p == close) {
            sc->p++;
            goto done;
        }
        if (sc->p >= sc->end)
            st = fail(sc, open, object ? "unclosed object" : "unclosed array");
        else
            st = fail(sc, sc->p, object ? "',' or '}' expected" : "',' or ']' expected");
        goto done;
    }
done:
    sc->depth--;
    sc->parent = parent;
    return st;
}

static sj_status_t scan_literal(scan_t *sc, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(sc->end - sc->p) < n || memcmp(sc->p, lit, n) != 0)
        return fail(sc, sc->p, "invalid literal (expected true, false or null)");
    sc->p += n;
    return SJ_OK;
}

static sj_status_t scan_value(scan_t *sc, sj_jval_t *out)
{
    skip_ws(sc);
    if (sc->p >= sc->end) return fail(sc, sc->p, "value expected");
    const char *start = sc->p;
    sj_status_t st;
    switch (*sc->p) {
    case '{':
        out->type = SJ_JSON_OBJECT;
        st = scan_container(sc, true);
        break;
    case '[':
        out->type = SJ_JSON_ARRAY;
        st = scan_container(sc, false);
        break;
    case '"':
        out->type = SJ_JSON_STRING;
        st = scan_string(sc);
        break;
    case 't':
        out->type = SJ_JSON_TRUE;
        st = scan_literal(sc, "true");
        break;
    case 'f':
        out->type = SJ_JSON_FALSE;
        st = scan_literal(sc, "false");
        break;
    case 'n':
        out->type = SJ_JSON_NULL;
        st = scan_literal(sc, "null");
        break;
    default:
        out->type = SJ_JSON_NUMBER;
        st = scan_number(sc);
    }
    out->p = start;
    out->len = (size_t)(sc->p - start);
    return st;
}

sj_status_t sj_json_scan_indexed(const char *s, size_t n, unsigned max_depth,
                                 sj_jval_t *root, sj_jindex_t *idx, sj_json_error_t *err)
{
    if (idx) {
        idx->count = 0;
        idx->overflow = false;
    }
    scan_t sc = {s, s, s + n, 0, max_depth, err, idx, -1};
    sj_status_t st = scan_value(&sc, root);
    if (st != SJ_OK) return st;
    skip_ws(&sc);
    if (sc.p != sc.end) return fail(&sc, sc.p, "unexpected text after the JSON value");
    return SJ_OK;
}

sj_status_t sj_json_scan(const char *s, size_t n, unsigned max_depth, sj_jval_t *root,
                         sj_json_error_t *err)
{
    return sj_json_scan_indexed(s, n, max_depth, root, NULL, err);
}

void sj_jiter_init(sj_jiter_t *it, const sj_jval_t *c)
{
    it->p = c->p + 1;
    it->end = c->p + c->len - 1;
    it->object = c->type == SJ_JSON_OBJECT;
}

static const char *skip_ws_to(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
    return p;
}

/* Returns the end of the already-validated string starting at p: the byte
 * after its closing quote, the first quote not escaped by an odd number of
 * backslashes. memchr does the scanning. */
static const char *string_end(const char *p, const char *end)
{
    const char *q = p + 1;
    for (;;) {
        q = memchr(q, '"', (size_t)(end - q));
        if (!q) return end;
        size_t bs = 0;
        while (q - bs > p + 1 && q[-1 - (ptrdiff_t)bs] == '\\') bs++;
        if (bs % 2 == 0) return q + 1;
        q++;
    }
}

/* Returns the end of the already-validated value starting at p. */
static const char *value_end(const char *p, const char *end, sj_json_type_t *type)
{
    if (*p == '"') {
        *type = SJ_JSON_STRING;
        return string_end(p, end);
    }
    if (*p == '{' || *p == '[') {
        *type = *p == '{' ? SJ_JSON_OBJECT : SJ_JSON_ARRAY;
        unsigned depth = 0;
        for (; p < end; p++) {
            if (*p == '"') {
                p = string_end(p, end) - 1;
            } else if (*p == '{' || *p == '[') {
                depth++;
            } else if (*p == '}' || *p == ']') {
                if (--depth == 0) return p + 1;
            }
        }
        return p;
    }
    *type = *p == 't'   ? SJ_JSON_TRUE
            : *p == 'f' ? SJ_JSON_FALSE
            : *p == 'n' ? SJ_JSON_NULL
                        : SJ_JSON_NUMBER;
    while (p < end && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\t' &&
           *p != '\n' && *p != '\r')
        p++;
    return p;
}

bool sj_jiter_next(sj_jiter_t *it, sj_jval_t *key, sj_jval_t *val)
{
    const char *p = skip_ws_to(it->p, it->end);
    if (p < it->end && *p == ',') p = skip_ws_to(p + 1, it->end);
    if (p >= it->end) return false;
    if (it->object) {
        key->p = p;
        p = value_end(p, it->end, &key->type);
        key->len = (size_t)(p - key->p);
        p = skip_ws_to(p, it->end) + 1; /* ':' */
        p = skip_ws_to(p, it->end);
    }
    val->p = p;
    p = value_end(p, it->end, &val->type);
    val->len = (size_t)(p - val->p);
    it->p = p;
    return true;
}

static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12);
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | cp >> 18);
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

sj_status_t sj_jstr_decode(const sj_jval_t *v, char *out, size_t outsize, size_t *outlen)
{
    const char *p = v->p + 1, *end = v->p + v->len - 1;
    size_t raw = (size_t)(end - p);
    if (!memchr(p, '\\', raw)) { /* the common case: nothing to unescape */
        if (raw >= outsize) return SJ_ERR_TOO_BIG;
        memcpy(out, p, raw);
        out[raw] = '\0';
        if (outlen) *outlen = raw;
        return SJ_OK;
    }
    size_t k = 0;
    while (p < end) {
        char tmp[4];
        size_t n = 1;
        if (*p != '\\') {
            tmp[0] = *p++;
        } else {
            char e = p[1];
            p += 2;
            switch (e) {
            case 'b':
                tmp[0] = '\b';
                break;
            case 'f':
                tmp[0] = '\f';
                break;
            case 'n':
                tmp[0] = '\n';
                break;
            case 'r':
                tmp[0] = '\r';
                break;
            case 't':
                tmp[0] = '\t';
                break;
            case 'u': {
                unsigned u, lo;
                hex4(p, &u);
                p += 4;
                if (u >= 0xD800 && u <= 0xDBFF) {
                    hex4(p + 2, &lo);
                    p += 6;
                    u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
                }
                n = put_utf8(tmp, u);
                break;
            }
            default:
                tmp[0] = e;
            }
        }
        if (k + n >= outsize) return SJ_ERR_TOO_BIG;
        memcpy(out + k, tmp, n);
        k += n;
    }
    if (outsize == 0) return SJ_ERR_TOO_BIG;
    out[k] = '\0';
    if (outlen) *outlen = k;
    return SJ_OK;
}

bool sj_jstr_eq(const sj_jval_t *v, const char *lit)
{
    size_t n = strlen(lit);
    if (v->type != SJ_JSON_STRING) return false;
    if (v->len == n + 2 && memcmp(v->p + 1, lit, n) == 0) return true;
    if (!memchr(v->p, '\\', v->len)) return false;
    char buf[256];
    size_t k;
    return sj_jstr_decode(v, buf, sizeof buf, &k) == SJ_OK && k == n &&
           memcmp(buf, lit, n) == 0;
}
