/*-------------------------------------------------------------------------
 * similar.h
 *    What the catalog-wide level says about items without a client: the
 *    neighbours of one item (for a product page) and what is popular
 *    now (for a brand's landing page).
 *
 * Similarity of item j to item i is a blend of three parts, each in
 * [0, 1], plus a little popularity so that equals are ranked by it:
 *    MZ_SIMILAR_W_TRANS * the share of j among i's transition successors
 *        (i's total + trans_smoothing as the denominator, as scoring
 *        reads them): "often viewed with i";
 *    MZ_SIMILAR_W_ATTR  * the share of i's attribute-token information
 *        that j carries (each token weighted by log(items / holders), so
 *        a rare line or tag counts more than the brand): "same line";
 *    MZ_SIMILAR_W_SPACE * max(0, cosine of the output rows O[i], O[j])
 *        when both items were learned from at least
 *        MZ_SIMILAR_MIN_LEARNED weighted events (a cold row is only its
 *        tokens, which the attribute part already counts);
 *    MZ_SIMILAR_W_POP   * recent popularity / its maximum.
 * Popularity now is the recency-decayed count the global level keeps
 * (event weights, half-life pop_half_life_s of event time) brought to
 * now_ts: it is learned state, saved with the global level.
 *
 * Everything here only reads the model (safe under the server's read
 * lock) and allocates nothing.
 *
 * Interface routines:
 *    mz_similar_scores     - similarity of every item to one item
 *    mz_similar_explain    - the parts of one pair's similarity
 *    mz_popularity_now     - recent popularity of every item at a time
 *    mz_popularity_of      - the same for one item
 *-------------------------------------------------------------------------
 */
#ifndef MZ_SIMILAR_H
#define MZ_SIMILAR_H

#include <stdint.h>

#include "model/model.h"

#define MZ_SIMILAR_W_TRANS     1.0f
#define MZ_SIMILAR_W_ATTR      0.3f
#define MZ_SIMILAR_W_SPACE     0.2f
#define MZ_SIMILAR_W_POP       0.05f
#define MZ_SIMILAR_MIN_LEARNED 10.0f

/* The weighted parts of one pair's similarity (each already times its
 * MZ_SIMILAR_W_*); their sum is the pair's score. */
struct mz_similar_parts {
    float transitions;
    float attributes;
    float item_space;
    float popularity;
};

/* Writes into scores[0..item_count-1] the similarity of every item to
 * item (its own entry too: the caller leaves it out). An unknown item
 * gives 0 everywhere. */
void mz_similar_scores(const struct mz_model *model, int32_t item,
                       float *scores);

/* Fills *out with the parts of other's similarity to item (all 0 when
 * either is unknown). */
void mz_similar_explain(const struct mz_model *model, int32_t item,
                        int32_t other, struct mz_similar_parts *out);

/* Writes into scores[0..item_count-1] each item's recency-decayed
 * weighted event count at now_ts (0 for an item never learned from). */
void mz_popularity_now(const struct mz_model *model, int64_t now_ts,
                       float *scores);

/* item's value of mz_popularity_now (0 when unknown). */
float mz_popularity_of(const struct mz_model *model, int32_t item,
                       int64_t now_ts);

#endif
