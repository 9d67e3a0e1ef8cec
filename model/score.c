/*-------------------------------------------------------------------------
 * score.c
 *    Scores of every item for a client, and the reasons behind one score.
 *
 * Interface routines (see model.h): mz_model_score, mz_model_explain,
 * mz_model_evidence_item, mz_explainer_new, mz_explainer_free,
 * mz_explainer_prepare, mz_explainer_contrib, mz_explainer_evidence,
 * mz_model_score_source; mz_model_catalog_prior and
 * mz_model_add_client_terms (model_internal.h).
 *
 * A score is the sum of the sources of enum mz_level_source:
 *    session  w_dense * O[j].s  +  the session weight of j itself times
 *             mz_model_repeat_scale (w_repeat times the re-visit rate the
 *             global level observed, over the session's total weight)
 *    level l  for each item i the level holds, with its readout weight r_i
 *             (mz_model_level_readout): w_dense * r_i * O[j].K[i]
 *             + w_trans * r_i * share of j among i's successors
 *             + w_recall * r_i when j is i
 *    catalog  w_bias * b[j] + popularity + w_trans * the share of j among
 *             the context item's successors
 * mz_model_explain computes the same terms for one item, so the reasons
 * always add up to the score that ranked it.
 *-------------------------------------------------------------------------
 */
#include "model/model_internal.h"
#include "model/vec.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The successors of source, each credited weight times its share of
 * source's transitions, added to sink. */
static void add_successors(const struct mz_model *model, int32_t source,
                           float weight, struct mz_score_sink *sink)
{
    const int32_t *items;
    const float *weights;
    uint32_t slots =
        mz_transitions_slots(model->trans, source, &items, &weights);
    float total = mz_transitions_total(model->trans, source);
    float scale = model->cfg.w_trans * weight /
                  (total + model->cfg.trans_smoothing + 1e-12f);

    for (uint32_t i = 0; i < slots; i++)
        if (items[i] >= 0)
            mz_score_sink_add(sink, items[i], scale * weights[i]);
}

/* What w_trans gives item from source with weight (add_successors for
 * one item). */
static float successor_share(const struct mz_model *model, int32_t source,
                             float weight, int32_t item)
{
    float total = mz_transitions_total(model->trans, source);

    return model->cfg.w_trans * weight *
           mz_transitions_get(model->trans, source, item) /
           (total + model->cfg.trans_smoothing + 1e-12f);
}

/* The client's attribute taste, from a set of held items and their
 * readout weights: the strongest tokens and their weights, and the total
 * weight of the items (the denominator of a token's share). */
#define MZ_ATTR_TASTE_TOKENS 16
#define MZ_ATTR_CANDIDATES   (MZ_MAX_LEVELS * MZ_ITEM_MEMORY_SLOTS)

struct attr_taste {
    int n;
    int32_t token[MZ_ATTR_TASTE_TOKENS];
    float weight[MZ_ATTR_TASTE_TOKENS];
    float total;
};

/* Fills taste from items[0..n-1] with weights. */
static void attr_taste(const struct mz_model *model, const int32_t *items,
                       const float *weights, int n, struct attr_taste *taste)
{
    int32_t cand[MZ_ATTR_CANDIDATES];
    float cand_weight[MZ_ATTR_CANDIDATES];
    int n_cand = 0;
    uint32_t common =
        (uint32_t)(model->cfg.attr_max_share * (float)model->n_items);

    taste->n = 0;
    taste->total = 0.0f;
    if (model->cfg.w_attr == 0.0f)
        return;
    for (int i = 0; i < n; i++) {
        int32_t tokens[MZ_ATTR_TOKENS_PER_ITEM];
        int n_tokens = mz_attributes_of_item(model->attrs, items[i], tokens);
        taste->total += weights[i];
        for (int k = 0; k < n_tokens; k++) {
            const int32_t *holders;
            if (mz_attributes_items(model->attrs, tokens[k], &holders) > common)
                continue;
            int at = 0;
            while (at < n_cand && cand[at] != tokens[k])
                at++;
            if (at == n_cand) {
                if (n_cand == MZ_ATTR_CANDIDATES)
                    continue;
                cand[n_cand] = tokens[k];
                cand_weight[n_cand++] = 0.0f;
            }
            cand_weight[at] += weights[i];
        }
    }
    /* The strongest first; the first seen among equals. */
    while (taste->n < MZ_ATTR_TASTE_TOKENS) {
        int best = -1;
        for (int c = 0; c < n_cand; c++)
            if (cand_weight[c] > 0.0f &&
                (best < 0 || cand_weight[c] > cand_weight[best]))
                best = c;
        if (best < 0)
            break;
        taste->token[taste->n] = cand[best];
        taste->weight[taste->n++] = cand_weight[best];
        cand_weight[best] = 0.0f;
    }
}

