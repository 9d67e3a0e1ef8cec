/*-------------------------------------------------------------------------
 * candidates.h
 *    A recommendation's candidates: the items worth scoring for one
 *    client, each scored as mz_model_score scores it, without scoring
 *    the whole catalog.
 *
 * A score is the prior (bias and popularity) plus the dense term
 * w_dense * O[j].q, which reach every item, plus terms that reach only
 * some items: the successors of the context item and of the items the
 * client's levels hold, the held items themselves, the holders of the
 * client's attribute taste, re-visits of the session. The candidates
 * are the items those sparse terms reach plus the model's cand_popular
 * items of the strongest prior (rebuilt as the model learns); each gets
 * its full score, dense term included (one dot product per candidate).
 * An item outside them could only make the list by its dense term
 * alone; docs/scoring.md measures what leaving those out costs.
 *
 * The workspace holds one score per catalog item (valid only at the
 * listed candidates) and a generation stamp per item, so a request
 * costs what its candidates cost, not what the catalog does. Keep one
 * per thread: a workspace serves one request at a time.
 *
 * Interface routines:
 *    mz_candidates_new / _free  - a reusable workspace
 *    mz_model_score_candidates  - one client's candidates, scored
 *    mz_candidates_items        - the candidates, ascending
 *    mz_candidates_scores       - their scores, by item index
 *-------------------------------------------------------------------------
 */
#ifndef MZ_CANDIDATES_H
#define MZ_CANDIDATES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/model.h"

struct mz_candidates;

/* Returns a new empty workspace (caller frees with mz_candidates_free),
 * or NULL when out of memory. It grows to the catalog on first use. */
struct mz_candidates *mz_candidates_new(void);

/* Releases cand; NULL is ignored. */
void mz_candidates_free(struct mz_candidates *cand);

/* The items a request can return at all (its brand, or its key's
 * brands), for the cut to cand_max: admits(ctx, item) is true for them.
 * A group's catalog holds many houses' items, and a client's terms reach
 * the items of every house it browsed; the cut keeps the admitted ones
 * first, so a request for one house is not cut down to another's. */
struct mz_candidate_scope {
    bool (*admits)(const void *ctx, int32_t item);
    const void *ctx; /* borrowed */
};

/* Scores into cand (borrowed, overwritten) the candidates of client
 * (borrowed; NULL: a non-personalised query) with context_item (-1:
 * none) at now_ts, each with the score mz_model_score would give it (up
 * to the order of float sums). When the client's terms reach more than
 * cand_max items (struct mz_model_config), only the cand_max best before
 * the dense term are kept, those scope admits (borrowed; NULL: every
 * item) before the others. Returns false, leaving no candidates, when
 * the model generates none (cand_popular 0) or memory runs out: the
 * caller then scores the whole catalog. */
bool mz_model_score_candidates(const struct mz_model *model,
                               const struct mz_client *client,
                               int32_t context_item, int64_t now_ts,
                               const struct mz_candidate_scope *scope,
                               struct mz_candidates *cand);

/* Returns the item indices of the last mz_model_score_candidates,
 * ascending and each once (borrowed, valid until cand is used again),
 * and their number in *count. */
const int32_t *mz_candidates_items(const struct mz_candidates *cand,
                                   size_t *count);

/* Returns the scores of the last mz_model_score_candidates by item
 * index (borrowed, as long as the items): only the entries of
 * mz_candidates_items are defined. */
const float *mz_candidates_scores(const struct mz_candidates *cand);

#endif
