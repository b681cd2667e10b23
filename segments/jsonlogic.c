/* JsonLogic evaluator: compiles a rule into a flat node array and evaluates
 * it over jansson values with JavaScript's coercions (see jsonlogic.h for
 * the operators, the date helpers and the differences from json-logic-js).
 *
 * Compiled form. Every operation, literal array and literal of the rule is
 * one node_t in r->nodes, in pre-order; a node's children are a run of
 * indexes in r->args. Literals are copies owned by the rule (r->consts), so
 * the source JSON can go away. A var whose path is a constant has its path
 * split once into r->segs, with array indexes pre-parsed. A node whose
 * children are all literals and whose value cannot depend on the data
 * (anything but var, missing, missing_some) is evaluated at compile time and
 * replaced by its value; its subtree is then cut off the arrays, which is
 * possible because a node's argument slots are reserved before its children
 * are compiled, so everything after them belongs to the subtree.
 *
 * Evaluation. A value in flight is a val_t: an unboxed null, boolean or
 * number, or a json_t that is either borrowed (from the data, the rule's
 * literals or a value an enclosing frame keeps alive) or owned (computed here,
 * released with vfree()). Var lookups and literals thus cost no allocation;
 * only computed strings and arrays do. A borrowed value is turned into an
 * owned one (promote()) before whatever it borrows from can be released, as
 * in reduce where the previous accumulator is dropped every step. The
 * compiled rule is never written after compile, so evaluations can run
 * concurrently; jansson's reference counts are atomic.
 *
 * Errors during evaluation (bounds, memory) fill the caller's error once, at
 * the innermost node, and unwind with -1; the path of a node is rebuilt from
 * parent links only when it is needed for a message. */
#include "segments/jsonlogic.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/text.h"
#include "core/timeutil.h"
#include "segments/intent.h"

#define NONE  UINT32_MAX
#define ANY   255 /* opdef_t.max: no upper bound */
#define NODEF 255 /* node_t.def of literals and literal arrays */

/* ---- operators ------------------------------------------------------------- */

typedef enum {
    OP_LIT,
    OP_ARRAY,
    OP_VAR,
    OP_MISSING,
    OP_MISSING_SOME,
    OP_IF,
    OP_EQ,
    OP_SEQ,
    OP_NE,
    OP_SNE,
    OP_NOT,
    OP_TRUTHY,
    OP_OR,
    OP_AND,
    OP_GT,
    OP_GE,
    OP_LT,
    OP_LE,
    OP_MAX,
    OP_MIN,
    OP_ADD,
    OP_SUB,
    OP_MUL,
    OP_DIV,
    OP_MOD,
    OP_MAP,
    OP_FILTER,
    OP_REDUCE,
    OP_ALL,
    OP_NONE,
    OP_SOME,
    OP_MERGE,
    OP_IN,
    OP_CAT,
    OP_SUBSTR,
    OP_LOG,
    OP_AGE_ON,
    OP_DAYS_UNTIL,
    OP_DATE_ADD
} op_t;

typedef struct opdef {
    const char *name;
    uint8_t op;
    uint8_t min, max; /* number of arguments; max ANY = unbounded */
} opdef_t;

static const opdef_t opdefs[] = {
    {"var", OP_VAR, 0, 2},
    {"missing", OP_MISSING, 0, ANY},
    {"missing_some", OP_MISSING_SOME, 2, 2},
    {"if", OP_IF, 0, ANY},
    {"?:", OP_IF, 0, ANY},
    {"==", OP_EQ, 2, 2},
    {"===", OP_SEQ, 2, 2},
    {"!=", OP_NE, 2, 2},
    {"!==", OP_SNE, 2, 2},
    {"!", OP_NOT, 1, 1},
    {"!!", OP_TRUTHY, 1, 1},
    {"or", OP_OR, 1, ANY},
    {"and", OP_AND, 1, ANY},
    {">", OP_GT, 2, 3},
    {">=", OP_GE, 2, 3},
    {"<", OP_LT, 2, 3},
    {"<=", OP_LE, 2, 3},
    {"max", OP_MAX, 1, ANY},
    {"min", OP_MIN, 1, ANY},
    {"+", OP_ADD, 0, ANY},
    {"-", OP_SUB, 1, 2},
    {"*", OP_MUL, 1, ANY},
    {"/", OP_DIV, 2, 2},
    {"%", OP_MOD, 2, 2},
    {"map", OP_MAP, 2, 2},
    {"filter", OP_FILTER, 2, 2},
    {"reduce", OP_REDUCE, 2, 3},
    {"all", OP_ALL, 2, 2},
    {"none", OP_NONE, 2, 2},
    {"some", OP_SOME, 2, 2},
    {"merge", OP_MERGE, 0, ANY},
    {"in", OP_IN, 2, 2},
    {"cat", OP_CAT, 0, ANY},
    {"substr", OP_SUBSTR, 2, 3},
    {"log", OP_LOG, 1, 1},
    {"age_on", OP_AGE_ON, 2, 2},
    {"days_until", OP_DAYS_UNTIL, 2, 2},
    {"date_add", OP_DATE_ADD, 2, 2},
};

/* ---- values ---------------------------------------------------------------- */

/* JavaScript's types as JsonLogic sees them. */
enum { T_NULL, T_BOOL, T_NUM, T_STR, T_ARR, T_OBJ };

typedef struct val {
    uint8_t t;      /* T_* */
    uint8_t json;   /* u.j is valid (otherwise an unboxed null, b or n) */
    uint8_t owned;  /* json only: this val holds a reference */
    uint16_t depth; /* container levels built by the evaluator (data counts 0) */
    union {
        bool b;
        double n;
        json_t *j;
    } u;
} val_t;

static const val_t VNULL = {T_NULL, 0, 0, 0, {.b = false}};

static val_t vbool(bool b)
{
    val_t v = {T_BOOL, 0, 0, 0, {.b = b}};
    return v;
}

static val_t vnum(double n)
{
    val_t v = {T_NUM, 0, 0, 0, {.n = n}};
    return v;
}

static uint8_t json_t_of(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT:
        return T_OBJ;
    case JSON_ARRAY:
        return T_ARR;
    case JSON_STRING:
        return T_STR;
    case JSON_INTEGER:
    case JSON_REAL:
        return T_NUM;
    case JSON_TRUE:
    case JSON_FALSE:
        return T_BOOL;
    default:
        return T_NULL;
    }
}

/* jansson's inline json_incref()/json_decref() read the count with a plain
 * load before changing it atomically (to skip the static singletons): harmless,
 * but a race to ThreadSanitizer when threads share data or the rule's
 * literals. These do the same with atomic loads. */
static json_t *ref(json_t *j)
{
#if JSON_HAVE_ATOMIC_BUILTINS
    if (j && __atomic_load_n(&j->refcount, __ATOMIC_RELAXED) != (size_t)-1)
        __atomic_add_fetch(&j->refcount, 1, __ATOMIC_ACQUIRE);
    return j;
#else
    return json_incref(j);
#endif
}

static void unref(json_t *j)
{
#if JSON_HAVE_ATOMIC_BUILTINS
    if (j && __atomic_load_n(&j->refcount, __ATOMIC_RELAXED) != (size_t)-1 &&
        __atomic_sub_fetch(&j->refcount, 1, __ATOMIC_RELEASE) == 0)
        json_delete(j);
#else
    json_decref(j);
#endif
}

/* A borrowed view of j (NULL is JSON null). */
static val_t borrow(json_t *j)
{
    if (!j) return VNULL;
    val_t v = {json_t_of(j), 1, 0, 0, {.j = j}};
    return v;
}

/* An owned value from a new reference. */
static val_t own(json_t *j)
{
    val_t v = borrow(j);
    v.owned = 1;
    return v;
}

/* A member of v: one level less of what the evaluator built. */
static val_t member(const val_t *v, json_t *m)
{
    val_t x = borrow(m);
    x.depth = v->depth ? (uint16_t)(v->depth - 1) : 0;
    return x;
}

static void vfree(val_t *v)
{
    if (v->owned) unref(v->u.j);
    v->owned = 0;
}

static double num_of(const val_t *v)
{
    return v->json ? json_number_value(v->u.j) : v->u.n;
}

static bool bool_of(const val_t *v)
{
    return v->json ? json_is_true(v->u.j) : v->u.b;
}

static size_t utf8_chars(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++) c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

/* JsonLogic's truthiness: JavaScript's, except that [] is false. */
static bool truthy(const val_t *v)
{
    switch (v->t) {
    case T_BOOL:
        return bool_of(v);
    case T_NUM: {
        double n = num_of(v);
        return n != 0 && !isnan(n);
    }
    case T_STR:
        return json_string_length(v->u.j) > 0;
    case T_ARR:
        return json_array_size(v->u.j) > 0;
    case T_OBJ:
        return true;
    default:
        return false;
    }
}

/* ---- the compiled rule ----------------------------------------------------- */

typedef struct seg {
    const char *key; /* in a string of r->consts */
    size_t len;
    int64_t index; /* the part as an array index, or -1 */
} seg_t;

enum { VAR_WHOLE, VAR_STATIC, VAR_DYNAMIC };

typedef struct node {
    uint8_t op;
    uint8_t def;      /* index in opdefs[], NODEF for literals and arrays */
    uint8_t wrapped;  /* arguments written without the array: {"!": x} */
    uint8_t var_kind; /* OP_VAR: VAR_* */
    uint32_t nargs;
    uint32_t args; /* children: r->args[args .. args + nargs) */
    uint32_t parent, slot;
    uint32_t seg, nseg; /* VAR_STATIC: r->segs[seg .. seg + nseg) */
    val_t lit;          /* OP_LIT: borrowed from r->consts */
} node_t;

struct sj_rule {
    node_t *nodes;
    uint32_t n_nodes, cap_nodes;
    uint32_t *args;
    uint32_t n_args, cap_args;
    seg_t *segs;
    uint32_t n_segs, cap_segs;
    json_t *consts; /* literals, folded values and var path strings */
    uint32_t root;
};

/* ---- errors and paths ------------------------------------------------------ */

static bool is_ident(const char *s)
{
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_'))
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              (*s >= '0' && *s <= '9') || *s == '_'))
            return false;
    return true;
}

