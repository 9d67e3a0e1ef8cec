/*-------------------------------------------------------------------------
 * json_item.h
 *    Catalog items in JSON: reading an API or stored item object into a
 *    struct mz_item (model/item.h), and the item as the API shows it and
 *    PostgreSQL stores it.
 *
 * Item JSON (unknown keys are rejected):
 *   {"item_id": "sku-1", "brand": "maison-a", "category": "bags",
 *    "price": 2400, "currency": "EUR", "available": true, "stock": 3,
 *    "launch_at": "<RFC 3339>", "end_at": "<RFC 3339>",
 *    "regions": ["FR"], "reserved_tiers": ["vip"], "tags": ["leather"],
 *    "attributes": {"color": "black", "size": 42, "limited": true,
 *                   "materials": ["leather", "gold"], "sizes": [38, 40]}}
 * item_id, brand, category (1..MZ_ID_MAX_BYTES bytes) and price (>= 0)
 * are required; lists hold at most MZ_ITEM_MAX_LIST strings; attributes
 * are at most MZ_ITEM_MAX_ATTRIBUTES keys, each a string (at most
 * MZ_ID_MAX_BYTES bytes), number, boolean, or a list of at most
 * MZ_ATTRIBUTE_MAX_ENTRIES strings or of numbers (not both, not nested),
 * at most MZ_ITEM_MAX_ATTRIBUTE_VALUES values in all per item.
 *
 * Interface routines:
 *    mz_json_read_item   - validate an item object into a new record
 *    mz_json_write_item  - the record as JSON, in the canonical key order
 *-------------------------------------------------------------------------
 */
#ifndef MZ_API_JSON_ITEM_H
#define MZ_API_JSON_ITEM_H

#include <jansson.h>

#include "api/json_spec.h"
#include "model/item.h"

/* Validates obj (borrowed) as an item and returns a new record (caller
 * frees with mz_item_free), or NULL with err naming the offending field
 * under prefix (e.g. "items[3].price: must be a number >= 0" with prefix
 * "items[3]"; prefix may be ""). */
struct mz_item *mz_json_read_item(const json_t *obj, const char *prefix,
                                  struct mz_json_error *err);

/* Returns a new JSON object (caller owns the reference) describing item
 * (borrowed) with the field names of the API, keys in a fixed order (the
 * text stored in PostgreSQL and the API reply depend on it); NULL on
 * allocation failure. */
json_t *mz_json_write_item(const struct mz_item *item);

#endif
