/*-------------------------------------------------------------------------
 * json_facts.h
 *    A client's facts (model/client_facts.h) as the clienteling profile
 *    shows them.
 *
 * Interface routines:
 *    mz_json_write_facts    - the facts as JSON, lists most recent first
 *    mz_json_write_facts_of - several records merged, kept to some brands
 *-------------------------------------------------------------------------
 */
#ifndef MZ_API_JSON_FACTS_H
#define MZ_API_JSON_FACTS_H

#include <jansson.h>

#include "model/catalog.h"
#include "model/client_facts.h"

/* The facts (borrowed) as a new JSON object (caller owns; NULL on
 * allocation failure): {"purchases":[{"item_id","at"}],
 * "dismissals":[...], "wishlist":[...], "cart":[{"item_id","quantity",
 * "at"}], "store_visits":["<rfc3339>"], "appointments":[...],
 * "events_attended":[...], "recent_events":[{"item_id","event","at"}]},
 * lists most recent first. Items are named through catalog (borrowed);
 * an entry whose item the catalog does not know is left out. */
json_t *mz_json_write_facts(const struct mz_client_facts *facts,
                            const struct mz_catalog *catalog);

/* The same for facts[0..n_facts-1] (borrowed: a client's shared facts
 * and its private memories' facts), each list merged most recent first
 * (records in order on equal times), showing only entries of brands[0..
 * n_brands-1] (borrowed; NULL: every brand): an item of another brand
 * and a visit of another brand or of none are left out. */
json_t *mz_json_write_facts_of(const struct mz_client_facts *const *facts,
                               size_t n_facts, const struct mz_catalog *catalog,
                               const char *const *brands, size_t n_brands);

#endif
