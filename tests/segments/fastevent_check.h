/* The scanner path against the jansson path (segments/fastevent.h): for
 * one input, when sj_fast_event() accepts it, the jansson path must accept
 * it too and give the same view and the same profile update. Shared by
 * tests/segments/test_fastevent.c and the fuzz target fuzz_fastevent; returns
 * NULL when they agree (or the scanner path declined), else what differs. */
#ifndef SJ_FASTEVENT_CHECK_H
#define SJ_FASTEVENT_CHECK_H

#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "segments/fastevent.h"

static bool fc_same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && !strcmp(a, b));
}

static bool fc_same_list(const char *const *a, size_t na, const char *const *b, size_t nb)
{
    if (na != nb) return false;
    for (size_t i = 0; i < na; i++)
        if (!fc_same_str(a[i], b[i])) return false;
    return true;
}

/* *accepted: whether the scanner path took it. */
static const char *fastevent_check(const char *p, size_t n, bool *accepted)
{
    static char arena[SJ_FAST_EVENT_MAX];
    static sj_profile_update_t uf, uj;
    const int64_t now = 1795000000000LL;
    sj_event_view_t ef, ej;
    *accepted = sj_fast_event(p, n, arena, NULL, NULL, now, &ef, &uf);
    if (!*accepted) return NULL;
    json_t *root = json_loadb(p, n, JSON_REJECT_DUPLICATES, NULL);
    if (!root) return "the scanner took what jansson refuses";
    char problem[160];
    const char *why = NULL;
    if (sj_event_view(root, &ej, problem, sizeof problem) != SJ_OK) {
        why = "the scanner took what sj_event_view() refuses";
    } else if (!fc_same_str(ef.id, ej.id) || !fc_same_str(ef.type, ej.type) ||
               !fc_same_str(ef.subject, ej.subject) || !fc_same_str(ef.time, ej.time) ||
               (ef.time && ef.time_ms != ej.time_ms)) {
        why = "the views differ";
    } else {
        const json_t *src = json_object_get(root, "source");
        sj_profile_update_build(&ej, json_string_value(src), now, &uj);
        if (!fc_same_list(uf.set, uf.n_set, uj.set, uj.n_set))
            why = "the profile fields set differ";
        else if (!fc_same_list(uf.del, uf.n_del, uj.del, uj.n_del))
            why = "the profile fields removed differ";
        else if (!fc_same_list(uf.setnx, uf.n_setnx, uj.setnx, uj.n_setnx))
            why = "the fields set when absent differ";
        else if (!fc_same_list(uf.consent, uf.n_consent, uj.consent, uj.n_consent) ||
                 strcmp(uf.when, uj.when))
            why = "the consents differ";
    }
    json_decref(root);
    return why;
}

#endif
