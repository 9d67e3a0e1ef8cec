/*-------------------------------------------------------------------------
 * model.c
 *    The global level (item space, popularity, transitions) and learning
 *    from one event: the client levels with the Continuum Memory System
 *    rule and the global level in chunks.
 *
 * Interface routines (see model.h): mz_model_config_defaults,
 * mz_model_new, mz_model_free, mz_model_config_of, mz_model_add_item,
 * mz_model_item_count, mz_model_retire_item, mz_model_observe.
 *
 * Everything here is a pure function of its arguments and the model's
 * state: randomness comes from a PRNG seeded by cfg.seed and advanced only
 * by learning, time only from event timestamps, and floating-point sums
 * run in a fixed order, so a replay reproduces a state bit for bit.
 *-------------------------------------------------------------------------
 */
#include "model/model_internal.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/hash.h"

/* splitmix64: turns any 64-bit value into a well-mixed one; the step of
 * the PRNG and the finaliser of the token hash. */
static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in [-1, 1) from the top 24 bits, exact in a float. */
static float unit_from_bits(uint64_t bits)
{
    return (float)(bits >> 40) * (1.0f / 8388608.0f) - 1.0f;
}

struct mz_model *mz_model_new(const struct mz_model_config *cfg, char *err,
                              size_t err_len)
{
    if (!mz_model_config_check(cfg, err, err_len))
        return NULL;
    struct mz_model *model = calloc(1, sizeof *model);
    if (!model)
        goto fail;
    model->cfg = *cfg;
    model->trans = mz_transitions_new(0, (uint32_t)cfg->trans_max_per_item);
    model->attrs = mz_attributes_new();
    if (!model->trans || !model->attrs)
        goto fail;
    uint64_t state = cfg->seed;
    model->rng = splitmix64(&state);
    return model;

fail:
    mz_model_free(model);
    if (err && err_len)
        snprintf(err, err_len, "out of memory");
    return NULL;
}

void mz_model_free(struct mz_model *model)
{
    if (!model)
        return;
    mz_transitions_free(model->trans);
    mz_attributes_free(model->attrs);
    free(model->touched);
    free(model->ada_bias);
    free(model->ada_O);
    free(model->ada_K);
    free(model->grad_hits);
    free(model->grad_bias);
    free(model->grad_O);
    free(model->grad_K);
    free(model->pop_recent);
    free(model->pop_all_log);
    free(model->pop_all);
    free(model->retired);
    free(model->bias);
    free(model->O);
    free(model->K);
    free(model);
}

const struct mz_model_config *mz_model_config_of(const struct mz_model *model)
{
    return &model->cfg;
}

int32_t mz_model_item_count(const struct mz_model *model)
{
    return model->n_items;
}

/* Grows one per-item array to cap rows of row_bytes, zeroing the new
 * part. The old block stays valid (and the model usable) on failure. */
static bool grow_array(void **array, size_t old_rows, size_t cap,
                       size_t row_bytes)
{
    char *p = realloc(*array, cap * row_bytes);

    if (!p)
        return false;
    memset(p + old_rows * row_bytes, 0, (cap - old_rows) * row_bytes);
    *array = p;
    return true;
}

/* Makes room for one more item in every per-item array. */
static bool reserve_item(struct mz_model *model)
{
    if (model->n_items < model->cap)
        return true;
    if (model->cap > INT32_MAX / 2)
        return false;
    size_t old = (size_t)model->cap;
    size_t cap = old ? old * 2 : 1024;
    size_t row = (size_t)model->cfg.dim * sizeof(float);

    /* Each array keeps its larger block even if a later one fails: cap
     * only moves once all of them fit, so the model stays consistent. */
    if (!grow_array((void **)&model->K, old, cap, row) ||
        !grow_array((void **)&model->O, old, cap, row) ||
        !grow_array((void **)&model->grad_K, old, cap, row) ||
        !grow_array((void **)&model->grad_O, old, cap, row) ||
        !grow_array((void **)&model->bias, old, cap, sizeof(float)) ||
        !grow_array((void **)&model->grad_bias, old, cap, sizeof(float)) ||
        !grow_array((void **)&model->grad_hits, old, cap, sizeof(uint32_t)) ||
        !grow_array((void **)&model->ada_K, old, cap, sizeof(float)) ||
        !grow_array((void **)&model->ada_O, old, cap, sizeof(float)) ||
        !grow_array((void **)&model->ada_bias, old, cap, sizeof(float)) ||
        !grow_array((void **)&model->touched, old, cap, sizeof(int32_t)) ||
        !grow_array((void **)&model->retired, old, cap, sizeof(uint8_t)) ||
        !grow_array((void **)&model->pop_all, old, cap, sizeof(float)) ||
        !grow_array((void **)&model->pop_all_log, old, cap, sizeof(float)) ||
        !grow_array((void **)&model->pop_recent, old, cap, sizeof(float)) ||
        !mz_transitions_grow(model->trans, (int32_t)cap))
        return false;
    model->cap = (int32_t)cap;
    return true;
}