/* Writes the JSON path of node k ("$.and[1].var") into out. Paths longer
 * than out keep their first 60 bytes and their end around "...". */
static void node_path(const sj_rule_t *r, uint32_t k, char *out, size_t size)
{
    uint32_t chain[SJ_RULE_MAX_DEPTH + 2];
    size_t n = 0;
    for (uint32_t i = k; i != NONE && n < SJ_ARRAY_LEN(chain); i = r->nodes[i].parent)
        chain[n++] = i;
    char full[SJ_ARRAY_LEN(chain) * 40 + 8];
    size_t len = 1;
    full[0] = '$';
    full[1] = '\0';
    for (size_t j = n; j-- > 1;) {
        const node_t *p = &r->nodes[chain[j]], *c = &r->nodes[chain[j - 1]];
        int w = 0;
        if (p->def != NODEF) {
            const char *name = opdefs[p->def].name;
            w = snprintf(full + len, sizeof full - len,
                         is_ident(name) ? ".%s" : "[\"%s\"]", name);
            if (w > 0) len += (size_t)w < sizeof full - len ? (size_t)w : 0;
            if (p->wrapped) continue;
        }
        w = snprintf(full + len, sizeof full - len, "[%u]", (unsigned)c->slot);
        if (w > 0) len += (size_t)w < sizeof full - len ? (size_t)w : 0;
    }
    if (len < size) {
        memcpy(out, full, len + 1);
        return;
    }
    /* Cut between path parts: keep a head of at most 60 bytes and as much
     * of the end as fits. */
    size_t head = 60, from = len - (size - 1 - 60 - 3);
    while (head > 1 &&
           !(full[head - 1] == ']' && (full[head] == '.' || full[head] == '[')))
        head--;
    while (from < len &&
           !(full[from - 1] == ']' && (full[from] == '.' || full[from] == '[')))
        from++;
    memcpy(out, full, head);
    memcpy(out + head, "...", 3);
    memcpy(out + head + 3, full + from, len - from + 1);
}

static void set_error(const sj_rule_t *r, uint32_t k, sj_rule_error_t *err,
                      sj_status_t st, const char *fmt, va_list ap) SJ_PRINTF(5, 0);

static void set_error(const sj_rule_t *r, uint32_t k, sj_rule_error_t *err,
                      sj_status_t st, const char *fmt, va_list ap)
{
    if (!err) return;
    err->status = st;
    if (r && k != NONE)
        node_path(r, k, err->path, sizeof err->path);
    else
        snprintf(err->path, sizeof err->path, "$");
    vsnprintf(err->text, sizeof err->text, fmt, ap);
    snprintf(err->message, sizeof err->message, "%s: %s", err->path, err->text);
}

static void clear_error(sj_rule_error_t *err)
{
    if (!err) return;
    err->status = SJ_OK;
    err->path[0] = err->text[0] = err->message[0] = '\0';
}

/* ---- evaluation context ---------------------------------------------------- */

typedef struct ectx {
    const sj_rule_t *r;
    sj_rule_error_t *err;
    uint64_t steps, max_steps;
    size_t max_array, max_string;
} ectx_t;

/* The data a var sees: a JSON value, or inside reduce the pair
 * {"current": *cur, "accumulator": *acc}, which is only built as an object
 * when the rule asks for the whole of it. */
typedef struct scope {
    json_t *data;
    const val_t *cur, *acc;
    uint16_t depth; /* of data */
} scope_t;

static int efail(ectx_t *e, uint32_t k, sj_status_t st, const char *fmt, ...)
    SJ_PRINTF(4, 5);

static int efail(ectx_t *e, uint32_t k, sj_status_t st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_error(e->r, k, e->err, st, fmt, ap);
    va_end(ap);
    return -1;
}

static int nomem(ectx_t *e, uint32_t k)
{
    return efail(e, k, SJ_ERR_NOMEM, "out of memory");
}

static int charge(ectx_t *e, uint32_t k, uint64_t n)
{
    e->steps += n;
    if (e->steps <= e->max_steps) return 0;
    return efail(e, k, SJ_ERR_TOO_BIG,
                 "step budget of %llu exceeded (the rule does too much work for this "
                 "data)",
                 (unsigned long long)e->max_steps);
}

static void init_ectx(ectx_t *e, const sj_rule_t *r, const sj_rule_opts_t *o,
                      sj_rule_error_t *err)
{
    e->r = r;
    e->err = err;
    e->steps = 0;
    e->max_steps = o && o->max_steps ? o->max_steps : SJ_RULE_MAX_STEPS;
    e->max_array = o && o->max_array ? o->max_array : SJ_RULE_MAX_ARRAY;
    e->max_string = o && o->max_string ? o->max_string : SJ_RULE_MAX_STRING;
}

static json_t *num_json(double d)
{
    if (!isfinite(d)) return json_null();
    if (d == trunc(d) && fabs(d) <= 9007199254740992.0)
        return json_integer((json_int_t)d);
    return json_real(d);
}

/* A new reference for v, which stays as it was. */
static json_t *vref(ectx_t *e, uint32_t k, const val_t *v)
{
    json_t *j;
    if (v->json)
        j = ref(v->u.j);
    else if (v->t == T_BOOL)
        j = json_boolean(v->u.b);
    else if (v->t == T_NUM)
        j = num_json(v->u.n);
    else
        j = json_null();
    if (!j) nomem(e, k);
    return j;
}

/* A new reference for v, which is consumed. */
static json_t *vtake(ectx_t *e, uint32_t k, val_t *v)
{
    if (v->owned) {
        v->owned = 0;
        return v->u.j;
    }
    return vref(e, k, v);
}

/* Makes v independent of whatever it borrows from (except the data and the
 * rule, which outlive every evaluation). */
static void promote(val_t *v)
{
    if (!v->json || v->owned) return;
    ref(v->u.j);
    v->owned = 1;
}

/* Appends item (consumed) to arr, within the array bound. */
static int push(ectx_t *e, uint32_t k, json_t *arr, json_t *item)
{
    if (!item) return -1;
    if (json_array_size(arr) >= e->max_array) {
        unref(item);
        return efail(e, k, SJ_ERR_TOO_BIG, "array of more than %zu elements",
                     e->max_array);
    }
    if (json_array_append_new(arr, item) != 0) return nomem(e, k);
    return charge(e, k, 1);
}

/* Records that a container being built gets a member of depth d. Only
 * reduce can feed a container back into itself, so without this bound a
 * rule could build [[[...]]] hundreds of thousands of levels deep, and
 * freeing or printing that would overflow the stack. */
static int nest(ectx_t *e, uint32_t k, unsigned d, uint16_t *depth)
{
    if (d + 1 > SJ_RULE_MAX_VALUE_DEPTH)
        return efail(e, k, SJ_ERR_TOO_BIG, "value nested deeper than %d levels",
                     SJ_RULE_MAX_VALUE_DEPTH);
    if (d + 1 > *depth) *depth = (uint16_t)(d + 1);
    return 0;
}

/* ---- numbers as JavaScript writes and reads them --------------------------- */

size_t sj_rule_number_text(double d, char out[SJ_RULE_NUMBER_TEXT])
{
    if (isnan(d) || isinf(d) || d == 0) {
        const char *s = isnan(d) ? "NaN"
                        : d == 0 ? "0"
                        : d > 0  ? "Infinity"
                                 : "-Infinity";
        size_t n = strlen(s);
        memcpy(out, s, n + 1);
        return n;
    }
    if (d == trunc(d) && fabs(d) < 9007199254740992.0) {
        int w = snprintf(out, SJ_RULE_NUMBER_TEXT, "%lld", (long long)d);
        return w > 0 ? (size_t)w : 0;
    }
    /* The shortest precision that reads back as d gives the digits
     * JavaScript prints; only the digits and exponent are taken from printf,
     * so a locale's decimal comma does not leak in. */
    char tmp[48];
    for (int p = 1; p <= 17; p++) {
        snprintf(tmp, sizeof tmp, "%.*e", p - 1, d);
        if (strtod(tmp, NULL) == d) break;
    }
    char dig[24];
    int k = 0, exp = 0, esign = 1;
    const char *q = tmp + (tmp[0] == '-');
    for (; *q && *q != 'e' && k < 20; q++)
        if (*q >= '0' && *q <= '9') dig[k++] = *q;
    if (*q == 'e') q++;
    if (*q == '-' || *q == '+') esign = *q++ == '-' ? -1 : 1;
    for (; *q >= '0' && *q <= '9'; q++) exp = exp * 10 + (*q - '0');
    exp *= esign;
    while (k > 1 && dig[k - 1] == '0') k--;
    int n = exp + 1; /* the decimal point sits after n digits */
    size_t o = 0;
    if (d < 0) out[o++] = '-';
    if (k <= n && n <= 21) {
        memcpy(out + o, dig, (size_t)k), o += (size_t)k;
        for (int i = k; i < n; i++) out[o++] = '0';
    } else if (0 < n && n <= 21) {
        memcpy(out + o, dig, (size_t)n), o += (size_t)n;
        out[o++] = '.';
        memcpy(out + o, dig + n, (size_t)(k - n)), o += (size_t)(k - n);
    } else if (-6 < n && n <= 0) {
        out[o++] = '0', out[o++] = '.';
        for (int i = n; i < 0; i++) out[o++] = '0';
        memcpy(out + o, dig, (size_t)k), o += (size_t)k;
    } else {
        out[o++] = dig[0];
        if (k > 1) {
            out[o++] = '.';
            memcpy(out + o, dig + 1, (size_t)(k - 1)), o += (size_t)(k - 1);
        }
        int w = snprintf(out + o, SJ_RULE_NUMBER_TEXT - o, "e%c%d", n - 1 < 0 ? '-' : '+',
                         abs(n - 1));
        if (w > 0) o += (size_t)w;
    }
    out[o] = '\0';
    return o;
}

