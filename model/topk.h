/*-------------------------------------------------------------------------
 * topk.h
 *    Top-k selection over a dense score array, with an optional mask of
 *    allowed entries.
 *
 * Interface routines:
 *    mz_topk - the k best (score, index) pairs, best first
 *-------------------------------------------------------------------------
 */
#ifndef MZ_TOPK_H
#define MZ_TOPK_H

#include <stddef.h>
#include <stdint.h>

/* Writes the (at most k) best entries of scores[0..n-1] into
 * out_items[0..] and out_scores[0..] (both borrowed, room for k each;
 * out_scores may be NULL), best first, and returns how many were written
 * (0 when out_scores is NULL, k > 256 and a scratch buffer cannot be
 * allocated).
 * Higher is better; equal scores are ordered by lower index, so the result
 * is deterministic. allowed (borrowed, n bytes; NULL: everything allowed)
 * excludes entries whose byte is 0. Entries scored -INFINITY or NaN
 * (retired items) are never returned, so the result may be shorter than k
 * even when n >= k. */
size_t mz_topk(const float *scores, size_t n, const uint8_t *allowed,
               size_t k, int32_t *out_items, float *out_scores);

#endif
