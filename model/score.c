/*-------------------------------------------------------------------------
 * score.c
 *    Scores of every item for a client, and the reasons behind one score.
 *
 * Interface routines (see model.h): mz_model_score, mz_model_explain,
 * mz_model_evidence_item, mz_model_score_source.
 *
 * A score is the sum of the sources of enum mz_level_source:
 *    session  w_dense * O[j].s  +  w_repeat * (session weight of j itself)
 *    level l  w_dense * O[j].m_l (decayed by the time since the client's
 *             last event)
 *    catalog  w_bias * b[j] + popularity + w_trans * the transition shares
 *             from the client's recent items and the context item
 * mz_model_explain computes the same terms for one item, so the reasons
 * always add up to the score that ranked it.
 *-------------------------------------------------------------------------
 */
#include "model/model_internal.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

/* One source of transition evidence: a recent item (or the context item)
 * and the weight of its successors' shares. */
struct trans_source {
    int32_t item;
    float weight;
};

/* Lists the transition sources of a query: the context item first, then
 * the client's recent items (positive events only), each trans_decay
 * times the weight of the newer one. Returns how many were written into
 * out (room for MZ_RING_SIZE + 1). */
static int transition_sources(const struct mz_model *model,
                              const struct mz_client *c,
                              int32_t context_item, struct trans_source *out)
{
    const struct mz_model_config *cfg = &model->cfg;
    int n = 0;
    float weight = 1.0f;

    if (context_item >= 0 && context_item < model->n_items &&
        cfg->trans_history > 0) {
        out[n++] = (struct trans_source){ context_item, weight };
        weight *= cfg->trans_decay;
    }
    for (int r = 0; c && r < c->ring_len && n < cfg->trans_history; r++) {
        int slot = mz_client_ring_slot(c, r);
        if (mz_model_event_weight(model, c->ring_type[slot]) <= 0.0f)
            continue;
        out[n++] = (struct trans_source){ c->ring_item[slot], weight };
        weight *= cfg->trans_decay;
    }
    return n;
}

/* Multiplier that turns a raw transition weight from source into a score
 * term. */
static float transition_scale(const struct mz_model *model,
                              const struct trans_source *source)
{
    float total = mz_transitions_total(model->trans, source->item);

    return model->cfg.w_trans * source->weight /
           (total + model->cfg.trans_smoothing + 1e-12f);
}

/* Adds the transition shares from the client's recent items and the
 * context item to scores. */
static void add_transitions(const struct mz_model *model,
                            const struct mz_client *c, int32_t context_item,
                            float *scores)
{
    struct trans_source sources[MZ_RING_SIZE + 1];
    int n_sources = transition_sources(model, c, context_item, sources);

    for (int s = 0; s < n_sources; s++) {
        const int32_t *items;
        const float *weights;
        uint32_t slots = mz_transitions_slots(model->trans, sources[s].item,
                                              &items, &weights);
        float scale = transition_scale(model, &sources[s]);
        for (uint32_t i = 0; i < slots; i++)
            if (items[i] >= 0)
                scores[items[i]] += scale * weights[i];
    }
}

/* Session weight of item as a re-visit: the weight of its own occurrences
 * in the session (context item first). */
static float repeat_weight(const struct mz_model *model,
                           const struct mz_client *c, int32_t context_item,
                           int64_t now_ts, int32_t item)
{
    float total = 0.0f;
    int shift = 0;

    if (!model->cfg.use_session)
        return 0.0f;
    if (context_item >= 0 && context_item < model->n_items) {
        if (context_item == item)
            total += 1.0f;
        shift = 1;
    }
    for (int r = 0; c && r < c->ring_len; r++)
        if (c->ring_item[mz_client_ring_slot(c, r)] == item)
            total += mz_model_session_weight(model, c, r, shift, now_ts);
    return total;
}

static float dot(const float *a, const float *b, int dim)
{
    float sum = 0.0f;

    for (int k = 0; k < dim; k++)
        sum += a[k] * b[k];
    return sum;
}

/* Popularity and bias of item: the part of the catalog source that does
 * not depend on the client. */