/* Length of the JavaScript white space or line terminator at s[0..n), or 0. */
static size_t ws_at(const unsigned char *s, size_t n)
{
    if (n >= 1 && (s[0] == ' ' || (s[0] >= 0x09 && s[0] <= 0x0D))) return 1;
    if (n >= 2 && s[0] == 0xC2 && s[1] == 0xA0) return 2; /* U+00A0 */
    if (n < 3) return 0;
    unsigned c = (unsigned)s[0] << 16 | (unsigned)s[1] << 8 | s[2];
    if (c == 0xE19A80 || (c >= 0xE28080 && c <= 0xE2808A) || c == 0xE280A8 ||
        c == 0xE280A9 || c == 0xE280AF || c == 0xE2819F || c == 0xE38080 || c == 0xEFBBBF)
        return 3;
    return 0;
}

static void trim_start(const char **s, size_t *n)
{
    size_t w;
    while ((w = ws_at((const unsigned char *)*s, *n)) > 0) *s += w, *n -= w;
}

static void trim_end(const char *s, size_t *n)
{
    for (;;) {
        size_t w = 0;
        for (size_t back = 1; back <= 3 && back <= *n && !w; back++) {
            size_t x = ws_at((const unsigned char *)s + *n - back, back);
            if (x == back) w = x;
        }
        if (!w) return;
        *n -= w;
    }
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Converts a decimal literal that scan_number() accepted. Small literals
 * (the usual "65", "2.5") are exact in double arithmetic; the rest go through
 * strtod() with the locale's decimal point put in. */
static double decimal_value(const char *s, size_t n)
{
    static const double pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                   1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    size_t i = 0;
    bool neg = s[0] == '-';
    if (s[0] == '-' || s[0] == '+') i++;
    uint64_t m = 0;
    int digits = 0, scale = 0;
    for (; i < n && is_digit(s[i]); i++)
        if (m || s[i] != '0') m = m * 10 + (uint64_t)(s[i] - '0'), digits++;
    if (i < n && s[i] == '.') {
        for (i++; i < n && is_digit(s[i]); i++, scale--)
            if (m || s[i] != '0') m = m * 10 + (uint64_t)(s[i] - '0'), digits++;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        int esign = 1, ex = 0;
        i++;
        if (s[i] == '-' || s[i] == '+') esign = s[i++] == '-' ? -1 : 1;
        for (; i < n && is_digit(s[i]); i++)
            if (ex < 100000) ex = ex * 10 + (s[i] - '0');
        scale += esign * ex;
    }
    if (digits <= 15 && scale >= -22 && scale <= 22) {
        double v = (double)m;
        v = scale < 0 ? v / pow10[-scale] : v * pow10[scale];
        return neg ? -v : v;
    }
    char small[128], *buf = n < sizeof small ? small : malloc(n + 1);
    if (!buf) return NAN;
    char radix[8];
    snprintf(radix, sizeof radix, "%.1f", 0.5);
    for (size_t j = 0; j < n; j++) buf[j] = s[j] == '.' ? radix[1] : s[j];
    buf[n] = '\0';
    double v = strtod(buf, NULL);
    if (buf != small) free(buf);
    return v;
}

/* Scans JavaScript's StrDecimalLiteral (with "Infinity") at the start of
 * s[0..n): returns its length (0 when there is none) and its value. */
static size_t scan_number(const char *s, size_t n, double *value)
{
    size_t i = 0;
    bool neg = n > 0 && s[0] == '-';
    if (n > 0 && (s[0] == '-' || s[0] == '+')) i++;
    if (n - i >= 8 && memcmp(s + i, "Infinity", 8) == 0) {
        *value = neg ? -INFINITY : INFINITY;
        return i + 8;
    }
    size_t int_digits = 0, frac_digits = 0;
    while (i < n && is_digit(s[i])) i++, int_digits++;
    if (i < n && s[i] == '.') {
        size_t j = i + 1;
        while (j < n && is_digit(s[j])) j++, frac_digits++;
        if (int_digits || frac_digits) i = j;
    }
    if (!int_digits && !frac_digits) return 0;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        size_t j = i + 1;
        if (j < n && (s[j] == '-' || s[j] == '+')) j++;
        if (j < n && is_digit(s[j])) {
            while (j < n && is_digit(s[j])) j++;
            i = j;
        }
    }
    *value = decimal_value(s, i);
    return i;
}

/* JavaScript's Number(string). */
static double str_to_num(const char *s, size_t n)
{
    trim_start(&s, &n);
    trim_end(s, &n);
    if (n == 0) return 0;
    if (n > 2 && s[0] == '0' && strchr("xXoObB", s[1])) {
        int base = s[1] == 'x' || s[1] == 'X' ? 16 : s[1] == 'o' || s[1] == 'O' ? 8 : 2;
        double v = 0;
        for (size_t i = 2; i < n; i++) {
            int d = is_digit(s[i])               ? s[i] - '0'
                    : s[i] >= 'a' && s[i] <= 'f' ? s[i] - 'a' + 10
                    : s[i] >= 'A' && s[i] <= 'F' ? s[i] - 'A' + 10
                                                 : 99;
            if (d >= base) return NAN;
            v = v * base + d;
        }
        return v;
    }
    double v;
    return scan_number(s, n, &v) == n ? v : NAN;
}

/* JavaScript's parseFloat(string): the longest number at the start. */
static double str_parse_float(const char *s, size_t n)
{
    trim_start(&s, &n);
    double v;
    return scan_number(s, n, &v) > 0 ? v : NAN;
}

/* JavaScript's Number(v). An array is read through its String(): [] is 0,
 * [x] is Number(String(x)), longer arrays are NaN (their text has a comma). */
static double to_num(const val_t *v)
{
    val_t x = *v;
    for (int depth = 0; depth < SJ_RULE_MAX_VALUE_DEPTH; depth++) {
        switch (x.t) {
        case T_NULL:
            return 0;
        case T_BOOL:
            return bool_of(&x) ? (depth ? NAN : 1) : (depth ? NAN : 0);
        case T_NUM:
            return num_of(&x);
        case T_STR:
            return str_to_num(json_string_value(x.u.j), json_string_length(x.u.j));
        case T_OBJ:
            return NAN;
        default:
            break;
        }
        size_t size = json_array_size(x.u.j);
        if (size == 0) return 0;
        if (size > 1) return NAN;
        x = borrow(json_array_get(x.u.j, 0));
    }
    return NAN;
}

/* JavaScript's parseFloat(v), which reads String(v): only the first element
 * of an array matters, since the comma ends the number. */
static double parse_float(const val_t *v)
{
    val_t x = *v;
    for (int depth = 0; depth < SJ_RULE_MAX_VALUE_DEPTH; depth++) {
        switch (x.t) {
        case T_NUM:
            return num_of(&x);
        case T_STR:
            return str_parse_float(json_string_value(x.u.j), json_string_length(x.u.j));
        case T_ARR:
            if (json_array_size(x.u.j) == 0) return NAN;
            x = borrow(json_array_get(x.u.j, 0));
            break;
        default:
            return NAN;
        }
    }
    return NAN;
}

/* ---- strings as JavaScript's String() makes them --------------------------- */

typedef struct text {
    const char *s;
    size_t len;
    char small[SJ_RULE_NUMBER_TEXT];
    sj_buf_t buf; /* arrays only */
    bool heap;
} text_t;

static int append_array(ectx_t *e, uint32_t k, sj_buf_t *b, json_t *arr, int depth);

/* String(v) into t; `join` gives null the empty text, as Array.join does.
 * Only arrays allocate. */
static int to_text(ectx_t *e, uint32_t k, const val_t *v, bool join, text_t *t)
{
    t->heap = false;
    switch (v->t) {
    case T_STR:
        t->s = json_string_value(v->u.j);
        t->len = json_string_length(v->u.j);
        return 0;
    case T_NULL:
        t->s = join ? "" : "null";
        break;
    case T_BOOL:
        t->s = bool_of(v) ? "true" : "false";
        break;
    case T_NUM:
        t->len = sj_rule_number_text(num_of(v), t->small);
        t->s = t->small;
        return 0;
    case T_OBJ:
        t->s = "[object Object]";
        break;
    default:
        sj_buf_init(&t->buf, e->max_string);
        t->heap = true;
        if (append_array(e, k, &t->buf, v->u.j, 0) != 0) {
            sj_buf_free(&t->buf);
            t->heap = false;
            return -1;
        }
        t->s = sj_buf_cstr(&t->buf);
        t->len = t->buf.len;
        return 0;
    }
    t->len = strlen(t->s);
    return 0;
}

static void text_free(text_t *t)
{
    if (t->heap) sj_buf_free(&t->buf);
    t->heap = false;
}

static int buf_add(ectx_t *e, uint32_t k, sj_buf_t *b, const char *s, size_t n)
{
    sj_status_t st = sj_buf_add(b, s, n);
    if (st == SJ_ERR_TOO_BIG)
        return efail(e, k, SJ_ERR_TOO_BIG, "string longer than %zu bytes", e->max_string);
    if (st != SJ_OK) return nomem(e, k);
    return charge(e, k, n / 16);
}

/* Appends String(arr): the elements' texts joined by ",", null as "". */
static int append_array(ectx_t *e, uint32_t k, sj_buf_t *b, json_t *arr, int depth)
{
    if (depth >= SJ_RULE_MAX_VALUE_DEPTH)
        return efail(e, k, SJ_ERR_TOO_BIG, "value nested deeper than %d levels",
                     SJ_RULE_MAX_VALUE_DEPTH);
    size_t i;
    json_t *el;
    json_array_foreach(arr, i, el)
    {
        if (charge(e, k, 1) != 0) return -1;
        if (i > 0 && buf_add(e, k, b, ",", 1) != 0) return -1;
        if (json_is_array(el)) {
            if (append_array(e, k, b, el, depth + 1) != 0) return -1;
            continue;
        }
        text_t t;
        val_t v = borrow(el);
        to_text(e, k, &v, true, &t); /* not an array: cannot fail */
        if (buf_add(e, k, b, t.s, t.len) != 0) return -1;
    }
    return 0;
}

/* ---- comparisons ----------------------------------------------------------- */

static bool strict_eq(const val_t *a, const val_t *b)
{
    if (a->t != b->t) return false;
    switch (a->t) {
    case T_NULL:
        return true;
    case T_BOOL:
        return bool_of(a) == bool_of(b);
    case T_NUM:
        return num_of(a) == num_of(b);
    case T_STR:
        return json_string_length(a->u.j) == json_string_length(b->u.j) &&
               memcmp(json_string_value(a->u.j), json_string_value(b->u.j),
                      json_string_length(a->u.j)) == 0;
    default: /* arrays and objects: only the same one */
        return a->u.j == b->u.j;
    }
}

