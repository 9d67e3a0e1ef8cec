/*-------------------------------------------------------------------------
 * reasons.h
 *    Why an item was recommended, in words a sales associate can say out
 *    loud, built only from facts: which memory source contributed most to
 *    the item's score (mz_model_explain), the item of the client's history
 *    behind it (mz_model_evidence_item) and what the client did with that
 *    item and when (the client facts). Texts come from a fixed set of
 *    templates; nothing is invented.
 *
 * Sources are named for people, not for the model's internals:
 *    session context and level 0       -> "session"
 *    levels 1..L-2                     -> "recent"
 *    level L-1 (when L >= 2)           -> "long_term"
 *    the item space / popularity       -> "catalog"
 *
 * Interface routines:
 *    mz_reasons_source_name  - a source's public name
 *    mz_reasons_build        - the reasons for one recommended item
 *-------------------------------------------------------------------------
 */
#ifndef MZ_REASONS_H
#define MZ_REASONS_H

#include <jansson.h>
#include <stdint.h>

#include "model/catalog.h"
#include "model/client_facts.h"
#include "model/model.h"

#define MZ_REASONS_MAX 2               /* reasons per item */
#define MZ_REASONS_NEW_ARRIVAL_S (30 * 86400) /* launched this recently */

/* Returns "session", "recent", "long_term" or "catalog" for source in a
 * model of n_levels client levels; "catalog" for anything out of range. */
const char *mz_reasons_source_name(enum mz_level_source source, int n_levels);

/* What a reason is built from. Every pointer is borrowed. */
struct mz_reasons_request {
    const struct mz_model *model;
    const struct mz_catalog *catalog;
    const struct mz_client *client;       /* NULL: non-personalised */
    const struct mz_client_facts *facts;  /* NULL: no facts known */
    int32_t context_item;                 /* -1: none */
    int64_t now;                          /* request time, seconds */
};

/* Returns a new JSON array (caller owns) of 1..MZ_REASONS_MAX reasons for
 * item, strongest first, e.g.
 *   {"level":"session","because_item":"sku-123","event":"view",
 *    "at":"2026-11-23T10:02:11Z","text":"Viewed sku-123 in this session."}
 *   {"level":"catalog","text":"Popular in bags right now."}
 * "event" and "at" appear only when the facts hold the evidence event.
 * A second reason is given only for another source that also adds
 * positively to the score. Returns NULL on allocation failure or when
 * item is not in the catalog. */
json_t *mz_reasons_build(const struct mz_reasons_request *req, int32_t item);

#endif
