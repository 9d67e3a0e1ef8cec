/*-------------------------------------------------------------------------
 * baselines.c
 *    The methods our model must beat, scored on the very same cases:
 *    popularity (all time and recent), sequential rules and item-kNN as
 *    defined by Ludewig & Jannach ("Evaluation of session-based
 *    recommendation algorithms", 2018), learned online like our model.
 *
 * Every baseline keeps each client's history (the query input, which is
 * updated even when learning is frozen) and shared statistics (counts,
 * rules, co-occurrences: the "global level", frozen with learn_global).
 * Rules and co-occurrences are sparse rows, one open-addressing map per
 * item, so memory follows the pairs actually seen. Items with no rule
 * score by popularity scaled far below any rule, which is how SR and
 * item-kNN are "filled with popularity".
 *-------------------------------------------------------------------------
 */
#include "tests/eval/eval.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SR_MAX_STEPS 10 /* Ludewig & Jannach's default */
#define HISTORY_SCAN                                                           \
    100                         /* co-occurrence with at most this many        \
                                   previous events of the client */
#define POP_RECENT_WINDOW 10000 /* events counted by pop_recent */
#define FILL_SCALE                                                             \
    1e-7f /* popularity fill, below any rule:                                  \
             the smallest cosine is ~1/clients */

struct sparse_row {
    int32_t *keys; /* owned; -1 = empty slot */
    float *vals;   /* owned */
    uint32_t cap;  /* power of two, or 0 */
    uint32_t count;
};

struct client_history {
    int32_t *items; /* owned, in event order */
    uint32_t count, cap;
};

struct baseline {
    enum mz_eval_baseline_variant variant;
    int32_t n_items, n_clients;
    float *pop; /* owned: count per item */
    float pop_max;
    int32_t *window; /* owned ring of recent items (pop_recent) */
    size_t window_pos, window_fill;
    struct client_history *history; /* owned, per client */
    size_t history_bytes;           /* sum of the histories' capacity */
    struct sparse_row *rows;        /* owned, per item: rules or co-counts */
    float *clients_with_item;       /* owned (iknn): clients whose history
                                       contains the item */
};

static uint32_t slot_of(int32_t key, uint32_t mask)
{
    return ((uint32_t)key * 2654435761u) & mask;
}

static bool row_grow(struct sparse_row *row)
{
    uint32_t cap = row->cap ? row->cap * 2 : 8;
    int32_t *keys = malloc(cap * sizeof(*keys));
    float *vals = malloc(cap * sizeof(*vals));
    if (!keys || !vals) {
        free(keys);
        free(vals);
        return false;
    }
    memset(keys, 0xff, cap * sizeof(*keys));
    for (uint32_t i = 0; i < row->cap; i++) {
        if (row->keys[i] < 0)
            continue;
        uint32_t pos = slot_of(row->keys[i], cap - 1);
        while (keys[pos] >= 0)
            pos = (pos + 1) & (cap - 1);
        keys[pos] = row->keys[i];
        vals[pos] = row->vals[i];
    }
    free(row->keys);
    free(row->vals);
    row->keys = keys;
    row->vals = vals;
    row->cap = cap;
    return true;
}

/* Adds delta to row[key]; false on allocation failure (row unchanged). */
static bool row_add(struct sparse_row *row, int32_t key, float delta)
{
    if ((row->count + 1) * 4 > row->cap * 3 && !row_grow(row))
        return false;
    uint32_t mask = row->cap - 1;
    uint32_t pos = slot_of(key, mask);
    while (row->keys[pos] >= 0 && row->keys[pos] != key)
        pos = (pos + 1) & mask;
    if (row->keys[pos] < 0) {
        row->keys[pos] = key;
        row->vals[pos] = 0.0f;
        row->count++;
    }
    row->vals[pos] += delta;
    return true;
}

static void *baseline_create(const struct mz_eval_method *method,
                             const struct mz_eval_data *data,
                             const struct mz_eval_options *opt,
                             int32_t n_clients, char *err, size_t err_len)
{
    (void)opt; /* --set tunes our model only */
    struct baseline *b = calloc(1, sizeof(*b));
    if (!b)
        goto nomem;
    b->variant = (enum mz_eval_baseline_variant)method->variant;
    b->n_items = mz_intern_count(data->items);
    b->n_clients = n_clients;
    b->pop = calloc((size_t)b->n_items, sizeof(*b->pop));
    b->history = calloc((size_t)n_clients, sizeof(*b->history));
    if (!b->pop || !b->history)
        goto nomem;
    if (b->variant == MZ_EVAL_POP_RECENT) {
        b->window = malloc(POP_RECENT_WINDOW * sizeof(*b->window));
        if (!b->window)
            goto nomem;
    }
    if (b->variant == MZ_EVAL_SR || b->variant == MZ_EVAL_IKNN) {
        b->rows = calloc((size_t)b->n_items, sizeof(*b->rows));
        if (!b->rows)
            goto nomem;
    }
    if (b->variant == MZ_EVAL_IKNN) {
        b->clients_with_item =
            calloc((size_t)b->n_items, sizeof(*b->clients_with_item));
        if (!b->clients_with_item)
            goto nomem;
    }
    return b;
nomem:
    snprintf(err, err_len, "%s: out of memory", method->name);
    mz_eval_baseline_ops.free_state(b);
    return NULL;
}

