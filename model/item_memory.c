/*-------------------------------------------------------------------------
 * item_memory.c
 *    A client level's fixed-size memory of weighted items.
 *
 * Interface routines: see item_memory.h.
 *
 * Slots stay in insertion order (removal shifts the later ones down), so
 * "the weakest, oldest of equals" is the first minimum found.
 *-------------------------------------------------------------------------
 */
#include "model/item_memory.h"

#include <string.h>

void mz_item_memory_clear(struct mz_item_memory *m)
{
    memset(m, 0, sizeof *m);
}

static int find_slot(const struct mz_item_memory *m, int32_t item)
{
    for (int s = 0; s < m->count; s++)
        if (m->item[s] == item)
            return s;
    return -1;
}

static void remove_slot(struct mz_item_memory *m, int slot)
{
    int after = m->count - slot - 1;

    memmove(&m->item[slot], &m->item[slot + 1],
            (size_t)after * sizeof m->item[0]);
    memmove(&m->weight[slot], &m->weight[slot + 1],
            (size_t)after * sizeof m->weight[0]);
    m->count--;
}

void mz_item_memory_add(struct mz_item_memory *m, int32_t item, float weight)
{
    if (!(weight > 0.0f))
        return;
    int slot = find_slot(m, item);
    if (slot >= 0) {
        m->weight[slot] += weight;
        return;
    }
    if (m->count == MZ_ITEM_MEMORY_SLOTS) {
        int weakest = 0;
        for (int s = 1; s < m->count; s++)
            if (m->weight[s] < m->weight[weakest])
                weakest = s;
        if (m->weight[weakest] > weight)
            return;
        remove_slot(m, weakest);
    }
    m->item[m->count] = item;
    m->weight[m->count] = weight;
    m->count++;
}

void mz_item_memory_weaken(struct mz_item_memory *m, int32_t item, float amount)
{
    int slot = find_slot(m, item);

    if (slot < 0 || !(amount > 0.0f))
        return;
    m->weight[slot] -= amount;
    if (!(m->weight[slot] > 0.0f))
        remove_slot(m, slot);
}

void mz_item_memory_scale(struct mz_item_memory *m, float factor)
{
    if (factor == 1.0f)
        return;
    for (int s = m->count - 1; s >= 0; s--) {
        m->weight[s] *= factor;
        if (!(m->weight[s] > 0.0f))
            remove_slot(m, s);
    }
}

void mz_item_memory_merge(struct mz_item_memory *m, float keep,
                          const struct mz_item_memory *other, float share)
{
    mz_item_memory_scale(m, keep);
    for (int s = 0; s < other->count; s++)
        mz_item_memory_add(m, other->item[s], share * other->weight[s]);
}

float mz_item_memory_get(const struct mz_item_memory *m, int32_t item)
{
    int slot = find_slot(m, item);

    return slot >= 0 ? m->weight[slot] : 0.0f;
}

float mz_item_memory_total(const struct mz_item_memory *m)
{
    float total = 0.0f;

    for (int s = 0; s < m->count; s++)
        total += m->weight[s];
    return total;
}
