/*-------------------------------------------------------------------------
 * query.c
 *    What a client's state says at a given time: each level's readout
 *    (its items, their shares, time decay and the slow levels' gate), the
 *    session weights, the query vector q they build in the item space,
 *    and the weight of a re-visit.
 *
 * Interface routines (see model_internal.h): mz_model_event_weight,
 * mz_model_level_decay, mz_model_session_weight, mz_model_level_readout,
 * mz_model_levels_readout, mz_model_levels_hold, mz_model_query,
 * mz_model_query_of_readout, mz_model_repeat_scale.
 *
 * Only reads the model and the client: scoring (score.c) and the global
 * level's learning (global_level.c) both ask it.
 *-------------------------------------------------------------------------
 */
#include "model/model_internal.h"
#include "model/vec.h"

#include <math.h>
#include <string.h>

float mz_model_event_weight(const struct mz_model *model,
                            enum mz_event_type type)
{
    if ((int)type < 0 || type >= MZ_EV_TYPE_COUNT)
        return 0.0f;
    return model->cfg.event_weight[type];
}

float mz_model_level_decay(const struct mz_model *model, int level, double dt)
{
    double half_life = model->cfg.level_half_life_s[level];

    if (!(dt > 0.0) || half_life <= 0.0)
        return 1.0f;
    return (float)exp2(-dt / half_life);
}

float mz_model_session_weight(const struct mz_model *model,
                              const struct mz_client *c, int r, int shift,
                              int64_t now_ts)
{
    const struct mz_model_config *cfg = &model->cfg;
    int position = r + shift;

    if (!cfg->use_session || position >= cfg->session_items || r >= c->ring_len)
        return 0.0f;
    int slot = mz_client_ring_slot(c, r);
    if (mz_model_event_weight(model, c->ring_type[slot]) <= 0.0f)
        return 0.0f;
    float weight = powf(cfg->session_decay, (float)position);
    double age = mz_seconds_between(now_ts, c->ring_ts[slot]);
    if (cfg->session_half_life_s > 0.0 && age > 0.0)
        weight *= (float)exp2(-age / cfg->session_half_life_s);
    return weight;
}

/* What the client is doing now: level 0's strongest items (at most
 * MZ_CONTEXT_ITEMS), with their weights relative to the strongest. */
#define MZ_CONTEXT_ITEMS 4

struct context_items {
    int n;
    int32_t item[MZ_CONTEXT_ITEMS];
    float weight[MZ_CONTEXT_ITEMS];
};

static void current_context(const struct mz_client *c,
                            struct context_items *context)
{
    const struct mz_item_memory *m = mz_client_level_of(c, 0);
    bool taken[MZ_ITEM_MEMORY_SLOTS] = {false};

    context->n = 0;
    while (context->n < MZ_CONTEXT_ITEMS) {
        int best = -1;
        for (int i = 0; i < m->count; i++)
            if (!taken[i] && (best < 0 || m->weight[i] > m->weight[best]))
                best = i;
        if (best < 0)
            break;
        taken[best] = true;
        context->item[context->n] = m->item[best];
        context->weight[context->n++] = m->weight[best];
    }
    for (int k = context->n - 1; k >= 0; k--)
        context->weight[k] /= context->weight[0];
}

/* How much a slow level's item speaks now: fully when it is one of the
 * current items or one of their neighbours in the transition memory (the
 * client's long-run taste bears on what they do now), down to
 * slow_gate_floor when it has nothing to do with it (a new intent: the
 * old taste is kept, not forgotten, and speaks again once the client
 * comes back to it). The gate is the weight of the first (strongest)
 * current item related to item. Asked from the current item's side
 * (mz_transitions_linked): its tables serve every slow item and stay in
 * cache, where item's own table was a cache miss per item. */
static float slow_item_gate(const struct mz_model *model,
                            const struct context_items *context, int32_t item)
{
    float quiet = model->cfg.slow_gate_floor;
    float related = 0.0f;

    if (context->n == 0)
        return 1.0f;
    for (int k = 0; k < context->n && related < context->weight[k]; k++) {
        int32_t now = context->item[k];
        if (now == item || mz_transitions_linked(model->trans, now, item))
            related = context->weight[k];
    }
    return quiet + (1.0f - quiet) * related;
}

/* The gates of one readout: the context, computed once (it depends on
 * level 0 only), and the gate of every slow item met so far, so an item
 * that several slow levels hold (the usual case: what the client came
 * back to sits in every slow level) is gated once. */
struct slow_gates {
    struct context_items context;
    int n;
    int32_t item[MZ_MAX_LEVELS * MZ_ITEM_MEMORY_SLOTS];
    float gate[MZ_MAX_LEVELS * MZ_ITEM_MEMORY_SLOTS];
};

