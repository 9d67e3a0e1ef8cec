/*-------------------------------------------------------------------------
 * global_level.c
 *    The global (catalog-wide, slowest) level's learning from one event:
 *    transitions from the client's recent items, popularity, the re-visit
 *    rate, and an item2vec-style logistic step of the client's query
 *    against the item and sampled negatives, summed over global_chunk
 *    events and applied at the boundary with a row-wise AdaGrad step.
 *
 * Interface routine (see model_internal.h): mz_model_learn_global.
 *
 * Randomness (the negatives) comes only from the model's PRNG, advanced
 * here, so a replay draws the same negatives.
 *-------------------------------------------------------------------------
 */
#include "model/model_internal.h"
#include "model/vec.h"

#include <math.h>
#include <string.h>

static uint64_t next_random(struct mz_model *model)
{
    return mz_splitmix64(&model->rng);
}

/* Counts item in the all-time and the recency-decayed popularity.
 * pop_recent holds counts scaled by 2^((ts - pop_ref_ts) / half-life), so
 * a bump touches one entry; when the scale grows large every entry is
 * rescaled to a newer reference (rare: once per 32 half-lives). Readers
 * only use pop_recent / pop_recent_max, which the scale cancels out of. */
static void bump_popularity(struct mz_model *model, int32_t item, float weight,
                            int64_t ts)
{
    model->pop_all[item] += weight;
    model->pop_all_log[item] = log1pf(model->pop_all[item]);
    if (model->pop_all_log[item] > model->pop_all_log_max)
        model->pop_all_log_max = model->pop_all_log[item];

    double half_life = model->cfg.pop_half_life_s;
    double exponent = 0.0;
    if (half_life > 0.0) {
        exponent = mz_seconds_between(ts, model->pop_ref_ts) / half_life;
        if (exponent > 32.0) {
            float factor = (float)exp2(-exponent);
            for (int32_t i = 0; i < model->n_items; i++)
                model->pop_recent[i] *= factor;
            model->pop_recent_max *= factor;
            model->pop_ref_ts = ts;
            exponent = 0.0;
        }
    }
    model->pop_recent[item] += weight * (float)exp2(exponent);
    if (model->pop_recent[item] > model->pop_recent_max)
        model->pop_recent_max = model->pop_recent[item];
}

/* Counts how much of the client's session weight was on item (before
 * the item itself joins the session). */
static void count_revisit(struct mz_model *model, const struct mz_client *c,
                          int32_t item, int64_t ts)
{
    float total = 0.0f;
    float on_item = 0.0f;

    for (int r = 0; r < c->ring_len; r++) {
        float w = mz_model_session_weight(model, c, r, 0, ts);
        total += w;
        if (c->ring_item[mz_client_ring_slot(c, r)] == item)
            on_item += w;
    }
    if (total > 0.0f) {
        model->revisit_share_sum += (double)(on_item / total);
        model->revisit_events += 1.0;
    }
}

/* Records that row took part in the open chunk, its half side
 * (MZ_GRAD_K or MZ_GRAD_O) given a gradient. */
static void touch_row(struct mz_model *model, int32_t row, uint8_t side)
{
    model->grad_sides[row] |= side;
    if (model->grad_hits[row]++ == 0)
        model->touched[model->n_touched++] = row;
}

/* Returns the AdaGrad step of a row whose summed chunk gradient has mean
 * square g2, updating its accumulator. */
static float adagrad_step(float lr, float *acc, float g2)
{
    *acc += g2;
    return lr / sqrtf(*acc + 1e-6f);
}

/* Rows ahead of the one being applied whose memory apply_global_chunk
 * asks for. */
#define CHUNK_PREFETCH_AHEAD 8

/* Starts loading what closing the chunk will touch of row: the halves
 * it gave a gradient. */
static void prefetch_chunk_row(const struct mz_model *model, int32_t row)
{
    int dim = model->cfg.dim;
    size_t at = (size_t)row * (size_t)dim;
    uint8_t sides = model->grad_sides[row];

    if (sides & MZ_GRAD_K) {
        mz_prefetch_row(model->grad_K + at, dim, true);
        mz_prefetch_row(model->K + at, dim, true);
    }
    if (sides & MZ_GRAD_O) {
        mz_prefetch_row(model->grad_O + at, dim, true);
        mz_prefetch_row(model->O + at, dim, true);
    }
    __builtin_prefetch(&model->ada_K[row], 1);
    __builtin_prefetch(&model->ada_O[row], 1);
    __builtin_prefetch(&model->ada_bias[row], 1);
    __builtin_prefetch(&model->bias[row], 1);
    __builtin_prefetch(&model->grad_bias[row], 1);
    __builtin_prefetch(&model->grad_hits[row], 1);
}

/* Applies touched rows [from, to) of the closed chunk: every row takes
 * its summed gradient with a row-wise AdaGrad step, so a popular item
 * seen hundreds of times in one chunk moves a bounded step while a rare
 * one still learns. A row's step reads and writes that row only. */
