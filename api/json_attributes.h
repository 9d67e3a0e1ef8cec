/*-------------------------------------------------------------------------
 * json_attributes.h
 *    A client's attributes in JSON: the body of PUT
 *    /v1/clients/{client_id}/attributes and the document stored for it,
 *    {"tier": "vip" | null, "tiers": {"<brand>": "<tier>", ...} | null,
 *     "region": "FR" | null, "consent": {"personalization": true | false}},
 *    every key optional. "tier" is the default, the tier at every brand
 *    "tiers" does not list.
 *
 * Interface routines:
 *    mz_json_read_attributes     - validate into a struct
 *    mz_client_attributes_clear  - release what it holds
 *    mz_json_write_brand_tiers   - the "tiers" object
 *-------------------------------------------------------------------------
 */
#ifndef MZ_API_JSON_ATTRIBUTES_H
#define MZ_API_JSON_ATTRIBUTES_H

#include <jansson.h>

#include "api/json_spec.h"
#include "model/brand_tiers.h"

struct mz_client_attributes {
    char *tier;                  /* owned; NULL: absent or null */
    struct mz_brand_tiers tiers; /* owned; empty: absent or null */
    char *region;                /* owned; NULL: absent or null */
    int consent;                 /* personalization: 1 granted,
                                    0 withdrawn, -1 not given */
};

/* Validates obj (borrowed): tier and region strings of
 * 1..MZ_ID_MAX_BYTES bytes or null, tiers an object of at most
 * MZ_BRAND_TIERS_MAX brand: tier pairs (both 1..MZ_ID_MAX_BYTES bytes)
 * or null, consent {"personalization": bool}.
 * Fills *out (caller clears it with mz_client_attributes_clear) and
 * returns MZ_OK, or returns err->status (MZ_ERR_INVALID naming the field,
 * or MZ_ERR_NOMEM) with *out empty. The first problem as written in the
 * object is the one reported. */
enum mz_status mz_json_read_attributes(const json_t *obj,
                                       struct mz_client_attributes *out,
                                       struct mz_json_error *err);

/* Frees tier, tiers and region and resets *attributes to empty (consent
 * -1); accepts NULL. */
void mz_client_attributes_clear(struct mz_client_attributes *attributes);

/* Returns a new object {"<brand>": "<tier>", ...} of tiers (borrowed;
 * NULL gives {}) in its order (caller decrefs), or NULL on allocation
 * failure. */
json_t *mz_json_write_brand_tiers(const struct mz_brand_tiers *tiers);

#endif
