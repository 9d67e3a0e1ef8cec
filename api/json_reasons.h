/*-------------------------------------------------------------------------
 * json_reasons.h
 *    The reasons of a recommended item (model/reasons.h) as the API
 *    shows them.
 *
 * Interface routines:
 *    mz_json_write_reasons  - reasons as a JSON array
 *    mz_json_write_listed_item - one item of a list with its reasons
 *-------------------------------------------------------------------------
 */
#ifndef MZ_API_JSON_REASONS_H
#define MZ_API_JSON_REASONS_H

#include <jansson.h>

#include "model/item.h"
#include "model/reasons.h"

/* reasons[0..n-1] (borrowed) as a new JSON array (caller owns; NULL on
 * allocation failure), e.g.
 *   [{"level":"session","text":"Viewed sku-123 in this session.",
 *     "because_item":"sku-123","event":"view",
 *     "at":"2026-11-23T10:02:11Z"}]
 * A catalog reason puts "because_item" before "text":
 *   {"level":"catalog","because_item":"sku-9","text":"Shoppers who ..."}.
 * n may be 0 (an empty array). */
json_t *mz_json_write_reasons(const struct mz_reason *reasons, int n);

/* One entry of a list (recommendations, similar, popular):
 *   {"item_id":"sku-2","score":0.42,"brand":"maison-a","category":"bags",
 *    "reasons":[...]}
 * with reasons (stolen; NULL: written as []) and score (not finite: 0).
 * Returns a new object (caller owns), or NULL on allocation failure. */
json_t *mz_json_write_listed_item(const struct mz_item *item, double score,
                                  json_t *reasons);

#endif