static void count_pop(struct baseline *b, int32_t item)
{
    if (b->variant == MZ_EVAL_POP_RECENT) {
        if (b->window_fill == POP_RECENT_WINDOW)
            b->pop[b->window[b->window_pos]] -= 1.0f;
        else
            b->window_fill++;
        b->window[b->window_pos] = item;
        b->window_pos = (b->window_pos + 1) % POP_RECENT_WINDOW;
    }
    b->pop[item] += 1.0f;
    if (b->pop[item] > b->pop_max)
        b->pop_max = b->pop[item];
}

/* Learns rules or co-occurrences of item with the client's history h
 * (before item is appended). Allocation failures drop one pair: the
 * evaluator reports, it does not serve. */
static void learn_pairs(struct baseline *b, const struct client_history *h,
                        int32_t item)
{
    if (b->variant == MZ_EVAL_SR) {
        for (uint32_t d = 1; d <= SR_MAX_STEPS && d <= h->count; d++) {
            int32_t prev = h->items[h->count - d];
            if (prev != item)
                (void)row_add(&b->rows[prev], item, 1.0f / (float)d);
        }
        return;
    }
    uint32_t from = h->count > HISTORY_SCAN ? h->count - HISTORY_SCAN : 0;
    for (uint32_t k = from; k < h->count; k++)
        if (h->items[k] == item)
            return; /* already in this client's history: counted before */
    b->clients_with_item[item] += 1.0f;
    for (uint32_t k = from; k < h->count; k++) {
        int32_t prev = h->items[k];
        bool seen = false;
        for (uint32_t m = from; m < k && !seen; m++)
            seen = (h->items[m] == prev);
        if (seen)
            continue;
        (void)row_add(&b->rows[prev], item, 1.0f);
        (void)row_add(&b->rows[item], prev, 1.0f);
    }
}

static void baseline_observe(void *state, const struct mz_eval_event *ev,
                             bool learn_global)
{
    struct baseline *b = state;
    struct client_history *h = &b->history[ev->client];

    if (ev->item < 0)
        return;
    if (learn_global) {
        count_pop(b, ev->item);
        if (b->rows)
            learn_pairs(b, h, ev->item);
    }
    if (b->variant == MZ_EVAL_POP || b->variant == MZ_EVAL_POP_RECENT)
        return; /* popularity needs no client state */
    if (h->count == h->cap) {
        uint32_t cap = h->cap ? h->cap * 2 : 8;
        int32_t *items = realloc(h->items, cap * sizeof(*items));
        if (!items)
            return;
        b->history_bytes += (cap - h->cap) * sizeof(*items);
        h->items = items;
        h->cap = cap;
    }
    h->items[h->count++] = ev->item;
}

static void baseline_score(void *state, int32_t client, int64_t now_ts,
                           float *scores)
{
    struct baseline *b = state;
    float fill = FILL_SCALE / (b->pop_max + 1.0f);

    for (int32_t i = 0; i < b->n_items; i++)
        scores[i] = b->pop[i] * fill;
    if (!b->rows)
        return;
    const struct client_history *h = &b->history[client];
    if (h->count == 0)
        return;
    int32_t last = h->items[h->count - 1];
    const struct sparse_row *row = &b->rows[last];
    for (uint32_t k = 0; k < row->cap; k++) {
        int32_t item = row->keys[k];
        if (item < 0)
            continue;
        float w = row->vals[k];
        if (b->variant == MZ_EVAL_IKNN)
            w /= sqrtf(b->clients_with_item[last] * b->clients_with_item[item]);
        scores[item] += w;
    }
}

static void baseline_reset_client(void *state, int32_t client)
{
    struct baseline *b = state;
    b->history[client].count = 0;
}

static size_t baseline_bytes_per_client(const void *state)
{
    const struct baseline *b = state;
    return sizeof(struct client_history) +
           b->history_bytes / (size_t)(b->n_clients ? b->n_clients : 1);
}

static void baseline_free(void *state)
{
    struct baseline *b = state;
    if (!b)
        return;
    if (b->rows) {
        for (int32_t i = 0; i < b->n_items; i++) {
            free(b->rows[i].keys);
            free(b->rows[i].vals);
        }
    }
    if (b->history) {
        for (int32_t c = 0; c < b->n_clients; c++)
            free(b->history[c].items);
    }
    free(b->rows);
    free(b->clients_with_item);
    free(b->history);
    free(b->window);
    free(b->pop);
    free(b);
}

const struct mz_eval_method_ops mz_eval_baseline_ops = {
    .create = baseline_create,
    .observe = baseline_observe,
    .score = baseline_score,
    .reset_client = baseline_reset_client,
    .bytes_per_client = baseline_bytes_per_client,
    .free_state = baseline_free,
};