/* What the attribute term gives item per unit of taste weight on one of
 * its tokens: w_attr / total * popularity factor. */
static float attr_unit(const struct mz_model *model,
                       const struct attr_taste *taste, int32_t item)
{
    if (taste->n == 0 || !(taste->total > 0.0f) ||
        !(model->pop_all_log_max > 0.0f))
        return 0.0f;
    float pop = model->pop_all_log[item] / model->pop_all_log_max;
    float power = model->cfg.attr_pop_power;
    /* powf costs ~20x sqrtf, and a brand token can hold thousands of
     * items per request. */
    float factor = power == 0.5f   ? sqrtf(pop)
                   : power == 1.0f ? pop
                   : power == 0.0f ? 1.0f
                                   : powf(pop, power);
    return model->cfg.w_attr / taste->total * factor;
}

/* Adds the attribute term of taste to sink. */
static void add_attr_taste(const struct mz_model *model,
                           const struct attr_taste *taste,
                           struct mz_score_sink *sink)
{
    for (int t = 0; t < taste->n; t++) {
        const int32_t *holders;
        uint32_t n =
            mz_attributes_items(model->attrs, taste->token[t], &holders);
        for (uint32_t h = 0; h < n; h++)
            mz_score_sink_add(sink, holders[h],
                              taste->weight[t] *
                                  attr_unit(model, taste, holders[h]));
    }
}

/* The taste weight of the selected tokens that source_item and item
 * share, for the share of one held item in item's attribute term. */
static float shared_taste(const struct mz_model *model,
                          const struct attr_taste *taste, int32_t source_item,
                          int32_t item)
{
    int32_t a[MZ_ATTR_TOKENS_PER_ITEM], b[MZ_ATTR_TOKENS_PER_ITEM];
    int na = mz_attributes_of_item(model->attrs, source_item, a);
    int nb = mz_attributes_of_item(model->attrs, item, b);
    int shared = 0;

    for (int t = 0; t < taste->n; t++) {
        bool in_a = false, in_b = false;
        for (int k = 0; k < na; k++)
            in_a = in_a || a[k] == taste->token[t];
        for (int k = 0; k < nb; k++)
            in_b = in_b || b[k] == taste->token[t];
        shared += in_a && in_b;
    }
    return (float)shared;
}

/* The client's taste from every level at once (what scoring uses). */
static void client_taste(const struct mz_model *model,
                         const struct mz_client *client, int64_t now_ts,
                         struct attr_taste *taste)
{
    int32_t items[MZ_MAX_LEVELS * MZ_ITEM_MEMORY_SLOTS];
    float weights[MZ_MAX_LEVELS * MZ_ITEM_MEMORY_SLOTS];
    int n = mz_model_levels_readout(model, client, now_ts, items, weights);

    attr_taste(model, items, weights, n, taste);
}

/* Adds what the held items (with their readout weights) give to sink:
 * their successors (w_trans), the items themselves (w_recall) and their
 * attribute taste. The dense part is in the query. */
static void add_held_items(const struct mz_model *model, const int32_t *items,
                           const float *weights, int n,
                           struct mz_score_sink *sink)
{
    struct attr_taste taste;

    for (int i = 0; i < n; i++) {
        if (model->cfg.w_trans != 0.0f)
            add_successors(model, items[i], weights[i], sink);
        mz_score_sink_add(sink, items[i], model->cfg.w_recall * weights[i]);
    }
    attr_taste(model, items, weights, n, &taste);
    add_attr_taste(model, &taste, sink);
}

