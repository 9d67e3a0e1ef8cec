/*-------------------------------------------------------------------------
 * topk.c
 *    Top-k selection with a bounded min-heap.
 *
 * One pass over the scores keeps the k best seen so far in a heap whose
 * root is the worst of them, so most entries cost one comparison against
 * the root. The heap lives in the caller's output arrays, so no memory is
 * allocated; a final heap sort puts it best first.
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
 * last, every parent ranks after its children. */
static void sift_down(int32_t *items, float *scores, size_t len, size_t slot)
{
    for (;;) {
        size_t worst = slot;
        size_t left = 2 * slot + 1;
        size_t right = left + 1;

        if (left < len && ranks_before(scores[worst], items[worst],
                                       scores[left], items[left]))
            worst = left;
        if (right < len && ranks_before(scores[worst], items[worst],
                                        scores[right], items[right]))
            worst = right;
        if (worst == slot)
            return;
        int32_t item = items[slot];
        float score = scores[slot];
        items[slot] = items[worst];
        scores[slot] = scores[worst];
        items[worst] = item;
        scores[worst] = score;
        slot = worst;
    }
}

static void sift_up(int32_t *items, float *scores, size_t slot)
{
    while (slot > 0) {
        size_t parent = (slot - 1) / 2;

        if (!ranks_before(scores[parent], items[parent], scores[slot],
                          items[slot]))
            return;
        int32_t item = items[slot];
        float score = scores[slot];
        items[slot] = items[parent];
        scores[slot] = scores[parent];
        items[parent] = item;
        scores[parent] = score;
        slot = parent;
    }
}

size_t mz_topk(const float *scores, size_t n, const uint8_t *allowed,
               size_t k, int32_t *out_items, float *out_scores)
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

    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        float s = scores[i];

        if (allowed && !allowed[i])
            continue;
        if (isnan(s) || s == -INFINITY)
            continue;
        if (len < k) {
            out_items[len] = (int32_t)i;
            out_scores[len] = s;
            sift_up(out_items, out_scores, len);
            len++;
            continue;
        }
        /* Invariant: the root ranks last among the len kept entries. */
        if (!ranks_before(s, (int32_t)i, out_scores[0], out_items[0]))
            continue;
        out_items[0] = (int32_t)i;
        out_scores[0] = s;
        sift_down(out_items, out_scores, len, 0);
    }

    /* Heap sort: repeatedly move the worst to the end of the array. */
    for (size_t end = len; end > 1; end--) {
        int32_t item = out_items[0];
        float score = out_scores[0];
        out_items[0] = out_items[end - 1];
        out_scores[0] = out_scores[end - 1];
        out_items[end - 1] = item;
        out_scores[end - 1] = score;
        sift_down(out_items, out_scores, end - 1, 0);
    }
    return len;
}
