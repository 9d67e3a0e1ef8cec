/*-------------------------------------------------------------------------
 * client_table.c
 *    Open-addressing hash table of client entries.
 *
 * Linear probing over a power-of-two array of entry pointers, resized at
 * 70% load. Removal uses backward-shift deletion, so there are no
 * tombstones and lookups stay short after many deletions.
 *-------------------------------------------------------------------------
 */
#include "model/client_table.h"

#include <stdlib.h>
#include <string.h>

struct mz_client_table {
    const struct mz_model *model;    /* borrowed */
    struct mz_client_entry **slots;  /* owned array; entries owned */
    size_t capacity;                 /* power of two */
    size_t count;
};

/* FNV-1a: short keys, good spread, no dependencies. */
static uint64_t hash_id(const char *id)
{
    uint64_t h = 1469598103934665603ULL;
    for (const unsigned char *p = (const unsigned char *)id; *p; p++) {
        h ^= *p;
        h *= 1099511628211ULL;
    }
    return h;
}

static void entry_free(struct mz_client_entry *entry)
{
    if (!entry)
        return;
    mz_client_free(entry->memory);
    mz_client_facts_free(entry->facts);
    free(entry->client_id);
    free(entry->tier);
    free(entry->region);
    pthread_mutex_destroy(&entry->impressions_lock);
    free(entry);
}

static struct mz_client_entry *entry_new(const struct mz_model *model,
                                         const char *client_id)
{
    struct mz_client_entry *entry = calloc(1, sizeof *entry);
    if (!entry)
        return NULL;
    pthread_mutex_init(&entry->impressions_lock, NULL);
    entry->client_id = strdup(client_id);
    entry->memory = mz_client_new(model);
    entry->facts = mz_client_facts_new();
    entry->consent = true;
    if (!entry->client_id || !entry->memory || !entry->facts) {
        entry_free(entry);
        return NULL;
    }
    return entry;
}

struct mz_client_table *mz_client_table_new(const struct mz_model *model)
{
    struct mz_client_table *table = calloc(1, sizeof *table);
    if (!table)
        return NULL;
    table->model = model;
    table->capacity = 1024;
    table->slots = calloc(table->capacity, sizeof *table->slots);
    if (!table->slots) {
        free(table);
        return NULL;
    }
    return table;
}

void mz_client_table_free(struct mz_client_table *table)
{
    if (!table)
        return;
    for (size_t i = 0; i < table->capacity; i++)
        entry_free(table->slots[i]);
    free(table->slots);
    free(table);
}

/* Returns the slot holding client_id, or the empty slot where it would
 * go. */
static size_t find_slot(const struct mz_client_table *table,
                        const char *client_id)
{
    size_t mask = table->capacity - 1;
    size_t i = hash_id(client_id) & mask;
    while (table->slots[i] && strcmp(table->slots[i]->client_id, client_id) != 0)
        i = (i + 1) & mask;
    return i;
}

static bool grow(struct mz_client_table *table)
{
    size_t new_capacity = table->capacity * 2;
    struct mz_client_entry **old = table->slots;
    size_t old_capacity = table->capacity;
    struct mz_client_entry **slots = calloc(new_capacity, sizeof *slots);
    if (!slots)
        return false;
    table->slots = slots;
    table->capacity = new_capacity;
    for (size_t i = 0; i < old_capacity; i++)
        if (old[i])
            table->slots[find_slot(table, old[i]->client_id)] = old[i];
    free(old);
    return true;
}

struct mz_client_entry *mz_client_table_get(const struct mz_client_table *table,
                                            const char *client_id)
{
    return table->slots[find_slot(table, client_id)];
}

struct mz_client_entry *mz_client_table_get_or_add(struct mz_client_table *table,
                                                   const char *client_id)
{
    size_t slot = find_slot(table, client_id);
    if (table->slots[slot])
        return table->slots[slot];
    if ((table->count + 1) * 10 > table->capacity * 7) {
        if (!grow(table))
            return NULL;
        slot = find_slot(table, client_id);
    }
    struct mz_client_entry *entry = entry_new(table->model, client_id);
    if (!entry)
        return NULL;
    table->slots[slot] = entry;
    table->count++;
    return entry;
}

bool mz_client_table_remove(struct mz_client_table *table, const char *client_id)
{
    size_t mask = table->capacity - 1;
    size_t hole = find_slot(table, client_id);
    if (!table->slots[hole])
        return false;
    entry_free(table->slots[hole]);
    table->slots[hole] = NULL;
    table->count--;
    /* Backward shift: move later members of the probe run into the hole
     * when their home slot does not lie cyclically in (hole, i]. */
    for (size_t i = (hole + 1) & mask; table->slots[i]; i = (i + 1) & mask) {
        size_t home = hash_id(table->slots[i]->client_id) & mask;
        bool home_in_range = hole <= i ? (home > hole && home <= i)
                                       : (home > hole || home <= i);
        if (!home_in_range) {
            table->slots[hole] = table->slots[i];
            table->slots[i] = NULL;
            hole = i;
        }
    }
    return true;
}

size_t mz_client_table_count(const struct mz_client_table *table)
{
    return table->count;
}

struct mz_client_entry *mz_client_table_next(const struct mz_client_table *table,
                                             size_t *cursor)
{
    while (*cursor < table->capacity) {
        struct mz_client_entry *entry = table->slots[(*cursor)++];
        if (entry)
            return entry;
    }
    return NULL;
}

static bool replace_string(char **field, const char *value)
{
    char *copy = NULL;
    if (value && !(copy = strdup(value)))
        return false;
    free(*field);
    *field = copy;
    return true;
}

bool mz_client_entry_set_attributes(struct mz_client_entry *entry,
                                    const char *tier, const char *region)
{
    char *old_tier = entry->tier ? strdup(entry->tier) : NULL;
    if (entry->tier && !old_tier)
        return false;
    if (!replace_string(&entry->tier, tier)) {
        free(old_tier);
        return false;
    }
    if (!replace_string(&entry->region, region)) {
        free(entry->tier);
        entry->tier = old_tier;
        return false;
    }
    free(old_tier);
    return true;
}
