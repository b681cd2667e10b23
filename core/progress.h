/* Progress bar for long operations. Draws on stderr only when stderr is a
 * terminal, at most ten times a second; otherwise it is silent, so piped output
 * stays machine-readable. */
#ifndef SJ_PROGRESS_H
#define SJ_PROGRESS_H

#include <stdint.h>

typedef struct sj_progress_s sj_progress_t;

/* total 0 means unknown (shows a count and a rate instead of a bar). `unit`
 * names what is counted ("events", "bytes"). Returns NULL on ENOMEM only. */
sj_progress_t *sj_progress_new(const char *label, uint64_t total, const char *unit);
/* Cheap to call on every item: it only looks at the clock every 1024 calls. */
void sj_progress_update(sj_progress_t *p, uint64_t done);
/* Draws the final state, ends the line, frees p. NULL is a no-op. */
void sj_progress_finish(sj_progress_t *p, uint64_t done);

#endif
