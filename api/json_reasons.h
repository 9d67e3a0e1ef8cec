/*-------------------------------------------------------------------------
 * json_reasons.h
 *    The reasons of a recommended item (model/reasons.h) as the API
 *    shows them, written straight into a reply's text (api/json_out.h).
 *
 * Interface routines:
 *    mz_json_out_reasons      - reasons as a JSON array
 *    mz_json_out_listed_item  - one item of a list with its reasons
 *-------------------------------------------------------------------------
 */
#ifndef MZ_API_JSON_REASONS_H
#define MZ_API_JSON_REASONS_H

#include "api/json_out.h"
#include "model/item.h"
#include "model/reasons.h"

/* Writes reasons[0..n-1] (borrowed) into out as a JSON array, e.g.
 *   [{"level":"session","text":"Viewed sku-123 in this session.",
 *     "because_item":"sku-123","event":"view",
 *     "at":"2026-11-23T10:02:11Z"}]
 * A catalog reason puts "because_item" before "text":
 *   {"level":"catalog","because_item":"sku-9","text":"Shoppers who ..."}.
 * n may be 0 (an empty array). */
void mz_json_out_reasons(struct mz_json_out *out,
                         const struct mz_reason *reasons, int n);

/* Writes one entry of a list (recommendations, similar, popular) into
 * out:
 *   {"item_id":"sku-2","score":0.42,"brand":"maison-a","category":"bags",
 *    "reasons":[...]}
 * with reasons[0..n-1] (borrowed) and score (not finite: 0). */
void mz_json_out_listed_item(struct mz_json_out *out,
                             const struct mz_item *item, double score,
                             const struct mz_reason *reasons, int n);

#endif
