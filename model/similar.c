/*-------------------------------------------------------------------------
 * similar.c
 *    Item-to-item similarity and popularity now, from the catalog-wide
 *    level (the blend and its weights: similar.h).
 *
 * Interface routines: see similar.h.
 *
 * mz_similar_scores and mz_similar_explain compute the same terms, the
 * first for every item at once, the second for one pair, so the reasons
 * always add up to the score that ranked the item.
 *-------------------------------------------------------------------------
 */
#include "model/similar.h"

#include <cblas.h>
#include <math.h>

#include "model/model_internal.h"

/* Weight of token: log(items / holders), 0 for a token every item
 * carries. */
static float token_weight(const struct mz_model *model, int32_t token)
{
    const int32_t *holders;
    uint32_t n = mz_attributes_items(model->attrs, token, &holders);

    if (n == 0 || (int32_t)n >= model->n_items)
        return 0.0f;
    return logf((float)model->n_items / (float)n);
}

/* The total token weight of item (the denominator of the attribute
 * part), its tokens and their weights. */
static float item_tokens(const struct mz_model *model, int32_t item,
                         int32_t *tokens, float *weights, int *n_tokens)
{
    float total = 0.0f;

    *n_tokens = mz_attributes_of_item(model->attrs, item, tokens);
    for (int t = 0; t < *n_tokens; t++) {
        weights[t] = token_weight(model, tokens[t]);
        total += weights[t];
    }
    return total;
}

/* Whether item's row learned from enough events to speak for shoppers. */
static bool row_learned(const struct mz_model *model, int32_t item)
{
    return model->pop_all[item] >= MZ_SIMILAR_MIN_LEARNED;
}

static float row_norm(const struct mz_model *model, int32_t item)
{
    int dim = model->cfg.dim;

    return cblas_snrm2(dim, model->O + (size_t)item * (size_t)dim, 1);
}

/* The weighted transition part of every successor of item, into scores. */
static void add_transitions(const struct mz_model *model, int32_t item,
                            float *scores)
{
    const int32_t *succ;
    const float *weights;
    uint32_t slots = mz_transitions_slots(model->trans, item, &succ, &weights);
    float scale =
        MZ_SIMILAR_W_TRANS / (mz_transitions_total(model->trans, item) +
                              model->cfg.trans_smoothing + 1e-12f);

    for (uint32_t s = 0; s < slots; s++)
        if (succ[s] >= 0 && succ[s] < model->n_items)
            scores[succ[s]] += scale * weights[s];
}

/* The weighted attribute part of every item sharing a token with item. */
static void add_attributes(const struct mz_model *model, int32_t item,
                           float *scores)
{
    int32_t tokens[MZ_ATTR_TOKENS_PER_ITEM];
    float weights[MZ_ATTR_TOKENS_PER_ITEM];
    int n;
    float total = item_tokens(model, item, tokens, weights, &n);

    if (!(total > 0.0f))
        return;
    for (int t = 0; t < n; t++) {
        const int32_t *holders;
        uint32_t count = mz_attributes_items(model->attrs, tokens[t], &holders);
        float add = MZ_SIMILAR_W_ATTR * weights[t] / total;
        if (add == 0.0f)
            continue;
        for (uint32_t h = 0; h < count; h++)
            scores[holders[h]] += add;
    }
}

/* The weighted item-space part of every learned item, into scores. */
static void add_item_space(const struct mz_model *model, int32_t item,
                           float *scores)
{
    int dim = model->cfg.dim;
    const float *row = model->O + (size_t)item * (size_t)dim;
    float norm = row_norm(model, item);

    if (!row_learned(model, item) || !(norm > 0.0f))
        return;
    for (int32_t j = 0; j < model->n_items; j++) {
        if (!row_learned(model, j))
            continue;
        float nj = row_norm(model, j);
        if (!(nj > 0.0f))
            continue;
        float cosine =
            cblas_sdot(dim, row, 1, model->O + (size_t)j * (size_t)dim, 1) /
            (norm * nj);
        if (cosine > 0.0f)
            scores[j] += MZ_SIMILAR_W_SPACE * cosine;
    }
}

/* 2^(-(now - pop_ref_ts) / half-life): what brings pop_recent to now.
 * Events stamped after now_ts (a client's clock ahead) count as of their
 * reference, never more, so the scale stays finite. */
static float popularity_scale(const struct mz_model *model, int64_t now_ts)
{
    double half_life = model->cfg.pop_half_life_s;

    if (!(half_life > 0.0) || now_ts <= model->pop_ref_ts)
        return 1.0f;
    return (float)exp2(-mz_seconds_between(now_ts, model->pop_ref_ts) /
                       half_life);
}

void mz_similar_scores(const struct mz_model *model, int32_t item,
                       float *scores)
{
    float pop_scale = model->pop_recent_max > 0.0f
                          ? MZ_SIMILAR_W_POP / model->pop_recent_max
                          : 0.0f;

    for (int32_t j = 0; j < model->n_items; j++)
        scores[j] = item >= 0 && item < model->n_items
                        ? pop_scale * model->pop_recent[j]
                        : 0.0f;
    if (item < 0 || item >= model->n_items)
        return;
    add_transitions(model, item, scores);
    add_attributes(model, item, scores);
    add_item_space(model, item, scores);
}

void mz_similar_explain(const struct mz_model *model, int32_t item,
                        int32_t other, struct mz_similar_parts *out)
{
    *out = (struct mz_similar_parts){0};
    if (item < 0 || item >= model->n_items || other < 0 ||
        other >= model->n_items)
        return;
    out->transitions = MZ_SIMILAR_W_TRANS *
                       mz_transitions_get(model->trans, item, other) /
                       (mz_transitions_total(model->trans, item) +
                        model->cfg.trans_smoothing + 1e-12f);

    int32_t a[MZ_ATTR_TOKENS_PER_ITEM], b[MZ_ATTR_TOKENS_PER_ITEM];
    float weights[MZ_ATTR_TOKENS_PER_ITEM];
    int na, nb = mz_attributes_of_item(model->attrs, other, b);
    float total = item_tokens(model, item, a, weights, &na);
    for (int t = 0; t < na && total > 0.0f; t++)
        for (int u = 0; u < nb; u++)
            if (a[t] == b[u])
                out->attributes += MZ_SIMILAR_W_ATTR * weights[t] / total;

    int dim = model->cfg.dim;
    float ni = row_norm(model, item), no = row_norm(model, other);
    if (row_learned(model, item) && row_learned(model, other) && ni > 0.0f &&
        no > 0.0f) {
        float cosine = cblas_sdot(dim, model->O + (size_t)item * (size_t)dim, 1,
                                  model->O + (size_t)other * (size_t)dim, 1) /
                       (ni * no);
        if (cosine > 0.0f)
            out->item_space = MZ_SIMILAR_W_SPACE * cosine;
    }
    if (model->pop_recent_max > 0.0f)
        out->popularity =
            MZ_SIMILAR_W_POP * model->pop_recent[other] / model->pop_recent_max;
}

void mz_popularity_now(const struct mz_model *model, int64_t now_ts,
                       float *scores)
{
    float scale = popularity_scale(model, now_ts);

    for (int32_t j = 0; j < model->n_items; j++)
        scores[j] = model->pop_recent[j] * scale;
}

float mz_popularity_of(const struct mz_model *model, int32_t item,
                       int64_t now_ts)
{
    if (item < 0 || item >= model->n_items)
        return 0.0f;
    return model->pop_recent[item] * popularity_scale(model, now_ts);
}