/* A value after JavaScript's ToPrimitive: arrays and objects become text. */
typedef struct prim {
    uint8_t t; /* T_NULL, T_BOOL, T_NUM or T_STR */
    double n;
    text_t text;
} prim_t;

static int to_prim(ectx_t *e, uint32_t k, const val_t *v, prim_t *p)
{
    p->text.heap = false;
    p->t = v->t;
    if (v->t == T_BOOL)
        p->n = bool_of(v);
    else if (v->t == T_NUM)
        p->n = num_of(v);
    else if (v->t != T_NULL) {
        p->t = T_STR;
        return to_text(e, k, v, false, &p->text);
    }
    return 0;
}

static double prim_num(const prim_t *p)
{
    if (p->t == T_STR) return str_to_num(p->text.s, p->text.len);
    return p->t == T_NULL ? 0 : p->n;
}

/* JavaScript's == (the Abstract Equality Comparison). */
static int loose_eq(ectx_t *e, uint32_t k, const val_t *a, const val_t *b, bool *res)
{
    *res = false;
    if (a->t == b->t) {
        *res = strict_eq(a, b);
        return 0;
    }
    if (a->t == T_NULL || b->t == T_NULL) return 0;
    if ((a->t == T_ARR || a->t == T_OBJ) && (b->t == T_ARR || b->t == T_OBJ)) return 0;
    prim_t pa, pb;
    if (to_prim(e, k, a, &pa) != 0) return -1;
    if (to_prim(e, k, b, &pb) != 0) {
        text_free(&pa.text);
        return -1;
    }
    if (pa.t == T_STR && pb.t == T_STR)
        *res =
            pa.text.len == pb.text.len && memcmp(pa.text.s, pb.text.s, pa.text.len) == 0;
    else
        *res = prim_num(&pa) == prim_num(&pb);
    text_free(&pa.text);
    text_free(&pb.text);
    return 0;
}

/* JavaScript's relational comparison: *res is -1, 0 or 1, or 2 when the
 * operands are unordered (a NaN), which makes every one of < <= > >= false. */
static int compare(ectx_t *e, uint32_t k, const val_t *a, const val_t *b, int *res)
{
    double x, y;
    if (a->t == T_NUM && b->t == T_NUM) {
        x = num_of(a);
        y = num_of(b);
    } else {
        prim_t pa, pb;
        if (to_prim(e, k, a, &pa) != 0) return -1;
        if (to_prim(e, k, b, &pb) != 0) {
            text_free(&pa.text);
            return -1;
        }
        if (pa.t == T_STR && pb.t == T_STR) {
            size_t n = pa.text.len < pb.text.len ? pa.text.len : pb.text.len;
            int c = memcmp(pa.text.s, pb.text.s, n);
            if (c == 0) c = pa.text.len < pb.text.len ? -1 : pa.text.len > pb.text.len;
            *res = c < 0 ? -1 : c > 0;
            text_free(&pa.text);
            text_free(&pb.text);
            return 0;
        }
        x = prim_num(&pa);
        y = prim_num(&pb);
        text_free(&pa.text);
        text_free(&pb.text);
    }
    *res = isnan(x) || isnan(y) ? 2 : x < y ? -1 : x > y;
    return 0;
}

/* ---- var ------------------------------------------------------------------- */

/* A path part as an array index: "0" or digits without a leading zero. */
static int64_t seg_index(const char *s, size_t n)
{
    if (n == 0 || n > 10 || (n > 1 && s[0] == '0')) return -1;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(s[i])) return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v < 4294967295 ? v : -1;
}

/* cur = cur[key], JavaScript style; false when that is undefined. */
static bool step_into(val_t *cur, const char *key, size_t len, int64_t index)
{
    bool is_length = len == 6 && memcmp(key, "length", 6) == 0;
    switch (cur->t) {
    case T_OBJ: {
        json_t *m = json_object_getn(cur->u.j, key, len);
        if (!m) return false;
        *cur = member(cur, m);
        return true;
    }
    case T_ARR:
        if (index >= 0) {
            json_t *m = json_array_get(cur->u.j, (size_t)index);
            if (!m) return false;
            *cur = member(cur, m);
            return true;
        }
        if (!is_length) return false;
        *cur = vnum((double)json_array_size(cur->u.j));
        return true;
    case T_STR:
        if (!is_length) return false;
        *cur = vnum((double)utf8_chars(json_string_value(cur->u.j),
                                       json_string_length(cur->u.j)));
        return true;
    default:
        return false;
    }
}

/* The first part of a path, from the scope. */
static bool step_first(const scope_t *s, const char *key, size_t len, int64_t index,
                       val_t *cur)
{
    if (s->acc) {
        if (len == 7 && memcmp(key, "current", 7) == 0)
            *cur = *s->cur;
        else if (len == 11 && memcmp(key, "accumulator", 11) == 0)
            *cur = *s->acc;
        else
            return false;
        cur->owned = 0;
        return true;
    }
    *cur = borrow(s->data);
    cur->depth = s->depth;
    return cur->t != T_NULL && step_into(cur, key, len, index);
}

/* The whole data of a scope; inside reduce the pair is built on demand. */
static int whole_data(ectx_t *e, uint32_t k, const scope_t *s, val_t *out)
{
    if (!s->acc) {
        *out = borrow(s->data);
        out->depth = s->depth;
        return 0;
    }
    uint16_t depth = 1;
    if (nest(e, k, s->cur->depth, &depth) != 0 || nest(e, k, s->acc->depth, &depth) != 0)
        return -1;
    json_t *o = json_object();
    json_t *c = vref(e, k, s->cur), *a = c ? vref(e, k, s->acc) : NULL;
    if (!o || !c || !a || json_object_set_new(o, "current", c) != 0 ||
        json_object_set_new(o, "accumulator", a) != 0) {
        unref(o);
        return nomem(e, k);
    }
    *out = own(o);
    out->depth = depth;
    return 0;
}

/* Follows a dotted path given as text; *found is false when it leads nowhere. */
static void walk_text(const scope_t *s, const char *p, size_t n, val_t *out, bool *found)
{
    size_t start = 0;
    val_t cur = VNULL;
    *found = false;
    for (bool first = true;; first = false) {
        const char *dot = memchr(p + start, '.', n - start);
        size_t end = dot ? (size_t)(dot - p) : n;
        const char *key = p + start;
        size_t len = end - start;
        int64_t idx = seg_index(key, len);
        if (first ? !step_first(s, key, len, idx, &cur)
                  : cur.t == T_NULL || !step_into(&cur, key, len, idx))
            return;
        if (!dot) break;
        start = end + 1;
    }
    *out = cur;
    *found = true;
}

static void walk_segs(const scope_t *s, const seg_t *sg, uint32_t n, val_t *out,
                      bool *found)
{
    val_t cur;
    *found = false;
    if (!step_first(s, sg[0].key, sg[0].len, sg[0].index, &cur)) return;
    for (uint32_t i = 1; i < n; i++)
        if (cur.t == T_NULL || !step_into(&cur, sg[i].key, sg[i].len, sg[i].index))
            return;
    *out = cur;
    *found = true;
}

/* Looks up a path given as a value (String() of it, "" and null meaning the
 * whole data), as var and missing do with computed paths. */
static int lookup(ectx_t *e, uint32_t k, const scope_t *s, const val_t *path, val_t *out,
                  bool *found)
{
    *found = true;
    if (path->t == T_NULL || (path->t == T_STR && json_string_length(path->u.j) == 0))
        return whole_data(e, k, s, out);
    text_t t;
    if (to_text(e, k, path, false, &t) != 0) return -1;
    walk_text(s, t.s, t.len, out, found);
    text_free(&t);
    return 0;
}

/* ---- evaluation ------------------------------------------------------------ */

static int ev(ectx_t *e, uint32_t k, const scope_t *s, val_t *out);

static uint32_t kid(const ectx_t *e, const node_t *n, uint32_t i)
{
    return e->r->args[n->args + i];
}

/* Evaluates the first `count` arguments into v[]; all or none on return. */
static int ev_args(ectx_t *e, const node_t *n, const scope_t *s, val_t *v, uint32_t count)
{
    for (uint32_t i = 0; i < count; i++) {
        if (ev(e, kid(e, n, i), s, &v[i]) != 0) {
            while (i-- > 0) vfree(&v[i]);
            return -1;
        }
    }
    return 0;
}

static void free_args(val_t *v, uint32_t count)
{
    for (uint32_t i = 0; i < count; i++) vfree(&v[i]);
}

static int ev_var(ectx_t *e, const node_t *n, uint32_t k, const scope_t *s, val_t *out)
{
    bool found = true;
    if (n->var_kind == VAR_WHOLE) return whole_data(e, k, s, out);
    if (n->var_kind == VAR_STATIC) {
        walk_segs(s, &e->r->segs[n->seg], n->nseg, out, &found);
    } else {
        val_t path;
        if (ev(e, kid(e, n, 0), s, &path) != 0) return -1;
        int rc = lookup(e, k, s, &path, out, &found);
        vfree(&path);
        if (rc != 0) return -1;
    }
    if (found) return 0;
    if (n->nargs >= 2) return ev(e, kid(e, n, 1), s, out);
    *out = VNULL;
    return 0;
}

/* Adds key to `missing` when the path it names is absent, null or "". As
 * json-logic-js looks the key up as {"var": key}, an array key is var's
 * argument list: [path, default]. */
static int check_missing(ectx_t *e, uint32_t k, const scope_t *s, const val_t *key,
                         json_t *missing, uint16_t *depth)
{
    val_t v = VNULL, path = *key;
    bool found = true;
    if (key->t == T_ARR) {
        path = borrow(json_array_get(key->u.j, 0));
        if (json_array_size(key->u.j) == 0) path = VNULL;
    }
    if (lookup(e, k, s, &path, &v, &found) != 0) return -1;
    if (!found && key->t == T_ARR) v = borrow(json_array_get(key->u.j, 1));
    bool absent = v.t == T_NULL || (v.t == T_STR && !json_string_length(v.u.j));
    vfree(&v);
    if (!absent) return 0;
    return nest(e, k, key->depth, depth) != 0 ? -1 : push(e, k, missing, vref(e, k, key));
}

