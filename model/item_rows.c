/*-------------------------------------------------------------------------
 * item_rows.c
 *    The model's per-item rows: adding an item (every per-item array
 *    grows together), its cold-start vector from its attribute tokens,
 *    and replacing its tokens.
 *
 * Interface routines (see model.h): mz_model_add_item,
 * mz_model_set_item_tokens.
 *
 * A cold row is the mean of pseudo-random vectors, one per token, each
 * drawn from splitmix64 seeded with the token's FNV-1a 64 xor cfg.seed,
 * so the same tokens give the same row in every process.
 *-------------------------------------------------------------------------
 */
#include "model/model_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/hash.h"

/* Uniform in [-1, 1) from the top 24 bits, exact in a float. */
static float unit_from_bits(uint64_t bits)
{
    return (float)(bits >> 40) * (1.0f / 8388608.0f) - 1.0f;
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
        !grow_array((void **)&model->grad_sides, old, cap, sizeof(uint8_t)) ||
        !grow_array((void **)&model->ada_K, old, cap, sizeof(float)) ||
        !grow_array((void **)&model->ada_O, old, cap, sizeof(float)) ||
        !grow_array((void **)&model->ada_bias, old, cap, sizeof(float)) ||
        !grow_array((void **)&model->touched, old, cap, sizeof(int32_t)) ||
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
        acc[k] += unit_from_bits(mz_splitmix64(&state));
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
    float scale =
        norm2 > 0.0 ? model->cfg.init_scale / (float)sqrt(norm2) : 0.0f;
    for (int k = 0; k < dim; k++) {
        k_row[k] *= scale;
        o_row[k] = k_row[k];
    }
    model->bias[item] = 0.0f;
    model->pop_all[item] = 0.0f;
    model->pop_all_log[item] = 0.0f;
    model->pop_recent[item] = 0.0f;
    model->ada_K[item] = 0.0f;
    model->ada_O[item] = 0.0f;
    model->ada_bias[item] = 0.0f;
    model->n_items++;
    return item;
}
