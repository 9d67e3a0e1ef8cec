/*-------------------------------------------------------------------------
 * progress.c
 *    `maisond import`'s progress line (see progress.h).
 *-------------------------------------------------------------------------
 */
#include "server/progress.h"

#include <time.h>
#include <unistd.h>

#define TTY_EVERY_S   0.2
#define PLAIN_EVERY_S 5.0

double mz_progress_now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void mz_progress_start(struct mz_progress *p, FILE *out, const char *unit,
                       int64_t total_bytes)
{
    *p = (struct mz_progress){.out = out,
                              .tty = isatty(fileno(out)) == 1,
                              .unit = unit,
                              .total_bytes = total_bytes};
    p->started_s = p->last_s = mz_progress_now_s();
}

static void print(struct mz_progress *p, double now)
{
    double elapsed = now - p->started_s;
    double rate = elapsed > 0 ? (double)p->done / elapsed : 0;
    char share[64] = "";

    if (p->total_bytes > 0 && p->bytes > 0) {
        double f = (double)p->bytes / (double)p->total_bytes;
        double eta = f > 0 ? elapsed * (1 - f) / f : 0;
        snprintf(share, sizeof share, ", %.0f%%, ETA %d:%02d", f * 100,
                 (int)eta / 60, (int)eta % 60);
    }
    if (p->tty)
        fprintf(p->out, "\r\033[K%lld %s, %.0f %s/s%s", (long long)p->done,
                p->unit, rate, p->unit, share);
    else
        fprintf(p->out, "import: %lld %s, %.0f %s/s%s\n", (long long)p->done,
                p->unit, rate, p->unit, share);
    fflush(p->out);
    p->drawn = p->tty;
    p->last_s = now;
}

void mz_progress_update(struct mz_progress *p, int64_t done, int64_t bytes)
{
    double now = mz_progress_now_s();

    p->done = done;
    p->bytes = bytes;
    if (now - p->last_s >= (p->tty ? TTY_EVERY_S : PLAIN_EVERY_S))
        print(p, now);
}

void mz_progress_clear(struct mz_progress *p)
{
    if (p->drawn) {
        fputs("\r\033[K", p->out);
        p->drawn = false;
    }
}

void mz_progress_end(struct mz_progress *p)
{
    if (p->tty || p->done > 0)
        print(p, mz_progress_now_s());
    if (p->tty)
        fputc('\n', p->out);
    p->drawn = false;
}