/* missing over the keys in list (an array) or, when list is not an array,
 * over the key itself. */
static int missing_of(ectx_t *e, uint32_t k, const scope_t *s, const val_t *list,
                      json_t *missing, uint16_t *depth)
{
    if (list->t != T_ARR) return check_missing(e, k, s, list, missing, depth);
    size_t i;
    json_t *el;
    json_array_foreach(list->u.j, i, el)
    {
        val_t key = member(list, el);
        if (check_missing(e, k, s, &key, missing, depth) != 0) return -1;
    }
    return 0;
}

/* json-logic-js: if the first argument is an array, its elements are the
 * keys (and the other arguments are ignored); otherwise every argument is. */
static int ev_missing(ectx_t *e, const node_t *n, uint32_t k, const scope_t *s,
                      val_t *out)
{
    json_t *missing = json_array();
    uint16_t depth = 1;
    if (!missing) return nomem(e, k);
    for (uint32_t i = 0; i < n->nargs; i++) {
        val_t v;
        if (ev(e, kid(e, n, i), s, &v) != 0) goto fail;
        bool list = i == 0 && v.t == T_ARR;
        int rc = list ? missing_of(e, k, s, &v, missing, &depth)
                      : check_missing(e, k, s, &v, missing, &depth);
        vfree(&v);
        if (rc != 0) goto fail;
        if (list) break;
    }
    *out = own(missing);
    out->depth = depth;
    return 0;
fail:
    unref(missing);
    return -1;
}

static int ev_missing_some(ectx_t *e, const node_t *n, uint32_t k, const scope_t *s,
                           val_t *out)
{
    val_t a[2];
    if (ev_args(e, n, s, a, 2) != 0) return -1;
    json_t *missing = json_array();
    int rc = missing ? 0 : nomem(e, k);
    uint16_t depth = 1;
    val_t keys = a[1];
    double options = NAN;
    if (a[1].t == T_ARR) {
        options = (double)json_array_size(a[1].u.j);
        json_t *first = json_array_get(a[1].u.j, 0);
        if (json_is_array(first)) keys = member(&a[1], first);
    } else if (a[1].t == T_STR) {
        options =
            (double)utf8_chars(json_string_value(a[1].u.j), json_string_length(a[1].u.j));
    }
    if (rc == 0) rc = missing_of(e, k, s, &keys, missing, &depth);
    if (rc == 0 && options - (double)json_array_size(missing) >= to_num(&a[0]))
        json_array_clear(missing);
    free_args(a, 2);
    if (rc != 0) {
        unref(missing);
        return -1;
    }
    *out = own(missing);
    out->depth = depth;
    return 0;
}

static int ev_if(ectx_t *e, const node_t *n, const scope_t *s, val_t *out)
{
    uint32_t i;
    for (i = 0; i + 1 < n->nargs; i += 2) {
        val_t c;
        if (ev(e, kid(e, n, i), s, &c) != 0) return -1;
        bool t = truthy(&c);
        vfree(&c);
        if (t) return ev(e, kid(e, n, i + 1), s, out);
    }
    if (i + 1 == n->nargs) return ev(e, kid(e, n, i), s, out);
    *out = VNULL;
    return 0;
}

/* and/or: the first value that decides, or the last one. */
static int ev_andor(ectx_t *e, const node_t *n, const scope_t *s, val_t *out)
{
    bool want = n->op == OP_OR;
    for (uint32_t i = 0; i < n->nargs; i++) {
        if (i > 0) vfree(out);
        if (ev(e, kid(e, n, i), s, out) != 0) return -1;
        if (truthy(out) == want) return 0;
    }
    return 0;
}

static int ev_equality(ectx_t *e, const node_t *n, uint32_t k, const scope_t *s,
                       val_t *out)
{
    val_t a[2];
    bool eq;
    if (ev_args(e, n, s, a, 2) != 0) return -1;
    int rc = 0;
    if (n->op == OP_SEQ || n->op == OP_SNE)
        eq = strict_eq(&a[0], &a[1]);
    else
        rc = loose_eq(e, k, &a[0], &a[1], &eq);
    free_args(a, 2);
    if (rc != 0) return -1;
    *out = vbool(n->op == OP_EQ || n->op == OP_SEQ ? eq : !eq);
    return 0;
}

static bool holds(op_t op, int c)
{
    switch (op) {
    case OP_GT:
        return c == 1;
    case OP_GE:
        return c == 1 || c == 0;
    case OP_LT:
        return c == -1;
    default:
        return c == -1 || c == 0;
    }
}

/* < <= > >=, with the "between" form a < b < c. */
static int ev_compare(ectx_t *e, const node_t *n, uint32_t k, const scope_t *s,
                      val_t *out)
{
    val_t a[3];
    uint32_t m = n->nargs;
    int c = 0;
    if (ev_args(e, n, s, a, m) != 0) return -1;
    int rc = compare(e, k, &a[0], &a[1], &c);
    bool res = rc == 0 && holds((op_t)n->op, c);
    if (rc == 0 && res && m == 3) {
        rc = compare(e, k, &a[1], &a[2], &c);
        res = rc == 0 && holds((op_t)n->op, c);
    }
    free_args(a, m);
    if (rc != 0) return -1;
    *out = vbool(res);
    return 0;
}

/* + * max min: folded one argument at a time, so no argument array. */
static int ev_fold(ectx_t *e, const node_t *n, const scope_t *s, val_t *out)
{
    if (n->op == OP_MUL && n->nargs == 1) /* reduce() without a call, as in JS */
        return ev(e, kid(e, n, 0), s, out);
    double acc = n->op == OP_ADD   ? 0
                 : n->op == OP_MUL ? 1
                 : n->op == OP_MAX ? -INFINITY
                                   : INFINITY;
    bool nan = false;
    for (uint32_t i = 0; i < n->nargs; i++) {
        val_t v;
        if (ev(e, kid(e, n, i), s, &v) != 0) return -1;
        double x = n->op == OP_ADD || n->op == OP_MUL ? parse_float(&v) : to_num(&v);
        vfree(&v);
        if (n->op == OP_ADD)
            acc += x;
        else if (n->op == OP_MUL)
            acc *= x;
        else if (isnan(x))
            nan = true;
        else if (n->op == OP_MAX ? x > acc : x < acc)
            acc = x;
    }
    *out = vnum(nan ? NAN : acc);
    return 0;
}

static int ev_arith(ectx_t *e, const node_t *n, const scope_t *s, val_t *out)
{
    val_t a[2];
    uint32_t m = n->nargs;
    if (ev_args(e, n, s, a, m) != 0) return -1;
    double x = to_num(&a[0]), y = m == 2 ? to_num(&a[1]) : 0, r;
    free_args(a, m);
    if (n->op == OP_SUB)
        r = m == 1 ? -x : x - y;
    else if (n->op == OP_DIV)
        r = x / y;
    else
        r = y == 0 || isinf(x) ? NAN : isinf(y) ? x : fmod(x, y);
    *out = vnum(r);
    return 0;
}

static int ev_not(ectx_t *e, const node_t *n, const scope_t *s, val_t *out)
{
    val_t v;
    if (ev(e, kid(e, n, 0), s, &v) != 0) return -1;
    bool t = truthy(&v);
    vfree(&v);
    *out = vbool(n->op == OP_NOT ? !t : t);
    return 0;
}

/* map filter all none some: the body runs with each element as its data. */
static int ev_iterate(ectx_t *e, const node_t *n, uint32_t k, const scope_t *s,
                      val_t *out)
{
    val_t arr;
    if (ev(e, kid(e, n, 0), s, &arr) != 0) return -1;
    bool collect = n->op == OP_MAP || n->op == OP_FILTER;
    json_t *res = collect ? json_array() : NULL;
    bool verdict = n->op == OP_ALL ? arr.t == T_ARR && json_array_size(arr.u.j) > 0
                                   : n->op == OP_NONE;
    int rc = collect && !res ? nomem(e, k) : 0;
    size_t size = arr.t == T_ARR ? json_array_size(arr.u.j) : 0;
    uint16_t depth = 1;
    for (size_t i = 0; rc == 0 && i < size; i++) {
        val_t el = member(&arr, json_array_get(arr.u.j, i));
        scope_t inner = {el.u.j, NULL, NULL, el.depth};
        val_t v;
        if ((rc = ev(e, kid(e, n, 1), &inner, &v)) != 0) break;
        if (n->op == OP_MAP) {
            if ((rc = nest(e, k, v.depth, &depth)) != 0) vfree(&v);
            if (rc == 0) rc = push(e, k, res, vtake(e, k, &v));
            continue;
        }
        bool t = truthy(&v);
        vfree(&v);
        if (n->op == OP_FILTER) {
            if (t && (rc = nest(e, k, el.depth, &depth)) == 0)
                rc = push(e, k, res, ref(el.u.j));
        } else if (n->op == OP_ALL ? !t : t) {
            verdict = n->op == OP_SOME;
            break;
        }
    }
    vfree(&arr);
    if (rc != 0) {
        unref(res);
        return -1;
    }
    *out = collect ? own(res) : vbool(verdict);
    out->depth = collect ? depth : 0;
    return 0;
}

static int ev_reduce(ectx_t *e, const node_t *n, const scope_t *s, val_t *out)
{
    val_t arr, acc = VNULL;
    if (ev(e, kid(e, n, 0), s, &arr) != 0) return -1;
    if (n->nargs == 3 && ev(e, kid(e, n, 2), s, &acc) != 0) {
        vfree(&arr);
        return -1;
    }
    size_t size = arr.t == T_ARR ? json_array_size(arr.u.j) : 0;
    int rc = 0;
    for (size_t i = 0; i < size; i++) {
        val_t cur = member(&arr, json_array_get(arr.u.j, i)), next;
        scope_t inner = {NULL, &cur, &acc, 0};
        if ((rc = ev(e, kid(e, n, 1), &inner, &next)) != 0) break;
        promote(&next); /* it may borrow from acc or from arr */
        vfree(&acc);
        acc = next;
    }
    promote(&acc);
    vfree(&arr);
    if (rc != 0) {
        vfree(&acc);
        return -1;
    }
    *out = acc;
    return 0;
}

