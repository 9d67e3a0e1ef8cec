/*-------------------------------------------------------------------------
 * status.h
 *    The one status enum of Maison, shared by every layer.
 *
 * model/ and store/ return these; api/errors.c maps each to an HTTP status
 * and a stable string code for the JSON error body.
 *-------------------------------------------------------------------------
 */
#ifndef MZ_STATUS_H
#define MZ_STATUS_H

enum mz_status {
    MZ_OK = 0,
    MZ_ERR_NOMEM,             /* allocation failed */
    MZ_ERR_INVALID,           /* input failed validation */
    MZ_ERR_NOT_FOUND,         /* no such item, client, brand or route */
    MZ_ERR_CONFLICT,          /* state forbids the operation */
    MZ_ERR_TOO_LARGE,         /* body or batch over its limit */
    MZ_ERR_UNSUPPORTED_MEDIA, /* wrong Content-Type */
    MZ_ERR_METHOD,            /* route exists, method does not */
    MZ_ERR_DB_UNAVAILABLE,    /* PostgreSQL cannot be reached right now */
    MZ_ERR_DB,                /* PostgreSQL answered with an error */
    MZ_ERR_SHUTTING_DOWN,     /* the server is draining */
    MZ_ERR_INTERNAL,          /* a bug or an impossible state */
    MZ_STATUS_COUNT
};

/* Returns the stable lower-case code for status, e.g. "invalid_input";
 * never NULL (unknown values give "internal"). */
const char *mz_status_code(enum mz_status status);

#endif
