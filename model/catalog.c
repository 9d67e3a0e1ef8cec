/*-------------------------------------------------------------------------
 * catalog.c
 *    The catalog in memory: item records by dense index, a hash from item
 *    id to index, interned brands, categories, regions and tiers so that
 *    the rules compare small integers in their hot loop, the items of
 *    each brand, and the packed summaries the rules scan.
 *
 * Indices are assigned in upsert order and never reused: a removed item
 * stays in its slot, marked retired, because the model's rows are
 * addressed by the same index. Interned names are never forgotten either;
 * their ids are stable for the life of the catalog.
 *
 * Interface routines: see catalog.h.
 *-------------------------------------------------------------------------
 */
#include "model/catalog.h"

#include <stdlib.h>
#include <string.h>

#include "model/hash.h"
#include "model/intern.h"

struct id_list {
    int32_t *ids; /* owned */
    size_t count, cap;
};

struct catalog_slot {
    struct mz_item *item; /* owned */
    int32_t *region_ids;  /* owned; interned item->regions */
    int32_t *tier_ids;    /* owned; interned item->reserved_tiers */
};

struct mz_catalog {
    struct catalog_slot *slots;        /* owned, count used */
    struct mz_item_summary *summaries; /* owned, parallel to slots */
    int32_t count, cap;
    int32_t live;              /* slots not retired */
    struct mz_hash_table *ids; /* owned: item_id -> index */
    struct mz_intern *brands, *categories, *regions, *tiers; /* owned */
    struct id_list *brand_items; /* owned, one per brand id */
    int32_t brand_items_cap;
};

struct mz_catalog *mz_catalog_new(void)
{
    struct mz_catalog *catalog = calloc(1, sizeof(struct mz_catalog));
    if (!catalog)
        return NULL;
    catalog->ids = mz_hash_table_new();
    catalog->brands = mz_intern_new();
    catalog->categories = mz_intern_new();
    catalog->regions = mz_intern_new();
    catalog->tiers = mz_intern_new();
    if (!catalog->ids || !catalog->brands || !catalog->categories ||
        !catalog->regions || !catalog->tiers) {
        mz_catalog_free(catalog);
        return NULL;
    }
    return catalog;
}

static void slot_clear(struct catalog_slot *slot)
{
    mz_item_free(slot->item);
    free(slot->region_ids);
    free(slot->tier_ids);
    memset(slot, 0, sizeof(*slot));
}

void mz_catalog_free(struct mz_catalog *catalog)
{
    if (!catalog)
        return;
    for (int32_t i = 0; i < catalog->count; i++)
        slot_clear(&catalog->slots[i]);
    free(catalog->slots);
    free(catalog->summaries);
    mz_hash_table_free(catalog->ids);
    mz_intern_free(catalog->brands);
    mz_intern_free(catalog->categories);
    mz_intern_free(catalog->regions);
    mz_intern_free(catalog->tiers);
    for (int32_t i = 0; i < catalog->brand_items_cap; i++)
        free(catalog->brand_items[i].ids);
    free(catalog->brand_items);
    free(catalog);
}

/* Interns every string of list into a new array (caller frees); NULL for
 * an empty list, and *ok false on allocation failure. */
static int32_t *intern_list(struct mz_intern *in,
                            const struct mz_string_list *list, bool *ok)
{
    *ok = true;
    if (list->count == 0)
        return NULL;
    int32_t *ids = malloc(list->count * sizeof(*ids));
    if (!ids) {
        *ok = false;
        return NULL;
    }
    for (size_t i = 0; i < list->count; i++) {
        ids[i] = mz_intern_id(in, list->items[i]);
        if (ids[i] < 0) {
            free(ids);
            *ok = false;
            return NULL;
        }
    }
    return ids;
}