static int ev_merge(ectx_t *e, const node_t *n, uint32_t k, const scope_t *s, val_t *out)
{
    json_t *res = json_array();
    uint16_t depth = 1;
    if (!res) return nomem(e, k);
    for (uint32_t i = 0; i < n->nargs; i++) {
        val_t v;
        int rc = ev(e, kid(e, n, i), s, &v);
        if (rc == 0 && v.t == T_ARR) {
            size_t j;
            json_t *el;
            if (json_array_size(v.u.j) > 0)
                rc = nest(e, k, member(&v, NULL).depth, &depth);
            json_array_foreach(v.u.j, j, el)
            {
                if (rc != 0 || (rc = push(e, k, res, ref(el))) != 0) break;
            }
            vfree(&v);
        } else if (rc == 0) {
            if ((rc = nest(e, k, v.depth, &depth)) != 0) vfree(&v);
            if (rc == 0) rc = push(e, k, res, vtake(e, k, &v));
        }
        if (rc != 0) {
            unref(res);
            return -1;
        }
    }
    *out = own(res);
    out->depth = depth;
    return 0;
}

/* Literal arrays are evaluated element by element, as json-logic-js does. */
static int ev_array(ectx_t *e, const node_t *n, uint32_t k, const scope_t *s, val_t *out)
{
    json_t *res = json_array();
    uint16_t depth = 1;
    if (!res) return nomem(e, k);
    for (uint32_t i = 0; i < n->nargs; i++) {
        val_t v;
        if (ev(e, kid(e, n, i), s, &v) != 0) goto fail;
        if (nest(e, k, v.depth, &depth) != 0) {
            vfree(&v);
            goto fail;
        }
        if (push(e, k, res, vtake(e, k, &v)) != 0) goto fail;
    }
    *out = own(res);
    out->depth = depth;
    return 0;
fail:
    unref(res);
    return -1;
}

/* Substring search (memmem() is a GNU extension). Every candidate position
 * is charged to the step budget, which bounds pathological inputs. */
static int find(ectx_t *e, uint32_t k, const char *h, size_t hn, const char *nd,
                size_t nn, bool *found)
{
    *found = nn == 0;
    for (size_t i = 0; !*found && nn > 0 && hn - i >= nn;) {
        const char *p = memchr(h + i, nd[0], hn - i - nn + 1);
        if (!p) break;
        if (charge(e, k, 1 + nn / 16) != 0) return -1;
        *found = memcmp(p, nd, nn) == 0;
        i = (size_t)(p - h) + 1;
    }
    return 0;
}

static int ev_in(ectx_t *e, const node_t *n, uint32_t k, const scope_t *s, val_t *out)
{
    val_t a[2];
    if (ev_args(e, n, s, a, 2) != 0) return -1;
    bool res = false;
    int rc = 0;
    if (a[1].t == T_STR && json_string_length(a[1].u.j) > 0) {
        text_t t;
        if ((rc = to_text(e, k, &a[0], false, &t)) == 0) {
            rc = find(e, k, json_string_value(a[1].u.j), json_string_length(a[1].u.j),
                      t.s, t.len, &res);
            text_free(&t);
        }
    } else if (a[1].t == T_ARR) {
        size_t i;
        json_t *el;
        json_array_foreach(a[1].u.j, i, el)
        {
            val_t x = borrow(el);
            if ((res = strict_eq(&a[0], &x))) break;
        }
        rc = charge(e, k, i);
    }
    free_args(a, 2);
    if (rc != 0) return -1;
    *out = vbool(res);
    return 0;
}

static int ev_cat(ectx_t *e, const node_t *n, uint32_t k, const scope_t *s, val_t *out)
{
    sj_buf_t b;
    sj_buf_init(&b, e->max_string);
    for (uint32_t i = 0; i < n->nargs; i++) {
        val_t v;
        text_t t;
        if (ev(e, kid(e, n, i), s, &v) != 0) goto fail;
        int rc = to_text(e, k, &v, true, &t);
        if (rc == 0) {
            rc = buf_add(e, k, &b, t.s, t.len);
            text_free(&t);
        }
        vfree(&v);
        if (rc != 0) goto fail;
    }
    json_t *j = json_stringn_nocheck(sj_buf_cstr(&b), b.len);
    sj_buf_free(&b);
    if (!j) return nomem(e, k);
    *out = own(j);
    return 0;
fail:
    sj_buf_free(&b);
    return -1;
}

/* JavaScript's ToIntegerOrInfinity. */
static double to_integer(double x)
{
    return isnan(x) ? 0 : trunc(x);
}

/* Byte offset of character `chars` in s[0..n). */
static size_t char_offset(const char *s, size_t n, size_t chars)
{
    size_t i = 0;
    for (; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80 && chars-- == 0) break;
    return i;
}

/* substr(source, start[, length]) as json-logic-js: String.prototype.substr,
 * where a negative length drops that many characters from the end. */
static int ev_substr(ectx_t *e, const node_t *n, uint32_t k, const scope_t *s, val_t *out)
{
    val_t a[3];
    uint32_t m = n->nargs;
    text_t t;
    if (ev_args(e, n, s, a, m) != 0) return -1;
    if (to_text(e, k, &a[0], false, &t) != 0) {
        free_args(a, m);
        return -1;
    }
    double size = (double)utf8_chars(t.s, t.len);
    double from = to_integer(to_num(&a[1]));
    from = from < 0 ? fmax(size + from, 0) : fmin(from, size);
    double len = size - from;
    if (m == 3) {
        double l = to_num(&a[2]);
        len = l < 0 ? fmax(size - from + to_integer(l), 0)
                    : fmin(to_integer(l), size - from);
    }
    size_t b0 = char_offset(t.s, t.len, (size_t)from);
    size_t b1 = b0 + char_offset(t.s + b0, t.len - b0, (size_t)len);
    json_t *j = json_stringn_nocheck(t.s + b0, b1 - b0);
    text_free(&t);
    free_args(a, m);
    if (!j) return nomem(e, k);
    *out = own(j);
    return 0;
}

/* A date argument as days since 1970-01-01 (see jsonlogic.h). */
static bool date_of(const val_t *v, int32_t *days)
{
    if (v->t != T_STR) return false;
    const char *s = json_string_value(v->u.j);
    size_t n = json_string_length(v->u.j);
    int64_t ms;
    if (n == 10) return sj_date_parse(s, n, days) == SJ_OK;
    if (sj_time_parse_rfc3339(s, n, &ms) != SJ_OK) return false;
    *days = sj_brussels_date(ms);
    return true;
}

#define DAY_0000_01_01 (-719528)
#define DAY_9999_12_31 2932896

static int ev_date(ectx_t *e, const node_t *n, uint32_t k, const scope_t *s, val_t *out)
{
    val_t a[2];
    int32_t d0, d1;
    if (ev_args(e, n, s, a, 2) != 0) return -1;
    bool ok0 = date_of(&a[0], &d0);
    *out = VNULL;
    if (n->op == OP_DATE_ADD) {
        double add = to_num(&a[1]);
        if (ok0 && add == trunc(add) && fabs(add) <= 4000000 &&
            d0 + add >= DAY_0000_01_01 && d0 + add <= DAY_9999_12_31) {
            char buf[11];
            sj_date_format((int32_t)(d0 + add), buf);
            json_t *j = json_stringn_nocheck(buf, 10);
            if (!j) {
                free_args(a, 2);
                return nomem(e, k);
            }
            *out = own(j);
        }
    } else if (ok0 && date_of(&a[1], &d1)) {
        if (n->op == OP_DAYS_UNTIL) {
            *out = vnum((double)d0 - (double)d1);
        } else if (d1 >= d0) {
            int y0, y1;
            unsigned m0, m1, dd0, dd1;
            sj_civil_from_days(d0, &y0, &m0, &dd0);
            sj_civil_from_days(d1, &y1, &m1, &dd1);
            int years = y1 - y0 - (m1 < m0 || (m1 == m0 && dd1 < dd0));
            *out = vnum(years);
        }
    }
    free_args(a, 2);
    return 0;
}

static int ev_op(ectx_t *e, const node_t *n, uint32_t k, const scope_t *s, val_t *out)
{
    switch ((op_t)n->op) {
    case OP_VAR:
        return ev_var(e, n, k, s, out);
    case OP_MISSING:
        return ev_missing(e, n, k, s, out);
    case OP_MISSING_SOME:
        return ev_missing_some(e, n, k, s, out);
    case OP_IF:
        return ev_if(e, n, s, out);
    case OP_EQ:
    case OP_SEQ:
    case OP_NE:
    case OP_SNE:
        return ev_equality(e, n, k, s, out);
    case OP_NOT:
    case OP_TRUTHY:
        return ev_not(e, n, s, out);
    case OP_OR:
    case OP_AND:
        return ev_andor(e, n, s, out);
    case OP_GT:
    case OP_GE:
    case OP_LT:
    case OP_LE:
        return ev_compare(e, n, k, s, out);
    case OP_MAX:
    case OP_MIN:
    case OP_ADD:
    case OP_MUL:
        return ev_fold(e, n, s, out);
    case OP_SUB:
    case OP_DIV:
    case OP_MOD:
        return ev_arith(e, n, s, out);
    case OP_MAP:
    case OP_FILTER:
    case OP_ALL:
    case OP_NONE:
    case OP_SOME:
        return ev_iterate(e, n, k, s, out);
    case OP_REDUCE:
        return ev_reduce(e, n, s, out);
    case OP_MERGE:
        return ev_merge(e, n, k, s, out);
    case OP_IN:
        return ev_in(e, n, k, s, out);
    case OP_CAT:
        return ev_cat(e, n, k, s, out);
    case OP_SUBSTR:
        return ev_substr(e, n, k, s, out);
    case OP_LOG:
        return ev(e, kid(e, n, 0), s, out);
    case OP_AGE_ON:
    case OP_DAYS_UNTIL:
    case OP_DATE_ADD:
        return ev_date(e, n, k, s, out);
    default:
        return efail(e, k, SJ_ERR, "internal error: operation %d", n->op);
    }
}

