/*-------------------------------------------------------------------------
 * json_facts.h
 *    A client's facts (model/client_facts.h) as the clienteling profile
 *    shows them.
 *
 * Interface routines:
 *    mz_json_write_facts  - the facts as JSON, lists most recent first
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

#endif
