/*-------------------------------------------------------------------------
 * hash.c
 *    FNV-1a 64 and the string-keyed hash table.
 *
 * Linear probing over a power-of-two array of slots, at most half full
 * so that probes stay short (every table this one replaced was kept at
 * that load or below). Each slot keeps its key's full hash, so growing
 * never rehashes a string and a probe compares strings only when the
 * hashes agree. Removal shifts the rest of the probe run back instead
 * of leaving tombstones, so lookups stay short after many removals.
 *
 * Interface routines: see hash.h.
 *-------------------------------------------------------------------------
 */
#include "model/hash.h"

#include <stdlib.h>
#include <string.h>

#define FNV_OFFSET_BASIS 0xcbf29ce484222325ULL
#define FNV_PRIME        0x100000001b3ULL

/* Slots of a table's first allocation. */
#define MIN_SLOTS 16

uint64_t mz_hash_bytes(const void *bytes, size_t len)
{
    const unsigned char *p = bytes;
    uint64_t h = FNV_OFFSET_BASIS;

    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= FNV_PRIME;
    }
    return h;
}

uint64_t mz_hash_string(const char *s)
{
    uint64_t h = FNV_OFFSET_BASIS;

    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        h ^= *p;
        h *= FNV_PRIME;
    }
    return h;
}

struct slot {
    char *key;     /* owned copy; NULL: empty */
    uint64_t hash; /* mz_hash_string(key) */
    union mz_hash_value value;
};

struct mz_hash_table {
    struct slot *slots; /* owned, cap entries; NULL while cap 0 */
    size_t cap;         /* a power of two, or 0 */
    size_t count;
};

struct mz_hash_table *mz_hash_table_new(void)
{
    return calloc(1, sizeof(struct mz_hash_table));
}

void mz_hash_table_free(struct mz_hash_table *table)
{
    if (!table)
        return;
    for (size_t i = 0; i < table->cap; i++)
        free(table->slots[i].key);
    free(table->slots);
    free(table);
}

/* The slot holding key, or the empty slot that ends its probe run.
 * Requires cap > 0; terminates because the table is never full. */
static struct slot *find_slot(const struct mz_hash_table *table,
                              const char *key, uint64_t hash)
{
    size_t mask = table->cap - 1;

    for (size_t i = (size_t)hash & mask;; i = (i + 1) & mask) {
        struct slot *slot = &table->slots[i];
        if (!slot->key || (slot->hash == hash && strcmp(slot->key, key) == 0))
            return slot;
    }
}

bool mz_hash_table_get(const struct mz_hash_table *table, const char *key,
                       union mz_hash_value *value)
{
    if (table->cap == 0 || !key)
        return false;
    const struct slot *slot = find_slot(table, key, mz_hash_string(key));
    if (!slot->key)
        return false;
    if (value)
        *value = slot->value;
    return true;
}

int32_t mz_hash_table_get_index(const struct mz_hash_table *table,
                                const char *key)
{
    union mz_hash_value value;

    return mz_hash_table_get(table, key, &value) ? value.index : -1;
}

/* Doubles the slots (or makes the first ones), moving every entry; false
 * (table unchanged) when out of memory. */
static bool grow(struct mz_hash_table *table)
{
    size_t cap = table->cap ? table->cap * 2 : MIN_SLOTS;

    if (cap > SIZE_MAX / sizeof(struct slot))
        return false;
    struct slot *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return false;
    struct mz_hash_table old = *table;
    table->slots = slots;
    table->cap = cap;
    for (size_t i = 0; i < old.cap; i++) {
        if (!old.slots[i].key)
            continue;
        size_t mask = cap - 1;
        size_t at = (size_t)old.slots[i].hash & mask;
        while (slots[at].key)
            at = (at + 1) & mask;
        slots[at] = old.slots[i];
    }
    free(old.slots);
    return true;
}

const char *mz_hash_table_put(struct mz_hash_table *table, const char *key,
                              union mz_hash_value value)
{
    uint64_t hash = mz_hash_string(key);

    if (table->cap > 0) {
        struct slot *slot = find_slot(table, key, hash);
        if (slot->key) {
            slot->value = value;
            return slot->key;
        }
    }
    /* Invariant: count <= cap / 2 after every put. */
    if ((table->count + 1) * 2 > table->cap && !grow(table))
        return NULL;
    char *copy = strdup(key);
    if (!copy)
        return NULL;
    struct slot *slot = find_slot(table, key, hash);
    slot->key = copy;
    slot->hash = hash;
    slot->value = value;
    table->count++;
    return copy;
}

bool mz_hash_table_remove(struct mz_hash_table *table, const char *key,
                          union mz_hash_value *old)
{
    if (table->cap == 0 || !key)
        return false;
    struct slot *slot = find_slot(table, key, mz_hash_string(key));
    if (!slot->key)
        return false;
    if (old)
        *old = slot->value;
    free(slot->key);

    /* Backward shift: walk the probe run after the hole; an entry whose
     * probe path from its home slot passes through the hole moves into
     * it, and its old slot becomes the hole. The run's first empty slot
     * ends the walk, so every remaining key is still reachable from its
     * home without crossing an empty slot. */
    size_t mask = table->cap - 1;
    size_t hole = (size_t)(slot - table->slots);
    for (size_t j = (hole + 1) & mask; table->slots[j].key;
         j = (j + 1) & mask) {
        size_t home = (size_t)table->slots[j].hash & mask;
        if (((j - home) & mask) >= ((j - hole) & mask)) {
            table->slots[hole] = table->slots[j];
            hole = j;
        }
    }
    table->slots[hole].key = NULL;
    table->count--;
    return true;
}

void mz_hash_table_clear(struct mz_hash_table *table)
{
    for (size_t i = 0; i < table->cap; i++) {
        free(table->slots[i].key);
        table->slots[i].key = NULL;
    }
    table->count = 0;
}

size_t mz_hash_table_count(const struct mz_hash_table *table)
{
    return table->count;
}

bool mz_hash_table_next(const struct mz_hash_table *table, size_t *cursor,
                        const char **key, union mz_hash_value *value)
{
    for (size_t i = *cursor; i < table->cap; i++) {
        if (!table->slots[i].key)
            continue;
        if (key)
            *key = table->slots[i].key;
        if (value)
            *value = table->slots[i].value;
        *cursor = i + 1;
        return true;
    }
    *cursor = table->cap;
    return false;
}