static int ev(ectx_t *e, uint32_t k, const scope_t *s, val_t *out)
{
    const node_t *n = &e->r->nodes[k];
    if (n->op == OP_LIT) {
        *out = n->lit;
        return 0;
    }
    if (charge(e, k, 1) != 0) return -1;
    if (n->op == OP_ARRAY) return ev_array(e, n, k, s, out);
    return ev_op(e, n, k, s, out);
}

/* ---- compilation ----------------------------------------------------------- */

typedef struct cc {
    sj_rule_t *r;
    sj_rule_error_t *err;
} cc_t;

static int cfail(cc_t *c, uint32_t k, sj_status_t st, const char *fmt, ...)
    SJ_PRINTF(4, 5);

static int cfail(cc_t *c, uint32_t k, sj_status_t st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_error(c->r, k, c->err, st, fmt, ap);
    va_end(ap);
    return -1;
}

/* Makes room for `need` elements in *p (capacity *cap, at most `max`). */
static int grow(void **p, uint32_t *cap, uint32_t need, size_t elem)
{
    if (need <= *cap) return 0;
    uint32_t n = *cap ? *cap : 16;
    while (n < need) n = n > UINT32_MAX / 2 ? need : n * 2;
    void *q = realloc(*p, (size_t)n * elem);
    if (!q) return -1;
    *p = q;
    *cap = n;
    return 0;
}

static int new_node(cc_t *c, uint32_t parent, uint32_t slot, uint32_t *k)
{
    sj_rule_t *r = c->r;
    if (r->n_nodes >= SJ_RULE_MAX_NODES)
        return cfail(c, parent, SJ_ERR_TOO_BIG, "rule has more than %d parts",
                     SJ_RULE_MAX_NODES);
    if (grow((void **)&r->nodes, &r->cap_nodes, r->n_nodes + 1, sizeof *r->nodes) != 0)
        return cfail(c, parent, SJ_ERR_NOMEM, "out of memory");
    node_t *n = &r->nodes[r->n_nodes];
    memset(n, 0, sizeof *n);
    n->parent = parent;
    n->slot = slot;
    n->def = NODEF;
    *k = r->n_nodes++;
    return 0;
}

/* Keeps v (a new reference) in the rule's constants and returns it borrowed. */
static json_t *keep(cc_t *c, uint32_t k, json_t *v)
{
    if (!v || json_array_append_new(c->r->consts, v) != 0) {
        cfail(c, k, SJ_ERR_NOMEM, "out of memory");
        return NULL;
    }
    return v;
}

static int set_lit(cc_t *c, uint32_t k, json_t *j)
{
    /* Scalars are copied so that the rule owns what its nodes point at. */
    json_t *v = json_is_string(j) || json_is_number(j) ? keep(c, k, json_copy(j)) : j;
    if (!v) return -1;
    c->r->nodes[k].op = OP_LIT;
    c->r->nodes[k].lit = borrow(v);
    return 0;
}

/* Splits a constant var path into r->segs once. */
static int split_path(cc_t *c, uint32_t k, const char *p, size_t n)
{
    sj_rule_t *r = c->r;
    r->nodes[k].seg = r->n_segs;
    for (size_t start = 0;;) {
        const char *dot = memchr(p + start, '.', n - start);
        size_t end = dot ? (size_t)(dot - p) : n;
        if (r->n_segs >= SJ_RULE_MAX_NODES)
            return cfail(c, k, SJ_ERR_TOO_BIG, "var paths have more than %d parts",
                         SJ_RULE_MAX_NODES);
        if (grow((void **)&r->segs, &r->cap_segs, r->n_segs + 1, sizeof *r->segs) != 0)
            return cfail(c, k, SJ_ERR_NOMEM, "out of memory");
        seg_t *sg = &r->segs[r->n_segs++];
        sg->key = p + start;
        sg->len = end - start;
        sg->index = seg_index(sg->key, sg->len);
        r->nodes[k].nseg++;
        if (!dot) return 0;
        start = end + 1;
    }
}

static int setup_var(cc_t *c, uint32_t k)
{
    sj_rule_t *r = c->r;
    node_t *n = &r->nodes[k];
    n->var_kind = VAR_WHOLE;
    if (n->nargs == 0) return 0;
    const node_t *a0 = &r->nodes[r->args[n->args]];
    if (a0->op != OP_LIT) {
        n->var_kind = VAR_DYNAMIC;
        return 0;
    }
    const val_t *p = &a0->lit;
    if (p->t == T_NULL || (p->t == T_STR && json_string_length(p->u.j) == 0)) return 0;
    json_t *str = p->t == T_STR ? p->u.j : NULL;
    if (!str) { /* String() of a number, boolean or array: kept as text */
        ectx_t e;
        text_t t;
        init_ectx(&e, r, NULL, c->err);
        if (to_text(&e, k, p, false, &t) != 0) return -1;
        str = keep(c, k, json_stringn_nocheck(t.s, t.len));
        text_free(&t);
        if (!str) return -1;
    }
    r->nodes[k].var_kind = VAR_STATIC;
    return split_path(c, k, json_string_value(str), json_string_length(str));
}

/* Replaces node k by its value when that cannot depend on the data. A
 * failure (a bound) is left for evaluation to report. */
static void try_fold(cc_t *c, uint32_t k)
{
    sj_rule_t *r = c->r;
    const node_t *n = &r->nodes[k];
    if (n->op == OP_VAR || n->op == OP_MISSING || n->op == OP_MISSING_SOME) return;
    for (uint32_t i = 0; i < n->nargs; i++)
        if (r->nodes[r->args[n->args + i]].op != OP_LIT) return;
    ectx_t e;
    init_ectx(&e, r, NULL, NULL);
    scope_t s = {NULL, NULL, NULL, 0};
    val_t v;
    if (ev(&e, k, &s, &v) != 0) return;
    if (v.t == T_NUM && !isfinite(num_of(&v)))
        return; /* JSON has no NaN: keep the node */
    uint16_t depth = v.depth;
    json_t *j = vtake(&e, k, &v);
    if (!j || json_array_append_new(r->consts, j) != 0) return;
    node_t *m = &r->nodes[k];
    r->n_nodes = k + 1;
    r->n_args = m->args;
    m->op = OP_LIT;
    m->nargs = 0;
    m->lit = borrow(j);
    m->lit.depth = depth;
}

static int compile(cc_t *c, json_t *j, uint32_t parent, uint32_t slot, unsigned depth,
                   uint32_t *out);

/* Reserves the argument slots of node k, then compiles the arguments. */
static int compile_args(cc_t *c, uint32_t k, json_t *list, size_t count, unsigned depth)
{
    sj_rule_t *r = c->r;
    if (count > SJ_RULE_MAX_NODES - r->n_nodes)
        return cfail(c, k, SJ_ERR_TOO_BIG, "rule has more than %d parts",
                     SJ_RULE_MAX_NODES);
    if (grow((void **)&r->args, &r->cap_args, r->n_args + (uint32_t)count,
             sizeof *r->args) != 0)
        return cfail(c, k, SJ_ERR_NOMEM, "out of memory");
    r->nodes[k].args = r->n_args;
    r->nodes[k].nargs = (uint32_t)count;
    r->n_args += (uint32_t)count;
    for (size_t i = 0; i < count; i++) {
        json_t *a = json_is_array(list) ? json_array_get(list, i) : list;
        uint32_t child;
        if (compile(c, a, k, (uint32_t)i, depth + 1, &child) != 0) return -1;
        r->args[r->nodes[k].args + i] = child;
    }
    return 0;
}

static int find_op(const char *name, size_t len)
{
    for (size_t i = 0; i < SJ_ARRAY_LEN(opdefs); i++)
        if (strlen(opdefs[i].name) == len && memcmp(opdefs[i].name, name, len) == 0)
            return (int)i;
    return -1;
}

static int arity_error(cc_t *c, uint32_t k, const opdef_t *d, size_t got)
{
    const char *plural = d->max == 1 || (d->max == ANY && d->min == 1) ? "" : "s";
    if (d->min == d->max)
        return cfail(c, k, SJ_ERR_INPUT, "\"%s\" takes %d argument%s, got %zu", d->name,
                     d->min, plural, got);
    if (d->max == ANY)
        return cfail(c, k, SJ_ERR_INPUT, "\"%s\" takes at least %d argument%s, got %zu",
                     d->name, d->min, plural, got);
    if (d->min == 0)
        return cfail(c, k, SJ_ERR_INPUT, "\"%s\" takes at most %d arguments, got %zu",
                     d->name, d->max, got);
    return cfail(c, k, SJ_ERR_INPUT, "\"%s\" takes %d or %d arguments, got %zu", d->name,
                 d->min, d->max, got);
}

static int compile_op(cc_t *c, json_t *j, uint32_t k, unsigned depth)
{
    size_t nkeys = json_object_size(j);
    if (nkeys != 1)
        return cfail(c, k, SJ_ERR_INPUT,
                     "an operation is an object with exactly one key, the operator; "
                     "this one has %zu",
                     nkeys);
    void *it = json_object_iter(j);
    const char *name = json_object_iter_key(it);
    size_t len = json_object_iter_key_len(it);
    json_t *args = json_object_iter_value(it);
    int def = find_op(name, len);
    if (def < 0) {
        char shown[48];
        sj_preview(name, len, shown, sizeof shown, 40);
        return cfail(c, k, SJ_ERR_INPUT, "unknown operator \"%s\"", shown);
    }
    node_t *n = &c->r->nodes[k];
    n->op = opdefs[def].op;
    n->def = (uint8_t)def;
    n->wrapped = !json_is_array(args);
    size_t count = n->wrapped ? 1 : json_array_size(args);
    if (count < opdefs[def].min || (opdefs[def].max != ANY && count > opdefs[def].max))
        return arity_error(c, k, &opdefs[def], count);
    if (compile_args(c, k, args, count, depth) != 0) return -1;
    if (c->r->nodes[k].op == OP_VAR && setup_var(c, k) != 0) return -1;
    try_fold(c, k);
    return 0;
}

