/*-------------------------------------------------------------------------
 * progress.h
 *    The progress of `maisond import` on stderr: on a terminal one line
 *    redrawn in place (done, rate, share, ETA); otherwise a plain line
 *    every few seconds, for logs.
 *
 * Interface routines:
 *    mz_progress_start  - for a file of total_bytes (0: unknown)
 *    mz_progress_update - the work done so far (printed when due)
 *    mz_progress_clear  - erase the terminal line before other output
 *    mz_progress_end    - the last update, then a newline on a terminal
 *-------------------------------------------------------------------------
 */
#ifndef MZ_SERVER_PROGRESS_H
#define MZ_SERVER_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct mz_progress {
    FILE *out; /* borrowed */
    bool tty;
    const char *unit; /* static: "events", "items" */
    int64_t total_bytes;
    double started_s, last_s;
    int64_t done, bytes;
    bool drawn; /* a terminal line is on screen */
};

/* Starts p on out (borrowed), a terminal when isatty says so. */
void mz_progress_start(struct mz_progress *p, FILE *out, const char *unit,
                       int64_t total_bytes);

/* Records done units and bytes of the file read, and prints when due
 * (5 times a second on a terminal, every 5 s otherwise). */
void mz_progress_update(struct mz_progress *p, int64_t done, int64_t bytes);

/* Erases the terminal line (the next update redraws it). */
void mz_progress_clear(struct mz_progress *p);

/* Prints the final state and ends the terminal line. */
void mz_progress_end(struct mz_progress *p);

/* Seconds on the monotonic clock. */
double mz_progress_now_s(void);

#endif
