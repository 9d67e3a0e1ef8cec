/*-------------------------------------------------------------------------
 * token_bucket.c
 *    The token bucket of token_bucket.h, in one atomic word.
 *
 * Relaxed atomics suffice: the word guards no other memory, and each
 * compare-and-swap either moves it from the value its decision read or
 * fails and decides again.
 *
 * Interface routines: see token_bucket.h.
 *-------------------------------------------------------------------------
 */
#include "model/token_bucket.h"

#include <math.h>

#define NS_PER_S 1000000000LL

bool mz_token_bucket_init(struct mz_token_bucket *b, double requests_per_s,
                          int burst)
{
    if (!(requests_per_s >= MZ_TOKEN_BUCKET_MIN_RATE &&
          requests_per_s <= MZ_TOKEN_BUCKET_MAX_RATE) ||
        burst < 1 || burst > MZ_TOKEN_BUCKET_MAX_BURST)
        return false;
    int64_t interval_ns = llround((double)NS_PER_S / requests_per_s);
    if (interval_ns < 1)
        interval_ns = 1;
    b->interval_ns = interval_ns;
    b->capacity_ns = interval_ns * burst;
    atomic_init(&b->full_at_ns, 0);
    return true;
}

bool mz_token_bucket_take(struct mz_token_bucket *b, int64_t now_ns,
                          int64_t *wait_ns)
{
    int64_t full_at =
        atomic_load_explicit(&b->full_at_ns, memory_order_relaxed);
    for (;;) {
        int64_t from = full_at > now_ns ? full_at : now_ns;
        int64_t next = from + b->interval_ns;
        /* Taking would leave the bucket short by this much time. */
        int64_t short_ns = next - now_ns - b->capacity_ns;
        if (short_ns > 0) {
            *wait_ns = short_ns;
            return false;
        }
        if (atomic_compare_exchange_weak_explicit(&b->full_at_ns, &full_at,
                                                  next, memory_order_relaxed,
                                                  memory_order_relaxed))
            return true;
    }
}

int mz_token_bucket_wait_s(int64_t wait_ns)
{
    /* A wait is never longer than one interval: 1000 s at the slowest
     * rate, so it fits an int. */
    int64_t s = (wait_ns + NS_PER_S - 1) / NS_PER_S;
    return s < 1 ? 1 : (int)s;
}
