/* Progress bar on stderr for terminals; silent otherwise. See progress.h. */
#include "progress.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "timeutil.h"

struct sj_progress_s {
    char label[48];
    char unit[16];
    uint64_t total;
    uint64_t calls;
    int64_t start_ms, last_ms;
    bool tty;
};

sj_progress_t *sj_progress_new(const char *label, uint64_t total, const char *unit)
{
    sj_progress_t *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    snprintf(p->label, sizeof p->label, "%s", label);
    snprintf(p->unit, sizeof p->unit, "%s", unit);
    p->total = total;
    p->tty = isatty(STDERR_FILENO) && !getenv("SEINTJE_NO_PROGRESS");
    p->start_ms = p->last_ms = sj_mono_ms();
    return p;
}

static void draw(const sj_progress_t *p, uint64_t done, int64_t now, bool final)
{
    double secs = (double)(now - p->start_ms) / 1000.0;
    double rate = secs > 0 ? (double)done / secs : 0;
    char line[160];
    if (p->total) {
        uint64_t d = done > p->total ? p->total : done;
        int width = 30, fill = (int)(d * (uint64_t)width / p->total);
        char bar[31];
        memset(bar, '#', (size_t)fill);
        memset(bar + fill, '.', (size_t)(width - fill));
        bar[width] = '\0';
        double eta = rate > 0 ? (double)(p->total - d) / rate : 0;
        snprintf(line, sizeof line, "\r%s [%s] %3d%% %llu/%llu %s %.0f/s eta %.0fs ",
                 p->label, bar, (int)(d * 100 / p->total), (unsigned long long)done,
                 (unsigned long long)p->total, p->unit, rate, eta);
    } else {
        snprintf(line, sizeof line, "\r%s %llu %s %.0f/s ", p->label,
                 (unsigned long long)done, p->unit, rate);
    }
    fputs(line, stderr);
    if (final) fputc('\n', stderr);
    fflush(stderr);
}

void sj_progress_update(sj_progress_t *p, uint64_t done)
{
    if (!p || !p->tty || (++p->calls & 1023) != 0) return;
    int64_t now = sj_mono_ms();
    if (now - p->last_ms < 100) return;
    p->last_ms = now;
    draw(p, done, now, false);
}

void sj_progress_finish(sj_progress_t *p, uint64_t done)
{
    if (!p) return;
    if (p->tty) draw(p, done, sj_mono_ms(), true);
    free(p);
}
