/*-------------------------------------------------------------------------
 * candidates.c
 *    One client's candidates, scored; and the model's list of the items
 *    of the strongest prior that every request adds to them.
 *
 * Interface routines (see candidates.h): mz_candidates_new,
 * mz_candidates_free, mz_model_score_candidates, mz_candidates_items,
 * mz_candidates_scores; mz_model_refresh_popular, mz_model_set_popular
 * (model_internal.h); mz_model_defer_popular, mz_model_popular_due,
 * mz_model_rank_popular, mz_model_install_popular (model.h).
 *
 * A request first adds the client's sparse terms (mz_model_add_client_
 * terms) into the workspace's sparse sink, which lists every item it
 * reaches, then lists the popular items, sorts the list (the rules'
 * scan takes indices in ascending order, so ties still go to the lower
 * index), and adds each candidate's prior and dense term last.
 *-------------------------------------------------------------------------
 */
#include "model/candidates.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_internal.h"
#include "model/topk.h"
#include "model/vec.h"

struct mz_candidates {
    float *scores;   /* owned, capacity: by item index */
    uint32_t *stamp; /* owned, capacity: gen when listed this request */
    int32_t *items;  /* owned, capacity: the listed items */
    int32_t *spare;  /* owned, capacity: the radix sort's other half */
    float *key;      /* owned, capacity: by position in items, the score
                        before the dense term while the list is cut */
    size_t capacity;
    size_t count;
    uint32_t gen;
};

struct mz_candidates *mz_candidates_new(void)
{
    return calloc(1, sizeof(struct mz_candidates));
}

void mz_candidates_free(struct mz_candidates *cand)
{
    if (!cand)
        return;
    free(cand->key);
    free(cand->spare);
    free(cand->items);
    free(cand->stamp);
    free(cand->scores);
    free(cand);
}

/* Grows every array of cand to at least n entries, new stamps 0 (never
 * listed). Returns false on allocation failure; the arrays that did grow
 * stay grown, the capacity does not. */
static bool reserve(struct mz_candidates *cand, size_t n)
{
    if (n <= cand->capacity)
        return true;
    size_t capacity = n + n / 4 + 64;
    float *scores = realloc(cand->scores, capacity * sizeof *scores);
    if (!scores)
        return false;
    cand->scores = scores;
    int32_t *items = realloc(cand->items, capacity * sizeof *items);
    if (!items)
        return false;
    cand->items = items;
    int32_t *spare = realloc(cand->spare, capacity * sizeof *spare);
    if (!spare)
        return false;
    cand->spare = spare;
    float *key = realloc(cand->key, capacity * sizeof *key);
    if (!key)
        return false;
    cand->key = key;
    uint32_t *stamp = realloc(cand->stamp, capacity * sizeof *stamp);
    if (!stamp)
        return false;
    memset(stamp + cand->capacity, 0,
           (capacity - cand->capacity) * sizeof *stamp);
    cand->stamp = stamp;
    cand->capacity = capacity;
    return true;
}

/* Sorts items[0..n-1] (non-negative, below n_items) ascending with an
 * LSD radix sort of 8-bit digits through spare: a few passes of n, where
 * a comparison sort of a thousand candidates would cost as much as
 * scoring them. Returns the array that holds the result. */
static int32_t *sort_indices(int32_t *items, int32_t *spare, size_t n,
                             int32_t n_items)
{
    for (int shift = 0; shift < 32 && (n_items - 1) >> shift; shift += 8) {
        size_t start[257] = {0};
        for (size_t i = 0; i < n; i++)
            start[(((uint32_t)items[i] >> shift) & 0xffu) + 1]++;
        for (int d = 0; d < 256; d++)
            start[d + 1] += start[d];
        for (size_t i = 0; i < n; i++)
            spare[start[((uint32_t)items[i] >> shift) & 0xffu]++] = items[i];
        int32_t *swap = items;
        items = spare;
        spare = swap;
    }
    return items;
}

/* Whether position a of items / key ranks before position b: the higher
 * key, then the lower item (the one order of topk.h). Items are distinct,
 * so the order is total and the kept set does not depend on the
 * algorithm. */
static bool ranks_before(const int32_t *items, const float *key, size_t a,
                         size_t b)
{
    return key[a] > key[b] || (key[a] == key[b] && items[a] < items[b]);
}

static void swap_positions(int32_t *items, float *key, size_t a, size_t b)
{
    int32_t item = items[a];
    items[a] = items[b];
    items[b] = item;
    float k = key[a];
    key[a] = key[b];
    key[b] = k;
}

/* Reorders items[0..n-1] and key[0..n-1] together so that the keep best
 * (ranks_before) come first, in no particular order (0 < keep < n):
 * quickselect with a median-of-three pivot, O(n) on average, where a heap
 * of keep entries would cost n log keep. */
