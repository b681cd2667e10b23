/* Fuzz target: the producer's JSON scanner and life-event check on arbitrary
 * lines. Invariants: never crash; an accepted line's output is again
 * accepted JSON, and its subject is the 64-hex pseudonym; the scanner's member
 * index lists exactly what walking the text finds. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/crypto.h"
#include "producers/jscan.h"
#include "producers/lifeevent.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same(const sj_jval_t *a, const sj_jval_t *b)
{
    return a->type == b->type && a->p == b->p && a->len == b->len;
}

/* Walks the object obj (index entry slot) and checks the index against it;
 * returns how many entries it matched at this level and below. */
static size_t check_index(const sj_jindex_t *idx, int slot, const sj_jval_t *obj,
                          unsigned depth)
{
    sj_jiter_t it;
    sj_jval_t k, v;
    size_t next = slot < 0 ? 0 : (size_t)slot + 1, matched = 0;
    sj_jiter_init(&it, obj);
    while (sj_jiter_next(&it, &k, &v)) {
        while (next < idx->count && idx->m[next].parent != slot) next++;
        if (next == idx->count) abort();
        const sj_jmember_t *e = &idx->m[next];
        if (!same(&e->key, &k) || !same(&e->val, &v)) abort();
        matched++;
        if (v.type == SJ_JSON_OBJECT && depth < idx->max_depth)
            matched += check_index(idx, (int)next, &v, depth + 1);
        next++;
    }
    return matched;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static sj_hmac_t *h;
    if (!h) h = sj_hmac_new((const unsigned char *)"fuzz-key-0123456789", 19, NULL, 0);
    if (!h) abort();
    sj_buf_t out;
    sj_buf_init(&out, 1 << 20);
    char key[SJ_PSEUDONYM_LEN + 1];
    sj_event_problem_t why;
    if (sj_lifeevent_check(h, (const char *)data, size, &out, key, &why) == SJ_OK) {
        sj_jval_t root;
        sj_json_error_t err;
        if (sj_json_scan(out.data, out.len, SJ_EVENT_MAX_DEPTH, &root, &err) != SJ_OK)
            abort();
        if (strlen(key) != SJ_PSEUDONYM_LEN || !strstr(out.data, key)) abort();
    }
    /* The scanner alone, with decoding of every string it finds at the top. */
    sj_jval_t root;
    if (sj_json_scan((const char *)data, size, 8, &root, NULL) == SJ_OK &&
        (root.type == SJ_JSON_OBJECT || root.type == SJ_JSON_ARRAY)) {
        sj_jiter_t it;
        sj_jval_t k, v;
        char buf[64];
        sj_jiter_init(&it, &root);
        while (sj_jiter_next(&it, &k, &v))
            if (v.type == SJ_JSON_STRING) sj_jstr_decode(&v, buf, sizeof buf, NULL);
    }
    sj_jmember_t entries[512];
    sj_jindex_t idx = {entries, sizeof entries / sizeof *entries, 0, 3, false};
    if (sj_json_scan_indexed((const char *)data, size, 8, &root, &idx, NULL) == SJ_OK &&
        root.type == SJ_JSON_OBJECT && !idx.overflow &&
        check_index(&idx, -1, &root, 1) != idx.count)
        abort();
    sj_buf_free(&out);
    return 0;
}
