/*-------------------------------------------------------------------------
 * fuzz_attributes.c
 *    PUT /v1/clients/{client_id}/attributes bodies through mz_body_object
 *    and mz_json_read_attributes, as api/clients.c does; an accepted
 *    document's tiers are written back with mz_json_write_brand_tiers. A
 *    refused one must leave the struct empty.
 *-------------------------------------------------------------------------
 */
#include "api/json_attributes.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *body = fuzz_body_object(data, size);
    if (!body)
        return 0;
    struct mz_client_attributes read = {.consent = -1};
    struct mz_json_error err;
    enum mz_status status = mz_json_read_attributes(body, &read, &err);
    if (status == MZ_OK) {
        FUZZ_ASSERT(read.consent >= -1 && read.consent <= 1);
        json_t *tiers = mz_json_write_brand_tiers(&read.tiers);
        FUZZ_ASSERT(tiers != NULL);
        json_decref(tiers);
    } else {
        FUZZ_ASSERT(read.tier == NULL && read.region == NULL);
    }
    mz_client_attributes_clear(&read);
    json_decref(body);
    return 0;
}