/* Makes room for brand id in brand_items. */
static bool ensure_brand_list(struct mz_catalog *catalog, int32_t brand_id)
{
    if (brand_id < catalog->brand_items_cap)
        return true;
    int32_t new_cap = catalog->brand_items_cap ? catalog->brand_items_cap : 16;
    while (new_cap <= brand_id)
        new_cap *= 2;
    struct id_list *lists =
        realloc(catalog->brand_items, (size_t)new_cap * sizeof(*lists));
    if (!lists)
        return false;
    memset(lists + catalog->brand_items_cap, 0,
           (size_t)(new_cap - catalog->brand_items_cap) * sizeof(*lists));
    catalog->brand_items = lists;
    catalog->brand_items_cap = new_cap;
    return true;
}

/* Inserts index into the ascending list. */
static bool id_list_insert(struct id_list *list, int32_t index)
{
    if (list->count == list->cap) {
        size_t new_cap = list->cap ? list->cap * 2 : 8;
        int32_t *ids = realloc(list->ids, new_cap * sizeof(*ids));
        if (!ids)
            return false;
        list->ids = ids;
        list->cap = new_cap;
    }
    size_t pos = list->count;
    while (pos > 0 && list->ids[pos - 1] > index)
        pos--;
    memmove(list->ids + pos + 1, list->ids + pos,
            (list->count - pos) * sizeof(*list->ids));
    list->ids[pos] = index;
    list->count++;
    return true;
}

static void id_list_remove(struct id_list *list, int32_t index)
{
    for (size_t i = 0; i < list->count; i++) {
        if (list->ids[i] == index) {
            memmove(list->ids + i, list->ids + i + 1,
                    (list->count - i - 1) * sizeof(*list->ids));
            list->count--;
            return;
        }
    }
}

static void summarize(const struct mz_item *item, struct mz_item_summary *out)
{
    out->price = item->price;
    out->launch_at = item->launch_at;
    out->end_at = item->end_at;
    out->category_id = item->category_id;
    out->flags = (item->retired ? MZ_ITEM_RETIRED : 0) |
                 (item->available ? 0 : MZ_ITEM_UNAVAILABLE) |
                 (item->stock == 0 ? MZ_ITEM_SOLD_OUT : 0) |
                 (item->has_regions ? MZ_ITEM_HAS_REGIONS : 0) |
                 (item->has_reserved_tiers ? MZ_ITEM_HAS_TIERS : 0);
}

int32_t mz_catalog_upsert(struct mz_catalog *catalog, struct mz_item *item,
                          bool *is_new)
{
    struct catalog_slot fresh = {.item = item};
    bool ok_regions, ok_tiers;
    int32_t index = -1;
    bool created = false;

    if (is_new)
        *is_new = false;
    if (!item || !item->item_id || !item->brand || !item->category)
        goto fail;
    item->brand_id = mz_intern_id(catalog->brands, item->brand);
    item->category_id = mz_intern_id(catalog->categories, item->category);
    if (item->brand_id < 0 || item->category_id < 0 ||
        !ensure_brand_list(catalog, item->brand_id))
        goto fail;
    fresh.region_ids =
        intern_list(catalog->regions, &item->regions, &ok_regions);
    fresh.tier_ids =
        intern_list(catalog->tiers, &item->reserved_tiers, &ok_tiers);
    if (!ok_regions || !ok_tiers)
        goto fail;
    item->retired = false;

    index = mz_hash_table_get_index(catalog->ids, item->item_id);
    if (index < 0) {
        if (catalog->count == catalog->cap) {
            int32_t new_cap = catalog->cap ? catalog->cap * 2 : 64;
            struct catalog_slot *slots =
                realloc(catalog->slots, (size_t)new_cap * sizeof(*slots));
            if (!slots)
                goto fail;
            catalog->slots = slots;
            struct mz_item_summary *summaries = realloc(
                catalog->summaries, (size_t)new_cap * sizeof(*summaries));
            if (!summaries)
                goto fail;
            catalog->summaries = summaries;
            catalog->cap = new_cap;
        }
        index = catalog->count;
        if (!id_list_insert(&catalog->brand_items[item->brand_id], index))
            goto fail;
        if (!mz_hash_table_put(catalog->ids, item->item_id,
                               (union mz_hash_value){.index = index})) {
            id_list_remove(&catalog->brand_items[item->brand_id], index);
            goto fail;
        }
        catalog->count++;
        catalog->live++;
        created = true;
    } else {
        struct catalog_slot *old = &catalog->slots[index];
        if (old->item->brand_id != item->brand_id) {
            if (!id_list_insert(&catalog->brand_items[item->brand_id], index))
                goto fail;
            id_list_remove(&catalog->brand_items[old->item->brand_id], index);
        }
        if (old->item->retired)
            catalog->live++;
        slot_clear(old);
    }
    catalog->slots[index] = fresh;
    summarize(item, &catalog->summaries[index]);
    if (is_new)
        *is_new = created;
    return index;
fail:
    slot_clear(&fresh);
    return -1;
}

