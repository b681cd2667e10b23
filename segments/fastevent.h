/* The segmentation engine's scanner path for life events.
 *
 * Most life events only update a profile: no campaign is triggered by their
 * type. Building a jansson tree for each costs more than everything else the
 * engine does with them, so those are read with the producer's
 * allocation-free scanner (producers/jscan.h) when the event is plain: at
 * most SJ_FAST_EVENT_MAX bytes, no backslash anywhere (strings need no
 * decoding), no arrays, no numbers jansson could refuse, no duplicate keys,
 * every object indexed. It must accept only what the jansson path
 * (json_loadb with JSON_REJECT_DUPLICATES, sj_event_view(),
 * sj_profile_update_build()) accepts, and give the same view and update:
 * anything else -- every malformed event included -- is left to that path,
 * which decides and words the problem. tests/segments/test_fastevent.c and
 * the fuzz target fuzz_fastevent check the two against each other. */
#ifndef SJ_FASTEVENT_H
#define SJ_FASTEVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "producers/jscan.h"
#include "segments/intent.h"
#include "segments/profile.h"

#define SJ_FAST_EVENT_MAX 2048 /* larger events take the jansson path */

/* Reads life event p[0..n) when it is plain: fills *ev and *u (what
 * sj_profile_update_build() gives, updated_at from now_ms) with strings
 * copied into arena, which must stay as long as they are used; ev->data is
 * NULL. skip(ctx, type) (may be NULL) returning true leaves the event to the
 * jansson path (the engine: its type triggers a campaign, whose rules need
 * the event as JSON). Returns false when the caller must use the jansson
 * path; *ev and *u are then unspecified. Thread-safe; no allocation. */
bool sj_fast_event(const char *p, size_t n, char arena[SJ_FAST_EVENT_MAX],
                   bool (*skip)(void *ctx, const char *type), void *ctx, int64_t now_ms,
                   sj_event_view_t *ev, sj_profile_update_t *u);

#endif
