/*-------------------------------------------------------------------------
 * json_reasons.h
 *    The reasons of a recommended item (model/reasons.h) as the API
 *    shows them.
 *
 * Interface routines:
 *    mz_json_write_reasons  - reasons as a JSON array
 *-------------------------------------------------------------------------
 */
#ifndef MZ_API_JSON_REASONS_H
#define MZ_API_JSON_REASONS_H

#include <jansson.h>

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

#endif