static void apply_chunk_rows(struct mz_model *model, int32_t from, int32_t to)
{
    int dim = model->cfg.dim;
    float lr = model->cfg.global_lr;

    for (int32_t t = from; t < to; t++) {
        int32_t row = model->touched[t];
        /* A chunk touches a few hundred rows spread over the catalog:
         * ask for the rows a few steps ahead so their misses overlap
         * with this row's arithmetic. */
        if (t + CHUNK_PREFETCH_AHEAD < to)
            prefetch_chunk_row(model, model->touched[t + CHUNK_PREFETCH_AHEAD]);
        float *k_row = model->K + (size_t)row * (size_t)dim;
        float *o_row = model->O + (size_t)row * (size_t)dim;
        float *gk = model->grad_K + (size_t)row * (size_t)dim;
        float *go = model->grad_O + (size_t)row * (size_t)dim;
        uint8_t sides = model->grad_sides[row];
        /* A half the chunk did not write is zero, or holds what an
         * earlier chunk left below a squared float's range, which its
         * sum of squares skipped then and would skip again. */
        float gk2 = sides & MZ_GRAD_K ? mz_vec_dot(gk, gk, dim) : 0.0f;
        float go2 = sides & MZ_GRAD_O ? mz_vec_dot(go, go, dim) : 0.0f;
        if (gk2 > 0.0f) {
            float step_k =
                adagrad_step(lr, &model->ada_K[row], gk2 / (float)dim);
            mz_vec_axpy(dim, -step_k, gk, k_row);
            memset(gk, 0, (size_t)dim * sizeof(float));
        }
        if (go2 > 0.0f) {
            float step_o =
                adagrad_step(lr, &model->ada_O[row], go2 / (float)dim);
            mz_vec_axpy(dim, -step_o, go, o_row);
            memset(go, 0, (size_t)dim * sizeof(float));
        }
        float gb = model->grad_bias[row];
        if (gb != 0.0f)
            model->bias[row] -=
                adagrad_step(lr, &model->ada_bias[row], gb * gb) * gb;
        model->grad_bias[row] = 0.0f;
        model->grad_hits[row] = 0;
        model->grad_sides[row] = 0;
    }
}

/* Opens the next chunk, the closed one being wholly applied. */
static void open_next_chunk(struct mz_model *model)
{
    model->n_touched = 0;
    model->chunk_events = 0;
    model->chunk_applied = 0;
    model->chunk_due = false;
}

void mz_model_defer_chunks(struct mz_model *model, bool defer)
{
    model->chunk_deferred = defer;
}

bool mz_model_chunk_due(const struct mz_model *model)
{
    return model->chunk_due;
}

bool mz_model_apply_chunk_part(struct mz_model *model, int32_t max_rows)
{
    if (!model->chunk_due)
        return true;
    int32_t from = model->chunk_applied;
    int32_t to = model->n_touched - from > max_rows ? from + max_rows
                                                     : model->n_touched;
    apply_chunk_rows(model, from, to);
    model->chunk_applied = to;
    if (to < model->n_touched)
        return false;
    open_next_chunk(model);
    return true;
}

void mz_model_finish_chunk(struct mz_model *model)
{
    if (model->chunk_due)
        mz_model_apply_chunk_part(model, model->n_touched);
}

/* Adds to the chunk the logistic-loss gradient of scoring x against q
 * with label (1: the observed item, 0: a negative) and accumulates the
 * gradient with respect to q into grad_q. */
static void logistic_step(struct mz_model *model, const float *q, int32_t x,
                          float label, float *grad_q)
{
    int dim = model->cfg.dim;
    const float *o_row = model->O + (size_t)x * (size_t)dim;
    /* mz_vec_dot, not cblas_sdot, here and in apply_chunk_rows: OpenBLAS
     * sums in the order of the kernel it picks for the CPU, so the same
     * log learned on another CPU gave another state (docs/durability.md,
     * item 20). */
    float z = model->bias[x] + mz_vec_dot(q, o_row, dim);
    float p = z >= 0.0f ? 1.0f / (1.0f + expf(-z)) : expf(z) / (1.0f + expf(z));
    float gz = p - label;
    float *go = model->grad_O + (size_t)x * (size_t)dim;
    mz_vec_axpy(dim, gz, q, go);
    mz_vec_axpy(dim, gz, o_row, grad_q);
    model->grad_bias[x] += gz;
    touch_row(model, x, MZ_GRAD_O);
}

/* Starts loading what the logistic step of row x will touch. */
static void prefetch_output(const struct mz_model *model, int32_t x)
{
    int dim = model->cfg.dim;

    mz_prefetch_row(model->O + (size_t)x * (size_t)dim, dim, false);
    mz_prefetch_row(model->grad_O + (size_t)x * (size_t)dim, dim, true);
    __builtin_prefetch(&model->bias[x]);
    __builtin_prefetch(&model->grad_bias[x], 1);
    __builtin_prefetch(&model->grad_hits[x], 1);
}

/* The negatives are drawn before the query (which neither reads nor
 * moves the PRNG) in the order the step learns them, so that every row
 * the step touches, and the successor tables its transitions add to, are
 * asked for here and arrive while the query is computed. */