static int compile(cc_t *c, json_t *j, uint32_t parent, uint32_t slot, unsigned depth,
                   uint32_t *out)
{
    uint32_t k = NONE;
    if (new_node(c, parent, slot, &k) != 0) return -1;
    *out = k;
    if (depth > SJ_RULE_MAX_DEPTH && (json_is_object(j) || json_is_array(j)))
        return cfail(c, k, SJ_ERR_TOO_BIG, "rule nested deeper than %d levels",
                     SJ_RULE_MAX_DEPTH);
    if (json_is_object(j)) return compile_op(c, j, k, depth);
    if (!json_is_array(j)) return set_lit(c, k, j);
    c->r->nodes[k].op = OP_ARRAY;
    if (compile_args(c, k, j, json_array_size(j), depth) != 0) return -1;
    try_fold(c, k);
    return 0;
}

void sj_rule_destroy(sj_rule_t *r)
{
    if (!r) return;
    free(r->nodes);
    free(r->args);
    free(r->segs);
    unref(r->consts);
    free(r);
}

sj_rule_t *sj_rule_compile(json_t *rule, sj_rule_error_t *err)
{
    clear_error(err);
    sj_rule_t *r = calloc(1, sizeof *r);
    cc_t c = {r, err};
    if (!r || !(r->consts = json_array())) {
        free(r);
        if (err) {
            err->status = SJ_ERR_NOMEM;
            snprintf(err->path, sizeof err->path, "$");
            snprintf(err->text, sizeof err->text, "out of memory");
            snprintf(err->message, sizeof err->message, "$: out of memory");
        }
        return NULL;
    }
    if (!rule) rule = json_null();
    if (compile(&c, rule, NONE, 0, 1, &r->root) != 0) {
        sj_rule_destroy(r);
        return NULL;
    }
    return r;
}

size_t sj_rule_node_count(const sj_rule_t *r)
{
    return r ? r->n_nodes : 0;
}

/* ---- which data a rule reads ------------------------------------------------ */

typedef struct {
    const sj_rule_t *r;
    const char *top;
    size_t top_len;
    char (*names)[SJ_RULE_MEMBER_MAX];
    size_t max, n;
    bool all;
} needs_t;

static void need_name(needs_t *x, const char *k, size_t len)
{
    if (len >= SJ_RULE_MEMBER_MAX || x->n == x->max) {
        x->all = true;
        return;
    }
    for (size_t i = 0; i < x->n; i++)
        if (strlen(x->names[i]) == len && !memcmp(x->names[i], k, len)) return;
    memcpy(x->names[x->n], k, len);
    x->names[x->n++][len] = '\0';
}

static void needs_walk(needs_t *x, uint32_t k)
{
    const sj_rule_t *r = x->r;
    const node_t *n = &r->nodes[k];
    if (x->all || n->op == OP_LIT) return;
    if (n->op == OP_MISSING || n->op == OP_MISSING_SOME) {
        x->all = true; /* names data members at run time: take it all */
        return;
    }
    if (n->op == OP_VAR) {
        if (n->var_kind != VAR_STATIC) {
            x->all = true;
            return;
        }
        const seg_t *sg = &r->segs[n->seg];
        if (sg->len == x->top_len && !memcmp(sg->key, x->top, x->top_len)) {
            if (n->nseg < 2)
                x->all = true; /* the whole object */
            else
                need_name(x, sg[1].key, sg[1].len);
        }
        if (n->nargs > 1) needs_walk(x, r->args[n->args + 1]); /* the default */
        return;
    }
    bool scoped = n->op == OP_MAP || n->op == OP_FILTER || n->op == OP_ALL ||
                  n->op == OP_NONE || n->op == OP_SOME || n->op == OP_REDUCE;
    for (uint32_t i = 0; i < n->nargs; i++)
        if (!(scoped && i == 1)) /* argument 1 sees the elements, not the data */
            needs_walk(x, r->args[n->args + i]);
}

bool sj_rule_members(const sj_rule_t *r, const char *top,
                     char (*names)[SJ_RULE_MEMBER_MAX], size_t max, size_t *n)
{
    needs_t x = {.r = r, .top = top, .top_len = strlen(top), .names = names, .max = max};
    if (r && r->n_nodes) needs_walk(&x, r->root);
    *n = x.n;
    return !x.all;
}

/* ---- public evaluation ------------------------------------------------------ */

static int run(ectx_t *e, json_t *data, val_t *out)
{
    clear_error(e->err);
    if (!e->r) return efail(e, NONE, SJ_ERR_INPUT, "no rule");
    scope_t s = {data, NULL, NULL, 0};
    return ev(e, e->r->root, &s, out);
}

json_t *sj_rule_eval_opts(const sj_rule_t *r, json_t *data, const sj_rule_opts_t *opts,
                          sj_rule_error_t *err)
{
    ectx_t e;
    val_t v;
    init_ectx(&e, r, opts, err);
    if (run(&e, data, &v) != 0) return NULL;
    return vtake(&e, r->root, &v);
}

json_t *sj_rule_eval(const sj_rule_t *r, json_t *data, sj_rule_error_t *err)
{
    return sj_rule_eval_opts(r, data, NULL, err);
}

sj_status_t sj_rule_match(const sj_rule_t *r, json_t *data, const sj_rule_opts_t *opts,
                          bool *match, sj_rule_error_t *err)
{
    ectx_t e;
    val_t v;
    *match = false;
    init_ectx(&e, r, opts, err);
    if (run(&e, data, &v) != 0) return err ? err->status : SJ_ERR;
    *match = truthy(&v);
    vfree(&v);
    return SJ_OK;
}

bool sj_rule_truthy(const json_t *v)
{
    val_t x = borrow((json_t *)v);
    return truthy(&x);
}

json_t *sj_rule_data_new(json_t *resident, json_t *event, int64_t now_ms)
{
    char now[32];
    sj_time_format_rfc3339(now_ms, now);
    json_t *o = json_object();
    if (!o || json_object_set(o, "resident", resident ? resident : json_null()) != 0 ||
        json_object_set(o, "event", event ? event : json_null()) != 0 ||
        json_object_set_new(o, "now", json_string(now)) != 0) {
        unref(o);
        return NULL;
    }
    return o;
}

/* ---- compact JSON with JavaScript's numbers --------------------------------- */

static sj_status_t dump_string(const char *s, size_t n, sj_buf_t *out)
{
    static const char hex[] = "0123456789abcdef";
    sj_status_t st = sj_buf_addc(out, '"');
    size_t run = 0;
    for (size_t i = 0; i < n && st == SJ_OK; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch >= 0x20 && ch != '"' && ch != '\\') continue;
        st = sj_buf_add(out, s + run, i - run);
        run = i + 1;
        const char *esc = ch == '"'    ? "\\\""
                          : ch == '\\' ? "\\\\"
                          : ch == '\n' ? "\\n"
                          : ch == '\r' ? "\\r"
                          : ch == '\t' ? "\\t"
                          : ch == '\b' ? "\\b"
                          : ch == '\f' ? "\\f"
                                       : NULL;
        if (st == SJ_OK && esc) st = sj_buf_adds(out, esc);
        if (st == SJ_OK && !esc) {
            char u[7] = {'\\', 'u', '0', '0', hex[ch >> 4], hex[ch & 15], 0};
            st = sj_buf_add(out, u, 6);
        }
    }
    if (st == SJ_OK) st = sj_buf_add(out, s + run, n - run);
    return st == SJ_OK ? sj_buf_addc(out, '"') : st;
}

/* A real as JavaScript prints it, except that integers beyond the int64
 * range ("9545387873541335000") get an exponent ("9.545387873541335e+18"), so
 * that jansson, which would reject them as too big integers, reads them back. */
static sj_status_t dump_real(double d, sj_buf_t *out)
{
    char num[SJ_RULE_NUMBER_TEXT];
    size_t n = sj_rule_number_text(d, num);
    if (fabs(d) < 9e18 || strpbrk(num, ".e")) return sj_buf_add(out, num, n);
    size_t sign = num[0] == '-', k = n;
    while (k > sign + 1 && num[k - 1] == '0') k--;
    sj_status_t st = sj_buf_add(out, num, sign + 1);
    if (st == SJ_OK && k > sign + 1) st = sj_buf_addc(out, '.');
    if (st == SJ_OK) st = sj_buf_add(out, num + sign + 1, k - sign - 1);
    return st == SJ_OK ? sj_buf_addf(out, "e+%zu", n - sign - 1) : st;
}

static sj_status_t dump(const json_t *v, sj_buf_t *out, int depth)
{
    sj_status_t st = SJ_OK;
    if (depth > 2048) return SJ_ERR_TOO_BIG;
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        st = sj_buf_addc(out, '{');
        for (void *it = json_object_iter((json_t *)v); it && st == SJ_OK;
             it = json_object_iter_next((json_t *)v, it)) {
            if (it != json_object_iter((json_t *)v)) st = sj_buf_addc(out, ',');
            if (st == SJ_OK)
                st = dump_string(json_object_iter_key(it), json_object_iter_key_len(it),
                                 out);
            if (st == SJ_OK) st = sj_buf_addc(out, ':');
            if (st == SJ_OK) st = dump(json_object_iter_value(it), out, depth + 1);
        }
        return st == SJ_OK ? sj_buf_addc(out, '}') : st;
    }
    case JSON_ARRAY: {
        size_t i;
        json_t *m;
        st = sj_buf_addc(out, '[');
        json_array_foreach((json_t *)v, i, m)
        {
            if (st == SJ_OK && i > 0) st = sj_buf_addc(out, ',');
            if (st == SJ_OK) st = dump(m, out, depth + 1);
        }
        return st == SJ_OK ? sj_buf_addc(out, ']') : st;
    }
    case JSON_STRING:
        return dump_string(json_string_value(v), json_string_length(v), out);
    case JSON_INTEGER:
        return sj_buf_addf(out, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    case JSON_REAL:
        return dump_real(json_real_value(v), out);
    case JSON_TRUE:
        return sj_buf_adds(out, "true");
    case JSON_FALSE:
        return sj_buf_adds(out, "false");
    default:
        return sj_buf_adds(out, "null");
    }
}

sj_status_t sj_rule_dump(const json_t *v, sj_buf_t *out)
{
    return v ? dump(v, out, 0) : sj_buf_adds(out, "null");
}
