/*-------------------------------------------------------------------------
 * thread_slice.h
 *    A short CPU slice for the threads that answer requests.
 *
 * Since Linux 6.12 the fair scheduler (EEVDF) lets a thread ask for its
 * own slice (sched_attr.sched_runtime, 0.1 to 100 ms), and a thread
 * that wakes with a shorter slice than the one running preempts it.
 * An HTTP thread wakes for a request that needs ~0.1-0.3 ms of CPU; with
 * the default slice (about 1.4 ms on 2 cores) it waited behind the
 * learner, PostgreSQL's backends and the ingestion client whenever both
 * cores were busy. Measured with make bench's part (g) (docs/
 * durability.md): p99 inside maisond beside 5,000 events/s 1.25-1.73 ms
 * with the default slice (4 runs), 0.46-0.92 ms with 0.1 ms (7 runs).
 * But at saturation (part (h), every HTTP thread runnable) the threads
 * preempt one another: p99 1.76-1.86 ms with the kernel's slice, 3.11-
 * 3.38 with 0.1 ms, and 20% less throughput; so it is off by default.
 * (Measured with 8 HTTP threads; with the default of one per core,
 * 2 here, p99 1.74 and 1.85 ms with the kernel's slice, 2.96 and 1.74
 * with 0.1 ms.)
 * Older kernels ignore the request.
 *
 * Interface routines:
 *    mz_thread_request_slice - once per thread, best effort
 *    mz_thread_slice_valid   - the values it takes
 *-------------------------------------------------------------------------
 */
#ifndef MZ_SERVER_THREAD_SLICE_H
#define MZ_SERVER_THREAD_SLICE_H

#include <stdbool.h>

/* Bounds the kernel accepts for a slice, in microseconds. */
#define MZ_THREAD_SLICE_MIN_US 100
#define MZ_THREAD_SLICE_MAX_US 100000

/* Whether slice_us may be asked for: 0 (the kernel's default) or within
 * the bounds above. */
static inline bool mz_thread_slice_valid(long slice_us)
{
    return slice_us == 0 || (slice_us >= MZ_THREAD_SLICE_MIN_US &&
                             slice_us <= MZ_THREAD_SLICE_MAX_US);
}

/* Asks the kernel, the first time a thread calls it, for a CPU slice of
 * slice_us microseconds (0: leave the kernel's default), keeping the
 * thread's policy and nice value. Later calls on the same thread do
 * nothing. Returns false when the request was refused (the thread keeps
 * its slice); a kernel without custom slices accepts and ignores it. */
bool mz_thread_request_slice(unsigned slice_us);

#endif