static void slow_gates_start(const struct mz_client *c,
                             struct slow_gates *gates)
{
    current_context(c, &gates->context);
    gates->n = 0;
}

/* The gate of item, computed on its first request in this readout. */
static float gate_of(const struct mz_model *model, struct slow_gates *gates,
                     int32_t item)
{
    for (int g = 0; g < gates->n; g++)
        if (gates->item[g] == item)
            return gates->gate[g];
    float gate = slow_item_gate(model, &gates->context, item);
    if (gates->n < MZ_MAX_LEVELS * MZ_ITEM_MEMORY_SLOTS) {
        gates->item[gates->n] = item;
        gates->gate[gates->n++] = gate;
    }
    return gate;
}

static bool level_is_gated(const struct mz_model *model, int level)
{
    return level > 0 && model->cfg.slow_gate_floor < 1.0f;
}

/* mz_model_level_readout with the gates (NULL when level is not gated)
 * shared with the other levels of the same readout. */
static int level_readout(const struct mz_model *model,
                         const struct mz_client *c, int level, int64_t now_ts,
                         struct slow_gates *gates, int32_t *items,
                         float *weights)
{
    const struct mz_item_memory *m = mz_client_level_of(c, level);
    const struct mz_item_memory *chunk = mz_client_pending_of(c, level);
    float speak = model->cfg.level_lr[level];
    struct mz_item_memory with_open_chunk;

    /* The open chunk is read at the weight it will be consolidated with
     * (its mean), so a slow level does not lag behind by a chunk: what
     * chunking changes is admission, a one-off item enters at 1/C of its
     * weight while a repeated one adds up, and forgetting, once per
     * chunk. (Measured in tests/eval: lagging levels lose to flat ones.) */
    if (level > 0 && model->cfg.nested && chunk->count > 0) {
        with_open_chunk = *m;
        mz_item_memory_merge(&with_open_chunk, 1.0f, chunk,
                             1.0f / (float)model->cfg.level_chunk[level]);
        m = &with_open_chunk;
    }

    if (speak == 0.0f || m->count == 0)
        return 0;
    double dt = c->last_ts > 0 ? mz_seconds_between(now_ts, c->last_ts) : 0.0;
    float total = mz_item_memory_total(m);
    /* Shares make a level's voice independent of the event weights (a
     * data set of purchases speaks as loudly as one of views); at least
     * one unit of weight, so that a level time has emptied fades out. */
    float scale = speak * mz_model_level_decay(model, level, dt) /
                  (total > 1.0f ? total : 1.0f);
    for (int i = 0; i < m->count; i++) {
        items[i] = m->item[i];
        weights[i] = scale * m->weight[i];
        if (gates)
            weights[i] *= gate_of(model, gates, m->item[i]);
    }
    return m->count;
}

int mz_model_level_readout(const struct mz_model *model,
                           const struct mz_client *c, int level, int64_t now_ts,
                           int32_t *items, float *weights)
{
    struct slow_gates gates;
    bool gated = level_is_gated(model, level);

    if (gated)
        slow_gates_start(c, &gates);
    return level_readout(model, c, level, now_ts, gated ? &gates : NULL, items,
                         weights);
}

int mz_model_levels_readout(const struct mz_model *model,
                            const struct mz_client *c, int64_t now_ts,
                            int32_t *items, float *weights)
{
    struct slow_gates gates;
    int n = 0;

    if (c->n_levels > 1 && level_is_gated(model, 1))
        slow_gates_start(c, &gates);
    for (int l = 0; l < c->n_levels; l++) {
        int32_t level_items[MZ_ITEM_MEMORY_SLOTS];
        float level_weights[MZ_ITEM_MEMORY_SLOTS];
        int count = level_readout(model, c, l, now_ts,
                                  level_is_gated(model, l) ? &gates : NULL,
                                  level_items, level_weights);
        for (int i = 0; i < count; i++) {
            int at = 0;
            while (at < n && items[at] != level_items[i])
                at++;
            if (at == n) {
                items[n] = level_items[i];
                weights[n++] = 0.0f;
            }
            weights[at] += level_weights[i];
        }
    }
    return n;
}

/* mz_model_query, the levels' readout (when per_level is NULL) being
 * items / weights[0..n-1], mz_model_levels_readout of c at now_ts. */
