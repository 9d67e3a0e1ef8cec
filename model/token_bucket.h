/*-------------------------------------------------------------------------
 * token_bucket.h
 *    A token bucket (requests per second and a burst) kept in one atomic
 *    64-bit word, so that many threads take from the same bucket without
 *    a lock. The caller passes the time: the bucket reads no clock, and
 *    its tests drive it with any clock they like.
 *
 * The word is the instant at which the bucket would be full again if
 * nothing more were taken (0: full, never used). The tokens at time now
 * are burst - (full_at - now) / interval, at most burst; taking one moves
 * full_at one interval on from max(full_at, now). This is the token bucket
 * in the form of the generic cell rate algorithm: the same decisions as
 * counting fractional tokens, in integers, one compare-and-swap a request.
 *
 * Interface routines:
 *    mz_token_bucket_init   - a full bucket of a rate and burst
 *    mz_token_bucket_take   - take one token now, or say how long to wait
 *    mz_token_bucket_wait_s - that wait in whole seconds (Retry-After)
 *-------------------------------------------------------------------------
 */
#ifndef MZ_MODEL_TOKEN_BUCKET_H
#define MZ_MODEL_TOKEN_BUCKET_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* The range of a rate: a token every 1000 s at the slowest, one per
 * nanosecond at the fastest; a burst of at most MZ_TOKEN_BUCKET_MAX_BURST
 * tokens. Their product stays far from overflowing int64 nanoseconds. */
#define MZ_TOKEN_BUCKET_MIN_RATE  0.001
#define MZ_TOKEN_BUCKET_MAX_RATE  1e9
#define MZ_TOKEN_BUCKET_MAX_BURST 1000000

struct mz_token_bucket {
    _Atomic int64_t full_at_ns; /* see the header comment */
    int64_t interval_ns;        /* time to earn one token; read-only */
    int64_t capacity_ns;        /* burst * interval_ns; read-only */
};

/* Makes b a full bucket earning requests_per_s tokens a second, holding
 * at most burst. Returns false, b unchanged, when either is out of its
 * range above. Not thread-safe: initialise before sharing b. */
bool mz_token_bucket_init(struct mz_token_bucket *b, double requests_per_s,
                          int burst);

/* Takes one token at now_ns (any clock that never goes back, the same for
 * every call on b). Returns true when there was one; otherwise false,
 * with *wait_ns (> 0) the time until one will be there. Thread-safe. */
bool mz_token_bucket_take(struct mz_token_bucket *b, int64_t now_ns,
                          int64_t *wait_ns);

/* Returns wait_ns in whole seconds, rounded up, at least 1: an HTTP
 * Retry-After after which a token is there. */
int mz_token_bucket_wait_s(int64_t wait_ns);

#endif