/* Adds what level l of client holds to sink. */
static void add_level(const struct mz_model *model,
                      const struct mz_client *client, int level, int64_t now_ts,
                      struct mz_score_sink *sink)
{
    int32_t items[MZ_ITEM_MEMORY_SLOTS];
    float weights[MZ_ITEM_MEMORY_SLOTS];
    int n =
        mz_model_level_readout(model, client, level, now_ts, items, weights);

    add_held_items(model, items, weights, n, sink);
}

/* Adds what all levels of client hold to sink (add_level for every
 * level, each item read once: mz_model_levels_readout). */
static void add_levels(const struct mz_model *model,
                       const struct mz_client *client, int64_t now_ts,
                       struct mz_score_sink *sink)
{
    int32_t items[MZ_MAX_LEVELS * MZ_ITEM_MEMORY_SLOTS];
    float weights[MZ_MAX_LEVELS * MZ_ITEM_MEMORY_SLOTS];
    int n = mz_model_levels_readout(model, client, now_ts, items, weights);

    add_held_items(model, items, weights, n, sink);
}

/* One level's readout (mz_model_level_readout) at one time. */
struct level_readout {
    int32_t items[MZ_ITEM_MEMORY_SLOTS];
    float weights[MZ_ITEM_MEMORY_SLOTS];
    int n;
};

/* What a level with readout gives item apart from the dense part; taste
 * is the whole client's (as scoring computes it), of which this level's
 * items take their part. */
