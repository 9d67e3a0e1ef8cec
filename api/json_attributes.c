/*-------------------------------------------------------------------------
 * json_attributes.c
 *    Client attributes through the spec reader: tier, tiers per brand,
 *    region, consent.
 *
 * Interface routines: see json_attributes.h.
 *-------------------------------------------------------------------------
 */
#include "api/json_attributes.h"

#include <stdlib.h>
#include <string.h>

#include "model/item.h"

/* Of an unknown key, a message shows this much (what it always showed). */
#define SHOWN_KEY_BYTES 64

/* {"personalization": true|false} and nothing else, into an int 1/0. */
static bool read_consent(const json_t *value, const char *path, void *dst,
                         struct mz_json_error *err)
{
    json_t *flag = json_object_get(value, "personalization");
    if (!json_is_object(value) || json_object_size(value) != 1 ||
        !json_is_boolean(flag))
        return mz_json_fail(err, MZ_ERR_INVALID, path,
                            "must be {\"personalization\": true|false}");
    *(int *)dst = json_is_true(flag) ? 1 : 0;
    return true;
}

/* {"<brand>": "<tier>", ...} or null (no tier per brand) into a struct
 * mz_brand_tiers. Every entry is checked, in the object's order, before
 * any is copied. */
static bool read_brand_tiers(const json_t *value, const char *path, void *dst,
                             struct mz_json_error *err)
{
    struct mz_brand_tiers *out = dst;
    const char *brand;
    json_t *tier;
    if (json_is_null(value))
        return true;
    if (!json_is_object(value))
        return mz_json_fail(err, MZ_ERR_INVALID, path,
                            "must be an object of brand: tier, or null");
    size_t n = json_object_size(value);
    if (n > MZ_BRAND_TIERS_MAX)
        return mz_json_fail(err, MZ_ERR_INVALID, path,
                            "must have at most %d brands", MZ_BRAND_TIERS_MAX);
    json_object_foreach((json_t *)value, brand, tier)
    {
        size_t len = strlen(brand);
        if (len == 0 || len > MZ_ID_MAX_BYTES)
            return mz_json_fail(err, MZ_ERR_INVALID, path,
                                "brand ids must be 1..%d bytes",
                                MZ_ID_MAX_BYTES);
        size_t tier_len = json_is_string(tier) ? json_string_length(tier) : 0;
        if (tier_len == 0 || tier_len > MZ_ID_MAX_BYTES ||
            strlen(json_string_value(tier)) != tier_len) {
            char where[MZ_JSON_PATH_BYTES];
            mz_json_join(where, sizeof where, path, brand);
            return mz_json_fail(err, MZ_ERR_INVALID, where,
                                "must be a string of 1 to %d bytes",
                                MZ_ID_MAX_BYTES);
        }
    }
    if (n == 0)
        return true;
    out->v = calloc(n, sizeof *out->v);
    if (!out->v)
        return mz_json_fail(err, MZ_ERR_NOMEM, path, "out of memory");
    json_object_foreach((json_t *)value, brand, tier)
    {
        struct mz_brand_tier *one = &out->v[out->count];
        one->brand = strdup(brand);
        one->tier = strdup(json_string_value(tier));
        out->count++;
        if (!one->brand || !one->tier)
            return mz_json_fail(err, MZ_ERR_NOMEM, path, "out of memory");
    }
    return true;
}

static void clear_brand_tiers(void *dst)
{
    mz_brand_tiers_clear(dst);
}

json_t *mz_json_write_brand_tiers(const struct mz_brand_tiers *tiers)
{
    json_t *obj = json_object();
    for (size_t i = 0; obj && tiers && i < tiers->count; i++) {
        if (json_object_set_new(obj, tiers->v[i].brand,
                                json_string(tiers->v[i].tier)) != 0) {
            json_decref(obj);
            obj = NULL;
        }
    }
    return obj;
}

void mz_client_attributes_clear(struct mz_client_attributes *attributes)
{
    if (!attributes)
        return;
    mz_brand_tiers_clear(&attributes->tiers);
    free(attributes->tier);
    free(attributes->region);
    attributes->tier = attributes->region = NULL;
    attributes->consent = -1;
}

enum mz_status mz_json_read_attributes(const json_t *obj,
                                       struct mz_client_attributes *out,
                                       struct mz_json_error *err)
{
    *out = (struct mz_client_attributes){.consent = -1};
    if (!json_is_object(obj)) {
        mz_json_fail(err, MZ_ERR_INVALID, "", "body must be a JSON object");
        return err->status;
    }
    const struct mz_json_field spec[] = {
        mz_json_nullable(mz_json_says(
            mz_json_string_copy("tier", 1, MZ_ID_MAX_BYTES, &out->tier),
            "must be a string of {min} to {max} bytes")),
        mz_json_custom("tiers", read_brand_tiers, clear_brand_tiers,
                       &out->tiers),
        mz_json_nullable(mz_json_says(
            mz_json_string_copy("region", 1, MZ_ID_MAX_BYTES, &out->region),
            "must be a string of {min} to {max} bytes")),
        mz_json_custom("consent", read_consent, NULL, &out->consent),
        mz_json_end_in_key_order(SHOWN_KEY_BYTES),
    };
    if (!mz_json_parse(obj, spec, "", err)) {
        mz_client_attributes_clear(out);
        return err->status;
    }
    return MZ_OK;
}
