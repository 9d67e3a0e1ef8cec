/*-------------------------------------------------------------------------
 * topk.h
 *    Top-k selection: the k best (score, index) pairs, best first, in the
 *    one order of the tree (higher score first, then lower index), over
 *    a dense score array or a stream of candidates.
 *
 * mz_topk serves a score array with an optional mask (the evaluator, the
 * client profile); struct mz_topk_heap serves a caller that tests its
 * candidates as it goes (the rules' selection), and is what mz_topk runs
 * on, so both rank alike.
 *
 * Interface routines:
 *    mz_topk                 - the k best entries of a score array
 *    mz_topk_heap_init       - an empty bounded heap in the caller's arrays
 *    mz_topk_heap_admits_ascending - would the next candidate of an
 *                              ascending scan be kept
 *    mz_topk_heap_offer      - offer one candidate
 *    mz_topk_heap_sort       - the kept candidates, best first
 *-------------------------------------------------------------------------
 */
#ifndef MZ_TOPK_H
#define MZ_TOPK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Writes the (at most k) best entries of scores[0..n-1] into
 * out_items[0..] and out_scores[0..] (both borrowed, room for k each;
 * out_scores may be NULL), best first, and returns how many were written
 * (0 when out_scores is NULL, k > 256 and a scratch buffer cannot be
 * allocated).
 * Higher is better; equal scores are ordered by lower index, so the result
 * is deterministic. allowed (borrowed, n bytes; NULL: everything allowed)
 * excludes entries whose byte is 0. Entries scored -INFINITY or NaN are
 * never returned, so the result may be shorter than k even when n >= k. */
size_t mz_topk(const float *scores, size_t n, const uint8_t *allowed, size_t k,
               int32_t *out_items, float *out_scores);

/* The best cap candidates offered so far, as a min-heap whose root
 * (items[0], scores[0]) ranks last among them, kept in the caller's
 * arrays. Fields are read-only for the caller; len is how many are
 * kept. */
struct mz_topk_heap {
    int32_t *items; /* borrowed, room for cap */
    float *scores;  /* borrowed, room for cap */
    size_t len;
    size_t cap;
};

/* Makes heap empty, keeping at most cap candidates in items[0..cap-1]
 * and scores[0..cap-1] (borrowed, written by offers; cap may be 0: then
 * nothing is ever kept). */
void mz_topk_heap_init(struct mz_topk_heap *heap, int32_t *items, float *scores,
                       size_t cap);

/* For a scan that offers indices in ascending order (each above every
 * index offered before): returns whether offering the next one with
 * score now would keep it. While the heap has room, always; then only a
 * strictly higher score than the root's, since a later index loses a
 * tie; a NaN score is never kept. Inline and one comparison: a scan asks
 * it of every candidate before testing anything dearer. */
static inline bool mz_topk_heap_admits_ascending(
    const struct mz_topk_heap *heap, float score)
{
    if (heap->len < heap->cap)
        return true;
    if (heap->cap == 0)
        return false;
    return score > heap->scores[0];
}

/* Offers (score, index): kept while the heap has room, then when it
 * ranks before the root, which it pushes out. score must not be NaN;
 * -INFINITY is an ordinary score here (mz_topk skips it, the rules keep
 * it). Offering an index twice keeps it twice. */
void mz_topk_heap_offer(struct mz_topk_heap *heap, float score, int32_t index);

/* Sorts the kept candidates best first into items[0..len-1] and
 * scores[0..len-1] and returns len. The arrays are then no longer a
 * heap: init again before offering more. */
size_t mz_topk_heap_sort(struct mz_topk_heap *heap);

#endif
