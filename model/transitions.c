/*-------------------------------------------------------------------------
 * transitions.c
 *    Per-source open-addressing tables of successor weights, and per item
 *    the set of its predecessors.
 *
 * A table per source (instead of one global pair table) keeps a source's
 * successors together, so scoring from a recent item reads one small
 * contiguous block, and the common case (a source with a handful of
 * successors) costs a few dozen bytes.
 *
 * The predecessor sets answer mz_transitions_linked from one item's side:
 * whether a -> b or b -> a is stored, reading only a's two sets. The
 * slow-level gate asks it of each slow item against the client's four
 * current items, whose sets stay in cache across the items; reading the
 * slow item's own table instead was two or three dependent cache misses
 * per item (20% of maisond's learner in perf). They cost 4 bytes per
 * stored pair (at most 3/4 full), the successor tables 8.
 *-------------------------------------------------------------------------
 */
#include "model/transitions.h"

#include <stdbool.h>
#include <stdlib.h>

struct successor_table {
    int32_t *items; /* owned, cap slots; -1 = empty */
    float *weights; /* owned, cap slots */
    uint32_t cap;   /* 0 or a power of two */
    uint32_t count;
    float total; /* every weight ever added from this source */
    /* The sources whose tables store this item (as a successor): a set,
     * pred_cap slots (0 or a power of two), -1 = empty. */
    int32_t *pred; /* owned */
    uint32_t pred_cap;
    uint32_t pred_count;
};

struct mz_transitions {
    struct successor_table *tables; /* owned, one per source item */
    int32_t n_items;
    uint32_t max_per_item;
    bool sets_deferred; /* predecessor sets left to
                           mz_transitions_index_predecessors */
};

struct mz_transitions *mz_transitions_new(int32_t n_items,
                                          uint32_t max_per_item)
{
    struct mz_transitions *t = calloc(1, sizeof *t);

    if (!t)
        return NULL;
    t->max_per_item = max_per_item;
    if (!mz_transitions_grow(t, n_items)) {
        free(t);
        return NULL;
    }
    return t;
}

void mz_transitions_free(struct mz_transitions *t)
{
    if (!t)
        return;
    for (int32_t i = 0; i < t->n_items; i++) {
        free(t->tables[i].items);
        free(t->tables[i].weights);
        free(t->tables[i].pred);
    }
    free(t->tables);
    free(t);
}

bool mz_transitions_grow(struct mz_transitions *t, int32_t n_items)
{
    if (n_items <= t->n_items)
        return true;
    struct successor_table *tables =
        realloc(t->tables, (size_t)n_items * sizeof *tables);
    if (!tables)
        return false;
    for (int32_t i = t->n_items; i < n_items; i++)
        tables[i] = (struct successor_table){.items = NULL};
    t->tables = tables;
    t->n_items = n_items;
    return true;
}

static uint32_t slot_of(int32_t item, uint32_t cap)
{
    uint32_t h = (uint32_t)item * 2654435761u;

    return (h ^ (h >> 16)) & (cap - 1);
}

/* The slot of key in keys (cap slots, a power of two, never full; -1 =
 * empty): where key is, or the empty slot where its probe ends. */
static uint32_t probe(const int32_t *keys, uint32_t cap, int32_t key)
{
    uint32_t at = slot_of(key, cap);

    while (keys[at] >= 0 && keys[at] != key)
        at = (at + 1) & (cap - 1);
    return at;
}

/* Returns cap empty slots (caller frees), or NULL. */
static int32_t *new_slots(uint32_t cap)
{
    int32_t *keys = malloc(cap * sizeof *keys);

    for (uint32_t s = 0; keys && s < cap; s++)
        keys[s] = -1;
    return keys;
}

/* Doubles table's capacity, rehashing its entries. */
static bool rehash(struct successor_table *table)
{
    uint32_t cap = table->cap ? table->cap * 2 : 4;
    int32_t *items = new_slots(cap);
    float *weights = malloc(cap * sizeof *weights);

    if (!items || !weights) {
        free(items);
        free(weights);
        return false;
    }
    for (uint32_t s = 0; s < table->cap; s++) {
        if (table->items[s] < 0)
            continue;
        uint32_t at = probe(items, cap, table->items[s]);
        items[at] = table->items[s];
        weights[at] = table->weights[s];
    }
    free(table->items);
    free(table->weights);
    table->items = items;
    table->weights = weights;
    table->cap = cap;
    return true;
}

/* Makes room in table's predecessor set for one more item (at most 3/4
 * full, like the successors); false on allocation failure (set
 * unchanged). */
