/* Fuzz target: the engine's scanner path for life events against the
 * jansson path (segments/fastevent.h). Invariant: whatever the scanner path
 * accepts, jansson and sj_event_view() accept too, with the same view and
 * the same profile update (tests/segments/fastevent_check.h). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "tests/segments/fastevent_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bool accepted;
    const char *why = fastevent_check((const char *)data, size, &accepted);
    if (why) {
        fprintf(stderr, "fuzz_fastevent: %s\n", why);
        abort();
    }
    return 0;
}