void mz_model_global_prepare(struct mz_model *model, const struct mz_client *c,
                             int32_t item, struct mz_global_step *step)
{
    const struct mz_model_config *cfg = &model->cfg;
    int dim = cfg->dim;

    step->n_negatives = 0;
    for (int n = 0; n < cfg->global_negatives && model->neg_len > 0; n++)
        step->negatives[step->n_negatives++] =
            model->neg_ring[next_random(model) % (uint64_t)model->neg_len];
    prefetch_output(model, item);
    for (int n = 0; n < step->n_negatives; n++)
        prefetch_output(model, step->negatives[n]);
    mz_transitions_prefetch_source(model->trans, item);
    for (int r = 0; r < c->ring_len; r++) {
        int32_t source = c->ring_item[mz_client_ring_slot(c, r)];
        if (r < cfg->trans_window)
            mz_transitions_prefetch_source(model->trans, source);
        if (r < cfg->session_items) {
            mz_prefetch_row(model->grad_K + (size_t)source * (size_t)dim, dim,
                            true);
            __builtin_prefetch(&model->grad_hits[source], 1);
        }
    }
}

void mz_model_learn_global(struct mz_model *model, const struct mz_client *c,
                           const struct mz_global_step *step, const float *q,
                           int32_t item, float weight, int64_t ts)
{
    const struct mz_model_config *cfg = &model->cfg;
    int dim = cfg->dim;

    int distance = 1;
    for (int r = 0; r < c->ring_len && distance <= cfg->trans_window; r++) {
        int slot = mz_client_ring_slot(c, r);
        if (mz_model_event_weight(model, c->ring_type[slot]) <= 0.0f)
            continue;
        int32_t source = c->ring_item[slot];
        if (source != item) {
            mz_transitions_add(model->trans, source, item,
                               1.0f / (float)distance);
            if (cfg->trans_backward > 0.0f)
                mz_transitions_add(model->trans, item, source,
                                   cfg->trans_backward / (float)distance);
        }
        distance++;
    }
    /* The levels as they read out after the transitions above (the
     * gates read them), and before the steps below, which change neither
     * the client nor the transitions: so the gradient rows it names can
     * be asked for now (the session's were, with the step's other rows).
     * The transitions just added link item and the ring's items only, so
     * they change a gate only when a level holds item; else the readout
     * is the query's, and reading the levels again (their gates: a
     * hundred or so probes of successor tables) is skipped. */
    int32_t again_items[MZ_MAX_LEVELS * MZ_ITEM_MEMORY_SLOTS];
    float again_weights[MZ_MAX_LEVELS * MZ_ITEM_MEMORY_SLOTS];
    const int32_t *items = step->readout_items;
    const float *weights = step->readout_weights;
    int n = step->n_readout;
    if (mz_model_levels_hold(c, item)) {
        n = mz_model_levels_readout(model, c, ts, again_items, again_weights);
        items = again_items;
        weights = again_weights;
    }
    for (int i = 0; i < n; i++) {
        mz_prefetch_row(model->grad_K + (size_t)items[i] * (size_t)dim, dim,
                        true);
        __builtin_prefetch(&model->grad_hits[items[i]], 1);
    }
    bump_popularity(model, item, weight, ts);
    count_revisit(model, c, item, ts);

    float grad_q[4096];
    memset(grad_q, 0, (size_t)dim * sizeof(float));
    logistic_step(model, q, item, 1.0f, grad_q);
    for (int k = 0; k < step->n_negatives; k++)
        if (step->negatives[k] != item)
            logistic_step(model, q, step->negatives[k], 0.0f, grad_q);
    /* q is made of item rows (K): the levels' items, each with its
     * weight in q, take their share of the gradient, and so do the
     * session's items at their session weight even when session_dense
     * keeps the session out of q: every recent item learns to point at
     * what came next (skip-gram style), which measured better on both
     * data sets than the session in q (tests/eval/README.md). */
    for (int r = 0; r < c->ring_len; r++) {
        float w = mz_model_session_weight(model, c, r, 0, ts);
        if (w == 0.0f)
            continue;
        int32_t source = c->ring_item[mz_client_ring_slot(c, r)];
        mz_vec_axpy(dim, w, grad_q,
                    model->grad_K + (size_t)source * (size_t)dim);
        touch_row(model, source, MZ_GRAD_K);
    }
    for (int i = 0; i < n; i++) {
        mz_vec_axpy(dim, weights[i], grad_q,
                    model->grad_K + (size_t)items[i] * (size_t)dim);
        touch_row(model, items[i], MZ_GRAD_K);
    }

    model->neg_ring[model->neg_pos] = item;
    model->neg_pos = (model->neg_pos + 1) % MZ_NEG_RING_SIZE;
    if (model->neg_len < MZ_NEG_RING_SIZE)
        model->neg_len++;
    model->global_events++;
    if (++model->chunk_events >= cfg->global_chunk) {
        model->chunk_due = true;
        if (!model->chunk_deferred)
            mz_model_finish_chunk(model);
    }
}