static void keep_best(int32_t *items, float *key, size_t n, size_t keep)
{
    size_t lo = 0, hi = n - 1;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        /* Order lo, mid, hi, then park the median at hi as the pivot. */
        if (ranks_before(items, key, mid, lo))
            swap_positions(items, key, mid, lo);
        if (ranks_before(items, key, hi, lo))
            swap_positions(items, key, hi, lo);
        if (ranks_before(items, key, mid, hi))
            swap_positions(items, key, mid, hi);
        size_t store = lo;
        for (size_t i = lo; i < hi; i++)
            if (ranks_before(items, key, i, hi))
                swap_positions(items, key, i, store++);
        swap_positions(items, key, store, hi);
        /* [lo, store) rank before the pivot, now at store. */
        if (store == keep - 1 || store == keep)
            return;
        if (store > keep)
            hi = store - 1;
        else
            lo = store + 1;
    }
}

/* Candidates ahead whose row is fetched while one is scored. */
#define PREFETCH_AHEAD 4

/* Asks the cache for the dim floats at row (a hint; GCC and clang). */
static void prefetch_row(const float *row, int dim)
{
    for (int k = 0; k < dim; k += 16) /* 16 floats: one 64-byte line */
        __builtin_prefetch(row + k);
}

bool mz_model_score_candidates(const struct mz_model *model,
                               const struct mz_client *client,
                               int32_t context_item, int64_t now_ts,
                               const struct mz_candidate_scope *scope,
                               struct mz_candidates *cand)
{
    const struct mz_model_config *cfg = &model->cfg;
    int dim = cfg->dim;

    cand->count = 0;
    if (cfg->cand_popular == 0 || !reserve(cand, (size_t)model->n_items))
        return false;
    if (++cand->gen == 0) {
        memset(cand->stamp, 0, cand->capacity * sizeof *cand->stamp);
        cand->gen = 1;
    }
    struct mz_score_sink sink = {.scores = cand->scores,
                                 .stamp = cand->stamp,
                                 .gen = cand->gen,
                                 .items = cand->items};
    mz_model_add_client_terms(model, client, context_item, now_ts, &sink);
    for (int32_t i = 0; i < model->n_popular; i++)
        mz_score_sink_add(&sink, model->popular[i], 0.0f);
    struct mz_prior_scales prior = mz_model_prior_scales(model);
    if (cfg->cand_max > 0 && sink.count > (size_t)cfg->cand_max) {
        /* The cut: what the dense term (w_dense, small) would have to
         * lift past the cand_max-th best to matter. The kept items' sums
         * below are the uncut ones, so a candidate scores the same cut
         * or not. */
        for (size_t i = 0; i < sink.count; i++) {
            int32_t j = cand->items[i];
            cand->key[i] = scope && !scope->admits(scope->ctx, j)
                               ? -INFINITY
                               : cand->scores[j] +
                                     mz_model_prior_at(model, &prior, j);
        }
        keep_best(cand->items, cand->key, sink.count, (size_t)cfg->cand_max);
        sink.count = (size_t)cfg->cand_max;
    }

    int32_t *sorted =
        sort_indices(cand->items, cand->spare, sink.count, model->n_items);
    if (sorted != cand->items) {
        cand->spare = cand->items;
        cand->items = sorted;
    }
    cand->count = sink.count;

    float q[4096];
    mz_model_query(model, client, context_item, now_ts, q, NULL, NULL);
    bool dense = false;
    for (int k = 0; k < dim && !dense; k++)
        dense = q[k] != 0.0f;
    dense = dense && cfg->w_dense != 0.0f;
    for (size_t i = 0; i < cand->count; i++) {
        int32_t j = cand->items[i];
        /* The rows are scattered over the catalog: ask for the row a few
         * candidates ahead while this one is summed. */
        if (dense && i + PREFETCH_AHEAD < cand->count)
            prefetch_row(model->O + (size_t)cand->items[i + PREFETCH_AHEAD] *
                                        (size_t)dim,
                         dim);
        float score = mz_model_prior_at(model, &prior, j);
        if (dense)
            score += cfg->w_dense *
                     mz_vec_dot(model->O + (size_t)j * (size_t)dim, q, dim);
        cand->scores[j] += score;
    }
    return true;
}

const int32_t *mz_candidates_items(const struct mz_candidates *cand,
                                   size_t *count)
{
    *count = cand->count;
    return cand->items;
}

const float *mz_candidates_scores(const struct mz_candidates *cand)
{
    return cand->scores;
}

/* Makes room for cfg.cand_popular entries; false when out of memory. */
static bool popular_reserve(struct mz_model *model)
{
    if (!model->popular)
        model->popular =
            malloc((size_t)model->cfg.cand_popular * sizeof *model->popular);
    return model->popular != NULL;
}

bool mz_model_set_popular(struct mz_model *model, const int32_t *items,
                          int32_t n)
{
    model->n_popular = 0;
    if (n > model->cfg.cand_popular)
        n = model->cfg.cand_popular;
    if (n <= 0)
        return true;
    if (!popular_reserve(model))
        return false;
    memcpy(model->popular, items, (size_t)n * sizeof *items);
    model->n_popular = n;
    return true;
}

/* Whether the list is due for a rebuild: at every multiple of the period,
 * and while the list is short (a new model, a grown small catalog). Both
 * are functions of the learned state, so a replay rebuilds at the same
 * events. */