int32_t mz_catalog_find(const struct mz_catalog *catalog, const char *item_id)
{
    return mz_hash_table_get_index(catalog->ids, item_id);
}

const struct mz_item *mz_catalog_item(const struct mz_catalog *catalog,
                                      int32_t index)
{
    if (index < 0 || index >= catalog->count)
        return NULL;
    return catalog->slots[index].item;
}

int32_t mz_catalog_count(const struct mz_catalog *catalog)
{
    return catalog->count;
}

int32_t mz_catalog_live_count(const struct mz_catalog *catalog)
{
    return catalog->live;
}

enum mz_status mz_catalog_remove(struct mz_catalog *catalog,
                                 const char *item_id)
{
    int32_t index = mz_hash_table_get_index(catalog->ids, item_id);
    if (index < 0 || catalog->slots[index].item->retired)
        return MZ_ERR_NOT_FOUND;
    catalog->slots[index].item->retired = true;
    catalog->summaries[index].flags |= MZ_ITEM_RETIRED;
    catalog->live--;
    return MZ_OK;
}

int32_t mz_catalog_brand_id(const struct mz_catalog *catalog, const char *brand)
{
    return mz_intern_find(catalog->brands, brand);
}

int32_t mz_catalog_category_id(const struct mz_catalog *catalog,
                               const char *category)
{
    return mz_intern_find(catalog->categories, category);
}

const char *mz_catalog_brand_name(const struct mz_catalog *catalog, int32_t id)
{
    return mz_intern_name(catalog->brands, id);
}

const char *mz_catalog_category_name(const struct mz_catalog *catalog,
                                     int32_t id)
{
    return mz_intern_name(catalog->categories, id);
}

int32_t mz_catalog_brand_count(const struct mz_catalog *catalog)
{
    return mz_intern_count(catalog->brands);
}

int32_t mz_catalog_category_count(const struct mz_catalog *catalog)
{
    return mz_intern_count(catalog->categories);
}

const int32_t *mz_catalog_brand_items(const struct mz_catalog *catalog,
                                      int32_t brand_id, size_t *count)
{
    *count = 0;
    if (brand_id < 0 || brand_id >= mz_intern_count(catalog->brands) ||
        brand_id >= catalog->brand_items_cap)
        return NULL;
    *count = catalog->brand_items[brand_id].count;
    return catalog->brand_items[brand_id].ids;
}

int32_t mz_catalog_region_id(const struct mz_catalog *catalog,
                             const char *region)
{
    return mz_intern_find(catalog->regions, region);
}

int32_t mz_catalog_tier_id(const struct mz_catalog *catalog, const char *tier)
{
    return mz_intern_find(catalog->tiers, tier);
}

const int32_t *mz_catalog_item_region_ids(const struct mz_catalog *catalog,
                                          int32_t index, size_t *count)
{
    *count = 0;
    if (index < 0 || index >= catalog->count)
        return NULL;
    *count = catalog->slots[index].item->regions.count;
    return catalog->slots[index].region_ids;
}

const int32_t *mz_catalog_item_tier_ids(const struct mz_catalog *catalog,
                                        int32_t index, size_t *count)
{
    *count = 0;
    if (index < 0 || index >= catalog->count)
        return NULL;
    *count = catalog->slots[index].item->reserved_tiers.count;
    return catalog->slots[index].tier_ids;
}

const struct mz_item_summary *mz_catalog_summaries(
    const struct mz_catalog *catalog)
{
    return catalog->summaries;
}
