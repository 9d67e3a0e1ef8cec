/*-------------------------------------------------------------------------
 * json_key.c
 *    The POST /v1/keys body through the spec reader, then the checks
 *    across fields (known roles, "*" alone, admin holds every brand).
 *
 * Interface routines: see json_key.h.
 *-------------------------------------------------------------------------
 */
#include "api/json_key.h"

#include <string.h>

#include "api/json_body.h"
#include "api/service/service.h"

/* Checks the roles and brands the spec read; fills err and returns
 * false when they do not make a key. */
static bool check_key(struct mz_key_body *out, struct mz_json_error *err)
{
    for (size_t i = 0; i < out->roles.count; i++) {
        unsigned bit = mz_role_from_name(out->roles.items[i]);
        if (!bit)
            return mz_json_fail(err, MZ_ERR_INVALID, "",
                                "roles[%zu]: unknown role (admin, "
                                "merchandising, clienteling, ingest, privacy "
                                "or ops)",
                                i);
        out->role_bits |= bit;
    }
    if (!out->role_bits)
        return mz_json_fail(err, MZ_ERR_INVALID, "",
                            "roles: at least one role");
    out->all_brands = out->brands.count == 0;
    for (size_t i = 0; i < out->brands.count; i++) {
        if (strcmp(out->brands.items[i], "*") == 0) {
            if (out->brands.count != 1)
                return mz_json_fail(err, MZ_ERR_INVALID, "",
                                    "brands: \"*\" must stand alone");
            out->all_brands = true;
        } else if (!mz_is_valid_id(out->brands.items[i])) {
            return mz_json_fail(err, MZ_ERR_INVALID, "",
                                "brands[%zu]: must be a brand id", i);
        }
    }
    if ((out->role_bits & MZ_ROLE_ADMIN) && !out->all_brands)
        return mz_json_fail(err, MZ_ERR_INVALID, "",
                            "brands: an admin key holds every brand "
                            "([\"*\"])");
    return true;
}

bool mz_json_read_key(const json_t *obj, struct mz_key_body *out,
                      struct mz_json_error *err)
{
    memset(out, 0, sizeof *out);
    const struct mz_json_field rate_limit[] = {
        mz_json_required(mz_json_number("requests_per_s", 0.001, 1e9, 0,
                                        &out->rate_requests_per_s)),
        mz_json_int32("burst", 1, 1000000, 1, &out->rate_burst),
        mz_json_end(0),
    };
    const struct mz_json_field spec[] = {
        mz_json_string("name", 0, MZ_KEY_NAME_MAX_BYTES, &out->name),
        mz_json_required(
            mz_json_string_list("roles", 1, 32, MZ_ROLE_COUNT, &out->roles)),
        mz_json_string_list("brands", 1, MZ_ID_MAX_BYTES, MZ_KEY_MAX_BRANDS,
                            &out->brands),
        mz_json_present(
            mz_json_nullable(mz_json_object("rate_limit", rate_limit)),
            &out->has_rate),
        mz_json_end(0),
    };
    if (mz_json_parse(obj, spec, "", err) && check_key(out, err))
        return true;
    mz_key_body_clear(out);
    return false;
}

void mz_key_body_clear(struct mz_key_body *body)
{
    if (!body)
        return;
    mz_string_list_clear(&body->roles);
    mz_string_list_clear(&body->brands);
    memset(body, 0, sizeof *body);
}
