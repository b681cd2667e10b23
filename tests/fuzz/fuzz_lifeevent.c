/* Fuzz target: the producer's JSON scanner and life-event check on arbitrary
 * lines. Invariants: never crash; an accepted line's output is again
 * accepted JSON, and its subject is the 64-hex pseudonym. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/crypto.h"
#include "producers/jscan.h"
#include "producers/lifeevent.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
    sj_buf_free(&out);
    return 0;
}
