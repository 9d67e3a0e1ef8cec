/*-------------------------------------------------------------------------
 * json_body.h
 *    Reading request bodies and query arguments, the same way for every
 *    handler.
 *-------------------------------------------------------------------------
 */
#ifndef MZ_API_JSON_BODY_H
#define MZ_API_JSON_BODY_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "api/http.h"

/* Parses req's body as a JSON object and returns it (caller owns), or
 * NULL after filling resp with a 400 that says what is wrong (empty,
 * malformed, too deep, duplicate keys, not an object). */
json_t *mz_body_object(const struct mz_request *req, struct mz_response *resp);

/* Returns whether id is a valid identifier: 1..MZ_ID_MAX_BYTES bytes of
 * valid UTF-8 without control characters. */
bool mz_is_valid_id(const char *id);

/* Returns whether value (named name in the message) is a valid id;
 * otherwise fills resp with a 400 and returns false. */
bool mz_require_id(const char *name, const char *value,
                   struct mz_response *resp);

/* Reads an integer query argument in [min, max] into *out (def when
 * absent). Returns false after filling resp with a 400. */
bool mz_query_int(const struct mz_request *req, const char *key, int64_t min,
                  int64_t max, int64_t def, int64_t *out,
                  struct mz_response *resp);

/* Reads an optional identifier-like query argument (NULL when absent).
 * Returns false after filling resp with a 400. */
bool mz_query_id(const struct mz_request *req, const char *key,
                 const char **out, struct mz_response *resp);

/* Most entries of a comma-separated query argument (mz_query_id_list). */
#define MZ_QUERY_LIST_MAX 100

/* The entries of a comma-separated query argument: pointers into text,
 * its NUL-separated copy. */
struct mz_query_list {
    char text[MZ_MAX_URL_BYTES + 1];
    const char *items[MZ_QUERY_LIST_MAX];
    size_t count;
};

/* Reads query argument key as identifiers separated by commas
 * ("a,b,c"; absent or empty: none) into *out, at most max (<=
 * MZ_QUERY_LIST_MAX) of them. Returns false after filling resp with a
 * 400 naming the limit (too many) or the bad entry (empty, invalid). */
bool mz_query_id_list(const struct mz_request *req, const char *key, size_t max,
                      struct mz_query_list *out, struct mz_response *resp);

/* Seconds since the epoch, now. */
int64_t mz_now_seconds(void);

#endif
