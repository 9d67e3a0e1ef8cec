/*-------------------------------------------------------------------------
 * item_memory.h
 *    A client level's memory: a small, fixed set of items with weights
 *    (which items this level remembers, and how strongly).
 *
 * The memory holds at most MZ_ITEM_MEMORY_SLOTS items. Adding an item to
 * a full memory drops the weakest one (the oldest of equals), so the
 * memory keeps what its level has reinforced most. Every operation runs
 * in a fixed order over the slots, so a replay gives the same bytes.
 *
 * Ownership: plain value type, no allocation; functions borrow their
 * arguments.
 *
 * Interface routines:
 *    mz_item_memory_clear  - empty memory
 *    mz_item_memory_add    - add weight to an item (insert, maybe evict)
 *    mz_item_memory_weaken - take weight off an item (dropped at zero)
 *    mz_item_memory_scale  - multiply every weight (forgetting, decay)
 *    mz_item_memory_merge  - memory = keep * memory + share * other
 *    mz_item_memory_get    - weight of one item
 *    mz_item_memory_total  - sum of the weights
 *-------------------------------------------------------------------------
 */
#ifndef MZ_ITEM_MEMORY_H
#define MZ_ITEM_MEMORY_H

#include <stdint.h>

#define MZ_ITEM_MEMORY_SLOTS 16

struct mz_item_memory {
    int32_t count;                      /* slots in use, 0..SLOTS */
    int32_t item[MZ_ITEM_MEMORY_SLOTS]; /* slots 0..count-1, oldest
                                           insertion first */
    float weight[MZ_ITEM_MEMORY_SLOTS]; /* > 0 */
};

void mz_item_memory_clear(struct mz_item_memory *m);

/* Adds weight (> 0) to item. A full memory without item drops its
 * weakest slot to make room, unless every slot outweighs the new one (the
 * item is then not remembered). */
void mz_item_memory_add(struct mz_item_memory *m, int32_t item, float weight);

/* Takes amount (> 0) off item's weight; the item is forgotten when its
 * weight reaches zero. */
void mz_item_memory_weaken(struct mz_item_memory *m, int32_t item,
                           float amount);

/* Multiplies every weight by factor (0..1); weights that underflow to
 * zero are dropped. */
void mz_item_memory_scale(struct mz_item_memory *m, float factor);

/* m = keep * m + share * other, slot by slot of other (the CMS
 * consolidation of a chunk into its level). */
void mz_item_memory_merge(struct mz_item_memory *m, float keep,
                          const struct mz_item_memory *other, float share);

float mz_item_memory_get(const struct mz_item_memory *m, int32_t item);
float mz_item_memory_total(const struct mz_item_memory *m);

#endif
