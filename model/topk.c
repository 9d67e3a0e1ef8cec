/*-------------------------------------------------------------------------
 * topk.c
 *    Top-k selection with a bounded min-heap.
 *
 * One pass over the candidates keeps the k best seen so far in a heap
 * whose root is the worst of them, so most candidates cost one
 * comparison against the root. The heap lives in the caller's arrays, so
 * no memory is allocated; a final heap sort puts it best first. The order
 * (higher score, then lower index) is total on non-NaN scores, so the
 * kept set and its order do not depend on the order of the offers.
 *
 * Interface routines: see topk.h.
 *-------------------------------------------------------------------------
 */
#include "model/topk.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

/* The total order of results: higher score first, then lower index. */
static bool ranks_before(float score_a, int32_t item_a, float score_b,
                         int32_t item_b)
{
    if (score_a != score_b)
        return score_a > score_b;
    return item_a < item_b;
}

/* Restores the heap property below slot: the root is the entry that ranks
 * last, every parent ranks after its children. The entry at slot sinks
 * through a hole (children move up, it is written once), which halves
 * the stores of swapping. */
static void sift_down(int32_t *items, float *scores, size_t len, size_t slot)
{
    int32_t item = items[slot];
    float score = scores[slot];

    for (;;) {
        size_t child = 2 * slot + 1;

        if (child >= len)
            break;
        /* The child that ranks last. */
        if (child + 1 < len &&
            ranks_before(scores[child], items[child], scores[child + 1],
                         items[child + 1]))
            child++;
        if (!ranks_before(score, item, scores[child], items[child]))
            break;
        items[slot] = items[child];
        scores[slot] = scores[child];
        slot = child;
    }
    items[slot] = item;
    scores[slot] = score;
}

/* Moves the entry at slot up past every parent that ranks before it. */
static void sift_up(int32_t *items, float *scores, size_t slot)
{
    int32_t item = items[slot];
    float score = scores[slot];

    while (slot > 0) {
        size_t parent = (slot - 1) / 2;

        if (!ranks_before(scores[parent], items[parent], score, item))
            break;
        items[slot] = items[parent];
        scores[slot] = scores[parent];
        slot = parent;
    }
    items[slot] = item;
    scores[slot] = score;
}

void mz_topk_heap_init(struct mz_topk_heap *heap, int32_t *items, float *scores,
                       size_t cap)
{
    heap->items = items;
    heap->scores = scores;
    heap->len = 0;
    heap->cap = cap;
}

void mz_topk_heap_offer(struct mz_topk_heap *heap, float score, int32_t index)
{
    if (heap->len < heap->cap) {
        heap->items[heap->len] = index;
        heap->scores[heap->len] = score;
        sift_up(heap->items, heap->scores, heap->len);
        heap->len++;
        return;
    }
    /* Invariant: the root ranks last among the len kept entries. */
    if (heap->cap == 0 ||
        !ranks_before(score, index, heap->scores[0], heap->items[0]))
        return;
    heap->items[0] = index;
    heap->scores[0] = score;
    sift_down(heap->items, heap->scores, heap->len, 0);
}

size_t mz_topk_heap_sort(struct mz_topk_heap *heap)
{
    int32_t *items = heap->items;
    float *scores = heap->scores;

    /* Heap sort: repeatedly move the worst to the end of the array. */
    for (size_t end = heap->len; end > 1; end--) {
        int32_t item = items[0];
        float score = scores[0];
        items[0] = items[end - 1];
        scores[0] = scores[end - 1];
        items[end - 1] = item;
        scores[end - 1] = score;
        sift_down(items, scores, end - 1, 0);
    }
    return heap->len;
}

size_t mz_topk(const float *scores, size_t n, const uint8_t *allowed, size_t k,
               int32_t *out_items, float *out_scores)
{
    if (k == 0 || n == 0)
        return 0;
    if (k > n)
        k = n;
    if (!out_scores) {
        /* The heap needs the kept scores next to the kept items. */
        float small[256];
        float *heap_scores = k <= 256 ? small : malloc(k * sizeof(float));
        size_t len = 0;

        if (heap_scores)
            len = mz_topk(scores, n, allowed, k, out_items, heap_scores);
        if (heap_scores != small)
            free(heap_scores);
        return len;
    }

    struct mz_topk_heap heap;
    mz_topk_heap_init(&heap, out_items, out_scores, k);
    for (size_t i = 0; i < n; i++) {
        float s = scores[i];

        if (allowed && !allowed[i])
            continue;
        if (isnan(s) || s == -INFINITY)
            continue;
        if (mz_topk_heap_admits_ascending(&heap, s))
            mz_topk_heap_offer(&heap, s, (int32_t)i);
    }
    return mz_topk_heap_sort(&heap);
}