/* Adds the pseudo-random unit-variance vector of stream key to acc. */
static void add_random_vector(uint64_t key, int dim, float *acc)
{
    uint64_t state = key;

    for (int k = 0; k < dim; k++)
        acc[k] += unit_from_bits(splitmix64(&state));
}

/* The hashes of the first MZ_ATTR_TOKENS_PER_ITEM tokens (NULLs
 * skipped), as the attribute taste keeps them; returns how many. */
static size_t token_hashes(const char *const *tokens, size_t n_tokens,
                           uint64_t *hashes)
{
    size_t n = 0;

    for (size_t t = 0; t < n_tokens && n < MZ_ATTR_TOKENS_PER_ITEM; t++)
        if (tokens[t])
            hashes[n++] = mz_hash_string(tokens[t]);
    return n;
}

bool mz_model_set_item_tokens(struct mz_model *model, int32_t item,
                              const char *const *tokens, size_t n_tokens)
{
    uint64_t hashes[MZ_ATTR_TOKENS_PER_ITEM];
    size_t n_hashes = token_hashes(tokens, n_tokens, hashes);

    return item >= 0 && item < model->n_items &&
           mz_attributes_set_item(model->attrs, item, hashes, n_hashes);
}

int32_t mz_model_add_item(struct mz_model *model, const char *const *tokens,
                          size_t n_tokens)
{
    if (!reserve_item(model))
        return -1;
    int dim = model->cfg.dim;
    int32_t item = model->n_items;
    float *k_row = model->K + (size_t)item * (size_t)dim;
    float *o_row = model->O + (size_t)item * (size_t)dim;
    size_t used = 0;

    uint64_t hashes[MZ_ATTR_TOKENS_PER_ITEM];
    size_t n_hashes = token_hashes(tokens, n_tokens, hashes);
    memset(k_row, 0, (size_t)dim * sizeof(float));
    for (size_t t = 0; t < n_tokens; t++) {
        if (!tokens[t])
            continue;
        /* The token's FNV-1a 64 starts its deterministic vector. */
        add_random_vector(mz_hash_string(tokens[t]) ^ model->cfg.seed, dim,
                          k_row);
        used++;
    }
    if (!mz_attributes_add_item(model->attrs, item, hashes, n_hashes))
        return -1;
    if (used == 0)
        add_random_vector(model->cfg.seed ^
                              (0xd1b54a32d192ed03ULL * (uint64_t)(item + 1)),
                          dim, k_row);
    /* Only the direction matters: items sharing tokens point the same
     * way, and every cold row starts with the same small norm so no item
     * is favoured before anyone has seen it. */
    double norm2 = 0.0;
    for (int k = 0; k < dim; k++)
        norm2 += (double)k_row[k] * k_row[k];
    float scale = norm2 > 0.0 ? model->cfg.init_scale / (float)sqrt(norm2)
                              : 0.0f;
    for (int k = 0; k < dim; k++) {
        k_row[k] *= scale;
        o_row[k] = k_row[k];
    }
    model->bias[item] = 0.0f;
    model->retired[item] = 0;
    model->pop_all[item] = 0.0f;
    model->pop_all_log[item] = 0.0f;
    model->pop_recent[item] = 0.0f;
    model->ada_K[item] = 0.0f;
    model->ada_O[item] = 0.0f;
    model->ada_bias[item] = 0.0f;
    model->n_items++;
    return item;
}

void mz_model_retire_item(struct mz_model *model, int32_t item)
{
    if (item >= 0 && item < model->n_items)
        model->retired[item] = 1;
}

float mz_model_event_weight(const struct mz_model *model,
                            enum mz_event_type type)
{
    if ((int)type < 0 || type >= MZ_EV_TYPE_COUNT)
        return 0.0f;
    return model->cfg.event_weight[type];
}

