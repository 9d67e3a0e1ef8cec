/*-------------------------------------------------------------------------
 * status.c
 *    The one table of enum mz_status: stable string code and HTTP status
 *    of every value.
 *
 * The codes are part of the API contract (api/openapi.yaml, the
 * integration tests compare error bodies byte for byte): never rename
 * one.
 *
 * Interface routines: see status.h.
 *-------------------------------------------------------------------------
 */
#include "model/status.h"

#include <stddef.h>

struct status_row {
    const char *code;
    int http_status;
};

/* Designated initialisers: a value missing here leaves a NULL code, which
 * tests/model/test_status.c reports. */
static const struct status_row status_table[MZ_STATUS_COUNT] = {
    [MZ_OK] = {"ok", 200},
    [MZ_ERR_NOMEM] = {"out_of_memory", 503},
    [MZ_ERR_INVALID] = {"invalid_input", 400},
    [MZ_ERR_NOT_FOUND] = {"not_found", 404},
    [MZ_ERR_CONFLICT] = {"conflict", 409},
    [MZ_ERR_TOO_LARGE] = {"payload_too_large", 413},
    [MZ_ERR_UNSUPPORTED_MEDIA] = {"unsupported_media_type", 415},
    [MZ_ERR_METHOD] = {"method_not_allowed", 405},
    [MZ_ERR_DB_UNAVAILABLE] = {"database_unavailable", 503},
    [MZ_ERR_DB] = {"database_error", 500},
    [MZ_ERR_SHUTTING_DOWN] = {"shutting_down", 503},
    [MZ_ERR_INTERNAL] = {"internal", 500},
    [MZ_ERR_UNKNOWN_ITEM] = {"unknown_item", 400},
    [MZ_ERR_NOT_READY] = {"not_ready", 503},
    [MZ_ERR_UNAUTHORIZED] = {"unauthorized", 401},
    [MZ_ERR_FORBIDDEN] = {"forbidden", 403},
    [MZ_ERR_RATE_LIMITED] = {"rate_limited", 429},
    [MZ_ERR_NOT_CAUGHT_UP] = {"not_caught_up", 503},
};

/* The row of status, or NULL for a value outside the enum. */
static const struct status_row *row_of(enum mz_status status)
{
    if ((int)status < 0 || status >= MZ_STATUS_COUNT ||
        status_table[status].code == NULL)
        return NULL;
    return &status_table[status];
}

const char *mz_status_code(enum mz_status status)
{
    const struct status_row *row = row_of(status);

    return row ? row->code : status_table[MZ_ERR_INTERNAL].code;
}

int mz_status_http(enum mz_status status)
{
    const struct status_row *row = row_of(status);

    return row ? row->http_status : status_table[MZ_ERR_INTERNAL].http_status;
}
