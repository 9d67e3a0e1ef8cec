/*-------------------------------------------------------------------------
 * attributes.c
 *    Reading a client attributes object (request body or stored
 *    document).
 *-------------------------------------------------------------------------
 */
#include "api/attributes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/catalog.h"


static bool is_valid_attribute_string(const json_t *value)
{
    size_t len = json_is_string(value) ? json_string_length(value) : 0;
    return len >= 1 && len <= MZ_ID_MAX_BYTES;
}

enum mz_status mz_parse_attributes(const json_t *obj, char **tier,
                                       char **region, int *consent, char *err,
                                       size_t err_len)
{
    *tier = NULL;
    *region = NULL;
    *consent = -1;
    enum mz_status status = MZ_ERR_INVALID;
    if (!json_is_object(obj)) {
        snprintf(err, err_len, "body must be a JSON object");
        goto cleanup;
    }
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)obj, key, value) {
        if (strcmp(key, "tier") == 0 || strcmp(key, "region") == 0) {
            if (json_is_null(value))
                continue;
            if (!is_valid_attribute_string(value)) {
                snprintf(err, err_len, "%s: must be a string of 1 to %d bytes",
                         key, MZ_ID_MAX_BYTES);
                goto cleanup;
            }
            char **field = key[0] == 't' ? tier : region;
            *field = strdup(json_string_value(value));
            if (!*field) {
                status = MZ_ERR_NOMEM;
                goto cleanup;
            }
        } else if (strcmp(key, "consent") == 0) {
            json_t *flag = json_object_get(value, "personalization");
            if (!json_is_object(value) || json_object_size(value) != 1 ||
                !json_is_boolean(flag)) {
                snprintf(err, err_len,
                         "consent: must be {\"personalization\": true|false}");
                goto cleanup;
            }
            *consent = json_is_true(flag) ? 1 : 0;
        } else {
            snprintf(err, err_len, "%.64s: unknown field", key);
            goto cleanup;
        }
    }
    status = MZ_OK;
cleanup:
    if (status != MZ_OK) {
        free(*tier);
        free(*region);
        *tier = *region = NULL;
    }
    return status;
}

