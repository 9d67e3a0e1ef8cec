/*-------------------------------------------------------------------------
 * scratch.h
 *    A per-thread score buffer, candidates workspace and explainer, so a
 *    request does not allocate one per call on the hot path.
 *-------------------------------------------------------------------------
 */
#ifndef MZ_API_SCRATCH_H
#define MZ_API_SCRATCH_H

#include <stddef.h>

/* Returns this thread's buffer of at least n floats (borrowed: valid
 * until the thread's next call; freed when the thread exits), or NULL on
 * allocation failure. */
float *mz_scratch_scores(size_t n);

struct mz_candidates;

/* Returns this thread's candidates workspace (model/candidates.h;
 * borrowed: one request at a time; freed when the thread exits), or NULL
 * on allocation failure. */
struct mz_candidates *mz_scratch_candidates(void);

struct mz_explainer;

/* Returns this thread's explainer (model/model.h; borrowed: one request
 * at a time; freed when the thread exits), or NULL on allocation
 * failure. */
struct mz_explainer *mz_scratch_explainer(void);

#endif
