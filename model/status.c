/*-------------------------------------------------------------------------
 * status.c
 *    Stable string codes for enum mz_status.
 *-------------------------------------------------------------------------
 */
#include "model/status.h"

static const char *const status_codes[MZ_STATUS_COUNT] = {
    [MZ_OK] = "ok",
    [MZ_ERR_NOMEM] = "out_of_memory",
    [MZ_ERR_INVALID] = "invalid_input",
    [MZ_ERR_NOT_FOUND] = "not_found",
    [MZ_ERR_CONFLICT] = "conflict",
    [MZ_ERR_TOO_LARGE] = "payload_too_large",
    [MZ_ERR_UNSUPPORTED_MEDIA] = "unsupported_media_type",
    [MZ_ERR_METHOD] = "method_not_allowed",
    [MZ_ERR_DB_UNAVAILABLE] = "database_unavailable",
    [MZ_ERR_DB] = "database_error",
    [MZ_ERR_SHUTTING_DOWN] = "shutting_down",
    [MZ_ERR_INTERNAL] = "internal",
};

const char *mz_status_code(enum mz_status status)
{
    if ((int)status < 0 || status >= MZ_STATUS_COUNT || !status_codes[status])
        return "internal";
    return status_codes[status];
}
