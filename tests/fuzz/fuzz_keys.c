/*-------------------------------------------------------------------------
 * fuzz_keys.c
 *    POST /v1/keys bodies through mz_body_object and mz_json_read_key
 *    (api/json_key.h), as api/keys.c reads them. An accepted request
 *    names at least one known role, brands that are ids (or every brand),
 *    and an admin key holds every brand; a refused one is left empty.
 *-------------------------------------------------------------------------
 */
#include "api/json_key.h"
#include "api/service/service.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *body = fuzz_body_object(data, size);
    if (!body)
        return 0;
    struct mz_key_body key;
    struct mz_json_error err;
    if (mz_json_read_key(body, &key, &err)) {
        FUZZ_ASSERT(key.role_bits != 0 && key.roles.count >= 1);
        FUZZ_ASSERT(key.brands.count <= MZ_KEY_MAX_BRANDS);
        FUZZ_ASSERT(!(key.role_bits & MZ_ROLE_ADMIN) || key.all_brands);
        for (size_t i = 0; !key.all_brands && i < key.brands.count; i++)
            FUZZ_ASSERT(mz_is_valid_id(key.brands.items[i]));
        FUZZ_ASSERT(!key.has_rate ||
                    (key.rate_requests_per_s > 0 && key.rate_burst >= 1));
    } else {
        FUZZ_ASSERT(err.message[0] != '\0');
        FUZZ_ASSERT(key.roles.count == 0 && key.brands.count == 0);
    }
    mz_key_body_clear(&key);
    json_decref(body);
    return 0;
}
