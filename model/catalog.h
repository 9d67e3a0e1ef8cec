/*-------------------------------------------------------------------------
 * catalog.h
 *    The catalog in memory: item records (model/item.h) by dense index,
 *    lookup by id, brands, categories, regions and tiers interned to
 *    small integers for fast masks.
 *
 * Not thread-safe: the server guards it with the same read/write lock as
 * the model. Indices are assigned in upsert order and never reused; a
 * deleted item keeps its index (retired) so model rows stay aligned.
 *
 * Interface routines:
 *    mz_catalog_new / _free
 *    mz_catalog_upsert       - insert or replace (takes ownership)
 *    mz_catalog_find         - index of an id, or -1
 *    mz_catalog_item         - record at an index (borrowed)
 *    mz_catalog_remove       - retire an item
 *    mz_catalog_brand_items  - indices of one brand's items
 *    mz_catalog_region_id / _tier_id / mz_catalog_item_region_ids /
 *        mz_catalog_item_tier_ids - interned regions and tiers, so that
 *                              the rules compare integers, not strings
 *    mz_catalog_summaries    - the packed per-index fields the rules scan
 *-------------------------------------------------------------------------
 */
#ifndef MZ_CATALOG_H
#define MZ_CATALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/item.h"
#include "model/status.h"

struct mz_catalog;

/* Returns an empty catalog (caller frees), or NULL on allocation
 * failure. */
struct mz_catalog *mz_catalog_new(void);
/* Frees the catalog and every record in it; accepts NULL. */
void mz_catalog_free(struct mz_catalog *catalog);

/* Inserts item, or replaces the item with the same id, taking ownership
 * of item in both cases. Returns the item's index and sets *is_new; -1 on
 * allocation failure (item is then freed). Re-inserting a retired id
 * revives it at its old index. */
int32_t mz_catalog_upsert(struct mz_catalog *catalog, struct mz_item *item,
                          bool *is_new);
/* Returns the index of item_id (including retired ones), or -1. */
int32_t mz_catalog_find(const struct mz_catalog *catalog, const char *item_id);
/* Returns the record at index (borrowed, valid until the next write), or
 * NULL when out of range. */
const struct mz_item *mz_catalog_item(const struct mz_catalog *catalog,
                                      int32_t index);
/* Number of indices ever assigned (retired ones included). */
int32_t mz_catalog_count(const struct mz_catalog *catalog);
/* Number of items not retired. */
int32_t mz_catalog_live_count(const struct mz_catalog *catalog);
/* Retires item_id. Returns MZ_OK or MZ_ERR_NOT_FOUND. */
enum mz_status mz_catalog_remove(struct mz_catalog *catalog,
                                 const char *item_id);
/* Interned ids: -1 when the name was never seen. */
int32_t mz_catalog_brand_id(const struct mz_catalog *catalog,
                            const char *brand);
int32_t mz_catalog_category_id(const struct mz_catalog *catalog,
                               const char *category);
/* Names of interned ids (borrowed), NULL when out of range. */
const char *mz_catalog_brand_name(const struct mz_catalog *catalog, int32_t id);
const char *mz_catalog_category_name(const struct mz_catalog *catalog,
                                     int32_t id);
/* Number of interned brands / categories (ids are 0..count-1; they only
 * grow). */
int32_t mz_catalog_brand_count(const struct mz_catalog *catalog);
int32_t mz_catalog_category_count(const struct mz_catalog *catalog);

/* Indices (borrowed, ascending, valid until the next write) of the items
 * whose current brand is brand_id, retired ones included; *count gets the
 * length (0 and NULL for an unknown id). */
const int32_t *mz_catalog_brand_items(const struct mz_catalog *catalog,
                                      int32_t brand_id, size_t *count);

/* Interned region names (from items' "regions") and tier names (from
 * "reserved_tiers"): -1 when no item ever named it. */
int32_t mz_catalog_region_id(const struct mz_catalog *catalog,
                             const char *region);
int32_t mz_catalog_tier_id(const struct mz_catalog *catalog, const char *tier);
/* Interned ids of the regions / reserved tiers of the item at index
 * (borrowed, valid until the next write), in the item's order; *count
 * gets the length (0 and NULL when out of range or the list is absent). */
const int32_t *mz_catalog_item_region_ids(const struct mz_catalog *catalog,
                                          int32_t index, size_t *count);
const int32_t *mz_catalog_item_tier_ids(const struct mz_catalog *catalog,
                                        int32_t index, size_t *count);

/* Flags of struct mz_item_summary. */
#define MZ_ITEM_RETIRED     0x01u
#define MZ_ITEM_UNAVAILABLE 0x02u /* available == false */
#define MZ_ITEM_SOLD_OUT    0x04u /* stock == 0 */
#define MZ_ITEM_HAS_REGIONS 0x08u
#define MZ_ITEM_HAS_TIERS   0x10u /* has reserved_tiers */

/* The fields every selection tests, packed by index in one array so that
 * a scan over 50k items reads contiguous memory instead of chasing one
 * pointer per item. Kept in step with the records by every write. */
struct mz_item_summary {
    double price;
    int64_t launch_at;
    int64_t end_at;
    int32_t category_id;
    uint32_t flags; /* MZ_ITEM_* */
};

/* Returns the summaries of indices 0..mz_catalog_count()-1 (borrowed,
 * valid until the next write), or NULL for an empty catalog. */
const struct mz_item_summary *mz_catalog_summaries(
    const struct mz_catalog *catalog);

#endif