float mz_model_level_decay(const struct mz_model *model, int level,
                           double dt)
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

    if (!cfg->use_session || position >= cfg->session_items ||
        r >= c->ring_len)
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
    const struct mz_item_memory *m = &c->level[0];
    bool taken[MZ_ITEM_MEMORY_SLOTS] = { false };

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
 * comes back to it). */
static float slow_item_gate(const struct mz_model *model,
                            const struct context_items *context, int32_t item)
{
    float quiet = model->cfg.slow_gate_floor;
    float related = 0.0f;

    if (context->n == 0)
        return 1.0f;
    for (int k = 0; k < context->n && related < context->weight[k]; k++) {
        int32_t now = context->item[k];
        if (now == item || mz_transitions_get(model->trans, item, now) > 0.0f ||
            mz_transitions_get(model->trans, now, item) > 0.0f)
            related = context->weight[k];
    }
    return quiet + (1.0f - quiet) * related;
}

int mz_model_level_readout(const struct mz_model *model,
                           const struct mz_client *c, int level,
                           int64_t now_ts, int32_t *items, float *weights)
{
    const struct mz_item_memory *m = &c->level[level];
    float speak = model->cfg.level_lr[level];
    struct mz_item_memory with_open_chunk;

    /* The open chunk is read at the weight it will be consolidated with
     * (its mean), so a slow level does not lag behind by a chunk: what
     * chunking changes is admission, a one-off item enters at 1/C of its
     * weight while a repeated one adds up, and forgetting, once per
     * chunk. (Measured in tests/eval: lagging levels lose to flat ones.) */
    if (level > 0 && model->cfg.nested && c->pending[level].count > 0) {
        with_open_chunk = *m;
        mz_item_memory_merge(&with_open_chunk, 1.0f, &c->pending[level],
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
    struct context_items context = { .n = 0 };
    bool gated = level > 0 && model->cfg.slow_gate_floor < 1.0f;
    if (gated)
        current_context(c, &context);
    for (int i = 0; i < m->count; i++) {
        items[i] = m->item[i];
        weights[i] = scale * m->weight[i];
        if (gated)
            weights[i] *= slow_item_gate(model, &context, m->item[i]);
    }
    return m->count;
}

int mz_model_levels_readout(const struct mz_model *model,
                            const struct mz_client *c, int64_t now_ts,
                            int32_t *items, float *weights)
{
    int n = 0;

    for (int l = 0; l < c->n_levels; l++) {
        int32_t level_items[MZ_ITEM_MEMORY_SLOTS];
        float level_weights[MZ_ITEM_MEMORY_SLOTS];
        int count = mz_model_level_readout(model, c, l, now_ts, level_items,
                                           level_weights);
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

void mz_model_query(const struct mz_model *model, const struct mz_client *c,
                    int32_t context_item, int64_t now_ts, float *q,
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
            cblas_saxpy(dim, session_dense * w,
                        model->K + (size_t)item * (size_t)dim, 1, s, 1);
        }
        if (per_level) {
            for (int l = 0; l < c->n_levels; l++) {
                int32_t items[MZ_ITEM_MEMORY_SLOTS];
                float weights[MZ_ITEM_MEMORY_SLOTS];
                int n = mz_model_level_readout(model, c, l, now_ts, items,
                                               weights);
                float *part = per_level + (size_t)l * (size_t)dim;
                memset(part, 0, (size_t)dim * sizeof(float));
                for (int i = 0; i < n; i++)
                    cblas_saxpy(dim, weights[i],
                                model->K + (size_t)items[i] * (size_t)dim, 1,
                                part, 1);
                for (int k = 0; k < dim; k++)
                    q[k] += part[k];
            }
        } else {
            int32_t items[MZ_MAX_LEVELS * MZ_ITEM_MEMORY_SLOTS];
            float weights[MZ_MAX_LEVELS * MZ_ITEM_MEMORY_SLOTS];
            int n = mz_model_levels_readout(model, c, now_ts, items, weights);
            for (int i = 0; i < n; i++)
                cblas_saxpy(dim, weights[i],
                            model->K + (size_t)items[i] * (size_t)dim, 1, q,
                            1);
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

static uint64_t next_random(struct mz_model *model)
{
    return splitmix64(&model->rng);
}

/* Counts item in the all-time and the recency-decayed popularity.
 * pop_recent holds counts scaled by 2^((ts - pop_ref_ts) / half-life), so
 * a bump touches one entry; when the scale grows large every entry is
 * rescaled to a newer reference (rare: once per 32 half-lives). Readers
 * only use pop_recent / pop_recent_max, which the scale cancels out of. */
static void bump_popularity(struct mz_model *model, int32_t item,
                            float weight, int64_t ts)
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
    double rate = (model->revisit_share_sum + 1.0) /
                  (model->revisit_events + 10.0);
    return cfg->w_repeat * (float)rate / (total > 1.0f ? total : 1.0f);
}

/* Records that row took part in the open chunk. */
static void touch_row(struct mz_model *model, int32_t row)
{
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

/* Closes the global chunk: every touched row takes its summed gradient
 * with a row-wise AdaGrad step, so a popular item seen hundreds of times
 * in one chunk moves a bounded step while a rare one still learns. */
static void apply_global_chunk(struct mz_model *model)
{
    int dim = model->cfg.dim;
    float lr = model->cfg.global_lr;

    for (int32_t t = 0; t < model->n_touched; t++) {
        int32_t row = model->touched[t];
        float *k_row = model->K + (size_t)row * (size_t)dim;
        float *o_row = model->O + (size_t)row * (size_t)dim;
        float *gk = model->grad_K + (size_t)row * (size_t)dim;
        float *go = model->grad_O + (size_t)row * (size_t)dim;
        float gk2 = cblas_sdot(dim, gk, 1, gk, 1);
        float go2 = cblas_sdot(dim, go, 1, go, 1);
        /* A row is often only an input (a session item) or only an
         * output (a target or negative) in a chunk: skip the other half. */
        if (gk2 > 0.0f) {
            float step_k = adagrad_step(lr, &model->ada_K[row],
                                        gk2 / (float)dim);
            cblas_saxpy(dim, -step_k, gk, 1, k_row, 1);
            memset(gk, 0, (size_t)dim * sizeof(float));
        }
        if (go2 > 0.0f) {
            float step_o = adagrad_step(lr, &model->ada_O[row],
                                        go2 / (float)dim);
            cblas_saxpy(dim, -step_o, go, 1, o_row, 1);
            memset(go, 0, (size_t)dim * sizeof(float));
        }
        float gb = model->grad_bias[row];
        if (gb != 0.0f)
            model->bias[row] -= adagrad_step(lr, &model->ada_bias[row],
                                             gb * gb) * gb;
        model->grad_bias[row] = 0.0f;
        model->grad_hits[row] = 0;
    }
    model->n_touched = 0;
    model->chunk_events = 0;
}

/* Adds to the chunk the logistic-loss gradient of scoring x against q
 * with label (1: the observed item, 0: a negative) and accumulates the
 * gradient with respect to q into grad_q. */
static void logistic_step(struct mz_model *model, const float *q, int32_t x,
                          float label, float *grad_q)
{
    int dim = model->cfg.dim;
    const float *o_row = model->O + (size_t)x * (size_t)dim;
    float z = model->bias[x] + cblas_sdot(dim, q, 1, o_row, 1);
    float p = z >= 0.0f ? 1.0f / (1.0f + expf(-z))
                        : expf(z) / (1.0f + expf(z));
    float gz = p - label;
    float *go = model->grad_O + (size_t)x * (size_t)dim;
    cblas_saxpy(dim, gz, q, 1, go, 1);
    cblas_saxpy(dim, gz, o_row, 1, grad_q, 1);
    model->grad_bias[x] += gz;
    touch_row(model, x);
}

/* The global level's share of one event: transitions from the client's
 * recent items, popularity, and an item2vec-style step (predict item from
 * the client's query with sampled negatives) summed into the open chunk. */
static void learn_global(struct mz_model *model, const struct mz_client *c,
                         const float *q, int32_t item, float weight,
                         int64_t ts)
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
    bump_popularity(model, item, weight, ts);
    count_revisit(model, c, item, ts);

    float grad_q[4096];
    memset(grad_q, 0, (size_t)dim * sizeof(float));
    logistic_step(model, q, item, 1.0f, grad_q);
    for (int n = 0; n < cfg->global_negatives && model->neg_len > 0; n++) {
        int32_t neg = model->neg_ring[next_random(model) %
                                      (uint64_t)model->neg_len];
        if (neg != item && !model->retired[neg])
            logistic_step(model, q, neg, 0.0f, grad_q);
    }
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
        cblas_saxpy(dim, w, grad_q, 1,
                    model->grad_K + (size_t)source * (size_t)dim, 1);
        touch_row(model, source);
    }
    int32_t items[MZ_MAX_LEVELS * MZ_ITEM_MEMORY_SLOTS];
    float weights[MZ_MAX_LEVELS * MZ_ITEM_MEMORY_SLOTS];
    int n = mz_model_levels_readout(model, c, ts, items, weights);
    for (int i = 0; i < n; i++) {
        cblas_saxpy(dim, weights[i], grad_q, 1,
                    model->grad_K + (size_t)items[i] * (size_t)dim, 1);
        touch_row(model, items[i]);
    }

    model->neg_ring[model->neg_pos] = item;
    model->neg_pos = (model->neg_pos + 1) % MZ_NEG_RING_SIZE;
    if (model->neg_len < MZ_NEG_RING_SIZE)
        model->neg_len++;
    model->global_events++;
    if (++model->chunk_events >= cfg->global_chunk)
        apply_global_chunk(model);
}

/* The CMS rule for the client levels. An event adds its item with the
 * event's weight w: level 0 at once, after keeping 1 - alpha_0 of its old
 * weights; a slower level into its open chunk, and at the chunk boundary
 * the level keeps 1 - alpha_l of its weights and takes the chunk's mean
 * (nested = false: every level as level 0). A negative event takes |w|
 * off the item everywhere, chunks included: a dismissal is not
 * postponed. */
static void learn_levels(const struct mz_model *model, struct mz_client *c,
                         int32_t item, float weight, int64_t ts)
{
    const struct mz_model_config *cfg = &model->cfg;

    for (int l = 0; l < c->n_levels; l++) {
        struct mz_item_memory *m = &c->level[l];
        float keep = 1.0f - cfg->level_retention[l];

        if (weight < 0.0f) {
            mz_item_memory_weaken(m, item, -weight);
            mz_item_memory_weaken(&c->pending[l], item, -weight);
            continue;
        }
        if (l == 0 || !cfg->nested) {
            mz_item_memory_scale(m, keep);
            mz_item_memory_add(m, item, weight);
            c->level_events[l]++;
            c->consolidated_at[l] = ts;
            continue;
        }
        mz_item_memory_add(&c->pending[l], item, weight);
        if (++c->chunk_fill[l] < cfg->level_chunk[l])
            continue;
        mz_item_memory_merge(m, keep, &c->pending[l],
                             1.0f / (float)cfg->level_chunk[l]);
        mz_item_memory_clear(&c->pending[l]);
        c->chunk_fill[l] = 0;
        c->level_events[l] += cfg->level_chunk[l];
        c->consolidated_at[l] = ts;
    }
}

void mz_model_observe(struct mz_model *model, struct mz_client *client,
                      const struct mz_event_obs *ev, bool learn_global_level)
{
    client->all_events++;
    if (ev->seq != 0)
        client->last_seq = ev->seq;
    int32_t item = ev->item;
    if (item < 0 || item >= model->n_items || model->retired[item])
        return;
    float weight = mz_model_event_weight(model, ev->type);
    if (weight == 0.0f)
        return;

    /* Time away fades the levels before the event is learned, so an old
     * intent does not outweigh the new event. */
    if (client->last_ts > 0 && ev->ts > client->last_ts) {
        double away = mz_seconds_between(ev->ts, client->last_ts);
        for (int l = 0; l < client->n_levels; l++)
            mz_item_memory_scale(&client->level[l],
                                 mz_model_level_decay(model, l, away));
    }

    if (learn_global_level && model->cfg.learn_global && weight > 0.0f) {
        float q[4096];
        mz_model_query(model, client, -1, ev->ts, q, NULL, NULL);
        learn_global(model, client, q, item, weight, ev->ts);
    }
    learn_levels(model, client, item, weight, ev->ts);

    client->ring_item[client->ring_head] = item;
    client->ring_ts[client->ring_head] = ev->ts;
    client->ring_type[client->ring_head] = (uint8_t)ev->type;
    client->ring_head = (client->ring_head + 1) % MZ_RING_SIZE;
    if (client->ring_len < MZ_RING_SIZE)
        client->ring_len++;
    client->last_ts = ev->ts;
    client->events++;
}
