/*-------------------------------------------------------------------------
 * rank.c
 *    A client's k best items under the rules: the model's candidates
 *    first, the whole catalog when they leave the list short.
 *
 * Interface routines (see internal.h): mz_service_rank.
 *
 * Scoring every item costs one pass over the catalog's embeddings per
 * request; the candidates (model/candidates.h) cost what the client's
 * own terms reach plus a fixed list of popular items (docs/scoring.md
 * has the figures), cut to the request's brands first when they are
 * many. When the rules leave fewer than k of them, or the
 * request counts what every rule removed (?explain=rules, which counts
 * over the whole catalog), the catalog is scored in full, so the reply
 * still holds k items whenever the catalog has them.
 *-------------------------------------------------------------------------
 */
#include "api/service/internal.h"

#include "api/scratch.h"
#include "model/candidates.h"

static bool scope_admits(const void *ctx, int32_t item)
{
    return mz_brand_scope_admits(ctx, item);
}

enum mz_status mz_service_rank(struct mz_service *svc,
                               const struct mz_client *memory,
                               int32_t context_item, int64_t now,
                               struct mz_select_request *sr,
                               struct mz_select_result *sel)
{
    struct mz_candidates *cand =
        sr->skip_counts ? mz_scratch_candidates() : NULL;
    /* The request's brands, so that a cut of the candidates (cand_max)
     * keeps their items first; the selection among them reads the same
     * scope. */
    struct mz_brand_scope brands;
    bool scoped = cand && mz_brand_scope_init(&brands, svc->catalog, sr);
    struct mz_candidate_scope scope = {.admits = scope_admits, .ctx = &brands};
    bool have = cand && mz_model_score_candidates(
                            svc->model, memory, context_item, now,
                            scoped && brands.ok ? &scope : NULL, cand);
    enum mz_status status = MZ_OK;
    bool answered = false;
    if (have) {
        sr->only_items = mz_candidates_items(cand, &sr->n_only_items);
        sr->only_items_brands = scoped ? &brands : NULL;
        status =
            mz_rules_select(svc->catalog, mz_candidates_scores(cand),
                            (size_t)mz_model_item_count(svc->model), sr, sel);
        sr->only_items = NULL;
        sr->n_only_items = 0;
        sr->only_items_brands = NULL;
        answered = status != MZ_OK || sel->count >= sr->k;
    }
    if (scoped)
        mz_brand_scope_free(&brands);
    if (answered)
        return status;
    int32_t n_items = mz_model_item_count(svc->model);
    float *scores = mz_scratch_scores((size_t)n_items);
    if (!scores)
        return MZ_ERR_NOMEM;
    mz_model_score(svc->model, memory, context_item, now, scores);
    return mz_rules_select(svc->catalog, scores, (size_t)n_items, sr, sel);
}
