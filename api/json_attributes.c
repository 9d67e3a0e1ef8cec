/*-------------------------------------------------------------------------
 * json_attributes.c
 *    Client attributes through the spec reader: tier, region, consent.
 *
 * Interface routines: see json_attributes.h.
 *-------------------------------------------------------------------------
 */
#include "api/json_attributes.h"

#include <stdlib.h>

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

void mz_client_attributes_clear(struct mz_client_attributes *attributes)
{
    if (!attributes)
        return;
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