static float catalog_prior(const struct mz_model *model, int32_t item)
{
    const struct mz_model_config *cfg = &model->cfg;
    float prior = cfg->w_bias * model->bias[item];

    if (model->pop_all_log_max > 0.0f)
        prior += cfg->w_pop_all * model->pop_all_log[item] /
                 model->pop_all_log_max;
    if (model->pop_recent_max > 0.0f)
        prior += cfg->w_pop_recent * model->pop_recent[item] /
                 model->pop_recent_max;
    return prior;
}

void mz_model_score(const struct mz_model *model,
                    const struct mz_client *client, int32_t context_item,
                    int64_t now_ts, float *scores)
{
    const struct mz_model_config *cfg = &model->cfg;
    int32_t n = model->n_items;
    int dim = cfg->dim;

    if (n == 0)
        return;
    float q[4096];
    mz_model_query(model, client, context_item, now_ts, q, NULL, NULL);
    float pop_all_scale = model->pop_all_log_max > 0.0f
                              ? cfg->w_pop_all / model->pop_all_log_max
                              : 0.0f;
    float pop_recent_scale = model->pop_recent_max > 0.0f
                                 ? cfg->w_pop_recent / model->pop_recent_max
                                 : 0.0f;
    /* Retired items start at -INFINITY, which every term added below
     * (all finite) leaves in place: no second pass over the catalog. */
    for (int32_t j = 0; j < n; j++)
        scores[j] = model->retired[j]
                        ? -INFINITY
                        : cfg->w_bias * model->bias[j] +
                              pop_all_scale * model->pop_all_log[j] +
                              pop_recent_scale * model->pop_recent[j];

    bool any = false;
    for (int k = 0; k < dim && !any; k++)
        any = q[k] != 0.0f;
    if (any && cfg->w_dense != 0.0f)
        cblas_sgemv(CblasRowMajor, CblasNoTrans, n, dim, cfg->w_dense,
                    model->O, dim, q, 1, 1.0f, scores, 1);

    if (cfg->w_trans != 0.0f)
        add_transitions(model, client, context_item, scores);

    if (cfg->use_session && cfg->w_repeat != 0.0f) {
        int shift = 0;
        if (context_item >= 0 && context_item < n) {
            scores[context_item] += cfg->w_repeat;
            shift = 1;
        }
        for (int r = 0; client && r < client->ring_len; r++) {
            float w = mz_model_session_weight(model, client, r, shift, now_ts);
            if (w != 0.0f)
                scores[client->ring_item[mz_client_ring_slot(client, r)]] +=
                    cfg->w_repeat * w;
        }
    }

}

void mz_model_explain(const struct mz_model *model,
                      const struct mz_client *client, int32_t context_item,
                      int64_t now_ts, int32_t item, float *contrib)
{
    const struct mz_model_config *cfg = &model->cfg;
    int dim = cfg->dim;

    memset(contrib, 0, MZ_SOURCE_COUNT * sizeof(float));
    if (item < 0 || item >= model->n_items)
        return;
    const float *o_row = model->O + (size_t)item * (size_t)dim;
    float q[4096];
    float session[4096];
    float per_level[MZ_MAX_LEVELS * 4096];
    mz_model_query(model, client, context_item, now_ts, q, per_level,
                   session);

    contrib[MZ_SOURCE_SESSION] =
        cfg->w_dense * dot(o_row, session, dim) +
        cfg->w_repeat * repeat_weight(model, client, context_item, now_ts,
                                      item);
    for (int l = 0; client && l < client->n_levels; l++)
        contrib[MZ_SOURCE_LEVEL0 + l] =
            cfg->w_dense * dot(o_row, per_level + (size_t)l * (size_t)dim,
                               dim);

    float catalog = catalog_prior(model, item);
    struct trans_source sources[MZ_RING_SIZE + 1];
    int n_sources = transition_sources(model, client, context_item, sources);
    for (int s = 0; s < n_sources; s++)
        catalog += transition_scale(model, &sources[s]) *
                   mz_transitions_get(model->trans, sources[s].item, item);
    contrib[MZ_SOURCE_CATALOG] = catalog;
}