static bool reserve_pred(struct successor_table *table)
{
    if ((table->pred_count + 1) * 4 <= table->pred_cap * 3)
        return true;
    uint32_t cap = table->pred_cap ? table->pred_cap * 2 : 4;
    int32_t *pred = new_slots(cap);
    if (!pred)
        return false;
    for (uint32_t s = 0; s < table->pred_cap; s++)
        if (table->pred[s] >= 0)
            pred[probe(pred, cap, table->pred[s])] = table->pred[s];
    free(table->pred);
    table->pred = pred;
    table->pred_cap = cap;
    return true;
}

static bool has_pred(const struct successor_table *table, int32_t a)
{
    return table->pred_cap &&
           table->pred[probe(table->pred, table->pred_cap, a)] == a;
}

bool mz_transitions_add(struct mz_transitions *t, int32_t a, int32_t b,
                        float weight)
{
    if (a < 0 || a >= t->n_items || b < 0 || b >= t->n_items)
        return true;
    struct successor_table *table = &t->tables[a];
    table->total += weight;
    if (table->cap) {
        uint32_t at = probe(table->items, table->cap, b);
        if (table->items[at] == b) {
            table->weights[at] += weight;
            return true;
        }
    }
    if (t->max_per_item && table->count >= t->max_per_item)
        return true;
    /* b must be able to name a before a stores b, so that a failure
     * leaves both as they were. */
    struct successor_table *successor = &t->tables[b];
    if (!t->sets_deferred && !reserve_pred(successor))
        return false;
    /* Keep the load at most 3/4 so probes stay short. */
    if ((table->count + 1) * 4 > table->cap * 3 && !rehash(table))
        return false;
    uint32_t at = probe(table->items, table->cap, b);
    table->items[at] = b;
    table->weights[at] = weight;
    table->count++;
    if (!t->sets_deferred) {
        successor->pred[probe(successor->pred, successor->pred_cap, a)] = a;
        successor->pred_count++;
    }
    return true;
}

void mz_transitions_defer_predecessors(struct mz_transitions *t)
{
    t->sets_deferred = true;
}

bool mz_transitions_index_predecessors(struct mz_transitions *t)
{
    struct successor_table *tables = t->tables;

    for (int32_t b = 0; b < t->n_items; b++) {
        free(tables[b].pred);
        tables[b].pred = NULL;
        tables[b].pred_cap = tables[b].pred_count = 0;
    }
    /* Each set sized once for what it will hold, as reserve_pred would
     * leave it (at most 3/4 full), then filled: no set grows. */
    for (int32_t a = 0; a < t->n_items; a++)
        for (uint32_t s = 0; s < tables[a].cap; s++)
            if (tables[a].items[s] >= 0)
                tables[tables[a].items[s]].pred_count++;
    for (int32_t b = 0; b < t->n_items; b++) {
        uint32_t n = tables[b].pred_count;
        if (n == 0)
            continue;
        uint32_t cap = 4;
        while (n * 4 > cap * 3)
            cap *= 2;
        if (!(tables[b].pred = new_slots(cap)))
            return false;
        tables[b].pred_cap = cap;
    }
    for (int32_t a = 0; a < t->n_items; a++)
        for (uint32_t s = 0; s < tables[a].cap; s++) {
            int32_t b = tables[a].items[s];
            if (b >= 0)
                tables[b].pred[probe(tables[b].pred, tables[b].pred_cap, a)] =
                    a;
        }
    t->sets_deferred = false;
    return true;
}

float mz_transitions_get(const struct mz_transitions *t, int32_t a, int32_t b)
{
    if (a < 0 || a >= t->n_items || b < 0)
        return 0.0f;
    const struct successor_table *table = &t->tables[a];
    if (!table->cap)
        return 0.0f;
    uint32_t at = probe(table->items, table->cap, b);
    return table->items[at] == b ? table->weights[at] : 0.0f;
}

void mz_transitions_prefetch_source(const struct mz_transitions *t, int32_t a)
{
    if (a >= 0 && a < t->n_items)
        __builtin_prefetch(&t->tables[a]);
}

bool mz_transitions_linked(const struct mz_transitions *t, int32_t a, int32_t b)
{
    if (a < 0 || a >= t->n_items || b < 0)
        return false;
    const struct successor_table *table = &t->tables[a];
    return mz_transitions_get(t, a, b) > 0.0f || has_pred(table, b);
}

float mz_transitions_total(const struct mz_transitions *t, int32_t a)
{
    if (a < 0 || a >= t->n_items)
        return 0.0f;
    return t->tables[a].total;
}

void mz_transitions_set_total(struct mz_transitions *t, int32_t a, float total)
{
    if (a >= 0 && a < t->n_items)
        t->tables[a].total = total;
}

uint32_t mz_transitions_slots(const struct mz_transitions *t, int32_t a,
                              const int32_t **items, const float **weights)
{
    if (a < 0 || a >= t->n_items) {
        *items = NULL;
        *weights = NULL;
        return 0;
    }
    *items = t->tables[a].items;
    *weights = t->tables[a].weights;
    return t->tables[a].cap;
}