static void build_query(const struct mz_model *model, const struct mz_client *c,
                        int32_t context_item, int64_t now_ts, int n,
                        const int32_t *items, const float *weights, float *q,
                        float *per_level, float *session)
{
    int dim = model->cfg.dim;
    float session_buf[4096];
    float *s = session ? session : session_buf;

    memset(q, 0, (size_t)dim * sizeof(float));
    memset(s, 0, (size_t)dim * sizeof(float));
    /* The context item counts as the newest session item, so a client's
     * own ring shifts one place older. It is what the request is about,
     * so it is in q at full weight whatever session_dense says of the
     * client's own recent items (a cold item's neighbours come from its
     * row alone). */
    int shift = 0;
    bool has_context = model->cfg.use_session && context_item >= 0 &&
                       context_item < model->n_items;
    if (has_context)
        shift = 1;
    if (c) {
        float session_dense = model->cfg.session_dense;
        for (int r = 0; r < c->ring_len && session_dense != 0.0f; r++) {
            float w = mz_model_session_weight(model, c, r, shift, now_ts);
            if (w == 0.0f)
                continue;
            int32_t item = c->ring_item[mz_client_ring_slot(c, r)];
            mz_vec_axpy(dim, session_dense * w,
                        model->K + (size_t)item * (size_t)dim, s);
        }
        if (per_level) {
            for (int l = 0; l < c->n_levels; l++) {
                int32_t level_items[MZ_ITEM_MEMORY_SLOTS];
                float level_weights[MZ_ITEM_MEMORY_SLOTS];
                int count = mz_model_level_readout(model, c, l, now_ts,
                                                   level_items, level_weights);
                float *part = per_level + (size_t)l * (size_t)dim;
                memset(part, 0, (size_t)dim * sizeof(float));
                for (int i = 0; i < count; i++)
                    mz_vec_axpy(dim, level_weights[i],
                                model->K + (size_t)level_items[i] * (size_t)dim,
                                part);
                for (int k = 0; k < dim; k++)
                    q[k] += part[k];
            }
        } else {
            for (int i = 0; i < n; i++)
                mz_prefetch_row(model->K + (size_t)items[i] * (size_t)dim, dim,
                                false);
            for (int i = 0; i < n; i++)
                mz_vec_axpy(dim, weights[i],
                            model->K + (size_t)items[i] * (size_t)dim, q);
        }
    }
    if (has_context) {
        const float *row = model->K + (size_t)context_item * (size_t)dim;
        for (int k = 0; k < dim; k++)
            s[k] += row[k];
    }
    for (int k = 0; k < dim; k++)
        q[k] += s[k];
}

void mz_model_query(const struct mz_model *model, const struct mz_client *c,
                    int32_t context_item, int64_t now_ts, float *q,
                    float *per_level, float *session)
{
    int32_t items[MZ_MAX_LEVELS * MZ_ITEM_MEMORY_SLOTS];
    float weights[MZ_MAX_LEVELS * MZ_ITEM_MEMORY_SLOTS];
    int n = 0;

    if (c && !per_level)
        n = mz_model_levels_readout(model, c, now_ts, items, weights);
    build_query(model, c, context_item, now_ts, n, items, weights, q, per_level,
                session);
}

void mz_model_query_of_readout(const struct mz_model *model,
                               const struct mz_client *c, int64_t now_ts, int n,
                               const int32_t *items, const float *weights,
                               float *q)
{
    build_query(model, c, -1, now_ts, n, items, weights, q, NULL, NULL);
}

static bool memory_holds(const struct mz_item_memory *m, int32_t item)
{
    for (int i = 0; i < m->count; i++)
        if (m->item[i] == item)
            return true;
    return false;
}

bool mz_model_levels_hold(const struct mz_client *c, int32_t item)
{
    for (int l = 0; l < c->n_levels; l++)
        if (memory_holds(mz_client_level_of(c, l), item) ||
            memory_holds(mz_client_pending_of(c, l), item))
            return true;
    return false;
}

float mz_model_repeat_scale(const struct mz_model *model,
                            const struct mz_client *c, int32_t context_item,
                            int64_t now_ts)
{
    const struct mz_model_config *cfg = &model->cfg;
    float total = 0.0f;
    int shift = 0;

    if (!cfg->use_session || cfg->w_repeat == 0.0f)
        return 0.0f;
    if (context_item >= 0 && context_item < model->n_items) {
        total += 1.0f;
        shift = 1;
    }
    for (int r = 0; c && r < c->ring_len; r++)
        total += mz_model_session_weight(model, c, r, shift, now_ts);
    /* A light prior (one re-visit in ten events) until the stream has
     * spoken. Shares are of at least one unit of session weight, so a
     * session that time has faded fades out too (and a faded total never
     * inflates a share past 1). */
    double rate =
        (model->revisit_share_sum + 1.0) / (model->revisit_events + 10.0);
    return cfg->w_repeat * (float)rate / (total > 1.0f ? total : 1.0f);
}