int32_t mz_model_evidence_item(const struct mz_model *model,
                               const struct mz_client *client,
                               enum mz_level_source source, int32_t item)
{
    int dim = model->cfg.dim;

    if (!client || item < 0 || item >= model->n_items)
        return -1;
    const float *o_row = model->O + (size_t)item * (size_t)dim;
    int32_t best = -1;
    float best_value = 0.0f;

    /* Ages are measured from the client's last event: evidence names what
     * drove the score, not how much of it time has left. */
    for (int r = 0; r < client->ring_len; r++) {
        int slot = mz_client_ring_slot(client, r);
        int32_t recent = client->ring_item[slot];
        if (mz_model_event_weight(model, client->ring_type[slot]) <= 0.0f)
            continue;
        float value;
        if (source == MZ_SOURCE_SESSION) {
            float w = mz_model_session_weight(model, client, r, 0,
                                              client->last_ts);
            if (w == 0.0f)
                continue;
            /* A re-visit is its own best evidence. */
            value = recent == item
                        ? INFINITY
                        : w * dot(model->K + (size_t)recent * (size_t)dim,
                                  o_row, dim);
        } else if (source == MZ_SOURCE_CATALOG) {
            float total = mz_transitions_total(model->trans, recent);
            value = powf(model->cfg.trans_decay, (float)r) *
                    mz_transitions_get(model->trans, recent, item) /
                    (total + model->cfg.trans_smoothing + 1e-12f);
        } else if (source >= MZ_SOURCE_LEVEL0 &&
                   (int)source < MZ_SOURCE_LEVEL0 + client->n_levels) {
            /* A level is a blend of the items it learned; the recent item
             * whose output row is closest to this one is the fact to
             * name. */
            value = recent == item
                        ? INFINITY
                        : dot(model->O + (size_t)recent * (size_t)dim, o_row,
                              dim);
        } else {
            return -1;
        }
        if (value > best_value) {
            best_value = value;
            best = recent;
        }
    }
    return best;
}

void mz_model_score_source(const struct mz_model *model,
                           const struct mz_client *client,
                           enum mz_level_source source, int64_t now_ts,
                           float *scores)
{
    const struct mz_model_config *cfg = &model->cfg;
    int32_t n = model->n_items;
    int dim = cfg->dim;
    float q[4096];
    float session[4096];
    float per_level[MZ_MAX_LEVELS * 4096];

    if (n == 0)
        return;
    memset(scores, 0, (size_t)n * sizeof(float));
    mz_model_query(model, client, -1, now_ts, q, per_level, session);
    const float *memory = NULL;
    if (source == MZ_SOURCE_SESSION)
        memory = session;
    else if (client && (int)source >= MZ_SOURCE_LEVEL0 &&
             (int)source < MZ_SOURCE_LEVEL0 + client->n_levels)
        memory = per_level + (size_t)(source - MZ_SOURCE_LEVEL0) *
                                 (size_t)dim;

    if (memory) {
        /* Unscaled by w_dense: this ranks what the memory holds, which
         * must not vanish when the blend gives the dense term no weight. */
        cblas_sgemv(CblasRowMajor, CblasNoTrans, n, dim, 1.0f, model->O,
                    dim, memory, 1, 0.0f, scores, 1);
        if (source == MZ_SOURCE_SESSION)
            for (int r = 0; client && r < client->ring_len; r++) {
                float w = mz_model_session_weight(model, client, r, 0, now_ts);
                if (w != 0.0f)
                    scores[client->ring_item[mz_client_ring_slot(client, r)]] +=
                        cfg->w_repeat * w;
            }
    } else if (source == MZ_SOURCE_CATALOG) {
        for (int32_t j = 0; j < n; j++)
            scores[j] = catalog_prior(model, j);
        add_transitions(model, client, -1, scores);
    }
    for (int32_t j = 0; j < n; j++)
        if (model->retired[j])
            scores[j] = -INFINITY;
}
