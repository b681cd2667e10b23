/* Fuzz target: send windows (sj_nudge_window_parse) on arbitrary bytes.
 * Invariants: never crash; a refused window explains itself and is left
 * unset; an accepted one is valid (some day, 0 <= from < to <= 24:00), its
 * canonical text parses back to the same window and formats to the same
 * text, and sj_nudge_window_next() from instants around both 2026
 * daylight-saving changes answers a moment inside the window within eight
 * days (asking again from the answer gives it back). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "segments/nudge.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same(const sj_send_window_t *a, const sj_send_window_t *b)
{
    return a->set == b->set && a->days == b->days && a->from_minutes == b->from_minutes &&
           a->to_minutes == b->to_minutes;
}

static void check_next(const sj_send_window_t *w)
{
    static const int64_t around[] = {
        1774746000000LL, /* 2026-03-29T01:00:00Z, summer time begins */
        1792890000000LL, /* 2026-10-25T01:00:00Z, summer time ends */
    };
    const int64_t day = 86400000LL;
    for (size_t i = 0; i < sizeof around / sizeof around[0]; i++) {
        for (int64_t at = around[i] - day; at <= around[i] + day; at += 1234567) {
            int64_t next = sj_nudge_window_next(w, at);
            if (next < at || next - at > 8 * day) abort();
            if (sj_nudge_window_next(w, next) != next) abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s) return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    sj_send_window_t w, again;
    char err[256] = "", text[64], text2[64];
    if (sj_nudge_window_parse(s, &w, err, sizeof err) != SJ_OK) {
        if (!err[0] || w.set) abort();
        free(s);
        return 0;
    }
    if (!w.set || !(w.days & 0x7f) || w.days > 0x7f || w.from_minutes < 0 ||
        w.from_minutes >= w.to_minutes || w.to_minutes > 24 * 60)
        abort();
    sj_nudge_window_format(&w, text, sizeof text);
    if (strlen(text) >= 40) abort();
    if (sj_nudge_window_parse(text, &again, err, sizeof err) != SJ_OK ||
        !same(&w, &again))
        abort();
    sj_nudge_window_format(&again, text2, sizeof text2);
    if (strcmp(text, text2) != 0) abort();
    check_next(&w);
    free(s);
    return 0;
}
