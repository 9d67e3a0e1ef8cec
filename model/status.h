/*-------------------------------------------------------------------------
 * status.h
 *    The one status enum of Maison, shared by every layer, and the one
 *    table that gives each status its stable string code (the "code" of
 *    the JSON error body) and its HTTP status.
 *
 * model/ and store/ return these; api/ answers with them. The HTTP status
 * sits here, next to the code, so that adding a status means adding one
 * row in status.c and nothing else; model/ still knows nothing of HTTP
 * beyond that number.
 *
 * Interface routines:
 *    mz_status_code - stable lower-case code, e.g. "invalid_input"
 *    mz_status_http - HTTP status, e.g. 400
 *-------------------------------------------------------------------------
 */
#ifndef MZ_STATUS_H
#define MZ_STATUS_H

/* Every value has a row in status.c (tests/model/test_status.c checks). */
enum mz_status {
    MZ_OK = 0,                /* "ok", 200 */
    MZ_ERR_NOMEM,             /* allocation failed: "out_of_memory", 503 */
    MZ_ERR_INVALID,           /* input failed validation: "invalid_input",
                                 400 */
    MZ_ERR_NOT_FOUND,         /* no such item, client, brand or route:
                                 "not_found", 404 */
    MZ_ERR_CONFLICT,          /* state forbids the operation: "conflict",
                                 409 */
    MZ_ERR_TOO_LARGE,         /* body or batch over its limit:
                                 "payload_too_large", 413 */
    MZ_ERR_UNSUPPORTED_MEDIA, /* wrong Content-Type:
                                 "unsupported_media_type", 415 */
    MZ_ERR_METHOD,            /* route exists, method does not:
                                 "method_not_allowed", 405 */
    MZ_ERR_DB_UNAVAILABLE,    /* PostgreSQL cannot be reached right now:
                                 "database_unavailable", 503 */
    MZ_ERR_DB,                /* PostgreSQL answered with an error:
                                 "database_error", 500 */
    MZ_ERR_SHUTTING_DOWN,     /* the server is draining: "shutting_down",
                                 503 */
    MZ_ERR_INTERNAL,          /* a bug or an impossible state: "internal",
                                 500 */
    MZ_ERR_UNKNOWN_ITEM,      /* an event names an item that is not in the
                                 catalog (or deleted): "unknown_item", 400;
                                 today only a per-event rejection code */
    MZ_ERR_NOT_READY,         /* /readyz: the database does not answer or
                                 the state is not loaded: "not_ready", 503 */
    MZ_ERR_UNAUTHORIZED,      /* no API key, or one that is unknown or
                                 revoked: "unauthorized", 401 */
    MZ_ERR_FORBIDDEN,         /* the key lacks the role or the brand:
                                 "forbidden", 403 */
    MZ_ERR_RATE_LIMITED,      /* the key is over its rate limit:
                                 "rate_limited", 429 (with Retry-After) */
    MZ_ERR_NOT_CAUGHT_UP,     /* this node has not applied the log up to
                                 the position asked for (after=) within
                                 the bounded wait: "not_caught_up", 503 */
    MZ_STATUS_COUNT
};

/* Returns the stable lower-case code for status, e.g. "invalid_input",
 * a static string; never NULL (a value outside the enum gives
 * "internal"). */
const char *mz_status_code(enum mz_status status);

/* Returns the HTTP status for status (MZ_ERR_INVALID -> 400, ...); a
 * value outside the enum gives 500. */
int mz_status_http(enum mz_status status);

#endif
