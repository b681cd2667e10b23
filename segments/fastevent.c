/* The segmentation engine's scanner path for life events (fastevent.h). */
#include "fastevent.h"

#include <string.h>

#include "core/timeutil.h"

#define FAST_MEMBERS 96 /* object members indexed */
#define FAST_DEPTH   8

/* What the accessor (sj_event_data_t) reads from: the scanner's index. */
typedef struct {
    const sj_jindex_t *idx;
    int data; /* index of the data member */
    char *arena;
    size_t used; /* of arena */
} fast_t;

/* The index of the member `name` of the object whose member index is
 * parent (-1: the root), or -1. */
static int fast_find(const sj_jindex_t *idx, int parent, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = (size_t)(parent + 1); i < idx->count; i++) {
        const sj_jval_t *k = &idx->m[i].key; /* with its quotes */
        if (idx->m[i].parent == parent && k->len == n + 2 && !memcmp(k->p + 1, name, n))
            return (int)i;
    }
    return -1;
}

/* A string value copied into the arena (no escapes: see above). */
static const char *fast_str(fast_t *f, const sj_jval_t *v)
{
    size_t n = v->len - 2;
    if (f->used + n + 1 > SJ_FAST_EVENT_MAX)
        return NULL; /* cannot happen: n <= the input */
    char *out = f->arena + f->used;
    memcpy(out, v->p + 1, n);
    out[n] = '\0';
    f->used += n + 1;
    return out;
}

static sj_data_kind_t fast_get(void *ctx, const char *obj, const char *name,
                               const char **str)
{
    fast_t *f = ctx;
    if (str) *str = NULL;
    int parent = f->data;
    if (obj) {
        parent = fast_find(f->idx, parent, obj);
        if (parent < 0 || f->idx->m[parent].val.type != SJ_JSON_OBJECT)
            return SJ_DATA_ABSENT;
    }
    int i = fast_find(f->idx, parent, name);
    if (i < 0) return SJ_DATA_ABSENT;
    const sj_jval_t *v = &f->idx->m[i].val;
    switch (v->type) {
    case SJ_JSON_STRING:
        if (str && !(*str = fast_str(f, v))) return SJ_DATA_OTHER;
        return SJ_DATA_STRING;
    case SJ_JSON_NULL:
        return SJ_DATA_NULL;
    case SJ_JSON_TRUE:
        return SJ_DATA_TRUE;
    case SJ_JSON_FALSE:
        return SJ_DATA_FALSE;
    case SJ_JSON_OBJECT:
        return SJ_DATA_OBJECT;
    default:
        return SJ_DATA_OTHER;
    }
}

/* Whether the index holds only what the jansson path takes as it is. */
static bool fast_plain(const sj_jindex_t *idx)
{
    for (size_t i = 0; i < idx->count; i++) {
        const sj_jval_t *v = &idx->m[i].val;
        if (v->type == SJ_JSON_ARRAY) return false;
        if (v->type == SJ_JSON_NUMBER &&
            (v->len > 15 || memchr(v->p, 'e', v->len) || memchr(v->p, 'E', v->len)))
            return false;                           /* let jansson judge range */
        for (size_t j = i + 1; j < idx->count; j++) /* duplicate keys */
            if (idx->m[j].parent == idx->m[i].parent &&
                idx->m[j].key.len == idx->m[i].key.len &&
                !memcmp(idx->m[j].key.p, idx->m[i].key.p, idx->m[i].key.len))
                return false;
    }
    return true;
}

static const char *fast_root_str(fast_t *f, const char *name)
{
    int i = fast_find(f->idx, -1, name);
    if (i < 0 || f->idx->m[i].parent != -1 || f->idx->m[i].val.type != SJ_JSON_STRING)
        return NULL;
    return fast_str(f, &f->idx->m[i].val);
}

bool sj_fast_event(const char *p, size_t n, char arena[SJ_FAST_EVENT_MAX],
                   bool (*skip)(void *ctx, const char *type), void *ctx, int64_t now_ms,
                   sj_event_view_t *ev, sj_profile_update_t *u)
{
    if (!p || n > SJ_FAST_EVENT_MAX || memchr(p, '\\', n)) return false;
    sj_jmember_t members[FAST_MEMBERS];
    sj_jindex_t idx = {members, FAST_MEMBERS, 0, FAST_DEPTH, false};
    sj_jval_t root;
    sj_json_error_t jerr;
    if (sj_json_scan_indexed(p, n, FAST_DEPTH, &root, &idx, &jerr) != SJ_OK ||
        idx.overflow || root.type != SJ_JSON_OBJECT || !fast_plain(&idx))
        return false;
    fast_t f = {.idx = &idx, .data = -1, .arena = arena};
    memset(ev, 0, sizeof *ev);
    ev->type = fast_root_str(&f, "type");
    if (!ev->type || strncmp(ev->type, "be.seintje.", 11) ||
        (skip && skip(ctx, ev->type)))
        return false;
    ev->id = fast_root_str(&f, "id");
    ev->subject = fast_root_str(&f, "subject");
    ev->time = fast_root_str(&f, "time");
    const char *source = fast_root_str(&f, "source");
    if (!ev->id || !*ev->id || strlen(ev->id) > 256 || !ev->subject ||
        strlen(ev->subject) != SJ_PSEUDONYM_LEN)
        return false;
    for (const char *c = ev->subject; *c; c++)
        if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f'))) return false;
    if (ev->time &&
        sj_time_parse_rfc3339(ev->time, strlen(ev->time), &ev->time_ms) != SJ_OK)
        return false;
    int d = fast_find(&idx, -1, "data");
    sj_json_type_t dt = d >= 0 ? idx.m[d].val.type : SJ_JSON_NULL;
    if (dt != SJ_JSON_OBJECT && dt != SJ_JSON_NULL) return false;
    f.data = dt == SJ_JSON_OBJECT ? d : -1;
    sj_event_data_t data = {.get = fast_get, .ctx = &f};
    sj_profile_update_build_from(ev, f.data >= 0 ? &data : NULL, source, now_ms, u);
    return true;
}