static float level_share(const struct mz_model *model,
                         const struct level_readout *readout,
                         const struct attr_taste *taste, int32_t item)
{
    float share = 0.0f;
    float unit = attr_unit(model, taste, item);

    for (int i = 0; i < readout->n; i++) {
        int32_t held = readout->items[i];
        float weight = readout->weights[i];
        share += successor_share(model, held, weight, item);
        if (held == item)
            share += model->cfg.w_recall * weight;
        if (unit != 0.0f)
            share += weight * unit * shared_taste(model, taste, held, item);
    }
    return share;
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

float mz_model_catalog_prior(const struct mz_model *model, int32_t item)
{
    const struct mz_model_config *cfg = &model->cfg;
    float prior = cfg->w_bias * model->bias[item];

    if (model->pop_all_log_max > 0.0f)
        prior +=
            cfg->w_pop_all * model->pop_all_log[item] / model->pop_all_log_max;
    if (model->pop_recent_max > 0.0f)
        prior +=
            cfg->w_pop_recent * model->pop_recent[item] / model->pop_recent_max;
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
    struct mz_prior_scales prior = mz_model_prior_scales(model);
    for (int32_t j = 0; j < n; j++)
        scores[j] = mz_model_prior_at(model, &prior, j);

    bool any = false;
    for (int k = 0; k < dim && !any; k++)
        any = q[k] != 0.0f;
    if (any && cfg->w_dense != 0.0f)
        cblas_sgemv(CblasRowMajor, CblasNoTrans, n, dim, cfg->w_dense, model->O,
                    dim, q, 1, 1.0f, scores, 1);

    struct mz_score_sink dense = {.scores = scores};
    mz_model_add_client_terms(model, client, context_item, now_ts, &dense);
}

void mz_model_add_client_terms(const struct mz_model *model,
                               const struct mz_client *client,
                               int32_t context_item, int64_t now_ts,
                               struct mz_score_sink *sink)
{
    int32_t n = model->n_items;

    if (model->cfg.w_trans != 0.0f && context_item >= 0 && context_item < n)
        add_successors(model, context_item, 1.0f, sink);
    if (client)
        add_levels(model, client, now_ts, sink);

    float repeat = mz_model_repeat_scale(model, client, context_item, now_ts);
    if (repeat != 0.0f) {
        int shift = 0;
        if (context_item >= 0 && context_item < n) {
            mz_score_sink_add(sink, context_item, repeat);
            shift = 1;
        }
        for (int r = 0; client && r < client->ring_len; r++) {
            float w = mz_model_session_weight(model, client, r, shift, now_ts);
            if (w != 0.0f)
                mz_score_sink_add(
                    sink, client->ring_item[mz_client_ring_slot(client, r)],
                    repeat * w);
        }
    }
}

/* What explains one client's scores at one time: the parts of the query,
 * every level's readout and the attribute taste, at the request time
 * (for the contributions) and at the client's last event (for the
 * evidence), computed once for all the items of a list. */
struct mz_explainer {
    const struct mz_model *model;   /* borrowed */
    const struct mz_client *client; /* borrowed; NULL: not personalised */
    int32_t context_item;
    int64_t now_ts;
    float repeat;     /* mz_model_repeat_scale */
    float *session;   /* owned, dim: the session part of the query */
    float *per_level; /* owned, n_levels x dim: each level's part */
    size_t capacity;  /* floats in session + per_level */
    struct level_readout now[MZ_MAX_LEVELS];
    struct level_readout last[MZ_MAX_LEVELS];
    struct attr_taste taste_now;
    struct attr_taste taste_last;
};

struct mz_explainer *mz_explainer_new(void)
{
    return calloc(1, sizeof(struct mz_explainer));
}

void mz_explainer_free(struct mz_explainer *e)
{
    if (!e)
        return;
    free(e->session);
    free(e);
}

bool mz_explainer_prepare(struct mz_explainer *e, const struct mz_model *model,
                          const struct mz_client *client, int32_t context_item,
                          int64_t now_ts)
{
    int dim = model->cfg.dim;
    int n_levels = client ? client->n_levels : 0;
    size_t need = (size_t)dim * (size_t)(MZ_MAX_LEVELS + 1);

    e->model = NULL;
    if (e->capacity < need) {
        float *grown = realloc(e->session, need * sizeof *grown);
        if (!grown)
            return false;
        e->session = grown;
        e->capacity = need;
    }
    e->per_level = e->session + dim;
    float q[4096];
    mz_model_query(model, client, context_item, now_ts, q, e->per_level,
                   e->session);
    e->repeat = mz_model_repeat_scale(model, client, context_item, now_ts);
    for (int l = 0; l < n_levels; l++) {
        e->now[l].n = mz_model_level_readout(
            model, client, l, now_ts, e->now[l].items, e->now[l].weights);
        e->last[l].n =
            mz_model_level_readout(model, client, l, client->last_ts,
                                   e->last[l].items, e->last[l].weights);
    }
    e->taste_now.n = e->taste_last.n = 0;
    e->taste_now.total = e->taste_last.total = 0.0f;
    if (client) {
        client_taste(model, client, now_ts, &e->taste_now);
        client_taste(model, client, client->last_ts, &e->taste_last);
    }
    e->model = model;
    e->client = client;
    e->context_item = context_item;
    e->now_ts = now_ts;
    return true;
}

void mz_explainer_contrib(const struct mz_explainer *e, int32_t item,
                          float *contrib)
{
    const struct mz_model *model = e->model;
    const struct mz_client *client = e->client;
    const struct mz_model_config *cfg = &model->cfg;
    int dim = cfg->dim;

    memset(contrib, 0, MZ_SOURCE_COUNT * sizeof(float));
    if (item < 0 || item >= model->n_items)
        return;
    const float *o_row = model->O + (size_t)item * (size_t)dim;

    contrib[MZ_SOURCE_SESSION] =
        cfg->w_dense * mz_vec_dot(o_row, e->session, dim) +
        e->repeat *
            repeat_weight(model, client, e->context_item, e->now_ts, item);
    for (int l = 0; client && l < client->n_levels; l++)
        contrib[MZ_SOURCE_LEVEL0 + l] =
            cfg->w_dense *
                mz_vec_dot(o_row, e->per_level + (size_t)l * (size_t)dim, dim) +
            level_share(model, &e->now[l], &e->taste_now, item);

    float catalog = mz_model_catalog_prior(model, item);
    if (e->context_item >= 0 && e->context_item < model->n_items)
        catalog += successor_share(model, e->context_item, 1.0f, item);
    contrib[MZ_SOURCE_CATALOG] = catalog;
}

int32_t mz_explainer_evidence(const struct mz_explainer *e,
                              enum mz_level_source source, int32_t item)
{
    const struct mz_model *model = e->model;
    const struct mz_client *client = e->client;
    int dim = model->cfg.dim;

    if (!client || item < 0 || item >= model->n_items)
        return -1;
    const float *o_row = model->O + (size_t)item * (size_t)dim;
    int32_t best = -1;
    float best_value = 0.0f;

    /* A level names the item it holds that adds most to this score. Ages
     * are measured from the client's last event: evidence names what
     * drove the score, not how much of it time has left. */
    if (source >= MZ_SOURCE_LEVEL0 &&
        (int)source < MZ_SOURCE_LEVEL0 + client->n_levels) {
        const struct level_readout *readout =
            &e->last[(int)source - MZ_SOURCE_LEVEL0];
        const struct attr_taste *taste = &e->taste_last;
        float unit = attr_unit(model, taste, item);
        for (int i = 0; i < readout->n; i++) {
            int32_t held = readout->items[i];
            float weight = readout->weights[i];
            const float *k_row = model->K + (size_t)held * (size_t)dim;
            float value = held == item
                              ? INFINITY
                              : successor_share(model, held, weight, item) +
                                    model->cfg.w_dense * weight *
                                        mz_vec_dot(k_row, o_row, dim) +
                                    weight * unit *
                                        shared_taste(model, taste, held, item);
            if (value > best_value) {
                best_value = value;
                best = held;
            }
        }
        return best;
    }
    if (source != MZ_SOURCE_SESSION && source != MZ_SOURCE_CATALOG)
        return -1;
    for (int r = 0; r < client->ring_len; r++) {
        int slot = mz_client_ring_slot(client, r);
        int32_t recent = client->ring_item[slot];
        if (mz_model_event_weight(model, client->ring_type[slot]) <= 0.0f)
            continue;
        float value;
        if (source == MZ_SOURCE_SESSION) {
            float w =
                mz_model_session_weight(model, client, r, 0, client->last_ts);
            if (w == 0.0f)
                continue;
            /* A re-visit is its own best evidence. */
            value =
                recent == item
                    ? INFINITY
                    : w * mz_vec_dot(model->K + (size_t)recent * (size_t)dim,
                                     o_row, dim);
        } else {
            /* Catalog: the recent item whose shoppers most often went on
             * to this one ("shoppers who looked at X also looked at
             * this"), the newer the better. */
            value = powf(model->cfg.session_decay, (float)r) *
                    successor_share(model, recent, 1.0f, item);
        }
        if (value > best_value) {
            best_value = value;
            best = recent;
        }
    }
    return best;
}

void mz_model_explain(const struct mz_model *model,
                      const struct mz_client *client, int32_t context_item,
                      int64_t now_ts, int32_t item, float *contrib)
{
    struct mz_explainer *e = mz_explainer_new();

    if (e && mz_explainer_prepare(e, model, client, context_item, now_ts))
        mz_explainer_contrib(e, item, contrib);
    else
        memset(contrib, 0, MZ_SOURCE_COUNT * sizeof(float));
    mz_explainer_free(e);
}

int32_t mz_model_evidence_item(const struct mz_model *model,
                               const struct mz_client *client,
                               enum mz_level_source source, int32_t item)
{
    struct mz_explainer *e = mz_explainer_new();
    int32_t best = -1;

    if (e && client &&
        mz_explainer_prepare(e, model, client, -1, client->last_ts))
        best = mz_explainer_evidence(e, source, item);
    mz_explainer_free(e);
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
        memory = per_level + (size_t)(source - MZ_SOURCE_LEVEL0) * (size_t)dim;

    if (memory) {
        /* Unscaled by w_dense: this ranks what the memory holds, which
         * must not vanish when the blend gives the dense term no weight. */
        cblas_sgemv(CblasRowMajor, CblasNoTrans, n, dim, 1.0f, model->O, dim,
                    memory, 1, 0.0f, scores, 1);
        if (source == MZ_SOURCE_SESSION) {
            float repeat = mz_model_repeat_scale(model, client, -1, now_ts);
            for (int r = 0; client && r < client->ring_len; r++) {
                float w = mz_model_session_weight(model, client, r, 0, now_ts);
                if (w != 0.0f)
                    scores[client->ring_item[mz_client_ring_slot(client, r)]] +=
                        repeat * w;
            }
        } else {
            struct mz_score_sink dense = {.scores = scores};
            add_level(model, client, (int)source - MZ_SOURCE_LEVEL0, now_ts,
                      &dense);
        }
    } else if (source == MZ_SOURCE_CATALOG) {
        for (int32_t j = 0; j < n; j++)
            scores[j] = mz_model_catalog_prior(model, j);
    }
}