static bool popular_is_due(const struct mz_model *model)
{
    int32_t want = model->cfg.cand_popular;

    if (want > model->n_items)
        want = model->n_items;
    return model->global_events % MZ_POPULAR_REFRESH_EVENTS == 0 ||
           model->n_popular < want;
}

/* The floor of a rebuild: the lowest prior, now, of the items of the
 * list being replaced, when it is full; -INFINITY when it is short or one
 * of its items has no finite prior or is out of the catalog. The list
 * moves little between rebuilds, so few items outside it reach its
 * floor. */
static float popular_floor(const struct mz_model *model,
                           const struct mz_prior_scales *scales, int32_t want)
{
    float floor = INFINITY;

    if (model->n_popular < want)
        return -INFINITY;
    for (int32_t i = 0; i < model->n_popular; i++) {
        int32_t j = model->popular[i];
        if (j < 0 || j >= model->n_items)
            return -INFINITY;
        float prior = mz_model_prior_at(model, scales, j);
        if (!isfinite(prior))
            return -INFINITY;
        if (prior < floor)
            floor = prior;
    }
    return floor;
}

/* The items whose prior reaches floor, ascending, with their priors:
 * arrays of the caller (owned, freed by it), grown as needed. */
struct popular_pool {
    int32_t *items;
    float *priors;
    int32_t count;
    int32_t capacity;
};

static bool pool_add(struct popular_pool *pool, int32_t item, float prior)
{
    if (pool->count == pool->capacity) {
        int32_t grown = pool->capacity ? 2 * pool->capacity : 1024;
        int32_t *items = realloc(pool->items, (size_t)grown * sizeof *items);
        if (!items)
            return false;
        pool->items = items;
        float *priors = realloc(pool->priors, (size_t)grown * sizeof *priors);
        if (!priors)
            return false;
        pool->priors = priors;
        pool->capacity = grown;
    }
    pool->items[pool->count] = item;
    pool->priors[pool->count] = prior;
    pool->count++;
    return true;
}

/* Ranks the want best priors among those that reach floor into out.
 * Returns the length; 0 with *short_of_floor when fewer than want items
 * reach a finite floor (the floor proves nothing then); -1 out of memory.
 * If want items reach it, none below it can be among the want best, and
 * mz_topk breaks ties by position, which is item order here too, so the
 * list is the one a ranking of the whole catalog gives. */
static int32_t rank_from_floor(const struct mz_model *model,
                               const struct mz_prior_scales *scales,
                               float floor, int32_t want, int32_t *out,
                               bool *short_of_floor)
{
    struct popular_pool pool = {0};
    float *top = NULL;
    int32_t ranked = -1;

    *short_of_floor = false;
    for (int32_t j = 0; j < model->n_items; j++) {
        float prior = mz_model_prior_at(model, scales, j);
        if (prior >= floor && !pool_add(&pool, j, prior))
            goto done;
    }
    if (floor > -INFINITY && pool.count < want) {
        *short_of_floor = true;
        ranked = 0;
        goto done;
    }
    top = malloc((size_t)want * sizeof *top);
    if (!top)
        goto done;
    ranked = (int32_t)mz_topk(pool.priors, (size_t)pool.count, NULL,
                              (size_t)want, out, top);
    for (int32_t i = 0; i < ranked; i++)
        out[i] = pool.items[out[i]];
done:
    free(top);
    free(pool.priors);
    free(pool.items);
    return ranked;
}

int32_t mz_model_rank_popular(const struct mz_model *model, int32_t *out)
{
    int32_t want = model->cfg.cand_popular;
    bool short_of_floor;

    if (want > model->n_items)
        want = model->n_items;
    if (want <= 0)
        return 0;
    struct mz_prior_scales scales = mz_model_prior_scales(model);
    /* Read before out is written: out may be the model's own list. */
    float floor = popular_floor(model, &scales, want);
    int32_t ranked =
        rank_from_floor(model, &scales, floor, want, out, &short_of_floor);
    if (short_of_floor)
        ranked = rank_from_floor(model, &scales, -INFINITY, want, out,
                                 &short_of_floor);
    return ranked;
}

void mz_model_install_popular(struct mz_model *model, const int32_t *items,
                              int32_t n)
{
    model->popular_due = false;
    if (n < 0 || !mz_model_set_popular(model, items, n))
        model->n_popular = 0;
}

void mz_model_defer_popular(struct mz_model *model, bool defer)
{
    model->popular_deferred = defer;
}

bool mz_model_popular_due(const struct mz_model *model)
{
    return model->popular_due;
}

void mz_model_refresh_popular(struct mz_model *model)
{
    if (!popular_is_due(model))
        return;
    if (model->popular_deferred) {
        model->popular_due = true;
        return;
    }
    /* The list being replaced gives the rebuild its floor. */
    if (!popular_reserve(model)) {
        model->n_popular = 0;
        return;
    }
    int32_t n = mz_model_rank_popular(model, model->popular);
    model->n_popular = n > 0 ? n : 0;
}
