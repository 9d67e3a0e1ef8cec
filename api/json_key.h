/*-------------------------------------------------------------------------
 * json_key.h
 *    The body of POST /v1/keys read into what the key will be allowed:
 *    {"name": "...", "roles": ["ingest", ...], "brands": ["b1", ...] | ["*"],
 *     "rate_limit": {"requests_per_s": 50, "burst": 100} | null}
 *    roles is required; brands absent or ["*"] means every brand; an
 *    admin key must hold every brand. Unknown keys are rejected.
 *
 * Interface routines:
 *    mz_json_read_key   - validate a key request
 *    mz_key_body_clear  - release what it holds
 *-------------------------------------------------------------------------
 */
#ifndef MZ_API_JSON_KEY_H
#define MZ_API_JSON_KEY_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "api/json_spec.h"

struct mz_key_body {
    const char *name;             /* borrowed from the body; NULL: absent */
    struct mz_string_list roles;  /* owned: the names as given */
    struct mz_string_list brands; /* owned: the names as given */
    unsigned role_bits;           /* MZ_ROLE_* of roles, at least one */
    bool all_brands;              /* brands absent or ["*"] */
    bool has_rate;                /* rate_limit given and not null */
    double rate_requests_per_s;   /* when has_rate */
    int32_t rate_burst;           /* when has_rate (default 1) */
};

/* Validates obj (borrowed; name stays borrowed from it) into *out
 * (caller clears it with mz_key_body_clear). Returns true, or false with
 * err naming the problem ("roles[1]: unknown role ...", status
 * MZ_ERR_INVALID, or MZ_ERR_NOMEM) and *out empty. */
bool mz_json_read_key(const json_t *obj, struct mz_key_body *out,
                      struct mz_json_error *err);

/* Frees the lists of body and empties it; accepts NULL. */
void mz_key_body_clear(struct mz_key_body *body);

#endif
